//! Kubernetes YAML: the one reader of manifests (the kubernetes provider's `source`) and of YAML
//! request bodies (the emulated API servers), in kubectl's dialect — YAML 1.1 booleans (`yes`, `no`,
//! `on`, `off`), as `sigs.k8s.io/yaml` reads them — into JSON, the form both send and store.
//!
//! The language function `yamldecode` deliberately reads YAML 1.2 instead (`yes` stays a string), as
//! Terraform's does: a configuration gets Terraform's answer, a cluster gets kubectl's.

/// Every document of a multi-document text, in order (empty documents are left out).
pub fn kubernetes_documents(text: &str) -> Result<Vec<serde_json::Value>, String> {
    serde_saphyr::from_multiple_with_options(text, options()).map_err(|e| e.to_string())
}

/// A single document.
pub fn kubernetes_document(text: &str) -> Result<serde_json::Value, String> {
    serde_saphyr::from_str_with_options(text, options()).map_err(|e| e.to_string())
}

fn options() -> serde_saphyr::Options {
    serde_saphyr::options! { strict_booleans: false }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn documents_in_kubectls_dialect() {
        let docs = kubernetes_documents("a: yes\nb: 'yes'\n---\n---\nc: [1, on]\n").unwrap();
        assert_eq!(docs, vec![json!({"a": true, "b": "yes"}), json!({"c": [1, true]})]);
        assert_eq!(kubernetes_document("replicas: 3").unwrap(), json!({"replicas": 3}));
        assert!(kubernetes_document("a: [1").unwrap_err().contains("line"), "says where");
    }
}
