//! Helpers every CLI test module uses: run the built `cambium` binary and read its output.

use std::path::Path;
use std::process::{Command, Output};

/// Runs the `cambium` binary under test with `args` (no backtraces, so errors read as users see
/// them).
pub(crate) fn cambium(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_cambium"))
        .args(args)
        .env_remove("RUST_BACKTRACE")
        .output()
        .expect("the cambium binary runs")
}

/// The command's standard output as text.
pub(crate) fn stdout(output: &Output) -> String {
    String::from_utf8(output.stdout.clone()).expect("stdout is UTF-8")
}

/// The command's standard error as text.
pub(crate) fn stderr(output: &Output) -> String {
    String::from_utf8(output.stderr.clone()).expect("stderr is UTF-8")
}

/// A path as a command-line argument.
pub(crate) fn path_arg(path: &Path) -> &str {
    path.to_str().expect("test paths are UTF-8")
}

/// Runs `cambium ARGS`, which must fail with `needle` in its error; returns the error text.
pub(crate) fn refused(args: &[&str], needle: &str) -> String {
    let out = cambium(args);
    let err = stderr(&out);
    assert!(!out.status.success(), "cambium {args:?} succeeded");
    assert!(
        err.contains(needle),
        "cambium {args:?}: no {needle:?} in {err}"
    );
    err
}

/// Runs `cambium ARGS`, which must succeed; returns its standard output.
pub(crate) fn succeeds(args: &[&str]) -> String {
    let out = cambium(args);
    assert!(
        out.status.success(),
        "cambium {args:?} failed: {}",
        stderr(&out)
    );
    stdout(&out)
}
