//! `stack-probe`: a test contract for cambium-vm whose one function uses a chosen amount of
//! its shadow stack (the part of linear memory below the data that Rust keeps its stack in).
//!
//! `depth(frames)` recurses `frames` times; each frame keeps a 1 KiB buffer whose address
//! escapes, so the buffer must live on the shadow stack. It returns a checksum of the buffers.

use cambium_sdk::{contract, Context, ContractError};

/// Shadow-stack bytes each frame holds (besides its bookkeeping).
pub const FRAME_BYTES: usize = 1024;

#[inline(never)]
fn recurse(frames: u32) -> u64 {
    let mut buffer = [0u8; FRAME_BYTES];
    // Volatile accesses need the buffer at an address, so it lives on the shadow stack, and
    // the optimiser may neither drop nor shrink it.
    for (i, b) in buffer.iter_mut().enumerate() {
        // SAFETY: `b` is a valid, aligned reference into the local buffer.
        unsafe { core::ptr::write_volatile(b, (i as u32 ^ frames) as u8) };
    }
    let below = if frames == 0 { 0 } else { recurse(frames - 1) };
    let mut sum = below;
    for b in buffer.iter() {
        // SAFETY: as above.
        sum = sum.wrapping_add(u64::from(unsafe { core::ptr::read_volatile(b) }));
    }
    sum
}

fn depth(_ctx: &mut Context<'_>, frames: u32) -> Result<u64, ContractError> {
    Ok(recurse(frames))
}

contract! {
    schema_version: 1;
    fn depth(frames: u32) => depth;
}
