//! Connections to PostgreSQL with libpq's TLS parameters: `sslmode` (`disable`, `allow`,
//! `prefer`, `require`, `verify-ca`, `verify-full`), `sslrootcert`, `sslcert` and `sslkey`,
//! in a `postgres://…?sslmode=…` URL or a `key=value` string. One connector serves the pool,
//! the COPY connections and the migration connection alike.
//!
//! The meanings are libpq's: without `sslmode` a connection is encrypted when the server
//! offers it (`prefer`); `require` encrypts and, given `sslrootcert`, checks the chain as
//! `verify-ca` does; `verify-ca` checks the chain against `sslrootcert`; `verify-full` checks
//! the chain and that the certificate names the host connected to. `sslrootcert=system`
//! trusts the operating system's bundle. `allow` is taken as `prefer`.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use diesel_async::AsyncPgConnection;
use rustls::client::danger::{HandshakeSignatureValid, ServerCertVerified, ServerCertVerifier};
use rustls::client::WebPkiServerVerifier;
use rustls::crypto::{verify_tls12_signature, verify_tls13_signature, CryptoProvider};
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer, ServerName, UnixTime};
use rustls::{CertificateError, DigitallySignedStruct, SignatureScheme};
use tokio_postgres_rustls::MakeRustlsConnect;

use super::DbError;

/// What a connection asks of TLS.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum SslMode {
    Disable,
    Prefer,
    Require,
    VerifyCa,
    VerifyFull,
}

impl SslMode {
    fn parse(value: &str) -> Result<Self, DbError> {
        Ok(match value {
            "disable" => Self::Disable,
            "allow" | "prefer" => Self::Prefer,
            "require" => Self::Require,
            "verify-ca" => Self::VerifyCa,
            "verify-full" => Self::VerifyFull,
            other => {
                return Err(DbError::Connect(format!(
                    "sslmode `{other}` is not one of disable, allow, prefer, require, verify-ca, verify-full"
                )))
            }
        })
    }

    /// The value tokio-postgres understands.
    fn driver(self) -> &'static str {
        match self {
            Self::Disable => "disable",
            Self::Prefer => "prefer",
            Self::Require | Self::VerifyCa | Self::VerifyFull => "require",
        }
    }
}

/// The TLS parameters of a connection string, taken out of it.
#[derive(Debug, PartialEq, Eq)]
struct TlsParams {
    mode: SslMode,
    root_cert: Option<String>,
    cert: Option<PathBuf>,
    key: Option<PathBuf>,
}

/// Decodes `%XX` escapes of a URL query value.
fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        let hex = |b: u8| (b as char).to_digit(16);
        match (bytes[i], bytes.get(i + 1), bytes.get(i + 2)) {
            (b'%', Some(&h), Some(&l)) if hex(h).is_some() && hex(l).is_some() => {
                out.push((hex(h).unwrap_or(0) * 16 + hex(l).unwrap_or(0)) as u8);
                i += 3;
            }
            (b, _, _) => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Splits the TLS parameters off a connection string: what is left for the driver (with an
/// `sslmode` it knows) and the parameters.
fn split(conninfo: &str) -> Result<(String, TlsParams), DbError> {
    let mut params = TlsParams {
        mode: SslMode::Prefer,
        root_cert: None,
        cert: None,
        key: None,
    };
    let mut take = |key: &str, value: String| -> Result<bool, DbError> {
        match key {
            "sslmode" => params.mode = SslMode::parse(&value)?,
            "sslrootcert" => params.root_cert = Some(value),
            "sslcert" => params.cert = Some(value.into()),
            "sslkey" => params.key = Some(value.into()),
            "sslpassword" | "sslcrl" | "sslcrldir" | "sslcompression" | "sslsni" => {
                return Err(DbError::Connect(format!(
                    "the connection parameter `{key}` is not supported"
                )))
            }
            _ => return Ok(false),
        }
        Ok(true)
    };
    let mut kept: Vec<String> = Vec::new();
    let url = conninfo.starts_with("postgres://") || conninfo.starts_with("postgresql://");
    let (base, separator) = if url {
        let (base, query) = conninfo.split_once('?').unwrap_or((conninfo, ""));
        for pair in query.split('&').filter(|p| !p.is_empty()) {
            let (k, v) = pair.split_once('=').unwrap_or((pair, ""));
            if !take(&percent_decode(k), percent_decode(v))? {
                kept.push(pair.to_owned());
            }
        }
        (format!("{base}?"), "&")
    } else {
        for token in conninfo.split_whitespace() {
            let (k, v) = token.split_once('=').unwrap_or((token, ""));
            if !take(k, v.trim_matches('\'').to_owned())? {
                kept.push(token.to_owned());
            }
        }
        (String::new(), " ")
    };
    kept.push(format!("sslmode={}", params.mode.driver()));
    let rest = format!("{base}{}", kept.join(separator));
    Ok((rest, params))
}

fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

fn file_error(path: &Path, e: impl std::fmt::Display) -> DbError {
    DbError::Connect(format!("{}: {e}", path.display()))
}

/// Where libpq looks for a file not named: `~/.postgresql/{name}`.
fn default_file(name: &str) -> Option<PathBuf> {
    let home = std::env::var_os("HOME")?;
    let path = Path::new(&home).join(".postgresql").join(name);
    path.exists().then_some(path)
}

/// The operating system's bundle of trusted roots.
const SYSTEM_BUNDLES: &[&str] = &[
    "/etc/ssl/certs/ca-certificates.crt",
    "/etc/pki/tls/certs/ca-bundle.crt",
    "/etc/ssl/cert.pem",
];

fn roots(file: &Path) -> Result<rustls::RootCertStore, DbError> {
    let mut store = rustls::RootCertStore::empty();
    for cert in CertificateDer::pem_file_iter(file).map_err(|e| file_error(file, e))? {
        let cert = cert.map_err(|e| file_error(file, e))?;
        store.add(cert).map_err(|e| file_error(file, e))?;
    }
    if store.is_empty() {
        return Err(file_error(file, "no certificate in the file"));
    }
    Ok(store)
}

/// The trust anchors asked for, if any: `sslrootcert`, else `~/.postgresql/root.crt`.
fn root_file(params: &TlsParams) -> Result<Option<PathBuf>, DbError> {
    match params.root_cert.as_deref() {
        Some("system") => SYSTEM_BUNDLES
            .iter()
            .map(PathBuf::from)
            .find(|p| p.exists())
            .map(Some)
            .ok_or_else(|| DbError::Connect("sslrootcert=system: no system bundle found".into())),
        Some(file) => Ok(Some(PathBuf::from(file))),
        None => Ok(default_file("root.crt")),
    }
}

/// libpq's checks short of `verify-full`: with no roots (`prefer`, `require` without a root
/// certificate) any certificate is taken; with roots (`verify-ca`, `require` with one) the
/// chain is checked but not the name. The chain is checked before the name, so a name
/// mismatch means the chain passed. Either way the server must prove it holds the key.
#[derive(Debug)]
struct Lenient {
    chain: Option<Arc<WebPkiServerVerifier>>,
    provider: Arc<CryptoProvider>,
}

impl ServerCertVerifier for Lenient {
    fn verify_server_cert(
        &self,
        end_entity: &CertificateDer<'_>,
        intermediates: &[CertificateDer<'_>],
        server_name: &ServerName<'_>,
        ocsp_response: &[u8],
        now: UnixTime,
    ) -> Result<ServerCertVerified, rustls::Error> {
        let Some(chain) = &self.chain else {
            return Ok(ServerCertVerified::assertion());
        };
        match chain.verify_server_cert(end_entity, intermediates, server_name, ocsp_response, now) {
            Err(rustls::Error::InvalidCertificate(
                CertificateError::NotValidForName | CertificateError::NotValidForNameContext { .. },
            )) => Ok(ServerCertVerified::assertion()),
            other => other,
        }
    }

    fn verify_tls12_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls12_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn verify_tls13_signature(
        &self,
        message: &[u8],
        cert: &CertificateDer<'_>,
        dss: &DigitallySignedStruct,
    ) -> Result<HandshakeSignatureValid, rustls::Error> {
        verify_tls13_signature(
            message,
            cert,
            dss,
            &self.provider.signature_verification_algorithms,
        )
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.provider
            .signature_verification_algorithms
            .supported_schemes()
    }
}

fn client_config(params: &TlsParams) -> Result<rustls::ClientConfig, DbError> {
    let provider = provider();
    let builder = rustls::ClientConfig::builder_with_provider(provider.clone())
        .with_safe_default_protocol_versions()
        .map_err(|e| DbError::Connect(e.to_string()))?;
    let roots = match (params.mode, root_file(params)?) {
        (SslMode::Disable | SslMode::Prefer, _) | (SslMode::Require, None) => None,
        (SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull, Some(file)) => {
            Some(roots(&file)?)
        }
        (SslMode::VerifyCa | SslMode::VerifyFull, None) => {
            return Err(DbError::Connect(format!(
                "sslmode={} needs sslrootcert (or ~/.postgresql/root.crt)",
                if params.mode == SslMode::VerifyCa {
                    "verify-ca"
                } else {
                    "verify-full"
                }
            )))
        }
    };
    let builder = match roots {
        Some(roots) if params.mode == SslMode::VerifyFull => builder.with_root_certificates(roots),
        roots => {
            let chain = match roots {
                Some(roots) => Some(
                    WebPkiServerVerifier::builder_with_provider(Arc::new(roots), provider.clone())
                        .build()
                        .map_err(|e| DbError::Connect(e.to_string()))?,
                ),
                None => None,
            };
            builder
                .dangerous()
                .with_custom_certificate_verifier(Arc::new(Lenient { chain, provider }))
        }
    };
    let cert = params
        .cert
        .clone()
        .or_else(|| default_file("postgresql.crt"));
    let key = params
        .key
        .clone()
        .or_else(|| default_file("postgresql.key"));
    match (cert, key) {
        (Some(cert), Some(key)) => {
            let chain = CertificateDer::pem_file_iter(&cert)
                .map_err(|e| file_error(&cert, e))?
                .collect::<Result<Vec<_>, _>>()
                .map_err(|e| file_error(&cert, e))?;
            let key = PrivateKeyDer::from_pem_file(&key).map_err(|e| file_error(&key, e))?;
            builder
                .with_client_auth_cert(chain, key)
                .map_err(|e| DbError::Connect(format!("client certificate: {e}")))
        }
        (Some(_), None) if params.cert.is_some() => {
            Err(DbError::Connect("sslcert is given without sslkey".into()))
        }
        _ => Ok(builder.with_no_client_auth()),
    }
}

/// Opens connections to one database the way its connection string asks.
#[derive(Clone)]
pub struct PgConnector {
    config: tokio_postgres::Config,
    tls: MakeRustlsConnect,
    mode: SslMode,
}

impl PgConnector {
    pub fn new(conninfo: &str) -> Result<Self, DbError> {
        let (rest, params) = split(conninfo)?;
        let config = rest
            .parse::<tokio_postgres::Config>()
            .map_err(|e| DbError::Connect(format!("connection string: {e}")))?;
        let tls = MakeRustlsConnect::new(client_config(&params)?);
        Ok(Self {
            config,
            tls,
            mode: params.mode,
        })
    }

    pub fn mode(&self) -> SslMode {
        self.mode
    }

    /// A tokio-postgres client; its connection runs on a task of its own.
    pub async fn client(&self) -> Result<tokio_postgres::Client, DbError> {
        let (client, connection) = tokio::time::timeout(
            std::time::Duration::from_secs(5),
            self.config.connect(self.tls.clone()),
        )
        .await
        .map_err(|_elapsed| DbError::Connect("timed out".into()))?
        .map_err(|e| DbError::Connect(describe(&e)))?;
        tokio::spawn(async move {
            if let Err(e) = connection.await {
                tracing::debug!("PostgreSQL connection ended: {e}");
            }
        });
        Ok(client)
    }

    /// A diesel connection.
    pub async fn diesel(&self) -> diesel::ConnectionResult<AsyncPgConnection> {
        let (client, connection) = self
            .config
            .connect(self.tls.clone())
            .await
            .map_err(|e| diesel::ConnectionError::BadConnection(describe(&e)))?;
        AsyncPgConnection::try_from_client_and_connection(client, connection).await
    }
}

/// The driver's error with its cause (a refused certificate says why).
fn describe(e: &tokio_postgres::Error) -> String {
    let mut text = e.to_string();
    let mut source = std::error::Error::source(e);
    while let Some(s) = source {
        let s_text = s.to_string();
        if !text.contains(&s_text) {
            text = format!("{text}: {s_text}");
        }
        source = s.source();
    }
    text
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tls_parameters_leave_the_url_and_sslmode_is_one_the_driver_knows() {
        let (rest, p) =
            split("postgres://u:pw@db:5432/city?sslmode=verify-full&sslrootcert=%2Fetc%2Fca.pem&application_name=x")
                .unwrap();
        assert_eq!(
            rest,
            "postgres://u:pw@db:5432/city?application_name=x&sslmode=require"
        );
        assert_eq!(p.mode, SslMode::VerifyFull);
        assert_eq!(p.root_cert.as_deref(), Some("/etc/ca.pem"));

        let (rest, p) = split("postgres://db/city").unwrap();
        assert_eq!(rest, "postgres://db/city?sslmode=prefer");
        assert_eq!(p.mode, SslMode::Prefer);

        let (rest, p) = split("host=db dbname=city sslmode=verify-ca sslrootcert=/ca.pem").unwrap();
        assert_eq!(rest, "host=db dbname=city sslmode=require");
        assert_eq!(p.mode, SslMode::VerifyCa);
        assert_eq!(p.root_cert.as_deref(), Some("/ca.pem"));

        assert_eq!(
            split("postgres://db/city?sslmode=allow").unwrap().1.mode,
            SslMode::Prefer
        );
        assert!(split("postgres://db/city?sslmode=sometimes").is_err());
        assert!(split("postgres://db/city?sslcrl=/x").is_err());
    }

    #[test]
    fn verification_without_roots_is_refused_before_connecting() {
        let e = PgConnector::new(
            "postgres://db/city?sslmode=verify-full&sslrootcert=/nonexistent/ca.pem",
        )
        .err()
        .expect("a missing root file is an error");
        assert!(e.to_string().contains("/nonexistent/ca.pem"), "{e}");
        // A password never appears in what is said.
        let e = PgConnector::new("postgres://u:secret@db/city?sslmode=bogus")
            .err()
            .unwrap();
        assert!(!e.to_string().contains("secret"), "{e}");
    }
}
