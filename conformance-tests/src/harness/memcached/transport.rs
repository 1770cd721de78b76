//! How the harness itself reaches a memcached it started, to ask who it is: TCP, TLS (with the
//! test client certificate, through rustls) or a unix socket.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::os::unix::net::UnixStream;
use std::path::{Path, PathBuf};
use std::time::Duration;

use rustls::pki_types::ServerName;

use crate::harness::tls::TestCertificates;

/// Which certificate a TLS server presents.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum ServerCertificate {
    /// For `localhost` and 127.0.0.1.
    Good,
    /// For `wrong-name.invalid` only.
    WrongName,
}

impl ServerCertificate {
    /// The certificate and key files.
    pub(super) fn files(self, certs: &TestCertificates) -> (PathBuf, PathBuf) {
        match self {
            ServerCertificate::Good => (certs.server_cert_file(), certs.server_key_file()),
            ServerCertificate::WrongName => (certs.wrong_name_cert_file(), certs.wrong_name_key_file()),
        }
    }

    /// The name the certificate is valid for.
    fn name(self) -> ServerName<'static> {
        match self {
            ServerCertificate::Good => ServerName::IpAddress(std::net::Ipv4Addr::LOCALHOST.into()),
            ServerCertificate::WrongName => ServerName::try_from("wrong-name.invalid").expect("a valid DNS name"),
        }
    }
}

/// A byte stream to a server, whatever its transport.
pub(super) trait Stream: Read + Write {}

impl<T: Read + Write> Stream for T {}

const PROBE_TIMEOUT: Duration = Duration::from_millis(500);

/// A connection to the server on 127.0.0.1:`port` (or the unix socket), with a short read timeout.
pub(super) fn connect(port: u16, unix: Option<&Path>, tls: Option<ServerCertificate>) -> Option<Box<dyn Stream>> {
    if let Some(path) = unix {
        let stream = UnixStream::connect(path).ok()?;
        stream.set_read_timeout(Some(PROBE_TIMEOUT)).ok()?;
        return Some(Box::new(stream));
    }
    let stream = TcpStream::connect(("127.0.0.1", port)).ok()?;
    stream.set_read_timeout(Some(PROBE_TIMEOUT)).ok()?;
    let Some(certificate) = tls else { return Some(Box::new(stream)) };
    let config = TestCertificates::shared().rustls_client_config();
    let connection = rustls::ClientConnection::new(config, certificate.name()).ok()?;
    Some(Box::new(rustls::StreamOwned::new(connection, stream)))
}
