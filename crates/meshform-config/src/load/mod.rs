//! Reading a configuration directory: parsing each `*.hcl` file with hcl-edit (spans kept) and lowering
//! its blocks into [`Config`], collecting every diagnostic instead of stopping at the first.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use hcl::edit::structure::{Block, Body, Structure};
use meshform_core::{Diagnostic, Diagnostics, ResourceAddr, SourceFile, Span, Type, Value};

use crate::eval::{EmptyScope, Evaluator};

mod meta;
mod module_call;
mod refactor;

use crate::model::*;
use crate::suggest::did_you_mean;
use crate::typeexpr::parse_type;
pub use meta::check_rollouts;
use meta::provider_instance_ref;
pub use module_call::{load_modules, normalize};

/// Whether a file name is a variables file rather than configuration.
pub fn is_vars_file(name: &str) -> bool {
    name.ends_with(".vars.hcl")
}

/// Loads every `*.hcl` file of `dir` (not recursive, in name order, variable files excluded), then
/// the modules it calls.
pub fn load_dir(dir: &Path) -> (Config, Diagnostics) {
    let (mut config, mut diags) = load_dir_named(dir, "");
    if config.has_modules() {
        diags.extend(load_modules(&mut config, dir));
    }
    (config, diags)
}

/// Loads the `*.hcl` files of one directory, naming them `PREFIX` + file name in diagnostics.
pub(crate) fn load_dir_named(dir: &Path, prefix: &str) -> (Config, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut config = Config { dir: dir.to_path_buf(), ..Config::default() };
    let mut names: Vec<String> = match std::fs::read_dir(dir) {
        Ok(entries) => entries
            .filter_map(|e| e.ok())
            .filter(|e| e.file_type().map(|t| t.is_file()).unwrap_or(false))
            .filter_map(|e| e.file_name().into_string().ok())
            .filter(|n| n.ends_with(".hcl") && !is_vars_file(n))
            .collect(),
        Err(e) => {
            diags.push(
                Diagnostic::error(
                    "meshform::config::unreadable_dir",
                    format!("cannot read the configuration directory {}: {e}", dir.display()),
                )
                .with_help("pass the directory holding your *.hcl files with -C DIR"),
            );
            return (config, diags);
        }
    };
    names.sort();
    for name in names {
        let path = dir.join(&name);
        match std::fs::read_to_string(&path) {
            Ok(text) => {
                let file = SourceFile::new(format!("{prefix}{name}"), text);
                diags.extend(load_source(&mut config, &file));
            }
            Err(e) => diags.push(Diagnostic::error(
                "meshform::config::unreadable_file",
                format!("cannot read {}: {e}", path.display()),
            )),
        }
    }
    if config.files.is_empty() && !diags.has_errors() {
        // Terraform's file names, which a Terraform user will try first.
        let mut terraform: Vec<String> = std::fs::read_dir(dir)
            .map(|entries| {
                entries
                    .filter_map(Result::ok)
                    .map(|e| e.file_name().to_string_lossy().into_owned())
                    .filter(|n| n.ends_with(".tf"))
                    .collect()
            })
            .unwrap_or_default();
        terraform.sort();
        let help = match terraform.first() {
            Some(first) => format!(
                "meshform reads *.hcl files (in Terraform's syntax), and {} here: rename {} (e.g. {first} to {}.hcl)",
                if terraform.len() == 1 { format!("there is {first}") } else { format!("there are {} *.tf files", terraform.len()) },
                if terraform.len() == 1 { "it" } else { "them" },
                first.trim_end_matches(".tf"),
            ),
            None => "run meshform in a directory holding *.hcl files, or pass it with -C DIR".to_owned(),
        };
        diags.push(
            Diagnostic::error(
                "meshform::config::no_files",
                format!("no configuration files (*.hcl) in {}", dir.display()),
            )
            .with_help(help),
        );
    }
    (config, diags)
}

/// Parses and lowers one file into `config`.
pub fn load_source(config: &mut Config, file: &Arc<SourceFile>) -> Diagnostics {
    config.files.push(Arc::clone(file));
    let mut lw = Lowerer { file: Arc::clone(file), diags: Diagnostics::default() };
    match hcl::edit::parser::parse_body(&file.text) {
        Ok(body) => lw.lower_file(config, &body),
        Err(e) => lw.diags.push(syntax_error(file, &e)),
    }
    lw.diags
}

/// A syntax error as a diagnostic pointing at the error's location.
pub fn syntax_error(file: &Arc<SourceFile>, e: &hcl::edit::parser::Error) -> Diagnostic {
    let loc = e.location();
    let start = loc.offset().min(file.text.len());
    let end = (start + 1).min(file.text.len()).max(start);
    let message = e.message().to_owned();
    // The summary says what was expected; the label only names the problem (`invalid expression`).
    let label = message.split_once("; ").map_or(message.as_str(), |(what, _)| what).to_owned();
    Diagnostic::error("meshform::config::syntax", format!("syntax error: {message}"))
        .with_span(Span::new(file, start..end), label)
        .with_help(
            "fix the HCL syntax at this position; `meshform fmt` can only run on valid files",
        )
}

pub(crate) struct Lowerer {
    pub(crate) file: Arc<SourceFile>,
    pub(crate) diags: Diagnostics,
}

const TOP_LEVEL: &[&str] = &[
    "variable", "locals", "provider", "resource", "data", "output", "meshform", "check", "module",
    "moved", "removed", "import",
];

impl Lowerer {
    pub(crate) fn span(&self, node: &impl hcl::edit::Span) -> Span {
        Span::new(&self.file, node.span().unwrap_or(0..0))
    }

    fn err(&mut self, code: &str, summary: impl Into<String>, span: Span, label: &str, help: &str) {
        self.diags.push(
            Diagnostic::error(code, summary).with_span(span, label).with_help(help.to_owned()),
        );
    }

    fn lower_file(&mut self, config: &mut Config, body: &Body) {
        for structure in body.iter() {
            match structure {
                Structure::Attribute(a) => {
                    let span = self.span(&a.key);
                    self.err(
                        "meshform::config::unexpected_attribute",
                        format!("unexpected attribute \"{}\" at the top level", a.key.as_str()),
                        span,
                        "attributes belong inside a block",
                        "put it in a `locals { }` block, or inside the resource it configures",
                    );
                }
                Structure::Block(b) => self.lower_top_block(config, b),
            }
        }
    }

    fn labels(&mut self, b: &Block, want: usize, usage: &str) -> Option<Vec<String>> {
        let labels: Vec<String> = b.labels.iter().map(|l| l.as_str().to_owned()).collect();
        if labels.len() != want {
            let span = self.span(&b.ident);
            self.err(
                "meshform::config::block_labels",
                format!(
                    "a {} block takes {want} label{}, got {}",
                    b.ident.as_str(),
                    if want == 1 { "" } else { "s" },
                    labels.len()
                ),
                span,
                "wrong number of labels",
                &format!("write it as {usage}"),
            );
            return None;
        }
        for (l, label) in b.labels.iter().zip(&labels) {
            if !valid_name(label) {
                let span = self.span(l);
                self.err(
                    "meshform::config::invalid_name",
                    format!("invalid name {label:?}"),
                    span,
                    "not a valid name",
                    "names start with a letter or underscore and contain letters, digits, `_` and `-`",
                );
                return None;
            }
        }
        Some(labels)
    }

    fn lower_top_block(&mut self, config: &mut Config, b: &Block) {
        let kind = b.ident.as_str();
        let header = self.span(&b.ident);
        match kind {
            "variable" => {
                let Some(l) = self.labels(b, 1, "variable \"NAME\" { … }") else { return };
                let name = l[0].clone();
                if let Some(first) = config.variables.get(&name) {
                    self.duplicate("variable", &name, header.clone(), &first.span);
                    return;
                }
                let v = self.lower_variable(name.clone(), header, &b.body);
                config.variables.insert(name, v);
            }
            "locals" => {
                let body = self.lower_body(&b.body, self.span(b));
                for n in &body.blocks {
                    self.err(
                        "meshform::config::unexpected_block",
                        format!("unexpected block \"{}\" in locals", n.kind),
                        n.span.clone(),
                        "locals holds only attributes",
                        "write `name = value` lines",
                    );
                }
                for (name, attr) in body.attrs {
                    match config.locals.entry(name) {
                        std::collections::btree_map::Entry::Occupied(e) => {
                            let name = e.key().clone();
                            let first = e.get().name_span.clone();
                            self.duplicate("local value", &name, attr.name_span.clone(), &first);
                        }
                        std::collections::btree_map::Entry::Vacant(e) => {
                            e.insert(attr);
                        }
                    }
                }
            }
            "provider" => {
                let Some(l) = self.labels(b, 1, "provider \"NAME\" { … }") else { return };
                let mut body = self.lower_body(&b.body, self.span(b));
                let alias = body.attrs.remove("alias").and_then(|a| self.const_string(&a.expr));
                let for_each = body.attrs.remove("for_each");
                if let (Some(f), None) = (&for_each, &alias) {
                    self.err(
                        "meshform::config::provider_for_each",
                        "alias required when using for_each",
                        f.name_span.clone(),
                        "needs an alias",
                        "name the instances: alias = \"by_cluster\"; resources then select one with provider = NAME.ALIAS[KEY]",
                    );
                }
                if let Some(c) = body.attrs.remove("count") {
                    self.err(
                        "meshform::config::provider_for_each",
                        "a provider block takes for_each, not count",
                        c.name_span,
                        "count is not supported here",
                        "use for_each = a map or set of strings, with an alias",
                    );
                }
                let p = ProviderDef {
                    name: l[0].clone(),
                    alias,
                    span: header.clone(),
                    body,
                    for_each: for_each.map(|f| f.expr),
                    instance: None,
                };
                let key = p.key();
                match config.providers.entry(key) {
                    std::collections::btree_map::Entry::Occupied(e) => {
                        let key = e.key().clone();
                        let first = e.get().span.clone();
                        self.duplicate("provider configuration", &key, header, &first);
                    }
                    std::collections::btree_map::Entry::Vacant(e) => {
                        e.insert(p);
                    }
                }
            }
            "resource" | "data" => {
                let Some(l) = self.labels(b, 2, &format!("{kind} \"TYPE\" \"NAME\" {{ … }}"))
                else {
                    return;
                };
                let addr = if kind == "data" {
                    ResourceAddr::data(&l[0], &l[1])
                } else {
                    ResourceAddr::managed(&l[0], &l[1])
                };
                if let Some(first) = config.resources.get(&addr) {
                    let first = first.span.clone();
                    self.duplicate(kind, &addr.to_string(), header, &first);
                    return;
                }
                let type_span = self.span(&b.labels[0]);
                let r = self.lower_resource(addr.clone(), header, type_span, b);
                config.resources.insert(addr, r);
            }
            "output" => {
                let Some(l) = self.labels(b, 1, "output \"NAME\" { value = … }") else { return };
                let name = l[0].clone();
                if let Some(first) = config.outputs.get(&name) {
                    let first = first.span.clone();
                    self.duplicate("output", &name, header, &first);
                    return;
                }
                if let Some(o) = self.lower_output(name.clone(), header, b) {
                    config.outputs.insert(name, o);
                }
            }
            "check" => {
                let Some(l) = self.labels(b, 1, "check \"NAME\" { … }") else { return };
                let name = l[0].clone();
                if let Some(first) = config.checks.get(&name) {
                    let first = first.span.clone();
                    self.duplicate("check", &name, header, &first);
                    return;
                }
                let check = self.lower_check(name.clone(), header, b);
                config.checks.insert(name, check);
            }
            "module" => {
                let Some(l) = self.labels(b, 1, "module \"NAME\" { source = \"./DIR\" … }")
                else {
                    return;
                };
                let name = l[0].clone();
                if let Some(first) = config.module_calls.get(&name) {
                    let first = first.span.clone();
                    self.duplicate("module", &name, header, &first);
                    return;
                }
                if let Some(call) = self.lower_module_call(name.clone(), header, b) {
                    config.module_calls.insert(name, Arc::new(call));
                }
            }
            "moved" => {
                if let Some(m) = self.lower_moved(header, b) {
                    config.moved.push(m);
                }
            }
            "removed" => {
                if let Some(r) = self.lower_removed(header, b) {
                    config.removed.push(r);
                }
            }
            "import" => {
                let Some(i) = self.lower_import(header.clone(), b) else { return };
                if let Some(first) = config.imports.iter().find(|x| x.to.0 == i.to.0) {
                    let first = first.span.clone();
                    self.duplicate("import of", &i.to.0.to_string(), header, &first);
                    return;
                }
                config.imports.push(i);
            }
            "meshform" => {
                let body = self.lower_body(&b.body, self.span(b));
                self.lower_settings(&mut config.settings, body);
            }
            other => {
                let help = match did_you_mean(other, TOP_LEVEL.iter().copied()) {
                    Some(s) => format!("did you mean `{s}`?"),
                    None => format!("top-level blocks are: {}", TOP_LEVEL.join(", ")),
                };
                self.err(
                    "meshform::config::unknown_block",
                    format!("unknown block type \"{other}\""),
                    header,
                    "not a meshform block",
                    &help,
                );
            }
        }
    }

    /// `first` is where the name was declared before: the help points there, as it may be another file.
    fn duplicate(&mut self, what: &str, name: &str, span: Span, first: &Span) {
        self.err(
            "meshform::config::duplicate",
            format!("duplicate {what} \"{name}\""),
            span,
            "declared again here",
            &format!(
                "the first declaration is at {}; each name may be declared once across all files of the directory: rename or remove one",
                first.location()
            ),
        );
    }

    pub(crate) fn lower_body(&mut self, body: &Body, span: Span) -> BlockBody {
        let mut out = BlockBody { span, attrs: BTreeMap::new(), blocks: Vec::new() };
        for s in body.iter() {
            match s {
                Structure::Attribute(a) => {
                    let name = a.key.as_str().to_owned();
                    let name_span = self.span(&a.key);
                    if let Some(first) = out.attrs.get(&name) {
                        let first = first.name_span.clone();
                        self.duplicate("attribute", &name, name_span, &first);
                        continue;
                    }
                    let expr = Expr { node: a.value.clone(), span: self.span(&a.value) };
                    out.attrs.insert(name.clone(), AttrDef { name, name_span, expr });
                }
                Structure::Block(b) => {
                    let body = self.lower_body(&b.body, self.span(b));
                    out.blocks.push(NestedBlockDef {
                        kind: b.ident.as_str().to_owned(),
                        labels: b.labels.iter().map(|l| l.as_str().to_owned()).collect(),
                        span: self.span(&b.ident),
                        body,
                    });
                }
            }
        }
        out
    }

    fn unexpected(&mut self, what: &str, name: &str, span: Span, allowed: &[&str]) {
        let help = match did_you_mean(name, allowed.iter().copied()) {
            Some(s) => format!("did you mean `{s}`?"),
            None => format!("allowed here: {}", allowed.join(", ")),
        };
        self.err(
            "meshform::config::unsupported_argument",
            format!("unsupported {what} \"{name}\""),
            span,
            "not expected in this block",
            &help,
        );
    }

    fn lower_variable(&mut self, name: String, span: Span, body: &Body) -> VariableDef {
        let b = self.lower_body(body, span.clone());
        let mut v = VariableDef {
            name,
            span,
            ty: Type::Any,
            default: None,
            description: None,
            sensitive: false,
            nullable: true,
            validations: Vec::new(),
        };
        const ALLOWED: &[&str] =
            &["type", "default", "description", "sensitive", "nullable", "validation"];
        for (k, a) in b.attrs {
            match k.as_str() {
                "type" => match parse_type(&a.expr.node) {
                    Ok(t) => v.ty = t,
                    Err(msg) => self.err(
                        "meshform::config::invalid_type",
                        format!("invalid type constraint: {msg}"),
                        a.expr.span.clone(),
                        "not a type",
                        "use string, number, bool, any, list(T), set(T), map(T), object({…}) or tuple([…])",
                    ),
                },
                "default" => v.default = Some(a.expr),
                "description" => v.description = self.const_string(&a.expr),
                "sensitive" => v.sensitive = self.const_bool(&a.expr).unwrap_or(false),
                "nullable" => v.nullable = self.const_bool(&a.expr).unwrap_or(true),
                other => self.unexpected("argument", other, a.name_span, ALLOWED),
            }
        }
        for n in b.blocks {
            if n.kind != "validation" {
                self.unexpected("block", &n.kind, n.span, ALLOWED);
                continue;
            }
            let mut nb = n.body;
            let cond = nb.attrs.remove("condition");
            let msg = nb.attrs.remove("error_message");
            for (k, a) in nb.attrs {
                self.unexpected("argument", &k, a.name_span, &["condition", "error_message"]);
            }
            match (cond, msg) {
                (Some(c), Some(m)) => {
                    v.validations.push(Validation { condition: c.expr, error_message: m.expr })
                }
                _ => self.err(
                    "meshform::config::missing_argument",
                    "a validation block needs both condition and error_message",
                    n.span,
                    "incomplete validation",
                    "add `condition = <bool expression using var.NAME>` and `error_message = \"…\"`",
                ),
            }
        }
        v
    }

    fn lower_resource(
        &mut self,
        addr: ResourceAddr,
        span: Span,
        type_span: Span,
        b: &Block,
    ) -> ResourceDef {
        let mut body = self.lower_body(&b.body, self.span(b));
        let mut r = ResourceDef {
            addr,
            span,
            type_span,
            repetition: Repetition::Single,
            provider: None,
            provider_index: None,
            depends_on: Vec::new(),
            lifecycle: Lifecycle::default(),
            body: BlockBody { span: body.span.clone(), attrs: BTreeMap::new(), blocks: Vec::new() },
        };
        r.repetition = self.repetition(&mut body);
        if let Some(p) = body.attrs.remove("provider") {
            match provider_instance_ref(&p.expr.node) {
                Some((key, index)) => {
                    r.provider = Some((key, p.expr.span.clone()));
                    r.provider_index = index.map(|node| Expr { node, span: p.expr.span.clone() });
                }
                None => self.err(
                    "meshform::config::invalid_provider_ref",
                    "provider must be a provider reference",
                    p.expr.span,
                    "not a provider reference",
                    "write `provider = NAME`, `provider = NAME.ALIAS` or `provider = NAME.ALIAS[each.key]` (no quotes)",
                ),
            }
        }
        if let Some(d) = body.attrs.remove("depends_on") {
            r.depends_on = self.depends_on(&d.expr);
        }
        let mut rest = Vec::new();
        for n in body.blocks {
            if n.kind == "lifecycle" {
                r.lifecycle = self.lower_lifecycle(n);
            } else {
                rest.push(n);
            }
        }
        r.body.attrs = body.attrs;
        r.body.blocks = rest;
        r
    }

    /// Takes `count` and `for_each` out of a resource's or module call's body (one of them at most).
    pub(crate) fn repetition(&mut self, body: &mut BlockBody) -> Repetition {
        match (body.attrs.remove("count"), body.attrs.remove("for_each")) {
            (Some(c), Some(f)) => {
                self.err(
                    "meshform::config::count_and_for_each",
                    "count and for_each cannot both be set",
                    f.name_span,
                    "second repetition argument",
                    "use count for N identical copies, or for_each for one instance per key",
                );
                Repetition::Count(c.expr)
            }
            (Some(c), None) => Repetition::Count(c.expr),
            (None, Some(f)) => Repetition::ForEach(f.expr),
            (None, None) => Repetition::Single,
        }
    }

    fn lower_output(&mut self, name: String, span: Span, b: &Block) -> Option<OutputDef> {
        let mut body = self.lower_body(&b.body, self.span(b));
        let Some(value) = body.attrs.remove("value") else {
            self.err(
                "meshform::config::missing_argument",
                format!("output \"{name}\" has no value"),
                span,
                "value missing",
                "add `value = <expression>`",
            );
            return None;
        };
        let mut o = OutputDef {
            name,
            span,
            value: value.expr,
            description: None,
            sensitive: false,
            depends_on: Vec::new(),
        };
        for (k, a) in body.attrs {
            match k.as_str() {
                "description" => o.description = self.const_string(&a.expr),
                "sensitive" => o.sensitive = self.const_bool(&a.expr).unwrap_or(false),
                "depends_on" => o.depends_on = self.depends_on(&a.expr),
                other => self.unexpected(
                    "argument",
                    other,
                    a.name_span,
                    &["value", "description", "sensitive", "depends_on"],
                ),
            }
        }
        for n in body.blocks {
            self.unexpected("block", &n.kind, n.span, &["value", "description", "sensitive"]);
        }
        Some(o)
    }

    fn lower_settings(&mut self, settings: &mut Settings, body: BlockBody) {
        for (k, a) in body.attrs {
            match k.as_str() {
                "required_version" => {
                    if let Some(s) = self.const_string(&a.expr) {
                        settings.required_version = Some((s, a.expr.span.clone()));
                    }
                }
                other => self.unexpected("argument", other, a.name_span, &["required_version"]),
            }
        }
        for n in body.blocks {
            match n.kind.as_str() {
                "backend" => settings.backend = Some(n),
                "encryption" if settings.encryption.is_some() => {
                    self.err(
                        "meshform::config::encryption",
                        "Duplicate encryption configuration".to_owned(),
                        n.span,
                        "a second encryption block",
                        "put every key provider and method in one encryption block",
                    );
                }
                "encryption" => settings.encryption = Some(n),
                other => self.unexpected(
                    "block",
                    other,
                    n.span,
                    &["required_version", "backend", "encryption"],
                ),
            }
        }
    }

    fn const_value(&mut self, e: &Expr) -> Option<Value> {
        let ev = Evaluator::new(&EmptyScope, &self.file, Path::new("."));
        match ev.eval(&e.node) {
            Ok(v) if !v.contains_unknown() => Some(v),
            Ok(_) => None,
            Err(d) => {
                self.diags.push(d.with_help(
                    "this argument must be a constant: it is read before anything is evaluated",
                ));
                None
            }
        }
    }

    fn const_string(&mut self, e: &Expr) -> Option<String> {
        let v = self.const_value(e)?;
        match v.as_str() {
            Some(s) => Some(s.to_owned()),
            None => {
                self.err(
                    "meshform::config::type_mismatch",
                    format!("a string is required, got {}", v.kind()),
                    e.span.clone(),
                    "not a string",
                    "write a quoted string",
                );
                None
            }
        }
    }

    fn const_bool(&mut self, e: &Expr) -> Option<bool> {
        let v = self.const_value(e)?;
        match v.as_bool() {
            Some(b) => Some(b),
            None => {
                self.err(
                    "meshform::config::type_mismatch",
                    format!("a bool is required, got {}", v.kind()),
                    e.span.clone(),
                    "not true or false",
                    "write true or false",
                );
                None
            }
        }
    }
}

/// Whether a label is a valid block name.
pub fn valid_name(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}
