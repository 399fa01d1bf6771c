//! `pods/exec` over websockets (v5 and v4 channel protocols) and `pods/log`, with the default
//! command set and with an exec handler plugged in through the hook.

use std::sync::Arc;

use async_trait::async_trait;
use futures::{SinkExt, StreamExt};
use meshform_sandbox::kube::{run_builtin, run_sh, ExecHandler, ExecOutput, ExecRequest};
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::client::IntoClientRequest;
use tokio_tungstenite::tungstenite::Message;

use crate::support::{Client, TestCluster};

/// What one exec session returned, per channel.
#[derive(Debug, Default)]
struct Session {
    protocol: String,
    first: Vec<u8>,
    stdout: String,
    stderr: String,
    status: Value,
    /// Channels in arrival order (a channel repeated once per frame).
    order: Vec<u8>,
    pongs: usize,
}

async fn exec(
    client: &Client,
    pod: &str,
    command: &[&str],
    protocols: &str,
    ping: bool,
) -> Session {
    let mut q: Vec<String> = command.iter().map(|c| format!("command={}", urlencode(c))).collect();
    q.push("stdout=true".into());
    q.push("stderr=true".into());
    let path = format!("/api/v1/namespaces/default/pods/{pod}/exec?{}", q.join("&"));
    let mut req = format!("wss://{}{}", client.addr, path).into_client_request().unwrap();
    req.headers_mut().insert("sec-websocket-protocol", protocols.parse().unwrap());
    req.headers_mut().insert("authorization", format!("Bearer {}", client.token).parse().unwrap());
    let tls = client.connect().await;
    let (mut ws, resp) =
        tokio_tungstenite::client_async(req, tls).await.expect("websocket handshake");
    assert_eq!(resp.headers()["connection"], "Upgrade");
    let mut s = Session {
        protocol: resp.headers()["sec-websocket-protocol"].to_str().unwrap().to_string(),
        ..Default::default()
    };
    if ping {
        ws.send(Message::Ping(b"are you there".to_vec().into())).await.unwrap();
    }
    while let Some(msg) =
        tokio::time::timeout(std::time::Duration::from_secs(10), ws.next()).await.expect("no stall")
    {
        match msg.expect("frame") {
            Message::Binary(b) => {
                if s.order.is_empty() {
                    s.first = b.to_vec();
                }
                s.order.push(b[0]);
                let data = String::from_utf8_lossy(&b[1..]).to_string();
                match b[0] {
                    1 => s.stdout.push_str(&data),
                    2 => s.stderr.push_str(&data),
                    3 => s.status = serde_json::from_str(&data).unwrap(),
                    other => panic!("unexpected channel {other}"),
                }
            }
            Message::Pong(p) => {
                assert_eq!(&p[..], b"are you there");
                s.pongs += 1;
            }
            Message::Close(_) => break,
            other => panic!("unexpected message {other:?}"),
        }
    }
    s
}

fn urlencode(s: &str) -> String {
    s.bytes()
        .map(|b| {
            if b.is_ascii_alphanumeric() || b"-_.~".contains(&b) {
                (b as char).to_string()
            } else {
                format!("%{b:02X}")
            }
        })
        .collect()
}

async fn running_pod(c: &TestCluster) -> String {
    let pod = json!({"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "box"},
        "spec": {"containers": [{"name": "main", "image": "busybox:1", "env": [{"name": "GREETING", "value": "hi"}]}]}});
    assert_eq!(c.client.post("/api/v1/namespaces/default/pods", &pod).await.status, 201);
    c.client
        .wait_for("/api/v1/namespaces/default/pods/box", 10, |p| p["status"]["phase"] == "Running")
        .await;
    "box".into()
}

#[tokio::test]
async fn exec_v5_sends_output_then_the_exit_status() {
    let c = TestCluster::start().await;
    let pod = running_pod(&c).await;
    let s = exec(&c.client, &pod, &["hostname"], "v5.channel.k8s.io", false).await;
    assert_eq!(s.protocol, "v5.channel.k8s.io");
    assert_eq!(s.first, vec![1], "an empty stdout frame comes first");
    assert_eq!(s.stdout, "box\n");
    assert_eq!(s.status, json!({"metadata": {}, "status": "Success"}));
    assert_eq!(s.order.last(), Some(&3), "the status comes after all output");

    let s = exec(
        &c.client,
        &pod,
        &["sh", "-c", "echo out; cat /nope; exit 7"],
        "v5.channel.k8s.io",
        false,
    )
    .await;
    assert_eq!(s.stdout, "out\n");
    assert_eq!(s.stderr, "cat: /nope: No such file or directory\n");
    assert_eq!(s.status["status"], "Failure");
    assert_eq!(s.status["reason"], "NonZeroExitCode");
    assert_eq!(s.status["details"]["causes"][0], json!({"reason": "ExitCode", "message": "7"}));

    let s = exec(&c.client, &pod, &["curl", "-s", "x"], "v5.channel.k8s.io", false).await;
    assert!(s.stderr.contains("executable file not found"), "{}", s.stderr);
    assert_eq!(s.status["details"]["causes"][0]["message"], "127");

    let s = exec(&c.client, &pod, &["env"], "v5.channel.k8s.io", false).await;
    assert!(
        s.stdout.contains("GREETING=hi\n") && s.stdout.contains("HOSTNAME=box\n"),
        "{}",
        s.stdout
    );
    let s = exec(&c.client, &pod, &["cat", "/etc/hostname"], "v5.channel.k8s.io", false).await;
    assert_eq!(s.stdout, "box\n");
    let s = exec(
        &c.client,
        &pod,
        &["sh", "-c", "for i in $(seq 1 3); do echo \"n=$i\"; done; false || echo recovered"],
        "v5.channel.k8s.io",
        false,
    )
    .await;
    assert_eq!(s.stdout, "n=1\nn=2\nn=3\nrecovered\n");
    assert_eq!(s.status["status"], "Success");
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn exec_v4_as_kube_rs_offers_it_and_pings_are_answered() {
    let c = TestCluster::start().await;
    let pod = running_pod(&c).await;
    // kube-rs offers both in one header; the server takes the client's first.
    let s =
        exec(&c.client, &pod, &["echo", "hello"], "v5.channel.k8s.io, v4.channel.k8s.io", false)
            .await;
    assert_eq!(s.protocol, "v5.channel.k8s.io");
    let s = exec(
        &c.client,
        &pod,
        &["sh", "-c", "sleep 0.3; echo late; exit 2"],
        "v4.channel.k8s.io",
        true,
    )
    .await;
    assert_eq!(s.protocol, "v4.channel.k8s.io");
    assert_eq!(s.stdout, "late\n");
    assert_eq!(s.status["details"]["causes"][0]["message"], "2");
    assert_eq!(s.pongs, 1, "the ping during the command was answered");
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn exec_refusals_are_status_errors() {
    let c = TestCluster::start().await;
    let pod = running_pod(&c).await;
    let base = format!("/api/v1/namespaces/default/pods/{pod}/exec");
    let r = c.client.get(&format!("{base}?command=ls&container=nope")).await;
    assert_eq!(r.status, 400);
    assert!(r.json()["message"].as_str().unwrap().contains("not valid for pod"));
    let r = c
        .client
        .call(
            hyper::Method::POST,
            &format!("{base}?command=ls"),
            &[("upgrade", "SPDY/3.1"), ("connection", "Upgrade")],
            None,
        )
        .await;
    assert_eq!(r.status, 400);
    assert_eq!(r.json()["kind"], "Status");
    let r = c.client.get("/api/v1/namespaces/default/pods/ghost/exec?command=ls").await;
    assert_eq!(r.status, 404);
    c.server.shutdown().await.unwrap();
}

#[tokio::test]
async fn logs_are_text() {
    let c = TestCluster::start().await;
    let pod = running_pod(&c).await;
    let r =
        c.client.get(&format!("/api/v1/namespaces/default/pods/{pod}/log?container=main")).await;
    assert_eq!(r.status, 200);
    assert!(r.headers["content-type"].to_str().unwrap().starts_with("text/plain"));
    assert!(
        r.text().contains("container main of pod box started (image busybox:1)"),
        "{}",
        r.text()
    );
    c.server.shutdown().await.unwrap();
}

/// A data-plane-like handler: knows `curl`, delegates the rest (and `sh -c`) to the defaults.
struct Curl;

#[async_trait]
impl ExecHandler for Curl {
    async fn exec(&self, request: &ExecRequest) -> ExecOutput {
        match request.command.first().map(String::as_str) {
            Some("curl") => {
                ExecOutput::ok(format!("Hello version: v1, instance: {}\n", request.pod_name()))
            }
            Some("sh") if request.command.get(1).map(String::as_str) == Some("-c") => {
                run_sh(&request.command[2], request, self).await
            }
            _ => run_builtin(self, request).await,
        }
    }
}

#[tokio::test]
async fn an_exec_handler_hook_serves_the_runbook_loop() {
    let c = TestCluster::start().await;
    c.server.handle().set_exec_handler(Arc::new(Curl));
    let pod = running_pod(&c).await;
    let s = exec(
        &c.client,
        &pod,
        &["sh", "-c", "for i in $(seq 1 10); do curl helloworld:5000/hello; done;"],
        "v5.channel.k8s.io",
        false,
    )
    .await;
    assert_eq!(s.stdout.lines().count(), 10);
    assert!(s.stdout.lines().all(|l| l == "Hello version: v1, instance: box"));
    let out = c.server.handle().exec("default", "box", None, &["hostname"]).await.unwrap();
    assert_eq!(out.stdout, b"box\n");
    c.server.shutdown().await.unwrap();
}
