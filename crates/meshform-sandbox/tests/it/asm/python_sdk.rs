//! The official Alibaba Cloud Python SDK (`alibabacloud-servicemesh20200111`) against the
//! emulator: `tests/python/asm_sdk_test.py`, given a `sandbox.json` that describes the running
//! emulator. Skipped, with a message, when `python3` or the SDK is missing
//! (`crates/meshform-sandbox/scripts/install-test-deps` installs the pinned SDK).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use super::client::{account, start};

fn sdk_available() -> Result<(), String> {
    let probe = Command::new("python3")
        .args(["-c", "import alibabacloud_servicemesh20200111, alibabacloud_tea_openapi"])
        .output()
        .map_err(|e| format!("python3 cannot be run: {e}"))?;
    if probe.status.success() {
        Ok(())
    } else {
        Err(String::from_utf8_lossy(&probe.stderr)
            .trim()
            .lines()
            .last()
            .unwrap_or_default()
            .to_owned())
    }
}

#[allow(clippy::print_stderr)] // the skip notice and the script's output are for whoever runs the tests
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_drives_the_emulator() {
    if let Err(why) = sdk_available() {
        eprintln!(
            "SKIPPED asm::python_sdk: the official Python SDK is not importable ({why}); run crates/meshform-sandbox/scripts/install-test-deps"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let emu = start(&dir.path().join("asm.json"), Duration::from_millis(300)).await;
    let acct = account();
    let clusters: Vec<_> = acct
        .clusters
        .iter()
        .map(|c| {
            serde_json::json!({
                "name": c.name, "id": c.id, "region": c.region, "vpc_id": c.vpc_id, "vswitch_id": c.vswitch_id,
            })
        })
        .collect();
    let description = serde_json::json!({
        "asm": {
            "endpoint": emu.endpoint(),
            "access_key_id": acct.access_key_id,
            "access_key_secret": acct.access_key_secret,
        },
        "clusters": clusters,
    });
    let sandbox_json = dir.path().join("sandbox.json");
    std::fs::write(&sandbox_json, description.to_string()).unwrap();

    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/asm_sdk_test.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .env("MESHFORM_SANDBOX_JSON", &sandbox_json)
            // The SDK must use the endpoint given, never credentials or proxies from the environment.
            .env_remove("ALIBABA_CLOUD_ACCESS_KEY_ID")
            .env_remove("ALIBABA_CLOUD_ACCESS_KEY_SECRET")
            .env_remove("ALIBABA_CLOUD_SECURITY_TOKEN")
            .env("NO_PROXY", "127.0.0.1,localhost")
            .env("no_proxy", "127.0.0.1,localhost")
            .output()
    })
    .await
    .unwrap()
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout);
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the Python SDK script failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("passed, 0 failed"), "{stdout}");
    eprintln!("{stdout}");
    assert!(emu.snapshot().meshes.is_empty(), "the script deleted its mesh");
    emu.shutdown().await.unwrap();
}
