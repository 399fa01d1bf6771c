//! The `asm` provider: Alibaba Cloud Service Mesh through its real OpenAPI (product `servicemesh`,
//! version 2020-01-11) — the runbook's steps 1 to 4.
//!
//! - [`credentials`]: provider block, `ALIBABA_CLOUD_*` variables, aliyun CLI profiles.
//! - [`client`]: signed RPC calls, errors with request ids, retries with backoff and jitter.
//! - [`wait`]: polling mesh states.
//! - [`mesh`]: `asm_service_mesh`; [`members`]: attachments, networks, injection.
//! - [`schema`]: the schemas.
//!
//! The provider has no sandbox-only path: pointed at the sandbox's endpoint it behaves exactly as
//! against Alibaba Cloud.

pub mod client;
pub mod credentials;
pub mod members;
pub mod mesh;
pub mod schema;
pub mod wait;

use std::sync::Arc;

use async_trait::async_trait;
use meshform_core::{ProviderSchema, Value};
use meshform_provider::{
    plan_by_schema, AttributeProblem, ConfiguredProvider, PlannedState, Progress, Provider,
    ProviderError, ProviderResult,
};

use crate::client::{AsmClient, Retry};
use crate::credentials::{ExplicitCredentials, ProviderEnv};

/// The default API endpoint.
pub const DEFAULT_ENDPOINT: &str = "servicemesh.aliyuncs.com";

/// The `asm` provider, given the parts of the user's environment it may use.
#[derive(Debug, Clone, Default)]
pub struct AsmProvider {
    env: ProviderEnv,
}

impl AsmProvider {
    pub fn new(env: ProviderEnv) -> AsmProvider {
        AsmProvider { env }
    }
}

fn s(v: &Value, k: &str) -> Option<String> {
    v.get(k).and_then(Value::as_str).map(str::to_owned)
}

#[async_trait]
impl Provider for AsmProvider {
    fn name(&self) -> &str {
        "asm"
    }

    fn schema(&self) -> ProviderSchema {
        schema::all()
    }

    fn validate(&self, type_name: &str, config: &Value) -> Vec<AttributeProblem> {
        let mut out = Vec::new();
        let problem = |attr: &str, message: &str| AttributeProblem {
            path: vec![meshform_core::PathStep::Key(attr.into())],
            message: message.into(),
            is_error: true,
        };
        if let Some(t) = config.get("timeouts").and_then(Value::as_map) {
            for (op, v) in t {
                if let Some(Err(e)) = v.as_str().map(meshform_core::duration::parse_duration) {
                    out.push(problem("timeouts", &format!("timeouts.{op}: {e}")));
                }
            }
        }
        match type_name {
            "asm_service_mesh" => {
                if config.get("vswitches").and_then(Value::as_list).is_some_and(<[Value]>::is_empty)
                {
                    out.push(problem("vswitches", "give at least one vSwitch id"));
                }
                for (attr, allowed) in [
                    ("edition", &["Default", "Pro"][..]),
                    ("cluster_spec", &["standard", "enterprise", "ultimate"][..]),
                ] {
                    if let Some(v) = config.get(attr).and_then(Value::as_str) {
                        if !allowed.contains(&v) {
                            out.push(problem(
                                attr,
                                &format!("{v:?} is not one of {}", allowed.join(", ")),
                            ));
                        }
                    }
                }
            }
            "asm_sidecar_injection"
                if config.get("enabled").and_then(Value::as_bool) == Some(true)
                    && config.get("istio_rev").is_some_and(|v| !v.is_null()) =>
            {
                out.push(problem("istio_rev", "set either enabled or istio_rev, not both"));
            }
            "asm_multi_cluster_network" => {
                let ids: Vec<&str> = config
                    .get("cluster")
                    .and_then(Value::as_list)
                    .unwrap_or(&[])
                    .iter()
                    .filter_map(|c| c.get("cluster_id").and_then(Value::as_str))
                    .collect();
                let mut seen = std::collections::BTreeSet::new();
                for id in ids {
                    if !seen.insert(id) {
                        out.push(problem("cluster", &format!("cluster {id} is listed twice")));
                    }
                }
            }
            _ => {}
        }
        out
    }

    async fn configure(&self, config: &Value) -> ProviderResult<Arc<dyn ConfiguredProvider>> {
        let explicit = ExplicitCredentials {
            access_key_id: s(config, "access_key_id"),
            access_key_secret: s(config, "access_key_secret"),
            security_token: s(config, "security_token"),
            profile: s(config, "profile"),
            config_file: s(config, "config_file").map(Into::into),
        };
        let creds = credentials::resolve(&explicit, &self.env)
            .map_err(|e| ProviderError::new("NoCredentials", e))?;
        let endpoint = s(config, "endpoint").unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        let max_retries = config
            .get("max_retries")
            .and_then(Value::as_number)
            .map(|n| n.clamp(0.0, 30.0) as u32)
            .unwrap_or(8);
        let client = AsmClient::new(&endpoint, creds, max_retries)
            .map_err(|e| ProviderError::new("InvalidConfig", e).at_attribute("endpoint"))?;
        Ok(Arc::new(Configured { client, max_retries }))
    }
}

struct Configured {
    client: AsmClient,
    max_retries: u32,
}

fn unknown_type(t: &str) -> ProviderError {
    ProviderError::new("UnknownType", format!("the asm provider has no type {t}"))
}

fn schema_of(type_name: &str) -> Option<meshform_core::Schema> {
    schema::all().resources.get(type_name).cloned()
}

#[async_trait]
impl ConfiguredProvider for Configured {
    async fn read(&self, type_name: &str, current: &Value) -> ProviderResult<Option<Value>> {
        match type_name {
            "asm_service_mesh" => {
                let Some(id) = s(current, "id") else { return Ok(None) };
                Ok(wait::describe(&self.client, &id).await?.map(|d| mesh::from_detail(&d, current)))
            }
            "asm_cluster_attachment" => members::read_attachment(&self.client, current).await,
            "asm_multi_cluster_network" => members::read_network(&self.client, current).await,
            "asm_sidecar_injection" => members::read_injection(&self.client, current).await,
            t => Err(unknown_type(t)),
        }
    }

    async fn plan(
        &self,
        type_name: &str,
        prior: Option<&Value>,
        proposed: &Value,
    ) -> ProviderResult<PlannedState> {
        let schema = schema_of(type_name).ok_or_else(|| unknown_type(type_name))?;
        let mut p = plan_by_schema(&schema, prior, proposed);
        if type_name == "asm_cluster_attachment" {
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
            if let Some(prior) = prior {
                if prior.get("discovery_only").is_none_or(Value::is_null) {
                    p.requires_replace.retain(|r| {
                        r != &vec![meshform_core::PathStep::Key("discovery_only".into())]
                    });
                }
            }
        }
        Ok(p)
    }

    async fn create(
        &self,
        type_name: &str,
        planned: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        match type_name {
            "asm_service_mesh" => {
                mesh::create(&self.client, planned, self.max_retries, progress).await
            }
            "asm_cluster_attachment" => members::attach(&self.client, planned, progress).await,
            "asm_multi_cluster_network" => {
                members::put_network(&self.client, planned, progress).await
            }
            "asm_sidecar_injection" => {
                members::put_injection(&self.client, planned, true, progress).await
            }
            t => Err(unknown_type(t)),
        }
    }

    async fn update(
        &self,
        type_name: &str,
        _prior: &Value,
        planned: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<Value> {
        match type_name {
            "asm_multi_cluster_network" => {
                members::put_network(&self.client, planned, progress).await
            }
            "asm_sidecar_injection" => {
                let enable = planned.get("enabled").and_then(Value::as_bool).unwrap_or(true)
                    || planned.get("istio_rev").is_some_and(|v| !v.is_null());
                members::put_injection(&self.client, planned, enable, progress).await
            }
            // Everything else that can change in place (timeouts) is meshform's own bookkeeping.
            _ => Ok(planned.clone()),
        }
    }

    async fn delete(
        &self,
        type_name: &str,
        prior: &Value,
        progress: &dyn Progress,
    ) -> ProviderResult<()> {
        match type_name {
            "asm_service_mesh" => mesh::delete(&self.client, prior, progress).await,
            "asm_cluster_attachment" => members::detach(&self.client, prior, progress).await,
            "asm_multi_cluster_network" => {
                members::clear_network(&self.client, prior, progress).await
            }
            "asm_sidecar_injection" => {
                members::put_injection(&self.client, prior, false, progress).await.map(|_| ())
            }
            t => Err(unknown_type(t)),
        }
    }

    async fn import(&self, type_name: &str, id: &str) -> ProviderResult<Option<Value>> {
        let schema = schema_of(type_name).ok_or_else(|| unknown_type(type_name))?;
        let mut base: Value =
            Value::Map(schema.attributes.keys().map(|k| (k.clone(), Value::Null)).collect());
        let set = |v: &mut Value, k: &str, x: &str| {
            if let Value::Map(m) = v {
                m.insert(k.to_owned(), Value::string(x));
            }
        };
        match type_name {
            "asm_service_mesh" => {
                set(&mut base, "id", id);
                Ok(wait::describe(&self.client, id).await?.map(|d| mesh::from_detail(&d, &base)))
            }
            "asm_cluster_attachment" | "asm_sidecar_injection" => {
                let Some((mesh_id, second)) = id.split_once(':') else {
                    return Err(ProviderError::new(
                        "InvalidId",
                        format!(
                            "import {type_name} with MESH_ID:{}",
                            if type_name == "asm_cluster_attachment" {
                                "CLUSTER_ID"
                            } else {
                                "NAMESPACE"
                            }
                        ),
                    ));
                };
                set(&mut base, "mesh_id", mesh_id);
                set(
                    &mut base,
                    if type_name == "asm_cluster_attachment" { "cluster_id" } else { "namespace" },
                    second,
                );
                if type_name == "asm_cluster_attachment" {
                    members::read_attachment(&self.client, &base).await
                } else {
                    members::read_injection(&self.client, &base).await
                }
            }
            "asm_multi_cluster_network" => {
                set(&mut base, "mesh_id", id);
                members::read_network(&self.client, &base).await
            }
            t => Err(unknown_type(t)),
        }
    }

    async fn lookup(&self, type_name: &str, planned: &Value) -> ProviderResult<Option<Value>> {
        match type_name {
            "asm_service_mesh" => {
                let (Some(name), Some(region)) = (s(planned, "name"), s(planned, "region")) else {
                    return Ok(None);
                };
                match mesh::find_by_name(&self.client, &name, &region).await? {
                    Some(id) => Ok(wait::describe(&self.client, &id)
                        .await?
                        .map(|d| mesh::from_detail(&d, planned))),
                    None => Ok(None),
                }
            }
            // The others are identified by their configuration: reading is finding.
            _ => self.read(type_name, planned).await,
        }
    }

    async fn read_data(&self, type_name: &str, config: &Value) -> ProviderResult<Value> {
        if type_name != "asm_versions" {
            return Err(unknown_type(type_name));
        }
        let doc = self
            .client
            .call("DescribeVersions", &[], Retry::Idempotent)
            .await
            .map_err(|e| e.into_provider("DescribeVersions"))?;
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

    fn concurrency(&self) -> usize {
        4
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
