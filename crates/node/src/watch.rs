//! `cambium contract rollout watch NAME --metrics URL --max-error-rate R`: an automated brake
//! for a canary, in the manner of Argo Rollouts' analysis runs.
//!
//! It scrapes the peers' operations endpoints (`/metrics`) for
//! `cambium_contract_transactions_total{contract, version, validation_code}`: every committed
//! transaction, counted by the version that endorsed it. Each interval it takes the increase of
//! the rollout's new version since the watch started; once that reaches a minimum number of
//! transactions and the share not committed `VALID` exceeds the limit, it submits
//! `AbortRollout`, which sends all traffic back to the previous version from the next block.
//! It stops by itself when the rollout is promoted or aborted by someone else.

use std::collections::BTreeMap;
use std::time::Duration;

use serde::Serialize;
use tokio::io::{AsyncReadExt, AsyncWriteExt};

use crate::admin::{Admin, Committed};
use crate::error::{NodeError, Result};
use crate::upgrade::{self, RolloutState, RolloutStep};

/// The metric the watch reads.
pub const CONTRACT_TRANSACTIONS: &str = "cambium_contract_transactions_total";

/// How long one scrape may take.
const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

/// Committed transactions of one contract version.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VersionCounts {
    /// Committed `VALID`.
    pub valid: u64,
    /// Committed with any other validation code.
    pub invalid: u64,
}

impl VersionCounts {
    /// All committed transactions.
    pub fn total(&self) -> u64 {
        self.valid + self.invalid
    }

    /// The share not `VALID`, 0 when there are none.
    pub fn error_rate(&self) -> f64 {
        if self.total() == 0 {
            0.0
        } else {
            self.invalid as f64 / self.total() as f64
        }
    }

    /// The increase from `earlier` to `self` (counters only grow; a restarted peer resets
    /// them, in which case the current value is the increase).
    pub fn since(&self, earlier: &VersionCounts) -> VersionCounts {
        if self.valid < earlier.valid || self.invalid < earlier.invalid {
            return *self;
        }
        VersionCounts {
            valid: self.valid - earlier.valid,
            invalid: self.invalid - earlier.invalid,
        }
    }
}

/// Parses one Prometheus/OpenMetrics sample line `name{k="v",…} value`; `None` for comments
/// and lines that are not samples.
fn sample(line: &str) -> Option<(&str, BTreeMap<String, String>, f64)> {
    if line.starts_with('#') || line.is_empty() {
        return None;
    }
    let (name, rest) = match line.find('{') {
        Some(i) => (&line[..i], &line[i + 1..]),
        None => {
            let (name, value) = line.split_once(' ')?;
            return Some((name, BTreeMap::new(), value.trim().parse().ok()?));
        }
    };
    let mut labels = BTreeMap::new();
    let mut chars = rest.char_indices().peekable();
    loop {
        // label name up to '='
        let start = chars.peek()?.0;
        let mut eq = None;
        for (i, c) in chars.by_ref() {
            if c == '=' {
                eq = Some(i);
                break;
            }
            if c == '}' {
                // `{}` or a trailing comma
                let value = rest[i + 1..].trim().split(' ').next()?.parse().ok()?;
                return Some((name, labels, value));
            }
        }
        let key = rest[start..eq?].trim_start_matches(',').trim().to_owned();
        if chars.next()?.1 != '"' {
            return None;
        }
        let mut value = String::new();
        loop {
            let (_, c) = chars.next()?;
            match c {
                '\\' => match chars.next()?.1 {
                    'n' => value.push('\n'),
                    other => value.push(other),
                },
                '"' => break,
                other => value.push(other),
            }
        }
        labels.insert(key, value);
        match chars.next()? {
            (_, ',') => continue,
            (i, '}') => {
                let value = rest[i + 1..].trim().split(' ').next()?.parse().ok()?;
                return Some((name, labels, value));
            }
            _ => return None,
        }
    }
}

/// The committed transactions of `contract` on `channel` by endorsing version, from a
/// `/metrics` text.
pub fn contract_counts(
    text: &str,
    channel: &str,
    contract: &str,
) -> BTreeMap<String, VersionCounts> {
    let mut out: BTreeMap<String, VersionCounts> = BTreeMap::new();
    for (name, labels, value) in text.lines().filter_map(sample) {
        if name != CONTRACT_TRANSACTIONS
            || labels.get("channel").map(String::as_str) != Some(channel)
            || labels.get("contract").map(String::as_str) != Some(contract)
        {
            continue;
        }
        let (Some(version), Some(code)) = (labels.get("version"), labels.get("validation_code"))
        else {
            continue;
        };
        let counts = out.entry(version.clone()).or_default();
        let n = value.max(0.0) as u64;
        if code == "VALID" {
            counts.valid += n;
        } else {
            counts.invalid += n;
        }
    }
    out
}

/// `GET path` from a plain-HTTP operations endpoint `http://host:port`; the body.
pub async fn http_get(url: &str, path: &str) -> Result<String> {
    let bad = |reason: String| NodeError::Connect {
        endpoint: url.to_owned(),
        reason,
    };
    let address = url.strip_prefix("http://").ok_or_else(|| {
        bad(
            "only plain-HTTP operations endpoints can be scraped (http://HOST:PORT); for a \
             TLS one, scrape it with Prometheus and watch there"
                .to_owned(),
        )
    })?;
    let address = address.trim_end_matches('/');
    let work = async {
        let mut stream = tokio::net::TcpStream::connect(address)
            .await
            .map_err(|e| bad(format!("cannot connect: {e}")))?;
        let request =
            format!("GET {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\n\r\n");
        stream
            .write_all(request.as_bytes())
            .await
            .map_err(|e| bad(format!("cannot send the request: {e}")))?;
        let mut response = Vec::new();
        stream
            .read_to_end(&mut response)
            .await
            .map_err(|e| bad(format!("cannot read the answer: {e}")))?;
        let text = String::from_utf8_lossy(&response).into_owned();
        let (head, body) = text
            .split_once("\r\n\r\n")
            .ok_or_else(|| bad("the answer is not HTTP".to_owned()))?;
        let status = head.lines().next().unwrap_or_default();
        if !status.contains(" 200") {
            return Err(bad(format!("GET {path} answered '{status}'")));
        }
        let chunked = head.lines().any(|l| {
            l.to_ascii_lowercase()
                .starts_with("transfer-encoding: chunked")
        });
        Ok(if chunked {
            dechunk(body)
        } else {
            body.to_owned()
        })
    };
    tokio::time::timeout(SCRAPE_TIMEOUT, work)
        .await
        .map_err(|_| bad(format!("no answer to GET {path} within {SCRAPE_TIMEOUT:?}")))?
}

/// The payload of an HTTP/1.1 chunked body.
fn dechunk(body: &str) -> String {
    let mut out = String::new();
    let mut rest = body;
    while let Some((size, after)) = rest.split_once("\r\n") {
        let Ok(size) = usize::from_str_radix(size.split(';').next().unwrap_or("").trim(), 16)
        else {
            break;
        };
        if size == 0 || after.len() < size {
            break;
        }
        out.push_str(&after[..size]);
        rest = after[size..].trim_start_matches("\r\n");
    }
    out
}

/// The new version's counts summed over every endpoint's `/metrics`.
pub async fn scrape_version(
    urls: &[String],
    channel: &str,
    contract: &str,
    version: &str,
) -> Result<VersionCounts> {
    let mut sum = VersionCounts::default();
    for url in urls {
        let text = http_get(url, "/metrics").await?;
        if let Some(c) = contract_counts(&text, channel, contract).get(version) {
            sum.valid += c.valid;
            sum.invalid += c.invalid;
        }
    }
    Ok(sum)
}

/// What the brake decides after a scrape.
#[derive(Clone, Copy, Debug, PartialEq)]
pub enum Verdict {
    /// Too few transactions of the new version yet to judge.
    Waiting,
    /// The error rate is within the limit.
    Healthy(f64),
    /// Over the limit: abort.
    Abort(f64),
}

/// The decision for `window` (the new version's transactions since the watch began).
pub fn judge(window: &VersionCounts, max_error_rate: f64, min_transactions: u64) -> Verdict {
    if window.total() < min_transactions.max(1) {
        return Verdict::Waiting;
    }
    let rate = window.error_rate();
    if rate > max_error_rate {
        Verdict::Abort(rate)
    } else {
        Verdict::Healthy(rate)
    }
}

/// How to watch.
#[derive(Clone, Debug)]
pub struct WatchOptions {
    /// The peers' operations endpoints (`http://host:port`).
    pub metrics: Vec<String>,
    /// Time between scrapes.
    pub interval: Duration,
    /// The highest tolerated share of the new version's transactions not committed VALID.
    pub max_error_rate: f64,
    /// Transactions of the new version needed before judging.
    pub min_transactions: u64,
    /// Stop watching after this long (`None`: until the rollout ends).
    pub timeout: Option<Duration>,
}

/// One scrape, for a progress display.
#[derive(Clone, Debug, PartialEq, Serialize)]
pub struct Tick {
    /// The new version being watched.
    pub version: String,
    /// Its transactions since the watch began.
    pub window: VersionCounts,
    /// Its error rate over them.
    pub error_rate: f64,
}

/// How a watch ended.
#[derive(Clone, Debug, PartialEq, Serialize)]
#[serde(tag = "outcome", rename_all = "snake_case")]
pub enum WatchEnd {
    /// The brake fired: `AbortRollout` committed.
    Aborted {
        /// The error rate that fired it.
        error_rate: f64,
        /// The new version's transactions it was judged on.
        window: VersionCounts,
        /// The abort transaction.
        commit: Committed,
    },
    /// The rollout ended (promoted, aborted by someone, or none in progress).
    Ended {
        /// Its state, or `NONE` when the contract has no rollout.
        state: String,
    },
    /// The timeout passed with the canary healthy.
    TimedOut {
        /// The new version's transactions seen.
        window: VersionCounts,
    },
}

/// Watches the rollout of `name` as `admin` (asking `peer`), calling `on_tick` after each
/// scrape, and aborts it when its error rate exceeds the limit; see the module docs.
pub async fn watch(
    admin: &Admin,
    peer: &str,
    name: &str,
    options: &WatchOptions,
    on_tick: &(dyn Fn(&Tick) + Sync),
) -> Result<WatchEnd> {
    if !(0.0..=1.0).contains(&options.max_error_rate) {
        return Err(NodeError::Rejected(format!(
            "--max-error-rate {} must be between 0 and 1 (e.g. 0.05 for 5%)",
            options.max_error_rate
        )));
    }
    if options.metrics.is_empty() {
        return Err(NodeError::Rejected(
            "give at least one peer operations endpoint with --metrics http://HOST:PORT".into(),
        ));
    }
    let started = tokio::time::Instant::now();
    let mut baseline: Option<(String, VersionCounts)> = None;
    loop {
        let status = admin.query_rollout(peer, name).await?;
        let state = status.plan.as_ref().map(|p| p.state);
        match state {
            Some(RolloutState::Active) | Some(RolloutState::Paused) => {}
            other => {
                return Ok(WatchEnd::Ended {
                    state: other.map_or("NONE", |s| s.name()).to_owned(),
                })
            }
        }
        let version = status.version.clone();
        let now = scrape_version(&options.metrics, &admin.channel_id, name, &version).await?;
        let start = match &baseline {
            // A new rollout (another version) starts a new window.
            Some((v, counts)) if *v == version => *counts,
            _ => {
                baseline = Some((version.clone(), now));
                now
            }
        };
        let window = now.since(&start);
        on_tick(&Tick {
            version: version.clone(),
            window,
            error_rate: window.error_rate(),
        });
        if let Verdict::Abort(error_rate) =
            judge(&window, options.max_error_rate, options.min_transactions)
        {
            let outcome = upgrade::rollout(admin, peer, name, &RolloutStep::Abort).await?;
            let commit = outcome.commit.ok_or_else(|| {
                NodeError::Rejected("AbortRollout returned no transaction".to_owned())
            })?;
            return Ok(WatchEnd::Aborted {
                error_rate,
                window,
                commit,
            });
        }
        if options.timeout.is_some_and(|t| started.elapsed() >= t) {
            return Ok(WatchEnd::TimedOut { window });
        }
        tokio::time::sleep(options.interval).await;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const TEXT: &str = r#"# HELP cambium_contract_transactions Transactions committed
# TYPE cambium_contract_transactions counter
cambium_contract_transactions_total{channel="mychannel",contract="basic",version="1.0",validation_code="VALID"} 90
cambium_contract_transactions_total{channel="mychannel",contract="basic",version="2.0",validation_code="VALID"} 8
cambium_contract_transactions_total{channel="mychannel",contract="basic",version="2.0",validation_code="MVCC_READ_CONFLICT"} 2
cambium_contract_transactions_total{channel="other",contract="basic",version="2.0",validation_code="VALID"} 1000
cambium_contract_transactions_total{channel="mychannel",contract="kv",version="2.0",validation_code="VALID"} 7
cambium_ledger_height{channel="mychannel"} 12
# EOF
"#;

    #[test]
    fn counts_by_version_for_one_contract_and_channel() {
        let counts = contract_counts(TEXT, "mychannel", "basic");
        assert_eq!(
            counts["1.0"],
            VersionCounts {
                valid: 90,
                invalid: 0
            }
        );
        assert_eq!(
            counts["2.0"],
            VersionCounts {
                valid: 8,
                invalid: 2
            }
        );
        assert_eq!(counts.len(), 2);
        assert!((counts["2.0"].error_rate() - 0.2).abs() < 1e-9);
    }

    #[test]
    fn label_values_may_hold_escapes_and_commas() {
        let (name, labels, value) = sample(r#"m_total{a="x,\"y\"",b="z\\w"} 3"#).expect("a sample");
        assert_eq!(name, "m_total");
        assert_eq!(labels["a"], r#"x,"y""#);
        assert_eq!(labels["b"], r"z\w");
        assert_eq!(value, 3.0);
        assert_eq!(sample("plain 5").unwrap().2, 5.0);
        assert!(sample("# TYPE x counter").is_none());
    }

    #[test]
    fn the_brake_waits_then_judges_the_window() {
        let start = VersionCounts {
            valid: 100,
            invalid: 1,
        };
        let now = VersionCounts {
            valid: 108,
            invalid: 4,
        };
        let window = now.since(&start);
        assert_eq!(
            window,
            VersionCounts {
                valid: 8,
                invalid: 3
            }
        );
        assert_eq!(judge(&window, 0.1, 20), Verdict::Waiting);
        assert!(matches!(judge(&window, 0.1, 10), Verdict::Abort(r) if r > 0.27));
        assert!(matches!(judge(&window, 0.5, 10), Verdict::Healthy(_)));
        // A restarted peer starts from zero: the current counts are the increase.
        let reset = VersionCounts {
            valid: 2,
            invalid: 0,
        };
        assert_eq!(reset.since(&start), reset);
    }

    #[test]
    fn chunked_bodies_are_joined() {
        assert_eq!(
            dechunk("5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n"),
            "hello world"
        );
    }
}
