//! Manifests as meshform handles them: parsing (`manifest` objects or a multi-document YAML `source`),
//! identity, namespace defaulting, and the projection of a live object onto the fields meshform manages
//! (so that fields set by the server or by other managers never show as a diff).

use serde_json::{Map, Value as Json};

/// An object's identity: `apiVersion/kind/namespace/name` (namespace empty for cluster-scoped kinds).
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct ObjectRef {
    pub api_version: String,
    pub kind: String,
    pub namespace: Option<String>,
    pub name: String,
}

impl ObjectRef {
    pub fn of(obj: &Json) -> Result<ObjectRef, String> {
        let s = |p: &str| obj.pointer(p).and_then(|v| v.as_str()).map(str::to_owned);
        let api_version = s("/apiVersion").ok_or("an object has no apiVersion")?;
        let kind = s("/kind").ok_or_else(|| format!("an object of {api_version} has no kind"))?;
        let name = s("/metadata/name").ok_or_else(|| format!("a {kind} has no metadata.name"))?;
        Ok(ObjectRef { api_version, kind, namespace: s("/metadata/namespace"), name })
    }

    /// `group`, `version` of the apiVersion.
    pub fn group_version(&self) -> (&str, &str) {
        match self.api_version.split_once('/') {
            Some((g, v)) => (g, v),
            None => ("", self.api_version.as_str()),
        }
    }

    pub fn id(&self) -> String {
        format!(
            "{}/{}/{}/{}",
            self.api_version,
            self.kind,
            self.namespace.as_deref().unwrap_or(""),
            self.name
        )
    }

    pub fn parse_id(id: &str) -> Option<ObjectRef> {
        // apiVersion may contain one '/' (apps/v1): split from the right.
        let mut parts: Vec<&str> = id.rsplitn(4, '/').collect();
        parts.reverse();
        let [api_version, kind, ns, name] = parts.as_slice() else { return None };
        Some(ObjectRef {
            api_version: (*api_version).to_owned(),
            kind: (*kind).to_owned(),
            namespace: (!ns.is_empty()).then(|| (*ns).to_owned()),
            name: (*name).to_owned(),
        })
    }

    /// `deployments.apps "sleep" in namespace "sample"` style, for messages.
    pub fn describe(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {}/{}", self.kind, ns, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// Parses a multi-document YAML text into objects (empty documents and `List`s flattened).
pub fn parse_yaml(text: &str) -> Result<Vec<Json>, String> {
    let docs = meshform_core::yaml::kubernetes_documents(text)
        .map_err(|e| format!("invalid YAML: {e}"))?;
    let mut out = Vec::new();
    for d in docs {
        flatten(d, &mut out);
    }
    Ok(out)
}

fn flatten(doc: Json, out: &mut Vec<Json>) {
    match doc {
        Json::Null => {}
        Json::Array(items) => items.into_iter().for_each(|i| flatten(i, out)),
        Json::Object(ref m)
            if m.get("kind").and_then(|k| k.as_str()).is_some_and(|k| k.ends_with("List"))
                && m.get("items").is_some() =>
        {
            if let Some(Json::Array(items)) = m.get("items").cloned() {
                items.into_iter().for_each(|i| flatten(i, out));
            }
        }
        other => out.push(other),
    }
}

/// Orders objects so that namespaces (and definitions) are applied first and deleted last.
pub fn apply_order(objs: &mut [Json]) {
    let rank = |o: &Json| match o.get("kind").and_then(|k| k.as_str()) {
        Some("Namespace") => 0,
        Some("CustomResourceDefinition") => 1,
        Some("ServiceAccount" | "ConfigMap" | "Secret") => 2,
        _ => 3,
    };
    objs.sort_by_key(rank);
}

/// The keys of list elements that identify them, in order of preference (as strategic merge does).
const MERGE_KEYS: &[&str] =
    &["name", "containerPort", "port", "mountPath", "devicePath", "ip", "key", "type"];

/// The live object's values at the keys the desired object sets, recursively. Lists of objects are
/// matched by a merge key (`name`, `containerPort`, …) when every desired element has one.
pub fn project(live: &Json, desired: &Json) -> Json {
    match (live, desired) {
        (Json::Object(l), Json::Object(d)) => {
            let mut out = Map::new();
            for (k, dv) in d {
                if let Some(lv) = l.get(k) {
                    out.insert(k.clone(), project(lv, dv));
                }
            }
            Json::Object(out)
        }
        (Json::Array(l), Json::Array(d)) => {
            let key = MERGE_KEYS.iter().find(|k| {
                !d.is_empty()
                    && d.iter().all(|e| e.get(**k).is_some_and(|v| !v.is_object() && !v.is_array()))
            });
            match key {
                Some(k) => {
                    let mut out: Vec<Json> = d
                        .iter()
                        .filter_map(|de| {
                            l.iter().find(|le| le.get(*k) == de.get(*k)).map(|le| project(le, de))
                        })
                        .collect();
                    // Elements someone else added stay visible as a difference in length.
                    let extra =
                        l.iter().filter(|le| !d.iter().any(|de| de.get(*k) == le.get(*k))).count();
                    if extra > 0 {
                        out.extend(
                            l.iter()
                                .filter(|le| !d.iter().any(|de| de.get(*k) == le.get(*k)))
                                .cloned(),
                        );
                    }
                    Json::Array(out)
                }
                None if l.iter().all(|x| !x.is_object()) => Json::Array(l.clone()),
                None => Json::Array(
                    l.iter()
                        .zip(d.iter().chain(std::iter::repeat(&Json::Null)))
                        .map(|(le, de)| if de.is_null() { le.clone() } else { project(le, de) })
                        .collect(),
                ),
            }
        }
        (l, _) => l.clone(),
    }
}

/// A live object as a manifest: server-populated metadata and status removed (for import).
pub fn clean_live(live: &Json) -> Json {
    let mut o = live.clone();
    if let Some(m) = o.get_mut("metadata").and_then(|m| m.as_object_mut()) {
        for k in [
            "uid",
            "resourceVersion",
            "generation",
            "creationTimestamp",
            "managedFields",
            "selfLink",
            "deletionTimestamp",
            "ownerReferences",
        ] {
            m.remove(k);
        }
        if let Some(a) = m.get_mut("annotations").and_then(|a| a.as_object_mut()) {
            a.remove("kubectl.kubernetes.io/last-applied-configuration");
            a.remove("deployment.kubernetes.io/revision");
        }
        if m.get("annotations").and_then(|a| a.as_object()).is_some_and(|a| a.is_empty()) {
            m.remove("annotations");
        }
    }
    if let Some(obj) = o.as_object_mut() {
        obj.remove("status");
    }
    o
}

/// Renders objects as multi-document YAML (what plans show and diff line by line).
pub fn to_yaml(objs: &[Json]) -> String {
    let mut out = String::new();
    for (i, o) in objs.iter().enumerate() {
        if i > 0 {
            out.push_str("---\n");
        }
        out.push_str(&serde_saphyr::to_string(&sorted(o)).unwrap_or_default());
        if !out.ends_with('\n') {
            out.push('\n');
        }
    }
    out
}

/// Keys in a stable order: apiVersion, kind, metadata first, then alphabetical.
fn sorted(v: &Json) -> Json {
    match v {
        Json::Object(m) => {
            let mut keys: Vec<&String> = m.keys().collect();
            let rank = |k: &str| match k {
                "apiVersion" => 0,
                "kind" => 1,
                "metadata" => 2,
                "name" => 3,
                _ => 4,
            };
            keys.sort_by(|a, b| rank(a).cmp(&rank(b)).then(a.cmp(b)));
            Json::Object(keys.into_iter().map(|k| (k.clone(), sorted(&m[k]))).collect())
        }
        Json::Array(a) => Json::Array(a.iter().map(sorted).collect()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn projection_keeps_only_managed_fields() {
        let desired = json!({"spec": {"replicas": 1, "template": {"spec": {"containers": [{"name": "c", "image": "a:1"}]}}}});
        let live = json!({"spec": {"replicas": 3, "progressDeadlineSeconds": 600, "template": {"spec": {"containers": [
            {"name": "istio-proxy", "image": "proxy"}, {"name": "c", "image": "a:1", "imagePullPolicy": "IfNotPresent"}]}}}, "status": {}});
        let p = project(&live, &desired);
        assert_eq!(p["spec"]["replicas"], 3);
        assert!(p["spec"].get("progressDeadlineSeconds").is_none());
        assert_eq!(
            p["spec"]["template"]["spec"]["containers"][0],
            json!({"name": "c", "image": "a:1"})
        );
        assert!(p.get("status").is_none());
    }

    #[test]
    fn yaml_round_trip_and_ids() {
        let objs = parse_yaml("apiVersion: v1\nkind: Namespace\nmetadata:\n  name: a\n---\n\n---\napiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: d\n  namespace: a\n").unwrap();
        assert_eq!(objs.len(), 2);
        let r = ObjectRef::of(&objs[1]).unwrap();
        assert_eq!(r.id(), "apps/v1/Deployment/a/d");
        assert_eq!(ObjectRef::parse_id(&r.id()), Some(r));
        assert_eq!(ObjectRef::parse_id("v1/Namespace//a").unwrap().namespace, None);
        assert!(to_yaml(&objs).starts_with("apiVersion: v1\nkind: Namespace\n"));
    }
}
