# Inputs of the multi-master topology. Only `clusters` is required.

variable "clusters" {
  description = "The ACK clusters, by name (cluster-1, cluster-2, …; at least two): each gets a mesh of its own, and is added to every other cluster's mesh for service discovery only"
  type = map(object({
    # The ACK cluster id (the console's Cluster ID).
    id = string
    # The mesh's name; default "mesh-<name without the cluster- prefix>" (cluster-1 → mesh-1).
    mesh_name = optional(string)
    # The cluster's logical network in the multi-cluster network; default "network<N>" likewise.
    network = optional(string)
    # Whether the cluster gets a cross-cluster mesh proxy (east-west gateway); default true.
    gateway = optional(bool)
  }))

  validation {
    condition     = length(var.clusters) >= 2
    error_message = "the multi-master topology needs at least two clusters"
  }
  validation {
    condition     = alltrue([for c in values(var.clusters) : can(regex("^c[0-9a-z]{8,}$", c.id))])
    error_message = "each cluster's id is an ACK cluster id: c followed by letters and digits (the ACK console's Cluster ID)"
  }
}

variable "istio_version" {
  description = "The ASM (Istio) version of every mesh"
  type        = string
  default     = "v1.22.6.71-g7d67a80b-aliyun"
}

variable "cross_network" {
  description = "The runbook's optional step 3: a multi-cluster network in each mesh listing every cluster, with cross-cluster mesh proxies (needed when the clusters are in different VPCs without CEN)"
  type        = bool
  default     = true
}

variable "key_algorithm" {
  description = "The key algorithm of the shared root and the meshes' intermediate CAs"
  type        = string
  default     = "ecdsa_p256"
}

variable "upgrade_order" {
  description = "Which meshes an in-place change (an istio_version upgrade) reaches first, by cluster name; the rest follow in name order. Every such change goes one mesh at a time, so the meshes are never all upgrading at once"
  type        = list(string)
  default     = []
}

variable "upgrade_checks" {
  description = "Names of the caller's check blocks that must pass after each mesh's change before the next one starts (e.g. [\"from_cluster_1\", \"from_cluster_2\"]); a failing check stops the rollout"
  type        = list(string)
  default     = []
}
