//! The official Alibaba Cloud Python SDK for ACK (`alibabacloud-cs20151215`) against a started
//! sandbox's CS emulator: `tests/python/cs_sdk_test.py`, given its `sandbox.json`. Skipped, with a
//! message, when `python3` or the SDK is missing (`scripts/install-test-deps` installs it).

use std::path::PathBuf;
use std::process::Command;

use super::roa::sandbox;

fn sdk_available() -> Result<(), String> {
    let probe = Command::new("python3")
        .args(["-c", "import alibabacloud_cs20151215, alibabacloud_tea_openapi"])
        .output()
        .map_err(|e| format!("python3 cannot be run: {e}"))?;
    if probe.status.success() {
        Ok(())
    } else {
        let stderr = String::from_utf8_lossy(&probe.stderr).into_owned();
        Err(stderr.trim().lines().last().unwrap_or_default().to_owned())
    }
}

#[allow(clippy::print_stderr)] // the skip notice and the script's output are for whoever runs the tests
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn official_python_sdk_drives_the_cs_emulator() {
    if let Err(why) = sdk_available() {
        eprintln!(
            "SKIPPED cs::python_sdk: the official Python SDK for ACK is not importable ({why}); run crates/meshform-sandbox/scripts/install-test-deps"
        );
        return;
    }
    let s = sandbox().await;
    let sandbox_json = s.dir.path().join("sandbox.json");
    let script = PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/cs_sdk_test.py");
    let output = tokio::task::spawn_blocking(move || {
        Command::new("python3")
            .arg(script)
            .env("MESHFORM_SANDBOX_JSON", &sandbox_json)
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
    s.shutdown().await;
}
