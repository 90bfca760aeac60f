//! `testbed`: a contract that misbehaves on purpose, to test the VM's limits and determinism.
//!
//! Not an example to copy: it loops forever, allocates without bound, panics, sends oversized
//! keys and computes NaNs on request.

use cambium_sdk::{contract, Context, ContractError};

fn spin(_ctx: &mut Context<'_>, seed: u64) -> Result<u64, ContractError> {
    let mut x = seed;
    loop {
        x = x.wrapping_mul(6364136223846793005).wrapping_add(1);
        if x == seed.wrapping_sub(1) && seed == u64::MAX {
            return Ok(x);
        }
    }
}

fn hog(_ctx: &mut Context<'_>, mib: u32) -> Result<u64, ContractError> {
    let mut blocks: Vec<Vec<u8>> = Vec::new();
    for i in 0..mib {
        blocks.push(vec![i as u8; 1 << 20]);
    }
    Ok(blocks.iter().map(|b| b.len() as u64).sum())
}

fn boom(_ctx: &mut Context<'_>, message: String) -> Result<(), ContractError> {
    panic!("boom: {}", message)
}

fn big_key(ctx: &mut Context<'_>, len: u32) -> Result<(), ContractError> {
    let key = "k".repeat(len as usize);
    ctx.put_state(&key, b"v")
}

fn big_value(ctx: &mut Context<'_>, len: u32) -> Result<(), ContractError> {
    ctx.put_state("k", &vec![7u8; len as usize])
}

fn big_range(ctx: &mut Context<'_>, limit: u32) -> Result<usize, ContractError> {
    Ok(ctx.range_page("a", "z", limit, "")?.entries.len())
}

#[allow(clippy::eq_op)] // the point is 0/0 computed at run time
fn nan64(_ctx: &mut Context<'_>, a: f64, b: f64) -> Result<String, ContractError> {
    // (a - a) / (b - b) is 0/0 for finite inputs: a NaN whose sign the hardware picks.
    let x = (a - a) / (b - b);
    Ok(format!("{:016x}", x.to_bits()))
}

#[allow(clippy::eq_op)]
fn nan32(_ctx: &mut Context<'_>, a: f32, b: f32) -> Result<String, ContractError> {
    let x = (a - a) / (b - b);
    Ok(format!("{:08x}", x.to_bits()))
}

fn whoami(ctx: &mut Context<'_>) -> Result<String, ContractError> {
    let id = ctx.client_identity();
    let attrs: Vec<String> = id
        .attributes
        .iter()
        .map(|(k, v)| format!("{}={}", k, v))
        .collect();
    let transient: Vec<String> = ctx
        .transient()
        .iter()
        .map(|(k, v)| format!("{}={}", k, String::from_utf8_lossy(v)))
        .collect();
    Ok(format!(
        "{}|{}|{}|{}|{}|{}|{}",
        ctx.channel_id(),
        ctx.tx_id(),
        ctx.tx_timestamp().unix_nanos(),
        id.msp_id,
        String::from_utf8_lossy(&id.cert),
        attrs.join(","),
        transient.join(",")
    ))
}

fn history(ctx: &mut Context<'_>, key: String) -> Result<String, ContractError> {
    let items: Vec<String> = ctx
        .history(&key)?
        .into_iter()
        .map(|m| {
            format!(
                "{}:{}:{}:{}",
                m.tx_id,
                String::from_utf8_lossy(&m.value),
                m.is_delete,
                m.timestamp.seconds
            )
        })
        .collect();
    Ok(items.join(","))
}

fn call(
    ctx: &mut Context<'_>,
    contract_name: String,
    function: String,
    arg: String,
) -> Result<String, ContractError> {
    let response = ctx.invoke_contract(&contract_name, &[&function, &arg])?;
    Ok(format!(
        "{}|{}|{}",
        response.status,
        response.message,
        String::from_utf8_lossy(&response.payload)
    ))
}

fn page(ctx: &mut Context<'_>, size: u32, bookmark: String) -> Result<String, ContractError> {
    let page = ctx.range_page("", "", size, &bookmark)?;
    let keys: Vec<String> = page.entries.into_iter().map(|(k, _)| k).collect();
    Ok(format!("{}|{}", keys.join(","), page.bookmark))
}

fn tag(ctx: &mut Context<'_>, color: String, name: String) -> Result<(), ContractError> {
    let key = ctx.composite_key("color~name", &[&color, &name])?;
    ctx.put_state(&key, name.as_bytes())
}

fn by_color(ctx: &mut Context<'_>, color: String) -> Result<String, ContractError> {
    let names: Vec<String> = ctx
        .partial_composite("color~name", &[&color])?
        .into_iter()
        .map(|(_, v)| String::from_utf8_lossy(&v).into_owned())
        .collect();
    Ok(names.join(","))
}

fn refuse(_ctx: &mut Context<'_>, status: i32, message: String) -> Result<(), ContractError> {
    Err(ContractError::with_status(status, message))
}

contract! {
    schema_version: 1;
    fn spin(seed: u64) => spin;
    fn hog(mib: u32) => hog;
    fn boom(message: String) => boom;
    fn big_key(len: u32) => big_key;
    fn big_value(len: u32) => big_value;
    fn big_range(limit: u32) => big_range;
    fn nan64(a: f64, b: f64) => nan64;
    fn nan32(a: f32, b: f32) => nan32;
    fn whoami() => whoami;
    fn history(key: String) => history;
    fn call(contract_name: String, function: String, arg: String) => call;
    fn page(size: u32, bookmark: String) => page;
    fn tag(color: String, name: String) => tag;
    fn by_color(color: String) => by_color;
    fn refuse(status: i32, message: String) => refuse;
}
