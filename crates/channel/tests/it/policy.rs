//! Policy evaluation through a channel config, with real identities.

use cambium_channel::ChannelError;
use cambium_msp::policy::PolicyError;

use crate::support::{now, signed, signer, Fixture};

const DATA: &[u8] = b"transaction bytes";

#[test]
fn an_org1_client_satisfies_application_writers() {
    let f = Fixture::new();
    let config = f.config();
    let client = signer(&f, "Org1MSP", "User1@org1.example.com");
    let sd = [signed(&client, DATA)];
    config
        .evaluate("/Channel/Application/Writers", &sd, now())
        .unwrap();
    config.evaluate("/Channel/Writers", &sd, now()).unwrap();
    config
        .evaluate("/Channel/Application/Org1MSP/Readers", &sd, now())
        .unwrap();
    // A client is not an admin, and not a member of Org2.
    assert!(config
        .evaluate("/Channel/Application/Org1MSP/Admins", &sd, now())
        .is_err());
    assert!(config
        .evaluate("/Channel/Application/Org2MSP/Writers", &sd, now())
        .is_err());
}

#[test]
fn an_identity_from_an_unknown_ca_does_not_satisfy_anything() {
    let f = Fixture::new();
    let stranger_net = Fixture::new();
    let config = f.config();
    // Same MSP ID and name, but issued by another network's CA.
    let stranger = signer(&stranger_net, "Org1MSP", "User1@org1.example.com");
    let sd = [signed(&stranger, DATA)];
    let err = config
        .evaluate("/Channel/Application/Writers", &sd, now())
        .unwrap_err();
    assert!(
        matches!(err, ChannelError::Policy(PolicyError::NotSatisfied { .. })),
        "{err}"
    );
    assert!(err.to_string().contains("ignored"), "{err}");
}

#[test]
fn majority_endorsement_needs_both_orgs_of_two() {
    let f = Fixture::new();
    let config = f.config();
    let peer1 = signer(&f, "Org1MSP", "peer0.org1.example.com");
    let peer2 = signer(&f, "Org2MSP", "peer0.org2.example.com");
    let one = [signed(&peer1, DATA)];
    let err = config
        .evaluate("/Channel/Application/Endorsement", &one, now())
        .unwrap_err();
    assert!(err.to_string().contains("1 of 2"), "{err}");
    let both = [signed(&peer1, DATA), signed(&peer2, DATA)];
    config
        .evaluate("/Channel/Application/Endorsement", &both, now())
        .unwrap();
    config
        .evaluate("/Channel/Application/LifecycleEndorsement", &both, now())
        .unwrap();
    config
        .evaluate("/Channel/Application/RolloutPromote", &both, now())
        .unwrap();
    assert!(config
        .evaluate("/Channel/Application/RolloutPromote", &one, now())
        .is_err());
    // A client's signature is not an endorsement even with a peer's.
    let client2 = signer(&f, "Org2MSP", "User1@org2.example.com");
    let mixed = [signed(&peer1, DATA), signed(&client2, DATA)];
    assert!(config
        .evaluate("/Channel/Application/Endorsement", &mixed, now())
        .is_err());
}

#[test]
fn rollout_abort_takes_any_one_org_admin() {
    let f = Fixture::new();
    let config = f.config();
    let admin2 = signer(&f, "Org2MSP", "Admin@org2.example.com");
    config
        .evaluate(
            "/Channel/Application/RolloutAbort",
            &[signed(&admin2, DATA)],
            now(),
        )
        .unwrap();
    let client2 = signer(&f, "Org2MSP", "User1@org2.example.com");
    assert!(config
        .evaluate(
            "/Channel/Application/RolloutAbort",
            &[signed(&client2, DATA)],
            now()
        )
        .is_err());
}

#[test]
fn orderer_policies_take_orderer_identities() {
    let f = Fixture::new();
    let config = f.config();
    let orderer = signer(&f, "OrdererMSP", "orderer.example.com");
    let sd = [signed(&orderer, DATA)];
    config
        .evaluate("/Channel/Orderer/BlockValidation", &sd, now())
        .unwrap();
    let peer1 = signer(&f, "Org1MSP", "peer0.org1.example.com");
    assert!(config
        .evaluate(
            "/Channel/Orderer/BlockValidation",
            &[signed(&peer1, DATA)],
            now()
        )
        .is_err());
}

#[test]
fn a_tampered_signature_or_unknown_path_fails() {
    let f = Fixture::new();
    let config = f.config();
    let client = signer(&f, "Org1MSP", "User1@org1.example.com");
    let mut sd = signed(&client, DATA);
    sd.data = b"other bytes".to_vec();
    assert!(config
        .evaluate("/Channel/Application/Writers", &[sd], now())
        .is_err());
    let err = config
        .evaluate("/Channel/Application/NoSuchPolicy", &[], now())
        .unwrap_err();
    assert!(
        matches!(err, ChannelError::Policy(PolicyError::UnknownPolicy { .. })),
        "{err}"
    );
}
