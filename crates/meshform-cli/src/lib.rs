//! The meshform command-line interface: the only crate that touches the terminal, process arguments,
//! environment variables and exit codes.
//!
//! - [`args`]: the clap command-line definition.
//! - [`commands`]: one thin module per command, over `meshform_engine::ops`.
//! - [`kms`]: the Alibaba Cloud KMS client of the `alicloud_kms` key provider (state encryption).
//! - [`logging`]: the debug log (`MESHFORM_LOG`, `MESHFORM_LOG_PATH`).
//! - [`render`]: plans and state as text and JSON.
//! - [`output`]: [`output::Output`], the one writer of stdout and stderr for command results.
//! - [`reporters`]: the terminal (and JSON-lines) `Reporter`.
//! - [`report`]: diagnostics as miette reports, errors to exit codes.
//! - [`settings`]: what comes from the environment (variables, `NO_COLOR`, `CI`).

pub mod args;
pub mod commands;
pub mod kms;
pub mod logging;
pub mod output;
pub mod render;
pub mod report;
pub mod reporters;
pub mod settings;

use std::process::ExitCode;

use clap::Parser;

/// Parses arguments, runs the command, and maps the result to an exit code.
pub fn run() -> ExitCode {
    // One TLS crypto provider for every client in the binary (kube, reqwest): aws-lc-rs.
    let _ = rustls::crypto::aws_lc_rs::default_provider().install_default();
    let cli = match args::Cli::try_parse_from(args::terraform_style(std::env::args_os().collect()))
    {
        Ok(cli) => cli,
        // clap exits 2 on a usage error, but 2 means "changes present" to `plan --detailed-exitcode`
        // scripts: a mistyped flag must be an error (1). Help and --version still exit 0.
        Err(e) => {
            let _ = e.print();
            return ExitCode::from(if e.use_stderr() {
                report::exit::ERROR
            } else {
                report::exit::OK
            });
        }
    };
    let mut settings = settings::Settings::from_env(&cli);
    let log = std::env::var("MESHFORM_LOG").ok();
    let log_path = std::env::var_os("MESHFORM_LOG_PATH").filter(|p| !p.is_empty());
    if let Some(warning) =
        logging::init(log.as_deref(), log_path.as_deref().map(std::path::Path::new))
    {
        output::Output.eline(format_args!("warning: {warning}"));
    }
    // Like `git -C` and `terraform -chdir`: run as if started in DIR, so that every relative path
    // (--var-file, state push FILE, fmt FILE…) is relative to it, not only the configuration.
    if let Some(dir) = &cli.chdir {
        if let Err(e) = std::env::set_current_dir(dir) {
            let message = format!("cannot change to the directory {}: {e}", dir.display());
            report::print_error(&settings, &message, Some("check the path given with -C/--chdir"));
            return ExitCode::from(1);
        }
        // Absolute, so that messages naming the directory say which one.
        settings.dir = std::env::current_dir().unwrap_or_else(|_| ".".into());
    }
    let runtime = match tokio::runtime::Builder::new_multi_thread().enable_all().build() {
        Ok(rt) => rt,
        Err(e) => {
            report::print_error(&settings, &format!("cannot start the async runtime: {e}"), None);
            return ExitCode::from(1);
        }
    };
    let code = runtime.block_on(commands::dispatch(cli, settings));
    ExitCode::from(code)
}
