//! The generated Gateway and Endorser services over a real loopback gRPC connection, including
//! Fabric-style error details and a server stream.

use std::net::SocketAddr;

use cambium_wire::gateway::gateway_client::GatewayClient;
use cambium_wire::gateway::gateway_server::{Gateway, GatewayServer};
use cambium_wire::gateway::{
    ChaincodeEventsResponse, CommitStatusResponse, EndorseRequest, EndorseResponse, ErrorDetail,
    EvaluateRequest, EvaluateResponse, SignedChaincodeEventsRequest, SignedCommitStatusRequest,
    SubmitRequest, SubmitResponse,
};
use cambium_wire::peer::endorser_client::EndorserClient;
use cambium_wire::peer::endorser_server::{Endorser, EndorserServer};
use cambium_wire::peer::{ChaincodeEvent, ProposalResponse, Response, SignedProposal};
use cambium_wire::status::{gateway_error_details, gateway_status};
use cambium_wire::{tx, Message};
use tonic::codegen::tokio_stream;
use tonic::transport::server::TcpIncoming;
use tonic::{Code, Request, Status};

/// A gateway that answers from the request alone, enough to exercise every RPC shape.
struct EchoGateway;

#[tonic::async_trait]
impl Gateway for EchoGateway {
    async fn endorse(
        &self,
        _request: Request<EndorseRequest>,
    ) -> Result<tonic::Response<EndorseResponse>, Status> {
        Err(gateway_status(
            Code::Aborted,
            "failed to endorse transaction, see attached details for more info",
            &[ErrorDetail {
                address: "peer0:7051".into(),
                msp_id: "Org1MSP".into(),
                message: "chaincode response 500, boom".into(),
            }],
        ))
    }

    async fn submit(
        &self,
        _request: Request<SubmitRequest>,
    ) -> Result<tonic::Response<SubmitResponse>, Status> {
        Ok(tonic::Response::new(SubmitResponse {}))
    }

    async fn commit_status(
        &self,
        request: Request<SignedCommitStatusRequest>,
    ) -> Result<tonic::Response<CommitStatusResponse>, Status> {
        let inner = cambium_wire::gateway::CommitStatusRequest::decode(
            request.get_ref().request.as_slice(),
        )
        .map_err(|e| Status::invalid_argument(e.to_string()))?;
        Ok(tonic::Response::new(CommitStatusResponse {
            result: cambium_wire::peer::TxValidationCode::MvccReadConflict as i32,
            block_number: inner.transaction_id.len() as u64,
        }))
    }

    async fn evaluate(
        &self,
        request: Request<EvaluateRequest>,
    ) -> Result<tonic::Response<EvaluateResponse>, Status> {
        let proposal = request
            .into_inner()
            .proposed_transaction
            .unwrap_or_default();
        let view = tx::parse_signed_proposal(&proposal.encode_to_vec())
            .map_err(|e| Status::invalid_argument(e.to_string()))?;
        let payload = view.args.concat();
        Ok(tonic::Response::new(EvaluateResponse {
            result: Some(Response {
                status: 200,
                message: String::new(),
                payload,
            }),
        }))
    }

    type ChaincodeEventsStream =
        tokio_stream::Iter<std::vec::IntoIter<Result<ChaincodeEventsResponse, Status>>>;

    async fn chaincode_events(
        &self,
        _request: Request<SignedChaincodeEventsRequest>,
    ) -> Result<tonic::Response<Self::ChaincodeEventsStream>, Status> {
        let responses = (1..=2u64)
            .map(|block_number| {
                Ok(ChaincodeEventsResponse {
                    events: vec![ChaincodeEvent {
                        chaincode_id: "basic".into(),
                        tx_id: format!("tx{block_number}"),
                        event_name: "E".into(),
                        payload: Vec::new(),
                    }],
                    block_number,
                })
            })
            .collect::<Vec<_>>();
        Ok(tonic::Response::new(tokio_stream::iter(responses)))
    }
}

struct EchoEndorser;

#[tonic::async_trait]
impl Endorser for EchoEndorser {
    async fn process_proposal(
        &self,
        request: Request<SignedProposal>,
    ) -> Result<tonic::Response<ProposalResponse>, Status> {
        Ok(tonic::Response::new(ProposalResponse {
            version: 1,
            response: Some(Response {
                status: 200,
                message: String::new(),
                payload: request.into_inner().signature,
            }),
            ..Default::default()
        }))
    }
}

/// Serves a service on a fresh loopback port and evaluates to its address (one service per
/// server: tonic's `router` feature, which pulls in axum, is not needed for that).
macro_rules! serve {
    ($service:expr) => {{
        let incoming = TcpIncoming::bind("127.0.0.1:0".parse().expect("loopback address"))
            .expect("bind loopback");
        let addr: SocketAddr = incoming.local_addr().expect("bound address");
        tokio::spawn(tonic::transport::Server::builder().serve_with_incoming($service, incoming));
        addr
    }};
}

#[test]
fn gateway_and_endorser_over_loopback() {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    runtime.block_on(async {
        let gateway_addr = serve!(GatewayServer::new(EchoGateway));
        let endorser_addr = serve!(EndorserServer::new(EchoEndorser));
        let mut gateway = GatewayClient::connect(format!("http://{gateway_addr}"))
            .await
            .expect("connect");

        let unsigned = tx::build_proposal(&tx::ProposalParts {
            chaincode_name: "basic".into(),
            args: vec![b"Read".to_vec(), b"asset1".to_vec()],
            ..Default::default()
        });
        let proposal = SignedProposal {
            proposal_bytes: unsigned.proposal_bytes,
            signature: b"sig".to_vec(),
        };
        let evaluated = gateway
            .evaluate(EvaluateRequest {
                proposed_transaction: Some(proposal.clone()),
                ..Default::default()
            })
            .await
            .expect("evaluate")
            .into_inner();
        assert_eq!(evaluated.result.unwrap().payload, b"Readasset1");

        let err = gateway
            .endorse(EndorseRequest::default())
            .await
            .unwrap_err();
        assert_eq!(err.code(), Code::Aborted);
        let details = gateway_error_details(&err).expect("details decode");
        assert_eq!(details.len(), 1);
        assert_eq!(details[0].msp_id, "Org1MSP");

        let request = cambium_wire::gateway::CommitStatusRequest {
            transaction_id: "abcd".into(),
            ..Default::default()
        };
        let status = gateway
            .commit_status(SignedCommitStatusRequest {
                request: request.encode_to_vec(),
                signature: Vec::new(),
            })
            .await
            .expect("commit status")
            .into_inner();
        assert_eq!(status.result, 11);
        assert_eq!(status.block_number, 4);

        let mut stream = gateway
            .chaincode_events(SignedChaincodeEventsRequest::default())
            .await
            .expect("events")
            .into_inner();
        let mut blocks = Vec::new();
        while let Some(response) = stream.message().await.expect("stream message") {
            blocks.push((response.block_number, response.events[0].tx_id.clone()));
        }
        assert_eq!(blocks, [(1, "tx1".to_string()), (2, "tx2".to_string())]);

        let mut endorser = EndorserClient::connect(format!("http://{endorser_addr}"))
            .await
            .expect("connect");
        let response = endorser
            .process_proposal(proposal)
            .await
            .expect("process proposal")
            .into_inner();
        assert_eq!(response.response.unwrap().payload, b"sig");
    });
}
