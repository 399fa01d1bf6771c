//! The parameters of an RPC call: query and form body merged (the body wins), without the V2
//! signing parameters, with typed accessors that produce the gateway's `MissingParameter` and
//! `InvalidParameter` errors.

use std::collections::BTreeMap;

use serde::de::DeserializeOwned;

use super::auth::WireRequest;
use super::errors::ApiError;
use super::model::Tag;

/// Parameters that belong to the V2 signature, not to the action.
const SIGNING: &[&str] = &[
    "AccessKeyId",
    "Action",
    "Format",
    "SecurityToken",
    "Signature",
    "SignatureMethod",
    "SignatureNonce",
    "SignatureType",
    "SignatureVersion",
    "Timestamp",
    "Version",
];

/// How many `Tag.N` entries a call may carry.
const MAX_TAGS: usize = 20;

#[derive(Clone, Debug, Default)]
pub(crate) struct Params {
    map: BTreeMap<String, String>,
}

impl Params {
    pub fn from_request(req: &WireRequest) -> Self {
        let map = req
            .query
            .iter()
            .chain(req.form.iter())
            .filter(|(k, _)| !SIGNING.contains(&k.as_str()))
            .cloned()
            .collect();
        Params { map }
    }

    #[cfg(test)]
    pub fn from_pairs(pairs: &[(&str, &str)]) -> Self {
        Params { map: pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect() }
    }

    /// An optional parameter; an empty value counts as absent.
    pub fn get(&self, name: &str) -> Option<&str> {
        self.map.get(name).map(String::as_str).filter(|v| !v.is_empty())
    }

    pub fn required(&self, name: &str) -> Result<&str, ApiError> {
        self.get(name).ok_or_else(|| ApiError::missing_parameter(name))
    }

    /// A boolean: `true`/`false` in any case (the Python SDK sends `True`).
    pub fn bool(&self, name: &str) -> Result<Option<bool>, ApiError> {
        match self.get(name) {
            None => Ok(None),
            Some(v) if v.eq_ignore_ascii_case("true") => Ok(Some(true)),
            Some(v) if v.eq_ignore_ascii_case("false") => Ok(Some(false)),
            Some(v) => Err(ApiError::invalid_parameter(format!(
                "The parameter {name} must be true or false, not \"{v}\"."
            ))),
        }
    }

    /// A parameter documented as a JSON string.
    pub fn json<T: DeserializeOwned>(
        &self,
        name: &str,
        shape: &str,
    ) -> Result<Option<T>, ApiError> {
        self.get(name)
            .map(|v| {
                serde_json::from_str(v).map_err(|e| {
                    ApiError::invalid_parameter(format!(
                        "The parameter {name} must be a JSON string of {shape}: {e}"
                    ))
                })
            })
            .transpose()
    }

    /// One of the listed values, or the default when absent.
    pub fn one_of<'a>(
        &'a self,
        name: &str,
        allowed: &[&'a str],
        default: &'a str,
    ) -> Result<&'a str, ApiError> {
        match self.get(name) {
            None => Ok(default),
            Some(v) if allowed.contains(&v) => Ok(v),
            Some(v) => Err(ApiError::invalid_parameter(format!(
                "The parameter {name} must be one of {}, not \"{v}\".",
                allowed.join(", ")
            ))),
        }
    }

    /// `Tag.N.Key` / `Tag.N.Value`, N from 1, in order.
    pub fn tags(&self) -> Result<Vec<Tag>, ApiError> {
        let mut by_index: BTreeMap<usize, (Option<String>, Option<String>)> = BTreeMap::new();
        for (k, v) in &self.map {
            let Some(rest) = k.strip_prefix("Tag.") else { continue };
            let Some((n, field)) = rest.split_once('.') else { continue };
            let n: usize = n.parse().map_err(|_| {
                ApiError::invalid_parameter(format!("The parameter {k} has no valid tag index."))
            })?;
            if n == 0 || n > MAX_TAGS {
                return Err(ApiError::invalid_parameter(format!(
                    "The parameter {k}: tag indexes go from 1 to {MAX_TAGS}."
                )));
            }
            let entry = by_index.entry(n).or_default();
            match field {
                "Key" => entry.0 = Some(v.clone()),
                "Value" => entry.1 = Some(v.clone()),
                _ => {}
            }
        }
        by_index
            .into_iter()
            .map(|(n, (key, value))| match key.filter(|k| !k.is_empty()) {
                Some(key) => Ok(Tag { key, value: value.unwrap_or_default() }),
                None => Err(ApiError::missing_parameter(&format!("Tag.{n}.Key"))),
            })
            .collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn typed_accessors() {
        let p = Params::from_pairs(&[
            ("A", "True"),
            ("B", "maybe"),
            ("E", ""),
            ("J", "[\"vsw-1\"]"),
            ("Tag.2.Key", "env"),
            ("Tag.2.Value", "dr"),
            ("Tag.1.Key", "team"),
        ]);
        assert_eq!(p.bool("A").unwrap(), Some(true));
        assert_eq!(p.bool("B").unwrap_err().code, "InvalidParameter");
        assert_eq!(p.required("E").unwrap_err().code, "MissingParameter");
        assert_eq!(p.json::<Vec<String>>("J", "an array").unwrap(), Some(vec!["vsw-1".to_owned()]));
        assert!(p.json::<Vec<String>>("A", "an array").is_err());
        let tags = p.tags().unwrap();
        assert_eq!(tags[0], Tag { key: "team".into(), value: String::new() });
        assert_eq!(tags[1], Tag { key: "env".into(), value: "dr".into() });
        assert_eq!(p.one_of("X", &["a", "b"], "a").unwrap(), "a");
        assert!(Params::from_pairs(&[("Tag.0.Key", "x")]).tags().is_err());
    }

    #[test]
    fn signing_parameters_are_not_action_parameters() {
        let req = WireRequest {
            query: vec![("Signature".into(), "x".into()), ("Name".into(), "q".into())],
            form: vec![("Name".into(), "body".into())],
            ..Default::default()
        };
        let p = Params::from_request(&req);
        assert_eq!(p.get("Signature"), None);
        assert_eq!(p.get("Name"), Some("body"));
    }
}
