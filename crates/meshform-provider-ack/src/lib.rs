//! The `ack` provider: Alibaba Cloud Container Service for Kubernetes (ACK) clusters as data
//! sources, through the real CS OpenAPI (version 2015-12-15, ROA style) — so a configuration names
//! clusters by id and reads their region, network, endpoints and a kubeconfig instead of copying
//! them from a console.
//!
//! - [`client`]: the three CS reads over the shared Alibaba Cloud client (`meshform-acs`: signing,
//!   credentials, retries, error classification), answers parsed into [`client::ClusterInfo`].
//! - [`data`]: `ack_cluster` and `ack_clusters`, registered in one table here.
//! - [`schema`]: the schemas.
//!
//! The provider has no sandbox-only path: pointed at the sandbox's CS endpoint it behaves exactly
//! as against Alibaba Cloud.

pub mod client;
pub mod data;
pub mod schema;

use std::sync::{Arc, LazyLock};

use async_trait::async_trait;
use meshform_acs::client::{regional_endpoint, AcsClient};
use meshform_acs::credentials::{self, ProviderEnv};
use meshform_core::{Mode, ProviderSchema, Value};
use meshform_provider::{
    AttributeProblem, ConfiguredProvider, Provider, ProviderError, ProviderResult, RetryPolicy,
    TypeTable,
};

use crate::client::{CsClient, CENTRAL_ENDPOINT, VERSION};

/// The environment variable that overrides the CS endpoint when the provider block names none (the
/// sandbox's `sandbox.env` sets it).
pub const ENDPOINT_VARIABLE: &str = "ALIBABA_CLOUD_CS_ENDPOINT";

/// How many reads one configured instance runs at once.
const CONCURRENCY: usize = 8;

/// The provider's types, by name.
static TYPES: LazyLock<Arc<TypeTable<CsClient>>> = LazyLock::new(|| {
    Arc::new(
        TypeTable::new("ack")
            .data_source("ack_cluster", data::Cluster)
            .data_source("ack_clusters", data::Clusters),
    )
});

/// The `ack` provider, given the parts of the user's environment it may use.
#[derive(Debug, Clone, Default)]
pub struct AckProvider {
    env: ProviderEnv,
}

impl AckProvider {
    pub fn new(env: ProviderEnv) -> AckProvider {
        AckProvider { env }
    }

    /// The endpoint: the block's, else [`ENDPOINT_VARIABLE`], else the region's, else the central one.
    fn endpoint(&self, config: &Value, region: Option<&str>) -> String {
        let block = config.get("endpoint").and_then(Value::as_str).filter(|e| !e.trim().is_empty());
        let env = self.env.vars.get(ENDPOINT_VARIABLE).filter(|e| !e.trim().is_empty());
        match (block, env, region) {
            (Some(e), _, _) => e.to_owned(),
            (None, Some(e), _) => e.clone(),
            (None, None, Some(r)) => regional_endpoint("cs", r),
            (None, None, None) => CENTRAL_ENDPOINT.to_owned(),
        }
    }
}

#[async_trait]
impl Provider for AckProvider {
    fn name(&self) -> &str {
        "ack"
    }

    fn schema(&self) -> ProviderSchema {
        TYPES.schema(schema::provider())
    }

    fn validate(&self, mode: Mode, type_name: &str, config: &Value) -> Vec<AttributeProblem> {
        TYPES.validate(mode, type_name, config)
    }

    async fn configure(&self, config: &Value) -> ProviderResult<Arc<dyn ConfiguredProvider>> {
        let s = |k: &str| config.get(k).and_then(Value::as_str).map(str::to_owned);
        let region = s("region").filter(|r| !r.trim().is_empty());
        let creds = credentials::chain(&credentials::block::explicit(config)?, &self.env).await?;
        let max_retries = config
            .get("max_retries")
            .and_then(Value::as_number)
            .map(|n| n.to_f64().clamp(0.0, 30.0) as u32)
            .unwrap_or(8);
        let endpoint = self.endpoint(config, region.as_deref());
        let acs = AcsClient::new(&endpoint, VERSION, creds)
            .map_err(|e| ProviderError::invalid_config("endpoint", e))?
            .with_policy(RetryPolicy::default().with_max_retries(max_retries));
        Ok(TYPES.bind(Arc::new(CsClient { acs, region }), CONCURRENCY))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_endpoint_comes_from_the_block_the_environment_or_the_region() {
        let mut p = AckProvider::default();
        let none = Value::map([("endpoint", Value::Null)]);
        assert_eq!(p.endpoint(&none, None), "cs.aliyuncs.com");
        assert_eq!(p.endpoint(&none, Some("cn-shanghai")), "cs.cn-shanghai.aliyuncs.com");
        p.env.vars.insert(ENDPOINT_VARIABLE.into(), "http://127.0.0.1:4000".into());
        assert_eq!(p.endpoint(&none, Some("cn-shanghai")), "http://127.0.0.1:4000");
        let block = Value::map([("endpoint", Value::string("cs-vpc.cn-hangzhou.aliyuncs.com"))]);
        assert_eq!(p.endpoint(&block, None), "cs-vpc.cn-hangzhou.aliyuncs.com");
    }
}
