//! The host side of the guest ABI: per-call state and the functions contracts import.
//!
//! See the crate README for the ABI. Every function charges [`HOST_CALL_FUEL`] plus
//! [`FUEL_PER_BYTE`] per byte moved, checks its inputs against [`crate::limits`] before reading
//! them, and reports bad input as a [`VmError`] that ends the call.

use std::collections::BTreeMap;
use std::sync::Arc;

use wasmtime::{Caller, InstancePre, Linker, Memory, ResourceLimiter, Store, Trap};

use crate::error::VmError;
use crate::limits::*;
use crate::rwset::{KvRead, RangeQueryInfo, RwSetBuilder};
use crate::vm::{Call, ContractEvent, Env, Response};

/// The import module name.
pub const HOST_MODULE: &str = "cambium";
/// The exported entry point every contract must have: `() -> ()`.
pub const ENTRY_EXPORT: &str = "cambium_invoke";
/// The optional export a contract version runs once when its definition commits: `() -> ()`,
/// with input `["migrate", from_version]` (see [`crate::Vm::migrate`]).
pub const MIGRATE_EXPORT: &str = "cambium_migrate";
/// The function name a migration's input starts with.
pub const MIGRATE_FUNCTION: &str = "migrate";
/// The exported linear memory every contract must have.
pub const MEMORY_EXPORT: &str = "memory";

/// A WebAssembly value type in the ABI.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AbiType {
    /// `i32` (pointers, lengths, statuses).
    I32,
    /// `i64` (result lengths, -1 for absent; timestamps).
    I64,
}

use AbiType::{I32, I64};

/// The allow-list of host functions: name, parameter types, result types.
pub const HOST_FUNCTIONS: &[(&str, &[AbiType], &[AbiType])] = &[
    ("result_read", &[I32], &[]),
    ("input", &[], &[I64]),
    ("state_get", &[I32, I32], &[I64]),
    ("state_put", &[I32, I32, I32, I32], &[]),
    ("state_del", &[I32, I32], &[]),
    ("state_range", &[I32, I32, I32, I32, I32], &[I64]),
    ("state_history", &[I32, I32], &[I64]),
    ("tx_id", &[], &[I64]),
    ("channel_id", &[], &[I64]),
    ("tx_timestamp", &[], &[I64]),
    ("creator_msp_id", &[], &[I64]),
    ("creator_cert", &[], &[I64]),
    ("creator_attributes", &[], &[I64]),
    ("transient", &[], &[I64]),
    ("event_set", &[I32, I32, I32, I32], &[]),
    ("contract_invoke", &[I32, I32, I32, I32], &[I64]),
    ("response_set", &[I32, I32, I32, I32, I32], &[]),
    ("panic", &[I32, I32], &[]),
];

/// Memory and table limits for one store; remembers which limit a failed growth hit.
#[derive(Debug, Clone)]
pub(crate) struct Limiter {
    pub(crate) max_memory_bytes: usize,
    pub(crate) max_table_elements: usize,
    pub(crate) hit: Option<VmError>,
}

impl ResourceLimiter for Limiter {
    fn memory_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_memory_bytes {
            self.hit = Some(VmError::ResourceLimit {
                what: "memory bytes",
                limit: self.max_memory_bytes,
            });
            return Ok(false);
        }
        Ok(true)
    }

    fn table_growing(
        &mut self,
        _current: usize,
        desired: usize,
        _maximum: Option<usize>,
    ) -> wasmtime::Result<bool> {
        if desired > self.max_table_elements {
            self.hit = Some(VmError::ResourceLimit {
                what: "table elements",
                limit: self.max_table_elements,
            });
            return Ok(false);
        }
        Ok(true)
    }
}

/// The call-wide facts every nested call shares.
pub(crate) struct CallShared {
    pub(crate) call: Call,
    pub(crate) env: Env,
    pub(crate) fuel_limit: u64,
    /// Most distinct keys the call may write: [`MAX_WRITES_PER_CALL`], or
    /// [`MAX_WRITES_PER_MIGRATION`] for a migration.
    pub(crate) max_writes: usize,
}

/// What one store (one contract instance) holds during a call.
pub(crate) struct HostState {
    pub(crate) shared: Arc<CallShared>,
    pub(crate) namespace: String,
    pub(crate) input: Vec<u8>,
    pub(crate) depth: u32,
    pub(crate) rwset: RwSetBuilder,
    pub(crate) result: Vec<u8>,
    pub(crate) response: Option<Response>,
    pub(crate) panic: Option<String>,
    pub(crate) event: Option<ContractEvent>,
    pub(crate) limiter: Limiter,
    pub(crate) memory: Option<Memory>,
}

/// How one instance run ended.
pub(crate) enum RunEnd {
    /// The contract set a response (success or its own error).
    Responded(Response),
    /// The VM stopped the call.
    Failed(VmError),
}

/// Runs the export `entry` (`cambium_invoke` or `cambium_migrate`) of a fresh instance with
/// `fuel`; returns the state, how it ended and the fuel left.
pub(crate) fn run_instance(
    pre: &InstancePre<HostState>,
    entry: &str,
    data: HostState,
    fuel: u64,
) -> (HostState, RunEnd, u64) {
    let mut store = Store::new(pre.module().engine(), data);
    store.limiter(|s| &mut s.limiter);
    let outcome = store.set_fuel(fuel).and_then(|()| {
        let instance = pre.instantiate(&mut store)?;
        let memory = instance
            .get_memory(&mut store, MEMORY_EXPORT)
            .ok_or_else(|| {
                wasmtime::Error::new(VmError::MissingExport {
                    what: "memory 'memory'".into(),
                })
            })?;
        store.data_mut().memory = Some(memory);
        let entry = instance.get_typed_func::<(), ()>(&mut store, entry)?;
        entry.call(&mut store, ())
    });
    let fuel_left = store.get_fuel().unwrap_or(0);
    let mut data = store.into_data();
    data.memory = None;
    let end = match outcome {
        Ok(()) => match data.response.take() {
            Some(response) => RunEnd::Responded(response),
            None => RunEnd::Failed(VmError::NoResponse),
        },
        Err(e) => RunEnd::Failed(classify(&data, &e)).or_panic(&mut data),
    };
    (data, end, fuel_left)
}

impl RunEnd {
    /// A plain trap after the contract reported a panic is the contract's own error.
    fn or_panic(self, data: &mut HostState) -> RunEnd {
        match self {
            RunEnd::Failed(VmError::Trap { .. }) if data.panic.is_some() => {
                RunEnd::Responded(Response {
                    status: 500,
                    message: data.panic.take().unwrap_or_default(),
                    payload: Vec::new(),
                })
            }
            other => other,
        }
    }
}

fn classify(data: &HostState, e: &wasmtime::Error) -> VmError {
    if let Some(hit) = &data.limiter.hit {
        return hit.clone();
    }
    if let Some(vm) = e.downcast_ref::<VmError>() {
        return vm.clone();
    }
    match e.downcast_ref::<Trap>() {
        Some(Trap::OutOfFuel) => VmError::OutOfFuel {
            limit: data.shared.fuel_limit,
        },
        Some(trap) => VmError::Trap {
            reason: trap.to_string(),
        },
        None => VmError::Trap {
            reason: "the instance failed outside WebAssembly code".into(),
        },
    }
}

type HostResult<T> = wasmtime::Result<T>;

fn fail<T>(e: VmError) -> HostResult<T> {
    Err(wasmtime::Error::new(e))
}

fn charge(caller: &mut Caller<'_, HostState>, bytes: usize) -> HostResult<()> {
    let cost = HOST_CALL_FUEL.saturating_add((bytes as u64).saturating_mul(FUEL_PER_BYTE));
    let fuel = caller.get_fuel()?;
    if fuel < cost {
        caller.set_fuel(0)?;
        return fail(VmError::OutOfFuel {
            limit: caller.data().shared.fuel_limit,
        });
    }
    caller.set_fuel(fuel - cost)
}

fn limit(call: &'static str, what: &'static str, size: usize, max: usize) -> HostResult<()> {
    if size > max {
        return fail(VmError::HostLimit {
            call,
            what,
            size: size as u64,
            limit: max as u64,
        });
    }
    Ok(())
}

fn read(
    caller: &mut Caller<'_, HostState>,
    call: &'static str,
    ptr: u32,
    len: u32,
) -> HostResult<Vec<u8>> {
    let memory = match caller.data().memory {
        Some(m) => m,
        None => {
            return fail(VmError::HostInput {
                call,
                problem: "called before the instance was ready".into(),
            })
        }
    };
    let data = memory.data(&*caller);
    let start = ptr as usize;
    match data.get(start..start.saturating_add(len as usize)) {
        Some(bytes) => Ok(bytes.to_vec()),
        None => fail(VmError::HostInput {
            call,
            problem: format!("{len} bytes at {ptr} are outside the contract's memory"),
        }),
    }
}

fn read_str(
    caller: &mut Caller<'_, HostState>,
    call: &'static str,
    ptr: u32,
    len: u32,
) -> HostResult<String> {
    let bytes = read(caller, call, ptr, len)?;
    String::from_utf8(bytes).or_else(|_| {
        fail(VmError::HostInput {
            call,
            problem: "a key or name is not valid UTF-8".into(),
        })
    })
}

fn read_key(
    caller: &mut Caller<'_, HostState>,
    call: &'static str,
    ptr: u32,
    len: u32,
) -> HostResult<String> {
    limit(call, "key length", len as usize, MAX_KEY_BYTES)?;
    let key = read_str(caller, call, ptr, len)?;
    charge(caller, key.len())?;
    Ok(key)
}

/// Hands `bytes` to the guest as the pending result; returns its length.
fn give(caller: &mut Caller<'_, HostState>, bytes: Vec<u8>) -> HostResult<i64> {
    charge(caller, bytes.len())?;
    let len = bytes.len() as i64;
    caller.data_mut().result = bytes;
    Ok(len)
}

fn state_failed(e: crate::state::StateError) -> wasmtime::Error {
    wasmtime::Error::new(VmError::State(e))
}

fn encode_pairs<'a>(pairs: impl Iterator<Item = (&'a [u8], &'a [u8])>) -> Vec<u8> {
    let mut items: Vec<&[u8]> = Vec::new();
    for (k, v) in pairs {
        items.push(k);
        items.push(v);
    }
    encode_list(&items)
}

/// Encodes a list as the SDK's `codec` does: u32 LE count, then u32 LE length + bytes per item.
pub(crate) fn encode_list<T: AsRef<[u8]>>(items: &[T]) -> Vec<u8> {
    let total: usize = items.iter().map(|i| 4 + i.as_ref().len()).sum();
    let mut out = Vec::with_capacity(4 + total);
    out.extend_from_slice(&(items.len() as u32).to_le_bytes());
    for item in items {
        let item = item.as_ref();
        out.extend_from_slice(&(item.len() as u32).to_le_bytes());
        out.extend_from_slice(item);
    }
    out
}

/// Decodes a list; `None` if malformed.
pub(crate) fn decode_list(bytes: &[u8]) -> Option<Vec<Vec<u8>>> {
    fn take(bytes: &[u8]) -> Option<(usize, &[u8])> {
        let word: [u8; 4] = bytes.get(..4)?.try_into().ok()?;
        Some((u32::from_le_bytes(word) as usize, &bytes[4..]))
    }
    let (count, mut rest) = take(bytes)?;
    let mut items = Vec::with_capacity(count.min(rest.len() / 4));
    for _ in 0..count {
        let (len, tail) = take(rest)?;
        items.push(tail.get(..len)?.to_vec());
        rest = &tail[len..];
    }
    rest.is_empty().then_some(items)
}

/// Builds the linker with every function of [`HOST_FUNCTIONS`].
pub(crate) fn linker(engine: &wasmtime::Engine) -> wasmtime::Result<Linker<HostState>> {
    let mut l = Linker::new(engine);
    let m = HOST_MODULE;

    l.func_wrap(
        m,
        "result_read",
        |mut c: Caller<'_, HostState>, ptr: u32| -> HostResult<()> {
            let bytes = std::mem::take(&mut c.data_mut().result);
            let memory = match c.data().memory {
                Some(m) => m,
                None => {
                    return fail(VmError::HostInput {
                        call: "result_read",
                        problem: "no memory".into(),
                    })
                }
            };
            let start = ptr as usize;
            match memory
                .data_mut(&mut c)
                .get_mut(start..start.saturating_add(bytes.len()))
            {
                Some(dst) => {
                    dst.copy_from_slice(&bytes);
                    Ok(())
                }
                None => fail(VmError::HostInput {
                    call: "result_read",
                    problem: format!(
                        "{} bytes at {ptr} are outside the contract's memory",
                        bytes.len()
                    ),
                }),
            }
        },
    )?;

    l.func_wrap(
        m,
        "input",
        |mut c: Caller<'_, HostState>| -> HostResult<i64> {
            let input = c.data().input.clone();
            give(&mut c, input)
        },
    )?;

    l.func_wrap(
        m,
        "state_get",
        |mut c: Caller<'_, HostState>, kp: u32, kl: u32| -> HostResult<i64> {
            let key = read_key(&mut c, "state_get", kp, kl)?;
            let data = c.data();
            let found = data
                .shared
                .env
                .state
                .get(&data.namespace, &key)
                .map_err(state_failed)?;
            let ns = data.namespace.clone();
            c.data_mut()
                .rwset
                .read(&ns, &key, found.as_ref().map(|v| v.version));
            match found {
                Some(v) => give(&mut c, v.value),
                None => Ok(-1),
            }
        },
    )?;

    l.func_wrap(
        m,
        "state_put",
        |mut c: Caller<'_, HostState>, kp: u32, kl: u32, vp: u32, vl: u32| -> HostResult<()> {
            let key = read_key(&mut c, "state_put", kp, kl)?;
            if key.is_empty() {
                return fail(VmError::HostInput {
                    call: "state_put",
                    problem: "the key is empty".into(),
                });
            }
            limit("state_put", "value length", vl as usize, MAX_VALUE_BYTES)?;
            let value = read(&mut c, "state_put", vp, vl)?;
            charge(&mut c, value.len())?;
            write(&mut c, "state_put", &key, Some(value))
        },
    )?;

    l.func_wrap(
        m,
        "state_del",
        |mut c: Caller<'_, HostState>, kp: u32, kl: u32| -> HostResult<()> {
            let key = read_key(&mut c, "state_del", kp, kl)?;
            write(&mut c, "state_del", &key, None)
        },
    )?;

    l.func_wrap(
        m,
        "state_range",
        |mut c: Caller<'_, HostState>,
         sp: u32,
         sl: u32,
         ep: u32,
         el: u32,
         max: u32|
         -> HostResult<i64> {
            let start = read_key(&mut c, "state_range", sp, sl)?;
            let end = read_key(&mut c, "state_range", ep, el)?;
            limit(
                "state_range",
                "page size",
                max as usize,
                MAX_RANGE_RESULTS as usize,
            )?;
            let data = c.data();
            // One more than asked tells whether the range goes on, and where.
            let mut found = data
                .shared
                .env
                .state
                .range(&data.namespace, &start, &end, max as usize + 1)
                .map_err(state_failed)?;
            let next = if found.len() > max as usize {
                found.pop().map(|(k, _)| k)
            } else {
                None
            };
            let info = RangeQueryInfo {
                start_key: start,
                end_key: end,
                itr_exhausted: next.is_none(),
                reads: found
                    .iter()
                    .map(|(k, v)| KvRead {
                        key: k.clone(),
                        version: Some(v.version),
                    })
                    .collect(),
            };
            let ns = data.namespace.clone();
            c.data_mut().rwset.range(&ns, info);
            let mut items: Vec<&[u8]> = vec![next.as_deref().unwrap_or("").as_bytes()];
            for (k, v) in &found {
                items.push(k.as_bytes());
                items.push(&v.value);
            }
            let bytes = encode_list(&items);
            give(&mut c, bytes)
        },
    )?;

    l.func_wrap(
        m,
        "state_history",
        |mut c: Caller<'_, HostState>, kp: u32, kl: u32| -> HostResult<i64> {
            let key = read_key(&mut c, "state_history", kp, kl)?;
            let data = c.data();
            let changes = data
                .shared
                .env
                .state
                .history(&data.namespace, &key, MAX_HISTORY_RESULTS)
                .map_err(state_failed)?;
            let mut items: Vec<Vec<u8>> = Vec::with_capacity(changes.len() * 4);
            for ch in changes {
                items.push(ch.tx_id.into_bytes());
                items.push(ch.value);
                items.push(vec![u8::from(ch.is_delete)]);
                items.push(ch.timestamp.unix_nanos().to_le_bytes().to_vec());
            }
            let bytes = encode_list(&items);
            give(&mut c, bytes)
        },
    )?;

    l.func_wrap(
        m,
        "tx_id",
        |mut c: Caller<'_, HostState>| -> HostResult<i64> {
            let v = c.data().shared.call.tx_id.clone().into_bytes();
            give(&mut c, v)
        },
    )?;
    l.func_wrap(
        m,
        "channel_id",
        |mut c: Caller<'_, HostState>| -> HostResult<i64> {
            let v = c.data().shared.call.channel_id.clone().into_bytes();
            give(&mut c, v)
        },
    )?;
    l.func_wrap(
        m,
        "tx_timestamp",
        |mut c: Caller<'_, HostState>| -> HostResult<i64> {
            charge(&mut c, 0)?;
            Ok(c.data().shared.call.timestamp.unix_nanos())
        },
    )?;
    l.func_wrap(
        m,
        "creator_msp_id",
        |mut c: Caller<'_, HostState>| -> HostResult<i64> {
            let v = c.data().shared.call.creator.msp_id.clone().into_bytes();
            give(&mut c, v)
        },
    )?;
    l.func_wrap(
        m,
        "creator_cert",
        |mut c: Caller<'_, HostState>| -> HostResult<i64> {
            let v = c.data().shared.call.creator.cert.clone();
            give(&mut c, v)
        },
    )?;
    l.func_wrap(
        m,
        "creator_attributes",
        |mut c: Caller<'_, HostState>| -> HostResult<i64> {
            let attrs = &c.data().shared.call.creator.attributes;
            let v = encode_pairs(attrs.iter().map(|(k, v)| (k.as_bytes(), v.as_bytes())));
            give(&mut c, v)
        },
    )?;
    l.func_wrap(
        m,
        "transient",
        |mut c: Caller<'_, HostState>| -> HostResult<i64> {
            let map: &BTreeMap<String, Vec<u8>> = &c.data().shared.call.transient;
            let v = encode_pairs(map.iter().map(|(k, v)| (k.as_bytes(), v.as_slice())));
            give(&mut c, v)
        },
    )?;

    l.func_wrap(
        m,
        "event_set",
        |mut c: Caller<'_, HostState>, np: u32, nl: u32, pp: u32, pl: u32| -> HostResult<()> {
            limit(
                "event_set",
                "event name length",
                nl as usize,
                MAX_EVENT_NAME_BYTES,
            )?;
            limit(
                "event_set",
                "event payload length",
                pl as usize,
                MAX_EVENT_PAYLOAD_BYTES,
            )?;
            let name = read_str(&mut c, "event_set", np, nl)?;
            if name.is_empty() {
                return fail(VmError::HostInput {
                    call: "event_set",
                    problem: "the event name is empty".into(),
                });
            }
            let payload = read(&mut c, "event_set", pp, pl)?;
            charge(&mut c, name.len() + payload.len())?;
            c.data_mut().event = Some(ContractEvent { name, payload });
            Ok(())
        },
    )?;

    l.func_wrap(
        m,
        "contract_invoke",
        |mut c: Caller<'_, HostState>, np: u32, nl: u32, ap: u32, al: u32| -> HostResult<i64> {
            limit(
                "contract_invoke",
                "contract name length",
                nl as usize,
                MAX_CONTRACT_NAME_BYTES,
            )?;
            limit(
                "contract_invoke",
                "argument bytes",
                al as usize,
                MAX_INVOKE_ARGS_BYTES,
            )?;
            let name = read_str(&mut c, "contract_invoke", np, nl)?;
            let args = read(&mut c, "contract_invoke", ap, al)?;
            charge(&mut c, name.len() + args.len())?;
            let response = invoke_nested(&mut c, name, args)?;
            let bytes = encode_list(&[
                response.status.to_le_bytes().to_vec(),
                response.message.into_bytes(),
                response.payload,
            ]);
            give(&mut c, bytes)
        },
    )?;

    l.func_wrap(
        m,
        "response_set",
        |mut c: Caller<'_, HostState>,
         status: i32,
         pp: u32,
         pl: u32,
         mp: u32,
         ml: u32|
         -> HostResult<()> {
            limit(
                "response_set",
                "payload length",
                pl as usize,
                MAX_RESPONSE_PAYLOAD_BYTES,
            )?;
            limit(
                "response_set",
                "message length",
                ml as usize,
                MAX_RESPONSE_MESSAGE_BYTES,
            )?;
            let payload = read(&mut c, "response_set", pp, pl)?;
            let message =
                String::from_utf8_lossy(&read(&mut c, "response_set", mp, ml)?).into_owned();
            charge(&mut c, payload.len() + message.len())?;
            c.data_mut().response = Some(Response {
                status,
                message,
                payload,
            });
            Ok(())
        },
    )?;

    l.func_wrap(
        m,
        "panic",
        |mut c: Caller<'_, HostState>, mp: u32, ml: u32| -> HostResult<()> {
            // Long messages are cut rather than refused: the panic is what matters.
            let keep = (ml as usize).min(MAX_PANIC_MESSAGE_BYTES) as u32;
            let bytes = read(&mut c, "panic", mp, keep)?;
            let mut text = String::from_utf8_lossy(&bytes).into_owned();
            if keep < ml {
                text.push('…');
            }
            c.data_mut().panic = Some(text);
            Ok(())
        },
    )?;

    Ok(l)
}

fn write(
    c: &mut Caller<'_, HostState>,
    call: &'static str,
    key: &str,
    value: Option<Vec<u8>>,
) -> HostResult<()> {
    let data = c.data_mut();
    let ns = data.namespace.clone();
    let limit = data.shared.max_writes;
    if data.rwset.is_new_write(&ns, key) && data.rwset.write_count() >= limit {
        return fail(VmError::HostLimit {
            call,
            what: "distinct keys written",
            size: data.rwset.write_count() as u64 + 1,
            limit: limit as u64,
        });
    }
    data.rwset.write(&ns, key, value);
    Ok(())
}

/// Runs another contract in a fresh store that shares this call's read/write set and fuel.
fn invoke_nested(
    c: &mut Caller<'_, HostState>,
    name: String,
    args: Vec<u8>,
) -> HostResult<Response> {
    let depth = c.data().depth + 1;
    if depth > MAX_CALL_DEPTH {
        return fail(VmError::HostLimit {
            call: "contract_invoke",
            what: "call depth",
            size: u64::from(depth),
            limit: u64::from(MAX_CALL_DEPTH),
        });
    }
    let Some(list) = decode_list(&args) else {
        return fail(VmError::HostInput {
            call: "contract_invoke",
            problem: "the arguments are not an encoded list".into(),
        });
    };
    if list.is_empty() {
        return fail(VmError::HostInput {
            call: "contract_invoke",
            problem: "the arguments have no function name".into(),
        });
    }
    let shared = c.data().shared.clone();
    let Some(target) = shared.env.contracts.resolve(&name) else {
        return Ok(Response {
            status: 404,
            message: format!(
                "contract '{name}' is not defined on channel '{}'",
                shared.call.channel_id
            ),
            payload: Vec::new(),
        });
    };
    let fuel = c.get_fuel()?;
    let parent = c.data_mut();
    let child = HostState {
        shared: shared.clone(),
        namespace: name,
        input: args,
        depth,
        rwset: std::mem::take(&mut parent.rwset),
        result: Vec::new(),
        response: None,
        panic: None,
        event: None,
        limiter: Limiter {
            hit: None,
            ..parent.limiter.clone()
        },
        memory: None,
    };
    let (child, end, left) = run_instance(target.instance_pre(), ENTRY_EXPORT, child, fuel);
    c.data_mut().rwset = child.rwset;
    c.set_fuel(left)?;
    match end {
        RunEnd::Responded(response) => Ok(response),
        RunEnd::Failed(e) => fail(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn list_codec_round_trips_and_rejects_garbage() {
        let items = vec![b"ab".to_vec(), Vec::new()];
        let bytes = encode_list(&items);
        assert_eq!(decode_list(&bytes), Some(items));
        assert_eq!(decode_list(&bytes[..5]), None);
        assert_eq!(decode_list(&[9, 0, 0, 0]), None);
    }
}
