//! What runs "inside" an emulated container: the [`ExecHandler`] hook `pods/exec` and `pods/log`
//! call, and the default handler's small command set (`echo`, `cat`, `hostname`, `env`, `sh -c`,
//! `true`, `false`, `sleep`, `seq`, …; anything else is "not found", exit 127).

use std::time::Duration;

use async_trait::async_trait;
use serde_json::Value;

use super::shell;

/// One command to run in a container of a pod.
#[derive(Debug, Clone)]
pub struct ExecRequest {
    /// The pod object, as stored.
    pub pod: Value,
    /// The container's name.
    pub container: String,
    /// The command and its arguments (`["sh", "-c", "exit 3"]`).
    pub command: Vec<String>,
}

impl ExecRequest {
    /// `metadata.name` of the pod.
    pub fn pod_name(&self) -> &str {
        self.pod["metadata"]["name"].as_str().unwrap_or("")
    }

    /// `metadata.namespace` of the pod.
    pub fn namespace(&self) -> &str {
        self.pod["metadata"]["namespace"].as_str().unwrap_or("")
    }

    /// The container's spec, if the pod has one by that name.
    pub fn container_spec(&self) -> Option<&Value> {
        self.pod["spec"]["containers"]
            .as_array()?
            .iter()
            .find(|c| c["name"].as_str() == Some(self.container.as_str()))
    }

    /// The same request with another command.
    pub fn with_command(&self, command: Vec<String>) -> ExecRequest {
        ExecRequest { pod: self.pod.clone(), container: self.container.clone(), command }
    }
}

/// What a command produced.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ExecOutput {
    pub stdout: Vec<u8>,
    pub stderr: Vec<u8>,
    pub exit_code: i32,
}

impl ExecOutput {
    /// Exit 0 with this stdout.
    pub fn ok(stdout: impl Into<Vec<u8>>) -> Self {
        ExecOutput { stdout: stdout.into(), stderr: vec![], exit_code: 0 }
    }

    /// This exit code with this stderr.
    pub fn fail(code: i32, stderr: impl Into<Vec<u8>>) -> Self {
        ExecOutput { stdout: vec![], stderr: stderr.into(), exit_code: code }
    }
}

/// Runs commands inside emulated containers. The data plane implements it to add `curl` and
/// friends; [`DefaultExecHandler`] is the built-in one, and [`shell::run_sh`] lets an implementation
/// run `sh -c` scripts whose commands come back to it.
#[async_trait]
pub trait ExecHandler: Send + Sync {
    /// Run one command to completion.
    async fn exec(&self, request: &ExecRequest) -> ExecOutput;

    /// What `kubectl logs` shows for a container.
    fn logs(&self, pod: &Value, container: &str) -> String {
        default_logs(pod, container)
    }
}

/// The log line every emulated container "printed" when it started.
pub fn default_logs(pod: &Value, container: &str) -> String {
    let image = pod["spec"]["containers"]
        .as_array()
        .and_then(|cs| cs.iter().find(|c| c["name"].as_str() == Some(container)))
        .and_then(|c| c["image"].as_str())
        .unwrap_or("");
    let started = pod["status"]["startTime"].as_str().unwrap_or("");
    format!(
        "{started} container {container} of pod {} started (image {image})\n",
        pod["metadata"]["name"].as_str().unwrap_or("")
    )
}

/// The built-in command set.
#[derive(Debug, Clone, Copy, Default)]
pub struct DefaultExecHandler;

/// Longest `sleep` the default handler performs; `sleep infinity` lasts until the client leaves.
const MAX_SLEEP: Duration = Duration::from_secs(300);

#[async_trait]
impl ExecHandler for DefaultExecHandler {
    async fn exec(&self, request: &ExecRequest) -> ExecOutput {
        run_builtin(self, request).await
    }
}

/// Run one of the built-in commands; `shell` receives the commands of `sh -c` scripts.
pub async fn run_builtin(shell_handler: &dyn ExecHandler, request: &ExecRequest) -> ExecOutput {
    let Some(argv0) = request.command.first() else {
        return ExecOutput::fail(126, "exec: no command given\n");
    };
    let name = argv0.rsplit('/').next().unwrap_or(argv0).to_string();
    let args = &request.command[1..];
    match name.as_str() {
        "echo" => {
            let (newline, rest) = match args.first().map(String::as_str) {
                Some("-n") => (false, &args[1..]),
                _ => (true, args),
            };
            let mut s = rest.join(" ");
            if newline {
                s.push('\n');
            }
            ExecOutput::ok(s)
        }
        "hostname" => ExecOutput::ok(format!("{}\n", request.pod_name())),
        "true" => ExecOutput::default(),
        "false" => ExecOutput::fail(1, ""),
        "pwd" => ExecOutput::ok("/\n"),
        "whoami" => ExecOutput::ok("root\n"),
        "env" | "printenv" => {
            let env = environment(request);
            if name == "printenv" && !args.is_empty() {
                let found: Vec<String> = args
                    .iter()
                    .filter_map(|a| env.iter().find(|(k, _)| k == a).map(|(_, v)| format!("{v}\n")))
                    .collect();
                let code = if found.len() == args.len() { 0 } else { 1 };
                return ExecOutput { stdout: found.concat().into_bytes(), stderr: vec![], exit_code: code };
            }
            ExecOutput::ok(env.iter().map(|(k, v)| format!("{k}={v}\n")).collect::<String>())
        }
        "cat" => cat(request, args),
        "seq" => seq(args),
        "sleep" => sleep(args).await,
        "sh" | "bash" | "ash" => match (args.first().map(String::as_str), args.get(1)) {
            (Some("-c"), Some(script)) => shell::run_sh(script, request, shell_handler).await,
            _ => ExecOutput::fail(2, format!("{name}: interactive shells are not emulated; use {name} -c '…'\n")),
        },
        _ => ExecOutput::fail(
            127,
            format!(
                "OCI runtime exec failed: exec failed: unable to start container process: exec: \"{argv0}\": executable file not found in $PATH: unknown\n"
            ),
        ),
    }
}

/// The container's environment: its `env` values and what the kubelet adds.
pub fn environment(request: &ExecRequest) -> Vec<(String, String)> {
    let mut env = vec![
        (
            "PATH".to_string(),
            "/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin".to_string(),
        ),
        ("HOSTNAME".to_string(), request.pod_name().to_string()),
    ];
    if let Some(list) = request.container_spec().and_then(|c| c["env"].as_array()) {
        for e in list {
            if let (Some(k), Some(v)) = (e["name"].as_str(), e["value"].as_str()) {
                env.push((k.to_string(), v.to_string()));
            }
        }
    }
    env.push(("KUBERNETES_SERVICE_HOST".into(), "10.96.0.1".into()));
    env.push(("KUBERNETES_SERVICE_PORT".into(), "443".into()));
    env.push(("HOME".into(), "/root".into()));
    env
}

fn cat(request: &ExecRequest, args: &[String]) -> ExecOutput {
    let mut out = ExecOutput::default();
    for path in args {
        match file(request, path) {
            Some(content) => out.stdout.extend_from_slice(content.as_bytes()),
            None => {
                out.stderr.extend_from_slice(
                    format!("cat: {path}: No such file or directory\n").as_bytes(),
                );
                out.exit_code = 1;
            }
        }
    }
    out
}

/// The files the emulated containers have.
fn file(request: &ExecRequest, path: &str) -> Option<String> {
    let pod = request.pod_name();
    let ns = request.namespace();
    let ip = request.pod["status"]["podIP"].as_str().unwrap_or("127.0.0.1");
    Some(match path {
        "/etc/hostname" => format!("{pod}\n"),
        "/etc/hosts" => format!("127.0.0.1\tlocalhost\n::1\tlocalhost ip6-localhost ip6-loopback\n{ip}\t{pod}\n"),
        "/etc/resolv.conf" => format!(
            "search {ns}.svc.cluster.local svc.cluster.local cluster.local\nnameserver 10.96.0.10\noptions ndots:5\n"
        ),
        "/var/run/secrets/kubernetes.io/serviceaccount/namespace" => ns.to_string(),
        _ => return None,
    })
}

fn seq(args: &[String]) -> ExecOutput {
    let nums: Vec<i64> = args.iter().filter_map(|a| a.parse().ok()).collect();
    if nums.len() != args.len() || nums.is_empty() || nums.len() > 3 {
        return ExecOutput::fail(1, "seq: invalid arguments\n");
    }
    let (first, step, last) = match nums[..] {
        [l] => (1, 1, l),
        [f, l] => (f, 1, l),
        [f, s, l] => (f, s, l),
        _ => return ExecOutput::fail(1, "seq: invalid arguments\n"),
    };
    if step == 0 {
        return ExecOutput::fail(1, "seq: invalid zero increment\n");
    }
    let mut out = String::new();
    let mut i = first;
    let mut n = 0;
    while (step > 0 && i <= last) || (step < 0 && i >= last) {
        out.push_str(&format!("{i}\n"));
        i += step;
        n += 1;
        if n >= 100_000 {
            break;
        }
    }
    ExecOutput::ok(out)
}

async fn sleep(args: &[String]) -> ExecOutput {
    let Some(arg) = args.first() else { return ExecOutput::fail(1, "sleep: missing operand\n") };
    if arg == "infinity" {
        std::future::pending::<()>().await;
    }
    let secs: f64 = match arg.trim_end_matches('s').parse::<f64>() {
        Ok(s) if s >= 0.0 && s.is_finite() => s.min(MAX_SLEEP.as_secs_f64()),
        _ => return ExecOutput::fail(1, format!("sleep: invalid time interval '{arg}'\n")),
    };
    tokio::time::sleep(Duration::from_secs_f64(secs)).await;
    ExecOutput::default()
}
