//! The peer as the Gateway sees it: [`cambium_gateway::PeerContext`] for [`PeerNode`].

use std::sync::Arc;

use cambium_channel::ChannelConfig;
use cambium_endorser::Endorser;
use cambium_gateway::{BoxFuture, BoxStream, CommittedTx, PeerContext, PeerError};
use cambium_ledger::{SnapshotSource, StoredBlock};
use cambium_validator::EndorsementPolicy;

use crate::channel::ChannelState;
use crate::node::PeerNode;

impl PeerNode {
    fn joined(&self, channel_id: &str) -> Result<Arc<ChannelState>, PeerError> {
        self.shared
            .channel(channel_id)
            .ok_or_else(|| PeerError::ChannelNotFound(channel_id.to_owned()))
    }
}

impl PeerContext for PeerNode {
    fn local_msp_id(&self) -> &str {
        &self.shared.config.msp.id
    }

    fn endorser(&self) -> Arc<Endorser> {
        Arc::clone(&self.shared.endorser)
    }

    fn channel_config(&self, channel_id: &str) -> Result<Arc<ChannelConfig>, PeerError> {
        Ok(self.joined(channel_id)?.config())
    }

    fn endorsement_policy(
        &self,
        channel_id: &str,
        contract: &str,
    ) -> Result<Option<EndorsementPolicy>, PeerError> {
        let channel = self.joined(channel_id)?;
        channel.endorsement_policy(contract, || {
            let snapshot = channel
                .ledger
                .snapshot()
                .map_err(|e| PeerError::Ledger(e.to_string()))?;
            let policies = self.shared.policies.policies(channel_id, &snapshot);
            policies
                .endorsement_policy(contract)
                .map_err(|e| PeerError::Ledger(e.message))
        })
    }

    fn commit_status(
        &self,
        channel_id: &str,
        tx_id: &str,
    ) -> BoxFuture<'static, Result<CommittedTx, PeerError>> {
        match self.joined(channel_id) {
            Ok(channel) => channel.commit_status(tx_id),
            Err(e) => Box::pin(std::future::ready(Err(e))),
        }
    }

    fn committed_blocks(
        &self,
        channel_id: &str,
        start: u64,
    ) -> Result<BoxStream<'static, Result<StoredBlock, PeerError>>, PeerError> {
        Ok(self.joined(channel_id)?.committed_blocks(start))
    }

    fn height(&self, channel_id: &str) -> Result<u64, PeerError> {
        // The ledger, not the announced height: a transaction whose commit status already
        // answered is always below it.
        let channel = self.joined(channel_id)?;
        channel
            .ledger
            .snapshot()
            .and_then(|s| cambium_ledger::BlockReader::height(&s))
            .map_err(|e| PeerError::Ledger(e.to_string()))
    }
}
