//! The GitHub Actions workflow of docs/ci.md, run for real: the workflow is read from the guide, and
//! every job that an event triggers runs its `run:` steps with bash, in order, in a fresh checkout,
//! with the state in a real PostgreSQL server and the local provider writing into a shared directory
//! that stands in for the cloud.
//!
//! What GitHub provides is stood in for: `actions/checkout` copies the configuration,
//! `actions/upload-artifact`/`download-artifact` carry files between jobs, `gh` is a script that
//! keeps the comment it was asked to post, the "Install meshform" step is skipped (the binary built
//! for the tests is on `PATH`), and `${{ … }}` expressions take fixed values. Anything else in the
//! workflow (another action, another expression, another `if:` form) fails the test, so the guide
//! cannot drift away from what is tested.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::Command;

use crate::harness::binary;

const CONFIG: &str = r#"
variable "cloud" {
  type = string
}

variable "environment" {
  type    = string
  default = "production"
}

variable "greeting" {
  type    = string
  default = "hello"
}

resource "local_file" "site" {
  filename = "${var.cloud}/${var.environment}/site.txt"
  content  = "${var.greeting} from ${var.environment}"
}
"#;

/// The workflow: the first YAML block after the heading "4. The workflow" of docs/ci.md.
fn workflow() -> serde_json::Value {
    let path = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/ci.md");
    let text = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let section =
        text.split("## 4. The workflow").nth(1).expect("docs/ci.md has the workflow section");
    let yaml = section
        .split("```yaml\n")
        .nth(1)
        .and_then(|rest| rest.split("\n```").next())
        .expect("a yaml block");
    serde_saphyr::from_str(yaml).expect("the workflow is valid YAML")
}

/// A GitHub event, as the expressions and `if:` conditions see it.
struct Event {
    name: &'static str,
    action: &'static str,
}

struct Runner {
    conn: String,
    /// The "cloud" the local provider writes into, shared by every job.
    cloud: PathBuf,
    /// Files carried between jobs by the artifact actions.
    artifacts: PathBuf,
    /// `meshform` and the `gh` stand-in.
    bin: PathBuf,
    /// Where the `gh` stand-in keeps the comment body.
    comment: PathBuf,
    repo: PathBuf,
    _scratch: tempfile::TempDir,
}

impl Runner {
    fn new(conn: String, schema: &str) -> Runner {
        let scratch = tempfile::tempdir().unwrap();
        let root = scratch.path().to_owned();
        let [cloud, artifacts, bin, repo] = ["cloud", "artifacts", "bin", "repo"].map(|d| {
            let p = root.join(d);
            std::fs::create_dir_all(&p).unwrap();
            p
        });
        std::os::unix::fs::symlink(binary(), bin.join("meshform")).unwrap();
        let comment = root.join("comment.md");
        let gh = format!(
            "#!/bin/sh\n# gh pr comment NUMBER ... --body-file FILE\n[ \"$1 $2\" = \"pr comment\" ] || exit 3\nwhile [ $# -gt 0 ]; do if [ \"$1\" = --body-file ]; then cp \"$2\" '{}'; fi; shift; done\n",
            comment.display()
        );
        std::fs::write(bin.join("gh"), gh).unwrap();
        use std::os::unix::fs::PermissionsExt;
        std::fs::set_permissions(bin.join("gh"), std::fs::Permissions::from_mode(0o755)).unwrap();
        let backend =
            format!("meshform {{\n  backend \"pg\" {{\n    schema_name = \"{schema}\"\n  }}\n}}\n");
        std::fs::write(repo.join("main.hcl"), format!("{backend}{CONFIG}")).unwrap();
        Runner { conn, cloud, artifacts, bin, comment, repo, _scratch: scratch }
    }

    fn expr(&self, e: &str) -> String {
        match e.trim() {
            "secrets.MESHFORM_PG_CONN_STR" => self.conn.clone(),
            "secrets.ALIBABA_CLOUD_ACCESS_KEY_ID" => "test-key-id".into(),
            "secrets.ALIBABA_CLOUD_ACCESS_KEY_SECRET" => "test-key-secret".into(),
            "github.token" => "test-token".into(),
            "github.event.number" => "42".into(),
            "github.ref" => "refs/pull/42/merge".into(),
            other => panic!(
                "docs/ci.md uses the expression ${{{{ {other} }}}}, which this test does not know"
            ),
        }
    }

    fn substitute(&self, s: &str) -> String {
        let mut out = String::new();
        let mut rest = s;
        while let Some(i) = rest.find("${{") {
            out.push_str(&rest[..i]);
            let end = rest[i..].find("}}").expect("an unterminated expression") + i;
            out.push_str(&self.expr(&rest[i + 3..end]));
            rest = &rest[end + 2..];
        }
        out.push_str(rest);
        out
    }

    fn env_of(&self, v: Option<&serde_json::Value>) -> BTreeMap<String, String> {
        v.and_then(|e| e.as_object())
            .into_iter()
            .flatten()
            .map(|(k, v)| {
                let s = match v {
                    serde_json::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), self.substitute(&s))
            })
            .collect()
    }

    /// Runs one job in a fresh checkout directory.
    fn job(&self, wf: &serde_json::Value, name: &str) {
        let job = &wf["jobs"][name];
        let dir = tempfile::tempdir().unwrap();
        let mut env = self.env_of(wf.get("env"));
        env.extend(self.env_of(job.get("env")));
        let output = dir.path().join(".github-output");
        let summary = dir.path().join(".github-step-summary");
        for step in job["steps"].as_array().expect("steps") {
            if let Some(action) = step.get("uses").and_then(|u| u.as_str()) {
                self.action(action, step.get("with"), dir.path());
                continue;
            }
            let label = step.get("name").and_then(|n| n.as_str()).unwrap_or("");
            if label == "Install meshform" {
                continue;
            }
            let script = self.substitute(step["run"].as_str().expect("a run step"));
            let mut cmd = Command::new("bash");
            cmd.args(["--noprofile", "--norc", "-eo", "pipefail", "-c", &script])
                .current_dir(dir.path());
            for (k, _) in std::env::vars_os() {
                let k = k.to_string_lossy();
                if k.starts_with("MESHFORM_") || k.starts_with("PG") || k == "CI" {
                    cmd.env_remove(k.as_ref());
                }
            }
            let path =
                format!("{}:{}", self.bin.display(), std::env::var("PATH").unwrap_or_default());
            cmd.env("PATH", path)
                .env("NO_COLOR", "1")
                .env("USER", "runner")
                .env("MESHFORM_VAR_cloud", &self.cloud)
                .env("GITHUB_OUTPUT", &output)
                .env("GITHUB_STEP_SUMMARY", &summary)
                .envs(&env)
                .envs(&self.env_of(step.get("env")));
            let out = cmd.output().unwrap();
            assert!(
                out.status.success(),
                "job {name}, step {label:?} failed ({}):\n{script}\n--- stdout\n{}\n--- stderr\n{}",
                out.status,
                String::from_utf8_lossy(&out.stdout),
                String::from_utf8_lossy(&out.stderr)
            );
        }
        if let Ok(s) = std::fs::read_to_string(&summary) {
            std::fs::write(self.artifacts.join(format!("summary-{name}.md")), s).unwrap();
        }
    }

    fn action(&self, action: &str, with: Option<&serde_json::Value>, dir: &Path) {
        let arg = |k: &str| {
            with.and_then(|w| w.get(k)).and_then(|v| v.as_str()).map(|s| self.substitute(s))
        };
        match action {
            "actions/checkout@v4" => {
                for e in std::fs::read_dir(&self.repo).unwrap() {
                    let e = e.unwrap();
                    std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
                }
            }
            "actions/upload-artifact@v4" => {
                let (name, path) = (arg("name").expect("name"), arg("path").expect("path"));
                let to = self.artifacts.join(name);
                std::fs::create_dir_all(&to).unwrap();
                std::fs::copy(dir.join(&path), to.join(&path)).unwrap();
            }
            "actions/download-artifact@v4" => {
                let from = self.artifacts.join(arg("name").expect("name"));
                for e in std::fs::read_dir(&from).unwrap() {
                    let e = e.unwrap();
                    std::fs::copy(e.path(), dir.join(e.file_name())).unwrap();
                }
            }
            other => {
                panic!("docs/ci.md uses the action {other}, which this test does not stand in for")
            }
        }
    }

    /// Runs, in the workflow's order, every job whose `if:` holds for `event` (or whose `needs`
    /// ran).
    fn on(&self, wf: &serde_json::Value, event: &Event) -> Vec<String> {
        let mut ran: Vec<String> = Vec::new();
        for (name, job) in wf["jobs"].as_object().expect("jobs") {
            let needs = job.get("needs").and_then(|n| n.as_str());
            let run = match (job.get("if").and_then(|c| c.as_str()), needs) {
                (Some(cond), _) => holds(cond, event),
                (None, Some(n)) => ran.iter().any(|r| r == n),
                (None, None) => true,
            };
            if run {
                self.job(wf, name);
                ran.push(name.clone());
            }
        }
        ran
    }
}

/// Evaluates the `if:` forms the guide uses: `github.event_name == '…'`, `github.event.action
/// (==|!=) '…'`, joined by `&&`.
fn holds(cond: &str, event: &Event) -> bool {
    cond.split("&&").all(|clause| {
        let clause = clause.trim();
        let (lhs, op, rhs) = if let Some((l, r)) = clause.split_once("==") {
            (l.trim(), "==", r.trim())
        } else if let Some((l, r)) = clause.split_once("!=") {
            (l.trim(), "!=", r.trim())
        } else {
            panic!("unknown condition {clause:?} in docs/ci.md")
        };
        let value = match lhs {
            "github.event_name" => event.name,
            "github.event.action" => event.action,
            other => panic!("unknown context {other:?} in docs/ci.md"),
        };
        let want = rhs.trim_matches('\'');
        (value == want) == (op == "==")
    })
}

#[test]
fn the_guides_workflow_plans_previews_applies_and_tears_down() {
    let Some(server) = meshform_pgtest::server_or_skip() else { return };
    let runner = Runner::new(server.conn_str(), &format!("ci_doc_{}", std::process::id()));
    let wf = workflow();
    let site = |env: &str| runner.cloud.join(env).join("site.txt");

    // A pull request is opened: its plan is posted, its ephemeral environment is created.
    let ran = runner.on(&wf, &Event { name: "pull_request", action: "opened" });
    assert_eq!(ran, ["plan", "preview"]);
    let comment = std::fs::read_to_string(&runner.comment).expect("the plan was posted");
    assert!(
        comment.starts_with("### meshform plan: 1 to add, 0 to change, 0 to destroy"),
        "{comment}"
    );
    assert!(comment.contains("local_file.site"), "{comment}");
    assert_eq!(std::fs::read_to_string(site("pr-42")).unwrap(), "hello from pr-42");
    assert!(!site("production").exists(), "a pull request does not touch production");

    // It is merged: the plan of the merge is applied after approval, exactly.
    let ran = runner.on(&wf, &Event { name: "push", action: "" });
    assert_eq!(ran, ["plan-main", "apply"]);
    assert_eq!(std::fs::read_to_string(site("production")).unwrap(), "hello from production");
    let summary = std::fs::read_to_string(runner.artifacts.join("summary-plan-main.md")).unwrap();
    assert!(summary.contains("1 to add"), "{summary}");

    // It is closed: its environment is destroyed, and the teardown proves nothing is left.
    let ran = runner.on(&wf, &Event { name: "pull_request", action: "closed" });
    assert_eq!(ran, ["teardown"]);
    assert!(!site("pr-42").exists());
    assert!(site("production").exists(), "production is untouched by the teardown");

    // A push with nothing to change plans no changes, and applying that plan changes nothing.
    let ran = runner.on(&wf, &Event { name: "push", action: "" });
    assert_eq!(ran, ["plan-main", "apply"]);
}
