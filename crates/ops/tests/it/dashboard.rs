//! The Grafana dashboard shipped in `deploy/grafana/cambium.json` only queries series that
//! [`Metrics`] exports.

use std::collections::BTreeSet;

use cambium_ops::metrics::RaftState;
use cambium_ops::{EndorsementResult, Metrics};

/// Every series name in `/metrics` output once one value of each metric is recorded.
fn exported_series() -> BTreeSet<String> {
    let m = Metrics::new();
    m.set_height("c", 1);
    m.record_transaction("c", "VALID");
    m.observe_block_commit("c", 0.1);
    m.observe_endorsement("c", "kv", "success", 0.1);
    m.record_invocation("c", "kv", "1.0");
    m.record_contract_transaction("c", "kv", "1.0", "VALID");
    m.contract_version("c", "kv", "1.0")
        .record(EndorsementResult::Ok, 0.001);
    m.record_deliver_block("c", false);
    m.record_broadcast("c", "ENDORSER_TRANSACTION", "SUCCESS");
    m.record_gateway_request("Submit", "OK");
    m.set_raft("c", RaftState::default());
    m.encode()
        .lines()
        .filter(|l| !l.starts_with('#'))
        .filter_map(|l| l.split(['{', ' ']).next())
        .map(str::to_owned)
        .collect()
}

/// The `cambium_…` names in a PromQL expression.
fn referenced(expr: &str) -> Vec<String> {
    let mut names = Vec::new();
    let mut rest = expr;
    while let Some(at) = rest.find("cambium_") {
        let tail = &rest[at..];
        let end = tail
            .find(|c: char| !(c.is_ascii_alphanumeric() || c == '_'))
            .unwrap_or(tail.len());
        names.push(tail[..end].to_owned());
        rest = &tail[end..];
    }
    names
}

fn dashboard() -> serde_json::Value {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/grafana/cambium.json"
    );
    let text = std::fs::read_to_string(path).expect("the dashboard is in the repository");
    serde_json::from_str(&text).expect("valid JSON")
}

#[test]
fn every_dashboard_query_names_an_exported_series() {
    let dashboard = dashboard();
    let exported = exported_series();
    let mut checked = 0;
    for panel in dashboard["panels"].as_array().expect("panels") {
        for target in panel["targets"].as_array().into_iter().flatten() {
            let expr = target["expr"].as_str().expect("a PromQL expression");
            for name in referenced(expr) {
                assert!(
                    exported.contains(&name),
                    "panel '{}' queries {name}, which Metrics does not export ({exported:?})",
                    panel["title"]
                );
                checked += 1;
            }
        }
    }
    assert!(checked >= 15, "only {checked} series references checked");
}

#[test]
fn contract_versions_have_endorsement_latency_and_error_rate_panels() {
    let dashboard = dashboard();
    let panels = dashboard["panels"].as_array().expect("panels");
    let queries = |title: &str| -> String {
        let panel = panels
            .iter()
            .find(|p| p["title"] == title)
            .unwrap_or_else(|| panic!("no panel '{title}'"));
        panel["targets"]
            .as_array()
            .expect("targets")
            .iter()
            .map(|t| t["expr"].as_str().expect("expr").to_owned())
            .collect::<Vec<_>>()
            .join("\n")
    };
    let endorsements = queries("Endorsements by contract version and result");
    assert!(endorsements.contains("cambium_contract_endorsements_total"));
    assert!(endorsements.contains("sum by (contract, version, result)"));
    let latency = queries("Simulation latency by contract version");
    assert!(latency.contains("cambium_contract_endorsement_duration_seconds_bucket"));
    assert!(latency.contains("histogram_quantile(0.99"));
    let rate = queries("Error rate by contract version (the rollout brake's, 5m)");
    for needle in [
        "result!=\"ok\"",
        "result=\"ok\"",
        "validation_code!=\"VALID\"",
        "cambium_contract_transactions_total",
    ] {
        assert!(rate.contains(needle), "{needle} in {rate}");
    }
    assert_eq!(
        rate.matches('(').count(),
        rate.matches(')').count(),
        "{rate}"
    );

    // Panel IDs are unique and no two panels overlap on the grid.
    let mut ids: Vec<i64> = panels
        .iter()
        .map(|p| p["id"].as_i64().expect("id"))
        .collect();
    ids.sort_unstable();
    ids.dedup();
    assert_eq!(ids.len(), panels.len(), "duplicate panel ids");
    let rect = |p: &serde_json::Value| {
        let g = &p["gridPos"];
        let n = |k: &str| g[k].as_i64().expect("gridPos");
        (n("x"), n("y"), n("x") + n("w"), n("y") + n("h"))
    };
    for (i, a) in panels.iter().enumerate() {
        for b in &panels[i + 1..] {
            let (ax0, ay0, ax1, ay1) = rect(a);
            let (bx0, by0, bx1, by1) = rect(b);
            let overlap = ax0 < bx1 && bx0 < ax1 && ay0 < by1 && by0 < ay1;
            assert!(!overlap, "'{}' overlaps '{}'", a["title"], b["title"]);
        }
    }
}
