//! Request authentication, as Alibaba Cloud's gateway does it, with the signing functions of
//! `meshform-acs`:
//!
//! - V3 (`ACS3-HMAC-SHA256`): the `Authorization` header; the canonical request is recomputed over
//!   exactly the headers the client lists in `SignedHeaders` (the official Python SDK also signs
//!   `accept`, `user-agent` and `x-acs-credentials-provider`), with the payload hash computed from
//!   the body received.
//! - V2 (RPC `HMAC-SHA1`): the `Signature` parameter over every other parameter, query and form.
//!
//! Both check the access key, the timestamp (15 minutes either way) and the nonce (no replay within
//! 15 minutes; nonces are remembered in memory only, so a restart forgets them). Temporary
//! credentials the account was issued (`crate::sts`, `crate::metadata`) are accepted with their
//! security token until it expires (`InvalidSecurityToken.Expired` after).

use std::collections::HashMap;
use std::sync::Mutex;

use meshform_acs as acs;
use meshform_core::sync::lock;

use super::errors::ApiError;

/// How far a request's timestamp may be from the server's clock, and how long nonces are kept.
const WINDOW_MS: i64 = 15 * 60 * 1000;

/// A request as received, decoded enough to verify and dispatch it.
#[derive(Clone, Debug, Default)]
pub(crate) struct WireRequest {
    pub method: String,
    pub path: String,
    /// Query parameters, decoded, in order.
    pub query: Vec<(String, String)>,
    /// Form body parameters, decoded, in order (empty for other bodies).
    pub form: Vec<(String, String)>,
    /// Header names lower-cased.
    pub headers: Vec<(String, String)>,
    pub body: Vec<u8>,
}

impl WireRequest {
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
    }

    /// A parameter from the form body or, failing that, the query (the last occurrence wins).
    pub fn param(&self, name: &str) -> Option<&str> {
        fn last<'a>(pairs: &'a [(String, String)], name: &str) -> Option<&'a str> {
            pairs.iter().rev().find(|(k, _)| k == name).map(|(_, v)| v.as_str())
        }
        last(&self.form, name).or_else(|| last(&self.query, name))
    }
}

/// The signing scheme a request used.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub(crate) enum Scheme {
    V3,
    V2,
}

impl Scheme {
    /// V3 when an `Authorization` header is present, V2 when a `Signature` parameter is.
    pub fn of(req: &WireRequest) -> Result<Scheme, ApiError> {
        if req.header("authorization").is_some() {
            Ok(Scheme::V3)
        } else if req.param("Signature").is_some() {
            Ok(Scheme::V2)
        } else {
            Err(ApiError::incomplete_signature(
                "no Authorization header (V3) and no Signature parameter (V2)",
            ))
        }
    }
}

/// Verifies requests against one account's access key.
pub(crate) struct Verifier {
    access_key_id: String,
    access_key_secret: String,
    /// `access key id \n nonce` → when it was first seen (unix ms).
    nonces: Mutex<HashMap<String, i64>>,
}

impl Verifier {
    pub fn new(access_key_id: String, access_key_secret: String) -> Self {
        Verifier { access_key_id, access_key_secret, nonces: Mutex::new(HashMap::new()) }
    }

    pub fn verify(&self, req: &WireRequest, scheme: Scheme, now_ms: i64) -> Result<(), ApiError> {
        match scheme {
            Scheme::V3 => self.verify_v3(req, now_ms),
            Scheme::V2 => self.verify_v2(req, now_ms),
        }
    }

    /// The secret of the AccessKey a request is signed with: the account's own, or temporary
    /// credentials the account was issued (by the STS emulator or the metadata service), which
    /// must come with their security token and are refused once expired.
    fn secret_for(
        &self,
        access_key_id: &str,
        token: Option<&str>,
        now_ms: i64,
    ) -> Result<String, ApiError> {
        use crate::sts::token::{open, secret_of, TokenProblem};
        match token {
            None if acs::signatures_equal(access_key_id, &self.access_key_id) => {
                Ok(self.access_key_secret.clone())
            }
            None => Err(ApiError::access_key_not_found()),
            Some(t) => match open(&self.access_key_secret, access_key_id, t, now_ms) {
                Ok(_) => Ok(secret_of(&self.access_key_secret, access_key_id)),
                Err(TokenProblem::Expired) => Err(ApiError::security_token_expired()),
                Err(TokenProblem::Mismatch) => Err(ApiError::new(
                    400,
                    "InvalidSecurityToken.MismatchWithAccessKey",
                    "Specified SecurityToken mismatch with the AccessKey.",
                )),
                Err(TokenProblem::Invalid) => Err(ApiError::new(
                    400,
                    "InvalidSecurityToken.Malformed",
                    "Specified SecurityToken is malformed.",
                )),
            },
        }
    }

    fn verify_v3(&self, req: &WireRequest, now_ms: i64) -> Result<(), ApiError> {
        let header = req.header("authorization").unwrap_or_default();
        let auth = acs::parse_authorization_v3(header).ok_or_else(|| {
            ApiError::incomplete_signature(
                "the Authorization header is not \"ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…\"",
            )
        })?;
        let token = req.header("x-acs-security-token");
        let secret = self.secret_for(&auth.access_key_id, token, now_ms)?;
        let signed: Vec<String> =
            auth.signed_headers.iter().map(|h| h.trim().to_ascii_lowercase()).collect();
        for required in ["x-acs-date", "x-acs-signature-nonce"] {
            if req.header(required).is_none() || !signed.iter().any(|h| h == required) {
                return Err(ApiError::incomplete_signature(format!(
                    "the header {required} must be present and listed in SignedHeaders"
                )));
            }
        }
        let date = req.header("x-acs-date").unwrap_or_default();
        check_timestamp(date, now_ms)?;
        let body_hash = acs::sha256_hex(&req.body);
        if let Some(claimed) = req.header("x-acs-content-sha256") {
            if !claimed.trim().eq_ignore_ascii_case(&body_hash) {
                return Err(ApiError::signature_mismatch(format!(
                    "Specified signature is not matched with our calculation: x-acs-content-sha256 is {claimed} but the body received hashes to {body_hash}."
                )));
            }
        }
        let (canonical, _) = acs::canonical_request(
            &req.method,
            &req.path,
            &req.query,
            &req.headers,
            &signed,
            &body_hash,
        );
        let string_to_sign = acs::string_to_sign_v3(&canonical);
        let expected = acs::sign_v3(&secret, &string_to_sign);
        if !acs::signatures_equal(&expected, auth.signature.trim()) {
            return Err(ApiError::signature_mismatch(format!(
                "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign} (canonical request: {canonical:?})"
            )));
        }
        let nonce = req.header("x-acs-signature-nonce").unwrap_or_default();
        self.use_nonce(&auth.access_key_id, nonce, now_ms)
    }

    fn verify_v2(&self, req: &WireRequest, now_ms: i64) -> Result<(), ApiError> {
        let param = |name: &str| {
            req.param(name).ok_or_else(|| {
                ApiError::incomplete_signature(format!("the parameter {name} is missing"))
            })
        };
        let access_key_id = param("AccessKeyId")?;
        let secret = self.secret_for(access_key_id, req.param("SecurityToken"), now_ms)?;
        if param("SignatureMethod")? != "HMAC-SHA1" {
            return Err(ApiError::incomplete_signature("SignatureMethod must be HMAC-SHA1"));
        }
        if param("SignatureVersion")? != "1.0" {
            return Err(ApiError::incomplete_signature("SignatureVersion must be 1.0"));
        }
        let nonce = param("SignatureNonce")?;
        check_timestamp(param("Timestamp")?, now_ms)?;
        let signed: Vec<(String, String)> = req
            .query
            .iter()
            .chain(req.form.iter())
            .filter(|(k, _)| k != "Signature")
            .cloned()
            .collect();
        let string_to_sign = acs::string_to_sign_v2(&req.method, &signed);
        let expected = acs::sign_v2(&secret, &string_to_sign);
        if !acs::signatures_equal(&expected, param("Signature")?) {
            return Err(ApiError::signature_mismatch(format!(
                "Specified signature is not matched with our calculation. server string to sign is:{string_to_sign}"
            )));
        }
        self.use_nonce(access_key_id, nonce, now_ms)
    }

    /// Records a nonce; refuses one seen within the window.
    fn use_nonce(&self, access_key_id: &str, nonce: &str, now_ms: i64) -> Result<(), ApiError> {
        if nonce.is_empty() {
            return Err(ApiError::incomplete_signature("the signature nonce is empty"));
        }
        let mut seen = lock(&self.nonces);
        seen.retain(|_, at| now_ms - *at < WINDOW_MS);
        let key = format!("{access_key_id}\n{nonce}");
        if seen.contains_key(&key) {
            return Err(ApiError::nonce_used());
        }
        seen.insert(key, now_ms);
        Ok(())
    }
}

/// Checks a `YYYY-MM-DDThh:mm:ssZ` timestamp against the window.
fn check_timestamp(value: &str, now_ms: i64) -> Result<(), ApiError> {
    let at = parse_timestamp(value).ok_or_else(|| ApiError::timestamp_format(value))?;
    if (now_ms - at).abs() > WINDOW_MS {
        return Err(ApiError::timestamp_expired(value));
    }
    Ok(())
}

/// Parses `YYYY-MM-DDThh:mm:ssZ` (UTC) into unix milliseconds.
pub(crate) fn parse_timestamp(value: &str) -> Option<i64> {
    let format =
        time::macros::format_description!("[year]-[month]-[day]T[hour]:[minute]:[second]Z");
    let t = time::PrimitiveDateTime::parse(value.trim(), format).ok()?.assume_utc();
    i64::try_from(t.unix_timestamp_nanos() / 1_000_000).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    /// The official V2 vector, checked through the verifier (with the clock at its timestamp).
    #[test]
    fn v2_official_vector_verifies_once() {
        let v = Verifier::new("testid".into(), "testsecret".into());
        let mut query = pairs(&[
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]);
        query.push(("Signature".into(), "OLeaidS1JvxuMvnyHOwuJ+uX5qY=".into()));
        let req =
            WireRequest { method: "GET".into(), path: "/".into(), query, ..Default::default() };
        let now = parse_timestamp("2016-02-23T12:50:00Z").unwrap();
        assert_eq!(Scheme::of(&req).unwrap(), Scheme::V2);
        v.verify(&req, Scheme::V2, now).unwrap();
        assert_eq!(v.verify(&req, Scheme::V2, now).unwrap_err().code, "SignatureNonceUsed");
        let late = parse_timestamp("2016-02-23T13:02:00Z").unwrap();
        assert_eq!(v.verify(&req, Scheme::V2, late).unwrap_err().code, "InvalidTimeStamp.Expired");
    }

    #[test]
    fn timestamps() {
        assert_eq!(parse_timestamp("1970-01-01T00:00:01Z"), Some(1000));
        assert_eq!(parse_timestamp("2016-02-23 12:46:24"), None);
        assert_eq!(check_timestamp("nope", 0).unwrap_err().code, "InvalidTimeStamp.Format");
    }
}
