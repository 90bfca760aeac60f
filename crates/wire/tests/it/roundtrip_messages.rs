//! encode → decode → equal (and re-encode → same bytes) for every message family.

use std::fmt::Debug;

use cambium_wire::{
    common, etcdraft, gateway, google_rpc, kvrwset, lifecycle, msp, orderer, peer, rwset, Message,
};
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

use crate::strategies::*;

fn check<M: Message + Default + PartialEq + Debug>(message: &M) -> Result<(), TestCaseError> {
    let bytes = message.encode_to_vec();
    let decoded = M::decode(bytes.as_slice()).map_err(|e| TestCaseError::fail(e.to_string()))?;
    prop_assert_eq!(&decoded, message);
    prop_assert_eq!(decoded.encode_to_vec(), bytes);
    Ok(())
}

fn channel_header() -> impl Strategy<Value = common::ChannelHeader> {
    (
        0i32..7,
        any::<i32>(),
        proptest::option::of(timestamp()),
        text(),
        text(),
        any::<u64>(),
        bytes(),
        bytes(),
    )
        .prop_map(
            |(ty, version, ts, channel_id, tx_id, epoch, extension, tls)| common::ChannelHeader {
                r#type: ty,
                version,
                timestamp: ts.map(cambium_wire::convert::timestamp_to_wire),
                channel_id,
                tx_id,
                epoch,
                extension,
                tls_cert_hash: tls,
            },
        )
}

fn block() -> impl Strategy<Value = common::Block> {
    (
        any::<u64>(),
        bytes(),
        bytes(),
        vec(bytes(), 0..4),
        vec(bytes(), 0..6),
    )
        .prop_map(
            |(number, previous_hash, data_hash, data, metadata)| common::Block {
                header: Some(common::BlockHeader {
                    number,
                    previous_hash,
                    data_hash,
                }),
                data: Some(common::BlockData { data }),
                metadata: Some(common::BlockMetadata { metadata }),
            },
        )
}

fn config_group() -> impl Strategy<Value = common::ConfigGroup> {
    let leaf = (any::<u64>(), text()).prop_map(|(version, mod_policy)| common::ConfigGroup {
        version,
        mod_policy,
        ..Default::default()
    });
    leaf.prop_recursive(2, 8, 2, |inner| {
        (
            any::<u64>(),
            btree_map(text(), inner, 0..2),
            btree_map(text(), (any::<u64>(), bytes(), text()), 0..2),
            btree_map(text(), (any::<u64>(), 0i32..4, bytes(), text()), 0..2),
            text(),
        )
            .prop_map(|(version, groups, values, policies, mod_policy)| {
                common::ConfigGroup {
                    version,
                    groups,
                    values: values
                        .into_iter()
                        .map(|(k, (version, value, mod_policy))| {
                            (
                                k,
                                common::ConfigValue {
                                    version,
                                    value,
                                    mod_policy,
                                },
                            )
                        })
                        .collect(),
                    policies: policies
                        .into_iter()
                        .map(|(k, (version, ty, value, mod_policy))| {
                            let policy = Some(common::Policy { r#type: ty, value });
                            (
                                k,
                                common::ConfigPolicy {
                                    version,
                                    policy,
                                    mod_policy,
                                },
                            )
                        })
                        .collect(),
                    mod_policy,
                }
            })
    })
}

fn seek_position() -> impl Strategy<Value = orderer::SeekPosition> {
    use orderer::seek_position::Type;
    prop_oneof![
        Just(Type::Newest(orderer::SeekNewest {})),
        Just(Type::Oldest(orderer::SeekOldest {})),
        any::<u64>().prop_map(|number| Type::Specified(orderer::SeekSpecified { number })),
        Just(Type::NextCommit(orderer::SeekNextCommit {})),
    ]
    .prop_map(|t| orderer::SeekPosition { r#type: Some(t) })
}

fn response() -> impl Strategy<Value = peer::Response> {
    (any::<i32>(), text(), bytes()).prop_map(|(status, message, payload)| peer::Response {
        status,
        message,
        payload,
    })
}

fn chaincode_event() -> impl Strategy<Value = peer::ChaincodeEvent> {
    (text(), text(), text(), bytes()).prop_map(|(chaincode_id, tx_id, event_name, payload)| {
        peer::ChaincodeEvent {
            chaincode_id,
            tx_id,
            event_name,
            payload,
        }
    })
}

fn chaincode_id() -> impl Strategy<Value = peer::ChaincodeId> {
    (text(), text(), text()).prop_map(|(path, name, version)| peer::ChaincodeId {
        path,
        name,
        version,
    })
}

fn endorsement() -> impl Strategy<Value = peer::Endorsement> {
    (bytes(), bytes()).prop_map(|(endorser, signature)| peer::Endorsement {
        endorser,
        signature,
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(64))]

    #[test]
    fn common_messages(ch in channel_header(), creator in bytes(), nonce in bytes(), data in bytes(),
                       sig in bytes(), block in block(), index in any::<u64>()) {
        check(&ch)?;
        let sh = common::SignatureHeader { creator, nonce };
        check(&sh)?;
        let payload = common::Payload {
            header: Some(common::Header { channel_header: ch.encode_to_vec(), signature_header: sh.encode_to_vec() }),
            data,
        };
        check(&payload)?;
        check(&common::Envelope { payload: payload.encode_to_vec(), signature: sig.clone() })?;
        check(&block)?;
        let last = common::LastConfig { index };
        check(&last)?;
        let meta = common::Metadata {
            value: common::OrdererBlockMetadata { last_config: Some(last), consenter_metadata: sig.clone() }.encode_to_vec(),
            signatures: vec![common::MetadataSignature { signature_header: sh.encode_to_vec(), signature: sig, identifier_header: Vec::new() }],
        };
        check(&meta)?;
    }

    #[test]
    fn config_messages(group in config_group(), seq in any::<u64>(), update in bytes(), sigs in vec((bytes(), bytes()), 0..3),
                       isolated in byte_map(), channel in text()) {
        let config = common::Config { sequence: seq, channel_group: Some(group.clone()) };
        check(&config)?;
        check(&common::ConfigEnvelope { config: Some(config), last_update: Some(common::Envelope { payload: update.clone(), signature: Vec::new() }) })?;
        check(&common::ConfigUpdateEnvelope {
            config_update: update,
            signatures: sigs.into_iter().map(|(signature_header, signature)| common::ConfigSignature { signature_header, signature }).collect(),
        })?;
        check(&common::ConfigUpdate { channel_id: channel, read_set: Some(group.clone()), write_set: Some(group), isolated_data: isolated })?;
        check(&orderer::BatchSize { max_message_count: 10, absolute_max_bytes: 99 << 20, preferred_max_bytes: 512 << 10 })?;
        check(&orderer::BatchTimeout { timeout: "2s".into() })?;
        check(&common::OrdererAddresses { addresses: vec!["127.0.0.1:7050".into()] })?;
        check(&common::BlockchainInfo {
            height: seq,
            current_block_hash: vec![1; 32],
            previous_block_hash: vec![2; 32],
            bootstrapping_snapshot_info: Some(common::BootstrappingSnapshotInfo { last_block_in_snapshot: seq / 2 }),
        })?;
        check(&etcdraft::ConfigMetadata {
            consenters: vec![etcdraft::Consenter { host: "orderer0".into(), port: 7050, client_tls_cert: vec![1], server_tls_cert: vec![2] }],
            options: Some(etcdraft::Options { tick_interval: "500ms".into(), election_tick: 10, heartbeat_tick: 1, max_inflight_blocks: 5, snapshot_interval_size: 16 << 20 }),
        })?;
        check(&peer::ChannelQueryResponse { channels: vec![peer::ChannelInfo { channel_id: "mychannel".into() }] })?;
        check(&peer::AnchorPeers { anchor_peers: vec![peer::AnchorPeer { host: "peer0".into(), port: 7051 }] })?;
    }

    #[test]
    fn policy_and_msp_messages(env in signature_policy_envelope(), name in text(), certs in vec(bytes(), 0..3), ou in text(), enable in any::<bool>()) {
        let wire_env = common::SignaturePolicyEnvelope::from(&env);
        check(&wire_env)?;
        check(&common::ApplicationPolicy { r#type: Some(common::application_policy::Type::SignaturePolicy(wire_env)) })?;
        check(&common::ApplicationPolicy { r#type: Some(common::application_policy::Type::ChannelConfigPolicyReference(name.clone())) })?;
        let ou_id = msp::FabricOuIdentifier { certificate: certs.first().cloned().unwrap_or_default(), organizational_unit_identifier: ou };
        let config = msp::FabricMspConfig {
            name: name.clone(),
            root_certs: certs.clone(),
            intermediate_certs: certs.clone(),
            admins: certs.clone(),
            revocation_list: Vec::new(),
            signing_identity: Some(msp::SigningIdentityInfo {
                public_signer: certs.concat(),
                private_signer: Some(msp::KeyInfo { key_identifier: name.clone(), key_material: Vec::new() }),
            }),
            organizational_unit_identifiers: vec![ou_id.clone()],
            crypto_config: Some(msp::FabricCryptoConfig { signature_hash_family: "SHA2".into(), identity_identifier_hash_function: "SHA256".into() }),
            tls_root_certs: certs.clone(),
            tls_intermediate_certs: certs,
            fabric_node_ous: Some(msp::FabricNodeOUs {
                enable,
                client_ou_identifier: Some(ou_id.clone()),
                peer_ou_identifier: Some(ou_id.clone()),
                admin_ou_identifier: Some(ou_id.clone()),
                orderer_ou_identifier: Some(ou_id),
            }),
        };
        check(&config)?;
        check(&msp::MspConfig { r#type: 0, config: config.encode_to_vec() })?;
    }

    #[test]
    fn peer_messages(args in vec(bytes(), 0..4), transient in byte_map(), id in chaincode_id(), resp in response(),
                     event in chaincode_event(), ends in vec(endorsement(), 0..3), hash in bytes(), results in bytes()) {
        let spec = peer::ChaincodeInvocationSpec { chaincode_spec: Some(peer::ChaincodeSpec {
            r#type: peer::chaincode_spec::Type::Node as i32,
            chaincode_id: Some(id.clone()),
            input: Some(peer::ChaincodeInput { args, decorations: transient.clone(), is_init: true }),
            timeout: 0,
        })};
        check(&spec)?;
        let cpp = peer::ChaincodeProposalPayload { input: spec.encode_to_vec(), transient_map: transient };
        check(&cpp)?;
        check(&peer::ChaincodeHeaderExtension { chaincode_id: Some(id.clone()) })?;
        let proposal = peer::Proposal { header: hash.clone(), payload: cpp.encode_to_vec(), extension: Vec::new() };
        check(&proposal)?;
        check(&peer::SignedProposal { proposal_bytes: proposal.encode_to_vec(), signature: hash.clone() })?;
        let action = peer::ChaincodeAction { results, events: event.encode_to_vec(), response: Some(resp.clone()), chaincode_id: Some(id) };
        check(&action)?;
        check(&event)?;
        let prp = peer::ProposalResponsePayload { proposal_hash: hash.clone(), extension: action.encode_to_vec() };
        check(&prp)?;
        check(&peer::ProposalResponse {
            version: 1,
            timestamp: None,
            response: Some(resp),
            payload: prp.encode_to_vec(),
            endorsement: ends.first().cloned(),
            interest: Some(peer::ChaincodeInterest { chaincodes: vec![peer::ChaincodeCall { name: "cc".into(), ..Default::default() }] }),
        })?;
        let cap = peer::ChaincodeActionPayload {
            chaincode_proposal_payload: cpp.encode_to_vec(),
            action: Some(peer::ChaincodeEndorsedAction { proposal_response_payload: prp.encode_to_vec(), endorsements: ends }),
        };
        check(&cap)?;
        let tx = peer::Transaction { actions: vec![peer::TransactionAction { header: hash, payload: cap.encode_to_vec() }] };
        check(&tx)?;
        check(&peer::ProcessedTransaction {
            transaction_envelope: Some(common::Envelope { payload: tx.encode_to_vec(), signature: Vec::new() }),
            validation_code: peer::TxValidationCode::MvccReadConflict as i32,
        })?;
    }

    #[test]
    fn event_messages(event in chaincode_event(), block in block(), number in any::<u64>(), channel in text(), code in 0i32..26) {
        let filtered = peer::FilteredBlock {
            channel_id: channel,
            number,
            filtered_transactions: vec![peer::FilteredTransaction {
                txid: event.tx_id.clone(),
                r#type: common::HeaderType::EndorserTransaction as i32,
                tx_validation_code: code,
                data: Some(peer::filtered_transaction::Data::TransactionActions(peer::FilteredTransactionActions {
                    chaincode_actions: vec![peer::FilteredChaincodeAction { chaincode_event: Some(event) }],
                })),
            }],
        };
        check(&filtered)?;
        use peer::deliver_response::Type;
        for t in [
            Type::Status(common::Status::NotFound as i32),
            Type::Block(block.clone()),
            Type::FilteredBlock(filtered.clone()),
            Type::BlockAndPrivateData(peer::BlockAndPrivateData {
                block: Some(block.clone()),
                private_data_map: [(number, rwset::TxPvtReadWriteSet {
                    data_model: 0,
                    ns_pvt_rwset: vec![rwset::NsPvtReadWriteSet {
                        namespace: "cc".into(),
                        collection_pvt_rwset: vec![rwset::CollectionPvtReadWriteSet { collection_name: "c".into(), rwset: vec![1] }],
                    }],
                })].into_iter().collect(),
            }),
        ] {
            check(&peer::DeliverResponse { r#type: Some(t) })?;
        }
    }

    #[test]
    fn rwset_messages(rw in tx_rwset(), key_hash in bytes()) {
        let wire = rwset::TxReadWriteSet::from(&rw);
        check(&wire)?;
        for ns in &wire.ns_rwset {
            check(ns)?;
            check(&kvrwset::KvrwSet::decode(ns.rwset.as_slice()).unwrap())?;
        }
        check(&kvrwset::HashedRwSet {
            hashed_reads: vec![kvrwset::KvReadHash { key_hash: key_hash.clone(), version: Some(kvrwset::Version { block_num: 3, tx_num: 1 }) }],
            hashed_writes: vec![kvrwset::KvWriteHash { key_hash: key_hash.clone(), is_delete: true, value_hash: key_hash.clone(), is_purge: true }],
            metadata_writes: vec![kvrwset::KvMetadataWriteHash { key_hash, entries: Vec::new() }],
        })?;
    }

    #[test]
    fn orderer_messages(start in seek_position(), stop in seek_position(), behavior in 0i32..2, info in text(), block in block()) {
        check(&orderer::SeekInfo { start: Some(start), stop: Some(stop), behavior, error_response: 1, content_type: 1 })?;
        check(&orderer::BroadcastResponse { status: common::Status::Success as i32, info })?;
        check(&orderer::DeliverResponse { r#type: Some(orderer::deliver_response::Type::Block(block)) })?;
        check(&orderer::DeliverResponse { r#type: Some(orderer::deliver_response::Type::Status(common::Status::Forbidden as i32)) })?;
    }

    #[test]
    fn lifecycle_messages(name in text(), version in text(), seq in any::<i64>(), param in bytes(), approvals in btree_map(text(), any::<bool>(), 0..4)) {
        use lifecycle::chaincode_source;
        let source = lifecycle::ChaincodeSource { r#type: Some(chaincode_source::Type::LocalPackage(chaincode_source::Local { package_id: format!("{name}:abc") })) };
        check(&lifecycle::ApproveChaincodeDefinitionForMyOrgArgs {
            sequence: seq, name: name.clone(), version: version.clone(), endorsement_plugin: "escc".into(), validation_plugin: "vscc".into(),
            validation_parameter: param.clone(), collections: Some(peer::CollectionConfigPackage::default()), init_required: true, source: Some(source.clone()),
        })?;
        check(&lifecycle::ChaincodeSource { r#type: Some(chaincode_source::Type::Unavailable(chaincode_source::Unavailable {})) })?;
        check(&lifecycle::CheckCommitReadinessResult {
            approvals: approvals.clone(),
            mismatches: approvals.keys().map(|k| (k.clone(), lifecycle::check_commit_readiness_result::Mismatches { items: vec!["Version".into()] })).collect(),
        })?;
        check(&lifecycle::QueryChaincodeDefinitionResult { sequence: seq, version: version.clone(), approvals, validation_parameter: param.clone(), ..Default::default() })?;
        check(&lifecycle::QueryInstalledChaincodesResult { installed_chaincodes: vec![lifecycle::query_installed_chaincodes_result::InstalledChaincode {
            package_id: format!("{name}:abc"), label: name.clone(),
            references: [(name.clone(), lifecycle::query_installed_chaincodes_result::References {
                chaincodes: vec![lifecycle::query_installed_chaincodes_result::Chaincode { name: name.clone(), version: version.clone() }],
            })].into_iter().collect(),
        }]})?;
        check(&lifecycle::InstallChaincodeArgs { chaincode_install_package: param.clone() })?;
        check(&lifecycle::InstallChaincodeResult { package_id: format!("{name}:abc"), label: name.clone() })?;
        check(&lifecycle::QueryApprovedChaincodeDefinitionResult { sequence: seq, version, source: Some(source), ..Default::default() })?;
        check(&lifecycle::StateMetadata { datatype: "ChaincodeDefinition".into(), fields: vec!["Sequence".into()] })?;
        check(&lifecycle::StateData { r#type: Some(lifecycle::state_data::Type::Int64(seq)) })?;
        check(&lifecycle::StateData { r#type: Some(lifecycle::state_data::Type::Bytes(param.clone())) })?;
        check(&lifecycle::ChaincodeValidationInfo { validation_plugin: "vscc".into(), validation_parameter: param })?;
        check(&lifecycle::ChaincodeEndorsementInfo { version: name, init_required: true, endorsement_plugin: "escc".into() })?;
    }

    #[test]
    fn gateway_messages(tx_id in text(), channel in text(), orgs in vec(text(), 0..3), identity in bytes(), start in seek_position(),
                        event in chaincode_event(), block_number in any::<u64>(), code in 0i32..26) {
        let signed = peer::SignedProposal { proposal_bytes: identity.clone(), signature: identity.clone() };
        check(&gateway::EndorseRequest { transaction_id: tx_id.clone(), channel_id: channel.clone(), proposed_transaction: Some(signed.clone()), endorsing_organizations: orgs.clone() })?;
        check(&gateway::EvaluateRequest { transaction_id: tx_id.clone(), channel_id: channel.clone(), proposed_transaction: Some(signed.clone()), target_organizations: orgs.clone() })?;
        let envelope = common::Envelope { payload: identity.clone(), signature: Vec::new() };
        check(&gateway::EndorseResponse { prepared_transaction: Some(envelope.clone()) })?;
        check(&gateway::SubmitRequest { transaction_id: tx_id.clone(), channel_id: channel.clone(), prepared_transaction: Some(envelope.clone()) })?;
        let status_request = gateway::CommitStatusRequest { transaction_id: tx_id.clone(), channel_id: channel.clone(), identity: identity.clone() };
        check(&status_request)?;
        check(&gateway::SignedCommitStatusRequest { request: status_request.encode_to_vec(), signature: identity.clone() })?;
        check(&gateway::CommitStatusResponse { result: code, block_number })?;
        check(&gateway::EvaluateResponse { result: Some(peer::Response { status: 200, message: String::new(), payload: identity.clone() }) })?;
        let events_request = gateway::ChaincodeEventsRequest { channel_id: channel, chaincode_id: "cc".into(), identity: identity.clone(), start_position: Some(start), after_transaction_id: tx_id.clone() };
        check(&events_request)?;
        check(&gateway::SignedChaincodeEventsRequest { request: events_request.encode_to_vec(), signature: identity })?;
        check(&gateway::ChaincodeEventsResponse { events: vec![event], block_number })?;
        check(&gateway::ProposedTransaction { transaction_id: tx_id.clone(), proposal: Some(signed), endorsing_organizations: orgs })?;
        check(&gateway::PreparedTransaction { transaction_id: tx_id.clone(), envelope: Some(envelope) })?;
        let detail = gateway::ErrorDetail { address: "peer0:7051".into(), msp_id: "Org1MSP".into(), message: tx_id };
        check(&detail)?;
        check(&google_rpc::Status {
            code: 10,
            message: "failed to endorse transaction".into(),
            details: vec![prost_types::Any { type_url: "type.googleapis.com/gateway.ErrorDetail".into(), value: detail.encode_to_vec() }],
        })?;
    }
}
