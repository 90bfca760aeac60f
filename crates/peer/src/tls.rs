//! TLS material: the server side of the peer's listener (client CAs from the configuration
//! and from every joined channel's current config) and the client side of its orderer
//! connections (mutual TLS with the peer's own TLS certificate).

use std::path::Path;

use cambium_channel::ChannelConfig;
use tonic::transport::ClientTlsConfig;

use crate::config::{PeerConfig, TlsSection};
use crate::error::{PeerNodeError, Result};

fn read(what: &'static str, path: &Path) -> Result<Vec<u8>> {
    std::fs::read(path).map_err(|source| PeerNodeError::ReadFile {
        what,
        path: path.to_path_buf(),
        source,
    })
}

fn pem_certificates(what: &'static str, path: &Path) -> Result<Vec<u8>> {
    let bytes = read(what, path)?;
    if !String::from_utf8_lossy(&bytes).contains("-----BEGIN CERTIFICATE-----") {
        return Err(PeerNodeError::Config(format!(
            "{} holds no PEM certificate ({what}); give the CA's PEM file",
            path.display()
        )));
    }
    Ok(bytes)
}

/// The listener's TLS settings, or `None` without TLS: the peer's certificate, ALPN `h2`
/// (which Node gRPC clients require) and client certificates checked against a
/// [`cambium_tls::TlsTrust`] that starts with `tls.clientRootCas` and gains each joined
/// channel's TLS CAs through [`trust_channel`], so a new organisation's clients and peers are
/// accepted as soon as the config block that adds it is applied, without a restart.
pub(crate) fn server_config(tls: &TlsSection) -> Result<Option<cambium_tls::DynamicServerTls>> {
    if !tls.enabled {
        return Ok(None);
    }
    let (Some(cert), Some(key)) = (&tls.cert, &tls.key) else {
        return Err(PeerNodeError::Config(
            "tls.enabled is true but tls.cert or tls.key is missing".to_owned(),
        ));
    };
    let tls_error = |e: cambium_tls::TlsError| PeerNodeError::Config(format!("TLS: {e}"));
    pem_certificates("the TLS certificate", cert)?;
    let identity = cambium_tls::TlsIdentity::load(cert, key).map_err(tls_error)?;
    for path in &tls.client_root_cas {
        pem_certificates("a client root CA", path)?;
    }
    let base = cambium_tls::TlsRoots::load(&tls.client_root_cas).map_err(tls_error)?;
    let trust = cambium_tls::TlsTrust::new(base, tls.client_auth_required).map_err(tls_error)?;
    Ok(Some(
        cambium_tls::DynamicServerTls::new(&identity, trust).map_err(tls_error)?,
    ))
}

/// Makes the listener trust the TLS root and intermediate CAs of every organisation in
/// `config`, the configuration channel `channel_id` has from now on (Fabric's peers do the
/// same on each config block). A CA that cannot be used is logged and the channel's previous
/// CAs stay trusted.
pub(crate) fn trust_channel(
    trust: Option<&cambium_tls::TlsTrust>,
    channel_id: &str,
    config: &ChannelConfig,
) {
    let Some(trust) = trust else {
        return;
    };
    let updated = cambium_tls::TlsRoots::from_msp_configs(config.msp_configs().iter())
        .and_then(|roots| trust.set_channel_roots(channel_id, roots));
    match updated {
        Ok(true) => tracing::info!(
            channel = channel_id,
            trusted_cas = trust.roots().len(),
            "the listener trusts the channel's TLS CAs as its configuration lists them"
        ),
        Ok(false) => {}
        Err(e) => tracing::error!(
            channel = channel_id,
            error = %e,
            "the channel's TLS CAs are unusable; the listener keeps trusting the previous ones"
        ),
    }
}

/// What the committer needs to reach orderers over TLS.
#[derive(Clone)]
pub(crate) struct OrdererTls {
    /// The peer's client certificate and key.
    identity: cambium_tls::TlsIdentity,
    /// CA certificates from `orderer.tlsRootCas`; empty: the channel's orderer TLS CAs.
    roots: cambium_tls::TlsRoots,
}

/// The orderer-side TLS settings, or `None` without TLS.
pub(crate) fn orderer_tls(config: &PeerConfig) -> Result<Option<OrdererTls>> {
    if !config.orderer.tls.unwrap_or(config.tls.enabled) {
        return Ok(None);
    }
    let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) else {
        return Err(PeerNodeError::Config(
            "orderer connections use TLS but the peer has no TLS certificate; set tls.enabled, tls.cert and tls.key (or orderer.tls: false)".to_owned(),
        ));
    };
    let tls_error = |e: cambium_tls::TlsError| PeerNodeError::Config(format!("TLS: {e}"));
    let identity = cambium_tls::TlsIdentity::load(cert, key).map_err(tls_error)?;
    let roots = if config.orderer.tls_root_cas.is_empty() {
        cambium_tls::TlsRoots::new()
    } else {
        cambium_tls::TlsRoots::load(&config.orderer.tls_root_cas).map_err(tls_error)?
    };
    Ok(Some(OrdererTls { identity, roots }))
}

impl OrdererTls {
    /// The client TLS settings for `channel`'s orderers: the configured roots, else the TLS
    /// root and intermediate CAs of the channel's orderer organisations.
    pub(crate) fn client_config(
        &self,
        channel: &ChannelConfig,
    ) -> std::result::Result<ClientTlsConfig, String> {
        let roots = if self.roots.is_empty() {
            let orderer_msps: Vec<String> = channel
                .orderer_orgs()
                .into_iter()
                .map(|o| o.msp_id)
                .collect();
            cambium_tls::TlsRoots::from_msp_configs(
                channel
                    .msp_configs()
                    .iter()
                    .filter(|m| orderer_msps.contains(&m.name)),
            )
            .map_err(|e| format!("the channel's orderer TLS CAs: {e}"))?
        } else {
            self.roots.clone()
        };
        if roots.is_empty() {
            return Err(format!(
                "channel '{}' lists no TLS CA for its orderer organisations; set orderer.tlsRootCas in the peer configuration",
                channel.channel_id()
            ));
        }
        cambium_tls::client_tls_config(&roots, Some(&self.identity), None)
            .map_err(|e| format!("client TLS settings: {e}"))
    }
}

/// TLS for the Gateway's outgoing connections: the peer's TLS certificate as its client
/// identity and the configured orderer roots as extra trust (the channel's TLS CAs are always
/// trusted), or `None` without TLS.
pub(crate) fn gateway_client(
    config: &PeerConfig,
) -> Result<Option<cambium_gateway::TlsClientOptions>> {
    if !config.tls.enabled {
        return Ok(None);
    }
    let (Some(cert), Some(key)) = (&config.tls.cert, &config.tls.key) else {
        return Err(PeerNodeError::Config(
            "tls.enabled is true but tls.cert or tls.key is missing".to_owned(),
        ));
    };
    let root_cas_pem = config
        .orderer
        .tls_root_cas
        .iter()
        .map(|p| pem_certificates("an orderer TLS root CA", p))
        .collect::<Result<Vec<_>>>()?;
    Ok(Some(cambium_gateway::TlsClientOptions {
        root_cas_pem,
        client_identity: Some(cambium_gateway::ClientIdentity {
            cert_pem: pem_certificates("the TLS certificate", cert)?,
            key_pem: read("the TLS private key", key)?,
        }),
    }))
}
