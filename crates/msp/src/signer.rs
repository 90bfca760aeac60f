//! ECDSA P-256 private keys and Fabric-compatible signing.
//!
//! A signature is ECDSA over SHA-256(message), DER-encoded, and always low-S (Fabric rejects
//! the high-S twin of a signature, see [`crate::verify`]). Keys are read from PEM: PKCS#8
//! `PRIVATE KEY` (what Fabric's cryptogen and CA write, keystore file `priv_sk`) or SEC1
//! `EC PRIVATE KEY` (what `openssl ecparam -genkey` writes).

use ring::rand::SystemRandom;
use ring::signature::{EcdsaKeyPair, KeyPair, ECDSA_P256_SHA256_ASN1_SIGNING};

use crate::error::{MspError, Result};
use crate::verify::{normalize_low_s, Curve};

/// DER of the `AlgorithmIdentifier { id-ecPublicKey, prime256v1 }` used in PKCS#8.
const EC_P256_ALGORITHM_ID: [u8; 21] = [
    0x30, 0x13, 0x06, 0x07, 0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01, 0x06, 0x08, 0x2a, 0x86, 0x48,
    0xce, 0x3d, 0x03, 0x01, 0x07,
];

/// An ECDSA P-256 private key that signs the way Fabric does.
pub struct PrivateKey {
    pair: EcdsaKeyPair,
    rng: SystemRandom,
}

impl std::fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never print key material.
        f.debug_struct("PrivateKey")
            .field("public_key", &hex::encode(self.public_key()))
            .finish_non_exhaustive()
    }
}

impl PrivateKey {
    /// Reads a PEM private key whose encoding carries its public key (every PKCS#8 key written
    /// by Fabric tools, OpenSSL and rcgen does). `what` names the source in errors.
    pub fn from_pem(pem: &[u8], what: &str) -> Result<PrivateKey> {
        let pkcs8 = pem_to_pkcs8(pem, what)?;
        let rng = SystemRandom::new();
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &rng)
            .map_err(|e| MspError::BadPrivateKey {
                what: what.to_owned(),
                reason: e.to_string(),
            })?;
        Ok(PrivateKey { pair, rng })
    }

    /// Reads a PEM private key that must belong to a certificate whose public key (uncompressed
    /// SEC1 point) is `cert_public_key`; `subject` names the certificate in the mismatch error.
    ///
    /// Keys that omit their public key are completed from the certificate, and ring checks that
    /// the two halves agree.
    pub fn from_pem_for_certificate(
        pem: &[u8],
        what: &str,
        cert_public_key: &[u8],
        subject: &str,
    ) -> Result<PrivateKey> {
        let pkcs8 = pem_to_pkcs8(pem, what)?;
        let rng = SystemRandom::new();
        let mismatch = || MspError::KeyMismatch {
            subject: subject.to_owned(),
        };
        match EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &pkcs8, &rng) {
            Ok(pair) => {
                if pair.public_key().as_ref() != cert_public_key {
                    return Err(mismatch());
                }
                Ok(PrivateKey { pair, rng })
            }
            Err(first) => {
                let scalar = private_scalar(&pkcs8).ok_or_else(|| MspError::BadPrivateKey {
                    what: what.to_owned(),
                    reason: first.to_string(),
                })?;
                let pair = EcdsaKeyPair::from_private_key_and_public_key(
                    &ECDSA_P256_SHA256_ASN1_SIGNING,
                    scalar,
                    cert_public_key,
                    &rng,
                )
                .map_err(|_| mismatch())?;
                Ok(PrivateKey { pair, rng })
            }
        }
    }

    /// Generates a fresh key; returns it with its PKCS#8 DER encoding (to store as
    /// `-----BEGIN PRIVATE KEY-----`).
    pub fn generate() -> Result<(PrivateKey, Vec<u8>)> {
        let rng = SystemRandom::new();
        let doc = EcdsaKeyPair::generate_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, &rng)
            .map_err(|_| MspError::Rng)?;
        let pair = EcdsaKeyPair::from_pkcs8(&ECDSA_P256_SHA256_ASN1_SIGNING, doc.as_ref(), &rng)
            .map_err(|e| MspError::BadPrivateKey {
                what: "a freshly generated key".to_owned(),
                reason: e.to_string(),
            })?;
        Ok((PrivateKey { pair, rng }, doc.as_ref().to_vec()))
    }

    /// The public key as an uncompressed SEC1 point (`04 ‖ X ‖ Y`).
    pub fn public_key(&self) -> &[u8] {
        self.pair.public_key().as_ref()
    }

    /// Signs `message`: ECDSA P-256 over SHA-256(message), DER, low-S.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        let sig = self.sign_unrecorded(message)?;
        // A signature made with this key is valid for it: later checks of it in this
        // process (an endorsement validated by the committing peer) skip the arithmetic.
        crate::verified::insert(crate::verified::key(self.public_key(), message, &sig));
        Ok(sig)
    }

    /// [`PrivateKey::sign`] without recording the signature in the memo of verified
    /// signatures.
    pub fn sign_unrecorded(&self, message: &[u8]) -> Result<Vec<u8>> {
        let sig = self
            .pair
            .sign(&self.rng, message)
            .map_err(|_| MspError::Rng)?;
        normalize_low_s(Curve::P256, sig.as_ref())
    }
}

/// `len` bytes from the operating system's secure random source: nonces for signature
/// headers and transaction IDs.
pub fn random_bytes(len: usize) -> Result<Vec<u8>> {
    let mut out = vec![0u8; len];
    ring::rand::SecureRandom::fill(&SystemRandom::new(), &mut out).map_err(|_| MspError::Rng)?;
    Ok(out)
}

/// Decodes a PEM private key into PKCS#8 DER, wrapping SEC1 keys.
fn pem_to_pkcs8(pem: &[u8], what: &str) -> Result<Vec<u8>> {
    let block = crate::identity::decode_pem(pem, what, "PRIVATE KEY")?;
    match block.label.as_str() {
        "PRIVATE KEY" => Ok(block.contents),
        "EC PRIVATE KEY" => Ok(sec1_to_pkcs8(&block.contents)),
        other => Err(MspError::MalformedPem {
            what: what.to_owned(),
            reason: format!("found a '{other}' block"),
            expected: "PRIVATE KEY",
        }),
    }
}

/// Wraps a SEC1 `ECPrivateKey` in a PKCS#8 v1 `PrivateKeyInfo` for P-256.
fn sec1_to_pkcs8(sec1: &[u8]) -> Vec<u8> {
    let mut body = vec![0x02, 0x01, 0x00];
    body.extend_from_slice(&EC_P256_ALGORITHM_ID);
    body.push(0x04);
    push_len(&mut body, sec1.len());
    body.extend_from_slice(sec1);
    let mut out = vec![0x30];
    push_len(&mut out, body.len());
    out.extend_from_slice(&body);
    out
}

fn push_len(out: &mut Vec<u8>, len: usize) {
    if len < 0x80 {
        out.push(len as u8);
    } else if len < 0x100 {
        out.extend_from_slice(&[0x81, len as u8]);
    } else {
        out.extend_from_slice(&[0x82, (len >> 8) as u8, len as u8]);
    }
}

/// The 32-byte private scalar inside a PKCS#8-wrapped `ECPrivateKey`, if the structure is sound.
fn private_scalar(pkcs8: &[u8]) -> Option<&[u8]> {
    let (info, _) = tlv(pkcs8, 0x30)?;
    let (_version, rest) = tlv(info, 0x02)?;
    let (_alg, rest) = tlv(rest, 0x30)?;
    let (ec_key, _) = tlv(rest, 0x04)?;
    let (ec_seq, _) = tlv(ec_key, 0x30)?;
    let (_v, rest) = tlv(ec_seq, 0x02)?;
    let (scalar, _) = tlv(rest, 0x04)?;
    (scalar.len() == 32).then_some(scalar)
}

/// One DER TLV with the given tag: (content, rest).
fn tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
    let (&t, rest) = input.split_first()?;
    if t != tag {
        return None;
    }
    let (&l, rest) = rest.split_first()?;
    let (len, rest) = match l {
        0..=0x7f => (usize::from(l), rest),
        0x81 => (usize::from(*rest.first()?), &rest[1..]),
        0x82 => (
            usize::from(*rest.first()?) << 8 | usize::from(*rest.get(1)?),
            &rest[2..],
        ),
        _ => return None,
    };
    (rest.len() >= len).then(|| rest.split_at(len))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::verify::{parse_der_signature, verify_signature};

    fn pem(label: &str, der: &[u8]) -> Vec<u8> {
        use std::fmt::Write;
        let b64 = base64_encode(der);
        let mut s = format!("-----BEGIN {label}-----\n");
        for chunk in b64.as_bytes().chunks(64) {
            writeln!(s, "{}", std::str::from_utf8(chunk).unwrap()).unwrap();
        }
        writeln!(s, "-----END {label}-----").unwrap();
        s.into_bytes()
    }

    fn base64_encode(data: &[u8]) -> String {
        const A: &[u8; 64] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
        let mut out = String::new();
        for chunk in data.chunks(3) {
            let b = [
                chunk[0],
                *chunk.get(1).unwrap_or(&0),
                *chunk.get(2).unwrap_or(&0),
            ];
            let n = u32::from(b[0]) << 16 | u32::from(b[1]) << 8 | u32::from(b[2]);
            for i in 0..4 {
                if i <= chunk.len() {
                    out.push(A[(n >> (18 - 6 * i) & 63) as usize] as char);
                } else {
                    out.push('=');
                }
            }
        }
        out
    }

    #[test]
    fn signatures_are_low_s_der_and_verify() {
        let (key, _) = PrivateKey::generate().unwrap();
        // ring picks a random nonce, so about half of raw signatures are high-S; 40 tries make
        // it practically certain that normalisation was exercised.
        for i in 0..40u8 {
            let msg = [i; 100];
            let sig = key.sign(&msg).unwrap();
            let raw = parse_der_signature(Curve::P256, &sig).unwrap();
            assert!(crate::verify::is_low_s(Curve::P256, &raw.s));
            verify_signature(key.public_key(), &msg, &sig).unwrap();
        }
    }

    #[test]
    fn pkcs8_and_sec1_pem_keys_load() {
        let (key, pkcs8) = PrivateKey::generate().unwrap();
        let from_pkcs8 = PrivateKey::from_pem(&pem("PRIVATE KEY", &pkcs8), "k").unwrap();
        assert_eq!(from_pkcs8.public_key(), key.public_key());
        // Extract the SEC1 ECPrivateKey from the PKCS#8 wrapper and load it as `EC PRIVATE KEY`.
        let (info, _) = tlv(&pkcs8, 0x30).unwrap();
        let (_, rest) = tlv(info, 0x02).unwrap();
        let (_, rest) = tlv(rest, 0x30).unwrap();
        let (sec1, _) = tlv(rest, 0x04).unwrap();
        let from_sec1 = PrivateKey::from_pem(&pem("EC PRIVATE KEY", sec1), "k").unwrap();
        assert_eq!(from_sec1.public_key(), key.public_key());
    }

    #[test]
    fn key_without_public_part_is_completed_from_the_certificate_and_checked() {
        let (key, pkcs8) = PrivateKey::generate().unwrap();
        let scalar = private_scalar(&pkcs8).unwrap().to_vec();
        // SEC1 with only version and scalar.
        let sec1 = [&[0x30, 0x25, 0x02, 0x01, 0x01, 0x04, 0x20][..], &scalar].concat();
        let pem = pem("EC PRIVATE KEY", &sec1);
        assert!(PrivateKey::from_pem(&pem, "k").is_err());
        let ok = PrivateKey::from_pem_for_certificate(&pem, "k", key.public_key(), "CN=a").unwrap();
        assert_eq!(ok.public_key(), key.public_key());
        let (other, _) = PrivateKey::generate().unwrap();
        let err = PrivateKey::from_pem_for_certificate(&pem, "k", other.public_key(), "CN=a")
            .unwrap_err();
        assert!(
            err.to_string()
                .starts_with("private key does not match certificate 'CN=a'"),
            "{err}"
        );
    }

    #[test]
    fn wrong_pem_label_is_explained() {
        let err = PrivateKey::from_pem(&pem("CERTIFICATE", &[1, 2, 3]), "keystore/priv_sk")
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("keystore/priv_sk") && err.contains("'CERTIFICATE'"),
            "{err}"
        );
    }
}
