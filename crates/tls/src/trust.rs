//! Client-certificate trust that changes while a server runs, as Fabric's nodes trust the TLS
//! CAs of every organisation of every channel they serve, refreshed on each config block.
//!
//! - [`TlsTrust`]: a cheap-to-clone handle on the trusted client CAs: a fixed base (the CAs
//!   listed in the node's YAML) ∪ one set per channel, replaced with
//!   [`TlsTrust::set_channel_roots`] and dropped with [`TlsTrust::remove_channel`].
//! - [`DynamicServerTls`]: the server side of a listener whose client CAs follow a
//!   [`TlsTrust`]: a rustls [`ServerConfig`] (ALPN `h2`, the node's identity, a
//!   `WebPkiClientVerifier` over the current roots) rebuilt when the trust changes, and
//!   [`DynamicServerTls::incoming`], which turns a stream of accepted TCP connections into a
//!   stream of TLS connections for tonic's `Server::serve_with_incoming`.
//!
//! tonic's `ServerTlsConfig` takes fixed roots only, so a node that must trust a new
//! organisation without a restart terminates TLS itself. Each connection is checked against
//! the roots in force when its handshake starts; connections already established stay up.
//! A new configuration also starts a new session cache, so a session resumed after a CA was
//! removed is not accepted on the strength of the old verification.

use std::collections::BTreeMap;
use std::pin::Pin;
use std::sync::{Arc, RwLock};
use std::task::{Context, Poll};
use std::time::Duration;

use rustls::server::danger::{ClientCertVerified, ClientCertVerifier};
use rustls::server::WebPkiClientVerifier;
use rustls::{DigitallySignedStruct, DistinguishedName, ServerConfig, SignatureScheme};
use tokio::net::TcpStream;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;
use tokio_stream::Stream;

use crate::{Result, TlsError, TlsIdentity, TlsRoots, ALPN_H2};
use rustls::pki_types::{CertificateDer, PrivateKeyDer, UnixTime};

/// A TLS connection accepted by [`DynamicServerTls::incoming`]; tonic reads the client's
/// certificates from it (`Request::peer_certs`).
pub type ServerTlsStream = tokio_rustls::server::TlsStream<TcpStream>;

/// How long a client may take to complete the TLS handshake before its connection is dropped.
pub const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// The trusted client CAs at one moment, and the verifier built from them.
struct TrustState {
    channels: BTreeMap<String, TlsRoots>,
    roots: TlsRoots,
    verifier: Arc<dyn ClientCertVerifier>,
}

struct TrustInner {
    base: TlsRoots,
    required: bool,
    state: RwLock<Arc<TrustState>>,
}

/// The client CAs a TLS listener trusts: a fixed base ∪ the TLS root and intermediate CAs of
/// each channel the node serves. Cheap to clone; every clone sees every change.
#[derive(Clone)]
pub struct TlsTrust {
    inner: Arc<TrustInner>,
}

impl std::fmt::Debug for TlsTrust {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let state = self.state();
        f.debug_struct("TlsTrust")
            .field("required", &self.inner.required)
            .field("base", &self.inner.base.len())
            .field("channels", &state.channels.keys().collect::<Vec<_>>())
            .field("roots", &state.roots.len())
            .finish()
    }
}

impl TlsTrust {
    /// Trust starting with `base` (e.g. the YAML's client root CAs, possibly empty) and no
    /// channel. With `required`, clients without a certificate are refused (Fabric's
    /// `clientAuthRequired`); otherwise they are served, and a client that presents a
    /// certificate must chain to a trusted CA. While no CA at all is trusted, an optional
    /// listener asks for no certificate and a required one refuses every client.
    pub fn new(base: TlsRoots, required: bool) -> Result<TlsTrust> {
        let state = build_state(&base, BTreeMap::new(), required)?;
        Ok(TlsTrust {
            inner: Arc::new(TrustInner {
                base,
                required,
                state: RwLock::new(Arc::new(state)),
            }),
        })
    }

    /// Makes `roots` the CAs channel `channel` contributes (replacing what it contributed
    /// before; an empty set contributes nothing). New handshakes use the result. Returns
    /// whether the trusted set changed. On error (a CA rustls cannot use as a trust anchor)
    /// the previous trust stays in force.
    pub fn set_channel_roots(&self, channel: &str, roots: TlsRoots) -> Result<bool> {
        self.update(|channels| {
            if channels.get(channel) == Some(&roots) {
                return false;
            }
            channels.insert(channel.to_owned(), roots);
            true
        })
    }

    /// Stops trusting what `channel` contributed (the node left the channel); CAs the base or
    /// another channel also lists stay trusted. Returns whether the trusted set changed.
    pub fn remove_channel(&self, channel: &str) -> Result<bool> {
        self.update(|channels| channels.remove(channel).is_some())
    }

    /// Every CA trusted now: the base, then each channel's in channel-name order.
    pub fn roots(&self) -> TlsRoots {
        self.state().roots.clone()
    }

    /// The channels contributing CAs, in name order.
    pub fn channels(&self) -> Vec<String> {
        self.state().channels.keys().cloned().collect()
    }

    /// Whether clients must present a certificate.
    pub fn required(&self) -> bool {
        self.inner.required
    }

    /// The client-certificate verifier in force now.
    pub fn verifier(&self) -> Arc<dyn ClientCertVerifier> {
        Arc::clone(&self.state().verifier)
    }

    fn state(&self) -> Arc<TrustState> {
        Arc::clone(
            &self
                .inner
                .state
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner),
        )
    }

    fn update(&self, change: impl FnOnce(&mut BTreeMap<String, TlsRoots>) -> bool) -> Result<bool> {
        let mut guard = self
            .inner
            .state
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let mut channels = guard.channels.clone();
        if !change(&mut channels) {
            return Ok(false);
        }
        let before = guard.roots.clone();
        let next = build_state(&self.inner.base, channels, self.inner.required)?;
        let changed = next.roots != before;
        *guard = Arc::new(next);
        Ok(changed)
    }
}

fn build_state(
    base: &TlsRoots,
    channels: BTreeMap<String, TlsRoots>,
    required: bool,
) -> Result<TrustState> {
    let mut roots = base.clone();
    for channel_roots in channels.values() {
        roots.extend(channel_roots);
    }
    let verifier: Arc<dyn ClientCertVerifier> = if roots.is_empty() {
        if required {
            Arc::new(RefuseEveryClient::new())
        } else {
            WebPkiClientVerifier::no_client_auth()
        }
    } else {
        let builder = WebPkiClientVerifier::builder_with_provider(
            Arc::new(roots.store()?),
            Arc::new(rustls::crypto::ring::default_provider()),
        );
        let builder = if required {
            builder
        } else {
            builder.allow_unauthenticated()
        };
        builder.build().map_err(|e| TlsError::Config {
            reason: format!("building the client certificate verifier: {e}"),
        })?
    };
    Ok(TrustState {
        channels,
        roots,
        verifier,
    })
}

/// Asks for a client certificate and refuses every one: a listener that requires client
/// certificates while it trusts no CA.
#[derive(Debug)]
struct RefuseEveryClient {
    schemes: Vec<SignatureScheme>,
}

impl RefuseEveryClient {
    fn new() -> RefuseEveryClient {
        RefuseEveryClient {
            schemes: rustls::crypto::ring::default_provider()
                .signature_verification_algorithms
                .supported_schemes(),
        }
    }
}

impl ClientCertVerifier for RefuseEveryClient {
    fn root_hint_subjects(&self) -> &[DistinguishedName] {
        &[]
    }

    fn verify_client_cert(
        &self,
        _end_entity: &CertificateDer<'_>,
        _intermediates: &[CertificateDer<'_>],
        _now: UnixTime,
    ) -> std::result::Result<ClientCertVerified, rustls::Error> {
        Err(rustls::Error::General(
            "this node trusts no client TLS CA yet; list client root CAs in its configuration or join it to a channel"
                .into(),
        ))
    }

    fn verify_tls12_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("no client is trusted".into()))
    }

    fn verify_tls13_signature(
        &self,
        _message: &[u8],
        _cert: &CertificateDer<'_>,
        _dss: &DigitallySignedStruct,
    ) -> std::result::Result<rustls::client::danger::HandshakeSignatureValid, rustls::Error> {
        Err(rustls::Error::General("no client is trusted".into()))
    }

    fn supported_verify_schemes(&self) -> Vec<SignatureScheme> {
        self.schemes.clone()
    }
}

/// A built server configuration and the trust state it was built from.
struct Built {
    from: Arc<TrustState>,
    config: Arc<ServerConfig>,
}

struct ServerInner {
    identity: TlsIdentity,
    trust: TlsTrust,
    built: RwLock<Built>,
}

/// Server TLS whose trusted client CAs follow a [`TlsTrust`]. Cheap to clone.
#[derive(Clone)]
pub struct DynamicServerTls {
    inner: Arc<ServerInner>,
}

impl std::fmt::Debug for DynamicServerTls {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DynamicServerTls")
            .field("identity", &self.inner.identity)
            .field("trust", &self.inner.trust)
            .finish()
    }
}

impl DynamicServerTls {
    /// Serves `identity` and checks client certificates against `trust` as it is at each
    /// handshake.
    pub fn new(identity: &TlsIdentity, trust: TlsTrust) -> Result<DynamicServerTls> {
        let from = trust.state();
        let config = build_config(identity, &from)?;
        Ok(DynamicServerTls {
            inner: Arc::new(ServerInner {
                identity: identity.clone(),
                trust,
                built: RwLock::new(Built { from, config }),
            }),
        })
    }

    /// The trust this server follows.
    pub fn trust(&self) -> &TlsTrust {
        &self.inner.trust
    }

    /// The rustls configuration for a handshake starting now (rebuilt once after each change
    /// of the trust).
    pub fn server_config(&self) -> Result<Arc<ServerConfig>> {
        let current = self.inner.trust.state();
        {
            let built = self
                .inner
                .built
                .read()
                .unwrap_or_else(std::sync::PoisonError::into_inner);
            if Arc::ptr_eq(&built.from, &current) {
                return Ok(Arc::clone(&built.config));
            }
        }
        let config = build_config(&self.inner.identity, &current)?;
        let mut built = self
            .inner
            .built
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        *built = Built {
            from: current,
            config: Arc::clone(&config),
        };
        Ok(config)
    }

    /// TLS connections from `tcp`, a stream of accepted TCP connections (e.g. tonic's
    /// `TcpIncoming` with TCP_NODELAY set): each handshake runs on its own task, with
    /// [`HANDSHAKE_TIMEOUT`]; a failed handshake is logged and skipped. Hand the result to
    /// tonic's `Server::serve_with_incoming` / `serve_with_incoming_shutdown` (of a builder
    /// without `tls_config`, e.g. [`crate::server_builder`]`(None)`).
    pub fn incoming<S, E>(&self, tcp: S) -> TlsIncoming<S>
    where
        S: Stream<Item = std::result::Result<TcpStream, E>> + Send + 'static,
        E: std::fmt::Display,
    {
        TlsIncoming {
            tcp: Box::pin(tcp),
            tcp_done: false,
            server: self.clone(),
            handshakes: JoinSet::new(),
        }
    }
}

fn build_config(identity: &TlsIdentity, state: &TrustState) -> Result<Arc<ServerConfig>> {
    let key: PrivateKeyDer<'static> = identity.key_der()?;
    let mut config =
        ServerConfig::builder_with_provider(Arc::new(rustls::crypto::ring::default_provider()))
            .with_safe_default_protocol_versions()
            .map_err(|e| TlsError::Config {
                reason: e.to_string(),
            })?
            .with_client_cert_verifier(Arc::clone(&state.verifier))
            .with_single_cert(identity.chain().to_vec(), key)
            .map_err(|e| TlsError::Config {
                reason: format!("the server certificate and key: {e}"),
            })?;
    config.alpn_protocols = vec![ALPN_H2.to_vec()];
    Ok(Arc::new(config))
}

/// The stream [`DynamicServerTls::incoming`] returns. Dropping it aborts handshakes in
/// progress.
pub struct TlsIncoming<S> {
    tcp: Pin<Box<S>>,
    tcp_done: bool,
    server: DynamicServerTls,
    handshakes: JoinSet<Option<ServerTlsStream>>,
}

impl<S> std::fmt::Debug for TlsIncoming<S> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("TlsIncoming")
            .field("handshakes", &self.handshakes.len())
            .finish_non_exhaustive()
    }
}

async fn handshake(acceptor: TlsAcceptor, tcp: TcpStream) -> Option<ServerTlsStream> {
    let peer = tcp.peer_addr().ok();
    match tokio::time::timeout(HANDSHAKE_TIMEOUT, acceptor.accept(tcp)).await {
        Ok(Ok(tls)) => Some(tls),
        Ok(Err(e)) => {
            tracing::debug!(peer = ?peer, error = %e, "TLS handshake refused");
            None
        }
        Err(_) => {
            tracing::debug!(peer = ?peer, "TLS handshake timed out");
            None
        }
    }
}

impl<S, E> Stream for TlsIncoming<S>
where
    S: Stream<Item = std::result::Result<TcpStream, E>> + Send + 'static,
    E: std::fmt::Display,
{
    type Item = std::io::Result<ServerTlsStream>;

    fn poll_next(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<Option<Self::Item>> {
        let this = self.get_mut();
        while !this.tcp_done {
            match this.tcp.as_mut().poll_next(cx) {
                Poll::Ready(Some(Ok(tcp))) => match this.server.server_config() {
                    Ok(config) => {
                        this.handshakes
                            .spawn(handshake(TlsAcceptor::from(config), tcp));
                    }
                    Err(e) => {
                        tracing::error!(error = %e, "no usable TLS settings; connection dropped");
                    }
                },
                Poll::Ready(Some(Err(e))) => {
                    tracing::debug!(error = %e, "accepting a TCP connection failed");
                }
                Poll::Ready(None) => this.tcp_done = true,
                Poll::Pending => break,
            }
        }
        loop {
            match this.handshakes.poll_join_next(cx) {
                Poll::Ready(Some(Ok(Some(tls)))) => return Poll::Ready(Some(Ok(tls))),
                Poll::Ready(Some(Ok(None))) => {}
                Poll::Ready(Some(Err(e))) => {
                    tracing::debug!(error = %e, "a TLS handshake task ended abnormally");
                }
                Poll::Ready(None) => {
                    return if this.tcp_done {
                        Poll::Ready(None)
                    } else {
                        Poll::Pending
                    };
                }
                Poll::Pending => return Poll::Pending,
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    struct Material {
        _dir: tempfile::TempDir,
        net: cambium_cryptogen::GeneratedNetwork,
    }

    fn material() -> Material {
        let dir = tempfile::tempdir().unwrap();
        let net = cambium_testing::default_crypto(dir.path());
        Material { _dir: dir, net }
    }

    fn tls_ca(m: &Material, msp: &str) -> TlsRoots {
        TlsRoots::load(&[m.net.org(msp).unwrap().tls_ca.cert.clone()]).unwrap()
    }

    #[test]
    fn roots_are_the_base_then_each_channel_in_name_order() {
        let m = material();
        let trust = TlsTrust::new(tls_ca(&m, "OrdererMSP"), false).unwrap();
        assert!(trust
            .set_channel_roots("zeta", tls_ca(&m, "Org2MSP"))
            .unwrap());
        assert!(trust
            .set_channel_roots("alpha", tls_ca(&m, "Org1MSP"))
            .unwrap());
        let mut expected = tls_ca(&m, "OrdererMSP");
        expected.extend(&tls_ca(&m, "Org1MSP"));
        expected.extend(&tls_ca(&m, "Org2MSP"));
        assert_eq!(trust.roots(), expected);
        assert_eq!(trust.channels(), ["alpha", "zeta"]);
        // A CA two channels list stays trusted while either lists it.
        assert!(!trust
            .set_channel_roots("beta", tls_ca(&m, "Org1MSP"))
            .unwrap());
        assert!(!trust.remove_channel("alpha").unwrap());
        assert_eq!(trust.roots(), expected);
        assert!(trust.remove_channel("beta").unwrap());
        assert_eq!(trust.roots().len(), 2);
        // An empty set contributes nothing; the base always stays.
        assert!(trust.set_channel_roots("zeta", TlsRoots::new()).unwrap());
        assert_eq!(trust.roots(), tls_ca(&m, "OrdererMSP"));
    }

    #[test]
    fn the_server_config_is_rebuilt_only_when_the_trust_changes() {
        let m = material();
        let node = &m.net.org("Org1MSP").unwrap().nodes[0];
        let identity = TlsIdentity::load(&node.tls_cert, &node.tls_key).unwrap();
        let trust = TlsTrust::new(tls_ca(&m, "Org1MSP"), true).unwrap();
        let server = DynamicServerTls::new(&identity, trust.clone()).unwrap();
        let first = server.server_config().unwrap();
        assert_eq!(first.alpn_protocols, [ALPN_H2.to_vec()]);
        assert!(Arc::ptr_eq(&first, &server.server_config().unwrap()));
        trust
            .set_channel_roots("mychannel", tls_ca(&m, "Org2MSP"))
            .unwrap();
        let second = server.server_config().unwrap();
        assert!(!Arc::ptr_eq(&first, &second));
        assert!(Arc::ptr_eq(&second, &server.server_config().unwrap()));
        assert_eq!(server.trust().roots().len(), 2);
    }
}
