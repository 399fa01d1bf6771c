//! The debug log, as Terraform's `TF_LOG`: `MESHFORM_LOG=trace|debug|info|warn|error|off`
//! (case-insensitive) writes structured lines — `<time> LEVEL target: message key=value…`, e.g. each
//! ASM call's action, outcome, request id, retry and duration — to stderr, or appended to
//! `MESHFORM_LOG_PATH`. Libraries emit through `tracing` and never log a secret (no request
//! parameters, no headers, no state values); the HTTP and TLS libraries' own events are left out.

use std::fs::OpenOptions;
use std::path::Path;
use std::sync::Mutex;

use tracing::level_filters::LevelFilter;
use tracing_subscriber::filter::filter_fn;
use tracing_subscriber::fmt::writer::BoxMakeWriter;
use tracing_subscriber::layer::SubscriberExt;
use tracing_subscriber::util::SubscriberInitExt;
use tracing_subscriber::Layer;

/// The level `MESHFORM_LOG` asks for; `Err` carries a warning for a value that is not a level (which
/// then means `trace`, as Terraform takes an unknown `TF_LOG`).
pub fn level(value: &str) -> Result<LevelFilter, String> {
    match value.trim().to_ascii_lowercase().as_str() {
        "trace" => Ok(LevelFilter::TRACE),
        "debug" => Ok(LevelFilter::DEBUG),
        "info" => Ok(LevelFilter::INFO),
        "warn" => Ok(LevelFilter::WARN),
        "error" => Ok(LevelFilter::ERROR),
        "off" | "" => Ok(LevelFilter::OFF),
        other => Err(format!(
            "MESHFORM_LOG={other:?} is not a level (trace, debug, info, warn, error, off): logging at trace"
        )),
    }
}

/// Starts the debug log when `MESHFORM_LOG` asks for one; returns a warning to show, if any.
pub fn init(log: Option<&str>, path: Option<&Path>) -> Option<String> {
    let (filter, mut warning) = match log.map(level) {
        None => return None,
        Some(Ok(LevelFilter::OFF)) => return None,
        Some(Ok(f)) => (f, None),
        Some(Err(w)) => (LevelFilter::TRACE, Some(w)),
    };
    let writer = match path {
        Some(p) => match OpenOptions::new().create(true).append(true).open(p) {
            Ok(file) => BoxMakeWriter::new(Mutex::new(file)),
            Err(e) => {
                warning = Some(format!(
                    "cannot open MESHFORM_LOG_PATH {}: {e}; logging to stderr",
                    p.display()
                ));
                BoxMakeWriter::new(std::io::stderr)
            }
        },
        None => BoxMakeWriter::new(std::io::stderr),
    };
    // Only meshform's own events and kube-rs's: the HTTP and TLS libraries below them may show
    // headers (a bearer token) at their trace level.
    let ours = filter_fn(move |m| {
        let t = m.target();
        (t.starts_with("meshform") || t.starts_with("kube")) && *m.level() <= filter
    });
    let layer =
        tracing_subscriber::fmt::layer().with_ansi(false).with_writer(writer).with_filter(ours);
    let installed = tracing_subscriber::registry().with(layer).try_init();
    if let Err(e) = installed {
        warning = Some(format!("cannot start the debug log: {e}"));
    }
    warning
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn levels_as_terraform_reads_them() {
        assert_eq!(level("DEBUG"), Ok(LevelFilter::DEBUG));
        assert_eq!(level("Trace"), Ok(LevelFilter::TRACE));
        assert_eq!(level("off"), Ok(LevelFilter::OFF));
        assert!(level("loud").unwrap_err().contains("logging at trace"));
    }
}
