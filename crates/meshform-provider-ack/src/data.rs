//! The data sources: `ack_cluster` (one cluster by id, or by name within a region, with a user
//! kubeconfig) and `ack_clusters` (a region's clusters, filtered by name). Bad input is refused
//! with an error on the argument at fault: no cluster_id nor name, an unknown cluster id, a
//! cluster in another region than the one asked for, a kubeconfig duration out of range.

use async_trait::async_trait;
use meshform_core::schema::Schema;
use meshform_core::{PathStep, Value};
use meshform_provider::{
    AttributeProblem, DataSourceType, ErrorKind, ProviderError, ProviderResult,
};

use crate::client::{ClusterInfo, CsClient};
use crate::schema;

/// The range ACK accepts for `TemporaryDurationMinutes`.
const TEMPORARY_MINUTES: std::ops::RangeInclusive<i64> = 15..=4320;

fn problem(attr: &str, message: impl Into<String>) -> AttributeProblem {
    AttributeProblem {
        path: vec![PathStep::Key(attr.into())],
        message: message.into(),
        is_error: true,
    }
}

/// A set string argument (`None` when unset or null; unknown counts as set).
fn given<'a>(config: &'a Value, key: &str) -> Option<&'a Value> {
    config.get(key).filter(|v| !v.is_null())
}

fn string(config: &Value, key: &str) -> Option<String> {
    given(config, key).and_then(Value::as_str).map(str::to_owned)
}

fn strings(items: &[String]) -> Value {
    Value::List(items.iter().cloned().map(Value::string).collect())
}

/// The attributes every cluster shows.
fn cluster_fields(c: &ClusterInfo) -> Vec<(&'static str, Value)> {
    vec![
        ("cluster_id", Value::string(c.id.clone())),
        ("name", Value::string(c.name.clone())),
        ("region", Value::string(c.region.clone())),
        ("zone_id", Value::string(c.zone_id.clone())),
        ("vpc_id", Value::string(c.vpc_id.clone())),
        ("vswitch_ids", strings(&c.vswitch_ids)),
        ("state", Value::string(c.state.clone())),
        ("cluster_type", Value::string(c.cluster_type.clone())),
        ("kubernetes_version", Value::string(c.kubernetes_version.clone())),
        ("api_server_endpoint", Value::string(c.api_server_endpoint.clone())),
        ("intranet_api_server_endpoint", Value::string(c.intranet_api_server_endpoint.clone())),
    ]
}

/// `config` with `fields` set.
fn with_fields(config: &Value, fields: Vec<(&'static str, Value)>) -> Value {
    let mut out = config.clone();
    if let Value::Map(m) = &mut out {
        for (k, v) in fields {
            m.insert(k.to_owned(), v);
        }
    }
    out
}

/// `data "ack_cluster"`.
pub struct Cluster;

impl Cluster {
    /// The cluster the configuration names, checked against the region asked for.
    async fn find(&self, client: &CsClient, config: &Value) -> ProviderResult<ClusterInfo> {
        let region_arg = string(config, "region");
        let region = region_arg.clone().or_else(|| client.region.clone());
        // Where a region mismatch is reported: the data source's region, else the argument that
        // named the cluster (the region then came from the provider block).
        let region_attr =
            |named_by: &str| if region_arg.is_some() { "region" } else { named_by }.to_owned();
        if let Some(id) = string(config, "cluster_id") {
            let cluster = client.cluster(&id).await.map_err(|e| match e.kind {
                ErrorKind::NotFound => ProviderError::new(
                    ErrorKind::NotFound,
                    e.code.clone(),
                    format!("no ACK cluster {id:?} in this account ({e}); check the id (the ACK console, or `aliyun cs GET /api/v1/clusters`) and the credentials' account"),
                )
                .at_attribute("cluster_id"),
                _ => e,
            })?;
            if let Some(r) = region.filter(|r| *r != cluster.region) {
                return Err(ProviderError::new(
                    ErrorKind::InvalidArgument,
                    "ClusterInOtherRegion",
                    format!(
                        "ACK cluster {id} ({}) is in region {}, not {r}; use a cluster of {r}, or set region = \"{}\"",
                        cluster.name, cluster.region, cluster.region
                    ),
                )
                .at_attribute(&region_attr("cluster_id")));
            }
            if let Some(n) = string(config, "name").filter(|n| *n != cluster.name) {
                return Err(ProviderError::new(
                    ErrorKind::InvalidArgument,
                    "ClusterNameMismatch",
                    format!("ACK cluster {id} is named {:?}, not {n:?}; give cluster_id or name, or both matching", cluster.name),
                )
                .at_attribute("name"));
            }
            return Ok(cluster);
        }
        let Some(name) = string(config, "name") else {
            return Err(ProviderError::invalid_config("cluster_id", "give cluster_id or name"));
        };
        let Some(region) = region else {
            return Err(ProviderError::invalid_config(
                "name",
                format!("a lookup by name needs a region: set region in this data source or in the ack provider block, or give cluster_id instead of name = {name:?}"),
            ));
        };
        let found: Vec<ClusterInfo> = client
            .clusters(&region, Some(&name))
            .await?
            .into_iter()
            .filter(|c| c.name == name)
            .collect();
        match found.as_slice() {
            [one] => Ok(one.clone()),
            [] => Err(ProviderError::new(
                ErrorKind::NotFound,
                "ClusterNameNotFound",
                format!("no ACK cluster named {name:?} in region {region}; check the name, or the region (data \"ack_clusters\" lists a region's clusters)"),
            )
            .at_attribute(&region_attr("name"))),
            many => Err(ProviderError::new(
                ErrorKind::InvalidArgument,
                "ClusterNameAmbiguous",
                format!(
                    "{} ACK clusters are named {name:?} in region {region} ({}); give cluster_id instead",
                    many.len(),
                    many.iter().map(|c| c.id.as_str()).collect::<Vec<_>>().join(", ")
                ),
            )
            .at_attribute("name")),
        }
    }
}

#[async_trait]
impl DataSourceType<CsClient> for Cluster {
    fn schema(&self) -> Schema {
        schema::cluster()
    }

    fn validate(&self, config: &Value) -> Vec<AttributeProblem> {
        let mut problems = Vec::new();
        if given(config, "cluster_id").is_none() && given(config, "name").is_none() {
            problems.push(problem("cluster_id", "give cluster_id (or name, with a region)"));
        }
        for key in ["cluster_id", "name", "region"] {
            if string(config, key).is_some_and(|v| v.trim().is_empty()) {
                problems.push(problem(key, format!("{key} is empty")));
            }
        }
        if let Some(m) = given(config, "temporary_duration_minutes").and_then(Value::as_number) {
            if !m.as_i64().is_some_and(|m| TEMPORARY_MINUTES.contains(&m)) {
                problems.push(problem(
                    "temporary_duration_minutes",
                    format!("temporary_duration_minutes is {m}: ACK issues temporary kubeconfigs for 15 to 4320 whole minutes"),
                ));
            }
        }
        problems
    }

    async fn read(&self, client: &CsClient, config: &Value) -> ProviderResult<Value> {
        let cluster = self.find(client, config).await?;
        let private_ip = given(config, "private_ip").and_then(Value::as_bool).unwrap_or(false);
        let minutes = given(config, "temporary_duration_minutes")
            .and_then(Value::as_number)
            .and_then(|m| m.as_i64())
            .filter(|m| TEMPORARY_MINUTES.contains(m))
            .and_then(|m| u32::try_from(m).ok());
        let kubeconfig = client.user_kubeconfig(&cluster.id, private_ip, minutes).await?;
        let mut fields = cluster_fields(&cluster);
        fields.push(("zone_ids", strings(std::slice::from_ref(&cluster.zone_id))));
        fields.push(("kubeconfig", Value::string(kubeconfig.config).sensitive()));
        fields.push(("kubeconfig_expiration", Value::string(kubeconfig.expiration)));
        Ok(with_fields(config, fields))
    }
}

/// `data "ack_clusters"`.
pub struct Clusters;

#[async_trait]
impl DataSourceType<CsClient> for Clusters {
    fn schema(&self) -> Schema {
        schema::clusters()
    }

    fn validate(&self, config: &Value) -> Vec<AttributeProblem> {
        match string(config, "region") {
            Some(r) if r.trim().is_empty() => vec![problem("region", "region is empty")],
            _ => Vec::new(),
        }
    }

    async fn read(&self, client: &CsClient, config: &Value) -> ProviderResult<Value> {
        let Some(region) = string(config, "region").or_else(|| client.region.clone()) else {
            return Err(ProviderError::invalid_config(
                "region",
                "which region's clusters? set region here or in the ack provider block",
            ));
        };
        let filter = string(config, "name_contains");
        let found = client.clusters(&region, filter.as_deref()).await?;
        // The API's name filter is fuzzy: keep exactly what contains the string.
        let found: Vec<ClusterInfo> = found
            .into_iter()
            .filter(|c| filter.as_deref().is_none_or(|f| c.name.contains(f)))
            .collect();
        let objects = found.iter().map(|c| Value::map(cluster_fields(c))).collect::<Vec<_>>();
        let ids: Vec<String> = found.iter().map(|c| c.id.clone()).collect();
        let names: Vec<String> = found.iter().map(|c| c.name.clone()).collect();
        Ok(with_fields(
            config,
            vec![
                ("region", Value::string(region)),
                ("ids", strings(&ids)),
                ("names", strings(&names)),
                ("clusters", Value::List(objects)),
            ],
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn validation_names_the_argument() {
        let none = Value::map([("cluster_id", Value::Null)]);
        let p = Cluster.validate(&none);
        assert_eq!(p.len(), 1);
        assert_eq!(p[0].path, vec![PathStep::Key("cluster_id".into())]);
        let bad = Value::map([
            ("cluster_id", Value::string("c1")),
            ("temporary_duration_minutes", Value::number(5)),
        ]);
        let p = Cluster.validate(&bad);
        assert_eq!(p[0].path, vec![PathStep::Key("temporary_duration_minutes".into())]);
        assert!(p[0].message.contains("15 to 4320"), "{}", p[0].message);
        let unknown = Value::map([("cluster_id", Value::Unknown)]);
        assert!(Cluster.validate(&unknown).is_empty(), "an id known after apply is fine");
        let empty = Value::map([("region", Value::string(" "))]);
        assert_eq!(Clusters.validate(&empty).len(), 1);
    }
}
