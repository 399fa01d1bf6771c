//! `plan`, `apply` and `destroy`.

use std::io::BufRead;
use std::path::Path;

use meshform_core::{AddrPattern, Diagnostics, ModulePattern, Selector};
use meshform_engine::apply::ApplyOptions;
use meshform_engine::ops::{self, Planned, Workspace};
use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::plan::{Plan, PlanMode};
use meshform_engine::planfile::PlanFile;
use meshform_engine::Reporter;
use tokio::sync::watch;

use super::environment::environments;
use super::{parse_duration, usage_error, var_inputs, workspace};
use crate::args::PlanArgs;
use crate::output::Output;
use crate::render::json::{apply_summary, left_out_event, plan_events, version_line};
use crate::render::markdown::{render_markdown, MarkdownOptions};
use crate::render::text::{
    environment_lines, inline, left_out, left_out_lines, render_plan, Style,
};
use crate::report::{self, exit};
use crate::reporters::{JsonReporter, TerminalReporter};
use crate::settings::Settings;

fn patterns(settings: &Settings, flag: &str, list: &[String]) -> Result<Vec<AddrPattern>, u8> {
    list.iter()
        .map(|s| {
            s.parse::<AddrPattern>().map_err(|e| {
                usage_error(
                    settings,
                    &format!("{flag}: {e}"),
                    "--replace takes resource instances: local_file.a, local_file.a[0] or module.NAME.local_file.a[\"key\"]",
                )
            })
        })
        .collect()
}

/// `--target`/`--exclude` values: resources and instances, and modules (all they hold).
fn selectors(
    settings: &Settings,
    flag: &str,
    list: &[String],
) -> Result<(Vec<AddrPattern>, Vec<ModulePattern>), u8> {
    let mut resources = Vec::new();
    let mut modules = Vec::new();
    for s in list {
        match s.parse::<Selector>() {
            Ok(Selector::Resource(p)) => resources.push(p),
            Ok(Selector::Module(m)) => modules.push(m),
            Err(e) => {
                return Err(usage_error(
                    settings,
                    &format!("{flag}: {e}"),
                    "addresses look like local_file.a, local_file.a[0], local_file.a[\"key\"], module.NAME or module.NAME[\"key\"].local_file.a",
                ))
            }
        }
    }
    Ok((resources, modules))
}

pub(super) fn plan_options(
    settings: &Settings,
    args: &PlanArgs,
    destroy: bool,
) -> Result<PlanOptions, u8> {
    if args.destroy && args.refresh_only {
        return Err(usage_error(
            settings,
            "--destroy and --refresh-only cannot be combined",
            "choose one",
        ));
    }
    let mode = if destroy || args.destroy {
        PlanMode::Destroy
    } else if args.refresh_only {
        PlanMode::RefreshOnly
    } else {
        PlanMode::Normal
    };
    let (targets, module_targets) = selectors(settings, "--target", &args.targets)?;
    let (excludes, module_excludes) = selectors(settings, "--exclude", &args.excludes)?;
    if !args.targets.is_empty() || !args.excludes.is_empty() {
        // As Terraform warns: a targeted plan is not the whole configuration's.
        Output.eline("Warning: resource targeting is in effect\n\n  This plan covers only what --target/--exclude select, so other changes the configuration\n  asks for may be left unplanned. Target to recover from an error or an outage, not routinely.\n");
    }
    Ok(PlanOptions {
        mode,
        refresh: args.refresh,
        targets,
        excludes,
        replace: patterns(settings, "--replace", &args.replace)?,
        module_targets,
        module_excludes,
        parallelism: args.parallelism as usize,
    })
}

/// Whether `--detailed-exitcode` reports changes: in a refresh-only plan (the drift probe), whether
/// anything drifted; otherwise whether applying would change anything.
pub(super) fn reports_changes(plan: &Plan) -> bool {
    match plan.mode {
        PlanMode::RefreshOnly => !plan.drift.is_empty(),
        _ => plan.has_changes(),
    }
}

pub(super) fn emit_warnings(settings: &Settings, json: Option<&JsonReporter>, diags: &Diagnostics) {
    match json {
        Some(j) => diags.iter().for_each(|d| j.diagnostic(d)),
        None => report::print_diagnostics(settings, diags),
    }
}

/// The workspace and its plan, made under the state lock (returned with it), warnings printed;
/// or the exit code of a failure, already reported.
type LockedPlan = (Workspace, Planned, Box<dyn meshform_state::StateLock>);

/// Opens the workspace (the configuration parsed once), locks, plans, and prints the warnings.
async fn locked_plan(
    settings: &Settings,
    args: &PlanArgs,
    operation: &str,
    destroy: bool,
    reporter: &dyn Reporter,
    json: Option<&JsonReporter>,
) -> Result<LockedPlan, u8> {
    let (ws, parsed) = workspace(settings)?;
    let opts = plan_options(settings, args, destroy)?;
    let vars = var_inputs(settings, &args.vars)
        .map_err(|m| usage_error(settings, &m, "write --var name=value"))?;
    let lock = take_lock(settings, &ws, &args.lock.lock_timeout, operation, json).await?;
    match ops::plan_parsed(&ws, parsed, &vars, &opts, reporter).await {
        Ok(p) => {
            emit_warnings(settings, json, &p.diags);
            Ok((ws, p, lock))
        }
        Err(e) => {
            print_plan_error(settings, json, &e);
            Err(exit::ERROR)
        }
    }
}

/// Takes the state lock, waiting up to `--lock-timeout`.
pub(super) async fn take_lock(
    settings: &Settings,
    ws: &Workspace,
    lock_timeout: &str,
    operation: &str,
    json: Option<&JsonReporter>,
) -> Result<Box<dyn meshform_state::StateLock>, u8> {
    let timeout = parse_duration(lock_timeout)
        .map_err(|m| usage_error(settings, &m, "e.g. --lock-timeout=30s"))?;
    ops::lock(ws, operation, &settings.who, timeout).await.map_err(|e| {
        emit_warnings(settings, json, &report::state_diagnostic(&e).into());
        exit::ERROR
    })
}

/// A planning failure, as JSON diagnostics or a report.
pub(super) fn print_plan_error(
    settings: &Settings,
    json: Option<&JsonReporter>,
    e: &ops::PlanError,
) {
    match (json, e) {
        (Some(j), ops::PlanError::Diagnostics(d)) => d.iter().for_each(|x| j.diagnostic(x)),
        (Some(j), ops::PlanError::State(e)) => j.diagnostic(&report::state_diagnostic(e)),
        _ => report::print_plan_error(settings, e),
    }
}

/// `meshform plan`.
pub async fn plan(settings: &Settings, args: &PlanArgs, out: Option<&Path>, markdown: bool) -> u8 {
    let json = args.json.then(JsonReporter::default);
    if let Some(j) = &json {
        j.emit(version_line());
    }
    let term = TerminalReporter::new();
    let reporter: &dyn Reporter = match &json {
        Some(j) => j,
        None => &term,
    };
    let (_ws, planned, _lock) =
        match locked_plan(settings, args, "plan", false, reporter, json.as_ref()).await {
            Ok(x) => x,
            Err(code) => return code,
        };
    let mut saved = None;
    if let Some(path) = out {
        let Ok(opts) = plan_options(settings, args, false) else { return exit::ERROR };
        let enc = match super::backend::encryption_of(settings, &planned.loaded.config) {
            Ok(e) => e,
            Err(d) => {
                emit_warnings(settings, json.as_ref(), &d);
                return exit::ERROR;
            }
        };
        let file = PlanFile::new(&planned, &opts, &settings.workspace)
            .without_digests_of(&enc.passphrase_variables);
        if let Err(e) = file.write_encrypted(path, &enc.plan) {
            let d = meshform_core::Diagnostic::error(
                "meshform::plan::out",
                format!("cannot write the plan file {}: {e}", path.display()),
            )
            .with_help("check that the directory exists and is writable");
            emit_warnings(settings, json.as_ref(), &d.into());
            return exit::ERROR;
        }
        saved = Some(path);
    }
    match &json {
        Some(j) => plan_events(&planned.plan).into_iter().for_each(|e| j.emit(e)),
        None if markdown => {
            let opts = MarkdownOptions {
                workspace: (settings.workspace != meshform_state::DEFAULT_WORKSPACE)
                    .then(|| settings.workspace.clone()),
                plan_file: saved.map(|p| p.display().to_string()),
                ..MarkdownOptions::default()
            };
            Output.print(render_markdown(&planned.plan, &opts));
        }
        None => {
            if !planned.plan.drift.is_empty() || planned.plan.actionable().next().is_some() {
                Output.blank();
            }
            Output.print(environment_lines(&environments(&planned, settings)));
            Output.print(render_plan(&planned.plan, Style { color: settings.color }));
            if let Some(path) = saved {
                let rule = "─".repeat(77);
                let allow = if planned.plan.complete() { "" } else { "--allow-incomplete " };
                Output.line(format_args!("\n{rule}\n\nSaved the plan to: {}\n\nTo perform exactly these actions, run the following command to apply:\n    meshform apply {allow}{}", path.display(), path.display()));
            }
        }
    }
    if !planned.plan.complete() {
        return exit::ERROR;
    }
    if args.detailed_exitcode && reports_changes(&planned.plan) {
        return exit::CHANGES;
    }
    exit::OK
}

/// What the user allowed an apply to do without asking.
#[derive(Clone, Copy, Debug)]
pub struct Approval {
    /// No confirmation prompt (`--auto-approve`).
    pub auto_approve: bool,
    /// Apply an incomplete plan's planned part (`--allow-incomplete`).
    pub allow_incomplete: bool,
}

/// `meshform apply` and `meshform destroy`.
pub async fn apply(settings: &Settings, args: &PlanArgs, approval: Approval, destroy: bool) -> u8 {
    let auto_approve = approval.auto_approve;
    if args.detailed_exitcode {
        return usage_error(
            settings,
            &format!(
                "--detailed-exitcode is a plan option; {} says whether it succeeded by 0 or 1",
                if destroy { "destroy" } else { "apply" }
            ),
            "use `meshform plan --detailed-exitcode` to learn whether there are changes",
        );
    }
    if args.json && !auto_approve {
        return usage_error(
            settings,
            "--json needs --auto-approve: there is no prompt in machine-readable mode",
            "add --auto-approve",
        );
    }
    if !auto_approve && !settings.interactive {
        return usage_error(
            settings,
            "refusing to apply without confirmation: standard input is not a terminal",
            "review the plan, then run again with --auto-approve (CI pipelines always pass it)",
        );
    }
    let json = args.json.then(JsonReporter::default);
    if let Some(j) = &json {
        j.emit(version_line());
    }
    let term = TerminalReporter::new();
    let reporter: &dyn Reporter = match &json {
        Some(j) => j,
        None => &term,
    };
    let op = if destroy { "destroy" } else { "apply" };
    let (ws, planned, _lock) =
        match locked_plan(settings, args, op, destroy, reporter, json.as_ref()).await {
            Ok(x) => x,
            Err(code) => return code,
        };
    let style = Style { color: settings.color };
    match &json {
        Some(j) => plan_events(&planned.plan).into_iter().for_each(|e| j.emit(e)),
        None => {
            Output.blank();
            Output.print(environment_lines(&environments(&planned, settings)));
            Output.print(render_plan(&planned.plan, style));
        }
    }
    if !planned.plan.complete() && !approval.allow_incomplete {
        return usage_error(
            settings,
            "the plan is incomplete, so it will not be applied",
            "fix the failures listed above, narrow the run with --target/--exclude, or apply what was planned with --allow-incomplete",
        );
    }
    if !planned.plan.has_changes() {
        report_left_out(&left_out(&planned.plan), json.as_ref());
        return exit::OK;
    }
    if !auto_approve {
        let question = if destroy {
            "Do you really want to destroy all resources?"
        } else {
            "Do you want to perform these actions?"
        };
        Output.print(format_args!("\n{question}\n  meshform will perform the actions described above.\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: "));
        Output.flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if answer.trim() != "yes" {
            Output.line(format_args!("\n{} cancelled.", if destroy { "Destroy" } else { "Apply" }));
            return exit::ERROR;
        }
        Output.blank();
    }
    let opts = ApplyOptions { parallelism: args.parallelism as usize, ..ApplyOptions::default() };
    run_apply(settings, &ws, planned, &opts, op, reporter, json.as_ref()).await
}

/// Applies a plan with Ctrl-C handling, then reports the outcome; returns the exit code.
pub(super) async fn run_apply(
    settings: &Settings,
    ws: &Workspace,
    planned: Planned,
    opts: &ApplyOptions,
    op: &str,
    reporter: &dyn Reporter,
    json: Option<&JsonReporter>,
) -> u8 {
    let destroy = planned.plan.mode == PlanMode::Destroy;
    let left_out = left_out(&planned.plan);
    let (tx, rx) = watch::channel(false);
    let quiet = json.is_some();
    let interrupt = super::signals::on_shutdown(tx, quiet);
    let outcome = ops::apply(ws, planned, opts, reporter, rx).await;
    interrupt.abort();
    emit_warnings(settings, json, &outcome.diags);
    let failed = outcome.diags.has_errors() || outcome.interrupted;
    if let Some(j) = json {
        j.emit(apply_summary(&outcome, op, failed));
        report_left_out(&left_out, json);
        return if failed { exit::ERROR } else { exit::OK };
    }
    report_left_out(&left_out, None);
    if !outcome.skipped.is_empty() {
        Output.eline("\nNot attempted because something they depend on failed (upstream dependencies failed):");
        for s in &outcome.skipped {
            Output.eline(format_args!("  - {s}"));
        }
    }
    if outcome.interrupted {
        Output.eline("\nApply interrupted: some operations were not started. State holds everything that finished; run apply again to continue.");
    }
    if failed {
        Output.eline(format_args!(
            "\nApply failed. Resources: {}; state holds everything that succeeded.",
            crate::render::text::resource_counts(&outcome)
        ));
        return exit::ERROR;
    }
    if destroy {
        Output
            .line(format_args!("\nDestroy complete! Resources: {} destroyed.", outcome.destroyed));
    } else {
        Output.line(format_args!(
            "\nApply complete! Resources: {}.",
            crate::render::text::resource_counts(&outcome)
        ));
        print_outputs(ws);
    }
    exit::OK
}

/// What an apply of an incomplete plan (`--allow-incomplete`) left out, after its outcome.
pub(super) fn report_left_out(left_out: &[String], json: Option<&JsonReporter>) {
    if left_out.is_empty() {
        return;
    }
    match json {
        Some(j) => j.emit(left_out_event(left_out)),
        None => Output.eline(left_out_lines(left_out)),
    }
}

fn print_outputs(ws: &Workspace) {
    let Ok(Some(state)) = ws.store.read() else { return };
    if state.outputs.is_empty() {
        return;
    }
    Output.line("\nOutputs:\n");
    for (name, o) in &state.outputs {
        let v = meshform_core::Value::from_json(&o.value).with_mark(o.sensitive);
        Output.line(format_args!("{name} = {}", inline(&v)));
    }
}
