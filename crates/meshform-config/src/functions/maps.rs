//! Map and object functions: `merge`, `lookup`, `keys`, `values`, `zipmap`, `transpose` and
//! `matchkeys`.

use std::collections::BTreeMap;

use meshform_core::Value;

use super::args::{primitive_string, Args};
use super::collections::loosely_equal;
use super::FnResult;

/// `merge(maps…)`: every attribute of every map; later arguments win, nulls are skipped.
pub(super) fn merge(a: &Args) -> FnResult {
    let mut out = BTreeMap::new();
    for i in 0..a.len() {
        if a.get(i).is_null() {
            continue;
        }
        for (k, v) in a.map(i, &format!("argument {i}"))? {
            out.insert(k.clone(), v.clone());
        }
    }
    Ok(Value::Map(out))
}

/// `lookup(map, key)` or `lookup(map, key, default)`.
pub(super) fn lookup(a: &Args) -> FnResult {
    a.between(2, 3)?;
    let m = a.map(0, "the first argument")?;
    let key = a.string(1, "the key")?;
    match m.get(key.as_ref()) {
        Some(v) => Ok(v.clone()),
        None if a.len() == 3 => Ok(a.values[2].clone()),
        None => Err(
            a.error(1, format!("the map has no key {:?} and no default was given", key.as_ref()))
        ),
    }
}

/// `keys(map)`: the keys, sorted.
pub(super) fn keys(a: &Args) -> FnResult {
    a.exactly(1)?;
    Ok(Value::List(a.map(0, "the argument")?.keys().map(Value::string).collect()))
}

/// `values(map)`: the values, in the order of their keys.
pub(super) fn values(a: &Args) -> FnResult {
    a.exactly(1)?;
    Ok(Value::List(a.map(0, "the argument")?.values().cloned().collect()))
}

/// `zipmap(keys, values)`: a map from each key to the value at the same position.
pub(super) fn zipmap(a: &Args) -> FnResult {
    a.exactly(2)?;
    let keys = a.strings(0, "the list of keys")?;
    let values = a.list(1, "the list of values")?;
    if keys.len() != values.len() {
        return Err(a.fail(format!(
            "there are {} keys but {} values; the lists must have the same length",
            keys.len(),
            values.len()
        )));
    }
    Ok(Value::Map(keys.into_iter().map(|k| k.into_owned()).zip(values.iter().cloned()).collect()))
}

/// `transpose(map of lists of strings)`: swaps keys and values; each new list is sorted.
pub(super) fn transpose(a: &Args) -> FnResult {
    a.exactly(1)?;
    let mut out: BTreeMap<String, Vec<Value>> = BTreeMap::new();
    for (k, v) in a.map(0, "the argument")? {
        let Some(items) = v.as_list() else {
            return Err(a.error(0, format!("the value of {k:?} must be a list, got {}", v.kind())));
        };
        for item in items {
            let Some(s) = primitive_string(item) else {
                return Err(a.error(
                    0,
                    format!("the elements of {k:?} must be strings, got {}", item.kind()),
                ));
            };
            out.entry(s.into_owned()).or_default().push(Value::string(k));
        }
    }
    Ok(Value::Map(out.into_iter().map(|(k, v)| (k, Value::List(v))).collect()))
}

/// `matchkeys(values, keys, searchset)`: the values whose key (at the same position) is in
/// `searchset`.
pub(super) fn matchkeys(a: &Args) -> FnResult {
    a.exactly(3)?;
    let values = a.list(0, "the list of values")?;
    let keys = a.list(1, "the list of keys")?;
    let search = a.list(2, "the search set")?;
    if values.len() != keys.len() {
        return Err(a.fail(format!(
            "there are {} values but {} keys; the lists must have the same length",
            values.len(),
            keys.len()
        )));
    }
    Ok(Value::List(
        values
            .iter()
            .zip(keys)
            .filter(|(_, k)| search.iter().any(|s| loosely_equal(k, s)))
            .map(|(v, _)| v.clone())
            .collect(),
    ))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use meshform_core::Value;

    fn m(entries: &[(&str, Value)]) -> Value {
        Value::map(entries.iter().cloned())
    }

    #[test]
    fn merge_later_wins_and_skips_nulls() {
        assert_eq!(
            ok(
                "merge",
                &[
                    m(&[("a", s("b")), ("c", s("d"))]),
                    Value::Null,
                    m(&[("e", s("f")), ("c", s("z"))])
                ]
            ),
            m(&[("a", s("b")), ("c", s("z")), ("e", s("f"))])
        );
        assert_eq!(ok("merge", &[]), m(&[]));
        assert_eq!(
            err("merge", &[m(&[]), strs(&["a"])]),
            "merge: argument 1 must be a map, got list"
        );
    }

    #[test]
    fn lookup_with_and_without_default() {
        let map = m(&[("a", s("ay")), ("b", s("bee"))]);
        assert_eq!(ok("lookup", &[map.clone(), s("a")]), s("ay"));
        assert_eq!(ok("lookup", &[map.clone(), s("c"), s("what?")]), s("what?"));
        assert_eq!(ok("lookup", &[map.clone(), s("b"), s("what?")]), s("bee"));
        assert_eq!(
            err("lookup", std::slice::from_ref(&map)),
            "lookup takes 2 or 3 arguments, got 1"
        );
        assert_eq!(
            err("lookup", &[map.clone(), s("c")]),
            "lookup: the map has no key \"c\" and no default was given"
        );
        assert_eq!(
            err("lookup", &[strs(&["a"]), s("a")]),
            "lookup: the first argument must be a map, got list"
        );
        assert_eq!(
            err("lookup", &[map, list([]), s("x")]),
            "lookup: the key must be a string, got list"
        );
    }

    #[test]
    fn keys_and_values_in_key_order() {
        let map = m(&[("d", n(3.0)), ("b", n(2.0)), ("a", n(1.0))]);
        assert_eq!(ok("keys", std::slice::from_ref(&map)), strs(&["a", "b", "d"]));
        assert_eq!(ok("values", &[map]), nums(&[1.0, 2.0, 3.0]));
        assert_eq!(err("keys", &[strs(&["a"])]), "keys: the argument must be a map, got list");
        assert_eq!(err("values", &[Value::Null]), "values: the argument must be a map, got null");
    }

    #[test]
    fn zipmap_pairs_positions() {
        assert_eq!(
            ok("zipmap", &[strs(&["a", "b"]), nums(&[1.0, 2.0])]),
            m(&[("a", n(1.0)), ("b", n(2.0))])
        );
        assert_eq!(ok("zipmap", &[strs(&["a", "a"]), nums(&[1.0, 2.0])]), m(&[("a", n(2.0))]));
        assert_eq!(
            err("zipmap", &[strs(&["a"]), nums(&[1.0, 2.0])]),
            "zipmap: there are 1 keys but 2 values; the lists must have the same length"
        );
        assert_eq!(
            err("zipmap", &[list([list([])]), nums(&[1.0])]),
            "zipmap: element 0 of the list of keys must be a string, got list"
        );
    }

    #[test]
    fn transpose_swaps() {
        assert_eq!(
            ok("transpose", &[m(&[("a", strs(&["1", "2"])), ("b", strs(&["2", "3"]))])]),
            m(&[("1", strs(&["a"])), ("2", strs(&["a", "b"])), ("3", strs(&["b"]))])
        );
        assert_eq!(
            err("transpose", &[m(&[("a", s("1"))])]),
            "transpose: the value of \"a\" must be a list, got string"
        );
    }

    #[test]
    fn matchkeys_filters_by_position() {
        assert_eq!(
            ok(
                "matchkeys",
                &[strs(&["i-1", "i-2", "i-3"]), strs(&["us-a", "us-b", "us-a"]), strs(&["us-a"])]
            ),
            strs(&["i-1", "i-3"])
        );
        assert_eq!(
            err("matchkeys", &[strs(&["a"]), strs(&[]), strs(&[])]),
            "matchkeys: there are 1 values but 0 keys; the lists must have the same length"
        );
    }
}
