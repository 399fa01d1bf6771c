//! Strategic merge patch, as kubectl's client-side apply, `rollout restart` and `edit` send it:
//! lists merge by key (`name` for containers, env and volumes, `containerPort`, `port`, …),
//! with the `$patch`, `$setElementOrder/…`, `$deleteFromPrimitiveList/…` and `$retainKeys` directives.

use serde_json::{Map, Value};

use super::fields::{list_kind, ListKind};
use super::status::ApiError;

/// How a list merges in a strategic merge patch.
enum Strategy {
    Replace,
    ByKey(&'static str),
    Primitive,
}

/// The strategy of `field` under `path`, from the one table of list semantics
/// ([`list_kind`]): a keyed list merges by its first key (its `patchMergeKey`), a set merges as
/// primitives, anything else is replaced.
fn strategy(path: &[String], field: &str) -> Strategy {
    match list_kind(true, path, field) {
        ListKind::Map(keys) => keys.first().map_or(Strategy::Replace, |k| Strategy::ByKey(k)),
        ListKind::Set => Strategy::Primitive,
        ListKind::Atomic => Strategy::Replace,
    }
}

/// Apply a strategic merge patch to a copy of `target`.
pub fn strategic_merge(target: &Value, patch: &Value) -> Result<Value, ApiError> {
    if !patch.is_object() {
        return Err(ApiError::bad_request("strategic merge patch must be a JSON object"));
    }
    let mut out = target.clone();
    merge_map(&mut out, patch, &mut Vec::new())?;
    Ok(out)
}

fn merge_map(target: &mut Value, patch: &Value, path: &mut Vec<String>) -> Result<(), ApiError> {
    let Some(p) = patch.as_object() else {
        *target = patch.clone();
        return Ok(());
    };
    match p.get("$patch").and_then(Value::as_str) {
        Some("replace") => {
            *target = strip(patch);
            return Ok(());
        }
        Some("delete") => {
            *target = Value::Null;
            return Ok(());
        }
        Some(other) => {
            return Err(ApiError::bad_request(format!("unknown patch type {other:?} in map")))
        }
        None => {}
    }
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let mut orders: Vec<(&str, &Vec<Value>)> = Vec::new();
    for (k, v) in p {
        if let Some(field) = k.strip_prefix("$setElementOrder/") {
            if let Some(list) = v.as_array() {
                orders.push((field, list));
            }
            continue;
        }
        if let Some(field) = k.strip_prefix("$deleteFromPrimitiveList/") {
            if let (Some(t), Some(del)) = (target.as_object_mut(), v.as_array()) {
                if let Some(Value::Array(items)) = t.get_mut(field) {
                    items.retain(|it| !del.contains(it));
                }
            }
            continue;
        }
        if k.starts_with('$') {
            continue;
        }
        let Some(t) = target.as_object_mut() else { break };
        if v.is_null() {
            t.remove(k);
            continue;
        }
        path.push(k.clone());
        match v {
            Value::Object(_) => {
                let slot = t.entry(k.clone()).or_insert(Value::Null);
                if slot.is_object() {
                    merge_map(slot, v, path)?;
                    if slot.is_null() {
                        t.remove(k);
                    }
                } else {
                    let cleaned = strip(v);
                    if v.get("$patch").and_then(Value::as_str) == Some("delete") {
                        t.remove(k);
                    } else {
                        *slot = cleaned;
                    }
                }
            }
            Value::Array(items) => {
                path.pop();
                let strat = strategy(path, k);
                path.push(k.clone());
                let slot = t.entry(k.clone()).or_insert(Value::Array(vec![]));
                merge_list(slot, items, strat, path)?;
            }
            _ => {
                t.insert(k.clone(), v.clone());
            }
        }
        path.pop();
    }
    if let Some(keep) = p.get("$retainKeys").and_then(Value::as_array) {
        if let Some(t) = target.as_object_mut() {
            t.retain(|k, _| keep.iter().any(|x| x.as_str() == Some(k)));
        }
    }
    for (field, order) in orders {
        if let Some(Value::Array(items)) = target.as_object_mut().and_then(|t| t.get_mut(field)) {
            reorder(items, order);
        }
    }
    Ok(())
}

fn merge_list(
    target: &mut Value,
    items: &[Value],
    strat: Strategy,
    path: &mut Vec<String>,
) -> Result<(), ApiError> {
    if items.iter().any(|it| it.get("$patch").and_then(Value::as_str) == Some("replace")) {
        *target =
            Value::Array(items.iter().filter(|it| it.get("$patch").is_none()).map(strip).collect());
        return Ok(());
    }
    if !target.is_array() {
        *target = Value::Array(vec![]);
    }
    let Some(list) = target.as_array_mut() else { return Ok(()) };
    match strat {
        Strategy::Replace => *list = items.iter().map(strip).collect(),
        Strategy::Primitive => {
            for it in items {
                if !list.contains(it) {
                    list.push(it.clone());
                }
            }
        }
        Strategy::ByKey(key) => {
            for it in items {
                let Some(kv) = it.get(key) else {
                    return Err(ApiError::bad_request(format!(
                        "map: {it} does not contain declared merge key: {key}"
                    )));
                };
                let pos = list.iter().position(|x| x.get(key) == Some(kv));
                if it.get("$patch").and_then(Value::as_str) == Some("delete") {
                    list.retain(|x| x.get(key) != Some(kv));
                    continue;
                }
                match pos {
                    Some(i) => merge_map(&mut list[i], it, path)?,
                    None => list.push(strip(it)),
                }
            }
            list.retain(|x| !x.is_null());
        }
    }
    Ok(())
}

/// Order `items` as `order` says; items it does not name keep their relative order at the end.
fn reorder(items: &mut [Value], order: &[Value]) {
    let rank = |it: &Value| -> usize {
        order
            .iter()
            .position(|o| match (o.as_object(), it.as_object()) {
                (Some(om), Some(im)) => om.iter().all(|(k, v)| im.get(k) == Some(v)),
                _ => o == it,
            })
            .unwrap_or(usize::MAX)
    };
    items.sort_by_key(rank);
}

/// A patch value with its directives removed.
fn strip(v: &Value) -> Value {
    match v {
        Value::Object(m) => Value::Object(
            m.iter()
                .filter(|(k, v)| !k.starts_with('$') && !v.is_null())
                .map(|(k, v)| (k.clone(), strip(v)))
                .collect(),
        ),
        Value::Array(a) => Value::Array(a.iter().map(strip).collect()),
        other => other.clone(),
    }
}
