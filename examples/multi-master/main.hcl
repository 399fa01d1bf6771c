# The runbook "Multi-cluster disaster recovery with the ASM multi-master control plane" as
# configuration, over the reusable topology module modules/multi-master (the runbook's steps 1–3 and
# the injection, for any number of clusters). See README.md for the step each block replaces.
#
# The `moved` blocks at the end take a deployment made with this example's earlier, hand-written
# layout to the module's addresses without destroying anything; they do nothing on a new deployment.

meshform {
  required_version = ">= 0.1"
}

# The two ACK clusters, by id: the only environment-specific input. Everything else about them —
# region, VPC, vSwitch, API server, kubeconfig — is read from ACK (data "ack_cluster" below), and
# the endpoints and credentials come from the environment (ALIBABA_CLOUD_*). On the sandbox,
# `. .meshform/sandbox/sandbox.env` sets all of it; on Alibaba Cloud see docs/alibaba-cloud.md.
variable "cluster_1_id" {
  description = "The ACK cluster of cluster-1 (mesh-1's own cluster), e.g. c0123456789abcdef0123456789abcdef (MESHFORM_VAR_cluster_1_id)"
  type        = string

  validation {
    condition     = can(regex("^c[0-9a-z]{8,}$", var.cluster_1_id))
    error_message = "cluster_1_id is an ACK cluster id: c followed by letters and digits (the ACK console's Cluster ID)"
  }
}

variable "cluster_2_id" {
  description = "The ACK cluster of cluster-2 (mesh-2's own cluster) (MESHFORM_VAR_cluster_2_id)"
  type        = string

  validation {
    condition     = can(regex("^c[0-9a-z]{8,}$", var.cluster_2_id))
    error_message = "cluster_2_id is an ACK cluster id: c followed by letters and digits (the ACK console's Cluster ID)"
  }
}

variable "cross_network" {
  description = "Step 3 (optional): a multi-cluster network with cross-cluster mesh proxies, needed when the clusters are in different VPCs without CEN"
  type        = bool
  default     = true
}

variable "sleep_in_cluster_2" {
  description = "The runbook's second half: scale sleep in cluster-1 to 0 and deploy sleep in cluster-2"
  type        = bool
  default     = false
}

variable "failover" {
  description = "The failover policy: a DestinationRule for helloworld in each mesh's control plane, so that a dead cluster's endpoints are ejected instead of failing requests"
  type        = bool
  default     = true
}

variable "drill" {
  description = "A disaster drill: sleep runs in both clusters and both directions are verified (check from_cluster_1 and from_cluster_2)"
  type        = bool
  default     = false
}

variable "clusters_down" {
  description = "During a drill: the clusters that are down, whose helloworld the checks do not expect to answer"
  type        = set(string)
  default     = []

  validation {
    condition     = alltrue([for c in var.clusters_down : contains(["cluster-1", "cluster-2"], c)])
    error_message = "clusters_down lists cluster-1 and/or cluster-2"
  }
}

variable "helloworld_v2_replicas" {
  description = "helloworld-v2's replicas in cluster-2 (the runbook deploys 1): scale the surviving side during an outage"
  type        = number
  default     = 1
}

variable "istio_version" {
  description = "The ASM (Istio) version of both meshes. A new value upgrades them in place, one at a time: cluster-2 first, checked, then cluster-1 (the meshes' rollout block)"
  type        = string
  default     = "v1.22.6.71-g7d67a80b-aliyun"
}

variable "restart_token" {
  description = "Restart every Deployment (after a mesh upgrade, so that pods get the new sidecar): a new value, e.g. a timestamp, sets the pod templates' kubectl.kubernetes.io/restartedAt annotation, as `kubectl rollout restart` does. Unset (\"\"), the runbook's YAML is applied as it is"
  type        = string
  default     = ""
}

locals {
  # Where sleep runs: cluster-1 until the runbook's second half moves it to cluster-2; a drill runs
  # it in both, so that each direction can be verified.
  sleep_in = {
    "cluster-1" = !var.sleep_in_cluster_2 || var.drill
    "cluster-2" = var.sleep_in_cluster_2 || var.drill
  }

  # Step 4's YAML, verbatim; sleep's replica count follows the runbook's second half.
  cluster_1_docs = [for d in split("\n---\n", file("${path.module}/apps/cluster-1.yaml")) : yamldecode(d)]
  cluster_1_sized = [
    for d in local.cluster_1_docs :
    d.kind == "Deployment" && d.metadata.name == "sleep"
    ? merge(d, { spec = merge(d.spec, { replicas = local.sleep_in["cluster-1"] ? 1 : 0 }) })
    : d
  ]
  # helloworld-v2's replica count is var.helloworld_v2_replicas (1, as in the runbook).
  cluster_2_docs = [for d in split("\n---\n", file("${path.module}/apps/cluster-2.yaml")) : yamldecode(d)]
  cluster_2_sized = [
    for d in local.cluster_2_docs :
    d.kind == "Deployment" && d.metadata.name == "helloworld-v2"
    ? merge(d, { spec = merge(d.spec, { replicas = var.helloworld_v2_replicas }) })
    : d
  ]
  sleep_2_docs = [for d in split("\n---\n", file("${path.module}/apps/sleep-cluster-2.yaml")) : yamldecode(d)]

  # A rollout restart (after a mesh upgrade: pods keep the sidecar they were injected with until
  # they are replaced): with var.restart_token set, every Deployment's pod template carries it as
  # kubectl.kubernetes.io/restartedAt — what `kubectl rollout restart` writes — so the new template
  # replaces the pods. Unset, the documents stay as above.
  restarted_at = { "kubectl.kubernetes.io/restartedAt" = var.restart_token }
  apps = {
    for k, docs in {
      cluster_1       = local.cluster_1_sized
      cluster_2       = local.cluster_2_sized
      sleep_cluster_2 = local.sleep_2_docs
    } :
    k => [
      for d in docs :
      var.restart_token != "" && d.kind == "Deployment"
      ? merge(d, { spec = merge(d.spec, { template = merge(d.spec.template, {
        metadata = merge(d.spec.template.metadata, {
          annotations = merge(lookup(d.spec.template.metadata, "annotations", {}), local.restarted_at)
        })
      }) }) })
      : d
    ]
  }

  # The failover policy for helloworld, the same in both meshes' control planes (see README.md):
  # - outlierDetection ejects an endpoint after 3 consecutive 5xx (a refused or reset connection
  #   counts as a 503) for baseEjectionTime, doubled at each ejection in a row; maxEjectionPercent
  #   must be 100, since Envoy ejects a host only while (ejected + 1) / all hosts stays within it and
  #   helloworld has two endpoints (the default 10% ejects nothing);
  # - localityLbSetting.enabled = false: outlierDetection would otherwise switch on the mesh's
  #   default locality-priority failover, and each cluster would keep all its traffic to its own
  #   helloworld while it is healthy — the runbook's cross-cluster round robin, which the checks
  #   verify, would stop. With it off, every healthy endpoint of both clusters shares the traffic
  #   and a dead one is ejected.
  helloworld_failover = {
    apiVersion = "networking.istio.io/v1"
    kind       = "DestinationRule"
    metadata   = { name = "helloworld", namespace = "default" }
    spec = {
      host = "helloworld.default.svc.cluster.local"
      trafficPolicy = {
        outlierDetection = {
          consecutive5xxErrors = 3
          interval             = "5s"
          baseEjectionTime     = "1m"
          maxEjectionPercent   = 100
        }
        loadBalancer = {
          localityLbSetting = { enabled = false }
        }
      }
    }
  }
}

# Alibaba Cloud: endpoints and credentials from the environment (ALIBABA_CLOUD_*), so the same
# blocks serve the sandbox and a real account.
provider "asm" {}

provider "ack" {}

# Steps 1–3 and the injection, for the two clusters: the module's defaults are the example's
# names (mesh-1, mesh-2), networks (network1, network2, each mesh's own cluster first with its
# cross-cluster mesh proxy), version and key algorithm.
module "dr" {
  source = "../../modules/multi-master"

  clusters = {
    "cluster-1" = { id = var.cluster_1_id }
    "cluster-2" = { id = var.cluster_2_id }
  }
  istio_version = var.istio_version
  cross_network = var.cross_network

  upgrade_order  = ["cluster-2", "cluster-1"]
  upgrade_checks = ["from_cluster_1", "from_cluster_2"]
}

# Each cluster's API server, through the user kubeconfig ACK issues for it (read by the module).
provider "kubernetes" {
  alias              = "cluster_1"
  kubeconfig_content = module.dr.cluster_kubeconfigs["cluster-1"]
}

provider "kubernetes" {
  alias              = "cluster_2"
  kubeconfig_content = module.dr.cluster_kubeconfigs["cluster-2"]
}

# Each mesh's own control-plane Kubernetes API, where ASM keeps its Istio configuration.
provider "kubernetes" {
  alias              = "mesh_1"
  kubeconfig_content = module.dr.mesh_kubeconfigs["cluster-1"]
}

provider "kubernetes" {
  alias              = "mesh_2"
  kubeconfig_content = module.dr.mesh_kubeconfigs["cluster-2"]
}

# The hand-written layout's objects, at their addresses in the module. The CAs, meshes, networks
# and injections keep their keys; a discovery attachment was keyed by the mesh's cluster alone
# (its peer implied), in the module by "MESH'S CLUSTER/ADDED CLUSTER".
moved {
  from = pki_root_ca.shared
  to   = module.dr.pki_root_ca.shared
}

moved {
  from = pki_intermediate_ca.mesh
  to   = module.dr.pki_intermediate_ca.mesh
}

moved {
  from = asm_service_mesh.mesh
  to   = module.dr.asm_service_mesh.mesh
}

moved {
  from = asm_cluster_attachment.discovery["cluster-1"]
  to   = module.dr.asm_cluster_attachment.discovery["cluster-1/cluster-2"]
}

moved {
  from = asm_cluster_attachment.discovery["cluster-2"]
  to   = module.dr.asm_cluster_attachment.discovery["cluster-2/cluster-1"]
}

moved {
  from = asm_multi_cluster_network.net
  to   = module.dr.asm_multi_cluster_network.net
}

moved {
  from = asm_sidecar_injection.default
  to   = module.dr.asm_sidecar_injection.default
}

# Step 4: sleep and helloworld v1 in cluster-1, helloworld v2 in cluster-2, once the module is done
# (depends_on names a module call, not one of its instances: each cluster's pods now wait for both
# meshes' injection, where the hand-written layout waited for their own mesh's only).
resource "kubernetes_manifest" "cluster_1_apps" {
  provider   = kubernetes.cluster_1
  manifest   = local.apps.cluster_1
  depends_on = [module.dr]
}

resource "kubernetes_manifest" "cluster_2_apps" {
  provider   = kubernetes.cluster_2
  manifest   = local.apps.cluster_2
  depends_on = [module.dr]
}

# The runbook's second half (and a drill): sleep in cluster-2.
resource "kubernetes_manifest" "sleep_cluster_2" {
  count = local.sleep_in["cluster-2"] ? 1 : 0

  provider = kubernetes.cluster_2
  # The runbook's file as it is, unless restarted (var.restart_token).
  source = (var.restart_token == "" ? file("${path.module}/apps/sleep-cluster-2.yaml")
    : join("\n---\n", [for d in local.apps.sleep_cluster_2 : yamlencode(d)]))
  depends_on = [module.dr]
}

# The failover policy: helloworld's DestinationRule in each mesh's control plane.
resource "kubernetes_manifest" "failover_mesh_1" {
  count = var.failover ? 1 : 0

  provider = kubernetes.mesh_1
  manifest = local.helloworld_failover
}

resource "kubernetes_manifest" "failover_mesh_2" {
  count = var.failover ? 1 : 0

  provider = kubernetes.mesh_2
  manifest = local.helloworld_failover
}

# Verification: ten requests from sleep reach both versions (during a drill, those of the clusters
# that are up: var.clusters_down).
check "from_cluster_1" {
  enabled = local.sleep_in["cluster-1"]

  data "kubernetes_exec" "curl" {
    provider   = kubernetes.cluster_1
    deployment = "sleep"
    command    = ["curl", "-s", "helloworld:5000/hello"]
    repeat     = 10
  }

  assert {
    condition     = alltrue([for o in data.kubernetes_exec.curl.outputs : startswith(o, "Hello version: ")])
    error_message = "every response must come from helloworld"
  }
  assert {
    condition     = anytrue([for o in data.kubernetes_exec.curl.outputs : strcontains(o, "version: v1,")])
    error_message = "no response from helloworld v1 (cluster-1)"
  }
  assert {
    condition     = contains(var.clusters_down, "cluster-2") || anytrue([for o in data.kubernetes_exec.curl.outputs : strcontains(o, "version: v2,")])
    error_message = "no response from helloworld v2 (cluster-2): cross-cluster traffic does not work"
  }
}

check "from_cluster_2" {
  enabled = local.sleep_in["cluster-2"]

  data "kubernetes_exec" "curl" {
    provider   = kubernetes.cluster_2
    deployment = "sleep"
    command    = ["curl", "-s", "helloworld:5000/hello"]
    repeat     = 10
  }

  assert {
    condition     = alltrue([for o in data.kubernetes_exec.curl.outputs : startswith(o, "Hello version: ")])
    error_message = "every response must come from helloworld"
  }
  assert {
    condition     = contains(var.clusters_down, "cluster-1") || anytrue([for o in data.kubernetes_exec.curl.outputs : strcontains(o, "version: v1,")])
    error_message = "no response from helloworld v1 (cluster-1): cross-cluster traffic does not work"
  }
  assert {
    condition     = anytrue([for o in data.kubernetes_exec.curl.outputs : strcontains(o, "version: v2,")])
    error_message = "no response from helloworld v2 (cluster-2)"
  }
}

# Which clusters the meshes were built on (the plan's first lines name the endpoints).
output "environment" {
  value = { for name, c in module.dr.clusters : name => "${c.id} (${c.name}, ${c.region})" }
}

output "meshes" {
  value = { for k, m in module.dr.meshes : k => { id = m.id, state = m.state } }
}

output "root_fingerprint" {
  value = module.dr.root_fingerprint
}
