//! Set functions: `setunion`, `setintersection` and `setsubtract`. Results are sets: sorted,
//! without duplicates, elements unified to one type.

use std::collections::HashSet;

use meshform_core::types::normalize_set;
use meshform_core::Value;

use super::args::Args;
use super::collections::identity;
use super::conversion::unify;
use super::{FnResult, FunctionError};

/// Every argument as a set whose elements have one type.
fn sets(a: &Args) -> Result<Vec<Vec<Value>>, FunctionError> {
    let mut out = Vec::with_capacity(a.len());
    for i in 0..a.len() {
        out.push(a.list(i, &format!("argument {i}"))?.to_vec());
    }
    // Unify across all sets at once so that `setunion(["1"], [1])` compares strings with strings.
    let lens: Vec<usize> = out.iter().map(Vec::len).collect();
    let all = unify(out.concat())
        .map_err(|e| a.fail(e.describe("the elements of all sets", |i| position(&lens, i))))?;
    let mut it = all.into_iter();
    Ok(lens.iter().map(|l| it.by_ref().take(*l).collect()).collect())
}

/// "element 2 of argument 1" for position `i` in the concatenation of lists of lengths `lens`.
fn position(lens: &[usize], mut i: usize) -> String {
    for (arg, len) in lens.iter().enumerate() {
        if i < *len {
            return format!("element {i} of argument {arg}");
        }
        i -= len;
    }
    format!("element {i}")
}

fn result(mut items: Vec<Value>) -> FnResult {
    normalize_set(&mut items);
    Ok(Value::List(items))
}

pub(super) fn setunion(a: &Args) -> FnResult {
    a.at_least(1)?;
    result(sets(a)?.concat())
}

pub(super) fn setintersection(a: &Args) -> FnResult {
    a.at_least(1)?;
    let mut sets = sets(a)?.into_iter();
    let first = sets.next().unwrap_or_default();
    let others: Vec<HashSet<String>> = sets.map(|s| s.iter().map(identity).collect()).collect();
    result(first.into_iter().filter(|v| others.iter().all(|o| o.contains(&identity(v)))).collect())
}

pub(super) fn setsubtract(a: &Args) -> FnResult {
    a.exactly(2)?;
    let mut sets = sets(a)?.into_iter();
    let (first, second) = (sets.next().unwrap_or_default(), sets.next().unwrap_or_default());
    let remove: HashSet<String> = second.iter().map(identity).collect();
    result(first.into_iter().filter(|v| !remove.contains(&identity(v))).collect())
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;

    #[test]
    fn union() {
        assert_eq!(
            ok("setunion", &[strs(&["a", "b"]), strs(&["b", "c"]), strs(&["d"])]),
            strs(&["a", "b", "c", "d"])
        );
        assert_eq!(ok("setunion", &[strs(&["b", "a", "b"])]), strs(&["a", "b"]));
        assert_eq!(ok("setunion", &[strs(&["1"]), nums(&[1.0, 2.0])]), strs(&["1", "2"]));
        assert_eq!(err("setunion", &[]), "setunion takes at least 1 argument, got 0");
        assert_eq!(
            err("setunion", &[strs(&[]), s("x")]),
            "setunion: argument 1 must be a list, got string"
        );
        assert_eq!(
            err("setunion", &[strs(&["a"]), list([list([])])]),
            "setunion: the elements of all sets must have the same type, but element 0 of argument 0 \
             is a string and element 0 of argument 1 is a list"
        );
    }

    #[test]
    fn intersection() {
        assert_eq!(
            ok("setintersection", &[strs(&["a", "b"]), strs(&["b", "c"]), strs(&["b", "d"])]),
            strs(&["b"])
        );
        assert_eq!(ok("setintersection", &[strs(&["a"]), strs(&["b"])]), list([]));
        assert_eq!(ok("setintersection", &[strs(&["b", "a", "a"])]), strs(&["a", "b"]));
    }

    #[test]
    fn subtract() {
        assert_eq!(ok("setsubtract", &[strs(&["a", "b", "c"]), strs(&["a", "c"])]), strs(&["b"]));
        assert_eq!(ok("setsubtract", &[strs(&["a", "b", "c"]), strs(&[])]), strs(&["a", "b", "c"]));
        assert_eq!(err("setsubtract", &[strs(&["a"])]), "setsubtract takes 2 arguments, got 1");
    }
}
