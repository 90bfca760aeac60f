//! The peer-local package store the lifecycle's install and query functions use. The
//! endorser implements it over a directory, compiling each package as it is installed.

use crate::error::Result;

/// One installed package: its ID (`label:<hex sha256 of the package>`) and label.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct InstalledPackage {
    /// Fabric's package ID.
    pub package_id: String,
    /// The label from the package's `metadata.json`.
    pub label: String,
}

/// Installed packages of one peer.
pub trait PackageStore: Send + Sync {
    /// Validates and installs `package` (a Fabric-layout `.tar.gz`). Installing a package that
    /// is already installed is refused, as Fabric does.
    fn install(&self, package: &[u8]) -> Result<InstalledPackage>;

    /// Every installed package, ordered by package ID.
    fn installed(&self) -> Result<Vec<InstalledPackage>>;

    /// The installed package with this ID, if any.
    fn get(&self, package_id: &str) -> Result<Option<InstalledPackage>>;

    /// The bytes of the installed package with this ID, if any.
    fn package_bytes(&self, package_id: &str) -> Result<Option<Vec<u8>>>;
}
