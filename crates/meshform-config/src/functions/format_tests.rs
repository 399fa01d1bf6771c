//! Tests of `format` and `formatlist`.

use super::super::test_support::*;
use super::super::FunctionError;
use meshform_core::Value;

fn f(spec: &str, args: &[Value]) -> String {
    let mut all = vec![s(spec)];
    all.extend_from_slice(args);
    match ok("format", &all) {
        Value::String(out) => out,
        v => panic!("format returned {v}"),
    }
}

fn ferr(spec: &str, args: &[Value]) -> String {
    let mut all = vec![s(spec)];
    all.extend_from_slice(args);
    err("format", &all)
}

#[test]
fn strings_and_basic_verbs() {
    assert_eq!(f("Hello, %s!", &[s("Ander")]), "Hello, Ander!");
    assert_eq!(f("There are %d lights", &[n(4.0)]), "There are 4 lights");
    assert_eq!(f("%s and %s", &[n(1.5), Value::Bool(true)]), "1.5 and true");
    assert_eq!(f("100%%", &[]), "100%");
    assert_eq!(f("%t", &[Value::Bool(false)]), "false");
    assert_eq!(f("%.3s", &[s("abcdef")]), "abc");
    assert_eq!(f("%q", &[s("a\"b\n")]), "\"a\\\"b\\n\"");
    assert_eq!(f("%[2]s %[1]s %s", &[s("a"), s("b")]), "b a b");
    assert_eq!(f("%d", &[s("12")]), "12");
}

#[test]
fn v_renders_any_value() {
    assert_eq!(f("%v", &[s("x")]), "x");
    assert_eq!(f("%v", &[n(3.0)]), "3");
    assert_eq!(f("%v", &[n(0.25)]), "0.25");
    assert_eq!(f("%v", &[Value::Null]), "null");
    assert_eq!(f("%v", &[list([s("a"), n(1.0)])]), "[\"a\",1]");
    assert_eq!(f("%v", &[Value::map([("b", n(2.0)), ("a", Value::Null)])]), "{\"a\":null,\"b\":2}");
    assert_eq!(f("%#v", &[s("x")]), "\"x\"");
    assert_eq!(f("%#v", &[n(2.0)]), "2");
}

#[test]
fn width_and_padding() {
    assert_eq!(f("%5d|", &[n(42.0)]), "   42|");
    assert_eq!(f("%-5d|", &[n(42.0)]), "42   |");
    assert_eq!(f("%-5s|", &[s("ab")]), "ab   |");
    assert_eq!(f("%5s|", &[s("ab")]), "   ab|");
    assert_eq!(f("%05d", &[n(-42.0)]), "-0042");
    assert_eq!(f("%05s", &[s("ab")]), "   ab");
    assert_eq!(f("%3s|", &[s("→→")]), " →→|");
    assert_eq!(f("%+d % d", &[n(5.0), n(5.0)]), "+5  5");
    assert_eq!(f("%.3d", &[n(7.0)]), "007");
    assert_eq!(f("%08.3f", &[n(-2.34567)]), "-002.346");
}

#[test]
fn integers_in_other_bases() {
    assert_eq!(f("%x %X %#x", &[n(255.0), n(255.0), n(255.0)]), "ff FF 0xff");
    assert_eq!(f("%b %o %#o", &[n(5.0), n(8.0), n(8.0)]), "101 10 010");
    assert_eq!(f("%d", &[n(-1e16)]), "-10000000000000000");
    assert_eq!(f("%d", &[num("9007199254740993")]), "9007199254740993");
    assert_eq!(f("%d", &[num("-1e30")]), "-1000000000000000000000000000000");
    assert_eq!(f("%x", &[num("18446744073709551616")]), "10000000000000000");
}

#[test]
fn floats() {
    assert_eq!(f("%.2f", &[n(2.34567)]), "2.35");
    assert_eq!(f("%f", &[n(1.0)]), "1.000000");
    assert_eq!(f("%.0f", &[n(2.5)]), "2");
    assert_eq!(f("%e", &[n(1234.5678)]), "1.234568e+03");
    assert_eq!(f("%.2E", &[n(0.000123)]), "1.23E-04");
    assert_eq!(f("%g", &[n(1e6)]), "1e+06");
    assert_eq!(f("%g", &[n(100000.0)]), "100000");
    assert_eq!(f("%g", &[n(0.0001)]), "0.0001");
    assert_eq!(f("%g", &[n(0.00001)]), "1e-05");
    assert_eq!(f("%g", &[n(1.5)]), "1.5");
    assert_eq!(f("%g", &[n(0.0)]), "0");
    assert_eq!(f("%.3g", &[n(2.34567)]), "2.35");
    assert_eq!(f("%.3g", &[n(1234.0)]), "1.23e+03");
    assert_eq!(f("%G", &[n(1e-7)]), "1E-07");
    assert_eq!(f("%.1f", &[n(0.25)]), "0.2");
    assert_eq!(f("%.2f", &[num("9007199254740993.005")]), "9007199254740993.00");
    assert_eq!(f("%f", &[num("1e30")]), "1000000000000000000000000000000.000000");
    assert_eq!(f("%e", &[num("1e400")]), "+Inf");
    assert_eq!(f("%+.1f", &[n(2.0)]), "+2.0");
}

#[test]
fn misuse_is_reported() {
    assert_eq!(
        ferr("%d", &[n(1.5)]),
        "format: the \"%d\" at offset 0 needs a whole number, got 1.5"
    );
    assert_eq!(ferr("x %s", &[]), "format: not enough arguments for the \"%s\" at offset 2");
    assert_eq!(
        ferr("%s", &[s("a"), s("b")]),
        "format: too many arguments; the format string uses only 1"
    );
    assert_eq!(ferr("plain", &[s("a")]), "format: too many arguments; the format string uses none");
    assert_eq!(
        ferr("%z", &[n(1.0)]),
        "format: the \"%z\" at offset 0 is not a verb meshform knows"
    );
    assert_eq!(ferr("50%", &[]), "format: the format verb at offset 2 is unterminated");
    assert_eq!(
        ferr("%s", &[strs(&["a"])]),
        "format: the \"%s\" at offset 0 needs a string, got list"
    );
    assert_eq!(ferr("%s", &[Value::Null]), "format: the \"%s\" at offset 0 cannot format null");
    assert_eq!(ferr("%t", &[n(1.0)]), "format: the \"%t\" at offset 0 needs a bool, got number");
    assert_eq!(ferr("%d", &[s("x")]), "format: the \"%d\" at offset 0 needs a number, got \"x\"");
    assert_eq!(
        ferr("%99999d", &[n(1.0)]),
        "format: the verb at offset 0 asks for more than 10000 characters"
    );
    assert_eq!(ferr("%[0]d", &[n(1.0)]), "format: invalid argument index in the verb at offset 0");
    assert_eq!(err("format", &[]), "format takes at least 1 argument, got 0");
    // The error points at the offending argument (the spec is argument 0).
    assert_eq!(
        run("format", &[s("%s %d"), s("a"), s("b")]),
        Err(FunctionError::Argument {
            index: 2,
            message: "format: the \"%d\" at offset 3 needs a number, got \"b\"".into()
        })
    );
}

#[test]
fn huge_widths_do_not_blow_up() {
    let spec = "%10000s".repeat(10_000);
    let args: Vec<Value> = std::iter::once(s(&spec)).chain((0..10_000).map(|_| s("x"))).collect();
    let e = err("format", &args);
    assert!(e.contains("bytes long"), "{e}");
}

#[test]
fn formatlist_iterates_over_lists() {
    assert_eq!(
        ok("formatlist", &[s("Hello, %s!"), strs(&["Valentina", "Ander"])]),
        strs(&["Hello, Valentina!", "Hello, Ander!"])
    );
    assert_eq!(
        ok("formatlist", &[s("%s, %s!"), s("Salutations"), strs(&["Valentina", "Ander"])]),
        strs(&["Salutations, Valentina!", "Salutations, Ander!"])
    );
    assert_eq!(
        ok("formatlist", &[s("%s=%d"), strs(&["a", "b"]), nums(&[1.0, 2.0])]),
        strs(&["a=1", "b=2"])
    );
    assert_eq!(ok("formatlist", &[s("%s"), s("x")]), strs(&["x"]));
    assert_eq!(ok("formatlist", &[s("%s"), strs(&[])]), list([]));
    assert_eq!(
        err("formatlist", &[s("%s %s"), strs(&["a", "b"]), strs(&["c"])]),
        "formatlist: argument 2 has 1 elements but argument 1 has 2; every list must have the same length"
    );
    assert_eq!(
        err("formatlist", &[s("%d"), list([n(1.0), s("x")])]),
        "formatlist: in iteration 1, the \"%d\" at offset 0 needs a number, got \"x\""
    );
}
