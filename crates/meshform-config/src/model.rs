//! The typed configuration: blocks lowered from HCL, with every expression and name keeping its span.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Arc;

use hcl::edit::expr::Expression;
use meshform_core::{InstanceKey, ModulePath, ResourceAddr, SourceFile, Span, Type, Value};

/// An unevaluated expression and where it was written.
#[derive(Clone, Debug)]
pub struct Expr {
    pub node: Expression,
    pub span: Span,
}

/// `name = expression` inside a block.
#[derive(Clone, Debug)]
pub struct AttrDef {
    pub name: String,
    pub name_span: Span,
    pub expr: Expr,
}

/// A nested block inside a resource or provider body (`timeouts { … }`, `cluster { … }`).
#[derive(Clone, Debug)]
pub struct NestedBlockDef {
    pub kind: String,
    pub labels: Vec<String>,
    /// The block's type identifier.
    pub span: Span,
    pub body: BlockBody,
}

/// A `dynamic "NAME" { for_each = …  iterator = IT  content { … } }` block read from a nested
/// block: one `NAME` block per element of `for_each`, its content seeing `IT.key` and `IT.value`.
#[derive(Clone, Copy, Debug)]
pub struct DynamicBlock<'a> {
    /// The block type generated.
    pub name: &'a str,
    pub for_each: Option<&'a AttrDef>,
    /// The iterator's name: `iterator = IT`, else the block type's name.
    pub iterator: &'a str,
    pub content: Option<&'a NestedBlockDef>,
}

impl NestedBlockDef {
    /// This block as a `dynamic` block, when it is one (with exactly one label).
    pub fn dynamic(&self) -> Option<DynamicBlock<'_>> {
        if self.kind != "dynamic" {
            return None;
        }
        let [name] = self.labels.as_slice() else { return None };
        let iterator = match self.body.attrs.get("iterator").map(|a| &a.expr.node) {
            Some(Expression::Variable(v)) => v.as_str(),
            _ => name.as_str(),
        };
        Some(DynamicBlock {
            name,
            for_each: self.body.attrs.get("for_each"),
            iterator,
            content: self.body.blocks.iter().find(|b| b.kind == "content"),
        })
    }
}

/// The attributes and nested blocks of a block, in source order for blocks.
#[derive(Clone, Debug)]
pub struct BlockBody {
    /// The whole block (for "missing attribute" diagnostics).
    pub span: Span,
    pub attrs: BTreeMap<String, AttrDef>,
    pub blocks: Vec<NestedBlockDef>,
}

/// `variable "name" { … }`.
#[derive(Clone, Debug)]
pub struct VariableDef {
    pub name: String,
    pub span: Span,
    pub ty: Type,
    pub default: Option<Expr>,
    pub description: Option<String>,
    pub sensitive: bool,
    pub nullable: bool,
    pub validations: Vec<Validation>,
}

/// `validation { condition = …  error_message = … }`.
#[derive(Clone, Debug)]
pub struct Validation {
    pub condition: Expr,
    pub error_message: Expr,
}

/// `provider "name" { alias = … }`.
#[derive(Clone, Debug)]
pub struct ProviderDef {
    pub name: String,
    pub alias: Option<String>,
    pub span: Span,
    pub body: BlockBody,
    /// `for_each = …` (OpenTofu 1.9): one provider instance per element.
    pub for_each: Option<Expr>,
    /// After expansion, for a block with `for_each`: this instance's key and `each`.
    pub instance: Option<(InstanceKey, BTreeMap<String, Value>)>,
}

impl ProviderDef {
    /// The configuration address (`local`, `kubernetes.cluster_1`, and for one instance of a block
    /// with `for_each`, `kubernetes.by_cluster["cluster-1"]`).
    pub fn key(&self) -> String {
        let block = provider_key(&self.name, self.alias.as_deref());
        match &self.instance {
            Some((k, _)) => format!("{block}{k}"),
            None => block,
        }
    }

    /// The names its body sees besides the module's (`each` for an instance of a `for_each`).
    pub fn each(&self) -> BTreeMap<String, Value> {
        self.instance.as_ref().map(|(_, e)| e.clone()).unwrap_or_default()
    }
}

/// `name` or `name.alias`: how provider instances are keyed and addressed.
pub fn provider_key(name: &str, alias: Option<&str>) -> String {
    match alias {
        Some(a) => format!("{name}.{a}"),
        None => name.to_owned(),
    }
}

/// `lifecycle { … }` meta-arguments.
#[derive(Clone, Debug, Default)]
pub struct Lifecycle {
    pub create_before_destroy: bool,
    pub prevent_destroy: Option<Span>,
    pub ignore_changes: Vec<(String, Span)>,
    pub ignore_all_changes: bool,
    /// `rollout { … }`: change the instances a few at a time, gated by checks.
    pub rollout: Option<RolloutDef>,
}

/// `lifecycle { rollout { batch_size = N  order = [KEY, …]  checks = [check.NAME, …] } }`: when a plan
/// updates or replaces several instances of the resource, apply changes them `batch_size` at a time,
/// `order` first then in key order, and runs the named checks after each batch.
#[derive(Clone, Debug)]
pub struct RolloutDef {
    /// The `rollout` block's type identifier.
    pub span: Span,
    /// Instances changed at a time (1 when not written); the span is the value's.
    pub batch_size: (i64, Option<Span>),
    /// The instance keys to change first, in this order.
    pub order: Vec<(meshform_core::InstanceKey, Span)>,
    /// The check blocks that must pass after each batch, by name.
    pub checks: Vec<(String, Span)>,
    /// Inside a module, `order = var.…` / `checks = var.…` (strings: keys; check names, which
    /// are the root module's checks): evaluated when the module is expanded, into `order` and
    /// `checks`.
    pub order_expr: Option<Expr>,
    pub checks_expr: Option<Expr>,
}

/// How the instances of a resource are repeated.
#[derive(Clone, Debug)]
pub enum Repetition {
    Single,
    Count(Expr),
    ForEach(Expr),
}

/// A `resource` or `data` block.
#[derive(Clone, Debug)]
pub struct ResourceDef {
    pub addr: ResourceAddr,
    /// The block header (`resource "local_file" "a"`).
    pub span: Span,
    /// The type label.
    pub type_span: Span,
    pub repetition: Repetition,
    /// The provider configuration key (`kubernetes.cluster_1`) given with `provider = …`, if any.
    pub provider: Option<(String, Span)>,
    /// `provider = NAME.ALIAS[KEY]`: the key expression, evaluated per instance, selecting one
    /// instance of a provider block with `for_each`.
    pub provider_index: Option<Expr>,
    pub depends_on: Vec<DependsOn>,
    pub lifecycle: Lifecycle,
    pub body: BlockBody,
}

impl ResourceDef {
    /// The provider configuration key this resource uses: the explicit one, or the default instance of
    /// the provider named by the type's prefix.
    pub fn provider_key(&self) -> String {
        match &self.provider {
            Some((k, _)) => k.clone(),
            None => meshform_core::implied_provider(&self.addr.ty).to_owned(),
        }
    }
}

/// `output "name" { … }`.
#[derive(Clone, Debug)]
pub struct OutputDef {
    pub name: String,
    pub span: Span,
    pub value: Expr,
    pub description: Option<String>,
    pub sensitive: bool,
    pub depends_on: Vec<DependsOn>,
}

/// One entry of `depends_on`: a resource (`asm_sidecar_injection.default`), or one of its instances
/// (`asm_sidecar_injection.default["cluster-2"]`) when only that instance's changes must come first.
#[derive(Clone, Debug)]
pub struct DependsOn {
    pub addr: ResourceAddr,
    /// The instance, when the entry names one.
    pub key: Option<meshform_core::InstanceKey>,
    pub span: Span,
    /// `module.NAME`: every resource of that call (of the module instance `addr.module`), which
    /// module expansion turns into one entry per resource.
    pub module: Option<String>,
}

/// `check "name" { … }`: data sources read and assertions evaluated by `meshform verify`.
#[derive(Clone, Debug)]
pub struct CheckDef {
    pub name: String,
    pub span: Span,
    /// Data sources scoped to the check: read only when it runs, referenced as `data.T.N` inside it.
    pub data: Vec<CheckData>,
    pub asserts: Vec<Assert>,
    /// `enabled = <bool>`: a check that does not apply to the current configuration is skipped.
    pub enabled: Option<Expr>,
}

/// A data source inside a check.
#[derive(Clone, Debug)]
pub struct CheckData {
    pub addr: ResourceAddr,
    pub span: Span,
    pub type_span: Span,
    /// The provider configuration key given with `provider = …`, if any.
    pub provider: Option<(String, Span)>,
    pub body: BlockBody,
}

impl CheckData {
    pub fn provider_key(&self) -> String {
        match &self.provider {
            Some((k, _)) => k.clone(),
            None => meshform_core::implied_provider(&self.addr.ty).to_owned(),
        }
    }
}

/// `assert { condition = …  error_message = … }`.
#[derive(Clone, Debug)]
pub struct Assert {
    pub condition: Expr,
    pub error_message: Expr,
    pub span: Span,
}

/// The `meshform { … }` settings block.
#[derive(Clone, Debug, Default)]
pub struct Settings {
    pub required_version: Option<(String, Span)>,
    pub backend: Option<NestedBlockDef>,
    /// `encryption { … }`: state and plan encryption at rest (read by the engine's backend module).
    pub encryption: Option<NestedBlockDef>,
}

/// `module "NAME" { source = "./dir" … }`: a call of the module in another directory.
#[derive(Clone, Debug)]
pub struct ModuleCallDef {
    pub name: String,
    /// The block header.
    pub span: Span,
    /// The `source` path as written (`./modules/x`) and its span.
    pub source: (String, Span),
    pub repetition: Repetition,
    pub depends_on: Vec<DependsOn>,
    /// `providers = { CHILD = PARENT }`: which of the caller's provider configurations the module's
    /// configurations are (`kubernetes = kubernetes.cluster_1`), with the entry's span.
    pub providers: Vec<ProviderPass>,
    /// Every other argument: the module's input variables.
    pub args: BTreeMap<String, AttrDef>,
}

/// `moved { from = …  to = … }`: objects recorded at `from` now belong at `to`.
#[derive(Clone, Debug)]
pub struct MovedDef {
    pub span: Span,
    pub from: (meshform_core::Selector, Span),
    pub to: (meshform_core::Selector, Span),
}

/// `removed { from = …  lifecycle { destroy = false } }`: a resource or module no longer in the
/// configuration, destroyed as usual or (with `destroy = false`) forgotten: dropped from the state,
/// the object left alone.
#[derive(Clone, Debug)]
pub struct RemovedDef {
    pub span: Span,
    pub from: (meshform_core::Selector, Span),
    pub destroy: bool,
}

/// `import { to = ADDRESS  id = "…" }`: an existing object brought under management by the next
/// apply (planned like Terraform 1.5's import blocks).
#[derive(Clone, Debug)]
pub struct ImportDef {
    pub span: Span,
    /// The instance; with `for_each`, the resource (its key is [`ImportDef::to_key`]'s).
    pub to: (meshform_core::InstanceAddr, Span),
    /// The object's import id; evaluated before planning (variables, locals, `each`).
    pub id: Expr,
    /// `for_each = …`: one import per element (Terraform 1.7), known before planning.
    pub for_each: Option<Expr>,
    /// With `for_each`: the index `to` ends with (`to = TYPE.NAME[each.key]`).
    pub to_key: Option<Expr>,
}

/// One entry of a module call's `providers` map.
#[derive(Clone, Debug)]
pub struct ProviderPass {
    /// The configuration key inside the module (`kubernetes`, `kubernetes.peer`).
    pub child: String,
    /// The caller's configuration key (`kubernetes.cluster_1`).
    pub parent: String,
    /// `kubernetes.by_cluster[each.key]`: the key of an instance of a block with `for_each`,
    /// evaluated per module instance.
    pub index: Option<Expr>,
    pub span: Span,
}

/// One instance of a module call after expansion: what is evaluated in its own scope.
#[derive(Clone, Debug)]
pub struct ModuleInstanceDef {
    /// The module's directory (`path.module`).
    pub dir: PathBuf,
    pub call: Arc<ModuleCallDef>,
    /// `each`/`count` of this instance, seen by the call's arguments.
    pub repetition_values: BTreeMap<String, Value>,
    pub variables: BTreeMap<String, VariableDef>,
    pub locals: BTreeMap<String, AttrDef>,
    pub outputs: BTreeMap<String, OutputDef>,
}

/// What a module instance calls: each call's repetition and output names, so that `module.NAME`
/// has a value (an empty map for a `for_each` over nothing) and references to outputs are checked.
#[derive(Clone, Debug)]
pub struct CallSummary {
    pub span: Span,
    pub kind: CallKind,
    pub outputs: std::collections::BTreeSet<String>,
}

/// How `module.NAME` is shaped: one object, a list (`count`) or a map (`for_each`).
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CallKind {
    Single,
    Count,
    ForEach,
}

/// A whole configuration directory, lowered.
#[derive(Clone, Debug, Default)]
pub struct Config {
    pub dir: PathBuf,
    pub files: Vec<Arc<SourceFile>>,
    pub settings: Settings,
    pub variables: BTreeMap<String, VariableDef>,
    pub locals: BTreeMap<String, AttrDef>,
    pub providers: BTreeMap<String, ProviderDef>,
    pub resources: BTreeMap<ResourceAddr, ResourceDef>,
    pub outputs: BTreeMap<String, OutputDef>,
    pub checks: BTreeMap<String, CheckDef>,
    /// `moved` blocks, in source order.
    pub moved: Vec<MovedDef>,
    /// `removed` blocks.
    pub removed: Vec<RemovedDef>,
    /// `import` blocks.
    pub imports: Vec<ImportDef>,
    /// The `module` blocks of this directory.
    pub module_calls: BTreeMap<String, Arc<ModuleCallDef>>,
    /// The loaded configuration of each call's source (by call name), when it could be loaded.
    pub module_sources: BTreeMap<String, Arc<Config>>,
    /// After expansion ([`crate::modules::expand`]): every module instance below the root. Their
    /// resources are in `resources` under module addresses.
    pub modules: BTreeMap<ModulePath, ModuleInstanceDef>,
    /// After expansion: the calls each module instance (the root included) makes.
    pub calls: BTreeMap<ModulePath, BTreeMap<String, CallSummary>>,
}

impl Config {
    /// The variables declared in a module instance (the root's for the root path).
    pub fn variables_in(&self, m: &ModulePath) -> Option<&BTreeMap<String, VariableDef>> {
        if m.is_root() {
            Some(&self.variables)
        } else {
            self.modules.get(m).map(|i| &i.variables)
        }
    }

    /// The locals of a module instance.
    pub fn locals_in(&self, m: &ModulePath) -> Option<&BTreeMap<String, AttrDef>> {
        if m.is_root() {
            Some(&self.locals)
        } else {
            self.modules.get(m).map(|i| &i.locals)
        }
    }

    /// The outputs of a module instance.
    pub fn outputs_in(&self, m: &ModulePath) -> Option<&BTreeMap<String, OutputDef>> {
        if m.is_root() {
            Some(&self.outputs)
        } else {
            self.modules.get(m).map(|i| &i.outputs)
        }
    }

    /// `path.module` of a module instance.
    pub fn dir_of(&self, m: &ModulePath) -> &std::path::Path {
        self.modules.get(m).map_or(&self.dir, |i| &i.dir)
    }

    /// Whether the configuration calls any module.
    pub fn has_modules(&self) -> bool {
        !self.module_calls.is_empty()
    }

    /// Whether [`crate::modules::expand`] has anything to do: module calls, or provider blocks
    /// with `for_each`.
    pub fn needs_expansion(&self) -> bool {
        self.has_modules() || self.providers.values().any(|p| p.for_each.is_some())
    }

    /// The key of a module instance from its path's last step.
    pub fn instance_key(m: &ModulePath) -> InstanceKey {
        m.last().map_or(InstanceKey::None, |s| s.key.clone())
    }

    /// A digest of the configuration's source text, for saved-plan staleness checks.
    pub fn source_digest(&self) -> String {
        use sha2::{Digest, Sha256};
        let mut h = Sha256::new();
        for f in &self.files {
            h.update(f.name.as_bytes());
            h.update([0]);
            h.update(f.text.as_bytes());
            h.update([0]);
        }
        for (name, m) in &self.module_sources {
            h.update(name.as_bytes());
            h.update([0]);
            h.update(m.source_digest().as_bytes());
        }
        meshform_core::hex::encode(&h.finalize())
    }
}
