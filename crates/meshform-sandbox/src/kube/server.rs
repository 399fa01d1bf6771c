//! Serving connections: TLS (or plain HTTP), HTTP/1.1 with upgrades, bearer-token
//! authentication, routing to discovery, OpenAPI and the object handlers; a panic in a handler
//! becomes a 500 `Status` instead of a dropped connection.

use std::convert::Infallible;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::Arc;

use futures::FutureExt;
use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::task::JoinSet;
use tokio_rustls::TlsAcceptor;

use super::cluster::Cluster;
use super::discovery;
use super::handlers;
use super::http::{self, Body};
use super::openapi;
use super::router::{route, Route};
use super::status::ApiError;

/// What every connection needs.
#[derive(Clone)]
pub struct Shared {
    pub cluster: Arc<Cluster>,
    pub token: String,
    pub address: SocketAddr,
}

/// Accept connections until the cluster stops; then drop every open connection.
pub async fn accept_loop(listener: TcpListener, tls: Option<TlsAcceptor>, shared: Shared) {
    let mut stop = shared.cluster.stop.subscribe();
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|stopped| *stopped) => break,
            Some(_) = conns.join_next(), if !conns.is_empty() => continue,
        };
        let Ok((tcp, _)) = accepted else { continue };
        let _ = tcp.set_nodelay(true);
        let shared = shared.clone();
        let tls = tls.clone();
        conns.spawn(async move {
            match tls {
                Some(acceptor) => {
                    if let Ok(stream) = acceptor.accept(tcp).await {
                        serve(TokioIo::new(stream), shared).await;
                    }
                }
                None => serve(TokioIo::new(tcp), shared).await,
            }
        });
    }
    conns.abort_all();
}

async fn serve<I>(io: I, shared: Shared)
where
    I: hyper::rt::Read + hyper::rt::Write + Unpin + Send + 'static,
{
    let svc = service_fn(move |req| {
        let shared = shared.clone();
        async move { Ok::<_, Infallible>(respond(shared, req).await) }
    });
    // A broken connection only ends this connection.
    let _ = http1::Builder::new().keep_alive(true).serve_connection(io, svc).with_upgrades().await;
}

async fn respond(shared: Shared, req: Request<Incoming>) -> Response<Body> {
    match AssertUnwindSafe(dispatch(&shared, req)).catch_unwind().await {
        Ok(r) => r,
        Err(_) => http::error(&ApiError::internal(
            "the emulated API server failed on this request; this is a bug",
        )),
    }
}

fn authorized(shared: &Shared, req: &Request<Incoming>) -> bool {
    let Some(v) = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(token) = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")) else {
        return false;
    };
    constant_time_eq(token.trim().as_bytes(), shared.token.as_bytes())
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn dispatch(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let Some(r) = route(req.uri().path()) else { return http::error(&ApiError::no_route()) };
    if r == Route::Health {
        return http::with_type(200, "text/plain", "ok");
    }
    if !authorized(shared, &req) {
        return http::error(&ApiError::unauthorized());
    }
    let c = &shared.cluster;
    if !matches!(r, Route::Object(_)) && req.method() != Method::GET {
        return http::error(&ApiError::method_not_allowed("only GET is served here"));
    }
    let found = |v: Option<serde_json::Value>| match v {
        Some(v) => http::json(200, &v),
        None => http::error(&ApiError::no_route()),
    };
    match r {
        Route::Version => http::json(200, &discovery::version()),
        Route::CoreVersions => {
            http::json(200, &discovery::core_versions(&shared.address.to_string()))
        }
        Route::Groups => http::json(200, &discovery::groups(&c.catalogue())),
        Route::Group(g) => found(discovery::group(&c.catalogue(), &g)),
        Route::Resources { group, version } => {
            found(discovery::resources(&c.catalogue(), &group, &version))
        }
        Route::OpenApiIndex => http::json(200, &openapi::index(&c.catalogue())),
        Route::OpenApi(p) => found(openapi::for_path(&c.catalogue(), &p)),
        Route::OpenApiV2 => http::error(&ApiError::no_route()),
        Route::Health => http::with_type(200, "text/plain", "ok"),
        Route::Object(p) => handlers::handle(c, req, p).await,
    }
}
