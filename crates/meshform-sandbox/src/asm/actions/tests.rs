//! The actions' rules, exercised without HTTP: validation, membership, networks, injection,
//! deletion and transitions.

use std::time::Duration;

use super::*;
use crate::asm::ca;
use crate::asm::model::{Injection, UpgradeFailure};
use serde_json::Value;

fn account() -> Account {
    let cluster = |id: &str, name: &str, region: &str, n: u8| EmulatedCluster {
        id: id.into(),
        name: name.into(),
        region: region.into(),
        vpc_id: format!("vpc-{n}"),
        vswitch_id: format!("vsw-{n}"),
    };
    Account {
        access_key_id: "id".into(),
        access_key_secret: "secret".into(),
        clusters: vec![
            cluster("c-1", "cluster-1", "cn-hangzhou", 1),
            cluster("c-2", "cluster-2", "cn-shanghai", 2),
        ],
    }
}

struct World {
    account: Account,
    model: AsmModel,
    now: i64,
    /// No API server runs in these tests (they are started by the server, not by actions).
    mesh_apis: crate::asm::meshapi::MeshApis,
}

impl World {
    fn new() -> Self {
        World {
            account: account(),
            model: AsmModel::default(),
            now: 1_000_000,
            mesh_apis: crate::asm::meshapi::MeshApis::new(std::path::PathBuf::from("/nonexistent")),
        }
    }

    fn call(&mut self, action: &str, pairs: &[(&str, &str)]) -> Result<Body, ApiError> {
        let cx = Ctx {
            account: &self.account,
            now_unix_ms: self.now,
            transition_delay: Duration::from_secs(2),
            mesh_apis: &self.mesh_apis,
        };
        let p = Params::from_pairs(pairs);
        match handler(action).expect("known action") {
            Handler::Read(f) => f(&cx, &self.model, &p),
            Handler::Write(f) => {
                let mut next = self.model.clone();
                let out = f(&cx, &mut next, &p)?;
                self.model = next;
                Ok(out)
            }
        }
    }

    fn err(&mut self, action: &str, pairs: &[(&str, &str)]) -> String {
        let before = self.model.clone();
        let code = self.call(action, pairs).expect_err("the call should fail").code;
        assert_eq!(self.model, before, "a failed {action} changed the model");
        code
    }

    /// Lets time pass and completes due transitions.
    fn wait(&mut self, ms: i64) {
        self.now += ms;
        self.model.advance(self.now, false, None);
    }

    fn create(&mut self, name: &str, region: &str, n: u8, guest: &str) -> String {
        let (vpc, vsw) = (format!("vpc-{n}"), format!("[\"vsw-{n}\"]"));
        let out = self
            .call(
                "CreateServiceMesh",
                &[
                    ("RegionId", region),
                    ("VpcId", &vpc),
                    ("VSwitches", &vsw),
                    ("Name", name),
                    ("GuestCluster", guest),
                ],
            )
            .unwrap();
        out["ServiceMeshId"].as_str().unwrap().to_owned()
    }

    fn state(&self, id: &str) -> MeshState {
        self.model.meshes[id].state
    }
}

#[test]
fn create_validates_and_starts_initial() {
    let mut w = World::new();
    let base = [("RegionId", "cn-hangzhou"), ("VpcId", "vpc-1"), ("VSwitches", "[\"vsw-1\"]")];
    assert_eq!(w.err("CreateServiceMesh", &base[..2]), "MissingParameter");
    let with = |extra: (&'static str, &'static str)| {
        let mut v = base.to_vec();
        v.push(extra);
        v
    };
    assert_eq!(w.err("CreateServiceMesh", &with(("IstioVersion", "v1.2.3"))), "InvalidParameter");
    assert_eq!(w.err("CreateServiceMesh", &with(("Edition", "Gold"))), "InvalidParameter");
    assert_eq!(w.err("CreateServiceMesh", &with(("GuestCluster", "c-404"))), "ERR404");
    assert_eq!(w.err("CreateServiceMesh", &with(("GuestCluster", "c-2"))), "InvalidParameter");
    assert_eq!(w.err("CreateServiceMesh", &with(("UseExistingCA", "true"))), "MissingParameter");
    let wrong_vpc = [("RegionId", "cn-hangzhou"), ("VpcId", "vpc-2"), ("VSwitches", "[\"vsw-2\"]")];
    assert_eq!(w.err("CreateServiceMesh", &wrong_vpc), "InvalidParameter");
    assert_eq!(
        w.err("CreateServiceMesh", &[base[0], base[1], ("VSwitches", "vsw-1")]),
        "InvalidParameter"
    );

    let id = w.create("mesh-1", "cn-hangzhou", 1, "c-1");
    assert!(
        id.len() == 33 && id.starts_with('c') && id[1..].chars().all(|c| c.is_ascii_hexdigit())
    );
    assert_eq!(w.state(&id), MeshState::Initial);
    assert_eq!(w.model.meshes[&id].managed_clusters().collect::<Vec<_>>(), ["c-1"]);
    assert_eq!(w.model.meshes[&id].ca.source, crate::asm::model::CaSource::Generated);
    // The name is unique per region; the guest cluster is managed once.
    assert_eq!(
        w.err("CreateServiceMesh", &[base[0], base[1], base[2], ("Name", "mesh-1")]),
        "NameAlreadyExist"
    );
    assert_eq!(w.err("CreateServiceMesh", &with(("GuestCluster", "c-1"))), "RelatedResourceReused");
    w.wait(1999);
    assert_eq!(w.state(&id), MeshState::Initial);
    w.wait(1);
    assert_eq!(w.state(&id), MeshState::Running);
}

#[test]
fn existing_ca_is_stored_and_only_the_certificate_is_returned() {
    let mut w = World::new();
    let root = ca::generate("root").unwrap();
    let (cert, key) = (ca::to_base64(&root.ca_cert_pem), ca::to_base64(root.ca_key_pem.expose()));
    let out = w
        .call(
            "CreateServiceMesh",
            &[
                ("RegionId", "cn-hangzhou"),
                ("VpcId", "vpc-1"),
                ("VSwitches", "[\"vsw-1\"]"),
                ("UseExistingCA", "True"),
                ("ExistingCaCert", &cert),
                ("ExistingCaKey", &key),
                ("ExistingRootCaCert", &cert),
            ],
        )
        .unwrap();
    let id = out["ServiceMeshId"].as_str().unwrap();
    assert_eq!(w.model.meshes[id].ca.ca_key_pem, root.ca_key_pem);
    let got = w.call("GetCaCert", &[("ServiceMeshId", id)]).unwrap();
    assert_eq!(got["CaCert"], cert.as_str());
    assert!(!serde_json::to_string(&got).unwrap().contains("PRIVATE"));
}

#[test]
fn membership_rules() {
    let mut w = World::new();
    let m1 = w.create("mesh-1", "cn-hangzhou", 1, "c-1");
    let add = |mesh: &str, cluster: &'static str, discovery: &'static str| {
        vec![
            ("ServiceMeshId", mesh.to_owned()),
            ("ClusterId", cluster.into()),
            ("DiscoveryOnly", discovery.into()),
        ]
    };
    let call = |w: &mut World, a: &str, v: &Vec<(&str, String)>| {
        let pairs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
        w.call(a, &pairs)
    };
    let err = |w: &mut World, a: &str, v: &Vec<(&str, String)>| {
        let pairs: Vec<(&str, &str)> = v.iter().map(|(k, v)| (*k, v.as_str())).collect();
        w.err(a, &pairs)
    };
    assert_eq!(
        err(&mut w, "AddClusterIntoServiceMesh", &add(&m1, "c-2", "true")),
        "InvalidActiveState.ServiceMesh"
    );
    w.wait(2000);
    assert_eq!(
        err(&mut w, "AddClusterIntoServiceMesh", &add("cnope", "c-2", "true")),
        "ServiceMesh.NotFound"
    );
    assert_eq!(err(&mut w, "AddClusterIntoServiceMesh", &add(&m1, "c-9", "true")), "ERR404");
    assert_eq!(
        err(&mut w, "AddClusterIntoServiceMesh", &add(&m1, "c-1", "false")),
        "ClusterAlreadyExist"
    );
    let out = call(&mut w, "AddClusterIntoServiceMesh", &add(&m1, "c-2", "true")).unwrap();
    assert_eq!(out["Code"], 200);
    assert_eq!(w.state(&m1), MeshState::Upgrading);
    w.wait(2000);
    assert_eq!(w.state(&m1), MeshState::Running);
    assert_eq!(w.model.meshes[&m1].discovery_only_clusters().collect::<Vec<_>>(), ["c-2"]);

    // mesh-2 manages cluster-2; cluster-1 is managed by mesh-1 already.
    let m2 = w.create("mesh-2", "cn-shanghai", 2, "c-2");
    w.wait(2000);
    assert_eq!(
        err(&mut w, "AddClusterIntoServiceMesh", &add(&m2, "c-1", "false")),
        "RelatedResourceReused"
    );
    call(&mut w, "AddClusterIntoServiceMesh", &add(&m2, "c-1", "true")).unwrap();
    w.wait(2000);

    let listed = w.call("DescribeClustersInServiceMesh", &[("ServiceMeshId", &m2)]).unwrap();
    let clusters = listed["Clusters"].as_array().unwrap();
    assert_eq!(clusters.len(), 2);
    assert_eq!(clusters[1]["Name"], "cluster-1");
    assert!(!serde_json::Value::Object(listed.clone())
        .to_string()
        .to_ascii_lowercase()
        .contains("discovery"));

    let remove = vec![("ServiceMeshId", m2.clone()), ("ClusterId", "c-1".to_owned())];
    call(&mut w, "RemoveClusterFromServiceMesh", &remove).unwrap();
    assert_eq!(
        err(&mut w, "RemoveClusterFromServiceMesh", &remove),
        "InvalidActiveState.ServiceMesh"
    );
    w.wait(2000);
    assert_eq!(err(&mut w, "RemoveClusterFromServiceMesh", &remove), "ERR404");
}

#[test]
fn networks_and_injection() {
    let mut w = World::new();
    let m = w.create("mesh-1", "cn-hangzhou", 1, "c-1");
    w.wait(2000);
    let net = r#"{"c-1":{"Network":"network1","EnableGateway":true},"c-2":{"Network":"network2"}}"#;
    let set = |w: &mut World, json: &str| {
        w.call(
            "UpdateMeshMultiClusterNetwork",
            &[("ServiceMeshId", &m), ("MultiClusterNetworks", json)],
        )
    };
    assert_eq!(set(&mut w, net).unwrap_err().code, "InvalidParameter");
    w.call(
        "AddClusterIntoServiceMesh",
        &[("ServiceMeshId", &m), ("ClusterId", "c-2"), ("DiscoveryOnly", "true")],
    )
    .unwrap();
    w.wait(2000);
    set(&mut w, net).unwrap();
    assert_eq!(
        set(&mut w, r#"{"c-1":{"EnableGateway":true}}"#).unwrap_err().code,
        "InvalidParameter"
    );
    assert_eq!(set(&mut w, r#"["c-1"]"#).unwrap_err().code, "InvalidParameter");
    let got = w.call("DescribeMeshMultiClusterNetwork", &[("ServiceMeshId", &m)]).unwrap();
    let nets = &got["MultiClusterNetworks"];
    assert_eq!(nets["c-1"]["GatewayName"], format!("asm-cross-network-{m}"));
    assert_eq!(nets["c-2"]["Network"], "network2");
    assert_eq!(nets["c-2"]["EnableGateway"], false);

    let inject = |w: &mut World, extra: &[(&str, &str)]| {
        let mut p = vec![("ServiceMeshId", m.as_str()), ("Namespace", "default")];
        p.extend_from_slice(extra);
        w.call("UpdateIstioInjectionConfig", &p)
    };
    assert_eq!(inject(&mut w, &[]).unwrap_err().code, "MissingParameter");
    let both = [("EnableIstioInjection", "true"), ("IstioRev", "canary")];
    assert_eq!(inject(&mut w, &both).unwrap_err().code, "InvalidParameter");
    inject(&mut w, &[("EnableIstioInjection", "true")]).unwrap();
    assert_eq!(w.model.meshes[&m].injection["default"], Injection::Enabled);
    let ns = |w: &mut World, cluster: &str| {
        w.call(
            "DescribeGuestClusterNamespaces",
            &[("ServiceMeshId", &m), ("GuestClusterID", cluster), ("ShowNsLabels", "true")],
        )
        .unwrap()
    };
    let managed = ns(&mut w, "c-1");
    assert_eq!(managed["NsLabels"]["default"]["istio-injection"], "enabled");
    assert!(managed["NsList"].as_array().unwrap().iter().any(|n| n == "istio-system"));
    let discovery = ns(&mut w, "c-2");
    assert!(discovery["NsLabels"]["default"].get("istio-injection").is_none());
    inject(&mut w, &[("IstioRev", "canary")]).unwrap();
    assert_eq!(ns(&mut w, "c-1")["NsLabels"]["default"]["istio.io/rev"], "canary");
}

#[test]
fn delete_lifecycle() {
    let mut w = World::new();
    let m = w.create("mesh-1", "cn-hangzhou", 1, "c-1");
    let id = [("ServiceMeshId", m.as_str())];
    assert_eq!(w.err("DeleteServiceMesh", &id), "StillInitializing");
    w.wait(2000);
    w.call("DeleteServiceMesh", &id).unwrap();
    assert_eq!(w.state(&m), MeshState::Deleting);
    w.call("DeleteServiceMesh", &id).unwrap();
    w.wait(2000);
    assert_eq!(w.err("DescribeServiceMeshDetail", &id), "ServiceMesh.NotFound");
    assert_eq!(w.err("DeleteServiceMesh", &id), "ServiceMesh.NotFound");
    // The name is free again.
    w.create("mesh-1", "cn-hangzhou", 1, "c-1");
}

#[test]
fn stuck_initial_holds_creation_only() {
    let mut w = World::new();
    let m = w.create("mesh-1", "cn-hangzhou", 1, "c-1");
    w.now += 5000;
    assert!(!w.model.advance(w.now, true, None));
    assert_eq!(w.state(&m), MeshState::Initial);
    assert!(w.model.advance(w.now, false, None));
    assert_eq!(w.state(&m), MeshState::Running);
}

const V20: &str = "v1.20.6.44-g5a9e2c71-aliyun";
const V22: &str = "v1.22.6.71-g7d67a80b-aliyun";
const V24: &str = "v1.24.6.69-gb4cd1ba2-aliyun";
const V25: &str = "v1.25.3.30-g3f7c0b4e-aliyun";

impl World {
    /// A running mesh on `version`.
    fn running_mesh(&mut self, version: &str) -> String {
        let out = self
            .call(
                "CreateServiceMesh",
                &[
                    ("RegionId", "cn-hangzhou"),
                    ("VpcId", "vpc-1"),
                    ("VSwitches", "[\"vsw-1\"]"),
                    ("Name", "up"),
                    ("IstioVersion", version),
                ],
            )
            .unwrap();
        self.wait(2000);
        out["ServiceMeshId"].as_str().unwrap().to_owned()
    }

    fn upgrade_target(&mut self, id: &str) -> String {
        let out = self.call("DescribeUpgradeVersion", &[("ServiceMeshId", id)]).unwrap();
        out["Version"]["IstioVersion"].as_str().unwrap().to_owned()
    }

    fn upgrade_status(&mut self, id: &str, gateways: &str) -> Value {
        let out = self
            .call(
                "DescribeServiceMeshUpgradeStatus",
                &[("ServiceMeshId", id), ("AllIstioGatewayFullNames", gateways)],
            )
            .unwrap();
        out["UpgradeDetail"].clone()
    }
}

#[test]
fn the_upgrade_target_is_the_next_version() {
    assert_eq!(next_istio_version(V20), Some(V22));
    assert_eq!(next_istio_version(V22), Some(V24));
    assert_eq!(next_istio_version(V24), Some(V25));
    assert_eq!(next_istio_version(V25), None);
    assert_eq!(next_istio_version("v9.9"), None);
    let mut w = World::new();
    let id = w.running_mesh(V22);
    assert_eq!(w.upgrade_target(&id), V24);
    assert_eq!(
        w.err("DescribeUpgradeVersion", &[("ServiceMeshId", "c-404")]),
        "ServiceMesh.NotFound"
    );
}

#[test]
fn an_upgrade_runs_upgrading_then_moves_to_the_target() {
    let mut w = World::new();
    let id = w.running_mesh(V22);
    let up = |expected: &str, gw: &str| {
        vec![
            ("ServiceMeshId".to_owned(), id.clone()),
            ("ExpectedVersion".to_owned(), expected.to_owned()),
            ("ASMGatewayContinue".to_owned(), gw.to_owned()),
        ]
    };
    let call = |w: &mut World, pairs: Vec<(String, String)>| {
        let p: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        w.call("UpgradeMeshEditionPartially", &p)
    };
    let err = |w: &mut World, pairs: Vec<(String, String)>| {
        let p: Vec<(&str, &str)> = pairs.iter().map(|(a, b)| (a.as_str(), b.as_str())).collect();
        w.err("UpgradeMeshEditionPartially", &p)
    };
    // A skip, a downgrade, the same version, an unknown one: refused, nothing changes.
    for wrong in [V25, V20, V22, "v1.99.0"] {
        assert_eq!(err(&mut w, up(wrong, "False")), "UpgradedVersion.NotExpected");
    }
    assert_eq!(err(&mut w, up(V24, "maybe")), "InvalidParameter");
    // A pre-check changes nothing.
    let mut pre = up(V24, "False");
    pre.push(("PreCheck".into(), "True".into()));
    call(&mut w, pre).unwrap();
    assert_eq!(w.state(&id), MeshState::Running);

    call(&mut w, up(V24, "False")).unwrap();
    assert_eq!(w.state(&id), MeshState::Upgrading);
    assert_eq!(w.model.meshes[&id].istio_version, V22, "the version changes at the end");
    assert_eq!(w.upgrade_status(&id, "")["MeshStatus"], "upgrading");
    // One change at a time.
    assert_eq!(err(&mut w, up(V24, "False")), "InvalidActiveState.ServiceMesh");
    w.wait(2000);
    assert_eq!(w.state(&id), MeshState::Running);
    assert_eq!(w.model.meshes[&id].istio_version, V24);
    // The gateways were left behind: they report the old version, not started.
    let status = w.upgrade_status(&id, "istio-system:ingress");
    assert_eq!(status["MeshStatus"], "running");
    assert_eq!(status["GatewayStatusRecord"]["istio-system:ingress"]["Status"], "notStart");
    assert_eq!(status["GatewayStatusRecord"]["istio-system:ingress"]["Version"], V22);
    assert_eq!(status["FinishedGatewaysNum"], 0);

    // The next upgrade takes the gateways along.
    call(&mut w, up(V25, "true")).unwrap();
    let status = w.upgrade_status(&id, "istio-system:ingress");
    assert_eq!(status["GatewayStatusRecord"]["istio-system:ingress"]["Status"], "upgrading");
    w.wait(2000);
    let status = w.upgrade_status(&id, "istio-system:ingress");
    assert_eq!(status["GatewayStatusRecord"]["istio-system:ingress"]["Version"], V25);
    assert_eq!(status["FinishedGatewaysNum"], 1);
    assert_eq!(status["TotalGatewaysNum"], 1);
    // The newest version has nowhere to go.
    assert_eq!(w.upgrade_target(&id), "");
    assert_eq!(err(&mut w, up(V25, "false")), "UpgradedVersion.NotExpected");
    assert_eq!(
        w.err(
            "DescribeServiceMeshUpgradeStatus",
            &[("ServiceMeshId", &id), ("AllIstioGatewayFullNames", "no-namespace")]
        ),
        "InvalidParameter"
    );
}

#[test]
fn a_failed_upgrade_keeps_the_old_version_and_can_be_retried() {
    let mut w = World::new();
    let id = w.running_mesh(V22);
    let up = [("ServiceMeshId", id.as_str()), ("ExpectedVersion", V24)];
    w.call("UpgradeMeshEditionPartially", &up).unwrap();
    w.now += 2000;
    let failure = UpgradeFailure { mesh_id: Some(id.clone()), message: "istiod crashed".into() };
    // A failure aimed at another mesh does not touch this one; this one's does.
    let other = UpgradeFailure { mesh_id: Some("c-other".into()), ..failure.clone() };
    let mut spared = w.model.clone();
    assert!(spared.advance(w.now, false, Some(&other)));
    assert_eq!(spared.meshes[&id].istio_version, V24);
    assert!(w.model.advance(w.now, false, Some(&failure)));
    let mesh = &w.model.meshes[&id];
    assert_eq!(mesh.state, MeshState::UpgradingFailed);
    assert_eq!(mesh.istio_version, V22);
    assert!(mesh.error_message.contains("istiod crashed"), "{}", mesh.error_message);
    assert_eq!(w.upgrade_status(&id, "")["MeshStatus"], "upgrading_failed");
    // Other changes wait for a running mesh; a new upgrade is accepted and clears the error.
    assert_eq!(
        w.err("AddClusterIntoServiceMesh", &[("ServiceMeshId", &id), ("ClusterId", "c-2")]),
        "InvalidActiveState.ServiceMesh"
    );
    w.call("UpgradeMeshEditionPartially", &up).unwrap();
    assert!(w.model.meshes[&id].error_message.is_empty());
    w.wait(2000);
    assert_eq!(w.model.meshes[&id].istio_version, V24);
    assert_eq!(w.state(&id), MeshState::Running);
}
