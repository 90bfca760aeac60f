//! The Endorser gRPC service over a real loopback connection with the generated client.

use std::sync::Arc;

use cambium_endorser::EndorserService;
use cambium_wire::peer::endorser_client::EndorserClient;
use cambium_wire::peer::SignedProposal;
use cambium_wire::tx::parse_signed_proposal;
use tonic::transport::server::TcpIncoming;

use crate::support::{net, proposal, Peer};

#[test]
fn process_proposal_over_loopback() {
    let peer = Peer::new();
    let n = net();
    let signed = proposal(&n.org1_client, "kv", &["put", "g", "1"], 70);
    let direct = peer.org1.process_proposal(&signed).unwrap();
    let view = parse_signed_proposal(&signed).unwrap();
    let endorser = Arc::new(peer.org1);

    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(1)
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let incoming = TcpIncoming::bind("127.0.0.1:0".parse().unwrap()).expect("bind loopback");
        let addr = incoming.local_addr().expect("bound address");
        tokio::spawn(tonic::transport::Server::builder().serve_with_incoming(
            EndorserService::new(Arc::clone(&endorser)).into_server(),
            incoming,
        ));
        let mut client = EndorserClient::connect(format!("http://{addr}"))
            .await
            .expect("connect");
        let response = client
            .process_proposal(SignedProposal {
                proposal_bytes: view.proposal_bytes.clone(),
                signature: view.signature.clone(),
            })
            .await
            .expect("process proposal")
            .into_inner();
        assert_eq!(response.version, 1);
        assert_eq!(response.response.as_ref().unwrap().status, 200);
        assert_eq!(response.payload, direct.payload);
        let endorsement = response.endorsement.expect("endorsed");
        assert_eq!(endorsement.endorser, direct.endorsement.unwrap().endorser);

        // Refusals travel as responses, not gRPC errors.
        let refused = client
            .process_proposal(SignedProposal {
                proposal_bytes: view.proposal_bytes.clone(),
                signature: Vec::new(),
            })
            .await
            .expect("a refusal is still a response")
            .into_inner();
        assert_eq!(refused.response.unwrap().status, 500);
        assert!(refused.endorsement.is_none());
    });
}
