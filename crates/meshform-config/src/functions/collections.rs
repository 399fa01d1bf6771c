//! List functions: `length`, `concat`, `flatten`, `range`, `element`, `index`, `contains`,
//! `distinct`, `reverse`, `slice`, `sort`, `compact`, `coalescelist`, `one`, `chunklist`,
//! `alltrue` and `anytrue`.

use std::collections::HashSet;

use meshform_core::{Number, Value};

use super::args::{primitive_string, Args};
use super::FnResult;

/// The largest list `range` builds.
const MAX_RANGE: usize = 1_000_000;

/// Equality as `contains` and `index` see it: the same value, or primitives that are equal once
/// converted to a common type (`1` and `"1"`).
pub(crate) fn loosely_equal(a: &Value, b: &Value) -> bool {
    if a.same_as(b) {
        return true;
    }
    let (a, b) = (a.unmarked(), b.unmarked());
    a.kind() != b.kind()
        && matches!((primitive_string(a), primitive_string(b)), (Some(x), Some(y)) if x == y)
}

/// A key identifying a value, for de-duplicating in linear time.
pub(crate) fn identity(v: &Value) -> String {
    v.identity_key()
}

/// `length(value)`: characters of a string, elements of a list, attributes of a map.
pub(super) fn length(a: &Args) -> FnResult {
    a.exactly(1)?;
    let len = match a.get(0) {
        Value::String(s) => s.chars().count(),
        Value::List(items) => items.len(),
        Value::Map(m) => m.len(),
        v => {
            return Err(
                a.error(0, format!("the argument must be a string, list or map, got {}", v.kind()))
            )
        }
    };
    Ok(Value::number(len))
}

/// `concat(lists…)`: the elements of every list, in order.
pub(super) fn concat(a: &Args) -> FnResult {
    a.at_least(1)?;
    let mut out = Vec::new();
    for i in 0..a.len() {
        out.extend_from_slice(a.list(i, "each argument")?);
    }
    Ok(Value::List(out))
}

/// `flatten(list)`: nested lists replaced by their elements, at every depth.
pub(super) fn flatten(a: &Args) -> FnResult {
    fn walk(items: &[Value], out: &mut Vec<Value>) {
        for item in items {
            match item.unmarked() {
                Value::List(inner) => walk(inner, out),
                _ => out.push(item.clone()),
            }
        }
    }
    a.exactly(1)?;
    let mut out = Vec::new();
    walk(a.list(0, "the argument")?, &mut out);
    Ok(Value::List(out))
}

/// `range(limit)`, `range(start, limit)`, `range(start, limit, step)`.
pub(super) fn range(a: &Args) -> FnResult {
    a.between(1, 3)?;
    let (start, limit) = match a.len() {
        1 => (Number::ZERO, a.number(0, "the limit")?),
        _ => (a.number(0, "the start")?, a.number(1, "the limit")?),
    };
    let step = match a.len() {
        3 => a.number(2, "the step")?,
        _ if limit < start => Number::from(-1),
        _ => Number::from(1),
    };
    if step.is_zero() {
        return Err(a.error(a.len() - 1, "the step must not be zero"));
    }
    // Exact steps: `range(0, 1, 0.1)` has ten elements and its last is 0.9. The count is known
    // before any element is made.
    let count = limit.sub(&start).checked_div(&step).unwrap_or(Number::ZERO).ceil();
    let count = match count.as_usize() {
        _ if count.is_negative() => 0,
        Some(c) if c <= MAX_RANGE => c,
        _ => return Err(a.fail(format!("the range would have more than {MAX_RANGE} elements"))),
    };
    let mut out = Vec::with_capacity(count);
    let mut n = start;
    for _ in 0..count {
        let next = n.add(&step);
        out.push(Value::Number(n));
        n = next;
    }
    Ok(Value::List(out))
}

/// `element(list, index)`: the element at `index`, wrapping around past the end.
pub(super) fn element(a: &Args) -> FnResult {
    a.exactly(2)?;
    let items = a.list(0, "the first argument")?;
    let index = a.integer(1, "the index")?;
    if index < 0 {
        return Err(a.error(1, format!("the index must not be negative, got {index}")));
    }
    if items.is_empty() {
        return Err(a.error(0, "cannot take an element of an empty list"));
    }
    Ok(items[(index as u64 % items.len() as u64) as usize].clone())
}

/// `index(list, value)`: the position of the first element equal to `value`.
pub(super) fn index(a: &Args) -> FnResult {
    a.exactly(2)?;
    let items = a.list(0, "the first argument")?;
    let wanted = a.get(1);
    items
        .iter()
        .position(|v| loosely_equal(v, wanted))
        .map(Value::number)
        .ok_or_else(|| a.error(1, format!("{wanted} is not in the list")))
}

/// `contains(list, value)`.
pub(super) fn contains(a: &Args) -> FnResult {
    a.exactly(2)?;
    let items = a.list(0, "the first argument")?;
    let wanted = a.get(1);
    Ok(Value::Bool(items.iter().any(|v| loosely_equal(v, wanted))))
}

/// `distinct(list)`: the first occurrence of each element, in order.
pub(super) fn distinct(a: &Args) -> FnResult {
    a.exactly(1)?;
    let mut seen = HashSet::new();
    let items = a.list(0, "the argument")?;
    Ok(Value::List(items.iter().filter(|v| seen.insert(identity(v))).cloned().collect()))
}

pub(super) fn reverse(a: &Args) -> FnResult {
    a.exactly(1)?;
    Ok(Value::List(a.list(0, "the argument")?.iter().rev().cloned().collect()))
}

/// `slice(list, start, end)`: elements from `start` up to but not including `end`.
pub(super) fn slice(a: &Args) -> FnResult {
    a.exactly(3)?;
    let items = a.list(0, "the first argument")?;
    let start = a.integer(1, "the start index")?;
    let end = a.integer(2, "the end index")?;
    if start < 0 {
        return Err(a.error(1, format!("the start index must not be negative, got {start}")));
    }
    if end > items.len() as i64 {
        return Err(a.error(
            2,
            format!("the end index {end} is past the end of the list of {} elements", items.len()),
        ));
    }
    if start > end {
        return Err(a.error(1, format!("the start index {start} is after the end index {end}")));
    }
    Ok(Value::List(items[start as usize..end as usize].to_vec()))
}

/// `sort(list)`: the elements as strings, in lexical order.
pub(super) fn sort(a: &Args) -> FnResult {
    a.exactly(1)?;
    let mut out: Vec<String> =
        a.strings(0, "the list")?.into_iter().map(|s| s.into_owned()).collect();
    out.sort();
    Ok(Value::List(out.into_iter().map(Value::String).collect()))
}

/// `compact(list)`: the list without null and empty-string elements.
pub(super) fn compact(a: &Args) -> FnResult {
    a.exactly(1)?;
    let mut out = Vec::new();
    for (i, v) in a.list(0, "the argument")?.iter().enumerate() {
        match v.unmarked() {
            Value::Null => {}
            v => match primitive_string(v) {
                Some(s) if s.is_empty() => {}
                Some(s) => out.push(Value::String(s.into_owned())),
                None => {
                    return Err(
                        a.error(0, format!("element {i} must be a string, got {}", v.kind()))
                    )
                }
            },
        }
    }
    Ok(Value::List(out))
}

/// `coalescelist(lists…)`: the first list that is not empty.
pub(super) fn coalescelist(a: &Args) -> FnResult {
    a.at_least(1)?;
    for i in 0..a.len() {
        if a.get(i).is_null() {
            continue;
        }
        let items = a.list(i, "each argument")?;
        if !items.is_empty() {
            return Ok(a.get(i).clone());
        }
    }
    Err(a.fail("every list is empty"))
}

/// `one(list)`: null for an empty list, the element of a one-element list, an error otherwise.
pub(super) fn one(a: &Args) -> FnResult {
    a.exactly(1)?;
    match a.list(0, "the argument")? {
        [] => Ok(Value::Null),
        [v] => Ok(v.clone()),
        items => Err(
            a.error(0, format!("the list must have zero or one elements, but has {}", items.len()))
        ),
    }
}

/// `chunklist(list, size)`: consecutive chunks of `size` elements (the last may be shorter); a
/// size of 0 gives the whole list as one chunk.
pub(super) fn chunklist(a: &Args) -> FnResult {
    a.exactly(2)?;
    let items = a.list(0, "the first argument")?;
    let size = a.integer(1, "the chunk size")?;
    if size < 0 {
        return Err(a.error(1, format!("the chunk size must not be negative, got {size}")));
    }
    if size == 0 {
        return Ok(Value::List(vec![Value::List(items.to_vec())]));
    }
    let size = usize::try_from(size).unwrap_or(usize::MAX);
    Ok(Value::List(items.chunks(size).map(|c| Value::List(c.to_vec())).collect()))
}

fn bools(a: &Args) -> Result<Vec<Option<bool>>, super::FunctionError> {
    a.exactly(1)?;
    a.list(0, "the argument")?
        .iter()
        .enumerate()
        .map(|(i, v)| match v.unmarked() {
            Value::Null => Ok(None),
            Value::Bool(b) => Ok(Some(*b)),
            Value::String(s) if s == "true" || s == "false" => Ok(Some(s == "true")),
            v => Err(a.error(0, format!("element {i} must be a bool, got {}", v.kind()))),
        })
        .collect()
}

/// `alltrue(list)`: true when every element is true (a null element counts as false).
pub(super) fn alltrue(a: &Args) -> FnResult {
    Ok(Value::Bool(bools(a)?.iter().all(|b| *b == Some(true))))
}

/// `anytrue(list)`: true when some element is true.
pub(super) fn anytrue(a: &Args) -> FnResult {
    Ok(Value::Bool(bools(a)?.contains(&Some(true))))
}

#[cfg(test)]
#[path = "collections_tests.rs"]
mod tests;
