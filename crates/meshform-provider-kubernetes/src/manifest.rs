//! `kubernetes_manifest`: plan by server-side dry run, diffed only on the fields meshform manages;
//! apply by server-side apply; delete with foreground propagation, waiting until gone.

use std::time::Duration;

use async_trait::async_trait;
use meshform_core::{PathStep, Schema, Value};
use meshform_provider::{
    AttributeProblem, DataSourceType, ErrorKind, PlannedState, Progress, ProviderError,
    ProviderResult, ResourceType,
};
use serde_json::Value as Json;

use crate::cluster::Cluster;
use crate::exec;
use crate::objects::{self, ObjectRef};

const DEFAULT_TIMEOUT: Duration = Duration::from_secs(300);

/// `kubernetes_manifest`: one or many objects of one cluster.
pub struct Manifest;

/// `kubernetes_exec`: a command run in a workload's container.
pub struct Exec;

fn timeout(v: &Value) -> Duration {
    v.get("wait")
        .and_then(|w| w.get("timeout"))
        .and_then(Value::as_str)
        .and_then(|t| meshform_core::duration::parse_duration(t).ok())
        .unwrap_or(DEFAULT_TIMEOUT)
}

/// The attribute that holds the objects (for error locations and replacement paths).
fn source_attr(v: &Value) -> &'static str {
    if v.get("source").is_some_and(|x| !x.is_null()) {
        "source"
    } else {
        "manifest"
    }
}

/// The desired objects of a configuration, namespaces filled in, in apply order.
async fn desired(cluster: &Cluster, v: &Value) -> ProviderResult<Vec<Json>> {
    let attr = source_attr(v);
    let mut objs = match (v.get("source").and_then(Value::as_str), v.get("manifest")) {
        (Some(text), _) => objects::parse_yaml(text).map_err(|e| {
            ProviderError::new(ErrorKind::InvalidArgument, "InvalidManifest", e)
                .at_attribute("source")
        })?,
        (None, Some(m)) if !m.is_null() => match m.expose_json() {
            Json::Array(items) => items,
            one => vec![one],
        },
        _ => Vec::new(),
    };
    if objs.is_empty() {
        return Err(ProviderError::new(
            ErrorKind::InvalidArgument,
            "InvalidManifest",
            "no objects: the manifest is empty",
        )
        .at_attribute(attr));
    }
    let ns = v.get_str("namespace");
    let mut seen = std::collections::BTreeSet::new();
    for o in &mut objs {
        if !o.is_object() {
            return Err(crate::cluster::invalid_manifest(
                "every document must be an object with apiVersion, kind and metadata.name".into(),
            )
            .at_attribute(attr));
        }
        let r = cluster.normalize(o, ns).await.map_err(|mut e| {
            e.attribute.get_or_insert(vec![PathStep::Key(attr.into())]);
            e
        })?;
        if !seen.insert(r.id()) {
            return Err(crate::cluster::invalid_manifest(format!(
                "{} appears twice",
                r.describe()
            ))
            .at_attribute(attr));
        }
    }
    objects::apply_order(&mut objs);
    Ok(objs)
}

/// What the cluster holds of the desired objects, projected onto the managed fields.
async fn observe(
    cluster: &Cluster,
    known: &Value,
    desired: &[Json],
) -> ProviderResult<Option<Value>> {
    let mut live = Vec::new();
    let mut ids = Vec::new();
    for d in desired {
        let r = ObjectRef::of(d)
            .map_err(|e| ProviderError::new(ErrorKind::InvalidArgument, "InvalidManifest", e))?;
        if let Some(l) = cluster.get(&r).await? {
            live.push(objects::project(&l, d));
            ids.push(r.id());
        }
    }
    if live.is_empty() {
        return Ok(None);
    }
    Ok(Some(with_computed(known, &ids, &objects::to_yaml(&live), holds_secrets(desired))))
}

/// Server-side apply (or its dry run) of one object. An object meshform applied before (one of
/// `prior`'s objects) whose managed fields another manager took over (e.g. `kubectl scale`) is
/// drift: those fields are restored by forcing, as the plan's diff of `yaml` shows.
async fn apply_one(
    cluster: &Cluster,
    o: &Json,
    dry_run: bool,
    force: bool,
    prior: Option<&Value>,
) -> ProviderResult<Json> {
    match cluster.apply(o, dry_run, force).await {
        Err(e) if e.kind == ErrorKind::Conflict && !force && applied_before(prior, o) => {
            cluster.apply(o, dry_run, true).await
        }
        other => other,
    }
}

async fn apply_all(
    cluster: &Cluster,
    v: &Value,
    desired: &[Json],
    prior: Option<&Value>,
    progress: &dyn Progress,
) -> ProviderResult<()> {
    let force = v.get("force_conflicts").and_then(Value::as_bool).unwrap_or(false);
    for o in desired {
        apply_one(cluster, o, false, force, prior).await.map_err(conflict_hint)?;
    }
    let rollout =
        v.get("wait").and_then(|w| w.get("rollout")).and_then(Value::as_bool).unwrap_or(true);
    let condition = v.get("wait").and_then(|w| w.get("condition")).and_then(Value::as_str);
    for o in desired {
        let r = ObjectRef::of(o)
            .map_err(|e| ProviderError::new(ErrorKind::InvalidArgument, "InvalidManifest", e))?;
        if rollout && r.kind == "Deployment" {
            cluster.wait_rollout(&r, timeout(v), progress).await?;
        }
        if let Some(c) = condition {
            cluster.wait_condition(&r, c, "True", timeout(v), progress).await?;
        }
    }
    Ok(())
}

/// Whether `prior` (the state of the resource) lists the object: meshform applied it before.
fn applied_before(prior: Option<&Value>, o: &Json) -> bool {
    let Ok(id) = ObjectRef::of(o).map(|r| r.id()) else { return false };
    prior
        .and_then(|p| p.get("objects"))
        .and_then(Value::as_list)
        .is_some_and(|l| l.iter().any(|i| i.as_str() == Some(id.as_str())))
}

fn conflict_hint(mut e: ProviderError) -> ProviderError {
    if e.kind == ErrorKind::Conflict && e.message.contains("conflict") {
        e.message.push_str("; another field manager owns these fields: set force_conflicts = true to take them over");
    }
    e
}

/// Whether any object is a `Secret`: its data is then in `yaml`, which is marked sensitive.
fn holds_secrets(objects: &[Json]) -> bool {
    objects.iter().any(|o| o.get("kind").and_then(Json::as_str) == Some("Secret"))
}

/// The value with its computed attributes; `yaml` sensitive when `secret` (it shows a Secret's
/// data).
fn with_computed(v: &Value, ids: &[String], yaml: &str, secret: bool) -> Value {
    let mut out = v.clone();
    if let Value::Map(m) = &mut out {
        m.insert("id".into(), Value::string(ids.join(",")));
        m.insert(
            "objects".into(),
            Value::List(ids.iter().map(|i| Value::string(i.clone())).collect()),
        );
        let yaml = Value::string(yaml);
        m.insert("yaml".into(), if secret { yaml.sensitive() } else { yaml });
    }
    out
}

fn unknown_computed(v: &Value) -> Value {
    let mut out = v.clone();
    if let Value::Map(m) = &mut out {
        for k in ["id", "objects", "yaml"] {
            m.insert(k.into(), Value::Unknown);
        }
    }
    out
}

/// Whether a dry-run error means "cannot change this in place" (an immutable field).
fn immutable(e: &ProviderError) -> Option<String> {
    (e.kind == ErrorKind::InvalidArgument && e.message.contains("immutable")).then(|| {
        // "cluster …: planning … Deployment ns/x: Deployment.apps \"x\" is invalid: spec.selector: …"
        // (the cluster's name may itself contain ':').
        let field = e
            .message
            .split_once(" is invalid: ")
            .and_then(|(_, rest)| rest.trim_start_matches('[').split(':').next())
            .map(str::trim)
            .filter(|f| !f.is_empty())
            .unwrap_or("an immutable field");
        format!("{field} cannot change in place")
    })
}

#[async_trait]
impl ResourceType<Cluster> for Manifest {
    fn schema(&self) -> Schema {
        crate::manifest_schema()
    }

    fn validate(&self, config: &Value) -> Vec<AttributeProblem> {
        let mut out = crate::wait_problems(config);
        let set = |k: &str| config.get(k).is_some_and(|v| !v.is_null());
        match (set("manifest"), set("source")) {
            (true, true) => {
                out.push(crate::problem("source", "set either manifest or source, not both"))
            }
            (false, false) => {
                out.push(crate::problem("manifest", "set manifest (objects) or source (YAML text)"))
            }
            _ => {}
        }
        out
    }

    async fn read(&self, cluster: &Cluster, current: &Value) -> ProviderResult<Option<Value>> {
        let desired = desired(cluster, current).await?;
        observe(cluster, current, &desired).await
    }

    async fn plan(
        &self,
        cluster: &Cluster,
        _schema: &Schema,
        prior: Option<&Value>,
        proposed: &Value,
    ) -> ProviderResult<PlannedState> {
        if proposed.contains_unknown() {
            return Ok(PlannedState::new(unknown_computed(proposed)));
        }
        let desired = desired(cluster, proposed).await?;
        let force = proposed.get("force_conflicts").and_then(Value::as_bool).unwrap_or(false);
        let mut replace = None;
        for o in &desired {
            match apply_one(cluster, o, true, force, prior).await {
                Ok(_) => {}
                Err(e) if e.kind == ErrorKind::NotFound => {} // its namespace is created by this same apply
                Err(e) => match immutable(&e) {
                    Some(why) if prior.is_some() => replace = Some(why),
                    // Planning the create of a replacement (the engine plans it with no prior): the
                    // old object is still there and is deleted first, so its immutable fields do not
                    // stand in the way. (An unrelated object in the way fails at apply, by name.)
                    Some(_) => {}
                    _ => {
                        return Err({
                            let mut e = conflict_hint(e);
                            e.attribute
                                .get_or_insert(vec![PathStep::Key(source_attr(proposed).into())]);
                            e
                        })
                    }
                },
            }
        }
        let ids: Vec<String> =
            desired.iter().filter_map(|o| ObjectRef::of(o).ok()).map(|r| r.id()).collect();
        let planned =
            with_computed(proposed, &ids, &objects::to_yaml(&desired), holds_secrets(&desired));
        let mut p = PlannedState::new(planned);
        if let Some(why) = replace {
            p.requires_replace.push(vec![PathStep::Key(source_attr(proposed).into())]);
            p.replace_reason = Some(why);
        }
        Ok(p)
    }

    async fn create(
        &self,
        cluster: &Cluster,
        planned: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        let desired = desired(cluster, planned).await?;
        apply_all(cluster, planned, &desired, None, progress).await?;
        match observe(cluster, planned, &desired).await? {
            Some(v) => Ok(v),
            None => Err(ProviderError::new(
                ErrorKind::Unavailable,
                "Vanished",
                "kubernetes_manifest: the objects were gone right after they were applied",
            )),
        }
    }

    async fn update(
        &self,
        cluster: &Cluster,
        prior: &Value,
        planned: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        let desired = desired(cluster, planned).await?;
        apply_all(cluster, planned, &desired, Some(prior), progress).await?;
        // Objects no longer in the manifest are deleted.
        let keep: Vec<String> =
            desired.iter().filter_map(|o| ObjectRef::of(o).ok()).map(|r| r.id()).collect();
        let mut gone: Vec<ObjectRef> = prior
            .get("objects")
            .and_then(Value::as_list)
            .unwrap_or(&[])
            .iter()
            .filter_map(Value::as_str)
            .filter(|id| !keep.iter().any(|k| k == id))
            .filter_map(ObjectRef::parse_id)
            .collect();
        gone.sort_by_key(|r| r.kind == "Namespace");
        for r in gone {
            cluster.delete(&r, timeout(planned), progress).await?;
        }
        match observe(cluster, planned, &desired).await? {
            Some(v) => Ok(v),
            None => Err(ProviderError::new(
                ErrorKind::Unavailable,
                "Vanished",
                "kubernetes_manifest: the objects were gone right after they were applied",
            )),
        }
    }

    async fn delete(
        &self,
        cluster: &Cluster,
        prior: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<()> {
        let mut refs: Vec<ObjectRef> = prior
            .get("objects")
            .and_then(Value::as_list)
            .unwrap_or(&[])
            .iter()
            .filter_map(Value::as_str)
            .filter_map(ObjectRef::parse_id)
            .collect();
        // Dependents first, namespaces last.
        refs.reverse();
        refs.sort_by_key(|r| r.kind == "Namespace");
        for r in refs {
            cluster.delete(&r, timeout(prior), progress).await?;
        }
        Ok(())
    }

    async fn lookup(&self, cluster: &Cluster, planned: &Value) -> ProviderResult<Option<Value>> {
        self.read(cluster, planned).await
    }

    async fn import(&self, cluster: &Cluster, id: &str) -> ProviderResult<Option<Value>> {
        let r = ObjectRef::parse_id(id).ok_or_else(|| ProviderError::new(ErrorKind::InvalidArgument, "InvalidId", format!("import kubernetes_manifest with apiVersion/kind/namespace/name (namespace empty for cluster-scoped kinds), e.g. apps/v1/Deployment/sample/sleep; got {id:?}")))?;
        let Some(live) = cluster.get(&r).await? else { return Ok(None) };
        let manifest = objects::clean_live(&live);
        let base = Value::map([
            ("manifest", Value::from_json(&manifest)),
            ("source", Value::Null),
            ("namespace", Value::Null),
            ("force_conflicts", Value::Null),
            ("wait", Value::Null),
        ]);
        observe(cluster, &base, &[manifest]).await
    }
}

#[async_trait]
impl DataSourceType<Cluster> for Exec {
    fn schema(&self) -> Schema {
        crate::exec_schema()
    }

    fn validate(&self, config: &Value) -> Vec<AttributeProblem> {
        let mut out = crate::wait_problems(config);
        let set = |k: &str| config.get(k).is_some_and(|v| !v.is_null());
        if set("deployment") == set("pod") {
            out.push(crate::problem("deployment", "set exactly one of deployment and pod"));
        }
        out
    }

    async fn read(&self, cluster: &Cluster, config: &Value) -> ProviderResult<Value> {
        let ns = config.get_str("namespace").unwrap_or(&cluster.default_namespace).to_owned();
        let command: Vec<String> = config
            .get("command")
            .and_then(Value::as_list)
            .unwrap_or(&[])
            .iter()
            .filter_map(|c| c.as_str().map(str::to_owned))
            .collect();
        if command.is_empty() {
            return Err(ProviderError::invalid_config("command", "command must not be empty"));
        }
        let repeat = config
            .get("repeat")
            .and_then(Value::as_number)
            .map_or(1.0, |n| n.to_f64())
            .clamp(1.0, 1000.0) as usize;
        let pod =
            exec::target_pod(cluster, &ns, config.get_str("pod"), config.get_str("deployment"))
                .await?;
        let mut outputs = Vec::new();
        let mut codes = Vec::new();
        let mut name = String::new();
        for _ in 0..repeat {
            let r = exec::run(cluster, &pod, config.get_str("container"), &command).await?;
            name = r.pod;
            outputs.push(Value::string(r.stdout));
            codes.push(Value::number(r.exit_code));
        }
        let mut out = config.clone();
        if let Value::Map(m) = &mut out {
            m.insert("namespace".into(), Value::string(ns));
            m.insert("stdout".into(), outputs.first().cloned().unwrap_or(Value::Null));
            m.insert("outputs".into(), Value::List(outputs));
            m.insert("exit_codes".into(), Value::List(codes));
            m.insert("pod_name".into(), Value::string(name));
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A Secret's data is in the computed `yaml`: it is sensitive then, and only then.
    #[test]
    fn yaml_holding_a_secret_is_sensitive() {
        let secret = serde_json::json!({"apiVersion": "v1", "kind": "Secret", "metadata": {"name": "s"}, "stringData": {"password": "hunter2"}});
        let map =
            serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {"name": "c"}});
        let proposed = Value::map([("source", Value::string("…"))]);
        let both = [map.clone(), secret];
        let v = with_computed(&proposed, &[], &objects::to_yaml(&both), holds_secrets(&both));
        assert!(v.get("yaml").is_some_and(Value::is_sensitive));
        let only_map = [map];
        let v =
            with_computed(&proposed, &[], &objects::to_yaml(&only_map), holds_secrets(&only_map));
        assert!(v.get("yaml").is_some_and(|y| !y.is_sensitive()));
    }
}
