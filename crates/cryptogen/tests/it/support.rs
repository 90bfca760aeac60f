//! Helpers shared by the integration tests: reading PEM files, verifying chains, matching keys.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use cambium_cryptogen::{generate, CryptoConfig, GenerateOptions, GeneratedNetwork};
use x509_parser::certificate::X509Certificate;
use x509_parser::extensions::{GeneralName, ParsedExtension};
use x509_parser::oid_registry::{OID_EC_P256, OID_KEY_TYPE_EC_PUBLIC_KEY};

/// Generates `config` into a fresh temporary folder.
pub(crate) fn generated(config: &CryptoConfig) -> (tempfile::TempDir, GeneratedNetwork) {
    let dir = tempfile::tempdir().unwrap();
    let network = generate(config, dir.path(), GenerateOptions::default()).unwrap();
    (dir, network)
}

/// The contents of the single PEM block in `path`, checking its label.
pub(crate) fn pem_contents(path: &Path, label: &str) -> Vec<u8> {
    let bytes = fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let (rest, pem) = x509_parser::pem::parse_x509_pem(&bytes).unwrap();
    assert!(
        rest.iter().all(u8::is_ascii_whitespace),
        "{} has more than one PEM block",
        path.display()
    );
    assert_eq!(pem.label, label, "{}", path.display());
    pem.contents
}

/// A certificate file's DER.
pub(crate) fn cert_der(path: &Path) -> Vec<u8> {
    pem_contents(path, "CERTIFICATE")
}

/// Parses DER from [`cert_der`].
pub(crate) fn parse(der: &[u8]) -> X509Certificate<'_> {
    let (rest, cert) = x509_parser::parse_x509_certificate(der).unwrap();
    assert!(rest.is_empty());
    cert
}

/// Checks with x509-parser (ring) that `cert` was issued and signed by `ca`.
pub(crate) fn assert_issued_by(cert_path: &Path, ca_path: &Path) {
    let (cert_der, ca_der) = (cert_der(cert_path), cert_der(ca_path));
    let (cert, ca) = (parse(&cert_der), parse(&ca_der));
    cert.verify_signature(Some(ca.public_key()))
        .unwrap_or_else(|e| {
            panic!(
                "{} does not verify against {}: {e}",
                cert_path.display(),
                ca_path.display()
            )
        });
    assert_eq!(
        cert.issuer().as_raw(),
        ca.subject().as_raw(),
        "{}",
        cert_path.display()
    );
    // Leaves name their CA's key; self-signed CAs carry no authority key identifier, as with cryptogen.
    let expected_aki = (cert_path != ca_path).then(|| subject_key_id(&ca));
    assert_eq!(
        authority_key_id(&cert),
        expected_aki,
        "{}",
        cert_path.display()
    );
    assert!(
        cert.validity().is_valid(),
        "{} is not valid now",
        cert_path.display()
    );
}

/// Checks with the `openssl` command that every cert verifies against `ca`.
///
/// A second, independent implementation. Returns false (and says so) only if `openssl` is missing.
pub(crate) fn openssl_verify(ca: &Path, certs: &[PathBuf]) -> bool {
    if Command::new("openssl").arg("version").output().is_err() {
        eprintln!("openssl not found; skipping the second, independent chain check");
        return false;
    }
    let output = Command::new("openssl")
        .arg("verify")
        .arg("-CAfile")
        .arg(ca)
        .args(certs)
        .output()
        .unwrap();
    let stdout = String::from_utf8_lossy(&output.stdout);
    assert!(
        output.status.success(),
        "openssl verify failed: {stdout}{}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(
        stdout.lines().filter(|l| l.ends_with(": OK")).count(),
        certs.len(),
        "{stdout}"
    );
    true
}

/// Checks that `key_path` holds a PKCS#8 ECDSA P-256 key whose public key is the one in `cert_path`,
/// and that only the owner can read it.
pub(crate) fn assert_key_matches(key_path: &Path, cert_path: &Path) {
    let pkcs8 = pem_contents(key_path, "PRIVATE KEY");
    let rng = ring::rand::SystemRandom::new();
    let key = ring::signature::EcdsaKeyPair::from_pkcs8(
        &ring::signature::ECDSA_P256_SHA256_ASN1_SIGNING,
        &pkcs8,
        &rng,
    )
    .unwrap_or_else(|e| panic!("{} is not a PKCS#8 P-256 key: {e}", key_path.display()));
    let der = cert_der(cert_path);
    let cert = parse(&der);
    let spki = cert.public_key();
    assert_eq!(spki.algorithm.algorithm, OID_KEY_TYPE_EC_PUBLIC_KEY);
    let curve = spki
        .algorithm
        .parameters
        .as_ref()
        .unwrap()
        .as_oid()
        .unwrap();
    assert_eq!(
        curve,
        OID_EC_P256,
        "{} is not on P-256",
        cert_path.display()
    );
    use ring::signature::KeyPair as _;
    assert_eq!(
        key.public_key().as_ref(),
        spki.subject_public_key.as_ref(),
        "{} does not match {}",
        key_path.display(),
        cert_path.display()
    );
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = fs::metadata(key_path).unwrap().permissions().mode() & 0o777;
        assert_eq!(mode, 0o600, "{} has mode {mode:o}", key_path.display());
    }
}

pub(crate) fn subject_key_id(cert: &X509Certificate<'_>) -> Vec<u8> {
    cert.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::SubjectKeyIdentifier(id) => Some(id.0.to_vec()),
            _ => None,
        })
        .expect("certificate has a subject key identifier")
}

pub(crate) fn authority_key_id(cert: &X509Certificate<'_>) -> Option<Vec<u8>> {
    cert.extensions()
        .iter()
        .find_map(|ext| match ext.parsed_extension() {
            ParsedExtension::AuthorityKeyIdentifier(aki) => {
                aki.key_identifier.as_ref().map(|id| id.0.to_vec())
            }
            _ => None,
        })
}

/// The certificate's SANs as text (DNS names as they are, IP addresses formatted).
pub(crate) fn sans(cert: &X509Certificate<'_>) -> Vec<String> {
    let Some(ext) = cert.subject_alternative_name().unwrap() else {
        return Vec::new();
    };
    ext.value
        .general_names
        .iter()
        .map(|name| match name {
            GeneralName::DNSName(dns) => dns.to_string(),
            GeneralName::IPAddress(ip) => match ip.len() {
                4 => std::net::IpAddr::from(<[u8; 4]>::try_from(*ip).unwrap()).to_string(),
                16 => std::net::IpAddr::from(<[u8; 16]>::try_from(*ip).unwrap()).to_string(),
                n => panic!("IP SAN of {n} bytes"),
            },
            other => panic!("unexpected SAN {other:?}"),
        })
        .collect()
}

/// All values of the subject attribute with OID `oid` (e.g. OUs).
pub(crate) fn subject_values(
    cert: &X509Certificate<'_>,
    oid: &x509_parser::der_parser::oid::Oid<'_>,
) -> Vec<String> {
    cert.subject()
        .iter_attributes()
        .filter(|attr| attr.attr_type() == oid)
        .map(|attr| attr.as_str().unwrap().to_owned())
        .collect()
}

/// Every regular file under `root`, relative to it, sorted.
pub(crate) fn files_under(root: &Path) -> Vec<String> {
    fn walk(dir: &Path, root: &Path, out: &mut Vec<String>) {
        for entry in fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            if path.is_dir() {
                walk(&path, root, out);
            } else {
                out.push(
                    path.strip_prefix(root)
                        .unwrap()
                        .to_string_lossy()
                        .into_owned(),
                );
            }
        }
    }
    let mut out = Vec::new();
    walk(root, root, &mut out);
    out.sort();
    out
}
