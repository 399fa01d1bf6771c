//! Schemas of the ack provider's configuration and data sources.

use std::collections::BTreeMap;

use meshform_core::schema::{Attribute, Schema};
use meshform_core::Type;

fn s() -> Type {
    Type::String
}

fn list_s() -> Type {
    Type::List(Box::new(Type::String))
}

pub fn provider() -> Schema {
    meshform_acs::credentials::block::schema(Schema::new("Alibaba Cloud Container Service for Kubernetes (ACK) over the CS OpenAPI: clusters as data sources."))
        .attr("region", Attribute::optional(s(), "Region id, e.g. cn-hangzhou: where name lookups and ack_clusters search, and the region every ack_cluster must be in (default: none — a cluster is found by id in any region). Also picks the endpoint cs.<region>.aliyuncs.com."))
        .attr("endpoint", Attribute::optional(s(), "API endpoint (else ALIBABA_CLOUD_CS_ENDPOINT, else cs.<region>.aliyuncs.com, else cs.aliyuncs.com, over HTTPS); e.g. the sandbox's http://127.0.0.1:PORT."))
        .attr("max_retries", Attribute::optional(Type::Number, "Retries of throttled or failed calls (default 8)."))
}

/// The attributes every cluster has, as `ack_cluster` and each item of `ack_clusters` show them.
const CLUSTER_ATTRIBUTES: &[(&str, &str)] = &[
    ("zone_id", "The zone of the cluster's control plane, e.g. cn-hangzhou-h."),
    ("vpc_id", "The cluster's VPC."),
    ("state", "running, updating, unavailable, … (the CS API's state)."),
    ("cluster_type", "ManagedKubernetes, Kubernetes, ExternalKubernetes, …"),
    ("kubernetes_version", "The Kubernetes version ACK runs, e.g. 1.32.4-aliyun.1."),
    ("api_server_endpoint", "The public API server endpoint (empty when the cluster has none)."),
    ("intranet_api_server_endpoint", "The API server endpoint inside the VPC."),
];

pub fn cluster() -> Schema {
    let mut schema = Schema::new("One ACK cluster, found by id (in any region) or by name within a region: its network, endpoints and a kubeconfig.")
        .attr("cluster_id", Attribute::optional_computed(s(), "The cluster id (c…). Give this or name."))
        .attr("name", Attribute::optional_computed(s(), "The cluster's name, looked up in region (exact match). Give this or cluster_id."))
        .attr("region", Attribute::optional_computed(s(), "The region the cluster must be in (default: the provider's region; without either, the cluster's own)."))
        .attr("private_ip", Attribute::optional(Type::Bool, "A kubeconfig for the intranet endpoint (PrivateIpAddress), for a runner inside the VPC (default false)."))
        .attr("temporary_duration_minutes", Attribute::optional(Type::Number, "A temporary kubeconfig valid for this many minutes (15–4320); default: a long-lived one."))
        .attr("zone_ids", Attribute::computed(list_s(), "The cluster's zones (its control plane's)."))
        .attr("vswitch_ids", Attribute::computed(list_s(), "The cluster's vSwitches."))
        .attr("kubeconfig", Attribute::computed(s(), "The user kubeconfig (DescribeClusterUserKubeconfig), e.g. for a kubernetes provider's kubeconfig_content.").sensitive())
        .attr("kubeconfig_expiration", Attribute::computed(s(), "When the kubeconfig stops working (RFC 3339, UTC)."));
    for (name, description) in CLUSTER_ATTRIBUTES {
        schema = schema.attr(name, Attribute::computed(s(), description));
    }
    schema
}

/// The object type of one item of `ack_clusters.clusters`.
fn cluster_object() -> Type {
    let mut attrs: BTreeMap<String, (Type, bool)> =
        CLUSTER_ATTRIBUTES.iter().map(|(name, _)| ((*name).to_owned(), (s(), false))).collect();
    for name in ["cluster_id", "name", "region"] {
        attrs.insert(name.to_owned(), (s(), false));
    }
    attrs.insert("vswitch_ids".to_owned(), (list_s(), false));
    Type::Object(attrs)
}

pub fn clusters() -> Schema {
    Schema::new("The ACK clusters of a region, optionally those whose names contain a string.")
        .attr("region", Attribute::optional_computed(s(), "Region id (default: the provider's region)."))
        .attr("name_contains", Attribute::optional(s(), "Only clusters whose names contain this (the API's fuzzy name filter)."))
        .attr("ids", Attribute::computed(list_s(), "The clusters' ids, in the API's order."))
        .attr("names", Attribute::computed(list_s(), "Their names, in the same order."))
        .attr("clusters", Attribute::computed(Type::List(Box::new(cluster_object())), "Each cluster: cluster_id, name, region, zone_id, vpc_id, vswitch_ids, state, cluster_type, kubernetes_version and the API server endpoints."))
}
