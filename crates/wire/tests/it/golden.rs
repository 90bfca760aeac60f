//! Golden bytes derived by hand from the protobuf encoding rules.
//!
//! Rules used: a field's tag is the varint of `(field_number << 3) | wire_type`, with wire type
//! 0 for varints (ints, bools, enums) and 2 for length-delimited values (bytes, strings,
//! messages), which are followed by a varint length. proto3 omits fields at their default
//! value, except a set message (and a oneof member), which is written even when empty.

use cambium_primitives as dom;
use cambium_wire::{common, kvrwset, orderer, Message};

fn check(name: &str, actual: &[u8], expected: &[u8]) {
    assert_eq!(
        hex(actual),
        hex(expected),
        "{name}: encoding differs from the hand-derived bytes"
    );
}

fn hex(bytes: &[u8]) -> String {
    bytes
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect::<Vec<_>>()
        .join(" ")
}

#[test]
fn channel_header() {
    let header = common::ChannelHeader {
        r#type: 3,
        version: 0,
        timestamp: Some(prost_types::Timestamp {
            seconds: 1,
            nanos: 0,
        }),
        channel_id: "ch".into(),
        tx_id: "ab".into(),
        epoch: 300,
        extension: vec![0x01],
        tls_cert_hash: Vec::new(),
    };
    let expected = [
        0x08, 0x03, // field 1 (type), varint: 3 = ENDORSER_TRANSACTION
        // field 2 (version) = 0: omitted
        0x1a, 0x02, // field 3 (timestamp), length 2
        0x08, 0x01, //   Timestamp field 1 (seconds) = 1; nanos = 0 omitted
        0x22, 0x02, b'c', b'h', // field 4 (channel_id) "ch"
        0x2a, 0x02, b'a', b'b', // field 5 (tx_id) "ab"
        0x30, 0xac, 0x02, // field 6 (epoch) = 300 = 0b10_0101100 -> 0xac 0x02
        0x3a, 0x01,
        0x01, // field 7 (extension), 1 byte
              // field 8 (tls_cert_hash) empty: omitted
    ];
    check("ChannelHeader", &header.encode_to_vec(), &expected);
    let decoded = cambium_wire::tx::ChannelHeaderFields::decode(&expected).unwrap();
    assert_eq!(
        decoded.known_header_type(),
        Some(dom::HeaderType::EndorserTransaction)
    );
    assert_eq!(decoded.epoch, 300);
    assert_eq!(decoded.encode(), expected);
}

#[test]
fn seek_info_as_the_gateway_client_sends_it() {
    // start = Specified(5), stop = Specified(2^53 - 1); behavior, error_response and content_type
    // are all 0 (BLOCK_UNTIL_READY, STRICT, BLOCK) and so omitted.
    let specified = |number| orderer::SeekPosition {
        r#type: Some(orderer::seek_position::Type::Specified(
            orderer::SeekSpecified { number },
        )),
    };
    let info = orderer::SeekInfo {
        start: Some(specified(5)),
        stop: Some(specified((1u64 << 53) - 1)),
        behavior: 0,
        error_response: 0,
        content_type: 0,
    };
    let expected = [
        0x0a, 0x04, // field 1 (start), length 4
        0x1a, 0x02, //   SeekPosition field 3 (specified), length 2
        0x08, 0x05, //     SeekSpecified field 1 (number) = 5
        0x12, 0x0b, // field 2 (stop), length 11
        0x1a, 0x09, //   SeekPosition field 3 (specified), length 9
        0x08, //         SeekSpecified field 1 (number) = 2^53-1: 53 one-bits,
        0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, // 7 groups of 7 bits with continuation,
        0x0f, //         then the last 4 bits
    ];
    check("SeekInfo", &info.encode_to_vec(), &expected);
    let domain = dom::SeekInfo::new(
        dom::SeekPosition::Specified(5),
        dom::SeekPosition::Specified((1u64 << 53) - 1),
    );
    check(
        "SeekInfo from the domain",
        &cambium_wire::encode_seek_info(&domain),
        &expected,
    );

    // An empty oneof message is still written: tag and zero length.
    let next = orderer::SeekInfo {
        start: Some(orderer::SeekPosition {
            r#type: Some(orderer::seek_position::Type::NextCommit(
                orderer::SeekNextCommit {},
            )),
        }),
        ..Default::default()
    };
    check(
        "SeekInfo NextCommit",
        &next.encode_to_vec(),
        &[0x0a, 0x02, 0x22, 0x00],
    );
}

#[test]
fn kv_rwset() {
    let set = kvrwset::KvrwSet {
        reads: vec![
            kvrwset::KvRead {
                key: "a".into(),
                version: Some(kvrwset::Version {
                    block_num: 1,
                    tx_num: 0,
                }),
            },
            kvrwset::KvRead {
                key: "b".into(),
                version: None,
            },
        ],
        range_queries_info: Vec::new(),
        writes: vec![
            kvrwset::KvWrite {
                key: "a".into(),
                is_delete: false,
                value: b"x".to_vec(),
            },
            kvrwset::KvWrite {
                key: "c".into(),
                is_delete: true,
                value: Vec::new(),
            },
        ],
        metadata_writes: Vec::new(),
    };
    let expected = [
        0x0a, 0x07, // field 1 (reads), length 7
        0x0a, 0x01, b'a', //   KVRead.key "a"
        0x12, 0x02, 0x08, 0x01, //   KVRead.version {block_num 1; tx_num 0 omitted}
        0x0a, 0x03, // field 1 (reads), length 3
        0x0a, 0x01, b'b', //   KVRead.key "b", no version: the key did not exist
        0x1a, 0x06, // field 3 (writes), length 6
        0x0a, 0x01, b'a', //   KVWrite.key "a"; is_delete false omitted
        0x1a, 0x01, b'x', //   KVWrite.value "x"
        0x1a, 0x05, // field 3 (writes), length 5
        0x0a, 0x01, b'c', //   KVWrite.key "c"
        0x10, 0x01, //   KVWrite.is_delete true; empty value omitted
    ];
    check("KVRWSet", &set.encode_to_vec(), &expected);
}

#[test]
fn tx_rwset_from_the_domain() {
    let mut ns = dom::NsRwSet::new("cc");
    ns.writes.push(dom::KvWrite {
        key: "k".into(),
        is_delete: false,
        value: b"v".to_vec(),
    });
    let rw = dom::TxRwSet { ns: vec![ns] };
    let expected = [
        // data_model KV = 0: omitted
        0x12, 0x0e, // field 2 (ns_rwset), length 14
        0x0a, 0x02, b'c', b'c', //   namespace "cc"
        0x12, 0x08, //   rwset: KVRWSet bytes, length 8
        0x1a, 0x06, //     field 3 (writes), length 6
        0x0a, 0x01, b'k', 0x1a, 0x01, b'v', //       key "k", value "v"
    ];
    check(
        "TxReadWriteSet",
        &cambium_wire::encode_tx_rwset(&rw),
        &expected,
    );
}

#[test]
fn signature_policy_envelope() {
    // AND('A.member') written as 1-out-of-[SignedBy(0)] over a ROLE principal.
    let env = dom::SignaturePolicyEnvelope {
        version: 0,
        rule: dom::SignaturePolicy::NOutOf {
            n: 1,
            rules: vec![dom::SignaturePolicy::SignedBy(0)],
        },
        identities: vec![dom::Principal::Role {
            msp_id: "A".into(),
            role: dom::MspRole::Member,
        }],
    };
    let expected = [
        0x12, 0x08, // field 2 (rule), length 8
        0x12, 0x06, //   SignaturePolicy field 2 (n_out_of), length 6
        0x08, 0x01, //     NOutOf.n = 1
        0x12, 0x02, //     NOutOf.rules[0], length 2
        0x08,
        0x00, //       SignaturePolicy field 1 (signed_by) = 0, written because it is a oneof
        0x1a, 0x05, // field 3 (identities[0]): MSPPrincipal, length 5
        // principal_classification ROLE = 0: omitted
        0x12, 0x03, //   principal: MSPRole bytes, length 3
        0x0a, 0x01, b'A', //     msp_identifier "A"; role MEMBER = 0 omitted
    ];
    let actual = cambium_wire::encode_signature_policy_envelope(&env);
    check("SignaturePolicyEnvelope", &actual, &expected);
}
