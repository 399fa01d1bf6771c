//! `meshform sandbox up | down | status | outage | restore`: the emulated cloud on loopback.

use std::ffi::OsString;
use std::path::{Path, PathBuf};
use std::time::Duration;

use meshform_sandbox::launch::{check_cluster_count, Identity};
use meshform_sandbox::process::{self, running, DetachError, DetachOptions, Stopped};
use meshform_sandbox::{Description, Sandbox, SandboxError, SandboxOptions};

use super::{parse_duration, usage_error};
use crate::args::{OutageTargetArgs, SandboxCommand, SandboxDir};
use crate::output::Output;
use crate::report::exit;
use crate::settings::Settings;

fn dir_of(settings: &Settings, d: &SandboxDir) -> PathBuf {
    d.dir.clone().unwrap_or_else(|| settings.dir.join(".meshform").join("sandbox"))
}

pub async fn sandbox(settings: &Settings, cmd: SandboxCommand) -> u8 {
    match cmd {
        SandboxCommand::Up { dir, detach, transition_delay, clusters } => {
            let dir = dir_of(settings, &dir);
            let delay = match parse_duration(&transition_delay) {
                Ok(d) => d,
                Err(m) => return usage_error(settings, &m, "e.g. --transition-delay 2s"),
            };
            if let Some(Err(e)) = clusters.map(check_cluster_count) {
                return usage_error(settings, &format!("--clusters: {e}"), "e.g. --clusters 3");
            }
            if let Some(d) = running(&dir) {
                if let Some(n) = clusters.filter(|n| *n != d.clusters.len()) {
                    return usage_error(
                        settings,
                        &format!(
                            "a sandbox with {} clusters is already running in {}, not {n}",
                            d.clusters.len(),
                            dir.display()
                        ),
                        &format!(
                            "stop it with `meshform sandbox down`, then `meshform sandbox up --clusters {n}` (more clusters are added; the existing ones are kept)"
                        ),
                    );
                }
                print_summary(&d, &dir);
                println_out("The sandbox was already running.");
                return exit::OK;
            }
            if let Err(e) = Identity::check_clusters(&dir, clusters) {
                return start_error(settings, &e);
            }
            if detach {
                up_detached(settings, &dir, &transition_delay, clusters).await
            } else {
                up_foreground(settings, &dir, delay, clusters).await
            }
        }
        SandboxCommand::Down { dir } => down(&dir_of(settings, &dir)).await,
        SandboxCommand::Status { dir, json } => {
            status(settings, &dir_of(settings, &dir), json).await
        }
        SandboxCommand::Outage { dir, target } => {
            if target.cluster.is_none() && target.mesh.is_none() && target.region.is_none() {
                return usage_error(
                    settings,
                    "say what goes down",
                    "give --cluster NAME, --mesh NAME or --region ID",
                );
            }
            admin_post(settings, &dir_of(settings, &dir), "outage", target).await
        }
        SandboxCommand::Restore { dir, target } => {
            admin_post(settings, &dir_of(settings, &dir), "restore", target).await
        }
    }
}

fn println_out(s: &str) {
    Output.line(s);
}

fn print_summary(d: &Description, dir: &Path) {
    print_summary_marked(d, dir, &[]);
}

/// The summary; the clusters named in `down` are marked.
fn print_summary_marked(d: &Description, dir: &Path, down: &[String]) {
    Output.line(format_args!(
        "Sandbox running (pid {}), described in {}",
        d.pid,
        dir.join("sandbox.json").display()
    ));
    Output.line(format_args!(
        "  ASM API      {}  (access key {})",
        d.asm.endpoint, d.asm.access_key_id
    ));
    if let Some(cs) = &d.cs {
        Output.line(format_args!("  ACK (CS) API {}", cs.endpoint));
    }
    for c in &d.clusters {
        let api = c.api_server.as_deref().unwrap_or("-");
        let mark = if down.contains(&c.name) { "  DOWN" } else { "" };
        Output.line(format_args!(
            "  {:<12} {}  {}  {}  {}{mark}",
            c.name, c.id, c.region, c.vpc_id, api
        ));
        if let Some(k) = &c.kubeconfig {
            Output.line(format_args!("               kubeconfig {k}"));
        }
    }
    let env_file = dir.join(meshform_sandbox::envfile::ENV_FILE);
    if env_file.exists() {
        let mut names: Vec<String> = d
            .clusters
            .iter()
            .map(|c| meshform_sandbox::envfile::cluster_id_variable(&c.name))
            .collect();
        // Many clusters: the first two and the last are enough to show the pattern.
        if names.len() > 4 {
            let last = names.pop().unwrap_or_default();
            names.truncate(2);
            names.extend(["…".to_owned(), last]);
        }
        Output.line(format_args!(
            "To run meshform against it, in your shell: . {}\n  (the endpoints and AccessKey as ALIBABA_CLOUD_* variables, the cluster ids as {})",
            env_file.display(),
            names.join(", ")
        ));
    }
}

async fn up_foreground(
    settings: &Settings,
    dir: &Path,
    delay: Duration,
    clusters: Option<usize>,
) -> u8 {
    let mut opts = SandboxOptions::new(dir);
    opts.transition_delay = delay;
    opts.clusters = clusters;
    let sandbox = match Sandbox::start(opts).await {
        Ok(s) => s,
        Err(e) => return start_error(settings, &e),
    };
    print_summary(sandbox.description(), dir);
    println_out("Press Ctrl-C to stop (state is kept in the directory).");
    wait_for_stop().await;
    sandbox.shutdown().await;
    println_out("Sandbox stopped.");
    exit::OK
}

/// Why the sandbox cannot start, and what to do.
fn start_error(settings: &Settings, e: &SandboxError) -> u8 {
    let help = match e {
        SandboxError::FewerClusters { have, .. } => format!(
            "start it with --clusters {have} (or more), or remove the directory to start afresh"
        ),
        SandboxError::ClusterCount { .. } => "e.g. --clusters 3".to_owned(),
        _ => "check the sandbox directory, or remove it to start afresh".to_owned(),
    };
    usage_error(settings, &format!("the sandbox did not start: {e}"), &help)
}

async fn wait_for_stop() {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{signal, SignalKind};
        if let Ok(mut term) = signal(SignalKind::terminate()) {
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            return;
        }
    }
    let _ = tokio::signal::ctrl_c().await;
}

async fn up_detached(settings: &Settings, dir: &Path, delay: &str, clusters: Option<usize>) -> u8 {
    let exe = match std::env::current_exe() {
        Ok(e) => e,
        Err(e) => {
            return usage_error(
                settings,
                &format!("cannot find the meshform executable: {e}"),
                "run meshform by its path",
            )
        }
    };
    let mut args: Vec<OsString> = vec!["sandbox".into(), "up".into(), "--dir".into()];
    args.extend([dir.as_os_str().to_owned(), "--transition-delay".into(), delay.into()]);
    if let Some(n) = clusters {
        args.extend(["--clusters".into(), n.to_string().into()]);
    }
    let opts = DetachOptions {
        program: exe,
        args,
        dir: dir.to_path_buf(),
        ready_timeout: Duration::from_secs(60),
    };
    match process::start_detached(&opts).await {
        Ok(d) => {
            print_summary(&d, dir);
            println_out(&format!("Stop it with: meshform sandbox down --dir {}", dir.display()));
            exit::OK
        }
        Err(e) => {
            let help = match &e {
                DetachError::CreateDir { .. } => "choose another --dir".to_owned(),
                DetachError::OpenLog { .. } => "check permissions".to_owned(),
                DetachError::Spawn(_) => "see the log".to_owned(),
                DetachError::NotReady { log } => format!("see {}", log.display()),
            };
            usage_error(settings, &e.to_string(), &help)
        }
    }
}

async fn down(dir: &Path) -> u8 {
    match process::stop(dir, Duration::from_secs(30)).await {
        Stopped::NotRunning => println_out(&format!("No sandbox is running in {}.", dir.display())),
        Stopped::Stopped { .. } => {
            println_out(&format!("Sandbox stopped; its state stays in {}.", dir.display()))
        }
    }
    exit::OK
}

async fn status(settings: &Settings, dir: &Path, json: bool) -> u8 {
    let Some(d) = running(dir) else {
        return usage_error(
            settings,
            &format!("no sandbox is running in {}", dir.display()),
            "start one with `meshform sandbox up --detach`",
        );
    };
    let doc: serde_json::Value = match reqwest::get(format!("{}/status", d.admin)).await {
        Ok(r) => match r.text().await.ok().and_then(|t| serde_json::from_str(&t).ok()) {
            Some(v) => v,
            None => {
                return usage_error(
                    settings,
                    "the sandbox's admin endpoint gave no status",
                    "see sandbox.log in the sandbox directory",
                )
            }
        },
        Err(e) => {
            return usage_error(
                settings,
                &format!("cannot reach the sandbox's admin endpoint: {e}"),
                "is it still running? see sandbox.log",
            )
        }
    };
    if json {
        Output.line(serde_json::to_string_pretty(&doc).unwrap_or_default());
        return exit::OK;
    }
    let strings = |pointer: &str| -> Vec<String> {
        doc.pointer(pointer)
            .and_then(|o| o.as_array())
            .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
            .unwrap_or_default()
    };
    let down_clusters = strings("/outages/clusters");
    print_summary_marked(&d, dir, &down_clusters);
    let mut down: Vec<String> = strings("/outages/regions")
        .iter()
        .map(|r| format!("region {r}: its ASM control planes"))
        .collect();
    down.extend(strings("/outages/meshes").iter().map(|m| format!("mesh {m}: its control plane")));
    down.extend(down_clusters.iter().map(|c| {
        format!(
            "cluster {c}: its API server refuses connections, its pods and gateway answer nothing"
        )
    }));
    Output.line(format_args!("\nOutages:{}", if down.is_empty() { " none" } else { "" }));
    for o in &down {
        Output.line(format_args!("  {o}"));
    }
    if !down.is_empty() {
        Output.line("  end them with `meshform sandbox restore` (or --cluster, --mesh, --region)");
    }
    let meshes = doc.pointer("/asm/meshes").and_then(|m| m.as_array()).cloned().unwrap_or_default();
    Output.line(format_args!("\nMeshes:{}", if meshes.is_empty() { " none" } else { "" }));
    let outages: Vec<String> = doc
        .pointer("/asm/outages")
        .and_then(|o| o.as_array())
        .map(|a| a.iter().filter_map(|x| x.as_str().map(str::to_owned)).collect())
        .unwrap_or_default();
    for m in meshes {
        let s = |k: &str| m.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
        let down = if outages.contains(&s("id")) || outages.contains(&s("region")) {
            "  CONTROL PLANE DOWN"
        } else {
            ""
        };
        Output.line(format_args!(
            "  {} {} ({}, {}){down}",
            s("name"),
            s("id"),
            s("region"),
            s("state")
        ));
        for c in m.get("members").and_then(|x| x.as_array()).cloned().unwrap_or_default() {
            let id = c.get("cluster_id").and_then(|v| v.as_str()).unwrap_or("");
            let dis = c.get("discovery_only").and_then(|v| v.as_bool()).unwrap_or(false);
            Output.line(format_args!(
                "    member {id}{}",
                if dis { " (discovery only)" } else { " (managed)" }
            ));
        }
    }
    print_workloads(&doc);
    exit::OK
}

/// What the clusters run (Deployments), so that the text says whether application objects remain,
/// and per pod the version of its sidecar: `OLD` when it is not the version of the mesh that
/// manages the cluster (the pod was created before an upgrade and needs a restart).
fn print_workloads(doc: &serde_json::Value) {
    let clusters = doc.get("clusters").and_then(|c| c.as_array()).cloned().unwrap_or_default();
    let mut lines = Vec::new();
    let mut old = 0;
    for c in &clusters {
        let cluster = c.get("name").and_then(|v| v.as_str()).unwrap_or("?");
        let mesh_version = c.get("mesh_version").and_then(|v| v.as_str());
        for w in c.get("workloads").and_then(|x| x.as_array()).cloned().unwrap_or_default() {
            let s = |k: &str| w.get(k).and_then(|v| v.as_str()).unwrap_or("").to_owned();
            let n = |k: &str| w.get(k).and_then(|v| v.as_i64()).unwrap_or(0);
            let name = format!("{}/{}", s("namespace"), s("name"));
            lines.push(format!(
                "  {cluster:<12} {name:<32} {}/{} ready",
                n("ready"),
                n("replicas")
            ));
            for p in w.get("pods").and_then(|x| x.as_array()).cloned().unwrap_or_default() {
                let pod = p.get("name").and_then(|v| v.as_str()).unwrap_or("?");
                let ready = p.get("ready").and_then(|v| v.as_bool()).unwrap_or(false);
                let state = if ready { "" } else { "  (not ready)" };
                let proxy = match p.get("proxy_version").and_then(|v| v.as_str()) {
                    None => "no sidecar".to_owned(),
                    Some(v) if mesh_version.is_some_and(|m| m != v) => {
                        old += 1;
                        format!("proxy {v}  OLD: the mesh runs {}", mesh_version.unwrap_or(""))
                    }
                    Some(v) => format!("proxy {v}"),
                };
                lines.push(format!("    {pod:<43} {proxy}{state}"));
            }
        }
    }
    Output.line(format_args!("\nWorkloads:{}", if lines.is_empty() { " none" } else { "" }));
    for l in lines {
        Output.line(l);
    }
    if old > 0 {
        Output.line(format_args!(
            "  {old} pod(s) run the proxy of an earlier mesh version: restart their workloads \
             (`kubectl rollout restart deployment/NAME`) to inject the mesh's proxy"
        ));
    }
}

/// Posts an outage or restore request to the running sandbox's admin endpoint; a refusal comes
/// back as `{"error", "help"}`.
async fn admin_post(settings: &Settings, dir: &Path, what: &str, target: OutageTargetArgs) -> u8 {
    let Some(d) = running(dir) else {
        return usage_error(
            settings,
            &format!("no sandbox is running in {}", dir.display()),
            "start one with `meshform sandbox up --detach`",
        );
    };
    let body = serde_json::json!({
        "cluster": target.cluster,
        "mesh": target.mesh,
        "region": target.region,
    })
    .to_string();
    let client = reqwest::Client::new();
    match client.post(format!("{}/{what}", d.admin)).body(body).send().await {
        Ok(r) => {
            let ok = r.status().is_success();
            let text = r.text().await.unwrap_or_default();
            if ok {
                println_out(&format!("{text}."));
                return exit::OK;
            }
            let refusal: Option<serde_json::Value> = serde_json::from_str(&text).ok();
            let field = |k: &str| {
                refusal.as_ref().and_then(|v| v.get(k)).and_then(|v| v.as_str()).map(str::to_owned)
            };
            match (field("error"), field("help")) {
                (Some(error), Some(help)) => usage_error(settings, &error, &help),
                _ => usage_error(settings, &text, "`meshform sandbox status` shows what is down"),
            }
        }
        Err(e) => usage_error(
            settings,
            &format!("cannot reach the sandbox's admin endpoint: {e}"),
            "is it still running? see sandbox.log",
        ),
    }
}
