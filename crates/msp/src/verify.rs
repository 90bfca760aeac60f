//! ECDSA P-256 / SHA-256 signature verification as Fabric performs it.
//!
//! Fabric (`bccsp/sw/ecdsa.go`) hashes the message with SHA-256, expects a DER
//! `ECDSA-Sig-Value` and rejects signatures whose S is above half the curve order, because
//! `(r, s)` and `(r, n − s)` are both valid and accepting both would make transaction bytes
//! malleable. This module enforces the same three rules and then lets `ring` check the maths.

use ring::signature::{UnparsedPublicKey, ECDSA_P256_SHA256_ASN1, ECDSA_P384_SHA256_ASN1};

use crate::error::{MspError, Result};

/// The order `n` of the P-256 group, big-endian.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// The order `n` of the P-384 group, big-endian.
const P384_ORDER: [u8; 48] = [
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xc7, 0x63, 0x4d, 0x81, 0xf4, 0x37, 0x2d, 0xdf,
    0x58, 0x1a, 0x0d, 0xb2, 0x48, 0xb0, 0xa7, 0x7a, 0xec, 0xec, 0x19, 0x6a, 0xcc, 0xc5, 0x29, 0x73,
];

/// The elliptic curves of the ECDSA keys Fabric identities use.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Curve {
    /// NIST P-256 (secp256r1): what cryptogen and fabric-ca issue by default.
    P256,
    /// NIST P-384 (secp384r1): accepted for verification (the Fabric Gateway clients can sign
    /// with it); Cambium itself signs with P-256 only.
    P384,
}

impl Curve {
    /// The curve of an uncompressed SEC1 public key, judged by its length.
    pub fn of_public_key(public_key: &[u8]) -> Option<Curve> {
        match (public_key.first(), public_key.len()) {
            (Some(4), 65) => Some(Curve::P256),
            (Some(4), 97) => Some(Curve::P384),
            _ => None,
        }
    }

    /// The group order, big-endian.
    fn order(self) -> &'static [u8] {
        match self {
            Curve::P256 => &P256_ORDER,
            Curve::P384 => &P384_ORDER,
        }
    }

    /// Bytes of a scalar on this curve.
    fn size(self) -> usize {
        self.order().len()
    }
}

/// The two integers of an ECDSA signature, each as big-endian bytes of the curve's size.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct RawSignature {
    pub(crate) r: Vec<u8>,
    pub(crate) s: Vec<u8>,
}

/// Parses a strict DER `SEQUENCE { r INTEGER, s INTEGER }` with `0 < r, s < n`.
pub(crate) fn parse_der_signature(curve: Curve, sig: &[u8]) -> Result<RawSignature> {
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
    let (r, body) = read_integer(curve, body).map_err(|e| bad(&format!("r: {e}")))?;
    let (s, body) = read_integer(curve, body).map_err(|e| bad(&format!("s: {e}")))?;
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
    let mut out = Vec::with_capacity(3 + len);
    out.push(0x30);
    // At most 2 + 49 + 2 + 49 = 102 bytes (P-384), so one length byte suffices.
    if len >= 0x80 {
        out.push(0x81);
    }
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
pub(crate) fn is_low_s(curve: Curve, s: &[u8]) -> bool {
    // s <= n/2  ⇔  2s <= n (n is odd, so 2s == n cannot happen).
    let doubled = shl1(s);
    let mut order = vec![0u8];
    order.extend_from_slice(curve.order());
    doubled.as_slice() <= order.as_slice()
}

/// Rewrites a DER signature on `curve` so that S is low (`s := n − s` when `s > n/2`).
///
/// Both forms verify; Fabric accepts only the low one. The output is always minimal DER.
pub fn normalize_low_s(curve: Curve, sig: &[u8]) -> Result<Vec<u8>> {
    let mut raw = parse_der_signature(curve, sig)?;
    if is_low_s(curve, &raw.s) {
        return Ok(sig.to_vec());
    }
    raw.s = sub_from_order(curve, &raw.s);
    Ok(encode_der_signature(&raw))
}

/// Verifies a Fabric signature: ECDSA over SHA-256(`message`), DER, low-S.
///
/// `public_key` is the uncompressed SEC1 point (`04 ‖ X ‖ Y`) of a P-256 or P-384 key, as
/// carried in a certificate's `SubjectPublicKeyInfo`. (Fabric hashes with SHA-256 whatever the
/// curve, following the MSP's `SignatureHashFamily: SHA2`.)
///
/// Successful verifications are remembered in a bounded process-wide memo (see
/// [`crate::verified`]), so checking the same signature again is nearly free.
pub fn verify_signature(public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<()> {
    let memo_key = crate::verified::key(public_key, message, signature);
    if crate::verified::contains(&memo_key) {
        return Ok(());
    }
    verify_uncached(public_key, message, signature)?;
    crate::verified::insert(memo_key);
    Ok(())
}

/// [`verify_signature`] without the memo: always does the curve arithmetic.
pub fn verify_uncached(public_key: &[u8], message: &[u8], signature: &[u8]) -> Result<()> {
    let curve = Curve::of_public_key(public_key).ok_or_else(|| MspError::UnsupportedAlgorithm {
        what: "the signer's public key".to_owned(),
        found: format!(
            "a {}-byte key that is not an uncompressed P-256 or P-384 point",
            public_key.len()
        ),
    })?;
    let raw = parse_der_signature(curve, signature)?;
    if !is_low_s(curve, &raw.s) {
        return Err(MspError::HighS);
    }
    let alg = match curve {
        Curve::P256 => &ECDSA_P256_SHA256_ASN1,
        Curve::P384 => &ECDSA_P384_SHA256_ASN1,
    };
    UnparsedPublicKey::new(alg, public_key)
        .verify(message, signature)
        .map_err(|_| MspError::InvalidSignature {
            context: String::new(),
        })
}

/// `2·v` as big-endian bytes one longer than `v`.
fn shl1(v: &[u8]) -> Vec<u8> {
    let mut out = vec![0u8; v.len() + 1];
    let mut carry = 0u8;
    for i in (0..v.len()).rev() {
        out[i + 1] = v[i] << 1 | carry;
        carry = v[i] >> 7;
    }
    out[0] = carry;
    out
}

/// `n − s` for `0 < s < n`.
pub(crate) fn sub_from_order(curve: Curve, s: &[u8]) -> Vec<u8> {
    let order = curve.order();
    let mut out = vec![0u8; order.len()];
    let mut borrow = 0i16;
    for i in (0..order.len()).rev() {
        let mut d = i16::from(order[i]) - i16::from(s[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    out
}

/// Minimal DER INTEGER content for a positive big-endian value.
fn integer_bytes(v: &[u8]) -> Vec<u8> {
    let first = v.iter().position(|&b| b != 0).unwrap_or(v.len() - 1);
    let trimmed = &v[first..];
    let mut out = Vec::with_capacity(trimmed.len() + 1);
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

/// Reads a DER INTEGER in `1..n` into big-endian bytes of the curve's size.
fn read_integer(curve: Curve, input: &[u8]) -> std::result::Result<(Vec<u8>, &[u8]), String> {
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
    let size = curve.size();
    if digits.len() > size {
        return Err("INTEGER larger than the curve order".to_owned());
    }
    let mut out = vec![0u8; size];
    out[size - digits.len()..].copy_from_slice(digits);
    if out.iter().all(|&b| b == 0) {
        return Err("zero INTEGER".to_owned());
    }
    if out.as_slice() >= curve.order() {
        return Err("INTEGER not below the curve order".to_owned());
    }
    Ok((out, rest))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_memo_never_accepts_what_verification_rejects() {
        let (key, _) = crate::PrivateKey::generate().unwrap();
        let msg = b"memoized message".to_vec();
        let sig = key.sign(&msg).unwrap();
        // Signing recorded the triple; the memoized check agrees with the real one.
        verify_signature(key.public_key(), &msg, &sig).unwrap();
        verify_uncached(key.public_key(), &msg, &sig).unwrap();
        // Another message, the high-S twin and a flipped byte are all still checked for real.
        assert!(verify_signature(key.public_key(), b"other message", &sig).is_err());
        let mut raw = parse_der_signature(Curve::P256, &sig).unwrap();
        raw.s = sub_from_order(Curve::P256, &raw.s);
        let high = encode_der_signature(&raw);
        assert!(matches!(
            verify_signature(key.public_key(), &msg, &high),
            Err(MspError::HighS)
        ));
        let mut flipped = sig.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(verify_signature(key.public_key(), &msg, &flipped).is_err());
        let (other, _) = crate::PrivateKey::generate().unwrap();
        assert!(verify_signature(other.public_key(), &msg, &sig).is_err());
    }

    fn sig_with(r: &[u8], s: &[u8]) -> Vec<u8> {
        encode_der_signature(&RawSignature {
            r: r.to_vec(),
            s: s.to_vec(),
        })
    }

    /// n/2 rounded down, the largest low S.
    fn half_order(curve: Curve) -> Vec<u8> {
        let order = curve.order();
        let mut out = vec![0u8; order.len()];
        let mut carry = 0u8;
        for i in 0..order.len() {
            out[i] = carry << 7 | order[i] >> 1;
            carry = order[i] & 1;
        }
        out
    }

    fn add_small(v: &[u8], k: u8) -> Vec<u8> {
        let mut out = v.to_vec();
        let mut carry = u16::from(k);
        for b in out.iter_mut().rev() {
            let sum = u16::from(*b) + carry;
            *b = sum as u8;
            carry = sum >> 8;
        }
        out
    }

    #[test]
    fn encode_parse_round_trip_keeps_values() {
        let mut r = [0u8; 32];
        r[31] = 5;
        let mut s = [0x80u8; 32];
        s[0] = 0x92;
        let der = sig_with(&r, &s);
        assert_eq!(
            der,
            [
                &[0x30, 0x26, 0x02, 0x01, 0x05, 0x02, 0x21, 0x00][..],
                &s[..]
            ]
            .concat()
        );
        assert_eq!(
            parse_der_signature(Curve::P256, &der).unwrap(),
            RawSignature {
                r: r.to_vec(),
                s: s.to_vec()
            }
        );
        // The longest P-384 signature (102 content bytes) still fits the short length form.
        let big = [0xf0u8; 48];
        let der = sig_with(&big, &big);
        assert_eq!(&der[..3], &[0x30, 0x66, 0x02]);
        assert_eq!(
            parse_der_signature(Curve::P384, &der).unwrap().s,
            big.to_vec()
        );
    }

    #[test]
    fn half_order_is_low_and_one_more_is_high() {
        for curve in [Curve::P256, Curve::P384] {
            let half = half_order(curve);
            assert!(is_low_s(curve, &half));
            assert!(!is_low_s(curve, &add_small(&half, 1)));
        }
        assert_eq!(
            half_order(Curve::P256),
            hex::decode("7fffffff800000007fffffffffffffffde737d56d38bcf4279dce5617e3192a8")
                .unwrap()
        );
    }

    #[test]
    fn normalizing_flips_high_s_and_keeps_low_s() {
        for curve in [Curve::P256, Curve::P384] {
            let r = vec![1u8; curve.size()];
            let high = add_small(&half_order(curve), 7);
            let normalized = normalize_low_s(curve, &sig_with(&r, &high)).unwrap();
            let parsed = parse_der_signature(curve, &normalized).unwrap();
            assert!(is_low_s(curve, &parsed.s));
            assert_eq!(
                sub_from_order(curve, &parsed.s),
                high,
                "n - (n - s) must give s back"
            );
            let low = sig_with(&r, &vec![2u8; curve.size()]);
            assert_eq!(normalize_low_s(curve, &low).unwrap(), low);
        }
    }

    #[test]
    fn non_der_encodings_are_rejected_with_a_reason() {
        let good = sig_with(&[1u8; 32], &[2u8; 32]);
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
            (
                sig_with(&[1u8; 32], &P256_ORDER),
                "not below the curve order",
            ),
        ];
        for (bytes, expected) in cases {
            let err = parse_der_signature(Curve::P256, &bytes)
                .unwrap_err()
                .to_string();
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
        let mut raw = parse_der_signature(Curve::P256, &sig).unwrap();
        raw.s = sub_from_order(Curve::P256, &raw.s);
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
        assert_eq!(normalize_low_s(Curve::P256, &twin).unwrap(), sig);
    }

    #[test]
    fn p384_signatures_over_sha256_verify() {
        // RFC 6979 appendix A.2.6: P-384, SHA-256, message "sample". Its S is high, as about
        // half of all deterministic signatures are, so Fabric needs the low twin.
        let key = hex::decode(concat!(
            "04",
            "ec3a4e415b4e19a4568618029f427fa5da9a8bc4ae92e02e06aae5286b300c64def8f0ea9055866064a254515480bc13",
            "8015d9b72d7d57244ea8ef9ac0c621896708a59367f9dfb9f54ca84b3f1c9db1288b231c3ae0d4fe7344fd2533264720"
        ))
        .unwrap();
        let r = hex::decode("21b13d1e013c7fa1392d03c5f99af8b30c570c6f98d4ea8e354b63a21d3daa33bde1e888e63355d92fa2b3c36d8fb2cd").unwrap();
        let s = hex::decode("f3aa443fb107745bf4bd77cb3891674632068a10ca67e3d45db2266fa7d1feebefdc63eccd1ac42ec0cb8668a4fa0ab0").unwrap();
        let high = sig_with(&r, &s);
        UnparsedPublicKey::new(&ECDSA_P384_SHA256_ASN1, &key)
            .verify(b"sample", &high)
            .unwrap();
        assert!(matches!(
            verify_signature(&key, b"sample", &high),
            Err(MspError::HighS)
        ));
        let low = normalize_low_s(Curve::P384, &high).unwrap();
        verify_signature(&key, b"sample", &low).unwrap();
        assert!(matches!(
            verify_signature(&key, b"sampl3", &low),
            Err(MspError::InvalidSignature { .. })
        ));
    }

    #[test]
    fn verify_rejects_high_s_before_checking_the_maths() {
        let high = add_small(&half_order(Curve::P256), 0x40);
        let mut key = [4u8; 65];
        key[1] = 9;
        let err = verify_signature(&key, b"m", &sig_with(&[1u8; 32], &high)).unwrap_err();
        assert_eq!(
            err.to_string(),
            "signature has a high S value; Fabric requires low-S signatures: re-sign with a Fabric-compatible signer"
        );
    }

    #[test]
    fn keys_of_other_sizes_are_refused() {
        let err =
            verify_signature(&[4u8; 33], b"m", &sig_with(&[1u8; 32], &[1u8; 32])).unwrap_err();
        assert!(err.to_string().contains("33-byte key"), "{err}");
    }
}
