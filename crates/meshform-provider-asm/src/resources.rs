//! The asm provider's types: [`ServiceMesh`], [`ClusterAttachment`], [`MultiClusterNetwork`],
//! [`SidecarInjection`] and the [`Versions`] data source — their checks and their operations, which
//! call into [`crate::mesh`] and [`crate::members`].

use async_trait::async_trait;
use meshform_core::{PathStep, Schema, Value};
use meshform_provider::{
    plan_by_schema, AttributeProblem, DataSourceType, ErrorKind, PlannedState, Progress,
    ProviderError, ProviderResult, ResourceType,
};

use crate::client::{AsmClient, Retry};
use crate::{members, mesh, schema, upgrade};

/// Why a mesh must be replaced: the attributes ASM cannot change on an existing mesh.
fn replace_reason(paths: &[Vec<PathStep>]) -> String {
    let names: Vec<String> = paths
        .iter()
        .filter_map(|p| match p.first() {
            Some(PathStep::Key(k)) => Some(k.clone()),
            _ => None,
        })
        .collect();
    let (one, verb) = if names.len() == 1 { ("it", "is") } else { ("them", "are") };
    format!(
        "{} {verb} fixed when a mesh is created: ASM has no API to change {one} on an existing mesh",
        names.join(", ")
    )
}

fn problem(attr: &str, message: &str) -> AttributeProblem {
    AttributeProblem {
        path: vec![PathStep::Key(attr.into())],
        message: message.into(),
        is_error: true,
    }
}

/// Every `timeouts { op = "…" }` value must be a duration.
fn timeout_problems(config: &Value) -> Vec<AttributeProblem> {
    let mut out = Vec::new();
    if let Some(t) = config.get("timeouts").and_then(Value::as_map) {
        for (op, v) in t {
            if let Some(Err(e)) = v.as_str().map(meshform_core::duration::parse_duration) {
                out.push(problem("timeouts", &format!("timeouts.{op}: {e}")));
            }
        }
    }
    out
}

/// A value with every attribute of `schema` null but `fields`: what an import starts from.
fn skeleton(schema: &Schema, fields: &[(&str, &str)]) -> Value {
    let mut m: std::collections::BTreeMap<String, Value> =
        schema.attributes.keys().map(|k| (k.clone(), Value::Null)).collect();
    for (k, v) in fields {
        m.insert((*k).to_owned(), Value::string(*v));
    }
    Value::Map(m)
}

/// `MESH_ID:SECOND`, as `meshform import` takes attachments and injections.
fn split_id<'a>(type_name: &str, id: &'a str, second: &str) -> ProviderResult<(&'a str, &'a str)> {
    id.split_once(':').ok_or_else(|| {
        ProviderError::new(
            ErrorKind::InvalidArgument,
            "InvalidId",
            format!("import {type_name} with MESH_ID:{second}"),
        )
    })
}

/// `asm_service_mesh`.
pub struct ServiceMesh;

#[async_trait]
impl ResourceType<AsmClient> for ServiceMesh {
    fn schema(&self) -> Schema {
        schema::mesh()
    }

    fn validate(&self, config: &Value) -> Vec<AttributeProblem> {
        let mut out = timeout_problems(config);
        if config.get("vswitches").and_then(Value::as_list).is_some_and(<[Value]>::is_empty) {
            out.push(problem("vswitches", "give at least one vSwitch id"));
        }
        for (attr, allowed) in [
            ("edition", &["Default", "Pro"][..]),
            ("cluster_spec", &["standard", "enterprise", "ultimate"][..]),
        ] {
            if let Some(v) = config.get(attr).and_then(Value::as_str) {
                if !allowed.contains(&v) {
                    out.push(problem(attr, &format!("{v:?} is not one of {}", allowed.join(", "))));
                }
            }
        }
        out
    }

    async fn read(&self, client: &AsmClient, current: &Value) -> ProviderResult<Option<Value>> {
        let Some(id) = current.get("id").and_then(Value::as_str) else { return Ok(None) };
        mesh::read(client, id, current, Retry::Read).await
    }

    async fn create(
        &self,
        client: &AsmClient,
        planned: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        mesh::create(client, planned, progress).await
    }

    /// A change of `istio_version` is an in-place upgrade, checked here against the one ASM allows
    /// and an upgrade already in flight (which the plan notes, as it notes one already over); what
    /// ASM cannot change on an existing mesh replaces it, and the plan says why.
    async fn plan(
        &self,
        client: &AsmClient,
        schema: &Schema,
        prior: Option<&Value>,
        proposed: &Value,
    ) -> ProviderResult<PlannedState> {
        let mut p = plan_by_schema(schema, prior, proposed);
        if !p.requires_replace.is_empty() {
            p.replace_reason = Some(replace_reason(&p.requires_replace));
            return Ok(p);
        }
        let Some(prior) = prior else { return Ok(p) };
        let (Some(id), Some(from)) = (prior.get_str("id"), prior.get_str("istio_version")) else {
            return Ok(p);
        };
        let to = p.planned.get("istio_version").cloned().unwrap_or(Value::Null);
        if to.as_str() == Some(from) || to.is_null() {
            return Ok(p);
        }
        if let Some(to) = to.as_str() {
            // The mesh as it is now: an upgrade may be in flight, or over since the state was saved.
            let step = upgrade::check(client, id, to).await?;
            if let Some(note) = step.note(id, to) {
                p.warnings.push(AttributeProblem {
                    path: vec![PathStep::Key("istio_version".into())],
                    message: note,
                    is_error: false,
                });
            }
        }
        // After apply the mesh runs the target (unknown when the target is), and is running again.
        if let Value::Map(m) = &mut p.planned {
            m.insert("version".into(), to);
            m.insert("state".into(), Value::string("running"));
        }
        Ok(p)
    }

    /// An `istio_version` change upgrades the mesh in place; the rest that changes in place
    /// (`upgrade_gateways`, timeouts) is meshform's own bookkeeping.
    async fn update(
        &self,
        client: &AsmClient,
        prior: &Value,
        planned: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        match (prior.get_str("istio_version"), planned.get_str("istio_version")) {
            (Some(from), Some(to)) if from != to => {
                upgrade::apply(client, prior, planned, progress).await
            }
            _ => Ok(planned.clone()),
        }
    }

    async fn delete(
        &self,
        client: &AsmClient,
        prior: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<()> {
        mesh::delete(client, prior, progress).await
    }

    async fn lookup(&self, client: &AsmClient, planned: &Value) -> ProviderResult<Option<Value>> {
        let (Some(name), Some(region)) = (
            planned.get("name").and_then(Value::as_str),
            planned.get("region").and_then(Value::as_str),
        ) else {
            return Ok(None);
        };
        match mesh::find_by_name(client, name, region).await? {
            // The interrupted create's own wait: a mesh still being created is adopted once it
            // runs, so the state never records a mesh in `initial` that the next refresh changes.
            Some(id) => mesh::adopt(client, &id, planned).await,
            None => Ok(None),
        }
    }

    async fn import(&self, client: &AsmClient, id: &str) -> ProviderResult<Option<Value>> {
        let base = skeleton(&schema::mesh(), &[("id", id)]);
        mesh::read(client, id, &base, Retry::Read).await
    }
}

/// `asm_cluster_attachment`: a cluster in a mesh, managed or discovery-only.
pub struct ClusterAttachment;

#[async_trait]
impl ResourceType<AsmClient> for ClusterAttachment {
    fn schema(&self) -> Schema {
        schema::attachment()
    }

    fn validate(&self, config: &Value) -> Vec<AttributeProblem> {
        timeout_problems(config)
    }

    async fn plan(
        &self,
        _client: &AsmClient,
        schema: &Schema,
        prior: Option<&Value>,
        proposed: &Value,
    ) -> ProviderResult<PlannedState> {
        let mut p = plan_by_schema(schema, prior, proposed);
        if let Value::Map(m) = &mut p.planned {
            if m.get("discovery_only").is_none_or(Value::is_null) {
                m.insert("discovery_only".into(), Value::Bool(false));
            }
            if let (Some(a), Some(b)) = (
                m.get("mesh_id").and_then(Value::as_str),
                m.get("cluster_id").and_then(Value::as_str),
            ) {
                m.insert("id".into(), Value::string(format!("{a}:{b}")));
            }
        }
        // Attachments created before meshform knew discovery_only default to false.
        if prior.is_some_and(|prior| prior.get("discovery_only").is_none_or(Value::is_null)) {
            p.requires_replace.retain(|r| r != &vec![PathStep::Key("discovery_only".into())]);
        }
        Ok(p)
    }

    async fn read(&self, client: &AsmClient, current: &Value) -> ProviderResult<Option<Value>> {
        members::read_attachment(client, current, Retry::Read).await
    }

    async fn create(
        &self,
        client: &AsmClient,
        planned: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        members::attach(client, planned, progress).await
    }

    /// Everything that changes in place (timeouts) is meshform's own bookkeeping.
    async fn update(
        &self,
        _client: &AsmClient,
        _prior: &Value,
        planned: &Value,
        _progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        Ok(planned.clone())
    }

    async fn delete(
        &self,
        client: &AsmClient,
        prior: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<()> {
        members::detach(client, prior, progress).await
    }

    /// Identified by its configuration: reading is finding.
    async fn lookup(&self, client: &AsmClient, planned: &Value) -> ProviderResult<Option<Value>> {
        members::read_attachment(client, planned, Retry::Read).await
    }

    async fn import(&self, client: &AsmClient, id: &str) -> ProviderResult<Option<Value>> {
        let (mesh_id, cluster_id) = split_id("asm_cluster_attachment", id, "CLUSTER_ID")?;
        let base =
            skeleton(&schema::attachment(), &[("mesh_id", mesh_id), ("cluster_id", cluster_id)]);
        members::read_attachment(client, &base, Retry::Read).await
    }
}

/// `asm_multi_cluster_network`: the networks and cross-cluster gateways of a mesh's clusters.
pub struct MultiClusterNetwork;

#[async_trait]
impl ResourceType<AsmClient> for MultiClusterNetwork {
    fn schema(&self) -> Schema {
        schema::network()
    }

    fn validate(&self, config: &Value) -> Vec<AttributeProblem> {
        let mut out = timeout_problems(config);
        let mut seen = std::collections::BTreeSet::new();
        for c in config.get("cluster").and_then(Value::as_list).unwrap_or(&[]) {
            if let Some(id) = c.get("cluster_id").and_then(Value::as_str) {
                if !seen.insert(id) {
                    out.push(problem("cluster", &format!("cluster {id} is listed twice")));
                }
            }
        }
        out
    }

    async fn read(&self, client: &AsmClient, current: &Value) -> ProviderResult<Option<Value>> {
        members::read_network(client, current, Retry::Read).await
    }

    async fn create(
        &self,
        client: &AsmClient,
        planned: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        members::put_network(client, planned, progress).await
    }

    async fn update(
        &self,
        client: &AsmClient,
        _prior: &Value,
        planned: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        members::put_network(client, planned, progress).await
    }

    async fn delete(
        &self,
        client: &AsmClient,
        prior: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<()> {
        members::clear_network(client, prior, progress).await
    }

    /// Identified by its configuration: reading is finding.
    async fn lookup(&self, client: &AsmClient, planned: &Value) -> ProviderResult<Option<Value>> {
        members::read_network(client, planned, Retry::Read).await
    }

    async fn import(&self, client: &AsmClient, id: &str) -> ProviderResult<Option<Value>> {
        let base = skeleton(&schema::network(), &[("mesh_id", id)]);
        members::read_network(client, &base, Retry::Read).await
    }
}

/// `asm_sidecar_injection`: injection for one namespace of a mesh's clusters.
pub struct SidecarInjection;

#[async_trait]
impl ResourceType<AsmClient> for SidecarInjection {
    fn schema(&self) -> Schema {
        schema::injection()
    }

    fn validate(&self, config: &Value) -> Vec<AttributeProblem> {
        let mut out = timeout_problems(config);
        if config.get("enabled").and_then(Value::as_bool) == Some(true)
            && config.get("istio_rev").is_some_and(|v| !v.is_null())
        {
            out.push(problem("istio_rev", "set either enabled or istio_rev, not both"));
        }
        out
    }

    async fn read(&self, client: &AsmClient, current: &Value) -> ProviderResult<Option<Value>> {
        members::read_injection(client, current, Retry::Read).await
    }

    async fn create(
        &self,
        client: &AsmClient,
        planned: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        members::put_injection(client, planned, true, progress).await
    }

    async fn update(
        &self,
        client: &AsmClient,
        _prior: &Value,
        planned: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        let enable = planned.get("enabled").and_then(Value::as_bool).unwrap_or(true)
            || planned.get("istio_rev").is_some_and(|v| !v.is_null());
        members::put_injection(client, planned, enable, progress).await
    }

    async fn delete(
        &self,
        client: &AsmClient,
        prior: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<()> {
        members::put_injection(client, prior, false, progress).await.map(|_| ())
    }

    /// Identified by its configuration: reading is finding.
    async fn lookup(&self, client: &AsmClient, planned: &Value) -> ProviderResult<Option<Value>> {
        members::read_injection(client, planned, Retry::Read).await
    }

    async fn import(&self, client: &AsmClient, id: &str) -> ProviderResult<Option<Value>> {
        let (mesh_id, namespace) = split_id("asm_sidecar_injection", id, "NAMESPACE")?;
        let base =
            skeleton(&schema::injection(), &[("mesh_id", mesh_id), ("namespace", namespace)]);
        members::read_injection(client, &base, Retry::Read).await
    }
}

/// The `asm_versions` data source: the Istio versions ASM accepts for new meshes.
pub struct Versions;

#[async_trait]
impl DataSourceType<AsmClient> for Versions {
    fn schema(&self) -> Schema {
        schema::versions()
    }

    async fn read(&self, client: &AsmClient, config: &Value) -> ProviderResult<Value> {
        let doc = client.call("DescribeVersions", &[], Retry::Read).await?;
        let mut versions: Vec<String> = Vec::new();
        collect_versions(&doc, &mut versions);
        versions.sort();
        versions.dedup();
        let mut out = config.clone();
        if let Value::Map(m) = &mut out {
            m.insert(
                "versions".into(),
                Value::List(versions.into_iter().map(Value::String).collect()),
            );
        }
        Ok(out)
    }
}

/// Every string under a `Versions` key of the DescribeVersions document.
fn collect_versions(doc: &serde_json::Value, out: &mut Vec<String>) {
    match doc {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                if k == "Versions" {
                    if let Some(a) = v.as_array() {
                        out.extend(a.iter().filter_map(|x| x.as_str().map(str::to_owned)));
                    }
                }
                collect_versions(v, out);
            }
        }
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_versions(x, out)),
        _ => {}
    }
}
