//! The command-line definition (clap). Help text is in the imperative mood, without a trailing period.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand, ValueEnum};

#[derive(Debug, Parser)]
#[command(
    name = "meshform",
    version,
    about = "Plan and apply multi-cluster service-mesh disaster-recovery topologies",
    propagate_version = true
)]
pub struct Cli {
    /// Run as if started in DIR (the configuration directory)
    #[arg(short = 'C', long = "chdir", global = true, value_name = "DIR")]
    pub chdir: Option<PathBuf>,

    /// Disable colour in output
    #[arg(long, global = true)]
    pub no_color: bool,

    /// Use the state of workspace NAME (default: "default")
    #[arg(long, global = true, env = "MESHFORM_WORKSPACE", value_name = "NAME")]
    pub workspace: Option<String>,

    #[command(subcommand)]
    pub command: Command,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Check the configuration against provider schemas, without network access
    Validate {
        /// Print the result as JSON
        #[arg(long)]
        json: bool,
    },
    /// Rewrite configuration files in canonical style
    Fmt {
        /// Exit with status 3 if any file is not formatted, without rewriting
        #[arg(long)]
        check: bool,
        /// Show the changes as a unified diff
        #[arg(long)]
        diff: bool,
        /// Also format the *.hcl files of subdirectories (hidden ones and .meshform skipped)
        #[arg(long)]
        recursive: bool,
        /// Files to format (default: the *.hcl files of the configuration directory)
        files: Vec<PathBuf>,
    },
    /// Set up the state backend, moving existing state into it
    Init {
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Refresh live objects and show what apply would change
    Plan {
        #[command(flatten)]
        plan: PlanArgs,
        /// Save the plan to FILE, for `meshform apply FILE`
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
        /// Print the plan as a Markdown pull-request comment
        #[arg(long, conflicts_with = "json")]
        markdown: bool,
    },
    /// Plan and apply the changes, or apply a saved plan
    Apply {
        /// A plan saved with `meshform plan --out FILE`: apply exactly it, without asking
        #[arg(value_name = "PLANFILE")]
        plan_file: Option<PathBuf>,
        #[command(flatten)]
        plan: PlanArgs,
        /// Apply without asking for confirmation
        #[arg(long)]
        auto_approve: bool,
        /// Apply what could be planned even if some of it could not (during an outage); what was left
        /// out is listed
        #[arg(long)]
        allow_incomplete: bool,
    },
    /// Plan and apply the destruction of everything in state
    Destroy {
        #[command(flatten)]
        plan: PlanArgs,
        /// Destroy without asking for confirmation
        #[arg(long)]
        auto_approve: bool,
        /// Destroy what could be planned even if some of it could not; what was left out is listed
        #[arg(long)]
        allow_incomplete: bool,
    },
    /// Show the state, or a saved plan
    Show {
        /// A plan saved with `meshform plan --out FILE`
        #[arg(value_name = "PLANFILE")]
        plan_file: Option<PathBuf>,
        /// Print as JSON (secrets redacted)
        #[arg(long)]
        json: bool,
        /// Print the saved plan as a Markdown pull-request comment
        #[arg(long, conflicts_with = "json", requires = "plan_file")]
        markdown: bool,
    },
    /// Print output values
    Output {
        /// Print only this output
        name: Option<String>,
        /// Print as JSON
        #[arg(long, conflicts_with = "raw")]
        json: bool,
        /// Print the raw string value (reveals a sensitive output named explicitly)
        #[arg(long, requires = "name")]
        raw: bool,
    },
    /// Print the resource graph
    Graph {
        /// Output format
        #[arg(long, value_enum, default_value_t = GraphFormat::Dot)]
        format: GraphFormat,
    },
    /// Inspect and change the state
    #[command(subcommand)]
    State(StateCommand),
    /// Adopt an existing object into state
    Import {
        /// The resource instance address in the configuration (e.g. local_file.a)
        address: String,
        /// The provider-specific id of the object (for local_file: its path)
        id: String,
        #[command(flatten)]
        vars: VarArgs,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Run the configuration's check blocks against live infrastructure
    Verify {
        /// Run only this check; repeatable
        #[arg(long = "check", value_name = "NAME")]
        checks: Vec<String>,
        /// Print the results as JSON
        #[arg(long)]
        json: bool,
        /// Exit 0 when every check passed or could not reach what it checks (a cluster that is down)
        #[arg(long)]
        allow_unreachable: bool,
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Run the emulated cloud (ASM and Kubernetes API servers) on loopback
    #[command(subcommand)]
    Sandbox(SandboxCommand),
    /// Manage workspaces (states stored side by side): list, show, new, select, delete
    #[command(subcommand)]
    Workspace(WorkspaceCommand),
    /// Show the providers' schemas
    #[command(subcommand)]
    Providers(ProvidersCommand),
    /// Evaluate expressions against the configuration and state, one per line of standard input
    Console {
        #[command(flatten)]
        vars: VarArgs,
    },
    /// Print a shell completion script (e.g. `meshform completions bash > /etc/bash_completion.d/meshform`)
    Completions {
        /// The shell
        #[arg(value_enum)]
        shell: CompletionShell,
    },
    /// Print the manual page in roff (e.g. `meshform man > meshform.1; man ./meshform.1`)
    Man,
    /// Print meshform's version, platform and providers
    Version {
        /// As JSON
        #[arg(long)]
        json: bool,
    },
    /// Mark an instance for replacement by the next plan (like `plan --replace ADDR`, but kept in state)
    Taint {
        /// The instance address (e.g. 'asm_service_mesh.mesh["cluster-1"]')
        address: String,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Remove the tainted mark from an instance
    Untaint {
        /// The instance address
        address: String,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Release a lock left behind by a killed run
    ForceUnlock {
        /// The lock id printed by the run that failed to get the lock
        lock_id: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum SandboxCommand {
    /// Start the sandbox and write its description (sandbox.json)
    Up {
        #[command(flatten)]
        dir: SandboxDir,
        /// Run in the background and return once it is ready
        #[arg(long)]
        detach: bool,
        /// How long the emulated ASM's asynchronous transitions take (e.g. 1500ms, 2s)
        #[arg(long, value_name = "DURATION", default_value = "1500ms")]
        transition_delay: String,
        /// How many clusters, named cluster-1 … cluster-N, spread over regions, one VPC each
        /// (default: as many as this directory's sandbox had, 2 for a new one)
        #[arg(long, value_name = "N")]
        clusters: Option<usize>,
    },
    /// Stop a sandbox started with --detach (its state stays in the directory)
    Down {
        #[command(flatten)]
        dir: SandboxDir,
    },
    /// Take a cluster, a mesh's control plane or a region down, for disaster drills
    Outage {
        #[command(flatten)]
        dir: SandboxDir,
        #[command(flatten)]
        target: OutageTargetArgs,
    },
    /// End outages (all of them unless --cluster, --mesh or --region is given)
    Restore {
        #[command(flatten)]
        dir: SandboxDir,
        #[command(flatten)]
        target: OutageTargetArgs,
    },
    /// Show what the sandbox runs and holds
    Status {
        #[command(flatten)]
        dir: SandboxDir,
        /// Print the description and live content as JSON
        #[arg(long)]
        json: bool,
    },
}

/// What an outage or a restore is about: at most one of a cluster, a mesh and a region.
#[derive(Debug, Clone, Args)]
#[group(multiple = false)]
pub struct OutageTargetArgs {
    /// The cluster (name or id) that goes down whole: API server, pods, cross-cluster gateway
    #[arg(long, value_name = "NAME")]
    pub cluster: Option<String>,
    /// The mesh (name or id) whose control plane goes down
    #[arg(long, value_name = "NAME")]
    pub mesh: Option<String>,
    /// The region whose ASM control planes and clusters go down
    #[arg(long, value_name = "ID")]
    pub region: Option<String>,
}

#[derive(Debug, Clone, Args)]
pub struct SandboxDir {
    /// The sandbox directory (default: .meshform/sandbox in the configuration directory)
    #[arg(long, value_name = "DIR")]
    pub dir: Option<PathBuf>,
}

#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum GraphFormat {
    Dot,
    Mermaid,
}

#[derive(Debug, Subcommand)]
pub enum StateCommand {
    /// List the instances in state
    List {
        /// Only addresses matching these (TYPE.NAME or TYPE.NAME[KEY])
        addresses: Vec<String>,
    },
    /// Show one instance's attributes (secrets redacted)
    Show { address: String },
    /// Forget instances without destroying them
    Rm {
        #[arg(required = true)]
        addresses: Vec<String>,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Move an instance or resource to another address
    Mv {
        source: String,
        destination: String,
        #[command(flatten)]
        lock: LockArgs,
    },
    /// Print the raw state document
    Pull,
    /// Replace the state with a file's content
    Push {
        file: PathBuf,
        /// Push even when lineage differs or the serial is not newer
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        lock: LockArgs,
    },
}

/// The shells `meshform completions` writes scripts for.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum CompletionShell {
    Bash,
    Zsh,
    Fish,
}

#[derive(Debug, Subcommand)]
pub enum ProvidersCommand {
    /// Print every provider's configuration, resource and data source schemas (as `terraform
    /// providers schema -json`)
    Schema {
        /// Print as JSON (required)
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum WorkspaceCommand {
    /// List the workspaces that have a state, the selected one marked with *
    List,
    /// Print the selected workspace
    Show,
    /// Create a workspace with an empty state and select it
    New {
        /// Letters, digits, '-' and '_'
        name: String,
    },
    /// Select a workspace for this configuration directory (kept in .meshform/workspace)
    Select { name: String },
    /// Delete a workspace's state (not the selected one, not default)
    Delete {
        name: String,
        /// Delete even if its state still holds managed objects (they are then no longer managed)
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        lock: LockArgs,
    },
}

#[derive(Debug, Clone, Args, Default)]
pub struct VarArgs {
    /// Set a variable (NAME=VALUE); repeatable
    #[arg(long = "var", value_name = "NAME=VALUE")]
    pub vars: Vec<String>,
    /// Load variables from a file; repeatable
    #[arg(long = "var-file", value_name = "FILE")]
    pub var_files: Vec<PathBuf>,
}

#[derive(Debug, Clone, Args)]
pub struct LockArgs {
    /// How long to wait for the state lock (e.g. 30s, 5m)
    #[arg(long, value_name = "DURATION", default_value = "0s")]
    pub lock_timeout: String,
}

#[derive(Debug, Clone, Args)]
pub struct PlanArgs {
    #[command(flatten)]
    pub vars: VarArgs,
    #[command(flatten)]
    pub lock: LockArgs,
    /// Exit 0 when there are no changes, 2 when there are, 1 on error
    #[arg(long)]
    pub detailed_exitcode: bool,
    /// Print machine-readable JSON lines
    #[arg(long)]
    pub json: bool,
    /// Plan the destruction of everything in state
    #[arg(long)]
    pub destroy: bool,
    /// Only reconcile state with live objects; change nothing
    #[arg(long)]
    pub refresh_only: bool,
    /// Refresh live objects first (--refresh=false to skip)
    #[arg(
        long,
        default_value_t = true,
        action = clap::ArgAction::Set,
        num_args = 0..=1,
        require_equals = true,
        default_missing_value = "true",
        value_parser = parse_bool,
        value_name = "BOOL"
    )]
    pub refresh: bool,
    /// Limit the plan to this resource or instance and what it depends on (when destroying: what
    /// depends on it); repeatable
    #[arg(long = "target", value_name = "ADDR")]
    pub targets: Vec<String>,
    /// Leave this resource and what depends on it out of the plan; repeatable
    #[arg(long = "exclude", value_name = "ADDR")]
    pub excludes: Vec<String>,
    /// Force the replacement of this instance; repeatable
    #[arg(long = "replace", value_name = "ADDR")]
    pub replace: Vec<String>,
    /// At most N provider operations at once
    #[arg(long, default_value_t = 10, value_name = "N", value_parser = clap::value_parser!(u16).range(1..))]
    pub parallelism: u16,
}

/// A boolean flag value as Go's `flag` package (and so Terraform) takes it: `1 0 t f T F true false
/// TRUE FALSE True False`.
fn parse_bool(s: &str) -> Result<bool, String> {
    match s {
        "1" | "t" | "T" | "true" | "TRUE" | "True" => Ok(true),
        "0" | "f" | "F" | "false" | "FALSE" | "False" => Ok(false),
        _ => Err(format!("{s:?} is not a boolean: write true or false")),
    }
}

/// Terraform's flag habits: Go's `flag` package reads `-name` as `--name`, so pipelines written for
/// Terraform say `-auto-approve`, `-out=plan.bin`, `-var 'a=b'`. Every argument written with one dash
/// and the name of one of meshform's long options (up to `=`) is given its second dash; everything
/// else (short options such as `-C DIR`, values, positional arguments, what follows `--`) is left for
/// clap.
pub fn terraform_style(args: Vec<std::ffi::OsString>) -> Vec<std::ffi::OsString> {
    use clap::CommandFactory;
    let mut long = std::collections::BTreeSet::new();
    let mut stack = vec![Cli::command()];
    while let Some(cmd) = stack.pop() {
        for a in cmd.get_arguments() {
            long.extend(a.get_long_and_visible_aliases().into_iter().flatten().map(str::to_owned));
        }
        long.extend(["help".to_owned(), "version".to_owned()]);
        stack.extend(cmd.get_subcommands().cloned());
    }
    let mut rest_positional = false;
    args.into_iter()
        .enumerate()
        .map(|(i, arg)| {
            if i == 0 || rest_positional {
                return arg;
            }
            let Some(text) = arg.to_str() else { return arg };
            if text == "--" {
                rest_positional = true;
                return arg;
            }
            match text.strip_prefix('-') {
                Some(flag) if !flag.starts_with('-') && flag.len() > 1 => {
                    let name = flag.split('=').next().unwrap_or(flag);
                    if long.contains(name) {
                        format!("-{text}").into()
                    } else {
                        arg
                    }
                }
                _ => arg,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn normalized(args: &[&str]) -> Vec<String> {
        terraform_style(args.iter().map(Into::into).collect())
            .into_iter()
            .map(|a| a.to_string_lossy().into_owned())
            .collect()
    }

    #[test]
    fn single_dash_long_flags_read_as_terraform_reads_them() {
        assert_eq!(
            normalized(&["meshform", "apply", "-auto-approve", "-out=p.bin", "-var", "a=b"]),
            ["meshform", "apply", "--auto-approve", "--out=p.bin", "--var", "a=b"]
        );
        assert_eq!(
            normalized(&["meshform", "-chdir=x", "plan", "-refresh=false", "-lock-timeout=5m"]),
            ["meshform", "--chdir=x", "plan", "--refresh=false", "--lock-timeout=5m"]
        );
        // Short options, values, unknown names and what follows `--` are clap's to judge.
        assert_eq!(
            normalized(&[
                "meshform", "-C", "dir", "plan", "-x", "--target", "-nope", "--", "-json"
            ]),
            ["meshform", "-C", "dir", "plan", "-x", "--target", "-nope", "--", "-json"]
        );
    }

    #[test]
    fn go_booleans() {
        for t in ["1", "t", "T", "true", "TRUE", "True"] {
            assert_eq!(parse_bool(t), Ok(true));
        }
        for f in ["0", "f", "F", "false", "FALSE", "False"] {
            assert_eq!(parse_bool(f), Ok(false));
        }
        assert!(parse_bool("yes").is_err());
    }
}
