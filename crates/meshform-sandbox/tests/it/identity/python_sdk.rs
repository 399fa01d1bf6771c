//! The official Python credentials SDK (`alibabacloud-credentials`): its default chain resolves
//! against the sandbox's identity emulators — the ECS instance RAM role from the metadata emulator
//! (hardened mode), reached through `HTTP_PROXY` since the SDK has `100.100.100.200` built in; and
//! OIDC/RRSA through the STS emulator, reached through an HTTPS proxy (`tls_proxy`) since the SDK
//! calls `https://sts.aliyuncs.com` — and the servicemesh SDK signs with what it found calls the ASM
//! emulator accepts: `tests/python/credentials_sdk_test.py`. Skipped, with a message, when `python3`
//! or the SDK is missing (`scripts/install-test-deps` installs it).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use meshform_sandbox::metadata::{self, MetadataOptions};
use meshform_sandbox::sts::{self, oidc, roles, StsOptions};

use super::tls_proxy;
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

/// A directory with a `certifi` package whose bundle is the installed one plus `ca_file`.
fn trusting_certifi(dir: &Path, ca_file: &Path) -> PathBuf {
    let out = Command::new("python3")
        .args(["-c", "import certifi; print(certifi.where())"])
        .output()
        .unwrap();
    let original =
        std::fs::read_to_string(String::from_utf8_lossy(&out.stdout).trim()).unwrap_or_default();
    let bundle = dir.join("bundle.pem");
    std::fs::write(&bundle, original + "\n" + &std::fs::read_to_string(ca_file).unwrap()).unwrap();
    let package = dir.join("pyshim").join("certifi");
    std::fs::create_dir_all(&package).unwrap();
    let text = format!(
        "def where():\n    return {path:?}\n\ndef contents():\n    with open(where()) as f:\n        return f.read()\n",
        path = bundle.display().to_string()
    );
    std::fs::write(package.join("__init__.py"), text).unwrap();
    dir.join("pyshim")
}

/// Runs the script in `mode` with `vars` (and nothing else of the caller's Alibaba or proxy
/// settings); returns its output after checking it passed.
async fn run(mode: &str, home: &Path, vars: Vec<(String, String)>) -> String {
    let script =
        PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("tests/python/credentials_sdk_test.py");
    let (mode, home) = (mode.to_owned(), home.to_path_buf());
    let output = tokio::task::spawn_blocking(move || {
        let mut cmd = Command::new("python3");
        cmd.arg(script);
        for (k, _) in std::env::vars() {
            let lower = k.to_ascii_lowercase();
            if k.starts_with("ALIBABA_CLOUD_")
                || k.starts_with("ALICLOUD_")
                || lower.ends_with("_proxy")
                || k == "SSL_CERT_FILE"
                || k == "PYTHONPATH"
            {
                cmd.env_remove(k);
            }
        }
        cmd.env("HOME", &home).env("MESHFORM_CREDENTIAL_MODE", &mode).envs(vars).output()
    })
    .await
    .unwrap()
    .expect("python3 runs");
    let stdout = String::from_utf8_lossy(&output.stdout).into_owned();
    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(output.status.success(), "the Python SDK script failed:\n{stdout}\n{stderr}");
    assert!(stdout.contains("passed, 0 failed"), "{stdout}");
    assert!(!stdout.contains(SECRET) && !stderr.contains(SECRET));
    stdout
}

#[allow(clippy::print_stderr)] // the skip notice and the script's output are for whoever runs the tests
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_official_credentials_sdk_default_chain_resolves_against_the_emulators() {
    if let Err(why) = sdk_available() {
        eprintln!(
            "SKIPPED identity::python_sdk: the official Python credentials SDK is not importable ({why}); run crates/meshform-sandbox/scripts/install-test-deps"
        );
        return;
    }
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let dir = tempfile::tempdir().unwrap();
    let asm = start(&dir.path().join("asm.json"), Duration::from_millis(300)).await;
    let var = |k: &str, v: &str| (k.to_owned(), v.to_owned());

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let md = metadata::start(listener, MetadataOptions::new(KEY_ID, SECRET)).await.unwrap();
    let ecs = run(
        "ecs",
        dir.path(),
        vec![
            var("MESHFORM_ASM_ENDPOINT", &asm.endpoint()),
            var("HTTP_PROXY", &md.endpoint()),
            var("http_proxy", &md.endpoint()),
        ],
    )
    .await;
    eprintln!("{ecs}");

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let sts_addr = listener.local_addr().unwrap();
    let opts = StsOptions {
        access_key_id: KEY_ID.into(),
        access_key_secret: SECRET.into(),
        max_lifetime: None,
    };
    let sts = sts::start(listener, opts).await.unwrap();
    let ca_file = dir.path().join("proxy-ca.pem");
    let proxy = tls_proxy::start(sts_addr, &["sts.aliyuncs.com"], &ca_file).await;
    let token_file = dir.path().join("rrsa-token");
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    std::fs::write(
        &token_file,
        oidc::token(SECRET, "system:serviceaccount:ci:runner", now, now + 3600),
    )
    .unwrap();
    let issued = sts.issued();
    let rrsa = run(
        "oidc",
        dir.path(),
        vec![
            var("MESHFORM_ASM_ENDPOINT", &asm.endpoint()),
            var("ALIBABA_CLOUD_ROLE_ARN", &roles::role_arn(sts.account_id(), roles::CI_ROLE)),
            var("ALIBABA_CLOUD_OIDC_PROVIDER_ARN", &oidc::provider_arn(sts.account_id())),
            var("ALIBABA_CLOUD_OIDC_TOKEN_FILE", &token_file.display().to_string()),
            var("HTTPS_PROXY", &proxy),
            var("https_proxy", &proxy),
            // The proxy's CA: the SDK verifies against `certifi`'s bundle only (its proxied
            // connections ignore SSL_CERT_FILE), so a `certifi` that adds it comes first.
            var("PYTHONPATH", &trusting_certifi(dir.path(), &ca_file).display().to_string()),
        ],
    )
    .await;
    eprintln!("{rrsa}");
    assert_eq!(sts.issued(), issued + 1, "the SDK's AssumeRoleWithOIDC reached the STS emulator");
    md.shutdown().await;
    sts.shutdown().await;
}
