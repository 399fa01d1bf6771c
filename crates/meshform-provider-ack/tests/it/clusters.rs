//! `data "ack_cluster"` and `data "ack_clusters"` against the sandbox's CS emulator: what a
//! configuration reads of a cluster given only its id (or its name and region), and one clear
//! diagnostic on the argument at fault for an unknown id, a cluster of another region, a name
//! lookup without a region.

use meshform_core::Value;

use crate::harness::{output, World};

const BY_ID: &str = r#"
provider "ack" {}

data "ack_cluster" "c1" {
  cluster_id = "CLUSTER_1"
}

data "ack_cluster" "c2" {
  name   = "cluster-2"
  region = "REGION_2"
}

data "ack_clusters" "second_region" {
  region = "REGION_2"
}

data "ack_clusters" "named" {
  region        = "REGION_1"
  name_contains = "ster-1"
}

output "c1" {
  value = {
    name = data.ack_cluster.c1.name, region = data.ack_cluster.c1.region, zone = data.ack_cluster.c1.zone_id,
    vpc = data.ack_cluster.c1.vpc_id, vswitches = data.ack_cluster.c1.vswitch_ids, state = data.ack_cluster.c1.state,
    version = data.ack_cluster.c1.kubernetes_version, public = data.ack_cluster.c1.api_server_endpoint,
    intranet = data.ack_cluster.c1.intranet_api_server_endpoint,
  }
}
output "c2_id" { value = data.ack_cluster.c2.cluster_id }
output "second_region" { value = data.ack_clusters.second_region.names }
output "named" { value = data.ack_clusters.named.ids }
"#;

fn s(v: &Value, key: &str) -> String {
    v.get(key).and_then(Value::as_str).unwrap_or_else(|| panic!("{key} in {v}")).to_owned()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cluster_is_read_from_its_id_alone() {
    let w = World::start().await;
    w.write(BY_ID);
    let planned = w.plan().await;
    let ident = w.sandbox.identity.clusters.clone();
    let described = w.sandbox.description().clusters.clone();

    let c1 = output(&planned, "c1");
    assert_eq!(s(&c1, "name"), "cluster-1");
    assert_eq!(s(&c1, "region"), ident[0].region, "the region comes from the cluster");
    assert_eq!(s(&c1, "zone"), format!("{}-h", ident[0].region));
    assert_eq!(s(&c1, "vpc"), ident[0].vpc_id);
    assert_eq!(
        c1.get("vswitches"),
        Some(&Value::List(vec![Value::string(ident[0].vswitch_id.clone())]))
    );
    assert_eq!(s(&c1, "state"), "running");
    assert!(s(&c1, "version").ends_with("-aliyun.1"));
    assert_eq!(Some(s(&c1, "public")), described[0].api_server);
    assert!(s(&c1, "intranet").starts_with("https://localhost:"));

    assert_eq!(
        output(&planned, "c2_id"),
        Value::string(ident[1].id.clone()),
        "found by name in its region"
    );
    assert_eq!(output(&planned, "second_region"), Value::List(vec![Value::string("cluster-2")]));
    assert_eq!(output(&planned, "named"), Value::List(vec![Value::string(ident[0].id.clone())]));
    w.shutdown().await;
}

/// Plans `config` and returns its one error, which must point at `argument_text`.
async fn one_error(w: &World, config: &str) -> String {
    w.write(config);
    let errors = w.try_plan().await.err().expect("the plan fails");
    assert_eq!(errors.len(), 1, "one diagnostic: {errors:#?}");
    errors.into_iter().next().unwrap_or_default()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_gets_one_diagnostic_on_the_argument() {
    let w = World::start().await;

    let e = one_error(
        &w,
        r#"
provider "ack" {}
data "ack_cluster" "x" {
  cluster_id = "c0000000000000000000000000000000"
}
"#,
    )
    .await;
    assert!(
        e.contains("no ACK cluster \"c0000000000000000000000000000000\"")
            && e.contains("ErrorClusterNotFound"),
        "{e}"
    );
    assert!(e.contains("request"), "the request id is named: {e}");
    assert!(e.ends_with("@ `\"c0000000000000000000000000000000\"`"), "points at cluster_id: {e}");

    // A cluster of another region than the one asked for: in the data source…
    let e = one_error(
        &w,
        r#"
provider "ack" {}
data "ack_cluster" "x" {
  cluster_id = "CLUSTER_1"
  region     = "REGION_2"
}
"#,
    )
    .await;
    let (_, r1) = w.cluster(1);
    let (_, r2) = w.cluster(2);
    assert!(e.contains(&format!("is in region {r1}, not {r2}")), "{e}");
    assert!(e.ends_with(&format!("@ `\"{r2}\"`")), "points at region: {e}");
    // …or in the provider block: then at the id.
    let e = one_error(
        &w,
        r#"
provider "ack" {
  region = "REGION_2"
}
data "ack_cluster" "x" {
  cluster_id = "CLUSTER_1"
}
"#,
    )
    .await;
    assert!(e.contains(&format!("is in region {r1}, not {r2}")), "{e}");
    let (id1, _) = w.cluster(1);
    assert!(e.ends_with(&format!("@ `\"{id1}\"`")), "points at cluster_id: {e}");

    let e = one_error(
        &w,
        r#"
provider "ack" {}
data "ack_cluster" "x" {
  name = "cluster-1"
}
"#,
    )
    .await;
    assert!(e.contains("a lookup by name needs a region"), "{e}");
    assert!(e.ends_with("@ `\"cluster-1\"`"), "{e}");

    let e = one_error(
        &w,
        r#"
provider "ack" {}
data "ack_cluster" "x" {
  name   = "cluster-1"
  region = "REGION_2"
}
"#,
    )
    .await;
    assert!(e.contains("no ACK cluster named \"cluster-1\""), "{e}");

    let e = one_error(
        &w,
        r#"
provider "ack" {}
data "ack_cluster" "x" {
  cluster_id                 = "CLUSTER_1"
  temporary_duration_minutes = 5
}
"#,
    )
    .await;
    assert!(e.contains("15 to 4320"), "{e}");
    assert!(e.ends_with("@ `5`"), "{e}");
    w.shutdown().await;
}
