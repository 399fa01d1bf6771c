//! The ops layer: one function per command, taking options and returning results and diagnostics.
//! Commands in the CLI are thin wrappers around these.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use meshform_config::load::load_dir;
use meshform_config::model::Config;
use meshform_config::modules::expand;
use meshform_config::vars::{resolve_variables, VarInputs};
use meshform_core::{Diagnostic, Diagnostics, InstanceAddr, Mode, Value};
use meshform_provider::Registry;
use meshform_state::{InstanceState, LockInfo, State, StateError, StateLock, StateStore};
use tokio::sync::watch;

use crate::apply::{ApplyOptions, ApplyOutcome, Executor, StateWriter};
use crate::graph::{self, ConfigGraph};
use crate::plan::walk::{provider_state_key, remark, PlanContext, PlanOptions, Planner};
use crate::plan::Plan;
use crate::reporter::Reporter;
use crate::validate::check_schemas;

/// Where a run works: the configuration directory, the providers, the state store.
#[derive(Clone)]
pub struct Workspace {
    pub dir: PathBuf,
    pub registry: Registry,
    pub store: Arc<dyn StateStore>,
}

/// A configuration directory parsed and lowered, not checked yet: read once per run, for the
/// backend block (which decides the store) and then for planning.
pub struct Parsed {
    pub config: Config,
    pub diags: Diagnostics,
}

/// Parses the configuration in `dir` (every problem in the diagnostics).
pub fn parse(dir: &Path) -> Parsed {
    let (config, diags) = load_dir(dir);
    Parsed { config, diags }
}

/// A configuration loaded and checked: modules expanded, the graph built, schemas checked.
pub struct Loaded {
    pub config: Config,
    pub graph: ConfigGraph,
    /// The configuration as parsed, when a module's `count`/`for_each` waits for the variables'
    /// values: planning expands it again with them.
    pub unexpanded: Option<Config>,
}

/// Loads and statically checks the configuration. `None` when it has errors (all in the diagnostics).
pub fn load(ws: &Workspace) -> (Option<Loaded>, Diagnostics) {
    load_parsed(ws, parse(&ws.dir))
}

/// [`load`] of a configuration already parsed.
pub fn load_parsed(ws: &Workspace, parsed: Parsed) -> (Option<Loaded>, Diagnostics) {
    let Parsed { config, mut diags } = parsed;
    let (config, unexpanded) = if config.needs_expansion() {
        let e = expand(&config, None);
        diags.extend(e.diags);
        (e.config, e.incomplete.then_some(config))
    } else {
        (config, None)
    };
    let graph = check_loaded(ws, &config, &mut diags);
    diags.sort();
    if diags.has_errors() {
        return (None, diags);
    }
    (Some(Loaded { config, graph, unexpanded }), diags)
}

/// The graph and static checks of an expanded configuration.
fn check_loaded(ws: &Workspace, config: &Config, diags: &mut Diagnostics) -> ConfigGraph {
    let (graph, gdiags) = graph::build(config);
    diags.extend(gdiags);
    diags.extend(meshform_config::vars::check_defaults(config));
    diags.extend(check_schemas(config, &ws.registry));
    diags.extend(meshform_config::load::check_rollouts(config));
    check_required_version(config, diags);
    graph
}

/// A loaded configuration whose module instances waited for the variables' values, expanded
/// with them (the others as they are).
pub fn expand_with(
    ws: &Workspace,
    mut loaded: Loaded,
    vars: &BTreeMap<String, Value>,
) -> Result<Loaded, Diagnostics> {
    let Some(source) = loaded.unexpanded.take() else { return Ok(loaded) };
    let e = expand(&source, Some(vars));
    let mut diags = e.diags;
    let graph = check_loaded(ws, &e.config, &mut diags);
    diags.sort();
    if diags.has_errors() {
        return Err(diags);
    }
    Ok(Loaded { config: e.config, graph, unexpanded: None })
}

fn check_required_version(config: &Config, diags: &mut Diagnostics) {
    let Some((req, span)) = &config.settings.required_version else { return };
    let ours = env!("CARGO_PKG_VERSION");
    match version_satisfies(ours, req) {
        Ok(true) => {}
        Ok(false) => diags.push(
            Diagnostic::error("meshform::config::version", format!("this configuration requires meshform {req}; this is {ours}"))
                .with_span(span.clone(), "required version")
                .with_help("install a meshform version that satisfies the constraint, or relax required_version"),
        ),
        Err(e) => diags.push(
            Diagnostic::error("meshform::config::version", format!("required_version {req:?}: {e}"))
                .with_span(span.clone(), "not a version constraint")
                .with_help("write constraints such as \">= 0.1, < 2\" or \"~> 0.1\" (operators =, !=, >, >=, <, <=, ~>)"),
        ),
    }
}

/// Checks a version against constraints such as `>= 0.1, < 2` (`=`, `!=`, `>`, `>=`, `<`, `<=`, `~>`);
/// an error names a part that is not a version.
pub fn version_satisfies(version: &str, constraints: &str) -> Result<bool, String> {
    let parse = |s: &str| -> Result<Vec<u64>, String> {
        let t = s.trim();
        t.split('.')
            .map(|p| p.trim().parse::<u64>())
            .collect::<Result<Vec<u64>, _>>()
            .map_err(|_| format!("{t:?} is not a version (numbers separated by dots, e.g. 0.1.0)"))
    };
    let v = parse(version)?;
    let cmp = |a: &[u64], b: &[u64]| {
        let n = a.len().max(b.len());
        (0..n)
            .map(|i| a.get(i).copied().unwrap_or(0).cmp(&b.get(i).copied().unwrap_or(0)))
            .find(|o| o.is_ne())
            .unwrap_or(std::cmp::Ordering::Equal)
    };
    let mut all = true;
    for c in constraints.split(',') {
        let c = c.trim();
        let (op, rest) = ["~>", ">=", "<=", "!=", ">", "<", "="]
            .iter()
            .find_map(|op| c.strip_prefix(op).map(|r| (*op, r)))
            .unwrap_or(("=", c));
        let want = parse(rest)?;
        let o = cmp(&v, &want);
        all &= match op {
            ">=" => o.is_ge(),
            "<=" => o.is_le(),
            ">" => o.is_gt(),
            "<" => o.is_lt(),
            "!=" => o.is_ne(),
            "~>" => {
                // ~> 1.2 allows >= 1.2, < 2; ~> 1.2.3 allows >= 1.2.3, < 1.3.
                let mut upper = want[..want.len().saturating_sub(1).max(1)].to_vec();
                if let Some(last) = upper.last_mut() {
                    *last += 1;
                }
                o.is_ge() && cmp(&v, &upper).is_lt()
            }
            _ => o.is_eq(),
        };
    }
    Ok(all)
}

#[cfg(test)]
mod version_tests {
    use super::version_satisfies;

    #[test]
    fn constraints_and_junk() {
        assert_eq!(version_satisfies("0.1.0", ">= 0.1, < 2"), Ok(true));
        assert_eq!(version_satisfies("0.1.0", "~> 0.2"), Ok(false));
        assert_eq!(version_satisfies("1.2.5", "~> 1.2.3"), Ok(true));
        assert_eq!(version_satisfies("1.3.0", "~> 1.2.3"), Ok(false));
        assert!(version_satisfies("0.1.0", ">= banana").unwrap_err().contains("\"banana\""));
        assert!(version_satisfies("0.1.0", ">= 0.1, <").is_err());
    }
}

/// `meshform validate`: syntax, references, cycles, schemas, and every expression evaluated once with
/// unknown inputs (type errors); no network, no variable values needed.
pub fn validate(ws: &Workspace) -> Diagnostics {
    validate_parsed(ws, parse(&ws.dir))
}

/// [`validate`] of a configuration already parsed.
pub fn validate_parsed(ws: &Workspace, parsed: Parsed) -> Diagnostics {
    let (loaded, mut diags) = load_parsed(ws, parsed);
    if let Some(l) = loaded {
        diags.extend(crate::validate::check_values(&l.config, &l.graph, &ws.registry));
        diags.sort();
    }
    diags
}

/// Takes the state lock for a run, waiting up to `timeout`.
pub async fn lock(
    ws: &Workspace,
    operation: &str,
    who: &str,
    timeout: Duration,
) -> Result<Box<dyn StateLock>, StateError> {
    lock_store(&ws.store, operation, who, timeout).await
}

/// Takes a store's lock from a blocking thread (taking it may wait up to `timeout`).
pub async fn lock_store(
    store: &Arc<dyn StateStore>,
    operation: &str,
    who: &str,
    timeout: Duration,
) -> Result<Box<dyn StateLock>, StateError> {
    let store = Arc::clone(store);
    let info = LockInfo::new(operation, who);
    tokio::task::spawn_blocking(move || store.lock(info, timeout)).await.unwrap_or_else(|e| {
        Err(StateError::Io {
            path: PathBuf::from("<lock>"),
            source: std::io::Error::other(e.to_string()),
        })
    })
}

/// Reads the state, or a fresh one when none exists.
pub fn read_state(ws: &Workspace) -> Result<State, StateError> {
    Ok(ws.store.read()?.unwrap_or_default())
}

/// What planning produced: the plan and everything apply needs.
pub struct Planned {
    pub plan: Plan,
    pub ctx: PlanContext,
    pub loaded: Loaded,
    pub state: State,
    pub vars: BTreeMap<String, Value>,
    pub diags: Diagnostics,
}

/// Why planning did not produce a plan.
#[derive(Debug)]
pub enum PlanError {
    Diagnostics(Diagnostics),
    State(StateError),
}

impl From<StateError> for PlanError {
    fn from(e: StateError) -> PlanError {
        PlanError::State(e)
    }
}

/// `meshform plan`: load, resolve variables, refresh and plan. The caller holds the lock.
pub async fn plan(
    ws: &Workspace,
    vars: &VarInputs,
    opts: &PlanOptions,
    reporter: &dyn Reporter,
) -> Result<Planned, PlanError> {
    plan_parsed(ws, parse(&ws.dir), vars, opts, reporter).await
}

/// [`plan`] of a configuration already parsed.
pub async fn plan_parsed(
    ws: &Workspace,
    parsed: Parsed,
    vars: &VarInputs,
    opts: &PlanOptions,
    reporter: &dyn Reporter,
) -> Result<Planned, PlanError> {
    let (loaded, diags) = load_parsed(ws, parsed);
    let Some(loaded) = loaded else { return Err(PlanError::Diagnostics(diags)) };
    plan_loaded(ws, loaded, diags, vars, opts, reporter).await
}

/// [`plan`] of a configuration already loaded (with the diagnostics loading it gave).
pub async fn plan_loaded(
    ws: &Workspace,
    loaded: Loaded,
    mut diags: Diagnostics,
    vars: &VarInputs,
    opts: &PlanOptions,
    reporter: &dyn Reporter,
) -> Result<Planned, PlanError> {
    let (values, vdiags) = resolve_variables(&loaded.config, vars);
    diags.extend(vdiags);
    if diags.has_errors() {
        return Err(PlanError::Diagnostics(diags));
    }
    let loaded = expand_with(ws, loaded, &values).map_err(PlanError::Diagnostics)?;
    let mut state = read_state(ws)?;
    let moves = crate::plan::moved::apply_moves(&loaded.config, &mut state, &mut diags);
    crate::plan::removed::check(&loaded.config, &mut diags);
    let opts = &module_selections(&loaded.config, &state, opts, &mut diags);
    check_targets(&loaded.config, &state, opts, &mut diags);
    if diags.has_errors() {
        return Err(PlanError::Diagnostics(diags));
    }
    let imports = crate::plan::import::import_ids(&loaded.config, &values, &state, &mut diags);
    if diags.has_errors() {
        return Err(PlanError::Diagnostics(diags));
    }
    let mut planner =
        Planner::new(&loaded.config, &loaded.graph, &ws.registry, &state, &values, opts, reporter);
    planner.imports = imports;
    let (mut plan, ctx, pdiags) = planner.run().await;
    plan.moves = moves;
    diags.extend(pdiags);
    if diags.has_errors() {
        return Err(PlanError::Diagnostics(diags));
    }
    Ok(Planned { plan, ctx, loaded, state, vars: values, diags })
}

/// `--target`/`--exclude` naming modules, as patterns for every resource inside them (in the
/// configuration or the state); a module that holds nothing is an error.
fn module_selections(
    config: &Config,
    state: &State,
    opts: &PlanOptions,
    diags: &mut Diagnostics,
) -> PlanOptions {
    let mut out = opts.clone();
    let known: std::collections::BTreeSet<meshform_core::ResourceAddr> =
        config.resources.keys().cloned().chain(state.resources.iter().map(|r| r.addr())).collect();
    for (flag, list, into) in [
        ("--target", &opts.module_targets, &mut out.targets),
        ("--exclude", &opts.module_excludes, &mut out.excludes),
    ] {
        for m in list {
            let inside: Vec<_> = known.iter().filter(|a| m.contains(&a.module)).collect();
            if inside.is_empty() {
                diags.push(
                    Diagnostic::error(
                        "meshform::cli::unknown_target",
                        format!("{flag} {m}: no such module instance in the configuration or the state"),
                    )
                    .with_help("list addresses with `meshform state list`, or check the module's name and keys"),
                );
            }
            into.extend(
                inside
                    .into_iter()
                    .map(|a| meshform_core::AddrPattern { resource: a.clone(), key: None }),
            );
        }
    }
    out.module_targets.clear();
    out.module_excludes.clear();
    out
}

fn check_targets(config: &Config, state: &State, opts: &PlanOptions, diags: &mut Diagnostics) {
    for (flag, list) in
        [("--target", &opts.targets), ("--exclude", &opts.excludes), ("--replace", &opts.replace)]
    {
        for p in list {
            let known =
                config.resources.contains_key(&p.resource) || state.resource(&p.resource).is_some();
            if !known {
                diags.push(
                    Diagnostic::error(
                        "meshform::cli::unknown_target",
                        format!("{flag} {p}: no such resource in the configuration or the state"),
                    )
                    .with_help(
                        "list addresses with `meshform state list`, or check the configuration",
                    ),
                );
            }
        }
    }
}

/// `meshform apply` (after [`plan`]): carries out the plan, saving state after every operation.
pub async fn apply(
    ws: &Workspace,
    planned: Planned,
    opts: &ApplyOptions,
    reporter: &dyn Reporter,
    cancel: watch::Receiver<bool>,
) -> ApplyOutcome {
    let Planned { plan, ctx, loaded, state, .. } = planned;
    let writer = StateWriter::new(Arc::clone(&ws.store), state);
    // `moved` blocks: the renamed state (planned against) is saved whole before any operation,
    // so that every later journal record applies to it.
    if !plan.moves.is_empty() {
        if let Err(e) = writer.update(|_| {}) {
            let mut out = ApplyOutcome::default();
            out.diags.push(
                Diagnostic::error(
                    "meshform::apply::state_save",
                    format!("cannot save the moved addresses: {e}"),
                )
                .with_help("nothing was changed; fix the state backend and apply again"),
            );
            return out;
        }
    }
    let exec = Executor {
        config: &loaded.config,
        registry: &ws.registry,
        graph: &loaded.graph,
        plan: &plan,
        ctx,
        writer: &writer,
        opts,
        reporter,
        cancel,
    };
    exec.run().await
}

/// `meshform import ADDR ID`: reads an existing object through its provider and records it in state.
pub async fn import(
    ws: &Workspace,
    parsed: Parsed,
    vars: &VarInputs,
    addr: &InstanceAddr,
    id: &str,
    reporter: &dyn Reporter,
) -> Result<Value, PlanError> {
    let state = read_state(ws)?;
    if state.instance(addr).is_some() {
        return Err(PlanError::Diagnostics(
            Diagnostic::error(
                "meshform::import::exists",
                format!("{addr} is already managed by meshform"),
            )
            .with_help(format!(
                "to import another object, remove it first with `meshform state rm {addr}`"
            ))
            .into(),
        ));
    }
    let opts = PlanOptions { refresh: false, ..PlanOptions::default() };
    let planned = plan_parsed(ws, parsed, vars, &opts, reporter).await?;
    let Some(def) = planned.loaded.config.resources.get(&addr.resource) else {
        return Err(PlanError::Diagnostics(
            Diagnostic::error(
                "meshform::import::not_in_config",
                format!("{} is not in the configuration", addr.resource),
            )
            .with_help(format!(
                "add a `resource \"{}\" \"{}\"` block first, then import into it",
                addr.resource.ty, addr.resource.name
            ))
            .into(),
        ));
    };
    if addr.resource.mode != Mode::Managed {
        return Err(PlanError::Diagnostics(
            Diagnostic::error("meshform::import::data", "data sources cannot be imported").into(),
        ));
    }
    let key = def.provider_key();
    let provider = planned.ctx.providers.get(&key).cloned();
    let schema = planned.ctx.resource_schema(&addr.resource).cloned();
    let (Some(provider), Some(schema)) = (provider, schema) else {
        return Err(PlanError::Diagnostics(
            Diagnostic::error(
                "meshform::import::provider",
                format!("provider {key} is not available"),
            )
            .into(),
        ));
    };
    let found = provider.import(&addr.resource.ty, id).await.map_err(|e| {
        PlanError::Diagnostics(
            Diagnostic::error("meshform::import::failed", format!("{addr}: import failed: {e}"))
                .into(),
        )
    })?;
    let Some(value) = found else {
        return Err(PlanError::Diagnostics(
            Diagnostic::error(
                "meshform::import::not_found",
                format!("{addr}: no object with id {id:?}"),
            )
            .with_help("check the id: each resource type's documentation says what its import id is (a file's path, a mesh id, …)")
            .into(),
        ));
    };
    let value = remark(value, &Value::Null, &schema);
    let mut state = planned.state;
    let mut inst = InstanceState::new(addr.key.clone());
    inst.set_value(&value);
    state.set_instance(addr, &provider_state_key(&key), inst);
    ws.store.write(&mut state)?;
    Ok(value)
}
