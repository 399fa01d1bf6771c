//! Expression evaluation: values, unknowns, sensitivity, templates, errors with spans.

use std::collections::BTreeMap;
use std::path::Path;

use meshform_config::eval::{Evaluator, MapScope};
use meshform_core::{Diagnostic, SourceFile, Value};

fn scope() -> MapScope {
    MapScope(BTreeMap::from([
        (
            "var".to_owned(),
            Value::map([
                ("name", Value::string("mesh")),
                ("n", Value::number(3)),
                ("list", Value::List(vec![Value::string("a"), Value::string("b")])),
                ("secret", Value::string("hunter2").sensitive()),
                ("tpl", Value::string("hunter2 ${nope}").sensitive()),
                ("m", Value::map([("x", Value::number(1)), ("y", Value::number(2))])),
            ]),
        ),
        (
            "local_file".to_owned(),
            Value::map([
                ("known", Value::map([("id", Value::string("abc"))])),
                ("later", Value::map([("id", Value::Unknown)])),
                (
                    "many",
                    Value::List(vec![
                        Value::map([("id", Value::string("0"))]),
                        Value::map([("id", Value::string("1"))]),
                    ]),
                ),
            ]),
        ),
    ]))
}

fn eval(src: &str) -> Result<Value, Diagnostic> {
    let file = SourceFile::new("test.hcl", format!("x = {src}\n"));
    let body = hcl::edit::parser::parse_body(&file.text).expect("test source parses");
    let expr = &body.get_attribute("x").expect("x").value;
    let s = scope();
    Evaluator::new(&s, &file, Path::new(".")).eval(expr)
}

fn ok(src: &str) -> Value {
    eval(src).unwrap_or_else(|d| panic!("{src}: {d}"))
}

#[test]
fn literals_and_operators() {
    assert_eq!(ok("1 + 2 * 3"), Value::number(7));
    assert_eq!(ok("var.n > 2 && !false"), Value::Bool(true));
    assert_eq!(ok("var.n == 3 ? \"yes\" : \"no\""), Value::string("yes"));
    assert_eq!(ok("\"${var.name}-${var.n}\""), Value::string("mesh-3"));
    assert_eq!(ok("var.list[1]"), Value::string("b"));
    assert_eq!(ok("var.m[\"y\"]"), Value::number(2));
    assert_eq!(
        ok("local_file.many[*].id"),
        Value::List(vec![Value::string("0"), Value::string("1")])
    );
    assert_eq!(
        ok("local_file.many.*.id"),
        Value::List(vec![Value::string("0"), Value::string("1")])
    );
}

#[test]
fn for_expressions() {
    assert_eq!(
        ok("[for s in var.list : upper(s)]"),
        Value::List(vec![Value::string("A"), Value::string("B")])
    );
    assert_eq!(
        ok("{for k, v in var.m : k => v * 10 if v > 1}"),
        Value::map([("y", Value::number(20))])
    );
    assert_eq!(
        ok("{for s in [\"a\", \"b\", \"a\"] : s => s...}"),
        Value::map([
            ("a", Value::List(vec![Value::string("a"), Value::string("a")])),
            ("b", Value::List(vec![Value::string("b")])),
        ])
    );
    let err = eval("{for s in [\"a\", \"a\"] : s => s}").unwrap_err();
    assert!(err.summary.contains("duplicate key"), "{}", err.summary);
}

#[test]
fn templates_with_directives_and_heredocs() {
    assert_eq!(ok("\"%{ for s in var.list }[${s}]%{ endfor }\""), Value::string("[a][b]"));
    assert_eq!(ok("\"%{ if var.n > 5 }big%{ else }small%{ endif }\""), Value::string("small"));
    // `~` strips the whitespace (and newline) next to the marker, as in Terraform.
    assert_eq!(
        ok("<<EOT\nlist:\n%{ for s in var.list ~}\n  - ${s}\n%{ endfor ~}\nend\nEOT\n"),
        Value::string("list:\n  - a\n  - b\nend\n")
    );
    assert_eq!(ok("\"%{ if true ~}   yes   %{~ endif }!\""), Value::string("yes!"));
    let v = ok("<<-EOT\n    hello\n      world\n    EOT\n");
    assert_eq!(v, Value::string("hello\n  world\n"));
    let v = ok("<<EOT\n  kept\nEOT\n");
    assert_eq!(v, Value::string("  kept\n"));
}

#[test]
fn unknown_values_propagate() {
    assert_eq!(ok("local_file.later.id"), Value::Unknown);
    assert_eq!(ok("\"prefix-${local_file.later.id}\""), Value::Unknown);
    assert_eq!(ok("upper(local_file.later.id)"), Value::Unknown);
    assert_eq!(ok("local_file.later.id == \"x\""), Value::Unknown);
    assert_eq!(ok("false && local_file.later.id == \"x\""), Value::Bool(false));
    assert_eq!(
        ok("[local_file.known.id, local_file.later.id]"),
        Value::List(vec![Value::string("abc"), Value::Unknown])
    );
}

/// Errors about a sensitive key, a collection keyed by one, or a sensitive template path name
/// neither the value nor the keys; a key made from a sensitive value makes its object sensitive.
#[test]
fn errors_never_show_sensitive_keys_or_paths() {
    // What the report shows: the message, the help, and the source drawn under it when that is
    // not the configuration itself (which holds the test's own literals).
    let message = |src: &str| {
        let d = eval(src).expect_err(src);
        let drawn =
            d.span.as_ref().filter(|s| s.file.name != "test.hcl").map(|s| s.file.text.clone());
        format!("{} {} {}", d.summary, d.help.unwrap_or_default(), drawn.unwrap_or_default())
    };
    for src in [
        "{ a = 1 }[var.secret]",
        "{ (var.secret) = 1 }[\"x\"]",
        "{ for k in [var.secret, var.secret] : k => 1 }",
        "[1][length(var.secret)]",
        "templatefile(var.secret, {})",
    ] {
        let m = message(src);
        assert!(!m.contains("hunter2") && !m.contains(" 7 "), "{src}: {m}");
        assert!(m.contains("(sensitive value)"), "{src}: {m}");
    }
    // Inside loops and splats over a sensitive collection, and in a sensitive object's attributes.
    for src in [
        "[for s in sensitive([\"hunter2\"]) : tonumber(s)]",
        "[for s in sensitive([\"hunter2\"]) : { a = 1 }[s]]",
        "\"%{ for s in sensitive([\"hunter2\"]) }${tonumber(s)}%{ endfor }\"",
        "sensitive({ hunter2 = 1 }).nope",
        "sensitive({ hunter2 = 1 }).hunter3",
        "sensitive([{ hunter2 = 1 }])[*].nope",
        "templatestring(var.tpl, {})",
    ] {
        let m = message(src);
        assert!(!m.contains("hunter2"), "{src}: {m}");
    }
    assert!(ok("{ (var.secret) = 1 }").is_sensitive());
    assert!(ok("{ for k in [var.secret] : k => 1 }").is_sensitive());
    // Not sensitive: the keys help as before.
    assert!(message("{ a = 1 }[\"b\"]").contains("keys present: a"));
}

/// Exact arithmetic stops where results outgrow any configuration's need, instead of squaring its
/// way into a hang.
#[test]
fn arithmetic_results_are_bounded() {
    let big = "tonumber(\"1e10000\")";
    assert!(ok(&format!("{big} * {big} > 1")) == Value::Bool(true));
    let d = eval(&format!("({big} * {big}) * ({big} * {big})")).expect_err("too large");
    assert_eq!(d.code, "meshform::config::number_too_large");
    assert_eq!(ok("0.1 + 0.2 == 0.3"), Value::Bool(true), "small numbers stay exact");
}

#[test]
fn sensitive_values_stay_sensitive() {
    assert!(ok("var.secret").is_sensitive());
    assert!(ok("\"pw=${var.secret}\"").is_sensitive());
    assert!(ok("upper(var.secret)").is_sensitive());
    assert!(ok("var.secret == \"x\"").is_sensitive());
    assert!(!format!("{}", ok("\"pw=${var.secret}\"")).contains("hunter2"));
    assert!(ok("sensitive(\"x\")").is_sensitive());
}

#[test]
fn errors_point_at_the_offending_text() {
    let err = eval("var.nmae").unwrap_err();
    assert_eq!(err.span.as_ref().unwrap().text(), ".nmae");
    assert_eq!(err.help.as_deref(), Some("did you mean `name`?"));
    assert_eq!(err.span.as_ref().unwrap().location(), "test.hcl:1:8");

    let err = eval("varr.name").unwrap_err();
    assert!(err.help.unwrap().contains("`var`"));

    let err = eval("var.list[5]").unwrap_err();
    assert!(err.summary.contains("out of range"));
    assert_eq!(err.span.unwrap().text(), "5");

    let err = eval("\"a\" + 1").unwrap_err();
    assert!(err.summary.contains("number"), "{}", err.summary);

    let err = eval("uper(\"a\")").unwrap_err();
    assert_eq!(err.code, "meshform::config::unknown_function");
    assert_eq!(err.help.as_deref(), Some("did you mean `upper`?"));

    let err = eval("\"x${var.list}\"").unwrap_err();
    assert!(err.summary.contains("cannot include a list"), "{}", err.summary);
}

#[test]
fn try_and_can() {
    assert_eq!(ok("try(var.nope, \"fallback\")"), Value::string("fallback"));
    assert_eq!(ok("can(var.list[9])"), Value::Bool(false));
    assert_eq!(ok("can(var.list[0])"), Value::Bool(true));
}

/// A traversal from a scope name reads the scope by reference; one from a parenthesised root takes the
/// copying path. Both give the same values, sensitive marks and errors.
#[test]
fn borrowed_and_copied_traversals_agree() {
    let s = MapScope(BTreeMap::from([(
        "r".to_owned(),
        Value::map([
            ("secret", Value::map([("inner", Value::string("x")), ("n", Value::Null)]).sensitive()),
            (
                "list",
                Value::List(vec![
                    Value::string("a"),
                    Value::string("b").sensitive(),
                    Value::Unknown,
                ]),
            ),
            ("m", Value::map([("1", Value::string("one")), ("k", Value::Null)])),
            ("later", Value::Unknown),
        ]),
    )]));
    let run = |src: &str| {
        let file = SourceFile::new("test.hcl", format!("x = {src}\n"));
        let body = hcl::edit::parser::parse_body(&file.text).expect("test source parses");
        let expr = &body.get_attribute("x").expect("x").value;
        Evaluator::new(&s, &file, Path::new("."))
            .eval(expr)
            .map_err(|d| (d.code, d.summary, d.span.map(|s| s.text().to_owned())))
    };
    let paths = [
        ".secret",
        ".secret.inner",
        ".secret.n",
        ".secret[\"inner\"]",
        ".list[1]",
        ".list[2].x",
        ".list[\"1\"]",
        ".list[7]",
        ".list.0",
        ".list[*]",
        ".m[1]",
        ".m[sensitive(\"1\")]",
        ".m[\"k\"]",
        ".m.nope",
        ".m.k.x",
        ".m[r.later]",
        ".later.x[0]",
        ".secret.inner.deeper",
    ];
    for path in paths {
        let borrowed = run(&format!("r{path}"));
        let copied = run(&format!("(r){path}"));
        assert_eq!(borrowed, copied, "r{path}");
        if let Ok(v) = &borrowed {
            assert_eq!(v.is_sensitive(), copied.as_ref().unwrap().is_sensitive(), "r{path}");
        }
    }
    assert!(run("r.secret.inner").unwrap().is_sensitive());
    assert!(run("r.m[sensitive(\"1\")]").unwrap().is_sensitive());
}

/// The text a value prints as (`tostring`, interpolation, the console).
fn shown(src: &str) -> String {
    match ok(src) {
        Value::String(s) => s,
        v => v.to_string(),
    }
}

#[test]
fn numbers_are_exact_as_in_terraform() {
    assert_eq!(ok("0.1 + 0.2 == 0.3"), Value::Bool(true));
    assert_eq!(shown("0.1 + 0.2"), "0.3");
    assert_eq!(shown("\"${0.1 + 0.2}\""), "0.3");
    assert_eq!(shown("9007199254740993 + 0"), "9007199254740993");
    assert_eq!(ok("9007199254740993 == 9007199254740992"), Value::Bool(false));
    assert_eq!(shown("9223372036854775807 + 1"), "9223372036854775808");
    assert_eq!(shown("-9223372036854775808 - 1"), "-9223372036854775809");
    assert_eq!(shown("1e100"), format!("1{}", "0".repeat(100)));
    assert_eq!(shown("1.5 * 2"), "3");
    assert_eq!(shown("7 / 2"), "3.5");
    assert_eq!(shown("-7 % 3"), "-1");
    assert_eq!(shown("7.5 % 2"), "1.5");
    assert_eq!(shown("1 / 3 * 3"), "1");
    assert_eq!(ok("0.30000000000000004 > 0.3"), Value::Bool(true));
    assert_eq!(shown("\"0.1\" + \"0.2\""), "0.3");
    assert_eq!(shown("-var.n"), "-3");
    assert_eq!(
        shown("jsonencode([9223372036854775808, 0.1 + 0.2, 1e21])"),
        "[9223372036854775808,0.3,1000000000000000000000]"
    );
    assert_eq!(
        shown("tostring(123456789012345678901234567890 * 10)"),
        "1234567890123456789012345678900"
    );
    assert_eq!(shown("format(\"%d\", 9007199254740993)"), "9007199254740993");
    assert_eq!(shown("floor(9007199254740993.5)"), "9007199254740993");
    assert_eq!(shown("max(9007199254740993, 9007199254740992)"), "9007199254740993");
    assert_eq!(shown("sum([0.1, 0.2, 0.3])"), "0.6");
    assert_eq!(shown("[for i, v in [\"a\", \"b\"] : i * 0.1][1]"), "0.1");
    assert_eq!(shown("tonumber(\"0.1\") * 3"), "0.3");
    assert_eq!(shown(r#"jsondecode("[0.1000000000000000001]")[0] * 10"#), "1.000000000000000001");
    assert_eq!(
        shown("toset([1 / 3, 0.3333333333333333, 1 / 3])"),
        format!("{}", ok("[0.3333333333333333, 1 / 3]"))
    );
    assert_eq!(shown("yamldecode(yamlencode({n = 9007199254740993})).n"), "9007199254740993");
}

#[test]
fn division_by_zero_is_an_error() {
    for src in ["1 / 0", "1 % 0", "1 / (0.1 - 0.1)"] {
        let d = eval(src).expect_err(src);
        assert!(d.to_string().contains("division by zero"), "{src}: {d}");
    }
}
