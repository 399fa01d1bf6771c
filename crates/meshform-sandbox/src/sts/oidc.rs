//! The sandbox's RRSA OIDC issuer: service-account tokens (JWTs, HS256 with a key derived from the
//! account's secret) as ACK writes them for pods, and their verification by the emulated STS
//! (signature, audience `sts.aliyuncs.com`, expiry) with the real `AuthenticationFail.OIDCToken.*`
//! codes.

use base64::engine::general_purpose::URL_SAFE_NO_PAD as B64;
use base64::Engine as _;
use hmac::{Hmac, KeyInit, Mac};
use sha2::Sha256;

/// The OIDC provider's name in RAM.
pub const PROVIDER_NAME: &str = "ack-rrsa-sandbox";
/// The issuer URL tokens name.
pub const ISSUER: &str = "https://oidc-ack-sandbox.meshform.invalid";
/// The audience STS requires.
pub const AUDIENCE: &str = "sts.aliyuncs.com";

/// The OIDC provider's ARN in the account.
pub fn provider_arn(account_id: &str) -> String {
    format!("acs:ram::{account_id}:oidc-provider/{PROVIDER_NAME}")
}

fn signature(account_secret: &str, signed: &str) -> String {
    let mut m =
        <Hmac<Sha256> as KeyInit>::new_from_slice(format!("rrsa-oidc:{account_secret}").as_bytes())
            .expect("any key length");
    m.update(signed.as_bytes());
    B64.encode(m.finalize().into_bytes())
}

/// A service-account token for `subject` (`system:serviceaccount:NS:NAME`), valid from `now_s` until
/// `expires_s` (unix seconds).
pub fn token(account_secret: &str, subject: &str, now_s: i64, expires_s: i64) -> String {
    let header = B64.encode(br#"{"alg":"HS256","typ":"JWT"}"#);
    let claims = serde_json::json!({ "iss": ISSUER, "sub": subject, "aud": [AUDIENCE], "iat": now_s, "exp": expires_s });
    let payload = B64.encode(claims.to_string().as_bytes());
    let signed = format!("{header}.{payload}");
    let sig = signature(account_secret, &signed);
    format!("{signed}.{sig}")
}

/// Verifies a token at `now_s`: `Err((code, message))` as STS says it.
pub(crate) fn verify(
    account_secret: &str,
    token: &str,
    now_s: i64,
) -> Result<(), (&'static str, String)> {
    let invalid = |why: &str| {
        ("AuthenticationFail.OIDCToken.Invalid", format!("The OIDC token is invalid: {why}."))
    };
    let mut parts = token.trim().split('.');
    let (Some(h), Some(p), Some(s), None) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return Err(invalid("not a JWT"));
    };
    if !meshform_acs::signatures_equal(&signature(account_secret, &format!("{h}.{p}")), s) {
        return Err((
            "AuthenticationFail.OIDCToken.InvalidSignature",
            "The OIDC token's signature does not verify with the provider's keys.".into(),
        ));
    }
    let claims: serde_json::Value = B64
        .decode(p)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| invalid("unreadable claims"))?;
    let aud_ok = match &claims["aud"] {
        serde_json::Value::String(a) => a == AUDIENCE,
        serde_json::Value::Array(a) => a.iter().any(|x| x == AUDIENCE),
        _ => false,
    };
    if !aud_ok {
        return Err((
            "AuthenticationFail.OIDCToken.AudienceNotMatch",
            format!("The OIDC token's audience is not {AUDIENCE}."),
        ));
    }
    if claims["exp"].as_i64().unwrap_or(0) <= now_s {
        return Err(("AuthenticationFail.OIDCToken.Expired", "The OIDC token has expired.".into()));
    }
    Ok(())
}
