//! What the orderer needs from a channel's configuration.
//!
//! This is the one seam to the channel configuration domain model (`cambium-channel`):
//! [`ChannelSettings::from_config_block`] reads a genesis block; tests may also build
//! [`ChannelSettings`] directly.

use std::sync::Arc;

use cambium_msp::policy::{PolicyGroup, SignedData};
use cambium_msp::MspManager;
use cambium_tls::TlsRoots;

use crate::cutter::BatchConfig;

/// Path of the channel's `Writers` policy, relative to the `/Channel` group.
pub const WRITERS: &str = "Writers";
/// Path of the channel's `Readers` policy, relative to the `/Channel` group.
pub const READERS: &str = "Readers";

/// One Raft consenter of a channel: its Raft node ID and the address of its gRPC endpoint
/// (where both AtomicBroadcast and the cluster transport listen).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct Consenter {
    /// Raft node ID, unique within the channel (Fabric numbers consenters from 1).
    pub id: u64,
    /// `host:port` of the orderer's gRPC endpoint.
    pub address: String,
}

/// The parts of a channel configuration the ordering service uses.
#[derive(Clone, Debug)]
pub struct ChannelSettings {
    /// The channel name.
    pub channel_id: String,
    /// Batch size and timeout.
    pub batch: BatchConfig,
    /// The channel's MSPs, to validate creators.
    pub msps: Arc<MspManager>,
    /// The `/Channel` policy group (with `Readers`, `Writers`, `Admins`, and child groups).
    pub policies: PolicyGroup,
    /// The Raft consenters, sorted by ID.
    pub consenters: Vec<Consenter>,
    /// Number of the last config block (0 for a channel created from its genesis block).
    pub last_config: u64,
    /// The TLS root and intermediate CAs of the channel's orderer organisations: with TLS on,
    /// the only CAs orderers of this channel trust for each other's certificates.
    pub orderer_tls_roots: TlsRoots,
    /// Bytes of blocks between two snapshots of the Raft state (Fabric's etcdraft
    /// `SnapshotIntervalSize`): after a snapshot the Raft log is purged up to it, and a node
    /// that falls further behind catches up from the snapshot by pulling the blocks.
    pub snapshot_interval_bytes: u64,
}

/// Fabric's default `SnapshotIntervalSize`, used when a channel's config sets none (or 0).
pub const DEFAULT_SNAPSHOT_INTERVAL_BYTES: u64 = 16 * 1024 * 1024;

impl ChannelSettings {
    /// The settings in a config block (a genesis block): batch limits and timeout, MSPs, the
    /// `/Channel` policies and the Raft consenters, numbered from 1 in config order and
    /// reached at `host:port`.
    pub fn from_config_block(block: &[u8]) -> Result<ChannelSettings, String> {
        let config = cambium_channel::ChannelConfig::from_config_block(block)
            .map_err(|e| format!("the block is not a usable config block: {e}"))?;
        ChannelSettings::from_config(&config, 0)
    }

    /// The settings of `config`, which block `last_config` carries (consenters numbered from
    /// 1 in config order, reached at `host:port`).
    pub fn from_config(
        config: &cambium_channel::ChannelConfig,
        last_config: u64,
    ) -> Result<ChannelSettings, String> {
        let size = config.batch_size();
        let orderer_msps: Vec<String> = config
            .orderer_orgs()
            .into_iter()
            .map(|o| o.msp_id)
            .collect();
        let orderer_tls_roots = TlsRoots::from_msp_configs(
            config
                .msp_configs()
                .iter()
                .filter(|m| orderer_msps.contains(&m.name)),
        )
        .map_err(|e| format!("the orderer organisations' TLS CAs are unusable: {e}"))?;
        let settings = ChannelSettings {
            channel_id: config.channel_id().to_string(),
            batch: BatchConfig {
                max_message_count: size.max_message_count,
                absolute_max_bytes: size.absolute_max_bytes,
                preferred_max_bytes: size.preferred_max_bytes,
                timeout: config.batch_timeout(),
            },
            msps: config.shared_msp_manager(),
            policies: config.policy_group().clone(),
            consenters: config
                .consenters()
                .iter()
                .enumerate()
                .map(|(i, c)| Consenter {
                    id: i as u64 + 1,
                    address: format!("{}:{}", c.host, c.port),
                })
                .collect(),
            last_config,
            orderer_tls_roots,
            snapshot_interval_bytes: config
                .raft_options()
                .map(|o| u64::from(o.snapshot_interval_size))
                .filter(|b| *b > 0)
                .unwrap_or(DEFAULT_SNAPSHOT_INTERVAL_BYTES),
        };
        settings.validate()?;
        Ok(settings)
    }

    /// Checks `signed` against the channel policy at `path` (e.g. [`WRITERS`]) at `now` (unix
    /// seconds). The error text says which policy failed and why.
    pub fn check_policy(&self, path: &str, signed: &[SignedData], now: i64) -> Result<(), String> {
        self.policies
            .evaluate_signed_data(path, signed, &self.msps, now)
            .map_err(|e| format!("/Channel/{path} policy rejects the request: {e}"))
    }

    /// Validates the settings; the error names the problem.
    pub fn validate(&self) -> Result<(), String> {
        if self.channel_id.is_empty() {
            return Err("the channel name is empty".into());
        }
        self.batch.validate()?;
        if self.consenters.is_empty() {
            return Err(format!(
                "channel '{}' has no consenters; list at least one orderer",
                self.channel_id
            ));
        }
        let mut ids: Vec<u64> = self.consenters.iter().map(|c| c.id).collect();
        ids.sort_unstable();
        ids.dedup();
        if ids.len() != self.consenters.len() {
            return Err("consenter IDs repeat; give each orderer its own ID".into());
        }
        Ok(())
    }
}
