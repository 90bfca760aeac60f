//! `cambium contract …`: scaffold, build, package and inspect WebAssembly contracts; the
//! network commands (install, approve, commit, deploy, …) live in [`super::lifecycle`].

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use cambium_vm::package::{package_id, read_package, write_package};
use cambium_vm::{toolchain, Vm, VmConfig};
use clap::Subcommand;

#[derive(Debug, Subcommand)]
pub(crate) enum ContractCommand {
    /// Create a new contract crate NAME (with a unit test) in the current or given directory.
    New {
        /// The crate name, e.g. `my-contract`.
        name: String,
        /// The directory to create it in (default: the current directory).
        #[arg(long, default_value = ".")]
        dir: PathBuf,
        /// Path to the cambium-sdk crate (default: the SDK of the source tree this binary was
        /// built from).
        #[arg(long)]
        sdk: Option<PathBuf>,
    },
    /// Build a contract crate into a .wasm module (rustup's wasm32 target, else Debian's rustc).
    Build {
        /// The contract crate directory.
        path: PathBuf,
        /// Cargo target directory (default: PATH/target).
        #[arg(long)]
        target_dir: Option<PathBuf>,
    },
    /// Write a Fabric-layout package (metadata.json + code.tar.gz) and print its package ID.
    Package {
        /// A contract crate directory (built first) or a .wasm file.
        path: PathBuf,
        /// The package label, e.g. `basic_1.0`.
        #[arg(long)]
        label: String,
        /// Output file (default: LABEL.tar.gz).
        #[arg(long)]
        out: Option<PathBuf>,
    },
    /// Show a package's (or .wasm module's) label, package ID and interface manifest as JSON.
    Inspect {
        /// A package .tar.gz or a .wasm file.
        pkg: PathBuf,
    },
    #[command(flatten)]
    Lifecycle(super::lifecycle::LifecycleCommand),
}

pub(crate) fn run(command: ContractCommand) -> anyhow::Result<()> {
    match command {
        ContractCommand::New { name, dir, sdk } => new(&name, &dir, sdk.as_deref()),
        ContractCommand::Build { path, target_dir } => {
            let wasm = build(&path, target_dir.as_deref())?;
            let bytes =
                std::fs::read(&wasm).with_context(|| format!("reading {}", wasm.display()))?;
            Vm::validate(&bytes)?;
            println!("{} ({} bytes)", wasm.display(), bytes.len());
            Ok(())
        }
        ContractCommand::Package { path, label, out } => package(&path, &label, out),
        ContractCommand::Inspect { pkg } => inspect(&pkg),
        ContractCommand::Lifecycle(c) => super::lifecycle::run(c),
    }
}

fn build(path: &Path, target_dir: Option<&Path>) -> anyhow::Result<PathBuf> {
    let target = target_dir.map_or_else(|| path.join("target"), Path::to_path_buf);
    Ok(toolchain::build(path, &target)?)
}

fn package(path: &Path, label: &str, out: Option<PathBuf>) -> anyhow::Result<()> {
    let wasm_path = if path.is_dir() {
        build(path, None)?
    } else {
        path.to_path_buf()
    };
    let wasm =
        std::fs::read(&wasm_path).with_context(|| format!("reading {}", wasm_path.display()))?;
    // Refuse at packaging time what every peer would refuse at install.
    let vm = Vm::new(VmConfig::default())?;
    vm.install(&wasm)
        .with_context(|| format!("{} cannot be installed", wasm_path.display()))?;
    let bytes = write_package(&wasm, label)?;
    let out = out.unwrap_or_else(|| PathBuf::from(format!("{label}.tar.gz")));
    std::fs::write(&out, &bytes).with_context(|| format!("writing {}", out.display()))?;
    println!("{}", package_id(label, &bytes));
    Ok(())
}

fn inspect(pkg: &Path) -> anyhow::Result<()> {
    let bytes = std::fs::read(pkg).with_context(|| format!("reading {}", pkg.display()))?;
    let (label, id, wasm) = if bytes.starts_with(b"\0asm") {
        (None, None, bytes)
    } else {
        let package = read_package(&bytes)
            .with_context(|| format!("{} is not a contract package", pkg.display()))?;
        let id = package_id(&package.metadata.label, &bytes);
        (Some(package.metadata.label), Some(id), package.wasm)
    };
    let manifest = Vm::validate(&wasm)?;
    let report = serde_json::json!({
        "label": label,
        "package_id": id,
        "type": "wasm",
        "wasm_bytes": wasm.len(),
        "wasm_sha256": hex_sha256(&wasm),
        "manifest": manifest,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn hex_sha256(bytes: &[u8]) -> String {
    use sha2::Digest;
    hex::encode(sha2::Sha256::digest(bytes))
}

/// The SDK of the source tree this binary was built from, if it is still there.
fn default_sdk() -> Option<PathBuf> {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/sdk");
    path.join("Cargo.toml")
        .is_file()
        .then(|| path.canonicalize().ok())
        .flatten()
}

fn new(name: &str, dir: &Path, sdk: Option<&Path>) -> anyhow::Result<()> {
    let valid = name.chars().next().is_some_and(|c| c.is_ascii_alphabetic())
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if !valid {
        bail!("'{name}' is not a valid crate name: start with a letter, then use letters, digits, '-' or '_'");
    }
    let sdk = match sdk {
        Some(p) => p
            .canonicalize()
            .with_context(|| format!("--sdk {} does not exist", p.display()))?,
        None => default_sdk()
            .context("cannot find cambium-sdk next to this binary's sources; pass --sdk PATH")?,
    };
    if !sdk.join("Cargo.toml").is_file() {
        bail!(
            "{} has no Cargo.toml; --sdk must point at the cambium-sdk crate",
            sdk.display()
        );
    }
    let root = dir.join(name);
    if root.exists() {
        bail!(
            "{} already exists; choose another name or directory",
            root.display()
        );
    }
    std::fs::create_dir_all(root.join("src"))
        .with_context(|| format!("creating {}", root.display()))?;
    let sdk_text = sdk.to_string_lossy().replace('\\', "/");
    let files = [
        ("Cargo.toml", cargo_toml(name, &sdk_text)),
        // Lockfile format 3, so Debian's cargo 1.65 can build it too.
        ("Cargo.lock", cargo_lock(name)),
        ("src/lib.rs", LIB_RS.to_string()),
        (".gitignore", "/target\n".to_string()),
    ];
    for (file, text) in files {
        let path = root.join(file);
        std::fs::write(&path, text).with_context(|| format!("writing {}", path.display()))?;
    }
    println!("created {}", root.display());
    println!(
        "test it with `cargo test`, then `cambium contract build {}`",
        root.display()
    );
    Ok(())
}

fn cargo_toml(name: &str, sdk: &str) -> String {
    format!(
        r#"[package]
name = "{name}"
version = "0.1.0"
edition = "2021"
rust-version = "1.63"
publish = false

# A contract is its own workspace.
[workspace]

[lib]
crate-type = ["cdylib", "rlib"]

[dependencies]
cambium-sdk = {{ path = "{sdk}" }}

[profile.release]
opt-level = "s"
lto = true
panic = "abort"
strip = true
codegen-units = 1
"#
    )
}

fn cargo_lock(name: &str) -> String {
    let mut packages = [
        ("cambium-sdk".to_string(), String::new()),
        (
            name.to_string(),
            "dependencies = [\n \"cambium-sdk\",\n]\n".to_string(),
        ),
    ];
    packages.sort();
    let mut text = String::from(
        "# This file is automatically @generated by Cargo.\n# It is not intended for manual editing.\nversion = 3\n",
    );
    for (package, deps) in packages {
        text.push_str(&format!(
            "\n[[package]]\nname = \"{package}\"\nversion = \"0.1.0\"\n{deps}"
        ));
    }
    text
}

const LIB_RS: &str = r#"//! A Cambium contract.

use cambium_sdk::{contract, Context, ContractError};

fn set(ctx: &mut Context<'_>, key: String, value: String) -> Result<(), ContractError> {
    ctx.put_state(&key, value.as_bytes())
}

fn get(ctx: &mut Context<'_>, key: String) -> Result<Vec<u8>, ContractError> {
    ctx.get_state(&key)?
        .ok_or_else(|| ContractError::not_found(format!("key '{}' does not exist", key)))
}

contract! {
    schema_version: 1;
    fn Set(key: String, value: String) => set;
    fn Get(key: String) => get;
}

#[cfg(test)]
mod tests {
    use super::*;
    use cambium_sdk::MockStub;

    #[test]
    fn set_then_get() {
        let mut stub = MockStub::new();
        assert_eq!(stub.invoke(dispatch, "Set", &["color", "blue"]).status, 200);
        assert_eq!(stub.invoke(dispatch, "Get", &["color"]).payload, b"blue");
        assert_eq!(stub.invoke(dispatch, "Get", &["size"]).status, 404);
    }
}
"#;
