//! `cambium contract install|approve|commit|checkcommitreadiness|queryinstalled|queryapproved|
//! querycommitted|deploy`: contract administration against a running network, acting as an
//! organisation's admin, over Fabric's `_lifecycle` protocol.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use cambium_node::admin::{Admin, Definition};
use cambium_node::deploy::{self, DeployOptions, Source, Step};
use clap::{Args, Subcommand};

use super::network::{runtime, NetworkArgs};

#[derive(Debug, Clone, Args)]
pub(crate) struct AdminArgs {
    #[command(flatten)]
    network: NetworkArgs,
    /// The organisation whose admin acts (`Org1`, `Org2`, or an MSP ID).
    #[arg(long, default_value = "Org1")]
    org: String,
    /// The peer to talk to (default: the organisation's first peer).
    #[arg(long)]
    peer: Option<String>,
    /// The channel (default: the profile's).
    #[arg(long)]
    channel: Option<String>,
    /// Print JSON for scripts instead of text.
    #[arg(long)]
    json: bool,
}

#[derive(Debug, Clone, Args)]
pub(crate) struct DefinitionArgs {
    /// The contract's name on the channel.
    #[arg(long)]
    name: String,
    /// The definition's version label.
    #[arg(long, default_value = "1.0")]
    version: String,
    /// The definition's sequence (1 for the first definition, +1 for each change).
    #[arg(long)]
    sequence: i64,
    /// A signature endorsement policy, e.g. "AND('Org1MSP.peer','Org2MSP.peer')".
    #[arg(long, conflicts_with = "channel_config_policy")]
    signature_policy: Option<String>,
    /// A channel policy as the endorsement policy, e.g. /Channel/Application/Endorsement.
    #[arg(long)]
    channel_config_policy: Option<String>,
    /// Require `Init` to be invoked once before anything else.
    #[arg(long)]
    init_required: bool,
}

impl DefinitionArgs {
    fn definition(&self) -> anyhow::Result<Definition> {
        let mut d = Definition::new(&self.name, &self.version, self.sequence);
        d.init_required = self.init_required;
        if let Some(p) = &self.signature_policy {
            d = d.with_signature_policy(p)?;
        }
        if let Some(p) = &self.channel_config_policy {
            d = d.with_channel_config_policy(p);
        }
        Ok(d)
    }
}

#[derive(Debug, Subcommand)]
pub(crate) enum LifecycleCommand {
    /// Install a package (or a contract crate or .wasm, packaged first) on a peer.
    Install {
        /// A package .tar.gz, a .wasm file or a contract crate folder.
        path: PathBuf,
        /// The label when packaging a crate or .wasm (default: the file or folder name).
        #[arg(long)]
        label: Option<String>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// List the packages installed on a peer.
    Queryinstalled {
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Approve a contract definition for the admin's organisation and wait until it commits.
    Approve {
        #[command(flatten)]
        definition: DefinitionArgs,
        /// The installed package this organisation runs (omit to approve without one).
        #[arg(long)]
        package_id: Option<String>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Show which organisations have approved a definition.
    Checkcommitreadiness {
        #[command(flatten)]
        definition: DefinitionArgs,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Commit a definition (endorsed by one peer of every organisation) and wait until it
    /// commits.
    Commit {
        #[command(flatten)]
        definition: DefinitionArgs,
        /// Endorsing peers, comma-separated (default: the first peer of every organisation).
        #[arg(long, value_delimiter = ',')]
        peers: Vec<String>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Show the admin's organisation's approved definition.
    Queryapproved {
        /// The contract's name.
        #[arg(long)]
        name: String,
        /// The sequence (default: the latest).
        #[arg(long)]
        sequence: Option<i64>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Show the committed definition of a contract, or of all contracts.
    Querycommitted {
        /// The contract's name (default: all).
        #[arg(long)]
        name: Option<String>,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Build (if a crate), package, install on every peer, approve for every organisation
    /// and commit, at the next sequence.
    Deploy {
        /// A contract crate folder, a .wasm file or a package .tar.gz.
        path: PathBuf,
        /// The contract's name on the channel (default: the folder or file name).
        #[arg(long)]
        name: Option<String>,
        /// The definition's version.
        #[arg(long, default_value = "1.0")]
        version: String,
        /// The package label (default: NAME_VERSION).
        #[arg(long)]
        label: Option<String>,
        /// A signature endorsement policy (default: the channel's Endorsement policy).
        #[arg(long)]
        signature_policy: Option<String>,
        /// The channel (default: the profile's).
        #[arg(long)]
        channel: Option<String>,
        #[command(flatten)]
        network: NetworkArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
}

pub(crate) fn run(command: LifecycleCommand) -> anyhow::Result<()> {
    runtime()?.block_on(run_async(command))
}

fn admin(args: &AdminArgs) -> anyhow::Result<(Admin, String)> {
    let profile = args.network.load()?;
    let admin = Admin::new(profile, &args.org, args.channel.as_deref())?;
    let peer = admin.peer_name(args.peer.as_deref())?;
    Ok((admin, peer))
}

fn print_json(value: &impl serde::Serialize) -> anyhow::Result<()> {
    println!("{}", serde_json::to_string_pretty(value)?);
    Ok(())
}

/// A label from a file or folder name: letters, digits, `_`, `-`, `.`, `+` only.
fn label_from(path: &std::path::Path, version: Option<&str>) -> String {
    let stem = path
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_else(|| "contract".to_owned());
    let stem = stem.trim_end_matches(".wasm").trim_end_matches(".tar.gz");
    let mut label: String = stem
        .chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "_-.+".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect();
    if let Some(v) = version {
        label.push('_');
        label.push_str(v);
    }
    label
}

async fn run_async(command: LifecycleCommand) -> anyhow::Result<()> {
    match command {
        LifecycleCommand::Install {
            path,
            label,
            admin: args,
        } => {
            let source = Source::of(&path)?;
            let label = label.unwrap_or_else(|| label_from(&path, None));
            let package = source.package(&label)?;
            let (admin, peer) = admin(&args)?;
            let installed = admin.install(&peer, &package).await?;
            if args.json {
                print_json(&installed)
            } else {
                println!("installed on {peer}: {}", installed.package_id);
                Ok(())
            }
        }
        LifecycleCommand::Queryinstalled { admin: args } => {
            let (admin, peer) = admin(&args)?;
            let installed = admin.query_installed(&peer).await?;
            if args.json {
                return print_json(&installed);
            }
            if installed.is_empty() {
                println!("no packages installed on {peer}");
            }
            for p in installed {
                let refs: Vec<String> = p
                    .references
                    .iter()
                    .map(|(channel, names)| format!("{channel}: {}", names.join(", ")))
                    .collect();
                println!(
                    "{}  label {}  used by [{}]",
                    p.package_id,
                    p.label,
                    refs.join("; ")
                );
            }
            Ok(())
        }
        LifecycleCommand::Approve {
            definition,
            package_id,
            admin: args,
        } => {
            let (admin, peer) = admin(&args)?;
            let d = definition.definition()?;
            let done = admin.approve(&peer, &d, package_id.as_deref()).await?;
            if args.json {
                print_json(&done)
            } else {
                println!(
                    "{} approved {} version {} sequence {} (tx {} in block {})",
                    admin.org, d.name, d.version, d.sequence, done.tx_id, done.block
                );
                Ok(())
            }
        }
        LifecycleCommand::Checkcommitreadiness {
            definition,
            admin: args,
        } => {
            let (admin, peer) = admin(&args)?;
            let approvals = admin
                .check_commit_readiness(&peer, &definition.definition()?)
                .await?;
            if args.json {
                return print_json(&serde_json::json!({ "approvals": approvals }));
            }
            println!(
                "Approvals for {} sequence {}:",
                definition.name, definition.sequence
            );
            for (org, approved) in approvals {
                println!("  {org}: {approved}");
            }
            Ok(())
        }
        LifecycleCommand::Commit {
            definition,
            peers,
            admin: args,
        } => {
            let (admin, _) = admin(&args)?;
            let peers = if peers.is_empty() {
                admin
                    .profile
                    .organizations
                    .keys()
                    .map(|org| Ok(admin.profile.peer_of(org, None)?.0.to_owned()))
                    .collect::<anyhow::Result<Vec<_>>>()?
            } else {
                peers
            };
            let d = definition.definition()?;
            let done = admin.commit(&peers, &d).await?;
            if args.json {
                print_json(&done)
            } else {
                println!(
                    "committed {} version {} sequence {} on {} (tx {} in block {})",
                    d.name, d.version, d.sequence, admin.channel_id, done.tx_id, done.block
                );
                Ok(())
            }
        }
        LifecycleCommand::Queryapproved {
            name,
            sequence,
            admin: args,
        } => {
            let (admin, peer) = admin(&args)?;
            let approved = admin.query_approved(&peer, &name, sequence).await?;
            if args.json {
                return print_json(&approved);
            }
            println!(
                "{} approved {name}: version {}, sequence {}, package {}, init required {}",
                admin.org,
                approved.definition.version,
                approved.definition.sequence,
                approved.package_id.as_deref().unwrap_or("(none)"),
                approved.definition.init_required
            );
            Ok(())
        }
        LifecycleCommand::Querycommitted { name, admin: args } => {
            let (admin, peer) = admin(&args)?;
            let defs = admin.query_committed(&peer, name.as_deref()).await?;
            if args.json {
                return print_json(&defs);
            }
            if defs.is_empty() {
                println!("no contracts committed on {}", admin.channel_id);
            }
            for d in defs {
                let approvals: Vec<String> = d
                    .approvals
                    .iter()
                    .map(|(org, ok)| format!("{org}: {ok}"))
                    .collect();
                println!(
                    "{}: version {}, sequence {}, init required {}{}",
                    d.definition.name,
                    d.definition.version,
                    d.definition.sequence,
                    d.definition.init_required,
                    if approvals.is_empty() {
                        String::new()
                    } else {
                        format!(", approvals [{}]", approvals.join(", "))
                    }
                );
            }
            Ok(())
        }
        LifecycleCommand::Deploy {
            path,
            name,
            version,
            label,
            signature_policy,
            channel,
            network,
            json,
        } => {
            let source = Source::of(&path)?;
            let name = name.unwrap_or_else(|| label_from(&path, None));
            let profile = network.load()?;
            let label =
                label.unwrap_or_else(|| label_from(std::path::Path::new(&name), Some(&version)));
            let progress = Progress::new(!json && std::io::stderr().is_terminal());
            progress.message(&format!("packaging {}", path.display()));
            let package_started = Instant::now();
            let package = source
                .package(&label)
                .with_context(|| format!("packaging {}", path.display()))?;
            let package_ms = package_started.elapsed().as_millis();
            let options = DeployOptions {
                name: name.clone(),
                version: Some(version),
                signature_policy,
                init_required: false,
                channel,
            };
            let report =
                deploy::deploy(&profile, &package, &options, &|step| progress.step(step)).await;
            progress.finish();
            let report = report?;
            if json {
                return print_json(&report);
            }
            println!(
                "deployed {} version {} sequence {} ({}) in {} ms (+{} ms packaging)",
                report.definition.name,
                report.definition.version,
                report.definition.sequence,
                report.package_id,
                report.elapsed_ms,
                package_ms
            );
            Ok(())
        }
    }
}

/// The deploy's progress: a spinner with the current step on a terminal, nothing otherwise.
struct Progress {
    bar: Option<indicatif::ProgressBar>,
}

impl Progress {
    fn new(show: bool) -> Progress {
        let bar = show.then(|| {
            let bar = indicatif::ProgressBar::new_spinner();
            bar.enable_steady_tick(std::time::Duration::from_millis(80));
            bar
        });
        Progress { bar }
    }

    fn message(&self, text: &str) {
        if let Some(bar) = &self.bar {
            bar.set_message(text.to_owned());
        }
    }

    fn step(&self, step: &Step) {
        let Some(bar) = &self.bar else { return };
        let line = match step {
            Step::Install {
                peer,
                already: true,
            } => format!("✓ already installed on {peer}"),
            Step::Install {
                peer,
                already: false,
            } => format!("✓ installed on {peer}"),
            Step::Sequence(s) => format!("✓ next sequence {s}"),
            Step::Approved { org } => format!("✓ approved for {org}"),
            Step::Committed => "✓ committed".to_owned(),
        };
        bar.println(line);
        bar.set_message(match step {
            Step::Install { .. } => "installing",
            Step::Sequence(_) | Step::Approved { .. } => "approving",
            Step::Committed => "done",
        });
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}
