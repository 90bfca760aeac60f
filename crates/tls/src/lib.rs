//! TLS for Cambium's gRPC endpoints (orderer, peer, gateway, command line).
//!
//! - [`TlsIdentity`]: a node's or client's TLS certificate and key (PEM), checked to belong
//!   together; loaded from files such as cryptogen's `tls/server.crt` and `tls/server.key`.
//! - [`TlsRoots`]: a set of trusted CA certificates, from PEM files (`tls/ca.crt`), folders
//!   (`msp/tlscacerts/`) or a channel's MSPs (every organisation's TLS root and intermediate CAs).
//! - [`server_tls_config`] / [`client_tls_config`]: tonic's rustls settings for server-only or
//!   mutual TLS; ALPN `h2` is always offered, as Node's gRPC client requires.
//! - [`server_builder`] / [`endpoint`]: a tonic server or client endpoint with Cambium's
//!   transport defaults (keepalive that tolerates client pings every two minutes, TCP_NODELAY).
//! - [`PeerVerifier`]: checks, after the handshake, that a client's certificate chain leads to a
//!   narrower set of roots than the listener trusts (e.g. only the orderer organisations' TLS
//!   CAs for orderer-to-orderer traffic on a listener shared with clients).
//!
//! - [`TlsTrust`] / [`DynamicServerTls`]: client CAs that change at run time (the YAML's ∪ the
//!   TLS CAs of every channel the node serves, refreshed on each config block) and a TLS
//!   listener for tonic that checks each handshake against them (see [`trust`]).
//!
//! Message size limits are per gRPC service in tonic; services use [`MAX_MESSAGE_SIZE`].

mod error;
pub mod trust;

use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use rustls::pki_types::pem::PemObject;
use rustls::pki_types::{PrivateKeyDer, UnixTime};
use rustls::server::danger::ClientCertVerifier;
use rustls::server::WebPkiClientVerifier;
use rustls::RootCertStore;
use tonic::transport::{Certificate, Endpoint, Identity};

pub use error::{Result, TlsError};
/// A DER certificate as rustls and tonic (`Request::peer_certs`) hand them out.
pub use rustls::pki_types::CertificateDer;
/// tonic's TLS settings types, re-exported so callers need not name tonic's paths.
pub use tonic::transport::{ClientTlsConfig, ServerTlsConfig};
pub use trust::{DynamicServerTls, ServerTlsStream, TlsIncoming, TlsTrust, HANDSHAKE_TIMEOUT};

/// Largest gRPC message a Cambium service accepts or sends (100 MiB, as Fabric's default).
pub const MAX_MESSAGE_SIZE: usize = 100 * 1024 * 1024;

/// Interval of the HTTP/2 keepalive pings a Cambium client sends (Caliper's
/// `keepalive_time_ms`, two minutes).
pub const KEEPALIVE_INTERVAL: Duration = Duration::from_secs(120);

/// How long a client waits for a keepalive ping's answer before dropping the connection.
pub const KEEPALIVE_TIMEOUT: Duration = Duration::from_secs(20);

/// How long a client waits for the TCP connection and TLS handshake.
pub const CONNECT_TIMEOUT: Duration = Duration::from_secs(5);

/// The ALPN protocol identifier of HTTP/2, which TLS servers and clients here negotiate.
pub const ALPN_H2: &[u8] = b"h2";

/// A TLS certificate chain and its private key, both PEM, checked to match.
#[derive(Clone)]
pub struct TlsIdentity {
    cert_pem: Vec<u8>,
    key_pem: Vec<u8>,
    chain: Vec<CertificateDer<'static>>,
}

impl std::fmt::Debug for TlsIdentity {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print the key.
        f.debug_struct("TlsIdentity")
            .field("certificates", &self.chain.len())
            .finish_non_exhaustive()
    }
}

impl TlsIdentity {
    /// An identity from PEM bytes: `cert_pem` holds the leaf certificate first (intermediates
    /// may follow), `key_pem` its private key (PKCS#8, SEC1 or PKCS#1). `cert_source` and
    /// `key_source` name where the bytes came from, for error messages.
    pub fn from_pem(
        cert_pem: &[u8],
        key_pem: &[u8],
        cert_source: &str,
        key_source: &str,
    ) -> Result<TlsIdentity> {
        let chain = parse_certs(cert_pem, cert_source)?;
        let key = PrivateKeyDer::from_pem_slice(key_pem).map_err(|e| TlsError::BadKey {
            source_name: key_source.to_string(),
            reason: e.to_string(),
        })?;
        let signing_key =
            rustls::crypto::ring::sign::any_supported_type(&key).map_err(|e| TlsError::BadKey {
                source_name: key_source.to_string(),
                reason: format!(
                    "unsupported key type ({e}); use an ECDSA P-256/P-384, Ed25519 or RSA key"
                ),
            })?;
        rustls::sign::CertifiedKey::new(chain.clone(), signing_key)
            .keys_match()
            .map_err(|e| TlsError::KeyMismatch {
                cert: cert_source.to_string(),
                key: key_source.to_string(),
                reason: e.to_string(),
            })?;
        Ok(TlsIdentity {
            cert_pem: cert_pem.to_vec(),
            key_pem: key_pem.to_vec(),
            chain,
        })
    }

    /// Reads an identity from a certificate file and a key file (e.g. cryptogen's
    /// `tls/server.crt` and `tls/server.key`).
    pub fn load(cert: &Path, key: &Path) -> Result<TlsIdentity> {
        let cert_pem = read(cert)?;
        let key_pem = read(key)?;
        Self::from_pem(
            &cert_pem,
            &key_pem,
            &cert.display().to_string(),
            &key.display().to_string(),
        )
    }

    /// Reads `server.crt`/`server.key` (or, if absent, `client.crt`/`client.key`) from a
    /// cryptogen `tls/` folder.
    pub fn load_dir(tls_dir: &Path) -> Result<TlsIdentity> {
        for (cert, key) in [("server.crt", "server.key"), ("client.crt", "client.key")] {
            let (cert, key) = (tls_dir.join(cert), tls_dir.join(key));
            if cert.exists() {
                return Self::load(&cert, &key);
            }
        }
        Err(TlsError::Read {
            path: tls_dir.join("server.crt"),
            reason: "neither server.crt nor client.crt exists in this folder".into(),
        })
    }

    /// The certificate chain as PEM.
    pub fn cert_pem(&self) -> &[u8] {
        &self.cert_pem
    }

    /// The leaf certificate, DER.
    pub fn leaf_der(&self) -> &[u8] {
        self.chain[0].as_ref()
    }

    /// The certificate chain, leaf first, DER.
    pub(crate) fn chain(&self) -> &[CertificateDer<'static>] {
        &self.chain
    }

    /// The private key, DER (checked at load time).
    pub(crate) fn key_der(&self) -> Result<PrivateKeyDer<'static>> {
        PrivateKeyDer::from_pem_slice(&self.key_pem).map_err(|e| TlsError::BadKey {
            source_name: "the TLS identity".into(),
            reason: e.to_string(),
        })
    }

    /// The identity in tonic's form, for [`ServerTlsConfig`] or [`ClientTlsConfig`].
    pub fn to_tonic(&self) -> Identity {
        Identity::from_pem(&self.cert_pem, &self.key_pem)
    }
}

/// A set of trusted CA certificates (roots, and intermediates treated as anchors as Fabric
/// does), kept as DER, without duplicates, in insertion order.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsRoots {
    certs: Vec<CertificateDer<'static>>,
}

impl TlsRoots {
    /// An empty set.
    pub fn new() -> TlsRoots {
        TlsRoots::default()
    }

    /// The certificates in `pem` (one or several); `source` names their origin in errors.
    pub fn from_pem(pem: &[u8], source: &str) -> Result<TlsRoots> {
        let mut roots = TlsRoots::new();
        roots.add_pem(pem, source)?;
        Ok(roots)
    }

    /// Reads every file in `paths`; a folder contributes every file in it (like
    /// `msp/tlscacerts/`), in name order.
    pub fn load(paths: &[PathBuf]) -> Result<TlsRoots> {
        let mut roots = TlsRoots::new();
        for path in paths {
            roots.add_path(path)?;
        }
        Ok(roots)
    }

    /// The TLS root and intermediate CAs of the given MSPs (e.g. every organisation of a
    /// channel, or only its orderer organisations).
    pub fn from_msp_configs<'a>(
        configs: impl IntoIterator<Item = &'a cambium_msp::MspConfig>,
    ) -> Result<TlsRoots> {
        let mut roots = TlsRoots::new();
        for config in configs {
            for (i, pem) in config
                .tls_root_certs
                .iter()
                .chain(&config.tls_intermediate_certs)
                .enumerate()
            {
                let source = format!("TLS CA certificate #{} of MSP {}", i + 1, config.name);
                roots.add_pem_or_der(pem, &source)?;
            }
        }
        Ok(roots)
    }

    /// Adds the certificates in `pem`.
    pub fn add_pem(&mut self, pem: &[u8], source: &str) -> Result<()> {
        for cert in parse_certs(pem, source)? {
            self.push(cert);
        }
        Ok(())
    }

    /// Adds a certificate given as PEM (one or several) or as a single DER certificate.
    pub fn add_pem_or_der(&mut self, bytes: &[u8], source: &str) -> Result<()> {
        if bytes.starts_with(b"-----") || bytes.iter().take(64).all(|b| b.is_ascii()) {
            self.add_pem(bytes, source)
        } else {
            let der = CertificateDer::from(bytes.to_vec());
            check_der(&der, source)?;
            self.push(der);
            Ok(())
        }
    }

    /// Adds a PEM file, or every file of a folder.
    pub fn add_path(&mut self, path: &Path) -> Result<()> {
        if path.is_dir() {
            let mut files: Vec<PathBuf> = std::fs::read_dir(path)
                .map_err(|e| TlsError::Read {
                    path: path.to_path_buf(),
                    reason: e.to_string(),
                })?
                .filter_map(|e| e.ok().map(|e| e.path()))
                .filter(|p| p.is_file())
                .collect();
            files.sort();
            if files.is_empty() {
                return Err(TlsError::Read {
                    path: path.to_path_buf(),
                    reason: "the folder holds no certificate files".into(),
                });
            }
            for file in files {
                self.add_pem(&read(&file)?, &file.display().to_string())?;
            }
            Ok(())
        } else {
            self.add_pem(&read(path)?, &path.display().to_string())
        }
    }

    /// Adds every certificate of `other`.
    pub fn extend(&mut self, other: &TlsRoots) {
        for cert in &other.certs {
            self.push(cert.clone());
        }
    }

    /// Number of certificates.
    pub fn len(&self) -> usize {
        self.certs.len()
    }

    /// Whether the set is empty.
    pub fn is_empty(&self) -> bool {
        self.certs.is_empty()
    }

    /// The certificates, DER.
    pub fn der(&self) -> impl Iterator<Item = &[u8]> {
        self.certs.iter().map(|c| c.as_ref())
    }

    /// All certificates as one PEM bundle.
    pub fn to_pem(&self) -> Vec<u8> {
        let mut out = Vec::new();
        for cert in &self.certs {
            out.extend_from_slice(b"-----BEGIN CERTIFICATE-----\n");
            let b64 = base64_encode(cert.as_ref());
            for line in b64.as_bytes().chunks(64) {
                out.extend_from_slice(line);
                out.push(b'\n');
            }
            out.extend_from_slice(b"-----END CERTIFICATE-----\n");
        }
        out
    }

    /// The set as one tonic [`Certificate`] (a PEM bundle).
    pub fn to_tonic(&self) -> Certificate {
        Certificate::from_pem(self.to_pem())
    }

    fn push(&mut self, cert: CertificateDer<'static>) {
        if !self.certs.contains(&cert) {
            self.certs.push(cert);
        }
    }

    fn store(&self) -> Result<RootCertStore> {
        let mut store = RootCertStore::empty();
        for cert in &self.certs {
            store
                .add(cert.clone())
                .map_err(|e| TlsError::BadCertificate {
                    source_name: "trusted CA set".into(),
                    reason: format!("a CA certificate is not usable as a trust anchor: {e}"),
                })?;
        }
        Ok(store)
    }
}

/// Whether and how a TLS server asks clients for certificates.
#[derive(Clone, Debug, Default)]
pub enum ClientAuth {
    /// Server-only TLS: clients are not asked for a certificate.
    #[default]
    None,
    /// Clients may present a certificate; if they do, it must chain to these roots. Clients
    /// without one are served too (Fabric's `clientAuthRequired: false`).
    Optional(TlsRoots),
    /// Every client must present a certificate chaining to these roots.
    Required(TlsRoots),
}

/// tonic server TLS settings: `identity` as the server certificate, client certificates as
/// `client_auth` says. ALPN `h2` is negotiated.
pub fn server_tls_config(
    identity: &TlsIdentity,
    client_auth: &ClientAuth,
) -> Result<ServerTlsConfig> {
    let config = ServerTlsConfig::new().identity(identity.to_tonic());
    Ok(match client_auth {
        ClientAuth::None => config,
        ClientAuth::Optional(roots) | ClientAuth::Required(roots) => {
            if roots.is_empty() {
                return Err(TlsError::NoRoots {
                    what: "client certificate verification".into(),
                });
            }
            config
                .client_ca_root(roots.to_tonic())
                .client_auth_optional(matches!(client_auth, ClientAuth::Optional(_)))
        }
    })
}

/// tonic client TLS settings: trust `roots`, present `identity` for mutual TLS if given, and
/// check the server's certificate against `server_name` instead of the address's host if given
/// (Fabric's `ssl-target-name-override`).
pub fn client_tls_config(
    roots: &TlsRoots,
    identity: Option<&TlsIdentity>,
    server_name: Option<&str>,
) -> Result<ClientTlsConfig> {
    if roots.is_empty() {
        return Err(TlsError::NoRoots {
            what: "server certificate verification".into(),
        });
    }
    let mut config = ClientTlsConfig::new().ca_certificate(roots.to_tonic());
    if let Some(identity) = identity {
        config = config.identity(identity.to_tonic());
    }
    if let Some(name) = server_name {
        config = config.domain_name(name);
    }
    Ok(config)
}

/// A client endpoint for `addr` (`host:port`, or a URL with `http://`/`https://`/`grpc://`/
/// `grpcs://`): `https` with `tls` when given, plain `http` otherwise; connect timeout, TCP_NODELAY
/// and HTTP/2 keepalive pings every [`KEEPALIVE_INTERVAL`] even while idle.
pub fn endpoint(addr: &str, tls: Option<&ClientTlsConfig>) -> Result<Endpoint> {
    let host_port = ["http://", "https://", "grpc://", "grpcs://"]
        .iter()
        .find_map(|scheme| addr.strip_prefix(scheme))
        .unwrap_or(addr);
    let scheme = if tls.is_some() { "https" } else { "http" };
    let mut endpoint = Endpoint::from_shared(format!("{scheme}://{host_port}"))
        .map_err(|e| TlsError::BadAddress {
            addr: addr.to_string(),
            reason: e.to_string(),
        })?
        .connect_timeout(CONNECT_TIMEOUT)
        .tcp_nodelay(true)
        .http2_keep_alive_interval(KEEPALIVE_INTERVAL)
        .keep_alive_timeout(KEEPALIVE_TIMEOUT)
        .keep_alive_while_idle(true);
    if let Some(tls) = tls {
        endpoint = endpoint
            .tls_config(tls.clone())
            .map_err(|e| TlsError::BadAddress {
                addr: addr.to_string(),
                reason: format!("TLS settings refused: {e}"),
            })?;
    }
    Ok(endpoint)
}

/// A tonic server builder with Cambium's transport defaults and `tls` if given.
///
/// Keepalive: the server answers every HTTP/2 PING (hyper/h2 do not police ping rates, so a
/// client pinging every two minutes without active calls — Caliper's setting — is never sent
/// `GOAWAY`), closes no connection for being idle, and itself pings idle clients every
/// [`KEEPALIVE_INTERVAL`] to notice dead ones.
pub fn server_builder(tls: Option<ServerTlsConfig>) -> Result<tonic::transport::Server> {
    let builder = tonic::transport::Server::builder()
        .tcp_nodelay(true)
        .http2_keepalive_interval(Some(KEEPALIVE_INTERVAL))
        .http2_keepalive_timeout(Some(KEEPALIVE_TIMEOUT));
    match tls {
        Some(tls) => builder.tls_config(tls).map_err(|e| TlsError::Config {
            reason: e.to_string(),
        }),
        None => Ok(builder),
    }
}

/// Checks a peer's certificate chain (leaf first, as tonic's `Request::peer_certs` gives it)
/// against a set of roots, for client authentication decided after the handshake.
#[derive(Clone)]
pub struct PeerVerifier {
    verifier: Arc<dyn ClientCertVerifier>,
}

impl std::fmt::Debug for PeerVerifier {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PeerVerifier").finish_non_exhaustive()
    }
}

impl PeerVerifier {
    /// A verifier that accepts chains leading to `roots`, for client authentication (the leaf
    /// must allow `clientAuth` if it lists extended key usages).
    pub fn new(roots: &TlsRoots) -> Result<PeerVerifier> {
        if roots.is_empty() {
            return Err(TlsError::NoRoots {
                what: "peer certificate verification".into(),
            });
        }
        let verifier = WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots.store()?),
            Arc::new(rustls::crypto::ring::default_provider()),
        )
        .build()
        .map_err(|e| TlsError::Config {
            reason: format!("building the peer verifier: {e}"),
        })?;
        Ok(PeerVerifier { verifier })
    }

    /// Accepts `chain` (leaf first) if it leads to one of the roots and is valid now.
    pub fn verify(&self, chain: &[CertificateDer<'_>]) -> Result<()> {
        let (leaf, intermediates) = chain.split_first().ok_or_else(|| TlsError::Untrusted {
            reason:
                "the peer presented no certificate; connect with mutual TLS (a client certificate)"
                    .into(),
        })?;
        self.verifier
            .verify_client_cert(leaf, intermediates, UnixTime::now())
            .map(|_| ())
            .map_err(|e| TlsError::Untrusted {
                reason: format!("the peer's certificate is not issued by a trusted CA: {e}"),
            })
    }
}

fn read(path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|e| TlsError::Read {
        path: path.to_path_buf(),
        reason: e.to_string(),
    })
}

fn parse_certs(pem: &[u8], source: &str) -> Result<Vec<CertificateDer<'static>>> {
    let certs = CertificateDer::pem_slice_iter(pem)
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(|e| TlsError::BadCertificate {
            source_name: source.to_string(),
            reason: format!("not valid PEM: {e}"),
        })?;
    if certs.is_empty() {
        return Err(TlsError::BadCertificate {
            source_name: source.to_string(),
            reason: "no '-----BEGIN CERTIFICATE-----' block found".into(),
        });
    }
    for cert in &certs {
        check_der(cert, source)?;
    }
    Ok(certs)
}

/// Rejects bytes that are not an X.509 certificate, so a bad file fails at load time rather
/// than at the first handshake.
fn check_der(cert: &CertificateDer<'_>, source: &str) -> Result<()> {
    cambium_msp::Certificate::from_der(cert.as_ref().to_vec(), source)
        .map(|_| ())
        .map_err(|e| TlsError::BadCertificate {
            source_name: source.to_string(),
            reason: format!("not an X.509 certificate: {e}"),
        })
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::with_capacity(bytes.len().div_ceil(3) * 4);
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            *chunk.get(1).unwrap_or(&0),
            *chunk.get(2).unwrap_or(&0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(ALPHABET[(n >> (18 - 6 * i)) as usize & 63] as char);
            } else {
                out.push('=');
            }
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_matches_known_vectors() {
        for (input, expected) in [
            (&b""[..], ""),
            (b"f", "Zg=="),
            (b"fo", "Zm8="),
            (b"foo", "Zm9v"),
            (b"foobar", "Zm9vYmFy"),
        ] {
            assert_eq!(base64_encode(input), expected);
        }
    }

    #[test]
    fn garbage_is_not_a_certificate() {
        let err = TlsRoots::from_pem(b"hello", "ca.pem")
            .unwrap_err()
            .to_string();
        assert!(err.contains("ca.pem"), "{err}");
        assert!(err.contains("BEGIN CERTIFICATE"), "{err}");
    }

    #[test]
    fn endpoint_scheme_follows_tls() {
        let plain = endpoint("127.0.0.1:7050", None).unwrap();
        assert_eq!(plain.uri().scheme_str(), Some("http"));
        let from_url = endpoint("grpcs://127.0.0.1:7050", None).unwrap();
        assert_eq!(from_url.uri().to_string(), "http://127.0.0.1:7050/");
        let tls = ClientTlsConfig::new();
        let secure = endpoint("127.0.0.1:7050", Some(&tls)).unwrap();
        assert_eq!(secure.uri().scheme_str(), Some("https"));
        assert!(endpoint("not an address", None).is_err());
    }
}
