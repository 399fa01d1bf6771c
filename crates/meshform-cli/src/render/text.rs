//! Plans as the text people read in terminals and pull requests, in Terraform's layout: drift first,
//! then each change with attribute-level diffs, then outputs and the summary line.

use std::fmt::Write as _;

use meshform_core::value::{map_key, quote};
use meshform_core::{InstanceAddr, Mode, PathStep, Value, REDACTED};
use meshform_engine::environment::ProviderEnvironment;
use meshform_engine::plan::{Action, OutputChange, Plan, PlanMode, ResourceChange};

/// Rendering options.
#[derive(Clone, Copy, Debug, Default)]
pub struct Style {
    pub color: bool,
}

impl Style {
    fn paint(&self, sym: &str) -> String {
        if !self.color {
            return sym.to_owned();
        }
        let code = match sym.trim() {
            "+" => "32",
            "-" => "31",
            "~" => "33",
            "-/+" | "+/-" => "35",
            "<=" => "36",
            _ => return sym.to_owned(),
        };
        format!("\x1b[{code}m{sym}\x1b[0m")
    }

    fn bold(&self, s: &str) -> String {
        if self.color {
            format!("\x1b[1m{s}\x1b[0m")
        } else {
            s.to_owned()
        }
    }
}

/// The lines naming the environment a plan acts on (`Provider asm: endpoint http://…, region …`),
/// then a blank line; nothing when no provider instance sets one.
pub fn environment_lines(envs: &[ProviderEnvironment]) -> String {
    let mut out = String::new();
    for e in envs {
        let parts: Vec<String> = e.settings.iter().map(|(k, v)| format!("{k} {v}")).collect();
        let _ = writeln!(out, "Provider {}: {}", e.provider, parts.join(", "));
    }
    if !out.is_empty() {
        out.push('\n');
    }
    out
}

/// The whole plan as text.
pub fn render_plan(plan: &Plan, style: Style) -> String {
    let mut out = String::new();
    render_drift(plan, style, &mut out);
    render_incomplete(plan, &mut out);
    for a in &plan.adoptions {
        let _ = writeln!(
            out,
            "  # {} was created by an interrupted run; it was found and will be adopted\n",
            a.addr
        );
    }
    for f in &plan.forgotten {
        let _ = writeln!(
            out,
            "  # {} will no longer be managed by meshform, but will not be destroyed\n  # (destroy = false is set in the configuration)\n",
            f.addr
        );
    }
    for p in &plan.abandoned {
        let _ = writeln!(
            out,
            "  # {p}: an interrupted create left no object; its pending record will be dropped\n"
        );
    }
    // What changes, and what only moved (a `moved` block): shown as "has moved to".
    let actionable: Vec<&ResourceChange> = plan
        .changes
        .iter()
        .filter(|c| {
            c.action != Action::NoOp
                || plan.moved_from(&c.addr).is_some()
                || plan.imported_id(&c.addr).is_some()
        })
        .collect();
    let outputs: Vec<&OutputChange> =
        plan.outputs.iter().filter(|o| o.action() != Action::NoOp).collect();
    if plan.mode == PlanMode::RefreshOnly {
        if plan.drift.is_empty() {
            out.push_str("No changes. Your infrastructure still matches the configuration.\n");
        } else {
            out.push_str("This is a refresh-only plan, so meshform will not take any actions to undo these. If you were\nexpecting these changes then you can apply this plan to record the updated values in the meshform\nstate without changing any remote objects.\n");
        }
        return out;
    }
    if actionable.is_empty() && outputs.is_empty() && plan.forgotten.is_empty() {
        if plan.has_changes() {
            out.push_str("No resource changes; the state's bookkeeping will be updated.\n");
        } else if !plan.complete() {
            out.push_str(&style.bold("No changes in what could be planned."));
            out.push_str(" Whether the parts left out match the configuration is not known.\n");
        } else {
            out.push_str(&style.bold("No changes."));
            out.push_str(" Your infrastructure matches the configuration.\n");
        }
        return out;
    }
    if !actionable.is_empty() {
        out.push_str("meshform will perform the following actions:\n\n");
        for c in &actionable {
            let notes =
                Notes { moved_from: plan.moved_from(&c.addr), imported: plan.imported_id(&c.addr) };
            render_noted_change(c, notes, style, &mut out);
            out.push('\n');
        }
    }
    // Forgetting is a change too (shown above, with the adoptions): the summary counts it.
    if !actionable.is_empty() || !plan.forgotten.is_empty() {
        let _ = writeln!(out, "{} {}.", style.bold("Plan:"), plan_counts(plan));
        out.push_str(&super::rollout::text(plan));
    }
    if !outputs.is_empty() {
        out.push_str("\nChanges to Outputs:\n");
        for o in outputs {
            render_output_change(o, style, &mut out);
        }
    }
    out
}

/// `N to add, N to change, N to destroy`, with `N to import, ` before and `, N to forget` after
/// when there are any, as Terraform words the plan's summary.
pub fn plan_counts(plan: &Plan) -> String {
    let (add, change, destroy) = plan.summary();
    let forget = match plan.forgotten.len() {
        0 => String::new(),
        n => format!(", {n} to forget"),
    };
    let import = match plan.imports.len() {
        0 => String::new(),
        n => format!("{n} to import, "),
    };
    format!("{import}{add} to add, {change} to change, {destroy} to destroy{forget}")
}

/// `N added, N changed, N destroyed`, after `N imported, ` when an import block imported any (as
/// Terraform words it).
pub fn resource_counts(outcome: &meshform_engine::apply::ApplyOutcome) -> String {
    let imported = match outcome.imported {
        0 => String::new(),
        n => format!("{n} imported, "),
    };
    format!(
        "{imported}{} added, {} changed, {} destroyed",
        outcome.added, outcome.changed, outcome.destroyed
    )
}

fn render_incomplete(plan: &Plan, out: &mut String) {
    if plan.complete() {
        return;
    }
    out.push_str("Warning: this plan is incomplete\n\n");
    for f in &plan.failures {
        let _ = writeln!(out, "  - {} (provider {}): {}", f.address, f.provider, f.message);
    }
    for s in &plan.skipped {
        let _ = writeln!(out, "  - {s}");
    }
    out.push_str("\nEverything else was planned. The parts above keep their last known state; fix the cause\nor plan again when they are reachable. `meshform apply --allow-incomplete` applies what was planned.\n\n");
}

/// What an incomplete plan leaves out, one entry each: what could not be refreshed or planned (with
/// the cause), then what waits for it.
pub fn left_out(plan: &Plan) -> Vec<String> {
    let failed = plan
        .failures
        .iter()
        .map(|f| format!("{} (provider {}): {}", f.address, f.provider, f.message));
    failed.chain(plan.skipped.iter().cloned()).collect()
}

/// The lines after an apply of an incomplete plan.
pub fn left_out_lines(left_out: &[String]) -> String {
    let mut out = String::from(
        "\nLeft out of this run (it could not be planned; plan again when it is reachable):",
    );
    for entry in left_out {
        let _ = write!(out, "\n  - {entry}");
    }
    out
}

fn render_drift(plan: &Plan, style: Style, out: &mut String) {
    if plan.drift.is_empty() {
        return;
    }
    out.push_str("Note: Objects have changed outside of meshform\n\n");
    out.push_str("meshform detected the following changes made outside of meshform since the last \"meshform apply\":\n\n");
    for d in &plan.drift {
        let (ty, name) = (&d.addr.resource.ty, &d.addr.resource.name);
        match &d.after {
            Some(after) => {
                let _ = writeln!(out, "  # {} has been changed", d.addr);
                let _ = writeln!(out, "  {} resource \"{ty}\" \"{name}\" {{", style.paint("~"));
                diff_object(Some(&d.before), Some(after), &[], 6, style, out);
                out.push_str("    }\n\n");
            }
            None => {
                let _ = writeln!(out, "  # {} has been deleted", d.addr);
                let _ = writeln!(out, "  {} resource \"{ty}\" \"{name}\" {{", style.paint("-"));
                diff_object(Some(&d.before), None, &[], 6, style, out);
                out.push_str("    }\n\n");
            }
        }
    }
    out.push_str("Unless you have made equivalent changes to your configuration, or ignored the relevant attributes\nusing ignore_changes, the following plan may include actions to undo or respond to these changes.\n\n");
    out.push_str(&"─".repeat(77));
    out.push_str("\n\n");
}

fn header(c: &ResourceChange) -> String {
    if let Some(r) = &c.reason {
        return format!("# {} {}", c.addr, r.describe(&c.addr));
    }
    let what = match c.action {
        Action::Create => "will be created",
        Action::Update => "will be updated in-place",
        Action::Delete => "will be destroyed",
        Action::DeleteThenCreate | Action::CreateThenDelete => "must be replaced",
        Action::Read => "will be read during apply",
        Action::NoOp => "is unchanged",
    };
    format!("# {} {what}", c.addr)
}

fn block_open(addr: &InstanceAddr) -> String {
    let kw = if addr.resource.mode == Mode::Data { "data" } else { "resource" };
    format!("{kw} \"{}\" \"{}\" {{", addr.resource.ty, addr.resource.name)
}

/// One change: header, block, attribute diff.
pub fn render_change(c: &ResourceChange, style: Style, out: &mut String) {
    render_noted_change(c, Notes::default(), style, out);
}

/// What a plan says about a change besides its action: a `moved` block's old address, an
/// `import` block's id.
#[derive(Clone, Copy, Default)]
struct Notes<'a> {
    moved_from: Option<&'a InstanceAddr>,
    imported: Option<&'a str>,
}

/// One change with its notes, in Terraform's layout: a move alone reads "has moved to", an import
/// alone "will be imported"; with a change, "(moved from …)" / "(imported from …)" under the header.
fn render_noted_change(c: &ResourceChange, notes: Notes<'_>, style: Style, out: &mut String) {
    let alone = c.action == Action::NoOp;
    let head = match (notes.moved_from, notes.imported) {
        (Some(f), _) if alone => format!("# {f} has moved to {}", c.addr),
        (None, Some(_)) if alone => format!("# {} will be imported", c.addr),
        _ => header(c),
    };
    let _ = writeln!(out, "  {}", style.bold(&head));
    if let (Some(f), false) = (notes.moved_from, alone) {
        let _ = writeln!(out, "  # (moved from {f})");
    }
    if let (Some(id), false) = (notes.imported, alone && notes.moved_from.is_none()) {
        let _ = writeln!(out, "  # (imported from {})", meshform_core::value::quote(id));
    }
    let sym = c.action.symbol();
    let _ =
        writeln!(out, "{}{} {}", " ".repeat(3 - sym.len()), style.paint(sym), block_open(&c.addr));
    let (before, after) = match c.action {
        Action::Create | Action::Read => (None, c.after.as_ref()),
        Action::Delete => (c.before.as_ref(), None),
        _ => (c.before.as_ref(), c.after.as_ref()),
    };
    let forces: Vec<&[PathStep]> = c.replace_paths.iter().map(Vec::as_slice).collect();
    diff_object(before, after, &forces, 6, style, out);
    out.push_str("    }\n");
}

fn render_output_change(o: &OutputChange, style: Style, out: &mut String) {
    let show = |v: &Value| if o.sensitive { REDACTED.to_owned() } else { inline(v) };
    match (&o.before, &o.after) {
        (None, Some(a)) => {
            let _ = writeln!(out, "  {} {} = {}", style.paint("+"), o.name, show(a));
        }
        (Some(b), None) => {
            let _ = writeln!(out, "  {} {} = {} -> null", style.paint("-"), o.name, show(b));
        }
        (Some(b), Some(a)) => {
            let _ = writeln!(out, "  {} {} = {} -> {}", style.paint("~"), o.name, show(b), show(a));
        }
        (None, None) => {}
    }
}

fn is_absent(v: Option<&Value>) -> bool {
    v.is_none_or(|v| matches!(v, Value::Null))
}

/// Diffs two objects attribute by attribute (either side may be absent), one line per attribute,
/// unchanged attributes folded.
fn diff_object(
    before: Option<&Value>,
    after: Option<&Value>,
    forces: &[&[PathStep]],
    indent: usize,
    style: Style,
    out: &mut String,
) {
    let empty = std::collections::BTreeMap::new();
    let b = before.and_then(Value::as_map).unwrap_or(&empty);
    let a = after.and_then(Value::as_map).unwrap_or(&empty);
    let mut keys: Vec<&String> = b.keys().chain(a.keys()).collect();
    keys.sort();
    keys.dedup();
    let shown: Vec<&String> =
        keys.iter().copied().filter(|k| !(is_absent(b.get(*k)) && is_absent(a.get(*k)))).collect();
    let unchanged = |k: &String| {
        let (bv, av) = (b.get(k).unwrap_or(&Value::Null), a.get(k).unwrap_or(&Value::Null));
        before.is_some() && after.is_some() && bv.same_as(av) && !av.contains_unknown()
    };
    let width = shown.iter().filter(|k| !unchanged(k)).map(|k| map_key(k).len()).max().unwrap_or(0);
    let mut hidden = 0;
    let pad = " ".repeat(indent);
    let comment_pad = " ".repeat(indent + 2);
    for k in shown {
        let (bv, av) = (b.get(k), a.get(k));
        let forced = forces.iter().any(|p| matches!(p.first(), Some(PathStep::Key(f)) if f == k));
        let suffix = if forced { " # forces replacement" } else { "" };
        let name = format!("{:width$}", map_key(k));
        match (is_absent(bv), is_absent(av)) {
            (true, false) if before.is_some() || after.is_some() => {
                let v = av.unwrap_or(&Value::Null);
                let _ = writeln!(
                    out,
                    "{pad}{} {name} = {}{suffix}",
                    style.paint("+"),
                    block_value(v, indent)
                );
            }
            (false, true) => {
                let v = bv.unwrap_or(&Value::Null);
                let tail = if after.is_some() { " -> null" } else { "" };
                let _ = writeln!(
                    out,
                    "{pad}{} {name} = {}{tail}{suffix}",
                    style.paint("-"),
                    block_value(v, indent)
                );
            }
            _ => {
                let (bv, av) = (bv.unwrap_or(&Value::Null), av.unwrap_or(&Value::Null));
                if bv.same_as(av) && !av.contains_unknown() {
                    hidden += 1;
                    continue;
                }
                diff_value(&name, bv, av, indent, suffix, style, out);
            }
        }
    }
    if hidden > 0 && before.is_some() && after.is_some() {
        let _ = writeln!(
            out,
            "{comment_pad}# ({hidden} unchanged attribute{} hidden)",
            if hidden == 1 { "" } else { "s" }
        );
    }
}

fn diff_value(
    name: &str,
    b: &Value,
    a: &Value,
    indent: usize,
    suffix: &str,
    style: Style,
    out: &mut String,
) {
    let pad = " ".repeat(indent);
    let tilde = style.paint("~");
    if b.is_sensitive() || a.is_sensitive() {
        let _ = writeln!(out, "{pad}{tilde} {name} = {REDACTED}{suffix}");
        return;
    }
    match (b, a) {
        (Value::Map(_), Value::Map(_)) => {
            let _ = writeln!(out, "{pad}{tilde} {name} = {{{suffix}");
            diff_object(Some(b), Some(a), &[], indent + 4, style, out);
            let _ = writeln!(out, "{}}}", " ".repeat(indent + 2));
        }
        (Value::String(x), Value::String(y)) if x.contains('\n') || y.contains('\n') => {
            let _ = writeln!(out, "{pad}{tilde} {name} = <<-EOT{suffix}");
            line_diff(x, y, indent + 4, style, out);
            let _ = writeln!(out, "{}EOT", " ".repeat(indent + 2));
        }
        _ => {
            let _ = writeln!(
                out,
                "{pad}{tilde} {name} = {} -> {}{suffix}",
                block_value(b, indent),
                block_value(a, indent)
            );
        }
    }
}

/// Line-by-line diff of a multi-line string, long unchanged runs folded.
fn line_diff(old: &str, new: &str, indent: usize, style: Style, out: &mut String) {
    let diff = similar::TextDiff::from_lines(old, new);
    let pad = " ".repeat(indent);
    let groups = diff.grouped_ops(2);
    let total_lines = new.lines().count().max(old.lines().count());
    let mut shown = 0;
    for (gi, group) in groups.iter().enumerate() {
        if gi > 0 {
            let _ = writeln!(out, "{}# (lines between hidden)", " ".repeat(indent + 2));
        }
        for op in group {
            for change in diff.iter_changes(op) {
                let line = change.value().trim_end_matches('\n');
                let sym = match change.tag() {
                    similar::ChangeTag::Delete => style.paint("-"),
                    similar::ChangeTag::Insert => style.paint("+"),
                    similar::ChangeTag::Equal => " ".into(),
                };
                shown += 1;
                let _ = writeln!(out, "{pad}{sym} {line}");
            }
        }
    }
    let hidden = total_lines.saturating_sub(shown);
    if hidden > 0 && !groups.is_empty() {
        let _ = writeln!(
            out,
            "{}# ({hidden} unchanged line{} hidden)",
            " ".repeat(indent + 2),
            if hidden == 1 { "" } else { "s" }
        );
    }
}

/// A value as shown after `=` in a block, multi-line for objects, lists and multi-line strings.
fn block_value(v: &Value, indent: usize) -> String {
    match v {
        Value::Sensitive(_) => REDACTED.to_owned(),
        Value::Unknown => "(known after apply)".into(),
        Value::String(s) if s.contains('\n') => {
            let mut out = String::from("<<-EOT\n");
            for line in s.lines() {
                let _ = writeln!(out, "{}{line}", " ".repeat(indent + 6));
            }
            let _ = write!(out, "{}EOT", " ".repeat(indent + 2));
            out
        }
        Value::Map(m) if !m.is_empty() => {
            let width = m.keys().map(|k| map_key(k).len()).max().unwrap_or(0);
            let mut out = String::from("{\n");
            for (k, x) in m {
                if matches!(x, Value::Null) {
                    continue;
                }
                let _ = writeln!(
                    out,
                    "{}{:width$} = {}",
                    " ".repeat(indent + 6),
                    map_key(k),
                    block_value(x, indent + 4)
                );
            }
            let _ = write!(out, "{}}}", " ".repeat(indent + 2));
            out
        }
        Value::List(items)
            if !items.is_empty()
                && (items.len() > 3
                    || items.iter().any(|i| matches!(i, Value::Map(_) | Value::List(_)))) =>
        {
            let mut out = String::from("[\n");
            for x in items {
                let _ = writeln!(out, "{}{},", " ".repeat(indent + 6), block_value(x, indent + 4));
            }
            let _ = write!(out, "{}]", " ".repeat(indent + 2));
            out
        }
        other => inline(other),
    }
}

/// A value on one line.
pub fn inline(v: &Value) -> String {
    match v {
        Value::Sensitive(_) => REDACTED.to_owned(),
        Value::Unknown => "(known after apply)".into(),
        Value::String(s) => quote(s),
        other => other.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshform_core::{InstanceKey, ResourceAddr};
    use meshform_engine::plan::ChangeReason;

    fn change(action: Action, before: Option<Value>, after: Option<Value>) -> ResourceChange {
        ResourceChange {
            addr: ResourceAddr::managed("local_file", "a").instance(InstanceKey::None),
            provider: "local".into(),
            action,
            before,
            after,
            replace_paths: Vec::new(),
            reason: None,
            dependencies: Vec::new(),
            create_before_destroy: false,
            deposed: false,
        }
    }

    fn obj(content: Value, filename: &str) -> Value {
        Value::map([
            ("content", content),
            ("filename", Value::string(filename)),
            ("id", Value::Unknown),
        ])
    }

    #[test]
    fn create_shows_every_attribute_and_unknowns() {
        let plan = Plan {
            changes: vec![change(Action::Create, None, Some(obj(Value::string("hi"), "a.txt")))],
            ..Plan::default()
        };
        let text = render_plan(&plan, Style::default());
        assert!(
            text.contains(
                "  # local_file.a will be created\n  + resource \"local_file\" \"a\" {\n"
            ),
            "{text}"
        );
        assert!(text.contains("      + content  = \"hi\"\n"), "{text}");
        assert!(text.contains("      + id       = (known after apply)\n"), "{text}");
        assert!(text.contains("Plan: 1 to add, 0 to change, 0 to destroy."));
    }

    #[test]
    fn update_diffs_lines_and_hides_unchanged() {
        let before = Value::map([
            ("content", Value::string("a\nb\nc\n")),
            ("filename", Value::string("f")),
            ("id", Value::string("f")),
        ]);
        let after = Value::map([
            ("content", Value::string("a\nB\nc\n")),
            ("filename", Value::string("f")),
            ("id", Value::string("f")),
        ]);
        let plan = Plan {
            changes: vec![change(Action::Update, Some(before), Some(after))],
            ..Plan::default()
        };
        let text = render_plan(&plan, Style::default());
        assert!(text.contains("~ content = <<-EOT\n"), "{text}");
        assert!(text.contains("          - b\n          + B\n"), "{text}");
        assert!(text.contains("        # (2 unchanged attributes hidden)\n    }\n"), "{text}");
        assert!(text.contains("# (2 unchanged attributes hidden)"), "{text}");
    }

    #[test]
    fn replacement_marks_the_forcing_attribute_and_secrets_stay_hidden() {
        let before = Value::map([
            ("filename", Value::string("old")),
            ("content", Value::string("s3cret").sensitive()),
        ]);
        let after = Value::map([
            ("filename", Value::string("new")),
            ("content", Value::string("s3cret2").sensitive()),
        ]);
        let mut c = change(Action::DeleteThenCreate, Some(before), Some(after));
        c.replace_paths = vec![vec![PathStep::Key("filename".into())]];
        c.reason = Some(ChangeReason::CannotUpdate);
        let plan = Plan { changes: vec![c], ..Plan::default() };
        let text = render_plan(&plan, Style::default());
        assert!(text.contains("-/+ resource"), "{text}");
        assert!(text.contains("~ filename = \"old\" -> \"new\" # forces replacement"), "{text}");
        assert!(text.contains("(sensitive value)"), "{text}");
        assert!(!text.contains("s3cret"), "{text}");
        assert!(text.contains("Plan: 1 to add, 0 to change, 1 to destroy."));
    }

    #[test]
    fn no_changes_message() {
        let text = render_plan(&Plan::default(), Style::default());
        assert_eq!(text, "No changes. Your infrastructure matches the configuration.\n");
    }

    /// An incomplete plan with nothing to do in what it could plan does not claim that everything
    /// matches the configuration.
    #[test]
    fn an_incomplete_plan_without_changes_does_not_say_everything_matches() {
        let plan = Plan {
            failures: vec![meshform_engine::plan::PlanFailure {
                address: "asm_mesh.one".into(),
                provider: "provider.asm.one".into(),
                message: "connection refused".into(),
            }],
            ..Plan::default()
        };
        let text = render_plan(&plan, Style::default());
        assert!(text.contains("Warning: this plan is incomplete"), "{text}");
        assert!(text.contains("asm_mesh.one (provider provider.asm.one): connection refused"));
        assert!(text.ends_with("No changes in what could be planned. Whether the parts left out match the configuration is not known.\n"), "{text}");
        assert!(!text.contains("Your infrastructure matches"), "{text}");
    }
}
