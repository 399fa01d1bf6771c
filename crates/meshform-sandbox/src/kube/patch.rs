//! JSON merge patch (RFC 7386) and JSON patch (RFC 6902).

use serde_json::{Map, Value};

use super::status::ApiError;

/// Apply a JSON merge patch in place.
pub fn merge_patch(target: &mut Value, patch: &Value) {
    let Value::Object(p) = patch else {
        *target = patch.clone();
        return;
    };
    if !target.is_object() {
        *target = Value::Object(Map::new());
    }
    let Some(t) = target.as_object_mut() else { return };
    for (k, v) in p {
        if v.is_null() {
            t.remove(k);
        } else {
            merge_patch(t.entry(k.clone()).or_insert(Value::Null), v);
        }
    }
}

/// Apply a JSON patch (a list of operations) to a copy of `target`.
pub fn json_patch(target: &Value, patch: &Value) -> Result<Value, ApiError> {
    let ops = patch
        .as_array()
        .ok_or_else(|| ApiError::bad_request("json patch must be a list of operations"))?;
    let mut doc = target.clone();
    for (i, op) in ops.iter().enumerate() {
        let kind = op["op"].as_str().ok_or_else(|| {
            ApiError::bad_request(format!("json patch operation {i} has no \"op\""))
        })?;
        let path = op["path"].as_str().ok_or_else(|| {
            ApiError::bad_request(format!("json patch operation {i} has no \"path\""))
        })?;
        let path = parse_pointer(path)?;
        let fail = |what: &str| {
            ApiError::unprocessable(format!("the server rejected our request due to an error in our request: json patch {kind} operation does not apply: {what}"))
        };
        match kind {
            "add" => {
                let v = op.get("value").cloned().ok_or_else(|| fail("missing value"))?;
                add(&mut doc, &path, v).map_err(|e| fail(&e))?;
            }
            "remove" => {
                remove(&mut doc, &path).map_err(|e| fail(&e))?;
            }
            "replace" => {
                let v = op.get("value").cloned().ok_or_else(|| fail("missing value"))?;
                let slot = get_mut(&mut doc, &path).ok_or_else(|| fail("path not found"))?;
                *slot = v;
            }
            "move" | "copy" => {
                let from = op["from"].as_str().ok_or_else(|| fail("missing from"))?;
                let from = parse_pointer(from)?;
                let v = get(&doc, &from).cloned().ok_or_else(|| fail("from path not found"))?;
                if kind == "move" {
                    remove(&mut doc, &from).map_err(|e| fail(&e))?;
                }
                add(&mut doc, &path, v).map_err(|e| fail(&e))?;
            }
            "test" => {
                let want = op.get("value").cloned().unwrap_or(Value::Null);
                if get(&doc, &path) != Some(&want) {
                    return Err(fail("testing value failed"));
                }
            }
            other => {
                return Err(ApiError::bad_request(format!(
                    "unknown json patch operation {other:?}"
                )))
            }
        }
    }
    Ok(doc)
}

fn parse_pointer(p: &str) -> Result<Vec<String>, ApiError> {
    if p.is_empty() {
        return Ok(vec![]);
    }
    let Some(rest) = p.strip_prefix('/') else {
        return Err(ApiError::bad_request(format!("invalid json pointer {p:?}")));
    };
    Ok(rest.split('/').map(|s| s.replace("~1", "/").replace("~0", "~")).collect())
}

fn get<'a>(doc: &'a Value, path: &[String]) -> Option<&'a Value> {
    let mut cur = doc;
    for seg in path {
        cur = match cur {
            Value::Object(m) => m.get(seg)?,
            Value::Array(a) => a.get(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn get_mut<'a>(doc: &'a mut Value, path: &[String]) -> Option<&'a mut Value> {
    let mut cur = doc;
    for seg in path {
        cur = match cur {
            Value::Object(m) => m.get_mut(seg)?,
            Value::Array(a) => a.get_mut(seg.parse::<usize>().ok()?)?,
            _ => return None,
        };
    }
    Some(cur)
}

fn add(doc: &mut Value, path: &[String], v: Value) -> Result<(), String> {
    let Some((last, parent)) = path.split_last() else {
        *doc = v;
        return Ok(());
    };
    match get_mut(doc, parent).ok_or("parent path not found")? {
        Value::Object(m) => {
            m.insert(last.clone(), v);
            Ok(())
        }
        Value::Array(a) => {
            if last == "-" {
                a.push(v);
                return Ok(());
            }
            let i: usize = last.parse().map_err(|_| "invalid array index")?;
            if i > a.len() {
                return Err("array index out of range".into());
            }
            a.insert(i, v);
            Ok(())
        }
        _ => Err("parent is not a container".into()),
    }
}

fn remove(doc: &mut Value, path: &[String]) -> Result<(), String> {
    let (last, parent) = path.split_last().ok_or("cannot remove the whole document")?;
    match get_mut(doc, parent).ok_or("path not found")? {
        Value::Object(m) => m.remove(last).map(|_| ()).ok_or_else(|| "path not found".into()),
        Value::Array(a) => {
            let i: usize = last.parse().map_err(|_| "invalid array index")?;
            if i >= a.len() {
                return Err("array index out of range".into());
            }
            a.remove(i);
            Ok(())
        }
        _ => Err("path not found".into()),
    }
}
