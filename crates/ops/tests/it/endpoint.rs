//! The endpoint's four resources.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use cambium_ops::{serve, LogControl, Operations, OpsConfig};
use tracing_subscriber::layer::SubscriberExt;

use crate::request;

#[tokio::test]
async fn healthz_is_ok_then_503_with_reasons_then_ok_again() {
    let ops = Arc::new(Operations::new());
    let broken = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&broken);
    ops.health.register_fn("ledger:ch", move || {
        if flag.load(Ordering::SeqCst) {
            Err("block 5 cannot be read".to_owned())
        } else {
            Ok(())
        }
    });
    ops.health.register_fn("orderer", || Ok(()));
    let server = serve(&OpsConfig::new("127.0.0.1:0"), Arc::clone(&ops))
        .await
        .unwrap();
    let addr = server.local_addr();

    let (status, body) = request(addr, "GET", "/healthz", "").await;
    assert_eq!(status, 200, "{body}");
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "OK");
    assert!(json["time"].as_str().unwrap().ends_with('Z'));
    assert!(json.get("failed_checks").is_none());

    broken.store(true, Ordering::SeqCst);
    let (status, body) = request(addr, "GET", "/healthz", "").await;
    assert_eq!(status, 503);
    assert!(
        body.starts_with(r#"{"status":"Service Unavailable","time":""#),
        "{body}"
    );
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["status"], "Service Unavailable");
    assert_eq!(
        json["failed_checks"],
        serde_json::json!([{"component": "ledger:ch", "reason": "block 5 cannot be read"}])
    );

    broken.store(false, Ordering::SeqCst);
    assert_eq!(request(addr, "GET", "/healthz", "").await.0, 200);
    assert_eq!(request(addr, "POST", "/healthz", "").await.0, 405);
    assert_eq!(request(addr, "GET", "/nothing", "").await.0, 404);
    server.shutdown().await;
}

/// Checks every line is a comment, blank, or `name{labels} value` with a number value, and
/// returns the samples.
fn parse_exposition(text: &str) -> Vec<(String, f64)> {
    let mut samples = Vec::new();
    for line in text.lines() {
        if line.is_empty() || line.starts_with('#') {
            continue;
        }
        let (series, value) = line.rsplit_once(' ').expect("a sample has a value");
        let value: f64 = match value {
            "+Inf" => f64::INFINITY,
            v => v.parse().unwrap_or_else(|_| panic!("bad value in {line}")),
        };
        let name_end = series.find('{').unwrap_or(series.len());
        let name = &series[..name_end];
        assert!(
            name.chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '_' || c == ':'),
            "bad metric name in {line}"
        );
        if name_end < series.len() {
            assert!(series.ends_with('}'), "unclosed labels in {line}");
        }
        samples.push((series.to_owned(), value));
    }
    samples
}

#[tokio::test]
async fn metrics_parse_and_name_cambiums_series() {
    let ops = Arc::new(Operations::new());
    ops.metrics.set_height("mychannel", 3);
    ops.metrics.record_transaction("mychannel", "VALID");
    ops.metrics.observe_block_commit("mychannel", 0.02);
    ops.metrics.record_gateway_request("Evaluate", "OK");
    ops.metrics
        .observe_endorsement("mychannel", "kv", "success", 0.001);
    ops.metrics.record_invocation("mychannel", "kv", "1.0");
    ops.metrics
        .record_broadcast("mychannel", "ENDORSER_TRANSACTION", "SUCCESS");
    ops.metrics
        .set_raft("mychannel", cambium_ops::metrics::RaftState::default());
    let server = serve(&OpsConfig::new("127.0.0.1:0"), Arc::clone(&ops))
        .await
        .unwrap();
    let (status, body) = request(server.local_addr(), "GET", "/metrics", "").await;
    assert_eq!(status, 200);
    let samples = parse_exposition(&body);
    let value = |series: &str| {
        samples
            .iter()
            .find(|(s, _)| s == series)
            .map(|(_, v)| *v)
            .unwrap_or_else(|| panic!("no {series} in\n{body}"))
    };
    assert_eq!(value("cambium_ledger_height{channel=\"mychannel\"}"), 3.0);
    assert_eq!(
        value("cambium_ledger_transactions_total{channel=\"mychannel\",validation_code=\"VALID\"}"),
        1.0
    );
    assert_eq!(
        value("cambium_ledger_block_commit_seconds_bucket{le=\"+Inf\",channel=\"mychannel\"}"),
        1.0
    );
    assert_eq!(
        value("cambium_gateway_requests_total{method=\"Evaluate\",code=\"OK\"}"),
        1.0
    );
    for name in [
        "cambium_endorser_proposal_seconds histogram",
        "cambium_contract_invocations counter",
        "cambium_broadcast_processed counter",
        "cambium_raft_term gauge",
        "cambium_raft_commit_index gauge",
    ] {
        assert!(
            body.contains(&format!("# TYPE {name}\n")),
            "{name} in\n{body}"
        );
    }
    server.shutdown().await;
}

#[tokio::test]
async fn version_reports_the_build() {
    let server = serve(&OpsConfig::new("127.0.0.1:0"), Arc::new(Operations::new()))
        .await
        .unwrap();
    let (status, body) = request(server.local_addr(), "GET", "/version", "").await;
    assert_eq!(status, 200);
    let json: serde_json::Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["Version"], env!("CARGO_PKG_VERSION"));
    assert!(!json["CommitSHA"].as_str().unwrap().is_empty());
    server.shutdown().await;
}

#[tokio::test]
async fn logspec_reads_changes_and_refuses_bad_specs() {
    let (layer, control) = LogControl::new("info").unwrap();
    // The control works while its subscriber lives; this one is never installed globally.
    let _subscriber = tracing_subscriber::registry().with(layer);
    let mut ops = Operations::new();
    ops.log = Some(control.clone());
    let server = serve(&OpsConfig::new("127.0.0.1:0"), Arc::new(ops))
        .await
        .unwrap();
    let addr = server.local_addr();

    let (status, body) = request(addr, "GET", "/logspec", "").await;
    assert_eq!((status, body.as_str()), (200, r#"{"spec":"info"}"#));

    let (status, _) = request(
        addr,
        "PUT",
        "/logspec",
        r#"{"spec":"cambium_peer=debug,info"}"#,
    )
    .await;
    assert_eq!(status, 204);
    assert_eq!(control.spec(), "cambium_peer=debug,info");
    let (_, body) = request(addr, "GET", "/logspec", "").await;
    assert_eq!(body, r#"{"spec":"cambium_peer=debug,info"}"#);

    let (status, body) = request(addr, "PUT", "/logspec", r#"{"spec":"info,[oops"}"#).await;
    assert_eq!(status, 400);
    assert!(body.contains("not valid"), "{body}");
    let (status, body) = request(addr, "PUT", "/logspec", "spec=debug").await;
    assert_eq!(status, 400);
    assert!(body.contains("{\\\"spec\\\""), "{body}");
    assert_eq!(
        control.spec(),
        "cambium_peer=debug,info",
        "bad input changes nothing"
    );

    // Without a log control the endpoint says so.
    let bare = serve(&OpsConfig::new("127.0.0.1:0"), Arc::new(Operations::new()))
        .await
        .unwrap();
    assert_eq!(
        request(bare.local_addr(), "GET", "/logspec", "").await.0,
        404
    );
    bare.shutdown().await;
    server.shutdown().await;
}

#[tokio::test]
async fn bad_configuration_is_refused_before_binding() {
    let ops = Arc::new(Operations::new());
    let err = serve(&OpsConfig::new("localhost"), Arc::clone(&ops))
        .await
        .unwrap_err()
        .to_string();
    assert!(err.contains("listenAddress"), "{err}");
    let mut tls = OpsConfig::new("127.0.0.1:0");
    tls.tls.enabled = true;
    let err = serve(&tls, Arc::clone(&ops)).await.unwrap_err().to_string();
    assert!(err.contains("tls.cert"), "{err}");
    tls.tls.cert = Some("/nonexistent/server.crt".into());
    tls.tls.key = Some("/nonexistent/server.key".into());
    let err = serve(&tls, ops).await.unwrap_err().to_string();
    assert!(err.contains("/nonexistent/server.crt"), "{err}");
}
