//! Set functions: `setunion`, `setintersection` and `setsubtract` (results are sets: sorted,
//! without duplicates, elements unified to one type) and `setproduct`.

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

/// The most tuples `setproduct` builds: beyond this a typo, not a topology, is at work.
const MAX_PRODUCT: usize = 1_000_000;

/// `setproduct(a, b, ...)`: every combination of one element from each argument, as a list of
/// tuples. meshform's lists and sets are both ordered, so the result keeps the arguments' order,
/// which for lists is Terraform's order too.
pub(super) fn setproduct(a: &Args) -> FnResult {
    a.at_least(2)?;
    let mut factors = Vec::with_capacity(a.len());
    let mut count: usize = 1;
    for i in 0..a.len() {
        let items = a.list(i, &format!("argument {i}"))?.to_vec();
        let items = unify(items).map_err(|e| {
            a.error(
                i,
                e.describe(&format!("the elements of argument {i}"), |j| format!("element {j}")),
            )
        })?;
        count = count.saturating_mul(items.len());
        factors.push(items);
    }
    if count > MAX_PRODUCT {
        return Err(a.fail(format!("the product would have more than {MAX_PRODUCT} elements")));
    }
    let mut out: Vec<Vec<Value>> = vec![Vec::with_capacity(factors.len())];
    for factor in &factors {
        out = out
            .into_iter()
            .flat_map(|prefix| {
                factor.iter().map(move |v| {
                    let mut t = prefix.clone();
                    t.push(v.clone());
                    t
                })
            })
            .collect();
    }
    Ok(Value::List(out.into_iter().map(Value::List).collect()))
}

#[cfg(test)]
mod tests {
    use super::super::test_support::*;
    use meshform_core::Value;

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
    fn product_like_terraform() {
        assert_eq!(
            ok(
                "setproduct",
                &[strs(&["development", "staging", "production"]), strs(&["app1", "app2"])]
            ),
            list([
                strs(&["development", "app1"]),
                strs(&["development", "app2"]),
                strs(&["staging", "app1"]),
                strs(&["staging", "app2"]),
                strs(&["production", "app1"]),
                strs(&["production", "app2"]),
            ])
        );
        assert_eq!(ok("setproduct", &[strs(&["a", "b"]), list([])]), list([]));
        assert_eq!(
            ok("setproduct", &[strs(&["a"]), nums(&[1.0, 2.0]), list([Value::Bool(true)])]),
            list([
                list([s("a"), n(1.0), Value::Bool(true)]),
                list([s("a"), n(2.0), Value::Bool(true)])
            ])
        );
        // Within one argument elements take one type, as in a Terraform list.
        assert_eq!(
            ok("setproduct", &[list([s("a"), n(1.0)]), strs(&["x"])]),
            list([strs(&["a", "x"]), strs(&["1", "x"])])
        );
        let m = Value::map([("cluster", s("cluster-1"))]);
        assert_eq!(
            ok("setproduct", &[list([m.clone()]), strs(&["istio-system"])]),
            list([list([m, s("istio-system")])])
        );
        assert_eq!(
            err("setproduct", &[strs(&["a"])]),
            "setproduct takes at least 2 arguments, got 1"
        );
        assert_eq!(
            err("setproduct", &[strs(&["a"]), s("b")]),
            "setproduct: argument 1 must be a list, got string"
        );
        assert_eq!(
            err("setproduct", &[list([s("a"), list([])]), strs(&["b"])]),
            "setproduct: the elements of argument 0 must have the same type, but element 0 is a \
             string and element 1 is a list"
        );
        let thousand = nums(&[0.0; 1000]);
        assert_eq!(
            err("setproduct", &[thousand.clone(), thousand.clone(), nums(&[1.0, 2.0])]),
            "setproduct: the product would have more than 1000000 elements"
        );
    }

    #[test]
    fn subtract() {
        assert_eq!(ok("setsubtract", &[strs(&["a", "b", "c"]), strs(&["a", "c"])]), strs(&["b"]));
        assert_eq!(ok("setsubtract", &[strs(&["a", "b", "c"]), strs(&[])]), strs(&["a", "b", "c"]));
        assert_eq!(err("setsubtract", &[strs(&["a"])]), "setsubtract takes 2 arguments, got 1");
    }
}
