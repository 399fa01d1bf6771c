//! Function calls: `try`, `can`, `sensitive`, `nonsensitive`, `issensitive`, `ephemeralasnull`,
//! `templatefile` and `templatestring` here (they see marks, unknowns or the argument expressions
//! themselves); every other built-in in `crate::functions`, with unknown and sensitive arguments
//! handled once for all.

use std::cell::Cell;
use std::sync::Arc;

use hcl::edit::expr::{Expression, FuncCall, TraversalOperator};
use hcl::edit::Span as _;
use meshform_core::{Diagnostic, SourceFile, Span, Value};

use super::{EvalResult, Evaluator, Frame, MapScope, TemplateAcc};
use crate::functions::{self, FunctionContext, FunctionError};
use crate::suggest::did_you_mean;

impl Evaluator<'_> {
    pub(super) fn func_call(
        &self,
        call: &FuncCall,
        e: &Expression,
        frame: &Frame,
        d: usize,
    ) -> EvalResult {
        let name = call.name.name.as_str();
        let args: Vec<&Expression> = call.args.iter().collect();
        match name {
            "try" => {
                let mut last_err = None;
                for a in &args {
                    match self.eval_in(a, frame, d) {
                        Ok(v) => return Ok(v),
                        Err(err) => last_err = Some(err),
                    }
                }
                return Err(match last_err {
                    Some(err) => err
                        .with_help("every argument of try() failed; this is the last one's error"),
                    None => self.error(
                        e,
                        "meshform::config::function_arity",
                        "try needs at least one argument",
                        "no arguments",
                    ),
                });
            }
            "can" => {
                let [a] = args.as_slice() else {
                    return Err(self.error(
                        e,
                        "meshform::config::function_arity",
                        "can takes exactly one argument",
                        "wrong number of arguments",
                    ));
                };
                return Ok(match self.eval_in(a, frame, d) {
                    Ok(v) if v.is_unknown() => Value::Unknown,
                    Ok(_) => Value::Bool(true),
                    Err(_) => Value::Bool(false),
                });
            }
            _ => {}
        }
        let mut values = Vec::with_capacity(args.len());
        for (i, a) in args.iter().enumerate() {
            let v = self.eval_in(a, frame, d)?;
            if call.args.expand_final() && i + 1 == args.len() {
                match v.split_mark() {
                    (Value::List(items), m) => {
                        values.extend(items.into_iter().map(|x| x.with_mark(m)))
                    }
                    (Value::Unknown, _) => return Ok(Value::Unknown),
                    (other, _) => {
                        return Err(self.type_error(*a, "a list to expand with ...", &other))
                    }
                }
            } else {
                values.push(v);
            }
        }
        match name {
            "sensitive" => {
                let v = self.single("sensitive", e, &values)?;
                return Ok(v.clone().sensitive());
            }
            "nonsensitive" => {
                let v = self.single("nonsensitive", e, &values)?;
                return Ok(v.clone().into_unmarked_deep());
            }
            "issensitive" => {
                let v = self.single("issensitive", e, &values)?;
                // As Terraform: a sensitive value is sensitive even when unknown; an unknown
                // value that is not marked may turn out either way.
                return Ok(match v {
                    Value::Sensitive(_) => Value::Bool(true),
                    Value::Unknown => Value::Unknown,
                    _ => Value::Bool(false),
                });
            }
            "ephemeralasnull" => {
                let v = self.single("ephemeralasnull", e, &values)?;
                // meshform has no ephemeral values, so nothing is replaced by null.
                return Ok(v.clone());
            }
            "templatefile" | "templatestring" if RENDERING.with(Cell::get) > 0 => {
                // As Terraform: a template may not render another, which could recurse forever.
                return Err(self.error(
                    e,
                    "meshform::config::function_failed",
                    format!(
                        "{name}: cannot recursively call {name} from inside another template function"
                    ),
                    "call failed",
                ));
            }
            "templatefile" => return self.templatefile(e, &args, values),
            "templatestring" => return self.templatestring(e, &args, values),
            "type" if self.file.name == functions::CONSOLE_SOURCE => {
                let v = self.single("type", e, &values)?;
                let marked = v.contains_sensitive();
                return Ok(Value::String(functions::type_string(v)).with_mark(marked));
            }
            "type" => {
                return Err(self
                    .error(
                        &call.name.name,
                        "meshform::config::unknown_function",
                        "unknown function \"type\"",
                        "available only in the console",
                    )
                    .with_help(
                        "type() shows a value's type in `meshform console` only, as in Terraform",
                    ))
            }
            _ => {}
        }
        if functions::is_refused(name) {
            // Refused whatever the arguments, so that an unknown one does not hide the error.
            values.clear();
        }
        if values.iter().any(Value::contains_unknown) {
            if !functions::names().contains(&name) {
                return Err(self.unknown_function(call, name));
            }
            return Ok(Value::Unknown);
        }
        let marked = values.iter().any(Value::contains_sensitive);
        let plain: Vec<Value> = values.into_iter().map(Value::into_unmarked_deep).collect();
        let ctx = FunctionContext { base_dir: self.base_dir };
        match functions::call(name, &plain, &ctx) {
            Ok(v) => Ok(v.with_mark(marked)),
            Err(FunctionError::Unknown) => Err(self.unknown_function(call, name)),
            Err(FunctionError::Argument { index, message }) => {
                let node: &dyn hcl::edit::Span = match args.get(index) {
                    Some(a) => *a,
                    None => e,
                };
                // Every function message already starts with the function's name.
                let msg = if marked { redact_message(name) } else { message };
                Err(Diagnostic::error("meshform::config::function_argument", msg).with_span(
                    Span::new(self.file, node.span().unwrap_or(0..0)),
                    "invalid argument",
                ))
            }
            Err(FunctionError::Arity(message)) => Err(self.error(
                e,
                "meshform::config::function_arity",
                message,
                "wrong number of arguments",
            )),
            Err(other) => {
                let msg = if marked { redact_message(name) } else { other.to_string() };
                Err(self.error(e, "meshform::config::function_failed", msg, "call failed"))
            }
        }
    }

    /// The only argument of a one-argument function, or an arity error.
    fn single<'v>(
        &self,
        name: &str,
        e: &Expression,
        values: &'v [Value],
    ) -> Result<&'v Value, Diagnostic> {
        match values {
            [v] => Ok(v),
            _ => Err(self.error(
                e,
                "meshform::config::function_arity",
                format!("{name} takes exactly one argument"),
                "wrong number of arguments",
            )),
        }
    }

    pub(super) fn unknown_function(&self, call: &FuncCall, name: &str) -> Diagnostic {
        let all = functions::names().iter().copied().chain(EVALUATOR_FUNCTIONS);
        let d = self.error(
            &call.name.name,
            "meshform::config::unknown_function",
            format!("unknown function \"{name}\""),
            "no such function",
        );
        match did_you_mean(name, all) {
            Some(s) => d.with_help(format!("did you mean `{s}`?")),
            None => d.with_help("see docs/configuration.md for the built-in functions"),
        }
    }

    /// `templatestring(template, vars)`: renders a template held in a string. As in Terraform the
    /// template must be a direct reference (`local.greeting`) or a literal without unescaped
    /// template sequences, so that it is not mistaken for the main configuration's own template.
    fn templatestring(
        &self,
        e: &Expression,
        args: &[&Expression],
        values: Vec<Value>,
    ) -> EvalResult {
        if values.len() != 2 || args.len() != 2 {
            return Err(self.error(
                e,
                "meshform::config::function_arity",
                "templatestring takes 2 arguments (template, variables)",
                "wrong number of arguments",
            ));
        }
        let arg_error = |i: usize, message: &str| {
            Diagnostic::error(
                "meshform::config::function_argument",
                format!("templatestring: {message}"),
            )
            .with_span(Span::new(self.file, args[i].span().unwrap_or(0..0)), "invalid argument")
        };
        if let Some(problem) = template_source_problem(args[0]) {
            return Err(arg_error(0, problem));
        }
        let (template, marked) = values[0].clone().split_mark();
        let text = match template {
            Value::Unknown => return Ok(Value::Unknown),
            Value::String(s) => s,
            _ => return Err(arg_error(0, "invalid template expression: a string is required")),
        };
        let vars = match values[1].unmarked() {
            Value::Unknown => return Ok(Value::Unknown),
            Value::Map(m) => m,
            _ => return Err(arg_error(1, "invalid vars value: must be a map")),
        };
        if let Some(bad) = vars.keys().find(|k| !is_identifier(k)) {
            return Err(arg_error(
                1,
                &format!(
                    "invalid template variable name {bad:?}: must start with a letter, followed by \
                     zero or more letters, digits, and underscores"
                ),
            ));
        }
        let tfile = SourceFile::new("<templatestring argument>", text);
        let rendered = self.render_template(&tfile, &values[1]).map_err(|d| {
            if marked {
                // Its errors would draw the template's text: say only that it failed.
                arg_error(0, &format!("the template {} is not valid", meshform_core::REDACTED))
            } else {
                d
            }
        })?;
        Ok(rendered.with_mark(marked))
    }

    pub(super) fn templatefile(
        &self,
        e: &Expression,
        args: &[&Expression],
        values: Vec<Value>,
    ) -> EvalResult {
        if values.len() != 2 || args.len() != 2 {
            return Err(self.error(
                e,
                "meshform::config::function_arity",
                "templatefile takes 2 arguments (path, variables)",
                "wrong number of arguments",
            ));
        }
        if values.iter().any(Value::contains_unknown) {
            return Ok(Value::Unknown);
        }
        let Some(path) = values[0].as_str() else {
            return Err(self.type_error(args[0], "a string path", &values[0]));
        };
        if values[1].as_map().is_none() {
            return Err(self.type_error(args[1], "an object of template variables", &values[1]));
        }
        // A sensitive path is never shown (errors say so instead), and what it reads is sensitive.
        let secret_path = values[0].contains_sensitive();
        let full = self.base_dir.join(path);
        let text = std::fs::read_to_string(&full).map_err(|err| {
            let what = if secret_path {
                format!("templatefile: cannot read the file at {}: {err}", meshform_core::REDACTED)
            } else {
                format!("templatefile: cannot read {}: {err}", full.display())
            };
            self.error(args[0], "meshform::config::file_unreadable", what, "this file")
        })?;
        let name = if secret_path { meshform_core::REDACTED } else { path };
        Ok(self.render_template(&SourceFile::new(name, text), &values[1])?.with_mark(secret_path))
    }

    /// Renders the template text of `tfile` with the variables of `vars` (a map).
    fn render_template(&self, tfile: &Arc<SourceFile>, vars: &Value) -> EvalResult {
        let template = hcl::edit::parser::parse_template(&tfile.text)
            .map_err(|err| crate::load::syntax_error(tfile, &err))?;
        let scope = MapScope(vars.as_map().cloned().unwrap_or_default());
        let ev = Evaluator::new(&scope, tfile, self.base_dir);
        let _rendering = Rendering::enter();
        let mut acc = TemplateAcc::default();
        ev.template_into(
            &template,
            &Frame { names: Vec::new(), parent: None },
            1,
            &mut acc,
            false,
        )?;
        let marked = acc.marked || vars.contains_sensitive();
        Ok(if acc.unknown { Value::Unknown } else { Value::String(acc.text) }.with_mark(marked))
    }
}

thread_local! {
    /// How many `templatefile`/`templatestring` renders are under way on this thread.
    static RENDERING: Cell<usize> = const { Cell::new(0) };
}

/// Counts one render for as long as it lives (also when the render fails).
struct Rendering;

impl Rendering {
    fn enter() -> Rendering {
        RENDERING.with(|r| r.set(r.get() + 1));
        Rendering
    }
}

impl Drop for Rendering {
    fn drop(&mut self) {
        RENDERING.with(|r| r.set(r.get().saturating_sub(1)));
    }
}

/// The functions the evaluator implements itself, for "did you mean".
const EVALUATOR_FUNCTIONS: [&str; 9] = [
    "try",
    "can",
    "templatefile",
    "templatestring",
    "sensitive",
    "nonsensitive",
    "issensitive",
    "ephemeralasnull",
    "type",
];

/// Why an expression may not be `templatestring`'s template (Terraform's messages), or `None`.
fn template_source_problem(e: &Expression) -> Option<&'static str> {
    const ESCAPE: &str =
        "invalid template expression: use $${ and %%{ to escape template sequences \
        so that they can be parsed by the templatestring function, rather than by the main \
        meshform parser";
    const WRAPPED: &str = "invalid template expression: either use $${ to escape this template \
        sequence for processing by the templatestring function, or write the inner expression \
        alone to use its value as the template to render";
    const OTHER: &str = "invalid template expression: must be either a literal string or a simple \
        reference to a single string from elsewhere";
    let literal_only = |t: &hcl::edit::template::Template| {
        t.iter().all(|el| matches!(el, hcl::edit::template::Element::Literal(_)))
    };
    match e {
        Expression::String(_) | Expression::Variable(_) => None,
        Expression::Traversal(t) => {
            let simple = matches!(t.expr, Expression::Variable(_))
                && t.operators.iter().all(|op| match op.value() {
                    TraversalOperator::GetAttr(_) | TraversalOperator::LegacyIndex(_) => true,
                    TraversalOperator::Index(i) => {
                        matches!(i, Expression::String(_) | Expression::Number(_))
                    }
                    _ => false,
                });
            (!simple).then_some(OTHER)
        }
        Expression::StringTemplate(t) => {
            let elements: Vec<_> = t.iter().collect();
            if let [hcl::edit::template::Element::Interpolation(_)] = elements.as_slice() {
                Some(WRAPPED)
            } else if elements
                .iter()
                .all(|el| matches!(el, hcl::edit::template::Element::Literal(_)))
            {
                None
            } else {
                Some(ESCAPE)
            }
        }
        Expression::HeredocTemplate(h) => (!literal_only(&h.template)).then_some(ESCAPE),
        _ => Some(OTHER),
    }
}

/// An HCL identifier: a letter or `_`, then letters, digits, `_` and `-`.
fn is_identifier(s: &str) -> bool {
    let mut chars = s.chars();
    matches!(chars.next(), Some(c) if c.is_alphabetic() || c == '_')
        && chars.all(|c| c.is_alphanumeric() || c == '_' || c == '-')
}

/// A function error message about sensitive arguments must not quote them.
fn redact_message(name: &str) -> String {
    format!("{name}: invalid argument {}", meshform_core::REDACTED)
}

#[cfg(test)]
#[path = "call_tests.rs"]
mod tests;
