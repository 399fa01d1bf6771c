//! The `local` provider: `local_file`, a real file on disk — the engine's simplest real provider.
//!
//! Relative file names resolve against the configuration directory given to [`LocalProvider::new`].
//! A file's identity is its path: `id` is the file name as configured, `import` takes a path, and
//! `lookup` finds a file an interrupted run created.
//!
//! It is also the smallest example of a provider (see `docs/adding-a-provider.md`): a configured
//! client ([`Files`]), one [`ResourceType`] ([`LocalFile`]) and one [`DataSourceType`]
//! ([`LocalFileData`]) registered in a [`TypeTable`], and a [`Provider`] that builds the client.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use base64::Engine as _;
use meshform_core::schema::{Attribute, ProviderSchema, Schema};
use meshform_core::{Mode, PathStep, Type, Value};
use meshform_provider::{
    AttributeProblem, ConfiguredProvider, DataSourceType, ErrorKind, PlannedState, Progress,
    Provider, ProviderError, ProviderResult, ResourceType, TypeTable,
};
use sha2::{Digest, Sha256};

/// The `local` provider.
#[derive(Debug, Clone)]
pub struct LocalProvider {
    base_dir: PathBuf,
}

impl LocalProvider {
    pub fn new(base_dir: impl Into<PathBuf>) -> LocalProvider {
        LocalProvider { base_dir: base_dir.into() }
    }
}

const DEFAULT_FILE_PERMISSION: &str = "0644";

fn file_schema() -> Schema {
    Schema::new("A file on the local disk, managed by meshform.")
        .attr(
            "filename",
            Attribute::required(
                Type::String,
                "Path of the file; relative paths are relative to the configuration directory.",
            )
            .force_new(),
        )
        .attr(
            "content",
            Attribute::optional(
                Type::String,
                "Text content of the file (UTF-8). Exactly one of content and content_base64.",
            ),
        )
        .attr(
            "content_base64",
            Attribute::optional(Type::String, "Binary content of the file, base64-encoded."),
        )
        .attr(
            "file_permission",
            Attribute::optional_computed(
                Type::String,
                "Octal permission bits of the file, e.g. \"0644\" (the default).",
            ),
        )
        .attr("id", Attribute::computed(Type::String, "The file's path, as configured."))
        .attr(
            "content_sha256",
            Attribute::computed(Type::String, "Hex SHA-256 of the file's bytes."),
        )
}

fn file_data_schema() -> Schema {
    Schema::new("Reads a file from the local disk.")
        .attr("filename", Attribute::required(Type::String, "Path of the file to read."))
        .attr(
            "content",
            Attribute::computed(Type::String, "Text content (when the file is UTF-8)."),
        )
        .attr("content_base64", Attribute::computed(Type::String, "Content, base64-encoded."))
        .attr(
            "content_sha256",
            Attribute::computed(Type::String, "Hex SHA-256 of the file's bytes."),
        )
        .attr("id", Attribute::computed(Type::String, "The file's path."))
}

/// The provider's types, by name.
static TYPES: LazyLock<Arc<TypeTable<Files>>> = LazyLock::new(|| {
    Arc::new(
        TypeTable::new("local")
            .resource("local_file", LocalFile)
            .data_source("local_file", LocalFileData),
    )
});

#[async_trait]
impl Provider for LocalProvider {
    fn name(&self) -> &str {
        "local"
    }

    fn schema(&self) -> ProviderSchema {
        TYPES.schema(Schema::new("Files on the machine running meshform. No configuration."))
    }

    fn validate(&self, mode: Mode, type_name: &str, config: &Value) -> Vec<AttributeProblem> {
        TYPES.validate(mode, type_name, config)
    }

    async fn configure(&self, _config: &Value) -> ProviderResult<Arc<dyn ConfiguredProvider>> {
        Ok(TYPES.bind(Arc::new(Files { base_dir: self.base_dir.clone() }), usize::MAX))
    }
}

/// The configured `local` provider: files under a base directory.
#[derive(Debug, Clone)]
pub struct Files {
    base_dir: PathBuf,
}

/// `local_file`, the resource.
#[derive(Debug)]
pub struct LocalFile;

/// `local_file`, the data source.
#[derive(Debug)]
pub struct LocalFileData;

fn problem(attr: &str, message: &str) -> AttributeProblem {
    AttributeProblem {
        path: vec![PathStep::Key(attr.to_owned())],
        message: message.to_owned(),
        is_error: true,
    }
}

fn parse_mode(s: &str) -> Option<u32> {
    if s.len() < 3 || s.len() > 4 {
        return None;
    }
    u32::from_str_radix(s, 8).ok().filter(|m| *m <= 0o7777)
}

fn sha256_hex(bytes: &[u8]) -> String {
    meshform_core::hex::encode(&Sha256::digest(bytes))
}

impl Files {
    fn path(&self, filename: &str) -> PathBuf {
        let p = Path::new(filename);
        if p.is_absolute() {
            p.to_path_buf()
        } else {
            self.base_dir.join(p)
        }
    }

    /// The bytes a planned value asks for.
    fn wanted_bytes(v: &Value) -> ProviderResult<Vec<u8>> {
        if let Some(b) = v.get_str("content_base64") {
            return base64::engine::general_purpose::STANDARD.decode(b).map_err(|e| {
                ProviderError::new(
                    ErrorKind::InvalidArgument,
                    "InvalidContent",
                    format!("content_base64 is not valid base64: {e}"),
                )
                .at_attribute("content_base64")
            });
        }
        Ok(v.get_str("content").unwrap_or("").as_bytes().to_vec())
    }

    /// Reads a file into a value shaped like `like` (content or content_base64, as configured).
    async fn read_file(&self, filename: &str, like: &Value) -> ProviderResult<Option<Value>> {
        let path = self.path(filename);
        let bytes = match tokio::fs::read(&path).await {
            Ok(b) => b,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error("read", &path, &e)),
        };
        let mode = file_mode(&path).await;
        let mut m = BTreeMap::new();
        m.insert("filename".to_owned(), Value::string(filename));
        m.insert("id".to_owned(), Value::string(filename));
        m.insert("content_sha256".to_owned(), Value::string(sha256_hex(&bytes)));
        let as_base64 = like.get("content_base64").is_some_and(|v| !v.is_null());
        match (as_base64, String::from_utf8(bytes.clone())) {
            (false, Ok(text)) => {
                m.insert("content".to_owned(), Value::String(text));
                m.insert("content_base64".to_owned(), Value::Null);
            }
            _ => {
                m.insert("content".to_owned(), Value::Null);
                m.insert(
                    "content_base64".to_owned(),
                    Value::string(base64::engine::general_purpose::STANDARD.encode(&bytes)),
                );
            }
        }
        m.insert("file_permission".to_owned(), mode.map(Value::string).unwrap_or(Value::Null));
        Ok(Some(Value::Map(m)))
    }

    async fn write_file(&self, v: &Value) -> ProviderResult<Value> {
        let filename = v
            .get_str("filename")
            .ok_or_else(|| ProviderError::invalid_config("filename", "filename is required"))?;
        let path = self.path(filename);
        let bytes = Self::wanted_bytes(v)?;
        let perm = v.get_str("file_permission").unwrap_or(DEFAULT_FILE_PERMISSION).to_owned();
        let mode = parse_mode(&perm).ok_or_else(|| {
            ProviderError::invalid_config(
                "file_permission",
                format!("invalid file_permission {perm:?}"),
            )
        })?;
        let p = path.clone();
        tokio::task::spawn_blocking(move || write_atomic(&p, &bytes, mode))
            .await
            .map_err(|e| ProviderError::new(ErrorKind::Internal, "Internal", e.to_string()))?
            .map_err(|e| io_error("write", &path, &e))?;
        self.read_file(filename, v).await?.ok_or_else(|| {
            ProviderError::new(
                ErrorKind::Unavailable,
                "Vanished",
                format!("{} disappeared right after it was written", path.display()),
            )
        })
    }
}

fn io_error(what: &str, path: &Path, e: &std::io::Error) -> ProviderError {
    let kind = match e.kind() {
        std::io::ErrorKind::Interrupted | std::io::ErrorKind::WouldBlock => ErrorKind::Unavailable,
        std::io::ErrorKind::PermissionDenied => ErrorKind::Unauthorized,
        _ => ErrorKind::Internal,
    };
    ProviderError::new(kind, "IoError", format!("cannot {what} {}: {e}", path.display()))
}

/// Writes through [`meshform_core::fsio::write_atomic`] (a temporary file of its own, so concurrent
/// writes never collide), so the file is never seen half-written; it appears with `mode`.
fn write_atomic(path: &Path, bytes: &[u8], mode: u32) -> std::io::Result<()> {
    std::fs::create_dir_all(meshform_core::fsio::parent_dir(path))?;
    meshform_core::fsio::write_atomic(path, bytes, Some(mode))
}

#[cfg(unix)]
async fn file_mode(path: &Path) -> Option<String> {
    use std::os::unix::fs::PermissionsExt;
    let m = tokio::fs::metadata(path).await.ok()?;
    Some(format!("{:04o}", m.permissions().mode() & 0o7777))
}

#[cfg(not(unix))]
async fn file_mode(_path: &Path) -> Option<String> {
    None
}

#[async_trait]
impl ResourceType<Files> for LocalFile {
    fn schema(&self) -> Schema {
        file_schema()
    }

    fn validate(&self, config: &Value) -> Vec<AttributeProblem> {
        let mut out = Vec::new();
        let set = |k: &str| config.get(k).is_some_and(|v| !v.is_null());
        match (set("content"), set("content_base64")) {
            (true, true) => out
                .push(problem("content_base64", "set either content or content_base64, not both")),
            (false, false) => {
                out.push(problem("content", "one of content or content_base64 is required"))
            }
            _ => {}
        }
        if let Some(p) = config.get("file_permission").and_then(Value::as_str) {
            if parse_mode(p).is_none() {
                out.push(problem(
                    "file_permission",
                    &format!("{p:?} is not an octal permission such as \"0644\""),
                ));
            }
        }
        if let Some(b) = config.get("content_base64").and_then(Value::as_str) {
            if base64::engine::general_purpose::STANDARD.decode(b).is_err() {
                out.push(problem("content_base64", "not valid base64"));
            }
        }
        out
    }

    async fn plan(
        &self,
        _files: &Files,
        _schema: &Schema,
        prior: Option<&Value>,
        proposed: &Value,
    ) -> ProviderResult<PlannedState> {
        let mut planned = proposed.clone();
        let Value::Map(m) = &mut planned else {
            return Err(ProviderError::new(
                ErrorKind::InvalidArgument,
                "InvalidConfig",
                "expected an object",
            ));
        };
        let filename = m.get("filename").cloned().unwrap_or(Value::Null);
        m.insert("id".to_owned(), filename.clone());
        if m.get("file_permission").is_none_or(Value::is_null) {
            m.insert("file_permission".to_owned(), Value::string(DEFAULT_FILE_PERMISSION));
        }
        let content_known =
            ["content", "content_base64"].iter().all(|k| !m.get(*k).is_some_and(Value::is_unknown));
        let sha = if content_known {
            Value::string(sha256_hex(&Files::wanted_bytes(&planned)?))
        } else {
            Value::Unknown
        };
        if let Value::Map(m) = &mut planned {
            m.insert("content_sha256".to_owned(), sha);
        }
        let mut requires_replace = Vec::new();
        if let Some(prior) = prior {
            if !prior.get("filename").unwrap_or(&Value::Null).same_as(&filename) {
                requires_replace.push(vec![PathStep::Key("filename".to_owned())]);
            }
        }
        Ok(PlannedState { planned, requires_replace, ..PlannedState::default() })
    }

    async fn read(&self, files: &Files, current: &Value) -> ProviderResult<Option<Value>> {
        let Some(filename) = current.get_str("filename") else { return Ok(None) };
        files.read_file(filename, current).await
    }

    async fn create(
        &self,
        files: &Files,
        planned: &Value,
        _progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        files.write_file(planned).await
    }

    async fn update(
        &self,
        files: &Files,
        _prior: &Value,
        planned: &Value,
        _progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        files.write_file(planned).await
    }

    async fn delete(
        &self,
        files: &Files,
        prior: &Value,
        _progress: &dyn Progress,
    ) -> ProviderResult<()> {
        let Some(filename) = prior.get_str("filename") else { return Ok(()) };
        let path = files.path(filename);
        match tokio::fs::remove_file(&path).await {
            Ok(()) => Ok(()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(()),
            Err(e) => Err(io_error("delete", &path, &e)),
        }
    }

    async fn lookup(&self, files: &Files, planned: &Value) -> ProviderResult<Option<Value>> {
        let Some(filename) = planned.get_str("filename") else { return Ok(None) };
        files.read_file(filename, planned).await
    }

    async fn import(&self, files: &Files, id: &str) -> ProviderResult<Option<Value>> {
        files.read_file(id, &Value::Null).await
    }
}

#[async_trait]
impl DataSourceType<Files> for LocalFileData {
    fn schema(&self) -> Schema {
        file_data_schema()
    }

    async fn read(&self, files: &Files, config: &Value) -> ProviderResult<Value> {
        let filename = config
            .get_str("filename")
            .ok_or_else(|| ProviderError::invalid_config("filename", "filename is required"))?;
        let path = files.path(filename);
        let bytes = tokio::fs::read(&path).await.map_err(|e| io_error("read", &path, &e))?;
        Ok(Value::map([
            ("filename", Value::string(filename)),
            ("id", Value::string(filename)),
            ("content_sha256", Value::string(sha256_hex(&bytes))),
            (
                "content_base64",
                Value::string(base64::engine::general_purpose::STANDARD.encode(&bytes)),
            ),
            ("content", String::from_utf8(bytes).map(Value::String).unwrap_or(Value::Null)),
        ]))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use meshform_provider::NoProgress;

    fn config(filename: &str, content: &str) -> Value {
        Value::map([
            ("filename", Value::string(filename)),
            ("content", Value::string(content)),
            ("content_base64", Value::Null),
            ("file_permission", Value::Null),
            ("id", Value::Null),
            ("content_sha256", Value::Null),
        ])
    }

    #[tokio::test]
    async fn create_read_update_delete_a_real_file() {
        let dir = tempfile::tempdir().unwrap();
        let p = LocalProvider::new(dir.path()).configure(&Value::Null).await.unwrap();
        let planned =
            p.plan("local_file", None, &config("sub/a.txt", "hello")).await.unwrap().planned;
        assert_eq!(planned.get_str("content_sha256"), Some(sha256_hex(b"hello").as_str()));
        let created = p.create("local_file", &planned, &NoProgress).await.unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("sub/a.txt")).unwrap(), "hello");
        assert_eq!(created.get_str("file_permission"), Some("0644"));
        // Drift: edited outside meshform.
        std::fs::write(dir.path().join("sub/a.txt"), "edited").unwrap();
        let read = p.read("local_file", &created).await.unwrap().unwrap();
        assert_eq!(read.get_str("content"), Some("edited"));
        // A new filename forces replacement; new content does not.
        let r = p.plan("local_file", Some(&read), &config("sub/b.txt", "hello")).await.unwrap();
        assert_eq!(r.requires_replace, vec![vec![PathStep::Key("filename".into())]]);
        let r = p.plan("local_file", Some(&read), &config("sub/a.txt", "new")).await.unwrap();
        assert!(r.requires_replace.is_empty());
        p.update("local_file", &read, &r.planned, &NoProgress).await.unwrap();
        assert_eq!(std::fs::read_to_string(dir.path().join("sub/a.txt")).unwrap(), "new");
        p.delete("local_file", &r.planned, &NoProgress).await.unwrap();
        assert!(p.read("local_file", &r.planned).await.unwrap().is_none());
        // Deleting twice is fine (idempotent).
        p.delete("local_file", &r.planned, &NoProgress).await.unwrap();
    }

    #[test]
    fn validation_names_the_attribute() {
        let p = LocalProvider::new(".");
        let mut c = config("a", "x");
        if let Value::Map(m) = &mut c {
            m.insert("content_base64".into(), Value::string("eA=="));
            m.insert("file_permission".into(), Value::string("999"));
        }
        let problems = p.validate(Mode::Managed, "local_file", &c);
        let paths: Vec<_> = problems.iter().map(|p| p.path[0].clone()).collect();
        assert!(paths.contains(&PathStep::Key("content_base64".into())));
        assert!(paths.contains(&PathStep::Key("file_permission".into())));
    }

    #[test]
    fn a_data_source_needs_no_content() {
        // What the engine passes for `data "local_file"`: every data-source schema attribute.
        let c = Value::map([
            ("filename", Value::string("a")),
            ("content", Value::Null),
            ("content_base64", Value::Null),
            ("content_sha256", Value::Null),
            ("id", Value::Null),
        ]);
        assert!(LocalProvider::new(".").validate(Mode::Data, "local_file", &c).is_empty());
    }
}
