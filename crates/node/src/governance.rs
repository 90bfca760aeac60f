//! The client side of contract governance: freeze, unfreeze and retire a contract
//! (`_lifecycle` `FreezeContract`, `UnfreezeContract`, `RetireContract`) and query its status
//! (`QueryContractStatus`). See `cambium_lifecycle::governance` for the rules.
//!
//! An act is a channel decision: the validator requires `LifecycleEndorsement` (by default a
//! majority of the orgs' peers), so [`act`] has it endorsed by the first peer of every
//! organisation in the connection profile, submits it as the admin and returns once every
//! endorser reports the new status.

use std::time::{Duration, Instant};

use cambium_lifecycle::governance::{state_word, Act};
use cambium_lifecycle::{ContractState, ContractStateArgs, ContractStatus};
use cambium_wire::Message;
use serde::Serialize;

use crate::admin::{Admin, Committed};
use crate::error::{NodeError, Result};

/// How long [`act`] waits for every endorser to report the new status.
const AGREEMENT_TIMEOUT: Duration = Duration::from_secs(30);

/// A contract's governance status as tools show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Status {
    /// The contract name.
    pub name: String,
    /// `active`, `frozen` or `retired`.
    pub state: String,
    /// The reason given by the last act (empty if none).
    pub reason: String,
}

impl Status {
    fn from_wire(status: &ContractStatus) -> Status {
        let state = ContractState::try_from(status.state).unwrap_or(ContractState::Frozen);
        Status {
            name: status.name.clone(),
            state: state_word(state).to_owned(),
            reason: status.reason.clone(),
        }
    }
}

/// What a governance command did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct Outcome {
    /// The `_lifecycle` function called.
    pub function: String,
    /// The act's transaction.
    pub commit: Committed,
    /// The peers that endorsed it.
    pub endorsers: Vec<String>,
    /// The contract's status after the act.
    pub status: Status,
}

fn args(name: &str, reason: &str) -> Vec<u8> {
    ContractStateArgs {
        name: name.to_owned(),
        reason: reason.to_owned(),
    }
    .encode_to_vec()
}

fn decode(bytes: &[u8]) -> Result<ContractStatus> {
    ContractStatus::decode(bytes).map_err(|e| {
        NodeError::Rejected(format!(
            "the peer answered a contract status that does not decode: {e}; is it a Cambium peer of this version?"
        ))
    })
}

/// The governance status of `name` (`QueryContractStatus`), asked of `peer`.
pub async fn query_status(admin: &Admin, peer: &str, name: &str) -> Result<Status> {
    let bytes = admin
        .call(
            peer,
            &admin.channel_id,
            cambium_lifecycle::governance::QUERY_STATUS,
            args(name, ""),
        )
        .await?;
    Ok(Status::from_wire(&decode(&bytes)?))
}

/// The act a command word names: `freeze`, `unfreeze` or `retire`.
pub fn parse_act(word: &str) -> Result<Act> {
    match word {
        "freeze" => Ok(Act::Freeze),
        "unfreeze" => Ok(Act::Unfreeze),
        "retire" => Ok(Act::Retire),
        other => Err(NodeError::Rejected(format!(
            "'{other}' is not a governance act; use freeze, unfreeze or retire"
        ))),
    }
}

/// Runs `act` on `name` with `reason` as `admin`: endorsed by the first peer of every
/// organisation in the profile, submitted, and awaited until every endorser reports the new
/// status. `progress` is told each stage.
pub async fn act(
    admin: &Admin,
    name: &str,
    act: Act,
    reason: &str,
    progress: &dyn Fn(&str),
) -> Result<Outcome> {
    let function = act.function();
    let endorsers = admin
        .profile
        .organizations
        .keys()
        .map(|org| Ok(admin.profile.peer_of(org, None)?.0.to_owned()))
        .collect::<Result<Vec<_>>>()?;
    let watch = endorsers.first().ok_or_else(|| {
        NodeError::Rejected(
            "the connection profile lists no organisation with a peer to endorse the act"
                .to_owned(),
        )
    })?;
    progress(&format!(
        "{function} '{name}': endorsing on {}",
        endorsers.join(", ")
    ));
    let (commit, payload) = admin
        .submit(&endorsers, watch, function, args(name, reason))
        .await?;
    progress(&format!(
        "{function} '{name}': committed in block {} (tx {})",
        commit.block, commit.tx_id
    ));
    let status = Status::from_wire(&decode(&payload)?);
    let started = Instant::now();
    for peer in &endorsers {
        loop {
            if query_status(admin, peer, name).await.ok().as_ref() == Some(&status) {
                break;
            }
            if started.elapsed() > AGREEMENT_TIMEOUT {
                return Err(NodeError::Rejected(format!(
                    "{function} '{name}' committed in block {}, but {peer} still does not report it after {:.0} s; check that the peer receives blocks",
                    commit.block,
                    AGREEMENT_TIMEOUT.as_secs_f64()
                )));
            }
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }
    Ok(Outcome {
        function: function.to_owned(),
        commit,
        endorsers,
        status,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Evaluates `basic` `GetAllAssets` on Org1's peer as User1; the response status and
    /// message.
    async fn propose(profile: &crate::ConnectionProfile) -> (i32, String) {
        let signer = profile.signing_identity("Org1", "User1").unwrap();
        let proposal = crate::client::signed_proposal(
            &signer,
            profile.channel().unwrap(),
            "basic",
            vec![b"GetAllAssets".to_vec()],
        )
        .unwrap();
        let (_, peer) = profile.peer_of("Org1", None).unwrap();
        let channel = crate::connect::connect(peer, None).await.unwrap();
        let response = crate::client::process_proposal(channel, &peer.url, &proposal)
            .await
            .unwrap()
            .response
            .unwrap_or_default();
        (response.status, response.message)
    }

    /// The asset-transfer contract of this source tree, built for wasm32 into the shared
    /// target directory and packaged as `basic_1.0`.
    fn asset_transfer() -> Vec<u8> {
        let exe = std::env::current_exe().unwrap();
        let target = exe.ancestors().nth(3).unwrap().join("contract-wasm");
        let dir =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../contracts/asset-transfer");
        let wasm = cambium_vm::toolchain::build(&dir, &target).unwrap();
        cambium_vm::package::write_package(&std::fs::read(wasm).unwrap(), "basic_1.0").unwrap()
    }

    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn freeze_unfreeze_and_retire_on_a_dev_network() {
        let tmp = tempfile::tempdir().unwrap();
        let network = crate::DevNetwork::start(&crate::UpOptions {
            data_dir: tmp.path().join("data"),
            ports: Some(crate::Ports::free().unwrap()),
            cut_when_idle: true,
            log: None,
        })
        .await
        .unwrap();
        network.wait_ready(Duration::from_secs(30)).await.unwrap();
        let profile =
            crate::ConnectionProfile::load(&network.network().profile_json_path()).unwrap();
        crate::deploy::deploy(
            &profile,
            &asset_transfer(),
            &crate::deploy::DeployOptions {
                name: "basic".into(),
                ..Default::default()
            },
            &|_| {},
        )
        .await
        .unwrap();
        let admin = Admin::new(profile.clone(), "Org1", None).unwrap();
        let peer = admin.peer_name(None).unwrap();
        assert_eq!(
            query_status(&admin, &peer, "basic").await.unwrap().state,
            "active"
        );
        assert_eq!(propose(&profile).await.0, 200);

        let stages = std::sync::Mutex::new(Vec::new());
        let frozen = act(&admin, "basic", Act::Freeze, "incident 7", &|s: &str| {
            stages.lock().unwrap().push(s.to_owned())
        })
        .await
        .unwrap();
        assert_eq!(frozen.function, "FreezeContract");
        assert_eq!(
            (frozen.status.state.as_str(), frozen.status.reason.as_str()),
            ("frozen", "incident 7")
        );
        assert_eq!(frozen.endorsers.len(), 2, "one peer of each org endorses");
        assert_eq!(stages.lock().unwrap().len(), 2);
        let (status, message) = propose(&profile).await;
        assert_eq!(status, 500);
        assert!(
            message.contains(&format!(
                "contract basic is frozen since block {}: incident 7; an admin can unfreeze it with `cambium contract unfreeze basic`",
                frozen.commit.block
            )),
            "{message}"
        );
        let e = act(&admin, "basic", Act::Freeze, "", &|_| {})
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("already frozen (incident 7)"), "{e}");

        let active = act(&admin, "basic", Act::Unfreeze, "fixed", &|_| {})
            .await
            .unwrap();
        assert_eq!(active.status.state, "active");
        assert_eq!(propose(&profile).await.0, 200);

        let retired = act(&admin, "basic", Act::Retire, "replaced", &|_| {})
            .await
            .unwrap();
        assert_eq!(retired.status.state, "retired");
        let e = act(&admin, "basic", Act::Unfreeze, "", &|_| {})
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("retiring is final"), "{e}");
        assert!(propose(&profile).await.1.contains("retired since block"));
        let e = query_status(&admin, &peer, "nope")
            .await
            .unwrap_err()
            .to_string();
        assert!(e.contains("namespace nope is not defined"), "{e}");
        network.stop().await;
    }

    #[test]
    fn acts_are_named_by_their_command_words() {
        assert_eq!(parse_act("freeze").unwrap(), Act::Freeze);
        assert_eq!(parse_act("unfreeze").unwrap(), Act::Unfreeze);
        assert_eq!(parse_act("retire").unwrap(), Act::Retire);
        let e = parse_act("abolish").unwrap_err().to_string();
        assert!(e.contains("'abolish' is not a governance act"), "{e}");
    }

    #[test]
    fn statuses_read_as_words() {
        let status = ContractStatus {
            state: ContractState::Retired as i32,
            reason: "end of life".into(),
            name: "kv".into(),
        };
        let bytes = status.encode_to_vec();
        assert_eq!(
            Status::from_wire(&decode(&bytes).unwrap()),
            Status {
                name: "kv".into(),
                state: "retired".into(),
                reason: "end of life".into()
            }
        );
        assert!(decode(&[0xff]).is_err());
    }
}
