//! What a failed TLS handshake means, in terms of the setting to fix.
//!
//! The rustls error is found by its text in the error's chain, not by downcasting: clients wrap
//! it (tokio-rustls in an `io::Error`, redis-rs that in an `Arc`) in ways that hide the rustls
//! value from `source()`, but every layer keeps its message ("invalid peer certificate: ...",
//! "received fatal alert: ...").
//!
//! With TLS 1.3 the server judges the client's certificate after the client has finished its
//! half of the handshake, so a refused certificate shows as an alert on the first read, not on
//! connect; it is diagnosed the same way, and as fast: the server sends the alert at once.

use super::{CA_FILE_SETTING, CERT_FILE_SETTING, TlsFiles};

/// A failed handshake, explained: the setting to fix and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFailure {
    /// The setting, e.g. `CACHE_OPTIONS.tls_ca_file`.
    pub setting: &'static str,
    /// What failed and what to do.
    pub message: String,
}

/// Explains `error` if it is a failed TLS handshake with `target`: the server's certificate not
/// trusted (`tls_ca_file`), not for the name connected to (`name_setting`, the setting that gave
/// the host name), expired; or the client's certificate missing or refused (`tls_cert_file`).
/// `None` for other errors.
pub fn diagnose(
    error: &(dyn std::error::Error + 'static),
    files: &TlsFiles,
    target: &str,
    name_setting: &'static str,
) -> Option<TlsFailure> {
    let mut text = String::new();
    let mut level: Option<&(dyn std::error::Error + 'static)> = Some(error);
    while let Some(e) = level {
        text.push_str(&e.to_string());
        text.push('\n');
        level = e.source();
    }
    explain(&text, files, target, name_setting)
}

fn explain(text: &str, files: &TlsFiles, target: &str, name_setting: &'static str) -> Option<TlsFailure> {
    let ca = files
        .ca_file
        .as_ref()
        .map_or("the system's CA certificates".to_owned(), |p| format!("the CA in {}", p.display()));
    let failure = |setting: &'static str, message: String| Some(TlsFailure { setting, message });
    if let Some(rest) = after(text, "invalid peer certificate: ") {
        if rest.contains("not valid for name") || rest.starts_with("NotValidForName") {
            return failure(
                name_setting,
                format!(
                    "TLS handshake with {target}: the server's certificate is not valid for the name connected to \
                     ({}); connect by a name the certificate lists, or set the expected name in {name_setting}",
                    first_line(rest)
                ),
            );
        }
        if rest.starts_with("certificate expired") || rest.starts_with("Expired") {
            return failure(
                CA_FILE_SETTING,
                format!(
                    "TLS handshake with {target}: the server's certificate has expired ({}); renew it on the server",
                    first_line(rest)
                ),
            );
        }
        return failure(
            CA_FILE_SETTING,
            format!(
                "TLS handshake with {target}: the server's certificate is not trusted by {ca} ({}); set \
                 {CA_FILE_SETTING} to the PEM file of the CA that signed it",
                first_line(rest)
            ),
        );
    }
    let alert = first_line(after(text, "received fatal alert: ")?);
    let refused = |why: &str| match &files.cert_file {
        None => failure(
            CERT_FILE_SETTING,
            format!(
                "TLS handshake with {target}: the server requires a client certificate ({alert}); set {CERT_FILE_SETTING} \
                 and CACHE_OPTIONS.tls_key_file to a certificate signed by a CA the server trusts"
            ),
        ),
        Some(cert) => failure(
            CERT_FILE_SETTING,
            format!(
                "TLS handshake with {target}: the server refused the client certificate in {} ({alert}{why}); use a \
                 certificate that is current and signed by a CA the server trusts",
                cert.display()
            ),
        ),
    };
    match alert {
        "CertificateRequired" | "HandshakeFailure" => refused(""),
        "CertificateExpired" => refused(": it has expired"),
        "BadCertificate"
        | "UnknownCA"
        | "CertificateUnknown"
        | "UnsupportedCertificate"
        | "CertificateRevoked"
        | "AccessDenied"
        | "DecryptError" => refused(""),
        _ => None,
    }
}

fn after<'t>(text: &'t str, marker: &str) -> Option<&'t str> {
    text.find(marker).map(|i| &text[i + marker.len()..])
}

fn first_line(text: &str) -> &str {
    text.lines().next().unwrap_or_default().trim()
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use super::*;

    fn explained(text: &str, cert: bool) -> Option<TlsFailure> {
        let files = TlsFiles {
            ca_file: Some(PathBuf::from("/ca.pem")),
            cert_file: cert.then(|| PathBuf::from("/client.pem")),
            key_file: cert.then(|| PathBuf::from("/client.key")),
        };
        explain(text, &files, "127.0.0.1:1", "CACHE_OPTIONS.tls_server_name")
    }

    #[test]
    fn an_untrusted_server_certificate_names_the_ca_file() {
        let f = explained("io error: invalid peer certificate: UnknownIssuer", false).unwrap();
        assert_eq!(f.setting, CA_FILE_SETTING);
        assert!(f.message.contains("/ca.pem") && f.message.contains("UnknownIssuer"), "{}", f.message);
    }

    #[test]
    fn a_name_mismatch_names_the_setting_that_gave_the_name() {
        let text =
            "invalid peer certificate: certificate not valid for name \"localhost\"; certificate is only valid for x";
        assert_eq!(explained(text, false).unwrap().setting, "CACHE_OPTIONS.tls_server_name");
    }

    #[test]
    fn a_missing_or_refused_client_certificate_names_the_cert_file() {
        let missing = explained("received fatal alert: CertificateRequired", false).unwrap();
        assert_eq!(missing.setting, CERT_FILE_SETTING);
        assert!(missing.message.contains("requires a client certificate"), "{}", missing.message);
        let expired = explained("received fatal alert: CertificateExpired\n", true).unwrap();
        assert!(expired.message.contains("/client.pem") && expired.message.contains("expired"), "{}", expired.message);
    }

    #[test]
    fn other_errors_are_not_explained() {
        assert_eq!(explained("Connection refused (os error 111)", false), None);
        assert_eq!(explained("received fatal alert: ProtocolVersion", true), None);
    }
}
