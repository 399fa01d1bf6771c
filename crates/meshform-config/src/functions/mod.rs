//! The built-in functions (placeholder until the full library lands).

use meshform_core::Value;

/// What a function call may use besides its arguments.
pub struct FunctionContext<'a> {
    pub base_dir: &'a std::path::Path,
}

#[derive(Debug, thiserror::Error, PartialEq)]
pub enum FunctionError {
    #[error("unknown function")]
    Unknown,
    #[error("{0}")]
    Arity(String),
    #[error("{message}")]
    Argument { index: usize, message: String },
    #[error("{0}")]
    Failed(String),
}

pub fn call(name: &str, args: &[Value], _ctx: &FunctionContext) -> Result<Value, FunctionError> {
    match (name, args) {
        ("upper", [Value::String(s)]) => Ok(Value::String(s.to_uppercase())),
        ("length", [Value::List(l)]) => Ok(Value::number(l.len() as f64)),
        _ => Err(FunctionError::Unknown),
    }
}

pub fn names() -> &'static [&'static str] {
    &["length", "upper"]
}
