//! The configuration over `modules/multi-master` for N clusters that the module's end-to-end test
//! and its scale benchmark both plan: `cluster-1` … `cluster-N` by id (`MESHFORM_VAR_cluster_N_id`),
//! sleep and helloworld vN in cluster-N (`examples/three-regions/apps`), one kubernetes provider
//! block with `for_each`. Included by both with `#[path]`.

/// The configuration for `n` clusters, without checks; the module is called at
/// `./modules/multi-master`.
pub fn topology(n: usize) -> String {
    let mut hcl = String::new();
    for i in 1..=n {
        hcl.push_str(&format!("variable \"cluster_{i}_id\" {{ type = string }}\n"));
    }
    let ids: Vec<String> =
        (1..=n).map(|i| format!("    \"cluster-{i}\" = var.cluster_{i}_id\n")).collect();
    hcl.push_str(&format!(
        r#"
locals {{
  ids = {{
{ids}  }}
  apps = {{
    for name in keys(local.ids) : name => concat(
      [for d in split("\n---\n", file("${{path.module}}/apps/sleep.yaml")) : yamldecode(d)],
      [for d in split("\n---\n", templatefile("${{path.module}}/apps/helloworld.yaml", {{ version = "v${{trimprefix(name, "cluster-")}}" }})) : yamldecode(d)],
    )
  }}
}}

provider "asm" {{}}
provider "ack" {{}}

module "dr" {{
  source   = "./modules/multi-master"
  clusters = {{ for name, id in local.ids : name => {{ id = id }} }}
}}

provider "kubernetes" {{
  alias              = "cluster"
  for_each           = local.ids
  kubeconfig_content = module.dr.cluster_kubeconfigs[each.key]
}}

resource "kubernetes_manifest" "apps" {{
  for_each   = local.ids
  provider   = kubernetes.cluster[each.key]
  manifest   = local.apps[each.key]
  depends_on = [module.dr]
}}
"#,
        ids = ids.concat()
    ));
    hcl
}
