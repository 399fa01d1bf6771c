//! Tests of the functions the evaluator implements: `issensitive`, `ephemeralasnull` and
//! `templatestring`, and the "did you mean" of an unknown function.

use std::collections::BTreeMap;
use std::path::Path;

use meshform_core::{Diagnostic, SourceFile, Value};

use crate::eval::{Evaluator, MapScope};

fn scope() -> MapScope {
    MapScope(BTreeMap::from([(
        "local".to_owned(),
        Value::map([
            ("greeting", Value::string("Hello, ${name}!")),
            ("loop", Value::string("%{ for c in clusters }${c};%{ endfor }")),
            ("secret", Value::string("pw=${name}").sensitive()),
            ("password", Value::string("hunter2").sensitive()),
            ("later", Value::Unknown),
            ("number", Value::number(5)),
            ("templates", Value::map([("a", Value::string("A=${name}"))])),
            ("broken", Value::string("${")),
            ("recursive", Value::string("${templatestring(t, { t = t })}")),
        ]),
    )]))
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

fn message(src: &str) -> String {
    match eval(src) {
        Ok(v) => panic!("{src} unexpectedly gave {v}"),
        Err(d) => d.summary.clone(),
    }
}

#[test]
fn issensitive_sees_the_mark_and_is_not_itself_sensitive() {
    assert_eq!(ok("issensitive(local.password)"), Value::Bool(true));
    assert_eq!(ok("issensitive(\"hunter2\")"), Value::Bool(false));
    assert_eq!(ok("issensitive(sensitive(local.later))"), Value::Bool(true));
    assert_eq!(ok("issensitive(local.later)"), Value::Unknown);
    assert_eq!(ok("issensitive(nonsensitive(local.password))"), Value::Bool(false));
    assert!(!ok("issensitive(local.password)").is_sensitive());
    assert_eq!(message("issensitive()"), "issensitive takes exactly one argument");
}

#[test]
fn ephemeralasnull_passes_values_through() {
    assert_eq!(ok("ephemeralasnull(\"x\")"), Value::string("x"));
    assert!(ok("ephemeralasnull(local.password)").is_sensitive());
    assert_eq!(ok("ephemeralasnull(local.later)"), Value::Unknown);
}

#[test]
fn templatestring_renders_references_and_escaped_literals() {
    assert_eq!(
        ok("templatestring(local.greeting, { name = \"mesh\" })"),
        Value::string("Hello, mesh!")
    );
    assert_eq!(
        ok("templatestring(\"Hello, $${name}!\", { name = \"mesh\" })"),
        Value::string("Hello, mesh!")
    );
    assert_eq!(
        ok("templatestring(local.loop, { clusters = [\"c1\", \"c2\"] })"),
        Value::string("c1;c2;")
    );
    assert_eq!(
        ok("templatestring(local.templates[\"a\"], { name = \"x\" })"),
        Value::string("A=x")
    );
    assert_eq!(ok("templatestring(local.later, { name = \"x\" })"), Value::Unknown);
    assert!(ok("templatestring(local.secret, { name = \"x\" })").is_sensitive());
    assert!(ok("templatestring(local.greeting, { name = local.password })").is_sensitive());
}

#[test]
fn templatestring_refuses_what_terraform_refuses() {
    let cases = [
        (
            "templatestring(\"Hello, ${local.number}\", {})",
            "templatestring: invalid template expression: use $${ and %%{ to escape template \
             sequences so that they can be parsed by the templatestring function, rather than by \
             the main meshform parser",
        ),
        (
            "templatestring(\"${local.greeting}\", {})",
            "templatestring: invalid template expression: either use $${ to escape this template \
             sequence for processing by the templatestring function, or write the inner \
             expression alone to use its value as the template to render",
        ),
        (
            "templatestring(upper(local.greeting), {})",
            "templatestring: invalid template expression: must be either a literal string or a \
             simple reference to a single string from elsewhere",
        ),
        (
            "templatestring(local.number, {})",
            "templatestring: invalid template expression: a string is required",
        ),
        ("templatestring(local.greeting, [])", "templatestring: invalid vars value: must be a map"),
        (
            "templatestring(local.greeting, { \"not ok\" = 1 })",
            "templatestring: invalid template variable name \"not ok\": must start with a letter, \
             followed by zero or more letters, digits, and underscores",
        ),
        (
            "templatestring(local.greeting)",
            "templatestring takes 2 arguments (template, variables)",
        ),
        // Arguments expanded from a list cannot be checked one by one.
        (
            "templatestring([local.greeting, {}]...)",
            "templatestring takes 2 arguments (template, variables)",
        ),
        ("templatefile([\"x.tpl\", {}]...)", "templatefile takes 2 arguments (path, variables)"),
    ];
    for (src, want) in cases {
        assert_eq!(message(src), want, "{src}");
    }
    // A reference the variables do not define names the template's own source.
    let d = eval("templatestring(local.greeting, { other = 1 })").unwrap_err();
    assert!(d.to_string().contains("name"), "{d}");
    assert!(eval("templatestring(local.broken, {})").is_err());
}

#[test]
fn templates_may_not_render_templates() {
    let e = message("templatestring(local.recursive, { t = local.recursive })");
    assert_eq!(
        e,
        "templatestring: cannot recursively call templatestring from inside another template function"
    );
    // The guard is released after a failed render.
    assert_eq!(ok("templatestring(local.greeting, { name = \"x\" })"), Value::string("Hello, x!"));
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("self.tpl"), "${templatefile(\"self.tpl\", {})}").unwrap();
    let file = SourceFile::new("test.hcl", "templatefile(\"self.tpl\", {})".to_string());
    let expr: hcl::edit::expr::Expression = file.text.parse().expect("parses");
    let s = scope();
    let d = Evaluator::new(&s, &file, dir.path()).eval(&expr).unwrap_err();
    assert_eq!(
        d.summary,
        "templatefile: cannot recursively call templatefile from inside another template function"
    );
}

#[test]
fn refused_functions_fail_even_with_unknown_arguments() {
    assert!(message("list(local.later)").starts_with("list: the \"list\" function was deprecated"));
    assert!(message("bcrypt(local.later)").contains("not supported"));
    assert!(message("timestamp()").contains("it reads the clock"));
}

#[test]
fn function_errors_name_the_function_once_and_hide_sensitive_arguments() {
    assert_eq!(
        message("cidrhost(\"10.0.0.0/30\", 9)"),
        "cidrhost: prefix of 30 does not accommodate a host numbered 9"
    );
    assert_eq!(message("upper()"), "upper takes 1 argument, got 0");
    assert_eq!(
        message("timeadd(local.password, \"1h\")"),
        "timeadd: invalid argument (sensitive value)"
    );
    let d = eval("cidrnetmask(\"1::/64\")").unwrap_err();
    assert_eq!(d.code, "meshform::config::function_argument");
}

#[test]
fn type_is_a_console_function() {
    let file = SourceFile::new(crate::functions::CONSOLE_SOURCE, "type([\"a\", 1])".to_string());
    let expr: hcl::edit::expr::Expression = file.text.parse().expect("parses");
    let s = scope();
    let v = Evaluator::new(&s, &file, Path::new(".")).eval(&expr).unwrap();
    assert_eq!(v, Value::string("tuple([\n    string,\n    number,\n])"));
    let d = eval("type(\"a\")").unwrap_err();
    assert_eq!(d.summary, "unknown function \"type\"");
    assert!(d.help.as_deref().unwrap_or("").contains("meshform console"), "{d}");
}

#[test]
fn unknown_functions_suggest_evaluator_functions_too() {
    let d = eval("issensitiv(local.password)").unwrap_err();
    assert_eq!(d.summary, "unknown function \"issensitiv\"");
    assert_eq!(d.help.as_deref(), Some("did you mean `issensitive`?"));
}
