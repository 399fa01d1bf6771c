//! Canonical formatting of HCL source (`meshform fmt`) — placeholder until the formatter lands.

/// Why a file could not be formatted.
#[derive(Debug, thiserror::Error)]
#[error("{line}:{column}: {message}")]
pub struct FormatError {
    pub line: usize,
    pub column: usize,
    pub offset: usize,
    pub message: String,
}

/// Returns `source` in canonical layout.
pub fn format_source(source: &str) -> Result<String, FormatError> {
    Ok(source.to_owned())
}

/// A unified diff between two versions of a file.
pub fn unified_diff(name: &str, old: &str, new: &str) -> String {
    similar::TextDiff::from_lines(old, new).unified_diff().header(name, name).to_string()
}
