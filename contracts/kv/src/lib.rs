//! `kv`: a key-value contract for benchmarks and tests.
//!
//! Functions: `put(key, value)`, `get(key)`, `incr(key)` (decimal counter), `put_many(prefix,
//! count, value)` (writes `prefix0000` … in one transaction), `del(key)` and `scan(start, end)`.

use cambium_sdk::{contract, Context, ContractError};

/// The most keys `put_many` writes in one call.
pub const MAX_PUT_MANY: u32 = 10_000;

fn put(ctx: &mut Context<'_>, key: String, value: String) -> Result<(), ContractError> {
    ctx.put_state(&key, value.as_bytes())
}

fn get(ctx: &mut Context<'_>, key: String) -> Result<Vec<u8>, ContractError> {
    ctx.get_state(&key)?
        .ok_or_else(|| ContractError::not_found(format!("key '{}' does not exist", key)))
}

fn incr(ctx: &mut Context<'_>, key: String) -> Result<i64, ContractError> {
    let current = match ctx.get_string(&key)? {
        Some(text) => text.parse::<i64>().map_err(|_| {
            ContractError::new(format!("key '{}' holds '{}', not a counter", key, text))
        })?,
        None => 0,
    };
    let next = current
        .checked_add(1)
        .ok_or_else(|| ContractError::new(format!("counter '{}' overflowed", key)))?;
    ctx.put_state(&key, next.to_string().as_bytes())?;
    Ok(next)
}

fn put_many(
    ctx: &mut Context<'_>,
    prefix: String,
    count: u32,
    value: String,
) -> Result<u32, ContractError> {
    if count > MAX_PUT_MANY {
        return Err(ContractError::bad_request(format!(
            "put_many writes at most {} keys, asked for {}",
            MAX_PUT_MANY, count
        )));
    }
    for i in 0..count {
        ctx.put_state(&format!("{}{:04}", prefix, i), value.as_bytes())?;
    }
    Ok(count)
}

fn del(ctx: &mut Context<'_>, key: String) -> Result<(), ContractError> {
    ctx.del_state(&key)
}

fn scan(ctx: &mut Context<'_>, start: String, end: String) -> Result<String, ContractError> {
    let keys: Vec<String> = ctx
        .range(&start, &end)?
        .into_iter()
        .map(|(k, _)| k)
        .collect();
    Ok(keys.join(","))
}

contract! {
    schema_version: 1;
    fn put(key: String, value: String) => put;
    fn get(key: String) => get;
    fn incr(key: String) => incr;
    fn put_many(prefix: String, count: u32, value: String) => put_many;
    fn del(key: String) => del;
    fn scan(start: String, end: String) => scan;
}

#[cfg(test)]
mod tests {
    use super::*;
    use cambium_sdk::MockStub;

    #[test]
    fn counts_writes_and_scans() {
        let mut stub = MockStub::new();
        assert_eq!(stub.invoke(dispatch, "incr", &["c"]).payload, b"1");
        assert_eq!(stub.invoke(dispatch, "incr", &["c"]).payload, b"2");
        assert_eq!(
            stub.invoke(dispatch, "put_many", &["k", "3", "v"]).payload,
            b"3"
        );
        assert_eq!(
            stub.invoke(dispatch, "scan", &["k", ""]).payload,
            b"k0000,k0001,k0002"
        );
        assert_eq!(stub.invoke(dispatch, "get", &["k0001"]).payload, b"v");
        assert_eq!(stub.invoke(dispatch, "get", &["nope"]).status, 404);
        assert_eq!(stub.invoke(dispatch, "put", &["c", "x"]).status, 200);
        assert_eq!(stub.invoke(dispatch, "incr", &["c"]).status, 500);
    }
}
