//! Connecting to PostgreSQL: [`PgSettings`] (the connection string and the libpq variables the CLI
//! passes down), the client configuration and TLS options built from them, and [`Session`], a
//! connection used only from helper threads.
//!
//! The synchronous `postgres` client drives a small tokio runtime of its own, which must not be
//! entered (nor dropped) from inside another runtime, and the CLI calls the store from async tasks.
//! Every database call, connecting and closing included, therefore runs on a short-lived helper
//! thread ([`Session::run`]).

use std::collections::BTreeMap;
use std::time::Duration;

use postgres::Client;

use super::conninfo::split_tls_keywords;
use super::tls::{explain_failure, rustls_error, SslMode, TlsOptions};

const DEFAULT_CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// Where the state lives in PostgreSQL, as the CLI assembles it from the `backend "pg"` block and the
/// environment (this crate never reads the environment itself).
#[derive(Clone, Default)]
pub struct PgSettings {
    /// A libpq connection string (`host=… port=… dbname=…` or a `postgres://` URL); may be empty.
    pub conn_str: String,
    /// The standard libpq variables (`PGHOST`, `PGPORT`, `PGUSER`, `PGPASSWORD`, `PGDATABASE`,
    /// `PGSSLMODE`, `PGSSLROOTCERT`, `PGSSLCERT`, `PGSSLKEY`, `PGCONNECT_TIMEOUT`, `PGAPPNAME`) and
    /// `USER`: each fills in what the connection string leaves unset, as libpq does.
    pub env: BTreeMap<String, String>,
    /// The schema holding meshform's tables.
    pub schema_name: String,
    /// The workspace (one state per workspace).
    pub workspace: String,
}

impl std::fmt::Debug for PgSettings {
    /// Never shows the connection string or the environment: either may hold a password.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PgSettings")
            .field("schema_name", &self.schema_name)
            .field("workspace", &self.workspace)
            .finish_non_exhaustive()
    }
}

/// One database connection whose every use (and whose closing) happens on a helper thread outside
/// any async runtime.
pub(super) struct Session {
    client: Option<Client>,
}

impl Session {
    /// Connects as libpq would with `tls.mode`: `prefer` falls back to plain when the TLS
    /// handshake fails, `allow` tries plain first and TLS when the server refuses plain. The error
    /// says what failed and what to do (never a password or a key).
    pub(super) fn connect(config: &postgres::Config, tls: &TlsOptions) -> Result<Session, String> {
        use postgres::config::SslMode as Wire;
        let connector = tls.connector()?;
        let attempt = |wire: Wire| {
            let mut config = config.clone();
            config.ssl_mode(wire);
            let connector = connector.clone();
            off_runtime(move || config.connect(connector))
        };
        let explain = |e: &postgres::Error| {
            explain_failure(e, tls).unwrap_or_else(|| {
                format!(
                    "{}. Check conn_str in the backend block, MESHFORM_PG_CONN_STR and the PG* \
                     variables (PGHOST, PGPORT, PGUSER, PGPASSWORD, PGDATABASE, PGSSLMODE), and \
                     that the server accepts connections",
                    pg_message(e)
                )
            })
        };
        let connected = match tls.mode {
            SslMode::Disable => attempt(Wire::Disable).map_err(|e| explain(&e)),
            // Only the server's refusal of a connection without TLS (pg_hba: no entry for it,
            // SQLSTATE 28000) is a reason to try TLS; a wrong password or database is reported as it is.
            SslMode::Allow => attempt(Wire::Disable)
                .or_else(|e| match e.as_db_error() {
                    Some(db) if db.code().code() == "28000" => attempt(Wire::Require),
                    _ => Err(e),
                })
                .map_err(|e| explain(&e)),
            SslMode::Prefer => match attempt(Wire::Prefer) {
                Err(handshake) if rustls_error(&handshake).is_some() => attempt(Wire::Disable)
                    .map_err(|plain| {
                        format!(
                            "{}; the connection without TLS that sslmode=prefer tries next failed \
                             too: {}",
                            explain(&handshake),
                            pg_message(&plain)
                        )
                    }),
                other => other.map_err(|e| explain(&e)),
            },
            SslMode::Require | SslMode::VerifyCa | SslMode::VerifyFull => {
                attempt(Wire::Require).map_err(|e| explain(&e))
            }
        };
        connected.map(|c| Session { client: Some(c) })
    }

    pub(super) fn is_closed(&self) -> bool {
        self.client.as_ref().is_none_or(Client::is_closed)
    }

    pub(super) fn run<T: Send>(
        &mut self,
        f: impl FnOnce(&mut Client) -> Result<T, postgres::Error> + Send,
    ) -> Result<T, postgres::Error> {
        let Some(client) = self.client.as_mut() else {
            unreachable!("a session's client is only taken when it is dropped")
        };
        off_runtime(move || f(client))
    }
}

impl Drop for Session {
    fn drop(&mut self) {
        if let Some(client) = self.client.take() {
            off_runtime(move || drop(client));
        }
    }
}

/// Runs `f` on a fresh thread and waits for it: the `postgres` client must not run inside the
/// caller's tokio runtime.
fn off_runtime<T: Send>(f: impl FnOnce() -> T + Send) -> T {
    std::thread::scope(|s| match s.spawn(f).join() {
        Ok(v) => v,
        Err(panic) => std::panic::resume_unwind(panic),
    })
}

/// The connection configuration and the TLS options: the connection string, with what it leaves
/// unset taken from the standard libpq variables.
pub(super) fn pg_config(settings: &PgSettings) -> Result<(postgres::Config, TlsOptions), String> {
    let split = split_tls_keywords(settings.conn_str.trim());
    let mut cfg = if split.rest.is_empty() {
        postgres::Config::new()
    } else {
        // The parser's message never repeats the input, which may hold a password.
        split
            .rest
            .parse::<postgres::Config>()
            .map_err(|e| format!("invalid connection string: {e}"))?
    };
    let env = |k: &str| settings.env.get(k).map(String::as_str).filter(|v| !v.is_empty());
    let tls = TlsOptions::resolve(|keyword, variable| {
        split.get(keyword).filter(|v| !v.is_empty()).or_else(|| env(variable)).map(str::to_owned)
    })?;
    if cfg.get_hosts().is_empty() {
        for h in env("PGHOST").unwrap_or("localhost").split(',') {
            if h.starts_with('/') {
                cfg.host_path(h);
            } else {
                cfg.host(h);
            }
        }
    }
    if cfg.get_ports().is_empty() {
        if let Some(p) = env("PGPORT") {
            let port =
                p.parse::<u16>().map_err(|_| format!("PGPORT {p:?} is not a port number"))?;
            cfg.port(port);
        }
    }
    if cfg.get_user().is_none() {
        if let Some(u) = env("PGUSER").or_else(|| env("USER")) {
            cfg.user(u);
        }
    }
    if cfg.get_password().is_none() {
        if let Some(p) = env("PGPASSWORD") {
            cfg.password(p);
        }
    }
    if cfg.get_dbname().is_none() {
        if let Some(d) = env("PGDATABASE") {
            cfg.dbname(d);
        }
    }
    if cfg.get_connect_timeout().is_none() {
        let secs = env("PGCONNECT_TIMEOUT").and_then(|s| s.parse::<u64>().ok());
        cfg.connect_timeout(secs.map(Duration::from_secs).unwrap_or(DEFAULT_CONNECT_TIMEOUT));
    }
    if cfg.get_application_name().is_none() {
        cfg.application_name(env("PGAPPNAME").unwrap_or("meshform"));
    }
    Ok((cfg, tls))
}

/// `database "x" on host:port` (never the user's password).
pub(super) fn describe_target(cfg: &postgres::Config) -> String {
    let hosts: Vec<String> = cfg
        .get_hosts()
        .iter()
        .map(|h| match h {
            postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .collect();
    let port = cfg.get_ports().first().copied().unwrap_or(5432);
    let db = cfg.get_dbname().or(cfg.get_user()).unwrap_or("(default)");
    format!("database \"{db}\" on {}:{port}", hosts.join(","))
}

/// A PostgreSQL error's message, with the server's detail and hint when it sent them.
pub(super) fn pg_message(e: &postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => {
            let mut m = format!("{}: {}", db.severity(), db.message());
            if let Some(d) = db.detail() {
                m.push_str(&format!(" ({d})"));
            }
            if let Some(h) = db.hint() {
                m.push_str(&format!("; hint: {h}"));
            }
            m
        }
        None => {
            let mut m = e.to_string();
            let mut source = std::error::Error::source(e);
            while let Some(s) = source {
                let text = s.to_string();
                if !m.contains(&text) {
                    m.push_str(&format!(": {text}"));
                }
                source = s.source();
            }
            m
        }
    }
}
