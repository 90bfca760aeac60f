//! A Prometheus scrape configuration for a network's operations endpoints, written next to its
//! connection profile (`prometheus.yml`) by `cambium up` and `cambium network generate`, and
//! extended by `cambium network add-org`.
//!
//! Each node is one static target with `node` and `msp_id` labels; Prometheus adds `instance`
//! (the `host:port`), which the Grafana dashboard (`deploy/grafana/cambium.json`) filters on.
//! The endpoints are plain HTTP, as the generated node configurations and `cambium up` serve
//! them.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::error::{NodeError, Result};

/// The scrape configuration's file name.
pub const PROMETHEUS_FILE: &str = "prometheus.yml";

/// How often Prometheus scrapes: often enough to follow a canary step.
pub const SCRAPE_INTERVAL: &str = "5s";

/// The job of the orderers' endpoints.
pub const ORDERER_JOB: &str = "cambium-orderers";

/// The job of the peers' endpoints.
pub const PEER_JOB: &str = "cambium-peers";

/// One node to scrape.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScrapeTarget {
    /// Its name, e.g. `peer0.org1.example.com`.
    pub node: String,
    /// Its organisation's MSP ID.
    pub msp_id: String,
    /// Its operations endpoint, `host:port`.
    pub address: String,
}

/// The parts of Prometheus's configuration file this module writes and reads. Anything else in
/// the file (a hand-edited one) is refused rather than dropped on rewrite.
#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct PrometheusConfig {
    global: Global,
    scrape_configs: Vec<ScrapeConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Global {
    scrape_interval: String,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct ScrapeConfig {
    job_name: String,
    static_configs: Vec<StaticConfig>,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct StaticConfig {
    targets: Vec<String>,
    labels: Labels,
}

#[derive(Clone, Debug, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
struct Labels {
    node: String,
    msp_id: String,
}

impl StaticConfig {
    fn of(target: &ScrapeTarget) -> StaticConfig {
        StaticConfig {
            targets: vec![target.address.clone()],
            labels: Labels {
                node: target.node.clone(),
                msp_id: target.msp_id.clone(),
            },
        }
    }
}

const HEADER: &str = "\
# Prometheus scrape configuration for this Cambium network's operations endpoints (/metrics).
# Run `prometheus --config.file=prometheus.yml` here, then import Cambium's Grafana dashboard
# (deploy/grafana/cambium.json in the Cambium repository) with that Prometheus as its source.
";

/// The file's text: the header, then `config` as YAML.
fn config_text(config: &PrometheusConfig) -> Result<String> {
    let body = serde_norway::to_string(config)
        .map_err(|e| NodeError::Rejected(format!("encoding {PROMETHEUS_FILE}: {e}")))?;
    Ok(format!("{HEADER}{body}"))
}

/// The configuration text for `orderers` and `peers`.
pub fn prometheus_config(orderers: &[ScrapeTarget], peers: &[ScrapeTarget]) -> Result<String> {
    config_text(&PrometheusConfig {
        global: Global {
            scrape_interval: SCRAPE_INTERVAL.to_owned(),
        },
        scrape_configs: vec![
            ScrapeConfig {
                job_name: ORDERER_JOB.to_owned(),
                static_configs: orderers.iter().map(StaticConfig::of).collect(),
            },
            ScrapeConfig {
                job_name: PEER_JOB.to_owned(),
                static_configs: peers.iter().map(StaticConfig::of).collect(),
            },
        ],
    })
}

/// Writes `prometheus.yml` into `dir`; returns its path.
pub fn write_prometheus(
    dir: &Path,
    orderers: &[ScrapeTarget],
    peers: &[ScrapeTarget],
) -> Result<PathBuf> {
    let path = dir.join(PROMETHEUS_FILE);
    crate::network::write(&path, prometheus_config(orderers, peers)?.as_bytes())?;
    Ok(path)
}

/// Adds `peers` to the peer job of the `prometheus.yml` in `dir` (replacing a target of the
/// same node). Returns the path, or `None` when the folder has no such file (written before
/// Cambium wrote one) and nothing was changed.
pub fn add_peers(dir: &Path, peers: &[ScrapeTarget]) -> Result<Option<PathBuf>> {
    let path = dir.join(PROMETHEUS_FILE);
    let text = match std::fs::read_to_string(&path) {
        Ok(text) => text,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(NodeError::io("reading", &path, e)),
    };
    let mut config: PrometheusConfig = serde_norway::from_str(&text).map_err(|e| {
        NodeError::Rejected(format!(
            "{} is not a scrape configuration Cambium wrote ({e}); add the new peers' operations endpoints to it by hand",
            path.display()
        ))
    })?;
    let job = match config
        .scrape_configs
        .iter_mut()
        .position(|c| c.job_name == PEER_JOB)
    {
        Some(i) => &mut config.scrape_configs[i],
        None => {
            config.scrape_configs.push(ScrapeConfig {
                job_name: PEER_JOB.to_owned(),
                static_configs: Vec::new(),
            });
            config.scrape_configs.last_mut().expect("just pushed")
        }
    };
    for peer in peers {
        job.static_configs.retain(|c| c.labels.node != peer.node);
        job.static_configs.push(StaticConfig::of(peer));
    }
    crate::network::write(&path, config_text(&config)?.as_bytes())?;
    Ok(Some(path))
}

/// The targets of `prometheus.yml` in `dir` by job: `(job, node, address)`.
pub fn read_targets(dir: &Path) -> Result<Vec<(String, String, String)>> {
    let path = dir.join(PROMETHEUS_FILE);
    let text = std::fs::read_to_string(&path).map_err(|e| NodeError::io("reading", &path, e))?;
    let config: PrometheusConfig = serde_norway::from_str(&text)
        .map_err(|e| NodeError::Rejected(format!("{} does not parse: {e}", path.display())))?;
    Ok(config
        .scrape_configs
        .into_iter()
        .flat_map(|job| {
            let name = job.job_name;
            job.static_configs.into_iter().flat_map(move |c| {
                let name = name.clone();
                let node = c.labels.node;
                c.targets
                    .into_iter()
                    .map(move |t| (name.clone(), node.clone(), t))
            })
        })
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn target(node: &str, msp: &str, address: &str) -> ScrapeTarget {
        ScrapeTarget {
            node: node.into(),
            msp_id: msp.into(),
            address: address.into(),
        }
    }

    #[test]
    fn the_config_lists_every_node_once_by_job_and_adding_a_peer_keeps_the_rest() {
        let tmp = tempfile::tempdir().unwrap();
        let orderers = [target(
            "orderer0.example.com",
            "OrdererMSP",
            "10.0.0.1:9443",
        )];
        let peers = [
            target("peer0.org1.example.com", "Org1MSP", "10.0.0.2:9444"),
            target("peer0.org2.example.com", "Org2MSP", "10.0.0.3:9445"),
        ];
        let path = write_prometheus(tmp.path(), &orderers, &peers).unwrap();
        let text = std::fs::read_to_string(&path).unwrap();
        assert!(text.starts_with("# Prometheus scrape configuration"));
        assert!(text.contains("scrape_interval: 5s"), "{text}");
        assert_eq!(
            read_targets(tmp.path()).unwrap(),
            [
                (ORDERER_JOB, "orderer0.example.com", "10.0.0.1:9443"),
                (PEER_JOB, "peer0.org1.example.com", "10.0.0.2:9444"),
                (PEER_JOB, "peer0.org2.example.com", "10.0.0.3:9445"),
            ]
            .map(|(j, n, a)| (j.to_owned(), n.to_owned(), a.to_owned()))
        );

        let added = [
            target("peer0.org3.example.com", "Org3MSP", "10.0.0.4:9446"),
            target("peer0.org2.example.com", "Org2MSP", "10.0.0.3:9999"),
        ];
        assert_eq!(add_peers(tmp.path(), &added).unwrap(), Some(path));
        let targets = read_targets(tmp.path()).unwrap();
        assert_eq!(targets.len(), 4, "{targets:?}");
        assert!(targets.contains(&(
            PEER_JOB.to_owned(),
            "peer0.org3.example.com".to_owned(),
            "10.0.0.4:9446".to_owned()
        )));
        assert!(targets.contains(&(
            PEER_JOB.to_owned(),
            "peer0.org2.example.com".to_owned(),
            "10.0.0.3:9999".to_owned()
        )));
    }

    #[test]
    fn adding_peers_without_a_config_changes_nothing_and_a_foreign_one_is_refused() {
        let tmp = tempfile::tempdir().unwrap();
        let peer = [target("peer0.org3.example.com", "Org3MSP", "h:1")];
        assert_eq!(add_peers(tmp.path(), &peer).unwrap(), None);
        assert!(!tmp.path().join(PROMETHEUS_FILE).exists());
        std::fs::write(tmp.path().join(PROMETHEUS_FILE), "rule_files: [a.yml]\n").unwrap();
        let err = add_peers(tmp.path(), &peer).unwrap_err().to_string();
        assert!(
            err.contains("add the new peers' operations endpoints to it by hand"),
            "{err}"
        );
        assert_eq!(
            std::fs::read_to_string(tmp.path().join(PROMETHEUS_FILE)).unwrap(),
            "rule_files: [a.yml]\n"
        );
    }
}
