//! `VirtualService` `http[].retries` and `http[].timeout` (reference §3–4), on httpbin in
//! cluster-2 (one endpoint): which responses are retried, how often, and Envoy's
//! `upstream request timeout`.

use super::support::Drill;

const ROUTES: &str = r#"
apiVersion: networking.istio.io/v1
kind: VirtualService
metadata:
  name: httpbin
  namespace: default
spec:
  hosts: [httpbin]
  http:
  - match: [{uri: {prefix: /status}}]
    retries: {attempts: 3, retryOn: 5xx}
    route: [{destination: {host: httpbin}}]
  - match: [{uri: {prefix: /delay/2}}]
    timeout: 300ms
    route: [{destination: {host: httpbin}}]
  - match: [{uri: {prefix: /delay/1}}]
    retries: {attempts: 2, perTryTimeout: 100ms, retryOn: gateway-error}
    route: [{destination: {host: httpbin}}]
"#;

/// `curl -s -w ' %{http_code}' URL` from cluster-2's sleep: the body and the status.
async fn get(drill: &Drill, url: &str) -> (String, String) {
    let out = drill.curl(&["-s", "-w", " %{http_code}", url]).await;
    assert_eq!(out.code, 0, "{out:?}");
    let (body, code) = out.stdout.rsplit_once(' ').expect("a status code");
    (body.to_owned(), code.to_owned())
}

#[tokio::test]
async fn virtual_service_retries_and_timeouts_apply_per_route() {
    let drill = Drill::start().await;
    // Istio's default policy retries no status code: a 503 from the application is final.
    assert_eq!(get(&drill, "httpbin:8000/status/503").await.1, "503");
    assert_eq!(drill.stat("httpbin", "upstream_rq_retry").await, 0);
    // The default has no timeout either: a slow answer arrives.
    assert_eq!(get(&drill, "httpbin:8000/delay/1").await.1, "200");

    drill.apply_to_mesh(ROUTES);
    // retryOn 5xx, 3 attempts: four requests reach httpbin, its own 503 comes back.
    assert_eq!(get(&drill, "httpbin:8000/status/503").await, (String::new(), "503".to_owned()));
    assert_eq!(drill.stat("httpbin", "upstream_rq_retry").await, 3);
    assert_eq!(drill.stat("httpbin", "upstream_rq_retry_limit_exceeded").await, 1);
    assert_eq!(get(&drill, "httpbin:8000/status/200").await.1, "200");
    assert_eq!(drill.stat("httpbin", "upstream_rq_retry").await, 3, "a success is not retried");

    // The route timeout covers the whole request: Envoy answers 504.
    let timed_out = ("upstream request timeout".to_owned(), "504".to_owned());
    assert_eq!(get(&drill, "httpbin:8000/delay/2").await, timed_out);
    assert_eq!(drill.stat("httpbin", "upstream_rq_timeout").await, 1);
    // A per-try timeout is retried under gateway-error; the last one is the answer.
    assert_eq!(get(&drill, "httpbin:8000/delay/1").await, timed_out);
    assert_eq!(drill.stat("httpbin", "upstream_rq_per_try_timeout").await, 3);
    assert_eq!(drill.stat("httpbin", "upstream_rq_retry").await, 5);
}
