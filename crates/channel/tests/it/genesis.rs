//! Genesis blocks: round trips, determinism, Fabric's block layout and tree shape.

use cambium_channel::genesis::{config_envelope, LAST_CONFIG_SLOT, SIGNATURES_SLOT};
use cambium_channel::{
    genesis_block, inspect_config_block, AnchorPeer, ChannelConfig, OrdererEndpoint, Value,
};
use cambium_msp::policy;
use cambium_primitives::{HeaderType, ImplicitMetaRule, Policy, Timestamp};
use cambium_wire::config as wc;
use cambium_wire::tx;
use sha2::{Digest, Sha256};

use crate::support::Fixture;

const T: Timestamp = Timestamp {
    seconds: 1_700_000_000,
    nanos: 0,
};

#[test]
fn yaml_to_block_to_config_gives_back_the_spec() {
    let f = Fixture::new();
    let spec = f.spec();
    let config = ChannelConfig::from_spec(&spec).unwrap();
    let block = genesis_block(&config, T);
    let back = ChannelConfig::from_config_block(&block).unwrap();
    assert_eq!(back, config);
    assert_eq!(back.channel_id(), "mychannel");
    assert_eq!(back.sequence(), 0);
    assert_eq!(back.to_spec().unwrap(), spec);
    // The config envelope alone decodes to the same config.
    assert_eq!(
        ChannelConfig::from_config_envelope(&config_envelope(&config, T)).unwrap(),
        config
    );
}

#[test]
fn the_same_config_and_time_give_the_same_bytes() {
    let f = Fixture::new();
    // Two independent loads of the same files.
    let a = genesis_block(&f.config(), T);
    let b = genesis_block(&f.config(), T);
    assert_eq!(a, b);
    let later = genesis_block(
        &f.config(),
        Timestamp {
            seconds: T.seconds + 1,
            nanos: 0,
        },
    );
    assert_ne!(a, later, "the timestamp is part of the block");
    let other_id = {
        let mut spec = f.spec();
        spec.channel_id = "other".into();
        genesis_block(&ChannelConfig::from_spec(&spec).unwrap(), T)
    };
    assert_ne!(a, other_id);
}

#[test]
fn the_block_has_fabrics_genesis_layout() {
    let f = Fixture::new();
    let config = f.config();
    let bytes = genesis_block(&config, T);
    let block = wc::decode_block(&bytes).unwrap();
    assert_eq!(block.number, 0);
    assert!(block.previous_hash.is_empty());
    assert_eq!(block.data.len(), 1);
    assert_eq!(block.data_hash, Sha256::digest(&block.data[0]).to_vec());
    assert_eq!(block.metadata.len(), 5);
    assert_eq!(
        wc::decode_last_config_index(&block.metadata[LAST_CONFIG_SLOT], false).unwrap(),
        0
    );
    assert_eq!(
        wc::decode_last_config_index(&block.metadata[SIGNATURES_SLOT], true).unwrap(),
        0
    );
    assert!(block.metadata[2..].iter().all(Vec::is_empty));

    let env = tx::parse_envelope(&block.data[0]).unwrap();
    assert!(
        env.signature.is_empty(),
        "configtxgen's genesis envelope is unsigned"
    );
    assert!(env.creator_bytes.is_empty());
    assert_eq!(env.nonce.len(), tx::NONCE_SIZE);
    let ch = &env.channel_header;
    assert_eq!(ch.known_header_type(), Some(HeaderType::Config));
    assert_eq!(ch.version, 1);
    assert_eq!(ch.epoch, 0);
    assert_eq!(ch.channel_id, "mychannel");
    assert_eq!(ch.timestamp, Some(T));
    assert_eq!(ch.tx_id, tx::compute_tx_id(&env.nonce, &[]));
    let decoded = wc::decode_config_envelope(&env.data).unwrap();
    assert_eq!(decoded.sequence, 0);
    assert!(decoded.last_update.is_none());

    let (_, info) = inspect_config_block(&bytes).unwrap();
    // DER SEQUENCE{INTEGER 0, OCTET STRING "", OCTET STRING data_hash}.
    let mut der = vec![0x30, 39, 0x02, 0x01, 0x00, 0x04, 0x00, 0x04, 32];
    der.extend_from_slice(&block.data_hash);
    assert_eq!(info.header_hash.to_vec(), Sha256::digest(&der).to_vec());
    assert_eq!(info.last_config, Some(0));
    assert_eq!(info.tx_id, ch.tx_id);
}

#[test]
fn the_tree_has_fabrics_shape() {
    let f = Fixture::new();
    let config = f.config();
    let signature = |path: &str| match config.policy(path) {
        Some(Policy::Signature(env)) => policy::format(env),
        other => panic!("{path}: {other:?}"),
    };
    let meta = |path: &str| match config.policy(path) {
        Some(Policy::ImplicitMeta(m)) => m.to_string(),
        other => panic!("{path}: {other:?}"),
    };
    assert_eq!(
        signature("/Channel/Application/Org1MSP/Endorsement"),
        "OR('Org1MSP.peer')"
    );
    assert_eq!(
        signature("/Channel/Application/Org2MSP/Readers"),
        "OR('Org2MSP.admin', 'Org2MSP.peer', 'Org2MSP.client')"
    );
    assert_eq!(
        signature("/Channel/Orderer/OrdererMSP/Admins"),
        "OR('OrdererMSP.admin')"
    );
    assert_eq!(
        meta("/Channel/Application/Endorsement"),
        "MAJORITY Endorsement"
    );
    assert_eq!(
        meta("/Channel/Application/LifecycleEndorsement"),
        "MAJORITY Endorsement"
    );
    assert_eq!(
        meta("/Channel/Application/RolloutPromote"),
        "MAJORITY Endorsement"
    );
    assert_eq!(meta("/Channel/Application/RolloutAbort"), "ANY Admins");
    assert_eq!(meta("/Channel/Orderer/BlockValidation"), "ANY Writers");
    assert_eq!(meta("/Channel/Admins"), "MAJORITY Admins");
    assert_eq!(
        meta("Readers"),
        "ANY Readers",
        "paths relative to /Channel work too"
    );
    assert!(config
        .policy("/Channel/Application/Org3MSP/Endorsement")
        .is_none());

    let root = config.channel_group();
    assert_eq!(root.mod_policy, "Admins");
    assert_eq!(
        root.values["HashingAlgorithm"].value,
        Value::HashingAlgorithm("SHA256".into())
    );
    assert_eq!(
        root.values["BlockDataHashingStructure"].value,
        Value::BlockDataHashingStructure(u32::MAX)
    );
    assert_eq!(
        root.values["OrdererAddresses"].mod_policy,
        "/Channel/Orderer/Admins"
    );
    assert_eq!(
        root.groups.keys().collect::<Vec<_>>(),
        ["Application", "Orderer"]
    );
    let org1 = config.group("/Channel/Application/Org1MSP").unwrap();
    assert_eq!(
        org1.values.keys().collect::<Vec<_>>(),
        ["AnchorPeers", "MSP"]
    );
    assert!(org1
        .values
        .values()
        .all(|v| v.version == 0 && v.mod_policy == "Admins"));
    let orderer = config.group("Orderer").unwrap();
    assert_eq!(
        orderer.values.keys().collect::<Vec<_>>(),
        [
            "BatchSize",
            "BatchTimeout",
            "Capabilities",
            "ChannelRestrictions",
            "ConsensusType"
        ]
    );
    assert_eq!(config.capabilities(""), ["V2_0".to_string()].into());
    assert_eq!(config.capabilities("Orderer"), ["V2_0".to_string()].into());
    assert_eq!(
        config.capabilities("Application"),
        ["V2_5".to_string()].into()
    );
    assert_eq!(
        config
            .policy_group()
            .policy("Application/Org1MSP/Endorsement"),
        Some(&cambium_msp::policy::Policy::Signature(
            policy::parse("OR('Org1MSP.peer')").unwrap()
        ))
    );
    assert!(matches!(
        config.policy("/Channel/Application/Admins"),
        Some(Policy::ImplicitMeta(m)) if m.rule == ImplicitMetaRule::Majority
    ));
}

#[test]
fn typed_accessors_read_the_orderer_and_organisations() {
    let f = Fixture::new();
    let config = f.config();
    let b = config.batch_size();
    assert_eq!(
        (
            b.max_message_count,
            b.absolute_max_bytes,
            b.preferred_max_bytes
        ),
        (10, 99 << 20, 512 << 10)
    );
    assert_eq!(config.batch_timeout(), std::time::Duration::from_secs(2));
    assert_eq!(config.consensus_type(), "etcdraft");
    assert!(!config.maintenance());
    let orderer = &f.network.org("OrdererMSP").unwrap().nodes[0];
    let tls = std::fs::read(&orderer.tls_cert).unwrap();
    let consenters = config.consenters();
    assert_eq!(consenters.len(), 1);
    assert_eq!(
        (consenters[0].host.as_str(), consenters[0].port),
        ("orderer.example.com", 7050)
    );
    assert_eq!(consenters[0].server_tls_cert, tls);
    assert_eq!(consenters[0].client_tls_cert, tls);
    assert_eq!(config.raft_options().unwrap().tick_interval, "500ms");
    assert_eq!(
        config.orderer_endpoints(),
        [OrdererEndpoint {
            msp_id: Some("OrdererMSP".into()),
            address: "orderer.example.com:7050".into()
        }]
    );
    assert_eq!(
        config.anchor_peers("Org2MSP"),
        [AnchorPeer {
            host: "peer0.org2.example.com".into(),
            port: 9051
        }]
    );
    assert!(config.anchor_peers("NoSuchOrg").is_empty());
    let names = |orgs: Vec<cambium_channel::OrgInfo>| -> Vec<String> {
        orgs.into_iter()
            .map(|o| format!("{}={}", o.name, o.msp_id))
            .collect()
    };
    assert_eq!(
        names(config.application_orgs()),
        ["Org1MSP=Org1MSP", "Org2MSP=Org2MSP"]
    );
    assert_eq!(names(config.orderer_orgs()), ["OrdererMSP=OrdererMSP"]);
    assert_eq!(
        config.msp_manager().msp_ids(),
        ["OrdererMSP", "Org1MSP", "Org2MSP"]
    );
    assert_eq!(config.msp_configs().len(), 3);
    // The MSP in the config is the MSP folder, plus Fabric's crypto config.
    let folder =
        cambium_msp::MspConfig::from_dir(&f.network.org("Org1MSP").unwrap().msp_dir, "Org1MSP")
            .unwrap();
    assert!(config.msp_configs().contains(&folder));
}

#[test]
fn blocks_that_are_not_config_blocks_are_refused() {
    let f = Fixture::new();
    let config = f.config();
    let good = wc::decode_block(&genesis_block(&config, T)).unwrap();

    let mut tampered = good.clone();
    tampered.data[0].push(0);
    let err = ChannelConfig::from_config_block(&wc::encode_block(&tampered)).unwrap_err();
    assert!(
        err.to_string().contains("data hash does not match"),
        "{err}"
    );

    let block = |number: u64, data: Vec<Vec<u8>>| {
        let mut hasher = Sha256::new();
        for d in &data {
            hasher.update(d);
        }
        wc::encode_block(&wc::BlockParts {
            number,
            previous_hash: Vec::new(),
            data_hash: hasher.finalize().to_vec(),
            data,
            metadata: vec![Vec::new(); 5],
        })
    };
    let two = block(0, vec![good.data[0].clone(), good.data[0].clone()]);
    let err = ChannelConfig::from_config_block(&two).unwrap_err();
    assert!(err.to_string().contains("holds 2 envelopes"), "{err}");

    let ch = tx::ChannelHeaderFields {
        header_type: HeaderType::EndorserTransaction.as_i32(),
        channel_id: "mychannel".into(),
        ..Default::default()
    }
    .encode();
    let payload = tx::payload_bytes(&ch, &tx::signature_header_bytes(&[], b"n"), b"");
    let endorser = block(3, vec![tx::envelope_bytes(&payload, b"sig")]);
    let err = ChannelConfig::from_config_block(&endorser).unwrap_err();
    assert!(err.to_string().contains("not CONFIG"), "{err}");

    let err = ChannelConfig::from_config_block(b"\xff\xff not a block").unwrap_err();
    assert!(err.to_string().contains("not a Fabric block"), "{err}");
}

#[test]
fn config_trees_missing_or_contradicting_parts_are_refused() {
    let f = Fixture::new();
    let config = f.config();
    let check = |edit: &dyn Fn(&mut cambium_channel::ConfigGroup), expected: &[&str]| {
        let mut root = config.channel_group().clone();
        edit(&mut root);
        let err = ChannelConfig::new("mychannel", 0, root)
            .unwrap_err()
            .to_string();
        for e in expected {
            assert!(err.contains(e), "{e:?} not in {err}");
        }
    };
    check(
        &|root| {
            root.groups
                .get_mut("Orderer")
                .unwrap()
                .values
                .remove("BatchSize");
        },
        &["/Channel/Orderer", "BatchSize"],
    );
    check(
        &|root| {
            root.values.get_mut("HashingAlgorithm").unwrap().value =
                Value::HashingAlgorithm("SHA3_256".into());
        },
        &["SHA3_256", "SHA256"],
    );
    check(
        &|root| {
            root.groups.remove("Orderer");
        },
        &["no Orderer group"],
    );
    // Org2's group claiming Org1's MSP ID with Org2's CAs.
    check(
        &|root| {
            let org2 = root
                .groups
                .get_mut("Application")
                .unwrap()
                .groups
                .get_mut("Org2MSP")
                .unwrap();
            if let Value::Msp(wc::MspValue::Fabric(f)) =
                &mut org2.values.get_mut("MSP").unwrap().value
            {
                f.name = "Org1MSP".into();
            }
        },
        &["Org1MSP", "defined again"],
    );
    // A consenter without a usable TLS certificate.
    check(
        &|root| {
            let ct = &mut root
                .groups
                .get_mut("Orderer")
                .unwrap()
                .values
                .get_mut("ConsensusType")
                .unwrap()
                .value;
            if let Value::ConsensusType(ct) = ct {
                if let wc::ConsensusMetadata::EtcdRaft(raft) = &mut ct.metadata {
                    raft.consenters[0].server_tls_cert = b"not a certificate".to_vec();
                }
            }
        },
        &[
            "consenter 1",
            "orderer.example.com:7050",
            "server TLS certificate",
        ],
    );
    // The unedited tree is fine.
    check_ok(&config);
}

fn check_ok(config: &ChannelConfig) {
    let again = ChannelConfig::new("mychannel", 4, config.channel_group().clone()).unwrap();
    assert_eq!(again.sequence(), 4);
    assert_ne!(&again, config, "the sequence is part of a config");
}
