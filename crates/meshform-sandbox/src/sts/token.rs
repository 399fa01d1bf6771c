//! Temporary credentials the emulated STS issues, verifiable by every emulator without shared state:
//! the security token carries the AccessKey id, the role and the expiry, sealed with an HMAC keyed by
//! the account's AccessKey secret, and the temporary secret is derived from the same key. So the ASM,
//! CS and KMS emulators' verifier (`asm::auth`) accepts them until they expire — and refuses them
//! afterwards with `InvalidSecurityToken.Expired`, as the cloud does.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// What a security token says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Issued {
    pub access_key_id: String,
    /// The role's ARN the credentials act as.
    pub role_arn: String,
    /// Unix milliseconds.
    pub expires_ms: i64,
}

/// Why a security token is refused.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum TokenProblem {
    /// Not a token of this account (or altered).
    Invalid,
    Expired,
    /// Issued with another AccessKey id.
    Mismatch,
}

fn mac(key: &str, purpose: &str, data: &str) -> Vec<u8> {
    let mut m = <Hmac<Sha256> as KeyInit>::new_from_slice(key.as_bytes()).expect("any key length");
    m.update(purpose.as_bytes());
    m.update(b"\n");
    m.update(data.as_bytes());
    m.finalize().into_bytes().to_vec()
}

/// The temporary AccessKey secret of an issued AccessKey id.
pub fn secret_of(account_secret: &str, access_key_id: &str) -> String {
    meshform_core::hex::encode(&mac(account_secret, "sts-secret", access_key_id)[..15])
}

/// Issues temporary credentials: (AccessKey id, secret, security token).
pub fn issue(account_secret: &str, role_arn: &str, expires_ms: i64) -> (String, String, String) {
    let id = format!("STS.{}", uuid::Uuid::new_v4().simple().to_string().to_ascii_uppercase());
    let claims = serde_json::json!({ "ak": id, "role": role_arn, "exp": expires_ms }).to_string();
    let sealed = B64.encode(mac(account_secret, "sts-token", &claims));
    let token = format!("CAIS{}.{sealed}", B64.encode(claims.as_bytes()));
    (id.clone(), secret_of(account_secret, &id), token)
}

/// Opens a security token presented with `access_key_id`.
pub fn open(
    account_secret: &str,
    access_key_id: &str,
    token: &str,
    now_ms: i64,
) -> Result<Issued, TokenProblem> {
    let body = token.trim().strip_prefix("CAIS").ok_or(TokenProblem::Invalid)?;
    let (claims, sealed) = body.split_once('.').ok_or(TokenProblem::Invalid)?;
    let claims = String::from_utf8(B64.decode(claims).map_err(|_| TokenProblem::Invalid)?)
        .map_err(|_| TokenProblem::Invalid)?;
    let expected = B64.encode(mac(account_secret, "sts-token", &claims));
    if !meshform_acs::signatures_equal(&expected, sealed) {
        return Err(TokenProblem::Invalid);
    }
    let v: serde_json::Value = serde_json::from_str(&claims).map_err(|_| TokenProblem::Invalid)?;
    let issued = Issued {
        access_key_id: v["ak"].as_str().unwrap_or_default().to_owned(),
        role_arn: v["role"].as_str().unwrap_or_default().to_owned(),
        expires_ms: v["exp"].as_i64().unwrap_or_default(),
    };
    if issued.access_key_id != access_key_id {
        return Err(TokenProblem::Mismatch);
    }
    if issued.expires_ms <= now_ms {
        return Err(TokenProblem::Expired);
    }
    Ok(issued)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_token_opens_until_it_expires_and_only_for_its_key_and_account() {
        let (id, secret, token) = issue("acct-secret", "acs:ram::1:role/x", 10_000);
        assert_eq!(secret, secret_of("acct-secret", &id));
        let issued = open("acct-secret", &id, &token, 9_000).unwrap();
        assert_eq!(issued.role_arn, "acs:ram::1:role/x");
        assert_eq!(open("acct-secret", &id, &token, 10_000), Err(TokenProblem::Expired));
        assert_eq!(open("acct-secret", "STS.OTHER", &token, 0), Err(TokenProblem::Mismatch));
        assert_eq!(open("other-secret", &id, &token, 0), Err(TokenProblem::Invalid));
        let forged = token.replace('.', "x.");
        assert_eq!(open("acct-secret", &id, &forged, 0), Err(TokenProblem::Invalid));
    }
}
