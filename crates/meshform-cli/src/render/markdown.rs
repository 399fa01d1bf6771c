//! Plans as a pull-request comment (`plan --markdown`, `show --markdown FILE`): a summary table per
//! provider instance and region, destructive changes called out first, each change's attribute diff
//! in a collapsible `<details>` section, secrets redacted (the diffs are the text rendering's, which
//! never shows a secret), and the whole kept under GitHub's comment limit by folding the least
//! important detail first, saying what was folded.

use std::collections::BTreeMap;
use std::fmt::Write as _;

use meshform_core::Value;
use meshform_engine::plan::{Action, Plan, PlanMode, ResourceChange};

use super::text::{render_change, Style};

/// GitHub's limit on the body of a comment, in characters; kept in bytes here, which is stricter.
pub const GITHUB_COMMENT_LIMIT: usize = 65_536;

/// What to put around the plan.
#[derive(Clone, Debug)]
pub struct MarkdownOptions {
    /// The workspace the plan is for, shown in the heading.
    pub workspace: Option<String>,
    /// The saved plan file, named in the footer.
    pub plan_file: Option<String>,
    /// The size the comment must stay under, in bytes.
    pub limit: usize,
}

impl Default for MarkdownOptions {
    fn default() -> MarkdownOptions {
        MarkdownOptions { workspace: None, plan_file: None, limit: GITHUB_COMMENT_LIMIT }
    }
}

/// How much detail is folded, least important first.
#[derive(Clone, Copy, Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Fold {
    Nothing,
    DriftDetails,
    OtherDetails,
    DestructiveDetails,
    /// Lists cut to this many entries per section.
    Lists(usize),
}

/// The plan as a Markdown comment, at most `opts.limit` bytes.
pub fn render_markdown(plan: &Plan, opts: &MarkdownOptions) -> String {
    let mut levels =
        vec![Fold::Nothing, Fold::DriftDetails, Fold::OtherDetails, Fold::DestructiveDetails];
    levels.extend([200, 50, 10, 0].map(Fold::Lists));
    let mut last = String::new();
    for fold in levels {
        last = render_with(plan, opts, fold);
        if last.len() <= opts.limit {
            return last;
        }
    }
    // Even the barest form is too long (only with an absurdly small limit): cut it.
    let mut cut = opts.limit.saturating_sub(40).min(last.len());
    while !last.is_char_boundary(cut) {
        cut -= 1;
    }
    last.truncate(cut);
    last.push_str("\n\n_(truncated to fit the comment limit)_\n");
    last
}

fn is_destructive(c: &ResourceChange) -> bool {
    c.action.deletes()
}

fn render_with(plan: &Plan, opts: &MarkdownOptions, fold: Fold) -> String {
    let mut out = String::new();
    let (add, change, destroy) = plan.summary();
    let title = match &opts.workspace {
        Some(w) => format!("meshform plan · workspace `{}`", code_safe(w)),
        None => "meshform plan".to_owned(),
    };
    let actionable: Vec<&ResourceChange> = plan.actionable().collect();
    let headline = if plan.mode == PlanMode::RefreshOnly {
        format!("{} object(s) changed outside meshform", plan.drift.len())
    } else if plan.has_changes() {
        format!("{add} to add, {change} to change, {destroy} to destroy")
    } else {
        "no changes".to_owned()
    };
    let _ = writeln!(out, "### {title}: {headline}\n");

    if !plan.complete() {
        out.push_str("> [!CAUTION]\n> **This plan is incomplete**: `apply --allow-incomplete` applies only what was planned and leaves out:\n");
        for f in &plan.failures {
            let _ = writeln!(
                out,
                "> - `{}` ({}): {}",
                code_safe(&f.address),
                code_safe(&f.provider),
                escape(&f.message)
            );
        }
        for s in &plan.skipped {
            // `ADDRESS (why)`: the address as code, like the failures above.
            match s.split_once(" (") {
                Some((addr, why)) => {
                    let _ = writeln!(out, "> - `{}` ({}", code_safe(addr), escape(why));
                }
                None => {
                    let _ = writeln!(out, "> - `{}`", code_safe(s));
                }
            }
        }
        out.push('\n');
    }

    let destructive: Vec<&ResourceChange> =
        actionable.iter().copied().filter(|c| is_destructive(c)).collect();
    let others: Vec<&ResourceChange> =
        actionable.iter().copied().filter(|c| !is_destructive(c)).collect();
    if !destructive.is_empty() {
        let replaced = destructive.iter().filter(|c| c.action.is_replace()).count();
        let mut names: Vec<String> =
            destructive.iter().map(|c| format!("`{}`", code_safe(&c.addr.to_string()))).collect();
        let shown = match fold {
            Fold::Lists(n) => n.max(5),
            _ => names.len(),
        };
        let more = names.len().saturating_sub(shown);
        names.truncate(shown);
        let _ = writeln!(
            out,
            "> [!WARNING]\n> **{} object(s) will be destroyed**{}: {}{}\n",
            destructive.len(),
            if replaced > 0 { format!(" ({replaced} of them replaced)") } else { String::new() },
            names.join(", "),
            if more > 0 { format!(" and {more} more") } else { String::new() }
        );
    }

    if plan.mode != PlanMode::RefreshOnly && !actionable.is_empty() {
        summary_table(&actionable, &mut out);
    }
    out.push_str(&super::rollout::markdown(plan, code_safe));

    let mut folded = Vec::new();
    if !destructive.is_empty() {
        out.push_str("#### Destructive changes\n\n");
        let details = fold < Fold::DestructiveDetails;
        if !details {
            folded
                .push(format!("attribute details of {} destructive change(s)", destructive.len()));
        }
        change_list(&destructive, details, true, fold, &mut folded, &mut out);
    }
    if !others.is_empty() {
        out.push_str(if destructive.is_empty() {
            "#### Changes\n\n"
        } else {
            "#### Other changes\n\n"
        });
        let details = fold < Fold::OtherDetails;
        if !details {
            folded.push(format!("attribute details of {} other change(s)", others.len()));
        }
        change_list(&others, details, false, fold, &mut folded, &mut out);
    }
    refactoring_section(plan, &mut out);
    if !plan.drift.is_empty() {
        drift_section(plan, fold, &mut folded, &mut out);
    }
    let outputs: Vec<_> = plan.outputs.iter().filter(|o| o.action() != Action::NoOp).collect();
    if !outputs.is_empty() && plan.mode != PlanMode::RefreshOnly {
        out.push_str("#### Output changes\n\n| Output | Action | Value |\n|---|---|---|\n");
        for o in outputs {
            let value = match &o.after {
                _ if o.sensitive => meshform_core::REDACTED.to_owned(),
                Some(v) => super::text::inline(v),
                None => "(removed)".to_owned(),
            };
            let _ = writeln!(
                out,
                "| `{}` | {} | `{}` |",
                code_safe(&o.name),
                o.action().json_actions().join(", "),
                code_safe(&table_safe(&value))
            );
        }
        out.push('\n');
    }
    if !plan.has_changes() && plan.drift.is_empty() && plan.complete() {
        out.push_str("Your infrastructure matches the configuration.\n\n");
    }
    if !folded.is_empty() {
        let _ = writeln!(
            out,
            "> [!NOTE]\n> Folded to keep this comment under GitHub's {} character limit: {}. {}\n",
            GITHUB_COMMENT_LIMIT,
            folded.join("; "),
            match &opts.plan_file {
                Some(f) => format!("Run `meshform show {}` for the whole plan.", code_safe(f)),
                None => "Run `meshform plan` for the whole plan.".to_owned(),
            }
        );
    }
    if let Some(f) = &opts.plan_file {
        let allow = if plan.complete() { "" } else { "--allow-incomplete " };
        let _ = writeln!(
            out,
            "<sub>Saved plan: `{}`; apply it with `meshform apply {allow}{}`.</sub>",
            code_safe(f),
            code_safe(f)
        );
    }
    out
}

/// The table: per provider instance and region, how many instances are added, changed, replaced
/// and destroyed.
fn summary_table(changes: &[&ResourceChange], out: &mut String) {
    let mut rows: BTreeMap<(String, String), [usize; 4]> = BTreeMap::new();
    for c in changes {
        let region = region_of(c).unwrap_or_else(|| "—".to_owned());
        let row = rows.entry((c.provider.clone(), region)).or_default();
        match c.action {
            Action::Create => row[0] += 1,
            Action::Update => row[1] += 1,
            Action::DeleteThenCreate | Action::CreateThenDelete => row[2] += 1,
            Action::Delete => row[3] += 1,
            Action::Read | Action::NoOp => {}
        }
    }
    out.push_str(
        "| Provider | Region | Add | Change | Replace | Destroy |\n|---|---|--:|--:|--:|--:|\n",
    );
    let mut total = [0usize; 4];
    for ((provider, region), n) in &rows {
        for (t, x) in total.iter_mut().zip(n) {
            *t += x;
        }
        let _ = writeln!(
            out,
            "| `{}` | {} | {} | {} | {} | {} |",
            code_safe(provider),
            table_safe(&escape(region)),
            n[0],
            n[1],
            n[2],
            n[3]
        );
    }
    if rows.len() > 1 {
        let _ = writeln!(
            out,
            "| **total** | | **{}** | **{}** | **{}** | **{}** |",
            total[0], total[1], total[2], total[3]
        );
    }
    out.push('\n');
}

/// The region of a change, when its object names one (`region` or `region_id`).
fn region_of(c: &ResourceChange) -> Option<String> {
    [c.after.as_ref(), c.before.as_ref()].into_iter().flatten().find_map(|v| {
        ["region", "region_id"].iter().find_map(|k| match v.get(k) {
            Some(Value::String(s)) if !s.is_empty() => Some(s.clone()),
            _ => None,
        })
    })
}

fn symbol(a: Action) -> &'static str {
    match a {
        Action::Create => "🟢 create",
        Action::Update => "🟡 update",
        Action::Delete => "🔴 destroy",
        Action::DeleteThenCreate => "🔴 replace (destroy, then create)",
        Action::CreateThenDelete => "🟠 replace (create, then destroy)",
        Action::Read => "🔵 read",
        Action::NoOp => "no-op",
    }
}

fn change_list(
    changes: &[&ResourceChange],
    details: bool,
    open: bool,
    fold: Fold,
    folded: &mut Vec<String>,
    out: &mut String,
) {
    let limit = match fold {
        Fold::Lists(n) => n,
        _ => usize::MAX,
    };
    for c in changes.iter().take(limit) {
        let label = format!("<code>{}</code> · {}", html(&c.addr.to_string()), symbol(c.action));
        let reason = c.reason.as_ref().map(|r| format!(" — {}", html(&r.describe(&c.addr))));
        if details {
            let mut text = String::new();
            render_change(c, Style { color: false }, &mut text);
            // Drop the header line: the summary says it.
            let body: String =
                text.lines().skip(1).map(|l| format!("{}\n", diff_line(l))).collect();
            let _ = writeln!(
                out,
                "<details{}><summary>{label}{}</summary>\n\n{}\n</details>\n",
                if open { " open" } else { "" },
                reason.unwrap_or_default(),
                fenced("diff", &body)
            );
        } else {
            let _ = writeln!(out, "- {label}{}", reason.unwrap_or_default());
        }
    }
    if !details {
        out.push('\n');
    }
    if changes.len() > limit {
        let more = changes.len() - limit;
        let _ = writeln!(out, "- … and {more} more\n");
        folded.push(format!("{more} change(s) not listed"));
    }
}

/// What `moved`, `import` and `removed` blocks do to the state: renames, imports, objects let go.
fn refactoring_section(plan: &Plan, out: &mut String) {
    if plan.moves.is_empty() && plan.imports.is_empty() && plan.forgotten.is_empty() {
        return;
    }
    out.push_str("#### Moved, imported and forgotten\n\n");
    for m in &plan.moves {
        let (from, to) = (html(&m.from.to_string()), html(&m.to.to_string()));
        let _ = writeln!(out, "- <code>{from}</code> has moved to <code>{to}</code>");
    }
    for i in &plan.imports {
        let (addr, id) = (html(&i.addr.to_string()), html(&i.id));
        let _ = writeln!(out, "- <code>{addr}</code> will be imported (id <code>{id}</code>)");
    }
    for f in &plan.forgotten {
        let _ = writeln!(
            out,
            "- <code>{}</code> will no longer be managed by meshform, but will not be destroyed",
            html(&f.addr.to_string())
        );
    }
    out.push('\n');
}

fn drift_section(plan: &Plan, fold: Fold, folded: &mut Vec<String>, out: &mut String) {
    out.push_str("#### Objects changed outside meshform\n\n");
    let details = fold < Fold::DriftDetails;
    if !details {
        folded.push(format!("attribute details of {} drifted object(s)", plan.drift.len()));
    }
    let limit = match fold {
        Fold::Lists(n) => n,
        _ => usize::MAX,
    };
    for d in plan.drift.iter().take(limit) {
        let what = if d.after.is_some() { "changed" } else { "deleted" };
        let label = format!("<code>{}</code> · {what}", html(&d.addr.to_string()));
        if details {
            let synthetic = ResourceChange {
                addr: d.addr.clone(),
                provider: d.provider.clone(),
                action: if d.after.is_some() { Action::Update } else { Action::Delete },
                before: Some(d.before.clone()),
                after: d.after.clone(),
                replace_paths: Vec::new(),
                reason: None,
                dependencies: Vec::new(),
                create_before_destroy: false,
                deposed: false,
            };
            let mut text = String::new();
            render_change(&synthetic, Style { color: false }, &mut text);
            let body: String =
                text.lines().skip(1).map(|l| format!("{}\n", diff_line(l))).collect();
            let _ = writeln!(
                out,
                "<details><summary>{label}</summary>\n\n{}\n</details>\n",
                fenced("diff", &body)
            );
        } else {
            let _ = writeln!(out, "- {label}");
        }
    }
    if !details {
        out.push('\n');
    }
    if plan.drift.len() > limit {
        let more = plan.drift.len() - limit;
        let _ = writeln!(out, "- … and {more} more\n");
        folded.push(format!("{more} drifted object(s) not listed"));
    }
}

/// Moves a line's change symbol to the first column, where GitHub's `diff` highlighting looks for
/// it (`~` becomes `!`, the changed-line marker).
fn diff_line(line: &str) -> String {
    let trimmed = line.trim_start();
    let indent = line.len() - trimmed.len();
    for (sym, mark) in
        [("-/+ ", "!"), ("+/- ", "!"), ("+ ", "+"), ("- ", "-"), ("~ ", "!"), ("<= ", "+")]
    {
        if let Some(rest) = trimmed.strip_prefix(sym) {
            // The marker takes a column of its own; the symbol's columns become blanks.
            return format!("{mark}{}{rest}", " ".repeat(indent + sym.len()));
        }
    }
    format!(" {line}")
}

/// A fenced code block whose fence is longer than any backtick run inside.
fn fenced(lang: &str, body: &str) -> String {
    let mut longest = 0;
    let mut run = 0;
    for ch in body.chars() {
        if ch == '`' {
            run += 1;
            longest = longest.max(run);
        } else {
            run = 0;
        }
    }
    let fence = "`".repeat((longest + 1).max(3));
    format!("{fence}{lang}\n{body}{fence}")
}

/// Text for HTML (inside `<summary>` and `<code>`).
fn html(s: &str) -> String {
    s.replace('&', "&amp;").replace('<', "&lt;").replace('>', "&gt;").replace('"', "&quot;")
}

/// Text inside inline code: backticks cannot be escaped there, so they are replaced.
fn code_safe(s: &str) -> String {
    s.replace('`', "'").replace('\n', " ")
}

/// Text inside a table cell.
fn table_safe(s: &str) -> String {
    s.replace('|', "\\|").replace('\n', " ")
}

/// Plain Markdown text: characters that would start markup are escaped.
fn escape(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for c in s.chars() {
        if matches!(c, '\\' | '`' | '*' | '_' | '[' | ']' | '<' | '>' | '|' | '#') {
            out.push('\\');
        }
        if c == '\n' {
            out.push(' ');
        } else {
            out.push(c);
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshform_core::{InstanceKey, ResourceAddr};

    fn change(name: &str, action: Action) -> ResourceChange {
        let v = Value::map([
            ("content", Value::string("x".repeat(200))),
            ("password", Value::string("hunter2").sensitive()),
        ]);
        ResourceChange {
            addr: ResourceAddr::managed("local_file", name).instance(InstanceKey::None),
            provider: "local".into(),
            action,
            before: (action != Action::Create).then(|| v.clone()),
            after: (action != Action::Delete).then(|| {
                Value::map([
                    ("content", Value::string("y".repeat(200))),
                    ("password", Value::string("hunter3").sensitive()),
                ])
            }),
            replace_paths: Vec::new(),
            reason: None,
            dependencies: Vec::new(),
            create_before_destroy: false,
            deposed: false,
        }
    }

    #[test]
    fn destructive_changes_come_first_and_secrets_stay_hidden() {
        let plan = Plan {
            changes: vec![change("a_new", Action::Create), change("z_gone", Action::Delete)],
            ..Plan::default()
        };
        let md = render_markdown(&plan, &MarkdownOptions::default());
        assert!(md.starts_with("### meshform plan: 1 to add, 0 to change, 1 to destroy\n"), "{md}");
        let warn = md.find("[!WARNING]").unwrap();
        let gone = md.find("z_gone").unwrap();
        let new = md.find("a_new").unwrap();
        assert!(warn < gone && gone < new, "{md}");
        assert!(!md.contains("hunter"), "{md}");
        assert!(md.contains("| `local` | — | 1 | 0 | 0 | 1 |"), "{md}");
    }

    #[test]
    fn large_plans_fold_detail_and_say_so() {
        let changes: Vec<ResourceChange> = (0..400)
            .map(|i| {
                change(
                    &format!("f{i:03}"),
                    if i % 4 == 0 { Action::Delete } else { Action::Update },
                )
            })
            .collect();
        let plan = Plan { changes, ..Plan::default() };
        let md = render_markdown(&plan, &MarkdownOptions::default());
        assert!(md.len() <= GITHUB_COMMENT_LIMIT, "{}", md.len());
        assert!(md.contains("Folded to keep this comment under"), "{md}");
        assert!(md.contains("attribute details of 300 other change(s)"), "{md}");
        assert!(md.contains("f000"), "destructive changes are still named");
        let tiny =
            render_markdown(&plan, &MarkdownOptions { limit: 4000, ..MarkdownOptions::default() });
        assert!(tiny.len() <= 4000, "{}", tiny.len());
        assert!(tiny.contains("not listed"), "{tiny}");
    }

    #[test]
    fn fences_outgrow_backticks_inside() {
        assert_eq!(fenced("diff", "a ```` b\n"), "`````diff\na ```` b\n`````");
        assert_eq!(diff_line("      + content = \"x\""), "+        content = \"x\"");
        assert_eq!(diff_line("  -/+ resource \"a\" \"b\" {"), "!      resource \"a\" \"b\" {");
        assert_eq!(diff_line("    }"), "     }");
    }
}
