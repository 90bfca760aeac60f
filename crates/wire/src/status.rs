//! gRPC error statuses as Fabric's Gateway reports them.
//!
//! Details travel in the `grpc-status-details-bin` trailer as a `google.rpc.Status` whose
//! `details` are `Any`-packed `gateway.ErrorDetail`s. Fabric's Node client decodes every `Any`
//! as an `ErrorDetail` without checking its type URL, so nothing else may go there.

use prost::Message;

use crate::error::{Result, WireError};
use crate::{gateway, google_rpc};

/// The `Any.type_url` of a packed `gateway.ErrorDetail`.
pub const ERROR_DETAIL_TYPE_URL: &str = "type.googleapis.com/gateway.ErrorDetail";

/// A gRPC status with `code`, `message` and the per-node `details` packed as Fabric does.
pub fn gateway_status(
    code: tonic::Code,
    message: impl Into<String>,
    details: &[gateway::ErrorDetail],
) -> tonic::Status {
    let message = message.into();
    let rich = google_rpc::Status {
        code: code as i32,
        message: message.clone(),
        details: details
            .iter()
            .map(|d| prost_types::Any {
                type_url: ERROR_DETAIL_TYPE_URL.to_string(),
                value: d.encode_to_vec(),
            })
            .collect(),
    };
    tonic::Status::with_details(code, message, rich.encode_to_vec().into())
}

/// The `gateway.ErrorDetail`s of a status, decoding every packed `Any` as one (as Fabric's
/// clients do); empty if the status carries no details.
pub fn gateway_error_details(status: &tonic::Status) -> Result<Vec<gateway::ErrorDetail>> {
    if status.details().is_empty() {
        return Ok(Vec::new());
    }
    let rich = google_rpc::Status::decode(status.details())
        .map_err(WireError::decode("google.rpc.Status"))?;
    rich.details
        .iter()
        .map(|any| {
            gateway::ErrorDetail::decode(any.value.as_slice())
                .map_err(WireError::decode("gateway.ErrorDetail"))
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn details_round_trip_through_the_status() {
        let details = vec![
            gateway::ErrorDetail {
                address: "peer0.org1:7051".into(),
                msp_id: "Org1MSP".into(),
                message: "chaincode response 500, boom".into(),
            },
            gateway::ErrorDetail {
                address: "peer0.org2:9051".into(),
                msp_id: "Org2MSP".into(),
                message: "timeout".into(),
            },
        ];
        let status = gateway_status(
            tonic::Code::Aborted,
            "failed to endorse transaction",
            &details,
        );
        assert_eq!(status.code(), tonic::Code::Aborted);
        assert_eq!(status.message(), "failed to endorse transaction");
        assert_eq!(gateway_error_details(&status).unwrap(), details);

        let rich = google_rpc::Status::decode(status.details()).unwrap();
        assert_eq!(rich.code, 10);
        assert!(rich
            .details
            .iter()
            .all(|a| a.type_url == ERROR_DETAIL_TYPE_URL));
    }

    #[test]
    fn plain_and_broken_statuses() {
        assert!(gateway_error_details(&tonic::Status::not_found("x"))
            .unwrap()
            .is_empty());
        let broken = tonic::Status::with_details(tonic::Code::Unknown, "x", vec![0xff].into());
        let err = gateway_error_details(&broken).unwrap_err();
        assert!(err.to_string().contains("google.rpc.Status"), "{err}");
    }
}
