//! The traffic policy a client proxy applies to one service, read from the `DestinationRule`s and
//! `VirtualService`s its mesh's control plane pushed: outlier detection and locality load
//! balancing (`DestinationRule` `trafficPolicy`, reference §1–2), retries and the route timeout
//! (`VirtualService` `http[]`, or Istio's default retry policy, reference §3). Fields are read as
//! istiod translates them for Envoy; a malformed field falls back to its default, as a rule istiod
//! would have refused never reaches the proxies.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use serde_json::Value;

use crate::asm::TrafficConfig;

/// `trafficPolicy.outlierDetection` as Envoy's `outlier_detection` (reference §1).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct OutlierDetection {
    /// `consecutive5xxErrors` (default 5); 0 turns this check off.
    pub consecutive_5xx: u32,
    /// `consecutiveGatewayErrors`; 0 (the default) leaves the check unenforced.
    pub consecutive_gateway: u32,
    /// `interval` (default 10s): how often the ejection sweep runs.
    pub interval: Duration,
    /// `baseEjectionTime` (default 30s), multiplied by the host's consecutive ejections.
    pub base_ejection: Duration,
    /// `maxEjectionPercent` (default 10): the Envoy ≥ 1.28 cap on ejected hosts.
    pub max_ejection_percent: u32,
    /// `minHealthPercent` (default 0): the panic threshold.
    pub min_health_percent: u32,
}

impl OutlierDetection {
    fn from_json(v: &Value) -> OutlierDetection {
        let n = |k: &str| integer(&v[k]).map(|n| n.clamp(0, i64::from(u32::MAX)) as u32);
        let percent = |k: &str, default: u32| {
            integer(&v[k]).filter(|p| *p > 0).map_or(default, |p| p.min(100) as u32)
        };
        OutlierDetection {
            consecutive_5xx: n("consecutive5xxErrors").or(n("consecutiveErrors")).unwrap_or(5),
            consecutive_gateway: n("consecutiveGatewayErrors").unwrap_or(0),
            interval: duration(&v["interval"]).unwrap_or(Duration::from_secs(10)),
            base_ejection: duration(&v["baseEjectionTime"]).unwrap_or(Duration::from_secs(30)),
            max_ejection_percent: percent("maxEjectionPercent", 10),
            min_health_percent: integer(&v["minHealthPercent"])
                .map_or(0, |p| p.clamp(0, 100) as u32),
        }
    }

    /// Envoy's `max_ejection_time`: 300s or the base ejection time, whichever is larger.
    pub fn max_ejection(&self) -> Duration {
        self.base_ejection.max(Duration::from_secs(300))
    }
}

/// `loadBalancer.localityLbSetting` (reference §2); the mesh default is `{enabled: true}`.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct LocalityLbSetting {
    /// `enabled: false` turns locality load balancing off.
    pub disabled: bool,
    /// `distribute[]`: `from` locality pattern → weights by locality pattern.
    pub distribute: Vec<(String, BTreeMap<String, u32>)>,
    /// `failover[]`: `(from region, to region)`.
    pub failover: Vec<(String, String)>,
    /// `failoverPriority[]`: label keys, or `key=value`.
    pub failover_priority: Vec<String>,
}

impl LocalityLbSetting {
    fn from_json(v: &Value) -> LocalityLbSetting {
        let strings = |k: &str| -> Vec<&Value> {
            v[k].as_array().map(|a| a.iter().collect()).unwrap_or_default()
        };
        LocalityLbSetting {
            disabled: v["enabled"] == false,
            distribute: strings("distribute")
                .into_iter()
                .filter_map(|d| {
                    let to = d["to"].as_object()?;
                    let weights = to
                        .iter()
                        .map(|(k, w)| (k.clone(), integer(w).map_or(0, |w| w.clamp(0, 100) as u32)))
                        .collect();
                    Some((d["from"].as_str()?.to_owned(), weights))
                })
                .collect(),
            failover: strings("failover")
                .into_iter()
                .filter_map(|f| {
                    Some((f["from"].as_str()?.to_owned(), f["to"].as_str()?.to_owned()))
                })
                .collect(),
            failover_priority: strings("failoverPriority")
                .into_iter()
                .filter_map(|l| l.as_str().map(str::to_owned))
                .collect(),
        }
    }
}

/// The conditions of Envoy's `retry_on` (reference §3, the `retryOn` table).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct RetryOn {
    pub connect_failure: bool,
    pub reset: bool,
    pub five_xx: bool,
    pub gateway_error: bool,
    pub retriable_4xx: bool,
    /// `retriable_status_codes` (bare codes in `retryOn`).
    pub status_codes: BTreeSet<u16>,
}

impl RetryOn {
    /// `connect-failure,refused-stream,unavailable,cancelled,retriable-status-codes` with no codes.
    fn istio_default() -> RetryOn {
        RetryOn { connect_failure: true, ..RetryOn::default() }
    }

    fn parse(s: &str) -> RetryOn {
        let mut r = RetryOn::default();
        for token in s.split(',').map(str::trim) {
            match token {
                "connect-failure" => r.connect_failure = true,
                "reset" | "reset-before-request" => r.reset = true,
                "5xx" => r.five_xx = true,
                "gateway-error" => r.gateway_error = true,
                "retriable-4xx" => r.retriable_4xx = true,
                code => {
                    if let Ok(c) = code.parse::<u16>() {
                        r.status_codes.insert(c);
                    }
                }
            }
        }
        r
    }

    /// Whether a failed connection (or a reset before any response) is retried.
    pub fn on_connect_failure(&self) -> bool {
        self.connect_failure || self.reset || self.five_xx || self.gateway_error
    }

    /// Whether a per-try timeout is retried (Envoy: `5xx`, `gateway-error` or `reset`).
    pub fn on_per_try_timeout(&self) -> bool {
        self.reset || self.five_xx || self.gateway_error
    }

    /// Whether an upstream response with this status is retried.
    pub fn on_status(&self, status: u16) -> bool {
        (self.five_xx && status >= 500)
            || (self.gateway_error && matches!(status, 502..=504))
            || (self.retriable_4xx && status == 409)
            || self.status_codes.contains(&status)
    }
}

/// Retries of a route: Istio's default, or `http[].retries`.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct RetryPolicy {
    /// Retries after the first attempt (`attempts`); 0: none.
    pub retries: u32,
    pub per_try_timeout: Option<Duration>,
    pub retry_on: RetryOn,
}

impl Default for RetryPolicy {
    /// Istio's default outbound retry policy: 2 retries on connect failures (and refused streams,
    /// gRPC `unavailable`/`cancelled`), no retriable status codes, no per-try timeout.
    fn default() -> Self {
        RetryPolicy { retries: 2, per_try_timeout: None, retry_on: RetryOn::istio_default() }
    }
}

/// Everything a client proxy applies to requests to one service.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct ServicePolicy {
    /// The `DestinationRule` it came from (`namespace/name`), if any.
    pub destination_rule: Option<String>,
    pub outlier: Option<OutlierDetection>,
    pub locality: LocalityLbSetting,
    pub retries: RetryPolicy,
    /// `http[].timeout`: the whole request, retries included; `None`: no timeout.
    pub timeout: Option<Duration>,
}

/// The fully qualified name of a host written in a rule of namespace `ns`.
fn fqdn(host: &str, ns: &str) -> String {
    match host.split('.').count() {
        1 => format!("{host}.{ns}.svc.cluster.local"),
        2 => format!("{host}.svc.cluster.local"),
        3 if host.ends_with(".svc") => format!("{host}.cluster.local"),
        _ => host.to_owned(),
    }
}

/// How well a rule's host matches a service's FQDN: exact beats wildcard; `None` if it does not.
fn host_match(rule_host: &str, rule_ns: &str, service: &str) -> Option<u8> {
    if let Some(suffix) = rule_host.strip_prefix('*') {
        return service.ends_with(suffix).then_some(1);
    }
    (fqdn(rule_host, rule_ns) == service).then_some(2)
}

/// The policy for requests to Service `svc` of namespace `ns` with path `path`: the best-matching
/// `DestinationRule` (exact host before wildcard, then by namespace and name) and the first
/// `VirtualService` route for the host whose `match` accepts the path.
pub fn for_service(traffic: &TrafficConfig, ns: &str, svc: &str, path: &str) -> ServicePolicy {
    let service = format!("{svc}.{ns}.svc.cluster.local");
    let mut policy = ServicePolicy::default();
    let best = traffic
        .destination_rules
        .iter()
        .filter_map(|dr| {
            let rule_ns = dr["metadata"]["namespace"].as_str().unwrap_or("default");
            host_match(dr["spec"]["host"].as_str()?, rule_ns, &service).map(|m| (m, dr))
        })
        .max_by_key(|(m, _)| *m)
        .filter(|(m, _)| *m > 0);
    // `max_by_key` keeps the last of equals; the first in (namespace, name) order should win.
    let best = best.and_then(|(m, _)| {
        traffic.destination_rules.iter().find(|dr| {
            let rule_ns = dr["metadata"]["namespace"].as_str().unwrap_or("default");
            dr["spec"]["host"].as_str().and_then(|h| host_match(h, rule_ns, &service)) == Some(m)
        })
    });
    if let Some(dr) = best {
        let meta = &dr["metadata"];
        policy.destination_rule = Some(format!(
            "{}/{}",
            meta["namespace"].as_str().unwrap_or(""),
            meta["name"].as_str().unwrap_or("")
        ));
        let tp = &dr["spec"]["trafficPolicy"];
        if tp["outlierDetection"].is_object() {
            policy.outlier = Some(OutlierDetection::from_json(&tp["outlierDetection"]));
        }
        policy.locality = LocalityLbSetting::from_json(&tp["loadBalancer"]["localityLbSetting"]);
    }
    let route = traffic.virtual_services.iter().find_map(|vs| {
        let rule_ns = vs["metadata"]["namespace"].as_str().unwrap_or("default");
        let hosts = vs["spec"]["hosts"].as_array()?;
        hosts
            .iter()
            .filter_map(Value::as_str)
            .find(|h| host_match(h, rule_ns, &service).is_some())?;
        vs["spec"]["http"].as_array()?.iter().find(|r| route_matches(r, path)).cloned()
    });
    if let Some(route) = route {
        policy.timeout = duration(&route["timeout"]).filter(|d| !d.is_zero());
        let r = &route["retries"];
        if r.is_object() {
            let attempts =
                integer(&r["attempts"]).map_or(2, |a| a.clamp(0, i64::from(u32::MAX)) as u32);
            let retry_on = r["retryOn"].as_str().filter(|s| !s.trim().is_empty());
            policy.retries = RetryPolicy {
                retries: attempts,
                per_try_timeout: duration(&r["perTryTimeout"]).filter(|d| !d.is_zero()),
                retry_on: retry_on.map_or_else(RetryOn::istio_default, RetryOn::parse),
            };
        }
        // A per-try timeout as long as the route timeout or longer is ignored.
        if let (Some(t), Some(p)) = (policy.timeout, policy.retries.per_try_timeout) {
            if p >= t {
                policy.retries.per_try_timeout = None;
            }
        }
    }
    policy
}

/// Whether an `http[]` route applies to `path`: no `match`, or one of its `uri` conditions holds
/// (`exact`, `prefix`; a condition on anything else is taken as holding).
fn route_matches(route: &Value, path: &str) -> bool {
    let Some(matches) = route["match"].as_array().filter(|m| !m.is_empty()) else { return true };
    let path = path.split('?').next().unwrap_or(path);
    matches.iter().any(|m| {
        let uri = &m["uri"];
        if let Some(e) = uri["exact"].as_str() {
            path == e
        } else if let Some(p) = uri["prefix"].as_str() {
            path.starts_with(p)
        } else {
            true
        }
    })
}

/// An integer field; an integral float (`3.0`, as some clients write numbers) counts too.
fn integer(v: &Value) -> Option<i64> {
    v.as_i64()
        .or_else(|| v.as_f64().filter(|f| f.fract() == 0.0 && f.abs() < 1e15).map(|f| f as i64))
}

/// A protobuf duration as Istio's YAML writes it: `30s`, `1.5s`, `100ms`, `1m`, `1h`.
pub fn duration(v: &Value) -> Option<Duration> {
    let s = v.as_str()?.trim();
    let (number, unit) = s.split_at(s.find(|c: char| c.is_ascii_alphabetic())?);
    let n: f64 = number.parse().ok().filter(|n: &f64| n.is_finite() && *n >= 0.0)?;
    let secs = match unit {
        "h" => n * 3600.0,
        "m" => n * 60.0,
        "s" => n,
        "ms" => n / 1e3,
        "us" | "µs" => n / 1e6,
        "ns" => n / 1e9,
        _ => return None,
    };
    // The longest a protobuf Duration holds (istiod refuses longer ones): also keeps the sums the
    // outlier detector makes from these values finite.
    const PROTOBUF_MAX_SECS: f64 = 315_576_000_000.0;
    Duration::try_from_secs_f64(secs).ok().filter(|_| secs <= PROTOBUF_MAX_SECS)
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn dr(ns: &str, host: &str, tp: Value) -> Value {
        json!({"metadata": {"namespace": ns, "name": "dr"}, "spec": {"host": host, "trafficPolicy": tp}})
    }

    #[test]
    fn integral_floats_are_integers() {
        let o = OutlierDetection::from_json(
            &json!({"consecutive5xxErrors": 3.0, "maxEjectionPercent": 100.0}),
        );
        assert_eq!((o.consecutive_5xx, o.max_ejection_percent), (3, 100));
        assert_eq!(
            OutlierDetection::from_json(&json!({"consecutive5xxErrors": 2.5})).consecutive_5xx,
            5
        );
    }

    #[test]
    fn durations_in_istio_notation() {
        assert_eq!(duration(&json!("30s")), Some(Duration::from_secs(30)));
        assert_eq!(duration(&json!("1.5s")), Some(Duration::from_millis(1500)));
        assert_eq!(duration(&json!("10000000000000000000s")), None, "beyond a protobuf Duration");
        assert_eq!(duration(&json!("100ms")), Some(Duration::from_millis(100)));
        assert_eq!(duration(&json!("2m")), Some(Duration::from_secs(120)));
        assert_eq!(duration(&json!("soon")), None);
        assert_eq!(duration(&json!("-1s")), None);
        assert_eq!(duration(&json!(5)), None);
    }

    #[test]
    fn outlier_defaults_are_envoys() {
        let traffic = TrafficConfig {
            destination_rules: vec![dr("default", "helloworld", json!({"outlierDetection": {}}))],
            virtual_services: vec![],
        };
        let p = for_service(&traffic, "default", "helloworld", "/hello");
        let o = p.outlier.expect("outlier detection");
        assert_eq!((o.consecutive_5xx, o.consecutive_gateway), (5, 0));
        assert_eq!(
            (o.interval, o.base_ejection),
            (Duration::from_secs(10), Duration::from_secs(30))
        );
        assert_eq!((o.max_ejection_percent, o.min_health_percent), (10, 0));
        assert_eq!(p.retries, RetryPolicy::default());
        assert_eq!(p.timeout, None);
    }

    #[test]
    fn hosts_resolve_relative_to_the_rules_namespace() {
        let other = dr("other", "helloworld", json!({"outlierDetection": {}}));
        let fq = dr("other", "helloworld.default.svc.cluster.local", json!({}));
        let traffic = TrafficConfig { destination_rules: vec![other], virtual_services: vec![] };
        assert_eq!(for_service(&traffic, "default", "helloworld", "/").destination_rule, None);
        let traffic = TrafficConfig { destination_rules: vec![fq], virtual_services: vec![] };
        assert_eq!(
            for_service(&traffic, "default", "helloworld", "/").destination_rule.as_deref(),
            Some("other/dr")
        );
    }

    #[test]
    fn virtual_service_retries_and_timeout() {
        let vs = json!({"metadata": {"namespace": "default", "name": "vs"}, "spec": {
        "hosts": ["httpbin"],
        "http": [
            {"match": [{"uri": {"prefix": "/delay"}}], "timeout": "0.5s"},
            {"retries": {"attempts": 3, "perTryTimeout": "1s", "retryOn": "5xx,409"}, "timeout": "1s"}
        ]}});
        let traffic = TrafficConfig { destination_rules: vec![], virtual_services: vec![vs] };
        let delay = for_service(&traffic, "default", "httpbin", "/delay/2");
        assert_eq!((delay.timeout, delay.retries.retries), (Some(Duration::from_millis(500)), 2));
        let status = for_service(&traffic, "default", "httpbin", "/status/503");
        assert_eq!(status.retries.retries, 3);
        assert_eq!(status.retries.per_try_timeout, None, "not shorter than the route timeout");
        assert!(status.retries.retry_on.on_status(503) && status.retries.retry_on.on_status(409));
        assert!(!RetryOn::istio_default().on_status(503), "no retriable status codes by default");
    }
}
