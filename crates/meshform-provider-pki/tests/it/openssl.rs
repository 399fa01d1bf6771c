//! Certificates verified by `openssl`, not only by our own code.

use std::path::Path;
use std::process::Command;

use meshform_core::Value;
use meshform_provider_pki::cert::issue_workload;
use meshform_provider_pki::resources::{create, plan, CaKind};
use time::{Duration, OffsetDateTime};

fn openssl_available() -> bool {
    Command::new("openssl").arg("version").output().is_ok_and(|o| o.status.success())
}

macro_rules! require_openssl {
    () => {
        if !openssl_available() {
            eprintln!("SKIPPED: openssl is not installed (CI installs it); these checks need an independent verifier");
            return;
        }
    };
}

fn cfg(pairs: &[(&str, Value)]) -> Value {
    Value::map(pairs.iter().map(|(k, v)| (*k, v.clone())))
}

fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned()
}

/// Plans and creates a root.
fn root(alg: &str) -> Value {
    let p = plan(
        CaKind::Root,
        None,
        &cfg(&[("key_algorithm", Value::string(alg))]),
        OffsetDateTime::now_utc(),
    )
    .unwrap();
    create(CaKind::Root, &p.planned).unwrap()
}

fn intermediate(root: &Value, alg: &str, cluster: &str) -> Value {
    let c = cfg(&[
        ("root_cert_pem", Value::string(s(root, "cert_pem"))),
        ("root_key_pem", Value::string(s(root, "key_pem"))),
        ("key_algorithm", Value::string(alg)),
        ("locality", Value::string(cluster)),
    ]);
    let p = plan(CaKind::Intermediate, None, &c, OffsetDateTime::now_utc()).unwrap();
    create(CaKind::Intermediate, &p.planned).unwrap()
}

fn write(dir: &Path, name: &str, text: &str) -> String {
    let p = dir.join(name);
    std::fs::write(&p, text).unwrap();
    p.display().to_string()
}

fn verify(ca_file: &str, untrusted: &str, leaf: &str) -> (bool, String) {
    let out = Command::new("openssl")
        .args(["verify", "-CAfile", ca_file, "-untrusted", untrusted, leaf])
        .output()
        .expect("openssl runs");
    (
        out.status.success(),
        format!("{}{}", String::from_utf8_lossy(&out.stdout), String::from_utf8_lossy(&out.stderr)),
    )
}

fn text(cert: &str) -> String {
    let out = Command::new("openssl")
        .args(["x509", "-noout", "-text", "-in", cert])
        .output()
        .expect("openssl runs");
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn every_key_algorithm_chains_and_has_istios_profile() {
    require_openssl!();
    for alg in ["ecdsa_p256", "ecdsa_p384", "rsa_2048", "rsa_4096"] {
        let dir = tempfile::tempdir().unwrap();
        let r = root(alg);
        let i = intermediate(&r, alg, "cluster-1");
        let root_f = write(dir.path(), "root.pem", &s(&r, "cert_pem"));
        let int_f = write(dir.path(), "int.pem", &s(&i, "cert_pem"));
        let (ok, msg) = verify(&root_f, &root_f, &int_f);
        assert!(ok, "{alg}: intermediate does not verify against its root: {msg}");

        let rt = text(&root_f);
        assert!(
            rt.contains("X509v3 Basic Constraints: critical\n                CA:TRUE"),
            "{alg} root:\n{rt}"
        );
        assert!(!rt.contains("pathlen"), "{alg}: the root has no path length limit:\n{rt}");
        assert!(rt.contains("X509v3 Key Usage: critical\n                Digital Signature, Non Repudiation, Key Encipherment, Certificate Sign"), "{alg} root:\n{rt}");
        assert!(rt.contains("X509v3 Subject Key Identifier"), "{alg} root:\n{rt}");
        assert!(rt.contains("Subject: O = Istio, CN = Root CA"), "{alg} root:\n{rt}");

        let it = text(&int_f);
        assert!(it.contains("CA:TRUE, pathlen:0"), "{alg} intermediate:\n{it}");
        assert!(it.contains("X509v3 Basic Constraints: critical"), "{alg} intermediate:\n{it}");
        assert!(it.contains("X509v3 Key Usage: critical\n                Digital Signature, Non Repudiation, Key Encipherment, Certificate Sign"), "{alg}:\n{it}");
        assert!(it.contains("X509v3 Authority Key Identifier"), "{alg} intermediate:\n{it}");
        assert!(it.contains("X509v3 Subject Key Identifier"), "{alg} intermediate:\n{it}");
        assert!(it.contains("DNS:istiod.istio-system.svc"), "{alg} intermediate:\n{it}");
        assert!(it.contains("L = cluster-1"), "{alg} intermediate:\n{it}");
        assert!(!it.contains("Extended Key Usage"), "{alg}: CAs carry no extendedKeyUsage:\n{it}");
        let sig = if alg.starts_with("rsa") {
            "sha256WithRSAEncryption"
        } else if alg == "ecdsa_p384" {
            "ecdsa-with-SHA384"
        } else {
            "ecdsa-with-SHA256"
        };
        assert!(it.contains(&format!("Signature Algorithm: {sig}")), "{alg}:\n{it}");
        if alg == "rsa_4096" {
            assert!(it.contains("Public-Key: (4096 bit)"), "{it}");
        }
        // The chain file is intermediate then root.
        let chain = s(&i, "cert_chain_pem");
        assert!(
            chain.starts_with(&s(&i, "cert_pem"))
                && chain.trim_end().ends_with(s(&r, "cert_pem").trim_end())
        );
    }
}

#[test]
fn workloads_of_one_mesh_are_trusted_by_another_with_the_same_root_only() {
    require_openssl!();
    let dir = tempfile::tempdir().unwrap();
    let r = root("ecdsa_p256");
    let mesh1 = intermediate(&r, "ecdsa_p256", "cluster-1");
    let mesh2 = intermediate(&r, "ecdsa_p256", "cluster-2");
    let leaf = issue_workload(
        "spiffe://cluster.local/ns/sample/sa/sleep",
        &s(&mesh1, "cert_pem"),
        &s(&mesh1, "key_pem"),
        Duration::hours(24),
    )
    .unwrap();
    let leaf_f = write(dir.path(), "leaf.pem", &leaf.cert_pem);
    // The peer presents its chain (mesh-1's intermediate); mesh-2 trusts only its own root-cert.pem.
    let presented = write(dir.path(), "mesh1-chain.pem", &s(&mesh1, "cert_chain_pem"));
    let mesh2_root = write(
        dir.path(),
        "mesh2-root.pem",
        s(&mesh2, "cert_chain_pem").split_inclusive("-----END CERTIFICATE-----\n").last().unwrap(),
    );
    let (ok, msg) = verify(&mesh2_root, &presented, &leaf_f);
    assert!(ok, "a workload of mesh-1 must verify against mesh-2's root: {msg}");
    let lt = text(&leaf_f);
    assert!(lt.contains("URI:spiffe://cluster.local/ns/sample/sa/sleep"), "{lt}");
    assert!(lt.contains("TLS Web Server Authentication, TLS Web Client Authentication"), "{lt}");

    // A mesh with another root does not trust it.
    let other = root("ecdsa_p256");
    let other_root = write(dir.path(), "other-root.pem", &s(&other, "cert_pem"));
    let (ok, msg) = verify(&other_root, &presented, &leaf_f);
    assert!(!ok, "a different root must not verify mesh-1's workload");
    assert!(msg.contains("verification failed"), "{msg}");
}
