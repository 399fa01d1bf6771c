//! What meshform takes from the environment: variables, colour, CI mode, the user's name.

use std::io::IsTerminal;
use std::path::PathBuf;

use meshform_state::backend::{BackendContext, PgEnvironment};

use crate::args::Cli;

/// The libpq variables the PostgreSQL backend honours (and `USER`, libpq's default user name).
const PG_VARIABLES: &[&str] = &[
    "PGHOST",
    "PGPORT",
    "PGUSER",
    "PGPASSWORD",
    "PGDATABASE",
    "PGSSLMODE",
    "PGSSLROOTCERT",
    "PGSSLCERT",
    "PGSSLKEY",
    "PGCONNECT_TIMEOUT",
    "PGAPPNAME",
    "USER",
];

/// Process-level settings, read once in `run`.
#[derive(Debug, Clone)]
pub struct Settings {
    /// The configuration directory.
    pub dir: PathBuf,
    /// Colour in what goes to stdout (plans), decided from stdout: `meshform plan > plan.txt` from a
    /// terminal writes no escape codes.
    pub color: bool,
    /// Colour in what goes to stderr (diagnostics), decided from stderr.
    pub color_stderr: bool,
    /// stdin is a terminal (prompts are possible).
    pub interactive: bool,
    /// stderr is a terminal.
    pub stderr_tty: bool,
    /// `MESHFORM_VAR_<name>` values, prefix removed, sorted.
    pub env_vars: Vec<(String, String)>,
    /// Who runs meshform (for lock info).
    pub who: String,
    /// What Alibaba Cloud providers may read of the environment (`ALIBABA_CLOUD_*`, `ALICLOUD_*`, the
    /// home directory).
    pub provider_env: meshform_provider_asm::credentials::ProviderEnv,
    /// What the kubernetes provider may read of the environment (`KUBECONFIG`, the home directory).
    pub kube_env: meshform_provider_kubernetes::KubeEnv,
    /// The workspace (`--workspace`, `MESHFORM_WORKSPACE`, `.meshform/workspace` as `meshform
    /// workspace select` left it, else `default`).
    pub workspace: String,
    /// What the PostgreSQL backend takes from the environment.
    pub pg: PgEnvironment,
}

impl Settings {
    /// Where this run keeps its state: the directory, the workspace, the PostgreSQL environment.
    pub fn backend_context(&self) -> BackendContext {
        BackendContext {
            dir: self.dir.clone(),
            workspace: self.workspace.clone(),
            pg: self.pg.clone(),
        }
    }

    pub fn from_env(cli: &Cli) -> Settings {
        let dir = cli.chdir.clone().unwrap_or_else(|| PathBuf::from("."));
        let workspace = cli
            .workspace
            .clone()
            .or_else(|| meshform_state::backend::selected_workspace(&dir))
            .unwrap_or_else(|| meshform_state::DEFAULT_WORKSPACE.to_owned());
        let no_color = cli.no_color || std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        let force = std::env::var("CLICOLOR_FORCE").is_ok_and(|v| !v.is_empty() && v != "0");
        let stderr_tty = std::io::stderr().is_terminal();
        let ci = std::env::var("CI").is_ok_and(|v| v == "true" || v == "1");
        let colour = |tty: bool| colour(no_color, force, tty, ci);
        let mut env_vars: Vec<(String, String)> = std::env::vars()
            .filter_map(|(k, v)| k.strip_prefix("MESHFORM_VAR_").map(|n| (n.to_owned(), v)))
            .collect();
        env_vars.sort();
        let user = std::env::var("USER")
            .or_else(|_| std::env::var("USERNAME"))
            .unwrap_or_else(|_| "unknown".into());
        let host = std::fs::read_to_string("/etc/hostname")
            .map(|h| h.trim().to_owned())
            .unwrap_or_else(|_| "localhost".into());
        Settings {
            dir,
            color: colour(std::io::stdout().is_terminal()),
            color_stderr: colour(stderr_tty),
            interactive: std::io::stdin().is_terminal() && !ci,
            stderr_tty,
            env_vars,
            who: format!("{user}@{host}"),
            provider_env: meshform_provider_asm::credentials::ProviderEnv {
                vars: std::env::vars()
                    .filter(|(k, _)| k.starts_with("ALIBABA_CLOUD_") || k.starts_with("ALICLOUD_"))
                    .collect(),
                home: std::env::var_os("HOME").map(PathBuf::from),
            },
            kube_env: meshform_provider_kubernetes::KubeEnv {
                kubeconfig: std::env::var("KUBECONFIG").ok().filter(|k| !k.is_empty()),
                home: std::env::var_os("HOME").map(PathBuf::from),
                in_cluster: std::env::var_os("KUBERNETES_SERVICE_HOST")
                    .is_some_and(|h| !h.is_empty()),
            },
            workspace,
            pg: PgEnvironment {
                conn_str: std::env::var("MESHFORM_PG_CONN_STR").ok().filter(|s| !s.is_empty()),
                vars: std::env::vars()
                    .filter(|(k, _)| PG_VARIABLES.contains(&k.as_str()))
                    .collect(),
            },
        }
    }
}

/// Whether a stream gets colour: never with `--no-color` or `NO_COLOR`; always with `CLICOLOR_FORCE`
/// (not `0`); otherwise when the stream is a terminal, outside CI.
fn colour(no_color: bool, force: bool, tty: bool, ci: bool) -> bool {
    !no_color && (force || (tty && !ci))
}

#[cfg(test)]
mod tests {
    use super::colour;

    #[test]
    fn colour_per_stream() {
        assert!(colour(false, false, true, false), "a terminal");
        assert!(!colour(false, false, false, false), "a file or a pipe");
        assert!(!colour(false, false, true, true), "CI logs");
        assert!(colour(false, true, false, true), "CLICOLOR_FORCE");
        assert!(!colour(true, true, true, false), "NO_COLOR and --no-color win");
    }
}
