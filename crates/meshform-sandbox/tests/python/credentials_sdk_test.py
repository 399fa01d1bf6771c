#!/usr/bin/env python3
"""The official Alibaba Cloud credentials SDK (`alibabacloud-credentials`) against the sandbox.

Its default chain, run by the Rust test `identity::python_sdk` in one of two environments
(MESHFORM_CREDENTIAL_MODE):

- `ecs`: no keys, profile or OIDC settings, so the chain ends at the ECS RAM role: the metadata
  service at 100.100.100.200, reached through HTTP_PROXY at the sandbox's metadata emulator. The
  emulator enforces the hardened mode (a session token on every read): the SDK's token dance.
- `oidc`: ALIBABA_CLOUD_ROLE_ARN, ALIBABA_CLOUD_OIDC_PROVIDER_ARN, ALIBABA_CLOUD_OIDC_TOKEN_FILE as
  ACK sets them for RRSA, so the chain calls AssumeRoleWithOIDC on https://sts.aliyuncs.com, reached
  through HTTPS_PROXY (a TLS-terminating proxy whose CA the test adds to certifi's bundle) at the
  STS emulator.

Either way the credentials found then sign a servicemesh SDK call that the ASM emulator must accept
(an STS AccessKey id with its token). Input: MESHFORM_ASM_ENDPOINT (http://127.0.0.1:PORT).
Exits non-zero on the first failed check.
"""

import os
import sys

from alibabacloud_credentials.client import Client as CredentialClient
from alibabacloud_servicemesh20200111.client import Client
from alibabacloud_tea_openapi import models as open_api_models

CHECKS = []


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    CHECKS.append(what)
    print(f"ok - {what}", flush=True)


def main():
    endpoint = os.environ["MESHFORM_ASM_ENDPOINT"]
    mode = os.environ["MESHFORM_CREDENTIAL_MODE"]
    expected = {"ecs": "ecs_ram_role", "oidc": "oidc_role_arn"}[mode]
    chain = CredentialClient()
    cred = chain.get_credential()
    check(cred.access_key_id.startswith("STS."), "the default chain yields STS credentials")
    check(bool(cred.security_token), "with a security token")
    check(expected in (cred.provider_name or ""), f"from {expected} ({cred.provider_name})")
    config = open_api_models.Config(
        credential=chain,
        endpoint=endpoint.split("://", 1)[-1],
        protocol="http",
        region_id="cn-hangzhou",
        read_timeout=10000,
        connect_timeout=5000,
    )
    # The proxies stand for the routes to 100.100.100.200 and sts.aliyuncs.com only, and the SDK's
    # HTTP layer (Tea) does not honour NO_PROXY: drop them now that the credentials are cached.
    for k in ("HTTP_PROXY", "http_proxy", "HTTPS_PROXY", "https_proxy"):
        os.environ.pop(k, None)
    versions = Client(config).describe_versions()
    check(versions.status_code == 200, "the ASM emulator accepts calls signed with them")
    print(f"{len(CHECKS)} passed, 0 failed")


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # noqa: BLE001 - report any failure as the test's
        print(f"FAILED: {type(e).__name__}: {e}", file=sys.stderr)
        sys.exit(1)
