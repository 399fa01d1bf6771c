//! The PostgreSQL backend end to end, against a real server on loopback (meshform-pgtest): two
//! concurrent applies on one workspace, a killed run's lock released with its connection, workspaces
//! side by side (in both backends), and `meshform init` moving a state local → PostgreSQL → local,
//! refusing another lineage.

use std::process::Stdio;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use crate::harness::Workdir;

/// The connection string of the test server, or `None` (after saying why) when PostgreSQL is not
/// installed.
fn server() -> Option<String> {
    meshform_pgtest::server_or_skip().map(|s| s.conn_str())
}

/// A fresh schema name per test.
fn schema() -> String {
    static N: AtomicUsize = AtomicUsize::new(0);
    format!("cli{}_{}", std::process::id(), N.fetch_add(1, Ordering::Relaxed))
}

fn backend_block(schema: &str) -> String {
    format!("meshform {{\n  backend \"pg\" {{\n    schema_name = \"{schema}\"\n  }}\n}}\n")
}

const FILES: &str = r#"
variable "n" {
  type    = number
  default = 3
}

resource "local_file" "f" {
  count    = var.n
  filename = "out/${count.index}.txt"
  content  = "file ${count.index}"
}
"#;

/// A directory whose backend is the test server's schema `schema`; the connection string comes
/// from the environment, as it would in CI.
fn pg_dir(conn: &str, schema: &str, body: &str) -> Workdir {
    let mut w = Workdir::with_main(&format!("{}{body}", backend_block(schema)));
    w.env.push(("MESHFORM_PG_CONN_STR".into(), conn.to_owned()));
    w
}

#[test]
fn two_concurrent_applies_on_one_workspace_take_turns() {
    let Some(conn) = server() else { return };
    let schema = schema();
    let (a, b) = (pg_dir(&conn, &schema, FILES), pg_dir(&conn, &schema, FILES));
    let start = |w: &Workdir| {
        w.cmd(&["apply", "--auto-approve", "--lock-timeout=120s"])
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap()
    };
    let (pa, pb) = (start(&a), start(&b));
    let (oa, ob) = (pa.wait_with_output().unwrap(), pb.wait_with_output().unwrap());
    for (name, o) in [("first", &oa), ("second", &ob)] {
        assert_eq!(o.status.code(), Some(0), "{name}: {}", String::from_utf8_lossy(&o.stderr));
    }
    // The second waited for the first's lock, then planned against the state the first left (the
    // files are local to each directory, so it found them missing and created its own): one state,
    // each instance recorded once, nothing lost.
    let outs = [String::from_utf8_lossy(&oa.stdout), String::from_utf8_lossy(&ob.stdout)];
    assert!(outs.iter().any(|o| o.contains("3 added")), "{outs:?}");
    let listed = a.ok(&["state", "list"]).stdout;
    assert_eq!(listed.lines().count(), 3, "{listed}");
    b.ok(&["state", "list"]).stdout_has("local_file.f[2]");
}

#[test]
fn a_killed_run_releases_its_lock_with_its_connection() {
    let Some(conn) = server() else { return };
    let schema = schema();
    // The holder blocks while planning, holding the lock: it reads a FIFO nobody writes to.
    let holder = pg_dir(
        &conn,
        &schema,
        "locals {\n  wait = file(\"fifo\")\n}\n\noutput \"wait\" {\n  value = local.wait\n}\n",
    );
    let status = std::process::Command::new("mkfifo").arg(holder.join("fifo")).status().unwrap();
    assert!(status.success());
    let other = pg_dir(&conn, &schema, FILES);
    // It waits for the lock if a probe below holds it at that moment.
    let mut child = holder
        .cmd(&["plan", "--lock-timeout=60s"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    // Wait until the holder has the lock (the other run is refused, naming it).
    let deadline = Instant::now() + Duration::from_secs(60);
    let refused = loop {
        let run = other.run(&["plan", "--lock-timeout=0s"]);
        // (The holder records who it is just after taking the lock: wait for that too.)
        if run.code == 1 && run.stderr.contains("operation \"plan\"") {
            break run;
        }
        assert!(Instant::now() < deadline, "the holder never took the lock: {}", run.stderr);
        std::thread::sleep(Duration::from_millis(200));
    };
    assert!(
        refused.stderr.contains("operation \"plan\"") && refused.stderr.contains("tester@"),
        "{}",
        refused.stderr
    );

    child.kill().unwrap();
    child.wait().unwrap();
    // No force-unlock: the server released the lock when the connection died.
    other.ok(&["apply", "--auto-approve", "--lock-timeout=30s"]);
    other.ok(&["state", "list"]).stdout_has("local_file.f[0]");
}

#[test]
fn workspaces_keep_separate_states() {
    let Some(conn) = server() else { return };
    let w = pg_dir(&conn, &schema(), FILES);
    w.ok(&["apply", "--auto-approve", "--workspace", "cn-hangzhou", "--var", "n=1"]);
    let mut env = w.cmd(&["apply", "--auto-approve", "--var", "n=2"]);
    let out = env.env("MESHFORM_WORKSPACE", "cn-shanghai").output().unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", String::from_utf8_lossy(&out.stderr));
    assert_eq!(w.ok(&["state", "list", "--workspace", "cn-hangzhou"]).stdout.lines().count(), 1);
    assert_eq!(w.ok(&["state", "list", "--workspace", "cn-shanghai"]).stdout.lines().count(), 2);
    assert_eq!(w.ok(&["state", "list"]).stdout, "", "the default workspace is empty");
    let listed = w.ok(&["workspace", "list", "--workspace", "cn-shanghai"]).stdout;
    assert_eq!(listed, "  cn-hangzhou\n* cn-shanghai\n  default\n");
    w.run(&["plan", "--workspace", "../escape"]).code(1).stderr_has("invalid workspace name");
}

#[test]
fn init_moves_state_local_to_pg_and_back() {
    let Some(conn) = server() else { return };
    let schema = schema();
    let mut w = Workdir::with_main(FILES);
    w.env.push(("MESHFORM_PG_CONN_STR".into(), conn.clone()));
    w.ok(&["apply", "--auto-approve"]);
    let lineage = w.state_json()["lineage"].clone();

    // Switching to PostgreSQL: runs refuse until init has moved the state.
    w.write("backend.hcl", &backend_block(&schema));
    w.run(&["plan"]).code(1).stderr_has("run `meshform init`");
    w.ok(&["init"]).stdout_has("Moved the state (3 instances)");
    assert!(!w.exists("meshform.state.json") && w.exists("meshform.state.json.migrated"));
    w.run(&["plan", "--detailed-exitcode"]).code(0);
    w.ok(&["apply", "--auto-approve", "--var", "n=4"]);
    w.ok(&["init"]).stdout_has("successfully initialised");

    // And back to a local file.
    std::fs::remove_file(w.join("backend.hcl")).unwrap();
    w.run(&["plan"]).code(1).stderr_has("the state is in PostgreSQL");
    w.ok(&["init"]).stdout_has("Moved the state");
    assert_eq!(w.state_json()["lineage"], lineage, "the same history throughout");
    w.run(&["plan", "--detailed-exitcode", "--var", "n=4"]).code(0);
    assert_eq!(w.ok(&["state", "list"]).stdout.lines().count(), 4);
}

#[test]
fn init_refuses_to_overwrite_another_lineage() {
    let Some(conn) = server() else { return };
    let schema = schema();
    let first = pg_dir(&conn, &schema, FILES);
    first.ok(&["apply", "--auto-approve"]);
    // Another directory with a state of its own, moving to the same workspace.
    let mut second = Workdir::with_main(FILES);
    second.env.push(("MESHFORM_PG_CONN_STR".into(), conn));
    second.ok(&["apply", "--auto-approve", "--var", "n=1"]);
    second.write("backend.hcl", &backend_block(&schema));
    second.run(&["init"]).code(1).stderr_has("lineage");
    assert!(second.exists("meshform.state.json"), "the local state stays where it was");
    assert_eq!(
        first.ok(&["state", "list"]).stdout.lines().count(),
        3,
        "PostgreSQL's state is untouched"
    );
}

#[test]
fn connection_problems_are_reported_without_the_password() {
    let Some(_) = server() else { return };
    let mut w = Workdir::with_main(&format!("{}{FILES}", backend_block("nowhere")));
    w.env.push((
        "MESHFORM_PG_CONN_STR".into(),
        "host=127.0.0.1 port=1 user=ci password=hunter2 connect_timeout=5".into(),
    ));
    let run = w.run(&["plan"]).code(1).stderr_has("cannot connect");
    assert!(!run.stderr.contains("hunter2"), "{}", run.stderr);
    w.write("main.hcl", "meshform {\n  backend \"pg\" {\n    schema_name = 1\n  }\n}\n");
    w.run(&["validate"]).code(1).stderr_has("schema_name must be a string");
}

#[test]
fn local_workspaces_live_in_their_own_directories() {
    let w = Workdir::with_main(FILES);
    w.ok(&["apply", "--auto-approve", "--var", "n=1"]);
    let run = w
        .cmd(&["apply", "--auto-approve", "--var", "n=2"])
        .env("MESHFORM_WORKSPACE", "eu")
        .output()
        .unwrap();
    assert_eq!(run.status.code(), Some(0), "{}", String::from_utf8_lossy(&run.stderr));
    assert!(w.exists("meshform.state.d/eu/meshform.state.json"));
    assert_eq!(w.ok(&["state", "list"]).stdout.lines().count(), 1);
    assert_eq!(w.ok(&["state", "list", "--workspace", "eu"]).stdout.lines().count(), 2);
    assert_eq!(
        w.ok(&["workspace", "list"]).stdout,
        "  default\n  eu\n".replacen("  default", "* default", 1)
    );
    assert_eq!(w.ok(&["workspace", "show", "--workspace", "eu"]).stdout, "eu\n");
}
