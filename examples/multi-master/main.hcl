# The runbook "Multi-cluster disaster recovery with the ASM multi-master control plane" as
# configuration. See README.md for the step each resource replaces.

meshform {
  required_version = ">= 0.1"
}

variable "sandbox_file" {
  description = "Where the environment is described: the sandbox's sandbox.json (meshform sandbox up)"
  type        = string
  default     = ".meshform/sandbox/sandbox.json"
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

locals {
  # The target environment is chosen here, explicitly: the sandbox's description file.
  env      = jsondecode(file(var.sandbox_file))
  clusters = { for c in local.env.clusters : c.name => c }
  peer     = { "cluster-1" = "cluster-2", "cluster-2" = "cluster-1" }
  mesh     = { "cluster-1" = "mesh-1", "cluster-2" = "mesh-2" }
  network  = { "cluster-1" = "network1", "cluster-2" = "network2" }

  # Step 4's YAML, verbatim; sleep's replica count follows the runbook's second half.
  cluster_1_docs = [for d in split("\n---\n", file("${path.module}/apps/cluster-1.yaml")) : yamldecode(d)]
  cluster_1_apps = [
    for d in local.cluster_1_docs :
    d.kind == "Deployment" && d.metadata.name == "sleep"
    ? merge(d, { spec = merge(d.spec, { replicas = var.sleep_in_cluster_2 ? 0 : 1 }) })
    : d
  ]
}

provider "asm" {
  endpoint          = local.env.asm.endpoint
  access_key_id     = local.env.asm.access_key_id
  access_key_secret = local.env.asm.access_key_secret
}

provider "kubernetes" {
  alias      = "cluster_1"
  kubeconfig = local.clusters["cluster-1"].kubeconfig
}

provider "kubernetes" {
  alias      = "cluster_2"
  kubeconfig = local.clusters["cluster-2"].kubeconfig
}

# Step 1: one root certificate shared by both meshes, one intermediate CA per mesh.
resource "pki_root_ca" "shared" {
  common_name   = "Root CA"
  organization  = "Istio"
  key_algorithm = "ecdsa_p256"
}

resource "pki_intermediate_ca" "mesh" {
  for_each = local.clusters

  root_cert_pem = pki_root_ca.shared.cert_pem
  root_key_pem  = pki_root_ca.shared.key_pem
  locality      = each.key
}

# Step 1: mesh-1 manages cluster-1, mesh-2 manages cluster-2; created in parallel.
resource "asm_service_mesh" "mesh" {
  for_each = local.clusters

  name          = local.mesh[each.key]
  region        = each.value.region
  istio_version = "v1.22.6.71-g7d67a80b-aliyun"
  vpc_id        = each.value.vpc_id
  vswitches     = [each.value.vswitch_id]
  cluster_id    = each.value.id

  ca {
    cert       = pki_intermediate_ca.mesh[each.key].cert_pem
    key        = pki_intermediate_ca.mesh[each.key].key_pem
    root_cert  = pki_root_ca.shared.cert_pem
    cert_chain = pki_intermediate_ca.mesh[each.key].cert_chain_pem
  }
}

# Step 2: each cluster added to the other mesh, for service discovery only.
resource "asm_cluster_attachment" "discovery" {
  for_each = local.clusters

  mesh_id        = asm_service_mesh.mesh[each.key].id
  cluster_id     = local.clusters[local.peer[each.key]].id
  discovery_only = true
}

# Step 3 (optional): the multi-cluster network, with cross-cluster mesh proxies.
resource "asm_multi_cluster_network" "net" {
  for_each = var.cross_network ? local.clusters : {}

  mesh_id = asm_service_mesh.mesh[each.key].id

  cluster {
    cluster_id            = each.value.id
    network               = local.network[each.key]
    cross_cluster_gateway = true
  }
  cluster {
    cluster_id            = local.clusters[local.peer[each.key]].id
    network               = local.network[local.peer[each.key]]
    cross_cluster_gateway = false
  }

  depends_on = [asm_cluster_attachment.discovery]
}

# Step 4: sidecar injection for the default namespace in both meshes.
resource "asm_sidecar_injection" "default" {
  for_each = local.clusters

  mesh_id   = asm_service_mesh.mesh[each.key].id
  namespace = "default"
}

# Step 4: sleep and helloworld v1 in cluster-1, helloworld v2 in cluster-2.
resource "kubernetes_manifest" "cluster_1_apps" {
  provider   = kubernetes.cluster_1
  manifest   = local.cluster_1_apps
  depends_on = [asm_sidecar_injection.default]
}

resource "kubernetes_manifest" "cluster_2_apps" {
  provider   = kubernetes.cluster_2
  source     = file("${path.module}/apps/cluster-2.yaml")
  depends_on = [asm_sidecar_injection.default]
}

# The runbook's second half: sleep in cluster-2.
resource "kubernetes_manifest" "sleep_cluster_2" {
  count = var.sleep_in_cluster_2 ? 1 : 0

  provider   = kubernetes.cluster_2
  source     = file("${path.module}/apps/sleep-cluster-2.yaml")
  depends_on = [asm_sidecar_injection.default]
}

# Verification: ten requests from sleep reach both versions.
check "from_cluster_1" {
  enabled = !var.sleep_in_cluster_2

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
    condition     = anytrue([for o in data.kubernetes_exec.curl.outputs : strcontains(o, "version: v2,")])
    error_message = "no response from helloworld v2 (cluster-2): cross-cluster traffic does not work"
  }
}

check "from_cluster_2" {
  enabled = var.sleep_in_cluster_2

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
    condition     = anytrue([for o in data.kubernetes_exec.curl.outputs : strcontains(o, "version: v1,")])
    error_message = "no response from helloworld v1 (cluster-1): cross-cluster traffic does not work"
  }
  assert {
    condition     = anytrue([for o in data.kubernetes_exec.curl.outputs : strcontains(o, "version: v2,")])
    error_message = "no response from helloworld v2 (cluster-2)"
  }
}

# Plans say which environment they act on: here, the sandbox described by var.sandbox_file.
output "environment" {
  value = "sandbox described by ${var.sandbox_file}"
}

output "meshes" {
  value = { for k, m in asm_service_mesh.mesh : k => { id = m.id, state = m.state } }
}

output "root_fingerprint" {
  value = pki_root_ca.shared.fingerprint_sha256
}
