//! `cambium contract …`: scaffold, build, package and inspect WebAssembly contracts; the
//! network commands (install, approve, commit, deploy, …) live in [`super::lifecycle`].

use std::path::{Path, PathBuf};

use anyhow::{bail, Context as _};
use cambium_node::deploy::Source;
use cambium_vm::package::{package_id, read_package, write_package};
use cambium_vm::{toolchain, CompatReport, Manifest, Vm, VmConfig};
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
    /// Add one owner's signature to a package (like `peer chaincode signpackage`): the
    /// signer's identity and ECDSA signature over the package hash (metadata and code), which
    /// signatures do not change. A channel with the Application policy `PackageSigners`
    /// approves only packages whose signers satisfy it. Sign before installing: the package ID
    /// is the hash of the file, so it changes with each signature.
    Sign {
        /// The package .tar.gz (rewritten in place unless --out is given).
        pkg: PathBuf,
        /// The signer: MSPID=DIR, DIR an MSP folder with signcerts/ and keystore/ (usually an
        /// organisation admin's).
        #[arg(long)]
        signer: String,
        /// Write the signed package here instead of over PKG.
        #[arg(long)]
        out: Option<PathBuf>,
        /// Print the result as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Compare the interfaces of two versions (removed or changed functions, a state schema
    /// change without `migrate`); exits with status 1 when the change is breaking.
    Check {
        /// The old version: a contract crate folder, a .wasm file or a package .tar.gz.
        old: PathBuf,
        /// The new version: a contract crate folder, a .wasm file or a package .tar.gz.
        new: PathBuf,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Every lifecycle event of a contract as the blocks record it: approvals, commits, rollout
    /// steps and aborts, with the signing client, the endorsing orgs and the block.
    History(super::history::HistoryArgs),
    /// Re-run the contract's last N committed transactions against a new package (on the
    /// state each one saw) and report which results or write sets differ; exits with status 1
    /// when any differs.
    Replay(super::history::ReplayArgs),
    #[command(flatten)]
    Call(super::call::CallCommand),
    #[command(flatten)]
    Lifecycle(super::lifecycle::LifecycleCommand),
    #[command(flatten)]
    Governance(super::governance::GovernanceCommand),
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
        ContractCommand::Sign {
            pkg,
            signer,
            out,
            json,
        } => sign(&pkg, &signer, out.as_deref(), json),
        ContractCommand::Check { old, new, json } => {
            let report = check(&old, &new)?;
            if json {
                println!("{}", serde_json::to_string_pretty(&report)?);
            } else {
                print!("{report}");
            }
            if report.is_breaking() {
                // The report says what breaks; the status tells scripts.
                std::process::exit(1);
            }
            Ok(())
        }
        ContractCommand::History(args) => super::history::history(args),
        ContractCommand::Replay(args) => super::history::replay_command(args),
        ContractCommand::Call(c) => super::call::run(c),
        ContractCommand::Lifecycle(c) => super::lifecycle::run(c),
        ContractCommand::Governance(c) => super::governance::run(c),
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
    let (label, id, wasm, signing) = if bytes.starts_with(b"\0asm") {
        (None, None, bytes, None)
    } else {
        let package = read_package(&bytes)
            .with_context(|| format!("{} is not a contract package", pkg.display()))?;
        let id = package_id(&package.metadata.label, &bytes);
        let signing = cambium_node::deploy::package_signing(&bytes)?;
        (
            Some(package.metadata.label),
            Some(id),
            package.wasm,
            Some(signing),
        )
    };
    let manifest = Vm::validate(&wasm)?;
    let report = serde_json::json!({
        "label": label,
        "package_id": id,
        "package_hash": signing.as_ref().map(|s| s.package_hash.clone()),
        "signers": signing.map(|s| s.signers).unwrap_or_default(),
        "type": "wasm",
        "wasm_bytes": wasm.len(),
        "wasm_sha256": hex_sha256(&wasm),
        "manifest": manifest,
    });
    println!("{}", serde_json::to_string_pretty(&report)?);
    Ok(())
}

fn sign(pkg: &Path, signer: &str, out: Option<&Path>, json: bool) -> anyhow::Result<()> {
    let (msp_id, dir) = signer
        .split_once('=')
        .filter(|(m, d)| !m.is_empty() && !d.is_empty())
        .with_context(|| {
            format!("--signer {signer:?}: write MSPID=DIR, e.g. Org1MSP=crypto/peerOrganizations/org1.example.com/users/Admin@org1.example.com/msp")
        })?;
    let signed = cambium_node::deploy::sign_package_file(pkg, msp_id, Path::new(dir), out)?;
    if json {
        println!("{}", serde_json::to_string_pretty(&signed)?);
        return Ok(());
    }
    let file = out.unwrap_or(pkg);
    println!("signed {} as {msp_id}", file.display());
    println!("package hash {}", signed.package_hash);
    for s in &signed.signers {
        println!(
            "  signer {} ({}){}",
            s.msp_id,
            s.signer,
            if s.valid { "" } else { " INVALID" }
        );
    }
    println!(
        "package ID now {} (install this file once every owner has signed)",
        signed.package_id
    );
    Ok(())
}

/// The interface manifest of a crate, module or package, or an error naming the file.
fn manifest_of(path: &Path) -> anyhow::Result<Manifest> {
    let wasm = Source::of(path)?.wasm()?;
    Vm::validate(&wasm)
        .with_context(|| format!("{} is not a valid contract module", path.display()))?
        .with_context(|| {
            format!(
                "{} has no interface manifest; build it with cambium_sdk::contract! so it can be compared",
                path.display()
            )
        })
}

fn check(old: &Path, new: &Path) -> anyhow::Result<CompatReport> {
    Ok(cambium_vm::check_compat(
        &manifest_of(old)?,
        &manifest_of(new)?,
    ))
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

#[cfg(test)]
mod cli_tests {
    use super::*;
    use crate::cmd::lifecycle::{LifecycleCommand, RolloutAction};
    use clap::Parser;

    #[derive(Debug, Parser)]
    struct Cli {
        #[command(subcommand)]
        command: ContractCommand,
    }

    fn parse(args: &[&str]) -> Result<ContractCommand, clap::Error> {
        let mut all = vec!["contract"];
        all.extend(args);
        Cli::try_parse_from(all).map(|c| c.command)
    }

    /// A module with only a header and a `cambium_manifest` custom section.
    fn module_with_manifest(text: &str) -> Vec<u8> {
        let name = b"cambium_manifest";
        let mut body = vec![name.len() as u8];
        body.extend(name);
        body.extend(text.as_bytes());
        let mut wasm = b"\0asm\x01\0\0\0".to_vec();
        wasm.push(0);
        let mut len = body.len();
        loop {
            let byte = (len & 0x7f) as u8;
            len >>= 7;
            if len == 0 {
                wasm.push(byte);
                break;
            }
            wasm.push(byte | 0x80);
        }
        wasm.extend(body);
        wasm
    }

    fn write(dir: &Path, name: &str, manifest: &str) -> PathBuf {
        let path = dir.join(name);
        std::fs::write(&path, module_with_manifest(manifest)).unwrap();
        path
    }

    #[test]
    fn upgrade_takes_a_package_canary_selectors_and_flags() {
        let c = parse(&[
            "upgrade",
            "basic",
            "--package",
            "v2.tar.gz",
            "--canary",
            "10%",
            "--selector",
            "org=Org1MSP",
            "--selector",
            "ou=ops",
            "--allow-breaking",
            "--dry-run",
            "--json",
        ])
        .unwrap();
        let ContractCommand::Lifecycle(LifecycleCommand::Upgrade {
            name,
            package,
            canary,
            selector,
            allow_breaking,
            dry_run,
            json,
            ..
        }) = c
        else {
            panic!("parsed as {c:?}");
        };
        assert_eq!(name, "basic");
        assert_eq!(package, PathBuf::from("v2.tar.gz"));
        assert_eq!(canary.as_deref(), Some("10%"));
        assert_eq!(selector, ["org=Org1MSP", "ou=ops"]);
        assert!(allow_breaking && dry_run && json);
        assert!(
            parse(&["upgrade", "basic"]).is_err(),
            "--package is required"
        );
    }

    #[test]
    fn rollout_actions_parse_and_check_the_weight() {
        let c = parse(&["rollout", "advance", "basic", "--weight", "40%"]).unwrap();
        let ContractCommand::Lifecycle(LifecycleCommand::Rollout { action }) = c else {
            panic!("parsed as {c:?}");
        };
        let (step, name, _) = action.parts().unwrap();
        assert_eq!(
            (step, name),
            (cambium_node::upgrade::RolloutStep::Advance(40), "basic")
        );
        for (verb, function) in [
            ("status", "QueryRollout"),
            ("pause", "PauseRollout"),
            ("resume", "ResumeRollout"),
            ("promote", "PromoteRollout"),
            ("abort", "AbortRollout"),
        ] {
            let ContractCommand::Lifecycle(LifecycleCommand::Rollout { action }) =
                parse(&["rollout", verb, "basic", "--json"]).unwrap()
            else {
                panic!("{verb}");
            };
            assert_eq!(action.parts().unwrap().0.function(), function);
        }
        let ContractCommand::Lifecycle(LifecycleCommand::Rollout { action }) =
            parse(&["rollout", "advance", "basic", "--weight", "150%"]).unwrap()
        else {
            panic!("advance");
        };
        assert!(matches!(action, RolloutAction::Advance { .. }));
        let e = action.parts().unwrap_err().to_string();
        assert!(e.contains("150% is outside 0-100%"), "{e}");
        assert!(
            parse(&["rollout", "advance", "basic"]).is_err(),
            "--weight is required"
        );
    }

    #[test]
    fn approve_commit_and_readiness_carry_a_canary_plan() {
        for verb in ["approve", "checkcommitreadiness", "commit"] {
            let c = parse(&[
                verb,
                "--name",
                "basic",
                "--sequence",
                "2",
                "--canary",
                "25%",
                "--selector",
                "org=Org2MSP",
            ])
            .unwrap();
            let plan = match c {
                ContractCommand::Lifecycle(LifecycleCommand::Approve { definition, .. })
                | ContractCommand::Lifecycle(LifecycleCommand::Checkcommitreadiness {
                    definition,
                    ..
                })
                | ContractCommand::Lifecycle(LifecycleCommand::Commit { definition, .. }) => {
                    definition.definition().unwrap().rollout
                }
                other => panic!("{verb} parsed as {other:?}"),
            };
            let plan = plan.expect("a plan");
            assert_eq!(
                (plan.weight_percent, plan.orgs.as_slice()),
                (25, &["Org2MSP".to_owned()][..])
            );
        }
        let ContractCommand::Lifecycle(LifecycleCommand::Approve { definition, .. }) = parse(&[
            "approve",
            "--name",
            "basic",
            "--sequence",
            "2",
            "--canary",
            "150%",
        ])
        .unwrap() else {
            panic!("approve");
        };
        let e = definition.definition().unwrap_err().to_string();
        assert!(e.contains("150% is outside 0-100%"), "{e}");
    }

    #[test]
    fn upgrade_refuses_bad_input_before_touching_the_network() {
        let tmp = tempfile::tempdir().unwrap();
        let pkg = write(tmp.path(), "v2.wasm", "cambium-manifest 1\nschema 1\n");
        let missing_network = tmp.path().join("no-network");
        let run_upgrade = |extra: &[&str]| {
            let mut args = vec![
                "upgrade",
                "basic",
                "--data-dir",
                missing_network.to_str().unwrap(),
            ];
            args.extend(extra);
            run(parse(&args).unwrap()).unwrap_err().to_string()
        };
        let pkg_arg = pkg.to_str().unwrap();
        let e = run_upgrade(&["--package", pkg_arg, "--canary", "150%"]);
        assert!(e.contains("150% is outside 0-100%"), "{e}");
        let e = run_upgrade(&["--package", pkg_arg, "--selector", "Org1MSP"]);
        assert!(e.contains("selector 'Org1MSP' has no '='"), "{e}");
        let gone = tmp.path().join("gone.tar.gz");
        let e = run_upgrade(&["--package", gone.to_str().unwrap()]);
        assert!(e.contains("does not exist"), "{e}");
        // Good flags get as far as looking for the network.
        let e = run_upgrade(&["--package", pkg_arg, "--canary", "10%"]);
        assert!(e.contains("no network in"), "{e}");
    }

    #[test]
    fn sign_refuses_bad_input_with_what_to_do() {
        let tmp = tempfile::tempdir().unwrap();
        let pkg = tmp.path().join("kv_1.tar.gz");
        std::fs::write(&pkg, write_package(b"\0asm\x01\0\0\0", "kv_1").unwrap()).unwrap();
        let sign = |signer: &str| {
            let pkg = pkg.to_str().unwrap();
            run(parse(&["sign", pkg, "--signer", signer, "--json"]).unwrap())
                .unwrap_err()
                .to_string()
        };
        let e = sign("Org1MSP");
        assert!(e.contains("write MSPID=DIR"), "{e}");
        let e = sign(&format!("Org1MSP={}", tmp.path().display()));
        assert!(e.contains("pass an admin's MSP folder"), "{e}");
    }

    #[test]
    fn check_compares_two_modules() {
        let tmp = tempfile::tempdir().unwrap();
        let old = write(
            tmp.path(),
            "old.wasm",
            "cambium-manifest 1\nschema 1\nfn Get id:string\nfn Put id:string v:i64\n",
        );
        let same = write(
            tmp.path(),
            "same.wasm",
            "cambium-manifest 1\nschema 2\nmigrate\nfn Get id:string\nfn Put id:string v:i64\nfn List\n",
        );
        let breaking = write(
            tmp.path(),
            "breaking.wasm",
            "cambium-manifest 1\nschema 2\nfn Put id:string\n",
        );
        let report = check(&old, &same).unwrap();
        assert!(!report.is_breaking(), "{report}");
        let report = check(&old, &breaking).unwrap();
        assert_eq!(report.breaking_changes().len(), 3, "{report}");
        let bare = tmp.path().join("bare.wasm");
        std::fs::write(&bare, b"\0asm\x01\0\0\0").unwrap();
        let e = format!("{:#}", check(&old, &bare).unwrap_err());
        assert!(e.contains("has no interface manifest"), "{e}");
        let e = format!("{:#}", check(&tmp.path().join("nope"), &old).unwrap_err());
        assert!(e.contains("does not exist"), "{e}");
        assert!(matches!(
            parse(&["check", "a", "b", "--json"]).unwrap(),
            ContractCommand::Check { json: true, .. }
        ));
    }
}
