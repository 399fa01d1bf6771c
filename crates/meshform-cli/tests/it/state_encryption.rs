//! State and plan encryption at rest, end to end with the shared-root example: every byte written
//! (state, backup, plan file) holds no private key and no passphrase, an encrypted state is refused
//! without the configuration or with a wrong passphrase and left untouched, a plaintext state is
//! migrated by `meshform init` through an `unencrypted` fallback, and a saved encrypted plan
//! applies. Nothing printed holds the passphrase. With the sandbox's KMS as key provider: a fresh
//! data key per run, rotation to a passphrase and back, clear refusals (unknown key, wrong
//! credentials), and no private key or AccessKey secret in any file, log or PostgreSQL row.

use crate::support::{Run, Workdir};

const PASS: &str = "correct horse battery staple 42";
const VAR: &str = "MESHFORM_VAR_state_passphrase";

const ENCRYPTION: &str = r#"
variable "state_passphrase" {
  type      = string
  sensitive = true
}

meshform {
  encryption {
    key_provider "pbkdf2" "main" {
      passphrase = var.state_passphrase
    }
    method "aes_gcm" "main" {
      keys = key_provider.pbkdf2.main
    }
    method "unencrypted" "migrate" {}
    state {
      method = method.aes_gcm.main
      FALLBACK
    }
    plan {
      method = method.aes_gcm.main
    }
  }
}
"#;

fn example() -> Workdir {
    let w = Workdir::new();
    let src = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
        .join("../../examples/shared-root/main.hcl");
    w.write("main.hcl", &std::fs::read_to_string(src).expect("the example exists"));
    w
}

fn configure(w: &Workdir, fallback: bool) {
    let fb = if fallback { "fallback { method = method.unencrypted.migrate }" } else { "" };
    w.write("encryption.hcl", &ENCRYPTION.replace("FALLBACK", fb));
}

fn run(w: &Workdir, args: &[&str], pass: &str) -> Run {
    let r = w.run_with(args, &[(VAR, pass)]);
    assert!(!r.all_output().contains(pass), "{} printed the passphrase", r.args);
    r
}

fn bytes(w: &Workdir, rel: &str) -> Vec<u8> {
    std::fs::read(w.join(rel)).unwrap_or_else(|e| panic!("{rel}: {e}"))
}

/// The file is an envelope with no private key and no passphrase in it.
fn assert_sealed(w: &Workdir, rel: &str) {
    let text = String::from_utf8_lossy(&bytes(w, rel)).into_owned();
    assert!(!text.contains("PRIVATE KEY"), "{rel} holds a private key");
    assert!(!text.contains(PASS), "{rel} holds the passphrase");
    let doc: serde_json::Value = serde_json::from_str(&text).expect("an envelope is JSON");
    assert_eq!(doc["encryption_version"], "v0", "{rel}");
}

#[test]
fn state_and_plan_files_are_encrypted_and_refused_without_the_key() {
    let w = example();
    configure(&w, false);
    run(&w, &["apply", "--auto-approve"], PASS).code(0);
    assert_sealed(&w, "meshform.state.json");
    run(&w, &["plan", "--out", "plan.bin"], PASS).code(0);
    assert_sealed(&w, "plan.bin");
    // Another change, applied from the encrypted plan, makes a backup.
    std::fs::remove_file(w.join("cluster-1/ca-cert.pem")).expect("remove a bundle file");
    run(&w, &["plan", "--out", "plan.bin"], PASS).code(0);
    run(&w, &["apply", "plan.bin"], PASS).code(0);
    assert!(w.exists("cluster-1/ca-cert.pem"), "the saved plan was applied");
    assert_sealed(&w, "meshform.state.json");
    assert_sealed(&w, "meshform.state.json.backup");
    // Every file meshform keeps (state, backup, plan, records under .meshform/) is free of keys;
    // only the bundles the configuration asks for (cluster-*/) hold one.
    let mut kept = Vec::new();
    let mut dirs = vec![w.path().to_path_buf()];
    while let Some(dir) = dirs.pop() {
        for entry in std::fs::read_dir(&dir).expect("read the directory") {
            let path = entry.expect("entry").path();
            let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
            if path.is_dir() && !name.starts_with("cluster-") {
                dirs.push(path);
            } else if path.is_file() && !name.ends_with(".hcl") {
                let bytes = std::fs::read(&path).expect("read");
                let text = String::from_utf8_lossy(&bytes);
                assert!(!text.contains("PRIVATE KEY"), "{} holds a private key", path.display());
                assert!(!text.contains(PASS), "{} holds the passphrase", path.display());
                kept.push(name);
            }
        }
    }
    for f in ["meshform.state.json", "meshform.state.json.backup", "plan.bin"] {
        assert!(kept.iter().any(|k| k == f), "{f} was swept: {kept:?}");
    }
    // `state pull` gives the owner of the key the decrypted document.
    let pulled = run(&w, &["state", "pull"], PASS).code(0);
    let doc: serde_json::Value = serde_json::from_str(&pulled.stdout).expect("a state document");
    assert!(doc["resources"].is_array() && doc.get("encrypted_data").is_none());
    // An encrypted copy can be pushed back by whoever has the key.
    std::fs::copy(w.join("meshform.state.json"), w.join("copy.json")).expect("copy the state");
    run(&w, &["state", "push", "--force", "copy.json"], PASS).code(0).stdout_has("State pushed");
    assert_sealed(&w, "meshform.state.json");

    let before = (bytes(&w, "meshform.state.json"), bytes(&w, "meshform.state.json.backup"));
    run(&w, &["plan"], "not the right passphrase at all")
        .code(1)
        .stderr_has("authentication failed");
    run(&w, &["apply", "--auto-approve"], "not the right passphrase at all").code(1);
    std::fs::remove_file(w.join("encryption.hcl")).expect("drop the configuration");
    w.run(&["plan"])
        .code(1)
        .stderr_has("This state file is encrypted and can not be read without an encryption");
    w.run(&["apply", "--auto-approve"]).code(1);
    w.run(&["show", "plan.bin"]).code(1).stderr_has("the given plan file is encrypted");
    let after = (bytes(&w, "meshform.state.json"), bytes(&w, "meshform.state.json.backup"));
    assert!(before == after, "a refused run changed the state or its backup");
}

#[test]
fn init_encrypts_a_plaintext_state_through_the_fallback_and_back() {
    let w = example();
    w.ok(&["apply", "--auto-approve"]);
    assert!(w.read("meshform.state.json").contains("PRIVATE KEY"));
    let serial = w.state_json()["serial"].as_u64().expect("serial");

    configure(&w, false);
    run(&w, &["plan"], PASS).code(1).stderr_has("unencrypted payload");

    configure(&w, true);
    let r = run(&w, &["init"], PASS).code(0);
    assert!(r.stdout.contains("Rewrote the state"), "{}", r.stdout);
    assert_sealed(&w, "meshform.state.json");
    assert_sealed(&w, "meshform.state.json.backup");
    let doc: serde_json::Value = serde_json::from_str(&w.read("meshform.state.json")).unwrap();
    assert_eq!(doc["serial"], serial + 1, "serial and lineage stay in clear");
    let again = run(&w, &["init"], PASS).code(0);
    assert!(!again.stdout.contains("Rewrote"), "{}", again.stdout);
    configure(&w, false);
    run(&w, &["plan", "--detailed-exitcode"], PASS).code(0);

    // Back to plaintext: unencrypted first, the old key as fallback.
    let back = ENCRYPTION.replace(
        "method = method.aes_gcm.main\n      FALLBACK",
        "method = method.unencrypted.migrate\n      fallback { method = method.aes_gcm.main }",
    );
    w.write("encryption.hcl", &back);
    let r = run(&w, &["init"], PASS).code(0);
    assert!(r.stdout.contains("Rewrote the state"), "{}", r.stdout);
    std::fs::remove_file(w.join("encryption.hcl")).expect("drop the configuration");
    w.run(&["plan", "--detailed-exitcode"]).code(0);
    assert!(w.read("meshform.state.json").contains("\"lineage\""));
}

#[test]
fn postgresql_rows_hold_no_private_key() {
    let Some(server) = meshform_pgtest::server_or_skip() else { return };
    let Some(psql) = meshform_pgtest::bin_dir().map(|b| b.join("psql")) else { return };
    let conn = server.conn_str();
    let schema = format!("cli_enc{}", std::process::id());
    let w = example();
    configure(&w, false);
    w.write(
        "backend.hcl",
        &format!("meshform {{\n  backend \"pg\" {{\n    schema_name = \"{schema}\"\n  }}\n}}\n"),
    );
    let env = [(VAR, PASS), ("MESHFORM_PG_CONN_STR", conn.as_str())];
    w.run_with(&["init"], &env).code(0);
    w.run_with(&["apply", "--auto-approve"], &env).code(0);
    std::fs::remove_file(w.join("cluster-1/ca-cert.pem")).expect("remove a bundle file");
    w.run_with(&["apply", "--auto-approve"], &env).code(0);
    let rows = std::process::Command::new(psql)
        .args([&conn, "-At", "-c"])
        .arg(format!("SELECT data, previous FROM \"{schema}\".states"))
        .output()
        .expect("run psql");
    assert!(rows.status.success(), "{}", String::from_utf8_lossy(&rows.stderr));
    let text = String::from_utf8_lossy(&rows.stdout);
    assert_eq!(text.matches("\"encryption_version\": \"v0\"").count(), 2, "{text}");
    assert!(!text.contains("PRIVATE KEY") && !text.contains(PASS), "{text}");
    let r = w.run_with(
        &["plan"],
        &[("MESHFORM_PG_CONN_STR", conn.as_str()), (VAR, "a wrong one, long enough")],
    );
    r.code(1).stderr_has("authentication failed");
}

#[test]
fn new_workspaces_start_encrypted_and_delete_reads_them_with_the_key() {
    let w = example();
    configure(&w, false);
    run(&w, &["workspace", "new", "dr"], PASS).code(0);
    assert_sealed(&w, "meshform.state.d/dr/meshform.state.json");
    run(&w, &["plan"], PASS).code(0);
    run(&w, &["workspace", "select", "default"], PASS).code(0);
    w.run(&["workspace", "list"]).code(0).stdout_has("dr");
    w.run(&["workspace", "delete", "dr"])
        .code(1)
        .stderr_has("the passphrase variable \"state_passphrase\" has no value")
        .stderr_has("MESHFORM_VAR_state_passphrase");
    run(&w, &["workspace", "delete", "dr"], "a wrong passphrase, long enough")
        .code(1)
        .stderr_has("authentication failed");
    run(&w, &["workspace", "delete", "dr"], PASS).code(0);
    assert!(!w.exists("meshform.state.d/dr/meshform.state.json"));
}

#[test]
fn init_rotates_the_key_through_a_fallback() {
    const NEW: &str = "a brand new passphrase, rotated";
    let w = example();
    configure(&w, false);
    run(&w, &["apply", "--auto-approve"], PASS).code(0);
    let rotated = ENCRYPTION
        .replace(
            "    method \"unencrypted\" \"migrate\" {}",
            "    key_provider \"pbkdf2\" \"new\" {\n      passphrase = var.new_passphrase\n    }\n    \
             method \"aes_gcm\" \"new\" {\n      keys = key_provider.pbkdf2.new\n    }",
        )
        .replace(
            "method = method.aes_gcm.main\n      FALLBACK",
            "method = method.aes_gcm.new\n      fallback { method = method.aes_gcm.main }",
        )
        + "variable \"new_passphrase\" {\n  type      = string\n  sensitive = true\n}\n";
    w.write("encryption.hcl", &rotated);
    let env = [(VAR, PASS), ("MESHFORM_VAR_new_passphrase", NEW)];
    let r = w.run_with(&["init"], &env).code(0);
    assert!(r.stdout.contains("Rewrote the state"), "{}", r.stdout);
    assert!(!r.all_output().contains(NEW) && !r.all_output().contains(PASS));
    let doc: serde_json::Value = serde_json::from_str(&w.read("meshform.state.json")).unwrap();
    assert!(doc["meta"].get("key_provider.pbkdf2.new").is_some(), "{doc}");
    assert!(doc["meta"].get("key_provider.pbkdf2.main").is_none(), "{doc}");
    // The old passphrase alone no longer opens it.
    configure(&w, false);
    run(&w, &["plan"], PASS).code(1).stderr_has("no metadata");
}

/// Moving a plaintext local state into PostgreSQL while turning encryption on leaves no cleartext
/// copy behind: the local file set aside by `init` is rewritten encrypted first.
#[test]
fn the_local_copy_init_sets_aside_is_encrypted_too() {
    let Some(server) = meshform_pgtest::server_or_skip() else { return };
    let conn = server.conn_str();
    let w = example();
    w.ok(&["apply", "--auto-approve"]);
    let plain = String::from_utf8_lossy(&bytes(&w, "meshform.state.json")).into_owned();
    assert!(plain.contains("PRIVATE KEY"), "the plaintext state holds the root key");
    configure(&w, true);
    let schema = format!("cli_retire{}", std::process::id());
    w.write(
        "backend.hcl",
        &format!("meshform {{\n  backend \"pg\" {{\n    schema_name = \"{schema}\"\n  }}\n}}\n"),
    );
    w.run_with(&["init"], &[(VAR, PASS), ("MESHFORM_PG_CONN_STR", conn.as_str())]).code(0);
    assert!(!w.exists("meshform.state.json"), "set aside");
    for rel in ["meshform.state.json.migrated", "meshform.state.json.backup.migrated"] {
        if w.exists(rel) {
            assert_sealed(&w, rel);
        }
    }
    assert!(w.exists("meshform.state.json.migrated"));
}

/// The sandbox's KMS emulator as a key provider: what `sandbox.json` says about it, and the
/// environment that gives meshform the emulated account's access key.
struct SandboxKms {
    sandbox: crate::sandboxed::Sandboxed,
    endpoint: String,
    region: String,
    key_id: String,
    alias: String,
    access_key_id: String,
    access_key_secret: String,
}

impl SandboxKms {
    fn start() -> SandboxKms {
        let w = example();
        let sandbox = crate::sandboxed::Sandboxed::start(w);
        let desc: serde_json::Value =
            serde_json::from_str(&sandbox.work.read(".meshform/sandbox/sandbox.json"))
                .expect("sandbox.json");
        let s = |v: &serde_json::Value| v.as_str().expect("a string in sandbox.json").to_owned();
        SandboxKms {
            endpoint: s(&desc["kms"]["endpoint"]),
            region: s(&desc["kms"]["region"]),
            key_id: s(&desc["kms"]["key_id"]),
            alias: s(&desc["kms"]["alias"]),
            access_key_id: s(&desc["asm"]["access_key_id"]),
            access_key_secret: s(&desc["asm"]["access_key_secret"]),
            sandbox,
        }
    }

    fn work(&self) -> &Workdir {
        &self.sandbox.work
    }

    /// The `key_provider "alicloud_kms" "kms"` block for `key_id`, and its method. An alias
    /// names the sandbox's key and the endpoint comes from `sandbox.env`
    /// (`ALIBABA_CLOUD_KMS_ENDPOINT`), as the same file would on Alibaba Cloud; other keys name the
    /// endpoint in the block.
    fn provider(&self, key_id: &str) -> String {
        let endpoint = if key_id == self.alias {
            String::new()
        } else {
            format!("      endpoint   = \"{}\"\n", self.endpoint)
        };
        format!(
            "    key_provider \"alicloud_kms\" \"kms\" {{\n      kms_key_id = \"{key_id}\"\n      \
             region     = \"{}\"\n{endpoint}      encryption_context = {{ purpose = \
             \"meshform-state\" }}\n    }}\n    method \"aes_gcm\" \"kms\" {{\n      keys = \
             key_provider.alicloud_kms.kms\n    }}\n",
            self.region
        )
    }

    /// An encryption block with the KMS provider, a passphrase provider, and `state`/`plan`
    /// blocks as given.
    fn configure(&self, key_id: &str, targets: &str) {
        let text = format!(
            "variable \"state_passphrase\" {{\n  type      = string\n  sensitive = true\n  \
             default   = null\n}}\n\nmeshform {{\n  encryption {{\n{}    key_provider \"pbkdf2\" \
             \"main\" {{\n      passphrase = var.state_passphrase\n    }}\n    method \"aes_gcm\" \
             \"main\" {{\n      keys = key_provider.pbkdf2.main\n    }}\n{targets}\n  }}\n}}\n",
            self.provider(key_id)
        );
        self.work().write("encryption.hcl", &text);
    }

    fn run(&self, args: &[&str]) -> Run {
        let r = self.work().run_with(
            args,
            &[
                ("ALIBABA_CLOUD_ACCESS_KEY_ID", &self.access_key_id),
                ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", &self.access_key_secret),
                ("ALIBABA_CLOUD_KMS_ENDPOINT", &self.endpoint),
                (VAR, PASS),
            ],
        );
        let out = r.all_output();
        assert!(!out.contains(&self.access_key_secret), "{} printed the AccessKey secret", r.args);
        assert!(!out.contains(PASS), "{} printed the passphrase", r.args);
        r
    }

    /// The meta of a sealed file: provider key → its decoded JSON.
    fn meta(&self, rel: &str) -> serde_json::Map<String, serde_json::Value> {
        use base64::Engine as _;
        let doc: serde_json::Value = serde_json::from_str(&self.work().read(rel)).expect("JSON");
        assert_eq!(doc["encryption_version"], "v0", "{rel} is an envelope");
        let meta = doc["meta"].as_object().expect("meta");
        meta.iter()
            .map(|(k, v)| {
                let raw = base64::engine::general_purpose::STANDARD
                    .decode(v.as_str().expect("base64 text"))
                    .expect("base64");
                (k.clone(), serde_json::from_slice(&raw).expect("meta JSON"))
            })
            .collect()
    }

    /// Every file meshform keeps (the sandbox's own directory aside: that is the emulated cloud)
    /// is free of private keys, the AccessKey secret and the passphrase.
    fn sweep(&self) -> Vec<String> {
        let mut kept = Vec::new();
        let mut dirs = vec![self.work().path().to_path_buf()];
        while let Some(dir) = dirs.pop() {
            for entry in std::fs::read_dir(&dir).expect("read the directory") {
                let path = entry.expect("entry").path();
                let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default();
                let name = name.to_owned();
                if path.is_dir() && !name.starts_with("cluster-") && name != "sandbox" {
                    dirs.push(path);
                } else if path.is_file() && !name.ends_with(".hcl") {
                    let text =
                        String::from_utf8_lossy(&std::fs::read(&path).expect("read")).into_owned();
                    let p = path.display();
                    assert!(!text.contains("PRIVATE KEY"), "{p} holds a private key");
                    assert!(!text.contains(&self.access_key_secret), "{p} holds the secret");
                    assert!(!text.contains(PASS), "{p} holds the passphrase");
                    kept.push(name);
                }
            }
        }
        kept
    }
}

const KMS_TARGETS: &str =
    "    state {\n      method = method.aes_gcm.kms\n    }\n    plan {\n      method = \
     method.aes_gcm.kms\n    }";

#[test]
fn kms_encrypts_each_run_with_a_fresh_data_key_and_rotates_through_fallbacks() {
    let kms = SandboxKms::start();
    let w = kms.work();
    kms.configure(&kms.alias, KMS_TARGETS);
    kms.run(&["apply", "--auto-approve"]).code(0);
    let first = kms.meta("meshform.state.json");
    let entry = &first["key_provider.alicloud_kms.kms"];
    assert_eq!(entry["key_id"], kms.key_id.as_str(), "the alias resolved to the sandbox's key");
    assert_eq!(entry["encryption_context"]["purpose"], "meshform-state");
    // Another run (applying a saved, encrypted plan) writes with a data key of its own.
    std::fs::remove_file(w.join("cluster-1/ca-cert.pem")).expect("remove a bundle file");
    kms.run(&["plan", "--out", "plan.bin"]).code(0);
    assert!(kms.meta("plan.bin").contains_key("key_provider.alicloud_kms.kms"));
    kms.run(&["apply", "plan.bin"]).code(0);
    let blob = |m: &serde_json::Map<String, serde_json::Value>| {
        m["key_provider.alicloud_kms.kms"]["ciphertext_blob"].as_str().expect("blob").to_owned()
    };
    let state = kms.meta("meshform.state.json");
    assert_ne!(blob(&state), blob(&first), "each run generates a fresh data key");
    assert_ne!(blob(&state), blob(&kms.meta("plan.bin")), "the plan's run had its own");
    // The trace log shows the KMS call (action, request id) and no key material nor the secret.
    let log = w.join("trace.log");
    let log_path = log.to_string_lossy().into_owned();
    let env = [
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", kms.access_key_id.as_str()),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", kms.access_key_secret.as_str()),
        ("MESHFORM_LOG", "trace"),
        ("MESHFORM_LOG_PATH", log_path.as_str()),
        ("ALIBABA_CLOUD_KMS_ENDPOINT", kms.endpoint.as_str()),
        (VAR, PASS),
    ];
    w.run_with(&["plan", "--detailed-exitcode"], &env).code(0);
    let traced = std::fs::read_to_string(&log).expect("the trace log is written");
    std::fs::remove_file(&log).expect("remove the log");
    assert!(traced.lines().any(|l| l.contains("Decrypt") && l.contains("request_id=")), "{traced}");
    for secret in [kms.access_key_secret.as_str(), "Plaintext", "PRIVATE KEY"] {
        assert!(!traced.contains(secret), "the trace log holds {secret:?}");
    }
    let kept = kms.sweep();
    for f in ["meshform.state.json", "meshform.state.json.backup", "plan.bin"] {
        assert!(kept.iter().any(|k| k == f), "{f} was swept: {kept:?}");
    }

    // KMS → passphrase: the KMS method as fallback, `init` rewrites, KMS alone can no longer read.
    kms.configure(
        &kms.alias,
        "    state {\n      method = method.aes_gcm.main\n      fallback { method = \
         method.aes_gcm.kms }\n    }",
    );
    kms.run(&["init"]).code(0).stdout_has("Rewrote the state");
    let meta = kms.meta("meshform.state.json");
    assert!(meta.contains_key("key_provider.pbkdf2.main") && meta.len() == 1, "{meta:?}");
    kms.configure(&kms.alias, KMS_TARGETS);
    kms.run(&["plan"]).code(1).stderr_has("no metadata");
    // …and back to KMS.
    kms.configure(
        &kms.alias,
        "    state {\n      method = method.aes_gcm.kms\n      fallback { method = \
         method.aes_gcm.main }\n    }",
    );
    kms.run(&["init"]).code(0).stdout_has("Rewrote the state");
    kms.configure(&kms.alias, KMS_TARGETS);
    kms.run(&["plan", "--detailed-exitcode"]).code(0);
    assert!(kms.meta("meshform.state.json").contains_key("key_provider.alicloud_kms.kms"));
    kms.sweep();
}

#[test]
fn a_wrong_kms_key_or_missing_credentials_are_clear_errors_that_change_nothing() {
    let kms = SandboxKms::start();
    let w = kms.work();
    kms.configure("alias/no-such-key", KMS_TARGETS);
    kms.run(&["apply", "--auto-approve"])
        .code(1)
        .stderr_has("key_provider.alicloud_kms.kms")
        .stderr_has("GenerateDataKey with KMS key alias/no-such-key failed")
        .stderr_has("Forbidden.AliasNotFound")
        .stderr_has("(request ");
    assert!(!w.exists("meshform.state.json"), "nothing was written in clear");

    kms.configure(&kms.alias, KMS_TARGETS);
    kms.run(&["apply", "--auto-approve"]).code(0);
    let before = bytes(w, "meshform.state.json");
    // Reading it with an access key KMS does not know, or a wrong secret: refused, naming the key
    // and KMS's code.
    let r = w.run_with(
        &["plan"],
        &[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", "LTAI5tNoSuchAccessKey"),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", &kms.access_key_secret),
            ("ALIBABA_CLOUD_KMS_ENDPOINT", &kms.endpoint),
            (VAR, PASS),
        ],
    );
    r.code(1)
        .stderr_has(&format!("Decrypt with KMS key {} failed", kms.alias))
        .stderr_has("InvalidAccessKeyId.NotFound");
    let r = w.run_with(
        &["plan"],
        &[
            ("ALIBABA_CLOUD_ACCESS_KEY_ID", &kms.access_key_id),
            ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", "not the secret"),
            ("ALIBABA_CLOUD_KMS_ENDPOINT", &kms.endpoint),
            (VAR, PASS),
        ],
    );
    r.code(1).stderr_has("SignatureDoesNotMatch").stderr_has("kms:Decrypt on the key");
    assert_eq!(before, bytes(w, "meshform.state.json"), "a refused run changed the state");
}

/// With the state in PostgreSQL and KMS keys, the rows (current and previous) hold envelopes only:
/// no private key, no AccessKey secret.
#[test]
fn postgresql_rows_under_kms_hold_no_private_key_nor_the_secret() {
    let Some(server) = meshform_pgtest::server_or_skip() else { return };
    let Some(psql) = meshform_pgtest::bin_dir().map(|b| b.join("psql")) else { return };
    let conn = server.conn_str();
    let schema = format!("cli_kms{}", std::process::id());
    let kms = SandboxKms::start();
    let w = kms.work();
    kms.configure(&kms.alias, KMS_TARGETS);
    w.write(
        "backend.hcl",
        &format!("meshform {{\n  backend \"pg\" {{\n    schema_name = \"{schema}\"\n  }}\n}}\n"),
    );
    let env = [
        ("ALIBABA_CLOUD_ACCESS_KEY_ID", kms.access_key_id.as_str()),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET", kms.access_key_secret.as_str()),
        ("MESHFORM_PG_CONN_STR", conn.as_str()),
        ("ALIBABA_CLOUD_KMS_ENDPOINT", kms.endpoint.as_str()),
        (VAR, PASS),
    ];
    w.run_with(&["init"], &env).code(0);
    w.run_with(&["apply", "--auto-approve"], &env).code(0);
    std::fs::remove_file(w.join("cluster-1/ca-cert.pem")).expect("remove a bundle file");
    w.run_with(&["apply", "--auto-approve"], &env).code(0);
    let rows = std::process::Command::new(psql)
        .args([&conn, "-At", "-c"])
        .arg(format!("SELECT data, previous FROM \"{schema}\".states"))
        .output()
        .expect("run psql");
    assert!(rows.status.success(), "{}", String::from_utf8_lossy(&rows.stderr));
    let text = String::from_utf8_lossy(&rows.stdout);
    assert_eq!(text.matches("\"encryption_version\": \"v0\"").count(), 2, "{text}");
    assert_eq!(text.matches("key_provider.alicloud_kms.kms").count(), 2, "{text}");
    assert!(!text.contains("PRIVATE KEY") && !text.contains(&kms.access_key_secret), "{text}");
    w.run_with(&["plan", "--detailed-exitcode"], &env).code(0);
    kms.sweep();
}
