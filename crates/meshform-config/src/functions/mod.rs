//! The built-in functions: the dispatch table, [`call`], [`names`], and the error type.
//!
//! Each group of functions lives in its own file; `args.rs` holds the argument-checking helpers
//! they share. The expression evaluator guarantees that arguments are fully known and carry no sensitive
//! marks, and implements `try`, `can`, `templatefile`, `templatestring`, `sensitive`,
//! `nonsensitive`, `issensitive`, `ephemeralasnull` and the console's `type` itself.
//!
//! Functions Terraform has but meshform refuses (with a "not supported" error saying why and what
//! to do instead) stay in the table so that they are listed and suggested: `timestamp`,
//! `plantimestamp`, `uuid` and `bcrypt` (their results change on every run, and meshform's plans
//! must be the same for the same inputs), `base64gzip` and `rsadecrypt` (no compressor or RSA in
//! the dependency tree); `list` and `map` give Terraform's own removal error.

use std::path::Path;
use std::sync::OnceLock;

use meshform_core::Value;

mod args;
mod cidr;
mod collections;
mod conversion;
mod csv;
mod datetime;
mod encoding;
mod fileset;
mod filesystem;
mod format;
mod hash;
mod maps;
mod numeric;
mod regex_fns;
mod sets;
mod strings;
mod text_encoding;
mod yaml;
mod yaml_emit;

use args::Args;
pub(crate) use conversion::type_string;

/// The source name of an expression typed into `meshform console`: `type()` is available only
/// there, as in Terraform.
pub const CONSOLE_SOURCE: &str = "<console>";

/// What a function call may use besides its arguments.
#[derive(Debug, Clone, Copy)]
pub struct FunctionContext<'a> {
    /// Relative paths given to `file()` and the other filesystem functions resolve against this.
    pub base_dir: &'a Path,
}

/// Why a function call failed.
#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FunctionError {
    /// No function has this name; the caller adds a "did you mean" using [`names`].
    #[error("unknown function")]
    Unknown,
    /// The wrong number of arguments, e.g. "join takes 2 arguments, got 1".
    #[error("{0}")]
    Arity(String),
    /// One argument (0-based index) is wrong.
    #[error("{message}")]
    Argument { index: usize, message: String },
    /// The call failed for a reason not tied to a single argument.
    #[error("{0}")]
    Failed(String),
}

/// The result of a function.
pub(crate) type FnResult = Result<Value, FunctionError>;

/// One built-in function.
type Builtin = fn(&Args<'_>) -> FnResult;

/// Every function, sorted by name (checked by a test; lookups use binary search).
const TABLE: &[(&str, Builtin)] = &[
    ("abs", numeric::abs),
    ("abspath", filesystem::abspath),
    ("alltrue", collections::alltrue),
    ("anytrue", collections::anytrue),
    ("base64decode", encoding::base64decode),
    ("base64encode", encoding::base64encode),
    ("base64gzip", encoding::base64gzip),
    ("base64sha256", hash::base64sha256),
    ("base64sha512", hash::base64sha512),
    ("basename", filesystem::basename),
    ("bcrypt", hash::random),
    ("ceil", numeric::ceil),
    ("chomp", strings::chomp),
    ("chunklist", collections::chunklist),
    ("cidrhost", cidr::cidrhost),
    ("cidrnetmask", cidr::cidrnetmask),
    ("cidrsubnet", cidr::cidrsubnet),
    ("cidrsubnets", cidr::cidrsubnets),
    ("coalesce", conversion::coalesce),
    ("coalescelist", collections::coalescelist),
    ("compact", collections::compact),
    ("concat", collections::concat),
    ("contains", collections::contains),
    ("csvdecode", csv::csvdecode),
    ("dirname", filesystem::dirname),
    ("distinct", collections::distinct),
    ("element", collections::element),
    ("endswith", strings::endswith),
    ("file", filesystem::file),
    ("filebase64", filesystem::filebase64),
    ("filebase64sha256", hash::filebase64sha256),
    ("filebase64sha512", hash::filebase64sha512),
    ("fileexists", filesystem::fileexists),
    ("filemd5", hash::filemd5),
    ("fileset", fileset::fileset),
    ("filesha1", hash::filesha1),
    ("filesha256", hash::filesha256),
    ("filesha512", hash::filesha512),
    ("flatten", collections::flatten),
    ("floor", numeric::floor),
    ("format", format::format),
    ("formatdate", datetime::formatdate),
    ("formatlist", format::formatlist),
    ("indent", strings::indent),
    ("index", collections::index),
    ("join", strings::join),
    ("jsondecode", encoding::jsondecode),
    ("jsonencode", encoding::jsonencode),
    ("keys", maps::keys),
    ("length", collections::length),
    ("list", conversion::removed),
    ("log", numeric::log),
    ("lookup", maps::lookup),
    ("lower", strings::lower),
    ("map", conversion::removed),
    ("matchkeys", maps::matchkeys),
    ("max", numeric::max),
    ("md5", hash::md5),
    ("merge", maps::merge),
    ("min", numeric::min),
    ("one", collections::one),
    ("parseint", numeric::parseint),
    ("pathexpand", filesystem::pathexpand),
    ("plantimestamp", datetime::clock),
    ("pow", numeric::pow),
    ("range", collections::range),
    ("regex", regex_fns::regex),
    ("regexall", regex_fns::regexall),
    ("replace", regex_fns::replace),
    ("reverse", collections::reverse),
    ("rsadecrypt", hash::rsadecrypt),
    ("setintersection", sets::setintersection),
    ("setproduct", sets::setproduct),
    ("setsubtract", sets::setsubtract),
    ("setunion", sets::setunion),
    ("sha1", hash::sha1),
    ("sha256", hash::sha256),
    ("sha512", hash::sha512),
    ("signum", numeric::signum),
    ("slice", collections::slice),
    ("sort", collections::sort),
    ("split", strings::split),
    ("startswith", strings::startswith),
    ("strcontains", strings::strcontains),
    ("strrev", strings::strrev),
    ("substr", strings::substr),
    ("sum", numeric::sum),
    ("textdecodebase64", text_encoding::textdecodebase64),
    ("textencodebase64", text_encoding::textencodebase64),
    ("timeadd", datetime::timeadd),
    ("timecmp", datetime::timecmp),
    ("timestamp", datetime::clock),
    ("title", strings::title),
    ("tobool", conversion::tobool),
    ("tolist", conversion::tolist),
    ("tomap", conversion::tomap),
    ("tonumber", conversion::tonumber),
    ("toset", conversion::toset),
    ("tostring", conversion::tostring),
    ("transpose", maps::transpose),
    ("trim", strings::trim),
    ("trimprefix", strings::trimprefix),
    ("trimspace", strings::trimspace),
    ("trimsuffix", strings::trimsuffix),
    ("upper", strings::upper),
    ("urlencode", encoding::urlencode),
    ("uuid", hash::random),
    ("uuidv5", hash::uuidv5),
    ("values", maps::values),
    ("yamldecode", yaml::yamldecode),
    ("yamlencode", yaml::yamlencode),
    ("zipmap", maps::zipmap),
];

/// The functions that are listed but always refused (see the module comment): their error does
/// not depend on their arguments, so it is given even while an argument is unknown.
const REFUSED: &[&str] =
    &["base64gzip", "bcrypt", "list", "map", "plantimestamp", "rsadecrypt", "timestamp", "uuid"];

/// Whether `name` is a function meshform lists but always refuses.
pub fn is_refused(name: &str) -> bool {
    REFUSED.contains(&name)
}

/// Calls the built-in function `name`.
pub fn call(name: &str, args: &[Value], ctx: &FunctionContext) -> Result<Value, FunctionError> {
    let idx =
        TABLE.binary_search_by(|(n, _)| (*n).cmp(name)).map_err(|_| FunctionError::Unknown)?;
    let (name, f) = TABLE[idx];
    f(&Args::new(name, args, ctx))
}

/// The names of all built-in functions, sorted.
pub fn names() -> &'static [&'static str] {
    static NAMES: OnceLock<Vec<&'static str>> = OnceLock::new();
    NAMES.get_or_init(|| TABLE.iter().map(|(n, _)| *n).collect())
}

#[cfg(test)]
pub(crate) mod test_support {
    //! Shorthands for the unit tests of every group.

    use super::*;

    pub fn s(v: &str) -> Value {
        Value::string(v)
    }

    /// A number written as a float literal: its shortest decimal (`n(0.1)` is exactly one tenth).
    pub fn n(v: f64) -> Value {
        Value::Number(meshform_core::Number::from_f64(v).expect("a finite test number"))
    }

    /// A number written as a decimal, exactly (beyond what floats hold).
    pub fn num(text: &str) -> Value {
        Value::Number(meshform_core::Number::parse(text).expect("a decimal"))
    }

    pub fn list(items: impl IntoIterator<Item = Value>) -> Value {
        Value::List(items.into_iter().collect())
    }

    pub fn strs(items: &[&str]) -> Value {
        list(items.iter().map(|v| s(v)))
    }

    pub fn nums(items: &[f64]) -> Value {
        list(items.iter().map(|v| n(*v)))
    }

    /// Calls with the current directory as base.
    pub fn run(name: &str, args: &[Value]) -> Result<Value, FunctionError> {
        call(name, args, &FunctionContext { base_dir: Path::new(".") })
    }

    pub fn ok(name: &str, args: &[Value]) -> Value {
        match run(name, args) {
            Ok(v) => v,
            Err(e) => panic!("{name}{args:?} failed: {e}"),
        }
    }

    /// The message of a failing call.
    pub fn err(name: &str, args: &[Value]) -> String {
        match run(name, args) {
            Ok(v) => panic!("{name}{args:?} unexpectedly returned {v}"),
            Err(e) => e.to_string(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::test_support::*;
    use super::*;
    use proptest::prelude::*;

    #[test]
    fn table_is_sorted_and_unique() {
        for pair in TABLE.windows(2) {
            assert!(pair[0].0 < pair[1].0, "{} must sort before {}", pair[0].0, pair[1].0);
        }
        assert_eq!(names().len(), TABLE.len());
        assert!(names().contains(&"upper"));
    }

    #[test]
    fn the_language_page_lists_every_function() {
        let page =
            std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../docs/configuration.md");
        let text = std::fs::read_to_string(&page).expect("docs/configuration.md is readable");
        let section = text.split("## Built-in functions").nth(1).unwrap_or("");
        for name in names() {
            assert!(section.contains(&format!("`{name}`")), "docs/configuration.md lacks `{name}`");
        }
    }

    #[test]
    fn evaluator_builtins_are_not_here() {
        for name in ["try", "can", "templatefile", "templatestring", "issensitive"] {
            assert_eq!(run(name, &[]), Err(FunctionError::Unknown));
        }
    }

    #[test]
    fn refused_functions_fail_whatever_their_arguments() {
        for name in REFUSED {
            assert!(names().contains(name), "{name} is listed");
            for args in [vec![], vec![s("x")], vec![s("x"), n(1.0)]] {
                match run(name, &args) {
                    Err(FunctionError::Failed(m)) => {
                        assert!(m.starts_with(&format!("{name}: ")), "{m}")
                    }
                    other => panic!("{name}{args:?}: {other:?}"),
                }
            }
        }
    }

    #[test]
    fn unknown_function() {
        assert_eq!(run("no_such_function", &[s("x")]), Err(FunctionError::Unknown));
        assert_eq!(FunctionError::Unknown.to_string(), "unknown function");
    }

    #[test]
    fn no_function_panics_on_odd_arguments() {
        let odd = [
            Value::Null,
            Value::Unknown,
            Value::Bool(true),
            n(-1.5),
            num("1e400"),
            n(1e300),
            s(""),
            s("/[/"),
            list([]),
            list([Value::Null, list([Value::Unknown])]),
            Value::map([("k", Value::Null)]),
            s("x").sensitive(),
        ];
        for name in names() {
            for count in 0..=3 {
                // Every combination of `count` arguments drawn from `odd` is too many; walk a
                // deterministic sample instead.
                for start in 0..odd.len() {
                    let args: Vec<Value> =
                        (0..count).map(|i| odd[(start + i * 5) % odd.len()].clone()).collect();
                    check_error_shape(name, &args);
                }
            }
        }
    }

    /// Calls `name` and checks that a failure names the function and points at a real argument.
    fn check_error_shape(name: &str, args: &[Value]) {
        let prefix = format!("{name}: ");
        match run(name, args) {
            Ok(_) => {}
            Err(FunctionError::Arity(m)) => {
                assert!(m.starts_with(&format!("{name} takes ")), "{m}")
            }
            Err(FunctionError::Argument { index, message }) => {
                assert!(index < args.len().max(1), "{name}{args:?}: index {index}: {message}");
                assert!(message.starts_with(&prefix), "{message}");
            }
            Err(FunctionError::Failed(m)) => assert!(m.starts_with(&prefix), "{m}"),
            Err(FunctionError::Unknown) => panic!("{name} is listed but unknown"),
        }
    }

    fn any_value() -> impl Strategy<Value = Value> {
        let leaf = prop_oneof![
            Just(Value::Null),
            any::<bool>().prop_map(Value::Bool),
            prop_oneof![
                Just(0.0),
                Just(-1.0),
                Just(2.5),
                Just(1e16),
                (-5i32..50).prop_map(f64::from)
            ]
            .prop_map(|f| Value::Number(meshform_core::Number::from_f64(f).expect("finite"))),
            "[a-c0-9%/\\[\\]().*$, -]{0,8}".prop_map(Value::String),
        ];
        leaf.prop_recursive(3, 24, 4, |inner| {
            prop_oneof![
                prop::collection::vec(inner.clone(), 0..4).prop_map(Value::List),
                prop::collection::btree_map("[a-c]{0,2}", inner, 0..4).prop_map(Value::Map),
            ]
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(3000))]

        #[test]
        fn any_call_returns_a_value_or_a_well_formed_error(
            which in 0..TABLE.len(),
            args in prop::collection::vec(any_value(), 0..4),
        ) {
            check_error_shape(TABLE[which].0, &args);
        }
    }
}
