//! TLS for the network backends (cargo feature `tls`): the `CACHE_OPTIONS` that name certificate
//! files, a rustls client configuration built from them, and the diagnosis of a failed handshake
//! as an error that names the setting to fix.
//!
//! It lives here, behind a feature, because backends never depend on each other: memcached and the
//! three Redis backends read the same options the same way.
//!
//! | option | meaning |
//! |---|---|
//! | `tls_ca_file` | PEM file of the CA(s) to trust instead of the system's roots (a private CA) |
//! | `tls_cert_file` | PEM file of the client certificate (chain), for servers that require one |
//! | `tls_key_file` | PEM file of that certificate's private key (PKCS#8, PKCS#1 or SEC1) |
//!
//! The files are read when the cache is built, so that a wrong path or a file that holds no
//! certificate is a [`CacheError::Config`] at start-up, not at the first request.
//!
//! ```no_run
//! use cachette_core::Config;
//! use cachette_core::tls::TlsFiles;
//!
//! let config = Config::from_map([("CACHE_OPTIONS", "tls_ca_file=/etc/ssl/private-ca.pem")])?;
//! let files = TlsFiles::from_options(&config.options)?;
//! let client_config = files.client_config()?; // for tokio-rustls
//! # Ok::<(), cachette_core::CacheError>(())
//! ```

mod diagnose;

use std::path::{Path, PathBuf};
use std::sync::Arc;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{CertificateDer, PrivateKeyDer};

pub use diagnose::{TlsFailure, diagnose};

use crate::config::Options;
use crate::{CacheError, Result};

/// The `CACHE_OPTIONS` names of [`TlsFiles`].
pub const TLS_OPTIONS: &[&str] = &[CA_FILE, CERT_FILE, KEY_FILE];

const CA_FILE: &str = "tls_ca_file";
const CERT_FILE: &str = "tls_cert_file";
const KEY_FILE: &str = "tls_key_file";

/// The setting of the trusted CA file, as errors name it.
pub const CA_FILE_SETTING: &str = "CACHE_OPTIONS.tls_ca_file";
/// The setting of the client certificate file, as errors name it.
pub const CERT_FILE_SETTING: &str = "CACHE_OPTIONS.tls_cert_file";
/// The setting of the client key file, as errors name it.
pub const KEY_FILE_SETTING: &str = "CACHE_OPTIONS.tls_key_file";

/// Installs ring's rustls `CryptoProvider` as the process default, once; a provider the
/// application installed first stays. redis-rs's rustls support panics at the first TLS
/// connection without one.
pub fn install_provider() {
    let _ = rustls::crypto::ring::default_provider().install_default();
}

/// The certificate files named in `CACHE_OPTIONS` (paths only; see [`TlsFiles::read`]).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct TlsFiles {
    /// `tls_ca_file`: the CA(s) to trust; `None` trusts the system's roots.
    pub ca_file: Option<PathBuf>,
    /// `tls_cert_file`: the client certificate, presented when set.
    pub cert_file: Option<PathBuf>,
    /// `tls_key_file`: the client certificate's private key.
    pub key_file: Option<PathBuf>,
}

/// The contents of [`TlsFiles`], checked: PEM text, as redis-rs takes it.
#[derive(Clone, Default)]
pub struct TlsPem {
    /// The CA file's PEM text.
    pub ca: Option<Vec<u8>>,
    /// The client certificate's and key's PEM text.
    pub client: Option<(Vec<u8>, Vec<u8>)>,
}

/// Key material is not shown.
impl std::fmt::Debug for TlsPem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsPem")
            .field("ca", &self.ca.as_ref().map(Vec::len))
            .field("client", &self.client.is_some())
            .finish()
    }
}

impl TlsFiles {
    /// Reads `tls_ca_file`, `tls_cert_file` and `tls_key_file`; the certificate and its key come
    /// together or not at all.
    pub fn from_options(options: &Options) -> Result<TlsFiles> {
        let path = |name: &str| options.get(name).map(str::trim).filter(|p| !p.is_empty()).map(PathBuf::from);
        let files = TlsFiles { ca_file: path(CA_FILE), cert_file: path(CERT_FILE), key_file: path(KEY_FILE) };
        match (&files.cert_file, &files.key_file) {
            (Some(_), None) => Err(CacheError::config(
                KEY_FILE_SETTING,
                "",
                "tls_cert_file is set, so the client certificate's private key is needed too: set tls_key_file",
            )),
            (None, Some(key)) => Err(CacheError::config(
                CERT_FILE_SETTING,
                "",
                format!(
                    "tls_key_file is set ({}), so the client certificate is needed too: set tls_cert_file",
                    key.display()
                ),
            )),
            _ => Ok(files),
        }
    }

    /// True if no file is named.
    pub fn is_empty(&self) -> bool {
        self.ca_file.is_none() && self.cert_file.is_none() && self.key_file.is_none()
    }

    /// Reads the files and checks that each holds what it should (a certificate, a key).
    pub fn read(&self) -> Result<TlsPem> {
        let ca = match &self.ca_file {
            Some(path) => {
                let pem = read(path, CA_FILE_SETTING, "the CA certificate")?;
                certificates(&pem, path, CA_FILE_SETTING)?;
                Some(pem)
            }
            None => None,
        };
        let client = match (&self.cert_file, &self.key_file) {
            (Some(cert_path), Some(key_path)) => {
                let cert = read(cert_path, CERT_FILE_SETTING, "the client certificate")?;
                certificates(&cert, cert_path, CERT_FILE_SETTING)?;
                let key = read(key_path, KEY_FILE_SETTING, "the client key")?;
                private_key(&key, key_path)?;
                Some((cert, key))
            }
            _ => None,
        };
        Ok(TlsPem { ca, client })
    }

    /// A rustls client configuration (ring provider): the CA file's roots or the system's, and
    /// the client certificate when one is set.
    pub fn client_config(&self) -> Result<Arc<rustls::ClientConfig>> {
        let pem = self.read()?;
        let mut roots = rustls::RootCertStore::empty();
        match (&pem.ca, &self.ca_file) {
            (Some(ca), Some(path)) => {
                for cert in certificates(ca, path, CA_FILE_SETTING)? {
                    roots.add(cert).map_err(|e| {
                        CacheError::config(
                            CA_FILE_SETTING,
                            path.display().to_string(),
                            format!("not a usable CA certificate: {e}"),
                        )
                    })?;
                }
            }
            _ => {
                let native = rustls_native_certs::load_native_certs();
                roots.add_parsable_certificates(native.certs);
                if roots.is_empty() {
                    return Err(CacheError::config(
                        CA_FILE_SETTING,
                        "",
                        "no tls_ca_file is set and the system has no CA certificates (install ca-certificates, or name \
                         the server's CA in tls_ca_file)",
                    ));
                }
            }
        }
        let builder = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| CacheError::config(CA_FILE_SETTING, "", format!("cannot set up TLS: {e}")))?
            .with_root_certificates(roots);
        let config = match (&pem.client, &self.cert_file, &self.key_file) {
            (Some((cert, key)), Some(cert_path), Some(key_path)) => {
                let chain = certificates(cert, cert_path, CERT_FILE_SETTING)?;
                builder.with_client_auth_cert(chain, private_key(key, key_path)?).map_err(|e| {
                    CacheError::config(
                        KEY_FILE_SETTING,
                        key_path.display().to_string(),
                        format!("cannot use this key with the certificate in tls_cert_file: {e}"),
                    )
                })?
            }
            _ => builder.with_no_client_auth(),
        };
        Ok(Arc::new(config))
    }
}

fn read(path: &Path, setting: &str, what: &str) -> Result<Vec<u8>> {
    std::fs::read(path)
        .map_err(|e| CacheError::config(setting, path.display().to_string(), format!("cannot read {what}: {e}")))
}

/// The certificates in a PEM text; none at all is an error.
fn certificates(pem: &[u8], path: &Path, setting: &str) -> Result<Vec<CertificateDer<'static>>> {
    let bad = |message: String| CacheError::config(setting, path.display().to_string(), message);
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| bad(format!("not a PEM certificate file: {e}")))?;
    if certs.is_empty() {
        return Err(bad("no certificate in the file (expected -----BEGIN CERTIFICATE-----)".to_owned()));
    }
    Ok(certs)
}

fn private_key(pem: &[u8], path: &Path) -> Result<PrivateKeyDer<'static>> {
    PrivateKeyDer::from_pem_slice(pem).map_err(|e| {
        CacheError::config(
            KEY_FILE_SETTING,
            path.display().to_string(),
            format!("no private key in the file ({e}); expected -----BEGIN PRIVATE KEY----- (PKCS#8, PKCS#1 or SEC1)"),
        )
    })
}
