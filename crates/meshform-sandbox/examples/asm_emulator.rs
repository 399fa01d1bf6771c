//! Runs the ASM emulator alone on loopback and prints a `sandbox.json`-shaped description of it
//! (endpoint, credentials, clusters), for driving it by hand or with
//! `tests/python/asm_sdk_test.py`:
//!
//! ```text
//! cargo run -p meshform-sandbox --example asm_emulator -- /tmp/asm-state.json > /tmp/sandbox.json &
//! MESHFORM_SANDBOX_JSON=/tmp/sandbox.json python3 crates/meshform-sandbox/tests/python/asm_sdk_test.py
//! ```
//!
//! Stops on Ctrl-C. The state file (first argument, default `asm-state.json`) keeps the meshes.

#![allow(clippy::print_stdout, clippy::print_stderr)] // an example program talks to its user

use meshform_sandbox::asm::{self, Account, AsmOptions, EmulatedCluster};

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let state_file = std::env::args().nth(1).unwrap_or_else(|| "asm-state.json".into());
    let cluster = |n: u8, region: &str| EmulatedCluster {
        id: format!("c{n}0f45444b3da447da60a911390c2a9e{n}"),
        name: format!("cluster-{n}"),
        region: region.into(),
        vpc_id: format!("vpc-sandbox{n}"),
        vswitch_id: format!("vsw-sandbox{n}"),
    };
    let account = Account {
        access_key_id: "LTAI5tSandboxKeyId01".into(),
        access_key_secret: "sandbox-secret-0123456789abcdef".into(),
        clusters: vec![cluster(1, "cn-hangzhou"), cluster(2, "cn-shanghai")],
    };
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let emu = asm::start(listener, account.clone(), AsmOptions::new(state_file)).await?;
    let clusters: Vec<_> = account
        .clusters
        .iter()
        .map(|c| {
            serde_json::json!({"name": c.name, "id": c.id, "region": c.region, "vpc_id": c.vpc_id, "vswitch_id": c.vswitch_id})
        })
        .collect();
    let description = serde_json::json!({
        "asm": {
            "endpoint": emu.endpoint(),
            "access_key_id": account.access_key_id,
            "access_key_secret": account.access_key_secret,
        },
        "clusters": clusters,
    });
    println!("{}", serde_json::to_string_pretty(&description)?);
    tokio::signal::ctrl_c().await?;
    eprintln!("stopping");
    emu.shutdown().await?;
    Ok(())
}
