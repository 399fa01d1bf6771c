#!/usr/bin/env python3
"""Drives the sandbox's emulated Container Service (ACK) API with the official Python SDK
`alibabacloud-cs20151215`.

An independent client: ROA requests signed over their path (ACS3-HMAC-SHA256), query values typed
by the SDK (`True`/`False` booleans), JSON answers parsed into the SDK's models, ROA errors raised
as the SDK's exceptions. Checks DescribeClusterDetail (and its `master_url` document),
DescribeClustersV1 with a region and a name filter, DescribeClusterUserKubeconfig (public and
intranet endpoints, a temporary one with its expiration; with `kubectl` on PATH, the kubeconfig is
used against the emulated API server), and the errors for an unknown cluster and a wrong secret.

Input: MESHFORM_SANDBOX_JSON, the path of a running sandbox's `sandbox.json` (`cs.endpoint`,
`asm.access_key_id`, `asm.access_key_secret`, `clusters[]`). The Rust test `cs::python_sdk` starts a
sandbox and runs this script; `scripts/install-test-deps` installs the SDK. Exits non-zero on the
first failed check.
"""

import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from alibabacloud_cs20151215 import models
from alibabacloud_cs20151215.client import Client
from alibabacloud_tea_openapi import models as open_api_models

CHECKS = []


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    CHECKS.append(what)
    print(f"ok - {what}", flush=True)


def client(sandbox, secret=None):
    endpoint = sandbox["cs"]["endpoint"]
    config = open_api_models.Config(
        access_key_id=sandbox["asm"]["access_key_id"],
        access_key_secret=secret or sandbox["asm"]["access_key_secret"],
        endpoint=endpoint.split("://", 1)[-1],
        protocol=endpoint.split("://", 1)[0],
        region_id=sandbox["clusters"][0]["region"],
        read_timeout=10000,
        connect_timeout=5000,
    )
    return Client(config)


def error_of(call):
    try:
        call()
    except Exception as e:  # ClientException / ServerException carry .code and .status_code
        return getattr(e, "code", None), getattr(e, "status_code", None) or getattr(e, "statusCode", None)
    raise AssertionError("the call was expected to fail")


def main():
    with open(os.environ["MESHFORM_SANDBOX_JSON"]) as f:
        sandbox = json.load(f)
    cs = client(sandbox)
    clusters = sandbox["clusters"]

    for c in clusters:
        d = cs.describe_cluster_detail(c["id"]).body
        check(d.cluster_id == c["id"] and d.name == c["name"], f"DescribeClusterDetail names {c['name']}")
        check(d.region_id == c["region"] and d.vpc_id == c["vpc_id"], f"{c['name']}: region and VPC")
        check(d.vswitch_ids == [c["vswitch_id"]], f"{c['name']}: vSwitch ids")
        check(d.state == "running" and d.zone_id.startswith(c["region"]), f"{c['name']}: running, in a zone of its region")
        master = json.loads(d.master_url)
        check(master["api_server_endpoint"] == c["api_server"], f"{c['name']}: master_url's public endpoint is the API server")

    other = clusters[1]
    listed = cs.describe_clusters_v1(models.DescribeClustersV1Request(region_id=other["region"])).body
    check([x.name for x in listed.clusters] == [other["name"]], "DescribeClustersV1 filters by region")
    check(listed.page_info.total_count == 1, "DescribeClustersV1 counts what matched")
    named = cs.describe_clusters_v1(models.DescribeClustersV1Request(name="cluster-")).body
    check(len(named.clusters) == len(clusters), "DescribeClustersV1's name filter is fuzzy")

    first = clusters[0]
    kc = cs.describe_cluster_user_kubeconfig(first["id"], models.DescribeClusterUserKubeconfigRequest()).body
    check(f"server: {first['api_server']}" in kc.config, "the user kubeconfig points at the public endpoint")
    temp = cs.describe_cluster_user_kubeconfig(
        first["id"],
        models.DescribeClusterUserKubeconfigRequest(private_ip_address=True, temporary_duration_minutes=15),
    ).body
    check("server: https://localhost:" in temp.config, "PrivateIpAddress=True gives the intranet endpoint")
    expires = time.mktime(time.strptime(temp.expiration, "%Y-%m-%dT%H:%M:%SZ")) - time.timezone
    check(abs(expires - (time.time() + 900)) < 120, "a temporary kubeconfig expires after TemporaryDurationMinutes")

    if shutil.which("kubectl"):
        with tempfile.NamedTemporaryFile("w", suffix=".kubeconfig", delete=False) as f:
            f.write(temp.config)
        try:
            out = subprocess.run(
                ["kubectl", "--kubeconfig", f.name, "get", "namespaces", "-o", "name"],
                capture_output=True, text=True, timeout=60,
            )
        finally:
            os.unlink(f.name)
        check(out.returncode == 0 and "namespace/default" in out.stdout,
              f"kubectl works with the temporary kubeconfig ({out.stderr.strip()})")
    else:
        print("# kubectl not found: the kubeconfig is not tried against the API server", flush=True)

    code, status = error_of(lambda: cs.describe_cluster_detail("c0000000000000000000000000000000"))
    check(code == "ErrorClusterNotFound" and status == 404, f"an unknown cluster is ErrorClusterNotFound 404 ({code} {status})")
    code, status = error_of(lambda: client(sandbox, secret="wrong").describe_cluster_detail(first["id"]))
    check(code == "SignatureDoesNotMatch" and status == 400, f"a wrong secret is SignatureDoesNotMatch ({code} {status})")

    print(f"{len(CHECKS)} passed, 0 failed", flush=True)


if __name__ == "__main__":
    try:
        main()
    except AssertionError as e:
        print(f"not ok - {e}", flush=True)
        sys.exit(1)
