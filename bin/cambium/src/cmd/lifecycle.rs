//! `cambium contract install|approve|commit|checkcommitreadiness|queryinstalled|queryapproved|
//! querycommitted|deploy|upgrade|rollout`: contract administration against a running network,
//! acting as an organisation's admin, over Fabric's `_lifecycle` protocol and Cambium's rollout
//! extension.

use std::io::IsTerminal as _;
use std::path::PathBuf;
use std::time::Instant;

use anyhow::Context as _;
use cambium_node::admin::{Admin, Definition};
use cambium_node::deploy::{self, DeployOptions, Source, Step};
use cambium_node::upgrade::{
    self, CompatCheck, RolloutOutcome, RolloutStep, UpgradeOptions, UpgradeReport,
};
use cambium_node::watch;
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
    /// Start the definition as a canary: this share of transactions gets it first, e.g. 10%
    /// (every org must approve the same plan).
    #[arg(long, value_name = "N%")]
    canary: Option<String>,
    /// Canary selectors: org=MSPID, client=SHA256HEX or ou=UNIT (repeatable).
    #[arg(long)]
    selector: Vec<String>,
    /// The definition's own upgrade policy, e.g. "AND('Org1MSP.admin','Org2MSP.admin')": the
    /// next definition needs the approvals of admins that satisfy it.
    #[arg(long)]
    upgrade_policy: Option<String>,
}

impl DefinitionArgs {
    pub(crate) fn definition(&self) -> anyhow::Result<Definition> {
        let mut d = Definition::new(&self.name, &self.version, self.sequence);
        d.init_required = self.init_required;
        d.rollout = upgrade::plan_from_flags(self.canary.as_deref(), &self.selector)?;
        if let Some(p) = &self.signature_policy {
            d = d.with_signature_policy(p)?;
        }
        if let Some(p) = &self.channel_config_policy {
            d = d.with_channel_config_policy(p);
        }
        if let Some(p) = &self.upgrade_policy {
            d = d.with_upgrade_policy(p)?;
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
        /// Approve even if the package breaks the interface of the committed definition's.
        #[arg(long)]
        allow_breaking: bool,
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
        /// Deploy even if the package breaks the interface of the committed definition's.
        #[arg(long)]
        allow_breaking: bool,
        #[command(flatten)]
        network: NetworkArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Upgrade a committed contract: check the new package's interface, install it on every
    /// peer, approve the next sequence for every organisation (with an optional canary
    /// rollout) and commit. A migration in the new package runs inside the commit.
    Upgrade {
        /// The contract's name on the channel.
        name: String,
        /// The new version: a package .tar.gz, a .wasm file or a contract crate folder.
        #[arg(long, value_name = "PKG|PATH")]
        package: PathBuf,
        /// The new definition's version (default: the package label).
        #[arg(long)]
        version: Option<String>,
        /// The package label when packaging a crate or .wasm (default: NAME_VERSION, or NAME_upgrade).
        #[arg(long)]
        label: Option<String>,
        /// Send this share of transactions to the new version first, e.g. 10%.
        #[arg(long, value_name = "N%")]
        canary: Option<String>,
        /// Send these clients to the new version: org=MSPID, client=SHA256HEX or ou=UNIT
        /// (repeatable).
        #[arg(long)]
        selector: Vec<String>,
        /// A new signature endorsement policy (default: keep the committed one).
        #[arg(long)]
        signature_policy: Option<String>,
        /// A new upgrade policy for the definition (default: keep the committed one).
        #[arg(long)]
        upgrade_policy: Option<String>,
        /// Go ahead even if the new package breaks the committed interface.
        #[arg(long)]
        allow_breaking: bool,
        /// Check everything and endorse the commit without submitting it (with its size against
        /// the channel's AbsoluteMaxBytes); changes nothing.
        #[arg(long)]
        dry_run: bool,
        /// The channel (default: the profile's).
        #[arg(long)]
        channel: Option<String>,
        #[command(flatten)]
        network: NetworkArgs,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Show or step a canary rollout: status, advance --weight N, pause, resume, promote, abort.
    Rollout {
        #[command(subcommand)]
        action: RolloutAction,
    },
}

#[derive(Debug, Subcommand)]
pub(crate) enum RolloutAction {
    /// Show the rollout of a contract (QueryRollout).
    Status {
        /// The contract's name.
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Send a larger share of transactions to the new version (AdvanceRollout).
    Advance {
        /// The contract's name.
        name: String,
        /// The new share, 0-100 (a trailing % is allowed).
        #[arg(long)]
        weight: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Freeze the weight (PauseRollout).
    Pause {
        /// The contract's name.
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Let the weight be advanced again (ResumeRollout).
    Resume {
        /// The contract's name.
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Send every transaction to the new version (PromoteRollout).
    Promote {
        /// The contract's name.
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Send every transaction back to the previous version from the next block (AbortRollout).
    Abort {
        /// The contract's name.
        name: String,
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Follow the new version's error rate on the peers' /metrics and abort the rollout when
    /// it exceeds --max-error-rate (an automated brake); stops when the rollout ends.
    Watch {
        /// The contract's name.
        name: String,
        /// A peer's operations endpoint, http://HOST:PORT (repeatable; default: every peer of
        /// the `cambium up` network in --data-dir, or of the prometheus.yml beside --profile).
        #[arg(long = "metrics")]
        metrics: Vec<String>,
        /// The highest tolerated error rate of the new version, 0-1 (e.g. 0.05): (contract
        /// errors + failed endorsements + invalid commits) / (contract errors + failed +
        /// max(endorsed, committed)).
        #[arg(long)]
        max_error_rate: f64,
        /// Attempts of the new version needed before judging.
        #[arg(long, default_value_t = 20)]
        min_transactions: u64,
        /// Seconds between scrapes.
        #[arg(long, default_value_t = 5.0)]
        interval: f64,
        /// Stop after this many seconds with the canary healthy (default: until it ends).
        #[arg(long)]
        timeout: Option<f64>,
        #[command(flatten)]
        admin: AdminArgs,
    },
}

impl RolloutAction {
    /// The step, the contract name and the admin flags.
    pub(crate) fn parts(&self) -> anyhow::Result<(RolloutStep, &str, &AdminArgs)> {
        Ok(match self {
            RolloutAction::Status { name, admin } => (RolloutStep::Status, name, admin),
            RolloutAction::Advance {
                name,
                weight,
                admin,
            } => (
                RolloutStep::Advance(upgrade::parse_weight(weight)?),
                name,
                admin,
            ),
            RolloutAction::Pause { name, admin } => (RolloutStep::Pause, name, admin),
            RolloutAction::Resume { name, admin } => (RolloutStep::Resume, name, admin),
            RolloutAction::Promote { name, admin } => (RolloutStep::Promote, name, admin),
            RolloutAction::Abort { name, admin } => (RolloutStep::Abort, name, admin),
            RolloutAction::Watch { .. } => {
                anyhow::bail!("watch is not a single rollout step")
            }
        })
    }
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
            allow_breaking,
            admin: args,
        } => {
            let (admin, peer) = admin(&args)?;
            let d = definition.definition()?;
            let mut signatures = None;
            if let Some(id) = &package_id {
                let package = admin
                    .get_installed_package(&peer, id)
                    .await
                    .with_context(|| {
                        format!("reading package {id} from {peer} for the interface check")
                    })?;
                // The package's owner signatures go with the approval; a channel that
                // requires them refuses here, before anything is submitted.
                signatures = admin.package_signatures(&peer, &package).await?;
                let compat = upgrade::compat_against_committed(
                    std::slice::from_ref(&admin),
                    &d.name,
                    &package,
                )
                .await?;
                upgrade::refuse_breaking(&compat, allow_breaking)?;
            }
            let done = admin
                .approve_signed(&peer, &d, package_id.as_deref(), signatures.as_ref())
                .await?;
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
            print_policies(&approved.definition);
            if let Some(plan) = &approved.definition.rollout {
                println!("  canary: {}", plan.describe());
            }
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
                print_policies(&d.definition);
                if let Some(plan) = &d.definition.rollout {
                    println!(
                        "  canary as committed: {} (`cambium contract rollout status {}` shows where it stands)",
                        plan.describe(),
                        d.definition.name
                    );
                }
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
            allow_breaking,
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
                allow_breaking,
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
        LifecycleCommand::Upgrade {
            name,
            package,
            version,
            label,
            canary,
            selector,
            signature_policy,
            upgrade_policy,
            allow_breaking,
            dry_run,
            channel,
            network,
            json,
        } => {
            let plan = upgrade::plan_from_flags(canary.as_deref(), &selector)?;
            if !package.exists() {
                anyhow::bail!(
                    "--package {} does not exist; pass a package .tar.gz, a .wasm file or a contract crate folder",
                    package.display()
                );
            }
            let source = Source::of(&package)?;
            let profile = network.load()?;
            let label = label.unwrap_or_else(|| {
                label_from(
                    std::path::Path::new(&name),
                    Some(version.as_deref().unwrap_or("upgrade")),
                )
            });
            let progress = Progress::new(!json && std::io::stderr().is_terminal());
            progress.message(&format!("packaging {}", package.display()));
            let bytes = source
                .package(&label)
                .with_context(|| format!("packaging {}", package.display()))?;
            let options = UpgradeOptions {
                name,
                version,
                signature_policy,
                plan,
                upgrade_policy,
                allow_breaking,
                dry_run,
                channel,
            };
            let report =
                upgrade::upgrade(&profile, &bytes, &options, &|step| progress.step(step)).await;
            progress.finish();
            let report = report?;
            if json {
                return print_json(&report);
            }
            print_upgrade(&report);
            Ok(())
        }
        LifecycleCommand::Rollout {
            action:
                RolloutAction::Watch {
                    name,
                    metrics,
                    max_error_rate,
                    min_transactions,
                    interval,
                    timeout,
                    admin: args,
                },
        } => {
            let (admin, peer) = admin(&args)?;
            let metrics = if metrics.is_empty() {
                args.network.operations_urls()?
            } else {
                metrics
            };
            let options = watch::WatchOptions {
                metrics,
                interval: watch::seconds_flag("--interval", interval)?,
                max_error_rate,
                min_transactions,
                timeout: timeout
                    .map(|t| watch::seconds_flag("--timeout", t))
                    .transpose()?,
            };
            let json = args.json;
            let end = watch::watch(&admin, &peer, &name, &options, &|tick: &watch::Tick| {
                if !json {
                    println!(
                        "{name} {}: {} attempts, {} contract errors, {} failed, {} not VALID ({:.1}% errors)",
                        tick.version,
                        tick.window.total(),
                        tick.window.contract_errors,
                        tick.window.failed,
                        tick.window.invalid,
                        tick.error_rate * 100.0
                    );
                }
            })
            .await?;
            if json {
                return print_json(&end);
            }
            match end {
                watch::WatchEnd::Aborted {
                    error_rate, commit, ..
                } => println!(
                    "error rate {:.1}% > {:.1}%: rollout of {name} aborted (tx {} in block {}); \
                     all traffic is back on the previous version",
                    error_rate * 100.0,
                    max_error_rate * 100.0,
                    commit.tx_id,
                    commit.block
                ),
                watch::WatchEnd::Ended { state } => {
                    println!("the rollout of {name} is {state}; nothing to watch")
                }
                watch::WatchEnd::TimedOut { window } => println!(
                    "watched {} transactions of the new version of {name}: healthy",
                    window.total()
                ),
            }
            Ok(())
        }
        LifecycleCommand::Rollout { action } => {
            let (step, name, args) = action.parts()?;
            let (admin, peer) = admin(args)?;
            let outcome = upgrade::rollout(&admin, &peer, name, &step).await?;
            if args.json {
                return print_json(&outcome);
            }
            print_rollout(&outcome);
            Ok(())
        }
    }
}

fn print_upgrade(report: &UpgradeReport) {
    let d = &report.definition;
    match &report.compat {
        CompatCheck::Compared { report: r, .. } => {
            println!(
                "interface check against sequence {}:",
                report.previous.sequence
            );
            for line in r.to_string().lines() {
                println!("  {line}");
            }
        }
        CompatCheck::Unknown { reason } => println!("interface check skipped: {reason}"),
        CompatCheck::FirstDefinition => {}
    }
    if let Some(plan) = &d.rollout {
        println!("canary: {}", plan.describe());
    }
    match (&report.commit, &report.dry_run) {
        (Some(commit), _) => println!(
            "upgraded {} from version {} (sequence {}) to {} (sequence {}, {}) in {} ms (tx {} in block {})",
            d.name,
            report.previous.version,
            report.previous.sequence,
            d.version,
            d.sequence,
            report.package_id,
            report.elapsed_ms,
            commit.tx_id,
            commit.block
        ),
        (None, Some(dry)) => {
            println!(
                "dry run: {} version {} sequence {} ({}); nothing was installed, approved or committed",
                d.name, d.version, d.sequence, report.package_id
            );
            let approvals: Vec<String> = dry
                .approvals
                .iter()
                .map(|(org, ok)| format!("{org}: {ok}"))
                .collect();
            println!("  approvals: {}", approvals.join(", "));
            match &dry.refused {
                Some(why) => println!("  the commit would be refused now: {why}"),
                None => {
                    println!("  commit endorsed by {}", dry.endorsed_by.join(", "));
                    for (ns, size) in &dry.rwset {
                        println!(
                            "  {ns}: {} reads, {} range queries, {} writes ({} bytes)",
                            size.reads, size.range_queries, size.writes, size.write_bytes
                        );
                    }
                    if !dry.message.is_empty() {
                        println!("  peer says: {}", dry.message);
                    }
                    println!(
                        "  commit transaction: {} bytes (the channel's AbsoluteMaxBytes: {})",
                        dry.transaction_bytes, dry.absolute_max_bytes
                    );
                    if let Some(why) = dry.too_large() {
                        println!("  {why}");
                    }
                }
            }
        }
        (None, None) => {}
    }
}

fn print_rollout(outcome: &RolloutOutcome) {
    let s = &outcome.status;
    if let Some(commit) = &outcome.commit {
        println!(
            "{} for {} committed (tx {} in block {})",
            outcome.function, s.name, commit.tx_id, commit.block
        );
    }
    println!(
        "{}: version {} (sequence {}) rolling out over version {} (sequence {})",
        s.name, s.version, s.sequence, s.previous_version, s.previous_sequence
    );
    match &s.plan {
        Some(plan) => println!("  plan: {}", plan.describe()),
        None => println!("  no rollout plan: the current definition serves every transaction"),
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
            Step::Checked { breaking: false } => "✓ interface compatible".to_owned(),
            Step::Checked { breaking: true } => {
                "! interface breaks (allowed by --allow-breaking)".to_owned()
            }
            Step::Approved { org } => format!("✓ approved for {org}"),
            Step::Committed => "✓ committed".to_owned(),
        };
        bar.println(line);
        bar.set_message(match step {
            Step::Install { .. } => "installing",
            Step::Sequence(_) | Step::Checked { .. } | Step::Approved { .. } => "approving",
            Step::Committed => "done",
        });
    }

    fn finish(&self) {
        if let Some(bar) = &self.bar {
            bar.finish_and_clear();
        }
    }
}

/// The definition's endorsement policy, and its upgrade policy if it has one, a line each.
fn print_policies(definition: &Definition) {
    println!("  endorsement policy: {}", definition.endorsement_policy());
    if let Some(policy) = &definition.upgrade_policy {
        println!("  upgrade policy: {policy}");
    }
}
