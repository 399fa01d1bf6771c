//! Tests of the list functions.

use super::super::test_support::*;
use meshform_core::Value;

#[test]
fn length_of_strings_lists_and_maps() {
    assert_eq!(ok("length", &[s("héllo")]), n(5.0));
    assert_eq!(ok("length", &[strs(&["a", "b"])]), n(2.0));
    assert_eq!(ok("length", &[Value::map([("a", n(1.0))])]), n(1.0));
    assert_eq!(ok("length", &[list([])]), n(0.0));
    assert_eq!(
        err("length", &[n(1.0)]),
        "length: the argument must be a string, list or map, got number"
    );
    assert_eq!(
        err("length", &[Value::Null]),
        "length: the argument must be a string, list or map, got null"
    );
}

#[test]
fn concat_and_flatten() {
    assert_eq!(ok("concat", &[strs(&["a", ""]), strs(&["b", "c"])]), strs(&["a", "", "b", "c"]));
    assert_eq!(ok("concat", &[list([])]), list([]));
    assert_eq!(
        err("concat", &[strs(&["a"]), s("b")]),
        "concat: each argument must be a list, got string"
    );
    assert_eq!(err("concat", &[]), "concat takes at least 1 argument, got 0");
    assert_eq!(
        ok(
            "flatten",
            &[list([strs(&["a", "b"]), list([]), list([s("c"), list([strs(&["d"])])]), s("e")])]
        ),
        strs(&["a", "b", "c", "d", "e"])
    );
    let m = Value::map([("k", n(1.0))]);
    assert_eq!(ok("flatten", &[list([list([m.clone()])])]), list([m]));
    assert_eq!(err("flatten", &[s("x")]), "flatten: the argument must be a list, got string");
}

#[test]
fn range_like_terraform() {
    assert_eq!(ok("range", &[n(3.0)]), nums(&[0.0, 1.0, 2.0]));
    assert_eq!(ok("range", &[n(1.0), n(4.0)]), nums(&[1.0, 2.0, 3.0]));
    assert_eq!(ok("range", &[n(1.0), n(8.0), n(2.0)]), nums(&[1.0, 3.0, 5.0, 7.0]));
    assert_eq!(ok("range", &[n(4.0), n(1.0)]), nums(&[4.0, 3.0, 2.0]));
    assert_eq!(ok("range", &[n(10.0), n(5.0), n(-2.0)]), nums(&[10.0, 8.0, 6.0]));
    assert_eq!(ok("range", &[n(-3.0)]), nums(&[0.0, -1.0, -2.0]));
    assert_eq!(ok("range", &[n(1.0), n(2.0), n(0.5)]), nums(&[1.0, 1.5]));
    // Exact steps: ten elements, the last 0.9 (in floats the eleventh, 0.9999999999999999, sneaks in).
    let tenths = ok("range", &[n(0.0), n(1.0), n(0.1)]);
    assert_eq!(tenths.as_list().map(<[Value]>::len), Some(10));
    assert_eq!(tenths.as_list().and_then(<[Value]>::last), Some(&n(0.9)));
    assert_eq!(ok("range", &[n(1.0), n(1.0)]), list([]));
    assert_eq!(ok("range", &[n(0.0), n(5.0), n(-1.0)]), list([]));
    assert_eq!(err("range", &[n(0.0), n(5.0), n(0.0)]), "range: the step must not be zero");
    assert_eq!(err("range", &[n(1e9)]), "range: the range would have more than 1000000 elements");
    assert_eq!(
        err("range", &[n(1e300), n(1e301), n(1.0)]),
        "range: the range would have more than 1000000 elements"
    );
    assert_eq!(ok("range", &[n(1_000_000.0)]).as_list().map(<[Value]>::len), Some(1_000_000));
    assert_eq!(err("range", &[s("x")]), "range: the limit must be a number, got \"x\"");
    assert_eq!(
        err("range", &[n(1.0), n(2.0), n(3.0), n(4.0)]),
        "range takes 1 to 3 arguments, got 4"
    );
}

#[test]
fn element_index_contains() {
    let abc = strs(&["a", "b", "c"]);
    assert_eq!(ok("element", &[abc.clone(), n(1.0)]), s("b"));
    assert_eq!(ok("element", &[abc.clone(), n(3.0)]), s("a"));
    assert_eq!(ok("element", &[abc.clone(), n(1e15)]), s("b"));
    assert_eq!(
        err("element", &[abc.clone(), n(-1.0)]),
        "element: the index must not be negative, got -1"
    );
    assert_eq!(
        err("element", &[list([]), n(0.0)]),
        "element: cannot take an element of an empty list"
    );
    assert_eq!(ok("index", &[abc.clone(), s("b")]), n(1.0));
    assert_eq!(ok("index", &[nums(&[1.0, 2.0]), s("2")]), n(1.0));
    assert_eq!(err("index", &[abc.clone(), s("z")]), "index: \"z\" is not in the list");
    assert_eq!(ok("contains", &[abc.clone(), s("c")]), Value::Bool(true));
    assert_eq!(ok("contains", &[abc.clone(), s("d")]), Value::Bool(false));
    assert_eq!(ok("contains", &[strs(&["1"]), n(1.0)]), Value::Bool(true));
    assert_eq!(ok("contains", &[list([strs(&["x"])]), strs(&["x"])]), Value::Bool(true));
    assert_eq!(
        err("contains", &[s("abc"), s("a")]),
        "contains: the first argument must be a list, got string"
    );
}

#[test]
fn reordering() {
    assert_eq!(ok("distinct", &[strs(&["b", "a", "b", "c", "a"])]), strs(&["b", "a", "c"]));
    assert_eq!(ok("reverse", &[nums(&[1.0, 2.0, 3.0])]), nums(&[3.0, 2.0, 1.0]));
    assert_eq!(ok("sort", &[strs(&["e", "d", "a", "x"])]), strs(&["a", "d", "e", "x"]));
    assert_eq!(ok("sort", &[nums(&[10.0, 9.0])]), strs(&["10", "9"]));
    assert_eq!(
        err("sort", &[list([s("a"), Value::Null])]),
        "sort: element 1 of the list must be a string, got null"
    );
    assert_eq!(err("reverse", &[s("abc")]), "reverse: the argument must be a list, got string");
}

#[test]
fn slicing_and_chunks() {
    let abcd = strs(&["a", "b", "c", "d"]);
    assert_eq!(ok("slice", &[abcd.clone(), n(1.0), n(3.0)]), strs(&["b", "c"]));
    assert_eq!(ok("slice", &[abcd.clone(), n(4.0), n(4.0)]), list([]));
    assert_eq!(
        err("slice", &[abcd.clone(), n(1.0), n(5.0)]),
        "slice: the end index 5 is past the end of the list of 4 elements"
    );
    assert_eq!(
        err("slice", &[abcd.clone(), n(3.0), n(1.0)]),
        "slice: the start index 3 is after the end index 1"
    );
    assert_eq!(
        err("slice", &[abcd.clone(), n(-1.0), n(1.0)]),
        "slice: the start index must not be negative, got -1"
    );
    assert_eq!(
        ok("chunklist", &[strs(&["a", "b", "c", "d", "e"]), n(2.0)]),
        list([strs(&["a", "b"]), strs(&["c", "d"]), strs(&["e"])])
    );
    assert_eq!(ok("chunklist", &[abcd.clone(), n(0.0)]), list([abcd.clone()]));
    assert_eq!(ok("chunklist", &[list([]), n(3.0)]), list([]));
    assert_eq!(
        err("chunklist", &[abcd, n(-1.0)]),
        "chunklist: the chunk size must not be negative, got -1"
    );
}

#[test]
fn compacting_and_coalescing() {
    assert_eq!(ok("compact", &[list([s("a"), s(""), Value::Null, s("b")])]), strs(&["a", "b"]));
    assert_eq!(
        err("compact", &[list([s("a"), list([])])]),
        "compact: element 1 must be a string, got list"
    );
    assert_eq!(ok("coalescelist", &[list([]), strs(&["c", "d"]), strs(&["e"])]), strs(&["c", "d"]));
    assert_eq!(ok("coalescelist", &[Value::Null, strs(&["x"])]), strs(&["x"]));
    assert_eq!(err("coalescelist", &[list([]), list([])]), "coalescelist: every list is empty");
    assert_eq!(
        err("coalescelist", &[s("a")]),
        "coalescelist: each argument must be a list, got string"
    );
    assert_eq!(ok("one", &[list([])]), Value::Null);
    assert_eq!(ok("one", &[strs(&["x"])]), s("x"));
    assert_eq!(
        err("one", &[strs(&["x", "y"])]),
        "one: the list must have zero or one elements, but has 2"
    );
}

#[test]
fn all_and_any() {
    assert_eq!(ok("alltrue", &[list([Value::Bool(true), s("true")])]), Value::Bool(true));
    assert_eq!(ok("alltrue", &[list([Value::Bool(true), Value::Bool(false)])]), Value::Bool(false));
    assert_eq!(ok("alltrue", &[list([])]), Value::Bool(true));
    assert_eq!(ok("alltrue", &[list([Value::Null])]), Value::Bool(false));
    assert_eq!(ok("anytrue", &[list([Value::Null, Value::Bool(true)])]), Value::Bool(true));
    assert_eq!(ok("anytrue", &[list([])]), Value::Bool(false));
    assert_eq!(err("anytrue", &[list([n(1.0)])]), "anytrue: element 0 must be a bool, got number");
}
