//! STS on the wire, without meshform's client: V1 (`HMAC-SHA1`) requests shaped like each official
//! SDK's, and what comes back.

use meshform_acs as acs;
use meshform_sandbox::sts::{self, oidc, roles, StsEmulator, StsOptions};
use serde_json::Value;

use crate::asm::client::{nonce, now_timestamp, KEY_ID, SECRET};

async fn emulator() -> StsEmulator {
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let opts = StsOptions {
        access_key_id: KEY_ID.into(),
        access_key_secret: SECRET.into(),
        max_lifetime: None,
    };
    sts::start(listener, opts).await.unwrap()
}

fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
    p.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
}

/// V1-signed common parameters plus `business`, with `Signature` appended.
fn signed_v1(method: &str, business: &[(&str, &str)]) -> Vec<(String, String)> {
    let ts = now_timestamp(0);
    let n = nonce();
    let mut params = pairs(&[
        ("Action", "AssumeRole"),
        ("Version", "2015-04-01"),
        ("Format", "JSON"),
        ("Timestamp", &ts),
        ("SignatureMethod", "HMAC-SHA1"),
        ("SignatureVersion", "1.0"),
        ("SignatureNonce", &n),
        ("AccessKeyId", KEY_ID),
    ]);
    params.extend(pairs(business));
    let signature = acs::sign_v2(SECRET, &acs::string_to_sign_v2(method, &params));
    params.push(("Signature".into(), signature));
    params
}

async fn get(endpoint: &str, query: &[(String, String)]) -> (u16, Value) {
    let r = reqwest::get(format!("{endpoint}/?{}", acs::encode_form(query))).await.unwrap();
    (r.status().as_u16(), r.json().await.unwrap())
}

#[tokio::test]
async fn assume_role_as_the_python_and_go_sdks_send_it() {
    let sts = emulator().await;
    let role = roles::role_arn(sts.account_id(), roles::OPERATOR_ROLE);
    let business = [
        ("RoleArn", role.as_str()),
        ("RoleSessionName", "py-session"),
        ("DurationSeconds", "3600"),
    ];
    // Python: GET, everything in the query.
    let (status, body) = get(&sts.endpoint(), &signed_v1("GET", &business)).await;
    assert_eq!(status, 200, "{body}");
    let c = &body["Credentials"];
    assert!(c["AccessKeyId"].as_str().unwrap().starts_with("STS."));
    let expiration = c["Expiration"].as_str().unwrap();
    assert!(
        acs::credentials::parse_iso8601(expiration).is_some(),
        "strict YYYY-MM-DDThh:mm:ssZ: {expiration}"
    );
    assert_eq!(body["AssumedRoleUser"]["Arn"], format!("{role}/py-session"));
    assert!(body["RequestId"].is_string());
    // Go: POST, common parameters in the query, business ones in a form body (all signed).
    let all = signed_v1("POST", &business);
    let (query, form): (Vec<_>, Vec<_>) = all.into_iter().partition(|(k, _)| {
        !["RoleArn", "RoleSessionName", "DurationSeconds"].contains(&k.as_str())
    });
    let r = reqwest::Client::new()
        .post(format!("{}/?{}", sts.endpoint(), acs::encode_form(&query)))
        .header("content-type", "application/x-www-form-urlencoded")
        .body(acs::encode_form(&form))
        .send()
        .await
        .unwrap();
    assert_eq!(r.status().as_u16(), 200);
    // A replayed request is refused (the nonce is used).
    let replay = signed_v1("GET", &business);
    assert_eq!(get(&sts.endpoint(), &replay).await.0, 200);
    let (status, body) = get(&sts.endpoint(), &replay).await;
    assert_eq!((status, body["Code"].as_str().unwrap()), (400, "SignatureNonceUsed"));
}

#[tokio::test]
async fn refusals_have_the_real_codes() {
    let sts = emulator().await;
    let account = sts.account_id().to_owned();
    let cases = [
        (roles::role_arn(&account, roles::UNTRUSTED_ROLE), "s1", 403, "NoPermission"),
        (roles::role_arn(&account, "no-such-role"), "s1", 404, "EntityNotExist.Role"),
        ("acs:ram::1:role".to_owned(), "s1", 400, "InvalidParameter.RoleArn"),
        (
            roles::role_arn(&account, roles::OPERATOR_ROLE),
            "x",
            400,
            "InvalidParameter.RoleSessionName",
        ),
    ];
    for (role, session, status, code) in cases {
        let (s, body) = get(
            &sts.endpoint(),
            &signed_v1("GET", &[("RoleArn", &role), ("RoleSessionName", session)]),
        )
        .await;
        assert_eq!(
            (s, body["Code"].as_str().unwrap_or_default()),
            (status, code),
            "{role}: {body}"
        );
        assert_eq!(body["HostId"], "sts.aliyuncs.com");
    }
    let mut wrong =
        signed_v1("GET", &[("RoleArn", "acs:ram::1:role/x"), ("RoleSessionName", "s1")]);
    wrong.retain(|(k, _)| k != "Signature");
    wrong.push(("Signature".into(), "AAAA".into()));
    let (s, body) = get(&sts.endpoint(), &wrong).await;
    assert_eq!((s, body["Code"].as_str().unwrap()), (400, "SignatureDoesNotMatch"), "{body}");
}

#[tokio::test]
async fn assume_role_with_oidc_is_unsigned_and_checks_the_token() {
    let sts = emulator().await;
    let account = sts.account_id().to_owned();
    let now = time::OffsetDateTime::now_utc().unix_timestamp();
    let call = |token: String, role: &str| {
        let q = pairs(&[
            ("Action", "AssumeRoleWithOIDC"),
            ("Version", "2015-04-01"),
            ("Format", "JSON"),
            ("Timestamp", &now_timestamp(0)),
            ("RoleArn", &roles::role_arn(&account, role)),
            ("OIDCProviderArn", &oidc::provider_arn(&account)),
            ("OIDCToken", &token),
            ("RoleSessionName", "ci"),
        ]);
        let endpoint = sts.endpoint();
        async move { get(&endpoint, &q).await }
    };
    let good = oidc::token(SECRET, "system:serviceaccount:ci:runner", now, now + 600);
    let (s, body) = call(good.clone(), roles::CI_ROLE).await;
    assert_eq!(s, 200, "{body}");
    let (s, body) = call(good, roles::OPERATOR_ROLE).await;
    assert_eq!(
        (s, body["Code"].as_str().unwrap()),
        (403, "NoPermission"),
        "the operator role does not trust the OIDC provider"
    );
    let expired = oidc::token(SECRET, "system:serviceaccount:ci:runner", now - 600, now - 1);
    let (s, body) = call(expired, roles::CI_ROLE).await;
    assert_eq!((s, body["Code"].as_str().unwrap()), (401, "AuthenticationFail.OIDCToken.Expired"));
    let forged = oidc::token("another-secret", "system:serviceaccount:ci:runner", now, now + 600);
    let (s, body) = call(forged, roles::CI_ROLE).await;
    assert_eq!(
        (s, body["Code"].as_str().unwrap()),
        (401, "AuthenticationFail.OIDCToken.InvalidSignature")
    );
}
