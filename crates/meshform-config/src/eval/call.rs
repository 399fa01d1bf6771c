//! Function calls: `try`, `can`, `sensitive`, `nonsensitive` and `templatefile` here; every other
//! built-in in `crate::functions`, with unknown and sensitive arguments handled once for all.

use hcl::edit::expr::{Expression, FuncCall};
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
                let [v] = values.as_slice() else {
                    return Err(self.error(
                        e,
                        "meshform::config::function_arity",
                        "sensitive takes exactly one argument",
                        "wrong number of arguments",
                    ));
                };
                return Ok(v.clone().sensitive());
            }
            "nonsensitive" => {
                let [v] = values.as_slice() else {
                    return Err(self.error(
                        e,
                        "meshform::config::function_arity",
                        "nonsensitive takes exactly one argument",
                        "wrong number of arguments",
                    ));
                };
                return Ok(v.clone().into_unmarked_deep());
            }
            "templatefile" => return self.templatefile(e, &args, values),
            _ => {}
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
                let msg = if marked { redact_message(&message) } else { message };
                Err(Diagnostic::error(
                    "meshform::config::function_argument",
                    format!("{name}: {msg}"),
                )
                .with_span(Span::new(self.file, node.span().unwrap_or(0..0)), "invalid argument"))
            }
            Err(other) => {
                let msg =
                    if marked { redact_message(&other.to_string()) } else { other.to_string() };
                Err(self.error(
                    e,
                    "meshform::config::function_failed",
                    format!("{name}: {msg}"),
                    "call failed",
                ))
            }
        }
    }

    pub(super) fn unknown_function(&self, call: &FuncCall, name: &str) -> Diagnostic {
        let all = functions::names().iter().copied().chain([
            "try",
            "can",
            "templatefile",
            "sensitive",
            "nonsensitive",
        ]);
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

    pub(super) fn templatefile(
        &self,
        e: &Expression,
        args: &[&Expression],
        values: Vec<Value>,
    ) -> EvalResult {
        if values.len() != 2 {
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
        let Some(vars) = values[1].as_map() else {
            return Err(self.type_error(args[1], "an object of template variables", &values[1]));
        };
        let full = self.base_dir.join(path);
        let text = std::fs::read_to_string(&full).map_err(|err| {
            self.error(
                args[0],
                "meshform::config::file_unreadable",
                format!("templatefile: cannot read {}: {err}", full.display()),
                "this file",
            )
        })?;
        let tfile = SourceFile::new(path, text);
        let template = hcl::edit::parser::parse_template(&tfile.text)
            .map_err(|err| crate::load::syntax_error(&tfile, &err))?;
        let scope = MapScope(vars.clone());
        let ev = Evaluator::new(&scope, &tfile, self.base_dir);
        let mut acc = TemplateAcc::default();
        ev.template_into(
            &template,
            &Frame { names: Vec::new(), parent: None },
            1,
            &mut acc,
            false,
        )?;
        let marked = acc.marked || values[1].contains_sensitive();
        Ok(if acc.unknown { Value::Unknown } else { Value::String(acc.text) }.with_mark(marked))
    }
}

/// A function error message about sensitive arguments must not quote them.
fn redact_message(_message: &str) -> String {
    format!("invalid argument ({})", meshform_core::REDACTED)
}
