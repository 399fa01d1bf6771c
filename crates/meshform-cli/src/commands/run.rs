//! `plan`, `apply` and `destroy`.

use std::io::{BufRead, Write};

use meshform_core::{AddrPattern, Diagnostics};
use meshform_engine::apply::ApplyOptions;
use meshform_engine::ops::{self, Planned};
use meshform_engine::plan::walk::PlanOptions;
use meshform_engine::plan::PlanMode;
use meshform_engine::Reporter;
use tokio::sync::watch;

use super::{parse_duration, usage_error, var_inputs, workspace};
use crate::args::PlanArgs;
use crate::render::json::{plan_events, version_line};
use crate::render::text::{inline, render_plan, Style};
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
                    "addresses look like local_file.a, local_file.a[0] or local_file.a[\"key\"]",
                )
            })
        })
        .collect()
}

fn plan_options(settings: &Settings, args: &PlanArgs, destroy: bool) -> Result<PlanOptions, u8> {
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
    Ok(PlanOptions {
        mode,
        refresh: args.refresh,
        targets: patterns(settings, "--target", &args.targets)?,
        excludes: patterns(settings, "--exclude", &args.excludes)?,
        replace: patterns(settings, "--replace", &args.replace)?,
        parallelism: args.parallelism as usize,
    })
}

#[allow(clippy::print_stdout)]
fn emit_warnings(settings: &Settings, json: Option<&JsonReporter>, diags: &Diagnostics) {
    match json {
        Some(j) => diags.iter().for_each(|d| j.diagnostic(d)),
        None => report::print_diagnostics(settings, diags),
    }
}

/// Locks, plans, and prints; returns the plan or the exit code of a failure.
async fn locked_plan(
    settings: &Settings,
    args: &PlanArgs,
    operation: &str,
    destroy: bool,
    reporter: &dyn Reporter,
    json: Option<&JsonReporter>,
) -> Result<(Planned, Box<dyn meshform_state::StateLock>), u8> {
    let ws = workspace(settings);
    let opts = plan_options(settings, args, destroy)?;
    let vars = var_inputs(settings, &args.vars)
        .map_err(|m| usage_error(settings, &m, "write --var name=value"))?;
    let timeout = parse_duration(&args.lock.lock_timeout)
        .map_err(|m| usage_error(settings, &m, "e.g. --lock-timeout=30s"))?;
    let lock = match ops::lock(&ws, operation, &settings.who, timeout).await {
        Ok(l) => l,
        Err(e) => {
            emit_warnings(settings, json, &report::state_diagnostic(&e).into());
            return Err(exit::ERROR);
        }
    };
    match ops::plan(&ws, &vars, &opts, reporter).await {
        Ok(p) => {
            emit_warnings(settings, json, &p.diags);
            Ok((p, lock))
        }
        Err(e) => {
            match (json, &e) {
                (Some(j), ops::PlanError::Diagnostics(d)) => d.iter().for_each(|x| j.diagnostic(x)),
                _ => report::print_plan_error(settings, &e),
            }
            Err(exit::ERROR)
        }
    }
}

/// `meshform plan`.
#[allow(clippy::print_stdout)]
pub async fn plan(settings: &Settings, args: &PlanArgs) -> u8 {
    let json = args.json.then(JsonReporter::default);
    if let Some(j) = &json {
        j.emit(version_line());
    }
    let term = TerminalReporter::new();
    let reporter: &dyn Reporter = match &json {
        Some(j) => j,
        None => &term,
    };
    let (planned, _lock) =
        match locked_plan(settings, args, "plan", false, reporter, json.as_ref()).await {
            Ok(x) => x,
            Err(code) => return code,
        };
    match &json {
        Some(j) => plan_events(&planned.plan).into_iter().for_each(|e| j.emit(e)),
        None => {
            if !planned.plan.drift.is_empty() || planned.plan.actionable().next().is_some() {
                println!();
            }
            print!("{}", render_plan(&planned.plan, Style { color: settings.color }));
        }
    }
    if !planned.plan.complete() {
        return exit::ERROR;
    }
    if args.detailed_exitcode && planned.plan.has_changes() {
        return exit::CHANGES;
    }
    exit::OK
}

/// `meshform apply` and `meshform destroy`.
#[allow(clippy::print_stdout, clippy::print_stderr)]
pub async fn apply(settings: &Settings, args: &PlanArgs, auto_approve: bool, destroy: bool) -> u8 {
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
    let (planned, _lock) =
        match locked_plan(settings, args, op, destroy, reporter, json.as_ref()).await {
            Ok(x) => x,
            Err(code) => return code,
        };
    let style = Style { color: settings.color };
    match &json {
        Some(j) => plan_events(&planned.plan).into_iter().for_each(|e| j.emit(e)),
        None => {
            println!();
            print!("{}", render_plan(&planned.plan, style));
        }
    }
    if !planned.plan.complete() {
        return usage_error(
            settings,
            "the plan is incomplete, so it will not be applied",
            "fix the failures listed above, or narrow the run with --target/--exclude to the parts that can be planned",
        );
    }
    if !planned.plan.has_changes() {
        return exit::OK;
    }
    if !auto_approve {
        let question = if destroy {
            "Do you really want to destroy all resources?"
        } else {
            "Do you want to perform these actions?"
        };
        print!("\n{question}\n  meshform will perform the actions described above.\n  Only 'yes' will be accepted to approve.\n\n  Enter a value: ");
        let _ = std::io::stdout().flush();
        let mut answer = String::new();
        let _ = std::io::stdin().lock().read_line(&mut answer);
        if answer.trim() != "yes" {
            println!("\n{} cancelled.", if destroy { "Destroy" } else { "Apply" });
            return exit::ERROR;
        }
        println!();
    }
    let (tx, rx) = watch::channel(false);
    let quiet = json.is_some();
    let interrupt = tokio::spawn(async move {
        if tokio::signal::ctrl_c().await.is_ok() {
            if !quiet {
                eprintln!("\nInterrupt received. Waiting for the operations in flight to finish, then saving state...\nPress Ctrl-C again to exit immediately (state is saved after every operation).");
            }
            let _ = tx.send(true);
            if tokio::signal::ctrl_c().await.is_ok() {
                eprintln!("\nTwo interrupts received. Exiting immediately.");
                std::process::exit(130);
            }
        }
    });
    let ws = workspace(settings);
    let opts = ApplyOptions { parallelism: args.parallelism as usize, ..ApplyOptions::default() };
    let outcome = ops::apply(&ws, planned, &opts, reporter, rx).await;
    interrupt.abort();
    emit_warnings(settings, json.as_ref(), &outcome.diags);
    let failed = outcome.diags.has_errors() || outcome.interrupted;
    if let Some(j) = &json {
        j.emit(serde_json::json!({
            "type": "change_summary",
            "changes": {"add": outcome.added, "change": outcome.changed, "remove": outcome.destroyed, "operation": op},
            "skipped": outcome.skipped,
            "interrupted": outcome.interrupted,
            "errored": failed,
        }));
        return if failed { exit::ERROR } else { exit::OK };
    }
    if !outcome.skipped.is_empty() {
        eprintln!("\nNot attempted because something they depend on failed (upstream dependencies failed):");
        for s in &outcome.skipped {
            eprintln!("  - {s}");
        }
    }
    if outcome.interrupted {
        eprintln!("\nApply interrupted: some operations were not started. State holds everything that finished; run apply again to continue.");
    }
    if failed {
        eprintln!("\nApply failed. Resources: {} added, {} changed, {} destroyed; state holds everything that succeeded.", outcome.added, outcome.changed, outcome.destroyed);
        return exit::ERROR;
    }
    if destroy {
        println!("\nDestroy complete! Resources: {} destroyed.", outcome.destroyed);
    } else {
        println!(
            "\nApply complete! Resources: {} added, {} changed, {} destroyed.",
            outcome.added, outcome.changed, outcome.destroyed
        );
        print_outputs(settings);
    }
    exit::OK
}

#[allow(clippy::print_stdout)]
fn print_outputs(settings: &Settings) {
    let ws = workspace(settings);
    let Ok(Some(state)) = ws.store.read() else { return };
    if state.outputs.is_empty() {
        return;
    }
    println!("\nOutputs:\n");
    for (name, o) in &state.outputs {
        let v = meshform_core::Value::from_json(&o.value).with_mark(o.sensitive);
        println!("{name} = {}", inline(&v));
    }
}
