//! What `meshform` has in a directory after `. .meshform/sandbox/sandbox.env`, for benchmarks that
//! run the engine in process against an in-process sandbox: the CLI's settings with the sandbox's
//! endpoints, AccessKey and `MESHFORM_VAR_*` cluster ids.

use std::collections::BTreeMap;
use std::path::Path;

use meshform_cli::settings::Settings;
use meshform_sandbox::Sandbox;

/// The settings `meshform apply` would have in `dir` after `. .meshform/sandbox/sandbox.env`.
pub fn settings(dir: &Path, sandbox: &Sandbox) -> Settings {
    let mut env_vars = Vec::new();
    let mut provider_vars = BTreeMap::new();
    for (name, value) in meshform_sandbox::envfile::variables(sandbox.description()) {
        match name.strip_prefix("MESHFORM_VAR_") {
            Some(var) => env_vars.push((var.to_owned(), value)),
            None => {
                provider_vars.insert(name, value);
            }
        }
    }
    env_vars.sort();
    Settings {
        dir: dir.to_path_buf(),
        color: false,
        color_stderr: false,
        interactive: false,
        stderr_tty: false,
        env_vars,
        who: "bench@localhost".to_owned(),
        provider_env: meshform_provider_asm::credentials::ProviderEnv {
            vars: provider_vars,
            home: None,
        },
        kube_env: meshform_provider_kubernetes::KubeEnv::default(),
        workspace: meshform_state::DEFAULT_WORKSPACE.to_owned(),
        pg: meshform_state::backend::PgEnvironment::default(),
    }
}
