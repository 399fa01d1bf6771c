//! Planning: defaults, no regeneration without change, replacement on root change, rotation, checks.

use meshform_core::{PathStep, Value};
use meshform_provider_pki::resources::{create, plan, read_cacerts, CaKind};
use time::{Duration, OffsetDateTime};

fn cfg(pairs: &[(&str, Value)]) -> Value {
    Value::map(pairs.iter().map(|(k, v)| (*k, v.clone())))
}

fn s(v: &Value, k: &str) -> String {
    v.get(k).and_then(Value::as_str).unwrap_or_default().to_owned()
}

fn now() -> OffsetDateTime {
    OffsetDateTime::now_utc()
}

fn new_root(extra: &[(&str, Value)]) -> (Value, Value) {
    let c = cfg(extra);
    let p = plan(CaKind::Root, None, &c, now()).unwrap();
    (c, create(CaKind::Root, &p.planned).unwrap())
}

fn int_cfg(root: &Value, extra: &[(&str, Value)]) -> Value {
    let mut pairs = vec![
        ("root_cert_pem", Value::string(s(root, "cert_pem"))),
        ("root_key_pem", Value::string(s(root, "key_pem"))),
    ];
    pairs.extend(extra.iter().cloned());
    cfg(&pairs)
}

#[test]
fn keys_are_unknown_at_plan_and_stable_afterwards() {
    let p = plan(CaKind::Root, None, &cfg(&[]), now()).unwrap();
    assert!(p.planned.get("cert_pem").unwrap().is_unknown());
    assert!(p.planned.get("key_pem").unwrap().is_unknown());
    assert_eq!(s(&p.planned, "key_algorithm"), "ecdsa_p256");
    let (c, created) = new_root(&[]);
    let again = plan(CaKind::Root, Some(&created), &c, now()).unwrap();
    assert!(again.requires_replace.is_empty());
    assert!(again.planned.same_as(&created), "a second plan must not regenerate anything");
}

#[test]
fn changing_the_root_replaces_its_intermediates() {
    let (_, r1) = new_root(&[]);
    let ic = int_cfg(&r1, &[]);
    let i = create(
        CaKind::Intermediate,
        &plan(CaKind::Intermediate, None, &ic, now()).unwrap().planned,
    )
    .unwrap();
    assert!(plan(CaKind::Intermediate, Some(&i), &ic, now()).unwrap().requires_replace.is_empty());
    // The root is being replaced: its certificate is unknown until apply.
    let unknown_root = cfg(&[("root_cert_pem", Value::Unknown), ("root_key_pem", Value::Unknown)]);
    let p = plan(CaKind::Intermediate, Some(&i), &unknown_root, now()).unwrap();
    assert!(
        p.requires_replace.contains(&vec![PathStep::Key("root_cert_pem".into())]),
        "{:?}",
        p.requires_replace
    );
    assert!(p.planned.get("cert_pem").unwrap().is_unknown());
    // Another root, known: the old intermediate does not chain to it.
    let (_, r2) = new_root(&[]);
    let p = plan(CaKind::Intermediate, Some(&i), &int_cfg(&r2, &[]), now()).unwrap();
    assert!(!p.requires_replace.is_empty());
}

#[test]
fn a_root_key_that_is_not_the_roots_is_rejected_at_plan() {
    let (_, r1) = new_root(&[]);
    let (_, r2) = new_root(&[]);
    let c = cfg(&[
        ("root_cert_pem", Value::string(s(&r1, "cert_pem"))),
        ("root_key_pem", Value::string(s(&r2, "key_pem"))),
    ]);
    let e = plan(CaKind::Intermediate, None, &c, now()).unwrap_err();
    assert_eq!(e.code, "KeyMismatch");
    assert_eq!(e.attribute, Some(vec![PathStep::Key("root_key_pem".into())]));
    assert!(!e.message.contains("PRIVATE KEY"), "errors never quote keys: {}", e.message);
}

#[test]
fn an_intermediate_may_not_outlive_its_root() {
    let (_, r) = new_root(&[("validity", Value::string("8760h"))]);
    let e = plan(
        CaKind::Intermediate,
        None,
        &int_cfg(&r, &[("validity", Value::string("17520h"))]),
        now(),
    )
    .unwrap_err();
    assert_eq!(e.code, "ValidityBeyondRoot");
    assert!(e.message.contains("after the root expires"), "{}", e.message);
    assert!(plan(
        CaKind::Intermediate,
        None,
        &int_cfg(&r, &[("validity", Value::string("4380h"))]),
        now()
    )
    .is_ok());
}

#[test]
fn a_ca_in_its_rotation_window_is_replaced_with_the_reason() {
    let (c, r) =
        new_root(&[("validity", Value::string("2400h")), ("rotate_before", Value::string("720h"))]);
    assert!(plan(CaKind::Root, Some(&r), &c, now()).unwrap().requires_replace.is_empty());
    let later = now() + Duration::hours(2400 - 700);
    let p = plan(CaKind::Root, Some(&r), &c, later).unwrap();
    assert_eq!(p.requires_replace, vec![vec![PathStep::Key("not_after".into())]]);
    assert!(
        p.replace_reason.as_deref().unwrap_or_default().contains("rotate_before"),
        "{:?}",
        p.replace_reason
    );
    // Past expiry: replaced, with a warning naming the date.
    let expired = now() + Duration::hours(2500);
    let p = plan(CaKind::Root, Some(&r), &c, expired).unwrap();
    assert!(!p.requires_replace.is_empty());
    assert!(p.warnings.iter().any(|w| w.message.contains("expired on")), "{:?}", p.warnings);
    // No rotation window: a warning a month ahead, no replacement.
    let c0 = cfg(&[("validity", Value::string("2400h")), ("rotate_before", Value::string("0h"))]);
    let p = plan(CaKind::Root, Some(&r), &c0, now() + Duration::hours(2400 - 100)).unwrap();
    assert!(p.requires_replace.is_empty());
    assert!(p.warnings.iter().any(|w| w.message.contains("expires on")), "{:?}", p.warnings);
}

#[test]
fn a_brought_root_is_validated_not_generated() {
    let (_, generated) = new_root(&[]);
    let byo = cfg(&[
        ("cert_pem", Value::string(s(&generated, "cert_pem"))),
        ("key_pem", Value::string(s(&generated, "key_pem"))),
    ]);
    let p = plan(CaKind::Root, None, &byo, now()).unwrap();
    assert_eq!(
        s(&p.planned, "fingerprint_sha256"),
        s(&generated, "fingerprint_sha256"),
        "known at plan time"
    );
    let created = create(CaKind::Root, &p.planned).unwrap();
    assert_eq!(s(&created, "cert_pem"), s(&generated, "cert_pem"));
    let (_, other) = new_root(&[]);
    let bad = cfg(&[
        ("cert_pem", Value::string(s(&generated, "cert_pem"))),
        ("key_pem", Value::string(s(&other, "key_pem"))),
    ]);
    assert_eq!(plan(CaKind::Root, None, &bad, now()).unwrap_err().code, "KeyMismatch");
}

#[test]
fn cacerts_bundle_has_istios_file_names_and_refuses_a_foreign_root() {
    let (_, r) = new_root(&[]);
    let ic = int_cfg(&r, &[]);
    let i = create(
        CaKind::Intermediate,
        &plan(CaKind::Intermediate, None, &ic, now()).unwrap().planned,
    )
    .unwrap();
    let c = cfg(&[
        ("ca_cert_pem", Value::string(s(&i, "cert_pem"))),
        ("ca_key_pem", Value::string(s(&i, "key_pem"))),
        ("cert_chain_pem", Value::string(s(&i, "cert_chain_pem"))),
        ("root_cert_pem", Value::string(s(&r, "cert_pem"))),
        ("namespace", Value::Null),
    ]);
    let out = read_cacerts(&c).unwrap();
    let files = out.get("files").and_then(Value::as_map).unwrap();
    let names: Vec<&str> = files.keys().map(String::as_str).collect();
    assert_eq!(names, ["ca-cert.pem", "ca-key.pem", "cert-chain.pem", "root-cert.pem"]);
    let secret = out.get("secret").unwrap();
    assert_eq!(s(secret.get("metadata").unwrap(), "namespace"), "istio-system");
    assert!(secret.get("data").unwrap().get("istio-generated").is_none());
    let (_, other) = new_root(&[]);
    let mut bad = c.clone();
    if let Value::Map(m) = &mut bad {
        m.insert("root_cert_pem".into(), Value::string(s(&other, "cert_pem")));
    }
    assert_eq!(read_cacerts(&bad).unwrap_err().code, "ChainMismatch");
}
