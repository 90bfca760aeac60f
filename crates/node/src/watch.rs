//! `cambium contract rollout watch NAME --metrics URL --max-error-rate R`: an automated brake
//! for a canary, in the manner of Argo Rollouts' analysis runs.
//!
//! It scrapes the peers' operations endpoints (`/metrics`) for two series of the rollout's
//! new version, summed over the endpoints:
//!
//! - `cambium_contract_endorsements_total{channel, contract, version, result}`: proposals the
//!   peers simulated with that version, by result: `ok` (**endorsed**), `contract_error` (the
//!   contract answered a status of 400 or more) and `failed` (trap, fuel, host limit, or a
//!   refusal after routing such as a called contract being frozen);
//! - `cambium_contract_transactions_total{channel, contract, version, validation_code}`:
//!   transactions committed, by the version that endorsed them: **valid** (`VALID`) and
//!   **invalid** (any other code).
//!
//! Each interval it takes the increase of these counts since the watch started (the window)
//! and computes the **error rate**:
//!
//! ```text
//!                     contract_errors + failed + invalid
//! error rate = ---------------------------------------------------------
//!              contract_errors + failed + max(endorsed, valid + invalid)
//! ```
//!
//! The denominator ([`VersionCounts::total`]) is every attempt the new version handled: the
//! proposals it answered with an error or failed, plus the ones it endorsed — or, where more
//! transactions committed than the scraped peers endorsed (endorsed by peers that are not
//! scraped, or committed on more peers than endorsed them), the committed ones. A proposal that
//! is endorsed and then commits invalid is one attempt and one error, so the rate stays between
//! 0 and 1. Once the window holds `--min-transactions` attempts and the rate exceeds
//! `--max-error-rate`, the watch submits `AbortRollout`, which sends all traffic back to the
//! previous version from the next block. It stops by itself when the rollout is promoted or
//! aborted by someone else.
//!
//! Options are checked before anything is sent ([`check_options`]: a rate within 0–1, an
//! interval above zero, `http://HOST:PORT` endpoints), and every endpoint is read once before
//! the first look at the rollout, so a wrong `--metrics` fails at once with the endpoint named.
//! Endpoints are read with `cambium_ops::client` (hyper's HTTP/1.1 client).

use std::collections::BTreeMap;
use std::time::Duration;

use cambium_peer::cambium_ops::client;
use serde::Serialize;

use crate::admin::{Admin, Committed};
use crate::error::{NodeError, Result};
use crate::upgrade::{self, RolloutState, RolloutStep};

/// The committed transactions the watch reads.
pub const CONTRACT_TRANSACTIONS: &str = "cambium_contract_transactions_total";

/// The endorsements the watch reads.
pub const CONTRACT_ENDORSEMENTS: &str = "cambium_contract_endorsements_total";

/// Endorsements and committed transactions of one contract version (see the module docs for
/// how the error rate is computed from them).
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, Serialize)]
pub struct VersionCounts {
    /// Committed `VALID`.
    pub valid: u64,
    /// Committed with any other validation code.
    pub invalid: u64,
    /// Proposals endorsed (result `ok`).
    pub endorsed: u64,
    /// Proposals the contract answered with a status of 400 or more (`contract_error`).
    pub contract_errors: u64,
    /// Proposals whose simulation failed (`failed`: trap, fuel, limit, refusal).
    pub failed: u64,
}

impl VersionCounts {
    /// The attempts the version handled, the error rate's denominator:
    /// `contract_errors + failed + max(endorsed, valid + invalid)`.
    pub fn total(&self) -> u64 {
        self.contract_errors + self.failed + self.endorsed.max(self.valid + self.invalid)
    }

    /// The attempts that went wrong: `contract_errors + failed + invalid`.
    pub fn errors(&self) -> u64 {
        self.contract_errors + self.failed + self.invalid
    }

    /// `errors / total`, 0 when there are no attempts; never above 1.
    pub fn error_rate(&self) -> f64 {
        if self.total() == 0 {
            0.0
        } else {
            self.errors() as f64 / self.total() as f64
        }
    }

    /// The increase from `earlier` to `self` (counters only grow; a restarted peer resets
    /// them, in which case the current value is the increase).
    pub fn since(&self, earlier: &VersionCounts) -> VersionCounts {
        let fields =
            |c: &VersionCounts| [c.valid, c.invalid, c.endorsed, c.contract_errors, c.failed];
        if fields(self)
            .iter()
            .zip(fields(earlier))
            .any(|(now, then)| *now < then)
        {
            return *self;
        }
        VersionCounts {
            valid: self.valid - earlier.valid,
            invalid: self.invalid - earlier.invalid,
            endorsed: self.endorsed - earlier.endorsed,
            contract_errors: self.contract_errors - earlier.contract_errors,
            failed: self.failed - earlier.failed,
        }
    }

    fn add(&mut self, other: &VersionCounts) {
        self.valid += other.valid;
        self.invalid += other.invalid;
        self.endorsed += other.endorsed;
        self.contract_errors += other.contract_errors;
        self.failed += other.failed;
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

/// The endorsements and committed transactions of `contract` on `channel` by version, from
/// a `/metrics` text.
pub fn contract_counts(
    text: &str,
    channel: &str,
    contract: &str,
) -> BTreeMap<String, VersionCounts> {
    let mut out: BTreeMap<String, VersionCounts> = BTreeMap::new();
    for (name, labels, value) in text.lines().filter_map(sample) {
        if (name != CONTRACT_TRANSACTIONS && name != CONTRACT_ENDORSEMENTS)
            || labels.get("channel").map(String::as_str) != Some(channel)
            || labels.get("contract").map(String::as_str) != Some(contract)
        {
            continue;
        }
        let Some(version) = labels.get("version") else {
            continue;
        };
        let n = value.max(0.0) as u64;
        let field: fn(&mut VersionCounts) -> &mut u64 = if name == CONTRACT_TRANSACTIONS {
            match labels.get("validation_code").map(String::as_str) {
                Some("VALID") => |c: &mut VersionCounts| &mut c.valid,
                Some(_) => |c: &mut VersionCounts| &mut c.invalid,
                None => continue,
            }
        } else {
            match labels.get("result").map(String::as_str) {
                Some("ok") => |c: &mut VersionCounts| &mut c.endorsed,
                Some("contract_error") => |c: &mut VersionCounts| &mut c.contract_errors,
                Some("failed") => |c: &mut VersionCounts| &mut c.failed,
                _ => continue,
            }
        };
        *field(out.entry(version.clone()).or_default()) += n;
    }
    out
}

/// How long one scrape may take.
pub const SCRAPE_TIMEOUT: Duration = Duration::from_secs(5);

/// `GET path` from a plain-HTTP operations endpoint `http://host:port`; the body.
pub async fn http_get(url: &str, path: &str) -> Result<String> {
    client::get(url, path, SCRAPE_TIMEOUT)
        .await
        .map_err(|e| NodeError::Rejected(format!("--metrics {url}: {e}")))
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
            sum.add(c);
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
    /// The highest tolerated error rate of the new version, 0–1 (see the module docs).
    pub max_error_rate: f64,
    /// Attempts of the new version ([`VersionCounts::total`]) needed before judging.
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

/// Checks watch options before anything is sent: the error rate within 0–1, an interval above
/// zero, at least one endpoint, each written `http://HOST:PORT`. Each refusal names the flag and
/// what to write instead.
pub fn check_options(options: &WatchOptions) -> Result<()> {
    if !(0.0..=1.0).contains(&options.max_error_rate) {
        return Err(NodeError::Rejected(format!(
            "--max-error-rate {} must be between 0 and 1 (e.g. 0.05 for 5%)",
            options.max_error_rate
        )));
    }
    if options.interval.is_zero() {
        return Err(NodeError::Rejected(
            "--interval must be above 0 seconds (e.g. 5): it is the time between scrapes".into(),
        ));
    }
    if options.metrics.is_empty() {
        return Err(NodeError::Rejected(
            "give each peer's operations endpoint with --metrics http://HOST:PORT (they are found by themselves from a `cambium up` --data-dir, or from the prometheus.yml beside a --profile that `network generate` wrote; a connection profile does not list them)".into(),
        ));
    }
    for url in &options.metrics {
        client::authority(url).map_err(|e| NodeError::Rejected(format!("--metrics {url}: {e}")))?;
    }
    Ok(())
}

/// A duration flag given in seconds (`--interval`, `--timeout`): refuses a negative, zero or
/// non-finite value, naming the flag.
pub fn seconds_flag(flag: &str, seconds: f64) -> Result<Duration> {
    if !seconds.is_finite() || seconds <= 0.0 {
        return Err(NodeError::Rejected(format!(
            "{flag} {seconds} must be a number of seconds above 0 (e.g. 5 or 0.5)"
        )));
    }
    Duration::try_from_secs_f64(seconds)
        .map_err(|e| NodeError::Rejected(format!("{flag} {seconds}: {e}")))
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
    check_options(options)?;
    for url in &options.metrics {
        http_get(url, "/metrics").await?;
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
# TYPE cambium_contract_endorsements counter
cambium_contract_endorsements_total{channel="mychannel",contract="basic",version="2.0",result="ok"} 10
cambium_contract_endorsements_total{channel="mychannel",contract="basic",version="2.0",result="contract_error"} 3
cambium_contract_endorsements_total{channel="mychannel",contract="basic",version="2.0",result="failed"} 1
cambium_contract_endorsements_total{channel="mychannel",contract="basic",version="1.0",result="ok"} 90
cambium_contract_endorsements_total{channel="other",contract="basic",version="2.0",result="failed"} 50
cambium_contract_endorsement_duration_seconds_count{channel="mychannel",contract="basic",version="2.0"} 14
cambium_ledger_height{channel="mychannel"} 12
# EOF
"#;

    fn counts(
        valid: u64,
        invalid: u64,
        endorsed: u64,
        contract_errors: u64,
        failed: u64,
    ) -> VersionCounts {
        VersionCounts {
            valid,
            invalid,
            endorsed,
            contract_errors,
            failed,
        }
    }

    #[test]
    fn counts_by_version_for_one_contract_and_channel() {
        let counts = contract_counts(TEXT, "mychannel", "basic");
        assert_eq!(counts["1.0"], self::counts(90, 0, 90, 0, 0));
        assert_eq!(counts["2.0"], self::counts(8, 2, 10, 3, 1));
        assert_eq!(counts.len(), 2);
        // (3 contract errors + 1 failed + 2 invalid) / (3 + 1 + max(10 endorsed, 10 committed))
        assert!((counts["2.0"].error_rate() - 6.0 / 14.0).abs() < 1e-9);
        assert_eq!(counts["2.0"].total(), 14);
        assert_eq!(counts["2.0"].errors(), 6);
    }

    #[test]
    fn the_error_rate_counts_each_attempt_once_and_stays_within_one() {
        let check = |c: VersionCounts, errors: u64, total: u64| {
            assert_eq!((c.errors(), c.total()), (errors, total), "{c:?}");
            assert!((0.0..=1.0).contains(&c.error_rate()));
        };
        // Endorsed by both scraped peers and committed on both: each counted twice, alike.
        check(counts(2, 2, 4, 0, 0), 2, 4);
        // Endorsed but not committed yet (or evaluated only): attempts without errors.
        check(counts(0, 0, 5, 0, 0), 0, 5);
        // Committed on more peers than endorsed them: the commits are the attempts.
        check(counts(3, 3, 2, 0, 0), 3, 6);
        // Refused by the contract or failed: errors without commits.
        check(counts(0, 0, 0, 4, 1), 5, 5);
        check(VersionCounts::default(), 0, 0);
        assert_eq!(VersionCounts::default().error_rate(), 0.0);
        // All invalid and never seen endorsed: a rate of exactly 1.
        assert_eq!(counts(0, 7, 0, 0, 0).error_rate(), 1.0);
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
        let start = counts(100, 1, 101, 5, 0);
        let now = counts(108, 4, 112, 7, 1);
        let window = now.since(&start);
        assert_eq!(window, counts(8, 3, 11, 2, 1));
        // errors 2 + 1 + 3 = 6 of 2 + 1 + max(11, 11) = 14 attempts
        assert_eq!(judge(&window, 0.1, 20), Verdict::Waiting);
        assert!(
            matches!(judge(&window, 0.1, 10), Verdict::Abort(r) if (r - 6.0 / 14.0).abs() < 1e-9)
        );
        assert!(matches!(judge(&window, 0.5, 10), Verdict::Healthy(_)));
        // Contract errors alone fire the brake, with nothing committed.
        let refusing = counts(0, 0, 1, 9, 0);
        assert!(matches!(judge(&refusing, 0.5, 5), Verdict::Abort(r) if r == 0.9));
        // A restarted peer starts from zero: the current counts are the increase.
        let reset = counts(2, 0, 2, 0, 0);
        assert_eq!(reset.since(&start), reset);
    }

    fn options(edit: impl FnOnce(&mut WatchOptions)) -> WatchOptions {
        let mut o = WatchOptions {
            metrics: vec!["http://127.0.0.1:9443".into()],
            interval: Duration::from_secs(5),
            max_error_rate: 0.05,
            min_transactions: 20,
            timeout: None,
        };
        edit(&mut o);
        o
    }

    #[test]
    fn bad_options_are_refused_naming_the_flag() {
        assert!(check_options(&options(|_| {})).is_ok());
        let refused = |o: WatchOptions| check_options(&o).unwrap_err().to_string();
        for rate in [-0.1, 1.5, f64::NAN] {
            let e = refused(options(|o| o.max_error_rate = rate));
            assert!(
                e.contains("--max-error-rate") && e.contains("between 0 and 1"),
                "{e}"
            );
        }
        let e = refused(options(|o| o.interval = Duration::ZERO));
        assert!(e.contains("--interval must be above 0"), "{e}");
        let e = refused(options(|o| o.metrics.clear()));
        assert!(e.contains("--metrics http://HOST:PORT"), "{e}");
        let e = refused(options(|o| o.metrics.push("127.0.0.1:9443".into())));
        assert!(
            e.contains("--metrics 127.0.0.1:9443") && e.contains("http://HOST:PORT"),
            "{e}"
        );
        let e = refused(options(|o| o.metrics = vec!["https://peer0:9443".into()]));
        assert!(e.contains("plain-HTTP"), "{e}");
    }

    #[test]
    fn seconds_flags_must_be_positive_numbers() {
        assert_eq!(
            seconds_flag("--interval", 0.5).unwrap(),
            Duration::from_millis(500)
        );
        for bad in [0.0, -1.0, f64::NAN, f64::INFINITY] {
            let e = seconds_flag("--interval", bad).unwrap_err().to_string();
            assert!(e.starts_with("--interval") && e.contains("above 0"), "{e}");
        }
    }
}
