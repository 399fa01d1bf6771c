//! The `kubernetes` provider: any object, by server-side apply under the field manager `meshform`,
//! one provider instance per cluster (or per mesh control plane, configured from
//! `kubeconfig_content`, e.g. `asm_service_mesh.x.kubeconfig`).
//!
//! - [`objects`]: manifests, identities, the projection onto managed fields, YAML rendering.
//! - [`cluster`]: one cluster's API (discovery, apply, dry run, reads, deletes, waits).
//! - [`manifest`]: the `kubernetes_manifest` resource and the `kubernetes_exec` data source.
//! - [`exec`]: `pods/exec`, which `kubernetes_exec` (the data source checks use) runs through.

pub mod cluster;
pub mod exec;
pub mod manifest;
pub mod objects;

use std::path::PathBuf;
use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use kube::config::{KubeConfigOptions, Kubeconfig};
use meshform_core::schema::{Attribute, BlockNesting, NestedBlock, ProviderSchema, Schema};
use meshform_core::{Mode, PathStep, Type, Value};
use meshform_provider::{
    AttributeProblem, ConfiguredProvider, ErrorKind, Provider, ProviderError, ProviderResult,
    TypeTable,
};

use crate::cluster::Cluster;

/// How many operations one cluster runs at once.
const CONCURRENCY: usize = 8;

/// The provider's types, by name.
static TYPES: LazyLock<Arc<TypeTable<Cluster>>> = LazyLock::new(|| {
    Arc::new(
        TypeTable::new("kubernetes")
            .resource("kubernetes_manifest", manifest::Manifest)
            .data_source("kubernetes_exec", manifest::Exec),
    )
});

fn problem(attr: &str, message: &str) -> AttributeProblem {
    AttributeProblem {
        path: vec![PathStep::Key(attr.into())],
        message: message.into(),
        is_error: true,
    }
}

/// `wait { timeout = "…" }` must be a duration.
fn wait_problems(config: &Value) -> Vec<AttributeProblem> {
    match config.get("wait").and_then(|w| w.get("timeout")).and_then(Value::as_str) {
        Some(t) => match meshform_core::duration::parse_duration(t) {
            Err(e) => vec![problem("wait", &e)],
            Ok(_) => Vec::new(),
        },
        None => Vec::new(),
    }
}

/// What the CLI passes from the user's environment.
#[derive(Clone, Debug, Default)]
pub struct KubeEnv {
    /// `KUBECONFIG` (paths separated by `:`).
    pub kubeconfig: Option<String>,
    pub home: Option<PathBuf>,
    /// Running in a pod (`KUBERNETES_SERVICE_HOST` is set): with no kubeconfig given and none found,
    /// the pod's service account is used (`kube::Config::incluster`).
    pub in_cluster: bool,
}

/// The `kubernetes` provider.
#[derive(Clone, Debug, Default)]
pub struct KubernetesProvider {
    env: KubeEnv,
}

impl KubernetesProvider {
    pub fn new(env: KubeEnv) -> KubernetesProvider {
        KubernetesProvider { env }
    }

    /// Where the kubeconfig comes from: the provider's `kubeconfig_content` (a document), else a
    /// file ([`KubernetesProvider::kubeconfig_path`]). Giving both is an error.
    fn kubeconfig_source(
        &self,
        config: &Value,
        wants_context: bool,
    ) -> ProviderResult<Option<KubeconfigSource>> {
        let content = config.get("kubeconfig_content").and_then(Value::as_str);
        let path = config.get("kubeconfig").and_then(Value::as_str);
        match (content, path) {
            (Some(_), Some(_)) => Err(ProviderError::invalid_config(
                "kubeconfig_content",
                "kubeconfig and kubeconfig_content are mutually exclusive: give the kubeconfig as a file path or as a document, not both",
            )),
            (Some(c), None) if c.trim().is_empty() => Err(ProviderError::invalid_config(
                "kubeconfig_content",
                "kubeconfig_content is empty; give a kubeconfig document (e.g. asm_service_mesh.x.kubeconfig)",
            )),
            (Some(c), None) => Ok(Some(KubeconfigSource::Content(c.to_owned()))),
            (None, _) => Ok(self.kubeconfig_files(config, wants_context)),
        }
    }

    /// The kubeconfig files to use, in kubectl's order: the provider's `kubeconfig`, else every path
    /// of `KUBECONFIG` (merged as kubectl merges them), else `~/.kube/config`. `~/.kube/config` is
    /// only taken when it exists, or when there is no in-cluster configuration to fall back to (or a
    /// `context` asks for a kubeconfig), so that the error names the missing file.
    fn kubeconfig_files(&self, config: &Value, wants_context: bool) -> Option<KubeconfigSource> {
        if let Some(p) = config.get("kubeconfig").and_then(Value::as_str) {
            return Some(KubeconfigSource::File(PathBuf::from(p)));
        }
        if let Some(list) = &self.env.kubeconfig {
            let paths: Vec<PathBuf> =
                list.split(':').filter(|p| !p.is_empty()).map(PathBuf::from).collect();
            match paths.len() {
                0 => {}
                1 => return paths.into_iter().next().map(KubeconfigSource::File),
                _ => return Some(KubeconfigSource::Merged(paths)),
            }
        }
        let home = self.env.home.as_ref()?.join(".kube").join("config");
        (home.exists() || !self.env.in_cluster || wants_context)
            .then_some(KubeconfigSource::File(home))
    }
}

/// Where a kubeconfig is read from.
#[derive(PartialEq)]
enum KubeconfigSource {
    File(PathBuf),
    /// The paths of `KUBECONFIG`, merged as kubectl merges them: files that do not exist are
    /// skipped, the first file to define a cluster, user or context wins it, and `current-context`
    /// comes from the first file that sets it.
    Merged(Vec<PathBuf>),
    /// A kubeconfig document; a secret (it holds credentials), never put in a message.
    Content(String),
}

impl std::fmt::Debug for KubeconfigSource {
    /// The document is a secret: only its attribute shows.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.describe())
    }
}

impl KubeconfigSource {
    /// What messages call it: the file's path, or the attribute.
    fn describe(&self) -> String {
        match self {
            KubeconfigSource::File(path) => format!("kubeconfig {}", path.display()),
            KubeconfigSource::Merged(paths) => format!("KUBECONFIG {}", join_paths(paths)),
            KubeconfigSource::Content(_) => "kubeconfig_content".to_owned(),
        }
    }

    fn attribute(&self) -> &'static str {
        match self {
            KubeconfigSource::File(_) | KubeconfigSource::Merged(_) => "kubeconfig",
            KubeconfigSource::Content(_) => "kubeconfig_content",
        }
    }

    fn read(&self) -> ProviderResult<Kubeconfig> {
        let invalid = |message: String| {
            ProviderError::new(ErrorKind::InvalidArgument, "InvalidKubeconfig", message)
                .at_attribute(self.attribute())
        };
        match self {
            KubeconfigSource::File(path) => Kubeconfig::read_from(path)
                .map_err(|e| invalid(format!("cannot read kubeconfig {}: {e}", path.display()))),
            KubeconfigSource::Merged(paths) => {
                let existing: Vec<&PathBuf> = paths.iter().filter(|p| p.exists()).collect();
                if existing.is_empty() {
                    return Err(invalid(format!(
                        "none of the KUBECONFIG files exists ({}); fix KUBECONFIG or set kubeconfig in the provider block",
                        join_paths(paths)
                    )));
                }
                existing.into_iter().try_fold(Kubeconfig::default(), |merged, path| {
                    let next = Kubeconfig::read_from(path).map_err(|e| {
                        invalid(format!("cannot read kubeconfig {} (in KUBECONFIG): {e}", path.display()))
                    })?;
                    merged.merge(next).map_err(|e| {
                        invalid(format!("cannot merge kubeconfig {} into the files before it in KUBECONFIG: {e}", path.display()))
                    })
                })
            }
            // The parser's message may quote the document: it is not passed on.
            KubeconfigSource::Content(text) => Kubeconfig::from_yaml(text).map_err(|_| {
                invalid(
                    "kubeconfig_content is not a kubeconfig document (YAML with clusters, users and contexts)"
                        .to_owned(),
                )
            }),
        }
    }
}

fn join_paths(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(":")
}

fn s() -> Type {
    Type::String
}

pub fn manifest_schema() -> Schema {
    let wait = Schema::new("What to wait for after applying.")
        .attr(
            "rollout",
            Attribute::optional(
                Type::Bool,
                "Wait until Deployments finish their rollout (default true).",
            ),
        )
        .attr(
            "condition",
            Attribute::optional(
                s(),
                "Wait until every object reports this condition as True (e.g. Available).",
            ),
        )
        .attr(
            "timeout",
            Attribute::optional(s(), "How long to wait (default 5m), also for deletion."),
        );
    Schema::new("One or many Kubernetes objects, applied with server-side apply (field manager meshform).")
        .attr("manifest", Attribute::optional(Type::Any, "An object, or a list of objects (e.g. yamldecode(…))."))
        .attr("source", Attribute::optional(s(), "Multi-document YAML (e.g. file(\"apps/cluster-1.yaml\"))."))
        .attr("namespace", Attribute::optional(s(), "Namespace for namespaced objects that name none (default: the context's, else default)."))
        .attr("force_conflicts", Attribute::optional(Type::Bool, "Take ownership of fields another manager owns (server-side apply force)."))
        .attr("id", Attribute::computed(s(), "The objects' ids, comma-separated."))
        .attr("objects", Attribute::computed(Type::List(Box::new(s())), "apiVersion/kind/namespace/name of every object."))
        .attr("yaml", Attribute::computed(s(), "The fields meshform manages, as the cluster holds them (YAML)."))
        .block("wait", NestedBlock { nesting: BlockNesting::Single, schema: wait, min_items: 0, max_items: Some(1), force_new: false })
}

pub fn exec_schema() -> Schema {
    Schema::new("Runs a command in a workload's container through pods/exec (as kubectl exec does), possibly several times.")
        .attr("namespace", Attribute::optional(s(), "Namespace (default: the context's, else default)."))
        .attr("deployment", Attribute::optional(s(), "Run in a running pod of this Deployment."))
        .attr("pod", Attribute::optional(s(), "Or in this pod."))
        .attr("container", Attribute::optional(s(), "Container (default: the pod's default container)."))
        .attr("command", Attribute::required(Type::List(Box::new(s())), "The command and its arguments."))
        .attr("repeat", Attribute::optional(Type::Number, "How many times to run it (default 1, at most 1000)."))
        .attr("outputs", Attribute::computed(Type::List(Box::new(s())), "stdout of each run."))
        .attr("exit_codes", Attribute::computed(Type::List(Box::new(Type::Number)), "Exit code of each run."))
        .attr("stdout", Attribute::computed(s(), "stdout of the first run."))
        .attr("pod_name", Attribute::computed(s(), "The pod the command ran in."))
}

#[async_trait]
impl Provider for KubernetesProvider {
    fn name(&self) -> &str {
        "kubernetes"
    }

    fn schema(&self) -> ProviderSchema {
        TYPES.schema(
            Schema::new("A Kubernetes cluster: one provider instance (alias) per cluster.")
                .attr(
                    "kubeconfig",
                    Attribute::optional(
                        s(),
                        "Path of a kubeconfig file (default: KUBECONFIG, its files merged as kubectl merges them, else ~/.kube/config).",
                    ),
                )
                .attr(
                    "kubeconfig_content",
                    Attribute::optional(
                        s(),
                        "A kubeconfig document instead of a file, e.g. asm_service_mesh.x.kubeconfig (exclusive with kubeconfig).",
                    )
                    .sensitive(),
                )
                .attr(
                    "context",
                    Attribute::optional(
                        s(),
                        "Context of the kubeconfig (default: its current context).",
                    ),
                ),
        )
    }

    fn validate(&self, mode: Mode, type_name: &str, config: &Value) -> Vec<AttributeProblem> {
        TYPES.validate(mode, type_name, config)
    }

    async fn configure(&self, config: &Value) -> ProviderResult<Arc<dyn ConfiguredProvider>> {
        let context = config.get("context").and_then(Value::as_str).map(str::to_owned);
        let (name, cfg) = match self.kubeconfig_source(config, context.is_some())? {
            Some(source) => {
                let kc = source.read()?;
                let name = context
                    .clone()
                    .or_else(|| kc.current_context.clone())
                    .unwrap_or_else(|| source.describe());
                let opts = KubeConfigOptions { context, ..KubeConfigOptions::default() };
                let cfg = kube::Config::from_custom_kubeconfig(kc, &opts).await.map_err(|e| {
                    ProviderError::new(
                        ErrorKind::InvalidArgument,
                        "InvalidKubeconfig",
                        format!("{}: {e}", source.describe()),
                    )
                    .at_attribute("context")
                })?;
                (name, cfg)
            }
            None if self.env.in_cluster && context.is_none() => {
                let cfg = kube::Config::incluster().map_err(|e| {
                    ProviderError::new(
                        ErrorKind::InvalidArgument,
                        "InvalidInClusterConfig",
                        format!("no kubeconfig, and the in-cluster configuration (the pod's service account) cannot be used: {e}"),
                    )
                })?;
                ("in-cluster".to_owned(), cfg)
            }
            None => {
                return Err(ProviderError::new(
                    ErrorKind::InvalidArgument,
                    "NoKubeconfig",
                    "no kubeconfig: set kubeconfig in the provider block or KUBECONFIG, or create ~/.kube/config",
                ))
            }
        };
        let default_ns = cfg.default_namespace.clone();
        let client = kube::Client::try_from(cfg).map_err(|e| {
            ProviderError::new(
                ErrorKind::Internal,
                "ClientError",
                format!("cannot build a Kubernetes client: {e}"),
            )
        })?;
        Ok(TYPES.bind(Arc::new(Cluster::new(client, name, default_ns)), CONCURRENCY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn provider(
        home: &std::path::Path,
        kubeconfig: Option<&str>,
        in_cluster: bool,
    ) -> KubernetesProvider {
        KubernetesProvider::new(KubeEnv {
            kubeconfig: kubeconfig.map(str::to_owned),
            home: Some(home.to_path_buf()),
            in_cluster,
        })
    }

    #[test]
    fn kubeconfig_order_then_in_cluster() {
        let home = tempfile::tempdir().unwrap();
        let none = Value::map([("kubeconfig", Value::Null)]);
        let given = Value::map([("kubeconfig", Value::string("/a/config"))]);
        let default = home.path().join(".kube").join("config");
        let file = |p: &str| Some(KubeconfigSource::File(PathBuf::from(p)));
        // The provider block first, then KUBECONFIG's paths (one: that file; several: merged).
        let p = provider(home.path(), Some(":/b/config:/c/config"), true);
        assert_eq!(p.kubeconfig_files(&given, false), file("/a/config"));
        assert_eq!(
            p.kubeconfig_files(&none, false),
            Some(KubeconfigSource::Merged(vec!["/b/config".into(), "/c/config".into()]))
        );
        let p = provider(home.path(), Some("/b/config:"), true);
        assert_eq!(p.kubeconfig_files(&none, false), file("/b/config"));
        // No ~/.kube/config: in a pod, the in-cluster configuration (None); elsewhere, the missing file.
        let p = provider(home.path(), None, true);
        assert_eq!(p.kubeconfig_files(&none, false), None);
        assert_eq!(
            p.kubeconfig_files(&none, true),
            Some(KubeconfigSource::File(default.clone())),
            "a context needs a kubeconfig"
        );
        let p = provider(home.path(), None, false);
        assert_eq!(p.kubeconfig_files(&none, false), Some(KubeconfigSource::File(default.clone())));
        // An existing ~/.kube/config wins over the in-cluster configuration.
        std::fs::create_dir_all(default.parent().unwrap()).unwrap();
        std::fs::write(&default, "").unwrap();
        let p = provider(home.path(), None, true);
        assert_eq!(p.kubeconfig_files(&none, false), Some(KubeconfigSource::File(default)));
    }

    fn kubeconfig(server: &str, name: &str, current: Option<&str>) -> String {
        let current = current.map(|c| format!("current-context: {c}\n")).unwrap_or_default();
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: {server}\n\
             users:\n- name: {name}\n  user:\n    token: t-{name}\n\
             contexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {name}\n{current}"
        )
    }

    /// KUBECONFIG with several files, as kubectl merges them: a missing file is skipped, the first
    /// file to name a cluster, user or context wins it, current-context comes from the first file
    /// that sets one.
    #[test]
    fn kubeconfig_files_merge_as_kubectl_merges_them() {
        let dir = tempfile::tempdir().unwrap();
        let (a, b, c) = (dir.path().join("a"), dir.path().join("b"), dir.path().join("c"));
        std::fs::write(&a, kubeconfig("https://a.example:6443", "one", None)).unwrap();
        std::fs::write(
            &b,
            kubeconfig("https://b.example:6443", "one", Some("one")).replace(
                "- name: one\n  cluster:",
                "- name: two\n  cluster:\n    server: https://two.example\n- name: one\n  cluster:",
            ),
        )
        .unwrap();
        std::fs::write(&c, kubeconfig("https://c.example:6443", "three", Some("three"))).unwrap();
        let missing = dir.path().join("missing");
        let merged = KubeconfigSource::Merged(vec![missing.clone(), a, b, c]).read().unwrap();
        assert_eq!(merged.current_context.as_deref(), Some("one"), "the first file that sets it");
        let server = |name: &str| {
            merged
                .clusters
                .iter()
                .find(|x| x.name == name)
                .and_then(|x| x.cluster.as_ref())
                .and_then(|x| x.server.clone())
        };
        assert_eq!(
            server("one").as_deref(),
            Some("https://a.example:6443"),
            "the first file wins a name"
        );
        assert_eq!(server("two").as_deref(), Some("https://two.example"));
        assert_eq!(server("three").as_deref(), Some("https://c.example:6443"));
        assert_eq!(merged.contexts.len(), 2);

        let e = KubeconfigSource::Merged(vec![missing.clone(), missing]).read().unwrap_err();
        assert!(e.message.contains("none of the KUBECONFIG files exists"), "{}", e.message);
        let secret = KubeconfigSource::Content("token: s3cr3t".into());
        assert!(!format!("{secret:?}").contains("s3cr3t"));
    }

    fn configure_error(config: Value) -> ProviderError {
        let home = tempfile::tempdir().unwrap();
        let p = provider(home.path(), None, false);
        let rt = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        match rt.block_on(p.configure(&config)) {
            Ok(_) => panic!("configure should fail"),
            Err(e) => e,
        }
    }

    #[test]
    fn kubeconfig_content_is_exclusive_with_the_path_and_never_quoted() {
        let secret = "apiVersion: v1\nclusters: not-a-list-token-s3cr3t\n";
        let both = Value::map([
            ("kubeconfig", Value::string("/a/config")),
            ("kubeconfig_content", Value::string(secret).sensitive()),
        ]);
        let e = configure_error(both);
        assert_eq!(e.code, "InvalidConfig");
        assert!(e.message.contains("mutually exclusive"), "{}", e.message);

        let bad = Value::map([("kubeconfig_content", Value::string(secret).sensitive())]);
        let e = configure_error(bad);
        assert_eq!(e.code, "InvalidKubeconfig");
        assert!(e.message.contains("kubeconfig_content is not a kubeconfig"), "{}", e.message);
        assert!(!e.to_string().contains("s3cr3t"), "the document leaked: {e}");

        let empty = Value::map([("kubeconfig_content", Value::string("  "))]);
        assert!(configure_error(empty).message.contains("is empty"));
    }
}
