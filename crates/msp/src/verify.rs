//! ECDSA P-256 / SHA-256 signature verification as Fabric performs it.
//!
//! Fabric (`bccsp/sw/ecdsa.go`) hashes the message with SHA-256, expects a DER
//! `ECDSA-Sig-Value` and rejects signatures whose S is above half the curve order, because
//! `(r, s)` and `(r, n − s)` are both valid and accepting both would make transaction bytes
//! malleable. This module enforces the same three rules and then lets `ring` check the maths.

use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1};

use crate::error::{MspError, Result};

/// The order `n` of the P-256 group, big-endian.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `n / 2` (rounded down) for P-256: the largest S Fabric accepts.
const P256_HALF_ORDER: [u8; 32] = [
    0x7f, 0xff, 0xff, 0xff, 0x80, 0x00, 0x00, 0x00, 0x7f, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xde, 0x73, 0x7d, 0x56, 0xd3, 0x8b, 0xcf, 0x42, 0x79, 0xdc, 0xe5, 0x61, 0x7e, 0x31, 0x92, 0xa8,
];

/// The two integers of an ECDSA signature, each as 32 big-endian bytes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) struct RawSignature {
    pub(crate) r: [u8; 32],
    pub(crate) s: [u8; 32],
}

/// Parses a strict DER `SEQUENCE { r INTEGER, s INTEGER }` with `0 < r, s < n`.
pub(crate) fn parse_der_signature(sig: &[u8]) -> Result<RawSignature> {
    let bad = |reason: &str| MspError::NonDerSignature {
        reason: reason.to_owned(),
    };
    let (body, rest) = read_tlv(sig, 0x30).map_err(|e| bad(&format!("outer SEQUENCE: {e}")))?;
    if !rest.is_empty() {
        return Err(bad(&format!(
            "{} trailing bytes after the SEQUENCE",
            rest.len()
        )));
    }
    let (r, body) = read_integer(body).map_err(|e| bad(&format!("r: {e}")))?;
    let (s, body) = read_integer(body).map_err(|e| bad(&format!("s: {e}")))?;
    if !body.is_empty() {
        return Err(bad("extra data inside the SEQUENCE after s"));
    }
    Ok(RawSignature { r, s })
}

/// Encodes `(r, s)` as DER, the form Fabric puts on the wire.
pub(crate) fn encode_der_signature(sig: &RawSignature) -> Vec<u8> {
    let r = integer_bytes(&sig.r);
    let s = integer_bytes(&sig.s);
    let len = 2 + r.len() + 2 + s.len();
    let mut out = Vec::with_capacity(2 + len);
    out.push(0x30);
    // At most 2 + 33 + 2 + 33 = 70 bytes, so the short length form always applies.
    out.push(len as u8);
    out.push(0x02);
    out.push(r.len() as u8);
    out.extend_from_slice(&r);
    out.push(0x02);
    out.push(s.len() as u8);
    out.extend_from_slice(&s);
    out
}

/// Whether `s <= n/2`, Fabric's definition of a low-S signature.
pub(crate) fn is_low_s(s: &[u8; 32]) -> bool {
    s.as_slice() <= P256_HALF_ORDER.as_slice()
}

/// Rewrites a DER signature so that S is low (`s := n − s` when `s > n/2`).
///
/// Both forms verify; Fabric accepts only the low one.
pub fn normalize_low_s(sig: &[u8]) -> Result<Vec<u8>> {
    let mut raw = parse_der_signature(sig)?;
    if is_low_s(&raw.s) {
        return Ok(sig.to_vec());
    }
    raw.s = sub_from_order(&raw.s);
    Ok(encode_der_signature(&raw))
}

/// Verifies a Fabric signature: ECDSA P-256 over SHA-256(`message`), DER, low-S.
///
/// `public_key` is the uncompressed SEC1 point (`04 ‖ X ‖ Y`), as carried in a certificate's
/// `SubjectPublicKeyInfo`.
pub fn verify_signature(public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<()> {
    let raw = parse_der_signature(signature)?;
    if !is_low_s(&raw.s) {
        return Err(MspError::HighS);
    }
    UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, public_key)
        .verify(message, signature)
        .map_err(|_| MspError::InvalidSignature {
            context: String::new(),
        })
}

/// `n − s` for `0 < s < n`.
fn sub_from_order(s: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(P256_ORDER[i]) - i16::from(s[i]) - borrow;
        if d < 0 {
            d += 256;
            borrow = 1;
        } else {
            borrow = 0;
        }
        out[i] = d as u8;
    }
    out
}

/// Minimal DER INTEGER content for a positive 32-byte big-endian value.
fn integer_bytes(v: &[u8; 32]) -> Vec<u8> {
    let first = v.iter().position(|&b| b != 0).unwrap_or(31);
    let trimmed = &v[first..];
    let mut out = Vec::with_capacity(33);
    if trimmed[0] & 0x80 != 0 {
        out.push(0);
    }
    out.extend_from_slice(trimmed);
    out
}

/// Reads one DER TLV with the expected tag; returns (content, rest).
fn read_tlv(input: &[u8], tag: u8) -> std::result::Result<(&[u8], &[u8]), String> {
    let (&t, rest) = input.split_first().ok_or("missing")?;
    if t != tag {
        return Err(format!("expected tag 0x{tag:02x}, found 0x{t:02x}"));
    }
    let (&l, rest) = rest.split_first().ok_or("missing length")?;
    let (len, rest) = if l < 0x80 {
        (usize::from(l), rest)
    } else if l == 0x81 {
        let (&l2, rest) = rest.split_first().ok_or("missing length byte")?;
        if l2 < 0x80 {
            return Err("length not in minimal form".to_owned());
        }
        (usize::from(l2), rest)
    } else {
        return Err("length too long for an ECDSA signature".to_owned());
    };
    if rest.len() < len {
        return Err(format!("length {len} but only {} bytes follow", rest.len()));
    }
    Ok(rest.split_at(len))
}

/// Reads a DER INTEGER in `1..n` into 32 big-endian bytes.
fn read_integer(input: &[u8]) -> std::result::Result<([u8; 32], &[u8]), String> {
    let (content, rest) = read_tlv(input, 0x02)?;
    if content.is_empty() {
        return Err("empty INTEGER".to_owned());
    }
    if content[0] & 0x80 != 0 {
        return Err("negative INTEGER".to_owned());
    }
    if content.len() > 1 && content[0] == 0 && content[1] & 0x80 == 0 {
        return Err("INTEGER not in minimal form (leading zero)".to_owned());
    }
    let digits = if content[0] == 0 {
        &content[1..]
    } else {
        content
    };
    if digits.len() > 32 {
        return Err("INTEGER larger than the curve order".to_owned());
    }
    let mut out = [0u8; 32];
    out[32 - digits.len()..].copy_from_slice(digits);
    if out == [0u8; 32] {
        return Err("zero INTEGER".to_owned());
    }
    if out.as_slice() >= P256_ORDER.as_slice() {
        return Err("INTEGER not below the curve order".to_owned());
    }
    Ok((out, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn sig_with(r: [u8; 32], s: [u8; 32]) -> Vec<u8> {
        encode_der_signature(&RawSignature { r, s })
    }

    #[test]
    fn encode_parse_round_trip_keeps_values() {
        let mut r = [0u8; 32];
        r[31] = 5;
        let mut s = [0x80u8; 32];
        s[0] = 0x92;
        let der = sig_with(r, s);
        assert_eq!(
            der,
            [
                &[0x30, 0x26, 0x02, 0x01, 0x05, 0x02, 0x21, 0x00][..],
                &s[..]
            ]
            .concat()
        );
        assert_eq!(parse_der_signature(&der).unwrap(), RawSignature { r, s });
    }

    #[test]
    fn half_order_is_low_and_one_more_is_high() {
        assert!(is_low_s(&P256_HALF_ORDER));
        let mut above = P256_HALF_ORDER;
        above[31] += 1;
        assert!(!is_low_s(&above));
    }

    #[test]
    fn normalizing_flips_high_s_and_keeps_low_s() {
        let r = [1u8; 32];
        let mut high = P256_HALF_ORDER;
        high[31] += 7;
        let normalized = normalize_low_s(&sig_with(r, high)).unwrap();
        let parsed = parse_der_signature(&normalized).unwrap();
        assert!(is_low_s(&parsed.s));
        assert_eq!(
            sub_from_order(&parsed.s),
            high,
            "n - (n - s) must give s back"
        );
        let low = sig_with(r, [2u8; 32]);
        assert_eq!(normalize_low_s(&low).unwrap(), low);
    }

    #[test]
    fn non_der_encodings_are_rejected_with_a_reason() {
        let good = sig_with([1u8; 32], [2u8; 32]);
        let cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![], "outer SEQUENCE: missing"),
            ([good.clone(), vec![0]].concat(), "trailing bytes"),
            (
                vec![0x30, 0x06, 0x02, 0x01, 0x00, 0x02, 0x01, 0x01],
                "zero INTEGER",
            ),
            (
                vec![0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01],
                "leading zero",
            ),
            (
                vec![0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01],
                "negative",
            ),
            (
                vec![0x31, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
                "expected tag 0x30",
            ),
            (
                vec![0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
                "minimal form",
            ),
        ];
        for (bytes, expected) in cases {
            let err = parse_der_signature(&bytes).unwrap_err().to_string();
            assert!(err.contains(expected), "{bytes:02x?}: {err}");
            assert!(
                err.starts_with("signature is not a DER-encoded ECDSA signature"),
                "{err}"
            );
        }
    }

    #[test]
    fn the_high_s_twin_of_a_real_signature_is_valid_maths_but_refused() {
        let (key, _) = crate::signer::PrivateKey::generate().unwrap();
        let sig = key.sign(b"payload").unwrap();
        let mut raw = parse_der_signature(&sig).unwrap();
        raw.s = sub_from_order(&raw.s);
        let twin = encode_der_signature(&raw);
        // ring alone accepts both forms; Fabric (and so Cambium) accepts only the low one.
        UnparsedPublicKey::new(&ECDSA_P256_SHA256_ASN1, key.public_key())
            .verify(b"payload", &twin)
            .unwrap();
        assert!(matches!(
            verify_signature(key.public_key(), b"payload", &twin),
            Err(MspError::HighS)
        ));
        verify_signature(key.public_key(), b"payload", &sig).unwrap();
        assert_eq!(normalize_low_s(&twin).unwrap(), sig);
    }

    #[test]
    fn verify_rejects_high_s_before_checking_the_maths() {
        let mut high = P256_HALF_ORDER;
        high[0] = 0xf0;
        let err = verify_signature(&[4u8; 65], b"m", &sig_with([1u8; 32], high)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "signature has a high S value; Fabric requires low-S signatures: re-sign with a Fabric-compatible signer"
        );
    }
}
