//! The wasm side of the host ABI: imports from the `cambium` module and the entry point.
//!
//! Calls that return data put it in a host-side buffer and return its length (or -1 for
//! "absent"); the guest then copies it into its own memory with `result_read`. So the guest needs
//! no exported allocator. A host call with bad input (oversized key, out-of-bounds pointer) ends
//! the whole call with a VM error and does not return.

use std::collections::BTreeMap;

use crate::codec::{decode_list, encode_list};
use crate::stub::{KeyModification, RangePage, Response, Stub, Timestamp};
use crate::{Context, ContractError, Dispatch, Migrate};

#[link(wasm_import_module = "cambium")]
extern "C" {
    fn result_read(ptr: u32);
    fn input() -> i64;
    fn state_get(key_ptr: u32, key_len: u32) -> i64;
    fn state_put(key_ptr: u32, key_len: u32, value_ptr: u32, value_len: u32);
    fn state_del(key_ptr: u32, key_len: u32);
    fn state_range(start_ptr: u32, start_len: u32, end_ptr: u32, end_len: u32, limit: u32) -> i64;
    fn state_history(key_ptr: u32, key_len: u32) -> i64;
    fn tx_id() -> i64;
    fn channel_id() -> i64;
    fn tx_timestamp() -> i64;
    fn creator_msp_id() -> i64;
    fn creator_cert() -> i64;
    fn creator_attributes() -> i64;
    fn transient() -> i64;
    fn event_set(name_ptr: u32, name_len: u32, payload_ptr: u32, payload_len: u32);
    fn contract_invoke(name_ptr: u32, name_len: u32, args_ptr: u32, args_len: u32) -> i64;
    fn response_set(
        status: i32,
        payload_ptr: u32,
        payload_len: u32,
        message_ptr: u32,
        message_len: u32,
    );
    fn panic(message_ptr: u32, message_len: u32);
}

/// Copies the host's pending result of length `len` (a negative length means "absent").
fn take_result(len: i64) -> Option<Vec<u8>> {
    if len < 0 {
        return None;
    }
    let mut buf = vec![0u8; len as usize];
    // SAFETY: the host writes exactly `len` bytes at `buf`, which has room for them.
    unsafe { result_read(buf.as_mut_ptr() as u32) };
    Some(buf)
}

fn take_list(len: i64) -> Vec<Vec<u8>> {
    take_result(len)
        .and_then(|b| decode_list(&b))
        .unwrap_or_default()
}

fn take_string(len: i64) -> String {
    String::from_utf8(take_result(len).unwrap_or_default()).unwrap_or_default()
}

fn ptr(bytes: &[u8]) -> (u32, u32) {
    (bytes.as_ptr() as u32, bytes.len() as u32)
}

fn pairs(items: Vec<Vec<u8>>) -> Vec<(Vec<u8>, Vec<u8>)> {
    let mut out = Vec::with_capacity(items.len() / 2);
    let mut it = items.into_iter();
    while let (Some(k), Some(v)) = (it.next(), it.next()) {
        out.push((k, v));
    }
    out
}

fn utf8(bytes: Vec<u8>) -> String {
    String::from_utf8(bytes).unwrap_or_default()
}

/// The stub backed by host calls.
pub struct WasmStub {
    args: Option<Vec<Vec<u8>>>,
}

impl Stub for WasmStub {
    fn args(&mut self) -> Vec<Vec<u8>> {
        if self.args.is_none() {
            // SAFETY: a host call without pointers.
            self.args = Some(take_list(unsafe { input() }));
        }
        self.args.clone().unwrap_or_default()
    }

    fn get_state(&mut self, key: &str) -> Result<Option<Vec<u8>>, ContractError> {
        let (p, l) = ptr(key.as_bytes());
        // SAFETY: the pointer and length describe a live slice.
        Ok(take_result(unsafe { state_get(p, l) }))
    }

    fn put_state(&mut self, key: &str, value: &[u8]) -> Result<(), ContractError> {
        let (kp, kl) = ptr(key.as_bytes());
        let (vp, vl) = ptr(value);
        // SAFETY: the pointers and lengths describe live slices.
        unsafe { state_put(kp, kl, vp, vl) };
        Ok(())
    }

    fn del_state(&mut self, key: &str) -> Result<(), ContractError> {
        let (p, l) = ptr(key.as_bytes());
        // SAFETY: the pointer and length describe a live slice.
        unsafe { state_del(p, l) };
        Ok(())
    }

    fn range_page(
        &mut self,
        start: &str,
        end: &str,
        limit: u32,
    ) -> Result<RangePage, ContractError> {
        let (sp, sl) = ptr(start.as_bytes());
        let (ep, el) = ptr(end.as_bytes());
        // SAFETY: the pointers and lengths describe live slices.
        let mut items = take_list(unsafe { state_range(sp, sl, ep, el, limit) });
        if items.is_empty() {
            return Err(ContractError::new("malformed range result from the host"));
        }
        let next = items.remove(0);
        Ok(RangePage {
            entries: pairs(items)
                .into_iter()
                .map(|(k, v)| (utf8(k), v))
                .collect(),
            next: if next.is_empty() {
                None
            } else {
                Some(utf8(next))
            },
        })
    }

    fn history(&mut self, key: &str) -> Result<Vec<KeyModification>, ContractError> {
        let (p, l) = ptr(key.as_bytes());
        // SAFETY: the pointer and length describe a live slice.
        let items = take_list(unsafe { state_history(p, l) });
        let mut out = Vec::with_capacity(items.len() / 4);
        let mut it = items.into_iter();
        while let (Some(tx), Some(value), Some(flag), Some(ts)) =
            (it.next(), it.next(), it.next(), it.next())
        {
            let mut nanos = [0u8; 8];
            if ts.len() == 8 {
                nanos.copy_from_slice(&ts);
            }
            out.push(KeyModification {
                tx_id: utf8(tx),
                value,
                is_delete: flag.first() == Some(&1),
                timestamp: Timestamp::from_unix_nanos(i64::from_le_bytes(nanos)),
            });
        }
        Ok(out)
    }

    fn tx_id(&mut self) -> String {
        // SAFETY: a host call without pointers.
        take_string(unsafe { tx_id() })
    }

    fn channel_id(&mut self) -> String {
        // SAFETY: a host call without pointers.
        take_string(unsafe { channel_id() })
    }

    fn tx_timestamp(&mut self) -> Timestamp {
        // SAFETY: a host call without pointers.
        Timestamp::from_unix_nanos(unsafe { tx_timestamp() })
    }

    fn creator_msp_id(&mut self) -> String {
        // SAFETY: a host call without pointers.
        take_string(unsafe { creator_msp_id() })
    }

    fn creator_cert(&mut self) -> Vec<u8> {
        // SAFETY: a host call without pointers.
        take_result(unsafe { creator_cert() }).unwrap_or_default()
    }

    fn creator_attributes(&mut self) -> BTreeMap<String, String> {
        // SAFETY: a host call without pointers.
        let items = take_list(unsafe { creator_attributes() });
        pairs(items)
            .into_iter()
            .map(|(k, v)| (utf8(k), utf8(v)))
            .collect()
    }

    fn transient(&mut self) -> BTreeMap<String, Vec<u8>> {
        // SAFETY: a host call without pointers.
        let items = take_list(unsafe { transient() });
        pairs(items)
            .into_iter()
            .map(|(k, v)| (utf8(k), v))
            .collect()
    }

    fn set_event(&mut self, name: &str, payload: &[u8]) -> Result<(), ContractError> {
        let (np, nl) = ptr(name.as_bytes());
        let (pp, pl) = ptr(payload);
        // SAFETY: the pointers and lengths describe live slices.
        unsafe { event_set(np, nl, pp, pl) };
        Ok(())
    }

    fn invoke_contract(&mut self, name: &str, args: &[Vec<u8>]) -> Result<Response, ContractError> {
        let encoded = encode_list(args);
        let (np, nl) = ptr(name.as_bytes());
        let (ap, al) = ptr(&encoded);
        // SAFETY: the pointers and lengths describe live slices.
        let items = take_list(unsafe { contract_invoke(np, nl, ap, al) });
        let mut it = items.into_iter();
        match (it.next(), it.next(), it.next()) {
            (Some(status), Some(message), Some(payload)) if status.len() == 4 => {
                let mut word = [0u8; 4];
                word.copy_from_slice(&status);
                Ok(Response {
                    status: i32::from_le_bytes(word),
                    message: utf8(message),
                    payload,
                })
            }
            _ => Err(ContractError::new(
                "malformed contract call result from the host",
            )),
        }
    }
}

fn report_panic(message: String, location: Option<(String, u32)>) {
    let text = match location {
        Some((file, line)) => format!("contract panicked at {}:{}: {}", file, line, message),
        None => format!("contract panicked: {}", message),
    };
    let (p, l) = ptr(text.as_bytes());
    // SAFETY: the pointer and length describe a live slice.
    unsafe { panic(p, l) };
}

/// Runs one call: installs the panic reporter, dispatches, and hands the response to the host.
pub fn run(dispatch: Dispatch) {
    respond(dispatch)
}

/// Runs a migration (the export `cambium_migrate`): the host's input is
/// `[MIGRATE_FUNCTION, from_version]`; the handler's result becomes the response (200 on
/// success, its own status otherwise).
pub fn run_migrate(handler: Migrate) {
    respond(|ctx: &mut Context<'_>| {
        let from_version = crate::migrate_from_version(ctx)?;
        handler(ctx, from_version).map(|()| Vec::new())
    })
}

fn respond<F: FnOnce(&mut Context<'_>) -> Result<Vec<u8>, ContractError>>(body: F) {
    // The hook's argument type is not named: it is `PanicInfo` on Rust 1.63 and `PanicHookInfo`
    // on current Rust.
    std::panic::set_hook(Box::new(|info| {
        let payload = info.payload();
        let message = if let Some(s) = payload.downcast_ref::<&str>() {
            (*s).to_string()
        } else if let Some(s) = payload.downcast_ref::<String>() {
            s.clone()
        } else {
            info.to_string()
        };
        report_panic(
            message,
            info.location().map(|l| (l.file().to_string(), l.line())),
        );
    }));
    let mut stub = WasmStub { args: None };
    let result = {
        let mut ctx = Context::new(&mut stub);
        body(&mut ctx)
    };
    let (status, payload, message) = match result {
        Ok(payload) => (200, payload, String::new()),
        Err(e) => (e.status, Vec::new(), e.message),
    };
    let (pp, pl) = ptr(&payload);
    let (mp, ml) = ptr(message.as_bytes());
    // SAFETY: the pointers and lengths describe live slices.
    unsafe { response_set(status, pp, pl, mp, ml) };
}
