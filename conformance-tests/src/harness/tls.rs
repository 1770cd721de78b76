//! Certificates for the TLS servers of the harness, made at test time with rcgen: one test CA for
//! every server of the process (a cluster's nodes must share it), and the certificates the error
//! tests need.
//!
//! | file | what |
//! |---|---|
//! | [`ca_file`](TestCertificates::ca_file) | the test CA, which signed everything below |
//! | [`server_cert_file`](TestCertificates::server_cert_file) / key | `localhost` and 127.0.0.1 |
//! | [`wrong_name_cert_file`](TestCertificates::wrong_name_cert_file) / key | a server certificate for `wrong-name.invalid` only |
//! | [`client_cert_file`](TestCertificates::client_cert_file) / key | a client certificate |
//! | [`expired_client_cert_file`](TestCertificates::expired_client_cert_file) / key | a client certificate that expired in 2021 |
//! | [`other_ca_file`](TestCertificates::other_ca_file) | a CA that signed nothing here (the "wrong CA") |
//!
//! ```no_run
//! use cachette_conformance::harness::tls::TestCertificates;
//!
//! let certs = TestCertificates::shared();
//! let options = certs.client_options(); // tls_ca_file=...,tls_cert_file=...,tls_key_file=...
//! ```

use std::path::{Path, PathBuf};
use std::sync::{Arc, OnceLock};

use rcgen::{
    BasicConstraints, CertificateParams, CertifiedIssuer, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyPair, KeyUsagePurpose, date_time_ymd,
};

use super::keep::{KeepForProcess, Kept};

/// The certificate files of the harness's TLS servers and clients, in a directory that lives as
/// long as the test process.
#[derive(Debug)]
pub struct TestCertificates {
    dir: tempfile::TempDir,
}

impl KeepForProcess for TestCertificates {
    fn kept(&self) -> Vec<Kept> {
        vec![Kept { pid: None, dir: self.dir.path().to_owned() }]
    }
}

impl TestCertificates {
    /// The certificates every TLS server and client of this test process uses (made on first use).
    pub fn shared() -> &'static TestCertificates {
        static SHARED: OnceLock<TestCertificates> = OnceLock::new();
        SHARED.get_or_init(|| TestCertificates::make().keep_for_process())
    }

    fn make() -> TestCertificates {
        let dir = tempfile::Builder::new()
            .prefix("cachette-certificates-")
            .tempdir()
            .unwrap_or_else(|e| panic!("cannot create a directory for test certificates: {e}"));
        let ca = certificate_authority("cachette test CA");
        write(dir.path(), "ca.crt", &ca.pem());
        let other_ca = certificate_authority("cachette other CA");
        write(dir.path(), "other-ca.crt", &other_ca.pem());
        use ExtendedKeyUsagePurpose::{ClientAuth, ServerAuth};
        // The servers' certificate is a client's too: cluster nodes and replicas present it to
        // each other, and the servers require client certificates.
        let leaves: [(&str, Vec<&str>, Vec<ExtendedKeyUsagePurpose>, bool); 4] = [
            ("server", vec!["localhost", "127.0.0.1"], vec![ServerAuth, ClientAuth], false),
            ("wrong-name", vec!["wrong-name.invalid"], vec![ServerAuth, ClientAuth], false),
            ("client", vec!["cachette-client"], vec![ClientAuth], false),
            ("expired-client", vec!["cachette-client"], vec![ClientAuth], true),
        ];
        for (name, names, usages, expired) in leaves {
            let key = KeyPair::generate().unwrap_or_else(|e| panic!("cannot make a key: {e}"));
            let mut params = CertificateParams::new(names.iter().map(|n| n.to_string()).collect::<Vec<_>>())
                .unwrap_or_else(|e| panic!("bad certificate names: {e}"));
            params.distinguished_name = named(names[0]);
            params.extended_key_usages = usages;
            params.key_usages = vec![KeyUsagePurpose::DigitalSignature, KeyUsagePurpose::KeyEncipherment];
            (params.not_before, params.not_after) = if expired {
                (date_time_ymd(2020, 1, 1), date_time_ymd(2021, 1, 1))
            } else {
                (date_time_ymd(2024, 1, 1), date_time_ymd(4000, 1, 1))
            };
            let cert = params.signed_by(&key, &ca).unwrap_or_else(|e| panic!("cannot sign {name}: {e}"));
            write(dir.path(), &format!("{name}.crt"), &cert.pem());
            write(dir.path(), &format!("{name}.key"), &key.serialize_pem());
        }
        TestCertificates { dir }
    }

    fn file(&self, name: &str) -> PathBuf {
        self.dir.path().join(name)
    }

    /// The test CA (PEM), which signed every certificate here but [`other_ca_file`](Self::other_ca_file).
    pub fn ca_file(&self) -> PathBuf {
        self.file("ca.crt")
    }

    /// A CA that signed none of these certificates.
    pub fn other_ca_file(&self) -> PathBuf {
        self.file("other-ca.crt")
    }

    /// The servers' certificate, for `localhost` and 127.0.0.1.
    pub fn server_cert_file(&self) -> PathBuf {
        self.file("server.crt")
    }

    /// The key of [`server_cert_file`](Self::server_cert_file).
    pub fn server_key_file(&self) -> PathBuf {
        self.file("server.key")
    }

    /// A server certificate for `wrong-name.invalid` only: a client of `localhost` refuses it.
    pub fn wrong_name_cert_file(&self) -> PathBuf {
        self.file("wrong-name.crt")
    }

    /// The key of [`wrong_name_cert_file`](Self::wrong_name_cert_file).
    pub fn wrong_name_key_file(&self) -> PathBuf {
        self.file("wrong-name.key")
    }

    /// A client certificate the servers accept.
    pub fn client_cert_file(&self) -> PathBuf {
        self.file("client.crt")
    }

    /// The key of [`client_cert_file`](Self::client_cert_file).
    pub fn client_key_file(&self) -> PathBuf {
        self.file("client.key")
    }

    /// A client certificate signed by the test CA that expired in 2021.
    pub fn expired_client_cert_file(&self) -> PathBuf {
        self.file("expired-client.crt")
    }

    /// The key of [`expired_client_cert_file`](Self::expired_client_cert_file).
    pub fn expired_client_key_file(&self) -> PathBuf {
        self.file("expired-client.key")
    }

    /// `tls_ca_file=<CA>,tls_cert_file=<client>,tls_key_file=<client key>`: the `CACHE_OPTIONS` of
    /// a client the servers accept.
    pub fn client_options(&self) -> String {
        let pairs: Vec<String> =
            self.client_option_pairs().iter().map(|(name, path)| format!("{name}={path}")).collect();
        pairs.join(",")
    }

    /// [`client_options`](Self::client_options) as (name, value) pairs, as the targets'
    /// `options` hold them.
    pub fn client_option_pairs(&self) -> Vec<(String, String)> {
        [
            ("tls_ca_file", self.ca_file()),
            ("tls_cert_file", self.client_cert_file()),
            ("tls_key_file", self.client_key_file()),
        ]
        .into_iter()
        .map(|(name, path)| (name.to_owned(), path.display().to_string()))
        .collect()
    }

    /// A rustls client that trusts the test CA and presents the client certificate (ring).
    pub fn rustls_client_config(&self) -> Arc<rustls::ClientConfig> {
        use rustls::pki_types::pem::PemObject;
        use rustls::pki_types::{CertificateDer, PrivateKeyDer};
        let mut roots = rustls::RootCertStore::empty();
        for cert in CertificateDer::pem_file_iter(self.ca_file()).expect("the test CA").flatten() {
            roots.add(cert).expect("the test CA is a usable root");
        }
        let chain =
            CertificateDer::pem_file_iter(self.client_cert_file()).expect("the client cert").flatten().collect();
        let key = PrivateKeyDer::from_pem_file(self.client_key_file()).expect("the client key");
        let config = rustls::ClientConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .expect("ring supports the default versions")
            .with_root_certificates(roots)
            .with_client_auth_cert(chain, key)
            .expect("the client key matches its certificate");
        Arc::new(config)
    }
}

fn named(common_name: &str) -> DistinguishedName {
    let mut name = DistinguishedName::new();
    name.push(DnType::CommonName, common_name);
    name
}

fn certificate_authority(common_name: &str) -> CertifiedIssuer<'static, KeyPair> {
    let mut params = CertificateParams::default();
    params.distinguished_name = named(common_name);
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![KeyUsagePurpose::KeyCertSign, KeyUsagePurpose::CrlSign, KeyUsagePurpose::DigitalSignature];
    (params.not_before, params.not_after) = (date_time_ymd(2020, 1, 1), date_time_ymd(4000, 1, 1));
    let key = KeyPair::generate().unwrap_or_else(|e| panic!("cannot make a CA key: {e}"));
    CertifiedIssuer::self_signed(params, key).unwrap_or_else(|e| panic!("cannot make the test CA: {e}"))
}

fn write(dir: &Path, name: &str, pem: &str) {
    std::fs::write(dir.join(name), pem).unwrap_or_else(|e| panic!("cannot write {name}: {e}"));
}

/// The error of `backend`'s first call, which must fail its TLS handshake well within the 5 s a
/// client is given to connect and answer (a refused handshake is reported at once, not waited
/// out).
pub async fn handshake_error(backend: &dyn cachette_core::BaseCache) -> cachette_core::CacheError {
    let started = std::time::Instant::now();
    let err = backend.get("k").await.expect_err("the handshake must fail");
    assert!(started.elapsed() < std::time::Duration::from_secs(5), "took {:?}: {err}", started.elapsed());
    err
}

/// The setting a TLS failure names (an authentication error naming what to fix).
pub fn setting_of(err: &cachette_core::CacheError) -> &'static str {
    match err {
        cachette_core::CacheError::Authentication { setting, .. } => setting,
        other => panic!("expected an authentication error naming a setting, got {other:?}"),
    }
}
