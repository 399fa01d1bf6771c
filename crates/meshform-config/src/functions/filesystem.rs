//! Filesystem functions: `file`, `filebase64`, `fileexists` (relative paths resolve against the
//! configuration's directory) and the path functions `basename`, `dirname`, `abspath` and
//! `pathexpand`. `pathexpand` does not expand `~`: the library never reads the home directory.

use std::path::PathBuf;

use base64::Engine;

use meshform_core::Value;

use super::args::{Args, MAX_OUTPUT_BYTES};
use super::{FnResult, FunctionError};

fn resolve(a: &Args, path: &str) -> PathBuf {
    a.ctx.base_dir.join(path)
}

/// The bytes of the file named by argument 0.
pub(super) fn read(a: &Args) -> Result<(String, Vec<u8>), FunctionError> {
    a.exactly(1)?;
    let path = a.string(0, "the path")?.into_owned();
    if path.is_empty() {
        return Err(a.error(0, "the path must not be empty"));
    }
    let full = resolve(a, &path);
    let too_big = |len: u64| {
        a.error(0, format!("{path} is {len} bytes long, more than the limit of {MAX_OUTPUT_BYTES}"))
    };
    match std::fs::metadata(&full) {
        Ok(m) if m.len() > MAX_OUTPUT_BYTES as u64 => return Err(too_big(m.len())),
        _ => {}
    }
    let bytes = std::fs::read(&full)
        .map_err(|e| a.error(0, format!("cannot read {path} ({}): {e}", full.display())))?;
    Ok((path, bytes))
}

/// `file(path)`: the contents of a UTF-8 text file.
pub(super) fn file(a: &Args) -> FnResult {
    let (path, bytes) = read(a)?;
    String::from_utf8(bytes).map(Value::String).map_err(|e| {
        a.error(
            0,
            format!(
                "{path} is not valid UTF-8 text (invalid byte at offset {}); use filebase64 for binary files",
                e.utf8_error().valid_up_to()
            ),
        )
    })
}

/// `filebase64(path)`: the contents of any file, Base64-encoded.
pub(super) fn filebase64(a: &Args) -> FnResult {
    let (_, bytes) = read(a)?;
    Ok(Value::String(base64::engine::general_purpose::STANDARD.encode(bytes)))
}

/// `fileexists(path)`: whether a regular file exists there (a directory is an error).
pub(super) fn fileexists(a: &Args) -> FnResult {
    a.exactly(1)?;
    let path = a.string(0, "the path")?;
    if path.is_empty() {
        return Err(a.error(0, "the path must not be empty"));
    }
    let full = resolve(a, &path);
    match std::fs::metadata(&full) {
        Ok(m) if m.is_file() => Ok(Value::Bool(true)),
        Ok(_) => Err(a.error(0, format!("{path} exists but is not a regular file"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Value::Bool(false)),
        Err(e) => Err(a.error(0, format!("cannot inspect {path} ({}): {e}", full.display()))),
    }
}

/// Go's `path.Clean`: the shortest equivalent path, lexically (`fileset` cleans with it too).
pub(super) fn clean(path: &str) -> String {
    let rooted = path.starts_with('/');
    let mut parts: Vec<&str> = Vec::new();
    for part in path.split('/') {
        match part {
            "" | "." => {}
            ".." => match parts.last() {
                Some(&p) if p != ".." => {
                    parts.pop();
                }
                _ if rooted => {}
                _ => parts.push(".."),
            },
            p => parts.push(p),
        }
    }
    let joined = parts.join("/");
    match (rooted, joined.is_empty()) {
        (true, _) => format!("/{joined}"),
        (false, true) => ".".into(),
        (false, false) => joined,
    }
}

/// `basename(path)`: the last element of a path (trailing slashes ignored).
pub(super) fn basename(a: &Args) -> FnResult {
    a.exactly(1)?;
    let path = a.string(0, "the path")?;
    if path.is_empty() {
        return Ok(Value::string("."));
    }
    let trimmed = path.trim_end_matches('/');
    if trimmed.is_empty() {
        return Ok(Value::string("/"));
    }
    Ok(Value::string(trimmed.rsplit('/').next().unwrap_or(trimmed)))
}

/// `abspath(path)`: the path made absolute against the configuration's directory (Terraform's
/// working directory), cleaned, with `/` separators.
pub(super) fn abspath(a: &Args) -> FnResult {
    a.exactly(1)?;
    let path = a.string(0, "the path")?;
    let base = std::path::absolute(a.ctx.base_dir)
        .map_err(|e| a.fail(format!("cannot make {} absolute: {e}", a.ctx.base_dir.display())))?;
    let joined = base.join(path.as_ref());
    Ok(Value::String(clean(&joined.to_string_lossy().replace('\\', "/"))))
}

/// `pathexpand(path)`: the path unchanged unless it starts with `~`, which is refused: expanding
/// it would read the home directory of whoever runs meshform, so plans would differ per user.
pub(super) fn pathexpand(a: &Args) -> FnResult {
    a.exactly(1)?;
    let path = a.string(0, "the path")?;
    if !path.starts_with('~') {
        return Ok(Value::String(path.into_owned()));
    }
    if path.len() > 1 && !path[1..].starts_with(['/', '\\']) {
        return Err(a.error(0, "cannot expand user-specific home dir"));
    }
    Err(a.error(
        0,
        "not supported for a path starting with ~: meshform does not read the home directory, so \
         that a plan is the same whoever runs it; write the path relative to the configuration, \
         or pass the absolute path in as a variable",
    ))
}

/// `dirname(path)`: everything but the last element, cleaned.
pub(super) fn dirname(a: &Args) -> FnResult {
    a.exactly(1)?;
    let path = a.string(0, "the path")?;
    let dir = match path.rfind('/') {
        Some(i) => &path[..=i],
        None => "",
    };
    Ok(Value::String(clean(dir)))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use super::super::{call, FunctionContext};
    use meshform_core::Value;

    fn in_dir(dir: &std::path::Path, name: &str, args: &[Value]) -> Result<Value, String> {
        call(name, args, &FunctionContext { base_dir: dir }).map_err(|e| e.to_string())
    }

    #[test]
    fn file_reads_relative_to_the_base_dir() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("sub")).unwrap();
        std::fs::write(dir.path().join("sub/hello.txt"), "Hello, ✓\n").unwrap();
        std::fs::write(dir.path().join("bin"), [0xff, 0x00, 0x41]).unwrap();
        let d = dir.path();
        assert_eq!(in_dir(d, "file", &[s("sub/hello.txt")]), Ok(s("Hello, ✓\n")));
        let abs = d.join("sub/hello.txt").display().to_string();
        assert_eq!(
            in_dir(std::path::Path::new("/nonexistent"), "file", &[s(&abs)]),
            Ok(s("Hello, ✓\n"))
        );
        let e = in_dir(d, "file", &[s("missing.txt")]).unwrap_err();
        assert!(e.starts_with("file: cannot read missing.txt ("), "{e}");
        assert!(e.contains("No such file"), "{e}");
        assert_eq!(
            in_dir(d, "file", &[s("bin")]).unwrap_err(),
            "file: bin is not valid UTF-8 text (invalid byte at offset 0); use filebase64 for binary files"
        );
        assert!(in_dir(d, "file", &[s("sub")]).unwrap_err().starts_with("file: cannot read sub"));
        assert_eq!(in_dir(d, "file", &[s("")]).unwrap_err(), "file: the path must not be empty");
        assert_eq!(in_dir(d, "file", &[]).unwrap_err(), "file takes 1 argument, got 0");
        assert_eq!(in_dir(d, "filebase64", &[s("bin")]), Ok(s("/wBB")));
        assert_eq!(in_dir(d, "fileexists", &[s("sub/hello.txt")]), Ok(Value::Bool(true)));
        assert_eq!(in_dir(d, "fileexists", &[s("sub/nope.txt")]), Ok(Value::Bool(false)));
        assert_eq!(
            in_dir(d, "fileexists", &[s("")]).unwrap_err(),
            "fileexists: the path must not be empty"
        );
        assert_eq!(
            in_dir(d, "fileexists", &[s("sub")]).unwrap_err(),
            "fileexists: sub exists but is not a regular file"
        );
    }

    #[test]
    fn abspath_resolves_against_the_configuration_directory() {
        let base = std::path::Path::new("/work/config");
        let run = |p: &str| in_dir(base, "abspath", &[s(p)]);
        assert_eq!(run("modules/x"), Ok(s("/work/config/modules/x")));
        assert_eq!(run("../shared/./a//b/"), Ok(s("/work/shared/a/b")));
        assert_eq!(run("/etc/hosts"), Ok(s("/etc/hosts")));
        assert_eq!(run(""), Ok(s("/work/config")));
        let here = std::env::current_dir().unwrap().display().to_string();
        assert_eq!(ok("abspath", &[s("x")]), s(&format!("{here}/x")));
    }

    #[test]
    fn pathexpand_leaves_paths_without_a_tilde_and_refuses_the_home_directory() {
        assert_eq!(ok("pathexpand", &[s("/etc/resolv.conf")]), s("/etc/resolv.conf"));
        assert_eq!(ok("pathexpand", &[s("certs/root.pem")]), s("certs/root.pem"));
        let e = err("pathexpand", &[s("~/.ssh/id_rsa")]);
        assert!(e.starts_with("pathexpand: not supported for a path starting with ~"), "{e}");
        assert_eq!(
            err("pathexpand", &[s("~bob/x")]),
            "pathexpand: cannot expand user-specific home dir"
        );
    }

    #[test]
    fn path_functions_follow_go() {
        assert_eq!(ok("basename", &[s("foo/bar/baz.txt")]), s("baz.txt"));
        assert_eq!(ok("basename", &[s("foo/bar/")]), s("bar"));
        assert_eq!(ok("basename", &[s("///")]), s("/"));
        assert_eq!(ok("basename", &[s("")]), s("."));
        assert_eq!(ok("dirname", &[s("foo/bar/baz.txt")]), s("foo/bar"));
        assert_eq!(ok("dirname", &[s("baz.txt")]), s("."));
        assert_eq!(ok("dirname", &[s("/foo/")]), s("/foo"));
        assert_eq!(ok("dirname", &[s("/baz.txt")]), s("/"));
        assert_eq!(ok("dirname", &[s("a/./b/../c/d")]), s("a/c"));
        assert_eq!(ok("dirname", &[s("../../x")]), s("../.."));
        assert_eq!(err("dirname", &[list([])]), "dirname: the path must be a string, got list");
    }
}
