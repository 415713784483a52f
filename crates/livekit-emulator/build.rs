//! Compiles LiveKit's protocol definitions, as shipped inside the `livekit-protocol`
//! crate we depend on, into a descriptor set. The emulator needs it to answer Twirp
//! JSON requests the way the real server does (proto field names, every field present),
//! which the crate's pbjson serializers cannot do. Taking the files from the very crate
//! version we compile against keeps the descriptors and the Rust types in step.

use std::{env, path::PathBuf, process::Command};

fn main() {
    let cargo = env::var("CARGO").unwrap_or_else(|_| "cargo".into());
    let manifest = PathBuf::from(env::var("CARGO_MANIFEST_DIR").unwrap()).join("Cargo.toml");
    let output = Command::new(cargo)
        .args(["metadata", "--format-version", "1", "--filter-platform"])
        .arg(env::var("TARGET").unwrap())
        .arg("--manifest-path")
        .arg(&manifest)
        .output()
        .expect("run cargo metadata");
    assert!(
        output.status.success(),
        "cargo metadata failed: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    let metadata: serde_json::Value = serde_json::from_slice(&output.stdout).unwrap();
    let protocol_manifest = metadata["packages"]
        .as_array()
        .unwrap()
        .iter()
        .find(|package| package["name"] == "livekit-protocol")
        .and_then(|package| package["manifest_path"].as_str())
        .expect("livekit-protocol is a dependency");
    let protobufs = PathBuf::from(protocol_manifest)
        .parent()
        .unwrap()
        .join("protocol/protobufs");

    let files = [
        "livekit_egress.proto",
        "livekit_room.proto",
        "livekit_webhook.proto",
    ];
    let descriptors = protox::compile(files, [&protobufs]).expect("compile LiveKit protobufs");
    let out = PathBuf::from(env::var("OUT_DIR").unwrap()).join("livekit_descriptors.bin");
    std::fs::write(out, prost_encode(&descriptors)).unwrap();
    println!("cargo:rerun-if-changed=build.rs");
}

fn prost_encode(set: &protox::prost_reflect::prost_types::FileDescriptorSet) -> Vec<u8> {
    use protox::prost::Message;
    set.encode_to_vec()
}
