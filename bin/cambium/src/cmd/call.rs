//! `cambium contract invoke|query NAME FUNCTION [ARGS…]`: call a contract as an application
//! user through a peer's Gateway, like Fabric's `peer chaincode invoke` and `query`.

use std::collections::BTreeMap;

use anyhow::Context as _;
use cambium_node::invoke::{self, Call, Output};
use clap::{Args, Subcommand};

use super::network::{runtime, ClientArgs};

#[derive(Debug, Subcommand)]
pub(crate) enum CallCommand {
    /// Submit a transaction and wait for its commit (Endorse on the peers the contract's
    /// policy needs, sign, order, commit), like `peer chaincode invoke --waitForEvent`; prints
    /// what the contract returned, the block and the transaction ID. Exits with status 1 when
    /// the contract refuses the call or the transaction does not commit VALID.
    Invoke(CallArgs),
    /// Evaluate a function on one peer without ordering it (nothing is written), like `peer
    /// chaincode query`; prints what the contract returned.
    Query(CallArgs),
}

#[derive(Debug, Args)]
pub(crate) struct CallArgs {
    /// The contract's name on the channel.
    name: String,
    /// The function, then its arguments (or give them all with --ctor).
    #[arg(required_unless_present = "ctor", conflicts_with = "ctor")]
    args: Vec<String>,
    /// The call in Fabric's `-c` form: '{"Args":["CreateAsset","asset1"]}' or
    /// '{"function":"CreateAsset","Args":["asset1"]}'.
    #[arg(short = 'c', long, value_name = "JSON")]
    ctor: Option<String>,
    /// A private input the contract reads that stays off the ledger, KEY=VALUE (repeatable).
    #[arg(long, value_name = "KEY=VALUE")]
    transient: Vec<String>,
    /// The organisations whose peers endorse (invoke) or evaluate (query), by name or MSP ID,
    /// comma-separated (default: as the contract's policy needs; only the gateway's own
    /// organisation for a call with transient data, as Fabric does, so name them then).
    #[arg(long, value_delimiter = ',', value_name = "ORGS")]
    endorsing_orgs: Vec<String>,
    #[command(flatten)]
    client: ClientArgs,
}

impl CallArgs {
    fn call(&self) -> anyhow::Result<Call> {
        let args = match &self.ctor {
            Some(json) => invoke::parse_ctor(json)?,
            None => self.args.iter().map(|a| a.as_bytes().to_vec()).collect(),
        };
        let mut transient = BTreeMap::new();
        for entry in &self.transient {
            let (key, value) = invoke::parse_transient(entry)?;
            transient.insert(key, value);
        }
        Ok(Call {
            contract: self.name.clone(),
            args,
            transient,
            org: self.client.org.clone(),
            user: self.client.user.clone(),
            peer: self.client.peer.clone(),
            channel: self.client.channel.clone(),
            orgs: self.endorsing_orgs.clone(),
        })
    }
}

pub(crate) fn run(command: CallCommand) -> anyhow::Result<()> {
    let (args, submit) = match command {
        CallCommand::Invoke(args) => (args, true),
        CallCommand::Query(args) => (args, false),
    };
    let call = args.call()?;
    let profile = args.client.network.load()?;
    let runtime = runtime()?;
    if submit {
        let invoked = runtime
            .block_on(invoke::invoke(&profile, &call))
            .with_context(|| format!("invoking {}", args.name))?;
        if args.client.json {
            println!("{}", serde_json::to_string_pretty(&invoked)?);
            return Ok(());
        }
        println!(
            "committed VALID in block {} (transaction {})",
            invoked.block, invoked.tx_id
        );
        print_output(&invoked.output);
    } else {
        let output = runtime
            .block_on(invoke::query(&profile, &call))
            .with_context(|| format!("querying {}", args.name))?;
        if args.client.json {
            println!("{}", serde_json::to_string_pretty(&output)?);
            return Ok(());
        }
        print_output(&output);
    }
    Ok(())
}

/// The contract's answer: its payload (status and message too when not plain success).
fn print_output(output: &Output) {
    if output.status != 200 || !output.message.is_empty() {
        println!("status {}: {}", output.status, output.message);
    }
    if output.payload.is_empty() {
        return;
    }
    if output.payload_encoding == "hex" {
        println!("payload (hex): {}", output.payload);
    } else {
        println!("{}", output.payload);
    }
}
