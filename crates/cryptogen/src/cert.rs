//! Keys and certificates: ECDSA P-256 keys, self-signed CAs and the leaf certificates they issue.
//!
//! Certificates are built with rcgen. Signatures are made with ring and normalised to low-S, as
//! cryptogen's signer does, because Fabric treats high-S ECDSA signatures as malleable. Key
//! identifiers follow cryptogen too: SHA-256 of the uncompressed public point.

use std::net::IpAddr;

use rcgen::{
    BasicConstraints, CertificateParams, DistinguishedName, DnType, ExtendedKeyUsagePurpose, IsCa,
    KeyIdMethod, KeyPair, KeyUsagePurpose, PublicKeyData, SanType, SerialNumber,
    SignatureAlgorithm, SigningKey, PKCS_ECDSA_P256_SHA256,
};
use ring::rand::{SecureRandom, SystemRandom};
use ring::signature::{EcdsaKeyPair, ECDSA_P256_SHA256_FIXED_SIGNING};
use time::{Duration, OffsetDateTime};

use crate::error::{CryptogenError, Result};
use crate::plan::SubjectFields;

/// How long certificates are valid: 3650 days, like cryptogen.
pub(crate) const VALIDITY_DAYS: i64 = 3650;

/// The order n of the P-256 group, big-endian.
const P256_ORDER: [u8; 32] = [
    0xff, 0xff, 0xff, 0xff, 0x00, 0x00, 0x00, 0x00, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff, 0xff,
    0xbc, 0xe6, 0xfa, 0xad, 0xa7, 0x17, 0x9e, 0x84, 0xf3, 0xb9, 0xca, 0xc2, 0xfc, 0x63, 0x25, 0x51,
];

/// `streetAddress` (2.5.4.9), which rcgen has no named type for.
const OID_STREET_ADDRESS: [u64; 4] = [2, 5, 4, 9];
/// `postalCode` (2.5.4.17).
const OID_POSTAL_CODE: [u64; 4] = [2, 5, 4, 17];
/// `organizationalUnitName` (2.5.4.11). rcgen keeps one value per attribute type, so the NodeOU
/// goes in under this spelling of the OU type when the CA config also sets an OU; both are OUs.
const OID_ORGANIZATIONAL_UNIT: [u64; 4] = [2, 5, 4, 11];

/// The validity window shared by every certificate of one generation run.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Validity {
    not_before: OffsetDateTime,
    not_after: OffsetDateTime,
}

impl Validity {
    /// From five minutes ago (rounded down to the minute, against clock skew) for ten years.
    pub(crate) fn from_now() -> Self {
        let now = OffsetDateTime::now_utc();
        let minute = now
            .replace_second(0)
            .unwrap_or(now)
            .replace_nanosecond(0)
            .unwrap_or(now);
        let not_before = minute - Duration::minutes(5);
        Self {
            not_before,
            not_after: not_before + Duration::days(VALIDITY_DAYS),
        }
    }
}

/// An ECDSA P-256 private key that signs certificates with low-S signatures.
pub(crate) struct P256Key {
    /// rcgen's view of the key: public key bytes and PKCS#8 PEM export.
    key_pair: KeyPair,
    /// ring's signer for the same PKCS#8 document, with fixed-size (r, s) output.
    signer: EcdsaKeyPair,
    rng: SystemRandom,
}

impl P256Key {
    /// A fresh random key.
    pub(crate) fn generate() -> Result<Self> {
        let key_pair =
            KeyPair::generate_for(&PKCS_ECDSA_P256_SHA256).map_err(|_| CryptogenError::Crypto {
                action: "generate an ECDSA P-256 key",
            })?;
        let rng = SystemRandom::new();
        let signer = EcdsaKeyPair::from_pkcs8(
            &ECDSA_P256_SHA256_FIXED_SIGNING,
            key_pair.serialized_der(),
            &rng,
        )
        .map_err(|_| CryptogenError::Crypto {
            action: "load a generated ECDSA P-256 key",
        })?;
        Ok(Self {
            key_pair,
            signer,
            rng,
        })
    }

    /// The private key as PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`), as Fabric's keystore expects.
    pub(crate) fn pkcs8_pem(&self) -> String {
        self.key_pair.serialize_pem()
    }

    /// Subject key identifier: SHA-256 of the uncompressed public point (cryptogen's choice).
    fn key_id(&self) -> Vec<u8> {
        ring::digest::digest(&ring::digest::SHA256, self.key_pair.public_key_raw())
            .as_ref()
            .to_vec()
    }
}

impl PublicKeyData for P256Key {
    fn der_bytes(&self) -> &[u8] {
        self.key_pair.public_key_raw()
    }

    fn algorithm(&self) -> &'static SignatureAlgorithm {
        &PKCS_ECDSA_P256_SHA256
    }
}

impl SigningKey for P256Key {
    fn sign(&self, msg: &[u8]) -> std::result::Result<Vec<u8>, rcgen::Error> {
        let sig = self
            .signer
            .sign(&self.rng, msg)
            .map_err(|_| rcgen::Error::RingUnspecified)?;
        let (r, s) = sig.as_ref().split_at(32);
        let s = low_s(s.try_into().map_err(|_| rcgen::Error::RingUnspecified)?);
        Ok(yasna::construct_der(|writer| {
            writer.write_sequence(|writer| {
                writer.next().write_bigint_bytes(r, true);
                writer.next().write_bigint_bytes(&s, true);
            })
        }))
    }
}

/// Returns `s` if it is at most n/2, else `n - s` (both big-endian, 32 bytes).
fn low_s(s: &[u8; 32]) -> [u8; 32] {
    // n is odd, so s > n/2 exactly when 2s > n, i.e. when s > n - s.
    let neg = sub_be(&P256_ORDER, s);
    if s.as_slice() > neg.as_slice() {
        neg
    } else {
        *s
    }
}

/// `a - b` for big-endian 256-bit numbers with `a >= b`.
fn sub_be(a: &[u8; 32], b: &[u8; 32]) -> [u8; 32] {
    let mut out = [0u8; 32];
    let mut borrow = 0i16;
    for i in (0..32).rev() {
        let mut d = i16::from(a[i]) - i16::from(b[i]) - borrow;
        borrow = i16::from(d < 0);
        if d < 0 {
            d += 256;
        }
        out[i] = d as u8;
    }
    out
}

/// A CA: its key and the parameters it signs with.
pub(crate) struct Ca {
    pub(crate) key: P256Key,
    params: CertificateParams,
    /// The self-signed certificate, PEM.
    pub(crate) cert_pem: String,
}

/// What a leaf certificate is for.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum LeafKind {
    /// An MSP signing certificate: digitalSignature only.
    Signing,
    /// A TLS certificate: digitalSignature and keyEncipherment, serverAuth and clientAuth.
    Tls,
}

/// Creates a self-signed CA whose subject is `subject` + `O=<org_domain>` + `CN=<common_name>`.
pub(crate) fn new_ca(
    common_name: &str,
    org_domain: &str,
    subject: &SubjectFields,
    sans: &[String],
    validity: Validity,
) -> Result<Ca> {
    let key = P256Key::generate()?;
    let mut params = base_params(validity)?;
    params.distinguished_name = distinguished_name(subject, Some(org_domain), None, common_name);
    params.subject_alt_names = san_types(common_name, sans)?;
    params.is_ca = IsCa::Ca(BasicConstraints::Unconstrained);
    params.key_usages = vec![
        KeyUsagePurpose::DigitalSignature,
        KeyUsagePurpose::KeyEncipherment,
        KeyUsagePurpose::KeyCertSign,
        KeyUsagePurpose::CrlSign,
    ];
    params.extended_key_usages = vec![
        ExtendedKeyUsagePurpose::ClientAuth,
        ExtendedKeyUsagePurpose::ServerAuth,
    ];
    params.key_identifier_method = KeyIdMethod::PreSpecified(key.key_id());
    let cert = params
        .self_signed(&key)
        .map_err(|source| CryptogenError::Certificate {
            subject: common_name.to_owned(),
            source,
        })?;
    Ok(Ca {
        cert_pem: cert.pem(),
        key,
        params,
    })
}

/// Issues a certificate for a fresh key; returns the key and the certificate PEM.
///
/// The subject is the CA's subject fields (without O, as cryptogen does), the NodeOU when given,
/// and `CN=<common_name>`.
pub(crate) fn issue(
    ca: &Ca,
    subject: &SubjectFields,
    common_name: &str,
    node_ou: Option<&str>,
    kind: LeafKind,
    sans: &[String],
    validity: Validity,
) -> Result<(P256Key, String)> {
    let key = P256Key::generate()?;
    let mut params = base_params(validity)?;
    params.distinguished_name = distinguished_name(subject, None, node_ou, common_name);
    params.is_ca = IsCa::ExplicitNoCa;
    params.use_authority_key_identifier_extension = true;
    params.key_identifier_method = KeyIdMethod::PreSpecified(key.key_id());
    match kind {
        LeafKind::Signing => params.key_usages = vec![KeyUsagePurpose::DigitalSignature],
        LeafKind::Tls => {
            params.key_usages = vec![
                KeyUsagePurpose::DigitalSignature,
                KeyUsagePurpose::KeyEncipherment,
            ];
            params.extended_key_usages = vec![
                ExtendedKeyUsagePurpose::ServerAuth,
                ExtendedKeyUsagePurpose::ClientAuth,
            ];
            params.subject_alt_names = san_types(common_name, sans)?;
        }
    }
    let issuer = rcgen::Issuer::from_params(&ca.params, &ca.key);
    let cert = params
        .signed_by(&key, &issuer)
        .map_err(|source| CryptogenError::Certificate {
            subject: common_name.to_owned(),
            source,
        })?;
    Ok((key, cert.pem()))
}

fn base_params(validity: Validity) -> Result<CertificateParams> {
    let mut params = CertificateParams::default();
    params.not_before = validity.not_before;
    params.not_after = validity.not_after;
    params.serial_number = Some(random_serial()?);
    Ok(params)
}

/// A random positive serial number of up to 128 bits, like cryptogen's.
fn random_serial() -> Result<SerialNumber> {
    let mut bytes = [0u8; 16];
    SystemRandom::new()
        .fill(&mut bytes)
        .map_err(|_| CryptogenError::Crypto {
            action: "draw a random certificate serial number",
        })?;
    bytes[0] &= 0x7f;
    // A zero serial is not allowed by RFC 5280; the chance is 2^-127, but keep it correct.
    if bytes.iter().all(|b| *b == 0) {
        bytes[15] = 1;
    }
    Ok(SerialNumber::from_slice(&bytes))
}

/// Builds a subject in the order Go's `pkix.Name` writes it: C, ST, L, street, postal code, O, OU, CN.
fn distinguished_name(
    subject: &SubjectFields,
    organization: Option<&str>,
    node_ou: Option<&str>,
    common_name: &str,
) -> DistinguishedName {
    let mut dn = DistinguishedName::new();
    dn.push(DnType::CountryName, subject.country.as_str());
    dn.push(DnType::StateOrProvinceName, subject.province.as_str());
    dn.push(DnType::LocalityName, subject.locality.as_str());
    if let Some(street) = &subject.street_address {
        dn.push(
            DnType::CustomDnType(OID_STREET_ADDRESS.to_vec()),
            street.as_str(),
        );
    }
    if let Some(postal) = &subject.postal_code {
        dn.push(
            DnType::CustomDnType(OID_POSTAL_CODE.to_vec()),
            postal.as_str(),
        );
    }
    if let Some(org) = organization {
        dn.push(DnType::OrganizationName, org);
    }
    if let Some(ou) = &subject.organizational_unit {
        dn.push(DnType::OrganizationalUnitName, ou.as_str());
    }
    if let Some(ou) = node_ou {
        dn.push(DnType::CustomDnType(OID_ORGANIZATIONAL_UNIT.to_vec()), ou);
    }
    dn.push(DnType::CommonName, common_name);
    dn
}

fn san_types(common_name: &str, sans: &[String]) -> Result<Vec<SanType>> {
    sans.iter()
        .map(|san| match san.parse::<IpAddr>() {
            Ok(ip) => Ok(SanType::IpAddress(ip)),
            Err(_) => san
                .as_str()
                .try_into()
                .map(SanType::DnsName)
                .map_err(|source| CryptogenError::Certificate {
                    subject: common_name.to_owned(),
                    source,
                }),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn be(n: u64) -> [u8; 32] {
        let mut out = [0u8; 32];
        out[24..].copy_from_slice(&n.to_be_bytes());
        out
    }

    #[test]
    fn low_s_keeps_small_and_flips_large() {
        assert_eq!(low_s(&be(5)), be(5));
        let half = {
            // n/2 rounded down: shift right by one bit.
            let mut out = [0u8; 32];
            let mut carry = 0u8;
            for (i, byte) in P256_ORDER.iter().enumerate() {
                out[i] = (byte >> 1) | (carry << 7);
                carry = byte & 1;
            }
            out
        };
        assert_eq!(low_s(&half), half);
        let above = sub_be(&P256_ORDER, &be(5));
        assert_eq!(low_s(&above), be(5));
        let just_above_half = sub_be(&P256_ORDER, &half);
        assert_eq!(low_s(&just_above_half), half);
    }

    #[test]
    fn signatures_are_low_s_der() {
        let key = P256Key::generate().unwrap();
        for i in 0..64u8 {
            let der = key.sign(&[i]).unwrap();
            // SEQUENCE { INTEGER r, INTEGER s }: find s as the second INTEGER.
            assert_eq!(der[0], 0x30);
            let r_len = usize::from(der[3]);
            let s_start = 4 + r_len;
            assert_eq!(der[s_start], 0x02);
            let s_len = usize::from(der[s_start + 1]);
            let s = &der[s_start + 2..s_start + 2 + s_len];
            let s = s.strip_prefix(&[0]).unwrap_or(s);
            let mut s32 = [0u8; 32];
            s32[32 - s.len()..].copy_from_slice(s);
            assert_eq!(low_s(&s32), s32, "signature {i} has a high S");
            // ring verifies the DER signature.
            let public = ring::signature::UnparsedPublicKey::new(
                &ring::signature::ECDSA_P256_SHA256_ASN1,
                key.der_bytes(),
            );
            public.verify(&[i], &der).unwrap();
        }
    }

    #[test]
    fn validity_is_ten_years_from_five_minutes_ago() {
        let v = Validity::from_now();
        let now = OffsetDateTime::now_utc();
        assert!(v.not_before <= now - Duration::minutes(4));
        assert!(v.not_before >= now - Duration::minutes(7));
        assert_eq!(v.not_after - v.not_before, Duration::days(3650));
        assert_eq!(v.not_before.second(), 0);
    }
}
