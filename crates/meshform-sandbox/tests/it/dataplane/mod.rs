//! The whole sandbox with the runbook's workloads: one mesh managing both clusters over two
//! networks with cross-cluster gateways, `helloworld` v1 in cluster-1, v2, `sleep` and `httpbin`
//! in cluster-2. `outage`: cluster and region outages as the data plane, the API servers and the
//! admin endpoint show them, and bad requests; `curl`: the sample curl's flags; `failover` and
//! `routes`: what Istio's policies do to requests (retries, outlier detection, locality,
//! VirtualService retries and timeouts); `proxies`: the sidecars' versions across a mesh upgrade
//! (and the failing upgrade injected over the admin endpoint).

mod curl;
mod failover;
mod outage;
mod proxies;
mod routes;
mod support;
