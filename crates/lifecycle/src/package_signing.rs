//! Signed contract packages (issue #8, item 9): owner signatures over a package's hash,
//! required by a channel policy at approve and commit, like Fabric 1.x's signed deployment
//! specs.
//!
//! # What is hashed and signed
//!
//! The **package hash** is SHA-256 over the domain tag `cambium-package-hash/v1\n`, then the
//! bytes of the package's `metadata.json` and of its `code.tar.gz`, each preceded by its
//! length as a big-endian `u64` ([`package_hash`]). It covers the label, the type and the code,
//! and not the file around them, so it does not change when signatures are added: owners sign
//! one after another, like `peer chaincode signpackage`.
//!
//! Each owner signs, Fabric-style (ECDSA P-256 over SHA-256, DER, low-S), the statement
//! `cambium-package-signature/v1\n` ‖ package hash ‖ the signer's `msp.SerializedIdentity`
//! bytes ([`statement`]); binding the identity into what is signed keeps a signature from
//! being re-attributed to another certificate of the same key. A [`PackageSignature`] is the
//! signer's serialized identity and that signature; [`PackageSignatures`] is the package hash
//! and the list.
//!
//! # Where signatures live
//!
//! - **In the package file**: the outer `.tar.gz` gets a third entry, `signatures.pb`
//!   ([`SIGNATURES_ENTRY`], the `PackageSignatures` bytes), next to `metadata.json` and
//!   `code.tar.gz`; [`sign`] adds (or replaces) one signer's signature. Readers that know only
//!   Fabric's layout ignore the entry.
//! - **On the ledger**: the approve arguments carry them as Cambium extension field **1003**
//!   ([`FIELD`], `cambium.lifecycle.PackageSignaturesExtension`); a peer given none takes the
//!   ones in the installed package file. The approval stored under
//!   `approvals/<MSPID>/<name>#<sequence>` keeps them (with the hash the peer computed from
//!   its installed package) at the same field, so the commit, the validator and
//!   `contract history` read them from state.
//!
//! # The package ID
//!
//! The package ID stays Fabric's: `label:<sha256 of the package file>`. A signature changes
//! the file, so each signature gives a new package ID while the package hash stays the same.
//! **Collect the signatures first, then install the signed file**; an org that installed an
//! earlier, less signed file installs the final one (a different package ID) and approves
//! with it. Keeping Fabric's rule means `peer lifecycle chaincode calculatepackageid` and
//! every Fabric tool agree with Cambium about package IDs.
//!
//! # The requirement
//!
//! A channel requires signed packages when its configuration has the Application policy
//! `PackageSigners` ([`POLICY_PATH`], `/Channel/Application/PackageSigners`), a signature
//! policy such as `AND('Org1MSP.admin','Org2MSP.admin')` or an implicit meta policy such as
//! `MAJORITY Admins`. Without it, packages need no signatures (Fabric's behaviour); signatures
//! given anyway must still be valid signatures of the package, and are recorded.
//!
//! - **Approve** (with a local package): the endorsing peer hashes its installed package; every
//!   signature must verify over it (a signature of other code is refused, naming its signer);
//!   with the requirement there must be signatures, and the signers must satisfy the policy.
//! - **Commit**: the approval of every org that approved exactly the definition with a local
//!   package must carry signatures that satisfy the policy **in force at commit** (a policy
//!   added or tightened since the approval applies).
//! - **Validation**: the validator checks both again with the channel's MSPs at the block's
//!   identity time (`ENDORSEMENT_POLICY_FAILURE` otherwise), so the verdict is the channel's,
//!   the same on every peer.
//!
//! The endorser's check runs inside the `_lifecycle` simulation over the channel's policy tree;
//! given the channel's MSPs ([`crate::scc::invoke_channel_with_msps`]) it evaluates the policy
//! exactly as the validator does; without them it verifies each signature with its
//! certificate's key and requires the signers' organisations to be able to satisfy the policy
//! ([`orgs_could_satisfy`]), leaving roles and certificate chains to the validator.

use std::collections::BTreeSet;
use std::io::Read;

use cambium_msp::policy::{self as msp_policy, Policy, PolicyGroup, SignedData};
use cambium_msp::{Certificate, MspManager, SigningIdentity};
use cambium_primitives::{ImplicitMetaRule, Principal, SerializedIdentity};
pub use cambium_wire::cambium_lifecycle::{
    PackageSignature, PackageSignatures, PackageSignaturesExtension,
};
use cambium_wire::Message;
use sha2::{Digest, Sha256};

use crate::error::{LifecycleError, Result};

/// The protobuf field number at which package signatures ride along the approve arguments and
/// stored approvals.
pub const FIELD: u32 = 1003;

/// The name of the Application policy that makes a channel require signed packages.
pub const POLICY_NAME: &str = "PackageSigners";

/// The absolute path of that policy.
pub const POLICY_PATH: &str = "/Channel/Application/PackageSigners";

/// The package file entry holding the `PackageSignatures` bytes.
pub const SIGNATURES_ENTRY: &str = "signatures.pb";

/// The package's metadata entry (Fabric's layout).
pub const METADATA_ENTRY: &str = "metadata.json";

/// The package's code entry (Fabric's layout).
pub const CODE_ENTRY: &str = "code.tar.gz";

/// The most bytes a package file may have (the VM's install limit is lower).
pub const MAX_PACKAGE_BYTES: usize = 64 << 20;

const HASH_TAG: &[u8] = b"cambium-package-hash/v1\n";
const STATEMENT_TAG: &[u8] = b"cambium-package-signature/v1\n";

/// The entries of a package file that matter for signing.
#[derive(Clone, Debug, PartialEq)]
pub struct PackageParts {
    /// The `metadata.json` bytes.
    pub metadata: Vec<u8>,
    /// The `code.tar.gz` bytes.
    pub code: Vec<u8>,
    /// The label from `metadata.json`.
    pub label: String,
    /// The owner signatures the file carries, if any.
    pub signatures: Option<PackageSignatures>,
}

impl PackageParts {
    /// The package hash of these parts.
    pub fn hash(&self) -> [u8; 32] {
        package_hash(&self.metadata, &self.code)
    }
}

fn bad_package(why: impl std::fmt::Display) -> LifecycleError {
    LifecycleError::BadArguments(format!(
        "not a contract package: {why}; pass the .tar.gz that `cambium contract package` wrote"
    ))
}

/// Reads the parts of a package file (a Fabric-layout `.tar.gz`).
pub fn read_parts(package: &[u8]) -> Result<PackageParts> {
    if package.len() > MAX_PACKAGE_BYTES {
        return Err(bad_package(format!(
            "it has {} bytes, more than {MAX_PACKAGE_BYTES}",
            package.len()
        )));
    }
    let mut archive = tar::Archive::new(flate2::read::GzDecoder::new(package));
    let (mut metadata, mut code, mut signatures) = (None, None, None);
    for entry in archive.entries().map_err(bad_package)? {
        let entry = entry.map_err(bad_package)?;
        let name = entry
            .path()
            .map_err(bad_package)?
            .to_string_lossy()
            .into_owned();
        let mut data = Vec::new();
        entry
            .take(MAX_PACKAGE_BYTES as u64 + 1)
            .read_to_end(&mut data)
            .map_err(bad_package)?;
        if data.len() > MAX_PACKAGE_BYTES {
            return Err(bad_package(format!("entry '{name}' is too large")));
        }
        match name.as_str() {
            METADATA_ENTRY => metadata = Some(data),
            CODE_ENTRY => code = Some(data),
            SIGNATURES_ENTRY => signatures = Some(data),
            _ => {}
        }
    }
    let metadata = metadata.ok_or_else(|| bad_package("it has no metadata.json"))?;
    let code = code.ok_or_else(|| bad_package("it has no code.tar.gz"))?;
    let label = label_of(&metadata)?;
    let signatures = signatures
        .map(|bytes| {
            PackageSignatures::decode(bytes.as_slice()).map_err(|e| {
                bad_package(format!(
                    "its {SIGNATURES_ENTRY} cannot be decoded ({e}); sign the unsigned package again"
                ))
            })
        })
        .transpose()?;
    Ok(PackageParts {
        metadata,
        code,
        label,
        signatures,
    })
}

/// The `label` of a `metadata.json`, read without a JSON library: the metadata is a flat
/// object of strings, as `cambium contract package` and Fabric write it.
fn label_of(metadata: &[u8]) -> Result<String> {
    let text =
        std::str::from_utf8(metadata).map_err(|_| bad_package("metadata.json is not UTF-8"))?;
    let after = text
        .split_once("\"label\"")
        .map(|(_, rest)| rest.trim_start())
        .and_then(|rest| rest.strip_prefix(':'))
        .map(str::trim_start)
        .and_then(|rest| rest.strip_prefix('"'))
        .ok_or_else(|| bad_package("metadata.json has no label"))?;
    let mut label = String::new();
    let mut chars = after.chars();
    while let Some(c) = chars.next() {
        match c {
            '"' => return Ok(label),
            '\\' => label.push(
                chars
                    .next()
                    .ok_or_else(|| bad_package("metadata.json ends inside the label"))?,
            ),
            c => label.push(c),
        }
    }
    Err(bad_package("metadata.json ends inside the label"))
}

/// Writes a package file from its parts: `metadata.json`, `code.tar.gz` and, when there are
/// signatures, `signatures.pb`, with fixed headers so the same parts give the same bytes.
pub fn write_parts(parts: &PackageParts) -> Result<Vec<u8>> {
    let failed = |e: std::io::Error| LifecycleError::Storage(format!("writing the package: {e}"));
    let mut builder = tar::Builder::new(flate2::write::GzEncoder::new(
        Vec::new(),
        flate2::Compression::default(),
    ));
    let signatures = parts.signatures.as_ref().map(Message::encode_to_vec);
    let mut entries: Vec<(&str, &[u8])> =
        vec![(METADATA_ENTRY, &parts.metadata), (CODE_ENTRY, &parts.code)];
    if let Some(bytes) = &signatures {
        entries.push((SIGNATURES_ENTRY, bytes));
    }
    for (name, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder
            .append_data(&mut header, name, data)
            .map_err(failed)?;
    }
    builder
        .into_inner()
        .map_err(failed)?
        .finish()
        .map_err(failed)
}

/// The package hash over `metadata.json` and `code.tar.gz` (see the module docs).
pub fn package_hash(metadata: &[u8], code: &[u8]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    hasher.update(HASH_TAG);
    for part in [metadata, code] {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
}

/// What a signer signs: the domain tag, the package hash and the signer's serialized identity.
pub fn statement(package_hash: &[u8], signer: &[u8]) -> Vec<u8> {
    [STATEMENT_TAG, package_hash, signer].concat()
}

/// Adds `signer`'s signature to the package file `package` (replacing an earlier signature by
/// the same identity) and returns the new file. The package hash is unchanged; signatures made
/// over another hash (the code changed since) are refused.
pub fn sign(package: &[u8], signer: &SigningIdentity) -> Result<Vec<u8>> {
    let mut parts = read_parts(package)?;
    let hash = parts.hash();
    let mut signatures = parts.signatures.take().unwrap_or_default();
    if !signatures.package_hash.is_empty() && signatures.package_hash != hash {
        return Err(LifecycleError::Refused(format!(
            "the package's signatures were made over package hash {} but its code and metadata hash to {}; the package was changed after it was signed: start again from the unsigned package",
            hex(&signatures.package_hash),
            hex(&hash)
        )));
    }
    let identity = cambium_wire::encode_serialized_identity(&signer.serialized());
    let signature = signer.sign(&statement(&hash, &identity)).map_err(|e| {
        LifecycleError::Refused(format!(
            "signing the package failed: {e}; check the signer's key"
        ))
    })?;
    let tbs = signer.certificate().tbs_hash();
    signatures.signatures.retain(|s| {
        signer_identity(s)
            .ok()
            .and_then(|id| Certificate::from_pem(&id.id_bytes, "signer").ok())
            .is_none_or(|cert| cert.tbs_hash() != tbs)
    });
    signatures.signatures.push(PackageSignature {
        signer: identity,
        signature,
    });
    signatures.package_hash = hash.to_vec();
    parts.signatures = Some(signatures);
    write_parts(&parts)
}

/// The signer of a signature, decoded.
pub fn signer_identity(signature: &PackageSignature) -> Result<SerializedIdentity> {
    cambium_wire::decode_serialized_identity(&signature.signer).map_err(|e| {
        LifecycleError::BadArguments(format!(
            "a package signature's signer is not a serialized identity ({e}); sign the package again"
        ))
    })
}

/// A short name for a signer: `MSPID` and the certificate's common name.
pub fn describe_signer(signature: &PackageSignature) -> String {
    match signer_identity(signature) {
        Ok(id) => {
            let cn = Certificate::from_pem(&id.id_bytes, "signer")
                .ok()
                .and_then(|c| c.common_name().map(str::to_owned))
                .unwrap_or_else(|| "an unreadable certificate".to_owned());
            format!("{} ({cn})", id.msp_id)
        }
        Err(_) => "an undecodable signer".to_owned(),
    }
}

/// The signatures as Fabric's signed data, for the MSP's verifier and policy evaluator.
pub fn signed_data(signatures: &PackageSignatures) -> Result<Vec<SignedData>> {
    signatures
        .signatures
        .iter()
        .map(|s| {
            Ok(SignedData {
                data: statement(&signatures.package_hash, &s.signer),
                identity: signer_identity(s)?,
                signature: s.signature.clone(),
            })
        })
        .collect()
}

/// Checks that every signature is a signature of `hash` by its certificate's key (no MSP
/// involved): a signature of other code, a corrupt one, or signatures recorded for another hash
/// are refused, naming the signer.
pub fn check_integrity(
    signatures: &PackageSignatures,
    hash: &[u8],
    package_id: &str,
) -> Result<()> {
    if signatures.package_hash != hash {
        return Err(LifecycleError::Refused(format!(
            "the package signatures are over package hash {} but package '{package_id}' hashes to {}: they were made for a different package (tampered or rebuilt code); have the owners sign this package with `cambium contract sign`",
            hex(&signatures.package_hash),
            hex(hash)
        )));
    }
    for (i, s) in signatures.signatures.iter().enumerate() {
        let id = signer_identity(s)?;
        let valid = Certificate::from_pem(&id.id_bytes, "package signer")
            .and_then(|cert| cert.verify(&statement(hash, &s.signer), &s.signature));
        if let Err(e) = valid {
            return Err(LifecycleError::Refused(format!(
                "package signature #{} by {} does not verify over package '{package_id}' ({e}): it was made over other code or is corrupt; sign this package again with `cambium contract sign`",
                i + 1,
                describe_signer(s)
            )));
        }
    }
    Ok(())
}

/// The channel's package-signing policy, if the channel requires signed packages.
pub fn requirement(channel: &PolicyGroup) -> Option<&Policy> {
    channel.policy(&format!("Application/{POLICY_NAME}"))
}

/// Every principal the requirement names (for an implicit meta policy, those of the orgs'
/// sub-policies), in order, without repeats.
pub fn principals(channel: &PolicyGroup) -> Vec<Principal> {
    fn collect(group: &PolicyGroup, name: &str, out: &mut Vec<Principal>) {
        match group.policies.get(name) {
            Some(Policy::Signature(env)) => {
                for p in &env.identities {
                    if !out.contains(p) {
                        out.push(p.clone());
                    }
                }
            }
            Some(Policy::ImplicitMeta(meta)) => {
                for child in group.groups.values() {
                    collect(child, &meta.sub_policy, out);
                }
            }
            None => {}
        }
    }
    let mut out = Vec::new();
    if let Some(app) = channel.group("Application") {
        collect(app, POLICY_NAME, &mut out);
    }
    out
}

/// The requirement in words: the policy and the principals it names.
pub fn describe_requirement(channel: &PolicyGroup) -> String {
    let policy = match requirement(channel) {
        Some(Policy::Signature(env)) => msp_policy::format(env),
        Some(Policy::ImplicitMeta(meta)) => {
            let rule = match meta.rule {
                ImplicitMetaRule::Any => "ANY",
                ImplicitMetaRule::All => "ALL",
                ImplicitMetaRule::Majority => "MAJORITY",
            };
            format!("{rule} {}", meta.sub_policy)
        }
        None => return "no package signatures".to_owned(),
    };
    format!("{POLICY_PATH} = {policy}")
}

fn names(principals: &[Principal]) -> String {
    principals
        .iter()
        .map(|p| msp_policy::DisplayPrincipal(p).to_string())
        .collect::<Vec<_>>()
        .join(", ")
}

/// Whether signers of the organisations `orgs` could satisfy the requirement at all, judging
/// each principal by its MSP ID only (an upper bound: roles and certificate chains need the
/// channel's MSPs); `None` when the channel has no requirement.
pub fn orgs_could_satisfy(channel: &PolicyGroup, orgs: &BTreeSet<String>) -> Option<bool> {
    requirement(channel)?;
    crate::readiness::orgs_satisfy(
        &crate::ApplicationPolicy::ChannelReference(POLICY_PATH.to_owned()),
        channel,
        orgs,
    )
    .ok()
}

/// The refusal for a package without signatures on a channel that requires them.
pub fn unsigned_refusal(channel: &PolicyGroup, what: &str) -> LifecycleError {
    LifecycleError::Refused(format!(
        "{what} carries no owner signatures, but channel policy {} requires them; missing signatures from: {}; have those owners run `cambium contract sign PKG --signer MSPID=DIR`, install the signed package and approve with it",
        describe_requirement(channel),
        names(&principals(channel))
    ))
}

/// Checks `signatures` (already known to be over the package) against the channel's
/// requirement: without MSPs, the signers' organisations must be able to satisfy it; with the
/// channel's MSPs (validating identities at `at`, unix seconds), the policy is evaluated
/// exactly as the validator evaluates it. Refusals name the missing principals.
pub fn check_requirement(
    channel: &PolicyGroup,
    msps: Option<&MspManager>,
    at: i64,
    signatures: Option<&PackageSignatures>,
    what: &str,
) -> Result<()> {
    if requirement(channel).is_none() {
        return Ok(());
    }
    let Some(signatures) = signatures.filter(|s| !s.signatures.is_empty()) else {
        return Err(unsigned_refusal(channel, what));
    };
    let signers: Vec<SerializedIdentity> = signatures
        .signatures
        .iter()
        .map(signer_identity)
        .collect::<Result<_>>()?;
    let refuse = |missing: Vec<Principal>, detail: String| {
        LifecycleError::Refused(format!(
            "the owner signatures of {what} (by {}) do not satisfy channel policy {}{detail}; missing signatures from: {}; have those owners run `cambium contract sign PKG --signer MSPID=DIR`, install the signed package and approve with it",
            signatures.signatures.iter().map(describe_signer).collect::<Vec<_>>().join(", "),
            describe_requirement(channel),
            if missing.is_empty() { "principals of the policy".to_owned() } else { names(&missing) },
        ))
    };
    let Some(msps) = msps else {
        let orgs: BTreeSet<String> = signers.iter().map(|s| s.msp_id.clone()).collect();
        if orgs_could_satisfy(channel, &orgs) == Some(false) {
            let missing = principals(channel)
                .into_iter()
                .filter(|p| !principal_org(p).is_some_and(|o| orgs.contains(o)))
                .collect();
            return Err(refuse(missing, String::new()));
        }
        return Ok(());
    };
    let verified = msp_policy::verify_signed_data(&signed_data(signatures)?, msps, at);
    let relative = POLICY_PATH.trim_start_matches("/Channel/");
    if let Err(e) = channel.evaluate(relative, &verified, msps) {
        let missing = principals(channel)
            .into_iter()
            .filter(|p| {
                !verified
                    .identities
                    .iter()
                    .any(|id| msps.satisfies_principal(id, p).is_ok())
            })
            .collect();
        return Err(refuse(missing, format!(" ({e})")));
    }
    Ok(())
}

/// The MSP ID a principal belongs to, if it names one.
fn principal_org(p: &Principal) -> Option<&str> {
    match p {
        Principal::Role { msp_id, .. } | Principal::OrganizationUnit { msp_id, .. } => Some(msp_id),
        Principal::Identity(_) => None,
    }
}

/// The package signatures carried at field [`FIELD`] of an encoded message, if any.
pub fn from_message(bytes: &[u8]) -> Result<Option<PackageSignatures>> {
    PackageSignaturesExtension::decode(bytes)
        .map(|e| e.package_signatures)
        .map_err(|e| {
            LifecycleError::BadArguments(format!(
                "the package signatures (field {FIELD}) cannot be decoded: {e}; send a cambium.lifecycle.PackageSignatures"
            ))
        })
}

/// Appends `signatures` as field [`FIELD`] to the encoded message `bytes`.
pub fn append(signatures: &PackageSignatures, bytes: &mut Vec<u8>) {
    PackageSignaturesExtension {
        package_signatures: Some(signatures.clone()),
    }
    .encode(bytes)
    .unwrap_or_else(|_| unreachable!("a Vec grows as needed"));
}

/// Lowercase hex of `bytes`.
pub fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[cfg(test)]
mod tests {
    use std::sync::LazyLock;

    use cambium_cryptogen::{CryptoConfig, GenerateOptions, GeneratedNetwork, Role};
    use cambium_msp::{load_signing_identity, Msp, MspConfig};

    use super::*;

    struct Orgs {
        _dir: tempfile::TempDir,
        admin1: SigningIdentity,
        admin2: SigningIdentity,
        client2: SigningIdentity,
        /// Calls itself Org2MSP's admin, issued by a CA the channel does not know.
        foreign_admin2: SigningIdentity,
        msps: MspManager,
    }

    fn identity(net: &GeneratedNetwork, msp_id: &str, role: Role) -> SigningIdentity {
        let org = net.org(msp_id).unwrap();
        let id = org
            .nodes
            .iter()
            .chain(&org.users)
            .find(|i| i.role == role)
            .unwrap();
        load_signing_identity(&id.msp_dir, msp_id).unwrap()
    }

    static ORGS: LazyLock<Orgs> = LazyLock::new(|| {
        let dir = tempfile::tempdir().unwrap();
        let generate = |sub: &str| {
            cambium_cryptogen::generate(
                &CryptoConfig::default_network(),
                &dir.path().join(sub),
                GenerateOptions::default(),
            )
            .unwrap()
        };
        let (net, other) = (generate("ours"), generate("other"));
        let msp = |id: &str| {
            Msp::new(&MspConfig::from_dir(&net.org(id).unwrap().msp_dir, id).unwrap()).unwrap()
        };
        Orgs {
            admin1: identity(&net, "Org1MSP", Role::Admin),
            admin2: identity(&net, "Org2MSP", Role::Admin),
            client2: identity(&net, "Org2MSP", Role::Client),
            foreign_admin2: identity(&other, "Org2MSP", Role::Admin),
            msps: MspManager::new([msp("Org1MSP"), msp("Org2MSP")]).unwrap(),
            _dir: dir,
        }
    });

    const BOTH_ADMINS: &str = "AND('Org1MSP.admin','Org2MSP.admin')";

    fn channel(requirement: Option<Policy>) -> PolicyGroup {
        let mut app = PolicyGroup::new();
        for org in ["Org1MSP", "Org2MSP"] {
            let admins = msp_policy::parse(&format!("OR('{org}.admin')")).unwrap();
            app = app.with_group(
                org,
                PolicyGroup::new().with_policy("Admins", Policy::Signature(admins)),
            );
        }
        if let Some(policy) = requirement {
            app = app.with_policy(POLICY_NAME, policy);
        }
        PolicyGroup::new().with_group("Application", app)
    }

    fn requiring(dsl: &str) -> PolicyGroup {
        channel(Some(Policy::Signature(msp_policy::parse(dsl).unwrap())))
    }

    fn unsigned(code: &[u8]) -> Vec<u8> {
        write_parts(&PackageParts {
            metadata: br#"{"path":"","type":"wasm","label":"kv_1"}"#.to_vec(),
            code: code.to_vec(),
            label: "kv_1".into(),
            signatures: None,
        })
        .unwrap()
    }

    fn signatures_of(package: &[u8]) -> PackageSignatures {
        read_parts(package).unwrap().signatures.unwrap()
    }

    /// Verifies `package`'s own signatures over its own hash, then the requirement.
    fn check(channel: &PolicyGroup, msps: Option<&MspManager>, package: &[u8]) -> Result<()> {
        let parts = read_parts(package)?;
        if let Some(s) = &parts.signatures {
            check_integrity(s, &parts.hash(), "kv_1:x")?;
        }
        check_requirement(
            channel,
            msps,
            now(),
            parts.signatures.as_ref(),
            "package 'kv_1:x'",
        )
    }

    fn now() -> i64 {
        ORGS.admin1.certificate().not_before() + 3600
    }

    #[test]
    fn signing_keeps_the_hash_and_collects_one_signature_per_signer() {
        let o = &*ORGS;
        let package = unsigned(b"code v1");
        let hash = read_parts(&package).unwrap().hash();
        let once = sign(&package, &o.admin1).unwrap();
        assert_ne!(once, package, "the file changes");
        let parts = read_parts(&once).unwrap();
        assert_eq!((parts.hash(), parts.label.as_str()), (hash, "kv_1"));
        let twice = sign(&sign(&once, &o.admin2).unwrap(), &o.admin1).unwrap();
        let signatures = signatures_of(&twice);
        assert_eq!(signatures.package_hash, hash.to_vec());
        let signers: Vec<String> = signatures.signatures.iter().map(describe_signer).collect();
        assert_eq!(signers.len(), 2, "signing again replaces: {signers:?}");
        assert!(
            signers[0].starts_with("Org2MSP (") && signers[1].starts_with("Org1MSP ("),
            "{signers:?}"
        );
        check_integrity(&signatures, &hash, "kv_1:x").unwrap();
        assert_eq!(signed_data(&signatures).unwrap().len(), 2);
    }

    #[test]
    fn signatures_of_other_code_are_refused() {
        let o = &*ORGS;
        let signed = sign(&unsigned(b"code v1"), &o.admin1).unwrap();
        let mut parts = read_parts(&signed).unwrap();
        parts.code = b"tampered".to_vec();
        let tampered = write_parts(&parts).unwrap();
        let err = check(&channel(None), None, &tampered)
            .unwrap_err()
            .to_string();
        assert!(err.contains("made for a different package"), "{err}");
        let err = sign(&tampered, &o.admin2).unwrap_err().to_string();
        assert!(err.contains("changed after it was signed"), "{err}");
        // A signature whose bytes were altered names its signer.
        let mut signatures = signatures_of(&signed);
        signatures.signatures[0].signature[8] ^= 1;
        let err = check_integrity(&signatures, &read_parts(&signed).unwrap().hash(), "kv_1:x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("package signature #1 by Org1MSP"), "{err}");
    }

    #[test]
    fn the_requirement_is_evaluated_with_the_channel_msps() {
        let o = &*ORGS;
        let both = requiring(BOTH_ADMINS);
        let package = unsigned(b"code");
        let signed = sign(&sign(&package, &o.admin1).unwrap(), &o.admin2).unwrap();
        check(&both, Some(&o.msps), &signed).unwrap();
        check(&both, None, &signed).unwrap();

        let err = check(&both, Some(&o.msps), &package)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("carries no owner signatures")
                && err.contains("missing signatures from: Org1MSP.admin, Org2MSP.admin")
                && err.contains("cambium contract sign"),
            "{err}"
        );
        // A member instead of an admin: only the MSPs can tell.
        let member = sign(&sign(&package, &o.admin1).unwrap(), &o.client2).unwrap();
        check(&both, None, &member).unwrap();
        let err = check(&both, Some(&o.msps), &member)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing signatures from: Org2MSP.admin"),
            "{err}"
        );
        // Another org only: refused even without the MSPs.
        let org1 = sign(&package, &o.admin1).unwrap();
        let err = check(&both, None, &org1).unwrap_err().to_string();
        assert!(
            err.contains("missing signatures from: Org2MSP.admin"),
            "{err}"
        );
        // A certificate the channel's MSP does not accept.
        let foreign = sign(&sign(&package, &o.admin1).unwrap(), &o.foreign_admin2).unwrap();
        let err = check(&both, Some(&o.msps), &foreign)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("missing signatures from: Org2MSP.admin"),
            "{err}"
        );
        // An implicit meta requirement over the orgs' Admins policies.
        let majority = channel(Some(Policy::ImplicitMeta(
            msp_policy::parse_implicit_meta("MAJORITY Admins").unwrap(),
        )));
        check(&majority, Some(&o.msps), &signed).unwrap();
        let err = check(&majority, Some(&o.msps), &org1)
            .unwrap_err()
            .to_string();
        assert!(
            err.contains("MAJORITY Admins") && err.contains("Org2MSP.admin"),
            "{err}"
        );
        // No requirement: anything goes, signed or not.
        check(&channel(None), Some(&o.msps), &package).unwrap();
        check(&channel(None), Some(&o.msps), &member).unwrap();
        assert_eq!(
            describe_requirement(&channel(None)),
            "no package signatures"
        );
    }

    #[test]
    fn signatures_ride_at_field_1003() {
        let signatures = signatures_of(&sign(&unsigned(b"code"), &ORGS.admin1).unwrap());
        let mut bytes = cambium_wire::lifecycle::ApproveChaincodeDefinitionForMyOrgArgs {
            name: "kv".into(),
            sequence: 1,
            ..Default::default()
        }
        .encode_to_vec();
        assert_eq!(from_message(&bytes).unwrap(), None);
        let start = bytes.len();
        append(&signatures, &mut bytes);
        // Tag of field 1003, wire type 2: varint (1003 << 3 | 2) = 8026 = 0xda 0x3e.
        assert_eq!(&bytes[start..start + 2], &[0xda, 0x3e]);
        assert_eq!(from_message(&bytes).unwrap(), Some(signatures));
        let fabric = cambium_wire::lifecycle::ApproveChaincodeDefinitionForMyOrgArgs::decode(
            bytes.as_slice(),
        )
        .unwrap();
        assert_eq!(fabric.sequence, 1);
        assert_eq!(crate::upgrade_policy::from_message(&bytes).unwrap(), None);
    }

    /// One installed package, for approvals through the `_lifecycle` functions.
    struct OnePackage(Vec<u8>);

    impl crate::PackageStore for OnePackage {
        fn install(&self, _: &[u8]) -> Result<crate::InstalledPackage> {
            Err(LifecycleError::Refused("read-only".into()))
        }
        fn installed(&self) -> Result<Vec<crate::InstalledPackage>> {
            Ok(vec![crate::InstalledPackage {
                package_id: "kv_1:x".into(),
                label: "kv_1".into(),
            }])
        }
        fn get(&self, id: &str) -> Result<Option<crate::InstalledPackage>> {
            Ok(self.installed()?.into_iter().find(|p| p.package_id == id))
        }
        fn package_bytes(&self, id: &str) -> Result<Option<Vec<u8>>> {
            Ok((id == "kv_1:x").then(|| self.0.clone()))
        }
    }

    #[test]
    fn approvals_are_judged_with_the_channel_msps_when_the_endorser_has_them() {
        use crate::scc::{self, ChannelContext};
        let o = &*ORGS;
        let channel = requiring(BOTH_ADMINS);
        let orgs = vec!["Org1MSP".to_owned(), "Org2MSP".to_owned()];
        let ctx = ChannelContext {
            channel_id: "mychannel",
            orgs: &orgs,
            peer_msp_id: "Org1MSP",
            creator_msp_id: "Org1MSP",
            policies: &channel,
        };
        let args = cambium_wire::lifecycle::ApproveChaincodeDefinitionForMyOrgArgs {
            sequence: 1,
            name: "kv".into(),
            version: "1.0".into(),
            source: Some(crate::PackageSource::Local("kv_1:x".into()).to_wire()),
            ..Default::default()
        }
        .encode_to_vec();
        let approve = |package: &[u8], msps: Option<&MspManager>| {
            let mut sim = crate::state::tests::MapSim::default();
            let store = OnePackage(package.to_vec());
            let none = |_: &str| Ok(scc::References::new());
            let result = match msps {
                None => scc::invoke_channel(&ctx, &mut sim, &store, &none, scc::APPROVE, &args),
                Some(msps) => scc::invoke_channel_with_msps(
                    &ctx,
                    msps,
                    now(),
                    &mut sim,
                    &store,
                    &none,
                    scc::APPROVE,
                    &args,
                ),
            };
            result.map(|_| sim.writes)
        };
        let package = unsigned(b"code");
        let member = sign(&sign(&package, &o.admin1).unwrap(), &o.client2).unwrap();
        approve(&member, None).expect("the orgs could satisfy the policy");
        let err = approve(&member, Some(&o.msps)).unwrap_err().to_string();
        assert!(
            err.contains("missing signatures from: Org2MSP.admin"),
            "{err}"
        );
        let both = sign(&sign(&package, &o.admin1).unwrap(), &o.admin2).unwrap();
        let writes = approve(&both, Some(&o.msps)).unwrap();
        let stored = &writes[&crate::approval_key("Org1MSP", "kv", 1)];
        assert_eq!(from_message(stored).unwrap(), Some(signatures_of(&both)));
    }

    #[test]
    fn labels_are_read_from_metadata() {
        assert_eq!(
            label_of(br#"{"path":"","type":"wasm","label":"a\"b"}"#).unwrap(),
            "a\"b"
        );
        assert!(label_of(br#"{"type":"wasm"}"#).is_err());
        assert!(read_parts(b"not a package").is_err());
    }
}
