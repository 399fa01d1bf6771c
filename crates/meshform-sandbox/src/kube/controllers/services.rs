//! The cloud controller's part for Services: a `LoadBalancer` Service gets an ingress IP, as an
//! Alibaba Cloud SLB would give it (from the TEST-NET-3 range, stable per service).

use serde_json::{json, Value};
use sha2::{Digest, Sha256};

use super::{all, opts};
use crate::kube::cluster::Cluster;
use crate::kube::meta;

/// The emulated load balancer address of a service, in 203.0.113.0/24.
pub fn ingress_ip(cluster: &str, ns: &str, name: &str) -> String {
    let h = Sha256::digest(format!("{cluster}/{ns}/{name}").as_bytes());
    format!("203.0.113.{}", 1 + h[0] % 254)
}

pub fn reconcile(cluster: &Cluster) {
    let (Some(rt), services) = all(cluster, "", "Service") else { return };
    for svc in
        services.iter().filter(|s| s["spec"]["type"] == "LoadBalancer" && !meta::is_deleting(s))
    {
        let has_ingress =
            svc["status"]["loadBalancer"]["ingress"].as_array().is_some_and(|i| !i.is_empty());
        if has_ingress {
            continue;
        }
        let (ns, name) = (meta::namespace(svc), meta::name(svc));
        let ip = svc["spec"]["loadBalancerIP"]
            .as_str()
            .map(String::from)
            .unwrap_or_else(|| ingress_ip(&cluster.name, ns, name));
        let mut obj: Value = svc.clone();
        obj["status"] = json!({"loadBalancer": {"ingress": [{"ip": ip, "ipMode": "VIP"}]}});
        let _ = cluster.replace(&rt, ns, name, obj, opts("cloud-controller-manager", "status"));
    }
}
