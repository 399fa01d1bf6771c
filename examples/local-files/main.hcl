# A small meshform configuration on the built-in `local` provider: it writes the per-cluster
# configuration files of a two-cluster mesh into ./out, the way the sandbox examples will drive
# real clusters. Try: meshform plan, meshform apply, edit a file in ./out, meshform plan again.

meshform {
  required_version = ">= 0.1"
}

variable "clusters" {
  description = "Clusters of the disaster-recovery pair and their regions"
  type        = map(string)
  default = {
    "cluster-1" = "cn-hangzhou"
    "cluster-2" = "cn-shanghai"
  }

  validation {
    condition     = length(var.clusters) >= 2
    error_message = "a disaster-recovery topology needs at least two clusters"
  }
}

variable "mesh_token" {
  description = "A secret shared by the meshes (shown as (sensitive value) everywhere)"
  type        = string
  default     = "not-a-real-secret"
  sensitive   = true
}

locals {
  out_dir = "out"
  meshes  = { for name, region in var.clusters : name => "mesh-${substr(name, length(name) - 1, 1)}" }
}

resource "local_file" "mesh_config" {
  for_each = var.clusters

  filename = "${local.out_dir}/${each.key}/mesh.yaml"
  content = templatefile("${path.module}/templates/mesh.yaml.tpl", {
    cluster = each.key
    region  = each.value
    mesh    = local.meshes[each.key]
    peers   = [for name in keys(var.clusters) : name if name != each.key]
  })
}

resource "local_file" "token" {
  filename        = "${local.out_dir}/token"
  content         = var.mesh_token
  file_permission = "0600"
}

resource "local_file" "summary" {
  filename = "${local.out_dir}/summary.txt"
  content  = join("\n", [for name, f in local_file.mesh_config : "${name}: ${f.content_sha256}"])

  depends_on = [local_file.token]
}

output "mesh_files" {
  description = "Where each cluster's mesh configuration was written"
  value       = { for name, f in local_file.mesh_config : name => f.filename }
}

output "token_file" {
  value = local_file.token.id
}
