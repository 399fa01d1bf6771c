//! `meshform verify`: runs the configuration's `check` blocks against live infrastructure — reads each
//! check's scoped data sources (e.g. one that runs `curl` in a pod) and evaluates its
//! asserts.

use std::collections::BTreeMap;

use meshform_config::eval::{Evaluator, Overlay, Scope};
use meshform_config::model::{CheckDef, Config};
use meshform_config::vars::VarInputs;
use meshform_core::{Diagnostic, Diagnostics, ResourceAddr, Value};
use meshform_provider::ErrorKind;

use crate::body::eval_body;
use crate::ops::{self, Parsed, PlanError, Workspace};
use crate::plan::walk::{remark, PlanContext, PlanOptions};
use crate::reporter::Reporter;

/// The outcome of one check.
#[derive(Clone, Debug)]
pub struct CheckResult {
    pub name: String,
    pub passed: bool,
    /// `enabled` was false: the check did not run (and counts as passed).
    pub skipped: bool,
    /// A data source of the check could not reach what it reads (a cluster or control plane that is
    /// down): the check could not run, which is not the same as failing.
    pub unreachable: bool,
    /// The error messages of the asserts that failed (or why the check could not run).
    pub failures: Vec<String>,
    /// What the check's data sources returned.
    pub data: Vec<(ResourceAddr, Value)>,
}

impl CheckResult {
    /// What each of the check's data sources answered, counted by version (see [`DataResponses`]).
    pub fn responses(&self) -> Vec<DataResponses> {
        self.data.iter().map(|(addr, v)| DataResponses::of(addr, v)).collect()
    }
}

/// The answers one data source of a check saw: its `outputs` attribute (a list of strings, one per
/// request sent, such as the bodies `curl` printed), and where they were sent from (`pod_name`).
#[derive(Clone, Debug, PartialEq)]
pub struct DataResponses {
    pub address: ResourceAddr,
    /// The data source's `pod_name`, when it has one.
    pub pod: Option<Value>,
    /// Each response; a sensitive one as the redaction marker, a missing or non-string one as "".
    pub responses: Vec<String>,
    /// How many responses each [`response_key`] had.
    pub counts: BTreeMap<String, usize>,
}

impl DataResponses {
    fn of(address: &ResourceAddr, v: &Value) -> DataResponses {
        let responses: Vec<String> = v
            .get("outputs")
            .and_then(Value::as_list)
            .unwrap_or(&[])
            .iter()
            .map(|o| {
                if o.is_sensitive() {
                    meshform_core::REDACTED.to_owned()
                } else {
                    o.as_str().unwrap_or("").to_owned()
                }
            })
            .collect();
        DataResponses {
            address: address.clone(),
            pod: v.get("pod_name").cloned(),
            counts: count_responses(&responses),
            responses,
        }
    }
}

/// What a response is counted as: the version it names (`Hello version: v2, instance: …` → `v2`),
/// else its whole first line (`no healthy upstream`), or `(empty)`.
pub fn response_key(response: &str) -> String {
    let line = response.lines().next().unwrap_or("").trim();
    if let Some(rest) = line.split("version: ").nth(1) {
        return rest.split([',', ' ']).next().unwrap_or(rest).to_owned();
    }
    if line.is_empty() {
        "(empty)".to_owned()
    } else {
        line.to_owned()
    }
}

/// How many responses each [`response_key`] had.
pub fn count_responses(responses: &[String]) -> BTreeMap<String, usize> {
    let mut c = BTreeMap::new();
    for r in responses {
        *c.entry(response_key(r)).or_insert(0) += 1;
    }
    c
}

/// All checks run.
#[derive(Clone, Debug, Default)]
pub struct VerifyReport {
    pub checks: Vec<CheckResult>,
    pub diags: Diagnostics,
}

impl VerifyReport {
    pub fn passed(&self) -> bool {
        self.checks.iter().all(|c| c.passed) && !self.diags.has_errors()
    }

    /// Whether every check passed, or could not reach what it reads (`verify --allow-unreachable`).
    pub fn passed_where_reachable(&self) -> bool {
        self.checks.iter().all(|c| c.passed || c.unreachable) && !self.diags.has_errors()
    }
}

/// Runs the named checks (all when `names` is empty) of the configuration `parsed`.
pub async fn verify(
    ws: &Workspace,
    parsed: Parsed,
    vars: &VarInputs,
    names: &[String],
    reporter: &dyn Reporter,
) -> Result<VerifyReport, PlanError> {
    let opts = PlanOptions { refresh: false, ..PlanOptions::default() };
    let planned = ops::plan_parsed(ws, parsed, vars, &opts, reporter).await?;
    let config = &planned.loaded.config;
    let mut report = VerifyReport { diags: planned.diags.clone(), ..VerifyReport::default() };
    for n in names {
        if !config.checks.contains_key(n) {
            let known: Vec<&str> = config.checks.keys().map(String::as_str).collect();
            report.diags.push(
                Diagnostic::error(
                    "meshform::verify::unknown_check",
                    format!("no check named \"{n}\""),
                )
                .with_help(if known.is_empty() {
                    "the configuration has no check blocks".to_owned()
                } else {
                    format!("checks: {}", known.join(", "))
                }),
            );
        }
    }
    if report.diags.has_errors() {
        return Err(PlanError::Diagnostics(report.diags));
    }
    for (name, check) in &config.checks {
        if !names.is_empty() && !names.contains(name) {
            continue;
        }
        report.checks.push(run_check(config, &planned.ctx, name, check).await);
    }
    Ok(report)
}

/// Runs one check the way `meshform verify` does: its `enabled` condition, its scoped data sources
/// (read live through the configured providers), then its asserts, all evaluated against `ctx`'s
/// values (the plan's, or those an apply has reached).
pub async fn run_check(
    config: &Config,
    ctx: &PlanContext,
    name: &str,
    check: &CheckDef,
) -> CheckResult {
    let mut result = CheckResult {
        name: name.to_owned(),
        passed: true,
        skipped: false,
        unreachable: false,
        failures: Vec::new(),
        data: Vec::new(),
    };
    if let Some(e) = &check.enabled {
        match Evaluator::new(&ctx.values, &e.span.file, &config.dir).eval(&e.node) {
            Ok(v) if v.as_bool() == Some(false) => {
                result.skipped = true;
                return result;
            }
            Ok(v) if v.as_bool() == Some(true) => {}
            Ok(v) => result.failures.push(format!(
                "enabled must be true or false, got {} ({})",
                v.kind(),
                e.span.location()
            )),
            Err(d) => result.failures.push(format!("{} ({})", d.summary, e.span.location())),
        }
    }
    let mut data_root = ctx.values.root("data").cloned().unwrap_or(Value::Map(BTreeMap::new()));
    for d in &check.data {
        let Some(provider) = ctx.providers.get(&d.provider_key()).cloned() else {
            result.failures.push(format!(
                "{}: provider {} is not available",
                d.addr,
                d.provider_key()
            ));
            continue;
        };
        let Some(schema) = ctx
            .schemas
            .get(meshform_core::implied_provider(&d.addr.ty))
            .and_then(|s| s.data_sources.get(&d.addr.ty))
            .cloned()
        else {
            result.failures.push(format!("{}: unknown data source", d.addr));
            continue;
        };
        let extra = BTreeMap::from([("data".to_owned(), data_root.clone())]);
        let scope = Overlay { base: &ctx.values, extra: &extra };
        let mut diags = Diagnostics::default();
        let cfg = eval_body(&d.body, &schema, &scope, &config.dir, &mut diags);
        if let Some(e) = diags.iter().find(|x| x.is_error()) {
            result.failures.push(format!("{}: {e}", d.addr));
            continue;
        }
        if cfg.contains_unknown() {
            result.failures.push(format!(
                "{}: its arguments depend on values not known yet; run apply first",
                d.addr
            ));
            continue;
        }
        let read = provider.read_data(&d.addr.ty, &cfg.clone().into_unmarked_deep()).await;
        match read.map_err(|e| crate::plan::walk::hide_echoes(e, &cfg)) {
            Ok(v) => {
                let v = remark(v, &cfg, &schema);
                if let Value::Map(types) = &mut data_root {
                    let by_name = types
                        .entry(d.addr.ty.clone())
                        .or_insert_with(|| Value::Map(BTreeMap::new()));
                    if let Value::Map(m) = by_name {
                        m.insert(d.addr.name.clone(), v.clone());
                    }
                }
                result.data.push((d.addr.clone(), v));
            }
            Err(e) => {
                result.unreachable |= e.kind == ErrorKind::Unavailable;
                result.failures.push(format!("{}: {e}", d.addr));
            }
        }
    }
    if result.failures.is_empty() {
        let extra = BTreeMap::from([("data".to_owned(), data_root)]);
        let scope = Overlay { base: &ctx.values, extra: &extra };
        for a in &check.asserts {
            let ev = Evaluator::new(&scope, &a.condition.span.file, &config.dir);
            match ev.eval(&a.condition.node) {
                Ok(v) if v.as_bool() == Some(true) => {}
                Ok(v) if v.as_bool() == Some(false) => {
                    let msg = Evaluator::new(&scope, &a.error_message.span.file, &config.dir)
                        .eval(&a.error_message.node)
                        .ok()
                        .and_then(|m| {
                            if m.is_sensitive() {
                                None
                            } else {
                                m.as_str().map(str::to_owned)
                            }
                        })
                        .unwrap_or_else(|| "assertion failed".into());
                    result.failures.push(format!("{msg} ({})", a.condition.span.location()));
                }
                Ok(v) => result.failures.push(format!(
                    "the condition at {} is {} rather than true or false",
                    a.condition.span.location(),
                    v.kind()
                )),
                Err(d) => {
                    result.failures.push(format!("{} ({})", d.summary, a.condition.span.location()))
                }
            }
        }
    }
    result.passed = result.failures.is_empty();
    result.passed = result.failures.is_empty();
    result
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn responses_count_by_version() {
        let outs = vec![
            "Hello version: v1, instance: a\n".to_owned(),
            "Hello version: v2, instance: b\n".to_owned(),
            "Hello version: v1, instance: c".to_owned(),
            "no healthy upstream".to_owned(),
        ];
        let c = count_responses(&outs);
        assert_eq!(c["v1"], 2);
        assert_eq!(c["v2"], 1);
        assert_eq!(c["no healthy upstream"], 1);
    }

    #[test]
    fn response_keys() {
        assert_eq!(response_key("Hello version: v2 instance x"), "v2");
        assert_eq!(response_key("  \nsecond line"), "(empty)");
        assert_eq!(response_key(""), "(empty)");
        assert_eq!(response_key("upstream connect error\nmore"), "upstream connect error");
    }

    #[test]
    fn data_responses_read_outputs_and_pod_and_redact() {
        let addr = ResourceAddr::data("test_exec", "curl");
        let v = Value::Map(BTreeMap::from([
            ("pod_name".to_owned(), Value::String("sleep-1".into())),
            (
                "outputs".to_owned(),
                Value::List(vec![
                    Value::String("Hello version: v1, instance: a".into()),
                    Value::String("secret".into()).with_mark(true),
                    Value::Null,
                ]),
            ),
        ]));
        let r = DataResponses::of(&addr, &v);
        assert_eq!(r.pod, Some(Value::String("sleep-1".into())));
        assert_eq!(
            r.responses,
            vec!["Hello version: v1, instance: a", meshform_core::REDACTED, ""]
        );
        assert_eq!(
            r.counts,
            BTreeMap::from([
                ("(empty)".to_owned(), 1),
                ("v1".to_owned(), 1),
                (meshform_core::REDACTED.to_owned(), 1)
            ])
        );
        let none = DataResponses::of(&addr, &Value::Map(BTreeMap::new()));
        assert!(none.responses.is_empty() && none.pod.is_none() && none.counts.is_empty());
    }
}
