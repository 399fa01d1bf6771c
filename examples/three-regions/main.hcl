# The multi-master disaster-recovery topology on three clusters, over the reusable module
# modules/multi-master: three meshes sharing one root, every cluster added to every other mesh for
# service discovery only, a multi-cluster network of three in each mesh, injection; then sleep and
# one helloworld version per cluster (v1, v2, v3), and a check per cluster that every version
# answers. Run it on `meshform sandbox up --clusters 3` (see README.md).

meshform {
  required_version = ">= 0.1"
}

variable "cluster_1_id" {
  description = "The ACK cluster of cluster-1 (MESHFORM_VAR_cluster_1_id)"
  type        = string
}

variable "cluster_2_id" {
  description = "The ACK cluster of cluster-2 (MESHFORM_VAR_cluster_2_id)"
  type        = string
}

variable "cluster_3_id" {
  description = "The ACK cluster of cluster-3 (MESHFORM_VAR_cluster_3_id)"
  type        = string
}

locals {
  ids = {
    "cluster-1" = var.cluster_1_id
    "cluster-2" = var.cluster_2_id
    "cluster-3" = var.cluster_3_id
  }

  # Each cluster runs sleep and one helloworld version: cluster-N runs vN.
  apps = {
    for name in keys(local.ids) : name => concat(
      [for d in split("\n---\n", file("${path.module}/apps/sleep.yaml")) : yamldecode(d)],
      [for d in split("\n---\n", templatefile("${path.module}/apps/helloworld.yaml", { version = "v${trimprefix(name, "cluster-")}" })) : yamldecode(d)],
    )
  }
}

# Alibaba Cloud: endpoints and credentials from the environment (ALIBABA_CLOUD_*).
provider "asm" {}

provider "ack" {}

module "dr" {
  source = "../../modules/multi-master"

  clusters = { for name, id in local.ids : name => { id = id } }

  # An upgrade (a new istio_version) reaches one mesh at a time, cluster-3's first; after each,
  # every cluster must still reach every version before the next mesh is touched.
  upgrade_order  = ["cluster-3"]
  upgrade_checks = ["from_cluster_1", "from_cluster_2", "from_cluster_3"]
}

# One Kubernetes provider instance per cluster, from the kubeconfig ACK issues for it.
provider "kubernetes" {
  alias              = "cluster"
  for_each           = local.ids
  kubeconfig_content = module.dr.cluster_kubeconfigs[each.key]
}

# Sleep and helloworld in every cluster, once its mesh injects sidecars.
resource "kubernetes_manifest" "apps" {
  for_each = local.ids

  provider   = kubernetes.cluster[each.key]
  manifest   = local.apps[each.key]
  depends_on = [module.dr]
}

# Verification: from every cluster, thirty requests reach all three versions.
check "from_cluster_1" {
  data "kubernetes_exec" "curl" {
    provider   = kubernetes.cluster["cluster-1"]
    deployment = "sleep"
    command    = ["curl", "-s", "helloworld:5000/hello"]
    repeat     = 30
  }

  assert {
    condition     = alltrue([for v in ["v1", "v2", "v3"] : anytrue([for o in data.kubernetes_exec.curl.outputs : strcontains(o, "version: ${v},")])])
    error_message = "from cluster-1, not every helloworld version (v1, v2, v3) answered"
  }
}

check "from_cluster_2" {
  data "kubernetes_exec" "curl" {
    provider   = kubernetes.cluster["cluster-2"]
    deployment = "sleep"
    command    = ["curl", "-s", "helloworld:5000/hello"]
    repeat     = 30
  }

  assert {
    condition     = alltrue([for v in ["v1", "v2", "v3"] : anytrue([for o in data.kubernetes_exec.curl.outputs : strcontains(o, "version: ${v},")])])
    error_message = "from cluster-2, not every helloworld version (v1, v2, v3) answered"
  }
}

check "from_cluster_3" {
  data "kubernetes_exec" "curl" {
    provider   = kubernetes.cluster["cluster-3"]
    deployment = "sleep"
    command    = ["curl", "-s", "helloworld:5000/hello"]
    repeat     = 30
  }

  assert {
    condition     = alltrue([for v in ["v1", "v2", "v3"] : anytrue([for o in data.kubernetes_exec.curl.outputs : strcontains(o, "version: ${v},")])])
    error_message = "from cluster-3, not every helloworld version (v1, v2, v3) answered"
  }
}

output "meshes" {
  value = module.dr.meshes
}

output "root_fingerprint" {
  value = module.dr.root_fingerprint
}
