//! Endorsers of other peers that run in this process, reached without the network.
//!
//! `cambium up` runs every organisation's peer in one process, so Org1's gateway asking
//! Org2's peer for an endorsement would otherwise encrypt, frame and send the proposal over a
//! loopback TLS connection to itself, and decode it again on the other side. A peer that
//! serves `protos.Endorser` registers its service here under the address other peers know it
//! by (its external address); a gateway endorsing at that address calls the same service
//! object directly. The service is the one the peer's gRPC server runs (with its metrics and
//! its own error statuses), so the answer is exactly what the gRPC call would return; only the
//! transport is skipped. The registration ends with the returned guard, which the peer drops
//! when it stops, so a stopped peer is unreachable here as it is over the network.
//!
//! An address registered by more than one live service (two peers claiming one external
//! address) is ambiguous and is reached over the network.

use std::collections::BTreeMap;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};

use cambium_wire::peer::endorser_server::Endorser as EndorserRpc;

/// A peer's `protos.Endorser` service, as registered.
pub type SharedEndorserService = Arc<dyn EndorserRpc>;

type Registry = BTreeMap<String, Vec<(u64, SharedEndorserService)>>;

static REGISTRY: Mutex<Registry> = Mutex::new(BTreeMap::new());
static NEXT_ID: AtomicU64 = AtomicU64::new(0);

fn registry() -> std::sync::MutexGuard<'static, Registry> {
    REGISTRY
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

/// Keeps an endorser service reachable in-process at its address; dropping it removes the
/// registration.
#[must_use = "the registration ends when this guard is dropped"]
pub struct ColocatedEndorser {
    address: String,
    id: u64,
}

impl std::fmt::Debug for ColocatedEndorser {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("ColocatedEndorser")
            .field("address", &self.address)
            .finish_non_exhaustive()
    }
}

impl ColocatedEndorser {
    /// The address the service is registered under.
    pub fn address(&self) -> &str {
        &self.address
    }
}

impl Drop for ColocatedEndorser {
    fn drop(&mut self) {
        let mut registry = registry();
        if let Some(entries) = registry.get_mut(&self.address) {
            entries.retain(|(id, _)| *id != self.id);
            if entries.is_empty() {
                registry.remove(&self.address);
            }
        }
    }
}

/// Registers `service` as the endorser reachable at `address` (`host:port`, as the channel's
/// anchor peers name it) for gateways in this process, until the returned guard is dropped.
pub fn register_colocated_endorser(
    address: &str,
    service: SharedEndorserService,
) -> ColocatedEndorser {
    let id = NEXT_ID.fetch_add(1, Ordering::Relaxed);
    registry()
        .entry(address.to_owned())
        .or_default()
        .push((id, service));
    ColocatedEndorser {
        address: address.to_owned(),
        id,
    }
}

/// The service registered at `address`, if exactly one is.
pub(crate) fn lookup(address: &str) -> Option<SharedEndorserService> {
    match registry().get(address).map(Vec::as_slice) {
        Some([(_, service)]) => Some(Arc::clone(service)),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use cambium_wire::peer::{ProposalResponse, SignedProposal};
    use tonic::{Request, Response, Status};

    struct Fixed(i32);

    #[tonic::async_trait]
    impl EndorserRpc for Fixed {
        async fn process_proposal(
            &self,
            _request: Request<SignedProposal>,
        ) -> Result<Response<ProposalResponse>, Status> {
            Ok(Response::new(ProposalResponse {
                version: self.0,
                ..ProposalResponse::default()
            }))
        }
    }

    async fn version_at(address: &str) -> Option<i32> {
        let service = lookup(address)?;
        let reply = service
            .process_proposal(Request::new(SignedProposal::default()))
            .await
            .ok()?;
        Some(reply.into_inner().version)
    }

    #[tokio::test]
    async fn registrations_last_as_long_as_their_guard_and_ambiguity_means_network() {
        let address = "colocated-test.invalid:7051";
        assert!(lookup(address).is_none());
        let first = register_colocated_endorser(address, Arc::new(Fixed(1)));
        assert_eq!(first.address(), address);
        assert_eq!(version_at(address).await, Some(1));

        let second = register_colocated_endorser(address, Arc::new(Fixed(2)));
        assert!(lookup(address).is_none(), "two services at one address");
        drop(first);
        assert_eq!(version_at(address).await, Some(2));
        drop(second);
        assert!(lookup(address).is_none());
        assert!(
            !registry().contains_key(address),
            "no empty entries are left"
        );
    }
}
