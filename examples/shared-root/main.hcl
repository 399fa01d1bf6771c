# One root of trust shared by every mesh, one intermediate CA per cluster, and each cluster's Istio
# `cacerts` bundle written into its own directory. Runs without any cloud; the files can be used as-is:
#   kubectl create secret generic cacerts -n istio-system \
#     --from-file=cluster-1/ca-cert.pem --from-file=cluster-1/ca-key.pem \
#     --from-file=cluster-1/root-cert.pem --from-file=cluster-1/cert-chain.pem

variable "clusters" {
  type    = set(string)
  default = ["cluster-1", "cluster-2"]
}

variable "key_algorithm" {
  description = "ecdsa_p256, ecdsa_p384, rsa_2048 or rsa_4096 (Istio's own tooling uses rsa_4096)"
  type        = string
  default     = "ecdsa_p256"
}

resource "pki_root_ca" "mesh" {
  common_name   = "Root CA"
  organization  = "Istio"
  key_algorithm = var.key_algorithm
  validity      = "87600h"
  rotate_before = "720h"
}

resource "pki_intermediate_ca" "cluster" {
  for_each = var.clusters

  root_cert_pem = pki_root_ca.mesh.cert_pem
  root_key_pem  = pki_root_ca.mesh.key_pem
  common_name   = "Intermediate CA"
  locality      = each.key
  key_algorithm = var.key_algorithm
  validity      = "43800h"
}

data "pki_istio_cacerts" "cluster" {
  for_each = var.clusters

  ca_cert_pem    = pki_intermediate_ca.cluster[each.key].cert_pem
  ca_key_pem     = pki_intermediate_ca.cluster[each.key].key_pem
  cert_chain_pem = pki_intermediate_ca.cluster[each.key].cert_chain_pem
  root_cert_pem  = pki_root_ca.mesh.cert_pem
}

locals {
  # One entry per (cluster, file): cluster-1/ca-cert.pem, cluster-1/ca-key.pem, …
  bundle_files = merge([
    for cluster in var.clusters : {
      for name in ["ca-cert.pem", "ca-key.pem", "root-cert.pem", "cert-chain.pem"] :
      "${cluster}/${name}" => { cluster = cluster, name = name }
    }
  ]...)
}

resource "local_file" "cacerts" {
  for_each = local.bundle_files

  filename        = each.key
  content         = data.pki_istio_cacerts.cluster[each.value.cluster].files[each.value.name]
  file_permission = each.value.name == "ca-key.pem" ? "0600" : "0644"
}

output "root_fingerprint" {
  value = pki_root_ca.mesh.fingerprint_sha256
}

output "intermediate_expiry" {
  value = { for c, ca in pki_intermediate_ca.cluster : c => ca.not_after }
}
