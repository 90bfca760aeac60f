//! The interface manifest: a small text document the SDK embeds in the `cambium_manifest`
//! custom section of every contract, so tools can compare two versions without running them.
//!
//! Format (UTF-8, one item per line):
//!
//! ```text
//! cambium-manifest 1
//! schema 3
//! migrate
//! fn CreateAsset id:string color:string size:i64
//! ```
//!
//! `schema` is the contract's state schema version; `migrate` (present only when the contract
//! declares `migrate => handler;`) says it exports `cambium_migrate`; each `fn` line names a function and its
//! arguments with their [`crate::FromArg::TYPE_NAME`]. The functions here are `const` so the
//! manifest is built at compile time (Rust 1.63 has no other way to place computed bytes in a
//! custom section).

const HEADER: &str = "cambium-manifest 1\nschema ";

const fn digits(mut n: u32) -> usize {
    let mut count = 1;
    while n >= 10 {
        n /= 10;
        count += 1;
    }
    count
}

/// The length of the manifest for `schema` and the function-line `parts`.
pub const fn manifest_len(schema: u32, parts: &[&str]) -> usize {
    let mut len = HEADER.len() + digits(schema) + 1;
    let mut i = 0;
    while i < parts.len() {
        len += parts[i].len();
        i += 1;
    }
    len
}

// Takes and returns the array by value: Rust 1.63 allows no `&mut` in const fns.
const fn copy<const N: usize>(mut out: [u8; N], mut at: usize, text: &str) -> ([u8; N], usize) {
    let bytes = text.as_bytes();
    let mut i = 0;
    while i < bytes.len() {
        out[at] = bytes[i];
        at += 1;
        i += 1;
    }
    (out, at)
}

/// The manifest bytes; `N` must be [`manifest_len`] of the same inputs.
pub const fn manifest_bytes<const N: usize>(schema: u32, parts: &[&str]) -> [u8; N] {
    let (mut out, mut at) = copy([0u8; N], 0, HEADER);
    let width = digits(schema);
    let mut k = 0;
    let mut rest = schema;
    while k < width {
        out[at + width - 1 - k] = b'0' + (rest % 10) as u8;
        rest /= 10;
        k += 1;
    }
    at += width;
    out[at] = b'\n';
    at += 1;
    let mut i = 0;
    while i < parts.len() {
        let (next, end) = copy(out, at, parts[i]);
        out = next;
        at = end;
        i += 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn builds_the_text_at_compile_time() {
        const PARTS: &[&str] = &["fn ", "Get", " ", "key", ":", "string", "\n"];
        const LEN: usize = manifest_len(120, PARTS);
        const BYTES: [u8; LEN] = manifest_bytes::<LEN>(120, PARTS);
        assert_eq!(
            std::str::from_utf8(&BYTES).unwrap(),
            "cambium-manifest 1\nschema 120\nfn Get key:string\n"
        );
        assert_eq!(manifest_bytes::<LEN>(0, PARTS).len(), LEN);
        assert_eq!(digits(0), 1);
        assert_eq!(digits(10), 2);
    }
}
