//! `cambium channel …`: write a channel's genesis block from a configtx-style YAML, inspect a
//! config block, print the sample channel YAML, and update a running channel's config
//! (`update`, `signconfigtx`: Fabric's `peer channel update` / `signconfigtx` with
//! configtxlator's compute-update in one flow).

use std::path::{Path, PathBuf};
use std::time::{SystemTime, UNIX_EPOCH};

use anyhow::Context as _;
use cambium_channel::inspect::BlockSummary;
use cambium_channel::yaml::{self, LoadOptions};
use cambium_channel::{
    genesis_block, inspect_config_block, ChannelConfig, ConfigGroup, Timestamp, Value,
    DEFAULT_CHANNEL_YAML,
};
use cambium_node::chaininfo;
use cambium_orderer::client;
use cambium_orderer::update::{Signer, UpdateEnvelope};
use clap::{Args, Subcommand};

use super::network::{runtime, ClientArgs, PeersArgs};

#[derive(Debug, Subcommand)]
pub(crate) enum ChannelCommand {
    /// Show each peer's view of the channel, like `peer channel getinfo`: its height, the
    /// newest block's hash and its predecessor's, and the world state's digest; then whether
    /// the peers agree.
    Getinfo(PeersArgs),
    /// Write one block of the channel to a file, like `peer channel fetch`: `newest`,
    /// `oldest`, `config` (the newest configuration block) or a block number, from a peer's
    /// Deliver service. `cambium channel inspect FILE` reads a fetched config block.
    Fetch(FetchArgs),
    /// Write a channel's genesis block (config block 0) from a channel YAML, like
    /// `configtxgen -outputBlock`.
    Genesis {
        /// Channel YAML (a trimmed configtx.yaml); see `cambium channel default-config`.
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
        /// Where to write the block.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// The channel ID (overrides ChannelID in the file).
        #[arg(long, value_name = "ID")]
        channel_id: Option<String>,
        /// The profile to use when the file has several.
        #[arg(long, value_name = "NAME")]
        profile: Option<String>,
        /// Block timestamp in unix seconds (default: now). The same config and timestamp always
        /// give the same block bytes.
        #[arg(long, value_name = "SECONDS")]
        timestamp: Option<i64>,
    },
    /// Show a config block: organisations, policies with their rules, orderers, batch settings.
    Inspect {
        /// The block file (e.g. a genesis block).
        block: PathBuf,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
    /// Print the sample channel YAML for `cambium crypto generate --out crypto`'s default
    /// network (save it next to the crypto folder).
    DefaultConfig,
    /// Update a running channel's config: fetch the latest config block from the orderer,
    /// apply a new channel YAML or edit flags (or take a collected update file), compute the
    /// update, sign it with each admin, submit it and wait for the new config block. With
    /// `--out`, write the update file instead of submitting (collect more signatures with
    /// `signconfigtx`, then submit with `--file`).
    Update(Box<UpdateArgs>),
    /// Add one admin's signature to a config update file (an Envelope of type CONFIG_UPDATE
    /// or a bare ConfigUpdateEnvelope), like `peer channel signconfigtx`.
    Signconfigtx {
        /// The update file; rewritten in place as a CONFIG_UPDATE Envelope.
        file: PathBuf,
        /// The admin's MSP folder, as `MSPID=DIR` (or `DIR` with `--msp-id`).
        #[arg(long, value_name = "[MSPID=]DIR")]
        signer: String,
        /// The MSP ID of a `--signer` given without one.
        #[arg(long, value_name = "ID")]
        msp_id: Option<String>,
        /// Print JSON instead of text.
        #[arg(long)]
        json: bool,
    },
}

/// Flags of `cambium channel update`.
#[derive(Debug, clap::Args)]
pub(crate) struct UpdateArgs {
    /// The channel to update.
    #[arg(long, value_name = "ID")]
    channel: String,
    /// An orderer of the channel, `host:port`.
    #[arg(long, value_name = "HOST:PORT")]
    orderer: String,
    /// TLS CA certificates of the orderers (PEM files or folders such as `msp/tlscacerts`);
    /// turns TLS on.
    #[arg(long = "tls-ca", value_name = "FILE")]
    tls_ca: Vec<PathBuf>,
    /// Client TLS certificate for mutual TLS (with `--tls-key`).
    #[arg(long, value_name = "FILE", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// Client TLS key for mutual TLS (with `--tls-cert`).
    #[arg(long, value_name = "FILE", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The new channel config as a channel YAML (what `channel genesis` reads).
    #[arg(long, value_name = "FILE", conflicts_with = "file")]
    config: Option<PathBuf>,
    /// The profile of `--config` to use when the file has several.
    #[arg(long, value_name = "NAME", requires = "config")]
    profile: Option<String>,
    /// A collected update file to submit (from `--out` and `signconfigtx`).
    #[arg(long, value_name = "FILE")]
    file: Option<PathBuf>,
    /// Add an application organisation: a YAML file with its Name, ID, MSPDir, Policies and
    /// AnchorPeers (what `cambium network add-org` writes, Fabric's `configtxgen -printOrg`),
    /// applied to the channel's current config. Needs the signatures of a MAJORITY of the
    /// channel's admins (its Application `Admins` policy).
    #[arg(long, value_name = "FILE", conflicts_with_all = ["file", "config"])]
    add_org: Option<PathBuf>,
    /// New Orderer/BatchTimeout, e.g. `250ms` or `2s`.
    #[arg(long, value_name = "DURATION", conflicts_with_all = ["file", "config"])]
    batch_timeout: Option<String>,
    /// New Orderer/BatchSize.MaxMessageCount.
    #[arg(long, value_name = "N", conflicts_with_all = ["file", "config"])]
    max_message_count: Option<u32>,
    /// New Orderer/BatchSize.PreferredMaxBytes.
    #[arg(long, value_name = "BYTES", conflicts_with_all = ["file", "config"])]
    preferred_max_bytes: Option<u32>,
    /// New Orderer/BatchSize.AbsoluteMaxBytes.
    #[arg(long, value_name = "BYTES", conflicts_with_all = ["file", "config"])]
    absolute_max_bytes: Option<u32>,
    /// An admin who signs the update: `MSPID=DIR` or just the MSP folder `DIR` (its MSP ID is
    /// then found among the channel's MSPs). Repeat for each admin.
    #[arg(long, value_name = "[MSPID=]DIR")]
    signer: Vec<String>,
    /// Who sends the update and reads blocks (must satisfy the channel's Writers and Readers
    /// policies); default: the first `--signer`.
    #[arg(long, value_name = "[MSPID=]DIR")]
    identity: Option<String>,
    /// Write the (signed so far) update to this file instead of submitting it.
    #[arg(long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// How long to wait for the new config block.
    #[arg(long, value_name = "DURATION", default_value = "30s")]
    wait: String,
    /// Print JSON instead of text.
    #[arg(long)]
    json: bool,
}

pub(crate) fn run(command: ChannelCommand) -> anyhow::Result<()> {
    match command {
        ChannelCommand::Getinfo(args) => getinfo(&args),
        ChannelCommand::Fetch(args) => fetch(&args),
        ChannelCommand::Genesis {
            config,
            out,
            channel_id,
            profile,
            timestamp,
        } => {
            let spec = yaml::load(
                &config,
                &LoadOptions {
                    channel_id,
                    profile,
                },
            )?;
            let channel = ChannelConfig::from_spec(&spec)?;
            let seconds = match timestamp {
                Some(s) => s,
                None => SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .context("the system clock is before 1970")?
                    .as_secs() as i64,
            };
            let block = genesis_block(&channel, Timestamp { seconds, nanos: 0 });
            std::fs::write(&out, &block)
                .with_context(|| format!("could not write the block to {}", out.display()))?;
            println!(
                "Wrote the genesis block of channel {} ({} bytes) to {}: {} orderer and {} application organisation(s), {} consenter(s)",
                channel.channel_id(),
                block.len(),
                out.display(),
                channel.orderer_orgs().len(),
                channel.application_orgs().len(),
                channel.consenters().len(),
            );
            Ok(())
        }
        ChannelCommand::Inspect { block, json } => {
            let bytes = std::fs::read(&block)
                .with_context(|| format!("could not read block file {}", block.display()))?;
            let (config, info) =
                inspect_config_block(&bytes).with_context(|| format!("in {}", block.display()))?;
            let summary = BlockSummary::new(&config, &info);
            if json {
                println!("{}", serde_json::to_string_pretty(&summary)?);
            } else {
                print!("{summary}");
            }
            Ok(())
        }
        ChannelCommand::DefaultConfig => {
            print!("{DEFAULT_CHANNEL_YAML}");
            Ok(())
        }
        ChannelCommand::Update(args) => update(*args),
        ChannelCommand::Signconfigtx {
            file,
            signer,
            msp_id,
            json,
        } => signconfigtx(&file, &signer, msp_id.as_deref(), json),
    }
}

#[derive(Debug, Args)]
pub(crate) struct FetchArgs {
    /// Which block: newest, oldest, config or a block number.
    which: chaininfo::Which,
    /// Where to write it (default: `<channel>_<which>.block`, as Fabric names it).
    output: Option<PathBuf>,
    #[command(flatten)]
    client: ClientArgs,
}

fn getinfo(args: &PeersArgs) -> anyhow::Result<()> {
    let (profile, targets) = args.targets()?;
    let infos = runtime()?.block_on(async {
        let mut infos = Vec::new();
        for (org, peer) in &targets {
            infos.push(chaininfo::peer_chain_info(&profile, org, &args.user, peer).await?);
        }
        anyhow::Ok(infos)
    })?;
    let agree = chaininfo::agree(&infos);
    if args.json {
        println!(
            "{}",
            serde_json::to_string_pretty(&serde_json::json!({ "peers": infos, "agree": agree }))?
        );
        return Ok(());
    }
    let short = |h: &str| h.get(..16).unwrap_or(h).to_owned();
    println!(
        "{:<28} {:<10} {:>7}  {:<16}  {:<16}  state digest (height)",
        "peer", "MSP", "height", "current block", "previous block"
    );
    for i in &infos {
        println!(
            "{:<28} {:<10} {:>7}  {:<16}  {:<16}  {} ({})",
            i.peer,
            i.msp_id,
            i.height,
            short(&i.current_block_hash),
            short(&i.previous_block_hash),
            short(&i.state_digest),
            i.state_height
        );
    }
    if infos.len() > 1 {
        let heights: std::collections::BTreeSet<u64> = infos.iter().map(|i| i.height).collect();
        if agree {
            println!("the peers agree: same newest block and the same state");
        } else if heights.len() > 1 {
            println!(
                "the peers are at different heights (one may still be catching up); ask again"
            );
        } else {
            println!(
                "the peers DISAGREE at the same height: different blocks or different state; \
                 compare their ledgers with `cambium ledger inspect`"
            );
        }
    }
    Ok(())
}

fn fetch(args: &FetchArgs) -> anyhow::Result<()> {
    let (_, user) = args.client.user()?;
    let fetched = runtime()?
        .block_on(chaininfo::fetch(&user, args.which))
        .with_context(|| format!("fetching the {} block of {}", args.which, user.channel_id))?;
    let out = args
        .output
        .clone()
        .unwrap_or_else(|| PathBuf::from(format!("{}_{}.block", user.channel_id, args.which)));
    std::fs::write(&out, &fetched.bytes)
        .with_context(|| format!("could not write the block to {}", out.display()))?;
    let (number, txs, bytes) = (fetched.number, fetched.transactions, fetched.bytes.len());
    if args.client.json {
        println!(
            "{}",
            serde_json::json!({
                "block": number,
                "transactions": txs,
                "bytes": bytes,
                "file": out,
            })
        );
    } else {
        println!(
            "block {number} of {} ({txs} transaction(s), {bytes} bytes) from {} written to {}",
            user.channel_id,
            user.peer,
            out.display()
        );
    }
    Ok(())
}

/// `MSPID=DIR` or `DIR`.
fn split_signer(spec: &str) -> (Option<&str>, PathBuf) {
    match spec.split_once('=') {
        Some((id, dir)) if !id.is_empty() && !id.contains(['/', '\\']) => {
            (Some(id), PathBuf::from(dir))
        }
        _ => (None, PathBuf::from(spec)),
    }
}

/// Loads a signer; without an MSP ID, the channel MSP that validates its certificate.
fn load_signer(spec: &str, config: Option<&ChannelConfig>) -> anyhow::Result<Signer> {
    let (id, dir) = split_signer(spec);
    if let Some(id) = id {
        return client::load_identity(&dir, id)
            .with_context(|| format!("loading signer {id} from {}", dir.display()));
    }
    let config = config.with_context(|| {
        format!("--signer {spec} has no MSP ID; write it as MSPID={spec} (or give --msp-id)")
    })?;
    let now = unix_now()?;
    for msp in config.msp_configs() {
        let Ok(identity) = client::load_identity(&dir, &msp.name) else {
            continue;
        };
        let valid = config
            .msp_manager()
            .msp(&msp.name)
            .is_ok_and(|m| m.validate(&identity.serialized(), now).is_ok());
        if valid {
            return Ok(identity);
        }
    }
    anyhow::bail!(
        "the identity in {} is not valid for any MSP of channel {} ({}); check the folder or \
         write the signer as MSPID=DIR",
        dir.display(),
        config.channel_id(),
        config
            .msp_configs()
            .iter()
            .map(|m| m.name.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    )
}

fn unix_now() -> anyhow::Result<i64> {
    Ok(SystemTime::now()
        .duration_since(UNIX_EPOCH)
        .context("the system clock is before 1970")?
        .as_secs() as i64)
}

/// The config block the chain's newest block points at, as bytes, with its number.
async fn latest_config(
    args: &UpdateArgs,
    tls: Option<&client::ClientTlsConfig>,
    reader: &Signer,
) -> anyhow::Result<(u64, Vec<u8>)> {
    let fetch = |seek: client::Seek| async move {
        let (blocks, status) =
            client::deliver_tls(&args.orderer, tls, reader, &args.channel, seek, seek)
                .await
                .with_context(|| {
                    format!(
                        "fetching blocks of {} from orderer {}; check that an orderer of the \
                         channel runs there and that --orderer names its gRPC address \
                         (host:port) and --tls-ca its TLS CA",
                        args.channel, args.orderer
                    )
                })?;
        match blocks.into_iter().next() {
            Some(block) if client::is_success(status) => Ok(block),
            _ => anyhow::bail!(
                "orderer {} answered Deliver of channel {} with status {status}; check the \
                 channel name and that the identity satisfies the channel's Readers policy",
                args.orderer,
                args.channel
            ),
        }
    };
    let newest = fetch(client::Seek::Newest).await?;
    let last_config = if newest.number == 0 {
        0
    } else {
        cambium_orderer::block_signatures(&newest)
            .context("reading the newest block's LAST_CONFIG")?
            .last_config
    };
    let block = if last_config == newest.number {
        newest
    } else {
        fetch(client::Seek::Specified(last_config)).await?
    };
    Ok((last_config, block.encode()))
}

/// The current config with the edit flags applied.
fn edited(current: &ChannelConfig, args: &UpdateArgs) -> anyhow::Result<ConfigGroup> {
    let mut group = current.channel_group().clone();
    if let Some(path) = &args.add_org {
        let (name, org) = yaml::load_org(path)?;
        group = cambium_channel::spec::add_application_org(&group, &name, &org)
            .with_context(|| format!("adding the organisation of {}", path.display()))?;
    }
    let orderer = group
        .groups
        .get_mut("Orderer")
        .context("the channel config has no Orderer group")?;
    if let Some(timeout) = &args.batch_timeout {
        let parsed = cambium_channel::duration::parse(timeout)
            .map_err(|e| anyhow::anyhow!("--batch-timeout {timeout}: {e}"))?;
        let value = orderer
            .values
            .get_mut("BatchTimeout")
            .context("the Orderer group has no BatchTimeout")?;
        value.value = Value::BatchTimeout(cambium_channel::duration::format(parsed));
    }
    if args.max_message_count.is_some()
        || args.preferred_max_bytes.is_some()
        || args.absolute_max_bytes.is_some()
    {
        let value = orderer
            .values
            .get_mut("BatchSize")
            .context("the Orderer group has no BatchSize")?;
        let Value::BatchSize(size) = &mut value.value else {
            anyhow::bail!("Orderer/BatchSize does not hold a batch size");
        };
        if let Some(n) = args.max_message_count {
            size.max_message_count = n;
        }
        if let Some(n) = args.preferred_max_bytes {
            size.preferred_max_bytes = n;
        }
        if let Some(n) = args.absolute_max_bytes {
            size.absolute_max_bytes = n;
        }
    }
    Ok(group)
}

fn update(args: UpdateArgs) -> anyhow::Result<()> {
    let edits = args.add_org.is_some()
        || args.batch_timeout.is_some()
        || args.max_message_count.is_some()
        || args.preferred_max_bytes.is_some()
        || args.absolute_max_bytes.is_some();
    if args.config.is_none() && args.file.is_none() && !edits {
        anyhow::bail!(
            "say what to change: --config NEW.yaml, an edit flag such as --batch-timeout 250ms \
             or --add-org ORG.yaml, or --file with a collected update"
        );
    }
    let wait = cambium_channel::duration::parse(&args.wait)
        .map_err(|e| anyhow::anyhow!("--wait {}: {e}", args.wait))?;
    let tls = if args.tls_ca.is_empty() {
        None
    } else {
        let identity = args.tls_cert.as_deref().zip(args.tls_key.as_deref());
        Some(client::tls_config(&args.tls_ca, identity).context("client TLS settings")?)
    };
    let runtime = client::runtime().context("starting the async runtime")?;
    // The reader needs an MSP ID before the config is known: an explicit one, or the config
    // found with the first signer that names its MSP.
    let explicit = args
        .identity
        .iter()
        .chain(args.signer.iter())
        .find(|s| split_signer(s).0.is_some())
        .cloned();
    let reader_spec = args
        .identity
        .clone()
        .or_else(|| args.signer.first().cloned())
        .context("give at least one --signer (an admin's MSP folder) or --identity")?;
    let bootstrap = match load_signer(&reader_spec, None) {
        Ok(s) => s,
        Err(_) => {
            let spec = explicit.context(
                "no --signer or --identity names its MSP ID (MSPID=DIR), so the channel config \
                 cannot be fetched; name at least one",
            )?;
            load_signer(&spec, None)?
        }
    };
    let (config_block_number, config_bytes) =
        runtime.block_on(latest_config(&args, tls.as_ref(), &bootstrap))?;
    let current = ChannelConfig::from_config_block(&config_bytes)
        .with_context(|| format!("the config block {config_block_number} of {}", args.channel))?;
    let submitter = load_signer(&reader_spec, Some(&current))?;
    if !args.json {
        println!(
            "Fetched config block {config_block_number} of channel {} (sequence {}) from {}",
            args.channel,
            current.sequence(),
            args.orderer
        );
    }
    let mut envelope = match (&args.file, &args.config) {
        (Some(file), _) => {
            let bytes = std::fs::read(file)
                .with_context(|| format!("reading the update file {}", file.display()))?;
            let (channel, envelope) = cambium_orderer::update::read_update_file(&bytes)
                .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
            if channel != args.channel {
                anyhow::bail!(
                    "{} is an update for channel {channel}, not {}",
                    file.display(),
                    args.channel
                );
            }
            envelope
        }
        (None, Some(yaml_path)) => {
            let spec = yaml::load(
                yaml_path,
                &LoadOptions {
                    channel_id: Some(args.channel.clone()),
                    profile: args.profile.clone(),
                },
            )?;
            let group = spec.to_channel_group()?;
            new_update(&args.channel, &current, &group)?
        }
        (None, None) => new_update(&args.channel, &current, &edited(&current, &args)?)?,
    };
    for spec in &args.signer {
        let signer = load_signer(spec, Some(&current))?;
        envelope.signatures.push(
            cambium_channel::sign_update(&envelope.config_update, &signer)
                .context("signing the update")?,
        );
        if !args.json {
            println!("Signed by {} ({})", signer.msp_id(), spec);
        }
    }
    if let Some(out) = &args.out {
        let bytes = cambium_orderer::update::update_file_bytes(&args.channel, &envelope);
        std::fs::write(out, &bytes)
            .with_context(|| format!("writing the update to {}", out.display()))?;
        if args.json {
            println!(
                "{}",
                serde_json::json!({"channel": args.channel, "file": out, "signatures": envelope.signatures.len()})
            );
        } else {
            println!(
                "Wrote the update with {} signature(s) to {}; add signatures with `cambium channel signconfigtx {}` and submit with `cambium channel update --file`",
                envelope.signatures.len(),
                out.display(),
                out.display()
            );
        }
        return Ok(());
    }
    let request = cambium_orderer::update::config_update_envelope(
        &args.channel,
        &envelope,
        &submitter,
        client::now(),
    )
    .map_err(|e| anyhow::anyhow!("building the CONFIG_UPDATE envelope: {e}"))?;
    let replies = runtime
        .block_on(client::broadcast_tls(
            &args.orderer,
            tls.as_ref(),
            std::slice::from_ref(&request),
        ))
        .with_context(|| format!("submitting the update to {}", args.orderer))?;
    let (status, info) = replies
        .into_iter()
        .next()
        .context("the orderer closed the Broadcast stream without answering")?;
    if !client::is_success(status) {
        anyhow::bail!("the orderer refused the config update (status {status}): {info}");
    }
    if !args.json {
        println!("Submitted; waiting for the new config block");
    }
    let deadline = std::time::Instant::now() + wait;
    let (number, new_config) = loop {
        let (number, bytes) = runtime.block_on(latest_config(&args, tls.as_ref(), &submitter))?;
        if number != config_block_number {
            let config = ChannelConfig::from_config_block(&bytes)
                .with_context(|| format!("the new config block {number}"))?;
            break (number, config);
        }
        if std::time::Instant::now() > deadline {
            anyhow::bail!(
                "the orderer accepted the update but no new config block reached {} within {}; \
                 check the orderers' logs",
                args.orderer,
                args.wait
            );
        }
        std::thread::sleep(std::time::Duration::from_millis(100));
    };
    if args.json {
        println!(
            "{}",
            serde_json::json!({
                "channel": args.channel,
                "block": number,
                "sequence": new_config.sequence(),
                "signatures": envelope.signatures.len(),
                "batchTimeout": cambium_channel::duration::format(new_config.batch_timeout()),
                "maxMessageCount": new_config.batch_size().max_message_count,
                "organizations": new_config
                    .application_orgs()
                    .into_iter()
                    .map(|o| o.msp_id)
                    .collect::<Vec<_>>(),
            })
        );
    } else {
        println!(
            "Channel {} updated: config block {number}, sequence {} (batch timeout {}, max message count {}, organisations {})",
            args.channel,
            new_config.sequence(),
            cambium_channel::duration::format(new_config.batch_timeout()),
            new_config.batch_size().max_message_count,
            new_config
                .application_orgs()
                .into_iter()
                .map(|o| o.msp_id)
                .collect::<Vec<_>>()
                .join(", ")
        );
    }
    Ok(())
}

fn new_update(
    channel: &str,
    current: &ChannelConfig,
    updated: &ConfigGroup,
) -> anyhow::Result<UpdateEnvelope> {
    let update = cambium_channel::compute_update(channel, current.channel_group(), updated)?;
    Ok(UpdateEnvelope {
        config_update: update.encode().context("encoding the config update")?,
        signatures: Vec::new(),
    })
}

fn signconfigtx(file: &Path, signer: &str, msp_id: Option<&str>, json: bool) -> anyhow::Result<()> {
    let spec = match (split_signer(signer).0, msp_id) {
        (None, Some(id)) => format!("{id}={signer}"),
        _ => signer.to_owned(),
    };
    let signer = load_signer(&spec, None)?;
    let bytes = std::fs::read(file)
        .with_context(|| format!("reading the update file {}", file.display()))?;
    let (channel, mut envelope) = cambium_orderer::update::read_update_file(&bytes)
        .map_err(|e| anyhow::anyhow!("{}: {e}", file.display()))?;
    envelope.signatures.push(
        cambium_channel::sign_update(&envelope.config_update, &signer)
            .context("signing the update")?,
    );
    std::fs::write(
        file,
        cambium_orderer::update::update_file_bytes(&channel, &envelope),
    )
    .with_context(|| format!("writing {}", file.display()))?;
    if json {
        println!(
            "{}",
            serde_json::json!({"channel": channel, "file": file, "signer": signer.msp_id(), "signatures": envelope.signatures.len()})
        );
    } else {
        println!(
            "Signed the update for channel {channel} as {} ({} signature(s) now) in {}",
            signer.msp_id(),
            envelope.signatures.len(),
            file.display()
        );
    }
    Ok(())
}
