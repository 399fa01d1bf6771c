//! `meshform workspace new | select | delete`: workspaces created, selected for a configuration
//! directory (`.meshform/workspace`) and deleted, with Terraform's refusals.

use std::sync::Arc;
use std::time::Duration;

use meshform_core::Mode;
use meshform_state::backend::{self, Backend, BackendContext};
use meshform_state::encryption::{Encryption, Target};
use meshform_state::{LockInfo, State, StateError, DEFAULT_WORKSPACE};

/// Why a workspace operation was refused or failed.
#[derive(Debug, thiserror::Error)]
pub enum WorkspaceOpError {
    #[error(
        "the workspace name {0:?} is not allowed; use letters, digits, '-' and '_' (at most 90 \
         characters)"
    )]
    InvalidName(String),
    #[error("workspace {0:?} already exists; select it with `meshform workspace select {0}`")]
    Exists(String),
    #[error(
        "workspace {0:?} doesn't exist; create it with `meshform workspace new {0}` (`meshform \
         workspace list` shows the existing ones)"
    )]
    Missing(String),
    #[error(
        "workspace {0:?} is the selected workspace and cannot be deleted; select another one \
         first (`meshform workspace select default`)"
    )]
    Selected(String),
    #[error("the default workspace cannot be deleted")]
    Default,
    #[error(
        "workspace {name:?} is not empty: its state still holds {}:\n{}\ndestroy them first \
         (`meshform destroy --workspace {name}`), or delete anyway with --force (they will no \
         longer be managed by meshform)",
        if objects.len() == 1 { "a managed object" } else { "managed objects" },
        objects.iter().map(|o| format!("  - {o}")).collect::<Vec<_>>().join("\n")
    )]
    NotEmpty { name: String, objects: Vec<String> },
    #[error("cannot record the selected workspace in {path}: {source}")]
    Record { path: String, source: std::io::Error },
    #[error(transparent)]
    State(#[from] StateError),
}

/// Checks a name for a new workspace as Terraform does: letters, digits, `-` and `_`.
pub fn check_new_name(name: &str) -> Result<(), WorkspaceOpError> {
    let ok = !name.is_empty()
        && name.len() <= 90
        && name.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '-' | '_'));
    if ok {
        Ok(())
    } else {
        Err(WorkspaceOpError::InvalidName(name.to_owned()))
    }
}

/// The context of workspace `name` in the context's directory and environment.
fn named(ctx: &BackendContext, name: &str) -> BackendContext {
    BackendContext { workspace: name.to_owned(), ..ctx.clone() }
}

fn record(ctx: &BackendContext, name: &str) -> Result<(), WorkspaceOpError> {
    backend::select_workspace(&ctx.dir, name).map_err(|source| WorkspaceOpError::Record {
        path: backend::selected_workspace_path(&ctx.dir).display().to_string(),
        source,
    })
}

/// `meshform workspace new NAME`: creates the workspace's empty state in the backend and selects
/// it; refuses an existing workspace.
pub fn create(backend: &Backend, ctx: &BackendContext, name: &str) -> Result<(), WorkspaceOpError> {
    create_encrypted(backend, ctx, name, Arc::new(Encryption::none(Target::State)))
}

/// [`create`], the new state encrypted at rest as `encryption` (the configuration's) says.
pub fn create_encrypted(
    backend: &Backend,
    ctx: &BackendContext,
    name: &str,
    encryption: Arc<Encryption>,
) -> Result<(), WorkspaceOpError> {
    check_new_name(name)?;
    if backend.workspaces(&ctx.dir)?.iter().any(|w| w == name) {
        return Err(WorkspaceOpError::Exists(name.to_owned()));
    }
    // The workspace's own store: a PostgreSQL backend's settings name the selected workspace.
    let ws = backend.workspace_store(&named(ctx, name))?.with_encryption(encryption);
    ws.store().write(&mut State::new())?;
    record(ctx, name)
}

/// `meshform workspace select NAME`: selects an existing workspace for the configuration
/// directory. Returns whether the selection changed.
pub fn select(
    backend: &Backend,
    ctx: &BackendContext,
    name: &str,
) -> Result<bool, WorkspaceOpError> {
    meshform_state::check_workspace_name(name)
        .map_err(|_| WorkspaceOpError::InvalidName(name.to_owned()))?;
    if !backend.workspaces(&ctx.dir)?.iter().any(|w| w == name) {
        return Err(WorkspaceOpError::Missing(name.to_owned()));
    }
    if ctx.workspace == name && backend::selected_workspace(&ctx.dir).as_deref() == Some(name) {
        return Ok(false);
    }
    record(ctx, name)?;
    Ok(true)
}

/// What `meshform workspace delete` needs besides the name.
pub struct DeleteOptions {
    /// Delete even when the state still holds managed objects.
    pub force: bool,
    /// Who runs it and how long to wait for the workspace's lock.
    pub who: String,
    pub lock_timeout: Duration,
}

/// `meshform workspace delete NAME`: removes a workspace's state under its lock. Refuses the
/// default and the selected (`ctx.workspace`) workspace, a missing one, and — without `force` — one
/// whose state still holds managed objects. Returns the objects left unmanaged by a forced delete.
pub fn delete(
    backend: &Backend,
    ctx: &BackendContext,
    name: &str,
    opts: &DeleteOptions,
) -> Result<Vec<String>, WorkspaceOpError> {
    delete_encrypted(backend, ctx, name, opts, Arc::new(Encryption::none(Target::State)))
}

/// [`delete`], reading the state (to list what it still manages) as `encryption` allows.
pub fn delete_encrypted(
    backend: &Backend,
    ctx: &BackendContext,
    name: &str,
    opts: &DeleteOptions,
    encryption: Arc<Encryption>,
) -> Result<Vec<String>, WorkspaceOpError> {
    if name == DEFAULT_WORKSPACE {
        return Err(WorkspaceOpError::Default);
    }
    meshform_state::check_workspace_name(name)
        .map_err(|_| WorkspaceOpError::InvalidName(name.to_owned()))?;
    if name == ctx.workspace {
        return Err(WorkspaceOpError::Selected(name.to_owned()));
    }
    if !backend.workspaces(&ctx.dir)?.iter().any(|w| w == name) {
        return Err(WorkspaceOpError::Missing(name.to_owned()));
    }
    let ws = backend.workspace_store(&named(ctx, name))?.with_encryption(encryption);
    let objects = {
        let _lock =
            ws.store().lock(LockInfo::new("workspace delete", &opts.who), opts.lock_timeout)?;
        let objects = match ws.store().read() {
            Ok(state) => state.map(|s| managed_objects(&s)).unwrap_or_default(),
            // With --force a state that cannot be opened (its passphrase lost) goes too; what it
            // held cannot be listed, and the warning says so.
            Err(e @ StateError::Encryption { .. }) if opts.force => {
                vec![format!("(what it held cannot be listed: {e})")]
            }
            Err(e) => return Err(e.into()),
        };
        if !objects.is_empty() && !opts.force {
            return Err(WorkspaceOpError::NotEmpty { name: name.to_owned(), objects });
        }
        ws.remove_state()?;
        objects
    };
    ws.remove_leftovers();
    Ok(objects)
}

/// The managed objects a state still holds, sorted: instances, deposed objects and interrupted
/// creates, each marked.
pub fn managed_objects(state: &State) -> Vec<String> {
    let mut out: Vec<String> = state
        .instances()
        .filter(|(a, _, _)| a.resource.mode == Mode::Managed)
        .map(|(a, _, _)| a.to_string())
        .collect();
    out.extend(state.deposed.iter().map(|d| format!("{} (deposed object)", d.address)));
    out.extend(state.pending.iter().map(|p| format!("{} (interrupted create)", p.address)));
    out.sort();
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn new_names_follow_terraform() {
        for ok in ["staging", "dr-2", "eu_west_1", "A9"] {
            assert!(check_new_name(ok).is_ok(), "{ok}");
        }
        for bad in ["", "a.b", "a/b", "x y", "ü", &"a".repeat(91)] {
            assert!(check_new_name(bad).is_err(), "{bad}");
        }
    }

    fn ctx(dir: &std::path::Path, workspace: &str) -> BackendContext {
        BackendContext {
            dir: dir.to_path_buf(),
            workspace: workspace.to_owned(),
            pg: Default::default(),
        }
    }

    #[test]
    fn create_select_delete_on_the_local_backend() {
        let tmp = tempfile::tempdir().unwrap();
        let c = ctx(tmp.path(), "default");
        create(&Backend::Local, &c, "dr").unwrap();
        assert_eq!(backend::selected_workspace(tmp.path()).as_deref(), Some("dr"));
        assert!(matches!(create(&Backend::Local, &c, "dr"), Err(WorkspaceOpError::Exists(_))));
        assert!(select(&Backend::Local, &c, "default").unwrap());
        assert!(matches!(select(&Backend::Local, &c, "nope"), Err(WorkspaceOpError::Missing(_))));
        let opts = DeleteOptions { force: false, who: "t".into(), lock_timeout: Duration::ZERO };
        let in_dr = ctx(tmp.path(), "dr");
        assert!(matches!(
            delete(&Backend::Local, &in_dr, "dr", &opts),
            Err(WorkspaceOpError::Selected(_))
        ));
        assert!(matches!(
            delete(&Backend::Local, &c, "default", &opts),
            Err(WorkspaceOpError::Default)
        ));
        assert!(delete(&Backend::Local, &c, "dr", &opts).unwrap().is_empty());
        assert!(!tmp.path().join("meshform.state.d/dr").exists());
        assert_eq!(Backend::Local.workspaces(tmp.path()).unwrap(), ["default"]);
    }

    #[test]
    fn force_deletes_a_workspace_whose_state_cannot_be_opened() {
        use meshform_state::encryption::{Method, Pbkdf2Key};
        let key = |pass: &str| {
            let method = Method::AesGcm(Pbkdf2Key::new("main", pass, 1_000).unwrap().into());
            Arc::new(Encryption::new(Target::State, Some(method), vec![]))
        };
        let tmp = tempfile::tempdir().unwrap();
        let c = ctx(tmp.path(), "default");
        create_encrypted(&Backend::Local, &c, "dr", key("the old passphrase")).unwrap();
        assert!(select(&Backend::Local, &c, "default").unwrap());
        let lost = key("another passphrase");
        let mut opts =
            DeleteOptions { force: false, who: "t".into(), lock_timeout: Duration::ZERO };
        assert!(
            matches!(
                delete_encrypted(&Backend::Local, &c, "dr", &opts, Arc::clone(&lost)),
                Err(WorkspaceOpError::State(_))
            ),
            "without --force an unreadable state is kept"
        );
        assert_eq!(Backend::Local.workspaces(tmp.path()).unwrap(), ["default", "dr"]);
        opts.force = true;
        let left = delete_encrypted(&Backend::Local, &c, "dr", &opts, lost).unwrap();
        assert!(left[0].starts_with("(what it held cannot be listed: "), "{left:?}");
        assert_eq!(Backend::Local.workspaces(tmp.path()).unwrap(), ["default"]);
    }
}
