//! Type constraint expressions (`list(string)`, `object({ a = string, b = optional(number) })`).

use std::collections::BTreeMap;

use hcl::edit::expr::{Expression, ObjectKey};
use meshform_core::Type;

/// Parses a type constraint expression.
pub fn parse_type(e: &Expression) -> Result<Type, String> {
    match e {
        Expression::Variable(v) => match v.as_str() {
            "string" => Ok(Type::String),
            "number" => Ok(Type::Number),
            "bool" => Ok(Type::Bool),
            "any" => Ok(Type::Any),
            other => Err(format!("unknown type \"{other}\"")),
        },
        Expression::Parenthesis(p) => parse_type(p.inner()),
        Expression::FuncCall(call) => {
            let name = call.name.name.as_str();
            let args: Vec<&Expression> = call.args.iter().collect();
            let one = |what: &str| -> Result<&Expression, String> {
                match args.as_slice() {
                    [a] => Ok(*a),
                    _ => Err(format!("{what}(…) takes exactly one argument")),
                }
            };
            match name {
                "list" => Ok(Type::List(Box::new(parse_type(one("list")?)?))),
                "set" => Ok(Type::Set(Box::new(parse_type(one("set")?)?))),
                "map" => Ok(Type::Map(Box::new(parse_type(one("map")?)?))),
                "tuple" => match one("tuple")? {
                    Expression::Array(items) => {
                        items.iter().map(parse_type).collect::<Result<_, _>>().map(Type::Tuple)
                    }
                    _ => Err("tuple(…) takes a list of types: tuple([string, number])".into()),
                },
                "object" => match one("object")? {
                    Expression::Object(obj) => {
                        let mut attrs = BTreeMap::new();
                        for (k, v) in obj.iter() {
                            let key = match k {
                                ObjectKey::Ident(i) => i.as_str().to_owned(),
                                ObjectKey::Expression(Expression::String(s)) => s.value().clone(),
                                _ => {
                                    return Err("object attribute names must be identifiers".into())
                                }
                            };
                            let (t, optional) = match v.expr() {
                                Expression::FuncCall(c) if c.name.name.as_str() == "optional" => {
                                    match c.args.iter().next() {
                                        Some(inner) => (parse_type(inner)?, true),
                                        None => return Err("optional(…) takes a type".into()),
                                    }
                                }
                                other => (parse_type(other)?, false),
                            };
                            attrs.insert(key, (t, optional));
                        }
                        Ok(Type::Object(attrs))
                    }
                    _ => Err("object(…) takes an object of types: object({ a = string })".into()),
                },
                other => Err(format!("unknown type constructor \"{other}\"")),
            }
        }
        _ => Err("expected a type such as string, list(string) or object({ … })".into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> Result<Type, String> {
        parse_type(&hcl::edit::parser::parse_expr(s).unwrap())
    }

    #[test]
    fn parses_type_constraints() {
        assert_eq!(t("list(string)").unwrap().to_string(), "list(string)");
        assert_eq!(
            t("object({ a = string, b = optional(number) })").unwrap().to_string(),
            "object({a = string, b = optional(number)})"
        );
        assert!(t("lisst(string)").unwrap_err().contains("lisst"));
        assert!(t("\"string\"").is_err());
    }
}
