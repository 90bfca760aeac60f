//! Membership service providers: an organisation's CAs, admins, CRLs and NodeOU rules.
//!
//! [`MspConfig`] is the plain configuration (what Fabric carries as `msp.FabricMSPConfig` in a
//! channel config, or reads from an MSP folder with [`MspConfig::from_dir`]). [`Msp`] is that
//! configuration checked and indexed, ready to validate identities, and [`MspManager`] holds the
//! MSPs of a channel by MSP ID.
//!
//! Validation follows Fabric's `msp/mspimpl*.go`: the certificate must chain to a root CA through
//! the MSP's intermediates (each signature verified), its issuer must be a leaf of the
//! certification tree, it must not be revoked by a CRL of its issuer, and with NodeOUs enabled it
//! must carry exactly one of the client/peer/admin/orderer OUs. Unlike Fabric's MSP, which skips
//! expiry checks (FAB-3678) and leaves them to the gateway and orderer, [`Msp::validate`] also
//! checks every certificate of the chain against the time the caller passes.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use cambium_primitives::{MspRole, Principal, SerializedIdentity};
use serde::Deserialize;
use x509_parser::certificate::X509Certificate;
use x509_parser::prelude::FromDer;
use x509_parser::revocation_list::CertificateRevocationList;

use crate::error::{MspError, Result};
use crate::identity::{
    decode_all_pem, name_to_string, sha256, Certificate, Identity, OuIdentifier, SigningIdentity,
};

/// How many validated identities an [`Msp`] remembers, so that a busy signer's chain is
/// verified once rather than on every transaction.
const VALIDATION_CACHE_SIZE: usize = 4096;

/// Longest chain (intermediates included) an identity may have.
const MAX_CHAIN_DEPTH: usize = 8;

/// An OU that identities must carry, with the CA certificate that must have issued it
/// (Fabric's `FabricOUIdentifier`).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct OuIdentifierConfig {
    /// PEM of a root or intermediate CA certificate of the MSP; empty means "any chain".
    pub certificate: Vec<u8>,
    /// The OU value, e.g. `peer`.
    pub organizational_unit_identifier: String,
}

/// NodeOU classification (`FabricNodeOUs`): which OU marks a client, peer, admin or orderer.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NodeOusConfig {
    /// Whether roles are enforced; identities then need exactly one role OU.
    pub enable: bool,
    /// The OU of client identities.
    pub client_ou_identifier: Option<OuIdentifierConfig>,
    /// The OU of peer identities.
    pub peer_ou_identifier: Option<OuIdentifierConfig>,
    /// The OU of admin identities.
    pub admin_ou_identifier: Option<OuIdentifierConfig>,
    /// The OU of orderer identities.
    pub orderer_ou_identifier: Option<OuIdentifierConfig>,
}

/// An MSP's configuration as plain data. Certificates and CRLs are PEM bytes (CRLs may also be
/// DER); a PEM entry may hold several certificates.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct MspConfig {
    /// The MSP ID, e.g. `Org1MSP`.
    pub name: String,
    /// Root CA certificates (`cacerts/`).
    pub root_certs: Vec<Vec<u8>>,
    /// Intermediate CA certificates (`intermediatecerts/`).
    pub intermediate_certs: Vec<Vec<u8>>,
    /// Identities that are admins by being listed (`admincerts/`).
    pub admins: Vec<Vec<u8>>,
    /// Certificate revocation lists (`crls/`).
    pub revocation_list: Vec<Vec<u8>>,
    /// TLS root CA certificates (`tlscacerts/`).
    pub tls_root_certs: Vec<Vec<u8>>,
    /// TLS intermediate CA certificates (`tlsintermediatecerts/`).
    pub tls_intermediate_certs: Vec<Vec<u8>>,
    /// OUs of which identities must carry at least one (`OrganizationalUnitIdentifiers`).
    pub organizational_unit_identifiers: Vec<OuIdentifierConfig>,
    /// NodeOU classification (`NodeOUs` in `config.yaml`).
    pub node_ous: Option<NodeOusConfig>,
}

#[derive(Deserialize)]
struct ConfigYaml {
    #[serde(default, rename = "OrganizationalUnitIdentifiers")]
    organizational_unit_identifiers: Vec<OuYaml>,
    #[serde(default, rename = "NodeOUs")]
    node_ous: Option<NodeOusYaml>,
}

#[derive(Deserialize)]
struct OuYaml {
    #[serde(default, rename = "Certificate")]
    certificate: String,
    #[serde(default, rename = "OrganizationalUnitIdentifier")]
    organizational_unit_identifier: String,
}

#[derive(Deserialize)]
struct NodeOusYaml {
    #[serde(default, rename = "Enable")]
    enable: bool,
    #[serde(default, rename = "ClientOUIdentifier")]
    client: Option<OuYaml>,
    #[serde(default, rename = "PeerOUIdentifier")]
    peer: Option<OuYaml>,
    #[serde(default, rename = "AdminOUIdentifier")]
    admin: Option<OuYaml>,
    #[serde(default, rename = "OrdererOUIdentifier")]
    orderer: Option<OuYaml>,
}

fn io_err(path: &Path) -> impl FnOnce(std::io::Error) -> MspError + '_ {
    move |source| MspError::Io {
        path: path.to_owned(),
        source,
    }
}

/// The regular files of `dir` in name order (so that loading is deterministic); an absent
/// folder is empty.
fn files_in(dir: &Path) -> Result<Vec<PathBuf>> {
    if !dir.exists() {
        return Ok(Vec::new());
    }
    let mut files = Vec::new();
    for entry in fs::read_dir(dir).map_err(io_err(dir))? {
        let path = entry.map_err(io_err(dir))?.path();
        if path.is_file() {
            files.push(path);
        }
    }
    files.sort();
    Ok(files)
}

fn read_files(dir: &Path) -> Result<Vec<Vec<u8>>> {
    files_in(dir)?
        .iter()
        .map(|p| fs::read(p).map_err(io_err(p)))
        .collect()
}

impl MspConfig {
    /// Reads an MSP folder in Fabric's layout (as written by `cryptogen`, `fabric-ca-client` or
    /// `cambium-cryptogen`): `cacerts/`, `intermediatecerts/`, `admincerts/`, `tlscacerts/`,
    /// `tlsintermediatecerts/`, `crls/` and `config.yaml`. Only `cacerts/` is required.
    pub fn from_dir(dir: &Path, msp_id: &str) -> Result<MspConfig> {
        if !dir.is_dir() {
            return Err(MspError::BadFolder {
                path: dir.to_owned(),
                problem: "is not a directory; pass the folder that holds cacerts/ and signcerts/"
                    .to_owned(),
            });
        }
        let root_certs = read_files(&dir.join("cacerts"))?;
        if root_certs.is_empty() {
            return Err(MspError::BadFolder {
                path: dir.to_owned(),
                problem:
                    "cacerts/ is missing or empty; put the organisation's root CA certificate there"
                        .to_owned(),
            });
        }
        let mut config = MspConfig {
            name: msp_id.to_owned(),
            root_certs,
            intermediate_certs: read_files(&dir.join("intermediatecerts"))?,
            admins: read_files(&dir.join("admincerts"))?,
            revocation_list: read_files(&dir.join("crls"))?,
            tls_root_certs: read_files(&dir.join("tlscacerts"))?,
            tls_intermediate_certs: read_files(&dir.join("tlsintermediatecerts"))?,
            organizational_unit_identifiers: Vec::new(),
            node_ous: None,
        };
        let yaml_path = dir.join("config.yaml");
        if yaml_path.is_file() {
            let text = fs::read_to_string(&yaml_path).map_err(io_err(&yaml_path))?;
            let yaml: ConfigYaml =
                serde_norway::from_str(&text).map_err(|e| MspError::BadConfigYaml {
                    path: yaml_path.clone(),
                    reason: e.to_string(),
                })?;
            let resolve = |ou: OuYaml| -> Result<OuIdentifierConfig> {
                let certificate = if ou.certificate.is_empty() {
                    Vec::new()
                } else {
                    let path = dir.join(&ou.certificate);
                    fs::read(&path).map_err(|source| MspError::BadConfigYaml {
                        path: yaml_path.clone(),
                        reason: format!(
                            "Certificate '{}' cannot be read ({source}); paths are relative to the MSP folder, e.g. cacerts/ca.org1.example.com-cert.pem",
                            ou.certificate
                        ),
                    })?
                };
                Ok(OuIdentifierConfig {
                    certificate,
                    organizational_unit_identifier: ou.organizational_unit_identifier,
                })
            };
            for ou in yaml.organizational_unit_identifiers {
                config.organizational_unit_identifiers.push(resolve(ou)?);
            }
            if let Some(n) = yaml.node_ous {
                config.node_ous = Some(NodeOusConfig {
                    enable: n.enable,
                    client_ou_identifier: n.client.map(resolve).transpose()?,
                    peer_ou_identifier: n.peer.map(resolve).transpose()?,
                    admin_ou_identifier: n.admin.map(resolve).transpose()?,
                    orderer_ou_identifier: n.orderer.map(resolve).transpose()?,
                });
            }
        }
        Ok(config)
    }
}

/// Loads the signing identity of an MSP folder: the certificate in `signcerts/` and the key in
/// `keystore/` that belongs to it (Fabric's cryptogen names it `priv_sk`, fabric-ca `<ski>_sk`).
pub fn load_signing_identity(msp_dir: &Path, msp_id: &str) -> Result<SigningIdentity> {
    let signcerts = msp_dir.join("signcerts");
    let cert_path =
        files_in(&signcerts)?
            .into_iter()
            .next()
            .ok_or_else(|| MspError::BadFolder {
                path: msp_dir.to_owned(),
                problem:
                    "signcerts/ is missing or empty; put the node's or user's certificate there"
                        .to_owned(),
            })?;
    let cert_pem = fs::read(&cert_path).map_err(io_err(&cert_path))?;
    let keystore = msp_dir.join("keystore");
    let keys = files_in(&keystore)?;
    if keys.is_empty() {
        return Err(MspError::BadFolder {
            path: msp_dir.to_owned(),
            problem: "keystore/ is missing or empty; put the private key of the signcerts/ certificate there".to_owned(),
        });
    }
    let mut first_error = None;
    for key_path in keys {
        let key_pem = fs::read(&key_path).map_err(io_err(&key_path))?;
        match SigningIdentity::new(msp_id, cert_pem.clone(), &key_pem) {
            Ok(identity) => return Ok(identity),
            Err(MspError::BadPrivateKey { reason, .. }) => {
                first_error.get_or_insert(MspError::BadPrivateKey {
                    what: key_path.display().to_string(),
                    reason,
                });
            }
            Err(MspError::MalformedPem {
                reason, expected, ..
            }) => {
                first_error.get_or_insert(MspError::MalformedPem {
                    what: key_path.display().to_string(),
                    reason,
                    expected,
                });
            }
            Err(e @ MspError::KeyMismatch { .. }) => {
                first_error.get_or_insert(e);
            }
            Err(other) => return Err(other),
        }
    }
    Err(first_error.unwrap_or_else(|| MspError::BadFolder {
        path: msp_dir.to_owned(),
        problem: "keystore/ holds no usable private key".to_owned(),
    }))
}

/// A NodeOU rule: the OU value and, if set, the chain that must have issued it.
#[derive(Clone, Debug)]
struct NodeOu {
    ou: String,
    certifiers_identifier: Vec<u8>,
}

#[derive(Clone, Debug, Default)]
struct NodeOus {
    client: Option<NodeOu>,
    peer: Option<NodeOu>,
    admin: Option<NodeOu>,
    orderer: Option<NodeOu>,
}

impl NodeOus {
    fn for_role(&self, role: MspRole) -> Option<&NodeOu> {
        match role {
            MspRole::Client => self.client.as_ref(),
            MspRole::Peer => self.peer.as_ref(),
            MspRole::Admin => self.admin.as_ref(),
            MspRole::Orderer => self.orderer.as_ref(),
            MspRole::Member => None,
        }
    }
}

/// What validation learned about a certificate that does not depend on the time.
#[derive(Debug)]
struct Validated {
    cert: Arc<Certificate>,
    /// The issuing chain, issuer first, root last.
    chain: Vec<Arc<Certificate>>,
    ous: Vec<OuIdentifier>,
    node_role: Option<MspRole>,
    listed_admin: bool,
    fabric_id: [u8; 32],
}

/// A checked MSP configuration that validates identities of one organisation.
#[derive(Debug)]
pub struct Msp {
    id: String,
    roots: Vec<Arc<Certificate>>,
    intermediates: Vec<Arc<Certificate>>,
    /// Fingerprints of CAs that issued an intermediate: they may not issue identities directly.
    internal_nodes: BTreeSet<[u8; 32]>,
    admins: Vec<Certificate>,
    /// Revoked serial numbers by the fingerprint of the CA whose CRL revoked them.
    revoked: BTreeMap<[u8; 32], BTreeSet<Vec<u8>>>,
    ou_identifiers: BTreeMap<String, Vec<Vec<u8>>>,
    node_ous: Option<NodeOus>,
    tls_roots: Vec<Certificate>,
    tls_intermediates: Vec<Certificate>,
    /// Fabric's sanitised DER of each CA, by fingerprint (certifiers identifiers hash these).
    sanitized: BTreeMap<[u8; 32], Vec<u8>>,
    cache: Mutex<BTreeMap<[u8; 32], Arc<Validated>>>,
}

impl Msp {
    /// Checks a configuration and builds the MSP: every CA certificate must be a CA with a
    /// Subject Key Identifier, intermediates must chain to a root, every CRL must be signed by
    /// one of the CAs, and OU identifiers must name one of the CA certificates.
    pub fn new(config: &MspConfig) -> Result<Msp> {
        let id = config.name.clone();
        let bad = |problem: String| MspError::BadConfig {
            msp_id: id.clone(),
            problem,
        };
        if id.is_empty() {
            return Err(MspError::BadConfig {
                msp_id: "''".to_owned(),
                problem: "the MSP ID is empty; give the MSP a name such as Org1MSP".to_owned(),
            });
        }
        let parse_all = |entries: &[Vec<u8>], what: &str| -> Result<Vec<Certificate>> {
            let mut out = Vec::new();
            for (i, pem) in entries.iter().enumerate() {
                out.extend(Certificate::all_from_pem(
                    pem,
                    &format!("{what} #{}", i + 1),
                )?);
            }
            Ok(out)
        };
        let roots = parse_all(&config.root_certs, "root CA certificate")?;
        if roots.is_empty() {
            return Err(bad(
                "no root CA certificate; add the organisation's CA certificate (cacerts/)"
                    .to_owned(),
            ));
        }
        let intermediates = parse_all(&config.intermediate_certs, "intermediate CA certificate")?;
        for ca in roots.iter().chain(&intermediates) {
            check_ca(ca).map_err(&bad)?;
        }
        let roots: Vec<Arc<Certificate>> = roots.into_iter().map(Arc::new).collect();
        let intermediates: Vec<Arc<Certificate>> =
            intermediates.into_iter().map(Arc::new).collect();

        let mut msp = Msp {
            id: id.clone(),
            roots,
            intermediates,
            internal_nodes: BTreeSet::new(),
            admins: parse_all(&config.admins, "admin certificate")?,
            revoked: BTreeMap::new(),
            ou_identifiers: BTreeMap::new(),
            node_ous: None,
            tls_roots: parse_all(&config.tls_root_certs, "TLS root CA certificate")?,
            tls_intermediates: parse_all(
                &config.tls_intermediate_certs,
                "TLS intermediate CA certificate",
            )?,
            sanitized: BTreeMap::new(),
            cache: Mutex::new(BTreeMap::new()),
        };
        for root in &msp.roots {
            msp.sanitized
                .insert(root.fingerprint(), root.sanitized_der(root.key_curve()));
        }
        for ca in msp.tls_roots.iter().chain(&msp.tls_intermediates) {
            check_ca(ca).map_err(&bad)?;
        }

        // Intermediates must chain to a root; the CAs above an intermediate are internal nodes.
        for int in &msp.intermediates {
            let chain = msp.build_chain(int).map_err(|_| {
                bad(format!(
                    "intermediate CA certificate '{}' was not issued by any root CA of the MSP; add its issuer to cacerts/",
                    int.subject()
                ))
            })?;
            msp.sanitized
                .insert(int.fingerprint(), int.sanitized_der(chain[0].key_curve()));
            for ca in chain {
                msp.internal_nodes.insert(ca.fingerprint());
            }
        }

        for (i, crl) in config.revocation_list.iter().enumerate() {
            let (ca, serials) = msp.parse_crl(crl, i + 1)?;
            msp.revoked.entry(ca).or_default().extend(serials);
        }

        for ou in &config.organizational_unit_identifiers {
            if ou.certificate.is_empty() {
                return Err(bad(format!(
                    "OrganizationalUnitIdentifier '{}' has no Certificate; name the CA certificate that issues it",
                    ou.organizational_unit_identifier
                )));
            }
            let cid =
                msp.certifiers_identifier(&ou.certificate, "OrganizationalUnitIdentifiers")?;
            let ids = msp
                .ou_identifiers
                .entry(ou.organizational_unit_identifier.clone())
                .or_default();
            if !ids.contains(&cid) {
                ids.push(cid);
            }
        }

        if let Some(n) = &config.node_ous {
            let mut node_ous = NodeOus::default();
            let mut any = false;
            for (slot, cfg, name) in [
                (
                    &mut node_ous.client,
                    &n.client_ou_identifier,
                    "ClientOUIdentifier",
                ),
                (
                    &mut node_ous.peer,
                    &n.peer_ou_identifier,
                    "PeerOUIdentifier",
                ),
                (
                    &mut node_ous.admin,
                    &n.admin_ou_identifier,
                    "AdminOUIdentifier",
                ),
                (
                    &mut node_ous.orderer,
                    &n.orderer_ou_identifier,
                    "OrdererOUIdentifier",
                ),
            ] {
                if let Some(cfg) = cfg {
                    let certifiers_identifier = if cfg.certificate.is_empty() {
                        Vec::new()
                    } else {
                        msp.certifiers_identifier(&cfg.certificate, name)?
                    };
                    *slot = Some(NodeOu {
                        ou: cfg.organizational_unit_identifier.clone(),
                        certifiers_identifier,
                    });
                    any = true;
                }
            }
            if n.enable && any {
                msp.node_ous = Some(node_ous);
            }
        }

        let admin_ou = msp.node_ous.as_ref().is_some_and(|n| n.admin.is_some());
        if msp.admins.is_empty() && !admin_ou {
            return Err(bad(
                "no administrators: admincerts/ is empty and NodeOUs define no AdminOUIdentifier; add an admin certificate or enable NodeOUs with an admin OU"
                    .to_owned(),
            ));
        }
        Ok(msp)
    }

    /// The MSP ID.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// Whether NodeOU classification is enforced.
    pub fn node_ous_enabled(&self) -> bool {
        self.node_ous.is_some()
    }

    /// Root CA certificates.
    pub fn root_certs(&self) -> impl Iterator<Item = &Certificate> {
        self.roots.iter().map(|c| c.as_ref())
    }

    /// Intermediate CA certificates.
    pub fn intermediate_certs(&self) -> impl Iterator<Item = &Certificate> {
        self.intermediates.iter().map(|c| c.as_ref())
    }

    /// TLS root CA certificates, for building a TLS trust store.
    pub fn tls_root_certs(&self) -> &[Certificate] {
        &self.tls_roots
    }

    /// TLS intermediate CA certificates.
    pub fn tls_intermediate_certs(&self) -> &[Certificate] {
        &self.tls_intermediates
    }

    /// Validates a serialised identity at `at` (unix seconds; a validator passes a time taken
    /// from the block, never its own clock) and returns it with its roles.
    pub fn validate(&self, identity: &SerializedIdentity, at: i64) -> Result<Identity> {
        if identity.msp_id != self.id {
            return Err(MspError::WrongMsp {
                expected: self.id.clone(),
                found: identity.msp_id.clone(),
            });
        }
        let key = sha256(&identity.id_bytes);
        let cached = self
            .cache
            .lock()
            .unwrap_or_else(|e| e.into_inner())
            .get(&key)
            .cloned();
        let validated = match cached {
            Some(v) => v,
            None => {
                let v = Arc::new(self.validate_uncached(&identity.id_bytes)?);
                let mut cache = self.cache.lock().unwrap_or_else(|e| e.into_inner());
                if cache.len() >= VALIDATION_CACHE_SIZE {
                    cache.clear();
                }
                cache.insert(key, v.clone());
                v
            }
        };
        check_window(&validated.cert, &validated.cert, at)?;
        for ca in &validated.chain {
            check_window(&validated.cert, ca, at)?;
        }
        Ok(Identity {
            msp_id: self.id.clone(),
            cert: validated.cert.clone(),
            serialized: identity.clone(),
            ous: validated.ous.clone(),
            node_role: validated.node_role,
            listed_admin: validated.listed_admin,
            fabric_id: validated.fabric_id,
        })
    }

    fn invalid(&self, cert: &Certificate, problem: String) -> MspError {
        MspError::InvalidIdentity {
            subject: cert.subject().to_owned(),
            msp_id: self.id.clone(),
            problem,
        }
    }

    fn validate_uncached(&self, pem: &[u8]) -> Result<Validated> {
        let cert = Certificate::from_pem(pem, "the identity's certificate")?;
        if cert.key_curve().is_none() {
            return Err(MspError::UnsupportedAlgorithm {
                what: format!("certificate for '{}'", cert.subject()),
                found: "a key other than EC P-256 or P-384".to_owned(),
            });
        }
        if cert.is_ca() {
            return Err(MspError::CaAsIdentity {
                subject: cert.subject().to_owned(),
                msp_id: self.id.clone(),
            });
        }
        let chain = self.build_chain(&cert)?;
        if self.internal_nodes.contains(&chain[0].fingerprint()) {
            return Err(self.invalid(
                &cert,
                format!(
                    "its issuer '{}' also issues intermediate CAs, and Fabric accepts identities only from the last CA of a chain; issue it from the intermediate CA",
                    chain[0].subject()
                ),
            ));
        }
        // Revocation: the identity by its issuer, and each intermediate by the CA above it.
        let mut subject_cert: &Certificate = &cert;
        for ca in &chain {
            let revoked = self
                .revoked
                .get(&ca.fingerprint())
                .is_some_and(|s| s.contains(subject_cert.serial()));
            if revoked {
                return Err(MspError::Revoked {
                    subject: subject_cert.subject().to_owned(),
                    serial: subject_cert.serial_hex(),
                    msp_id: self.id.clone(),
                });
            }
            subject_cert = ca;
        }
        let cid = self.chain_identifier(&chain);
        let fabric_id = sha256(&cert.sanitized_der(chain[0].key_curve()));
        let ous: Vec<OuIdentifier> = cert
            .organizational_units()
            .iter()
            .map(|ou| OuIdentifier {
                organizational_unit_identifier: ou.clone(),
                certifiers_identifier: cid.clone(),
            })
            .collect();

        if !self.ou_identifiers.is_empty() {
            let found = ous.iter().any(|ou| {
                self.ou_identifiers
                    .get(&ou.organizational_unit_identifier)
                    .is_some_and(|ids| ids.contains(&ou.certifiers_identifier))
            });
            if !found {
                let allowed: Vec<&str> = self.ou_identifiers.keys().map(String::as_str).collect();
                return Err(self.invalid(
                    &cert,
                    format!(
                        "none of its OUs {:?} is one of the MSP's organisational units ({}) issued by the configured CA",
                        cert.organizational_units(),
                        allowed.join(", ")
                    ),
                ));
            }
        }

        let mut node_role = None;
        if let Some(node_ous) = &self.node_ous {
            let mut roles = Vec::new();
            for ou in &ous {
                for role in [
                    MspRole::Client,
                    MspRole::Peer,
                    MspRole::Admin,
                    MspRole::Orderer,
                ] {
                    let Some(rule) = node_ous.for_role(role) else {
                        continue;
                    };
                    if rule.ou != ou.organizational_unit_identifier {
                        continue;
                    }
                    if !rule.certifiers_identifier.is_empty()
                        && rule.certifiers_identifier != ou.certifiers_identifier
                    {
                        return Err(self.invalid(
                            &cert,
                            format!(
                                "its OU '{}' must be issued by the CA named in config.yaml for the {role} role, but it was issued by '{}'",
                                ou.organizational_unit_identifier,
                                chain[0].subject()
                            ),
                        ));
                    }
                    roles.push(role);
                }
            }
            match roles.as_slice() {
                [role] => node_role = Some(*role),
                [] => {
                    return Err(self.invalid(
                        &cert,
                        format!(
                            "NodeOUs are enabled and its OUs {:?} include none of the role OUs ({}); issue it with exactly one role OU",
                            cert.organizational_units(),
                            self.role_ou_list()
                        ),
                    ))
                }
                many => {
                    let names: Vec<&str> = many.iter().map(|r| r.as_str()).collect();
                    return Err(self.invalid(
                        &cert,
                        format!(
                            "NodeOUs are enabled and it carries several role OUs ({}); an identity must have exactly one of client, peer, admin or orderer",
                            names.join(", ")
                        ),
                    ));
                }
            }
        }
        let listed_admin = self.admins.iter().any(|a| a.tbs_hash() == cert.tbs_hash());
        Ok(Validated {
            cert: Arc::new(cert),
            chain,
            ous,
            node_role,
            listed_admin,
            fabric_id,
        })
    }

    /// SHA-256 over the sanitised DER of `chain` (in order): Fabric's certifiers identifier.
    fn chain_identifier(&self, chain: &[Arc<Certificate>]) -> Vec<u8> {
        let mut der = Vec::new();
        for ca in chain {
            match self.sanitized.get(&ca.fingerprint()) {
                Some(s) => der.extend_from_slice(s),
                None => der.extend_from_slice(ca.der()),
            }
        }
        sha256(&der).to_vec()
    }

    fn role_ou_list(&self) -> String {
        let Some(n) = &self.node_ous else {
            return String::new();
        };
        [
            MspRole::Client,
            MspRole::Peer,
            MspRole::Admin,
            MspRole::Orderer,
        ]
        .iter()
        .filter_map(|r| n.for_role(*r).map(|ou| format!("{r}: '{}'", ou.ou)))
        .collect::<Vec<_>>()
        .join(", ")
    }

    /// The chain above `cert`: its issuer first, a root last.
    fn build_chain(&self, cert: &Certificate) -> Result<Vec<Arc<Certificate>>> {
        let mut chain: Vec<Arc<Certificate>> = Vec::new();
        let mut current = cert;
        for _ in 0..MAX_CHAIN_DEPTH {
            if let Some(root) = self.roots.iter().find(|r| current.is_issued_by(r)) {
                chain.push(root.clone());
                return Ok(chain);
            }
            let next = self.intermediates.iter().find(|i| {
                !chain.iter().any(|c| Arc::ptr_eq(c, i))
                    && i.der() != current.der()
                    && current.is_issued_by(i)
            });
            match next {
                Some(int) => {
                    chain.push(int.clone());
                    current = chain.last().map(|c| c.as_ref()).unwrap_or(cert);
                }
                None => break,
            }
        }
        Err(MspError::UnknownIssuer {
            subject: cert.subject().to_owned(),
            msp_id: self.id.clone(),
        })
    }

    /// Fabric's certifiers identifier for a CA certificate of this MSP: SHA-256 over the DER of
    /// the chain from that CA up to its root.
    fn certifiers_identifier(&self, pem: &[u8], setting: &str) -> Result<Vec<u8>> {
        let cert = Certificate::from_pem(pem, &format!("the {setting} certificate"))?;
        if let Some(root) = self.roots.iter().find(|r| r.der() == cert.der()) {
            return Ok(self.chain_identifier(std::slice::from_ref(root)));
        }
        if let Some(int) = self.intermediates.iter().find(|r| r.der() == cert.der()) {
            let mut chain = vec![int.clone()];
            chain.extend(self.build_chain(int)?);
            return Ok(self.chain_identifier(&chain));
        }
        Err(MspError::BadConfig {
            msp_id: self.id.clone(),
            problem: format!(
                "the {setting} certificate '{}' is not one of the MSP's root or intermediate CA certificates; point Certificate at a file in cacerts/ or intermediatecerts/",
                cert.subject()
            ),
        })
    }

    /// Parses CRL number `n`, finds the CA that signed it and returns that CA's fingerprint with
    /// the revoked serials.
    fn parse_crl(&self, bytes: &[u8], n: usize) -> Result<([u8; 32], Vec<Vec<u8>>)> {
        let what = format!("CRL #{n}");
        let der = if bytes.starts_with(b"-----") || bytes.windows(11).any(|w| w == b"-----BEGIN ") {
            decode_all_pem(bytes, &what, "X509 CRL")?.remove(0)
        } else {
            bytes.to_vec()
        };
        let (_, crl) =
            CertificateRevocationList::from_der(&der).map_err(|e| MspError::MalformedDer {
                what: what.clone(),
                reason: e.to_string(),
                kind: "CRL",
            })?;
        let issuer = name_to_string(crl.issuer());
        let aki = crl
            .extensions()
            .iter()
            .find_map(|e| match e.parsed_extension() {
                x509_parser::extensions::ParsedExtension::AuthorityKeyIdentifier(a) => {
                    a.key_identifier.as_ref().map(|k| k.0.to_vec())
                }
                _ => None,
            });
        for ca in self.roots.iter().chain(&self.intermediates) {
            let names_match = ca.subject_raw() == crl.issuer().as_raw();
            let keys_match = match (&aki, ca.subject_key_id()) {
                (Some(aki), Some(ski)) => aki.as_slice() == ski,
                _ => true,
            };
            if !names_match || !keys_match {
                continue;
            }
            let Ok((_, ca_x509)) = X509Certificate::from_der(ca.der()) else {
                continue;
            };
            if crl.verify_signature(ca_x509.public_key()).is_ok() {
                let serials = crl
                    .iter_revoked_certificates()
                    .map(|r| r.raw_serial().to_vec())
                    .collect();
                return Ok((ca.fingerprint(), serials));
            }
        }
        Err(MspError::BadConfig {
            msp_id: self.id.clone(),
            problem: format!(
                "{what} (issuer '{issuer}') is not signed by any CA of the MSP; remove it or add the CA that issued it"
            ),
        })
    }

    /// Whether a validated identity of this MSP satisfies `principal` (Fabric's
    /// `SatisfiesPrincipal`, MSP version 1.4.3 and later).
    pub fn satisfies_principal(&self, identity: &Identity, principal: &Principal) -> Result<()> {
        let fail = |reason: String| MspError::PrincipalNotSatisfied {
            subject: identity.certificate().subject().to_owned(),
            msp_id: identity.msp_id().to_owned(),
            principal: principal_to_string(principal),
            reason,
        };
        if identity.msp_id() != self.id {
            return Err(fail(format!(
                "the identity belongs to {}, and this MSP is {}",
                identity.msp_id(),
                self.id
            )));
        }
        match principal {
            Principal::Role { msp_id, role } => {
                if *msp_id != self.id {
                    return Err(fail(format!(
                        "the principal asks for an identity of {msp_id}"
                    )));
                }
                match role {
                    MspRole::Member => Ok(()),
                    MspRole::Admin => {
                        if identity.listed_admin {
                            return Ok(());
                        }
                        match self.node_ous.as_ref().and_then(|n| n.admin.as_ref()) {
                            Some(_) if identity.node_role == Some(MspRole::Admin) => Ok(()),
                            Some(ou) => Err(fail(format!(
                                "it is not listed in admincerts and does not carry the admin OU '{}'",
                                ou.ou
                            ))),
                            None => Err(fail("it is not listed in admincerts".to_owned())),
                        }
                    }
                    MspRole::Client | MspRole::Peer | MspRole::Orderer => {
                        let Some(node_ous) = &self.node_ous else {
                            return Err(fail(format!(
                                "NodeOUs are not enabled in {}, so it cannot tell client, peer and orderer identities apart; enable NodeOUs in the MSP's config.yaml",
                                self.id
                            )));
                        };
                        let Some(rule) = node_ous.for_role(*role) else {
                            return Err(fail(format!(
                                "{} defines no NodeOU for the {role} role",
                                self.id
                            )));
                        };
                        if identity.node_role == Some(*role) {
                            Ok(())
                        } else {
                            let actual = identity.node_role.map(|r| r.as_str()).unwrap_or("none");
                            Err(fail(format!(
                                "its role is {actual}, not {role} (the {role} OU is '{}')",
                                rule.ou
                            )))
                        }
                    }
                }
            }
            Principal::OrganizationUnit {
                msp_id,
                ou,
                certifiers_identifier,
            } => {
                if *msp_id != self.id {
                    return Err(fail(format!(
                        "the principal asks for an identity of {msp_id}"
                    )));
                }
                let found = identity.organizational_units().iter().any(|o| {
                    o.organizational_unit_identifier == *ou
                        && o.certifiers_identifier == *certifiers_identifier
                });
                if found {
                    Ok(())
                } else {
                    Err(fail(format!(
                        "it has no OU '{ou}' issued by the chain the principal names (its OUs: {:?})",
                        identity.certificate().organizational_units()
                    )))
                }
            }
            Principal::Identity(expected) => {
                if expected.msp_id != self.id {
                    return Err(fail(format!(
                        "the principal names an identity of {}",
                        expected.msp_id
                    )));
                }
                let expected_cert =
                    Certificate::from_pem(&expected.id_bytes, "the principal's certificate")?;
                if expected_cert.tbs_hash() == identity.certificate().tbs_hash() {
                    Ok(())
                } else {
                    Err(fail(format!(
                        "the principal names another certificate ('{}')",
                        expected_cert.subject()
                    )))
                }
            }
        }
    }
}

/// Checks a CA certificate's basic shape the way Fabric's MSP setup does.
fn check_ca(ca: &Certificate) -> std::result::Result<(), String> {
    if !ca.is_ca() {
        return Err(format!(
            "certificate '{}' is configured as a CA but its basic constraints do not say CA:TRUE; use the CA's own certificate",
            ca.subject()
        ));
    }
    if ca.subject_key_id().is_none() {
        return Err(format!(
            "CA certificate '{}' has no Subject Key Identifier extension, which Fabric requires; reissue it with an SKI",
            ca.subject()
        ));
    }
    Ok(())
}

/// Fails unless `at` is inside `cert`'s validity window; `identity` names the identity in errors.
fn check_window(identity: &Certificate, cert: &Certificate, at: i64) -> Result<()> {
    let whose = if std::ptr::eq(identity, cert) || identity.der() == cert.der() {
        String::new()
    } else {
        format!("has an issuing CA '{}' that ", cert.subject())
    };
    let problem = if at > cert.not_after() {
        format!(
            "{whose}expired at {} (checked at {})",
            format_unix(cert.not_after()),
            format_unix(at)
        )
    } else if at < cert.not_before() {
        format!(
            "{whose}is not valid before {} (checked at {})",
            format_unix(cert.not_before()),
            format_unix(at)
        )
    } else {
        return Ok(());
    };
    Err(MspError::OutsideValidity {
        subject: identity.subject().to_owned(),
        problem,
    })
}

/// `YYYY-MM-DDTHH:MM:SSZ` for unix seconds (proleptic Gregorian, UTC).
pub(crate) fn format_unix(secs: i64) -> String {
    let days = secs.div_euclid(86_400);
    let rem = secs.rem_euclid(86_400);
    // Howard Hinnant's civil-from-days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z.rem_euclid(146_097);
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let d = doy - (153 * mp + 2) / 5 + 1;
    let m = if mp < 10 { mp + 3 } else { mp - 9 };
    let y = yoe + era * 400 + i64::from(m <= 2);
    format!(
        "{y:04}-{m:02}-{d:02}T{:02}:{:02}:{:02}Z",
        rem / 3600,
        rem % 3600 / 60,
        rem % 60
    )
}

/// A principal as the policy language writes it (`Org1MSP.peer`), or a readable description.
pub(crate) fn principal_to_string(p: &Principal) -> String {
    match p {
        Principal::Role { msp_id, role } => format!("{msp_id}.{role}"),
        Principal::OrganizationUnit { msp_id, ou, .. } => format!("{msp_id} OU '{ou}'"),
        Principal::Identity(sid) => match Certificate::from_pem(&sid.id_bytes, "principal") {
            Ok(c) => format!("{} identity '{}'", sid.msp_id, c.subject()),
            Err(_) => format!("{} identity (unparsable certificate)", sid.msp_id),
        },
    }
}

/// The MSPs of a channel (or of a node), by MSP ID.
#[derive(Debug, Default)]
pub struct MspManager {
    msps: BTreeMap<String, Msp>,
}

impl MspManager {
    /// Builds a manager from MSPs; two MSPs with one ID are an error.
    pub fn new(msps: impl IntoIterator<Item = Msp>) -> Result<MspManager> {
        let mut map = BTreeMap::new();
        for msp in msps {
            let id = msp.id().to_owned();
            if map.insert(id.clone(), msp).is_some() {
                return Err(MspError::BadConfig {
                    msp_id: id,
                    problem: "two MSPs share this ID; give each organisation its own MSP ID"
                        .to_owned(),
                });
            }
        }
        Ok(MspManager { msps: map })
    }

    /// Builds every MSP of `configs` and a manager over them.
    pub fn from_configs(configs: &[MspConfig]) -> Result<MspManager> {
        MspManager::new(configs.iter().map(Msp::new).collect::<Result<Vec<_>>>()?)
    }

    /// The MSP with this ID.
    pub fn msp(&self, msp_id: &str) -> Result<&Msp> {
        self.msps.get(msp_id).ok_or_else(|| MspError::UnknownMsp {
            msp_id: msp_id.to_owned(),
            known: self.msps.keys().cloned().collect::<Vec<_>>().join(", "),
        })
    }

    /// The MSP IDs, sorted.
    pub fn msp_ids(&self) -> Vec<&str> {
        self.msps.keys().map(String::as_str).collect()
    }

    /// Parses a serialised identity's certificate after checking that its MSP exists, without
    /// validating it (Fabric's `DeserializeIdentity`).
    pub fn deserialize_identity(&self, identity: &SerializedIdentity) -> Result<Certificate> {
        self.msp(&identity.msp_id)?;
        Certificate::from_pem(&identity.id_bytes, "the identity's certificate")
    }

    /// Validates a serialised identity with the MSP it names, at `at` (unix seconds).
    pub fn validate(&self, identity: &SerializedIdentity, at: i64) -> Result<Identity> {
        self.msp(&identity.msp_id)?.validate(identity, at)
    }

    /// Whether a validated identity satisfies `principal` (checked by the identity's MSP).
    pub fn satisfies_principal(&self, identity: &Identity, principal: &Principal) -> Result<()> {
        self.msp(identity.msp_id())?
            .satisfies_principal(identity, principal)
    }
}

#[cfg(test)]
mod tests {
    use super::format_unix;

    #[test]
    fn unix_times_format_as_utc() {
        assert_eq!(format_unix(0), "1970-01-01T00:00:00Z");
        assert_eq!(format_unix(951_782_400), "2000-02-29T00:00:00Z");
        assert_eq!(format_unix(1_767_225_599), "2025-12-31T23:59:59Z");
    }
}
