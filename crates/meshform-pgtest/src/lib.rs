//! A throwaway PostgreSQL server for tests: `initdb` into a fresh temporary directory, `pg_ctl start`
//! on a free loopback port, one server per test process, shared by its tests (each test uses its own
//! schema or workspace), stopped and deleted when the test process exits.
//!
//! The server runs as the `postgres` user when the tests run as root (PostgreSQL refuses to run as
//! root), through `runuser`. A watcher shell holds the server: it waits for its standard input to
//! close, which happens when the test process exits however it exits, then stops the server and
//! removes its directory. Nothing outlives the tests.
//!
//! [`tls_server`] starts a second server of the same kind with `ssl = on`: a certificate authority
//! generated for the test process signs the server's certificate (for `localhost` and `127.0.0.1`)
//! and a client certificate, and its `pg_hba.conf` accepts TLS connections only (module `tls`).
//!
//! [`server`] returns `None` only when the PostgreSQL binaries are not installed (Debian's
//! `postgresql` package puts them in `/usr/lib/postgresql/<version>/bin`; `.ci/run` installs it);
//! callers then skip ([`server_or_skip`] says so). Any other failure to start panics: a test that needs
//! PostgreSQL must not pass silently.

use std::io::{BufRead, BufReader};
use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Mutex, OnceLock};

mod tls;

pub use tls::{tls_server, tls_server_or_skip, TlsServer};

/// A running server.
#[derive(Debug)]
pub struct Server {
    pub port: u16,
    /// The directory holding the data directory, the log and the socket.
    pub dir: PathBuf,
    /// The watcher; its standard input is the server's lifeline.
    _watcher: Mutex<Child>,
}

impl Server {
    /// A libpq connection string for the superuser `postgres`, over TCP on loopback.
    pub fn conn_str(&self) -> String {
        format!("host=127.0.0.1 port={} user=postgres dbname=postgres", self.port)
    }

    /// The server's log (for failure messages).
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.join("log")).unwrap_or_default()
    }
}

/// [`server`], or `None` after printing [`skip_message`] to the test's output: for tests that skip
/// when PostgreSQL is not installed.
pub fn server_or_skip() -> Option<&'static Server> {
    or_skip(server())
}

/// `server`, after printing [`skip_message`] to the test's output when it is `None`.
#[allow(clippy::print_stderr)]
fn or_skip<T>(server: Option<T>) -> Option<T> {
    if server.is_none() {
        eprintln!("{}", skip_message());
    }
    server
}

/// What a test prints when it cannot run for want of PostgreSQL.
pub fn skip_message() -> &'static str {
    "skipped: PostgreSQL binaries not found (no /usr/lib/postgresql/*/bin/initdb); install \
     Debian's postgresql package (.ci/run does) to run this test"
}

/// The directory of `initdb`, `pg_ctl` and `postgres`: the newest `/usr/lib/postgresql/*/bin`.
pub fn bin_dir() -> Option<PathBuf> {
    let mut found: Vec<(u32, PathBuf)> = std::fs::read_dir("/usr/lib/postgresql")
        .ok()?
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let version = e.file_name().to_str()?.parse::<u32>().ok()?;
            let bin = e.path().join("bin");
            bin.join("initdb").is_file().then_some((version, bin))
        })
        .collect();
    found.sort();
    found.pop().map(|(_, b)| b)
}

/// The test process's server, started on first use; `None` when PostgreSQL is not installed.
pub fn server() -> Option<&'static Server> {
    static SERVER: OnceLock<Option<Server>> = OnceLock::new();
    SERVER.get_or_init(|| bin_dir().map(|bin| start(&bin, &Extra::default()))).as_ref()
}

/// What a server of a special kind adds to the plain one.
#[derive(Default)]
struct Extra {
    /// Written into the server's directory before `initdb` (name, contents, private).
    files: Vec<(&'static str, String, bool)>,
    /// More `postgres` options (`-c name=value …`); `$dir` stands for the server's directory.
    options: String,
    /// SQL run in single-user mode after `initdb`, before the server starts.
    sql: String,
}

const WATCHER: &str = r#"
set -e
bin=$1; dir=$2; port=$3; options=$4; sql=$5
"$bin/initdb" -D "$dir/data" -A trust -U postgres --no-sync >"$dir/initdb.log" 2>&1
if [ -n "$sql" ]; then
  printf '%s\n' "$sql" | "$bin/postgres" --single -D "$dir/data" postgres >>"$dir/initdb.log" 2>&1
fi
"$bin/pg_ctl" -D "$dir/data" -l "$dir/log" -w -t 60 start \
  -o "-p $port -k $dir -c listen_addresses=127.0.0.1 -c fsync=off -c synchronous_commit=off -c full_page_writes=off -c max_connections=200 $options" >/dev/null
echo ready
cat >/dev/null || true
"$bin/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
rm -rf "$dir"
"#;

fn start(bin: &Path, extra: &Extra) -> Server {
    let dir =
        std::env::temp_dir().join(format!("meshform-pgtest-{}-{}", std::process::id(), nanos()));
    std::fs::create_dir(&dir).unwrap_or_else(|e| panic!("cannot create {}: {e}", dir.display()));
    let port = free_port();
    let as_root = is_root();
    let owner = as_root.then(|| {
        postgres_user().unwrap_or_else(|| {
            panic!("running as root, but there is no `postgres` user to run PostgreSQL as")
        })
    });
    for (name, contents, private) in &extra.files {
        let path = dir.join(name);
        std::fs::write(&path, contents)
            .unwrap_or_else(|e| panic!("cannot write {}: {e}", path.display()));
        let mode = if *private { 0o600 } else { 0o644 };
        std::fs::set_permissions(&path, std::os::unix::fs::PermissionsExt::from_mode(mode))
            .unwrap_or_else(|e| panic!("cannot chmod {}: {e}", path.display()));
    }
    if let Some((uid, gid)) = owner {
        // The server reads its key and the watcher removes everything: all of it is theirs.
        let mut paths = vec![dir.clone()];
        paths.extend(extra.files.iter().map(|(name, _, _)| dir.join(name)));
        for path in paths {
            std::os::unix::fs::chown(&path, Some(uid), Some(gid))
                .unwrap_or_else(|e| panic!("cannot chown {}: {e}", path.display()));
        }
    }
    let args = [
        bin.display().to_string(),
        dir.display().to_string(),
        port.to_string(),
        extra.options.replace("$dir", &dir.display().to_string()),
        extra.sql.clone(),
    ];
    let mut cmd = if as_root {
        let mut c = Command::new("runuser");
        c.args(["-u", "postgres", "--", "/bin/sh", "-c", WATCHER, "sh"]);
        c
    } else {
        let mut c = Command::new("/bin/sh");
        c.args(["-c", WATCHER, "sh"]);
        c
    };
    let mut child = cmd
        .args(&args)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::null())
        .spawn()
        .unwrap_or_else(|e| panic!("cannot start the PostgreSQL watcher: {e}"));
    let stdout = child.stdout.take().unwrap_or_else(|| unreachable!("stdout is piped"));
    let mut line = String::new();
    let _ = BufReader::new(stdout).read_line(&mut line);
    if line.trim() != "ready" {
        let initdb = std::fs::read_to_string(dir.join("initdb.log")).unwrap_or_default();
        let log = std::fs::read_to_string(dir.join("log")).unwrap_or_default();
        panic!("PostgreSQL did not start in {}:\ninitdb:\n{initdb}\nlog:\n{log}", dir.display());
    }
    Server { port, dir, _watcher: Mutex::new(child) }
}

fn nanos() -> u128 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| d.as_nanos())
        .unwrap_or(0)
}

fn free_port() -> u16 {
    let l = TcpListener::bind("127.0.0.1:0").unwrap_or_else(|e| panic!("no free port: {e}"));
    l.local_addr().map(|a| a.port()).unwrap_or_else(|e| panic!("no local address: {e}"))
}

fn is_root() -> bool {
    // /proc/self/status: "Uid:\treal\teffective\t…"
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines()
                .find_map(|l| l.strip_prefix("Uid:"))
                .and_then(|rest| rest.split_whitespace().nth(1).map(|e| e == "0"))
        })
        .unwrap_or(false)
}

/// The uid and gid of the `postgres` user, from /etc/passwd.
fn postgres_user() -> Option<(u32, u32)> {
    let passwd = std::fs::read_to_string("/etc/passwd").ok()?;
    passwd.lines().find_map(|l| {
        let f: Vec<&str> = l.split(':').collect();
        (f.first() == Some(&"postgres") && f.len() > 3)
            .then(|| Some((f[2].parse().ok()?, f[3].parse().ok()?)))
            .flatten()
    })
}
