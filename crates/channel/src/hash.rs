//! Fabric's block hashes, kept private to this crate: SHA-256 over the concatenated envelopes
//! (data hash) and SHA-256 over the DER `SEQUENCE{INTEGER number, OCTET STRING previous_hash,
//! OCTET STRING data_hash}` (header hash, Fabric's `protoutil.BlockHeaderBytes`).
//!
//! `cambium-ledger` has the same helpers; this crate does not depend on the ledger, so that
//! reading and writing channel configs needs no storage engine.

use sha2::{Digest, Sha256};

/// SHA-256 of the concatenated `BlockData.data` entries.
pub(crate) fn data_hash<D: AsRef<[u8]>>(data: &[D]) -> [u8; 32] {
    let mut h = Sha256::new();
    for d in data {
        h.update(d.as_ref());
    }
    h.finalize().into()
}

fn push_tlv(out: &mut Vec<u8>, tag: u8, content: &[u8]) {
    out.push(tag);
    let len = content.len();
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes = (len as u64).to_be_bytes();
        let skip = bytes.iter().take_while(|b| **b == 0).count();
        out.push(0x80 | (8 - skip) as u8);
        out.extend_from_slice(&bytes[skip..]);
    }
    out.extend_from_slice(content);
}

/// The DER bytes Fabric hashes for a block header.
pub(crate) fn header_bytes(number: u64, previous_hash: &[u8], data_hash: &[u8]) -> Vec<u8> {
    let be = number.to_be_bytes();
    let start = be.iter().take_while(|b| **b == 0).count().min(7);
    let mut int = be[start..].to_vec();
    if int[0] & 0x80 != 0 {
        int.insert(0, 0);
    }
    let mut body = Vec::new();
    push_tlv(&mut body, 0x02, &int);
    push_tlv(&mut body, 0x04, previous_hash);
    push_tlv(&mut body, 0x04, data_hash);
    let mut out = Vec::new();
    push_tlv(&mut out, 0x30, &body);
    out
}

/// SHA-256 of [`header_bytes`].
pub(crate) fn header_hash(number: u64, previous_hash: &[u8], data_hash: &[u8]) -> [u8; 32] {
    Sha256::digest(header_bytes(number, previous_hash, data_hash)).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_bytes_are_fabrics_der() {
        // Block 0 of a genesis block: INTEGER 0, empty previous hash.
        let dh = [7u8; 32];
        let mut expected = vec![0x30, 2 + 3 + 2 + 34, 0x02, 0x01, 0x00, 0x04, 0x00, 0x04, 32];
        expected[1] = (expected.len() - 2 + 32) as u8;
        expected.extend_from_slice(&dh);
        assert_eq!(header_bytes(0, &[], &dh), expected);
        // 128 needs a leading zero to stay positive.
        assert_eq!(
            &header_bytes(128, &[], &[])[2..6],
            &[0x02, 0x02, 0x00, 0x80]
        );
        assert_eq!(
            &header_bytes(255 * 256, &[], &[])[2..7],
            &[0x02, 0x03, 0x00, 0xff, 0x00]
        );
        // Long-form lengths above 127 bytes.
        assert_eq!(
            &header_bytes(1, &[0; 200], &[])[..4],
            &[0x30, 0x81, 0xd0, 0x02]
        );
    }

    #[test]
    fn data_hash_covers_the_concatenation() {
        assert_eq!(
            data_hash(&[b"ab".to_vec(), b"c".to_vec()]),
            data_hash(&[b"abc".to_vec()])
        );
    }
}
