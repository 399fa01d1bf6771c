//! Runs that are killed, and runs that meet on one state. Nothing here depends on timing: the tests wait
//! for what can be observed (files, the lock file) and never assert on durations.

use std::collections::BTreeSet;
use std::process::{Child, Stdio};

use crate::support::{many_files, wait_until, Workdir};

const COUNT: usize = 300;

/// The names in `files/`, hidden ones (temporary files) included.
fn files_on_disk(w: &Workdir) -> BTreeSet<String> {
    match std::fs::read_dir(w.join("files")) {
        Ok(rd) => {
            rd.map(|e| e.expect("dir entry").file_name().to_string_lossy().into_owned()).collect()
        }
        Err(_) => BTreeSet::new(),
    }
}

fn spawn_slow_apply(w: &Workdir, user: &str) -> Child {
    w.std_command(&["apply", "--auto-approve", "--parallelism", "1"])
        .env("USER", user)
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start meshform apply")
}

#[test]
fn a_killed_apply_leaves_a_readable_state_and_the_next_run_converges() {
    let w = Workdir::with_main(&many_files(COUNT));
    let mut apply = spawn_slow_apply(&w, "tester");
    wait_until("the apply has written the state and a few files", || {
        w.exists("meshform.state.json")
            && files_on_disk(&w).iter().filter(|f| f.ends_with(".txt")).count() >= 5
    });
    assert!(
        apply.try_wait().expect("poll the apply").is_none(),
        "the apply finished before it could be killed; raise COUNT"
    );
    let killed = apply.id();
    apply.kill().expect("SIGKILL the apply");
    apply.wait().expect("reap the apply");

    // The state is whole, and the lock died with the process.
    let in_state: BTreeSet<String> = w.state_list().into_iter().collect();
    let plan = w.ok(&["plan"]);
    for name in files_on_disk(&w).iter().filter(|f| f.starts_with("f-") && f.ends_with(".txt")) {
        let index = &name["f-".len()..name.len() - ".txt".len()];
        let addr = format!("local_file.f[{index}]");
        let adopted =
            format!("# {addr} was created by an interrupted run; it was found and will be adopted");
        assert!(
            in_state.contains(&addr) || plan.stdout.contains(&adopted),
            "files/{name} exists, but {addr} is neither in state nor adopted:\n{}",
            plan.stdout
        );
    }
    // Everything else is still to be created.
    let adopted = plan.stdout.matches("will be adopted").count();
    let to_add = COUNT - in_state.len() - adopted;
    let summary = format!("Plan: {to_add} to add, 0 to change, 0 to destroy.");
    assert!(plan.stdout.contains(&summary), "expected {summary:?} in\n{}", plan.stdout);

    // Running again finishes the job; nothing is left behind that meshform does not manage.
    w.ok(&["apply", "--auto-approve"]);
    w.run(&["plan", "--detailed-exitcode"]).code(0);
    assert_eq!(w.state_list().len(), COUNT);
    // A SIGKILL in the middle of a file's atomic write can leave that write's hidden temporary
    // (`.f-N.txt.<pid>.<n>.tmp`, named after the killed process), as with any atomic writer;
    // nothing else may be there.
    let expected: BTreeSet<String> = (0..COUNT).map(|i| format!("f-{i}.txt")).collect();
    let killed_write = |f: &String| f.starts_with(".f-") && f.contains(&format!(".txt.{killed}."));
    let on_disk: BTreeSet<String> =
        files_on_disk(&w).into_iter().filter(|f| !killed_write(f)).collect();
    assert_eq!(on_disk, expected);
    for i in [0, COUNT / 2, COUNT - 1] {
        assert_eq!(w.read(&format!("files/f-{i}.txt")), format!("file {i}\n"));
    }
}

#[test]
fn a_second_run_reports_the_lock_holder_or_waits_for_it() {
    let w = Workdir::with_main(&many_files(COUNT));
    let mut apply = spawn_slow_apply(&w, "lock-holder");
    let lock = w.join("meshform.state.json.lock");
    wait_until("the apply holds the lock and has described itself", || {
        std::fs::read_to_string(&lock).is_ok_and(|t| t.contains("\"operation\": \"apply\""))
    });
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&lock).expect("lock info")).expect("JSON");
    let id = info["id"].as_str().expect("lock id").to_owned();

    // Without waiting: refused at once, saying who holds the lock and how to recover.
    w.run(&["plan", "--lock-timeout=0s"])
        .code(1)
        .stderr_has("is locked by another run")
        .stderr_has(&format!("ID {id}"))
        .stderr_has("operation \"apply\"")
        .stderr_has("by \"lock-holder@")
        .stderr_has(&format!("meshform force-unlock {id}"));
    // Commands that only read the state do not need the lock.
    w.ok(&["state", "list"]);

    // With a generous timeout the plan waits for the apply, then plans against what it applied.
    w.ok(&["plan", "--lock-timeout=10m"])
        .stdout_has("No changes. Your infrastructure matches the configuration.");
    assert!(apply.wait().expect("wait for the apply").success(), "the apply succeeded");
    assert!(!lock.exists(), "the lock file is removed when the run ends");
}

#[test]
fn force_unlock_releases_a_lock_left_by_a_killed_run() {
    let w = Workdir::with_main(&many_files(COUNT));
    let mut apply = spawn_slow_apply(&w, "tester");
    let lock = w.join("meshform.state.json.lock");
    wait_until("the apply holds the lock", || {
        std::fs::read_to_string(&lock).is_ok_and(|t| t.contains("\"id\""))
    });
    apply.kill().expect("SIGKILL the apply");
    apply.wait().expect("reap the apply");
    let info: serde_json::Value =
        serde_json::from_str(&std::fs::read_to_string(&lock).expect("lock info")).expect("JSON");
    let id = info["id"].as_str().expect("lock id");

    w.run(&["force-unlock", "not-the-id"]).code(1).stderr_has(id);
    assert!(lock.exists(), "a wrong id releases nothing");
    w.ok(&["force-unlock", id]).stdout_has(&format!("The state lock {id} was released"));
    assert!(!lock.exists());
    w.run(&["force-unlock", id]).code(1);
}

#[test]
fn a_killed_destroy_is_finished_by_the_next_destroy() {
    let w = Workdir::with_main(&many_files(COUNT));
    w.ok(&["apply", "--auto-approve"]);
    let mut destroy = w
        .std_command(&["destroy", "--auto-approve", "--parallelism", "1"])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .expect("start meshform destroy");
    wait_until("the destroy has removed a few files", || files_on_disk(&w).len() <= COUNT - 5);
    assert!(destroy.try_wait().expect("poll").is_none(), "destroy finished before the kill");
    destroy.kill().expect("SIGKILL the destroy");
    destroy.wait().expect("reap the destroy");

    assert!(w.state_list().len() < COUNT + 1, "the state is readable");
    w.ok(&["destroy", "--auto-approve"]).stdout_has("Destroy complete!");
    assert!(w.state_list().is_empty(), "files removed by the killed run leave the state too");
    assert!(files_on_disk(&w).is_empty(), "{:?}", files_on_disk(&w));
}

/// The operations a killed apply completed are in the state's journal, not yet in the state file:
/// `state list`, `state pull` and `show` read through the store, which replays it.
#[test]
fn state_commands_see_what_a_killed_apply_journalled() {
    let w = Workdir::with_main(&many_files(COUNT));
    let mut apply = spawn_slow_apply(&w, "tester");
    wait_until("the apply has journalled a few operations", || {
        files_on_disk(&w).iter().filter(|f| f.ends_with(".txt")).count() >= 20
            && std::fs::metadata(w.join("meshform.state.json.journal")).is_ok_and(|m| m.len() > 0)
    });
    assert!(apply.try_wait().expect("poll").is_none(), "the apply finished; raise COUNT");
    apply.kill().expect("SIGKILL the apply");
    apply.wait().expect("reap the apply");

    let listed = w.state_list();
    assert!(listed.len() >= 19, "completed creates are listed: {listed:?}");
    let file: serde_json::Value =
        serde_json::from_str(&w.read("meshform.state.json")).expect("the state file is JSON");
    let in_file = file["resources"]
        .as_array()
        .map_or(0, |r| r.iter().map(|r| r["instances"].as_array().map_or(0, Vec::len)).sum());
    assert!(in_file < listed.len(), "the state file alone has {in_file} of {}", listed.len());

    let pulled: serde_json::Value =
        serde_json::from_str(&w.ok(&["state", "pull"]).stdout).expect("state pull prints JSON");
    let pulled_count: usize = pulled["resources"]
        .as_array()
        .map_or(0, |r| r.iter().map(|r| r["instances"].as_array().map_or(0, Vec::len)).sum());
    assert_eq!(pulled_count, listed.len(), "state pull shows what state list lists");
    let show = w.ok(&["show"]).stdout;
    for addr in [&listed[0], &listed[listed.len() - 1]] {
        assert!(show.contains(addr.as_str()), "show lacks {addr}:\n{show}");
    }
}
