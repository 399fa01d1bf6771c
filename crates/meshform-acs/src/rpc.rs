//! The headers of one signed RPC-style call (`POST /` with a form body, ACS3-HMAC-SHA256), for any
//! product and API version: what a client sends besides the body. Pure, like the rest of this
//! crate: the caller supplies the clock (`x-acs-date`) and the nonce.

use crate::{
    authorization_v3, canonical_request, default_signed_headers, sha256_hex, sign_v3,
    string_to_sign_v3,
};

/// One call to sign.
#[derive(Clone, Copy, Debug)]
pub struct RpcCall<'a> {
    /// The endpoint's host (and port), e.g. `kms.cn-hangzhou.aliyuncs.com` or `127.0.0.1:40123`.
    pub host: &'a str,
    pub action: &'a str,
    /// The product's API version, e.g. `2016-01-20` for KMS.
    pub version: &'a str,
    /// The form-encoded body ([`crate::encode_form`]).
    pub body: &'a str,
    /// `YYYY-MM-DDThh:mm:ssZ`, UTC.
    pub date: &'a str,
    /// Unique per request.
    pub nonce: &'a str,
}

/// The credentials a call is signed with.
#[derive(Clone, Copy)]
pub struct Signer<'a> {
    pub access_key_id: &'a str,
    pub access_key_secret: &'a str,
    pub security_token: Option<&'a str>,
}

impl std::fmt::Debug for Signer<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Signer").field("access_key_id", &self.access_key_id).finish_non_exhaustive()
    }
}

/// Every header of the call but `host` (which the HTTP client sets from the URL), `authorization`
/// included, with lower-case names.
pub fn signed_headers(call: &RpcCall<'_>, signer: &Signer<'_>) -> Vec<(String, String)> {
    let body_hash = sha256_hex(call.body.as_bytes());
    let mut headers: Vec<(String, String)> = vec![
        ("host".into(), call.host.to_owned()),
        ("x-acs-action".into(), call.action.to_owned()),
        ("x-acs-version".into(), call.version.to_owned()),
        ("x-acs-date".into(), call.date.to_owned()),
        ("x-acs-signature-nonce".into(), call.nonce.to_owned()),
        ("x-acs-content-sha256".into(), body_hash.clone()),
        ("content-type".into(), "application/x-www-form-urlencoded".into()),
    ];
    if let Some(t) = signer.security_token {
        headers.push(("x-acs-security-token".into(), t.to_owned()));
    }
    let signed = default_signed_headers(&headers);
    let (canonical, names) = canonical_request("POST", "/", &[], &headers, &signed, &body_hash);
    let signature = sign_v3(signer.access_key_secret, &string_to_sign_v3(&canonical));
    headers.retain(|(k, _)| k != "host");
    headers
        .push(("authorization".into(), authorization_v3(signer.access_key_id, &names, &signature)));
    headers
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_signature_covers_host_action_version_and_body() {
        let call = RpcCall {
            host: "kms.cn-hangzhou.aliyuncs.com",
            action: "Decrypt",
            version: "2016-01-20",
            body: "CiphertextBlob=abc",
            date: "2026-01-01T00:00:00Z",
            nonce: "n-1",
        };
        let signer = Signer { access_key_id: "AK", access_key_secret: "SK", security_token: None };
        let auth = |c: &RpcCall<'_>| {
            signed_headers(c, &signer).into_iter().find(|(k, _)| k == "authorization").unwrap().1
        };
        let base = auth(&call);
        assert!(base.starts_with("ACS3-HMAC-SHA256 Credential=AK,SignedHeaders=content-type;host;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version,Signature="), "{base}");
        for changed in [
            RpcCall { host: "kms.cn-shanghai.aliyuncs.com", ..call },
            RpcCall { action: "Encrypt", ..call },
            RpcCall { version: "2020-01-11", ..call },
            RpcCall { body: "CiphertextBlob=abd", ..call },
        ] {
            assert_ne!(auth(&changed), base);
        }
        assert!(!format!("{signer:?}").contains("SK"));
        let headers = signed_headers(&call, &signer);
        assert!(headers.iter().all(|(k, _)| k != "host"));
    }
}
