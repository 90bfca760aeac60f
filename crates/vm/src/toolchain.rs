//! Building a contract crate into a `.wasm` module with whichever toolchain is installed.
//!
//! Order: the rustup toolchain if it has the `wasm32-unknown-unknown` standard library, else
//! Debian's `/usr/bin/rustc` with `libstd-rust-dev-wasm32` (Rust 1.63, offline, path-only
//! dependencies). `CAMBIUM_WASM_TOOLCHAIN=rustup|debian` forces one. If neither exists, the
//! error says what to install.

use std::path::{Path, PathBuf};
use std::process::Command;

use thiserror::Error;

/// The target contracts are built for.
pub const WASM_TARGET: &str = "wasm32-unknown-unknown";
/// Environment variable that forces a toolchain (`rustup` or `debian`).
pub const TOOLCHAIN_ENV: &str = "CAMBIUM_WASM_TOOLCHAIN";
/// Debian's compiler.
pub const DEBIAN_RUSTC: &str = "/usr/bin/rustc";
/// Debian's cargo.
pub const DEBIAN_CARGO: &str = "/usr/bin/cargo";
/// Where Debian's `libstd-rust-dev-wasm32` puts the wasm32 standard library.
pub const DEBIAN_WASM_STD: &str = "/usr/lib/rustlib/wasm32-unknown-unknown";
/// The wasm linker Debian's rustc calls: a link to `lld-<llvm version>`, which the wasm32
/// standard library only recommends, so `--no-install-recommends` leaves it dangling.
pub const DEBIAN_LINKER: &str = "/usr/bin/rust-lld";

/// The shadow stack a contract built here gets, in bytes (Rust's default for wasm32 is 1 MiB).
///
/// Rust puts the stack at the bottom of linear memory, below the data and the heap. A smaller
/// stack keeps a call's working set (stack top, data, heap) inside the bytes the VM's instance
/// pool resets in place after each call (`POOL_KEEP_RESIDENT_BYTES`) rather than `madvise`s
/// away, and makes the initial memory smaller. The value is linked into the module, so every
/// peer running the package gets the same stack: a call that needs more traps the same way on
/// all of them (its stack pointer leaves linear memory), with no effect on other calls.
/// Modules built elsewhere keep whatever stack they were linked with.
pub const CONTRACT_STACK_BYTES: u32 = 256 * 1024;

/// The linear memory a contract built here starts with, in bytes (a multiple of the 64 KiB
/// WebAssembly page).
///
/// Rust's linker otherwise gives a module just enough pages for its stack and data, so the first
/// allocation of every call grows memory. In the VM's instance pool each grow costs two
/// page-protection changes (the grow, and the reset before the slot's next call), and taking
/// access away again means TLB shootdowns across cores: about a third of the VM's CPU in an
/// end-to-end profile. With this much initial memory and the SDK's allocator (which serves the
/// free pages above the data before growing), a typical call never grows: the 256 KiB stack, up
/// to ~30 KiB of data, and ~220 KiB of heap. Measured peak heap of the example contracts'
/// calls: see `crates/vm/tests/it/memory.rs`, which fails if one of them grows memory.
///
/// It stays within the pool's in-place reset (`POOL_KEEP_RESIDENT_BYTES`, 1 MiB), so the pages
/// a call wrote are reset without `madvise`, and a slot is never resized between calls of
/// modules built here. A contract whose stack and data do not fit is linked without it (the
/// linker's default), and behaves as before.
pub const CONTRACT_INITIAL_MEMORY_BYTES: u32 = 512 * 1024;

/// The cargo environment variable through which [`build`] passes [`contract_rustflags`] (target
/// rustflags, so a plain `RUSTFLAGS` of the caller neither overrides nor leaks in). Cargo takes
/// target rustflags over `[build] rustflags`, so a contract's own `[build] rustflags` are not
/// used by [`build`]; a contract that needs flags sets them per target.
pub const STACK_RUSTFLAGS_ENV: &str = "CARGO_TARGET_WASM32_UNKNOWN_UNKNOWN_RUSTFLAGS";

/// The rustflags [`build`] adds for the stack size.
pub fn stack_rustflags() -> String {
    format!("-C link-arg=-zstack-size={CONTRACT_STACK_BYTES}")
}

/// The rustflags [`build`] adds for the initial memory ([`CONTRACT_INITIAL_MEMORY_BYTES`]).
pub fn memory_rustflags() -> String {
    format!("-C link-arg=--initial-memory={CONTRACT_INITIAL_MEMORY_BYTES}")
}

/// All rustflags [`build`] sets for a contract: [`stack_rustflags`] and [`memory_rustflags`].
pub fn contract_rustflags() -> String {
    format!("{} {}", stack_rustflags(), memory_rustflags())
}

/// What `wasm-ld` says when a module's stack and data do not fit in the requested initial
/// memory; [`build`] then links it with the linker's default instead.
const INITIAL_MEMORY_TOO_SMALL: &str = "initial memory too small";

/// What to install when no wasm toolchain is found.
pub const INSTALL_HINT: &str =
    "install Debian's toolchain with `apt-get install -y rustc cargo libstd-rust-dev-wasm32 lld`, \
or add the target to rustup with `rustup target add wasm32-unknown-unknown`";

/// Why a contract could not be built.
#[derive(Debug, Error)]
pub enum BuildError {
    /// No toolchain can build wasm32.
    #[error("no Rust toolchain here can build {WASM_TARGET}: {detail}; {INSTALL_HINT}")]
    NoToolchain {
        /// What was looked for.
        detail: String,
    },
    /// The directory is not a contract crate.
    #[error("{path} is not a contract crate: {reason}")]
    NotACrate {
        /// The directory.
        path: String,
        /// What is missing.
        reason: String,
    },
    /// cargo failed.
    #[error("cargo build of {path} failed ({toolchain} toolchain):\n{stderr}")]
    Cargo {
        /// The crate.
        path: String,
        /// Which toolchain.
        toolchain: &'static str,
        /// cargo's error output.
        stderr: String,
    },
    /// Running a program failed.
    #[error("could not run {program}: {reason}")]
    Spawn {
        /// The program.
        program: String,
        /// The OS error.
        reason: String,
    },
}

/// A toolchain able to build wasm32 contracts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Toolchain {
    /// The rustup toolchain on `PATH` with the wasm32 target installed.
    Rustup,
    /// Debian's rustc 1.63 and cargo 1.65.
    Debian,
}

impl Toolchain {
    /// A short name for messages.
    pub fn name(&self) -> &'static str {
        match self {
            Toolchain::Rustup => "rustup",
            Toolchain::Debian => "debian",
        }
    }
}

fn rustup_has_wasm() -> Result<(), String> {
    let out = Command::new("rustc")
        .args(["--print", "sysroot"])
        .env_remove("RUSTC")
        .output()
        .map_err(|e| format!("`rustc` not runnable ({e})"))?;
    let sysroot = String::from_utf8_lossy(&out.stdout).trim().to_string();
    let lib = Path::new(&sysroot).join("lib/rustlib").join(WASM_TARGET);
    if out.status.success() && lib.is_dir() {
        Ok(())
    } else {
        Err(format!(
            "the rustup toolchain at '{sysroot}' has no {WASM_TARGET} standard library"
        ))
    }
}

fn debian_has_wasm() -> Result<(), String> {
    for path in [DEBIAN_RUSTC, DEBIAN_CARGO, DEBIAN_WASM_STD, DEBIAN_LINKER] {
        // `exists` follows links: a rust-lld whose lld is not installed counts as missing.
        if !Path::new(path).exists() {
            return Err(format!("{path} does not exist"));
        }
    }
    Ok(())
}

/// Finds a toolchain that can build wasm32 contracts.
pub fn detect() -> Result<Toolchain, BuildError> {
    match std::env::var(TOOLCHAIN_ENV).ok().as_deref() {
        Some("rustup") => {
            return rustup_has_wasm()
                .map(|()| Toolchain::Rustup)
                .map_err(|detail| BuildError::NoToolchain { detail })
        }
        Some("debian") => {
            return debian_has_wasm()
                .map(|()| Toolchain::Debian)
                .map_err(|detail| BuildError::NoToolchain { detail })
        }
        _ => {}
    }
    let rustup = match rustup_has_wasm() {
        Ok(()) => return Ok(Toolchain::Rustup),
        Err(e) => e,
    };
    match debian_has_wasm() {
        Ok(()) => Ok(Toolchain::Debian),
        Err(debian) => Err(BuildError::NoToolchain {
            detail: format!("{rustup}, and {debian}"),
        }),
    }
}

/// The `[package] name` of the crate at `dir`.
pub fn crate_name(dir: &Path) -> Result<String, BuildError> {
    let manifest = dir.join("Cargo.toml");
    let not_crate = |reason: String| BuildError::NotACrate {
        path: dir.display().to_string(),
        reason,
    };
    let text = std::fs::read_to_string(&manifest)
        .map_err(|e| not_crate(format!("cannot read Cargo.toml ({e})")))?;
    let mut in_package = false;
    for line in text.lines() {
        let line = line.trim();
        if line.starts_with('[') {
            in_package = line == "[package]";
        } else if in_package {
            if let Some(rest) = line.strip_prefix("name") {
                if let Some(value) = rest.trim_start().strip_prefix('=') {
                    return Ok(value.trim().trim_matches('"').to_string());
                }
            }
        }
    }
    Err(not_crate("Cargo.toml has no [package] name".into()))
}

/// Builds the contract crate at `dir` in release mode into `target_dir`; returns the path of
/// the `.wasm` file. The module is linked with a [`CONTRACT_STACK_BYTES`] shadow stack and
/// [`CONTRACT_INITIAL_MEMORY_BYTES`] of initial memory (or the linker's default size, if its
/// stack and data do not fit in that).
pub fn build(dir: &Path, target_dir: &Path) -> Result<PathBuf, BuildError> {
    // cargo runs inside `dir`, so a relative target directory must be made absolute first
    // (else `contracts/x/target` would land in `contracts/x/contracts/x/target`).
    let absolute;
    let target_dir = if target_dir.is_relative() {
        absolute = std::env::current_dir()
            .map_err(|e| BuildError::Spawn {
                program: "cargo".to_owned(),
                reason: format!("cannot read the current directory: {e}"),
            })?
            .join(target_dir);
        absolute.as_path()
    } else {
        target_dir
    };
    let toolchain = detect()?;
    let name = crate_name(dir)?;
    let mut out = cargo_build(&toolchain, dir, target_dir, &contract_rustflags())?;
    if !out.status.success()
        && String::from_utf8_lossy(&out.stderr).contains(INITIAL_MEMORY_TOO_SMALL)
    {
        // Stack and data alone exceed the initial memory: link with the linker's default
        // size rather than refuse the contract (it then grows memory as it needs).
        out = cargo_build(&toolchain, dir, target_dir, &stack_rustflags())?;
    }
    if !out.status.success() {
        return Err(BuildError::Cargo {
            path: dir.display().to_string(),
            toolchain: toolchain.name(),
            stderr: String::from_utf8_lossy(&out.stderr).into_owned(),
        });
    }
    let wasm = target_dir
        .join(WASM_TARGET)
        .join("release")
        .join(format!("{}.wasm", name.replace('-', "_")));
    if !wasm.is_file() {
        return Err(BuildError::NotACrate {
            path: dir.display().to_string(),
            reason: format!(
                "the build produced no {}; set `crate-type = [\"cdylib\", \"rlib\"]` in [lib]",
                wasm.display()
            ),
        });
    }
    Ok(wasm)
}

/// Runs `cargo build` of the crate at `dir` with `rustflags` for the wasm target.
fn cargo_build(
    toolchain: &Toolchain,
    dir: &Path,
    target_dir: &Path,
    rustflags: &str,
) -> Result<std::process::Output, BuildError> {
    let mut cmd = match toolchain {
        Toolchain::Rustup => Command::new("cargo"),
        Toolchain::Debian => {
            let mut c = Command::new(DEBIAN_CARGO);
            c.env("RUSTC", DEBIAN_RUSTC).arg("--offline");
            c
        }
    };
    // Settings of an enclosing cargo run (tests, build scripts) must not leak into this build.
    for (key, _) in std::env::vars_os() {
        let key = key.to_string_lossy().into_owned();
        let leaks = (key.starts_with("CARGO_") && key != "CARGO_HOME")
            || key.starts_with("RUSTC_")
            || key == "RUSTFLAGS"
            || key == "RUSTDOCFLAGS"
            || (key == "RUSTC" && *toolchain == Toolchain::Rustup);
        if leaks {
            cmd.env_remove(&key);
        }
    }
    if *toolchain == Toolchain::Rustup {
        cmd.env_remove("RUSTC");
    }
    cmd.env(STACK_RUSTFLAGS_ENV, rustflags);
    cmd.current_dir(dir)
        .args([
            "build",
            "--release",
            "--quiet",
            "--target",
            WASM_TARGET,
            "--target-dir",
        ])
        .arg(target_dir);
    cmd.output().map_err(|e| BuildError::Spawn {
        program: format!("{cmd:?}"),
        reason: e.to_string(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_missing_toolchain_says_what_to_install() {
        let text = BuildError::NoToolchain {
            detail: "/usr/bin/rustc does not exist".into(),
        }
        .to_string();
        assert!(
            text.contains("apt-get install -y rustc cargo libstd-rust-dev-wasm32 lld"),
            "{text}"
        );
        assert!(
            text.contains("rustup target add wasm32-unknown-unknown"),
            "{text}"
        );
        assert!(text.contains("/usr/bin/rustc does not exist"), "{text}");
    }

    #[test]
    fn reads_the_package_name() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(
            dir.path().join("Cargo.toml"),
            "[package]\nname = \"my-contract\"\n[lib]\nname = \"x\"\n",
        )
        .unwrap();
        assert_eq!(crate_name(dir.path()).unwrap(), "my-contract");
        std::fs::write(dir.path().join("Cargo.toml"), "[workspace]\n").unwrap();
        assert!(crate_name(dir.path())
            .unwrap_err()
            .to_string()
            .contains("no [package] name"));
    }
}
