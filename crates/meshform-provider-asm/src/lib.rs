//! The `asm` provider: Alibaba Cloud Service Mesh through its real OpenAPI (product `servicemesh`,
//! version 2020-01-11) — the runbook's steps 1 to 4.
//!
//! - [`credentials`]: the shared Alibaba Cloud credential chain (`meshform_acs`), re-exported;
//!   [`explicit_credentials`] reads its settings from a provider block.
//! - [`client`]: ASM over the shared client (`meshform_acs::client`): ASM's error codes, busy
//!   meshes, refresh reads that remember an outage.
//! - [`wait`]: waiting for mesh states.
//! - [`resources`]: the resource and data source types, registered in one table here.
//! - [`mesh`]: `asm_service_mesh`; [`upgrade`]: its in-place upgrades; [`members`]: attachments,
//!   networks, injection.
//! - [`schema`]: the schemas.
//!
//! The provider has no sandbox-only path: pointed at the sandbox's endpoint it behaves exactly as
//! against Alibaba Cloud.

pub mod client;
pub mod credentials;
pub mod members;
pub mod mesh;
pub mod resources;
pub mod schema;
pub mod upgrade;
pub mod wait;

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use meshform_core::{Mode, ProviderSchema, Value};
use meshform_provider::{
    AttributeProblem, ConfiguredProvider, Provider, ProviderError, ProviderResult, TypeTable,
};

use crate::client::AsmClient;
use crate::credentials::ProviderEnv;

/// The default API endpoint.
pub const DEFAULT_ENDPOINT: &str = "servicemesh.aliyuncs.com";

/// The environment variable that gives the endpoint when the provider block names none (the
/// sandbox's `sandbox.env` sets it).
pub const ENDPOINT_VARIABLE: &str = "ALIBABA_CLOUD_SERVICEMESH_ENDPOINT";

/// How many operations one configured instance runs at once (ASM meshes accept one change at a time).
const CONCURRENCY: usize = 4;

/// The provider's types, by name.
static TYPES: LazyLock<Arc<TypeTable<AsmClient>>> = LazyLock::new(|| {
    Arc::new(
        TypeTable::new("asm")
            .resource("asm_service_mesh", resources::ServiceMesh)
            .resource("asm_cluster_attachment", resources::ClusterAttachment)
            .resource("asm_multi_cluster_network", resources::MultiClusterNetwork)
            .resource("asm_sidecar_injection", resources::SidecarInjection)
            .data_source("asm_versions", resources::Versions),
    )
});

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

#[async_trait]
impl Provider for AsmProvider {
    fn name(&self) -> &str {
        "asm"
    }

    fn schema(&self) -> ProviderSchema {
        TYPES.schema(schema::provider())
    }

    fn validate(&self, mode: Mode, type_name: &str, config: &Value) -> Vec<AttributeProblem> {
        TYPES.validate(mode, type_name, config)
    }

    async fn configure(&self, config: &Value) -> ProviderResult<Arc<dyn ConfiguredProvider>> {
        let s = |k: &str| config.get(k).and_then(Value::as_str).map(str::to_owned);
        let creds = credentials::chain(&explicit_credentials(config)?, &self.env).await?;
        let endpoint = s("endpoint")
            .or_else(|| self.env.vars.get(ENDPOINT_VARIABLE).filter(|e| !e.is_empty()).cloned())
            .unwrap_or_else(|| DEFAULT_ENDPOINT.to_owned());
        let max_retries = config
            .get("max_retries")
            .and_then(Value::as_number)
            .map(|n| n.to_f64().clamp(0.0, 30.0) as u32)
            .unwrap_or(8);
        let client = AsmClient::new(&endpoint, creds, max_retries)
            .map_err(|e| ProviderError::invalid_config("endpoint", e))?;
        Ok(TYPES.bind(Arc::new(client), CONCURRENCY))
    }
}

/// The credential settings of an Alibaba Cloud provider block ([`schema::credentials`]), read as
/// every Alibaba provider reads them.
pub use meshform_acs::credentials::block::explicit as explicit_credentials;
