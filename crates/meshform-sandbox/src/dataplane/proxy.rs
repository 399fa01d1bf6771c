//! A request through the client's sidecar, as Envoy's router handles it with the configuration
//! istiod pushed: a host chosen by the load balancer ([`balancer`](super::balancer)) among those
//! outlier detection has not ejected ([`outlier`](super::outlier)), one attempt
//! ([`DataPlane::attempt`]), its result counted for outlier detection, then a retry on another
//! host (`previous_hosts`) when the retry policy says so, after a jittered backoff (reference §3);
//! the route timeout over all of it. Each sidecar keeps its own state per upstream cluster
//! (`outbound|PORT||HOST`), and its counters, which `curl localhost:15000/stats` shows as Envoy's
//! admin endpoint does.

use std::collections::BTreeMap;
use std::sync::Mutex;
use std::time::Duration;

use meshform_core::sync::lock;

use super::balancer::{self, Balancer, Placement};
use super::http::{envoy_local_reply, HttpResponse};
use super::outlier::OutlierDetector;
use super::policy::ServicePolicy;
use super::route::{ConnectFailure, Endpoint};
use super::DataPlane;

/// Envoy's `host_selection_retry_max_attempts` under Istio's retry policies.
const HOST_SELECTION_RETRY_MAX_ATTEMPTS: usize = 5;
/// Envoy's base retry back-off interval; the maximum is ten times as long.
const BACKOFF_BASE: Duration = Duration::from_millis(25);

/// One sidecar's state for one upstream cluster.
#[derive(Debug, Default)]
struct Upstream {
    balancer: Balancer,
    outlier: Option<OutlierDetector>,
    stats: BTreeMap<&'static str, u64>,
}

impl Upstream {
    fn count(&mut self, stat: &'static str) {
        *self.stats.entry(stat).or_insert(0) += 1;
    }

    /// Follows the pushed policy and hosts; runs the outlier sweeps due.
    fn sync(&mut self, policy: &ServicePolicy, hosts: &[String], now: Duration) {
        match (&policy.outlier, &self.outlier) {
            (None, _) => self.outlier = None,
            (Some(c), Some(d)) if d.config() == c => {}
            // A changed policy is a new Envoy cluster: fresh outlier state.
            (Some(c), _) => self.outlier = Some(OutlierDetector::new(c.clone(), now)),
        }
        if let Some(d) = &mut self.outlier {
            d.set_hosts(hosts.iter().map(String::as_str));
            d.advance(now);
        }
    }

    /// A host for the next attempt; a retry re-picks (up to 5 times) a host already tried.
    fn pick(
        &mut self,
        levels: &[balancer::Level],
        hosts: &[String],
        tried: &[String],
        panic_threshold: u32,
    ) -> Option<usize> {
        let outlier = self.outlier.as_ref();
        let healthy = |i: usize| outlier.is_none_or(|d| !d.is_ejected(&hosts[i]));
        let mut choice = None;
        for _ in 0..=HOST_SELECTION_RETRY_MAX_ATTEMPTS {
            let c = self.balancer.pick(levels, &healthy, panic_threshold)?;
            choice = Some(c);
            if !tried.contains(&hosts[c]) {
                break;
            }
        }
        choice
    }
}

/// Every sidecar's upstream state, by client pod and upstream cluster.
#[derive(Debug, Default)]
pub struct Sidecars {
    upstreams: Mutex<BTreeMap<(String, String), Upstream>>,
    jitter: Mutex<u64>,
}

impl Sidecars {
    /// `GET /stats` of a sidecar's admin endpoint: `cluster.NAME.STAT: VALUE` lines of every
    /// upstream cluster it sent requests to, those containing `filter` if given.
    pub fn stats(&self, client: &str, filter: Option<&str>) -> String {
        let upstreams = lock(&self.upstreams);
        let mut lines = Vec::new();
        for ((c, cluster), u) in upstreams.iter() {
            if c != client {
                continue;
            }
            let mut stats: BTreeMap<String, u64> =
                u.stats.iter().map(|(k, v)| ((*k).to_owned(), *v)).collect();
            if let Some(d) = &u.outlier {
                let s = &d.stats;
                for (k, v) in [
                    ("ejections_active", d.ejections_active() as u64),
                    ("ejections_enforced_total", s.ejections_enforced_total),
                    ("ejections_enforced_consecutive_5xx", s.ejections_enforced_consecutive_5xx),
                    (
                        "ejections_enforced_consecutive_gateway_failure",
                        s.ejections_enforced_consecutive_gateway_failure,
                    ),
                    ("ejections_detected_consecutive_5xx", s.ejections_detected_consecutive_5xx),
                    (
                        "ejections_detected_consecutive_gateway_failure",
                        s.ejections_detected_consecutive_gateway_failure,
                    ),
                    ("ejections_overflow", s.ejections_overflow),
                ] {
                    stats.insert(format!("outlier_detection.{k}"), v);
                }
            }
            for (k, v) in stats {
                lines.push(format!("cluster.{cluster}.{k}: {v}"));
            }
        }
        lines.retain(|l| filter.is_none_or(|f| l.contains(f)));
        let mut out = lines.join("\n");
        out.push('\n');
        out
    }

    /// Envoy's fully jittered exponential back-off before retry `n` (1 for the first).
    fn backoff(&self, n: u32) -> Duration {
        let ceiling = BACKOFF_BASE.saturating_mul(1 << n.saturating_sub(1).min(8));
        let ceiling = ceiling.min(BACKOFF_BASE * 10);
        let mut x = lock(&self.jitter);
        // xorshift64: deterministic from the start of the sandbox, never zero.
        *x = if *x == 0 { 0x9e37_79b9_7f4a_7c15 } else { *x };
        *x ^= *x << 13;
        *x ^= *x >> 7;
        *x ^= *x << 17;
        let ms = ceiling.as_millis().max(1) as u64;
        Duration::from_millis(*x % ms)
    }
}

/// One request from a sidecar to a service.
pub(super) struct Call<'a> {
    /// The client pod (`cluster-id/namespace/name`): whose sidecar state applies.
    pub client: String,
    pub client_placement: Placement,
    /// `outbound|PORT||HOST`.
    pub cluster_name: String,
    pub endpoints: Vec<Endpoint>,
    pub policy: ServicePolicy,
    /// What one attempt needs ([`DataPlane::attempt`]).
    pub attempt: super::AttemptContext<'a>,
}

/// What one attempt came to.
enum Outcome {
    Response(HttpResponse),
    ConnectFailed(ConnectFailure),
    PerTryTimeout,
}

impl DataPlane {
    /// The request through the client's sidecar: Envoy's router with the pushed policy.
    pub(super) async fn through_sidecar(&self, call: &Call<'_>) -> HttpResponse {
        let run = self.attempts(call);
        let Some(limit) = call.policy.timeout else { return run.await };
        match tokio::time::timeout(limit, run).await {
            Ok(r) => r,
            Err(_) => {
                self.count(call, "upstream_rq_timeout");
                envoy_local_reply(504, "upstream request timeout")
            }
        }
    }

    fn count(&self, call: &Call<'_>, stat: &'static str) {
        let mut upstreams = lock(&self.sidecars.upstreams);
        let key = (call.client.clone(), call.cluster_name.clone());
        upstreams.entry(key).or_default().count(stat);
    }

    async fn attempts(&self, call: &Call<'_>) -> HttpResponse {
        let hosts: Vec<String> = call.endpoints.iter().map(Endpoint::host_key).collect();
        let placements: Vec<Placement> =
            call.endpoints.iter().map(|e| e.placement.clone()).collect();
        let policy = &call.policy;
        let levels = balancer::levels(
            &call.client_placement,
            &placements,
            &policy.locality,
            policy.outlier.is_some(),
        );
        // Istio writes minHealthPercent as the panic threshold with outlier detection; Envoy's
        // 50% stays otherwise.
        let panic = policy.outlier.as_ref().map_or(50, |o| o.min_health_percent);
        let key = (call.client.clone(), call.cluster_name.clone());
        let retries = &policy.retries;
        let mut tried: Vec<String> = Vec::new();
        let mut n: u32 = 0;
        loop {
            n += 1;
            let chosen = {
                let mut upstreams = lock(&self.sidecars.upstreams);
                let u = upstreams.entry(key.clone()).or_default();
                u.sync(policy, &hosts, self.clock.now());
                let chosen = u.pick(&levels, &hosts, &tried, panic);
                if chosen.is_none() {
                    u.count("upstream_cx_none_healthy");
                }
                chosen
            };
            let Some(i) = chosen else {
                return envoy_local_reply(503, "no healthy upstream");
            };
            let ep = &call.endpoints[i];
            tried.push(hosts[i].clone());
            let outcome = match retries.per_try_timeout {
                None => self
                    .attempt(&call.attempt, ep, n)
                    .await
                    .map_or_else(Outcome::ConnectFailed, Outcome::Response),
                Some(t) => {
                    match tokio::time::timeout(t, self.attempt(&call.attempt, ep, n)).await {
                        Ok(r) => r.map_or_else(Outcome::ConnectFailed, Outcome::Response),
                        Err(_) => Outcome::PerTryTimeout,
                    }
                }
            };
            let (status, retriable) = match &outcome {
                Outcome::Response(r) => (r.status, retries.retry_on.on_status(r.status)),
                Outcome::ConnectFailed(_) => (503, retries.retry_on.on_connect_failure()),
                Outcome::PerTryTimeout => (504, retries.retry_on.on_per_try_timeout()),
            };
            let retry = retriable && n <= retries.retries;
            {
                let mut upstreams = lock(&self.sidecars.upstreams);
                let u = upstreams.entry(key.clone()).or_default();
                u.count("upstream_rq_total");
                u.count(match status {
                    200..=299 => "upstream_rq_2xx",
                    300..=399 => "upstream_rq_3xx",
                    400..=499 => "upstream_rq_4xx",
                    _ => "upstream_rq_5xx",
                });
                match outcome {
                    Outcome::ConnectFailed(_) => u.count("upstream_cx_connect_fail"),
                    Outcome::PerTryTimeout => u.count("upstream_rq_per_try_timeout"),
                    Outcome::Response(_) => {}
                }
                if let Some(d) = &mut u.outlier {
                    d.record(&hosts[i], status, self.clock.now());
                }
                if retry {
                    u.count("upstream_rq_retry");
                } else if retriable && n > 1 {
                    u.count("upstream_rq_retry_limit_exceeded");
                } else if n > 1 {
                    u.count("upstream_rq_retry_success");
                }
            }
            if retry {
                tokio::time::sleep(self.sidecars.backoff(n)).await;
                continue;
            }
            return match outcome {
                Outcome::Response(r) => r,
                Outcome::ConnectFailed(f) => {
                    let body = if n > 1 { f.body_after_retries() } else { f.body() };
                    envoy_local_reply(ConnectFailure::STATUS, body)
                }
                Outcome::PerTryTimeout => envoy_local_reply(504, "upstream request timeout"),
            };
        }
    }
}
