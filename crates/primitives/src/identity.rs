//! Identities as they travel in headers and endorsements.

/// An identity as Fabric serialises it: the MSP that vouches for it and the PEM bytes of its
/// X.509 certificate (`msp.SerializedIdentity`).
#[derive(Clone, Debug, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct SerializedIdentity {
    /// The MSP ID of the organisation, e.g. `Org1MSP`.
    pub msp_id: String,
    /// The certificate, PEM-encoded, exactly as supplied by the client.
    pub id_bytes: Vec<u8>,
}
