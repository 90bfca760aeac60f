//! Runs the ordering load generator without building the whole `cambium` binary:
//! `cargo run --release -p cambium-orderer --example ordering_load -- NODES [WINDOW] [ENVELOPES] [RATE]`.
//! Prints one JSON report, as `cambium bench ordering --json` does.

fn main() {
    let mut args = std::env::args().skip(1);
    let mut options = cambium_orderer::loadgen::LoadOptions::default();
    if let Some(n) = args.next() {
        options.nodes = n.parse().expect("NODES is a number");
    }
    if let Some(w) = args.next() {
        options.window = w.parse().expect("WINDOW is a number");
    }
    if let Some(e) = args.next() {
        options.envelopes_per_broadcaster = e.parse().expect("ENVELOPES is a number");
    }
    if let Some(r) = args.next() {
        let rate: f64 = r.parse().expect("RATE is envelopes per second");
        options.rate = (rate > 0.0).then_some(rate);
    }
    let runtime = cambium_orderer::client::runtime().expect("runtime");
    let report = runtime
        .block_on(cambium_orderer::loadgen::run(&options))
        .expect("ordering load");
    println!(
        "{}",
        serde_json::to_string(&report).expect("report serializes")
    );
}
