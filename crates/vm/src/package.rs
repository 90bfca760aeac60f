//! Contract packages in Fabric's layout: a `.tar.gz` holding `metadata.json` (type `wasm`) and
//! `code.tar.gz`, which holds `contract.wasm`. The package ID is `label:<sha256 of the file>`.
//!
//! Archives are written with fixed metadata (mode 0644, zero times and owners), so packaging the
//! same module under the same label always gives the same bytes and package ID.

use std::io::{Read, Write};

use flate2::read::GzDecoder;
use flate2::write::GzEncoder;
use flate2::Compression;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use thiserror::Error;

use crate::limits::MAX_MODULE_BYTES;

/// The package type Cambium uses in `metadata.json`.
pub const PACKAGE_TYPE: &str = "wasm";
/// The module's file name inside `code.tar.gz`.
pub const WASM_FILE: &str = "contract.wasm";
/// Largest package accepted when reading.
pub const MAX_PACKAGE_BYTES: usize = MAX_MODULE_BYTES + 1024 * 1024;

/// Why a package could not be written or read.
#[derive(Debug, Error)]
pub enum PackageError {
    /// The label does not match Fabric's label rule.
    #[error("label '{0}' is invalid: use letters and digits, then letters, digits, '_', '.', '+' or '-'")]
    BadLabel(String),
    /// The archive could not be read or written.
    #[error("package archive: {0}; is this a package made by 'cambium contract package'?")]
    Archive(#[from] std::io::Error),
    /// `metadata.json` is missing or malformed.
    #[error("package metadata: {0}")]
    Metadata(String),
    /// The package does not hold the expected file.
    #[error("package has no {0}; repackage the contract with 'cambium contract package'")]
    Missing(&'static str),
    /// The package is of another type.
    #[error("package type is '{0}', not 'wasm'; Cambium runs only WebAssembly contracts")]
    WrongType(String),
    /// An entry is larger than allowed.
    #[error("package entry '{0}' is larger than {MAX_PACKAGE_BYTES} bytes")]
    TooLarge(String),
}

/// Result with [`PackageError`].
pub type PackageResult<T> = std::result::Result<T, PackageError>;

/// `metadata.json`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Metadata {
    /// Fabric's source path field; empty for wasm packages.
    pub path: String,
    /// The package type: `wasm`.
    #[serde(rename = "type")]
    pub kind: String,
    /// The label.
    pub label: String,
}

/// A package read back.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Package {
    /// The metadata.
    pub metadata: Metadata,
    /// The module bytes.
    pub wasm: Vec<u8>,
}

/// Checks a label against Fabric's rule `^[[:alnum:]][[:alnum:]_.+-]*$`.
pub fn check_label(label: &str) -> PackageResult<()> {
    let mut chars = label.chars();
    let ok = chars.next().is_some_and(|c| c.is_ascii_alphanumeric())
        && chars.all(|c| c.is_ascii_alphanumeric() || "_.+-".contains(c));
    if ok {
        Ok(())
    } else {
        Err(PackageError::BadLabel(label.to_string()))
    }
}

fn tar_gz(entries: &[(&str, &[u8])]) -> std::io::Result<Vec<u8>> {
    let mut builder = tar::Builder::new(GzEncoder::new(Vec::new(), Compression::default()));
    for (name, data) in entries {
        let mut header = tar::Header::new_gnu();
        header.set_size(data.len() as u64);
        header.set_mode(0o644);
        header.set_mtime(0);
        header.set_uid(0);
        header.set_gid(0);
        header.set_entry_type(tar::EntryType::Regular);
        builder.append_data(&mut header, name, *data)?;
    }
    builder.into_inner()?.finish()
}

fn untar_gz(bytes: &[u8]) -> PackageResult<Vec<(String, Vec<u8>)>> {
    let mut archive = tar::Archive::new(GzDecoder::new(bytes));
    let mut out = Vec::new();
    for entry in archive.entries()? {
        let entry = entry?;
        let name = entry.path()?.to_string_lossy().into_owned();
        if entry.size() > MAX_PACKAGE_BYTES as u64 {
            return Err(PackageError::TooLarge(name));
        }
        let mut data = Vec::new();
        entry
            .take(MAX_PACKAGE_BYTES as u64 + 1)
            .read_to_end(&mut data)?;
        if data.len() > MAX_PACKAGE_BYTES {
            return Err(PackageError::TooLarge(name));
        }
        out.push((name, data));
    }
    Ok(out)
}

/// Writes a package for `wasm` under `label`.
pub fn write_package(wasm: &[u8], label: &str) -> PackageResult<Vec<u8>> {
    check_label(label)?;
    let metadata = Metadata {
        path: String::new(),
        kind: PACKAGE_TYPE.to_string(),
        label: label.to_string(),
    };
    let json = serde_json::to_vec(&metadata).map_err(|e| PackageError::Metadata(e.to_string()))?;
    let code = tar_gz(&[(WASM_FILE, wasm)])?;
    let mut package = tar_gz(&[("metadata.json", &json), ("code.tar.gz", &code)])?;
    package.flush()?;
    Ok(package)
}

/// Reads a package, checking its type.
pub fn read_package(bytes: &[u8]) -> PackageResult<Package> {
    if bytes.len() > MAX_PACKAGE_BYTES {
        return Err(PackageError::TooLarge("package".into()));
    }
    let entries = untar_gz(bytes)?;
    let find = |name: &'static str| {
        entries
            .iter()
            .find(|(n, _)| n == name)
            .map(|(_, d)| d.as_slice())
            .ok_or(PackageError::Missing(name))
    };
    let metadata: Metadata = serde_json::from_slice(find("metadata.json")?)
        .map_err(|e| PackageError::Metadata(e.to_string()))?;
    if metadata.kind != PACKAGE_TYPE {
        return Err(PackageError::WrongType(metadata.kind));
    }
    let code = untar_gz(find("code.tar.gz")?)?;
    let wasm = code
        .into_iter()
        .find(|(n, _)| n == WASM_FILE)
        .map(|(_, d)| d)
        .ok_or(PackageError::Missing("code.tar.gz/contract.wasm"))?;
    Ok(Package { metadata, wasm })
}

/// The package ID: `label:<hex sha256 of the package bytes>`, as Fabric computes it.
pub fn package_id(label: &str, package: &[u8]) -> String {
    format!("{label}:{}", hex::encode(Sha256::digest(package)))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_deterministically() {
        let wasm = b"\0asm\x01\0\0\0".to_vec();
        let a = write_package(&wasm, "basic_1.0").unwrap();
        let b = write_package(&wasm, "basic_1.0").unwrap();
        assert_eq!(a, b);
        let p = read_package(&a).unwrap();
        assert_eq!(p.wasm, wasm);
        assert_eq!(p.metadata.label, "basic_1.0");
        assert_eq!(p.metadata.kind, "wasm");
        assert!(package_id("basic_1.0", &a).starts_with("basic_1.0:"));
        assert_eq!(package_id("x", &a).len(), 2 + 64);
    }

    #[test]
    fn refuses_bad_labels_and_foreign_packages() {
        for bad in ["", "-x", "a b", "a/b"] {
            assert!(
                matches!(write_package(b"", bad), Err(PackageError::BadLabel(_))),
                "{bad}"
            );
        }
        let golang = tar_gz(&[(
            "metadata.json",
            br#"{"path":"x","type":"golang","label":"g"}"#,
        )])
        .unwrap();
        assert!(matches!(read_package(&golang), Err(PackageError::WrongType(t)) if t == "golang"));
        assert!(read_package(b"not a tarball").is_err());
        let no_code =
            tar_gz(&[("metadata.json", br#"{"path":"","type":"wasm","label":"g"}"#)]).unwrap();
        assert!(matches!(
            read_package(&no_code),
            Err(PackageError::Missing("code.tar.gz"))
        ));
    }
}
