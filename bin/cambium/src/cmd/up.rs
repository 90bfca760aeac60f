//! `cambium up`: start (or resume) the development network in this process.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use cambium_node::{DevNetwork, Ports, UpOptions};
use cambium_peer::cambium_ops::{self, LogFormat};
use clap::Args;

/// The default data directory of `cambium up` and of the commands that find its network.
pub(crate) const DEFAULT_DATA_DIR: &str = "cambium-data";

/// How long `up` waits for the network to accept transactions.
const READY_TIMEOUT: Duration = Duration::from_secs(30);

#[derive(Debug, Args)]
pub(crate) struct UpArgs {
    /// Where the network keeps its keys, ledgers and connection profile; created on the first
    /// start, resumed afterwards.
    #[arg(long, default_value = DEFAULT_DATA_DIR)]
    data_dir: PathBuf,
    /// Lay out the ports from here: orderer BASE, Org1's peer BASE+1, Org2's peer BASE+2,
    /// admin BASE+3, then the operations endpoints of the orderer, Org1's and Org2's peers
    /// BASE+4..BASE+6. 0 picks free ports. Only on the first start.
    #[arg(long)]
    base_port: Option<u16>,
    /// The orderer's port (default 7050).
    #[arg(long)]
    orderer_port: Option<u16>,
    /// The orderer's channel participation API port (default 7053).
    #[arg(long)]
    admin_port: Option<u16>,
    /// Org1's peer port (default 7051).
    #[arg(long)]
    org1_peer_port: Option<u16>,
    /// Org2's peer port (default 9051).
    #[arg(long)]
    org2_peer_port: Option<u16>,
    /// The orderer's operations endpoint port: /healthz, /metrics, /logspec over plain HTTP
    /// (default 9443). The operations ports may also be moved on a later start.
    #[arg(long)]
    orderer_ops_port: Option<u16>,
    /// Org1's peer's operations endpoint port (default 9444).
    #[arg(long)]
    org1_ops_port: Option<u16>,
    /// Org2's peer's operations endpoint port (default 9445).
    #[arg(long)]
    org2_ops_port: Option<u16>,
    /// Whether the orderer cuts a block when none is in flight (at once after a quiet spell,
    /// else 4 ms after the previous block), for low latency at light load; `false` waits for
    /// the 5 ms batch timeout or a full batch, as Fabric does.
    #[arg(long, default_value_t = true, action = clap::ArgAction::Set, value_name = "BOOL")]
    cut_when_idle: bool,
}

impl UpArgs {
    fn ports(&self) -> anyhow::Result<Option<Ports>> {
        let flags = [
            self.orderer_port,
            self.admin_port,
            self.org1_peer_port,
            self.org2_peer_port,
            self.orderer_ops_port,
            self.org1_ops_port,
            self.org2_ops_port,
        ];
        if self.base_port.is_none() && flags.iter().all(Option::is_none) {
            return Ok(None);
        }
        let mut ports = match self.base_port {
            Some(base) => Ports::from_base(base)?,
            None => Ports::default(),
        };
        ports.orderer = self.orderer_port.unwrap_or(ports.orderer);
        ports.admin = self.admin_port.unwrap_or(ports.admin);
        ports.org1_peer = self.org1_peer_port.unwrap_or(ports.org1_peer);
        ports.org2_peer = self.org2_peer_port.unwrap_or(ports.org2_peer);
        ports.orderer_ops = self.orderer_ops_port.unwrap_or(ports.orderer_ops);
        ports.org1_ops = self.org1_ops_port.unwrap_or(ports.org1_ops);
        ports.org2_ops = self.org2_ops_port.unwrap_or(ports.org2_ops);
        Ok(Some(ports))
    }
}

pub(crate) fn run(args: UpArgs) -> anyhow::Result<()> {
    let log = init_logging()?;
    let options = UpOptions {
        data_dir: args.data_dir.clone(),
        ports: args.ports()?,
        cut_when_idle: args.cut_when_idle,
        log: Some(log),
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
        .context("starting the async runtime")?;
    runtime.block_on(async {
        let network = DevNetwork::start(&options).await?;
        print!("{}", network.summary());
        let ready = tokio::select! {
            r = network.wait_ready(READY_TIMEOUT) => r,
            () = shutdown_signal() => {
                network.stop().await;
                return Ok(());
            }
        };
        if let Err(e) = ready {
            network.stop().await;
            return Err(e.into());
        }
        tracing::info!("ready: the network accepts transactions (Ctrl-C stops it)");
        println!("ready");
        shutdown_signal().await;
        tracing::info!("stopping");
        network.stop().await;
        Ok(())
    })
}

/// Resolves on Ctrl-C or SIGTERM.
async fn shutdown_signal() {
    let mut term = match tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()) {
        Ok(term) => term,
        Err(_) => {
            let _ = tokio::signal::ctrl_c().await;
            return;
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        _ = term.recv() => {}
    }
}

/// The log filter when `RUST_LOG` is not set.
const DEFAULT_LOG_SPEC: &str = "info,openraft=warn";

/// Logs to standard error at `info` (or as `RUST_LOG` says); the nodes' `/logspec` changes the
/// filter while the network runs.
fn init_logging() -> anyhow::Result<cambium_ops::LogControl> {
    let spec = std::env::var("RUST_LOG")
        .ok()
        .filter(|s| !s.trim().is_empty())
        .unwrap_or_else(|| DEFAULT_LOG_SPEC.to_owned());
    cambium_ops::init_logging(LogFormat::Human, &spec)
        .with_context(|| format!("RUST_LOG={spec}: fix or unset it"))
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        args: UpArgs,
    }

    #[test]
    fn cutting_when_idle_is_on_unless_turned_off_and_takes_only_a_boolean() {
        assert!(Cli::try_parse_from(["x"]).unwrap().args.cut_when_idle);
        let off = Cli::try_parse_from(["x", "--cut-when-idle", "false"]).unwrap();
        assert!(!off.args.cut_when_idle);
        let err = Cli::try_parse_from(["x", "--cut-when-idle", "sometimes"])
            .err()
            .expect("refused")
            .to_string();
        assert!(
            err.contains("invalid value 'sometimes' for '--cut-when-idle <BOOL>'"),
            "{err}"
        );
    }
}
