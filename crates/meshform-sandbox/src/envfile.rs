//! `sandbox.env`: the sandbox as environment variables, for a shell to source — the endpoints and
//! the account's AccessKey as the `ALIBABA_CLOUD_*` variables meshform's Alibaba Cloud providers
//! read, and each cluster's id as a `MESHFORM_VAR_<name>_id` variable (`cluster-1` →
//! `MESHFORM_VAR_cluster_1_id`). A configuration that takes its cluster ids as variables and reads
//! everything else from `data "ack_cluster"` (as `examples/multi-master` does) then runs unchanged
//! against the sandbox or against Alibaba Cloud, whose endpoints and credentials come from the
//! environment too.

use crate::launch::Description;

/// The file's name in the sandbox directory.
pub const ENV_FILE: &str = "sandbox.env";

/// The variable that carries a cluster's id: `cluster-1` → `MESHFORM_VAR_cluster_1_id`.
pub fn cluster_id_variable(cluster_name: &str) -> String {
    let name: String = cluster_name
        .chars()
        .map(|c| if c.is_ascii_alphanumeric() { c.to_ascii_lowercase() } else { '_' })
        .collect();
    format!("MESHFORM_VAR_{name}_id")
}

/// The variables, in the order written.
pub fn variables(d: &Description) -> Vec<(String, String)> {
    let mut vars = vec![
        ("ALIBABA_CLOUD_ACCESS_KEY_ID".to_owned(), d.asm.access_key_id.clone()),
        ("ALIBABA_CLOUD_ACCESS_KEY_SECRET".to_owned(), d.asm.access_key_secret.clone()),
        ("ALIBABA_CLOUD_SERVICEMESH_ENDPOINT".to_owned(), d.asm.endpoint.clone()),
    ];
    if let Some(cs) = &d.cs {
        vars.push(("ALIBABA_CLOUD_CS_ENDPOINT".to_owned(), cs.endpoint.clone()));
    }
    if let Some(kms) = &d.kms {
        vars.push(("ALIBABA_CLOUD_KMS_ENDPOINT".to_owned(), kms.endpoint.clone()));
    }
    for c in &d.clusters {
        vars.push((cluster_id_variable(&c.name), c.id.clone()));
    }
    vars
}

/// The file's text: a comment saying what it is, then one `export NAME='value'` line a variable.
pub fn render(d: &Description) -> String {
    let mut out = String::from(
        "# The meshform sandbox's endpoints, AccessKey and cluster ids. Use it in a shell:\n\
         #   . .meshform/sandbox/sandbox.env\n\
         # and run meshform as you would against Alibaba Cloud (see docs/alibaba-cloud.md).\n",
    );
    for (name, value) in variables(d) {
        out.push_str(&format!("export {name}={}\n", shell_quote(&value)));
    }
    out
}

/// A POSIX shell single-quoted word.
fn shell_quote(value: &str) -> String {
    format!("'{}'", value.replace('\'', "'\\''"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_quoting() {
        assert_eq!(cluster_id_variable("cluster-1"), "MESHFORM_VAR_cluster_1_id");
        assert_eq!(cluster_id_variable("Prod.East"), "MESHFORM_VAR_prod_east_id");
        assert_eq!(shell_quote("a'b c"), "'a'\\''b c'");
    }
}
