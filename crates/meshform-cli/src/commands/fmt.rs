//! `meshform fmt [--check] [--diff] [--recursive] [FILE…]`.

use std::path::PathBuf;

use meshform_config::fmt::{format_source, unified_diff};

use crate::output::Output;
use crate::report::{self, exit};
use crate::settings::Settings;

/// Rewrites files in canonical style; with `--check`, only reports (exit 3 when a file would change).
pub fn fmt(settings: &Settings, check: bool, diff: bool, recursive: bool, files: &[PathBuf]) -> u8 {
    let files: Vec<PathBuf> = if files.is_empty() {
        let mut v = Vec::new();
        hcl_files(&settings.dir, recursive, &mut v);
        v.sort();
        v
    } else {
        files.to_vec()
    };
    let mut unformatted = false;
    let mut failed = false;
    for path in files {
        let name = path.strip_prefix(&settings.dir).unwrap_or(&path).display().to_string();
        let text = match std::fs::read_to_string(&path) {
            Ok(t) => t,
            Err(e) => {
                report::print_error(
                    settings,
                    &format!("cannot read {}: {e}", path.display()),
                    None,
                );
                failed = true;
                continue;
            }
        };
        let formatted = match format_source(&text) {
            Ok(f) => f,
            Err(e) => {
                report::print_error(
                    settings,
                    &format!("{name}:{}:{}: cannot format: {}", e.line, e.column, e.message),
                    Some("fix the syntax error first (`meshform validate` shows it with context)"),
                );
                failed = true;
                continue;
            }
        };
        if formatted == text {
            continue;
        }
        unformatted = true;
        Output.line(&name);
        if diff {
            Output.print(unified_diff(&name, &text, &formatted));
        }
        if !check {
            if let Err(e) = std::fs::write(&path, &formatted) {
                report::print_error(
                    settings,
                    &format!("cannot write {}: {e}", path.display()),
                    None,
                );
                failed = true;
            }
        }
    }
    if failed {
        exit::ERROR
    } else if check && unformatted {
        exit::UNFORMATTED
    } else {
        exit::OK
    }
}

/// The `*.hcl` files of `dir`, and with `recursive` of its subdirectories (not hidden ones, such as
/// `.meshform` or `.git`).
fn hcl_files(dir: &std::path::Path, recursive: bool, out: &mut Vec<PathBuf>) {
    for entry in std::fs::read_dir(dir).into_iter().flatten().filter_map(Result::ok) {
        let path = entry.path();
        let hidden = entry.file_name().to_string_lossy().starts_with('.');
        if path.is_dir() {
            if recursive && !hidden {
                hcl_files(&path, true, out);
            }
        } else if path.extension().is_some_and(|x| x == "hcl") {
            out.push(path);
        }
    }
}
