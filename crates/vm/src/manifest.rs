//! The interface manifest a contract embeds (see `cambium-sdk`'s `manifest` module for the
//! text format) and reading it out of a module.
//!
//! Items: `schema N` (state schema version), `migrate` (the contract exports
//! `cambium_migrate`), `fn NAME arg:type …` (one per function).

use serde::Serialize;

use crate::error::{Result, VmError};

/// The custom section holding the manifest.
pub const MANIFEST_SECTION: &str = "cambium_manifest";

/// One argument of a function.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct ArgSig {
    /// The argument's name.
    pub name: String,
    /// Its type name (`string`, `i64`, `bytes`, `json`, …).
    #[serde(rename = "type")]
    pub ty: String,
}

/// One function a contract offers.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct FunctionSig {
    /// The name clients call.
    pub name: String,
    /// Its arguments, in order.
    pub args: Vec<ArgSig>,
}

/// A contract's interface: its functions and state schema version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Manifest {
    /// The manifest format version.
    pub format: u32,
    /// The contract's state schema version.
    pub schema_version: u32,
    /// Whether the contract declares a migration (a `migrate` line; export `cambium_migrate`).
    pub migrate: bool,
    /// The functions, in declaration order.
    pub functions: Vec<FunctionSig>,
}

fn bad(reason: String) -> VmError {
    VmError::BadManifest { reason }
}

impl Manifest {
    /// Parses the manifest text.
    pub fn parse(text: &str) -> Result<Manifest> {
        let mut lines = text.lines().enumerate();
        let format = match lines.next() {
            Some((_, line)) => line
                .strip_prefix("cambium-manifest ")
                .and_then(|v| v.parse::<u32>().ok())
                .ok_or_else(|| {
                    bad(format!(
                        "first line must be 'cambium-manifest <version>', got '{line}'"
                    ))
                })?,
            None => return Err(bad("it is empty".into())),
        };
        if format != 1 {
            return Err(bad(format!(
                "format {format} is not supported (this VM reads format 1); upgrade the peer"
            )));
        }
        let mut manifest = Manifest {
            format,
            schema_version: 0,
            migrate: false,
            functions: Vec::new(),
        };
        let mut saw_schema = false;
        for (i, line) in lines {
            let n = i + 1;
            let mut words = line.split(' ').filter(|w| !w.is_empty());
            match words.next() {
                Some("schema") => {
                    manifest.schema_version = words
                        .next()
                        .and_then(|v| v.parse().ok())
                        .ok_or_else(|| bad(format!("line {n}: 'schema' needs a number")))?;
                    saw_schema = true;
                }
                Some("migrate") => {
                    if manifest.migrate {
                        return Err(bad(format!("line {n}: 'migrate' is declared twice")));
                    }
                    if let Some(extra) = words.next() {
                        return Err(bad(format!(
                            "line {n}: 'migrate' takes nothing after it, got '{extra}'"
                        )));
                    }
                    manifest.migrate = true;
                }
                Some("fn") => {
                    let name = words
                        .next()
                        .ok_or_else(|| bad(format!("line {n}: 'fn' needs a name")))?;
                    let mut args = Vec::new();
                    for word in words {
                        let (arg, ty) = word.split_once(':').ok_or_else(|| {
                            bad(format!("line {n}: argument '{word}' must be name:type"))
                        })?;
                        args.push(ArgSig {
                            name: arg.to_string(),
                            ty: ty.to_string(),
                        });
                    }
                    if manifest.functions.iter().any(|f| f.name == name) {
                        return Err(bad(format!(
                            "line {n}: function '{name}' is declared twice"
                        )));
                    }
                    manifest.functions.push(FunctionSig {
                        name: name.to_string(),
                        args,
                    });
                }
                None => {}
                Some(other) => return Err(bad(format!("line {n}: unknown item '{other}'"))),
            }
        }
        if !saw_schema {
            return Err(bad("it has no 'schema' line".into()));
        }
        Ok(manifest)
    }

    /// Reads the manifest from a module's `cambium_manifest` custom section, if it has one.
    pub fn from_module(wasm: &[u8]) -> Result<Option<Manifest>> {
        check_header(wasm)?;
        for payload in wasmparser::Parser::new(0).parse_all(wasm) {
            let payload = payload.map_err(|e| VmError::NotWasm {
                reason: e.message().to_string(),
            })?;
            if let wasmparser::Payload::CustomSection(section) = payload {
                if section.name() == MANIFEST_SECTION {
                    let text = std::str::from_utf8(section.data())
                        .map_err(|_| bad("it is not UTF-8".into()))?;
                    return Manifest::parse(text).map(Some);
                }
            }
        }
        Ok(None)
    }
}

/// Checks the WebAssembly magic number and version.
pub(crate) fn check_header(wasm: &[u8]) -> Result<()> {
    if wasm.len() < 8 || &wasm[..4] != b"\0asm" {
        return Err(VmError::NotWasm {
            reason: "missing the \\0asm magic number".into(),
        });
    }
    if wasm[4..8] != [1, 0, 0, 0] {
        return Err(VmError::NotWasm {
            reason: "not a core module (version 1); components are not supported".into(),
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_the_sdk_format() {
        let m =
            Manifest::parse("cambium-manifest 1\nschema 2\nfn Get key:string\nfn Init\n").unwrap();
        assert_eq!(m.schema_version, 2);
        assert_eq!(
            m.functions[0].args[0],
            ArgSig {
                name: "key".into(),
                ty: "string".into()
            }
        );
        assert!(m.functions[1].args.is_empty());
        assert!(!m.migrate);
        let m = Manifest::parse("cambium-manifest 1\nschema 2\nmigrate\nfn Get\n").unwrap();
        assert!(m.migrate);
    }

    #[test]
    fn names_what_is_wrong() {
        let err = |t: &str| Manifest::parse(t).unwrap_err().to_string();
        assert!(err("").contains("empty"));
        assert!(err("hello").contains("first line"));
        assert!(err("cambium-manifest 2\nschema 1").contains("format 2"));
        assert!(err("cambium-manifest 1\nfn A").contains("no 'schema'"));
        assert!(err("cambium-manifest 1\nschema 1\nfn A x").contains("line 3"));
        assert!(err("cambium-manifest 1\nschema 1\nfn A\nfn A").contains("twice"));
        assert!(err("cambium-manifest 1\nschema 1\nwhat").contains("unknown item"));
        assert!(err("cambium-manifest 1\nschema 1\nmigrate\nmigrate").contains("twice"));
        assert!(err("cambium-manifest 1\nschema 1\nmigrate x").contains("nothing after"));
    }
}
