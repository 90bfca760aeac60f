//! What operators ask a channel's peers: `cambium channel getinfo` (Fabric's `peer channel
//! getinfo`: height and the newest block's hashes from `qscc GetChainInfo`, plus Cambium's
//! `GetStateDigest`, so that peers can be compared) and `cambium channel fetch` (Fabric's `peer
//! channel fetch newest|oldest|config|N` from a peer's Deliver service).

use std::str::FromStr;

use cambium_lifecycle::package_signing;
use cambium_primitives::SeekPosition;
use cambium_wire::{common, Message};
use serde::Serialize;
use tonic::transport::Channel;

use crate::blocks::read_range;
use crate::client;
use crate::error::{NodeError, Result};
use crate::invoke::AppUser;
use crate::profile::ConnectionProfile;

/// One peer's view of the channel.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PeerChainInfo {
    /// The peer's name in the profile.
    pub peer: String,
    /// Its organisation's MSP ID.
    pub msp_id: String,
    /// Blocks committed (the newest is `height − 1`).
    pub height: u64,
    /// The newest block's header hash, hex.
    pub current_block_hash: String,
    /// Its previous block's header hash, hex (empty at height 1).
    pub previous_block_hash: String,
    /// The SHA-256 digest of the whole world state, hex, at `state_height`.
    pub state_digest: String,
    /// The height the digest was taken at (blocks may commit between the two questions).
    pub state_height: u64,
}

/// `function` of the system chaincode `chaincode` on `peer`, with `args` after the function
/// name, asked as `app` over `channel`; the response payload.
async fn ask(
    app: &AppUser,
    channel: Channel,
    peer: &str,
    chaincode: &str,
    channel_id: &str,
    function: &str,
    args: &[&str],
) -> Result<Vec<u8>> {
    let args = std::iter::once(function)
        .chain(args.iter().copied())
        .map(|a| a.as_bytes().to_vec())
        .collect();
    let proposal = client::signed_proposal(&app.signer, channel_id, chaincode, args)?;
    let response = client::process_proposal(channel, app.endpoint(), &proposal).await?;
    client::response_payload(&response, peer, function)
}

/// `qscc FUNCTION <channel>` on `peer`.
async fn qscc(app: &AppUser, channel: Channel, peer: &str, function: &str) -> Result<Vec<u8>> {
    let channel_id = app.channel_id.as_str();
    ask(
        app,
        channel,
        peer,
        "qscc",
        channel_id,
        function,
        &[channel_id],
    )
    .await
}

/// Asks `peer` (of the organisation keyed `org`) as that organisation's `user`.
pub async fn peer_chain_info(
    profile: &ConnectionProfile,
    org: &str,
    user: &str,
    peer: &str,
) -> Result<PeerChainInfo> {
    let app = AppUser::load(profile, org, user, Some(peer), None)?;
    let (_, organization) = profile.organization(org)?;
    let channel = app.connect().await?;
    let info = qscc(&app, channel.clone(), peer, "GetChainInfo").await?;
    let info = common::BlockchainInfo::decode(info.as_slice()).map_err(|e| {
        NodeError::Rejected(format!(
            "{peer} answered GetChainInfo with bytes that are not a common.BlockchainInfo: {e}"
        ))
    })?;
    let digest = qscc(&app, channel, peer, "GetStateDigest").await?;
    let (state_height, state_digest) = parse_digest(peer, &digest)?;
    Ok(PeerChainInfo {
        peer: peer.to_owned(),
        msp_id: organization.mspid.clone(),
        height: info.height,
        current_block_hash: package_signing::hex(&info.current_block_hash),
        previous_block_hash: package_signing::hex(&info.previous_block_hash),
        state_digest,
        state_height,
    })
}

/// `GetStateDigest`'s answer, `<height> <hex digest>`.
fn parse_digest(peer: &str, payload: &[u8]) -> Result<(u64, String)> {
    let text = String::from_utf8_lossy(payload);
    text.split_once(' ')
        .and_then(|(h, d)| Some((h.parse::<u64>().ok()?, d.to_owned())))
        .ok_or_else(|| {
            NodeError::Rejected(format!(
                "{peer} answered GetStateDigest with '{text}', not '<height> <digest>'"
            ))
        })
}

/// `peer`'s height and state digest, asked as `org`'s User1.
pub async fn state_digest(
    profile: &ConnectionProfile,
    org: &str,
    peer: &str,
) -> Result<(u64, String)> {
    let app = AppUser::load(profile, org, "User1", Some(peer), None)?;
    let payload = qscc(&app, app.connect().await?, peer, "GetStateDigest").await?;
    parse_digest(peer, &payload)
}

/// The channels `peer` (of the organisation keyed `org`) has joined, asked as that
/// organisation's `user` (`cscc GetChannels` needs a member of the peer's own organisation).
pub async fn peer_channels(
    profile: &ConnectionProfile,
    org: &str,
    user: &str,
    peer: &str,
) -> Result<Vec<String>> {
    let app = AppUser::load(profile, org, user, Some(peer), None)?;
    let payload = ask(
        &app,
        app.connect().await?,
        peer,
        "cscc",
        "",
        "GetChannels",
        &[],
    )
    .await?;
    let answer =
        cambium_wire::peer::ChannelQueryResponse::decode(payload.as_slice()).map_err(|e| {
            NodeError::Rejected(format!(
            "{peer} answered GetChannels with bytes that are not a protos.ChannelQueryResponse: {e}"
        ))
        })?;
    Ok(answer.channels.into_iter().map(|c| c.channel_id).collect())
}

/// The organisation (its key in the profile) that lists `peer`.
pub fn org_of_peer<'p>(profile: &'p ConnectionProfile, peer: &str) -> Result<&'p str> {
    profile.peer(peer)?;
    profile
        .organizations
        .iter()
        .find(|(_, o)| o.peers.iter().any(|p| p == peer))
        .map(|(key, _)| key.as_str())
        .ok_or_else(|| {
            NodeError::Rejected(format!(
                "peer {peer} belongs to no organisation of the profile; add it under an organisation's peers"
            ))
        })
}

/// Whether the peers agree: the same newest block, and the same state at the same height.
pub fn agree(infos: &[PeerChainInfo]) -> bool {
    infos.windows(2).all(|w| {
        w[0].height == w[1].height
            && w[0].current_block_hash == w[1].current_block_hash
            && (w[0].state_height != w[1].state_height || w[0].state_digest == w[1].state_digest)
    })
}

/// Which block `fetch` gets, as Fabric's `peer channel fetch` names it.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Which {
    /// The newest block.
    Newest,
    /// The genesis block.
    Oldest,
    /// The newest configuration block (the one the newest block's `LAST_CONFIG` names).
    Config,
    /// The block with this number.
    Number(u64),
}

impl FromStr for Which {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        match s {
            "newest" => Ok(Which::Newest),
            "oldest" => Ok(Which::Oldest),
            "config" => Ok(Which::Config),
            n => n.parse().map(Which::Number).map_err(|_| {
                format!("'{n}' is not a block; write newest, oldest, config or a block number")
            }),
        }
    }
}

impl std::fmt::Display for Which {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Which::Newest => f.write_str("newest"),
            Which::Oldest => f.write_str("oldest"),
            Which::Config => f.write_str("config"),
            Which::Number(n) => write!(f, "{n}"),
        }
    }
}

/// A fetched block.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Fetched {
    /// Its number.
    pub number: u64,
    /// Its transactions.
    pub transactions: usize,
    /// The `common.Block` bytes, as a block file holds them.
    pub bytes: Vec<u8>,
}

/// Fetches one block of `user`'s channel from its peer, as stored (with the peer's
/// validation codes in its metadata).
pub async fn fetch(user: &AppUser, which: Which) -> Result<Fetched> {
    let block = fetch_block(user, which).await?;
    Ok(Fetched {
        number: block.header.as_ref().map_or(0, |h| h.number),
        transactions: block.data.as_ref().map_or(0, |d| d.data.len()),
        bytes: block.encode_to_vec(),
    })
}

async fn fetch_block(user: &AppUser, which: Which) -> Result<common::Block> {
    let channel = user.connect().await?;
    let one = |position: SeekPosition| {
        let channel = channel.clone();
        async move {
            let mut blocks = read_range(
                channel,
                user.endpoint(),
                &user.signer,
                &user.channel_id,
                position,
                position,
                |_| {},
            )
            .await?;
            blocks.pop().ok_or_else(|| {
                NodeError::Rejected(format!(
                    "{} sent no block for {position:?} of channel '{}'",
                    user.endpoint(),
                    user.channel_id
                ))
            })
        }
    };
    match which {
        Which::Newest => one(SeekPosition::Newest).await,
        Which::Oldest => one(SeekPosition::Oldest).await,
        Which::Number(n) => one(SeekPosition::Specified(n)).await,
        Which::Config => {
            let newest = one(SeekPosition::Newest).await?;
            let number = newest.header.as_ref().map_or(0, |h| h.number);
            let last_config = last_config(&newest)?;
            if last_config == number {
                Ok(newest)
            } else {
                one(SeekPosition::Specified(last_config)).await
            }
        }
    }
}

/// The `LAST_CONFIG` index a block's orderer metadata names (0 for the genesis block).
fn last_config(block: &common::Block) -> Result<u64> {
    let bytes = block.encode_to_vec();
    let decoded = cambium_ledger::Block::decode(&bytes)
        .map_err(|e| NodeError::Rejected(format!("the newest block does not decode: {e}")))?;
    if decoded.number == 0 {
        return Ok(0);
    }
    cambium_orderer::block_signatures(&decoded)
        .map(|s| s.last_config)
        .map_err(|e| NodeError::Rejected(format!("reading the newest block's LAST_CONFIG: {e}")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn info(height: u64, hash: &str, state_height: u64, digest: &str) -> PeerChainInfo {
        PeerChainInfo {
            peer: "p".into(),
            msp_id: "M".into(),
            height,
            current_block_hash: hash.into(),
            previous_block_hash: String::new(),
            state_digest: digest.into(),
            state_height,
        }
    }

    #[test]
    fn which_block_is_written_as_fabric_writes_it() {
        assert_eq!("newest".parse::<Which>().unwrap(), Which::Newest);
        assert_eq!("oldest".parse::<Which>().unwrap(), Which::Oldest);
        assert_eq!("config".parse::<Which>().unwrap(), Which::Config);
        assert_eq!("12".parse::<Which>().unwrap(), Which::Number(12));
        let err = "latest".parse::<Which>().unwrap_err();
        assert_eq!(
            err,
            "'latest' is not a block; write newest, oldest, config or a block number"
        );
        assert_eq!(Which::Number(7).to_string(), "7");
    }

    #[test]
    fn peers_agree_on_the_same_tip_and_the_same_state_at_one_height() {
        let a = info(9, "aa", 9, "d1");
        assert!(agree(&[a.clone(), info(9, "aa", 9, "d1")]));
        assert!(!agree(&[a.clone(), info(9, "bb", 9, "d1")]), "a fork");
        assert!(
            !agree(&[a.clone(), info(9, "aa", 9, "d2")]),
            "diverged state"
        );
        assert!(!agree(&[a.clone(), info(8, "cc", 8, "d0")]), "one behind");
        assert!(
            agree(&[a, info(9, "aa", 10, "d3")]),
            "digests taken at different heights are not compared"
        );
        assert!(agree(&[]));
    }
}
