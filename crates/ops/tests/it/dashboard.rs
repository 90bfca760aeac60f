//! The Grafana dashboard shipped in `deploy/grafana/cambium.json` only queries series that
//! [`Metrics`] exports.

use std::collections::BTreeSet;

use cambium_ops::metrics::RaftState;
use cambium_ops::Metrics;

/// Every series name in `/metrics` output once one value of each metric is recorded.
fn exported_series() -> BTreeSet<String> {
    let m = Metrics::new();
    m.set_height("c", 1);
    m.record_transaction("c", "VALID");
    m.observe_block_commit("c", 0.1);
    m.observe_endorsement("c", "kv", "success", 0.1);
    m.record_invocation("c", "kv", "1.0");
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

#[test]
fn every_dashboard_query_names_an_exported_series() {
    let path = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../../deploy/grafana/cambium.json"
    );
    let text = std::fs::read_to_string(path).expect("the dashboard is in the repository");
    let dashboard: serde_json::Value = serde_json::from_str(&text).expect("valid JSON");
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
