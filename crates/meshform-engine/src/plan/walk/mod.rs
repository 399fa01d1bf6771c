//! The planning walk: evaluate the configuration in dependency order, refresh prior objects
//! concurrently, ask providers to plan each instance, and decide each instance's action.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::sync::Arc;

use meshform_config::eval::Overlay;
use meshform_config::model::{Config, Repetition};
use meshform_core::{
    AddrPattern, Diagnostics, InstanceAddr, InstanceKey, Mode, ProviderSchema, ResourceAddr,
    Schema, Value,
};
use meshform_provider::{ConfiguredProvider, ErrorKind, ProviderError, Registry};
use meshform_state::{InstanceStatus, State};
use tokio::sync::Semaphore;
use tokio::task::JoinHandle;

mod expand;
mod instance;
mod outage;
mod removal;

use outage::{config_changed, Unavailable};

pub(crate) use super::support::hide_echoes;
use super::support::{allowed_resources, problem_diag, provider_config_error, Allowed};
pub use super::support::{base_dir, remark};
use super::{Action, Adoption, ChangeReason, Drift, Plan, PlanFailure, PlanMode, ResourceChange};
use crate::body::eval_body;
use crate::graph::{ConfigGraph, Node, ResourceDependencies};
use crate::reporter::Reporter;
use crate::scope::Values;

/// What to plan.
#[derive(Clone, Debug)]
pub struct PlanOptions {
    pub mode: PlanMode,
    /// Refresh prior objects from their providers first (`--refresh=false` turns it off).
    pub refresh: bool,
    pub targets: Vec<AddrPattern>,
    pub excludes: Vec<AddrPattern>,
    pub replace: Vec<AddrPattern>,
    /// `--target module.NAME…` / `--exclude module.NAME…`: every resource inside; planning turns
    /// them into resource patterns in `targets` and `excludes` once the modules are expanded.
    pub module_targets: Vec<meshform_core::ModulePattern>,
    pub module_excludes: Vec<meshform_core::ModulePattern>,
    /// At most this many provider operations at once.
    pub parallelism: usize,
}

impl Default for PlanOptions {
    fn default() -> PlanOptions {
        PlanOptions {
            mode: PlanMode::Normal,
            refresh: true,
            targets: Vec::new(),
            excludes: Vec::new(),
            replace: Vec::new(),
            module_targets: Vec::new(),
            module_excludes: Vec::new(),
            parallelism: 10,
        }
    }
}

/// What the apply step needs from planning besides the plan itself.
#[derive(Clone, Default)]
pub struct PlanContext {
    pub values: Values,
    pub providers: BTreeMap<String, Arc<dyn ConfiguredProvider>>,
    pub schemas: BTreeMap<String, ProviderSchema>,
    /// Providers whose configuration is known only after apply (it reads what this apply creates):
    /// the executor configures them once what they read is applied.
    pub deferred_providers: BTreeSet<String>,
}

impl PlanContext {
    /// The schema of a resource or data source type.
    pub fn resource_schema(&self, addr: &ResourceAddr) -> Option<&Schema> {
        let p = self.schemas.get(meshform_core::implied_provider(&addr.ty))?;
        match addr.mode {
            Mode::Managed => p.resources.get(&addr.ty),
            Mode::Data => p.data_sources.get(&addr.ty),
        }
    }
}

type RefreshResult = Result<Option<Value>, ProviderError>;

/// The state key of a provider instance (`provider.NAME`, or `provider.NAME.ALIAS` for an alias).
pub fn provider_state_key(key: &str) -> String {
    format!("provider.{key}")
}

/// The configuration key from a state key.
pub fn provider_key_from_state(s: &str) -> &str {
    s.strip_prefix("provider.").unwrap_or(s)
}

/// A resource's provider instance as planning finds it.
enum ProviderReach {
    Configured(Arc<dyn ConfiguredProvider>),
    /// Configured during apply, once the values it is configured from are known.
    Deferred,
    /// Not configured (it failed, or what it needs failed): the resource is skipped.
    Unavailable,
}

pub(crate) struct Planner<'a> {
    pub config: &'a Config,
    pub graph: &'a ConfigGraph,
    pub registry: &'a Registry,
    pub state: &'a State,
    pub opts: &'a PlanOptions,
    pub reporter: &'a dyn Reporter,
    pub ctx: PlanContext,
    pub plan: Plan,
    pub diags: Diagnostics,
    refreshes: HashMap<InstanceAddr, JoinHandle<RefreshResult>>,
    failed: BTreeSet<Node>,
    semaphore: Arc<Semaphore>,
    allowed: Option<Allowed>,
    /// Resources with a create/update/replace planned (data sources depending on them read at apply).
    changed: BTreeSet<ResourceAddr>,
    resource_deps: ResourceDependencies,
    /// Instances that could not be planned in this run, and why ([`outage`]).
    unavailable: BTreeMap<InstanceAddr, Unavailable>,
    /// The walk's values with every unavailable instance unknown; `None` while nothing is.
    probe: Option<Values>,
    /// Instances `import` blocks import, with their ids ([`crate::plan::import`]).
    pub imports: BTreeMap<InstanceAddr, String>,
}

impl<'a> Planner<'a> {
    pub fn new(
        config: &'a Config,
        graph: &'a ConfigGraph,
        registry: &'a Registry,
        state: &'a State,
        vars: &BTreeMap<String, Value>,
        opts: &'a PlanOptions,
        reporter: &'a dyn Reporter,
    ) -> Planner<'a> {
        let mut values = Values::for_config(config);
        let root = meshform_core::ModulePath::root();
        for (k, v) in vars {
            values.set_var(&root, k, v.clone());
        }
        let schemas = registry
            .names()
            .filter_map(|n| registry.get(n).map(|p| (n.to_owned(), p.schema())))
            .collect();
        let plan = Plan {
            mode: opts.mode,
            lineage: state.lineage.clone(),
            serial: state.serial,
            ..Plan::default()
        };
        let mut resource_deps = ResourceDependencies::default();
        let allowed = allowed_resources(config, graph, state, opts, &mut resource_deps);
        Planner {
            config,
            graph,
            registry,
            state,
            opts,
            reporter,
            ctx: PlanContext {
                values,
                providers: BTreeMap::new(),
                schemas,
                deferred_providers: BTreeSet::new(),
            },
            plan,
            diags: Diagnostics::default(),
            refreshes: HashMap::new(),
            failed: BTreeSet::new(),
            semaphore: Arc::new(Semaphore::new(opts.parallelism.max(1))),
            allowed,
            changed: BTreeSet::new(),
            resource_deps,
            unavailable: BTreeMap::new(),
            probe: None,
            imports: BTreeMap::new(),
        }
    }

    fn is_allowed(&self, addr: &ResourceAddr) -> bool {
        self.allowed.as_ref().is_none_or(|a| a.resources.contains(addr))
    }

    /// Whether an instance of an allowed resource is in the run: a resource that `--target` names
    /// only by instances (`test_thing.n[1]`) contributes just those.
    fn instance_selected(&self, addr: &InstanceAddr) -> bool {
        let Some(allowed) = &self.allowed else { return true };
        let mut named = self.opts.targets.iter().filter(|t| t.resource == addr.resource).peekable();
        named.peek().is_none()
            || allowed.whole.contains(&addr.resource)
            || named.any(|t| t.matches(addr))
    }

    /// Runs the walk and returns the plan.
    pub async fn run(mut self) -> (Plan, PlanContext, Diagnostics) {
        // Providers that only the state still mentions (their resources were removed).
        let in_graph: BTreeSet<String> = self
            .graph
            .order
            .iter()
            .filter_map(|n| if let Node::Provider(k) = n { Some(k.clone()) } else { None })
            .collect();
        let mut state_only: BTreeSet<String> = self
            .state
            .instances()
            .map(|(_, r, i)| provider_key_from_state(r.provider_of(i)).to_owned())
            .filter(|k| !in_graph.contains(k))
            .collect();
        state_only.extend(
            self.state
                .pending
                .iter()
                .map(|p| provider_key_from_state(&p.provider).to_owned())
                .filter(|k| !in_graph.contains(k)),
        );
        for key in state_only {
            self.configure_provider(&key).await;
        }
        // The graph outlives the planner's borrow of itself: walk its order without a copy.
        let graph = self.graph;
        for node in &graph.order {
            let failed_dep = if self.failed.is_empty() {
                None
            } else {
                graph.dependencies(node).into_iter().find(|d| self.failed.contains(*d))
            };
            if let Some(dep) = failed_dep {
                let dep = dep.clone();
                self.skip(node, &dep);
                continue;
            }
            match node {
                Node::Check(_) => {}
                Node::Var(m, _) if m.is_root() => {}
                Node::Output(m, name) if m.is_root() => self.plan_output(name),
                Node::Var(..) | Node::Local(..) | Node::Output(..) => self.evaluate(node),
                Node::Provider(key) => self.configure_provider(key).await,
                Node::Resource(addr) => self.plan_resource(node, addr).await,
            }
        }
        self.check_import_targets();
        self.plan_orphans().await;
        if self.opts.mode != PlanMode::RefreshOnly {
            self.plan_deposed();
        }
        self.plan_removed_outputs();
        for (_, h) in self.refreshes.drain() {
            h.abort();
        }
        self.plan.changes.sort_by(|a, b| (&a.addr, a.deposed).cmp(&(&b.addr, b.deposed)));
        self.plan.drift.sort_by(|a, b| a.addr.cmp(&b.addr));
        self.plan.outputs.sort_by(|a, b| a.name.cmp(&b.name));
        self.plan.skipped.sort();
        self.plan.skipped.dedup();
        let (config, graph, whole) = (self.config, self.graph, self.allowed.is_none());
        super::rollout::attach(config, graph, whole, &mut self.plan, &mut self.diags);
        (self.plan, self.ctx, self.diags)
    }

    /// An `import` block's instance that the walk did not plan: its resource's `count` or
    /// `for_each` has no such instance (a resource that failed, or was left out by `--target`,
    /// is not reported).
    fn check_import_targets(&mut self) {
        if self.opts.mode != PlanMode::Normal {
            return;
        }
        for addr in std::mem::take(&mut self.imports).into_keys() {
            let node = Node::Resource(addr.resource.clone());
            if self.failed.contains(&node)
                || !self.is_allowed(&addr.resource)
                || !self.instance_selected(&addr)
            {
                continue;
            }
            let mut d = meshform_core::Diagnostic::error(
                "meshform::config::import_target",
                format!("configuration for import target {addr} does not exist"),
            );
            if let Some(i) = self.config.imports.iter().find(|i| i.to.0.resource == addr.resource) {
                d = d.with_span(i.to.1.clone(), "imported here");
            }
            self.diags.push(
                d.with_help(format!(
                    "the count or for_each of {} has no instance {}: add it, or leave it out of the import block",
                    addr.resource, addr.key
                )),
            );
        }
    }

    fn skip(&mut self, node: &Node, because: &Node) {
        self.failed.insert(node.clone());
        match node {
            Node::Resource(addr) => {
                self.plan
                    .skipped
                    .push(format!("{addr} (depends on {because}, which could not be planned)"));
                self.set_resource_value(addr, Value::Unknown);
            }
            Node::Local(m, n) => {
                if let Some(probe) = &mut self.probe {
                    probe.set_local(m, n, Value::Unknown);
                }
                self.ctx.values.set_local(m, n, Value::Unknown);
            }
            Node::Var(m, n) if !m.is_root() => {
                if let Some(probe) = &mut self.probe {
                    probe.set_var(m, n, Value::Unknown);
                }
                self.ctx.values.set_var(m, n, Value::Unknown);
            }
            Node::Output(m, n) if !m.is_root() => {
                if let Some(probe) = &mut self.probe {
                    probe.set_output(m, n, Value::Unknown);
                }
                self.ctx.values.set_output(m, n, Value::Unknown);
            }
            _ => {}
        }
    }

    async fn configure_provider(&mut self, key: &str) {
        let name = key.split('.').next().unwrap_or(key).to_owned();
        let node = Node::Provider(key.to_owned());
        let Some(provider) = self.registry.get(&name).cloned() else {
            // Unknown providers are reported by validation, with the span of the resource type.
            self.failed.insert(node);
            return;
        };
        let schema = provider.schema().provider;
        let def = self.config.providers.get(key);
        let value = match def {
            Some(def) => {
                let each = def.each();
                let scope = Overlay { base: &self.ctx.values, extra: &each };
                let v = eval_body(&def.body, &schema, &scope, &self.config.dir, &mut self.diags);
                if v.contains_unknown() {
                    // Configured during apply, once what it reads exists; its objects are planned
                    // as creations until then.
                    self.ctx.deferred_providers.insert(key.to_owned());
                    return;
                }
                v
            }
            None if key.contains('[') => {
                // A key removed from a provider's for_each while objects it manages remain.
                self.failed.insert(node);
                let skey = provider_state_key(key);
                let held: Vec<String> = self
                    .state
                    .instances()
                    .filter(|(_, r, i)| r.provider_of(i) == skey)
                    .map(|(a, _, _)| a.to_string())
                    .collect();
                let (block, k) = key.split_once('[').unwrap_or((key, ""));
                self.diags.push(
                    meshform_core::Diagnostic::error(
                        "meshform::plan::provider_instance_gone",
                        format!("provider instance {key} is not present, but it manages {}", held.join(", ")),
                    )
                    .with_help(format!("add [{k} back to the for_each of provider {block} so that meshform can destroy them, or first remove them from the resources' for_each and apply; remove the key afterwards")),
                );
                return;
            }
            None if key.contains('.') => {
                self.fail_provider(key, "its configuration block was removed; add the `provider` block back so meshform can manage (or destroy) its objects");
                return;
            }
            None => {
                Value::Map(schema.attributes.keys().map(|k| (k.clone(), Value::Null)).collect())
            }
        };
        match provider.configure(&value.into_unmarked_deep()).await {
            Ok(configured) => {
                self.ctx.providers.insert(key.to_owned(), Arc::clone(&configured));
                if self.opts.refresh {
                    self.start_refreshes(key, configured);
                }
            }
            Err(e) if e.attribute.is_some() => self.diags.push(provider_config_error(key, def, &e)),
            Err(e) => self.fail_provider(key, &format!("cannot configure provider: {e}")),
        }
    }

    fn fail_provider(&mut self, key: &str, message: &str) {
        self.failed.insert(Node::Provider(key.to_owned()));
        let skey = provider_state_key(key);
        let addresses: Vec<String> = self
            .state
            .resources
            .iter()
            .filter(|r| r.provider == skey || r.instances.iter().any(|i| r.provider_of(i) == skey))
            .map(|r| r.addr().to_string())
            .collect();
        self.plan.failures.push(PlanFailure {
            address: if addresses.is_empty() {
                format!("provider.{key}")
            } else {
                addresses.join(", ")
            },
            provider: key.to_owned(),
            message: message.to_owned(),
        });
    }

    fn start_refreshes(&mut self, key: &str, provider: Arc<dyn ConfiguredProvider>) {
        let skey = provider_state_key(key);
        for (addr, r, inst) in self.state.instances() {
            if r.provider_of(inst) != skey
                || r.mode != Mode::Managed
                || !self.is_allowed(&addr.resource)
            {
                continue;
            }
            let p = Arc::clone(&provider);
            let ty = r.ty.clone();
            let marked = inst.value();
            self.reporter.refreshing(&addr, crate::reporter::shown_id(&marked));
            let value = marked.into_unmarked_deep();
            let sem = Arc::clone(&self.semaphore);
            let h = tokio::spawn(async move {
                let _permit = sem.acquire_owned().await;
                p.read(&ty, &value).await
            });
            self.refreshes.insert(addr, h);
        }
    }

    /// The refreshed value of a prior instance, with its sensitive marks restored; records drift.
    async fn prior(
        &mut self,
        addr: &InstanceAddr,
        schema: &Schema,
    ) -> Result<Option<(Value, bool)>, ProviderError> {
        let Some((r, inst)) = self.state.instance(addr) else {
            return self.adopt_pending(addr, schema).await;
        };
        let stored = inst.value();
        let tainted = inst.status == InstanceStatus::Tainted;
        let Some(h) = self.refreshes.remove(addr) else {
            return Ok(Some((stored, tainted)));
        };
        let refreshed = match h.await {
            Ok(r) => r?,
            Err(e) => {
                return Err(ProviderError::new(
                    ErrorKind::Internal,
                    "RefreshAborted",
                    e.to_string(),
                ))
            }
        };
        let refreshed = refreshed.map(|v| remark(v, &stored, schema));
        match &refreshed {
            None => self.plan.drift.push(Drift {
                addr: addr.clone(),
                provider: provider_key_from_state(r.provider_of(inst)).to_owned(),
                before: stored,
                after: None,
            }),
            Some(v) if !v.same_as(&stored) => self.plan.drift.push(Drift {
                addr: addr.clone(),
                provider: provider_key_from_state(r.provider_of(inst)).to_owned(),
                before: stored,
                after: Some(v.clone()),
            }),
            Some(_) => {}
        }
        Ok(refreshed.map(|v| (v, tainted)))
    }

    /// An interrupted create: find the object with the provider's lookup and adopt it.
    async fn adopt_pending(
        &mut self,
        addr: &InstanceAddr,
        schema: &Schema,
    ) -> Result<Option<(Value, bool)>, ProviderError> {
        let wanted = addr.to_string();
        let Some(p) = self.state.pending.iter().find(|p| p.address == wanted) else {
            return Ok(None);
        };
        let key = provider_key_from_state(&p.provider).to_owned();
        let Some(provider) = self.ctx.providers.get(&key).cloned() else {
            return Ok(None);
        };
        let planned = p.value();
        match provider.lookup(&addr.resource.ty, &planned.clone().into_unmarked_deep()).await? {
            Some(found) => {
                let found = remark(found, &planned, schema);
                self.plan.adoptions.push(Adoption {
                    addr: addr.clone(),
                    provider: key,
                    value: found.clone(),
                });
                Ok(Some((found, false)))
            }
            None => {
                self.plan.abandoned.push(wanted);
                Ok(None)
            }
        }
    }

    async fn plan_resource(&mut self, node: &Node, addr: &ResourceAddr) {
        let config = self.config;
        let r = &config.resources[addr];
        let key = r.provider_key();
        let schema = match self.ctx.resource_schema(addr).cloned() {
            Some(s) => s,
            None => {
                self.failed.insert(node.clone());
                return;
            }
        };
        // Destroy plans delete everything in `plan_orphans`; here they only need the prior values,
        // and data sources read afresh (a provider configured from one needs its value).
        let destroy = self.opts.mode == PlanMode::Destroy && addr.mode != Mode::Data;
        if !self.is_allowed(addr) || destroy {
            self.use_prior_values(addr);
            return;
        }
        // One provider for every instance, or (`provider = NAME.ALIAS[KEY]`) one per instance.
        let provider = match &r.provider_index {
            Some(_) => None,
            None => match self.provider_for(node, addr, &key) {
                ProviderReach::Configured(p) => Some(p),
                ProviderReach::Deferred => None,
                ProviderReach::Unavailable => return,
            },
        };
        let deps: Vec<ResourceAddr> = self.resource_deps.of(self.graph, node).into_iter().collect();
        let Some(instances) = self.instance_keys(r) else {
            self.failed.insert(node.clone());
            self.set_resource_value(addr, Value::Unknown);
            return;
        };
        let kind = match r.repetition {
            Repetition::Single => 0,
            Repetition::Count(_) => 1,
            Repetition::ForEach(_) => 2,
        };
        let mut whole = match kind {
            1 => Value::List(Vec::new()),
            2 => Value::Map(BTreeMap::new()),
            _ => Value::Null,
        };
        let keys: BTreeSet<InstanceKey> = instances.iter().map(|(k, _)| k.clone()).collect();
        for (ikey, overlay) in instances {
            let iaddr = addr.instance(ikey.clone());
            if !self.instance_selected(&iaddr) {
                // Left out by an instance --target: others see its prior value.
                let prior = self.state.instance(&iaddr).map(|(_, i)| i.value());
                let after = prior.unwrap_or(Value::Unknown);
                put_instance(&mut whole, &ikey, after);
                continue;
            }
            let (key, provider) = match &r.provider_index {
                None => (key.clone(), provider.clone()),
                Some(e) => {
                    let Some(k) = self.instance_provider_key(r, e, &overlay) else {
                        self.failed.insert(node.clone());
                        self.set_resource_value(addr, Value::Unknown);
                        return;
                    };
                    match self.provider_for(node, addr, &k) {
                        ProviderReach::Configured(p) => (k, Some(p)),
                        ProviderReach::Deferred => (k, None),
                        ProviderReach::Unavailable => return,
                    }
                }
            };
            let scope = Overlay { base: self.ctx.values.scope(&addr.module), extra: &overlay };
            let before = self.diags.error_count();
            let proposed = eval_body(&r.body, &schema, &scope, &config.dir, &mut self.diags);
            for problem in self.registry_validate(addr, &proposed) {
                self.diags.push(problem_diag(r, &iaddr, problem));
            }
            if self.diags.error_count() > before {
                self.failed.insert(node.clone());
                self.set_resource_value(addr, Value::Unknown);
                return;
            }
            // During an outage: what reads an unavailable instance, or waits for its change, waits.
            if let Some(why) = self.held_back(&iaddr, r, &overlay, &schema, &proposed, &deps) {
                self.plan.skipped.push(format!("{iaddr} ({why})"));
                if addr.mode == Mode::Data {
                    self.failed.insert(node.clone());
                    self.set_resource_value(addr, Value::Unknown);
                    return;
                }
                if let Some(h) = self.refreshes.remove(&iaddr) {
                    h.abort();
                }
                let last = self.state.instance(&iaddr).map(|(_, i)| i.value());
                let pending_change = config_changed(r, &schema, last.as_ref(), &proposed);
                let known = last.is_some();
                self.mark_unavailable(&iaddr, Unavailable { known, pending_change });
                let after = last.unwrap_or(Value::Unknown);
                put_instance(&mut whole, &ikey, after);
                continue;
            }
            let Some(provider) = &provider else {
                let after = self.plan_unconfigured(&iaddr, &key, &proposed, &deps, &schema);
                put_instance(&mut whole, &ikey, after);
                continue;
            };
            let after = if addr.mode == Mode::Data {
                self.plan_data(&iaddr, r, &key, provider, &proposed, &deps, &schema).await
            } else {
                // Taken out when planned: what is left after the walk has no configuration.
                let prior = match self.imports.remove(&iaddr) {
                    Some(id) => self.import_prior(&iaddr, &key, provider, &id, &schema).await,
                    None => self.prior(&iaddr, &schema).await,
                };
                let prior = match prior {
                    Ok(p) => p,
                    Err(e) => {
                        // The instance keeps its last known state; the rest of the walk goes on.
                        let last = self.state.instance(&iaddr).map(|(_, i)| i.value());
                        let pending = config_changed(r, &schema, last.as_ref(), &proposed);
                        let message = e.to_string();
                        let after = self.instance_failed(&iaddr, &key, message, last, pending);
                        put_instance(&mut whole, &ikey, after);
                        continue;
                    }
                };
                self.plan_managed(&iaddr, r, &key, provider, prior, proposed, &deps, &schema).await
            };
            let Some(after) = after else {
                self.failed.insert(node.clone());
                self.set_resource_value(addr, Value::Unknown);
                return;
            };
            put_instance(&mut whole, &ikey, after);
        }
        // Instances in state whose key is no longer configured.
        if addr.mode == Mode::Managed {
            let stale: Vec<InstanceKey> = self
                .state
                .resource(addr)
                .map(|rs| {
                    rs.instances
                        .iter()
                        .map(|i| i.index_key.clone())
                        .filter(|k| !keys.contains(k))
                        .filter(|k| self.instance_selected(&addr.instance(k.clone())))
                        .collect()
                })
                .unwrap_or_default();
            for k in stale {
                // Deleted by the provider instance that manages it.
                let key = self
                    .state
                    .instance(&addr.instance(k.clone()))
                    .map(|(rs, i)| provider_key_from_state(rs.provider_of(i)).to_owned())
                    .unwrap_or_else(|| key.clone());
                let reason = match k {
                    InstanceKey::Int(_) => ChangeReason::CountIndexGone,
                    InstanceKey::Str(_) => ChangeReason::EachKeyGone,
                    InstanceKey::None => ChangeReason::NotInConfig,
                };
                self.plan_delete(&addr.instance(k), &key, &schema, reason, Some(r)).await;
            }
        }
        self.set_resource_value(addr, whole);
    }

    /// Where the provider instance `key` stands; when it is not available, the resource is
    /// skipped (recorded here).
    fn provider_for(&mut self, node: &Node, addr: &ResourceAddr, key: &str) -> ProviderReach {
        match self.ctx.providers.get(key).cloned() {
            Some(p) => ProviderReach::Configured(p),
            None if self.ctx.deferred_providers.contains(key) => ProviderReach::Deferred,
            None => {
                self.failed.insert(node.clone());
                self.plan.skipped.push(format!("{addr} (its provider {key} is not available)"));
                self.set_resource_value(addr, Value::Unknown);
                ProviderReach::Unavailable
            }
        }
    }

    /// `provider = NAME.ALIAS[KEY]` for one instance: the provider instance's key.
    fn instance_provider_key(
        &mut self,
        r: &meshform_config::model::ResourceDef,
        index: &meshform_config::model::Expr,
        overlay: &BTreeMap<String, Value>,
    ) -> Option<String> {
        let scope = Overlay { base: self.ctx.values.scope(&r.addr.module), extra: overlay };
        let k = match meshform_config::modules::instance_key(&scope, index, &self.config.dir) {
            Ok(k) => k,
            Err(d) => {
                self.diags.push(d);
                return None;
            }
        };
        let key = format!("{}{k}", r.provider_key());
        if self.config.providers.contains_key(&key) {
            return Some(key);
        }
        let known = crate::graph::provider_instances(self.config, &r.provider_key());
        self.diags.push(
            meshform_core::Diagnostic::error(
                "meshform::config::provider_instance_key",
                format!("{}: provider {} has no instance {k}", r.addr, r.provider_key()),
            )
            .with_span(index.span.clone(), "no such instance")
            .with_help(format!(
                "its for_each gives the instances {}; add the key there, or choose one of them",
                known.join(", ")
            )),
        );
        None
    }

    fn registry_validate(
        &self,
        addr: &ResourceAddr,
        value: &Value,
    ) -> Vec<meshform_provider::AttributeProblem> {
        match self.registry.get(meshform_core::implied_provider(&addr.ty)) {
            Some(p) => p.validate(addr.mode, &addr.ty, value),
            None => Vec::new(),
        }
    }

    fn use_prior_values(&mut self, addr: &ResourceAddr) {
        let Some(rs) = self.state.resource(addr) else {
            self.set_resource_value(addr, Value::Unknown);
            return;
        };
        for inst in &rs.instances {
            self.set_instance_value(addr, &inst.index_key, inst.value());
        }
    }
}

/// Puts one instance's value into its resource's whole value (an object, a `count` list or a
/// `for_each` map).
fn put_instance(whole: &mut Value, key: &InstanceKey, value: Value) {
    match (whole, key) {
        (Value::List(items), _) => items.push(value),
        (Value::Map(m), InstanceKey::Str(k)) => {
            m.insert(k.clone(), value);
        }
        (w, _) => *w = value,
    }
}
