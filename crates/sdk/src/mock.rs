//! [`MockStub`]: an in-memory stub so contracts can be unit-tested natively with `cargo test`.
//!
//! Like a Fabric peer, a call reads the state committed before it, and its writes are committed
//! only when it succeeds (status below 400).

use std::collections::BTreeMap;
use std::ops::Bound;

use crate::stub::{KeyModification, RangePage, Response, Stub, Timestamp};
use crate::{Context, ContractError, Dispatch};

/// The first transaction timestamp the mock uses (2024-01-01T00:00:00Z); each call adds a second.
pub const MOCK_EPOCH_SECONDS: i64 = 1_704_067_200;

/// An event a call set.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MockEvent {
    /// The event name.
    pub name: String,
    /// The event payload.
    pub payload: Vec<u8>,
}

/// An in-memory chaincode stub.
#[derive(Clone)]
pub struct MockStub {
    state: BTreeMap<String, Vec<u8>>,
    history: BTreeMap<String, Vec<KeyModification>>,
    pending: BTreeMap<String, Option<Vec<u8>>>,
    args: Vec<Vec<u8>>,
    tx_count: u64,
    channel_id: String,
    msp_id: String,
    cert: Vec<u8>,
    attributes: BTreeMap<String, String>,
    transient: BTreeMap<String, Vec<u8>>,
    event: Option<MockEvent>,
    events: Vec<MockEvent>,
    others: BTreeMap<String, (Dispatch, MockStub)>,
}

impl std::fmt::Debug for MockStub {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MockStub")
            .field("state", &self.state)
            .field("tx_count", &self.tx_count)
            .field("contracts", &self.others.keys().collect::<Vec<_>>())
            .finish()
    }
}

impl Default for MockStub {
    fn default() -> Self {
        Self::new()
    }
}

impl MockStub {
    /// An empty ledger on channel `mychannel`, with client `Org1MSP`.
    pub fn new() -> Self {
        MockStub {
            state: BTreeMap::new(),
            history: BTreeMap::new(),
            pending: BTreeMap::new(),
            args: Vec::new(),
            tx_count: 0,
            channel_id: "mychannel".to_string(),
            msp_id: "Org1MSP".to_string(),
            cert: Vec::new(),
            attributes: BTreeMap::new(),
            transient: BTreeMap::new(),
            event: None,
            events: Vec::new(),
            others: BTreeMap::new(),
        }
    }

    /// Makes another contract callable with `invoke_contract` under `name`. It gets its own
    /// state; its writes commit together with the calling transaction, as on a peer.
    pub fn register_contract(&mut self, name: &str, dispatch: Dispatch) {
        let mut stub = MockStub::new();
        stub.channel_id = self.channel_id.clone();
        self.others.insert(name.to_string(), (dispatch, stub));
    }

    /// The committed value of `key` in the registered contract `name`.
    pub fn contract_state(&self, name: &str, key: &str) -> Option<&[u8]> {
        self.others.get(name).and_then(|(_, stub)| stub.state(key))
    }

    /// Sets the calling client's MSP ID and certificate.
    pub fn set_creator(&mut self, msp_id: &str, cert: &[u8]) {
        self.msp_id = msp_id.to_string();
        self.cert = cert.to_vec();
    }

    /// Sets a certificate attribute of the calling client.
    pub fn set_attribute(&mut self, name: &str, value: &str) {
        self.attributes.insert(name.to_string(), value.to_string());
    }

    /// Sets transient data for the following calls.
    pub fn set_transient(&mut self, key: &str, value: &[u8]) {
        self.transient.insert(key.to_string(), value.to_vec());
    }

    /// Calls `function` with string arguments, as Fabric clients do.
    pub fn invoke(&mut self, dispatch: Dispatch, function: &str, args: &[&str]) -> Response {
        let mut all = vec![function.as_bytes().to_vec()];
        all.extend(args.iter().map(|a| a.as_bytes().to_vec()));
        self.invoke_bytes(dispatch, all)
    }

    /// Calls with raw arguments (the first is the function name); commits the writes on success.
    pub fn invoke_bytes(&mut self, dispatch: Dispatch, args: Vec<Vec<u8>>) -> Response {
        self.tx_count += 1;
        self.args = args;
        self.pending.clear();
        self.event = None;
        for (_, other) in self.others.values_mut() {
            other.pending.clear();
        }
        let result = {
            let mut ctx = Context::new(self);
            dispatch(&mut ctx)
        };
        let response = match result {
            Ok(payload) => Response {
                status: 200,
                message: String::new(),
                payload,
            },
            Err(e) => Response {
                status: e.status,
                message: e.message,
                payload: Vec::new(),
            },
        };
        if response.status < 400 {
            self.commit();
            for (_, other) in self.others.values_mut() {
                other.tx_count = self.tx_count;
                other.event = None;
                other.commit();
            }
        }
        response
    }

    fn commit(&mut self) {
        let tx_id = self.current_tx_id();
        let timestamp = self.current_timestamp();
        for (key, value) in std::mem::take(&mut self.pending) {
            let is_delete = value.is_none();
            let value = match value {
                Some(v) => {
                    self.state.insert(key.clone(), v.clone());
                    v
                }
                None => {
                    self.state.remove(&key);
                    Vec::new()
                }
            };
            self.history.entry(key).or_default().insert(
                0,
                KeyModification {
                    tx_id: tx_id.clone(),
                    value,
                    is_delete,
                    timestamp,
                },
            );
        }
        if let Some(event) = self.event.take() {
            self.events.push(event);
        }
    }

    /// The committed value of a key.
    pub fn state(&self, key: &str) -> Option<&[u8]> {
        self.state.get(key).map(Vec::as_slice)
    }

    /// All committed keys, in order.
    pub fn keys(&self) -> Vec<String> {
        self.state.keys().cloned().collect()
    }

    /// Events of committed calls, oldest first.
    pub fn events(&self) -> &[MockEvent] {
        &self.events
    }

    fn current_tx_id(&self) -> String {
        format!("mock-tx-{}", self.tx_count)
    }

    fn current_timestamp(&self) -> Timestamp {
        Timestamp {
            seconds: MOCK_EPOCH_SECONDS + self.tx_count as i64,
            nanos: 0,
        }
    }
}

impl Stub for MockStub {
    fn args(&mut self) -> Vec<Vec<u8>> {
        self.args.clone()
    }

    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, ContractError> {
        Ok(self.state.get(key).cloned())
    }

    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), ContractError> {
        self.pending.insert(key.to_string(), Some(value.to_vec()));
        Ok(())
    }

    fn del_state(&mut self, key: &str) -> Result<(), ContractError> {
        self.pending.insert(key.to_string(), None);
        Ok(())
    }

    fn range_page(
        &mut self,
        start: &str,
        end: &str,
        limit: u32,
    ) -> Result<RangePage, ContractError> {
        let upper = if end.is_empty() {
            Bound::Unbounded
        } else {
            Bound::Excluded(end.to_string())
        };
        let mut iter = self
            .state
            .range((Bound::Included(start.to_string()), upper));
        let mut page = RangePage::default();
        for (k, v) in iter.by_ref().take(limit as usize) {
            page.entries.push((k.clone(), v.clone()));
        }
        page.next = iter.next().map(|(k, _)| k.clone());
        Ok(page)
    }

    fn history(&mut self, key: &str) -> Result<Vec<KeyModification>, ContractError> {
        Ok(self.history.get(key).cloned().unwrap_or_default())
    }

    fn tx_id(&mut self) -> String {
        self.current_tx_id()
    }

    fn channel_id(&mut self) -> String {
        self.channel_id.clone()
    }

    fn tx_timestamp(&mut self) -> Timestamp {
        self.current_timestamp()
    }

    fn creator_msp_id(&mut self) -> String {
        self.msp_id.clone()
    }

    fn creator_cert(&mut self) -> Vec<u8> {
        self.cert.clone()
    }

    fn creator_attributes(&mut self) -> BTreeMap<String, String> {
        self.attributes.clone()
    }

    fn transient(&mut self) -> BTreeMap<String, Vec<u8>> {
        self.transient.clone()
    }

    fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), ContractError> {
        self.event = Some(MockEvent {
            name: name.to_string(),
            payload: payload.to_vec(),
        });
        Ok(())
    }

    fn invoke_contract(&mut self, name: &str, args: &[Vec<u8>]) -> Result<Response, ContractError> {
        let (dispatch, mut callee) = match self.others.remove(name) {
            Some(entry) => entry,
            None => {
                return Ok(Response {
                    status: 404,
                    message: format!(
                        "contract '{}' is not defined on channel '{}'; register it with MockStub::register_contract",
                        name, self.channel_id
                    ),
                    payload: Vec::new(),
                })
            }
        };
        callee.args = args.to_vec();
        callee.tx_count = self.tx_count;
        callee.msp_id = self.msp_id.clone();
        callee.cert = self.cert.clone();
        callee.attributes = self.attributes.clone();
        callee.transient = self.transient.clone();
        let result = {
            let mut ctx = Context::new(&mut callee);
            dispatch(&mut ctx)
        };
        self.others.insert(name.to_string(), (dispatch, callee));
        Ok(match result {
            Ok(payload) => Response {
                status: 200,
                message: String::new(),
                payload,
            },
            Err(e) => Response {
                status: e.status,
                message: e.message,
                payload: Vec::new(),
            },
        })
    }
}

#[cfg(test)]
#[allow(unreachable_pub)] // items generated by contract! are pub for contract crates
mod tests {
    use super::*;

    fn put(ctx: &mut Context<'_>, key: String, value: String) -> Result<(), ContractError> {
        ctx.put_state(&key, value.as_bytes())
    }

    fn get(ctx: &mut Context<'_>, key: String) -> Result<Vec<u8>, ContractError> {
        ctx.get_state(&key)?
            .ok_or_else(|| ContractError::not_found(format!("no key {}", key)))
    }

    fn put_then_read(ctx: &mut Context<'_>, key: String) -> Result<bool, ContractError> {
        ctx.put_state(&key, b"new")?;
        Ok(ctx.get_state(&key)?.is_some())
    }

    fn fail_after_write(ctx: &mut Context<'_>, key: String) -> Result<(), ContractError> {
        ctx.put_state(&key, b"lost")?;
        Err(ContractError::new("nope"))
    }

    fn everything(ctx: &mut Context<'_>) -> Result<String, ContractError> {
        let all = ctx.range("", "")?;
        let keys: Vec<String> = all.into_iter().map(|(k, _)| k).collect();
        Ok(keys.join(","))
    }

    fn call(
        ctx: &mut Context<'_>,
        name: String,
        key: String,
        fail: bool,
    ) -> Result<String, ContractError> {
        let r = ctx.invoke_contract(&name, &["Put", &key, "from-caller"])?;
        if fail {
            return Err(ContractError::new("caller failed"));
        }
        Ok(format!("{} {}", r.status, r.message))
    }

    fn count(ctx: &mut Context<'_>, n: u32) -> Result<String, ContractError> {
        Ok(format!("{} {}", n, ctx.tx_id()))
    }

    crate::contract! {
        schema_version: 7;
        fn Put(key: String, value: String) => put;
        fn Get(key: String) => get;
        fn PutThenRead(key: String) => put_then_read;
        fn FailAfterWrite(key: String) => fail_after_write;
        fn Everything() => everything;
        fn Count(n: u32) => count;
        fn Call(name: String, key: String, fail: bool) => call;
    }

    #[test]
    fn dispatches_and_commits_like_a_peer() {
        let mut stub = MockStub::new();
        assert_eq!(stub.invoke(dispatch, "Put", &["k", "v"]).status, 200);
        assert_eq!(stub.invoke(dispatch, "Get", &["k"]).payload, b"v");
        // Reads see committed state only, as in Fabric.
        assert_eq!(
            stub.invoke(dispatch, "PutThenRead", &["fresh"]).payload,
            b"false"
        );
        assert_eq!(stub.state("fresh"), Some(&b"new"[..]));
        let failed = stub.invoke(dispatch, "FailAfterWrite", &["gone"]);
        assert_eq!((failed.status, failed.message.as_str()), (500, "nope"));
        assert_eq!(stub.state("gone"), None);
        assert_eq!(stub.invoke(dispatch, "Everything", &[]).payload, b"fresh,k");
        assert_eq!(
            stub.invoke(dispatch, "Count", &["3"]).payload,
            b"3 mock-tx-6"
        );
        assert_eq!(stub.invoke(dispatch, "basic:Get", &["k"]).payload, b"v");
    }

    #[test]
    fn calls_other_contracts_in_the_same_transaction() {
        let mut stub = MockStub::new();
        stub.register_contract("other", dispatch);
        assert_eq!(
            stub.invoke(dispatch, "Call", &["other", "k", "false"])
                .payload,
            b"200 "
        );
        assert_eq!(stub.contract_state("other", "k"), Some(&b"from-caller"[..]));
        assert_eq!(stub.state("k"), None);
        // The callee's writes are dropped when the caller fails.
        assert_eq!(
            stub.invoke(dispatch, "Call", &["other", "k2", "true"])
                .status,
            500
        );
        assert_eq!(stub.contract_state("other", "k2"), None);
        let missing = stub.invoke(dispatch, "Call", &["nope", "k", "false"]);
        assert!(String::from_utf8(missing.payload)
            .unwrap()
            .starts_with("404 contract 'nope' is not defined"));
    }

    #[test]
    fn bad_calls_are_bad_requests() {
        let mut stub = MockStub::new();
        let wrong_count = stub.invoke(dispatch, "Get", &[]);
        assert_eq!(wrong_count.status, 400);
        assert_eq!(wrong_count.message, "Get takes 1 argument(s), got 0");
        let unknown = stub.invoke(dispatch, "Nope", &[]);
        assert_eq!(unknown.status, 400);
        assert!(
            unknown.message.contains("it has: Put, Get"),
            "{}",
            unknown.message
        );
        assert_eq!(stub.invoke(dispatch, "Count", &["x"]).status, 400);
        assert_eq!(stub.invoke(dispatch, "Get", &["missing"]).status, 404);
    }

    #[test]
    fn manifest_lists_functions_and_schema() {
        let text = manifest();
        assert!(
            text.starts_with("cambium-manifest 1\nschema 7\nfn Put key:string value:string\n"),
            "{}",
            text
        );
        assert!(
            text.ends_with("fn Count n:u32\nfn Call name:string key:string fail:bool\n"),
            "{}",
            text
        );
    }
}
