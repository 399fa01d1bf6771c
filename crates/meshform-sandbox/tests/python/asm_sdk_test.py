#!/usr/bin/env python3
"""Drives the sandbox's emulated ASM API with the official Alibaba Cloud Python SDK.

An independent client: if the emulator and meshform's own signing agreed on a mistake, the SDK
would not. Runs the runbook's ASM steps: create a mesh with its own cluster and a CA (intermediate +
shared root), wait for Running, add the other cluster for service discovery only, configure the
multi-cluster network, enable injection, read everything back (also with V2 signatures) and the mesh's
kubeconfig, upgrade it in place (DescribeUpgradeVersion, UpgradeMeshEditionPartially with the SDK's
`True`/`False` booleans, DescribeServiceMeshUpgradeStatus), check a wrong secret is refused, delete.

Input: MESHFORM_SANDBOX_JSON, the path of a `sandbox.json` (`asm.endpoint`, `asm.access_key_id`,
`asm.access_key_secret`, `clusters[]` with `id`, `region`, `vpc_id`, `vswitch_id`). The Rust test
`asm::python_sdk` writes one and runs this script; `scripts/install-test-deps` installs the SDK.
Exits non-zero on the first failed check.
"""

import base64
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

from alibabacloud_servicemesh20200111 import models
from alibabacloud_servicemesh20200111.client import Client
from alibabacloud_tea_openapi import models as open_api_models

RUNBOOK_VERSION = "v1.22.6.71-g7d67a80b-aliyun"
CHECKS = []


def check(cond, what):
    if not cond:
        raise AssertionError(what)
    CHECKS.append(what)
    print(f"ok - {what}", flush=True)


def client(sandbox, secret=None, v2=False):
    asm = sandbox["asm"]
    endpoint = asm["endpoint"]
    config = open_api_models.Config(
        access_key_id=asm["access_key_id"],
        access_key_secret=secret or asm["access_key_secret"],
        endpoint=endpoint.split("://", 1)[-1],
        protocol=endpoint.split("://", 1)[0] if "://" in endpoint else "http",
        region_id=sandbox["clusters"][0]["region"],
        read_timeout=10000,
        connect_timeout=5000,
    )
    if v2:
        config.signature_algorithm = "v2"
    return Client(config)


def error_code(call):
    """Runs `call`, expecting an API error; returns its code."""
    try:
        call()
    except Exception as e:  # the SDK raises ClientException / ServerException with .code
        return getattr(e, "code", None), str(e)
    raise AssertionError("the call was expected to fail")


def make_ca(workdir):
    """A root CA and an intermediate CA (P-256) with openssl; None when openssl is missing."""
    if shutil.which("openssl") is None:
        print("# openssl not found: creating the mesh without UseExistingCA", flush=True)
        return None

    def run(*args):
        subprocess.run(["openssl", *args], cwd=workdir, check=True, capture_output=True)

    ec = ["-newkey", "ec", "-pkeyopt", "ec_paramgen_curve:P-256", "-nodes"]
    run("req", "-x509", *ec, "-keyout", "root-key.pem", "-out", "root-cert.pem", "-days", "3650",
        "-subj", "/O=meshform sandbox/CN=Root CA", "-addext", "basicConstraints=critical,CA:TRUE",
        "-addext", "keyUsage=critical,keyCertSign,cRLSign")
    run("req", *ec, "-keyout", "ca-key.pem", "-out", "ca.csr", "-subj", "/O=meshform sandbox/CN=mesh-1 CA")
    with open(os.path.join(workdir, "ext.cnf"), "w") as f:
        f.write("basicConstraints=critical,CA:TRUE\nkeyUsage=critical,keyCertSign,cRLSign,digitalSignature\n")
    run("x509", "-req", "-in", "ca.csr", "-CA", "root-cert.pem", "-CAkey", "root-key.pem",
        "-CAcreateserial", "-out", "ca-cert.pem", "-days", "3650", "-extfile", "ext.cnf")

    def read(name):
        with open(os.path.join(workdir, name)) as f:
            return f.read()

    return {"ca_cert": read("ca-cert.pem"), "ca_key": read("ca-key.pem"), "root_cert": read("root-cert.pem")}


def b64(text):
    return base64.b64encode(text.encode()).decode()


def wait_state(c, mesh_id, state, timeout=30.0):
    deadline = time.time() + timeout
    while time.time() < deadline:
        detail = c.describe_service_mesh_detail(models.DescribeServiceMeshDetailRequest(service_mesh_id=mesh_id))
        if detail.body.service_mesh.service_mesh_info.state == state:
            return detail.body.service_mesh
        time.sleep(0.1)
    raise AssertionError(f"mesh {mesh_id} did not reach {state}")


def main():
    with open(os.environ["MESHFORM_SANDBOX_JSON"]) as f:
        sandbox = json.load(f)
    c1, c2 = sandbox["clusters"][0], sandbox["clusters"][1]
    c = client(sandbox)

    versions = c.describe_versions().body.version_info
    check(any(RUNBOOK_VERSION in v.versions for v in versions), "DescribeVersions offers the runbook's version")

    with tempfile.TemporaryDirectory() as workdir:
        ca = make_ca(workdir)
    request = models.CreateServiceMeshRequest(
        region_id=c1["region"],
        vpc_id=c1["vpc_id"],
        v_switches=json.dumps([c1["vswitch_id"]]),
        name="sdk-mesh-1",
        istio_version=RUNBOOK_VERSION,
        edition="Pro",
        cluster_spec="enterprise",
        guest_cluster=c1["id"],
        tag=[models.CreateServiceMeshRequestTag(key="purpose", value="dr-drill")],
    )
    if ca:
        request.use_existing_ca = True
        request.existing_ca_cert = b64(ca["ca_cert"])
        request.existing_ca_key = b64(ca["ca_key"])
        request.existing_root_ca_cert = b64(ca["root_cert"])
        request.cert_chain = b64(ca["ca_cert"] + ca["root_cert"])
    created = c.create_service_mesh(request)
    mesh_id = created.body.service_mesh_id
    check(created.status_code == 200 and mesh_id.startswith("c") and len(mesh_id) == 33, f"CreateServiceMesh -> {mesh_id}")
    check(bool(created.body.request_id), "the answer carries a RequestId")

    code, _ = error_code(lambda: c.create_service_mesh(request))
    check(code == "NameAlreadyExist", "a second mesh with the same name is refused (NameAlreadyExist)")

    mesh = wait_state(c, mesh_id, "running")
    check(mesh.clusters == [c1["id"]], "the mesh is running and manages its own cluster")
    check(mesh.spec.network.vpc_id == c1["vpc_id"], "Spec.Network.VpcId is the mesh's VPC")
    check(mesh.service_mesh_info.version == RUNBOOK_VERSION, "ServiceMeshInfo.Version is the requested version")

    ca_cert = base64.b64decode(c.get_ca_cert(models.GetCaCertRequest(service_mesh_id=mesh_id)).body.ca_cert).decode()
    if ca:
        check(ca_cert.strip() == ca["ca_cert"].strip(), "GetCaCert returns the intermediate given at creation")
    check("PRIVATE KEY" not in ca_cert and "BEGIN CERTIFICATE" in ca_cert, "GetCaCert returns a certificate, no key")

    added = c.add_cluster_into_service_mesh(models.AddClusterIntoServiceMeshRequest(
        service_mesh_id=mesh_id, cluster_id=c2["id"], discovery_only=True))
    check(str(added.body.code) == "200", "AddClusterIntoServiceMesh (DiscoveryOnly) answers Code 200")
    wait_state(c, mesh_id, "running")
    members = c.describe_clusters_in_service_mesh(
        models.DescribeClustersInServiceMeshRequest(service_mesh_id=mesh_id)).body.clusters
    check([m.cluster_id for m in members] == [c1["id"], c2["id"]], "both clusters are members")

    c.update_mesh_multi_cluster_network(models.UpdateMeshMultiClusterNetworkRequest(
        service_mesh_id=mesh_id,
        multi_cluster_networks={
            c1["id"]: models.MultiClusterNetworksValue(network="network1", enable_gateway=True),
            c2["id"]: models.MultiClusterNetworksValue(network="network2"),
        }))
    nets = c.describe_mesh_multi_cluster_network(
        models.DescribeMeshMultiClusterNetworkRequest(service_mesh_id=mesh_id)).body.multi_cluster_networks
    check(nets[c1["id"]].network == "network1" and nets[c1["id"]].enable_gateway is True,
          "cluster-1 homes network1 behind a cross-cluster gateway")
    check(nets[c1["id"]].gateway_name == f"asm-cross-network-{mesh_id}", "the gateway is asm-cross-network-<meshId>")
    check(nets[c2["id"]].network == "network2", "cluster-2 homes network2")

    c.update_istio_injection_config(models.UpdateIstioInjectionConfigRequest(
        service_mesh_id=mesh_id, namespace="default", enable_istio_injection=True))
    ns = c.describe_guest_cluster_namespaces(models.DescribeGuestClusterNamespacesRequest(
        service_mesh_id=mesh_id, guest_cluster_id=c1["id"], show_ns_labels=True)).body
    check("default" in ns.ns_list and ns.ns_labels["default"].get("istio-injection") == "enabled",
          "injection is enabled for namespace default")

    api_server = mesh.endpoints.intranet_api_server_endpoint
    check(api_server.startswith("https://127.0.0.1:"), "Endpoints.IntranetApiServerEndpoint is the mesh's API server")
    kc = c.describe_service_mesh_kubeconfig(models.DescribeServiceMeshKubeconfigRequest(
        service_mesh_id=mesh_id, private_ip_address=True)).body
    check(kc.kubeconfig.startswith("apiVersion: v1\nkind: Config\n") and f"server: {api_server}\n" in kc.kubeconfig,
          "DescribeServiceMeshKubeconfig returns a kubeconfig for that endpoint")
    check(time.strptime(kc.expire_time, "%Y-%m-%d %H:%M:%S").tm_year > time.gmtime().tm_year,
          "its ExpireTime is YYYY-MM-DD hh:mm:ss, in the future")
    code, _ = error_code(lambda: c.describe_service_mesh_kubeconfig(
        models.DescribeServiceMeshKubeconfigRequest(service_mesh_id="c-no-such-mesh")))
    check(code == "ServiceMesh.NotFound", "the kubeconfig of an unknown mesh is not found")

    upgrade_in_place(c, mesh_id)

    v2 = client(sandbox, v2=True)
    detail = v2.describe_service_mesh_detail(models.DescribeServiceMeshDetailRequest(service_mesh_id=mesh_id))
    check(detail.body.service_mesh.service_mesh_info.name == "sdk-mesh-1", "a V2 (HMAC-SHA1) request is accepted")
    listed = c.describe_service_meshes(models.DescribeServiceMeshesRequest()).body.service_meshes
    check(any(m.service_mesh_info.service_mesh_id == mesh_id for m in listed), "DescribeServiceMeshes (GET) lists the mesh")

    wrong = client(sandbox, secret="not-the-secret")
    code, message = error_code(lambda: wrong.describe_versions())
    check(code == "SignatureDoesNotMatch", "a wrong secret is refused (SignatureDoesNotMatch)")
    code, _ = error_code(lambda: client(sandbox, secret="not-the-secret", v2=True).describe_versions())
    check(code == "SignatureDoesNotMatch", "a wrong secret is refused with V2 too")

    c.delete_service_mesh(models.DeleteServiceMeshRequest(service_mesh_id=mesh_id))
    deadline = time.time() + 30
    while True:
        code, _ = error_code_or_none(
            lambda: c.describe_service_mesh_detail(models.DescribeServiceMeshDetailRequest(service_mesh_id=mesh_id)))
        if code is not None or time.time() > deadline:
            break
        time.sleep(0.1)
    check(code == "ServiceMesh.NotFound", "the deleted mesh is gone (ServiceMesh.NotFound)")
    print(f"asm_sdk_test: {len(CHECKS)} passed, 0 failed", flush=True)


def upgrade_in_place(c, mesh_id):
    target = c.describe_upgrade_version(models.DescribeUpgradeVersionRequest(service_mesh_id=mesh_id)).body.version
    check(target.istio_version.startswith("v1.24."), f"DescribeUpgradeVersion offers the next version ({target.istio_version})")
    code, _ = error_code(lambda: c.upgrade_mesh_edition_partially(models.UpgradeMeshEditionPartiallyRequest(
        service_mesh_id=mesh_id, expected_version=RUNBOOK_VERSION, asmgateway_continue=False)))
    check(code == "UpgradedVersion.NotExpected", "an ExpectedVersion that is not the target is refused (UpgradedVersion.NotExpected)")
    c.upgrade_mesh_edition_partially(models.UpgradeMeshEditionPartiallyRequest(
        service_mesh_id=mesh_id, expected_version=target.istio_version, pre_check=True))
    check(wait_state(c, mesh_id, "running").service_mesh_info.version == RUNBOOK_VERSION, "PreCheck=True upgrades nothing")
    c.upgrade_mesh_edition_partially(models.UpgradeMeshEditionPartiallyRequest(
        service_mesh_id=mesh_id, expected_version=target.istio_version, asmgateway_continue=True))
    status = c.describe_service_mesh_upgrade_status(models.DescribeServiceMeshUpgradeStatusRequest(
        service_mesh_id=mesh_id)).body.upgrade_detail
    check(status.mesh_status in ("upgrading", "running"), f"DescribeServiceMeshUpgradeStatus reports MeshStatus ({status.mesh_status})")
    gateway = f"istio-system:asm-cross-network-{mesh_id}"
    check(gateway in status.gateway_status_record, "its GatewayStatusRecord lists the cross-cluster gateway")
    mesh = wait_state(c, mesh_id, "running")
    check(mesh.service_mesh_info.version == target.istio_version, "the mesh runs the new version after the upgrade")
    status = c.describe_service_mesh_upgrade_status(models.DescribeServiceMeshUpgradeStatusRequest(
        service_mesh_id=mesh_id)).body.upgrade_detail
    record = status.gateway_status_record[gateway]
    check(record.status == "finished" and record.version == target.istio_version
          and status.finished_gateways_num == status.total_gateways_num == 1,
          "the gateways were upgraded with it (ASMGatewayContinue=True)")


def error_code_or_none(call):
    try:
        call()
    except Exception as e:
        return getattr(e, "code", None), str(e)
    return None, None


if __name__ == "__main__":
    try:
        main()
    except Exception as e:  # report the failed check and exit non-zero
        print(f"not ok - {type(e).__name__}: {e}", flush=True)
        print(f"asm_sdk_test: {len(CHECKS)} passed, 1 failed", flush=True)
        sys.exit(1)
