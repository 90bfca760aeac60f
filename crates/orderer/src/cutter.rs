//! The block cutter: decides where one block ends and the next begins.
//!
//! Pure logic with no clock and no IO, following Fabric's `blockcutter` rules:
//!
//! - an envelope larger than `preferred_max_bytes` is cut into a block of its own (after the
//!   pending batch, if any, is cut first);
//! - an envelope that would push the pending batch over `preferred_max_bytes` cuts the pending
//!   batch first and starts a new one;
//! - a batch that reaches `max_message_count` envelopes is cut at once;
//! - the batch timeout is the caller's business: when it fires, it calls [`BlockCutter::cut`].
//!
//! Envelopes over `absolute_max_bytes` never reach the cutter: Broadcast rejects them.

use std::time::Duration;

/// Batch settings of a channel (Fabric's `Orderer/BatchSize` and `Orderer/BatchTimeout`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct BatchConfig {
    /// Most envelopes in one block.
    pub max_message_count: u32,
    /// Largest envelope accepted, in bytes.
    pub absolute_max_bytes: u32,
    /// Preferred largest block data, in bytes; a larger envelope gets a block of its own.
    pub preferred_max_bytes: u32,
    /// How long the first envelope of a batch waits before the batch is cut anyway.
    pub timeout: Duration,
}

impl Default for BatchConfig {
    /// Fabric's sample defaults: 500 envelopes, 10 MB absolute, 2 MB preferred, 2 s.
    fn default() -> Self {
        BatchConfig {
            max_message_count: 500,
            absolute_max_bytes: 10 * 1024 * 1024,
            preferred_max_bytes: 2 * 1024 * 1024,
            timeout: Duration::from_secs(2),
        }
    }
}

impl BatchConfig {
    /// Checks the relations Fabric requires between the limits.
    pub fn validate(&self) -> Result<(), String> {
        if self.max_message_count == 0 {
            return Err("BatchSize.MaxMessageCount must be at least 1".into());
        }
        if self.absolute_max_bytes == 0 {
            return Err("BatchSize.AbsoluteMaxBytes must be at least 1".into());
        }
        if self.preferred_max_bytes > self.absolute_max_bytes {
            return Err(format!(
                "BatchSize.PreferredMaxBytes ({}) exceeds AbsoluteMaxBytes ({}); lower it",
                self.preferred_max_bytes, self.absolute_max_bytes
            ));
        }
        if self.timeout.is_zero() {
            return Err("BatchTimeout must be positive, e.g. 2s".into());
        }
        Ok(())
    }
}

/// Pending envelopes (of any item type carrying a size) and the cutting rules.
#[derive(Debug)]
pub struct BlockCutter<T> {
    config: BatchConfig,
    pending: Vec<T>,
    pending_bytes: usize,
}

impl<T> BlockCutter<T> {
    /// An empty cutter with `config`.
    pub fn new(config: BatchConfig) -> Self {
        BlockCutter {
            config,
            pending: Vec::new(),
            pending_bytes: 0,
        }
    }

    /// The batch settings in force.
    pub fn config(&self) -> &BatchConfig {
        &self.config
    }

    /// Replaces the batch settings (after a config block); pending envelopes stay pending and
    /// the new limits apply from the next envelope.
    pub fn set_config(&mut self, config: BatchConfig) {
        self.config = config;
    }

    /// Adds one envelope of `size` bytes; returns the batches that are complete, oldest first
    /// (zero, one or two). Afterwards [`BlockCutter::has_pending`] says whether a timer is
    /// needed for the rest.
    pub fn ordered(&mut self, item: T, size: usize) -> Vec<Vec<T>> {
        let preferred = self.config.preferred_max_bytes as usize;
        let mut batches = Vec::new();
        if size > preferred {
            if !self.pending.is_empty() {
                batches.push(self.cut());
            }
            batches.push(vec![item]);
            return batches;
        }
        if self.pending_bytes + size > preferred && !self.pending.is_empty() {
            batches.push(self.cut());
        }
        self.pending.push(item);
        self.pending_bytes += size;
        if self.pending.len() >= self.config.max_message_count as usize {
            batches.push(self.cut());
        }
        batches
    }

    /// Cuts whatever is pending (possibly nothing).
    pub fn cut(&mut self) -> Vec<T> {
        self.pending_bytes = 0;
        std::mem::take(&mut self.pending)
    }

    /// Whether envelopes are waiting for a cut.
    pub fn has_pending(&self) -> bool {
        !self.pending.is_empty()
    }

    /// Number of envelopes waiting.
    pub fn pending_len(&self) -> usize {
        self.pending.len()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(count: u32, preferred: u32) -> BatchConfig {
        BatchConfig {
            max_message_count: count,
            absolute_max_bytes: 1000,
            preferred_max_bytes: preferred,
            timeout: Duration::from_millis(5),
        }
    }

    /// Feeds `(id, size)` pairs and returns the batches cut, then what is pending.
    fn check(cfg: BatchConfig, input: &[(u32, usize)], batches: &[&[u32]], pending: &[u32]) {
        let mut cutter = BlockCutter::new(cfg);
        let mut cut = Vec::new();
        for &(id, size) in input {
            cut.extend(cutter.ordered(id, size));
        }
        let expected: Vec<Vec<u32>> = batches.iter().map(|b| b.to_vec()).collect();
        assert_eq!(cut, expected);
        assert_eq!(cutter.has_pending(), !pending.is_empty());
        assert_eq!(cutter.cut(), pending.to_vec());
        assert!(!cutter.has_pending());
    }

    #[test]
    fn cuts_at_max_message_count() {
        check(
            config(3, 100),
            &[(1, 10), (2, 10), (3, 10), (4, 10)],
            &[&[1, 2, 3]],
            &[4],
        );
    }

    #[test]
    fn preferred_bytes_overflow_cuts_the_pending_batch_first() {
        check(
            config(10, 100),
            &[(1, 40), (2, 40), (3, 40)],
            &[&[1, 2]],
            &[3],
        );
        // Exactly at the preferred size stays in one batch.
        check(config(10, 100), &[(1, 50), (2, 50)], &[], &[1, 2]);
    }

    #[test]
    fn oversized_envelope_gets_its_own_block() {
        check(
            config(10, 100),
            &[(1, 10), (2, 150), (3, 10)],
            &[&[1], &[2]],
            &[3],
        );
        check(config(10, 100), &[(1, 150)], &[&[1]], &[]);
    }

    #[test]
    fn count_of_one_cuts_every_envelope() {
        check(config(1, 100), &[(1, 1), (2, 1)], &[&[1], &[2]], &[]);
    }

    #[test]
    fn validate_names_the_broken_limit() {
        assert!(BatchConfig::default().validate().is_ok());
        let err = config(0, 10).validate().unwrap_err();
        assert!(err.contains("MaxMessageCount"), "{err}");
        let err = config(1, 2000).validate().unwrap_err();
        assert!(err.contains("PreferredMaxBytes"), "{err}");
    }
}
