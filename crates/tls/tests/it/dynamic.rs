//! A listener whose client CAs follow a `TlsTrust`: a channel's TLS CAs are trusted from the
//! moment they are set and not after they are removed, without restarting the server.

use cambium_cryptogen::{CryptoConfig, GenerateOptions, GeneratedNetwork};
use cambium_tls::{client_tls_config, DynamicServerTls, TlsIdentity, TlsRoots, TlsTrust};

use crate::echo;

fn identity(net: &GeneratedNetwork, msp: &str, user: bool) -> TlsIdentity {
    let org = net.org(msp).unwrap();
    if user {
        TlsIdentity::load_dir(&org.users.last().unwrap().tls_dir).unwrap()
    } else {
        TlsIdentity::load(&org.nodes[0].tls_cert, &org.nodes[0].tls_key).unwrap()
    }
}

fn tls_ca(net: &GeneratedNetwork, msp: &str) -> TlsRoots {
    TlsRoots::load(&[net.org(msp).unwrap().tls_ca.cert.clone()]).unwrap()
}

#[tokio::test]
async fn a_channel_ca_is_trusted_once_set_and_refused_once_removed() {
    let dir = tempfile::tempdir().unwrap();
    let ours = cambium_testing::default_crypto(&dir.path().join("ours"));
    // Another network's Org2 plays the organisation a config update adds.
    let newcomer = cambium_cryptogen::generate(
        &CryptoConfig::default_network(),
        &dir.path().join("newcomer"),
        GenerateOptions::default(),
    )
    .unwrap();
    for required in [true, false] {
        let trust = TlsTrust::new(tls_ca(&ours, "Org1MSP"), required).unwrap();
        let server =
            DynamicServerTls::new(&identity(&ours, "Org1MSP", false), trust.clone()).unwrap();
        let running = echo::serve_dynamic(server).await;
        let server_ca = tls_ca(&ours, "Org1MSP");
        let member =
            client_tls_config(&server_ca, Some(&identity(&ours, "Org1MSP", true)), None).unwrap();
        let new_member = client_tls_config(
            &server_ca,
            Some(&identity(&newcomer, "Org2MSP", true)),
            None,
        )
        .unwrap();
        let call = |tls| echo::connect_and_call(running.addr, Some(tls), b"hi");

        assert_eq!(
            call(&member).await.unwrap(),
            b"hi\x01",
            "a client of the YAML's CA is served and its certificate reaches the service"
        );
        let refused = call(&new_member).await;
        assert!(
            refused.is_err(),
            "required={required}: an unknown CA is refused"
        );

        assert!(trust
            .set_channel_roots("mychannel", tls_ca(&newcomer, "Org2MSP"))
            .unwrap());
        assert_eq!(trust.channels(), ["mychannel"]);
        assert_eq!(trust.roots().len(), 2);
        assert_eq!(
            call(&new_member).await.unwrap(),
            b"hi\x01",
            "required={required}: the channel's new CA is trusted without a restart"
        );
        assert_eq!(call(&member).await.unwrap(), b"hi\x01", "the base stays");

        // Setting the same roots again changes nothing.
        assert!(!trust
            .set_channel_roots("mychannel", tls_ca(&newcomer, "Org2MSP"))
            .unwrap());
        assert!(trust.remove_channel("mychannel").unwrap());
        assert!(!trust.remove_channel("mychannel").unwrap());
        assert!(
            call(&new_member).await.is_err(),
            "required={required}: refused again once the channel no longer lists the CA"
        );
        assert_eq!(call(&member).await.unwrap(), b"hi\x01");

        // Without a certificate: refused when required, served otherwise.
        let anonymous = client_tls_config(&server_ca, None, None).unwrap();
        let result = call(&anonymous).await;
        if required {
            assert!(result.is_err(), "a client without a certificate is refused");
        } else {
            assert_eq!(result.unwrap(), b"hi\0");
        }
    }
}

#[tokio::test]
async fn without_any_trusted_ca_an_optional_listener_asks_for_no_certificate() {
    let dir = tempfile::tempdir().unwrap();
    let ours = cambium_testing::default_crypto(&dir.path().join("ours"));
    let server_ca = tls_ca(&ours, "Org1MSP");
    let with_cert =
        client_tls_config(&server_ca, Some(&identity(&ours, "Org2MSP", true)), None).unwrap();
    for (required, served) in [(false, true), (true, false)] {
        let trust = TlsTrust::new(TlsRoots::new(), required).unwrap();
        let server =
            DynamicServerTls::new(&identity(&ours, "Org1MSP", false), trust.clone()).unwrap();
        let running = echo::serve_dynamic(server).await;
        let result = echo::connect_and_call(running.addr, Some(&with_cert), b"x").await;
        assert_eq!(result.is_ok(), served, "required={required}: {result:?}");
        if served {
            assert_eq!(result.unwrap(), b"x\0", "no certificate was asked for");
        }
        // A channel's CAs make the listener ask for and check certificates.
        trust
            .set_channel_roots("mychannel", tls_ca(&ours, "Org2MSP"))
            .unwrap();
        assert_eq!(
            echo::connect_and_call(running.addr, Some(&with_cert), b"x")
                .await
                .unwrap(),
            b"x\x01"
        );
    }
}
