//! Cambium's metrics, defined in one place. Nodes record into a shared [`Metrics`] through its
//! methods (so label names stay consistent); `/metrics` encodes it in the Prometheus
//! (OpenMetrics) text format.
//!
//! | metric | type | labels |
//! |---|---|---|
//! | `cambium_ledger_height` | gauge | `channel` |
//! | `cambium_ledger_transactions_total` | counter | `channel`, `validation_code` |
//! | `cambium_ledger_block_commit_seconds` | histogram | `channel` |
//! | `cambium_endorser_proposal_seconds` | histogram | `channel`, `contract`, `status` |
//! | `cambium_contract_invocations_total` | counter | `channel`, `contract`, `version` |
//! | `cambium_contract_transactions_total` | counter | `channel`, `contract`, `version`, `validation_code` |
//! | `cambium_contract_endorsements_total` | counter | `channel`, `contract`, `version`, `result` (`ok`, `contract_error`, `failed`) |
//! | `cambium_contract_endorsement_duration_seconds` | histogram | `channel`, `contract`, `version` |
//! | `cambium_deliver_blocks_sent_total` | counter | `channel`, `filtered` |
//! | `cambium_broadcast_processed_total` | counter | `channel`, `type`, `status` |
//! | `cambium_gateway_requests_total` | counter | `method`, `code` |
//! | `cambium_raft_term`, `cambium_raft_leader_id`, `cambium_raft_is_leader`, `cambium_raft_commit_index`, `cambium_raft_snapshot_index`, `cambium_raft_purged_index` | gauge | `channel` |
//!
//! Each node owns its own [`Metrics`] (no process-global recorder), so several nodes in one
//! process — `cambium up`, tests — report separately.
//!
//! The per-version endorsement metrics are recorded on a hot path (every simulated proposal),
//! so they are not looked up by label per call: [`Metrics::contract_version`] returns a
//! [`ContractVersionMetrics`] handle for one `(channel, contract, version)` that the caller
//! keeps and records into without building labels or taking the family's lock.

use prometheus_client::encoding::EncodeLabelSet;
use prometheus_client::metrics::counter::Counter;
use prometheus_client::metrics::family::Family;
use prometheus_client::metrics::gauge::Gauge;
use prometheus_client::metrics::histogram::{exponential_buckets, Histogram};
use prometheus_client::registry::Registry;

/// The content type of [`Metrics::encode`]'s output.
pub const CONTENT_TYPE: &str = "application/openmetrics-text; version=1.0.0; charset=utf-8";

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ChannelLabels {
    channel: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct TxLabels {
    channel: String,
    validation_code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndorseLabels {
    channel: String,
    contract: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ContractLabels {
    channel: String,
    contract: String,
    version: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct ContractTxLabels {
    channel: String,
    contract: String,
    version: String,
    validation_code: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct EndorsementLabels {
    channel: String,
    contract: String,
    version: String,
    result: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct DeliverLabels {
    channel: String,
    filtered: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct BroadcastLabels {
    channel: String,
    r#type: String,
    status: String,
}

#[derive(Clone, Debug, Hash, PartialEq, Eq, EncodeLabelSet)]
struct GatewayLabels {
    method: String,
    code: String,
}

type Latency<L> = Family<L, Histogram, fn() -> Histogram>;

/// Latency buckets from 1 ms to about 33 s, doubling.
fn latency_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.001, 2.0, 16))
}

/// Simulation latency buckets from 50 µs to about 6.6 s, doubling: a contract call takes tens
/// of microseconds to milliseconds, far below [`latency_histogram`]'s first bucket.
fn simulation_histogram() -> Histogram {
    Histogram::new(exponential_buckets(0.000_05, 2.0, 18))
}

/// How the endorsement of one proposal by a contract version ended: the `result` label of
/// `cambium_contract_endorsements_total`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndorsementResult {
    /// The contract answered a status below 400 and the peer endorsed the proposal.
    Ok,
    /// The contract answered a status of 400 or more (its own, deterministic error).
    ContractError,
    /// The simulation failed: a trap, fuel exhaustion, a host limit, or a refusal after the
    /// version was chosen (a called contract frozen or retired, the init rule, signing).
    Failed,
}

impl EndorsementResult {
    /// Every result, in label order.
    pub const ALL: [EndorsementResult; 3] = [
        EndorsementResult::Ok,
        EndorsementResult::ContractError,
        EndorsementResult::Failed,
    ];

    /// The label value: `ok`, `contract_error` or `failed`.
    pub fn as_str(self) -> &'static str {
        match self {
            EndorsementResult::Ok => "ok",
            EndorsementResult::ContractError => "contract_error",
            EndorsementResult::Failed => "failed",
        }
    }
}

/// The endorsement metrics of one contract version on one channel, from
/// [`Metrics::contract_version`]: handles onto the registered series, so recording is an
/// atomic add and one histogram observation, with no label building. Clones share the series.
#[derive(Clone, Debug)]
pub struct ContractVersionMetrics {
    results: [Counter; 3],
    duration: Histogram,
}

impl ContractVersionMetrics {
    /// Counts one endorsement with its result and observes its simulation time.
    pub fn record(&self, result: EndorsementResult, seconds: f64) {
        self.results[result as usize].inc();
        self.duration.observe(seconds);
    }
}

/// Raft state of one channel on an orderer, for [`Metrics::set_raft`].
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq)]
pub struct RaftState {
    /// The current term.
    pub term: u64,
    /// The leader's node ID (0: none known).
    pub leader_id: u64,
    /// Whether this node leads.
    pub is_leader: bool,
    /// The highest committed log index.
    pub commit_index: u64,
    /// The log index the last snapshot covers (0: none).
    pub snapshot_index: u64,
    /// The log index up to which the log was purged after a snapshot (0: none).
    pub purged_index: u64,
}

/// Every metric a Cambium node reports. Cheap to share behind an `Arc`; recording is
/// lock-free apart from the first use of a label combination.
pub struct Metrics {
    registry: Registry,
    height: Family<ChannelLabels, Gauge>,
    transactions: Family<TxLabels, Counter>,
    block_commit: Latency<ChannelLabels>,
    endorsement: Latency<EndorseLabels>,
    invocations: Family<ContractLabels, Counter>,
    contract_transactions: Family<ContractTxLabels, Counter>,
    contract_endorsements: Family<EndorsementLabels, Counter>,
    contract_endorsement_duration: Latency<ContractLabels>,
    deliver_blocks: Family<DeliverLabels, Counter>,
    broadcast: Family<BroadcastLabels, Counter>,
    gateway: Family<GatewayLabels, Counter>,
    raft_term: Family<ChannelLabels, Gauge>,
    raft_leader: Family<ChannelLabels, Gauge>,
    raft_is_leader: Family<ChannelLabels, Gauge>,
    raft_commit_index: Family<ChannelLabels, Gauge>,
    raft_snapshot_index: Family<ChannelLabels, Gauge>,
    raft_purged_index: Family<ChannelLabels, Gauge>,
}

impl std::fmt::Debug for Metrics {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Metrics").finish_non_exhaustive()
    }
}

impl Default for Metrics {
    fn default() -> Self {
        Metrics::new()
    }
}

fn gauge(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

fn channel(channel: &str) -> ChannelLabels {
    ChannelLabels {
        channel: channel.to_owned(),
    }
}

impl Metrics {
    /// Every metric, registered and at zero.
    pub fn new() -> Metrics {
        let mut registry = Registry::with_prefix("cambium");
        let m = Metrics {
            registry: Registry::default(),
            height: Family::default(),
            transactions: Family::default(),
            block_commit: Family::new_with_constructor(latency_histogram),
            endorsement: Family::new_with_constructor(latency_histogram),
            invocations: Family::default(),
            contract_transactions: Family::default(),
            contract_endorsements: Family::default(),
            contract_endorsement_duration: Family::new_with_constructor(simulation_histogram),
            deliver_blocks: Family::default(),
            broadcast: Family::default(),
            gateway: Family::default(),
            raft_term: Family::default(),
            raft_leader: Family::default(),
            raft_is_leader: Family::default(),
            raft_commit_index: Family::default(),
            raft_snapshot_index: Family::default(),
            raft_purged_index: Family::default(),
        };
        registry.register(
            "ledger_height",
            "Blocks committed to the channel's ledger",
            m.height.clone(),
        );
        registry.register(
            "ledger_transactions",
            "Transactions committed, by validation code",
            m.transactions.clone(),
        );
        registry.register(
            "ledger_block_commit_seconds",
            "Time to verify, validate and commit one block",
            m.block_commit.clone(),
        );
        registry.register(
            "endorser_proposal_seconds",
            "Time to answer one proposal on the Endorser service, by outcome",
            m.endorsement.clone(),
        );
        registry.register(
            "contract_invocations",
            "Proposals endorsed, by contract and version",
            m.invocations.clone(),
        );
        registry.register(
            "contract_transactions",
            "Transactions committed, by contract, the version that endorsed them and validation code",
            m.contract_transactions.clone(),
        );
        registry.register(
            "contract_endorsements",
            "Proposals simulated, by contract, the version the rollout routed them to, and result (ok, contract_error: status 400 or more, failed: trap, fuel, limit or refusal)",
            m.contract_endorsements.clone(),
        );
        registry.register(
            "contract_endorsement_duration_seconds",
            "Time the endorser spent simulating one proposal in the routed contract version",
            m.contract_endorsement_duration.clone(),
        );
        registry.register(
            "deliver_blocks_sent",
            "Blocks sent on the peer's Deliver service",
            m.deliver_blocks.clone(),
        );
        registry.register(
            "broadcast_processed",
            "Broadcast envelopes processed, by header type and status",
            m.broadcast.clone(),
        );
        registry.register(
            "gateway_requests",
            "Gateway calls, by method and gRPC status code",
            m.gateway.clone(),
        );
        registry.register("raft_term", "Current Raft term", m.raft_term.clone());
        registry.register(
            "raft_leader_id",
            "Node ID of the Raft leader (0: none known)",
            m.raft_leader.clone(),
        );
        registry.register(
            "raft_is_leader",
            "1 if this node leads the channel's Raft group",
            m.raft_is_leader.clone(),
        );
        registry.register(
            "raft_commit_index",
            "Highest committed Raft log index",
            m.raft_commit_index.clone(),
        );
        registry.register(
            "raft_snapshot_index",
            "Raft log index the last snapshot covers (0: none)",
            m.raft_snapshot_index.clone(),
        );
        registry.register(
            "raft_purged_index",
            "Raft log index up to which the log was purged after a snapshot (0: none)",
            m.raft_purged_index.clone(),
        );
        Metrics { registry, ..m }
    }

    /// Sets a channel's ledger height (blocks committed).
    pub fn set_height(&self, channel_id: &str, height: u64) {
        self.height
            .get_or_create(&channel(channel_id))
            .set(gauge(height));
    }

    /// Counts one committed transaction with its validation code (e.g. `VALID`,
    /// `MVCC_READ_CONFLICT`).
    pub fn record_transaction(&self, channel_id: &str, validation_code: &str) {
        self.transactions
            .get_or_create(&TxLabels {
                channel: channel_id.to_owned(),
                validation_code: validation_code.to_owned(),
            })
            .inc();
    }

    /// Records how long verifying, validating and committing one block took.
    pub fn observe_block_commit(&self, channel_id: &str, seconds: f64) {
        self.block_commit
            .get_or_create(&channel(channel_id))
            .observe(seconds);
    }

    /// Records how long one proposal took and how it ended (`success`, `failure` or a status).
    pub fn observe_endorsement(
        &self,
        channel_id: &str,
        contract: &str,
        status: &str,
        seconds: f64,
    ) {
        self.endorsement
            .get_or_create(&EndorseLabels {
                channel: channel_id.to_owned(),
                contract: contract.to_owned(),
                status: status.to_owned(),
            })
            .observe(seconds);
    }

    /// Counts one endorsed invocation of a contract version.
    pub fn record_invocation(&self, channel_id: &str, contract: &str, version: &str) {
        self.invocations
            .get_or_create(&ContractLabels {
                channel: channel_id.to_owned(),
                contract: contract.to_owned(),
                version: version.to_owned(),
            })
            .inc();
    }

    /// Counts one committed transaction of a contract by the version that endorsed it and its
    /// validation code: what a canary's error rate is computed from.
    pub fn record_contract_transaction(
        &self,
        channel_id: &str,
        contract: &str,
        version: &str,
        validation_code: &str,
    ) {
        self.contract_transactions
            .get_or_create(&ContractTxLabels {
                channel: channel_id.to_owned(),
                contract: contract.to_owned(),
                version: version.to_owned(),
                validation_code: validation_code.to_owned(),
            })
            .inc();
    }

    /// The endorsement metrics of `contract` at `version` on `channel_id`, registered (all three
    /// results at zero) on first use. Keep the handle: recording through it builds no labels.
    pub fn contract_version(
        &self,
        channel_id: &str,
        contract: &str,
        version: &str,
    ) -> ContractVersionMetrics {
        let results = EndorsementResult::ALL.map(|result| {
            self.contract_endorsements
                .get_or_create(&EndorsementLabels {
                    channel: channel_id.to_owned(),
                    contract: contract.to_owned(),
                    version: version.to_owned(),
                    result: result.as_str().to_owned(),
                })
                .clone()
        });
        let duration = self
            .contract_endorsement_duration
            .get_or_create(&ContractLabels {
                channel: channel_id.to_owned(),
                contract: contract.to_owned(),
                version: version.to_owned(),
            })
            .clone();
        ContractVersionMetrics { results, duration }
    }

    /// Counts one block sent on the Deliver service.
    pub fn record_deliver_block(&self, channel_id: &str, filtered: bool) {
        self.deliver_blocks
            .get_or_create(&DeliverLabels {
                channel: channel_id.to_owned(),
                filtered: filtered.to_string(),
            })
            .inc();
    }

    /// Counts one Broadcast envelope by header type (e.g. `ENDORSER_TRANSACTION`) and status
    /// (e.g. `SUCCESS`, `BAD_REQUEST`).
    pub fn record_broadcast(&self, channel_id: &str, header_type: &str, status: &str) {
        self.broadcast
            .get_or_create(&BroadcastLabels {
                channel: channel_id.to_owned(),
                r#type: header_type.to_owned(),
                status: status.to_owned(),
            })
            .inc();
    }

    /// Counts one Gateway call by method (e.g. `Submit`) and gRPC code (e.g. `OK`).
    pub fn record_gateway_request(&self, method: &str, code: &str) {
        self.gateway
            .get_or_create(&GatewayLabels {
                method: method.to_owned(),
                code: code.to_owned(),
            })
            .inc();
    }

    /// Sets a channel's Raft state (orderers).
    pub fn set_raft(&self, channel_id: &str, state: RaftState) {
        let labels = channel(channel_id);
        self.raft_term.get_or_create(&labels).set(gauge(state.term));
        self.raft_leader
            .get_or_create(&labels)
            .set(gauge(state.leader_id));
        self.raft_is_leader
            .get_or_create(&labels)
            .set(i64::from(state.is_leader));
        self.raft_commit_index
            .get_or_create(&labels)
            .set(gauge(state.commit_index));
        self.raft_snapshot_index
            .get_or_create(&labels)
            .set(gauge(state.snapshot_index));
        self.raft_purged_index
            .get_or_create(&labels)
            .set(gauge(state.purged_index));
    }

    /// Every metric in the OpenMetrics text format (which Prometheus scrapes), ending with
    /// `# EOF`.
    pub fn encode(&self) -> String {
        let mut out = String::new();
        // Writing into a String cannot fail.
        let _ = prometheus_client::encoding::text::encode(&mut out, &self.registry);
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn recorded_values_appear_with_their_labels() {
        let m = Metrics::new();
        m.set_height("ch", 7);
        m.record_transaction("ch", "VALID");
        m.record_transaction("ch", "VALID");
        m.record_transaction("ch", "MVCC_READ_CONFLICT");
        m.observe_block_commit("ch", 0.003);
        m.observe_endorsement("ch", "kv", "success", 0.002);
        m.record_invocation("ch", "kv", "1.0");
        m.record_contract_transaction("ch", "kv", "2.0", "ENDORSEMENT_POLICY_FAILURE");
        m.record_broadcast("ch", "ENDORSER_TRANSACTION", "SUCCESS");
        m.record_gateway_request("Submit", "OK");
        m.record_deliver_block("ch", true);
        m.set_raft(
            "ch",
            RaftState {
                term: 3,
                leader_id: 2,
                is_leader: false,
                commit_index: 41,
                snapshot_index: 30,
                purged_index: 14,
            },
        );
        let text = m.encode();
        for line in [
            "cambium_ledger_height{channel=\"ch\"} 7",
            "cambium_ledger_transactions_total{channel=\"ch\",validation_code=\"VALID\"} 2",
            "cambium_ledger_transactions_total{channel=\"ch\",validation_code=\"MVCC_READ_CONFLICT\"} 1",
            "cambium_ledger_block_commit_seconds_count{channel=\"ch\"} 1",
            "cambium_endorser_proposal_seconds_count{channel=\"ch\",contract=\"kv\",status=\"success\"} 1",
            "cambium_contract_invocations_total{channel=\"ch\",contract=\"kv\",version=\"1.0\"} 1",
            "cambium_contract_transactions_total{channel=\"ch\",contract=\"kv\",version=\"2.0\",validation_code=\"ENDORSEMENT_POLICY_FAILURE\"} 1",
            "cambium_broadcast_processed_total{channel=\"ch\",type=\"ENDORSER_TRANSACTION\",status=\"SUCCESS\"} 1",
            "cambium_gateway_requests_total{method=\"Submit\",code=\"OK\"} 1",
            "cambium_deliver_blocks_sent_total{channel=\"ch\",filtered=\"true\"} 1",
            "cambium_raft_term{channel=\"ch\"} 3",
            "cambium_raft_leader_id{channel=\"ch\"} 2",
            "cambium_raft_is_leader{channel=\"ch\"} 0",
            "cambium_raft_commit_index{channel=\"ch\"} 41",
            "cambium_raft_snapshot_index{channel=\"ch\"} 30",
            "cambium_raft_purged_index{channel=\"ch\"} 14",
        ] {
            assert!(text.lines().any(|l| l == line), "missing {line} in\n{text}");
        }
        assert!(text.ends_with("# EOF\n"));
    }

    #[test]
    fn contract_version_handles_record_into_the_registered_series() {
        let m = Metrics::new();
        let v1 = m.contract_version("ch", "kv", "1.0");
        let v2 = m.contract_version("ch", "kv", "2.0");
        // A second handle for the same version shares its series.
        let v2_again = m.contract_version("ch", "kv", "2.0");
        v1.record(EndorsementResult::Ok, 0.000_2);
        v1.record(EndorsementResult::Ok, 0.000_3);
        v2.record(EndorsementResult::ContractError, 0.000_1);
        v2_again.record(EndorsementResult::Failed, 0.02);
        v2_again.record(EndorsementResult::Ok, 0.000_07);
        let text = m.encode();
        let series = |version: &str, result: &str| {
            format!("cambium_contract_endorsements_total{{channel=\"ch\",contract=\"kv\",version=\"{version}\",result=\"{result}\"}}")
        };
        for (line, value) in [
            (series("1.0", "ok"), 2),
            (series("1.0", "contract_error"), 0),
            (series("1.0", "failed"), 0),
            (series("2.0", "ok"), 1),
            (series("2.0", "contract_error"), 1),
            (series("2.0", "failed"), 1),
            ("cambium_contract_endorsement_duration_seconds_count{channel=\"ch\",contract=\"kv\",version=\"1.0\"}".to_owned(), 2),
            ("cambium_contract_endorsement_duration_seconds_count{channel=\"ch\",contract=\"kv\",version=\"2.0\"}".to_owned(), 3),
        ] {
            let want = format!("{line} {value}");
            assert!(text.lines().any(|l| l == want), "missing {want} in\n{text}");
        }
        // 70 µs falls in the 100 µs bucket, not the 50 µs one.
        assert!(text.lines().any(|l| l
            == "cambium_contract_endorsement_duration_seconds_bucket{le=\"0.0001\",channel=\"ch\",contract=\"kv\",version=\"2.0\"} 2"
            || l == "cambium_contract_endorsement_duration_seconds_bucket{channel=\"ch\",contract=\"kv\",version=\"2.0\",le=\"0.0001\"} 2"),
            "{text}");
    }

    #[test]
    fn endorsement_results_have_their_label_names() {
        let names: Vec<&str> = EndorsementResult::ALL.iter().map(|r| r.as_str()).collect();
        assert_eq!(names, ["ok", "contract_error", "failed"]);
    }
}
