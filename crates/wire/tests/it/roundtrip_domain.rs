//! Domain → protobuf → domain round trips, through the message and through its bytes.

use cambium_primitives as dom;
use cambium_wire::{common, convert, msp, orderer, peer, rwset, Message, WireError};
use proptest::prelude::*;

use crate::strategies::*;

proptest! {
    #[test]
    fn identities(id in identity()) {
        let wire = msp::SerializedIdentity::from(&id);
        prop_assert_eq!(dom::SerializedIdentity::from(wire.clone()), id.clone());
        let bytes = cambium_wire::encode_serialized_identity(&id);
        prop_assert_eq!(bytes.clone(), wire.encode_to_vec());
        prop_assert_eq!(cambium_wire::decode_serialized_identity(&bytes).unwrap(), id);
    }

    #[test]
    fn principals(p in principal()) {
        let wire = common::MspPrincipal::from(&p);
        let back = dom::Principal::try_from(&wire).unwrap();
        prop_assert_eq!(back, p);
    }

    #[test]
    fn signature_policy_envelopes(env in signature_policy_envelope()) {
        let wire = common::SignaturePolicyEnvelope::from(&env);
        prop_assert_eq!(dom::SignaturePolicyEnvelope::try_from(&wire).unwrap(), env.clone());
        let bytes = cambium_wire::encode_signature_policy_envelope(&env);
        let decoded = common::SignaturePolicyEnvelope::decode(bytes.as_slice()).unwrap();
        prop_assert_eq!(&decoded, &wire);
        prop_assert_eq!(cambium_wire::decode_signature_policy_envelope(&bytes).unwrap(), env);
    }

    #[test]
    fn implicit_meta_policies(policy in implicit_meta_policy()) {
        let wire = common::ImplicitMetaPolicy::from(&policy);
        prop_assert_eq!(dom::ImplicitMetaPolicy::try_from(&wire).unwrap(), policy);
    }

    #[test]
    fn policies(policy in prop_oneof![
        signature_policy_envelope().prop_map(dom::Policy::Signature),
        implicit_meta_policy().prop_map(dom::Policy::ImplicitMeta),
    ]) {
        let wire = common::Policy::from(&policy);
        let decoded = common::Policy::decode(wire.encode_to_vec().as_slice()).unwrap();
        prop_assert_eq!(dom::Policy::try_from(&decoded).unwrap(), policy);
    }

    #[test]
    fn rwsets(rw in tx_rwset()) {
        let wire = rwset::TxReadWriteSet::from(&rw);
        prop_assert_eq!(dom::TxRwSet::try_from(&wire).unwrap(), rw.clone());
        let bytes = cambium_wire::encode_tx_rwset(&rw);
        prop_assert_eq!(cambium_wire::decode_tx_rwset(&bytes).unwrap(), rw.clone());
        // Sorting is idempotent and survives the wire.
        let mut sorted = rw;
        sorted.sort();
        let again = cambium_wire::decode_tx_rwset(&cambium_wire::encode_tx_rwset(&sorted)).unwrap();
        prop_assert_eq!(again, sorted);
    }

    #[test]
    fn responses_events_and_endorsements(status in any::<i32>(), message in text(), payload in bytes(),
                                         names in (text(), text(), text()), endorser in bytes(), signature in bytes()) {
        let response = dom::ChaincodeResponse { status, message, payload: payload.clone() };
        let wire = peer::Response::from(&response);
        prop_assert_eq!(dom::ChaincodeResponse::from(wire), response);
        let event = dom::ChaincodeEvent { chaincode_id: names.0, tx_id: names.1, event_name: names.2, payload };
        let bytes = cambium_wire::encode_chaincode_event(&event);
        prop_assert_eq!(cambium_wire::decode_chaincode_event(&bytes).unwrap(), event);
        let endorsement = dom::Endorsement { endorser, signature };
        prop_assert_eq!(dom::Endorsement::from(peer::Endorsement::from(&endorsement)), endorsement);
    }

    #[test]
    fn seek_infos(info in seek_info()) {
        let wire = orderer::SeekInfo::from(&info);
        prop_assert_eq!(dom::SeekInfo::try_from(&wire).unwrap(), info);
        prop_assert_eq!(cambium_wire::decode_seek_info(&cambium_wire::encode_seek_info(&info)).unwrap(), info);
    }

    #[test]
    fn timestamps(t in timestamp()) {
        prop_assert_eq!(convert::timestamp_from_wire(convert::timestamp_to_wire(t)), t);
    }
}

#[test]
fn validation_codes_and_header_types() {
    for &code in dom::TxValidationCode::ALL {
        let wire = peer::TxValidationCode::from(code);
        assert_eq!(wire.as_str_name(), code.name());
        assert_eq!(dom::TxValidationCode::from(wire), code);
    }
    for &t in dom::HeaderType::ALL {
        let wire = common::HeaderType::from(t);
        assert_eq!(wire.as_str_name(), t.name());
        assert_eq!(dom::HeaderType::from(wire), t);
    }
}

#[test]
fn a_read_at_version_zero_differs_from_a_missing_key() {
    let mut ns = dom::NsRwSet::new("cc");
    ns.reads = vec![
        dom::KvRead {
            key: "genesis".into(),
            version: Some(dom::Version::new(0, 0)),
        },
        dom::KvRead {
            key: "missing".into(),
            version: None,
        },
    ];
    let rw = dom::TxRwSet { ns: vec![ns] };
    let back = cambium_wire::decode_tx_rwset(&cambium_wire::encode_tx_rwset(&rw)).unwrap();
    assert_eq!(back, rw);
}

#[test]
fn seek_info_without_stop_or_with_unknown_behavior_is_rejected() {
    let start = Some(orderer::SeekPosition::from(dom::SeekPosition::Oldest));
    let missing_stop = orderer::SeekInfo {
        start,
        ..Default::default()
    };
    let err = cambium_wire::decode_seek_info(&missing_stop.encode_to_vec()).unwrap_err();
    assert!(
        matches!(
            err,
            WireError::MissingField {
                message: "orderer.SeekInfo",
                field: "stop"
            }
        ),
        "{err}"
    );

    let empty_position = orderer::SeekInfo {
        start,
        stop: Some(orderer::SeekPosition { r#type: None }),
        ..Default::default()
    };
    let err = dom::SeekInfo::try_from(&empty_position).unwrap_err();
    assert!(err.to_string().contains("orderer.SeekPosition"), "{err}");

    let odd = orderer::SeekInfo {
        start,
        stop: start,
        behavior: 7,
        ..Default::default()
    };
    let err = dom::SeekInfo::try_from(&odd).unwrap_err();
    assert!(
        err.to_string().contains("orderer.SeekInfo.behavior is 7"),
        "{err}"
    );
}
