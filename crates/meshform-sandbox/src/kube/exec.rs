//! `pods/exec` over websockets (`v5.channel.k8s.io`, `v4.channel.k8s.io`): the handshake, then one
//! binary frame per chunk with the stream number in byte 0 — an empty stdout frame first, all
//! output, then the status on channel 3 — answering pings until the command ends.

use std::sync::Arc;
use std::time::Duration;

use futures::{SinkExt, StreamExt};
use hyper::body::Incoming;
use hyper::header::{
    HeaderValue, CONNECTION, SEC_WEBSOCKET_ACCEPT, SEC_WEBSOCKET_KEY, SEC_WEBSOCKET_PROTOCOL,
    UPGRADE,
};
use hyper::{Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use serde_json::{json, Value};
use tokio_tungstenite::tungstenite::handshake::derive_accept_key;
use tokio_tungstenite::tungstenite::protocol::frame::coding::CloseCode;
use tokio_tungstenite::tungstenite::protocol::{CloseFrame, Role};
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::WebSocketStream;

use super::cluster::Cluster;
use super::commands::{ExecOutput, ExecRequest};
use super::http::{self, Body, Query};
use super::status::ApiError;
use super::subresources::pick_container;

/// The subprotocols served, in preference order when the client does not say.
const PROTOCOLS: &[&str] = &["v5.channel.k8s.io", "v4.channel.k8s.io"];

/// Largest frame payload sent.
const CHUNK: usize = 32 * 1024;

/// Serve an exec request: validate it, then upgrade to a websocket session.
pub async fn handle(
    cluster: Arc<Cluster>,
    req: Request<Incoming>,
    ns: String,
    pod: String,
    q: Query,
) -> Response<Body> {
    match prepare(&cluster, &req, &ns, &pod, &q) {
        Ok(session) => upgrade(cluster, req, session),
        Err(e) => http::error(&e),
    }
}

struct Session {
    request: ExecRequest,
    protocol: &'static str,
    accept: String,
    stdout: bool,
    stderr: bool,
    tty: bool,
}

fn prepare(
    cluster: &Cluster,
    req: &Request<Incoming>,
    ns: &str,
    pod_name: &str,
    q: &Query,
) -> Result<Session, ApiError> {
    let rt = cluster.type_of("", "Pod")?;
    let pod = cluster.get_object(&rt, ns, pod_name)?;
    let command = q.all("command");
    if command.is_empty() {
        return Err(ApiError::bad_request("you must specify at least 1 command"));
    }
    let container = pick_container(&pod, q.get("container"))?;
    if pod["status"]["phase"] != "Running" {
        return Err(ApiError::bad_request(format!(
            "unable to upgrade connection: container not found (\"{container}\")"
        )));
    }
    let headers = req.headers();
    let upgrade = headers.get(UPGRADE).and_then(|v| v.to_str().ok()).unwrap_or("");
    if !upgrade.eq_ignore_ascii_case("websocket") {
        return Err(ApiError::bad_request(if upgrade.is_empty() {
            "Upgrade request required".to_string()
        } else {
            format!(
                "the emulated API server serves exec over websockets ({}) only, not {upgrade}",
                PROTOCOLS.join(", ")
            )
        }));
    }
    let key = headers
        .get(SEC_WEBSOCKET_KEY)
        .ok_or_else(|| ApiError::bad_request("missing Sec-WebSocket-Key"))?;
    let offered: Vec<String> = headers
        .get_all(SEC_WEBSOCKET_PROTOCOL)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(',').map(|s| s.trim().to_string()))
        .collect();
    let protocol = offered
        .iter()
        .find_map(|o| PROTOCOLS.iter().find(|p| *p == o).copied())
        .ok_or_else(|| {
            ApiError::bad_request(format!(
                "no supported websocket subprotocol offered ({offered:?}); supported: {}",
                PROTOCOLS.join(", ")
            ))
        })?;
    Ok(Session {
        request: ExecRequest { pod, container, command },
        protocol,
        accept: derive_accept_key(key.as_bytes()),
        stdout: q.get("stdout").is_none_or(|v| v == "true" || v == "1"),
        stderr: q.get("stderr").is_none_or(|v| v == "true" || v == "1"),
        tty: q.flag("tty"),
    })
}

fn upgrade(cluster: Arc<Cluster>, req: Request<Incoming>, s: Session) -> Response<Body> {
    let mut resp = Response::new(http::full(""));
    *resp.status_mut() = StatusCode::SWITCHING_PROTOCOLS;
    let h = resp.headers_mut();
    h.insert(UPGRADE, HeaderValue::from_static("websocket"));
    h.insert(CONNECTION, HeaderValue::from_static("Upgrade"));
    h.insert(SEC_WEBSOCKET_PROTOCOL, HeaderValue::from_static(s.protocol));
    match HeaderValue::from_str(&s.accept) {
        Ok(v) => h.insert(SEC_WEBSOCKET_ACCEPT, v),
        Err(_) => return http::error(&ApiError::bad_request("invalid Sec-WebSocket-Key")),
    };
    let mut stop = cluster.stop.subscribe();
    tokio::spawn(async move {
        let Ok(upgraded) = hyper::upgrade::on(req).await else { return };
        let ws = WebSocketStream::from_raw_socket(TokioIo::new(upgraded), Role::Server, None).await;
        tokio::select! {
            _ = run(cluster, ws, s) => {}
            _ = stop.wait_for(|stopped| *stopped) => {}
        }
    });
    resp
}

fn frame(channel: u8, data: &[u8]) -> Message {
    let mut v = Vec::with_capacity(data.len() + 1);
    v.push(channel);
    v.extend_from_slice(data);
    Message::binary(v)
}

/// The status message on channel 3.
pub fn status_json(exit_code: i32) -> Value {
    if exit_code == 0 {
        json!({"metadata": {}, "status": "Success"})
    } else {
        json!({
            "metadata": {},
            "status": "Failure",
            "message": format!("command terminated with non-zero exit code: error executing command [{exit_code}], exit code {exit_code}"),
            "reason": "NonZeroExitCode",
            "details": {"causes": [{"reason": "ExitCode", "message": exit_code.to_string()}]},
        })
    }
}

async fn run<S>(cluster: Arc<Cluster>, mut ws: WebSocketStream<S>, s: Session)
where
    S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
{
    if ws.send(frame(1, &[])).await.is_err() {
        return;
    }
    let handler = cluster.exec_handler();
    let command = handler.exec(&s.request);
    tokio::pin!(command);
    let out: ExecOutput = loop {
        tokio::select! {
            out = &mut command => break out,
            msg = ws.next() => match msg {
                // Stdin, resize and the v5 close signal are accepted and ignored; pings are
                // answered by the websocket layer while reading.
                Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                Some(Ok(_)) => continue,
            },
        }
    };
    let (out_ch, err_ch) = (1u8, if s.tty { 1u8 } else { 2u8 });
    let mut frames = Vec::new();
    if s.stdout {
        frames.extend(out.stdout.chunks(CHUNK).map(|c| frame(out_ch, c)));
    }
    if s.stderr || s.tty {
        frames.extend(out.stderr.chunks(CHUNK).map(|c| frame(err_ch, c)));
    }
    let status = serde_json::to_vec(&status_json(out.exit_code)).unwrap_or_default();
    frames.push(frame(3, &status));
    for f in frames {
        if ws.feed(f).await.is_err() {
            return;
        }
    }
    if ws.flush().await.is_err() {
        return;
    }
    let _ = ws.close(Some(CloseFrame { code: CloseCode::Normal, reason: "".into() })).await;
    // Let the client see the close and answer it.
    let _ = tokio::time::timeout(Duration::from_secs(2), async {
        while let Some(Ok(_)) = ws.next().await {}
    })
    .await;
}
