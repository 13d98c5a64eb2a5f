//! Credentials never leave the process in text: every URL in a message, a log line or an
//! answer is shown with its password and its secret query values masked.
//!
//! `postgres://app:s3cret@db:5432/city?sslpassword=x` becomes
//! `postgres://app:***@db:5432/city?sslpassword=***`. Works on any text, so that an error
//! that quotes a URL somewhere inside is safe to print as a whole.

/// What a masked value reads as.
pub const MASK: &str = "***";

/// Query parameters whose values are secrets (compared in lower case, by containment).
const SECRET_KEYS: &[&str] = &[
    "password",
    "passwd",
    "pwd",
    "secret",
    "token",
    "apikey",
    "api_key",
    "access_key",
    "signature",
    "auth",
];

/// `text` with the password of every `scheme://user:password@host` and the value of every
/// secret-looking query parameter of those URLs replaced by [`MASK`].
pub fn redact(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(at) = rest.find("://") {
        let (head, tail) = rest.split_at(at + 3);
        out.push_str(head);
        let end = tail.find(ends_url).unwrap_or(tail.len());
        let (url, after) = tail.split_at(end);
        out.push_str(&redact_after_scheme(url));
        rest = after;
    }
    out.push_str(rest);
    out
}

/// Where a URL quoted in text ends.
fn ends_url(c: char) -> bool {
    c.is_whitespace() || matches!(c, '"' | '\'' | '`' | '<' | '>' | ')' | ']' | '}' | ',')
}

/// `user:password@host/path?query` → masked.
fn redact_after_scheme(url: &str) -> String {
    let authority_end = url.find(['/', '?', '#']).unwrap_or(url.len());
    let (authority, path) = url.split_at(authority_end);
    let mut out = String::with_capacity(url.len());
    match authority.rfind('@') {
        Some(at) => {
            let (userinfo, host) = authority.split_at(at);
            match userinfo.split_once(':') {
                Some((user, _password)) => {
                    out.push_str(user);
                    out.push(':');
                    out.push_str(MASK);
                }
                None => out.push_str(userinfo),
            }
            out.push_str(host);
        }
        None => out.push_str(authority),
    }
    match path.split_once('?') {
        Some((p, query)) => {
            out.push_str(p);
            out.push('?');
            let (query, fragment) = match query.split_once('#') {
                Some((q, f)) => (q, Some(f)),
                None => (query, None),
            };
            for (i, pair) in query.split('&').enumerate() {
                if i > 0 {
                    out.push('&');
                }
                match pair.split_once('=') {
                    Some((k, _)) if secret_key(k) => {
                        out.push_str(k);
                        out.push('=');
                        out.push_str(MASK);
                    }
                    _ => out.push_str(pair),
                }
            }
            if let Some(f) = fragment {
                out.push('#');
                out.push_str(f);
            }
        }
        None => out.push_str(path),
    }
    out
}

fn secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    SECRET_KEYS.iter().any(|s| k.contains(s))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_and_secret_parameters_are_masked() {
        let cases = [
            (
                "postgres://app:s3cret@db:5432/city",
                "postgres://app:***@db:5432/city",
            ),
            (
                "opening database.url postgres://app:p@ss:w0rd@db/city: cannot connect",
                "opening database.url postgres://app:***@db/city: cannot connect",
            ),
            (
                "rediss://:hunter2@cache:6380/0",
                "rediss://:***@cache:6380/0",
            ),
            (
                "mqtts://node-7:key@broker:8883",
                "mqtts://node-7:***@broker:8883",
            ),
            (
                "https://hooks.example.org/x?token=abc&room=ops#top",
                "https://hooks.example.org/x?token=***&room=ops#top",
            ),
            (
                "postgres://app@db/city?sslmode=require&password=x",
                "postgres://app@db/city?sslmode=require&password=***",
            ),
            (
                "error sending request for url (https://u:pw@h/p): timed out",
                "error sending request for url (https://u:***@h/p): timed out",
            ),
            (
                "sqlite://data/urbanstream.db",
                "sqlite://data/urbanstream.db",
            ),
            ("no url here: a:b@c", "no url here: a:b@c"),
            (
                "two: redis://:a@r and postgres://u:b@p/d",
                "two: redis://:***@r and postgres://u:***@p/d",
            ),
        ];
        for (input, want) in cases {
            assert_eq!(redact(input), want, "{input}");
        }
    }

    #[test]
    fn any_text_survives_redaction_without_panicking() {
        for s in [
            "://",
            "a://@",
            "x://:@?&=#",
            "é://ü:ö@ä?π=1",
            "://?password",
        ] {
            let _ = redact(s);
        }
    }
}
