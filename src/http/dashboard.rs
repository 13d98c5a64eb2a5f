//! The dispatch dashboard: plain HTML, CSS and JavaScript modules from `web/`, built into
//! the binary, served at `/` with validators (ETag) and compression. Nothing is fetched from
//! elsewhere; the page talks to this server's REST API and WebSocket only.

use std::sync::LazyLock;

use actix_web::http::header;
use actix_web::middleware::Compress;
use actix_web::{web, HttpRequest, HttpResponse};
use serde_json::json;
use sha2::{Digest, Sha256};

use crate::config::DashboardSettings;

struct Asset {
    name: &'static str,
    mime: &'static str,
    body: &'static [u8],
}

macro_rules! assets {
    ($( $name:literal => $mime:literal ),* $(,)?) => {
        const ASSETS: &[Asset] = &[
            $( Asset { name: $name, mime: $mime, body: include_bytes!(concat!("../../web/", $name)) }, )*
        ];
    };
}

assets! {
    "index.html" => "text/html; charset=utf-8",
    "style.css" => "text/css; charset=utf-8",
    "app.js" => "text/javascript; charset=utf-8",
    "api.js" => "text/javascript; charset=utf-8",
    "live.js" => "text/javascript; charset=utf-8",
    "map.js" => "text/javascript; charset=utf-8",
    "ui.js" => "text/javascript; charset=utf-8",
    "views/fleet.js" => "text/javascript; charset=utf-8",
    "views/alerts.js" => "text/javascript; charset=utf-8",
    "views/robots.js" => "text/javascript; charset=utf-8",
    "views/nodes.js" => "text/javascript; charset=utf-8",
    "views/reports.js" => "text/javascript; charset=utf-8",
    "views/people.js" => "text/javascript; charset=utf-8",
    "favicon.svg" => "image/svg+xml",
}

/// Strong validators, one per asset, from its content.
static ETAGS: LazyLock<Vec<String>> = LazyLock::new(|| {
    ASSETS
        .iter()
        .map(|a| format!("\"{}\"", &hex::encode(Sha256::digest(a.body))[..20]))
        .collect()
});

/// What the page needs to know before it signs in.
#[derive(Clone)]
struct PageConfig(serde_json::Value);

/// Registers `/`, `/assets/{file}` and `/dashboard.json`.
pub fn routes(cfg: &mut web::ServiceConfig, settings: &DashboardSettings) {
    let page = PageConfig(json!({
        "tile_url": settings.tile_url,
        "tile_attribution": settings.tile_attribution,
        "version": env!("CARGO_PKG_VERSION"),
    }));
    cfg.app_data(web::Data::new(page))
        .service(
            web::resource("/")
                .wrap(Compress::default())
                .route(web::get().to(index)),
        )
        .service(
            web::resource("/assets/{file:.*}")
                .wrap(Compress::default())
                .route(web::get().to(asset)),
        )
        .service(web::resource("/dashboard.json").route(web::get().to(page_config)));
}

async fn index(req: HttpRequest) -> HttpResponse {
    serve(&req, "index.html")
}

async fn asset(req: HttpRequest, file: web::Path<String>) -> HttpResponse {
    serve(&req, &file)
}

async fn page_config(page: web::Data<PageConfig>) -> HttpResponse {
    HttpResponse::Ok()
        .insert_header((header::CACHE_CONTROL, "no-cache"))
        .json(&page.0)
}

/// One asset, or 304 when the client holds this version. Every response is revalidated
/// (`no-cache`): a new binary's files are picked up at the next load, never a mix.
fn serve(req: &HttpRequest, name: &str) -> HttpResponse {
    let Some(i) = ASSETS.iter().position(|a| a.name == name) else {
        return HttpResponse::NotFound()
            .content_type("text/plain; charset=utf-8")
            .body(format!("no dashboard file {name}"));
    };
    let (asset, etag) = (&ASSETS[i], &ETAGS[i]);
    let matches = req
        .headers()
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*"));
    let mut res = if matches {
        HttpResponse::NotModified()
    } else {
        HttpResponse::Ok()
    };
    res.insert_header((header::ETAG, etag.as_str()))
        .insert_header((header::CACHE_CONTROL, "no-cache"));
    if matches {
        return res.finish();
    }
    res.content_type(asset.mime).body(asset.body)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_module_the_page_imports_is_built_in() {
        // Each `from "./x.js"` / `import("./x.js")` in a built-in module names a built-in file.
        for a in ASSETS.iter().filter(|a| a.name.ends_with(".js")) {
            let text = std::str::from_utf8(a.body).unwrap();
            let dir = a.name.rsplit_once('/').map_or("", |(d, _)| d);
            for part in text.split("from \"").skip(1) {
                let target = part.split('"').next().unwrap();
                let resolved = resolve(dir, target);
                assert!(
                    ASSETS.iter().any(|b| b.name == resolved),
                    "{} imports {target} ({resolved}), which is not built in",
                    a.name
                );
            }
        }
        let index = std::str::from_utf8(ASSETS[0].body).unwrap();
        for part in index.split("/assets/").skip(1) {
            let target = part.split('"').next().unwrap();
            assert!(
                ASSETS.iter().any(|b| b.name == target),
                "index names {target}"
            );
        }
    }

    fn resolve(dir: &str, target: &str) -> String {
        let mut parts: Vec<&str> = dir.split('/').filter(|p| !p.is_empty()).collect();
        for seg in target.split('/') {
            match seg {
                "." => {}
                ".." => {
                    parts.pop();
                }
                s => parts.push(s),
            }
        }
        parts.join("/")
    }
}
