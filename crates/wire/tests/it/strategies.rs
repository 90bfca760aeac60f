//! Proptest strategies for domain types and a few building blocks of messages.

use std::collections::BTreeMap;

use cambium_primitives as dom;
use proptest::collection::{btree_map, vec};
use proptest::prelude::*;

/// Short byte strings, sometimes empty.
pub(crate) fn bytes() -> impl Strategy<Value = Vec<u8>> {
    vec(any::<u8>(), 0..24)
}

/// Short strings, including non-ASCII.
pub(crate) fn text() -> impl Strategy<Value = String> {
    "[a-zA-Z0-9_:/é.-]{0,12}"
}

/// A small map of names to bytes (transient data, decorations, isolated data).
pub(crate) fn byte_map() -> impl Strategy<Value = BTreeMap<String, Vec<u8>>> {
    btree_map(text(), bytes(), 0..4)
}

pub(crate) fn identity() -> impl Strategy<Value = dom::SerializedIdentity> {
    (text(), bytes()).prop_map(|(msp_id, id_bytes)| dom::SerializedIdentity { msp_id, id_bytes })
}

pub(crate) fn role() -> impl Strategy<Value = dom::MspRole> {
    prop_oneof![
        Just(dom::MspRole::Member),
        Just(dom::MspRole::Admin),
        Just(dom::MspRole::Client),
        Just(dom::MspRole::Peer),
        Just(dom::MspRole::Orderer),
    ]
}

pub(crate) fn principal() -> impl Strategy<Value = dom::Principal> {
    prop_oneof![
        (text(), role()).prop_map(|(msp_id, role)| dom::Principal::Role { msp_id, role }),
        (text(), text(), bytes()).prop_map(|(msp_id, ou, certifiers_identifier)| {
            dom::Principal::OrganizationUnit {
                msp_id,
                ou,
                certifiers_identifier,
            }
        }),
        identity().prop_map(dom::Principal::Identity),
    ]
}

pub(crate) fn signature_policy() -> impl Strategy<Value = dom::SignaturePolicy> {
    let leaf = (0u32..8).prop_map(dom::SignaturePolicy::SignedBy);
    leaf.prop_recursive(4, 24, 4, |inner| {
        (0u32..5, vec(inner, 0..4)).prop_map(|(n, rules)| dom::SignaturePolicy::NOutOf { n, rules })
    })
}

pub(crate) fn signature_policy_envelope() -> impl Strategy<Value = dom::SignaturePolicyEnvelope> {
    (0i32..2, signature_policy(), vec(principal(), 0..4)).prop_map(|(version, rule, identities)| {
        dom::SignaturePolicyEnvelope {
            version,
            rule,
            identities,
        }
    })
}

pub(crate) fn implicit_meta_policy() -> impl Strategy<Value = dom::ImplicitMetaPolicy> {
    (
        prop_oneof![
            Just(dom::ImplicitMetaRule::Any),
            Just(dom::ImplicitMetaRule::All),
            Just(dom::ImplicitMetaRule::Majority),
        ],
        text(),
    )
        .prop_map(|(rule, sub_policy)| dom::ImplicitMetaPolicy { rule, sub_policy })
}

pub(crate) fn version() -> impl Strategy<Value = dom::Version> {
    (any::<u64>(), any::<u64>()).prop_map(|(b, t)| dom::Version::new(b, t))
}

pub(crate) fn kv_read() -> impl Strategy<Value = dom::KvRead> {
    (text(), proptest::option::of(version()))
        .prop_map(|(key, version)| dom::KvRead { key, version })
}

pub(crate) fn kv_write() -> impl Strategy<Value = dom::KvWrite> {
    (text(), any::<bool>(), bytes()).prop_map(|(key, is_delete, value)| dom::KvWrite {
        key,
        is_delete,
        value,
    })
}

pub(crate) fn metadata_write() -> impl Strategy<Value = dom::KvMetadataWrite> {
    (text(), vec((text(), bytes()), 0..3)).prop_map(|(key, entries)| dom::KvMetadataWrite {
        key,
        entries: entries
            .into_iter()
            .map(|(name, value)| dom::KvMetadataEntry { name, value })
            .collect(),
    })
}

pub(crate) fn range_query() -> impl Strategy<Value = dom::RangeQueryInfo> {
    let reads = prop_oneof![
        vec(kv_read(), 0..3).prop_map(dom::RangeQueryReads::Raw),
        (any::<u32>(), any::<u32>(), vec(bytes(), 0..3)).prop_map(
            |(max_degree, max_level, max_level_hashes)| dom::RangeQueryReads::MerkleSummary {
                max_degree,
                max_level,
                max_level_hashes,
            }
        ),
    ];
    (text(), text(), any::<bool>(), proptest::option::of(reads)).prop_map(
        |(start_key, end_key, itr_exhausted, reads)| dom::RangeQueryInfo {
            start_key,
            end_key,
            itr_exhausted,
            reads,
        },
    )
}

pub(crate) fn ns_rwset() -> impl Strategy<Value = dom::NsRwSet> {
    (
        text(),
        vec(kv_read(), 0..4),
        vec(kv_write(), 0..4),
        vec(range_query(), 0..2),
        vec(metadata_write(), 0..2),
        vec((text(), bytes(), bytes()), 0..2),
    )
        .prop_map(
            |(namespace, reads, writes, range_queries, metadata_writes, colls)| dom::NsRwSet {
                namespace,
                reads,
                writes,
                range_queries,
                metadata_writes,
                collection_hashed_rwsets: colls
                    .into_iter()
                    .map(|(collection_name, hashed_rwset, pvt_rwset_hash)| {
                        dom::CollectionHashedRwSet {
                            collection_name,
                            hashed_rwset,
                            pvt_rwset_hash,
                        }
                    })
                    .collect(),
            },
        )
}

pub(crate) fn tx_rwset() -> impl Strategy<Value = dom::TxRwSet> {
    vec(ns_rwset(), 0..4).prop_map(|ns| dom::TxRwSet { ns })
}

pub(crate) fn timestamp() -> impl Strategy<Value = dom::Timestamp> {
    (any::<i64>(), 0i32..1_000_000_000)
        .prop_map(|(seconds, nanos)| dom::Timestamp { seconds, nanos })
}

pub(crate) fn seek_position() -> impl Strategy<Value = dom::SeekPosition> {
    prop_oneof![
        Just(dom::SeekPosition::Newest),
        Just(dom::SeekPosition::Oldest),
        any::<u64>().prop_map(dom::SeekPosition::Specified),
        Just(dom::SeekPosition::NextCommit),
    ]
}

pub(crate) fn seek_info() -> impl Strategy<Value = dom::SeekInfo> {
    (
        seek_position(),
        seek_position(),
        any::<bool>(),
        any::<bool>(),
        any::<bool>(),
    )
        .prop_map(|(start, stop, wait, strict, block)| dom::SeekInfo {
            start,
            stop,
            behavior: if wait {
                dom::SeekBehavior::BlockUntilReady
            } else {
                dom::SeekBehavior::FailIfNotReady
            },
            error_response: if strict {
                dom::SeekErrorResponse::Strict
            } else {
                dom::SeekErrorResponse::BestEffort
            },
            content_type: if block {
                dom::SeekContentType::Block
            } else {
                dom::SeekContentType::HeaderWithSig
            },
        })
}
