//! Outgoing gRPC connections to other peers and to orderers, with TLS from the channel
//! configuration and a cache so each address is dialled once.
//!
//! A connection is a lazily connecting [`Channel`]: tonic dials on first use and reconnects
//! after failures, so a cached channel stays usable when the remote node restarts.

use std::collections::BTreeMap;
use std::sync::Mutex;

use tonic::transport::{Certificate, Channel, ClientTlsConfig, Endpoint, Identity};

use crate::error::{GatewayError, Result};
use crate::options::GatewayOptions;

/// Largest message the gateway sends or accepts on its outgoing connections (Fabric's 100 MB).
pub const MAX_MESSAGE_SIZE: usize = 100 * 1024 * 1024;

struct Cached {
    tls_roots: Vec<Vec<u8>>,
    channel: Channel,
}

/// A cache of connections by address.
pub(crate) struct Connections {
    options: GatewayOptions,
    cache: Mutex<BTreeMap<String, Cached>>,
}

impl Connections {
    pub(crate) fn new(options: GatewayOptions) -> Connections {
        Connections {
            options,
            cache: Mutex::new(BTreeMap::new()),
        }
    }

    /// The connection to `address`, trusting `tls_roots` (PEM, from the channel configuration
    /// of the organisation that runs the node) when TLS is on.
    pub(crate) fn channel(&self, address: &str, tls_roots: &[Vec<u8>]) -> Result<Channel> {
        let mut cache = self
            .cache
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(cached) = cache.get(address) {
            if cached.tls_roots == tls_roots {
                return Ok(cached.channel.clone());
            }
        }
        let channel = self.dial(address, tls_roots)?;
        cache.insert(
            address.to_owned(),
            Cached {
                tls_roots: tls_roots.to_vec(),
                channel: channel.clone(),
            },
        );
        Ok(channel)
    }

    fn dial(&self, address: &str, tls_roots: &[Vec<u8>]) -> Result<Channel> {
        let scheme = if self.options.tls.is_some() {
            "https"
        } else {
            "http"
        };
        let mut endpoint = Endpoint::from_shared(format!("{scheme}://{address}"))
            .map_err(|e| GatewayError::Address {
                address: address.to_owned(),
                reason: e.to_string(),
            })?
            .connect_timeout(self.options.dial_timeout)
            .tcp_nodelay(true)
            .http2_keep_alive_interval(std::time::Duration::from_secs(60))
            .keep_alive_while_idle(true);
        if let Some(tls) = &self.options.tls {
            let mut config = ClientTlsConfig::new();
            for pem in tls.root_cas_pem.iter().chain(tls_roots) {
                config = config.ca_certificate(Certificate::from_pem(pem));
            }
            if let Some(identity) = &tls.client_identity {
                config = config.identity(Identity::from_pem(&identity.cert_pem, &identity.key_pem));
            }
            endpoint = endpoint.tls_config(config).map_err(|e| GatewayError::Tls {
                target: address.to_owned(),
                reason: e.to_string(),
            })?;
        }
        Ok(endpoint.connect_lazy())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn connections_are_cached_per_address_and_roots() {
        let connections = Connections::new(GatewayOptions::default());
        connections.channel("127.0.0.1:1", &[]).unwrap();
        connections.channel("127.0.0.1:1", &[]).unwrap();
        connections.channel("127.0.0.1:2", &[]).unwrap();
        assert_eq!(connections.cache.lock().unwrap().len(), 2);
        let err = connections
            .channel("not a host:port/\u{0}", &[])
            .unwrap_err();
        assert!(matches!(err, GatewayError::Address { .. }), "{err}");
    }
}
