//! Watching endorsements per contract version, without tying the endorser to a metrics
//! library: the peer hands the [`crate::Endorser`] an [`EndorsementObserver`], and the endorser
//! reports how each simulated proposal ended, and how long its simulation took, to the
//! [`EndorsementRecorder`] of the `(channel, contract, version)` the rollout routed it to.
//!
//! Recorders are asked for once per combination and cached by the endorser, so a proposal
//! costs two clock reads, three map lookups and the recorder's own work (for the peer, two
//! atomic adds and a histogram observation), and builds no labels.
//!
//! What is observed: proposals to a contract (not `_lifecycle`, `qscc` or `cscc`) that got as
//! far as routing, that is past the pre-checks, the `peer/Propose` ACL and the contract's
//! governance status, with a defined and installed version. Refusals before that have no
//! version to count against.

use std::collections::BTreeMap;
use std::sync::{Arc, RwLock};
use std::time::Duration;

/// How the endorsement of one proposal by a contract version ended.
#[derive(Clone, Copy, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum EndorsementOutcome {
    /// The contract answered a status below 400 and the peer endorsed the proposal.
    Ok,
    /// The contract answered a status of 400 or more: its own, deterministic error.
    ContractError,
    /// The simulation failed: a trap, fuel exhaustion, a host limit, or a refusal after the
    /// version was chosen (the init rule, a called contract frozen or retired, signing).
    Failed,
}

/// Records the endorsements of one contract version on one channel.
pub trait EndorsementRecorder: Send + Sync {
    /// One proposal ended with `outcome`; its simulation took `simulation` (from the version
    /// being chosen until the VM returned, nested calls included; signing excluded).
    fn record(&self, outcome: EndorsementOutcome, simulation: Duration);
}

/// Hands out the recorder of each contract version; the endorser caches what it returns.
pub trait EndorsementObserver: Send + Sync {
    /// The recorder of `contract` at `version` on `channel` (asked once per combination).
    fn recorder(
        &self,
        channel: &str,
        contract: &str,
        version: &str,
    ) -> Arc<dyn EndorsementRecorder>;
}

type Versions = BTreeMap<String, Arc<dyn EndorsementRecorder>>;

/// An observer with its recorders cached by channel, contract and version (nested maps, so a
/// lookup borrows the names instead of building a key).
pub(crate) struct Recorders {
    observer: Arc<dyn EndorsementObserver>,
    cache: RwLock<BTreeMap<String, BTreeMap<String, Versions>>>,
}

impl Recorders {
    pub(crate) fn new(observer: Arc<dyn EndorsementObserver>) -> Recorders {
        Recorders {
            observer,
            cache: RwLock::new(BTreeMap::new()),
        }
    }

    /// The cached recorder of `(channel, contract, version)`, asking the observer the first
    /// time.
    pub(crate) fn get(
        &self,
        channel: &str,
        contract: &str,
        version: &str,
    ) -> Arc<dyn EndorsementRecorder> {
        if let Some(found) = self
            .cache
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(channel)
            .and_then(|c| c.get(contract))
            .and_then(|v| v.get(version))
        {
            return Arc::clone(found);
        }
        let mut cache = self
            .cache
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        let versions = cache
            .entry(channel.to_owned())
            .or_default()
            .entry(contract.to_owned())
            .or_default();
        Arc::clone(
            versions
                .entry(version.to_owned())
                .or_insert_with(|| self.observer.recorder(channel, contract, version)),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;

    /// Counts per key what was recorded, and how often a recorder was asked for.
    #[derive(Default)]
    struct Tally {
        asked: Mutex<Vec<String>>,
        seen: Arc<Mutex<BTreeMap<(String, EndorsementOutcome), u32>>>,
    }

    struct KeyRecorder {
        key: String,
        seen: Arc<Mutex<BTreeMap<(String, EndorsementOutcome), u32>>>,
    }

    impl EndorsementRecorder for KeyRecorder {
        fn record(&self, outcome: EndorsementOutcome, _simulation: Duration) {
            *self
                .seen
                .lock()
                .unwrap()
                .entry((self.key.clone(), outcome))
                .or_default() += 1;
        }
    }

    impl EndorsementObserver for Tally {
        fn recorder(
            &self,
            channel: &str,
            contract: &str,
            version: &str,
        ) -> Arc<dyn EndorsementRecorder> {
            let key = format!("{channel}/{contract}/{version}");
            self.asked.lock().unwrap().push(key.clone());
            Arc::new(KeyRecorder {
                key,
                seen: Arc::clone(&self.seen),
            })
        }
    }

    #[test]
    fn recorders_are_asked_for_once_per_version_and_keep_versions_apart() {
        let tally = Arc::new(Tally::default());
        let recorders = Recorders::new(Arc::clone(&tally) as Arc<dyn EndorsementObserver>);
        let ms = Duration::from_millis(1);
        for _ in 0..3 {
            recorders
                .get("ch", "kv", "1.0")
                .record(EndorsementOutcome::Ok, ms);
        }
        recorders
            .get("ch", "kv", "2.0")
            .record(EndorsementOutcome::ContractError, ms);
        recorders
            .get("ch", "kv", "2.0")
            .record(EndorsementOutcome::Failed, ms);
        recorders
            .get("other", "kv", "1.0")
            .record(EndorsementOutcome::Ok, ms);
        assert_eq!(
            *tally.asked.lock().unwrap(),
            ["ch/kv/1.0", "ch/kv/2.0", "other/kv/1.0"]
        );
        let seen = tally.seen.lock().unwrap();
        let count = |key: &str, outcome| seen.get(&(key.to_owned(), outcome)).copied();
        assert_eq!(count("ch/kv/1.0", EndorsementOutcome::Ok), Some(3));
        assert_eq!(
            count("ch/kv/2.0", EndorsementOutcome::ContractError),
            Some(1)
        );
        assert_eq!(count("ch/kv/2.0", EndorsementOutcome::Failed), Some(1));
        assert_eq!(count("ch/kv/2.0", EndorsementOutcome::Ok), None);
        assert_eq!(count("other/kv/1.0", EndorsementOutcome::Ok), Some(1));
    }
}
