//! `cambium peer`: a standalone peer joins a channel offline and refuses bad input clearly.

use crate::support::{cambium, path_arg, stderr, stdout};

#[test]
fn a_missing_config_or_block_is_named_in_the_error() {
    let dir = tempfile::tempdir().unwrap();
    let missing = dir.path().join("peer.yaml");
    let out = cambium(&["peer", "start", "--config", path_arg(&missing)]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("peer.yaml"), "{err}");

    // An incomplete YAML names the missing key.
    std::fs::write(&missing, "dataDir: data\nmsp: {dir: msp, id: Org1MSP}\n").unwrap();
    let out = cambium(&["peer", "start", "--config", path_arg(&missing)]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("listenAddress"), "{err}");

    std::fs::write(
        &missing,
        "dataDir: data\nmsp: {dir: msp, id: Org1MSP}\nlistenAddress: 127.0.0.1:0\n",
    )
    .unwrap();
    let block = dir.path().join("genesis.block");
    let out = cambium(&[
        "peer",
        "channel",
        "join",
        "--block",
        path_arg(&block),
        "--config",
        path_arg(&missing),
    ]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("genesis.block"), "{err}");

    std::fs::write(&block, b"not a block").unwrap();
    let out = cambium(&[
        "peer",
        "channel",
        "join",
        "--block",
        path_arg(&block),
        "--config",
        path_arg(&missing),
    ]);
    assert!(!out.status.success(), "{}", stdout(&out));
}
