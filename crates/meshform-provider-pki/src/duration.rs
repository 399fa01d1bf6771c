//! Durations for certificate validity and rotation windows, as `time::Duration` (the parser is
//! `meshform_core::duration`).

use time::Duration;

/// Parses `87600h`, `3650d`, `10y`, …
pub fn parse(s: &str) -> Result<Duration, String> {
    let d = meshform_core::duration::parse_duration(s)?;
    Duration::try_from(d).map_err(|e| format!("duration {s:?}: {e}"))
}
