//! `apply PLANFILE` and `show PLANFILE`: saved plans (see `meshform_engine::planfile`).

use std::path::Path;

use meshform_core::{Diagnostic, Diagnostics};
use meshform_engine::apply::ApplyOptions;
use meshform_engine::planfile::check::{replan, Refusal};
use meshform_engine::planfile::PlanFile;
use meshform_engine::Reporter;

use super::run::{emit_warnings, print_plan_error, report_left_out, run_apply, take_lock};
use super::{usage_error, var_inputs, workspace};
use crate::args::PlanArgs;
use crate::output::Output;
use crate::render::json::{plan_events, version_line};
use crate::render::markdown::{render_markdown, MarkdownOptions};
use crate::render::plan_json::plan_document;
use crate::render::text::{left_out, render_plan, Style};
use crate::report::{self, exit};
use crate::reporters::{JsonReporter, TerminalReporter};
use crate::settings::Settings;

/// Reads a plan file, decrypting it as the configuration's `encryption` block says, checking its
/// format version and checksum.
fn read_plan_file(
    settings: &Settings,
    config: &meshform_config::Config,
    path: &Path,
) -> Result<PlanFile, Diagnostics> {
    let enc = super::backend::encryption_of(settings, config)?;
    let bytes = std::fs::read(path).map_err(|e| {
        let d = Diagnostic::error(
            "meshform::planfile::read",
            format!("cannot read the plan file {}: {e}", path.display()),
        )
        .with_help("give the path written by `meshform plan --out FILE`");
        Diagnostics::from(d)
    })?;
    PlanFile::decode_encrypted(&bytes, &enc.plan).map_err(|e| {
        Diagnostic::error("meshform::planfile::invalid", format!("{}: {e}", path.display())).into()
    })
}

/// The planning flags that a saved plan fixes, when any was given.
fn planning_flags(args: &PlanArgs) -> Option<&'static str> {
    [
        (args.destroy, "--destroy"),
        (args.refresh_only, "--refresh-only"),
        (!args.refresh, "--refresh=false"),
        (!args.targets.is_empty(), "--target"),
        (!args.excludes.is_empty(), "--exclude"),
        (!args.replace.is_empty(), "--replace"),
        (args.detailed_exitcode, "--detailed-exitcode"),
    ]
    .into_iter()
    .find_map(|(given, flag)| given.then_some(flag))
}

/// `meshform apply PLANFILE`: applies exactly the saved plan, without a prompt, or refuses naming
/// what changed since it was made.
pub async fn apply(
    settings: &Settings,
    path: &Path,
    args: &PlanArgs,
    allow_incomplete: bool,
) -> u8 {
    if let Some(flag) = planning_flags(args) {
        return usage_error(
            settings,
            &format!("{flag} cannot be combined with a saved plan: the plan was made with its own options"),
            "make a new plan with the option (`meshform plan --out FILE …`), then apply that file",
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
    // The configuration is read once: for the plan file's encryption and for the run.
    let (ws, parsed) = match workspace(settings) {
        Ok(x) => x,
        Err(c) => return c,
    };
    let file = match read_plan_file(settings, &parsed.config, path) {
        Ok(f) => f,
        Err(d) => {
            emit_warnings(settings, json.as_ref(), &d);
            return exit::ERROR;
        }
    };
    let saved_plan = match file.plan.to_plan() {
        Ok(p) => p,
        Err(e) => {
            let d = Diagnostic::error(
                "meshform::planfile::invalid",
                format!("{}: {e}", path.display()),
            );
            emit_warnings(settings, json.as_ref(), &d.into());
            return exit::ERROR;
        }
    };
    if !saved_plan.complete() && !allow_incomplete {
        return usage_error(
            settings,
            &format!("the saved plan {} is incomplete, so it cannot be applied", path.display()),
            "`meshform show` it to see what could not be planned; fix that and make a new plan, or apply what it planned with --allow-incomplete",
        );
    }
    let vars = match var_inputs(settings, &args.vars) {
        Ok(v) => v,
        Err(m) => return usage_error(settings, &m, "write --var name=value"),
    };
    let _lock =
        match take_lock(settings, &ws, &args.lock.lock_timeout, "apply", json.as_ref()).await {
            Ok(l) => l,
            Err(c) => return c,
        };
    let parallelism = args.parallelism as usize;
    let planned =
        match replan(&ws, parsed, &file, &settings.workspace, &vars, parallelism, reporter).await {
            Ok(p) => p,
            Err(Refusal::Stale(reasons)) => {
                let mut text = format!(
                    "the saved plan {} is stale: it cannot be applied as it was reviewed, because",
                    path.display()
                );
                for r in &reasons {
                    text.push_str("\n  - ");
                    text.push_str(r);
                }
                let d = Diagnostic::error("meshform::planfile::stale", text).with_help(
                    "make a new plan (`meshform plan --out FILE`), review it, and apply that file",
                );
                emit_warnings(settings, json.as_ref(), &d.into());
                return exit::ERROR;
            }
            Err(Refusal::File(e)) => {
                let d = Diagnostic::error(
                    "meshform::planfile::invalid",
                    format!("{}: {e}", path.display()),
                );
                emit_warnings(settings, json.as_ref(), &d.into());
                return exit::ERROR;
            }
            Err(Refusal::Plan(e)) => {
                print_plan_error(settings, json.as_ref(), &e);
                return exit::ERROR;
            }
        };
    emit_warnings(settings, json.as_ref(), &planned.diags);
    match &json {
        Some(j) => plan_events(&planned.plan).into_iter().for_each(|e| j.emit(e)),
        None => {
            let (add, change, destroy) = planned.plan.summary();
            Output.line(format_args!(
                "Applying the saved plan {} (workspace \"{}\"): {add} to add, {change} to change, {destroy} to destroy.\n",
                path.display(),
                file.workspace
            ));
        }
    }
    if !planned.plan.has_changes() {
        if json.is_none() {
            Output.line("No changes. Your infrastructure matches the configuration.");
        }
        report_left_out(&left_out(&planned.plan), json.as_ref());
        return exit::OK;
    }
    let op =
        if planned.plan.mode == meshform_engine::PlanMode::Destroy { "destroy" } else { "apply" };
    let opts = ApplyOptions { parallelism, ..ApplyOptions::default() };
    run_apply(settings, &ws, planned, &opts, op, reporter, json.as_ref()).await
}

/// `meshform show PLANFILE [--json | --markdown]`: the saved plan, without contacting anything.
pub fn show(settings: &Settings, path: &Path, json: bool, markdown: bool) -> u8 {
    let fail = |d: Diagnostic| {
        report::print_diagnostics(settings, &d.into());
        exit::ERROR
    };
    let config = meshform_engine::ops::parse(&settings.dir).config;
    let file = match read_plan_file(settings, &config, path) {
        Ok(f) => f,
        Err(d) => {
            report::print_diagnostics(settings, &d);
            return exit::ERROR;
        }
    };
    let plan = match file.plan.to_plan() {
        Ok(p) => p,
        Err(e) => {
            return fail(Diagnostic::error(
                "meshform::planfile::invalid",
                format!("{}: {e}", path.display()),
            ))
        }
    };
    if json {
        let doc = plan_document(&file, &plan);
        Output.line(serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else if markdown {
        let opts = MarkdownOptions {
            workspace: (file.workspace != meshform_state::DEFAULT_WORKSPACE)
                .then(|| file.workspace.clone()),
            plan_file: Some(path.display().to_string()),
            ..MarkdownOptions::default()
        };
        Output.print(render_markdown(&plan, &opts));
    } else {
        Output.print(render_plan(&plan, Style { color: settings.color }));
    }
    exit::OK
}
