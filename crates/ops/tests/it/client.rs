//! `client::get` against the real endpoint: a `/metrics` page with the per-version endorsement
//! series, a path the endpoint does not serve, and an endpoint nobody listens on.

use std::sync::Arc;
use std::time::Duration;

use cambium_ops::{client, serve, EndorsementResult, Operations, OpsConfig, OpsError};

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn get_reads_metrics_and_reports_what_went_wrong() {
    let ops = Arc::new(Operations::new());
    let v2 = ops.metrics.contract_version("mychannel", "kv", "2.0");
    v2.record(EndorsementResult::ContractError, 0.000_4);
    // Many series, so the body is long enough to be sent in chunks.
    for i in 0..500 {
        ops.metrics
            .contract_version("mychannel", &format!("c{i}"), "1.0")
            .record(EndorsementResult::Ok, 0.001);
    }
    let server = serve(&OpsConfig::new("127.0.0.1:0"), Arc::clone(&ops))
        .await
        .unwrap();
    let url = server.url();

    let text = client::get(&url, "/metrics", WAIT).await.unwrap();
    assert!(text.ends_with("# EOF\n"), "a whole page");
    assert!(text.lines().any(|l| l
        == "cambium_contract_endorsements_total{channel=\"mychannel\",contract=\"kv\",version=\"2.0\",result=\"contract_error\"} 1"));
    assert!(text.contains("contract=\"c499\""));
    assert_eq!(
        text,
        ops.metrics.encode(),
        "the body as the endpoint encoded it"
    );

    let missing = client::get(&url, "/nothing", WAIT).await.unwrap_err();
    assert!(matches!(missing, OpsError::Scrape { .. }));
    assert!(missing.to_string().contains("404"), "{missing}");

    let addr = server.local_addr();
    server.shutdown().await;
    let gone = client::get(&format!("http://{addr}"), "/metrics", WAIT)
        .await
        .unwrap_err()
        .to_string();
    assert!(
        gone.contains(&format!(
            "cannot read the operations endpoint http://{addr}"
        )),
        "{gone}"
    );
    assert!(gone.contains("cannot connect"), "{gone}");

    let https = client::get("https://127.0.0.1:1", "/metrics", WAIT)
        .await
        .unwrap_err()
        .to_string();
    assert!(https.contains("plain-HTTP"), "{https}");
}
