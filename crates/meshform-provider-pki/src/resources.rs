//! `pki_root_ca`, `pki_intermediate_ca` and `pki_istio_cacerts`: defaults, plan-time checks, rotation,
//! and issuing at apply time.

use std::collections::BTreeMap;

use base64::Engine as _;
use meshform_core::{PathStep, Value};
use meshform_provider::{AttributeProblem, ErrorKind, PlannedState, ProviderError, ProviderResult};
use time::{Duration, OffsetDateTime};

use crate::cert::{self, CaSpec, CertInfo};
use crate::duration;
use crate::keys::KeyAlgorithm;

/// Which of the two CA resource types: they share their planning and issuing.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CaKind {
    /// `pki_root_ca`.
    Root,
    /// `pki_intermediate_ca`.
    Intermediate,
}

/// How long before expiry a CA is flagged when its rotation window is shorter than this.
const EXPIRY_WARNING: Duration = Duration::days(30);

fn key(k: &str) -> Vec<PathStep> {
    vec![PathStep::Key(k.to_owned())]
}

fn err(code: &str, attr: &str, msg: String) -> ProviderError {
    ProviderError::new(ErrorKind::InvalidArgument, code, msg).at_attribute(attr)
}

fn problem(attr: &str, message: String, is_error: bool) -> AttributeProblem {
    AttributeProblem { path: key(attr), message, is_error }
}

/// Static checks (values may be unknown).
pub fn validate(kind: CaKind, config: &Value) -> Vec<AttributeProblem> {
    let mut out = Vec::new();
    if let Some(a) = config.get_str("key_algorithm") {
        if let Err(e) = KeyAlgorithm::parse(a) {
            out.push(problem("key_algorithm", e, true));
        }
    }
    for d in ["validity", "rotate_before"] {
        if let Some(x) = config.get_str(d) {
            if let Err(e) = duration::parse(x) {
                out.push(problem(d, e, true));
            }
        }
    }
    if kind == CaKind::Root {
        let given = |k: &str| config.get(k).is_some_and(|v| !v.is_null());
        if given("cert_pem") != given("key_pem") {
            out.push(problem(
                "key_pem",
                "to bring an existing root, give both cert_pem and key_pem".into(),
                true,
            ));
        }
    }
    out
}

/// The configuration with defaults filled in.
fn with_defaults(kind: CaKind, proposed: &Value) -> Value {
    let mut v = proposed.clone();
    let Value::Map(m) = &mut v else { return v };
    let mut default = |k: &str, d: Value| {
        if m.get(k).is_none_or(Value::is_null) {
            m.insert(k.to_owned(), d);
        }
    };
    let root = kind == CaKind::Root;
    default("common_name", Value::string(if root { "Root CA" } else { "Intermediate CA" }));
    default("organization", Value::string("Istio"));
    default("key_algorithm", Value::string("ecdsa_p256"));
    default("validity", Value::string(if root { "87600h" } else { "43800h" }));
    default("rotate_before", Value::string("720h"));
    if !root {
        default("dns_names", Value::List(vec![Value::string("istiod.istio-system.svc")]));
    }
    v
}

const COMPUTED_COMMON: &[&str] = &["id", "fingerprint_sha256", "not_before", "not_after", "serial"];

fn computed_attrs(kind: CaKind, byo: bool) -> Vec<&'static str> {
    let mut c = COMPUTED_COMMON.to_vec();
    match kind {
        CaKind::Root if !byo => c.extend(["cert_pem", "key_pem"]),
        CaKind::Intermediate => c.extend(["cert_pem", "key_pem", "cert_chain_pem"]),
        _ => {}
    }
    c
}

fn force_new_attrs(kind: CaKind) -> &'static [&'static str] {
    match kind {
        CaKind::Root => {
            &["common_name", "organization", "key_algorithm", "validity", "cert_pem", "key_pem"]
        }
        _ => &[
            "common_name",
            "organization",
            "key_algorithm",
            "validity",
            "root_cert_pem",
            "root_key_pem",
            "locality",
            "dns_names",
        ],
    }
}

fn info_values(info: &CertInfo) -> [(&'static str, Value); 5] {
    [
        ("id", Value::string(info.fingerprint_sha256.clone())),
        ("fingerprint_sha256", Value::string(info.fingerprint_sha256.clone())),
        ("not_before", Value::string(cert::rfc3339(info.not_before))),
        ("not_after", Value::string(cert::rfc3339(info.not_after))),
        ("serial", Value::string(info.serial.clone())),
    ]
}

/// Whether the user brings an existing root (cert_pem and key_pem given, known).
fn brings_root(kind: CaKind, cfg: &Value) -> bool {
    kind == CaKind::Root && cfg.get_str("cert_pem").is_some() && cfg.get_str("key_pem").is_some()
}

/// Plans a CA: normalises, checks chains and validity, carries or recomputes computed attributes, and
/// replaces a CA that entered its rotation window.
pub fn plan(
    kind: CaKind,
    prior: Option<&Value>,
    proposed: &Value,
    now: OffsetDateTime,
) -> ProviderResult<PlannedState> {
    let mut cfg = with_defaults(kind, proposed);
    let mut warnings = Vec::new();
    let byo = brings_root(kind, &cfg);
    if byo {
        check_brought_root(&cfg)?;
    }
    let root_info = if kind == CaKind::Intermediate { check_root_input(&cfg)? } else { None };

    let mut forced: Vec<Vec<PathStep>> = Vec::new();
    let mut reason = None;
    if let Some(prior) = prior {
        for k in force_new_attrs(kind) {
            let (now_v, was) =
                (cfg.get(k).unwrap_or(&Value::Null), prior.get(k).unwrap_or(&Value::Null));
            // A generated root's cert_pem/key_pem are not configuration: null means "generate".
            if kind == CaKind::Root
                && matches!(*k, "cert_pem" | "key_pem")
                && now_v.is_null()
                && !byo
            {
                continue;
            }
            if !now_v.same_as(was) {
                forced.push(key(k));
            }
        }
        // An intermediate that no longer chains to the root it names (the root was replaced).
        if let (Some(root), Some(pc)) = (&root_info, prior.get_str("cert_pem")) {
            if let Ok(pi) = cert::inspect(pc) {
                if !cert::signed_by(&pi, root) && !forced.contains(&key("root_cert_pem")) {
                    forced.push(key("root_cert_pem"));
                }
            }
        }
        if forced.is_empty() {
            if let Some(not_after) = prior.get_str("not_after").and_then(parse_time) {
                let window = cfg
                    .get_str("rotate_before")
                    .and_then(|r| duration::parse(r).ok())
                    .unwrap_or(Duration::ZERO);
                if now >= not_after {
                    warnings.push(problem(
                        "validity",
                        format!(
                            "this CA expired on {}; it will be replaced",
                            cert::rfc3339(not_after)
                        ),
                        false,
                    ));
                }
                if now + window >= not_after && window > Duration::ZERO || now >= not_after {
                    forced.push(key("not_after"));
                    reason = Some(format!(
                        "it expires on {}, within its rotate_before window ({}); everything it signed is replaced with it",
                        cert::rfc3339(not_after),
                        cfg.get_str("rotate_before").unwrap_or("0h")
                    ));
                } else if now + EXPIRY_WARNING >= not_after {
                    warnings.push(problem(
                        "rotate_before",
                        format!(
                            "this CA expires on {}; set rotate_before to replace it ahead of time",
                            cert::rfc3339(not_after)
                        ),
                        false,
                    ));
                }
            }
        }
    }
    let fresh = prior.is_none() || !forced.is_empty();
    if fresh {
        if let Some(root) = &root_info {
            check_validity_within_root(&cfg, root, now)?;
        }
    }
    let Value::Map(m) = &mut cfg else {
        return Err(ProviderError::new(
            ErrorKind::InvalidArgument,
            "InvalidConfig",
            "expected an object",
        ));
    };
    for k in computed_attrs(kind, byo) {
        let v = match prior {
            Some(p) if !fresh => p.get(k).cloned().unwrap_or(Value::Null),
            _ => Value::Unknown,
        };
        m.insert(k.to_owned(), v);
    }
    if byo {
        if let Some(c) = m.get("cert_pem").and_then(Value::as_str) {
            let info = cert::inspect(c).map_err(|e| err("InvalidCertificate", "cert_pem", e))?;
            for (k, v) in info_values(&info) {
                m.insert(k.to_owned(), v);
            }
        }
    }
    if kind == CaKind::Intermediate {
        if let Some(p) = prior.filter(|_| !fresh) {
            m.insert(
                "root_cert_pem".into(),
                p.get("root_cert_pem").cloned().unwrap_or(Value::Null),
            );
        }
    }
    Ok(PlannedState { planned: cfg, requires_replace: forced, replace_reason: reason, warnings })
}

fn parse_time(s: &str) -> Option<OffsetDateTime> {
    OffsetDateTime::parse(s, &time::format_description::well_known::Rfc3339).ok()
}

fn check_brought_root(cfg: &Value) -> ProviderResult<()> {
    let (Some(c), Some(k)) = (cfg.get_str("cert_pem"), cfg.get_str("key_pem")) else {
        return Ok(());
    };
    let info = cert::inspect(c).map_err(|e| err("InvalidCertificate", "cert_pem", e))?;
    if !info.is_ca {
        return Err(err(
            "NotACa",
            "cert_pem",
            format!(
                "the certificate ({}) is not a CA (basicConstraints CA:TRUE is missing)",
                info.subject
            ),
        ));
    }
    if !cert::key_matches(&info, k).map_err(|e| err("InvalidKey", "key_pem", e))? {
        return Err(err("KeyMismatch", "key_pem", "key_pem does not belong to cert_pem".into()));
    }
    Ok(())
}

/// Checks the root an intermediate names: a CA, and the key its own. `None` while unknown.
fn check_root_input(cfg: &Value) -> ProviderResult<Option<CertInfo>> {
    let Some(c) = cfg.get_str("root_cert_pem") else { return Ok(None) };
    let info = cert::inspect(c).map_err(|e| err("InvalidCertificate", "root_cert_pem", e))?;
    if !info.is_ca {
        return Err(err(
            "NotACa",
            "root_cert_pem",
            format!("root_cert_pem ({}) is not a CA certificate", info.subject),
        ));
    }
    if let Some(k) = cfg.get_str("root_key_pem") {
        if !cert::key_matches(&info, k).map_err(|e| err("InvalidKey", "root_key_pem", e))? {
            return Err(err(
                "KeyMismatch",
                "root_key_pem",
                "root_key_pem does not belong to root_cert_pem: the intermediate would not chain to the root it names".into(),
            ));
        }
    }
    Ok(Some(info))
}

fn check_validity_within_root(
    cfg: &Value,
    root: &CertInfo,
    now: OffsetDateTime,
) -> ProviderResult<()> {
    let Some(v) = cfg.get_str("validity") else { return Ok(()) };
    let d = duration::parse(v).map_err(|e| err("InvalidValidity", "validity", e))?;
    if now + d > root.not_after {
        return Err(err(
            "ValidityBeyondRoot",
            "validity",
            format!(
                "validity {v} would end on {}, after the root expires ({}); shorten it or rotate the root",
                cert::rfc3339(now + d),
                cert::rfc3339(root.not_after)
            ),
        ));
    }
    Ok(())
}

fn spec(planned: &Value) -> ProviderResult<CaSpec> {
    let alg = KeyAlgorithm::parse(planned.get_str("key_algorithm").unwrap_or("ecdsa_p256"))
        .map_err(|e| err("InvalidConfig", "key_algorithm", e))?;
    let validity = duration::parse(planned.get_str("validity").unwrap_or("87600h"))
        .map_err(|e| err("InvalidConfig", "validity", e))?;
    let dns_names = planned
        .get("dns_names")
        .and_then(Value::as_list)
        .map(|l| l.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    Ok(CaSpec {
        common_name: planned.get_str("common_name").unwrap_or("Root CA").to_owned(),
        organization: planned.get_str("organization").unwrap_or("Istio").to_owned(),
        locality: planned.get_str("locality").map(str::to_owned),
        dns_names,
        key: alg,
        validity,
    })
}

/// Issues the certificate at apply time (blocking: key generation).
pub fn create(kind: CaKind, planned: &Value) -> ProviderResult<Value> {
    let mut out = planned.clone();
    let Value::Map(m) = &mut out else {
        return Err(ProviderError::new(
            ErrorKind::InvalidArgument,
            "InvalidConfig",
            "expected an object",
        ));
    };
    let cert_pem = match kind {
        CaKind::Root if brings_root(kind, planned) => {
            planned.get_str("cert_pem").unwrap_or_default().to_owned()
        }
        CaKind::Root => {
            let issued = cert::issue_root(&spec(planned)?)
                .map_err(|e| ProviderError::new(ErrorKind::Internal, "IssueFailed", e))?;
            m.insert("key_pem".into(), Value::string(issued.key_pem));
            m.insert("cert_pem".into(), Value::string(issued.cert_pem.clone()));
            issued.cert_pem
        }
        CaKind::Intermediate => {
            let (Some(rc), Some(rk)) =
                (planned.get_str("root_cert_pem"), planned.get_str("root_key_pem"))
            else {
                return Err(ProviderError::new(
                    ErrorKind::InvalidArgument,
                    "InvalidConfig",
                    "root_cert_pem and root_key_pem must be known to issue an intermediate",
                ));
            };
            let root = check_root_input(planned)?.ok_or_else(|| {
                err("InvalidCertificate", "root_cert_pem", "no root certificate".into())
            })?;
            check_validity_within_root(planned, &root, OffsetDateTime::now_utc())?;
            let issued = cert::issue_intermediate(&spec(planned)?, rc, rk)
                .map_err(|e| ProviderError::new(ErrorKind::Internal, "IssueFailed", e))?;
            let root_pem = ensure_newline(rc);
            m.insert(
                "cert_chain_pem".into(),
                Value::string(format!("{}{}", ensure_newline(&issued.cert_pem), root_pem)),
            );
            m.insert("key_pem".into(), Value::string(issued.key_pem));
            m.insert("cert_pem".into(), Value::string(issued.cert_pem.clone()));
            issued.cert_pem
        }
    };
    let info = cert::inspect(&cert_pem)
        .map_err(|e| ProviderError::new(ErrorKind::Internal, "IssueFailed", e))?;
    for (k, v) in info_values(&info) {
        m.insert(k.to_owned(), v);
    }
    Ok(out)
}

fn ensure_newline(s: &str) -> String {
    if s.ends_with('\n') {
        s.to_owned()
    } else {
        format!("{s}\n")
    }
}

/// `pki_istio_cacerts`: checks the bundle chains, and renders the files and the Secret.
pub fn read_cacerts(config: &Value) -> ProviderResult<Value> {
    let get = |k: &str| {
        config
            .get_str(k)
            .map(str::to_owned)
            .ok_or_else(|| err("InvalidConfig", k, format!("{k} is required")))
    };
    let (ca, ca_key, chain, root) =
        (get("ca_cert_pem")?, get("ca_key_pem")?, get("cert_chain_pem")?, get("root_cert_pem")?);
    let ca_info = cert::inspect(&ca).map_err(|e| err("InvalidCertificate", "ca_cert_pem", e))?;
    let root_info =
        cert::inspect(&root).map_err(|e| err("InvalidCertificate", "root_cert_pem", e))?;
    if !cert::signed_by(&ca_info, &root_info) {
        return Err(err(
            "ChainMismatch",
            "root_cert_pem",
            "ca_cert_pem is not signed by root_cert_pem: istiod would reject this bundle".into(),
        ));
    }
    if !cert::key_matches(&ca_info, &ca_key).map_err(|e| err("InvalidKey", "ca_key_pem", e))? {
        return Err(err(
            "KeyMismatch",
            "ca_key_pem",
            "ca_key_pem does not belong to ca_cert_pem".into(),
        ));
    }
    let blocks =
        cert::pem_blocks(&chain).map_err(|e| err("InvalidCertificate", "cert_chain_pem", e))?;
    // `ca` and `root` were read above: their first certificates parse.
    let first = |pem: &str| cert::pem_blocks(pem).ok().and_then(|b| b.into_iter().next());
    if blocks.len() < 2
        || first(&ca).as_ref() != blocks.first()
        || first(&root).as_ref() != blocks.last()
    {
        return Err(err(
            "ChainOrder",
            "cert_chain_pem",
            "cert_chain_pem must be the intermediate followed by the root".into(),
        ));
    }
    let files = BTreeMap::from([
        ("ca-cert.pem".to_owned(), ca.clone()),
        ("ca-key.pem".to_owned(), ca_key.clone()),
        ("cert-chain.pem".to_owned(), chain.clone()),
        ("root-cert.pem".to_owned(), root.clone()),
    ]);
    let namespace = config.get_str("namespace").unwrap_or("istio-system").to_owned();
    let b64 = |x: &str| Value::string(base64::engine::general_purpose::STANDARD.encode(x));
    let secret = Value::map([
        ("apiVersion", Value::string("v1")),
        ("kind", Value::string("Secret")),
        (
            "metadata",
            Value::map([
                ("name", Value::string("cacerts")),
                ("namespace", Value::string(namespace.clone())),
            ]),
        ),
        ("type", Value::string("Opaque")),
        ("data", Value::Map(files.iter().map(|(k, v)| (k.clone(), b64(v))).collect())),
    ]);
    let mut out = config.clone();
    if let Value::Map(m) = &mut out {
        m.insert("namespace".into(), Value::string(namespace));
        m.insert(
            "files".into(),
            Value::Map(files.into_iter().map(|(k, v)| (k, Value::String(v))).collect()),
        );
        m.insert("secret".into(), secret);
    }
    Ok(out)
}
