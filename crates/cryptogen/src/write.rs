//! Writing material to disk: one organisation's folders, then moving finished organisations into place.
//!
//! Generation writes every organisation into a staging folder inside the output folder, so a
//! failure leaves nothing half-written where users look; finished organisations are then renamed
//! into place (same file system, so each rename is atomic). Existing material is only replaced
//! with `force`, and is kept until all new organisations are in place, so a failure restores it.

use std::fs::{self, OpenOptions};
use std::io::Write;
use std::path::{Path, PathBuf};

use serde::Serialize;

use crate::cert::{self, Ca, LeafKind, Validity};
use crate::error::{CryptogenError, Result};
use crate::network::{GeneratedOrg, Identity};
use crate::plan::OrgPlan;

/// Writes one organisation's CAs, MSP folder, nodes and users at the paths in `plan`.
pub(crate) fn write_org(plan: &OrgPlan, validity: Validity) -> Result<()> {
    let org = &plan.org;
    let ca = cert::new_ca(
        &org.ca.common_name,
        &org.domain,
        &plan.subject,
        &plan.ca_sans,
        validity,
    )?;
    let tls_ca = cert::new_ca(
        &org.tls_ca.common_name,
        &org.domain,
        &plan.subject,
        &plan.ca_sans,
        validity,
    )?;
    for (files, ca) in [(&org.ca, &ca), (&org.tls_ca, &tls_ca)] {
        create_dir(&files.dir)?;
        write_file(&files.key, ca.key.pkcs8_pem().as_bytes(), FileKind::Secret)?;
        write_file(&files.cert, ca.cert_pem.as_bytes(), FileKind::Public)?;
    }

    let cas = OrgCas {
        org,
        ca: &ca,
        tls_ca: &tls_ca,
        plan,
        validity,
    };
    write_msp_common(&org.msp_dir, &cas)?;

    // The admin comes first so its certificate can go into admincerts when NodeOUs are off.
    let mut admin_cert = None;
    for user in &org.users {
        let cert = write_identity(&cas, user)?;
        admin_cert.get_or_insert(cert);
    }
    let admin_cert = admin_cert.unwrap_or_default();
    for node in &org.nodes {
        write_identity(&cas, node)?;
        if !org.node_ous {
            write_admin_cert(&node.msp_dir, &org.admin().name, &admin_cert)?;
        }
    }
    if !org.node_ous {
        write_admin_cert(&org.msp_dir, &org.admin().name, &admin_cert)?;
    }
    Ok(())
}

/// What every identity of one organisation is issued from.
struct OrgCas<'a> {
    org: &'a GeneratedOrg,
    ca: &'a Ca,
    tls_ca: &'a Ca,
    plan: &'a OrgPlan,
    validity: Validity,
}

/// The folders and files every MSP has: `cacerts`, `tlscacerts`, `admincerts`, and `config.yaml`
/// with NodeOUs.
fn write_msp_common(msp_dir: &Path, cas: &OrgCas<'_>) -> Result<()> {
    let org = cas.org;
    for sub in ["admincerts", "cacerts", "tlscacerts"] {
        create_dir(&msp_dir.join(sub))?;
    }
    let ca_file = format!("{}-cert.pem", org.ca.common_name);
    write_file(
        &msp_dir.join("cacerts").join(&ca_file),
        cas.ca.cert_pem.as_bytes(),
        FileKind::Public,
    )?;
    let tls_ca_file = format!("{}-cert.pem", org.tls_ca.common_name);
    write_file(
        &msp_dir.join("tlscacerts").join(tls_ca_file),
        cas.tls_ca.cert_pem.as_bytes(),
        FileKind::Public,
    )?;
    if org.node_ous {
        let yaml = node_ou_config(&format!("cacerts/{ca_file}"));
        write_file(
            &msp_dir.join("config.yaml"),
            yaml.as_bytes(),
            FileKind::Public,
        )?;
    }
    Ok(())
}

/// Writes a node's or user's local MSP and TLS folders; returns its signing certificate PEM.
fn write_identity(cas: &OrgCas<'_>, id: &Identity) -> Result<String> {
    let (subject, validity) = (&cas.plan.subject, cas.validity);
    write_msp_common(&id.msp_dir, cas)?;
    create_dir(&id.msp_dir.join("keystore"))?;
    create_dir(&id.msp_dir.join("signcerts"))?;
    create_dir(&id.tls_dir)?;

    let (key, cert_pem) = cert::issue(
        cas.ca,
        subject,
        &id.name,
        id.node_ou.as_deref(),
        LeafKind::Signing,
        &[],
        validity,
    )?;
    write_file(&id.key, key.pkcs8_pem().as_bytes(), FileKind::Secret)?;
    write_file(&id.cert, cert_pem.as_bytes(), FileKind::Public)?;
    if !cas.org.node_ous && !id.role.is_node() {
        // Without NodeOUs a user's own MSP lists itself as admin, as cryptogen does.
        write_admin_cert(&id.msp_dir, &id.name, &cert_pem)?;
    }

    let (tls_key, tls_cert) = cert::issue(
        cas.tls_ca,
        subject,
        &id.name,
        None,
        LeafKind::Tls,
        &id.tls_sans,
        validity,
    )?;
    write_file(
        &id.tls_ca_cert,
        cas.tls_ca.cert_pem.as_bytes(),
        FileKind::Public,
    )?;
    write_file(&id.tls_cert, tls_cert.as_bytes(), FileKind::Public)?;
    write_file(
        &id.tls_key,
        tls_key.pkcs8_pem().as_bytes(),
        FileKind::Secret,
    )?;
    Ok(cert_pem)
}

/// Lists `admin_name`'s certificate in `msp_dir/admincerts` (used when NodeOUs are off).
fn write_admin_cert(msp_dir: &Path, admin_name: &str, pem: &str) -> Result<()> {
    let path = msp_dir
        .join("admincerts")
        .join(format!("{admin_name}-cert.pem"));
    write_file(&path, pem.as_bytes(), FileKind::Public)
}

/// `config.yaml` of an MSP with NodeOUs, in the shape Fabric's `msp.Configuration` reads.
fn node_ou_config(ca_cert: &str) -> String {
    #[derive(Serialize)]
    struct Config<'a> {
        #[serde(rename = "NodeOUs")]
        node_ous: NodeOus<'a>,
    }
    #[derive(Serialize)]
    struct NodeOus<'a> {
        #[serde(rename = "Enable")]
        enable: bool,
        #[serde(rename = "ClientOUIdentifier")]
        client: OuId<'a>,
        #[serde(rename = "PeerOUIdentifier")]
        peer: OuId<'a>,
        #[serde(rename = "AdminOUIdentifier")]
        admin: OuId<'a>,
        #[serde(rename = "OrdererOUIdentifier")]
        orderer: OuId<'a>,
    }
    #[derive(Serialize)]
    struct OuId<'a> {
        #[serde(rename = "Certificate")]
        certificate: &'a str,
        #[serde(rename = "OrganizationalUnitIdentifier")]
        ou: &'a str,
    }
    let id = |ou| OuId {
        certificate: ca_cert,
        ou,
    };
    let config = Config {
        node_ous: NodeOus {
            enable: true,
            client: id("client"),
            peer: id("peer"),
            admin: id("admin"),
            orderer: id("orderer"),
        },
    };
    // Plain structs of strings and a bool always serialise.
    serde_norway::to_string(&config).expect("NodeOU config serialises to YAML")
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum FileKind {
    /// Certificates and config: readable by everyone (0644 after the umask).
    Public,
    /// Private keys: owner only (0600).
    Secret,
}

fn create_dir(path: &Path) -> Result<()> {
    fs::create_dir_all(path).map_err(|e| CryptogenError::io("create folder", path, e))
}

/// Creates `path` (never overwriting) and writes `bytes` to it.
fn write_file(path: &Path, bytes: &[u8], kind: FileKind) -> Result<()> {
    let mut options = OpenOptions::new();
    options.write(true).create_new(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(match kind {
            FileKind::Public => 0o644,
            FileKind::Secret => 0o600,
        });
    }
    #[cfg(not(unix))]
    let _ = kind;
    let mut file = options
        .open(path)
        .map_err(|e| CryptogenError::io("create", path, e))?;
    file.write_all(bytes)
        .map_err(|e| CryptogenError::io("write", path, e))?;
    // On disk before the organisation is renamed into place, so a crash cannot leave empty keys.
    file.sync_all()
        .map_err(|e| CryptogenError::io("flush", path, e))
}

/// Refuses (without `force`) when an organisation folder already holds anything.
///
/// Names the first existing key or certificate that would be replaced, else the folder itself.
pub(crate) fn check_existing(org: &GeneratedOrg, force: bool) -> Result<()> {
    if force {
        return Ok(());
    }
    match fs::symlink_metadata(&org.dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
        Err(e) => return Err(CryptogenError::io("inspect", &org.dir, e)),
        Ok(meta) if meta.is_dir() && is_empty_dir(&org.dir)? => return Ok(()),
        Ok(_) => {}
    }
    let mut files = vec![&org.ca.key, &org.ca.cert, &org.tls_ca.key, &org.tls_ca.cert];
    for id in org.nodes.iter().chain(&org.users) {
        files.extend([&id.key, &id.cert, &id.tls_key, &id.tls_cert]);
    }
    let existing = files
        .into_iter()
        .find(|path| path.symlink_metadata().is_ok());
    Err(CryptogenError::AlreadyExists {
        path: existing.unwrap_or(&org.dir).clone(),
        org: format!("{} ({})", org.name, org.domain),
    })
}

fn is_empty_dir(path: &Path) -> Result<bool> {
    let mut entries = fs::read_dir(path).map_err(|e| CryptogenError::io("list", path, e))?;
    Ok(entries.next().is_none())
}

/// Moves staged organisations to their final folders; on failure puts everything back.
///
/// `staged[i]` and `target[i]` describe the same organisation. Replaced folders are moved into
/// `backup_root` (inside the staging folder, removed by the caller afterwards).
pub(crate) fn install(staged: &[OrgPlan], target: &[OrgPlan], backup_root: &Path) -> Result<()> {
    let mut done: Vec<(PathBuf, Option<PathBuf>)> = Vec::new();
    for (i, (from, to)) in staged.iter().zip(target).enumerate() {
        if let Err(err) = install_one(
            &from.org.dir,
            &to.org.dir,
            &backup_root.join(i.to_string()),
            &mut done,
        ) {
            roll_back(done);
            return Err(err);
        }
    }
    Ok(())
}

fn install_one(
    from: &Path,
    to: &Path,
    backup: &Path,
    done: &mut Vec<(PathBuf, Option<PathBuf>)>,
) -> Result<()> {
    if let Some(parent) = to.parent() {
        create_dir(parent)?;
    }
    let backup = match fs::symlink_metadata(to) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => None,
        Err(e) => return Err(CryptogenError::io("inspect", to, e)),
        Ok(meta) if meta.is_dir() && is_empty_dir(to)? => {
            fs::remove_dir(to).map_err(|e| CryptogenError::io("remove empty folder", to, e))?;
            None
        }
        Ok(_) => {
            if let Some(parent) = backup.parent() {
                create_dir(parent)?;
            }
            fs::rename(to, backup).map_err(|e| CryptogenError::io("move aside", to, e))?;
            Some(backup.to_path_buf())
        }
    };
    if let Err(e) = fs::rename(from, to) {
        if let Some(backup) = &backup {
            // Best effort: the original error is the one to report.
            let _ = fs::rename(backup, to);
        }
        return Err(CryptogenError::io("move new material to", to, e));
    }
    done.push((to.to_path_buf(), backup));
    Ok(())
}

fn roll_back(done: Vec<(PathBuf, Option<PathBuf>)>) {
    for (target, backup) in done.into_iter().rev() {
        // Best effort: restore what was there before this run.
        let _ = fs::remove_dir_all(&target);
        if let Some(backup) = backup {
            let _ = fs::rename(backup, &target);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn node_ou_config_has_fabric_keys() {
        let yaml = node_ou_config("cacerts/ca.org1.example.com-cert.pem");
        let value: serde_norway::Value = serde_norway::from_str(&yaml).unwrap();
        let node_ous = &value["NodeOUs"];
        assert_eq!(node_ous["Enable"], serde_norway::Value::Bool(true));
        for (key, ou) in [
            ("ClientOUIdentifier", "client"),
            ("PeerOUIdentifier", "peer"),
            ("AdminOUIdentifier", "admin"),
            ("OrdererOUIdentifier", "orderer"),
        ] {
            assert_eq!(
                node_ous[key]["Certificate"].as_str(),
                Some("cacerts/ca.org1.example.com-cert.pem")
            );
            assert_eq!(
                node_ous[key]["OrganizationalUnitIdentifier"].as_str(),
                Some(ou)
            );
        }
    }

    #[test]
    fn write_file_never_overwrites_and_keeps_keys_private() {
        let dir = tempfile::tempdir().unwrap();
        let key = dir.path().join("priv_sk");
        write_file(&key, b"secret", FileKind::Secret).unwrap();
        let err = write_file(&key, b"other", FileKind::Secret).unwrap_err();
        assert!(
            matches!(
                err,
                CryptogenError::Io {
                    action: "create",
                    ..
                }
            ),
            "{err}"
        );
        assert_eq!(fs::read(&key).unwrap(), b"secret");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            assert_eq!(
                fs::metadata(&key).unwrap().permissions().mode() & 0o777,
                0o600
            );
        }
    }
}
