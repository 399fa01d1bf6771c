//! `module` blocks: lowering a call (source, repetition, `providers`, inputs) and loading the
//! called directories, nested calls included, once each; missing sources and cycles are reported
//! at the `source` argument.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use hcl::edit::expr::{Expression, ObjectKey};
use hcl::edit::structure::Block;
use meshform_core::{Diagnostic, Diagnostics, Span};

use super::{load_dir_named, meta::provider_instance_ref, meta::provider_ref, Lowerer};
use crate::model::*;

/// Arguments of a `module` block that are not input variables.
const META: &[&str] = &["source", "version", "count", "for_each", "depends_on", "providers"];

impl Lowerer {
    pub(super) fn lower_module_call(
        &mut self,
        name: String,
        span: Span,
        b: &Block,
    ) -> Option<ModuleCallDef> {
        let mut body = self.lower_body(&b.body, self.span(b));
        for n in &body.blocks {
            self.err(
                "meshform::config::module_block",
                format!("unexpected block \"{}\" in module \"{name}\"", n.kind),
                n.span.clone(),
                "module blocks take arguments only",
                "set the module's input variables as arguments (`name = value`); lifecycle, locals and provider blocks belong in the module's own files",
            );
        }
        let Some(source) = body.attrs.remove("source") else {
            self.err(
                "meshform::config::missing_argument",
                format!("module \"{name}\" has no source"),
                span,
                "source missing",
                "add `source = \"./path/to/module\"`: the directory holding the module's *.hcl files",
            );
            return None;
        };
        let source_text = match &source.expr.node {
            Expression::String(s) => s.value().clone(),
            _ => {
                self.err(
                    "meshform::config::module_source",
                    "a module source must be a literal string",
                    source.expr.span.clone(),
                    "not a literal string",
                    "write the path as a quoted string, e.g. source = \"./modules/multi-master\"; it cannot use variables",
                );
                return None;
            }
        };
        if let Some(v) = body.attrs.remove("version") {
            self.err(
                "meshform::config::module_version",
                format!("module \"{name}\": a version constraint cannot apply to a local path"),
                v.name_span,
                "not for local modules",
                "remove `version`: local modules are used as they are in the directory",
            );
        }
        let mut call = ModuleCallDef {
            name,
            span,
            source: (source_text, source.expr.span.clone()),
            repetition: Repetition::Single,
            depends_on: Vec::new(),
            providers: Vec::new(),
            args: BTreeMap::new(),
        };
        call.repetition = self.repetition(&mut body);
        if let Some(d) = body.attrs.remove("depends_on") {
            call.depends_on = self.depends_on(&d.expr);
        }
        if let Some(p) = body.attrs.remove("providers") {
            call.providers = self.provider_passes(&p.expr);
        }
        debug_assert!(META.iter().all(|m| !body.attrs.contains_key(*m)));
        call.args = body.attrs;
        Some(call)
    }

    /// `providers = { kubernetes = kubernetes.cluster_1, asm = asm }`.
    fn provider_passes(&mut self, e: &Expr) -> Vec<ProviderPass> {
        let help = "write providers = { NAME = NAME.ALIAS, … }: the module's configuration on the left, the caller's on the right, without quotes";
        let Expression::Object(obj) = &e.node else {
            self.err(
                "meshform::config::module_providers",
                "providers must be a map of provider configurations",
                e.span.clone(),
                "not a map",
                help,
            );
            return Vec::new();
        };
        let mut out: Vec<ProviderPass> = Vec::new();
        for (k, v) in obj.iter() {
            let span = self.span(v.expr());
            let child = match k {
                ObjectKey::Ident(i) => Some(i.as_str().to_owned()),
                ObjectKey::Expression(x) => provider_ref(x),
            };
            let parent = provider_instance_ref(v.expr());
            match (child, parent) {
                (Some(child), Some((parent, index))) => {
                    if out.iter().any(|p| p.child == child) {
                        self.err(
                            "meshform::config::module_providers",
                            format!("duplicate provider address \"{child}\" in providers"),
                            span,
                            "given twice",
                            "each of the module's provider configurations is passed once",
                        );
                        continue;
                    }
                    let index = index.map(|node| Expr { node, span: span.clone() });
                    out.push(ProviderPass { child, parent, index, span });
                }
                _ => self.err(
                    "meshform::config::module_providers",
                    "invalid entry in providers",
                    span,
                    "not a provider reference",
                    help,
                ),
            }
        }
        out
    }
}

/// Loads the source directory of every module call in `config`, and theirs, once per directory.
/// `root` is the root module's directory; file names in diagnostics are relative to it.
pub fn load_modules(config: &mut Config, root: &Path) -> Diagnostics {
    let mut diags = Diagnostics::default();
    let mut cache: BTreeMap<PathBuf, Arc<Config>> = BTreeMap::new();
    let mut stack = vec![canonical(&config.dir)];
    load_calls(config, root, &mut stack, &mut cache, &mut diags);
    diags
}

fn canonical(p: &Path) -> PathBuf {
    p.canonicalize().unwrap_or_else(|_| p.to_path_buf())
}

fn load_calls(
    config: &mut Config,
    root: &Path,
    stack: &mut Vec<PathBuf>,
    cache: &mut BTreeMap<PathBuf, Arc<Config>>,
    diags: &mut Diagnostics,
) {
    let calls: Vec<Arc<ModuleCallDef>> = config.module_calls.values().cloned().collect();
    for call in calls {
        let (source, span) = &call.source;
        if !(source.starts_with("./") || source.starts_with("../")) {
            diags.push(
                Diagnostic::error(
                    "meshform::config::module_source",
                    format!("module \"{}\": source {source:?} is not a local path", call.name),
                )
                .with_span(span.clone(), "not ./… or ../…")
                .with_help("meshform loads modules from directories: write the path relative to this file's directory, starting with ./ or ../ (registry and git sources are not supported; copy the module into the repository)"),
            );
            continue;
        }
        let dir = normalize(&config.dir.join(source));
        if !dir.is_dir() {
            diags.push(
                Diagnostic::error(
                    "meshform::config::module_not_found",
                    format!(
                        "module \"{}\": source directory {} does not exist",
                        call.name,
                        dir.display()
                    ),
                )
                .with_span(span.clone(), "no such directory")
                .with_help("check the path: it is relative to the directory of the file that calls the module"),
            );
            continue;
        }
        let key = canonical(&dir);
        if let Some(pos) = stack.iter().position(|d| *d == key) {
            let chain: Vec<String> =
                stack[pos..].iter().chain([&key]).map(|d| d.display().to_string()).collect();
            diags.push(
                Diagnostic::error(
                    "meshform::config::module_cycle",
                    format!("module \"{}\" calls itself: {}", call.name, chain.join(" -> ")),
                )
                .with_span(span.clone(), "this call closes the cycle")
                .with_help("a module cannot call itself, directly or through other modules"),
            );
            continue;
        }
        let loaded = match cache.get(&key) {
            Some(c) => Arc::clone(c),
            None => {
                let prefix = relative_to(&dir, root);
                let (mut child, d) = load_dir_named(&dir, &prefix);
                diags.extend(d);
                // Module directories are reached through their callers; `path.module` is the
                // directory as loaded from the root.
                child.dir = normalize(&dir);
                stack.push(key.clone());
                load_calls(&mut child, root, stack, cache, diags);
                stack.pop();
                let child = Arc::new(child);
                cache.insert(key, Arc::clone(&child));
                child
            }
        };
        config.module_sources.insert(call.name.clone(), loaded);
    }
}

/// `dir` relative to `root` when it is inside it, for file names in diagnostics.
fn relative_to(dir: &Path, root: &Path) -> String {
    let (d, r) = (normalize(dir), normalize(root));
    match d.strip_prefix(&r) {
        Ok(rel) if rel.as_os_str().is_empty() => String::new(),
        Ok(rel) => format!("{}/", rel.display()),
        Err(_) => format!("{}/", d.display()),
    }
}

/// A path with `.` and `..` steps folded (lexically, as Terraform shows `path.module`).
pub fn normalize(p: &Path) -> PathBuf {
    use std::path::Component;
    let mut out: Vec<Component> = Vec::new();
    for c in p.components() {
        match c {
            Component::CurDir => {}
            Component::ParentDir => match out.last() {
                Some(Component::Normal(_)) => {
                    out.pop();
                }
                Some(Component::RootDir) => {}
                _ => out.push(c),
            },
            c => out.push(c),
        }
    }
    if out.is_empty() {
        return PathBuf::from(".");
    }
    out.iter().collect()
}
