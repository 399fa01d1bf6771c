//! In-place upgrades of `asm_service_mesh.istio_version`.
//!
//! ASM computes the version a mesh upgrades to itself — the next one it offers — and
//! `UpgradeMeshEditionPartially`'s `ExpectedVersion` only asserts it. So the plan asks
//! `DescribeUpgradeVersion` and refuses any other target (a skip, a downgrade, the newest version
//! already running) with the allowed one named; apply calls the upgrade with that target and waits
//! on `DescribeServiceMeshUpgradeStatus` until the mesh runs it. A failed upgrade is an error and the
//! mesh keeps its old version (so does the state).
//!
//! The plan looks at the mesh as it is now ([`live`]), not as the state saw it: during a staged
//! rollout, or after an apply killed mid-upgrade, a mesh may already be upgrading to the target
//! ([`Step::InProgress`]: apply waits for it) or already run it ([`Step::Done`]); an upgrade in
//! flight to another version is a plan-time error naming both.

use std::cmp::Ordering;
use std::time::Duration;

use meshform_core::Value;
use meshform_provider::{ErrorKind, Progress, ProviderError};

use crate::client::{AsmClient, Retry};
use crate::mesh::{self, timeout};
use crate::wait::{self, info};

/// How long an upgrade may take (`timeouts { update = "…" }`).
pub const DEFAULT_UPDATE_TIMEOUT: Duration = Duration::from_secs(30 * 60);

/// The numeric parts of `v1.22.6.71-g7d67a80b-aliyun`: `[1, 22, 6, 71]`.
fn numbers(version: &str) -> Vec<u64> {
    let core = version.trim_start_matches('v').split('-').next().unwrap_or_default();
    core.split('.').map_while(|p| p.parse().ok()).collect()
}

/// Orders two ASM versions by their numbers (`None` when either has none).
pub fn compare(a: &str, b: &str) -> Option<Ordering> {
    let (a, b) = (numbers(a), numbers(b));
    (!a.is_empty() && !b.is_empty()).then(|| a.cmp(&b))
}

/// The version `DescribeUpgradeVersion` says the mesh upgrades to (`None`: it runs the newest).
pub async fn allowed_target(
    client: &AsmClient,
    mesh_id: &str,
) -> Result<Option<String>, ProviderError> {
    let params = [("ServiceMeshId".to_owned(), mesh_id.to_owned())];
    // A plan-time read: an unavailable control plane is recognised quickly, as a refresh's is.
    let resp = client.call("DescribeUpgradeVersion", &params, Retry::Read).await?;
    Ok(resp
        .pointer("/Version/IstioVersion")
        .and_then(|v| v.as_str())
        .filter(|v| !v.is_empty())
        .map(str::to_owned))
}

/// Why moving mesh `mesh_id` from `from` to `to` is not an allowed in-place upgrade, or `None`
/// when `to` is the allowed target.
pub fn refusal(mesh_id: &str, from: &str, to: &str, allowed: Option<&str>) -> Option<String> {
    if allowed == Some(to) {
        return None;
    }
    let next = match allowed {
        Some(a) => format!("the only version it can be upgraded to in place is {a}"),
        None => {
            format!("{from} is the newest version ASM offers it, so there is nothing to upgrade to")
        }
    };
    let why = match compare(to, from) {
        Some(Ordering::Less) => format!(
            "ASM cannot downgrade a mesh: mesh {mesh_id} runs {from}, and {to} is older; {next}. To run an older version, replace the mesh (apply with --replace)"
        ),
        Some(Ordering::Greater) if allowed.is_some() => format!(
            "ASM upgrades a mesh in place one version at a time: mesh {mesh_id} runs {from} and {next}; set istio_version to it, apply, then continue towards {to}"
        ),
        _ => format!("mesh {mesh_id} runs {from}: {to} is not an allowed upgrade; {next}"),
    };
    Some(format!("cannot change istio_version to {to}: {why}"))
}

/// The mesh as it is now (not as the state or an earlier refresh saw it): its state, the version it
/// runs, and the version `DescribeUpgradeVersion` says it upgrades to.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Live {
    pub state: String,
    pub version: String,
    /// `None`: it runs the newest version ASM offers.
    pub next: Option<String>,
}

/// How many times [`live`] reads the mesh again when it changed between its calls.
const LIVE_ATTEMPTS: usize = 3;

/// Reads [`Live`]: the detail before and after `DescribeUpgradeVersion`, so that the allowed target
/// belongs to the version reported (an upgrade that ends between the calls is read again).
pub async fn live(client: &AsmClient, mesh_id: &str) -> Result<Live, ProviderError> {
    let snapshot = || async {
        let Some(d) = wait::describe(client, mesh_id, Retry::Read).await? else {
            return Err(ProviderError::new(
                ErrorKind::NotFound,
                "ServiceMesh.NotFound",
                format!("mesh {mesh_id} no longer exists; plan again to create it"),
            ));
        };
        let field = |k: &str| info(&d, k).unwrap_or("unknown").to_owned();
        Ok((field("State"), field("Version")))
    };
    for _ in 0..LIVE_ATTEMPTS {
        let before = snapshot().await?;
        let next = allowed_target(client, mesh_id).await?;
        if snapshot().await? == before {
            let (state, version) = before;
            return Ok(Live { state, version, next });
        }
    }
    Err(ProviderError::new(
        ErrorKind::Busy,
        "MeshChanging",
        format!(
            "mesh {mesh_id} changed state {LIVE_ATTEMPTS} times while meshform read it; plan again"
        ),
    ))
}

/// What applying a change of `istio_version` will do, given the mesh as it is now.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Step {
    /// Start the upgrade (the target is the one ASM allows).
    Start,
    /// The mesh is already upgrading from `from` to the target (an apply killed mid-upgrade,
    /// another run, the console): apply waits for that upgrade instead of starting one.
    InProgress { from: String },
    /// The mesh already runs the target (an upgrade ended after the state was saved): apply only
    /// reads it back.
    Done,
}

impl Step {
    /// What the plan tells the user about mesh `mesh_id`, beyond the change itself.
    pub fn note(&self, mesh_id: &str, to: &str) -> Option<String> {
        match self {
            Step::Start => None,
            Step::InProgress { from } => Some(format!(
                "mesh {mesh_id} is already upgrading from {from} to {to}: apply waits for that upgrade to finish instead of starting another"
            )),
            Step::Done => Some(format!(
                "mesh {mesh_id} already runs {to} (an upgrade finished after the state was saved): apply records it without upgrading again"
            )),
        }
    }
}

/// Decides the [`Step`] towards `to` for mesh `mesh_id` as it is now, or says why it cannot be
/// taken: a refused target ([`refusal`]), or a target other than that of an upgrade in flight.
pub fn decide(mesh_id: &str, to: &str, live: &Live) -> Result<Step, String> {
    let from = live.version.as_str();
    if from == to {
        return Ok(Step::Done);
    }
    // While upgrading, a mesh still reports the version it leaves, and the version it upgrades to
    // is the one ASM allows from there (the caller cannot choose another).
    if let (true, Some(going_to)) = (live.state == "upgrading", live.next.as_deref()) {
        if going_to == to {
            return Ok(Step::InProgress { from: from.to_owned() });
        }
        let after = match compare(to, going_to) {
            Some(Ordering::Less) => format!(
                "ASM cannot cancel an upgrade nor downgrade a mesh, so to run {to} replace the mesh (apply with --replace) once it is over"
            ),
            _ => format!(
                "ASM upgrades one version at a time, so continue towards {to} in a later apply once it is over"
            ),
        };
        return Err(format!(
            "cannot change istio_version to {to}: mesh {mesh_id} is upgrading from {from} to {going_to} right now (started by another run, an interrupted apply or the console). Set istio_version to {going_to} so that apply waits for that upgrade; {after}"
        ));
    }
    match refusal(mesh_id, from, to, live.next.as_deref()) {
        None => Ok(Step::Start),
        Some(why) => Err(why),
    }
}

/// Plan-time check of a change of `istio_version` on an existing mesh, against the mesh as it is
/// now: what apply will do, or an error on `istio_version` saying why it cannot.
pub async fn check(client: &AsmClient, mesh_id: &str, to: &str) -> Result<Step, ProviderError> {
    let live = live(client, mesh_id).await?;
    decide(mesh_id, to, &live).map_err(|why| ProviderError::invalid_config("istio_version", why))
}

/// Upgrades the mesh of `prior` to `planned`'s `istio_version` and waits until it runs it; returns
/// the mesh read back. A mesh that already runs the target is only read back (once running); one
/// already upgrading is waited for first, and upgraded only if it does not run the target then.
pub async fn apply(
    client: &AsmClient,
    prior: &Value,
    planned: &Value,
    progress: &dyn Progress,
) -> Result<Value, ProviderError> {
    let (Some(id), Some(to)) = (prior.get_str("id"), planned.get_str("istio_version")) else {
        return Err(ProviderError::invalid_config(
            "istio_version",
            "an upgrade needs the mesh's id and a known target version",
        ));
    };
    let gateways = planned.get("upgrade_gateways").and_then(Value::as_bool) == Some(true);
    let limit = timeout(planned, "update", DEFAULT_UPDATE_TIMEOUT);
    let start = std::time::Instant::now();
    let left = || limit.saturating_sub(start.elapsed());
    let gone = || {
        ProviderError::new(
            ErrorKind::NotFound,
            "ServiceMesh.NotFound",
            format!("mesh {id} no longer exists; plan again to create it"),
        )
    };
    let detail = wait::describe(client, id, Retry::Idempotent).await?.ok_or_else(gone)?;
    let (mut state, mut from) = (
        info(&detail, "State").unwrap_or("unknown").to_owned(),
        info(&detail, "Version").unwrap_or("its current version").to_owned(),
    );
    if state == "upgrading" && from != to {
        progress.status(&format!(
            "mesh {id} is already upgrading from {from}; waiting for that upgrade to finish"
        ));
        let d = wait::until_running_for(client, id, "update", left(), progress).await?;
        (state, from) = (
            info(&d, "State").unwrap_or("running").to_owned(),
            info(&d, "Version").unwrap_or("its current version").to_owned(),
        );
    }
    if from == to {
        if state != "running" {
            wait::until_running_for(client, id, "update", left(), progress).await?;
        }
        progress.status(&format!("mesh {id} already runs {to}"));
    } else {
        start_upgrade(client, id, &from, to, gateways, left(), progress).await?;
        wait::until_upgraded(client, id, to, left(), progress).await?;
        progress.status(&format!("mesh {id} runs {to}"));
    }
    mesh::read(client, id, planned, Retry::Idempotent).await?.ok_or_else(gone)
}

/// `UpgradeMeshEditionPartially` towards `to`, waiting out another change of the mesh for up to
/// `patience`.
async fn start_upgrade(
    client: &AsmClient,
    id: &str,
    from: &str,
    to: &str,
    gateways: bool,
    patience: Duration,
    progress: &dyn Progress,
) -> Result<(), ProviderError> {
    let with = if gateways { " with its gateways" } else { "" };
    progress.status(&format!("upgrading mesh {id} from {from} to {to}{with}"));
    let params = [
        ("ServiceMeshId".to_owned(), id.to_owned()),
        ("ExpectedVersion".to_owned(), to.to_owned()),
        ("ASMGatewayContinue".to_owned(), gateways.to_string()),
    ];
    match client.call_when_idle("UpgradeMeshEditionPartially", &params, patience, progress).await {
        Ok(_) => Ok(()),
        // A retried call whose first attempt went through, or an upgrade that ended while the call
        // waited: the mesh may already run `to`.
        Err(e) if e.code == "UpgradedVersion.NotExpected" => {
            let runs = wait::describe(client, id, Retry::Idempotent).await?;
            if runs.as_ref().and_then(|d| info(d, "Version")) == Some(to) {
                return Ok(());
            }
            Err(ProviderError::new(
                ErrorKind::InvalidArgument,
                &e.code,
                format!("ASM refused to upgrade mesh {id} to {to}: {}", e.message),
            ))
        }
        Err(e) => Err(e),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const V20: &str = "v1.20.6.44-g5a9e2c71-aliyun";
    const V22: &str = "v1.22.6.71-g7d67a80b-aliyun";
    const V24: &str = "v1.24.6.69-gb4cd1ba2-aliyun";
    const V25: &str = "v1.25.3.30-g3f7c0b4e-aliyun";

    #[test]
    fn versions_compare_by_their_numbers() {
        assert_eq!(compare(V22, V24), Some(Ordering::Less));
        assert_eq!(compare(V25, V24), Some(Ordering::Greater));
        assert_eq!(compare("1.22.6.71", V22), Some(Ordering::Equal));
        assert_eq!(compare("latest", V22), None);
    }

    #[test]
    fn only_the_allowed_target_passes_and_the_refusal_names_it() {
        assert_eq!(refusal("m", V22, V24, Some(V24)), None);
        let skip = refusal("m", V22, V25, Some(V24)).unwrap();
        assert!(skip.contains("one version at a time") && skip.contains(V24), "{skip}");
        let down = refusal("m", V22, V20, Some(V24)).unwrap();
        assert!(down.contains("cannot downgrade") && down.contains(V24), "{down}");
        let newest = refusal("m", V25, "v1.26.0.1", None).unwrap();
        assert!(newest.contains("nothing to upgrade to"), "{newest}");
        let odd = refusal("m", V22, "latest", Some(V24)).unwrap();
        assert!(odd.contains("not an allowed upgrade") && odd.contains(V24), "{odd}");
    }

    fn live(state: &str, version: &str, next: Option<&str>) -> Live {
        Live { state: state.into(), version: version.into(), next: next.map(str::to_owned) }
    }

    #[test]
    fn an_upgrade_in_flight_to_the_target_is_waited_for_and_one_over_is_only_recorded() {
        let upgrading = live("upgrading", V22, Some(V24));
        assert_eq!(decide("m", V24, &upgrading), Ok(Step::InProgress { from: V22.into() }));
        let note = Step::InProgress { from: V22.into() }.note("m", V24).unwrap();
        assert!(note.contains("already upgrading from") && note.contains(V24), "{note}");
        // Over since the state was saved: the mesh runs the target, upgrading or not.
        assert_eq!(decide("m", V24, &live("running", V24, Some(V25))), Ok(Step::Done));
        assert_eq!(decide("m", V24, &live("upgrading", V24, Some(V25))), Ok(Step::Done));
        assert!(Step::Done.note("m", V24).unwrap().contains("already runs"));
        assert_eq!(decide("m", V24, &live("running", V22, Some(V24))), Ok(Step::Start));
        assert_eq!(Step::Start.note("m", V24), None);
        // A failed upgrade is tried again.
        assert_eq!(decide("m", V24, &live("upgrading_failed", V22, Some(V24))), Ok(Step::Start));
    }

    #[test]
    fn another_target_than_the_upgrade_in_flight_names_both_and_what_to_do() {
        let upgrading = live("upgrading", V22, Some(V24));
        let skip = decide("m", V25, &upgrading).unwrap_err();
        for needle in [V22, V24, V25, "upgrading from", "Set istio_version to", "later apply"] {
            assert!(skip.contains(needle), "{needle:?} in {skip}");
        }
        let back = decide("m", V20, &upgrading).unwrap_err();
        assert!(back.contains("cannot cancel an upgrade") && back.contains(V24), "{back}");
        // Upgrading without a newer version (a membership change on the newest): plain refusal.
        let newest = decide("m", "v1.26.0.1", &live("upgrading", V25, None)).unwrap_err();
        assert!(newest.contains("nothing to upgrade to"), "{newest}");
    }
}
