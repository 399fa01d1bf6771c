//! Templates: `"${…}"` strings and heredocs with `%{ if }` / `%{ for }` directives and `~` strip
//! markers, turned into strings (or an unknown value when any part is unknown).

use hcl::edit::expr::Expression;
use hcl::edit::template::{Directive, Element, Strip, Template};
use meshform_core::{Diagnostic, Value};

use super::{EvalResult, Evaluator, Frame, TemplateAcc};

impl Evaluator<'_> {
    pub(super) fn template(&self, t: &Template, frame: &Frame, d: usize) -> EvalResult {
        // A template that is exactly one interpolation yields the value itself (`"${var.list}"`).
        if let Some(Element::Interpolation(i)) = t.as_single_element() {
            return self.eval_in(&i.expr, frame, d);
        }
        let mut acc = TemplateAcc::default();
        self.template_into(t, frame, d, &mut acc, false)?;
        if acc.unknown {
            return Ok(Value::Unknown.with_mark(acc.marked));
        }
        Ok(Value::String(acc.text).with_mark(acc.marked))
    }

    pub(super) fn template_into(
        &self,
        t: &Template,
        frame: &Frame,
        d: usize,
        acc: &mut TemplateAcc,
        lead_strip: bool,
    ) -> Result<(), Diagnostic> {
        let mut strip_next = lead_strip;
        for el in t.iter() {
            match el {
                Element::Literal(s) => {
                    let text = s.value().as_str();
                    if strip_next {
                        acc.text.push_str(strip_leading(text));
                    } else {
                        acc.text.push_str(text);
                    }
                    strip_next = false;
                }
                Element::Interpolation(i) => {
                    apply_strip_start(&mut acc.text, i.strip);
                    let v = self.eval_in(&i.expr, frame, d)?;
                    let (v, m) = v.split_mark();
                    acc.marked |= m;
                    match v {
                        Value::Unknown => acc.unknown = true,
                        other => acc.text.push_str(&self.stringify(&i.expr, other)?),
                    }
                    strip_next = matches!(i.strip, Strip::End | Strip::Both);
                }
                Element::Directive(dir) => match dir.as_ref() {
                    Directive::If(ifd) => {
                        apply_strip_start(&mut acc.text, ifd.if_expr.strip);
                        let c = self.eval_in(&ifd.if_expr.cond_expr, frame, d)?;
                        let (c, m) = c.split_mark();
                        acc.marked |= m;
                        let lead = matches!(ifd.if_expr.strip, Strip::End | Strip::Both);
                        match c {
                            Value::Bool(true) => {
                                let t = &ifd.if_expr.template;
                                self.template_into(t, frame, d, acc, lead)?;
                                if let Some(e) = &ifd.else_expr {
                                    apply_strip_start(&mut acc.text, e.strip);
                                }
                            }
                            Value::Bool(false) => {
                                if let Some(e) = &ifd.else_expr {
                                    let lead = matches!(e.strip, Strip::End | Strip::Both);
                                    self.template_into(&e.template, frame, d, acc, lead)?
                                }
                            }
                            Value::Unknown => acc.unknown = true,
                            other => {
                                return Err(self.type_error(
                                    &ifd.if_expr.cond_expr,
                                    "a bool",
                                    &other,
                                ))
                            }
                        }
                        apply_strip_start(&mut acc.text, ifd.endif_expr.strip);
                        strip_next = matches!(ifd.endif_expr.strip, Strip::End | Strip::Both);
                    }
                    Directive::For(ford) => {
                        let fe = &ford.for_expr;
                        apply_strip_start(&mut acc.text, fe.strip);
                        let coll = self.eval_in(&fe.collection_expr, frame, d)?;
                        let (coll, m) = coll.split_mark();
                        acc.marked |= m;
                        let pairs: Vec<(Value, Value)> = match coll {
                            Value::Unknown => {
                                acc.unknown = true;
                                Vec::new()
                            }
                            Value::List(items) => items
                                .into_iter()
                                .enumerate()
                                .map(|(i, v)| (Value::number(i), v))
                                .collect(),
                            Value::Map(m) => {
                                m.into_iter().map(|(k, v)| (Value::String(k), v)).collect()
                            }
                            other => {
                                return Err(self.type_error(
                                    &fe.collection_expr,
                                    "a list or map",
                                    &other,
                                ))
                            }
                        };
                        for (k, v) in pairs {
                            // A sensitive collection's elements stay sensitive in the loop.
                            let mut names =
                                vec![(fe.value_var.as_str().to_owned(), v.with_mark(m))];
                            if let Some(kv) = &fe.key_var {
                                names.push((kv.as_str().to_owned(), k.with_mark(m)));
                            }
                            let inner = Frame { names, parent: Some(frame) };
                            let lead = matches!(fe.strip, Strip::End | Strip::Both);
                            self.template_into(&fe.template, &inner, d, acc, lead)?;
                            apply_strip_start(&mut acc.text, ford.endfor_expr.strip);
                        }
                        strip_next = matches!(ford.endfor_expr.strip, Strip::End | Strip::Both);
                    }
                },
            }
        }
        Ok(())
    }

    pub(super) fn stringify(&self, node: &Expression, v: Value) -> Result<String, Diagnostic> {
        match v {
            Value::String(s) => Ok(s),
            Value::Number(n) => Ok(n.to_string()),
            Value::Bool(b) => Ok(b.to_string()),
            Value::Null => Err(self
                .error(
                    node,
                    "meshform::config::null_in_template",
                    "cannot include a null value in a string",
                    "this is null",
                )
                .with_help("use a conditional or coalesce() to give a default")),
            other => Err(self
                .error(
                    node,
                    "meshform::config::type_mismatch",
                    format!("cannot include a {} in a string", other.kind()),
                    &format!("this is a {}", other.kind()),
                )
                .with_help("use jsonencode(), join() or an index to turn it into a string")),
        }
    }
}

/// Strip markers remove spaces up to and including the first line break (as hcl-rs and HCL do).
pub(super) fn is_space(c: char) -> bool {
    c.is_whitespace() && c != '\n' && c != '\r'
}

pub(super) fn strip_leading(s: &str) -> &str {
    let s = s.trim_start_matches(is_space);
    s.strip_prefix("\r\n").or_else(|| s.strip_prefix('\n')).unwrap_or(s)
}

pub(super) fn apply_strip_start(out: &mut String, strip: Strip) {
    if matches!(strip, Strip::Start | Strip::Both) {
        let mut keep = out.trim_end_matches(is_space).len();
        if out[..keep].ends_with("\r\n") {
            keep -= 2;
        } else if out[..keep].ends_with('\n') {
            keep -= 1;
        }
        out.truncate(keep);
    }
}

/// Removes the common leading whitespace of every line (for `<<-EOT` heredocs).
pub(super) fn dedent(s: &str) -> String {
    let indent = s
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| l.len() - l.trim_start_matches([' ', '\t']).len())
        .min()
        .unwrap_or(0);
    let mut out = String::with_capacity(s.len());
    for line in s.split_inclusive('\n') {
        let cut = line.len().min(indent);
        let cut = if line[..cut].trim_start_matches([' ', '\t']).is_empty() { cut } else { 0 };
        out.push_str(&line[cut..]);
    }
    out
}
