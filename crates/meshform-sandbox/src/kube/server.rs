//! Serving connections: TLS (or plain HTTP), HTTP/1.1 with upgrades, bearer-token
//! authentication, routing to discovery, OpenAPI and the object handlers; a panic in a handler
//! becomes a 500 `Status` instead of a dropped connection. [`Availability`] is the API server's
//! socket as an outage sees it: listening, or bound but not listening (connections refused).

use std::convert::Infallible;
use std::net::SocketAddr;
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;

use futures::FutureExt;
use hyper::body::Incoming;
use hyper::header::AUTHORIZATION;
use hyper::server::conn::http1;
use hyper::service::service_fn;
use hyper::{Method, Request, Response};
use hyper_util::rt::TokioIo;
use tokio::net::{TcpListener, TcpSocket};
use tokio::sync::watch;
use tokio::task::{JoinHandle, JoinSet};
use tokio_rustls::TlsAcceptor;

use super::cluster::Cluster;
use super::discovery;
use super::handlers;
use super::http::{self, Body};
use super::openapi;
use super::requests::RequestKind;
use super::router::{route, Route};
use super::status::ApiError;
use super::temporary::{check_temporary_token, TemporaryToken};
use super::KubeError;

/// What every connection needs.
#[derive(Clone)]
pub struct Shared {
    pub cluster: Arc<Cluster>,
    pub token: String,
    pub address: SocketAddr,
}

/// Accept connections until the cluster stops or `outage` turns true; then close every open
/// connection (waiting until they are closed) and the listener.
async fn accept_loop(
    listener: TcpListener,
    tls: Option<TlsAcceptor>,
    shared: Shared,
    mut outage: watch::Receiver<bool>,
) {
    let mut stop = shared.cluster.stop.subscribe();
    let mut conns = JoinSet::new();
    loop {
        let accepted = tokio::select! {
            a = listener.accept() => a,
            _ = stop.wait_for(|stopped| *stopped) => break,
            _ = outage.wait_for(|down| *down) => break,
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
    conns.shutdown().await;
    drop(listener);
}

/// The API server's socket: serving, or — during an outage of the cluster — bound to the same
/// address but not listening, so that every connection is refused (`ECONNREFUSED`, as from a
/// stopped kube-apiserver) and the address stays reserved for the restore. Cloning gives another
/// handle on the same socket.
#[derive(Clone)]
pub struct Availability {
    inner: Arc<AvailabilityInner>,
}

struct AvailabilityInner {
    cluster: String,
    address: SocketAddr,
    tls: Option<TlsAcceptor>,
    shared: Shared,
    down: AtomicBool,
    socket: tokio::sync::Mutex<Socket>,
}

enum Socket {
    Serving {
        outage: watch::Sender<bool>,
        task: JoinHandle<()>,
    },
    /// Bound, not listening; `None` if the address could not be reserved again.
    Refusing(Option<TcpSocket>),
    /// The server has shut down.
    Closed,
}

impl std::fmt::Debug for Availability {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Availability")
            .field("cluster", &self.inner.cluster)
            .field("down", &self.is_down())
            .finish()
    }
}

impl Availability {
    /// Starts serving on `listener`.
    pub fn serve(listener: TcpListener, tls: Option<TlsAcceptor>, shared: Shared) -> Self {
        let serving = spawn(listener, &tls, &shared);
        let inner = AvailabilityInner {
            cluster: shared.cluster.name.clone(),
            address: shared.address,
            tls,
            shared,
            down: AtomicBool::new(false),
            socket: tokio::sync::Mutex::new(serving),
        };
        Availability { inner: Arc::new(inner) }
    }

    /// Whether the cluster is down (its API server refuses connections).
    pub fn is_down(&self) -> bool {
        self.inner.down.load(Ordering::SeqCst)
    }

    /// Stops serving: open connections are closed, the listener is closed, and the address is
    /// held by a socket that does not listen, so new connections are refused. Returns once no
    /// connection is served any more.
    pub async fn take_down(&self) -> Result<(), KubeError> {
        let mut socket = self.inner.socket.lock().await;
        match std::mem::replace(&mut *socket, Socket::Closed) {
            Socket::Serving { outage, task } => {
                self.inner.down.store(true, Ordering::SeqCst);
                outage.send_replace(true);
                // A task that panicked has closed its listener all the same.
                let _ = task.await;
                *socket = Socket::Refusing(reserve(self.inner.address).ok());
                Ok(())
            }
            refusing @ Socket::Refusing(_) => {
                *socket = refusing;
                Err(KubeError::AlreadyDown { cluster: self.inner.cluster.clone() })
            }
            Socket::Closed => Err(KubeError::Stopped { cluster: self.inner.cluster.clone() }),
        }
    }

    /// Serves again on the same address, with the same objects, CA and token.
    pub async fn bring_up(&self) -> Result<(), KubeError> {
        let mut socket = self.inner.socket.lock().await;
        match std::mem::replace(&mut *socket, Socket::Closed) {
            Socket::Refusing(held) => {
                let listener = match held {
                    Some(s) => s.listen(1024),
                    None => reserve(self.inner.address).and_then(|s| s.listen(1024)),
                };
                match listener {
                    Ok(l) => {
                        *socket = spawn(l, &self.inner.tls, &self.inner.shared);
                        self.inner.down.store(false, Ordering::SeqCst);
                        Ok(())
                    }
                    Err(source) => {
                        *socket = Socket::Refusing(None);
                        Err(KubeError::Relisten {
                            cluster: self.inner.cluster.clone(),
                            address: self.inner.address,
                            source,
                        })
                    }
                }
            }
            serving @ Socket::Serving { .. } => {
                *socket = serving;
                Err(KubeError::NotDown { cluster: self.inner.cluster.clone() })
            }
            Socket::Closed => Err(KubeError::Stopped { cluster: self.inner.cluster.clone() }),
        }
    }

    /// Stops serving for good (the server shuts down): the listener or the reserved address is
    /// released.
    pub async fn close(&self) {
        let mut socket = self.inner.socket.lock().await;
        if let Socket::Serving { outage, task } = std::mem::replace(&mut *socket, Socket::Closed) {
            outage.send_replace(true);
            let _ = task.await;
        }
    }
}

fn spawn(listener: TcpListener, tls: &Option<TlsAcceptor>, shared: &Shared) -> Socket {
    let (outage, rx) = watch::channel(false);
    let task = tokio::spawn(accept_loop(listener, tls.clone(), shared.clone(), rx));
    Socket::Serving { outage, task }
}

/// A socket bound to `address` (address reuse on, so that connections just closed do not block
/// it) that does not listen.
fn reserve(address: SocketAddr) -> std::io::Result<TcpSocket> {
    let socket = if address.is_ipv4() { TcpSocket::new_v4()? } else { TcpSocket::new_v6()? };
    socket.set_reuseaddr(true)?;
    socket.bind(address)?;
    Ok(socket)
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

/// The cluster's long-lived token, or a temporary one it issued that has not expired
/// ([`super::temporary`]); an expired one is refused like any other.
fn authorized(shared: &Shared, req: &Request<Incoming>) -> bool {
    let Some(v) = req.headers().get(AUTHORIZATION).and_then(|v| v.to_str().ok()) else {
        return false;
    };
    let Some(token) = v.strip_prefix("Bearer ").or_else(|| v.strip_prefix("bearer ")) else {
        return false;
    };
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    constant_time_eq(token.trim().as_bytes(), shared.token.as_bytes())
        || check_temporary_token(&shared.token, token.trim(), now) == TemporaryToken::Valid
}

fn constant_time_eq(a: &[u8], b: &[u8]) -> bool {
    a.len() == b.len() && a.iter().zip(b).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

async fn dispatch(shared: &Shared, req: Request<Incoming>) -> Response<Body> {
    let Some(r) = route(req.uri().path()) else { return http::error(&ApiError::no_route()) };
    count(shared, &req, &r);
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

/// Counts the request by method and resource (`Cluster::requests`).
fn count(shared: &Shared, req: &Request<Incoming>, r: &Route) {
    let watch_query = req.uri().query().is_some_and(|q| {
        form_urlencoded::parse(q.as_bytes()).any(|(k, v)| k == "watch" && (v == "true" || v == "1"))
    });
    let (plural, named, watch) = match r {
        Route::Object(p) => (p.plural.clone(), p.name.is_some(), p.watch || watch_query),
        _ => (String::new(), false, false),
    };
    shared.cluster.requests.record(RequestKind {
        method: req.method().as_str().to_owned(),
        plural,
        named,
        watch,
    });
}
