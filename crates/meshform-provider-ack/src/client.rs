//! The CS (Container Service for Kubernetes) OpenAPI, version `2015-12-15`, as the data sources use
//! it: three ROA reads over the shared Alibaba Cloud client ([`meshform_acs::client::AcsClient`],
//! which signs, retries and classifies), and the answers parsed into [`ClusterInfo`].

use meshform_acs::client::{AcsClient, Method};
use meshform_acs::percent_encode;
use meshform_provider::{ErrorKind, ProviderError};
use serde_json::Value as Json;

/// The API version this client speaks.
pub const VERSION: &str = "2015-12-15";

/// The central endpoint (every region's clusters), used when the provider names no region.
pub const CENTRAL_ENDPOINT: &str = "cs.aliyuncs.com";

/// A configured CS client: one endpoint, one set of credentials, and the provider's region.
#[derive(Clone, Debug)]
pub struct CsClient {
    pub acs: AcsClient,
    /// The provider block's `region`: the default of the data sources' `region`.
    pub region: Option<String>,
}

/// What the data sources read of a cluster.
#[derive(Clone, Debug, PartialEq)]
pub struct ClusterInfo {
    pub id: String,
    pub name: String,
    pub region: String,
    pub zone_id: String,
    pub vpc_id: String,
    pub vswitch_ids: Vec<String>,
    pub state: String,
    pub cluster_type: String,
    pub kubernetes_version: String,
    pub api_server_endpoint: String,
    pub intranet_api_server_endpoint: String,
}

/// A user kubeconfig and when it stops working.
#[derive(Clone)]
pub struct UserKubeconfig {
    /// The document (a secret: it holds a credential).
    pub config: String,
    pub expiration: String,
}

impl CsClient {
    /// `DescribeClusterDetail` (`GET /clusters/{id}`).
    pub async fn cluster(&self, id: &str) -> Result<ClusterInfo, ProviderError> {
        let path = format!("/clusters/{}", percent_encode(id));
        let doc = self.acs.roa(Method::GET, "DescribeClusterDetail", &path, &[]).await?;
        ClusterInfo::from_json(&doc)
    }

    /// `DescribeClustersV1` (`GET /api/v1/clusters`), every page: the clusters of `region` whose
    /// names contain `name` (the API's fuzzy match), in the order the API gives.
    pub async fn clusters(
        &self,
        region: &str,
        name: Option<&str>,
    ) -> Result<Vec<ClusterInfo>, ProviderError> {
        const PAGE_SIZE: usize = 100;
        // 100 000 clusters: far more than an account has; an answer that never ends stops here.
        const MAX_PAGES: usize = 1000;
        let mut out = Vec::new();
        for page in 1..=MAX_PAGES {
            let mut query = vec![
                ("region_id".to_owned(), region.to_owned()),
                ("page_number".to_owned(), page.to_string()),
                ("page_size".to_owned(), PAGE_SIZE.to_string()),
            ];
            if let Some(n) = name.filter(|n| !n.is_empty()) {
                query.push(("name".to_owned(), n.to_owned()));
            }
            let doc =
                self.acs.roa(Method::GET, "DescribeClustersV1", "/api/v1/clusters", &query).await?;
            let items = doc.get("clusters").and_then(Json::as_array).cloned().unwrap_or_default();
            let count = items.len();
            for item in &items {
                out.push(ClusterInfo::from_json(item)?);
            }
            let total = doc
                .pointer("/page_info/total_count")
                .and_then(Json::as_u64)
                .and_then(|t| usize::try_from(t).ok())
                .unwrap_or(out.len());
            if count == 0 || out.len() >= total {
                break;
            }
        }
        Ok(out)
    }

    /// `DescribeClusterUserKubeconfig` (`GET /k8s/{id}/user_config`).
    pub async fn user_kubeconfig(
        &self,
        id: &str,
        private_ip: bool,
        temporary_minutes: Option<u32>,
    ) -> Result<UserKubeconfig, ProviderError> {
        let path = format!("/k8s/{}/user_config", percent_encode(id));
        let mut query = vec![("PrivateIpAddress".to_owned(), private_ip.to_string())];
        if let Some(m) = temporary_minutes {
            query.push(("TemporaryDurationMinutes".to_owned(), m.to_string()));
        }
        let doc = self.acs.roa(Method::GET, "DescribeClusterUserKubeconfig", &path, &query).await?;
        let config = doc.get("config").and_then(Json::as_str).unwrap_or_default().to_owned();
        if config.trim().is_empty() {
            return Err(malformed("DescribeClusterUserKubeconfig", "no config"));
        }
        let expiration =
            doc.get("expiration").and_then(Json::as_str).unwrap_or_default().to_owned();
        Ok(UserKubeconfig { config, expiration })
    }
}

fn malformed(action: &str, what: &str) -> ProviderError {
    ProviderError::new(
        ErrorKind::Internal,
        "MalformedAnswer",
        format!("{action}: the answer is not what the CS API returns ({what})"),
    )
}

impl ClusterInfo {
    /// Parses a cluster object (`DescribeClusterDetail`, or an item of `DescribeClustersV1`).
    pub fn from_json(doc: &Json) -> Result<ClusterInfo, ProviderError> {
        let s = |k: &str| doc.get(k).and_then(Json::as_str).unwrap_or_default().to_owned();
        let id = s("cluster_id");
        if id.is_empty() {
            return Err(malformed("DescribeClusterDetail", "no cluster_id"));
        }
        let mut vswitch_ids: Vec<String> = doc
            .get("vswitch_ids")
            .and_then(Json::as_array)
            .map(|a| a.iter().filter_map(|v| v.as_str().map(str::to_owned)).collect())
            .unwrap_or_default();
        if vswitch_ids.is_empty() {
            // `vswitch_id` (deprecated) may be a comma-separated list.
            vswitch_ids = s("vswitch_id")
                .split(',')
                .map(str::trim)
                .filter(|v| !v.is_empty())
                .map(str::to_owned)
                .collect();
        }
        // `master_url` is a JSON document inside a string.
        let master: Json = serde_json::from_str(&s("master_url")).unwrap_or(Json::Null);
        let endpoint =
            |k: &str| master.get(k).and_then(Json::as_str).unwrap_or_default().to_owned();
        Ok(ClusterInfo {
            name: s("name"),
            region: s("region_id"),
            zone_id: s("zone_id"),
            vpc_id: s("vpc_id"),
            vswitch_ids,
            state: s("state"),
            cluster_type: s("cluster_type"),
            kubernetes_version: s("current_version"),
            api_server_endpoint: endpoint("api_server_endpoint"),
            intranet_api_server_endpoint: endpoint("intranet_api_server_endpoint"),
            id,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_cluster_object_as_the_api_returns_it() {
        let doc = serde_json::json!({
            "cluster_id": "c1", "name": "prod", "region_id": "cn-hangzhou", "zone_id": "cn-hangzhou-h",
            "vpc_id": "vpc-1", "vswitch_id": "vsw-1, vsw-2", "state": "running",
            "cluster_type": "ManagedKubernetes", "current_version": "1.32.4-aliyun.1",
            "master_url": "{\"api_server_endpoint\":\"\",\"intranet_api_server_endpoint\":\"https://10.0.0.1:6443\"}",
        });
        let c = ClusterInfo::from_json(&doc).unwrap();
        assert_eq!(c.vswitch_ids, ["vsw-1", "vsw-2"], "the deprecated comma-separated form");
        assert_eq!(c.api_server_endpoint, "", "no public endpoint");
        assert_eq!(c.intranet_api_server_endpoint, "https://10.0.0.1:6443");
        assert_eq!(c.kubernetes_version, "1.32.4-aliyun.1");
        let e = ClusterInfo::from_json(&serde_json::json!({"name": "x"})).unwrap_err();
        assert_eq!(e.code, "MalformedAnswer");
    }
}
