//! The CS API's answer shapes for the emulated clusters: the cluster object of
//! `DescribeClusterDetail` and `DescribeClustersV1` (snake_case keys, `master_url` a JSON-encoded
//! string), the user kubeconfig of `DescribeClusterUserKubeconfig`, and timestamps.

use base64::Engine;
use serde_json::{json, Value};

use super::CsCluster;
use crate::kube::KUBERNETES_VERSION;

/// When the emulated clusters were created: fixed, so that answers are the same at every start.
const CREATED: &str = "2026-01-01T08:00:00+08:00";

/// The zone of an emulated cluster: the first zone of its region as Alibaba Cloud names them
/// (`cn-hangzhou` → `cn-hangzhou-h`), `<region>-a` for regions without a table entry.
pub fn zone_of(region: &str) -> String {
    let first = match region {
        "cn-hangzhou" => "h",
        "cn-shanghai" => "e",
        "cn-beijing" => "a",
        "cn-shenzhen" => "a",
        "cn-hongkong" => "b",
        "cn-qingdao" => "b",
        "ap-southeast-1" => "a",
        _ => "a",
    };
    format!("{region}-{first}")
}

/// ACK's version string for the emulated API servers' Kubernetes version (`v1.32.4` →
/// `1.32.4-aliyun.1`).
pub fn ack_version() -> String {
    format!("{}-aliyun.1", KUBERNETES_VERSION.trim_start_matches('v'))
}

/// The public API server endpoint: `https://127.0.0.1:PORT`.
pub fn public_endpoint(c: &CsCluster) -> String {
    format!("https://{}", c.api_server)
}

/// The intranet API server endpoint: the same server reached by the name `localhost` (the
/// sandbox has one network; the name is what tells the two kubeconfigs apart).
pub fn intranet_endpoint(c: &CsCluster) -> String {
    format!("https://localhost:{}", c.api_server.port())
}

fn state(c: &CsCluster) -> &'static str {
    match &c.availability {
        Some(a) if a.is_down() => "unavailable",
        _ => "running",
    }
}

/// The cluster object (`DescribeClusterDetail`; `DescribeClustersV1`'s items).
pub fn cluster(c: &CsCluster) -> Value {
    let master_url = json!({
        "api_server_endpoint": public_endpoint(c),
        "intranet_api_server_endpoint": intranet_endpoint(c),
    })
    .to_string();
    let version = ack_version();
    json!({
        "cluster_id": c.id,
        "name": c.name,
        "region_id": c.region,
        "zone_id": zone_of(&c.region),
        "vpc_id": c.vpc_id,
        "vswitch_id": c.vswitch_id,
        "vswitch_ids": [c.vswitch_id],
        "security_group_id": format!("sg-{}", short_id(&c.id)),
        "resource_group_id": "rg-acfmsandbox0000",
        "state": state(c),
        "cluster_type": "ManagedKubernetes",
        "profile": "Default",
        "cluster_spec": "ack.pro.small",
        "current_version": version,
        "init_version": version,
        "created": CREATED,
        "updated": CREATED,
        "deletion_protection": true,
        "tags": [],
        "master_url": master_url,
        "meta_data": json!({"Addons": [], "KubernetesVersion": version}).to_string(),
        "container_cidr": "172.20.0.0/16",
        "service_cidr": "172.21.0.0/20",
        "network_mode": "vpc",
        "proxy_mode": "ipvs",
        "ip_stack": "ipv4",
        "timezone": "Asia/Shanghai",
        "cluster_domain": "cluster.local",
        "rrsa_config": {"enabled": false},
    })
}

/// The part of the cluster id after its `c` (`cabc…` → `abc…`), first 17 characters.
fn short_id(id: &str) -> String {
    id.trim_start_matches('c').chars().take(17).collect()
}

/// A kubeconfig for the cluster's user: the cluster's CA inline, `server` the public or intranet
/// endpoint, and a bearer token (the long-lived one, or a temporary token). Its cluster and context
/// are named after the cluster (`cluster-1`), which is how errors about it name it; the user after
/// the cluster id.
pub fn user_kubeconfig(c: &CsCluster, private: bool, token: &str) -> String {
    let ca = base64::engine::general_purpose::STANDARD.encode(c.ca_pem.as_bytes());
    let server = if private { intranet_endpoint(c) } else { public_endpoint(c) };
    // JSON strings are YAML scalars: any name is quoted safely.
    let quote = |s: &str| serde_json::Value::String(s.to_owned()).to_string();
    let (name, user) = (quote(&c.name), quote(&format!("{}-user", c.id)));
    format!(
        "apiVersion: v1\nkind: Config\nclusters:\n- name: {name}\n  cluster:\n    server: {server}\n    certificate-authority-data: {ca}\n\
         users:\n- name: {user}\n  user:\n    token: {token}\n\
         contexts:\n- name: {name}\n  context:\n    cluster: {name}\n    user: {user}\n\
         current-context: {name}\npreferences: {{}}\n",
    )
}

/// `YYYY-MM-DDTHH:MM:SSZ` for a unix time in seconds.
pub fn rfc3339(unix: i64) -> String {
    let t =
        time::OffsetDateTime::from_unix_timestamp(unix).unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    t.format(format).unwrap_or_default()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn zones_and_versions() {
        assert_eq!(zone_of("cn-hangzhou"), "cn-hangzhou-h");
        assert_eq!(zone_of("eu-central-1"), "eu-central-1-a");
        assert!(ack_version().ends_with("-aliyun.1") && !ack_version().starts_with('v'));
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
    }
}
