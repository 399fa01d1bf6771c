//! Authentication and protocol errors over HTTP: V2 requests, and every way a request is refused.

use std::time::Duration;

use super::client::{now_timestamp, start, Client, RawRequest};

async fn emulator() -> (tempfile::TempDir, meshform_sandbox::asm::AsmEmulator, Client) {
    let dir = tempfile::tempdir().unwrap();
    let emu = start(&dir.path().join("asm.json"), Duration::from_millis(200)).await;
    let c = Client::new(&emu);
    (dir, emu, c)
}

#[tokio::test]
async fn v2_signed_requests_work() {
    let (_dir, emu, c) = emulator().await;
    let reply = c.send(&c.v2_get("DescribeVersions", &[])).await;
    assert_eq!(reply.status, 200, "{:?}", reply.body);
    assert!(reply.body["VersionInfo"].is_array());
    let missing =
        c.send(&c.v2_get("DescribeServiceMeshDetail", &[("ServiceMeshId", "cnone")])).await;
    assert_eq!((missing.status, missing.code()), (404, "ServiceMesh.NotFound"));

    // A V2 request replayed, and one signed with the wrong secret.
    let req = c.v2_get("DescribeServiceMeshes", &[]);
    assert_eq!(c.send(&req).await.status, 200);
    let replay = c.send(&req).await;
    assert_eq!((replay.status, replay.code()), (400, "SignatureNonceUsed"));
    let wrong = Client { secret: "not-the-secret".into(), ..c.clone() };
    let bad = c.send(&wrong.v2_get("DescribeServiceMeshes", &[])).await;
    assert_eq!((bad.status, bad.code()), (400, "SignatureDoesNotMatch"));
    assert!(bad.body["Message"].as_str().unwrap().contains("server string to sign is:GET&%2F&"));
    emu.shutdown().await.unwrap();
}

#[tokio::test]
async fn refused_requests_carry_the_gateway_codes() {
    let (_dir, emu, c) = emulator().await;
    let refuse = |reply: super::client::Reply, status: u16, code: &str| {
        assert_eq!((reply.status, reply.code()), (status, code), "{:?}", reply.body);
        assert!(reply.body["RequestId"].as_str().is_some_and(|r| r.len() == 36));
        assert_eq!(reply.body["HostId"], "servicemesh.aliyuncs.com");
        assert!(reply.body["Recommend"].as_str().is_some_and(|r| r.contains(code)));
        reply
    };

    // Wrong secret: the message gives the server's string to sign.
    let wrong = Client { secret: "nope".into(), ..c.clone() };
    let r = refuse(wrong.call("DescribeVersions", &[]).await, 400, "SignatureDoesNotMatch");
    assert!(r.body["Message"]
        .as_str()
        .unwrap()
        .contains("server string to sign is:ACS3-HMAC-SHA256\n"));

    let stranger = Client { key_id: "LTAIunknown".into(), ..c.clone() };
    refuse(stranger.call("DescribeVersions", &[]).await, 404, "InvalidAccessKeyId.NotFound");

    let stale = c.v3_request("POST", "DescribeVersions", &[], &[], &now_timestamp(-16 * 60), "n1");
    refuse(c.send(&stale).await, 400, "InvalidTimeStamp.Expired");
    let future = c.v3_request("POST", "DescribeVersions", &[], &[], &now_timestamp(16 * 60), "n2");
    refuse(c.send(&future).await, 400, "InvalidTimeStamp.Expired");

    let once = c.v3("DescribeVersions", &[]);
    assert_eq!(c.send(&once).await.status, 200);
    refuse(c.send(&once).await, 400, "SignatureNonceUsed");

    // The body changed after signing.
    let mut tampered = c.v3("DescribeServiceMeshDetail", &[("ServiceMeshId", "ca")]);
    tampered.body = b"ServiceMeshId=cb".to_vec();
    refuse(c.send(&tampered).await, 400, "SignatureDoesNotMatch");
    // A signed header changed after signing; `accept` counts when the client signed it.
    let mut tampered = c.v3("DescribeVersions", &[]);
    tampered.set_header("x-acs-signature-nonce", "another");
    refuse(c.send(&tampered).await, 400, "SignatureDoesNotMatch");
    let every = Client { sign_every_header: true, ..c.clone() };
    assert_eq!(every.call("DescribeVersions", &[]).await.status, 200);
    let mut tampered = every.v3("DescribeVersions", &[]);
    tampered.set_header("accept", "text/xml");
    refuse(c.send(&tampered).await, 400, "SignatureDoesNotMatch");
    let mut unsigned_change = c.v3("DescribeVersions", &[]);
    unsigned_change.set_header("accept", "text/xml");
    assert_eq!(c.send(&unsigned_change).await.status, 200, "an unsigned header may change");

    let mut sts = c.v3("DescribeVersions", &[]);
    sts.set_header("x-acs-security-token", "CAIS-token");
    refuse(c.send(&sts).await, 400, "InvalidSecurityToken.Malformed");

    let unsigned = RawRequest {
        method: "POST".into(),
        target: "/".into(),
        headers: vec![("x-acs-action".into(), "DescribeVersions".into())],
        body: Vec::new(),
    };
    refuse(c.send(&unsigned).await, 400, "IncompleteSignature");

    let mut old_version = c.v3("DescribeVersions", &[]);
    old_version.set_header("x-acs-version", "2019-01-01");
    refuse(c.send(&old_version).await, 400, "InvalidVersion");
    refuse(c.call("DescribeEverything", &[]).await, 404, "InvalidAction.NotFound");

    // Refused requests changed nothing.
    assert!(emu.snapshot().meshes.is_empty());
    emu.shutdown().await.unwrap();
}
