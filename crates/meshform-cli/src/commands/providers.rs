//! `meshform providers schema --json`: every registered provider's configuration, resource and data
//! source schemas in the shape of `terraform providers schema -json` (`schemas/providers.schema.json`).

use meshform_core::schema::{Attribute, BlockNesting, NestedBlock, Schema};
use meshform_core::types::Type;
use serde_json::{json, Map, Value};

use super::{registry, usage_error};
use crate::output::Output;
use crate::report::exit;
use crate::settings::Settings;

/// `meshform providers schema --json`.
pub fn schema(settings: &Settings, json: bool) -> u8 {
    if !json {
        return usage_error(
            settings,
            "The --json flag is required",
            "run `meshform providers schema --json` (or -json)",
        );
    }
    Output.line(serde_json::to_string(&document(settings)).unwrap_or_default());
    exit::OK
}

/// The whole document: `format_version` and `provider_schemas` keyed by provider name.
fn document(settings: &Settings) -> Value {
    let registry = registry(settings);
    let mut providers = Map::new();
    for name in registry.names() {
        let Some(p) = registry.get(name) else { continue };
        let s = p.schema();
        let versioned = |schemas: &std::collections::BTreeMap<String, Schema>| -> Value {
            schemas
                .iter()
                .map(|(k, v)| (k.clone(), json!({ "version": 0, "block": block(v) })))
                .collect::<Map<_, _>>()
                .into()
        };
        providers.insert(
            name.to_owned(),
            json!({
                "provider": { "version": 0, "block": block(&s.provider) },
                "resource_schemas": versioned(&s.resources),
                "data_source_schemas": versioned(&s.data_sources),
            }),
        );
    }
    json!({ "format_version": "1.0", "provider_schemas": providers })
}

/// A block as Terraform's `jsonprovider` prints it; flags that are false are left out.
fn block(s: &Schema) -> Value {
    let mut out = Map::new();
    if !s.attributes.is_empty() {
        let attrs: Map<_, _> =
            s.attributes.iter().map(|(k, a)| (k.clone(), attribute(a))).collect();
        out.insert("attributes".into(), attrs.into());
    }
    if !s.blocks.is_empty() {
        let blocks: Map<_, _> = s.blocks.iter().map(|(k, b)| (k.clone(), nested(b))).collect();
        out.insert("block_types".into(), blocks.into());
    }
    if !s.description.is_empty() {
        out.insert("description".into(), s.description.into());
    }
    out.insert("description_kind".into(), "plain".into());
    out.into()
}

fn attribute(a: &Attribute) -> Value {
    let mut out = Map::new();
    out.insert("type".into(), cty_type(&a.ty));
    if !a.description.is_empty() {
        out.insert("description".into(), a.description.into());
    }
    out.insert("description_kind".into(), "plain".into());
    for (flag, on) in [
        ("required", a.required),
        ("optional", a.optional),
        ("computed", a.computed),
        ("sensitive", a.sensitive),
    ] {
        if on {
            out.insert(flag.into(), true.into());
        }
    }
    out.into()
}

fn nested(b: &NestedBlock) -> Value {
    let mode = match b.nesting {
        BlockNesting::Single => "single",
        BlockNesting::List => "list",
    };
    let mut out = Map::new();
    out.insert("nesting_mode".into(), mode.into());
    out.insert("block".into(), block(&b.schema));
    if b.nesting == BlockNesting::List {
        out.insert("min_items".into(), b.min_items.into());
        if let Some(max) = b.max_items {
            out.insert("max_items".into(), max.into());
        }
    }
    out.into()
}

/// cty's JSON type: `"string"`, `["list", T]`, `["object", {…}, [optional…]]`, `"dynamic"`.
fn cty_type(t: &Type) -> Value {
    match t {
        Type::Any => "dynamic".into(),
        Type::String => "string".into(),
        Type::Number => "number".into(),
        Type::Bool => "bool".into(),
        Type::List(e) => json!(["list", cty_type(e)]),
        Type::Set(e) => json!(["set", cty_type(e)]),
        Type::Map(e) => json!(["map", cty_type(e)]),
        Type::Tuple(ts) => json!(["tuple", ts.iter().map(cty_type).collect::<Vec<_>>()]),
        Type::Object(fields) => {
            let attrs: Map<_, _> =
                fields.iter().map(|(k, (t, _))| (k.clone(), cty_type(t))).collect();
            let optional: Vec<&String> =
                fields.iter().filter(|(_, (_, opt))| *opt).map(|(k, _)| k).collect();
            if optional.is_empty() {
                json!(["object", attrs])
            } else {
                json!(["object", attrs, optional])
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cty_types() {
        assert_eq!(cty_type(&Type::Any), json!("dynamic"));
        assert_eq!(cty_type(&Type::Map(Box::new(Type::String))), json!(["map", "string"]));
        let obj = Type::Object(
            [("a".to_owned(), (Type::Number, false)), ("b".to_owned(), (Type::Bool, true))].into(),
        );
        assert_eq!(cty_type(&obj), json!(["object", {"a": "number", "b": "bool"}, ["b"]]));
    }
}
