//! The one Alibaba Cloud client crate: request signing as the official SDKs do it (ACS3-HMAC-SHA256,
//! the V3 default of current SDKs, and the RPC HMAC-SHA1 scheme, V2 — pure functions below, also used
//! by the sandbox's emulators to verify), [`client::AcsClient`] (signed RPC and ROA calls with retries)
//! and [`credentials`] (the credential chain). Every Alibaba provider calls a product through it:
//!
//! ```no_run
//! # async fn f() -> Result<(), meshform_provider::ProviderError> {
//! use meshform_acs::client::{AcsClient, Method};
//! use meshform_acs::credentials::{CredentialProvider, Credentials};
//! let creds = CredentialProvider::fixed(Credentials::access_key("LTAI…", "secret", None, "example"));
//! // A bare host means HTTPS; a URL (the sandbox's http://127.0.0.1:PORT, a VPC endpoint) is kept.
//! let cs = AcsClient::new("cs.cn-hangzhou.aliyuncs.com", "2015-12-15", creds.clone()).unwrap();
//! let cluster = cs.roa(Method::GET, "DescribeClusterDetail", "/clusters/c-1", &[]).await?;
//! let asm = AcsClient::new("servicemesh.aliyuncs.com", "2020-01-11", creds).unwrap();
//! let meshes = asm.rpc("DescribeServiceMeshes", &[]).await?;
//! # Ok(()) }
//! ```
//!
//! Errors are `meshform_provider::ProviderError`s with the API's code, message and request id, and an
//! `ErrorKind` from [`client::classify`] (or a product's own classifier). The signing functions are
//! pure functions over strings: no HTTP types, no clock, no randomness.

pub mod client;
pub mod credentials;

use hmac::{Hmac, KeyInit, Mac};
use meshform_core::hex;
use sha2::{Digest, Sha256};

/// Alibaba Cloud's percent-encoding: unreserved `A-Z a-z 0-9 - _ . ~` stay, everything else is `%XY`
/// (upper-case hex of the UTF-8 bytes); space is `%20`, `*` is `%2A`.
pub fn percent_encode(s: &str) -> String {
    let mut out = String::with_capacity(s.len());
    for b in s.bytes() {
        match b {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'-' | b'_' | b'.' | b'~' => {
                out.push(b as char)
            }
            _ => out.push_str(&format!("%{b:02X}")),
        }
    }
    out
}

/// Decodes `%XY` escapes and `+` (as a space, the form-encoding convention).
pub fn percent_decode(s: &str) -> String {
    let bytes = s.as_bytes();
    let mut out = Vec::with_capacity(bytes.len());
    let mut i = 0;
    while i < bytes.len() {
        match bytes[i] {
            b'%' if i + 2 < bytes.len() => {
                let hex = std::str::from_utf8(&bytes[i + 1..i + 3])
                    .ok()
                    .and_then(|h| u8::from_str_radix(h, 16).ok());
                match hex {
                    Some(v) => {
                        out.push(v);
                        i += 3;
                    }
                    None => {
                        out.push(b'%');
                        i += 1;
                    }
                }
            }
            b'+' => {
                out.push(b' ');
                i += 1;
            }
            b => {
                out.push(b);
                i += 1;
            }
        }
    }
    String::from_utf8_lossy(&out).into_owned()
}

/// Parses `a=1&b=x%20y` into pairs (decoded).
pub fn parse_form(s: &str) -> Vec<(String, String)> {
    s.split('&')
        .filter(|p| !p.is_empty())
        .map(|p| match p.split_once('=') {
            Some((k, v)) => (percent_decode(k), percent_decode(v)),
            None => (percent_decode(p), String::new()),
        })
        .collect()
}

/// Encodes pairs as a form body / query string (keys in the given order).
pub fn encode_form(pairs: &[(String, String)]) -> String {
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", percent_encode(k), percent_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

pub fn sha256_hex(data: &[u8]) -> String {
    hex::encode(&Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], data: &[u8]) -> Vec<u8> {
    // HMAC accepts keys of any length.
    let mut mac = Hmac::<Sha256>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

fn hmac_sha1(key: &[u8], data: &[u8]) -> Vec<u8> {
    let mut mac = Hmac::<sha1::Sha1>::new_from_slice(key)
        .unwrap_or_else(|_| unreachable!("HMAC takes any key length"));
    mac.update(data);
    mac.finalize().into_bytes().to_vec()
}

/// The V3 algorithm name.
pub const ACS3: &str = "ACS3-HMAC-SHA256";

/// The V3 canonical query string: keys sorted, `k=v` percent-encoded, `&`-joined.
pub fn canonical_query(query: &[(String, String)]) -> String {
    let mut q: Vec<(String, String)> =
        query.iter().map(|(k, v)| (percent_encode(k), percent_encode(v))).collect();
    q.sort();
    q.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&")
}

/// The V3 canonical headers and signed-header list for the headers named in `signed` (lower-case).
/// Repeated header names join their sorted values with `,`.
pub fn canonical_headers(headers: &[(String, String)], signed: &[String]) -> (String, String) {
    let mut names: Vec<String> = signed.iter().map(|s| s.to_ascii_lowercase()).collect();
    names.sort();
    names.dedup();
    let mut out = String::new();
    for n in &names {
        let mut values: Vec<String> = headers
            .iter()
            .filter(|(k, _)| k.eq_ignore_ascii_case(n))
            .map(|(_, v)| v.trim().to_owned())
            .collect();
        values.sort();
        out.push_str(&format!("{n}:{}\n", values.join(",")));
    }
    (out, names.join(";"))
}

/// Which headers a V3 client signs by default: `host`, `content-type` and every `x-acs-*` header.
pub fn default_signed_headers(headers: &[(String, String)]) -> Vec<String> {
    let mut names: Vec<String> = headers
        .iter()
        .map(|(k, _)| k.to_ascii_lowercase())
        .filter(|k| k == "host" || k == "content-type" || k.starts_with("x-acs-"))
        .collect();
    names.sort();
    names.dedup();
    names
}

/// The V3 canonical request.
pub fn canonical_request(
    method: &str,
    path: &str,
    query: &[(String, String)],
    headers: &[(String, String)],
    signed: &[String],
    hashed_payload: &str,
) -> (String, String) {
    let (ch, sh) = canonical_headers(headers, signed);
    let uri = if path.is_empty() { "/" } else { path };
    (format!("{method}\n{uri}\n{}\n{ch}\n{sh}\n{hashed_payload}", canonical_query(query)), sh)
}

/// `ACS3-HMAC-SHA256\n<hex sha256(canonical request)>`.
pub fn string_to_sign_v3(canonical_request: &str) -> String {
    format!("{ACS3}\n{}", sha256_hex(canonical_request.as_bytes()))
}

/// The V3 signature: hex HMAC-SHA256 of the string to sign with the raw secret.
pub fn sign_v3(secret: &str, string_to_sign: &str) -> String {
    hex::encode(&hmac_sha256(secret.as_bytes(), string_to_sign.as_bytes()))
}

/// The V3 `Authorization` header value.
pub fn authorization_v3(access_key_id: &str, signed_headers: &str, signature: &str) -> String {
    format!(
        "{ACS3} Credential={access_key_id},SignedHeaders={signed_headers},Signature={signature}"
    )
}

/// The parts of a V3 `Authorization` header.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Authorization {
    pub access_key_id: String,
    pub signed_headers: Vec<String>,
    pub signature: String,
}

/// Parses `ACS3-HMAC-SHA256 Credential=…,SignedHeaders=…,Signature=…`.
pub fn parse_authorization_v3(value: &str) -> Option<Authorization> {
    let rest = value.trim().strip_prefix(ACS3)?.trim();
    let mut id = None;
    let mut headers = None;
    let mut sig = None;
    for part in rest.split(',') {
        let (k, v) = part.trim().split_once('=')?;
        match k {
            "Credential" => id = Some(v.to_owned()),
            "SignedHeaders" => headers = Some(v.split(';').map(str::to_owned).collect()),
            "Signature" => sig = Some(v.to_owned()),
            _ => {}
        }
    }
    Some(Authorization { access_key_id: id?, signed_headers: headers?, signature: sig? })
}

/// The V2 string to sign: `METHOD&%2F&percentEncode(sorted k=v pairs joined by &)`. `params` must not
/// include `Signature`.
pub fn string_to_sign_v2(method: &str, params: &[(String, String)]) -> String {
    let mut p: Vec<(String, String)> =
        params.iter().map(|(k, v)| (percent_encode(k), percent_encode(v))).collect();
    p.sort();
    let canon = p.iter().map(|(k, v)| format!("{k}={v}")).collect::<Vec<_>>().join("&");
    format!("{method}&{}&{}", percent_encode("/"), percent_encode(&canon))
}

/// The V2 signature: base64 HMAC-SHA1 with key `secret&`.
pub fn sign_v2(secret: &str, string_to_sign: &str) -> String {
    use base64::Engine as _;
    base64::engine::general_purpose::STANDARD
        .encode(hmac_sha1(format!("{secret}&").as_bytes(), string_to_sign.as_bytes()))
}

/// Constant-time comparison of two signatures.
pub fn signatures_equal(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |acc, (x, y)| acc | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;

    fn pairs(p: &[(&str, &str)]) -> Vec<(String, String)> {
        p.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn v3_official_vector() {
        let headers = pairs(&[
            ("host", "ecs.cn-shanghai.aliyuncs.com"),
            ("x-acs-action", "RunInstances"),
            ("x-acs-version", "2014-05-26"),
            ("x-acs-date", "2023-10-26T10:22:32Z"),
            ("x-acs-signature-nonce", "3156853299f313e23d1673dc12e1703d"),
            ("x-acs-content-sha256", &sha256_hex(b"")),
        ]);
        let query = pairs(&[
            ("RegionId", "cn-shanghai"),
            ("ImageId", "win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd"),
        ]);
        let signed = default_signed_headers(&headers);
        let (canon, sh) =
            canonical_request("POST", "/", &query, &headers, &signed, &sha256_hex(b""));
        assert_eq!(
            canon,
            "POST\n/\nImageId=win2019_1809_x64_dtc_zh-cn_40G_alibase_20230811.vhd&RegionId=cn-shanghai\nhost:ecs.cn-shanghai.aliyuncs.com\nx-acs-action:RunInstances\nx-acs-content-sha256:e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855\nx-acs-date:2023-10-26T10:22:32Z\nx-acs-signature-nonce:3156853299f313e23d1673dc12e1703d\nx-acs-version:2014-05-26\n\nhost;x-acs-action;x-acs-content-sha256;x-acs-date;x-acs-signature-nonce;x-acs-version\ne3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855"
        );
        let sts = string_to_sign_v3(&canon);
        assert_eq!(
            sts,
            "ACS3-HMAC-SHA256\n7ea06492da5221eba5297e897ce16e55f964061054b7695beedaac1145b1e259"
        );
        assert_eq!(
            sign_v3("YourAccessKeySecret", &sts),
            "06563a9e1b43f5dfe96b81484da74bceab24a1d853912eee15083a6f0f3283c0"
        );
        let auth = authorization_v3("YourAccessKeyId", &sh, "sig");
        assert_eq!(parse_authorization_v3(&auth).unwrap().signed_headers.len(), 6);
    }

    #[test]
    fn v2_official_vectors() {
        let p = pairs(&[
            ("AccessKeyId", "testid"),
            ("Action", "DescribeRegions"),
            ("Format", "XML"),
            ("SignatureMethod", "HMAC-SHA1"),
            ("SignatureNonce", "3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf"),
            ("SignatureVersion", "1.0"),
            ("Timestamp", "2016-02-23T12:46:24Z"),
            ("Version", "2014-05-26"),
        ]);
        let sts = string_to_sign_v2("GET", &p);
        assert_eq!(sts, "GET&%2F&AccessKeyId%3Dtestid%26Action%3DDescribeRegions%26Format%3DXML%26SignatureMethod%3DHMAC-SHA1%26SignatureNonce%3D3ee8c1b8-83d3-44af-a94f-4e0ad82fd6cf%26SignatureVersion%3D1.0%26Timestamp%3D2016-02-23T12%253A46%253A24Z%26Version%3D2014-05-26");
        assert_eq!(sign_v2("testsecret", &sts), "OLeaidS1JvxuMvnyHOwuJ+uX5qY=");
        let sts = string_to_sign_v2("", &pairs(&[("test", "ok")]));
        assert_eq!(sts, "&%2F&test%3Dok");
        assert_eq!(sign_v2("accessKeySecret", &sts), "jHx/oHoHNrbVfhncHEvPdHXZwHU=");
    }

    #[test]
    fn percent_encoding_edge_cases() {
        assert_eq!(percent_encode("a b*c~d"), "a%20b%2Ac~d");
        assert_eq!(percent_encode("é"), "%C3%A9");
        assert_eq!(percent_encode(""), "");
        assert_eq!(percent_encode("[\"vsw-1\"]"), "%5B%22vsw-1%22%5D");
        assert_eq!(percent_decode("a%20b+c%2A"), "a b c*");
        assert_eq!(percent_decode("%C3%A9%"), "é%");
        assert_eq!(canonical_query(&pairs(&[("b", ""), ("a", "x y")])), "a=x%20y&b=");
        let round = pairs(&[("VSwitches", "[\"vsw-1\"]"), ("Name", "mesh 1 é")]);
        assert_eq!(parse_form(&encode_form(&round)), round);
    }

    #[test]
    fn repeated_headers_join_sorted_values() {
        let h = pairs(&[("x-acs-b", "2"), ("X-Acs-B", "1 "), ("host", "h")]);
        let (ch, sh) = canonical_headers(&h, &default_signed_headers(&h));
        assert_eq!(ch, "host:h\nx-acs-b:1,2\n");
        assert_eq!(sh, "host;x-acs-b");
    }
}
