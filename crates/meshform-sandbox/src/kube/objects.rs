//! What every read and write of an object goes through: identity and system metadata,
//! resourceVersion checks, status subresources, defaulting, admission (sidecar injection),
//! validation, managedFields, generation, finalizers and dry-run (deletion: `deletion`).

use serde_json::{json, Value};

use super::apply::ApplyRequest;
use super::cluster::Cluster;
use super::defaults;
use super::injection;
use super::kinds::ResourceType;
use super::managed::{self, UpdateTracking};
use super::meta;
use super::patch::{json_patch, merge_patch};
use super::selectors::{FieldSelector, LabelSelector};
use super::status::ApiError;
use super::store::{ObjectKey, Store};
use super::strategic::strategic_merge;

/// Who writes, how, and whether for real.
#[derive(Debug, Clone, Copy)]
pub struct WriteOptions<'a> {
    /// The field manager recorded in managedFields.
    pub manager: &'a str,
    /// `dryRun=All`: run everything, store nothing.
    pub dry_run: bool,
    /// "" for the main resource, `status`, or `scale`.
    pub subresource: &'a str,
}

/// The patch formats the server accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum PatchKind {
    /// `application/json-patch+json`
    Json,
    /// `application/merge-patch+json`
    Merge,
    /// `application/strategic-merge-patch+json`
    Strategic,
    /// `application/apply-patch+yaml` (server-side apply).
    Apply { force: bool },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tracking {
    /// An ordinary write: record the manager's changed fields.
    Update,
    /// Server-side apply already recorded ownership.
    Applied,
    /// A write by the server itself (deletion markers); may set `deletionTimestamp`.
    System,
}

pub(super) fn key(rt: &ResourceType, ns: &str, name: &str) -> ObjectKey {
    ObjectKey::new(&rt.group, &rt.kind, if rt.namespaced { ns } else { "" }, name)
}

fn spec_part(v: &Value) -> Value {
    let mut v = v.clone();
    if let Some(m) = v.as_object_mut() {
        for k in ["metadata", "status", "apiVersion", "kind"] {
            m.remove(k);
        }
    }
    v
}

impl Cluster {
    /// One object.
    pub fn get_object(&self, rt: &ResourceType, ns: &str, name: &str) -> Result<Value, ApiError> {
        self.store()
            .get(&key(rt, ns, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))
    }

    /// Objects matching the selectors, with the list's resourceVersion.
    pub fn list_objects(
        &self,
        rt: &ResourceType,
        ns: Option<&str>,
        labels: &LabelSelector,
        fields: &FieldSelector,
    ) -> (Vec<Value>, u64) {
        let store = self.store();
        let ns = if rt.namespaced { ns } else { None };
        let items = store
            .list(&rt.group, &rt.kind, ns)
            .into_iter()
            .filter(|o| labels.matches(&o["metadata"]["labels"]) && fields.matches(o))
            .cloned()
            .collect();
        (items, store.resource_version())
    }

    fn check_namespace(
        &self,
        store: &Store,
        rt: &ResourceType,
        ns: &str,
        name: &str,
    ) -> Result<(), ApiError> {
        if !rt.namespaced {
            return Ok(());
        }
        match store.get(&ObjectKey::new("", "Namespace", "", ns)) {
            None => Err(ApiError::not_found("", "namespaces", ns)),
            Some(n) if meta::is_deleting(n) => Err(ApiError::forbidden(format!(
                "{} \"{name}\" is forbidden: unable to create new content in namespace {ns} because it is being terminated",
                rt.qualified()
            ))),
            Some(_) => Ok(()),
        }
    }

    /// Create an object (POST).
    pub fn create(
        &self,
        rt: &ResourceType,
        ns: &str,
        mut obj: Value,
        opts: WriteOptions<'_>,
    ) -> Result<Value, ApiError> {
        check_identity(rt, &obj)?;
        let body_ns = meta::namespace(&obj);
        if rt.namespaced && !body_ns.is_empty() && body_ns != ns {
            return Err(ApiError::bad_request(
                "the namespace of the provided object does not match the namespace sent on the request",
            ));
        }
        let mut name = meta::name(&obj).to_string();
        if name.is_empty() {
            if let Some(prefix) = obj["metadata"]["generateName"].as_str() {
                name = format!("{prefix}{}", meta::random_suffix(5));
            }
        }
        if name.is_empty() {
            return Err(ApiError::invalid(
                &rt.kind,
                &rt.group,
                "",
                &[(
                    "metadata.name".into(),
                    "Required value: name or generateName is required".into(),
                )],
            ));
        }
        let mut store = self.store();
        self.check_namespace(&store, rt, ns, &name)?;
        if store.get(&key(rt, ns, &name)).is_some() {
            return Err(ApiError::already_exists(&rt.group, &rt.plural, &name));
        }
        let md = meta::metadata_mut(&mut obj);
        md.insert("name".into(), json!(name));
        md.insert("uid".into(), json!(meta::new_uid()));
        md.insert("creationTimestamp".into(), json!(meta::now()));
        for k in [
            "resourceVersion",
            "deletionTimestamp",
            "deletionGracePeriodSeconds",
            "generation",
            "selfLink",
        ] {
            md.remove(k);
        }
        self.commit(&mut store, rt, ns, None, obj, opts, Tracking::Update)
    }

    /// Replace an object (PUT), with optimistic concurrency on `metadata.resourceVersion`.
    pub fn replace(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        mut obj: Value,
        opts: WriteOptions<'_>,
    ) -> Result<Value, ApiError> {
        check_identity(rt, &obj)?;
        let body_name = meta::name(&obj);
        if !body_name.is_empty() && body_name != name {
            return Err(ApiError::bad_request(format!(
                "the name of the object ({body_name}) does not match the name on the URL ({name})"
            )));
        }
        meta::metadata_mut(&mut obj).insert("name".into(), json!(name));
        let mut store = self.store();
        let old = store
            .get(&key(rt, ns, name))
            .cloned()
            .ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
        let rv = meta::resource_version(&obj);
        if !rv.is_empty() && rv != meta::resource_version(&old) {
            return Err(ApiError::conflict(&rt.group, &rt.plural, name));
        }
        self.commit(&mut store, rt, ns, Some(&old), obj, opts, Tracking::Update)
    }

    /// Patch an object; server-side apply creates a missing one. Returns the object and whether it
    /// was created.
    pub fn patch(
        &self,
        rt: &ResourceType,
        ns: &str,
        name: &str,
        kind: PatchKind,
        body: &Value,
        opts: WriteOptions<'_>,
    ) -> Result<(Value, bool), ApiError> {
        let mut store = self.store();
        let k = key(rt, ns, name);
        let old = store.get(&k).cloned();
        if let PatchKind::Apply { force } = kind {
            if !body.is_object() {
                return Err(ApiError::bad_request("apply patch must be an object"));
            }
            if body["apiVersion"].as_str().is_none_or(str::is_empty) {
                return Err(ApiError::bad_request("apiVersion must be set in apply patch"));
            }
            if body["kind"].as_str().is_none_or(str::is_empty) {
                return Err(ApiError::bad_request("kind must be set in apply patch"));
            }
            check_identity(rt, body)?;
            let body_name = meta::name(body);
            if !body_name.is_empty() && body_name != name {
                return Err(ApiError::bad_request(format!(
                    "the name of the object ({body_name}) does not match the name on the URL ({name})"
                )));
            }
            let rv = meta::resource_version(body);
            if !rv.is_empty() && old.as_ref().is_none_or(|o| meta::resource_version(o) != rv) {
                return Err(ApiError::conflict(&rt.group, &rt.plural, name));
            }
            if old.is_none() {
                if !opts.subresource.is_empty() {
                    return Err(ApiError::not_found(&rt.group, &rt.plural, name));
                }
                self.check_namespace(&store, rt, ns, name)?;
            }
            let mut base = json!({"apiVersion": body["apiVersion"], "kind": rt.kind, "metadata": {
                "name": name, "uid": meta::new_uid(), "creationTimestamp": meta::now()}});
            if rt.namespaced {
                base["metadata"]["namespace"] = json!(ns);
            }
            let req =
                ApplyRequest { manager: opts.manager, force, subresource: opts.subresource, rt };
            let merged = req.apply(old.as_ref(), base, body)?;
            let created = old.is_none();
            let out =
                self.commit(&mut store, rt, ns, old.as_ref(), merged, opts, Tracking::Applied)?;
            return Ok((out, created));
        }
        let old = old.ok_or_else(|| ApiError::not_found(&rt.group, &rt.plural, name))?;
        let patched = match kind {
            PatchKind::Merge => {
                let mut t = old.clone();
                merge_patch(&mut t, body);
                t
            }
            PatchKind::Strategic => {
                if !rt.builtin {
                    return Err(ApiError::unsupported_media_type(
                        "application/strategic-merge-patch+json",
                    ));
                }
                strategic_merge(&old, body)?
            }
            PatchKind::Json => json_patch(&old, body)?,
            PatchKind::Apply { .. } => return Err(ApiError::internal("apply handled above")),
        };
        if meta::name(&patched) != name {
            return Err(ApiError::invalid(
                &rt.kind,
                &rt.group,
                name,
                &[("metadata.name".into(), "Invalid value: field is immutable".into())],
            ));
        }
        let rv = meta::resource_version(&patched);
        if !rv.is_empty() && rv != meta::resource_version(&old) {
            return Err(ApiError::conflict(&rt.group, &rt.plural, name));
        }
        let out = self.commit(&mut store, rt, ns, Some(&old), patched, opts, Tracking::Update)?;
        Ok((out, false))
    }

    #[allow(clippy::too_many_arguments)]
    pub(super) fn commit(
        &self,
        store: &mut Store,
        rt: &ResourceType,
        ns: &str,
        old: Option<&Value>,
        mut new: Value,
        opts: WriteOptions<'_>,
        tracking: Tracking,
    ) -> Result<Value, ApiError> {
        if !new.is_object() {
            return Err(ApiError::bad_request("the object must be a JSON object"));
        }
        new["apiVersion"] = json!(super::kinds::api_version(&rt.group, rt.version()));
        new["kind"] = json!(rt.kind);
        {
            let md = meta::metadata_mut(&mut new);
            if rt.namespaced {
                md.insert("namespace".into(), json!(ns));
            } else {
                md.remove("namespace");
            }
        }
        if let Some(old) = old {
            let mut keep = vec!["uid", "creationTimestamp", "generateName"];
            if tracking != Tracking::System {
                keep.extend(["deletionTimestamp", "deletionGracePeriodSeconds"]);
            }
            for k in keep {
                let md = meta::metadata_mut(&mut new);
                match old["metadata"].get(k) {
                    Some(v) => md.insert(k.into(), v.clone()),
                    None => md.remove(k),
                };
            }
            if rt.status_subresource {
                if opts.subresource == "status" {
                    let mut n = old.clone();
                    set_or_remove(&mut n, "status", new.get("status").cloned());
                    if tracking == Tracking::Applied {
                        n["metadata"]["managedFields"] = new["metadata"]["managedFields"].clone();
                    }
                    new = n;
                } else {
                    set_or_remove(&mut new, "status", old.get("status").cloned());
                }
            }
        } else if rt.status_subresource && rt.builtin {
            if let Some(m) = new.as_object_mut() {
                m.remove("status");
            }
        }
        defaults::apply(rt, &mut new, old);
        if old.is_none() && rt.is("", "Pod") {
            let ns_obj = store.get(&ObjectKey::new("", "Namespace", "", ns));
            if injection::wants_sidecar(&new, ns_obj) {
                let injector = store.get(&ObjectKey::new(
                    "",
                    "ConfigMap",
                    "istio-system",
                    injection::INJECTOR_CONFIG_MAP,
                ));
                let values = injection::injector_values(injector);
                let (image, revision) =
                    values.as_ref().map_or((self.sidecar_image.as_str(), "default"), |v| {
                        (v.image.as_str(), v.revision.as_str())
                    });
                injection::inject(&mut new, image, revision);
            }
        }
        let errs = defaults::validate(rt, &new, old);
        if !errs.is_empty() {
            return Err(ApiError::invalid(&rt.kind, &rt.group, meta::name(&new), &errs));
        }
        if tracking == Tracking::Update {
            let api_version = super::kinds::api_version(&rt.group, rt.version());
            UpdateTracking {
                manager: opts.manager,
                subresource: opts.subresource,
                api_version: &api_version,
                builtin: rt.builtin,
                skip_status: rt.status_subresource && opts.subresource != "status",
            }
            .record(old, &mut new);
        } else if tracking == Tracking::System {
            if let Some(o) = old {
                new["metadata"]["managedFields"] = o["metadata"]["managedFields"].clone();
                if new["metadata"]["managedFields"].is_null() {
                    if let Some(md) = new["metadata"].as_object_mut() {
                        md.remove("managedFields");
                    }
                }
            }
        }
        if rt.has_generation {
            let gen = match old {
                Some(o) => {
                    let g = o["metadata"]["generation"].as_i64().unwrap_or(1);
                    if spec_part(o) != spec_part(&new) {
                        g + 1
                    } else {
                        g
                    }
                }
                None => 1,
            };
            new["metadata"]["generation"] = json!(gen);
        }
        if let Some(o) = old {
            if managed::without_times(o) == managed::without_times(&new) {
                return Ok(o.clone());
            }
        }
        let k = key(rt, ns, meta::name(&new));
        let namespace_pending = rt.is("", "Namespace")
            && new["spec"]["finalizers"].as_array().is_some_and(|f| !f.is_empty());
        if meta::is_deleting(&new) && meta::finalizers(&new).is_empty() && !namespace_pending {
            if opts.dry_run {
                return Ok(new);
            }
            let gone = store.remove(&k).unwrap_or(new);
            self.changed();
            return Ok(gone);
        }
        if opts.dry_run {
            return Ok(new);
        }
        let stored = store.put(k, new);
        if rt.is("apiextensions.k8s.io", "CustomResourceDefinition") {
            self.with_catalogue(|c| c.learn_crd(&stored));
        }
        self.changed();
        Ok(stored)
    }
}

fn set_or_remove(obj: &mut Value, field: &str, v: Option<Value>) {
    if let Some(m) = obj.as_object_mut() {
        match v {
            Some(v) => m.insert(field.into(), v),
            None => m.remove(field),
        };
    }
}

/// Reject a body whose `apiVersion`/`kind` name another type.
fn check_identity(rt: &ResourceType, obj: &Value) -> Result<(), ApiError> {
    if !obj.is_object() {
        return Err(ApiError::bad_request("the body of the request must be a JSON object"));
    }
    if let Some(kind) = obj.get("kind").and_then(Value::as_str) {
        if kind != rt.kind && !kind.is_empty() {
            return Err(ApiError::bad_request(format!(
                "the kind in the data ({kind}) does not match the expected kind ({})",
                rt.kind
            )));
        }
    }
    if let Some(av) = obj.get("apiVersion").and_then(Value::as_str) {
        let gvk = super::kinds::Gvk::from_api_version(av, &rt.kind);
        if !av.is_empty() && (gvk.group != rt.group || !rt.serves(&gvk.version)) {
            return Err(ApiError::bad_request(format!(
                "the API version in the data ({av}) does not match the expected API version ({})",
                super::kinds::api_version(&rt.group, rt.version())
            )));
        }
    }
    if !obj["metadata"].is_null() && !obj["metadata"].is_object() {
        return Err(ApiError::bad_request("metadata must be an object"));
    }
    Ok(())
}
