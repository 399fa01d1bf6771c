# The multi-master disaster-recovery topology for any number of clusters: the runbook's steps 1–4
# (without its sample applications), generalised from two clusters to N.
#
# Providers: the module uses the caller's default `asm`, `ack` and `pki` configurations.

# The clusters as ACK describes them: region, VPC and the first vSwitch of each.
data "ack_cluster" "cluster" {
  for_each = var.clusters

  cluster_id = each.value.id
}

locals {
  names = keys(var.clusters)

  # Each cluster's settings with the defaults filled in.
  settings = {
    for name, c in var.clusters : name => {
      mesh_name = c.mesh_name != null ? c.mesh_name : "mesh-${trimprefix(name, "cluster-")}"
      network   = c.network != null ? c.network : "network${trimprefix(name, "cluster-")}"
      gateway   = c.gateway != null ? c.gateway : true
    }
  }

  # Every (mesh, other cluster) pair: the other cluster is added to the mesh for discovery only.
  discovery = {
    for pair in setproduct(local.names, local.names) : "${pair[0]}/${pair[1]}" => {
      mesh    = pair[0]
      cluster = pair[1]
    } if pair[0] != pair[1]
  }
}

# Step 1: one root certificate shared by every mesh, one intermediate CA per mesh.
resource "pki_root_ca" "shared" {
  common_name   = "Root CA"
  organization  = "Istio"
  key_algorithm = var.key_algorithm
}

resource "pki_intermediate_ca" "mesh" {
  for_each = var.clusters

  root_cert_pem = pki_root_ca.shared.cert_pem
  root_key_pem  = pki_root_ca.shared.key_pem
  locality      = each.key
}

# Step 1: a mesh per cluster, managing it; created in parallel.
resource "asm_service_mesh" "mesh" {
  for_each = var.clusters

  name          = local.settings[each.key].mesh_name
  region        = data.ack_cluster.cluster[each.key].region
  istio_version = var.istio_version
  vpc_id        = data.ack_cluster.cluster[each.key].vpc_id
  vswitches     = [data.ack_cluster.cluster[each.key].vswitch_ids[0]]
  cluster_id    = data.ack_cluster.cluster[each.key].cluster_id

  ca {
    cert       = pki_intermediate_ca.mesh[each.key].cert_pem
    key        = pki_intermediate_ca.mesh[each.key].key_pem
    root_cert  = pki_root_ca.shared.cert_pem
    cert_chain = pki_intermediate_ca.mesh[each.key].cert_chain_pem
  }

  # An upgrade (or any in-place change of several meshes) never touches every control plane at
  # once: one mesh at a time, var.upgrade_order first, each gated by the caller's checks.
  lifecycle {
    rollout {
      batch_size = 1
      order      = var.upgrade_order
      checks     = var.upgrade_checks
    }
  }
}

# Step 2: every cluster added to every other mesh, for service discovery only. Keyed
# "MESH'S CLUSTER/ADDED CLUSTER".
resource "asm_cluster_attachment" "discovery" {
  for_each = local.discovery

  mesh_id        = asm_service_mesh.mesh[each.value.mesh].id
  cluster_id     = data.ack_cluster.cluster[each.value.cluster].cluster_id
  discovery_only = true
}

# Step 3 (optional): each mesh's multi-cluster network lists every cluster, its own first; a
# cluster's cross-cluster mesh proxy is set in its own mesh.
resource "asm_multi_cluster_network" "net" {
  for_each = var.cross_network ? var.clusters : {}

  mesh_id = asm_service_mesh.mesh[each.key].id

  dynamic "cluster" {
    for_each = concat([each.key], [for n in local.names : n if n != each.key])
    iterator = member
    content {
      cluster_id            = data.ack_cluster.cluster[member.value].cluster_id
      network               = local.settings[member.value].network
      cross_cluster_gateway = member.value == each.key && local.settings[member.value].gateway
    }
  }

  depends_on = [asm_cluster_attachment.discovery]
}

# Step 4: sidecar injection for the default namespace in every mesh.
resource "asm_sidecar_injection" "default" {
  for_each = var.clusters

  mesh_id   = asm_service_mesh.mesh[each.key].id
  namespace = "default"
}
