//! Fabric's block hashes: the header hash over a tiny DER structure, the data hash over the
//! concatenated envelopes.
//!
//! Fabric hashes `SEQUENCE { INTEGER number, OCTET STRING previous_hash, OCTET STRING
//! data_hash }` in DER, with `number` as a minimal two's-complement INTEGER. Only these three
//! DER shapes are needed, so they are written out here rather than pulling an ASN.1 crate.

use sha2::{Digest, Sha256};

/// DER tag of INTEGER.
const TAG_INTEGER: u8 = 0x02;
/// DER tag of OCTET STRING.
const TAG_OCTET_STRING: u8 = 0x04;
/// DER tag of a constructed SEQUENCE.
const TAG_SEQUENCE: u8 = 0x30;

/// Appends a DER length (short form below 128, long form above).
fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
        return;
    }
    let bytes = (len as u64).to_be_bytes();
    let skip = bytes.iter().take_while(|b| **b == 0).count();
    out.push(0x80 | (8 - skip) as u8);
    out.extend_from_slice(&bytes[skip..]);
}

fn push_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    push_len(out, content.len());
    out.extend_from_slice(content);
}

/// The minimal two's-complement big-endian bytes of a non-negative integer.
fn integer_content(n: u64) -> Vec<u8> {
    let bytes = n.to_be_bytes();
    // Drop leading zero bytes, but keep one when the next byte's top bit is set so the
    // number stays positive (128 is `00 80`), and keep a single zero for 0.
    let start = bytes.iter().take_while(|b| **b == 0).count().min(7);
    let mut content = bytes[start..].to_vec();
    if content[0] & 0x80 != 0 {
        content.insert(0, 0);
    }
    content
}

/// The DER bytes Fabric hashes for a block header (`protoutil.BlockHeaderBytes`).
pub fn block_header_bytes(number: u64, previous_hash: &[u8], data_hash: &[u8]) -> Vec<u8> {
    let mut body = Vec::with_capacity(16 + previous_hash.len() + data_hash.len());
    push_tlv(&mut body, TAG_INTEGER, &integer_content(number));
    push_tlv(&mut body, TAG_OCTET_STRING, previous_hash);
    push_tlv(&mut body, TAG_OCTET_STRING, data_hash);
    let mut out = Vec::with_capacity(body.len() + 4);
    push_tlv(&mut out, TAG_SEQUENCE, &body);
    out
}

/// SHA-256 of [`block_header_bytes`]: the hash the next block carries as `previous_hash`.
pub fn block_header_hash(number: u64, previous_hash: &[u8], data_hash: &[u8]) -> [u8; 32] {
    Sha256::digest(block_header_bytes(number, previous_hash, data_hash)).into()
}

/// SHA-256 of the concatenated `BlockData.data` entries (Fabric 2.x and 3.x).
pub fn block_data_hash<D: AsRef<[u8]>>(data: &[D]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for entry in data {
        hasher.update(entry.as_ref());
    }
    hasher.finalize().into()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check_integer(n: u64, expected: &[u8]) {
        let mut out = Vec::new();
        push_tlv(&mut out, TAG_INTEGER, &integer_content(n));
        assert_eq!(out, expected, "INTEGER {n}");
    }

    #[test]
    fn integers_are_minimal_twos_complement() {
        check_integer(0, &[0x02, 0x01, 0x00]);
        check_integer(1, &[0x02, 0x01, 0x01]);
        check_integer(127, &[0x02, 0x01, 0x7f]);
        check_integer(128, &[0x02, 0x02, 0x00, 0x80]);
        check_integer(255, &[0x02, 0x02, 0x00, 0xff]);
        check_integer(256, &[0x02, 0x02, 0x01, 0x00]);
        check_integer(32767, &[0x02, 0x02, 0x7f, 0xff]);
        check_integer(32768, &[0x02, 0x03, 0x00, 0x80, 0x00]);
        check_integer(
            u64::MAX,
            &[
                0x02, 0x09, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
            ],
        );
        check_integer(1 << 56, &[0x02, 0x08, 0x01, 0, 0, 0, 0, 0, 0, 0]);
    }

    #[test]
    fn lengths_use_long_form_from_128() {
        let mut out = Vec::new();
        push_len(&mut out, 127);
        push_len(&mut out, 128);
        push_len(&mut out, 300);
        assert_eq!(out, [0x7f, 0x81, 0x80, 0x82, 0x01, 0x2c]);
    }

    #[test]
    fn genesis_header_golden_bytes() {
        let data_hash = [0xab; 32];
        let bytes = block_header_bytes(0, &[], &data_hash);
        let mut expected = vec![0x30, 0x27, 0x02, 0x01, 0x00, 0x04, 0x00, 0x04, 0x20];
        expected.extend_from_slice(&data_hash);
        assert_eq!(bytes, expected);
    }

    #[test]
    fn header_128_golden_bytes_and_hash() {
        let prev = [0x11; 32];
        let data = [0x22; 32];
        let bytes = block_header_bytes(128, &prev, &data);
        let mut expected = vec![0x30, 0x48, 0x02, 0x02, 0x00, 0x80, 0x04, 0x20];
        expected.extend_from_slice(&prev);
        expected.extend_from_slice(&[0x04, 0x20]);
        expected.extend_from_slice(&data);
        assert_eq!(bytes, expected);
        let hash: [u8; 32] = Sha256::digest(&expected).into();
        assert_eq!(block_header_hash(128, &prev, &data), hash);
    }

    #[test]
    fn data_hash_is_sha256_of_concatenation() {
        let expected: [u8; 32] = Sha256::digest(b"abcdef").into();
        assert_eq!(
            block_data_hash(&[b"ab".to_vec(), b"cd".to_vec(), b"ef".to_vec()]),
            expected
        );
        let empty: [u8; 32] = Sha256::digest(b"").into();
        assert_eq!(block_data_hash::<Vec<u8>>(&[]), empty);
    }
}
