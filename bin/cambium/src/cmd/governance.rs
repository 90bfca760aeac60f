//! `cambium contract freeze|unfreeze|retire|status NAME`: contract governance. A frozen
//! contract refuses new transactions until unfrozen; retiring is final. Acts are endorsed by
//! the first peer of every organisation and submitted by an org admin.

use anyhow::Context as _;
use cambium_node::admin::Admin;
use cambium_node::governance::{self, Outcome};
use clap::{Args, Subcommand};

use super::network::{runtime, NetworkArgs};

#[derive(Debug, Clone, Args)]
pub(crate) struct GovernanceArgs {
    /// The contract's name.
    name: String,
    #[command(flatten)]
    network: NetworkArgs,
    /// The organisation whose admin acts (`Org1`, `Org2`, or an MSP ID).
    #[arg(long, default_value = "Org1")]
    org: String,
    /// The peer to ask for the status (default: the organisation's first peer).
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
pub(crate) struct ActArgs {
    #[command(flatten)]
    target: GovernanceArgs,
    /// Why (kept with the status and shown to clients whose proposals are refused).
    #[arg(long, default_value = "")]
    reason: String,
}

#[derive(Debug, Subcommand)]
pub(crate) enum GovernanceCommand {
    /// Freeze a contract: its new transactions are refused until it is unfrozen
    /// (FreezeContract; an org admin, endorsed under LifecycleEndorsement).
    Freeze(ActArgs),
    /// Serve a frozen contract again (UnfreezeContract).
    Unfreeze(ActArgs),
    /// Retire a contract for good: no transaction and no new definition under its name
    /// (RetireContract); its definition and history stay queryable.
    Retire(ActArgs),
    /// Show whether a contract is active, frozen or retired (QueryContractStatus).
    Status(GovernanceArgs),
}

fn admin(args: &GovernanceArgs) -> anyhow::Result<(Admin, String)> {
    let profile = args.network.load()?;
    let admin = Admin::new(profile, &args.org, args.channel.as_deref())?;
    let peer = admin.peer_name(args.peer.as_deref())?;
    Ok((admin, peer))
}

pub(crate) fn run(command: GovernanceCommand) -> anyhow::Result<()> {
    runtime()?.block_on(run_async(command))
}

async fn run_async(command: GovernanceCommand) -> anyhow::Result<()> {
    let (word, args) = match command {
        GovernanceCommand::Status(args) => {
            let (admin, peer) = admin(&args)?;
            let status = governance::query_status(&admin, &peer, &args.name).await?;
            if args.json {
                println!("{}", serde_json::to_string_pretty(&status)?);
            } else if status.reason.is_empty() {
                println!("{}: {}", status.name, status.state);
            } else {
                println!("{}: {} ({})", status.name, status.state, status.reason);
            }
            return Ok(());
        }
        GovernanceCommand::Freeze(args) => ("freeze", args),
        GovernanceCommand::Unfreeze(args) => ("unfreeze", args),
        GovernanceCommand::Retire(args) => ("retire", args),
    };
    let act = governance::parse_act(word)?;
    let target = &args.target;
    let (admin, _) = admin(target)?;
    let json = target.json;
    let outcome = governance::act(&admin, &target.name, act, &args.reason, &|stage: &str| {
        if !json {
            eprintln!("{stage}");
        }
    })
    .await
    .with_context(|| format!("cambium contract {word} {}", target.name))?;
    print_outcome(&outcome, json)
}

fn print_outcome(outcome: &Outcome, json: bool) -> anyhow::Result<()> {
    if json {
        println!("{}", serde_json::to_string_pretty(outcome)?);
        return Ok(());
    }
    let status = &outcome.status;
    println!(
        "{} is {} (block {}, tx {}){}",
        status.name,
        status.state,
        outcome.commit.block,
        outcome.commit.tx_id,
        if status.reason.is_empty() {
            String::new()
        } else {
            format!(": {}", status.reason)
        }
    );
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use clap::Parser;

    #[derive(Parser)]
    struct Cli {
        #[command(subcommand)]
        command: GovernanceCommand,
    }

    #[test]
    fn acts_take_a_name_a_reason_and_json() {
        let cli = Cli::try_parse_from(["x", "freeze", "basic", "--reason", "incident 7", "--json"])
            .unwrap();
        let GovernanceCommand::Freeze(args) = cli.command else {
            panic!("not a freeze");
        };
        assert_eq!(
            (
                args.target.name.as_str(),
                args.reason.as_str(),
                args.target.json
            ),
            ("basic", "incident 7", true)
        );
        for verb in ["unfreeze", "retire", "status"] {
            assert!(Cli::try_parse_from(["x", verb, "basic"]).is_ok(), "{verb}");
        }
        assert!(Cli::try_parse_from(["x", "freeze"]).is_err());
        assert!(Cli::try_parse_from(["x", "status", "basic", "--reason", "r"]).is_err());
    }
}
