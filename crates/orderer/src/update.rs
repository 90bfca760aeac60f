//! Channel config updates on the orderer, as Fabric's orderer processes them.
//!
//! A `CONFIG_UPDATE` envelope (header type 2) that passed Broadcast's signature and `Writers`
//! checks is authorized against the channel's current config
//! ([`cambium_channel::ChannelConfig::authorize_update`]: read set, versions, `mod_policy`
//! signatures). The resulting config is wrapped in `ConfigEnvelope{config, last_update = the
//! CONFIG_UPDATE envelope}` inside a `CONFIG` envelope signed by the orderer, which is ordered
//! alone in its own block. The leader authorizes again at cut time against the config then in
//! force, so an update computed before another config committed is rejected, never applied.
//!
//! Applying a config block (on every node, from the Raft log) replaces the [`ChannelState`]:
//! batch limits and timeout, policies, MSPs and the orderer TLS roots apply from the next block.

use std::sync::Arc;

use cambium_channel::{ChannelConfig, ChannelError};
use cambium_ledger::Block;
use cambium_msp::SigningIdentity;
use cambium_primitives::{HeaderType, Timestamp};
use cambium_wire::config as wc;
use cambium_wire::config_update::ConfigUpdateEnvelope;
use cambium_wire::tx::{self, ChannelHeaderFields, EnvelopeView};

use crate::settings::ChannelSettings;
use crate::status::Rejection;

/// The signing identity type admins sign updates with (re-exported for tools).
pub use cambium_msp::SigningIdentity as Signer;
/// The update envelope type (re-exported for tools).
pub use cambium_wire::config_update::ConfigUpdateEnvelope as UpdateEnvelope;

/// `ChannelHeader.version` of the CONFIG envelopes the orderer writes (Fabric's `msgVersion`).
const CONFIG_MESSAGE_VERSION: i32 = 1;

/// The configuration in force on a channel: what the orderer enforces and, when the chain
/// holds a decodable config, the config itself (needed to authorize updates).
#[derive(Clone, Debug)]
pub struct ChannelState {
    /// Batch limits, policies, MSPs, consenters, last config block.
    pub settings: Arc<ChannelSettings>,
    /// The channel config; `None` when the channel was joined with a block this orderer
    /// cannot read as a config (then config updates are refused).
    pub config: Option<Arc<ChannelConfig>>,
}

impl ChannelState {
    /// The state after config block `number` carrying `config`: settings rebuilt from the
    /// config, keeping the Raft consenters of `self` (membership changes are refused, and the
    /// node's consenter addresses stay as joined).
    pub fn after_config(&self, config: ChannelConfig, number: u64) -> Result<ChannelState, String> {
        let mut settings = ChannelSettings::from_config(&config, number)?;
        settings.consenters = self.settings.consenters.clone();
        Ok(ChannelState {
            settings: Arc::new(settings),
            config: Some(Arc::new(config)),
        })
    }
}

/// The config a block carries, if it is a config block (one envelope of type CONFIG).
pub fn block_config(block: &Block) -> Option<Result<ChannelConfig, ChannelError>> {
    if block.data.len() != 1 {
        return None;
    }
    let view = tx::parse_envelope(&block.data[0]).ok()?;
    if view.channel_header.known_header_type() != Some(HeaderType::Config) {
        return None;
    }
    Some(ChannelConfig::from_config_envelope_bytes(
        &view.channel_header.channel_id,
        &view.data,
    ))
}

/// Authorizes the `CONFIG_UPDATE` envelope `view` against `current` at `now` (unix seconds)
/// and returns the next config. Signatures that do not satisfy a `mod_policy` are
/// `FORBIDDEN`; any other problem is `BAD_REQUEST`. Consenter-set changes are refused.
pub fn authorize(
    current: &ChannelConfig,
    view: &EnvelopeView,
    now: i64,
) -> Result<ChannelConfig, Rejection> {
    let envelope = ConfigUpdateEnvelope::decode(&view.data).map_err(|e| {
        Rejection::bad_request(format!(
            "the CONFIG_UPDATE payload is not a ConfigUpdateEnvelope: {e}; build it with cambium channel update"
        ))
    })?;
    let next = current
        .authorize_update(&envelope, now)
        .map_err(|e| match &e {
            ChannelError::UpdateNotAuthorized { .. } => {
                Rejection::forbidden(format!("config update refused: {e}"))
            }
            _ => Rejection::bad_request(format!("config update refused: {e}")),
        })?;
    if next.consenters() != current.consenters() {
        return Err(Rejection::bad_request(
            "config update refused: it changes the Raft consenter set, and changing consenters \
             (Raft membership) through a config update is not supported by this orderer; leave \
             Orderer/ConsensusType's consenters as they are",
        ));
    }
    ChannelSettings::from_config(&next, 0).map_err(|e| {
        Rejection::bad_request(format!(
            "config update refused: the updated config is not usable by the orderer: {e}"
        ))
    })?;
    Ok(next)
}

/// The `CONFIG` envelope the orderer orders for `next`: `ConfigEnvelope{config, last_update =
/// update}` (the client's CONFIG_UPDATE envelope, as received), signed by `signer`.
pub fn config_envelope(
    next: &ChannelConfig,
    update: &EnvelopeView,
    signer: &SigningIdentity,
    timestamp: Timestamp,
) -> Result<Vec<u8>, Rejection> {
    let mut envelope = next.config_envelope();
    envelope.last_update = Some(wc::EnvelopeParts {
        payload: update.payload_bytes.clone(),
        signature: update.signature.clone(),
    });
    let data = wc::encode_config_envelope(&envelope);
    let creator = cambium_wire::encode_serialized_identity(&signer.serialized());
    let nonce = cambium_msp::random_bytes(tx::NONCE_SIZE)
        .map_err(|e| Rejection::internal(format!("drawing a nonce: {e}")))?;
    let channel_header = ChannelHeaderFields {
        header_type: HeaderType::Config.as_i32(),
        version: CONFIG_MESSAGE_VERSION,
        timestamp: Some(timestamp),
        channel_id: next.channel_id().to_owned(),
        tx_id: tx::compute_tx_id(&nonce, &creator),
        epoch: 0,
        extension: Vec::new(),
        tls_cert_hash: Vec::new(),
    }
    .encode();
    let signature_header = tx::signature_header_bytes(&creator, &nonce);
    let payload = tx::payload_bytes(&channel_header, &signature_header, &data);
    let signature = signer
        .sign(&payload)
        .map_err(|e| Rejection::internal(format!("signing the config envelope: {e}")))?;
    Ok(tx::envelope_bytes(&payload, &signature))
}

/// A `CONFIG_UPDATE` envelope carrying `update` to channel `channel_id`, created and signed
/// by `submitter` (what `peer channel update` sends to the orderer). The submitter must
/// satisfy the channel's `Writers` policy; the admins' signatures are inside `update`.
pub fn config_update_envelope(
    channel_id: &str,
    update: &ConfigUpdateEnvelope,
    submitter: &SigningIdentity,
    timestamp: Timestamp,
) -> Result<Vec<u8>, String> {
    let creator = cambium_wire::encode_serialized_identity(&submitter.serialized());
    let nonce =
        cambium_msp::random_bytes(tx::NONCE_SIZE).map_err(|e| format!("drawing a nonce: {e}"))?;
    let channel_header = ChannelHeaderFields {
        header_type: HeaderType::ConfigUpdate.as_i32(),
        version: 0,
        timestamp: Some(timestamp),
        channel_id: channel_id.to_owned(),
        tx_id: tx::compute_tx_id(&nonce, &creator),
        epoch: 0,
        extension: Vec::new(),
        tls_cert_hash: Vec::new(),
    }
    .encode();
    let signature_header = tx::signature_header_bytes(&creator, &nonce);
    let payload = tx::payload_bytes(&channel_header, &signature_header, &update.encode());
    let signature = submitter
        .sign(&payload)
        .map_err(|e| format!("signing the CONFIG_UPDATE envelope: {e}"))?;
    Ok(tx::envelope_bytes(&payload, &signature))
}

/// Reads an update file as Fabric's tools write it: an `Envelope` of type CONFIG_UPDATE
/// (`peer channel signconfigtx`, `configtxlator`), or a bare `ConfigUpdateEnvelope`. Returns
/// the channel ID and the update envelope.
pub fn read_update_file(bytes: &[u8]) -> Result<(String, ConfigUpdateEnvelope), String> {
    if let Ok(view) = tx::parse_envelope(bytes) {
        if view.channel_header.known_header_type() == Some(HeaderType::ConfigUpdate) {
            let update = ConfigUpdateEnvelope::decode(&view.data).map_err(|e| {
                format!("the CONFIG_UPDATE envelope's payload does not decode: {e}")
            })?;
            return Ok((view.channel_header.channel_id, update));
        }
    }
    let update = ConfigUpdateEnvelope::decode(bytes)
        .map_err(|e| format!("neither a CONFIG_UPDATE Envelope nor a ConfigUpdateEnvelope: {e}"))?;
    let inner = cambium_wire::config_update::ConfigUpdate::decode(&update.config_update)
        .map_err(|e| {
            format!("neither a CONFIG_UPDATE Envelope nor a ConfigUpdateEnvelope (its ConfigUpdate does not decode: {e})")
        })?;
    if inner.channel_id.is_empty() {
        return Err(
            "the file is neither a CONFIG_UPDATE Envelope nor a ConfigUpdateEnvelope naming a channel"
                .into(),
        );
    }
    Ok((inner.channel_id, update))
}

/// The same update file re-written as an unsigned `Envelope` of type CONFIG_UPDATE (the form
/// `peer channel signconfigtx` reads and writes), for `channel_id`.
pub fn update_file_bytes(channel_id: &str, update: &ConfigUpdateEnvelope) -> Vec<u8> {
    let channel_header = ChannelHeaderFields {
        header_type: HeaderType::ConfigUpdate.as_i32(),
        channel_id: channel_id.to_owned(),
        ..Default::default()
    }
    .encode();
    let payload = tx::payload_bytes(&channel_header, &[], &update.encode());
    tx::envelope_bytes(&payload, &[])
}

#[cfg(test)]
mod tests {
    use super::*;
    use cambium_wire::config_update::{ConfigSignature, ConfigUpdate};

    fn sample() -> ConfigUpdateEnvelope {
        let update = ConfigUpdate {
            channel_id: "mychannel".into(),
            ..Default::default()
        };
        ConfigUpdateEnvelope {
            config_update: update.encode().unwrap(),
            signatures: vec![ConfigSignature {
                signature_header: vec![1, 2, 3],
                signature: vec![4, 5],
            }],
        }
    }

    #[test]
    fn update_files_are_read_as_envelopes_or_bare_update_envelopes() {
        let update = sample();
        let file = update_file_bytes("mychannel", &update);
        assert_eq!(
            read_update_file(&file).unwrap(),
            ("mychannel".to_string(), update.clone())
        );
        assert_eq!(
            read_update_file(&update.encode()).unwrap(),
            ("mychannel".to_string(), update)
        );
        let err = read_update_file(b"not an update").unwrap_err();
        assert!(err.contains("neither"), "{err}");
    }
}
