//! Schemas of the asm provider's configuration, resources and data sources.

use meshform_core::schema::{Attribute, BlockNesting, NestedBlock, Schema};
use meshform_core::Type;

fn s() -> Type {
    Type::String
}

fn list_s() -> Type {
    Type::List(Box::new(Type::String))
}

fn timeouts(ops: &[&str]) -> NestedBlock {
    let mut schema = Schema::new("How long to wait for asynchronous operations (e.g. \"20m\").");
    for op in ops {
        schema = schema.attr(op, Attribute::optional(s(), "A duration such as 30m or 1h."));
    }
    NestedBlock {
        nesting: BlockNesting::Single,
        schema,
        min_items: 0,
        max_items: Some(1),
        force_new: false,
    }
}

/// The credential settings every Alibaba Cloud provider block accepts (docs/alibaba-cloud.md,
/// "Credentials"), added to a schema: defined once, in `meshform-acs`.
pub use meshform_acs::credentials::block::schema as credentials;

pub fn provider() -> Schema {
    credentials(Schema::new("Alibaba Cloud Service Mesh (ASM) over its OpenAPI."))
        .attr("endpoint", Attribute::optional(s(), "API endpoint (default servicemesh.aliyuncs.com over HTTPS); e.g. the sandbox's http://127.0.0.1:PORT."))
        .attr("max_retries", Attribute::optional(Type::Number, "Retries of throttled or failed calls (default 8)."))
}

pub fn mesh() -> Schema {
    let ca =
        Schema::new("The mesh's CA: its intermediate and the shared root (from the pki provider).")
            .attr(
                "cert",
                Attribute::required(
                    s(),
                    "This mesh's CA certificate (PEM): pki_intermediate_ca.x.cert_pem.",
                ),
            )
            .attr("key", Attribute::required(s(), "Its private key (PEM).").sensitive())
            .attr("root_cert", Attribute::required(s(), "The shared root certificate (PEM)."))
            .attr("cert_chain", Attribute::required(s(), "Chain from the CA to the root (PEM)."));
    Schema::new("An ASM instance (service mesh). Creation waits until it is running.")
        .attr("name", Attribute::required(s(), "The mesh's name (unique in its region).").force_new())
        .attr("region", Attribute::required(s(), "Region id, e.g. cn-hangzhou.").force_new())
        .attr("istio_version", Attribute::optional_computed(s(), "Istio version (see data.asm_versions). A change upgrades the mesh in place (UpgradeMeshEditionPartially), to the next version ASM offers only: the plan refuses a skip or a downgrade and names the allowed version."))
        .attr("upgrade_gateways", Attribute::optional(Type::Bool, "Upgrade the mesh's gateways with its control plane (ASMGatewayContinue); default false: they keep their version until upgraded separately."))
        .attr("edition", Attribute::optional_computed(s(), "Default or Pro.").force_new())
        .attr("cluster_spec", Attribute::optional_computed(s(), "standard, enterprise or ultimate.").force_new())
        .attr("vpc_id", Attribute::required(s(), "The VPC of the control plane.").force_new())
        .attr("vswitches", Attribute::required(list_s(), "vSwitch ids in that VPC.").force_new())
        .attr("cluster_id", Attribute::optional(s(), "The ACK cluster this mesh manages, added at creation.").force_new())
        .attr("tags", Attribute::optional(Type::Map(Box::new(s())), "Tags set at creation.").force_new())
        .attr("api_server_public_eip", Attribute::optional(Type::Bool, "Expose the mesh's API server through an EIP (ApiServerPublicEip); kubeconfig then reaches its public endpoint, else its internal (VPC) one.").force_new())
        .attr("id", Attribute::computed(s(), "The ServiceMeshId."))
        .attr("state", Attribute::computed(s(), "running, initial, …"))
        .attr("version", Attribute::computed(s(), "The running Istio version."))
        .attr("kubeconfig", Attribute::computed(s(), "A kubeconfig document reaching the mesh's control-plane Kubernetes API (DestinationRule, VirtualService, …), from DescribeServiceMeshKubeconfig: give it to a kubernetes provider as kubeconfig_content.").sensitive())
        .block("ca", NestedBlock { nesting: BlockNesting::Single, schema: ca, min_items: 0, max_items: Some(1), force_new: true })
        .block("timeouts", timeouts(&["create", "update", "delete"]))
}

pub fn attachment() -> Schema {
    Schema::new("A cluster added to a mesh: managed, or for service discovery only.")
        .attr("mesh_id", Attribute::required(s(), "asm_service_mesh.x.id").force_new())
        .attr("cluster_id", Attribute::required(s(), "The cluster to add.").force_new())
        .attr("discovery_only", Attribute::optional(Type::Bool, "Add the cluster for service discovery only (the runbook's \"Add (For Service Discovery Only)\"). The API cannot report it back: meshform keeps it from state.").force_new())
        .attr("id", Attribute::computed(s(), "MESH_ID:CLUSTER_ID"))
        .block("timeouts", timeouts(&["create", "delete"]))
}

pub fn network() -> Schema {
    let cluster = Schema::new("One member cluster's network settings.")
        .attr("cluster_id", Attribute::required(s(), "A member cluster of the mesh."))
        .attr("network", Attribute::required(s(), "The cluster's homing logical network name."))
        .attr(
            "cross_cluster_gateway",
            Attribute::optional(
                Type::Bool,
                "Reach it through a cross-cluster mesh proxy (east-west gateway).",
            ),
        )
        .attr(
            "custom_gateway_address",
            Attribute::optional(s(), "A custom gateway address, host:port."),
        );
    Schema::new("The multi-cluster network configuration of a mesh (ASM 1.22 or later).")
        .attr("mesh_id", Attribute::required(s(), "asm_service_mesh.x.id").force_new())
        .attr("id", Attribute::computed(s(), "The mesh id."))
        .block(
            "cluster",
            NestedBlock {
                nesting: BlockNesting::List,
                schema: cluster,
                min_items: 1,
                max_items: None,
                force_new: false,
            },
        )
        .block("timeouts", timeouts(&["create", "update", "delete"]))
}

pub fn injection() -> Schema {
    Schema::new("Automatic sidecar injection for one namespace of a mesh.")
        .attr("mesh_id", Attribute::required(s(), "asm_service_mesh.x.id").force_new())
        .attr("namespace", Attribute::required(s(), "The namespace.").force_new())
        .attr(
            "enabled",
            Attribute::optional_computed(
                Type::Bool,
                "Inject sidecars (istio-injection=enabled); default true unless istio_rev is set.",
            ),
        )
        .attr(
            "istio_rev",
            Attribute::optional(s(), "Inject a canary revision instead (exclusive with enabled)."),
        )
        .attr("id", Attribute::computed(s(), "MESH_ID:NAMESPACE"))
}

pub fn versions() -> Schema {
    Schema::new("The Istio versions ASM accepts for new meshes.")
        .attr("region", Attribute::optional(s(), "Region id."))
        .attr("versions", Attribute::computed(list_s(), "Valid istio_version values."))
}
