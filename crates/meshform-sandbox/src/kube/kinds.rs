//! The catalogue of resource types the server serves: built-in kinds, pre-registered Istio kinds,
//! kinds learnt from CustomResourceDefinitions, and kinds learnt from objects written to them.
//! [`KindSet`] says which of them a server offers: a cluster's API server all of them, a mesh's
//! control-plane API server (ASM's) only namespaces and Istio's configuration kinds.

use serde_json::Value;

/// A group, version and kind, as in `apiVersion` + `kind`.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Gvk {
    /// API group; empty for the core group.
    pub group: String,
    /// API version, e.g. `v1`.
    pub version: String,
    /// Kind, e.g. `Deployment`.
    pub kind: String,
}

impl Gvk {
    /// A GVK from its parts.
    pub fn new(group: &str, version: &str, kind: &str) -> Self {
        Gvk { group: group.into(), version: version.into(), kind: kind.into() }
    }

    /// The GVK named by an `apiVersion` (`apps/v1`, `v1`) and a kind.
    pub fn from_api_version(api_version: &str, kind: &str) -> Self {
        match api_version.split_once('/') {
            Some((g, v)) => Gvk::new(g, v, kind),
            None => Gvk::new("", api_version, kind),
        }
    }

    /// The GVK of an object, from its `apiVersion` and `kind` fields.
    pub fn of(object: &Value) -> Option<Self> {
        let av = object.get("apiVersion")?.as_str()?;
        let kind = object.get("kind")?.as_str()?;
        Some(Gvk::from_api_version(av, kind))
    }

    /// `apps/v1`, or `v1` for the core group.
    pub fn api_version(&self) -> String {
        api_version(&self.group, &self.version)
    }
}

/// `group/version`, or `version` for the core group.
pub fn api_version(group: &str, version: &str) -> String {
    if group.is_empty() {
        version.to_string()
    } else {
        format!("{group}/{version}")
    }
}

/// One served resource type.
#[derive(Debug, Clone, PartialEq)]
pub struct ResourceType {
    pub group: String,
    /// Served versions, preferred first.
    pub versions: Vec<String>,
    pub kind: String,
    pub plural: String,
    pub singular: String,
    pub namespaced: bool,
    pub short_names: Vec<String>,
    pub categories: Vec<String>,
    /// Whether `status` is a subresource (writes to the main resource leave it alone).
    pub status_subresource: bool,
    /// Whether `generation` is maintained (bumped on changes outside metadata and status).
    pub has_generation: bool,
    /// Built-in kinds know their list merge keys; generic ones treat lists as atomic.
    pub builtin: bool,
}

impl ResourceType {
    /// The preferred (storage) version.
    pub fn version(&self) -> &str {
        self.versions.first().map(String::as_str).unwrap_or("v1")
    }

    /// Whether `version` is served.
    pub fn serves(&self, version: &str) -> bool {
        self.versions.iter().any(|v| v == version)
    }

    /// `deployments.apps`.
    pub fn qualified(&self) -> String {
        crate::kube::status::qualified(&self.group, &self.plural)
    }

    /// The kind's `List` kind.
    pub fn list_kind(&self) -> String {
        format!("{}List", self.kind)
    }

    /// Is this the given built-in (group, kind)?
    pub fn is(&self, group: &str, kind: &str) -> bool {
        self.builtin && self.group == group && self.kind == kind
    }
}

struct Builtin {
    group: &'static str,
    versions: &'static [&'static str],
    kind: &'static str,
    plural: &'static str,
    namespaced: bool,
    short: &'static [&'static str],
    all: bool,
    status: bool,
    generation: bool,
}

/// A `Builtin` row: group, versions, kind, plural, namespaced, short names, in category `all`,
/// status subresource, generation.
macro_rules! b {
    ($g:expr, $vs:expr, $k:expr, $p:expr, $ns:expr, $short:expr, $all:expr, $status:expr, $gen:expr $(,)?) => {
        Builtin {
            group: $g,
            versions: $vs,
            kind: $k,
            plural: $p,
            namespaced: $ns,
            short: $short,
            all: $all,
            status: $status,
            generation: $gen,
        }
    };
}

const BUILTINS: &[Builtin] = &[
    b!("", &["v1"], "Namespace", "namespaces", false, &["ns"], false, true, false),
    b!("", &["v1"], "Node", "nodes", false, &["no"], false, true, false),
    b!("", &["v1"], "Service", "services", true, &["svc"], true, true, false),
    b!("", &["v1"], "ServiceAccount", "serviceaccounts", true, &["sa"], false, false, false),
    b!("", &["v1"], "Secret", "secrets", true, &[], false, false, false),
    b!("", &["v1"], "ConfigMap", "configmaps", true, &["cm"], false, false, false),
    b!("", &["v1"], "Pod", "pods", true, &["po"], true, true, false),
    b!("", &["v1"], "Endpoints", "endpoints", true, &["ep"], false, false, false),
    b!("", &["v1"], "Event", "events", true, &["ev"], false, false, false),
    b!("apps", &["v1"], "Deployment", "deployments", true, &["deploy"], true, true, true),
    b!("apps", &["v1"], "ReplicaSet", "replicasets", true, &["rs"], true, true, true),
    b!("coordination.k8s.io", &["v1"], "Lease", "leases", true, &[], false, false, false),
    b!(
        "apiextensions.k8s.io",
        &["v1"],
        "CustomResourceDefinition",
        "customresourcedefinitions",
        false,
        &["crd", "crds"],
        false,
        true,
        true,
    ),
];

/// Istio's kinds, served as generic storage so Istio objects can be applied before any CRD is.
const ISTIO: &[Builtin] = &[
    b!(
        "networking.istio.io",
        &["v1", "v1beta1", "v1alpha3"],
        "Gateway",
        "gateways",
        true,
        &["gw"],
        false,
        true,
        true,
    ),
    b!(
        "networking.istio.io",
        &["v1", "v1beta1", "v1alpha3"],
        "VirtualService",
        "virtualservices",
        true,
        &["vs"],
        false,
        true,
        true,
    ),
    b!(
        "networking.istio.io",
        &["v1", "v1beta1", "v1alpha3"],
        "DestinationRule",
        "destinationrules",
        true,
        &["dr"],
        false,
        true,
        true,
    ),
    b!(
        "networking.istio.io",
        &["v1", "v1beta1", "v1alpha3"],
        "ServiceEntry",
        "serviceentries",
        true,
        &["se"],
        false,
        true,
        true,
    ),
    b!(
        "networking.istio.io",
        &["v1", "v1beta1", "v1alpha3"],
        "Sidecar",
        "sidecars",
        true,
        &[],
        false,
        true,
        true,
    ),
    b!(
        "networking.istio.io",
        &["v1", "v1beta1", "v1alpha3"],
        "WorkloadEntry",
        "workloadentries",
        true,
        &["we"],
        false,
        true,
        true,
    ),
    b!(
        "networking.istio.io",
        &["v1", "v1beta1", "v1alpha3"],
        "WorkloadGroup",
        "workloadgroups",
        true,
        &["wg"],
        false,
        true,
        true,
    ),
    b!(
        "networking.istio.io",
        &["v1beta1"],
        "ProxyConfig",
        "proxyconfigs",
        true,
        &[],
        false,
        true,
        true,
    ),
    b!(
        "networking.istio.io",
        &["v1alpha3"],
        "EnvoyFilter",
        "envoyfilters",
        true,
        &[],
        false,
        true,
        true,
    ),
    b!(
        "security.istio.io",
        &["v1", "v1beta1"],
        "PeerAuthentication",
        "peerauthentications",
        true,
        &["pa"],
        false,
        true,
        true,
    ),
    b!(
        "security.istio.io",
        &["v1", "v1beta1"],
        "AuthorizationPolicy",
        "authorizationpolicies",
        true,
        &["ap"],
        false,
        true,
        true,
    ),
    b!(
        "security.istio.io",
        &["v1", "v1beta1"],
        "RequestAuthentication",
        "requestauthentications",
        true,
        &["ra"],
        false,
        true,
        true,
    ),
    b!(
        "telemetry.istio.io",
        &["v1", "v1alpha1"],
        "Telemetry",
        "telemetries",
        true,
        &["telemetry"],
        false,
        true,
        true,
    ),
];

fn from_builtin(x: &Builtin, builtin: bool) -> ResourceType {
    ResourceType {
        group: x.group.into(),
        versions: x.versions.iter().map(|v| v.to_string()).collect(),
        kind: x.kind.into(),
        plural: x.plural.into(),
        singular: x.kind.to_lowercase(),
        namespaced: x.namespaced,
        short_names: x.short.iter().map(|s| s.to_string()).collect(),
        categories: if x.all { vec!["all".into()] } else { vec![] },
        status_subresource: x.status,
        has_generation: x.generation,
        builtin,
    }
}

/// The plural a kind gets when nothing says otherwise (`Gateway` → `gateways`, `Policy` → `policies`).
pub fn guess_plural(kind: &str) -> String {
    let lower = kind.to_lowercase();
    if let Some(stem) = lower.strip_suffix('y') {
        if !stem.ends_with(['a', 'e', 'i', 'o', 'u']) {
            return format!("{stem}ies");
        }
    }
    if lower.ends_with('s')
        || lower.ends_with("ch")
        || lower.ends_with("sh")
        || lower.ends_with('x')
    {
        return format!("{lower}es");
    }
    format!("{lower}s")
}

/// Which kinds an API server offers.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub enum KindSet {
    /// A cluster's API server: the built-in kinds, Istio's kinds, and any kind learnt from a
    /// CustomResourceDefinition or from an object written to it.
    #[default]
    Cluster,
    /// A mesh's control-plane API server, as ASM serves it (its `istio-admin` role): namespaces and
    /// the `networking.istio.io`, `security.istio.io` and `telemetry.istio.io` kinds, nothing else —
    /// no workloads, no CustomResourceDefinitions, no kinds learnt from writes.
    MeshControlPlane,
}

/// The API groups a mesh's control plane serves besides namespaces.
const CONTROL_PLANE_GROUPS: &[&str] =
    &["networking.istio.io", "security.istio.io", "telemetry.istio.io"];

impl KindSet {
    /// The catalogue this set allows out of `loaded` (what a state directory held).
    pub fn restrict(self, loaded: Catalogue) -> Catalogue {
        match self {
            KindSet::Cluster => loaded,
            KindSet::MeshControlPlane => Catalogue {
                types: loaded
                    .types
                    .into_iter()
                    .filter(|t| {
                        t.is("", "Namespace") || CONTROL_PLANE_GROUPS.contains(&t.group.as_str())
                    })
                    .collect(),
                open: false,
            },
        }
    }

    /// The namespaces the server makes sure exist when it starts.
    pub fn system_namespaces(self) -> &'static [&'static str] {
        match self {
            KindSet::Cluster => &["default", "kube-system", "kube-public", "kube-node-lease"],
            KindSet::MeshControlPlane => &["default", "kube-system", "kube-public", "istio-system"],
        }
    }
}

/// All served resource types.
#[derive(Debug, Clone)]
pub struct Catalogue {
    types: Vec<ResourceType>,
    /// Whether kinds are learnt from CustomResourceDefinitions and from writes.
    open: bool,
}

impl Default for Catalogue {
    fn default() -> Self {
        let mut types: Vec<ResourceType> = BUILTINS.iter().map(|x| from_builtin(x, true)).collect();
        types.extend(ISTIO.iter().map(|x| from_builtin(x, false)));
        Catalogue { types, open: true }
    }
}

impl Catalogue {
    /// Every type.
    pub fn all(&self) -> &[ResourceType] {
        &self.types
    }

    /// The type served at `group/version` under `plural`.
    pub fn by_plural(&self, group: &str, version: &str, plural: &str) -> Option<&ResourceType> {
        self.types.iter().find(|t| t.group == group && t.plural == plural && t.serves(version))
    }

    /// The type of a group and kind (any version).
    pub fn by_kind(&self, group: &str, kind: &str) -> Option<&ResourceType> {
        self.types.iter().find(|t| t.group == group && t.kind == kind)
    }

    /// Groups with their versions, in registration order (core group excluded).
    pub fn groups(&self) -> Vec<(String, Vec<String>)> {
        let mut out: Vec<(String, Vec<String>)> = Vec::new();
        for t in self.types.iter().filter(|t| !t.group.is_empty()) {
            let entry = match out.iter_mut().find(|(g, _)| *g == t.group) {
                Some(e) => e,
                None => {
                    out.push((t.group.clone(), Vec::new()));
                    let last = out.len() - 1;
                    &mut out[last]
                }
            };
            for v in &t.versions {
                if !entry.1.contains(v) {
                    entry.1.push(v.clone());
                }
            }
        }
        for (_, versions) in &mut out {
            versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        }
        out
    }

    /// Types served at one group/version.
    pub fn in_group_version(&self, group: &str, version: &str) -> Vec<&ResourceType> {
        self.types.iter().filter(|t| t.group == group && t.serves(version)).collect()
    }

    /// Learn a kind from an object written at a URL the catalogue did not know (CRD-like storage).
    /// Returns false when the group/kind is already known under another plural, or when this
    /// catalogue learns nothing.
    pub fn learn(&mut self, gvk: &Gvk, plural: &str, namespaced: bool) -> bool {
        if let Some(t) = self.types.iter_mut().find(|t| t.group == gvk.group && t.kind == gvk.kind)
        {
            if t.plural != plural {
                return false;
            }
            if !t.serves(&gvk.version) && !self.open {
                return false;
            }
            if !t.serves(&gvk.version) {
                t.versions.push(gvk.version.clone());
            }
            return true;
        }
        if !self.open {
            return false;
        }
        self.types.push(ResourceType {
            group: gvk.group.clone(),
            versions: vec![gvk.version.clone()],
            kind: gvk.kind.clone(),
            plural: plural.to_string(),
            singular: gvk.kind.to_lowercase(),
            namespaced,
            short_names: vec![],
            categories: vec![],
            status_subresource: true,
            has_generation: true,
            builtin: false,
        });
        true
    }

    /// Learn the kinds a CustomResourceDefinition declares.
    pub fn learn_crd(&mut self, crd: &Value) {
        if !self.open {
            return;
        }
        let spec = &crd["spec"];
        let (Some(group), Some(kind), Some(plural)) = (
            spec["group"].as_str(),
            spec["names"]["kind"].as_str(),
            spec["names"]["plural"].as_str(),
        ) else {
            return;
        };
        let mut versions: Vec<String> = spec["versions"]
            .as_array()
            .map(|vs| {
                vs.iter()
                    .filter(|v| v["served"].as_bool().unwrap_or(true))
                    .filter_map(|v| v["name"].as_str().map(String::from))
                    .collect()
            })
            .unwrap_or_default();
        if versions.is_empty() {
            return;
        }
        versions.sort_by_key(|v| std::cmp::Reverse(version_priority(v)));
        let strs = |v: &Value| -> Vec<String> {
            v.as_array()
                .map(|a| a.iter().filter_map(|s| s.as_str().map(String::from)).collect())
                .unwrap_or_default()
        };
        let t = ResourceType {
            group: group.into(),
            versions,
            kind: kind.into(),
            plural: plural.into(),
            singular: spec["names"]["singular"]
                .as_str()
                .map(String::from)
                .unwrap_or_else(|| kind.to_lowercase()),
            namespaced: spec["scope"].as_str() != Some("Cluster"),
            short_names: strs(&spec["names"]["shortNames"]),
            categories: strs(&spec["names"]["categories"]),
            status_subresource: true,
            has_generation: true,
            builtin: false,
        };
        match self.types.iter_mut().find(|x| x.group == t.group && x.kind == t.kind) {
            Some(existing) if !existing.builtin => *existing = t,
            Some(_) => {}
            None => self.types.push(t),
        }
    }
}

/// Kubernetes version priority: GA over beta over alpha, higher numbers first.
pub fn version_priority(v: &str) -> (u8, u32, u32) {
    let Some(rest) = v.strip_prefix('v') else { return (0, 0, 0) };
    let digits: String = rest.chars().take_while(|c| c.is_ascii_digit()).collect();
    let major: u32 = digits.parse().unwrap_or(0);
    let tail = &rest[digits.len()..];
    if tail.is_empty() {
        return (3, major, 0);
    }
    let (level, n) = if let Some(n) = tail.strip_prefix("beta") {
        (2, n)
    } else if let Some(n) = tail.strip_prefix("alpha") {
        (1, n)
    } else {
        return (0, 0, 0);
    };
    (level, major, n.parse().unwrap_or(0))
}
