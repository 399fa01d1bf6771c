//! Apply, plan again, update in place, replace, drift and destroy, with the runbook's cluster-1 apps.

use meshform_engine::plan::{Action, ChangeReason};
use serde_json::json;

use crate::harness::{actionable, attr, cluster_1_yaml, World};

const CONFIG: &str = r#"
provider "kubernetes" {
  kubeconfig = "KUBECONFIG"
}

resource "kubernetes_manifest" "apps" {
  source = file("${path.module}/apps/cluster-1.yaml")
}
"#;

const HELLO_IMAGE: &str =
    "registry-cn-hangzhou.ack.aliyuncs.com/ack-demo/examples-helloworld-v1:1.0";

async fn applied() -> World {
    let w = World::start().await;
    w.write(CONFIG);
    w.write_file("apps/cluster-1.yaml", &cluster_1_yaml());
    let p = w.plan().await;
    let changes = actionable(&p);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].action, Action::Create);
    let out = w.apply(p).await;
    assert_eq!(out.added, 1);
    w
}

fn image(w: &World, name: &str) -> String {
    let d = w.deployment(name).expect("the deployment exists");
    d.pointer("/spec/template/spec/containers/0/image").and_then(|v| v.as_str()).unwrap().into()
}

#[tokio::test]
async fn apply_then_plan_again_shows_no_changes() {
    let w = applied().await;
    for (kind, api, name) in [
        ("ServiceAccount", "v1", "sleep"),
        ("ServiceAccount", "v1", "helloworld"),
        ("Service", "v1", "sleep"),
        ("Service", "v1", "helloworld"),
        ("Deployment", "apps/v1", "sleep"),
        ("Deployment", "apps/v1", "helloworld-v1"),
    ] {
        assert!(w.get(api, kind, Some("default"), name).is_some(), "{kind} {name} exists");
    }
    let sleep = w.deployment("sleep").unwrap();
    assert_eq!(sleep["status"]["availableReplicas"], 1, "the rollout was waited for");

    let p = w.plan().await;
    assert!(
        actionable(&p).is_empty(),
        "no changes expected: {:#?}",
        actionable(&p).iter().map(|c| (&c.addr, c.action, &c.before, &c.after)).collect::<Vec<_>>()
    );
    assert!(p.plan.drift.is_empty(), "no drift expected: {:#?}", p.plan.drift);
}

#[tokio::test]
async fn changed_image_is_one_in_place_update() {
    let w = applied().await;
    let yaml = cluster_1_yaml().replace(HELLO_IMAGE, &HELLO_IMAGE.replace(":1.0", ":1.1"));
    w.write_file("apps/cluster-1.yaml", &yaml);
    let p = w.plan().await;
    let changes = actionable(&p);
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0].action, Action::Update);
    assert_eq!(changes[0].addr.to_string(), "kubernetes_manifest.apps");
    let before = attr(changes[0].before.as_ref().unwrap(), "yaml");
    let after = attr(changes[0].after.as_ref().unwrap(), "yaml");
    assert!(before.contains("helloworld-v1:1.0") && after.contains("helloworld-v1:1.1"));
    let out = w.apply(p).await;
    assert_eq!((out.added, out.changed, out.destroyed), (0, 1, 0));
    assert!(image(&w, "helloworld-v1").ends_with(":1.1"));
    assert!(actionable(&w.plan().await).is_empty(), "converged");
}

#[tokio::test]
async fn changed_selector_is_a_replacement() {
    let w = applied().await;
    let yaml = cluster_1_yaml()
        .replace(
            "      app: helloworld\n      version: v1\n",
            "      app: helloworld\n      version: v1\n      track: stable\n",
        )
        .replace(
            "        app: helloworld\n        version: v1\n",
            "        app: helloworld\n        version: v1\n        track: stable\n",
        );
    assert_eq!(yaml.matches("track: stable").count(), 2, "selector and template labels");
    w.write_file("apps/cluster-1.yaml", &yaml);
    let p = w.plan().await;
    let changes = actionable(&p);
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0].action, Action::DeleteThenCreate);
    let reason = match &changes[0].reason {
        Some(ChangeReason::Provider(why)) => why.clone(),
        other => panic!("expected the provider's reason, got {other:?}"),
    };
    assert!(reason.contains("spec.selector"), "the reason names the immutable field: {reason}");
    w.apply(p).await;
    let d = w.deployment("helloworld-v1").unwrap();
    assert_eq!(d["spec"]["selector"]["matchLabels"]["track"], "stable");
    assert!(w.deployment("sleep").is_some());
    assert!(actionable(&w.plan().await).is_empty(), "converged");
}

#[tokio::test]
async fn scaling_behind_meshforms_back_is_drift_and_restored() {
    let w = applied().await;
    // kubectl scales sleep and someone annotates it: two other field managers.
    w.server
        .handle()
        .apply(
            "kubectl",
            &json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "sleep", "namespace": "default"}, "spec": {"replicas": 3}}),
        )
        .expect("scale");
    w.server
        .handle()
        .apply(
            "someone-else",
            &json!({"apiVersion": "apps/v1", "kind": "Deployment",
                "metadata": {"name": "helloworld-v1", "namespace": "default",
                    "annotations": {"example.com/owner": "team-a"}}}),
        )
        .expect("annotate");
    assert_eq!(w.deployment("sleep").unwrap()["spec"]["replicas"], 3);

    let p = w.plan().await;
    assert_eq!(p.plan.drift.len(), 1, "{:#?}", p.plan.drift);
    let drift = &p.plan.drift[0];
    let (before, after) =
        (attr(&drift.before, "yaml"), attr(drift.after.as_ref().unwrap(), "yaml"));
    assert!(after.contains("replicas: 3"), "{after}");
    assert!(!before.contains("replicas: 3"));
    assert!(!after.contains("example.com/owner"), "others' fields are not shown: {after}");
    let changes = actionable(&p);
    assert_eq!(changes.len(), 1, "{changes:#?}");
    assert_eq!(changes[0].action, Action::Update);
    let planned = attr(changes[0].after.as_ref().unwrap(), "yaml");
    assert!(!planned.contains("replicas: 3"));

    w.apply(p).await;
    let sleep = w.deployment("sleep").unwrap();
    assert_eq!(sleep["spec"]["replicas"], 1, "restored");
    let hello = w.deployment("helloworld-v1").unwrap();
    assert_eq!(
        hello["metadata"]["annotations"]["example.com/owner"], "team-a",
        "others' fields are left alone"
    );
    let p = w.plan().await;
    assert!(actionable(&p).is_empty() && p.plan.drift.is_empty(), "converged");
}

#[tokio::test]
async fn destroy_removes_the_objects_and_empties_the_state() {
    let w = applied().await;
    let p = w.plan_destroy().await;
    let changes = actionable(&p);
    assert_eq!(changes.len(), 1);
    assert_eq!(changes[0].action, Action::Delete);
    let out = w.apply(p).await;
    assert_eq!(out.destroyed, 1);
    for (kind, api, name) in [
        ("ServiceAccount", "v1", "sleep"),
        ("Service", "v1", "helloworld"),
        ("Deployment", "apps/v1", "sleep"),
        ("Deployment", "apps/v1", "helloworld-v1"),
    ] {
        assert!(w.get(api, kind, Some("default"), name).is_none(), "{kind} {name} is gone");
    }
    assert_eq!(w.state_resources(), 0, "the state is empty");
}
