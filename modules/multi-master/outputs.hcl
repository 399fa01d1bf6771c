# What other configurations use: the meshes, the shared root, and per cluster what a kubernetes
# provider needs to reach the cluster and its mesh's control plane.

output "mesh_ids" {
  description = "Each cluster's mesh id"
  value       = { for k, m in asm_service_mesh.mesh : k => m.id }
}

output "meshes" {
  description = "Each cluster's mesh: id, name, state and running version"
  value       = { for k, m in asm_service_mesh.mesh : k => { id = m.id, name = m.name, state = m.state, version = m.version } }
}

output "root_fingerprint" {
  description = "The SHA-256 fingerprint of the root certificate every mesh shares"
  value       = pki_root_ca.shared.fingerprint_sha256
}

output "cluster_kubeconfigs" {
  description = "Each cluster's kubeconfig (from ACK): give it to a kubernetes provider as kubeconfig_content"
  value       = { for k, c in data.ack_cluster.cluster : k => c.kubeconfig }
  sensitive   = true
}

output "mesh_kubeconfigs" {
  description = "Each mesh's control-plane kubeconfig (Istio resources such as DestinationRule): give it to a kubernetes provider as kubeconfig_content"
  value       = { for k, m in asm_service_mesh.mesh : k => m.kubeconfig }
  sensitive   = true
}

output "injection" {
  description = "Each cluster's injection resource id (MESH_ID:default): applications in the cluster depend on it"
  value       = { for k, i in asm_sidecar_injection.default : k => i.id }
}

output "clusters" {
  description = "Each cluster as ACK describes it: id, name, region, VPC"
  value = {
    for k, c in data.ack_cluster.cluster : k => {
      id = c.cluster_id, name = c.name, region = c.region, vpc_id = c.vpc_id
    }
  }
}
