//! [`Context`]: the typed view of the stub that contract functions receive.

use std::collections::BTreeMap;

use crate::composite::{create_composite_key, MAX_UNICODE_RUNE};
use crate::{
    ContractError, FromJson, JsonValue, KeyModification, Response, Stub, Timestamp, ToJson,
};

/// How many keys a range iteration fetches per host call.
pub const RANGE_CHUNK: u32 = 100;

/// Fabric's substitute for an empty range start: keys from U+0001 on, which skips composite keys.
pub const EMPTY_KEY_SUBSTITUTE: &str = "\u{1}";

/// The identity of the client that signed the proposal.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ClientIdentity {
    /// The client's MSP ID, e.g. `Org1MSP`.
    pub msp_id: String,
    /// The client's certificate, PEM bytes.
    pub cert: Vec<u8>,
    /// Certificate attributes (Fabric CA `attrs`).
    pub attributes: BTreeMap<String, String>,
}

/// One page of a paginated query.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct Page {
    /// Keys and values in key order.
    pub entries: Vec<(String, Vec<u8>)>,
    /// Pass this back to get the next page; empty when there are no more keys.
    pub bookmark: String,
}

/// What a contract function works with during one call.
pub struct Context<'a> {
    stub: &'a mut dyn Stub,
}

impl<'a> Context<'a> {
    /// Wraps a stub.
    pub fn new(stub: &'a mut dyn Stub) -> Self {
        Context { stub }
    }

    /// The underlying stub, for calls this wrapper does not cover.
    pub fn stub(&mut self) -> &mut dyn Stub {
        self.stub
    }

    /// The function name (the first argument); a `contract:function` prefix is removed, as in
    /// Fabric's contract API.
    pub fn function(&mut self) -> Result<String, ContractError> {
        let args = self.stub.args();
        let first = args
            .first()
            .ok_or_else(|| ContractError::bad_request("the call has no function name"))?;
        let name = std::str::from_utf8(first)
            .map_err(|_| ContractError::bad_request("the function name is not valid UTF-8"))?;
        Ok(match name.rfind(':') {
            Some(i) => name[i + 1..].to_owned(),
            None => name.to_owned(),
        })
    }

    /// The arguments after the function name.
    pub fn params(&mut self) -> Vec<Vec<u8>> {
        let mut args = self.stub.args();
        if !args.is_empty() {
            args.remove(0);
        }
        args
    }

    /// Reads a key.
    pub fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, ContractError> {
        self.stub.get_state(key)
    }

    /// Reads a key as UTF-8 text.
    pub fn get_string(&mut self, key: &str) -> Result<Option<String>, ContractError> {
        match self.stub.get_state(key)? {
            Some(bytes) => String::from_utf8(bytes)
                .map(Some)
                .map_err(|_| ContractError::new(format!("the value of '{}' is not UTF-8", key))),
            None => Ok(None),
        }
    }

    /// Reads a key holding JSON and converts it.
    pub fn get_json<T: FromJson>(&mut self, key: &str) -> Result<Option<T>, ContractError> {
        match self.stub.get_state(key)? {
            Some(bytes) => {
                let value = JsonValue::parse(&bytes).map_err(|e| {
                    ContractError::new(format!("the value of '{}' is not JSON: {}", key, e))
                })?;
                T::from_json(&value).map(Some).map_err(|e| {
                    ContractError::new(format!("the value of '{}' does not match: {}", key, e))
                })
            }
            None => Ok(None),
        }
    }

    /// Writes a key.
    pub fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), ContractError> {
        if key.is_empty() {
            return Err(ContractError::bad_request("a key must not be empty"));
        }
        self.stub.put_state(key, value)
    }

    /// Writes a value as JSON.
    pub fn put_json<T: ToJson + ?Sized>(
        &mut self,
        key: &str,
        value: &T,
    ) -> Result<(), ContractError> {
        let bytes = value.to_json().to_bytes();
        self.put_state(key, &bytes)
    }

    /// Deletes a key.
    pub fn del_state(&mut self, key: &str) -> Result<(), ContractError> {
        self.stub.del_state(key)
    }

    /// All keys in `[start, end)`; an empty `start` begins after the composite keys and an empty
    /// `end` means no upper bound, as in Fabric's `GetStateByRange`.
    pub fn range(
        &mut self,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, ContractError> {
        let start = if start.is_empty() {
            EMPTY_KEY_SUBSTITUTE
        } else {
            start
        };
        self.collect_range(start, end)
    }

    fn collect_range(
        &mut self,
        start: &str,
        end: &str,
    ) -> Result<Vec<(String, Vec<u8>)>, ContractError> {
        let mut out = Vec::new();
        let mut from = start.to_owned();
        loop {
            let page = self.stub.range_page(&from, end, RANGE_CHUNK)?;
            out.extend(page.entries);
            match page.next {
                Some(next) => from = next,
                None => return Ok(out),
            }
        }
    }

    /// One page of `[start, end)`: at most `page_size` keys from `bookmark` (or `start` when the
    /// bookmark is empty), as Fabric's `GetStateByRangeWithPagination`.
    pub fn range_page(
        &mut self,
        start: &str,
        end: &str,
        page_size: u32,
        bookmark: &str,
    ) -> Result<Page, ContractError> {
        let from = if !bookmark.is_empty() {
            bookmark
        } else if start.is_empty() {
            EMPTY_KEY_SUBSTITUTE
        } else {
            start
        };
        let page = self.stub.range_page(from, end, page_size)?;
        Ok(Page {
            entries: page.entries,
            bookmark: page.next.unwrap_or_default(),
        })
    }

    /// Builds a composite key (Fabric's `CreateCompositeKey`).
    pub fn composite_key(
        &self,
        object_type: &str,
        attributes: &[&str],
    ) -> Result<String, ContractError> {
        create_composite_key(object_type, attributes)
    }

    /// All keys whose composite key starts with `object_type` and `attributes`
    /// (Fabric's `GetStateByPartialCompositeKey`).
    pub fn partial_composite(
        &mut self,
        object_type: &str,
        attributes: &[&str],
    ) -> Result<Vec<(String, Vec<u8>)>, ContractError> {
        let start = create_composite_key(object_type, attributes)?;
        let end = format!("{}{}", start, MAX_UNICODE_RUNE);
        self.collect_range(&start, &end)
    }

    /// One page of a partial composite key query.
    pub fn partial_composite_page(
        &mut self,
        object_type: &str,
        attributes: &[&str],
        page_size: u32,
        bookmark: &str,
    ) -> Result<Page, ContractError> {
        let start = create_composite_key(object_type, attributes)?;
        let end = format!("{}{}", start, MAX_UNICODE_RUNE);
        let from = if bookmark.is_empty() {
            start.as_str()
        } else {
            bookmark
        };
        let page = self.stub.range_page(from, &end, page_size)?;
        Ok(Page {
            entries: page.entries,
            bookmark: page.next.unwrap_or_default(),
        })
    }

    /// The changes of a key, newest first.
    pub fn history(&mut self, key: &str) -> Result<Vec<KeyModification>, ContractError> {
        self.stub.history(key)
    }

    /// The transaction ID.
    pub fn tx_id(&mut self) -> String {
        self.stub.tx_id()
    }

    /// The channel ID.
    pub fn channel_id(&mut self) -> String {
        self.stub.channel_id()
    }

    /// The transaction timestamp (the same on every endorser, unlike the clock).
    pub fn tx_timestamp(&mut self) -> Timestamp {
        self.stub.tx_timestamp()
    }

    /// The client that signed the proposal.
    pub fn client_identity(&mut self) -> ClientIdentity {
        ClientIdentity {
            msp_id: self.stub.creator_msp_id(),
            cert: self.stub.creator_cert(),
            attributes: self.stub.creator_attributes(),
        }
    }

    /// The transient data of the proposal.
    pub fn transient(&mut self) -> BTreeMap<String, Vec<u8>> {
        self.stub.transient()
    }

    /// Sets the transaction's event.
    pub fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), ContractError> {
        if name.is_empty() {
            return Err(ContractError::bad_request(
                "an event name must not be empty",
            ));
        }
        self.stub.set_event(name, payload)
    }

    /// Calls another contract on the same channel with string arguments (function first).
    pub fn invoke_contract(
        &mut self,
        name: &str,
        args: &[&str],
    ) -> Result<Response, ContractError> {
        let args: Vec<Vec<u8>> = args.iter().map(|a| a.as_bytes().to_vec()).collect();
        self.stub.invoke_contract(name, &args)
    }
}
