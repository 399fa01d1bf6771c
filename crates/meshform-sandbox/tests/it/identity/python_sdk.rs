//! The official Python credentials SDK (`alibabacloud-credentials`): its default chain, with
//! nothing configured but the ECS metadata service reached through `HTTP_PROXY` (the SDK has the
//! address `100.100.100.200` built in), resolves the instance RAM role against the metadata
//! emulator in hardened mode, and the servicemesh SDK signs with those credentials calls the ASM
//! emulator accepts: `tests/python/credentials_sdk_test.py`. Skipped, with a message, when `python3`
//! or the SDK is missing (`scripts/install-test-deps` installs it).

use std::path::PathBuf;
use std::process::Command;
use std::time::Duration;

use meshform_sandbox::metadata::{self, MetadataOptions};

use crate::asm::client::{start, KEY_ID, SECRET};

fn sdk_available() -> Result<(), String> {
    let probe = Command::new("python3")
        .args(["-c", "import alibabacloud_credentials, alibabacloud_servicemesh20200111"])
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
async fn the_official_credentials_sdk_default_chain_resolves_the_instance_role() {
    if let Err(why) = sdk_available() {
        eprintln!(
            "SKIPPED identity::python_sdk: the official Python credentials SDK is not importable ({why}); run crates/meshform-sandbox/scripts/install-test-deps"
        );
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let asm = start(&dir.path().join("asm.json"), Duration::from_millis(300)).await;
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let md = metadata::start(listener, MetadataOptions::new(KEY_ID, SECRET)).await.unwrap();
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/credentials_sdk_test.py");
    let (asm_endpoint, md_endpoint, home) =
        (asm.endpoint(), md.endpoint(), dir.path().to_path_buf());
    let output = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new("python3");
        cmd.arg(script);
        // Nothing but the metadata service: no keys, no profile, no OIDC.
        for (k, _) in std::env::vars() {
            if k.starts_with("ALIBABA_CLOUD_")
                || k.starts_with("ALICLOUD_")
                || k.to_ascii_lowercase().ends_with("_proxy")
            {
                cmd.env_remove(k);
            }
        }
        cmd.env("HOME", &home)
            .env("MESHFORM_ASM_ENDPOINT", asm_endpoint)
            .env("HTTP_PROXY", &md_endpoint)
            .env("http_proxy", &md_endpoint)
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
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
    eprintln!("{stdout}");
    md.shutdown().await;
}
