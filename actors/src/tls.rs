//! TLS for the server's listeners (HTTP and WebSocket, the embedded MQTT broker, Teltonika):
//! the certificate chain and key come from PEM files and are picked up again when the files
//! change, so a rotated certificate takes effect at the next handshake with no restart. A
//! rotation that leaves the files unreadable (half written, a key that does not match) keeps
//! the certificate in force and says so.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, RwLock};
use std::time::{Duration, Instant, SystemTime};

use rustls::crypto::ring::sign::any_supported_type;
use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};
use rustls::server::{ClientHello, ResolvesServerCert};
use rustls::sign::CertifiedKey;
use serde::Deserialize;

/// Where a listener's certificate chain and private key are (PEM).
#[derive(Debug, Clone, PartialEq, Eq, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TlsFiles {
    /// The certificate chain, leaf first.
    pub cert_file: PathBuf,
    /// The private key (PKCS#8, PKCS#1 or SEC1).
    pub key_file: PathBuf,
}

#[derive(Debug, thiserror::Error)]
pub enum TlsError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("TLS: {0}")]
    Rustls(#[from] rustls::Error),
}

fn file_error(path: &Path, message: impl ToString) -> TlsError {
    TlsError::File {
        path: path.to_owned(),
        message: message.to_string(),
    }
}

/// The certificates of a PEM file, at least one.
fn certificates(path: &Path) -> Result<Vec<CertificateDer<'static>>, TlsError> {
    let all: Vec<CertificateDer<'static>> = CertificateDer::pem_file_iter(path)
        .map_err(|e| file_error(path, e))?
        .collect::<Result<_, _>>()
        .map_err(|e| file_error(path, e))?;
    if all.is_empty() {
        return Err(file_error(path, "no certificate in it"));
    }
    Ok(all)
}

/// Reads and checks a certificate chain and its key.
pub fn load(files: &TlsFiles) -> Result<CertifiedKey, TlsError> {
    let chain = certificates(&files.cert_file)?;
    let key = PrivateKeyDer::from_pem_file(&files.key_file)
        .map_err(|e| file_error(&files.key_file, e))?;
    let signer = any_supported_type(&key).map_err(|e| file_error(&files.key_file, e))?;
    let certified = CertifiedKey::new(chain, signer);
    certified.keys_match().map_err(|e| {
        file_error(
            &files.key_file,
            format!("does not match the certificate: {e}"),
        )
    })?;
    Ok(certified)
}

/// The certificate's and the key's modification times.
type Stamps = (Option<SystemTime>, Option<SystemTime>);

fn stamps(files: &TlsFiles) -> Stamps {
    let modified = |p: &Path| std::fs::metadata(p).and_then(|m| m.modified()).ok();
    (modified(&files.cert_file), modified(&files.key_file))
}

/// How often, at most, a handshake looks at the files again.
const CHECK_EVERY: Duration = Duration::from_secs(1);

/// The certificate in force, reloaded when its files change.
#[derive(Debug)]
pub struct ReloadingCert {
    files: TlsFiles,
    current: RwLock<Arc<CertifiedKey>>,
    /// When the files were last looked at, and their modification times then.
    checked: Mutex<(Instant, Stamps)>,
}

impl ReloadingCert {
    pub fn new(files: TlsFiles) -> Result<Self, TlsError> {
        let stamp = stamps(&files);
        let first = load(&files)?;
        Ok(Self {
            files,
            current: RwLock::new(Arc::new(first)),
            checked: Mutex::new((Instant::now(), stamp)),
        })
    }

    /// Loads the files again if they changed since last looked at (at most once a second).
    fn refresh(&self) {
        let Ok(mut checked) = self.checked.try_lock() else {
            return; // another handshake is looking
        };
        if checked.0.elapsed() < CHECK_EVERY {
            return;
        }
        checked.0 = Instant::now();
        let stamp = stamps(&self.files);
        if stamp == checked.1 {
            return;
        }
        match load(&self.files) {
            Ok(next) => {
                checked.1 = stamp;
                if let Ok(mut current) = self.current.write() {
                    *current = Arc::new(next);
                }
                metrics::counter!(crate::metrics::TLS_RELOADS_TOTAL, "result" => "ok").increment(1);
                tracing::info!(cert = %self.files.cert_file.display(), "TLS certificate reloaded");
            }
            Err(e) => {
                metrics::counter!(crate::metrics::TLS_RELOADS_TOTAL, "result" => "error")
                    .increment(1);
                tracing::error!("TLS certificate not reloaded, the previous one stays: {e}");
            }
        }
    }
}

impl ResolvesServerCert for ReloadingCert {
    fn resolve(&self, _hello: ClientHello<'_>) -> Option<Arc<CertifiedKey>> {
        self.refresh();
        self.current.read().ok().map(|c| Arc::clone(&c))
    }
}

/// A server configuration serving `files`' certificate (reloaded when they change), no
/// client certificates asked, offering `alpn` protocols.
pub fn server_config(files: &TlsFiles, alpn: &[&[u8]]) -> Result<rustls::ServerConfig, TlsError> {
    let resolver = Arc::new(ReloadingCert::new(files.clone())?);
    let mut config = rustls::ServerConfig::builder()
        .with_no_client_auth()
        .with_cert_resolver(resolver);
    config.alpn_protocols = alpn.iter().map(|p| p.to_vec()).collect();
    Ok(config)
}

/// An acceptor for a TCP listener (MQTT, Teltonika).
pub fn acceptor(files: &TlsFiles) -> Result<tokio_rustls::TlsAcceptor, TlsError> {
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(server_config(
        files,
        &[],
    )?)))
}

/// A client configuration trusting the CA certificates in `ca_file` (PEM) only, presenting
/// `client`'s certificate when given (brokers that ask for one).
pub fn client_config(
    ca_file: &Path,
    client: Option<&TlsFiles>,
) -> Result<rustls::ClientConfig, TlsError> {
    let mut roots = rustls::RootCertStore::empty();
    for cert in certificates(ca_file)? {
        roots.add(cert).map_err(|e| file_error(ca_file, e))?;
    }
    let builder = rustls::ClientConfig::builder().with_root_certificates(roots);
    Ok(match client {
        None => builder.with_no_client_auth(),
        Some(files) => {
            let chain = certificates(&files.cert_file)?;
            let key = PrivateKeyDer::from_pem_file(&files.key_file)
                .map_err(|e| file_error(&files.key_file, e))?;
            builder.with_client_auth_cert(chain, key)?
        }
    })
}
