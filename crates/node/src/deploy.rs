//! `cambium contract deploy`: a contract from source, `.wasm` or package to a committed
//! definition in one step. Package → install on every peer of every organisation in the
//! profile → approve for each organisation → commit, with the next sequence computed from the
//! committed definition. Each organisation installs and then approves independently of the
//! others. Steps that are already done (a package already installed) are skipped, so a failed
//! deploy can simply be run again. Redeploying over a committed definition first checks the
//! package's interface against the committed one and refuses a breaking change unless
//! `allow_breaking` is set (see [`crate::upgrade::refuse_breaking`]). On a channel that
//! requires signed packages (`Application/PackageSigners`), the package's owner signatures
//! are checked against the channel's policy before anything is installed, and each
//! organisation approves with them (see [`crate::admin::check_package_signatures`]).

use std::path::{Path, PathBuf};
use std::time::Instant;

use cambium_lifecycle::package_signing::{self, PackageSignatures};
use cambium_vm::package::{package_id, read_package, write_package};
use serde::Serialize;

use crate::admin::{Admin, Committed, Definition};
use crate::error::{NodeError, Result};
use crate::profile::ConnectionProfile;

/// What to deploy and how.
#[derive(Clone, Debug, Default)]
pub struct DeployOptions {
    /// The contract's name on the channel (e.g. `basic`).
    pub name: String,
    /// The definition's version; default `1.0`.
    pub version: Option<String>,
    /// A signature policy, e.g. `AND('Org1MSP.peer','Org2MSP.peer')`; default the channel's
    /// endorsement policy.
    pub signature_policy: Option<String>,
    /// Whether `Init` must run once first.
    pub init_required: bool,
    /// The channel; default the profile's.
    pub channel: Option<String>,
    /// Deploy even if the package breaks the interface of the committed definition.
    pub allow_breaking: bool,
}

/// A step of a deploy, for a progress display.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Installing (or finding installed) the package on a peer.
    Install {
        /// The peer.
        peer: String,
        /// Whether it was already installed.
        already: bool,
    },
    /// The next sequence was determined.
    Sequence(i64),
    /// The new package's interface was checked against the committed definition's.
    Checked {
        /// Whether it breaks it (and `--allow-breaking` let it through).
        breaking: bool,
    },
    /// An organisation approved.
    Approved {
        /// The organisation.
        org: String,
    },
    /// The definition committed.
    Committed,
}

/// What a deploy did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct DeployReport {
    /// The definition committed.
    pub definition: Definition,
    /// The package ID every organisation approved.
    pub package_id: String,
    /// Peers the package was installed on now.
    pub installed: Vec<String>,
    /// Peers that had it already.
    pub already_installed: Vec<String>,
    /// Organisations that approved.
    pub approved: Vec<String>,
    /// The commit transaction.
    pub commit: Committed,
    /// Wall time from the first install to the commit, ms (packaging not included).
    pub elapsed_ms: u64,
}

/// Where a contract comes from: a contract crate folder, a `.wasm` file or a package.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Source {
    /// A contract crate to build first.
    Crate(PathBuf),
    /// A built module.
    Wasm(PathBuf),
    /// A package (`.tar.gz`).
    Package(PathBuf),
}

impl Source {
    /// Classifies `path`; fails with a clear message when it does not exist or is none of them.
    pub fn of(path: &Path) -> Result<Source> {
        if path.is_dir() {
            if path.join("Cargo.toml").is_file() {
                return Ok(Source::Crate(path.to_owned()));
            }
            return Err(NodeError::Package(format!(
                "{} is a folder without Cargo.toml; pass a contract crate, a .wasm file or a package",
                path.display()
            )));
        }
        if !path.is_file() {
            return Err(NodeError::Package(format!(
                "{} does not exist; pass a contract crate folder, a .wasm file or a package .tar.gz",
                path.display()
            )));
        }
        let mut head = [0u8; 4];
        let n = std::io::Read::read(
            &mut std::fs::File::open(path).map_err(|e| NodeError::io("reading", path, e))?,
            &mut head,
        )
        .map_err(|e| NodeError::io("reading", path, e))?;
        if n == 4 && &head == b"\0asm" {
            Ok(Source::Wasm(path.to_owned()))
        } else {
            Ok(Source::Package(path.to_owned()))
        }
    }

    /// The module bytes: built (crates), read (modules) or taken out of the package.
    pub fn wasm(&self) -> Result<Vec<u8>> {
        let path = match self {
            Source::Package(path) => {
                let bytes = std::fs::read(path).map_err(|e| NodeError::io("reading", path, e))?;
                return read_package(&bytes).map(|p| p.wasm).map_err(|e| {
                    NodeError::Package(format!("{} is not a contract package: {e}", path.display()))
                });
            }
            Source::Wasm(path) => path.clone(),
            Source::Crate(dir) => cambium_vm::toolchain::build(dir, &dir.join("target"))
                .map_err(|e| NodeError::Package(format!("building {}: {e}", dir.display())))?,
        };
        std::fs::read(&path).map_err(|e| NodeError::io("reading", &path, e))
    }

    /// The package bytes: built (crates), packaged under `label` (crates and modules) or read.
    pub fn package(&self, label: &str) -> Result<Vec<u8>> {
        let wasm_path = match self {
            Source::Package(path) => {
                let bytes = std::fs::read(path).map_err(|e| NodeError::io("reading", path, e))?;
                read_package(&bytes).map_err(|e| {
                    NodeError::Package(format!("{} is not a contract package: {e}", path.display()))
                })?;
                return Ok(bytes);
            }
            Source::Wasm(path) => path.clone(),
            Source::Crate(dir) => cambium_vm::toolchain::build(dir, &dir.join("target"))
                .map_err(|e| NodeError::Package(format!("building {}: {e}", dir.display())))?,
        };
        let wasm =
            std::fs::read(&wasm_path).map_err(|e| NodeError::io("reading", &wasm_path, e))?;
        write_package(&wasm, label).map_err(|e| NodeError::Package(e.to_string()))
    }
}

/// The label of `package` and its Fabric package ID (`label:sha256`).
pub(crate) fn package_label_and_id(package: &[u8]) -> Result<(String, String)> {
    let label = read_package(package)
        .map_err(|e| NodeError::Package(format!("not a contract package: {e}")))?
        .metadata
        .label;
    let id = package_id(&label, package);
    Ok((label, id))
}

/// An admin of every organisation in `profile` (on `channel`, or the profile's), in the
/// profile's order; at least one.
pub(crate) fn org_admins(profile: &ConnectionProfile, channel: Option<&str>) -> Result<Vec<Admin>> {
    let admins = profile
        .organizations
        .keys()
        .map(|org| Admin::new(profile.clone(), org, channel))
        .collect::<Result<Vec<_>>>()?;
    if admins.is_empty() {
        return Err(NodeError::Rejected(
            "the connection profile lists no organizations".to_owned(),
        ));
    }
    Ok(admins)
}

/// Deploys `package` as `options.name` on every organisation of `profile`, reporting each
/// step to `progress`.
pub async fn deploy(
    profile: &ConnectionProfile,
    package: &[u8],
    options: &DeployOptions,
    progress: &(dyn Fn(&Step) + Sync),
) -> Result<DeployReport> {
    let (_, id) = package_label_and_id(package)?;
    let started = Instant::now();
    let admins = org_admins(profile, options.channel.as_deref())?;

    // The next sequence, asked while nothing else is in flight.
    let first = &admins[0];
    let first_peer = first.peer_name(None)?;
    let sequence = first.committed_sequence(&first_peer, &options.name).await? + 1;
    progress(&Step::Sequence(sequence));
    if sequence > 1 {
        let compat =
            crate::upgrade::compat_against_committed(&admins, &options.name, package).await?;
        crate::upgrade::refuse_breaking(&compat, options.allow_breaking)?;
        progress(&Step::Checked {
            breaking: matches!(&compat, crate::upgrade::CompatCheck::Compared { report, .. } if report.is_breaking()),
        });
    }
    let mut definition = Definition::new(
        &options.name,
        options.version.as_deref().unwrap_or("1.0"),
        sequence,
    );
    definition.init_required = options.init_required;
    if let Some(policy) = &options.signature_policy {
        definition = definition.with_signature_policy(policy)?;
    }

    // Owner signatures, checked against the channel's requirement before anything changes.
    let signatures = first.package_signatures(&first_peer, package).await?;
    let Installs {
        installed,
        already_installed,
        approved,
    } = install_and_approve(
        profile,
        &admins,
        package,
        &id,
        &definition,
        signatures.as_ref(),
        progress,
    )
    .await?;

    let endorsers = admins
        .iter()
        .map(|a| a.peer_name(None))
        .collect::<Result<Vec<_>>>()?;
    let commit = first.commit(&endorsers, &definition).await?;
    // Return once every endorser serves the new definition, so the next command sees it.
    first
        .wait_for_sequence(&endorsers, &options.name, sequence)
        .await?;
    progress(&Step::Committed);

    Ok(DeployReport {
        definition,
        package_id: id,
        installed,
        already_installed,
        approved,
        commit,
        elapsed_ms: u64::try_from(started.elapsed().as_millis()).unwrap_or(u64::MAX),
    })
}

/// One owner signature of a package, as `cambium contract inspect` and `sign` show it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackageSigner {
    /// The signer's MSP ID.
    pub msp_id: String,
    /// The common name of the signer's certificate.
    pub signer: String,
    /// Whether the signature verifies over this package with the certificate's key (whether
    /// the channel accepts the certificate and its role is the channel's judgement).
    pub valid: bool,
}

/// A package's signing facts: its package ID, the hash owners sign, and its signers.
#[derive(Clone, Debug, PartialEq, Eq, Serialize)]
pub struct PackageSigning {
    /// Fabric's package ID of the file (`label:sha256`); it changes with every signature.
    pub package_id: String,
    /// The package hash owners sign (hex; over `metadata.json` and `code.tar.gz`, unchanged
    /// by signatures).
    pub package_hash: String,
    /// The owner signatures the file carries, in the order they were added.
    pub signers: Vec<PackageSigner>,
}

/// The signing facts of the package file `package`.
pub fn package_signing(package: &[u8]) -> Result<PackageSigning> {
    let parts =
        package_signing::read_parts(package).map_err(|e| NodeError::Package(e.to_string()))?;
    let hash = parts.hash();
    let signers = parts
        .signatures
        .iter()
        .flat_map(|s| s.signatures.iter().map(move |one| (s, one)))
        .map(|(all, one)| {
            let single = PackageSignatures {
                package_hash: all.package_hash.clone(),
                signatures: vec![one.clone()],
            };
            let described = package_signing::describe_signer(one);
            let (msp_id, signer) = described
                .split_once(" (")
                .map(|(m, rest)| (m.to_owned(), rest.trim_end_matches(')').to_owned()))
                .unwrap_or((described.clone(), String::new()));
            PackageSigner {
                msp_id,
                signer,
                valid: package_signing::check_integrity(&single, &hash, &parts.label).is_ok(),
            }
        })
        .collect();
    Ok(PackageSigning {
        package_id: package_id(&parts.label, package),
        package_hash: package_signing::hex(&hash),
        signers,
    })
}

/// Adds the signature of the identity in the MSP folder `msp_dir` (MSP ID `msp_id`; its
/// `signcerts/` and `keystore/`) to the package file at `path`, writing the result to `out`
/// (default: `path` itself); returns the signed file's signing facts. Signing again with the
/// same identity replaces its signature.
pub fn sign_package_file(
    path: &Path,
    msp_id: &str,
    msp_dir: &Path,
    out: Option<&Path>,
) -> Result<PackageSigning> {
    let package = std::fs::read(path).map_err(|e| NodeError::io("reading", path, e))?;
    let signer = cambium_msp::load_signing_identity(msp_dir, msp_id).map_err(|e| {
        NodeError::Rejected(format!(
            "the signer {msp_id}={}: {e}; pass an admin's MSP folder (with signcerts/ and keystore/)",
            msp_dir.display()
        ))
    })?;
    let signed = package_signing::sign(&package, &signer)
        .map_err(|e| NodeError::Package(format!("{}: {e}", path.display())))?;
    let out = out.unwrap_or(path);
    let tmp = out.with_extension("signing");
    std::fs::write(&tmp, &signed).map_err(|e| NodeError::io("writing", &tmp, e))?;
    std::fs::rename(&tmp, out).map_err(|e| NodeError::io("replacing", out, e))?;
    package_signing(&signed)
}

/// What [`install_and_approve`] did.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub(crate) struct Installs {
    /// Peers the package was installed on now.
    pub(crate) installed: Vec<String>,
    /// Peers that had it already.
    pub(crate) already_installed: Vec<String>,
    /// Organisations that approved.
    pub(crate) approved: Vec<String>,
}

/// Per organisation of `admins`: installs `package` (ID `id`) on each of its peers
/// (concurrently, skipping peers that have it), then approves `definition` with it, sending
/// the package's owner `signatures`. Organisations proceed independently, except that the
/// first organisation's installs go first and the others start when they are done: peers that
/// share a compile cache (all of `cambium up`'s do) then compile the module once instead of
/// each compiling it at the same time on the same cores. Shared by deploy and upgrade.
pub(crate) async fn install_and_approve(
    profile: &ConnectionProfile,
    admins: &[Admin],
    package: &[u8],
    id: &str,
    definition: &Definition,
    signatures: Option<&PackageSignatures>,
    progress: &(dyn Fn(&Step) + Sync),
) -> Result<Installs> {
    let (first_done, first_installed) = tokio::sync::watch::channel(false);
    let mut first_done = Some(first_done);
    let mut orgs = Vec::new();
    for admin in admins {
        let peers = profile.organizations[&admin.org].peers.clone();
        let admin = admin.clone();
        let package = package.to_vec();
        let id = id.to_owned();
        let definition = definition.clone();
        let signatures = signatures.cloned();
        let done = first_done.take();
        let mut wait = first_installed.clone();
        orgs.push(tokio::spawn(async move {
            if done.is_none() {
                // Ends when the first organisation's installs finish (or its task ends).
                let _ = wait.wait_for(|installed| *installed).await;
            }
            let mut installs = Vec::new();
            for peer in peers {
                let admin = admin.clone();
                let package = package.clone();
                let id = id.clone();
                installs.push(tokio::spawn(async move {
                    let already = admin
                        .query_installed(&peer)
                        .await?
                        .iter()
                        .any(|p| p.package_id == id);
                    if !already {
                        admin.install(&peer, &package).await?;
                    }
                    Ok::<_, NodeError>((peer, already))
                }));
            }
            let mut results = Vec::new();
            for task in installs {
                results.push(join(task).await?);
            }
            if let Some(done) = done {
                let _ = done.send(true);
            }
            let peer = admin.peer_name(None)?;
            admin
                .approve_signed(&peer, &definition, Some(&id), signatures.as_ref())
                .await?;
            Ok::<_, NodeError>((admin.org.clone(), results))
        }));
    }
    let mut out = Installs::default();
    for task in orgs {
        let (org, results) = join(task).await?;
        for (peer, already) in results {
            progress(&Step::Install {
                peer: peer.clone(),
                already,
            });
            if already {
                out.already_installed.push(peer);
            } else {
                out.installed.push(peer);
            }
        }
        progress(&Step::Approved { org: org.clone() });
        out.approved.push(org);
    }
    Ok(out)
}

async fn join<T>(task: tokio::task::JoinHandle<Result<T>>) -> Result<T> {
    task.await
        .map_err(|e| NodeError::Rejected(format!("a deploy step stopped unexpectedly: {e}")))?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sources_are_classified_or_refused_with_a_reason() {
        let tmp = tempfile::tempdir().unwrap();
        let missing = tmp.path().join("nope");
        let err = Source::of(&missing).unwrap_err().to_string();
        assert!(err.contains("does not exist"), "{err}");
        let err = Source::of(tmp.path()).unwrap_err().to_string();
        assert!(err.contains("without Cargo.toml"), "{err}");

        let wasm = tmp.path().join("c.wasm");
        std::fs::write(&wasm, b"\0asm\x01\0\0\0").unwrap();
        assert_eq!(Source::of(&wasm).unwrap(), Source::Wasm(wasm.clone()));
        assert_eq!(
            Source::of(&wasm).unwrap().wasm().unwrap(),
            b"\0asm\x01\0\0\0"
        );
        let pkg = tmp.path().join("c.tar.gz");
        std::fs::write(&pkg, write_package(b"\0asm\x01\0\0\0", "c_1").unwrap()).unwrap();
        assert_eq!(Source::of(&pkg).unwrap(), Source::Package(pkg.clone()));
        let bytes = Source::of(&pkg).unwrap().package("ignored").unwrap();
        assert_eq!(read_package(&bytes).unwrap().metadata.label, "c_1");
        assert_eq!(
            Source::of(&pkg).unwrap().wasm().unwrap(),
            b"\0asm\x01\0\0\0"
        );

        let junk = tmp.path().join("junk.tar.gz");
        std::fs::write(&junk, b"not a package").unwrap();
        let err = Source::of(&junk)
            .unwrap()
            .package("x")
            .unwrap_err()
            .to_string();
        assert!(err.contains("is not a contract package"), "{err}");
    }
}
