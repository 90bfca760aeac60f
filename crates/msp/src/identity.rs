//! X.509 certificates, validated identities and signing identities.
//!
//! A [`Certificate`] is a parsed X.509 certificate with the fields Fabric's MSP looks at. An
//! [`Identity`] is a certificate that an [`crate::Msp`] has validated, with its MSP ID, roles and
//! organisational units; only an MSP can make one. A [`SigningIdentity`] is a certificate with its
//! private key, as loaded from an MSP folder's `signcerts/` and `keystore/`.

use std::sync::Arc;

use cambium_primitives::{MspRole, SerializedIdentity};
use ring::digest::{digest, SHA256};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::ParsedExtension;
use x509_parser::pem::Pem;
use x509_parser::prelude::FromDer;
use x509_parser::x509::X509Name;

use crate::error::{MspError, Result};
use crate::signer::PrivateKey;
use crate::verify::{
    encode_der_signature, normalize_low_s, parse_der_signature, verify_signature, Curve,
};

/// Content bytes of the OID `id-ecPublicKey` (1.2.840.10045.2.1).
const OID_EC_PUBLIC_KEY: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x02, 0x01];
/// Content bytes of the OID `prime256v1` (1.2.840.10045.3.1.7).
const OID_P256: &[u8] = &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x03, 0x01, 0x07];
/// Content bytes of the OID `secp384r1` (1.3.132.0.34).
const OID_P384: &[u8] = &[0x2b, 0x81, 0x04, 0x00, 0x22];

/// Decodes the first PEM block of `bytes` (text before it is skipped, as Go's `pem.Decode` does).
pub(crate) fn decode_pem(bytes: &[u8], what: &str, expected: &'static str) -> Result<Pem> {
    let malformed = |reason: String| MspError::MalformedPem {
        what: what.to_owned(),
        reason,
        expected,
    };
    let (_, pem) = x509_parser::pem::parse_x509_pem(bytes).map_err(|e| {
        malformed(match e {
            x509_parser::nom::Err::Error(e) | x509_parser::nom::Err::Failure(e) => e.to_string(),
            x509_parser::nom::Err::Incomplete(_) => "truncated input".to_owned(),
        })
    })?;
    Ok(pem)
}

/// Every PEM block of `bytes` with the given label, in file order.
pub(crate) fn decode_all_pem(
    bytes: &[u8],
    what: &str,
    label: &'static str,
) -> Result<Vec<Vec<u8>>> {
    let mut out = Vec::new();
    for block in Pem::iter_from_buffer(bytes) {
        let block = block.map_err(|e| MspError::MalformedPem {
            what: what.to_owned(),
            reason: e.to_string(),
            expected: label,
        })?;
        if block.label == label {
            out.push(block.contents);
        }
    }
    if out.is_empty() {
        return Err(MspError::MalformedPem {
            what: what.to_owned(),
            reason: format!("no '{label}' block found"),
            expected: label,
        });
    }
    Ok(out)
}

/// Formats a distinguished name the way Go's `pkix.Name.String()` does, most specific first:
/// `CN=peer0.org1.example.com,OU=peer,O=Org1,C=US`.
pub(crate) fn name_to_string(name: &X509Name<'_>) -> String {
    let mut parts = Vec::new();
    for rdn in name.iter_rdn().collect::<Vec<_>>().into_iter().rev() {
        for attr in rdn.iter() {
            let oid = attr.attr_type().to_id_string();
            let key = match oid.as_str() {
                "2.5.4.3" => "CN",
                "2.5.4.5" => "SERIALNUMBER",
                "2.5.4.6" => "C",
                "2.5.4.7" => "L",
                "2.5.4.8" => "ST",
                "2.5.4.9" => "STREET",
                "2.5.4.10" => "O",
                "2.5.4.11" => "OU",
                "2.5.4.17" => "POSTALCODE",
                _ => oid.as_str(),
            }
            .to_owned();
            let value = attr
                .as_str()
                .map(str::to_owned)
                .unwrap_or_else(|_| format!("#{}", hex::encode(attr.as_slice())));
            parts.push(format!("{key}={value}"));
        }
    }
    parts.join(",")
}

/// A parsed X.509 certificate: the fields Fabric's MSP uses, plus its DER bytes.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Certificate {
    der: Vec<u8>,
    subject: String,
    issuer: String,
    subject_raw: Vec<u8>,
    issuer_raw: Vec<u8>,
    common_name: Option<String>,
    organizational_units: Vec<String>,
    not_before: i64,
    not_after: i64,
    serial: Vec<u8>,
    public_key: Vec<u8>,
    curve: Option<Curve>,
    subject_key_id: Option<Vec<u8>>,
    authority_key_id: Option<Vec<u8>>,
    is_ca: bool,
    tbs_hash: [u8; 32],
    /// False when the certificate is ECDSA-signed and its signature is not minimal DER.
    canonical_signature: bool,
    /// The signature value when the certificate is ECDSA-signed.
    ecdsa_signature: Option<Vec<u8>>,
}

impl Certificate {
    /// Parses the first `CERTIFICATE` PEM block of `pem`. `what` names the source in errors
    /// (e.g. "cacerts/ca.org1.example.com-cert.pem").
    ///
    /// Parsing a certificate costs tens of microseconds, and the same few certificates (the
    /// channel's clients, peers and orderers) arrive with every transaction, so successful
    /// parses are remembered process-wide by the SHA-256 of `pem` (see [`parsed_memo`]); a
    /// hit returns a copy of the earlier result. Failures are not remembered.
    pub fn from_pem(pem: &[u8], what: &str) -> Result<Certificate> {
        let key = sha256(pem);
        if let Some(cert) = parsed_memo::get(&key) {
            return Ok(Certificate::clone(&cert));
        }
        let cert = Certificate::from_pem_uncached(pem, what)?;
        parsed_memo::insert(key, Arc::new(cert.clone()));
        Ok(cert)
    }

    fn from_pem_uncached(pem: &[u8], what: &str) -> Result<Certificate> {
        let block = decode_pem(pem, what, "CERTIFICATE")?;
        if block.label != "CERTIFICATE" {
            return Err(MspError::MalformedPem {
                what: what.to_owned(),
                reason: format!("found a '{}' block", block.label),
                expected: "CERTIFICATE",
            });
        }
        Certificate::from_der(block.contents, what)
    }

    /// Parses every `CERTIFICATE` block of a PEM file (a bundle may hold several).
    pub fn all_from_pem(pem: &[u8], what: &str) -> Result<Vec<Certificate>> {
        decode_all_pem(pem, what, "CERTIFICATE")?
            .into_iter()
            .map(|der| Certificate::from_der(der, what))
            .collect()
    }

    /// Parses a DER certificate.
    pub fn from_der(der: Vec<u8>, what: &str) -> Result<Certificate> {
        let malformed = |reason: String| MspError::MalformedDer {
            what: what.to_owned(),
            reason,
            kind: "certificate",
        };
        let (rest, cert) = X509Certificate::from_der(&der).map_err(|e| malformed(e.to_string()))?;
        if !rest.is_empty() {
            return Err(malformed(format!(
                "{} trailing bytes after the certificate",
                rest.len()
            )));
        }
        let spki = cert.public_key();
        let curve = if spki.algorithm.algorithm.as_bytes() == OID_EC_PUBLIC_KEY {
            match spki.algorithm.parameters.as_ref().map(|p| p.data) {
                Some(OID_P256) => Some(Curve::P256),
                Some(OID_P384) => Some(Curve::P384),
                _ => None,
            }
        } else {
            None
        };
        let mut subject_key_id = None;
        let mut authority_key_id = None;
        for ext in cert.extensions() {
            match ext.parsed_extension() {
                ParsedExtension::SubjectKeyIdentifier(id) => subject_key_id = Some(id.0.to_vec()),
                ParsedExtension::AuthorityKeyIdentifier(aki) => {
                    authority_key_id = aki.key_identifier.as_ref().map(|id| id.0.to_vec())
                }
                _ => {}
            }
        }
        let organizational_units = cert
            .subject()
            .iter_organizational_unit()
            .filter_map(|a| a.as_str().ok().map(str::to_owned))
            .collect();
        let common_name = cert
            .subject()
            .iter_common_name()
            .next()
            .and_then(|a| a.as_str().ok())
            .map(str::to_owned);
        let out = Certificate {
            subject: name_to_string(cert.subject()),
            issuer: name_to_string(cert.issuer()),
            subject_raw: cert.subject().as_raw().to_vec(),
            issuer_raw: cert.issuer().as_raw().to_vec(),
            common_name,
            organizational_units,
            not_before: cert.validity().not_before.timestamp(),
            not_after: cert.validity().not_after.timestamp(),
            serial: cert.raw_serial().to_vec(),
            public_key: spki.subject_public_key.data.to_vec(),
            curve,
            subject_key_id,
            authority_key_id,
            is_ca: cert.is_ca(),
            tbs_hash: sha256(cert.tbs_certificate.as_ref()),
            canonical_signature: !is_ecdsa_oid(cert.signature_algorithm.algorithm.as_bytes())
                || is_canonical_ecdsa_der(&cert.signature_value.data),
            ecdsa_signature: is_ecdsa_oid(cert.signature_algorithm.algorithm.as_bytes())
                .then(|| cert.signature_value.data.to_vec()),
            der: Vec::new(),
        };
        Ok(Certificate { der, ..out })
    }

    /// The DER bytes.
    pub fn der(&self) -> &[u8] {
        &self.der
    }

    /// The subject, most specific attribute first (`CN=…,OU=…,O=…`), as Fabric logs it.
    pub fn subject(&self) -> &str {
        &self.subject
    }

    /// The issuer, in the same form as [`Certificate::subject`].
    pub fn issuer(&self) -> &str {
        &self.issuer
    }

    /// The subject's common name, if any.
    pub fn common_name(&self) -> Option<&str> {
        self.common_name.as_deref()
    }

    /// The subject's organisational units, in certificate order (NodeOUs live here).
    pub fn organizational_units(&self) -> &[String] {
        &self.organizational_units
    }

    /// Start of the validity window, unix seconds.
    pub fn not_before(&self) -> i64 {
        self.not_before
    }

    /// End of the validity window, unix seconds.
    pub fn not_after(&self) -> i64 {
        self.not_after
    }

    /// Whether `unix_secs` lies in the validity window (both ends inclusive, as RFC 5280 says).
    pub fn is_valid_at(&self, unix_secs: i64) -> bool {
        self.not_before <= unix_secs && unix_secs <= self.not_after
    }

    /// The serial number, big-endian bytes as encoded.
    pub fn serial(&self) -> &[u8] {
        &self.serial
    }

    /// The serial number in lowercase hex.
    pub fn serial_hex(&self) -> String {
        hex::encode(&self.serial)
    }

    /// The subject public key: for EC keys the uncompressed SEC1 point.
    pub fn public_key(&self) -> &[u8] {
        &self.public_key
    }

    /// The curve of the certificate's EC key, or `None` for keys Cambium cannot verify with
    /// (RSA, Ed25519, other curves).
    pub fn key_curve(&self) -> Option<Curve> {
        self.curve
    }

    /// The Subject Key Identifier extension, if present.
    pub fn subject_key_id(&self) -> Option<&[u8]> {
        self.subject_key_id.as_deref()
    }

    /// The key identifier of the Authority Key Identifier extension, if present.
    pub fn authority_key_id(&self) -> Option<&[u8]> {
        self.authority_key_id.as_deref()
    }

    /// Whether basic constraints mark this certificate as a CA.
    pub fn is_ca(&self) -> bool {
        self.is_ca
    }

    /// SHA-256 of the DER bytes: Fabric's identity identifier.
    pub fn fingerprint(&self) -> [u8; 32] {
        sha256(&self.der)
    }

    /// SHA-256 of the to-be-signed part. Two encodings of one certificate that differ only in
    /// their (malleable) signature share it, so it is what identities are compared by.
    pub fn tbs_hash(&self) -> &[u8; 32] {
        &self.tbs_hash
    }

    /// Whether an ECDSA certificate signature is minimal DER (always true for other algorithms),
    /// which Fabric's `IsWellFormed` requires.
    pub fn has_canonical_signature(&self) -> bool {
        self.canonical_signature
    }

    /// The DER Fabric's MSP works with (`sanitizeCert`): when the certificate's ECDSA signature
    /// is high-S or not minimal DER, the same certificate re-encoded with the low-S minimal
    /// signature; otherwise the DER as is. `issuer_curve` is the curve of the issuer's key (the
    /// certificate's own for a self-signed root). Fabric's identity identifiers and certifiers
    /// identifiers hash this form.
    pub fn sanitized_der(&self, issuer_curve: Option<Curve>) -> Vec<u8> {
        let (Some(sig), Some(curve)) = (&self.ecdsa_signature, issuer_curve) else {
            return self.der.clone();
        };
        let Ok(low) = normalize_low_s(curve, sig) else {
            return self.der.clone();
        };
        let low = match parse_der_signature(curve, &low) {
            Ok(raw) => encode_der_signature(&raw),
            Err(_) => return self.der.clone(),
        };
        if &low == sig {
            return self.der.clone();
        }
        let Some((tbs, alg)) = outer_parts(&self.der) else {
            return self.der.clone();
        };
        let mut bit_string = vec![0u8];
        bit_string.extend_from_slice(&low);
        let mut body = tbs.to_vec();
        body.extend_from_slice(alg);
        body.extend_from_slice(&der_tlv(0x03, &bit_string));
        der_tlv(0x30, &body)
    }

    pub(crate) fn subject_raw(&self) -> &[u8] {
        &self.subject_raw
    }

    /// Whether `issuer` issued this certificate: names and key identifiers fit and its
    /// signature verifies under `issuer`'s key.
    pub fn is_issued_by(&self, issuer: &Certificate) -> bool {
        if self.issuer_raw != issuer.subject_raw {
            return false;
        }
        if let (Some(aki), Some(ski)) = (&self.authority_key_id, &issuer.subject_key_id) {
            if aki != ski {
                return false;
            }
        }
        let (Ok((_, child)), Ok((_, parent))) = (
            X509Certificate::from_der(&self.der),
            X509Certificate::from_der(&issuer.der),
        ) else {
            return false;
        };
        child.verify_signature(Some(parent.public_key())).is_ok()
    }

    /// Verifies a Fabric signature (ECDSA over SHA-256, DER, low-S) made with this
    /// certificate's key.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        if self.curve.is_none() {
            return Err(MspError::UnsupportedAlgorithm {
                what: format!("certificate '{}'", self.subject),
                found: "a key other than EC P-256 or P-384".to_owned(),
            });
        }
        verify_signature(&self.public_key, message, signature).map_err(|e| match e {
            MspError::InvalidSignature { .. } => MspError::InvalidSignature {
                context: format!(" for '{}'", self.subject),
            },
            other => other,
        })
    }
}

/// Whether an OID (content bytes) is one of `ecdsa-with-SHA*` (1.2.840.10045.4.*).
fn is_ecdsa_oid(oid: &[u8]) -> bool {
    oid.starts_with(&[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04])
}

/// Whether `sig` is exactly the minimal DER of `SEQUENCE { INTEGER, INTEGER }` (any curve size).
pub(crate) fn is_canonical_ecdsa_der(sig: &[u8]) -> bool {
    fn tlv(input: &[u8], tag: u8) -> Option<(&[u8], &[u8])> {
        let (&t, rest) = input.split_first()?;
        let (&l, rest) = rest.split_first()?;
        if t != tag {
            return None;
        }
        let (len, rest) = match l {
            0..=0x7f => (usize::from(l), rest),
            0x81 => {
                let (&l2, rest) = rest.split_first()?;
                if l2 < 0x80 {
                    return None;
                }
                (usize::from(l2), rest)
            }
            _ => return None,
        };
        (rest.len() >= len).then(|| rest.split_at(len))
    }
    fn minimal_positive(int: &[u8]) -> bool {
        match int {
            [] => false,
            [first, ..] if first & 0x80 != 0 => false,
            [0, second, ..] => second & 0x80 != 0,
            _ => true,
        }
    }
    let Some((body, rest)) = tlv(sig, 0x30) else {
        return false;
    };
    let Some((r, body)) = tlv(body, 0x02) else {
        return false;
    };
    let Some((s, body)) = tlv(body, 0x02) else {
        return false;
    };
    rest.is_empty() && body.is_empty() && minimal_positive(r) && minimal_positive(s)
}

/// Fabric's `IsWellFormed`: one PEM block labelled `CERTIFICATE` with nothing after it, holding a
/// certificate whose ECDSA signature is minimal DER. Fabric's validator refuses creators and
/// endorsers that fail this, so that one certificate cannot travel in several encodings.
pub fn check_well_formed(identity: &SerializedIdentity) -> Result<()> {
    let bad = |problem: String| MspError::NotWellFormed {
        msp_id: identity.msp_id.clone(),
        problem,
    };
    let bytes = identity.id_bytes.as_slice();
    let begin =
        find(bytes, b"-----BEGIN ").ok_or_else(|| bad("it holds no PEM block".to_owned()))?;
    let end = find(&bytes[begin..], b"-----END ")
        .map(|i| begin + i)
        .ok_or_else(|| bad("its PEM block has no END line".to_owned()))?;
    let after_label = find(&bytes[end + 9..], b"-----")
        .map(|i| end + 9 + i + 5)
        .ok_or_else(|| bad("its PEM END line is cut short".to_owned()))?;
    let mut rest = &bytes[after_label..];
    if let Some(r) = rest
        .strip_prefix(b"\r\n")
        .or_else(|| rest.strip_prefix(b"\n"))
    {
        rest = r;
    }
    if !rest.is_empty() {
        return Err(bad(format!("{} bytes follow the PEM block", rest.len())));
    }
    // The same few certificates arrive with every transaction: one that `from_pem` parsed
    // before (so a single CERTIFICATE block of these very bytes) is not parsed again.
    let key = sha256(bytes);
    let cert = match parsed_memo::get(&key) {
        Some(cert) => cert,
        None => {
            let block = decode_pem(bytes, "the identity's certificate", "CERTIFICATE")?;
            if block.label != "CERTIFICATE" {
                return Err(bad(format!(
                    "its PEM block is a '{}', not a 'CERTIFICATE'",
                    block.label
                )));
            }
            let cert = Arc::new(Certificate::from_der(
                block.contents,
                "the identity's certificate",
            )?);
            parsed_memo::insert(key, Arc::clone(&cert));
            cert
        }
    };
    if !cert.has_canonical_signature() {
        return Err(bad(format!(
            "the signature of certificate '{}' is not in canonical DER form",
            cert.subject()
        )));
    }
    Ok(())
}

/// The complete `tbsCertificate` and `signatureAlgorithm` TLVs of a certificate's DER.
fn outer_parts(der: &[u8]) -> Option<(&[u8], &[u8])> {
    let (_, body) = split_tlv(der)?.0;
    let ((tbs_full, _), rest) = split_tlv(body)?;
    let ((alg_full, _), _) = split_tlv(rest)?;
    Some((tbs_full, alg_full))
}

/// Splits one DER TLV off `input`: ((whole TLV, content), rest).
#[allow(clippy::type_complexity)]
fn split_tlv(input: &[u8]) -> Option<((&[u8], &[u8]), &[u8])> {
    let first_len = *input.get(1)?;
    let (header, len) = if first_len < 0x80 {
        (2, usize::from(first_len))
    } else {
        let n = usize::from(first_len & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let bytes = input.get(2..2 + n)?;
        (
            2 + n,
            bytes
                .iter()
                .fold(0usize, |acc, b| acc << 8 | usize::from(*b)),
        )
    };
    let end = header.checked_add(len)?;
    let whole = input.get(..end)?;
    Some(((whole, &whole[header..]), &input[end..]))
}

/// A DER TLV with a definite minimal length.
fn der_tlv(tag: u8, content: &[u8]) -> Vec<u8> {
    let len = content.len();
    let mut out = vec![tag];
    if len < 0x80 {
        out.push(len as u8);
    } else {
        let bytes: Vec<u8> = len
            .to_be_bytes()
            .iter()
            .copied()
            .skip_while(|b| *b == 0)
            .collect();
        out.push(0x80 | bytes.len() as u8);
        out.extend_from_slice(&bytes);
    }
    out.extend_from_slice(content);
    out
}

fn find(haystack: &[u8], needle: &[u8]) -> Option<usize> {
    haystack.windows(needle.len()).position(|w| w == needle)
}

/// SHA-256 of `data`.
/// A process-wide memo of certificates parsed from PEM, keyed by the SHA-256 of the PEM bytes.
///
/// Parsing is a pure function of the bytes, so a hit gives exactly what a fresh parse would.
/// Lookups only: nothing iterates the map, so its order cannot leak into state or bytes.
mod parsed_memo {
    use std::collections::HashMap;
    use std::sync::{Arc, Mutex};

    use super::Certificate;

    /// At most this many certificates are remembered; when full the memo starts afresh. A
    /// channel's working set (its orgs' clients, peers, orderers and CAs) is far smaller.
    pub(super) const CAPACITY: usize = 1024;

    static MEMO: Mutex<Option<HashMap<[u8; 32], Arc<Certificate>>>> = Mutex::new(None);

    pub(super) fn get(key: &[u8; 32]) -> Option<Arc<Certificate>> {
        MEMO.lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .and_then(|m| m.get(key).cloned())
    }

    pub(super) fn insert(key: [u8; 32], cert: Arc<Certificate>) {
        let mut guard = MEMO.lock().unwrap_or_else(|e| e.into_inner());
        let memo = guard.get_or_insert_with(HashMap::new);
        if memo.len() >= CAPACITY {
            memo.clear();
        }
        memo.insert(key, cert);
    }

    #[cfg(test)]
    pub(super) fn len() -> usize {
        MEMO.lock()
            .unwrap_or_else(|e| e.into_inner())
            .as_ref()
            .map_or(0, HashMap::len)
    }
}

pub(crate) fn sha256(data: &[u8]) -> [u8; 32] {
    let d = digest(&SHA256, data);
    let mut out = [0u8; 32];
    out.copy_from_slice(d.as_ref());
    out
}

/// An organisational unit of an identity, with the certification chain that vouches for it
/// (`msp.OrganizationUnit` / Fabric's `OUIdentifier`).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct OuIdentifier {
    /// The OU value from the certificate's subject.
    pub organizational_unit_identifier: String,
    /// SHA-256 of the DER of the issuing chain (issuer first, root last).
    pub certifiers_identifier: Vec<u8>,
}

/// An identity that an MSP has validated: its certificate chains to the MSP's CAs, it is not
/// revoked, it was within its validity window at the time asked, and its OUs fit the MSP's rules.
#[derive(Clone, Debug)]
pub struct Identity {
    pub(crate) msp_id: String,
    pub(crate) cert: Arc<Certificate>,
    pub(crate) serialized: SerializedIdentity,
    pub(crate) ous: Vec<OuIdentifier>,
    pub(crate) node_role: Option<MspRole>,
    pub(crate) listed_admin: bool,
    pub(crate) fabric_id: [u8; 32],
}

impl Identity {
    /// The MSP ID that vouches for this identity.
    pub fn msp_id(&self) -> &str {
        &self.msp_id
    }

    /// The identity's certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The identity as it was serialised (MSP ID and the exact PEM bytes).
    pub fn serialized(&self) -> &SerializedIdentity {
        &self.serialized
    }

    /// Fabric's identity identifier: hex SHA-256 of the certificate's sanitised DER (see
    /// [`Certificate::sanitized_der`]), equal to the DER's hash for low-S certificates.
    pub fn id(&self) -> String {
        hex::encode(self.fabric_id)
    }

    /// The certificate's OUs with the chain that vouches for them.
    pub fn organizational_units(&self) -> &[OuIdentifier] {
        &self.ous
    }

    /// The NodeOU role (client, peer, admin or orderer) when the MSP has NodeOUs enabled.
    pub fn node_role(&self) -> Option<MspRole> {
        self.node_role
    }

    /// Whether this identity is an admin of its MSP: listed in `admincerts`, or carrying the
    /// admin NodeOU.
    pub fn is_admin(&self) -> bool {
        self.listed_admin || self.node_role == Some(MspRole::Admin)
    }

    /// Verifies a signature made by this identity over `message`.
    pub fn verify(&self, message: &[u8], signature: &[u8]) -> Result<()> {
        self.cert.verify(message, signature).map_err(|e| match e {
            MspError::InvalidSignature { .. } => MspError::InvalidSignature {
                context: format!(" for '{}' of {}", self.cert.subject(), self.msp_id),
            },
            other => other,
        })
    }
}

/// A certificate with its private key: what a node or client signs with.
#[derive(Debug)]
pub struct SigningIdentity {
    msp_id: String,
    cert: Certificate,
    cert_pem: Vec<u8>,
    key: PrivateKey,
}

impl SigningIdentity {
    /// Pairs a PEM certificate with its PEM private key (PKCS#8 or SEC1), checking that the key
    /// is the certificate's. `cert_pem` is kept byte for byte: it is what [`Self::serialized`]
    /// sends.
    pub fn new(msp_id: &str, cert_pem: Vec<u8>, key_pem: &[u8]) -> Result<SigningIdentity> {
        let cert = Certificate::from_pem(&cert_pem, "the signing certificate")?;
        if cert.key_curve() != Some(Curve::P256) {
            return Err(MspError::UnsupportedAlgorithm {
                what: format!("signing certificate '{}'", cert.subject()),
                found: "a key other than EC P-256".to_owned(),
            });
        }
        let key = PrivateKey::from_pem_for_certificate(
            key_pem,
            "the private key",
            cert.public_key(),
            cert.subject(),
        )?;
        Ok(SigningIdentity {
            msp_id: msp_id.to_owned(),
            cert,
            cert_pem,
            key,
        })
    }

    /// The MSP ID this identity claims.
    pub fn msp_id(&self) -> &str {
        &self.msp_id
    }

    /// The certificate.
    pub fn certificate(&self) -> &Certificate {
        &self.cert
    }

    /// The certificate's PEM bytes, exactly as loaded.
    pub fn certificate_pem(&self) -> &[u8] {
        &self.cert_pem
    }

    /// The identity as Fabric serialises it (`creator`, `endorser` fields).
    pub fn serialized(&self) -> SerializedIdentity {
        SerializedIdentity {
            msp_id: self.msp_id.clone(),
            id_bytes: self.cert_pem.clone(),
        }
    }

    /// Signs `message` the way Fabric does: ECDSA P-256 over SHA-256(message), DER, low-S.
    pub fn sign(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.key.sign(message)
    }

    /// Signs like [`SigningIdentity::sign`] but as a client in another process would: the
    /// signature is not recorded in this process's memo of verified signatures, so a node in
    /// this process verifies it in full. Load generators sign this way so that a benchmark
    /// running clients and nodes in one process measures the nodes' real verification cost.
    pub fn sign_as_remote_client(&self, message: &[u8]) -> Result<Vec<u8>> {
        self.key.sign_unrecorded(message)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parsed_certificates_are_remembered_and_failures_are_not() {
        let key = rcgen::KeyPair::generate_for(&rcgen::PKCS_ECDSA_P256_SHA256).unwrap();
        let params = rcgen::CertificateParams::new(vec!["memo.example.com".to_owned()]).unwrap();
        let pem = params.self_signed(&key).unwrap().pem().into_bytes();
        let fresh = Certificate::from_pem_uncached(&pem, "test").unwrap();
        assert!(parsed_memo::get(&sha256(&pem)).is_none());
        let first = Certificate::from_pem(&pem, "test").unwrap();
        assert_eq!(first, fresh);
        assert_eq!(parsed_memo::get(&sha256(&pem)).as_deref(), Some(&fresh));
        assert!(parsed_memo::len() <= parsed_memo::CAPACITY);
        let again = Certificate::from_pem(&pem, "another source").unwrap();
        assert_eq!(again, fresh, "a hit returns what a fresh parse returns");

        // A malformed PEM fails every time with the caller's own wording, and is not kept.
        let mut bad = pem.clone();
        bad.truncate(40);
        for what in ["first", "second"] {
            let err = Certificate::from_pem(&bad, what).unwrap_err().to_string();
            assert!(err.contains(what), "{err}");
        }
        assert!(parsed_memo::get(&sha256(&bad)).is_none());
    }

    #[test]
    fn canonical_der_signatures_are_told_apart() {
        assert!(is_canonical_ecdsa_der(&[
            0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x7f
        ]));
        assert!(is_canonical_ecdsa_der(&[
            0x30, 0x07, 0x02, 0x01, 0x01, 0x02, 0x02, 0x00, 0x80
        ]));
        for bad in [
            &[0x30, 0x07, 0x02, 0x02, 0x00, 0x01, 0x02, 0x01, 0x01][..],
            &[0x30, 0x06, 0x02, 0x01, 0x81, 0x02, 0x01, 0x01],
            &[0x30, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01, 0x00],
            &[0x30, 0x81, 0x06, 0x02, 0x01, 0x01, 0x02, 0x01, 0x01],
            &[0x30, 0x03, 0x02, 0x01, 0x01],
        ] {
            assert!(!is_canonical_ecdsa_der(bad), "{bad:02x?}");
        }
    }

    #[test]
    fn identities_without_a_pem_block_are_not_well_formed() {
        let sid = SerializedIdentity {
            msp_id: "Org1MSP".to_owned(),
            id_bytes: b"junk".to_vec(),
        };
        assert_eq!(
            check_well_formed(&sid).unwrap_err().to_string(),
            "identity of Org1MSP is not well-formed: it holds no PEM block; send the certificate's PEM exactly as issued"
        );
    }
}
