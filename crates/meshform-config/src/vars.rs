//! Input variables: collecting values from defaults, variable files, the environment and the command
//! line (in that order of precedence, lowest first), converting them to their declared types and
//! running their `validation` blocks.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use meshform_core::{Diagnostic, Diagnostics, SourceFile, Span, Type, Value};

use crate::eval::{EmptyScope, Evaluator, MapScope};
use crate::load::syntax_error;
use crate::model::{Config, VariableDef};
use crate::suggest::did_you_mean;

/// Variable values given from outside the configuration. The CLI fills this (libraries never read the
/// environment): `env` holds `MESHFORM_VAR_<name>` values with the prefix removed.
#[derive(Clone, Debug, Default)]
pub struct VarInputs {
    pub files: Vec<PathBuf>,
    pub env: Vec<(String, String)>,
    pub cli: Vec<(String, String)>,
    /// Values recorded in a saved plan (`apply FILE`): they take the place of defaults, below
    /// variable files, the environment and `--var`, so that a changed input shows as a change.
    pub saved: Vec<(String, Value)>,
}

/// Where a variable's value came from, for error messages.
#[derive(Clone, Debug)]
enum Origin {
    Default,
    File(Span),
    Env(String),
    Cli,
    Saved,
    /// A module call's argument.
    Module(Span),
}

impl Origin {
    fn describe(&self) -> String {
        match self {
            Origin::Default => "its default".into(),
            Origin::File(s) => s.location(),
            Origin::Env(n) => format!("the environment variable MESHFORM_VAR_{n}"),
            Origin::Cli => "--var".into(),
            Origin::Saved => "the saved plan".into(),
            Origin::Module(s) => format!("the module call's argument at {}", s.location()),
        }
    }
}

/// Terraform's variable files in a directory (`terraform.tfvars`, `*.auto.tfvars`), which a
/// Terraform user expects to be read, sorted.
fn terraform_var_files(dir: &Path) -> Vec<String> {
    let mut out: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .filter_map(|e| e.file_name().to_str().map(str::to_owned))
        .filter(|n| n == "terraform.tfvars" || n.ends_with(".auto.tfvars"))
        .collect();
    out.sort();
    out
}

/// The auto-loaded variable files of a directory, in load order.
pub fn auto_var_files(dir: &Path) -> Vec<PathBuf> {
    let mut out = Vec::new();
    let main = dir.join("meshform.vars.hcl");
    if main.is_file() {
        out.push(main);
    }
    let mut autos: Vec<PathBuf> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .filter_map(|e| e.ok())
        .map(|e| e.path())
        .filter(|p| {
            p.file_name().and_then(|n| n.to_str()).is_some_and(|n| n.ends_with(".auto.vars.hcl"))
        })
        .collect();
    autos.sort();
    out.extend(autos);
    out
}

/// Resolves every declared variable to a value. The result is keyed by variable name; sensitive
/// variables' values carry the sensitive mark.
pub fn resolve_variables(
    config: &Config,
    inputs: &VarInputs,
) -> (BTreeMap<String, Value>, Diagnostics) {
    let mut diags = Diagnostics::default();
    let mut given: BTreeMap<String, (Value, Origin)> = BTreeMap::new();
    let declared: Vec<&str> = config.variables.keys().map(String::as_str).collect();
    let secret: Vec<&str> =
        config.variables.iter().filter(|(_, v)| v.sensitive).map(|(k, _)| k.as_str()).collect();
    // Variables given a value that was refused: reported once, not again as missing.
    let mut refused: std::collections::BTreeSet<String> = std::collections::BTreeSet::new();
    for (name, value) in &inputs.saved {
        if config.variables.contains_key(name) {
            given.insert(name.clone(), (value.clone(), Origin::Saved));
        }
    }

    let mut files = auto_var_files(&config.dir);
    files.extend(inputs.files.iter().cloned());
    for path in &files {
        let text = match std::fs::read_to_string(path) {
            Ok(t) => t,
            Err(e) => {
                diags.push(
                    Diagnostic::error(
                        "meshform::vars::unreadable_file",
                        format!("cannot read variables file {}: {e}", path.display()),
                    )
                    .with_help("check the path given with --var-file"),
                );
                continue;
            }
        };
        let name = path.strip_prefix(&config.dir).unwrap_or(path).display().to_string();
        let file = SourceFile::new(name, text);
        read_var_file(&file, &declared, &secret, &mut given, &mut diags);
    }
    for (source, entries) in [("env", &inputs.env), ("cli", &inputs.cli)] {
        for (name, raw) in entries {
            let Some(decl) = config.variables.get(name) else {
                if source == "cli" {
                    let mut d = Diagnostic::error(
                        "meshform::vars::undeclared",
                        format!("--var {name}: no variable \"{name}\" is declared"),
                    );
                    d = match did_you_mean(name, declared.iter().copied()) {
                        Some(s) => d.with_help(format!("did you mean `{s}`?")),
                        None => d.with_help(
                            "declare it with a `variable` block, or remove the --var option",
                        ),
                    };
                    diags.push(d);
                }
                continue;
            };
            let origin = if source == "env" { Origin::Env(name.clone()) } else { Origin::Cli };
            match parse_raw(raw, &decl.ty) {
                Ok(v) => {
                    given.insert(name.clone(), (v, origin));
                }
                Err(msg) => {
                    refused.insert(name.clone());
                    let why = if decl.sensitive {
                        format!(
                            "it is not a valid {} (the value is sensitive, so it is not shown)",
                            decl.ty
                        )
                    } else {
                        msg
                    };
                    diags.push(
                        Diagnostic::error("meshform::vars::invalid_value", format!("invalid value for variable \"{name}\" from {}: {why}", origin.describe()))
                            .with_help(format!("the variable's type is {}; complex values are written in HCL syntax, e.g. '[\"a\", \"b\"]'", decl.ty)),
                    );
                }
            }
        }
    }

    let mut values = BTreeMap::new();
    for (name, decl) in &config.variables {
        let (value, origin) = match given.remove(name) {
            Some(x) => x,
            None => match &decl.default {
                Some(e) => {
                    let ev = Evaluator::new(&EmptyScope, &e.span.file, &config.dir);
                    match ev.eval(&e.node) {
                        Ok(v) => (v, Origin::Default),
                        Err(d) => {
                            diags.push(d.with_help("a variable's default must be a constant"));
                            continue;
                        }
                    }
                }
                None if refused.contains(name) => continue,
                None => {
                    let tfvars = terraform_var_files(&config.dir);
                    let help = match tfvars.first() {
                        Some(f) => format!("set it with --var {name}=…, in meshform.vars.hcl, or with MESHFORM_VAR_{name}; meshform does not read {f}: rename it to meshform.vars.hcl (or pass it with --var-file {f})"),
                        None => format!("set it with --var {name}=…, in meshform.vars.hcl, or with MESHFORM_VAR_{name}"),
                    };
                    diags.push(
                        Diagnostic::error(
                            "meshform::vars::missing",
                            format!("no value for required variable \"{name}\""),
                        )
                        .with_span(decl.span.clone(), "declared here without a default")
                        .with_help(help),
                    );
                    continue;
                }
            },
        };
        if let Some(value) = settle(name, decl, value, &origin, &config.dir, &mut diags) {
            values.insert(name.clone(), value);
        }
    }
    (values, diags)
}

/// A module input variable's value from the call's argument (or `None` when the call leaves it
/// out: the default, or null): converted to its type and validated, with errors at the argument.
pub fn module_input(
    name: &str,
    decl: &VariableDef,
    given: Option<(Value, Span)>,
    dir: &Path,
) -> Result<Value, Diagnostics> {
    let mut diags = Diagnostics::default();
    let (value, origin) = match given {
        Some((v, span)) => (v, Origin::Module(span)),
        None => match &decl.default {
            Some(e) => match Evaluator::new(&EmptyScope, &e.span.file, dir).eval(&e.node) {
                Ok(v) => (v, Origin::Default),
                Err(d) => {
                    diags.push(d.with_help("a variable's default must be a constant"));
                    return Err(diags);
                }
            },
            None => (Value::Null, Origin::Default),
        },
    };
    match settle(name, decl, value, &origin, dir, &mut diags) {
        Some(v) if !diags.has_errors() => Ok(v),
        _ => Err(diags),
    }
}

/// Converts a variable's value to its type, checks nullability and runs its validations.
fn settle(
    name: &str,
    decl: &VariableDef,
    value: Value,
    origin: &Origin,
    dir: &Path,
    diags: &mut Diagnostics,
) -> Option<Value> {
    let config_dir = dir;
    // A sensitive variable's value is sensitive from the start: a conversion error does not quote it.
    let value = match decl.ty.convert(&value.with_mark(decl.sensitive)) {
        Ok(v) => v,
        Err(e) => {
            let mut d = Diagnostic::error(
                "meshform::vars::type_mismatch",
                format!("invalid value for variable \"{name}\" (from {}): {e}", origin.describe()),
            )
            .with_help(format!("the variable's type is {}", decl.ty));
            d = match (origin, &decl.default) {
                (Origin::File(span) | Origin::Module(span), _) => {
                    d.with_span(span.clone(), format!("expected {}", decl.ty))
                }
                (Origin::Default, Some(e)) => {
                    d.with_span(e.span.clone(), format!("expected {}", decl.ty))
                }
                _ => d.with_span(decl.span.clone(), format!("declared as {}", decl.ty)),
            };
            diags.push(d);
            return None;
        }
    };
    if value.is_null() && !decl.nullable {
        diags.push(
            Diagnostic::error(
                "meshform::vars::null",
                format!("variable \"{name}\" must not be null"),
            )
            .with_span(decl.span.clone(), "declared with nullable = false")
            .with_help("give it a value"),
        );
        return None;
    }
    for validation in &decl.validations {
        let scope =
            MapScope(BTreeMap::from([("var".to_owned(), Value::map([(name, value.clone())]))]));
        let ev = Evaluator::new(&scope, &validation.condition.span.file, config_dir);
        match ev.eval(&validation.condition.node) {
            Ok(v) if v.as_bool() == Some(true) || v.is_unknown() => {}
            Ok(v) if v.as_bool() == Some(false) => {
                let msg =
                    Evaluator::new(&scope, &validation.error_message.span.file, config_dir)
                        .eval(&validation.error_message.node)
                        .ok()
                        .and_then(|m| {
                            if m.is_sensitive() {
                                None
                            } else {
                                m.as_str().map(str::to_owned)
                            }
                        })
                        .unwrap_or_else(|| "the value is not valid".into());
                diags.push(
                    Diagnostic::error(
                        "meshform::vars::validation",
                        format!("invalid value for variable \"{name}\": {msg}"),
                    )
                    .with_span(validation.condition.span.clone(), "this condition is false")
                    .with_help(format!(
                        "the value came from {}; change it to satisfy the condition",
                        origin.describe()
                    )),
                );
            }
            Ok(v) => diags.push(
                Diagnostic::error(
                    "meshform::vars::validation",
                    format!("a validation condition must be a bool, got {}", v.kind()),
                )
                .with_span(validation.condition.span.clone(), "not a bool")
                .with_help("write a condition such as length(var.name) > 0"),
            ),
            Err(d) => diags.push(d),
        }
    }
    Some(value)
}

/// Checks what `validate` can know about variables without their values: every default is a constant
/// of the declared type. Errors use the same wording as [`resolve_variables`].
pub fn check_defaults(config: &Config) -> Diagnostics {
    let mut diags = Diagnostics::default();
    for (name, decl) in &config.variables {
        let Some(e) = &decl.default else { continue };
        let value = match Evaluator::new(&EmptyScope, &e.span.file, &config.dir).eval(&e.node) {
            Ok(v) => v,
            Err(d) => {
                diags.push(d.with_help("a variable's default must be a constant"));
                continue;
            }
        };
        if let Err(err) = decl.ty.convert(&value.with_mark(decl.sensitive)) {
            diags.push(
                Diagnostic::error(
                    "meshform::vars::type_mismatch",
                    format!("invalid value for variable \"{name}\" (from its default): {err}"),
                )
                .with_span(e.span.clone(), format!("expected {}", decl.ty))
                .with_help(format!("the variable's type is {}", decl.ty)),
            );
        }
    }
    diags
}

fn read_var_file(
    original: &Arc<SourceFile>,
    declared: &[&str],
    secret: &[&str],
    given: &mut BTreeMap<String, (Value, Origin)>,
    diags: &mut Diagnostics,
) {
    let body = match hcl::edit::parser::parse_body(&original.text) {
        Ok(b) => b,
        Err(e) => {
            diags.push(syntax_error(original, &e));
            return;
        }
    };
    use hcl::edit::Span as _;
    // What diagnostics draw: the file with the values of sensitive variables masked, so that no
    // report about this file (or a line near one) shows them.
    let mut shown = original.text.clone().into_bytes();
    for attr in body.iter().filter_map(|s| s.as_attribute()) {
        if secret.contains(&attr.key.as_str()) {
            let range = attr.value.span().unwrap_or(0..0);
            for b in shown.get_mut(range).into_iter().flatten() {
                if *b != b'\n' {
                    *b = b'*';
                }
            }
        }
    }
    let shown = String::from_utf8(shown).unwrap_or_default();
    let file = &SourceFile::new(original.name.clone(), shown);
    for s in body.iter() {
        let Some(attr) = s.as_attribute() else {
            let span = Span::new(file, s.span().unwrap_or(0..0));
            diags.push(
                Diagnostic::error(
                    "meshform::vars::unexpected_block",
                    "variables files hold only `name = value` lines",
                )
                .with_span(span, "a block")
                .with_help("write each variable as name = value"),
            );
            continue;
        };
        let name = attr.key.as_str();
        let key_span = Span::new(file, attr.key.span().unwrap_or(0..0));
        if !declared.contains(&name) {
            let mut d = Diagnostic::warning(
                "meshform::vars::undeclared",
                format!("value for undeclared variable \"{name}\""),
            )
            .with_span(key_span, "not declared in the configuration");
            d = match did_you_mean(name, declared.iter().copied()) {
                Some(s) => d.with_help(format!("did you mean `{s}`?")),
                None => d.with_help("declare it with a `variable` block, or remove this line"),
            };
            diags.push(d);
            continue;
        }
        let ev = Evaluator::new(&EmptyScope, file, Path::new("."));
        match ev.eval(&attr.value) {
            Ok(v) => {
                let span = Span::new(file, attr.value.span().unwrap_or(0..0));
                given.insert(name.to_owned(), (v, Origin::File(span)));
            }
            Err(d) => diags.push(d.with_help("values in variables files must be constants")),
        }
    }
}

/// A value given as text on the command line or in the environment: taken literally for primitive
/// types, parsed as an HCL expression for collections.
fn parse_raw(raw: &str, ty: &Type) -> Result<Value, String> {
    match ty {
        Type::String | Type::Number | Type::Bool => Ok(Value::string(raw)),
        _ => {
            let trimmed = raw.trim_start();
            let looks_complex = trimmed.starts_with(['[', '{', '"']) || !matches!(ty, Type::Any);
            if !looks_complex {
                return Ok(Value::string(raw));
            }
            let expr = hcl::edit::parser::parse_expr(raw).map_err(|e| e.message().to_owned())?;
            let file = SourceFile::new("<value>", raw);
            Evaluator::new(&EmptyScope, &file, Path::new(".")).eval(&expr).map_err(|d| d.summary)
        }
    }
}
