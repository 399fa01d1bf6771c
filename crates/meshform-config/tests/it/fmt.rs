//! Tests for `meshform_config::fmt`: fixture cases, properties, robustness.

use meshform_config::fmt::{format_source, unified_diff};
use std::path::{Path, PathBuf};

/// The fixture cases: `tests/fmt_fixtures/<case>/{input.hcl,expected.hcl}`.
fn fixture_dirs() -> Vec<PathBuf> {
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/fmt_fixtures");
    let mut dirs: Vec<PathBuf> = std::fs::read_dir(&root)
        .unwrap_or_else(|e| panic!("reading {}: {e}", root.display()))
        .map(|entry| entry.expect("directory entry").path())
        .filter(|path| path.is_dir())
        .collect();
    dirs.sort();
    dirs
}

fn read(path: &Path) -> String {
    std::fs::read_to_string(path).unwrap_or_else(|e| panic!("reading {}: {e}", path.display()))
}

/// Each fixture's input formats to its expected output. With
/// `MESHFORM_FMT_BLESS=1` the expected files are (re)written instead.
#[test]
fn fixtures_format_to_expected() {
    let bless = std::env::var_os("MESHFORM_FMT_BLESS").is_some();
    let dirs = fixture_dirs();
    assert!(dirs.len() >= 8, "expected at least 8 fixture cases");
    let mut failures = Vec::new();
    for dir in dirs {
        let case = dir.file_name().unwrap().to_string_lossy().into_owned();
        let input = read(&dir.join("input.hcl"));
        let actual = format_source(&input).unwrap_or_else(|e| panic!("{case}: {e}"));
        let expected_path = dir.join("expected.hcl");
        if bless {
            std::fs::write(&expected_path, &actual).expect("writing expected.hcl");
            continue;
        }
        let expected = read(&expected_path);
        if actual != expected {
            failures.push(format!(
                "fixture `{case}` differs:\n{}",
                unified_diff("expected.hcl", &expected, &actual)
            ));
        }
    }
    assert!(failures.is_empty(), "{}", failures.join("\n"));
}
