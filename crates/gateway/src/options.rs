//! [`GatewayOptions`]: timeouts, the concurrency limit and TLS for the connections the
//! gateway opens to other peers and to orderers.

use std::time::Duration;

/// Fabric's `peer.gateway.endorsementTimeout` in the sample `core.yaml`.
pub const DEFAULT_ENDORSEMENT_TIMEOUT: Duration = Duration::from_secs(30);
/// Fabric's `peer.gateway.broadcastTimeout` in the sample `core.yaml`.
pub const DEFAULT_BROADCAST_TIMEOUT: Duration = Duration::from_secs(30);
/// Fabric's `peer.gateway.dialTimeout` in the sample `core.yaml`.
pub const DEFAULT_DIAL_TIMEOUT: Duration = Duration::from_secs(120);
/// Fabric's `peer.limits.concurrency.gatewayService`.
pub const DEFAULT_CONCURRENCY_LIMIT: usize = 500;
/// How many Broadcast streams the gateway keeps open per orderer; submissions are pipelined
/// on them, so a few streams carry many concurrent submitters.
pub const DEFAULT_BROADCAST_STREAMS: usize = 4;

/// TLS for the gateway's outgoing connections (to other peers' endorsers and to orderers).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct TlsClientOptions {
    /// Extra PEM root CA certificates to trust, on top of the TLS root CAs the channel
    /// configuration lists for the organisation being dialled.
    pub root_cas_pem: Vec<Vec<u8>>,
    /// The peer's own TLS certificate and key (PEM), presented for mutual TLS.
    pub client_identity: Option<ClientIdentity>,
}

/// A PEM certificate chain and its PEM private key.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The certificate (chain), PEM.
    pub cert_pem: Vec<u8>,
    /// The private key, PEM.
    pub key_pem: Vec<u8>,
}

/// How the gateway behaves; [`GatewayOptions::default`] has Fabric's defaults and plain-text
/// connections.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct GatewayOptions {
    /// How long collecting endorsements (or evaluating) may take before the call fails with
    /// DeadlineExceeded.
    pub endorsement_timeout: Duration,
    /// How long one Broadcast to an orderer may take before the gateway tries the next one.
    pub broadcast_timeout: Duration,
    /// How long dialling another peer or an orderer may take.
    pub dial_timeout: Duration,
    /// How many gateway calls may run at once; one more fails at once, as Fabric's limiter
    /// does (long-polling CommitStatus calls and event streams hold a slot while they run).
    pub concurrency_limit: usize,
    /// Broadcast streams kept open per orderer.
    pub broadcast_streams: usize,
    /// The address this peer is reached at (`host:port`), reported in error details for the
    /// local endorser and skipped among its organisation's anchor peers.
    pub local_address: String,
    /// TLS for outgoing connections; `None` dials plain-text HTTP/2.
    pub tls: Option<TlsClientOptions>,
}

impl Default for GatewayOptions {
    fn default() -> Self {
        GatewayOptions {
            endorsement_timeout: DEFAULT_ENDORSEMENT_TIMEOUT,
            broadcast_timeout: DEFAULT_BROADCAST_TIMEOUT,
            dial_timeout: DEFAULT_DIAL_TIMEOUT,
            concurrency_limit: DEFAULT_CONCURRENCY_LIMIT,
            broadcast_streams: DEFAULT_BROADCAST_STREAMS,
            local_address: String::new(),
            tls: None,
        }
    }
}
