//! The chaincode stub: everything a contract can ask of the peer during one call.
//!
//! [`Stub`] mirrors Fabric's `ChaincodeStubInterface`. The wasm implementation calls the host;
//! [`crate::MockStub`] implements it in memory for native unit tests. Contracts normally use the
//! typed wrapper [`crate::Context`] instead of calling a stub directly.

use std::collections::BTreeMap;

use crate::ContractError;

/// A transaction timestamp, as in the proposal's channel header.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Default)]
pub struct Timestamp {
    /// Seconds since the Unix epoch.
    pub seconds: i64,
    /// Nanoseconds within the second.
    pub nanos: i32,
}

impl Timestamp {
    /// Builds a timestamp from nanoseconds since the Unix epoch.
    pub fn from_unix_nanos(nanos: i64) -> Self {
        Timestamp {
            seconds: nanos.div_euclid(1_000_000_000),
            nanos: nanos.rem_euclid(1_000_000_000) as i32,
        }
    }

    /// Nanoseconds since the Unix epoch.
    pub fn unix_nanos(&self) -> i64 {
        self.seconds
            .saturating_mul(1_000_000_000)
            .saturating_add(i64::from(self.nanos))
    }
}

/// One page of a range query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct RangePage {
    /// Keys and values in key order.
    pub entries: Vec<(String, Vec<u8>)>,
    /// The first key not returned, if the range has more keys.
    pub next: Option<String>,
}

/// One change of a key, as returned by a history query (newest first).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyModification {
    /// The transaction that made the change.
    pub tx_id: String,
    /// The value written (empty for a delete).
    pub value: Vec<u8>,
    /// Whether the change deleted the key.
    pub is_delete: bool,
    /// The timestamp of that transaction.
    pub timestamp: Timestamp,
}

/// The result of calling another contract, Fabric's `peer.Response`.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Response {
    /// 200 for success, 400 and above for errors.
    pub status: i32,
    /// The error message, empty on success.
    pub message: String,
    /// The result bytes.
    pub payload: Vec<u8>,
}

/// What a contract can ask of the peer; mirrors Fabric's chaincode stub.
///
/// Reads see the state committed before the transaction, not the transaction's own writes, as in
/// Fabric.
pub trait Stub {
    /// The call's arguments; the first one is the function name.
    fn args(&mut self) -> Vec<Vec<u8>>;
    /// Reads a key.
    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, ContractError>;
    /// Writes a key.
    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), ContractError>;
    /// Deletes a key.
    fn del_state(&mut self, key: &str) -> Result<(), ContractError>;
    /// Reads up to `limit` keys in `[start, end)` (an empty `end` means no upper bound).
    fn range_page(
        &mut self,
        start: &str,
        end: &str,
        limit: u32,
    ) -> Result<RangePage, ContractError>;
    /// The changes of one key, newest first.
    fn history(&mut self, key: &str) -> Result<Vec<KeyModification>, ContractError>;
    /// The transaction ID.
    fn tx_id(&mut self) -> String;
    /// The channel ID.
    fn channel_id(&mut self) -> String;
    /// The transaction timestamp from the proposal.
    fn tx_timestamp(&mut self) -> Timestamp;
    /// The MSP ID of the client that signed the proposal.
    fn creator_msp_id(&mut self) -> String;
    /// The client's certificate (PEM bytes, as in the serialized identity).
    fn creator_cert(&mut self) -> Vec<u8>;
    /// The client's certificate attributes (Fabric CA `attrs`).
    fn creator_attributes(&mut self) -> BTreeMap<String, String>;
    /// The transient data sent with the proposal (never written to the ledger).
    fn transient(&mut self) -> BTreeMap<String, Vec<u8>>;
    /// Sets the transaction's event (the last one set wins, as in Fabric).
    fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), ContractError>;
    /// Calls another contract on the same channel.
    fn invoke_contract(&mut self, name: &str, args: &[Vec<u8>]) -> Result<Response, ContractError>;
}
