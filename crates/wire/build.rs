//! Compiles Cambium's Fabric-compatible `.proto` files with `protox` (no `protoc` needed) and
//! generates prost messages plus tonic clients and servers. Also writes the serialized
//! `FileDescriptorSet` that the descriptor compatibility test compares against Fabric's.

use std::path::{Path, PathBuf};

use prost::Message;

/// Every `.proto` file under `dir`, as paths relative to it, sorted so the build is reproducible.
fn proto_files(dir: &Path, root: &Path, out: &mut Vec<PathBuf>) -> std::io::Result<()> {
    for entry in std::fs::read_dir(dir)? {
        let path = entry?.path();
        if path.is_dir() {
            proto_files(&path, root, out)?;
        } else if path.extension().is_some_and(|e| e == "proto") {
            out.push(
                path.strip_prefix(root)
                    .expect("inside the proto root")
                    .to_path_buf(),
            );
        }
    }
    Ok(())
}

fn main() -> Result<(), Box<dyn std::error::Error>> {
    let proto_dir = PathBuf::from(std::env::var("CARGO_MANIFEST_DIR")?).join("proto");
    let out_dir = PathBuf::from(std::env::var("OUT_DIR")?);
    println!("cargo:rerun-if-changed={}", proto_dir.display());
    let mut protos = Vec::new();
    proto_files(&proto_dir, &proto_dir, &mut protos)?;
    protos.sort();
    for file in &protos {
        println!("cargo:rerun-if-changed={}", proto_dir.join(file).display());
    }

    let fds = protox::compile(&protos, [&proto_dir])?;
    std::fs::write(out_dir.join("cambium_descriptor.bin"), fds.encode_to_vec())?;

    tonic_prost_build::configure()
        .build_client(true)
        .build_server(true)
        // Maps become BTreeMaps so encoding order never depends on hashing.
        .btree_map(".")
        .compile_fds(fds)?;
    Ok(())
}
