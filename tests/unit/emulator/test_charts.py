"""The stand-in Helm charts (emulator/charts/) and the chart repository the emulator serves.

With the real helm (``.venv/bin/helm``, part of every bootstrap; ``K8S_CLIENTS_BIN``
points elsewhere): what the values our roles pass render to, the strict
values schema, and ``helm repo add``/``search``/``pull``/``show``/
``install --repo`` against an in-process emulator. Manifests are checked
with ``kubernetes_validate`` (Kubernetes 1.35, strict) and custom
resources against their CRD's schema.
"""

from __future__ import annotations

import gzip
import hashlib
import io
import os
import subprocess
import tarfile
import urllib.error
import urllib.request
from pathlib import Path
from typing import Any

import jsonschema
import kubernetes_validate
import pytest
import yaml

from emulator.charts import make_schema, repo

ROOT = Path(__file__).resolve().parents[3]
CHARTS = ROOT / "emulator" / "charts"
HELM = Path(os.environ.get("K8S_CLIENTS_BIN") or ROOT / ".venv" / "bin") / "helm"
KUBERNETES_VERSION = "1.35"

CA, LBC = "cluster-autoscaler", "aws-load-balancer-controller"
ROLE_ARN = "arn:aws:iam::123456789012:role/llm-analytics-hub-prod-{}"
CLUSTER = "llm-analytics-hub-prod"

# The values the roles pass (issue: stand-in charts).
CA_VALUES: dict[str, Any] = {
    "cloudProvider": "aws",
    "awsRegion": "eu-west-1",
    "autoDiscovery": {"clusterName": CLUSTER},
    "rbac": {"serviceAccount": {"create": True, "name": "cluster-autoscaler",
                                "annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN.format("cluster-autoscaler")}}},
    "extraArgs": {
        "scale-down-delay-after-add": "10m",
        "new-pod-scale-up-delay": "10s",
        "max-node-provision-time": "15m",
        "scale-down-utilization-threshold": 0.5,
        "balance-similar-node-groups": True,
        "expander": "least-waste",
        "skip-nodes-with-system-pods": False,
    },
    "nodeSelector": {"role": "system"},
    "priorityClassName": "system-cluster-critical",
    "replicaCount": 1,
    "resources": {"requests": {"cpu": "100m", "memory": "300Mi"}, "limits": {"memory": "600Mi"}},
    "image": {"tag": "v1.35.0"},
}
LBC_VALUES: dict[str, Any] = {
    "clusterName": CLUSTER,
    "region": "eu-west-1",
    "vpcId": "vpc-0123456789abcdef0",
    "serviceAccount": {"create": True, "name": "aws-load-balancer-controller",
                       "annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN.format("aws-load-balancer-controller")}},
    "replicaCount": 2,
    "nodeSelector": {"role": "system"},
    "priorityClassName": "system-cluster-critical",
    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "256Mi"}},
    "topologySpreadConstraints": [{
        "maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
        "labelSelector": {"matchLabels": {"app.kubernetes.io/name": "aws-load-balancer-controller"}},
    }],
    "createIngressClassResource": True,
    "ingressClass": "alb",
}

# Files copied unchanged from upstream, with their git blob ids there
# (`git ls-tree -r <commit> <chart path>` in kubernetes/autoscaler 55c37cd5 and aws/eks-charts 52396092).
VERBATIM = {
    CA: {
        ".helmignore": "0e8a0eb36f4ca2c939201c0d54b5d82a1ea34778",
        "values.yaml": "24cfaca4f14494ef6be283434b464538c16a7831",
        "templates/NOTES.txt": "1a87a3d10b502bcef8cd73350d4926bb8eba6de6",
        "templates/_helpers.tpl": "c7e80f4d8e4c272bc95d481c82c6b0d109de2f22",
        "templates/clusterrole.yaml": "445724cff878299352cfc452f51dd215b47d4f56",
        "templates/clusterrolebinding.yaml": "59e6ef67d60538639b83d21619cc02d753fc32a2",
        "templates/deployment.yaml": "f66987e06414f64cc8cbfb5961ac81f6dc25b920",
        "templates/pdb.yaml": "0f8a69ecd6ca6f2d11028b44bbd1d5f3b8e6fa84",
        "templates/role.yaml": "80cf30a11022d2aa5c9f7f02dff0122ac631a68d",
        "templates/rolebinding.yaml": "9436aabe641b70ddb75cb553cfc93ec9d7ce7a49",
        "templates/service.yaml": "c8bd40795d25d5879e59aaaee7fcf9a129a74c08",
        "templates/serviceaccount.yaml": "465b5aad202792f7f182b12def8cb427dc46ec25",
    },
    LBC: {
        ".helmignore": "67263be0af80e136cf5fc4c4e212063788afa08f",
        "values.yaml": "9b0db7937a77b927e1a82e939d6c53e495ed0ae3",
        "crds/crds.yaml": "f41daf7ae70237996b8a43befd70988cdaaeec5c",
        "crds/gateway-crds.yaml": "10cf4f08c24fe2d046a642872f2b3644fc692ab4",
        "templates/NOTES.txt": "04e98e0a92ce6b9c0ef017d9e023e7194dc4e7c3",
        "templates/_helpers.tpl": "df130ede4cf43d061cfd65c1660cfbdf96bc87ce",
        "templates/deployment.yaml": "497108bb60bf02792363b947461d93ab365a422e",
        "templates/ingressclass.yaml": "feed802d2f4084c365893aa8ddb19d41145aa78e",
        "templates/pdb.yaml": "f72abaf34e6f045aa9381bcb321402d181eed4cb",
        "templates/rbac.yaml": "2759ddb8e29fadc366ca6a48010287d9c52ec25d",
        "templates/service.yaml": "aad0044ebdd72291d26db19341fe03067e82326b",
        "templates/serviceaccount.yaml": "eb71e087efcf34f92333dece549c2b66b28b834a",
    },
}


# -- helpers ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def helm_env(tmp_path_factory: pytest.TempPathFactory) -> dict[str, str]:
    """An environment giving helm its own (empty) config, cache and data directories."""
    home = tmp_path_factory.mktemp("helm")
    return {**os.environ, "HELM_CACHE_HOME": str(home / "cache"), "HELM_CONFIG_HOME": str(home / "config"),
            "HELM_DATA_HOME": str(home / "data"), "KUBECONFIG": str(home / "no-kubeconfig")}


def helm(env: dict[str, str], *args: str, values: dict[str, Any] | None = None) -> subprocess.CompletedProcess:
    """Run the real helm (values, if any, as a -f file on stdin)."""
    assert HELM.exists(), f"no helm at {HELM}: run `make k8s-clients`"
    extra = ["-f", "-"] if values is not None else []
    return subprocess.run([str(HELM), *args, *extra], env=env, capture_output=True, text=True, timeout=120,
                          input=yaml.safe_dump(values) if values is not None else None, check=False)


def render(env: dict[str, str], chart: str, values: dict[str, Any], release: str | None = None,
           *args: str) -> list[dict[str, Any]]:
    """The objects ``helm template`` renders for ``chart`` (a stand-in directory) in kube-system."""
    result = helm(env, "template", release or chart, str(CHARTS / chart), "--namespace", "kube-system",
                  *args, values=values)
    assert result.returncode == 0, result.stderr
    return [doc for doc in yaml.safe_load_all(result.stdout) if doc]


def flatten(objects: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """Items of ``v1/List`` objects in place of the lists (as helm and kubectl apply them)."""
    flat = []
    for obj in objects:
        flat.extend(obj["items"] if obj["kind"] == "List" else [obj])
    return flat


def by_kind(objects: list[dict[str, Any]]) -> dict[tuple[str, str], dict[str, Any]]:
    return {(obj["kind"], obj["metadata"]["name"]): obj for obj in flatten(objects)}


def git_blob_id(path: Path) -> str:
    data = path.read_bytes()
    return hashlib.sha1(b"blob %d\0" % len(data) + data).hexdigest()  # noqa: S324 - git's object id


def crd_schemas(chart: str) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema of the CRDs a chart ships."""
    schemas = {}
    for path in sorted((CHARTS / chart / "crds").glob("*.yaml")):
        for crd in yaml.safe_load_all(path.read_text()):
            if not crd:
                continue
            for version in crd["spec"]["versions"]:
                key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
                schemas[key] = version["schema"]["openAPIV3Schema"]
    return schemas


def assert_valid(objects: list[dict[str, Any]], crds: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Every object valid for Kubernetes 1.35 (strict), custom resources for their CRD's schema."""
    for obj in flatten(objects):
        custom = crds.get((obj["apiVersion"], obj["kind"]))
        if custom is not None:
            jsonschema.Draft7Validator(custom).validate(obj)
        else:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


# -- the charts' files -----------------------------------------------------------


@pytest.mark.parametrize(("chart", "version", "app_version", "commit"), [
    (CA, "9.59.0", "1.35.0", "55c37cd5eb550756c5ccc5a89e9068d77797e575"),
    (LBC, "3.5.0", "v3.5.0", "5239609242f3430be50fb0b714a24d3ef2b47983"),
])
def test_chart_yaml_names_the_real_chart_and_says_it_is_a_stand_in(chart, version, app_version, commit):
    metadata = yaml.safe_load((CHARTS / chart / "Chart.yaml").read_text())
    assert (metadata["name"], str(metadata["version"]), str(metadata["appVersion"])) == (chart, version, app_version)
    assert metadata["description"].startswith(f"Stand-in for the {chart} chart, served by the llmhub.eks emulator")
    assert metadata["annotations"] == {"llmhub.eks/stand-in": "true", "llmhub.eks/upstream-commit": commit}
    assert commit in (CHARTS / chart / "README.md").read_text()


@pytest.mark.parametrize("chart", [CA, LBC])
def test_copied_files_are_the_upstream_ones(chart):
    assert {name: git_blob_id(CHARTS / chart / name) for name in VERBATIM[chart]} == VERBATIM[chart]


def test_committed_schemas_are_the_generated_ones(capsys):
    for chart in (CA, LBC):
        committed = (CHARTS / chart / make_schema.SCHEMA_FILE).read_text()
        assert committed == make_schema.render(make_schema.build_schema(CHARTS / chart)), chart
    assert make_schema.main(["--check"]) == 0
    assert capsys.readouterr().err == ""


def test_schema_rule_free_form_and_strict_maps(tmp_path):
    chart = tmp_path / "c"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 1.0.0\n")
    (chart / "values.yaml").write_text("a: 1\nlabels: {}\nnothing:\nimage:\n  tag: x\n  extra:\n    k: v\nlist: [1]\n")
    schema = make_schema.build_schema(chart)
    assert schema["additionalProperties"] is False
    assert schema["properties"] == {
        "a": {}, "image": {"additionalProperties": False, "properties": {
            "extra": {"additionalProperties": False, "properties": {"k": {}}}, "tag": {}}},
        "labels": {}, "list": {}, "nothing": {},
    }
    assert schema["$schema"] == "https://json-schema.org/draft/2020-12/schema"


def test_free_form_paths_must_name_mappings(tmp_path, monkeypatch):
    chart = tmp_path / "c"
    chart.mkdir()
    (chart / "Chart.yaml").write_text("apiVersion: v2\nname: c\nversion: 1.0.0\n")
    (chart / "values.yaml").write_text("a: 1\n")
    monkeypatch.setitem(make_schema.FREE_FORM, "c", frozenset({"a", "b.c"}))
    with pytest.raises(ValueError, match="FREE_FORM names no mapping of values.yaml: a, b.c"):
        make_schema.build_schema(chart)


def test_the_values_our_roles_pass_are_keys_of_the_real_values_yaml():
    for chart, values in ((CA, CA_VALUES), (LBC, LBC_VALUES)):
        schema = make_schema.build_schema(CHARTS / chart)
        jsonschema.Draft202012Validator(schema).validate(values)


# -- rendering with our values ---------------------------------------------------


def test_cluster_autoscaler_renders_our_values(helm_env):
    objects = render(helm_env, CA, CA_VALUES)
    found = by_kind(objects)
    name = "cluster-autoscaler-aws-cluster-autoscaler"  # <release>-<cloudProvider>-<chart>, the real fullname
    assert sorted(found) == [("ClusterRole", name), ("ClusterRoleBinding", name), ("Deployment", name),
                             ("PodDisruptionBudget", name), ("Role", name), ("RoleBinding", name),
                             ("Service", name), ("ServiceAccount", "cluster-autoscaler")]
    account = found["ServiceAccount", "cluster-autoscaler"]
    assert account["metadata"]["namespace"] == "kube-system"
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE_ARN.format("cluster-autoscaler")}
    for binding in (found["ClusterRoleBinding", name], found["RoleBinding", name]):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": "cluster-autoscaler",
                                        "namespace": "kube-system"}]
    deployment = found["Deployment", name]
    assert deployment["spec"]["replicas"] == 1
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "cluster-autoscaler"
    assert pod["nodeSelector"] == {"role": "system"}
    assert pod["priorityClassName"] == "system-cluster-critical"
    (container,) = pod["containers"]
    assert container["image"] == "registry.k8s.io/autoscaling/cluster-autoscaler:v1.35.0"
    assert container["command"] == [
        "./cluster-autoscaler",
        "--cloud-provider=aws",
        "--namespace=kube-system",
        f"--node-group-auto-discovery=asg:tag=k8s.io/cluster-autoscaler/enabled,k8s.io/cluster-autoscaler/{CLUSTER}",
        # extraArgs, by key: ours and the chart's defaults (logtostderr, stderrthreshold, v)
        "--balance-similar-node-groups=true",
        "--expander=least-waste",
        "--logtostderr=true",
        "--max-node-provision-time=15m",
        "--new-pod-scale-up-delay=10s",
        "--scale-down-delay-after-add=10m",
        "--scale-down-utilization-threshold=0.5",
        "--skip-nodes-with-system-pods=false",
        "--stderrthreshold=info",
        "--v=4",
    ]
    assert {"name": "AWS_REGION", "value": "eu-west-1"} in container["env"]
    assert container["resources"] == CA_VALUES["resources"]
    assert_valid(objects, {})


def test_cluster_autoscaler_other_settings_land_where_the_real_template_puts_them(helm_env):
    values = {**CA_VALUES, "fullnameOverride": "cluster-autoscaler", "replicaCount": 2,
              "extraArgs": {"leader-elect": True, "balancing-ignore-label_1": "a", "balancing-ignore-label_2": "b",
                            "logtostderr": None, "stderrthreshold": None, "v": None},
              "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
              "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                  {"matchExpressions": [{"key": "role", "operator": "In", "values": ["system"]}]}]}}},
              "podAnnotations": {"a": "1"}, "podLabels": {"team": "platform"},
              "securityContext": {"runAsNonRoot": True, "runAsUser": 65534},
              "containerSecurityContext": {"allowPrivilegeEscalation": False}}
    found = by_kind(render(helm_env, CA, values))
    deployment = found["Deployment", "cluster-autoscaler"]
    assert deployment["spec"]["replicas"] == 2
    template = deployment["spec"]["template"]
    assert template["metadata"]["annotations"] == {"a": "1"}
    assert template["metadata"]["labels"]["team"] == "platform"
    assert deployment["spec"]["selector"]["matchLabels"]["team"] == "platform"
    pod = template["spec"]
    assert pod["tolerations"] == values["tolerations"]
    assert pod["affinity"] == values["affinity"]
    assert pod["securityContext"] == values["securityContext"]
    (container,) = pod["containers"]
    assert container["securityContext"] == {"allowPrivilegeEscalation": False}
    # a null value is removed by helm (the chart's default too); "_suffix" keys repeat a flag
    assert container["command"][4:] == ["--balancing-ignore-label=a", "--balancing-ignore-label=b",
                                        "--leader-elect=true"]


def test_aws_load_balancer_controller_renders_our_values(helm_env):
    objects = render(helm_env, LBC, LBC_VALUES)
    found = by_kind(objects)
    name = "aws-load-balancer-controller"  # the release name holds the chart name: the real fullname is the release
    assert sorted(found) == [
        ("ClusterRole", f"{name}-role"), ("ClusterRoleBinding", f"{name}-rolebinding"), ("Deployment", name),
        ("IngressClass", "alb"), ("IngressClassParams", "alb"), ("Role", f"{name}-leader-election-role"),
        ("RoleBinding", f"{name}-leader-election-rolebinding"), ("Secret", "aws-load-balancer-tls"),
        ("Service", "aws-load-balancer-webhook-service"), ("ServiceAccount", name),
    ]
    assert not [obj for obj in objects if "Webhook" in obj["kind"]]
    account = found["ServiceAccount", name]
    assert account["metadata"]["annotations"] == {
        "eks.amazonaws.com/role-arn": ROLE_ARN.format("aws-load-balancer-controller")}
    for binding in (found["ClusterRoleBinding", f"{name}-rolebinding"],
                    found["RoleBinding", f"{name}-leader-election-rolebinding"]):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": name, "namespace": "kube-system"}]
    assert found["IngressClass", "alb"]["spec"] == {"controller": "ingress.k8s.aws/alb"}
    deployment = found["Deployment", name]
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == name
    assert pod["nodeSelector"] == {"role": "system"}
    assert pod["priorityClassName"] == "system-cluster-critical"
    assert pod["topologySpreadConstraints"] == LBC_VALUES["topologySpreadConstraints"]
    assert pod["affinity"] == {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
        "weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {
            "matchExpressions": [{"key": "app.kubernetes.io/name", "operator": "In", "values": [name]}]}}}]}}
    assert pod["volumes"] == [{"name": "cert", "secret": {"defaultMode": 420, "secretName": "aws-load-balancer-tls"}}]
    (container,) = pod["containers"]
    assert container["image"] == "public.ecr.aws/eks/aws-load-balancer-controller:v3.5.0"
    assert container["args"] == [f"--cluster-name={CLUSTER}", "--ingress-class=alb", "--aws-region=eu-west-1",
                                 "--aws-vpc-id=vpc-0123456789abcdef0"]
    assert container["resources"] == LBC_VALUES["resources"]
    assert_valid(objects, crd_schemas(LBC))


def test_aws_load_balancer_controller_other_settings(helm_env):
    values = {**LBC_VALUES, "affinity": {"podAntiAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": [
        {"topologyKey": "kubernetes.io/hostname", "labelSelector": {"matchLabels": {"a": "b"}}}]}},
        "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}], "enableShield": False,
        "enableWaf": False, "enableWafv2": False, "defaultTags": {"team": "platform", "env": "prod"},
        "podDisruptionBudget": {"maxUnavailable": 1}, "logLevel": "debug", "createIngressClassResource": False}
    found = by_kind(render(helm_env, LBC, values, "lbc"))
    assert ("IngressClass", "alb") not in found
    deployment = found["Deployment", "lbc-aws-load-balancer-controller"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["affinity"] == values["affinity"]  # replaces the default anti-affinity
    assert pod["tolerations"] == values["tolerations"]
    assert pod["containers"][0]["args"][4:] == ["--enable-shield=false", "--enable-waf=false", "--enable-wafv2=false",
                                                "--log-level=debug", "--default-tags=env=prod,team=platform"]
    assert found["PodDisruptionBudget", "lbc-aws-load-balancer-controller"]["spec"]["maxUnavailable"] == 1


@pytest.mark.parametrize(("chart", "values", "at", "key"), [
    (CA, {"extraArg": {"expander": "least-waste"}}, "", "extraArg"),
    (CA, {"autoDiscovery": {"clusterNam": CLUSTER}}, "/autoDiscovery", "clusterNam"),
    (CA, {"rbac": {"serviceAccount": {"anotations": {"a": "b"}}}}, "/rbac/serviceAccount", "anotations"),
    (LBC, {"serviceAccount": {"anotations": {"a": "b"}}}, "/serviceAccount", "anotations"),
    (LBC, {"clustername": CLUSTER}, "", "clustername"),
])
def test_a_misspelt_key_fails_with_helms_schema_error(helm_env, chart, values, at, key):
    base = CA_VALUES if chart == CA else LBC_VALUES
    for command in (["template", chart, str(CHARTS / chart)],
                    ["install", "--dry-run=client", chart, str(CHARTS / chart)]):
        result = helm(helm_env, *command, values={**base, **values})
        assert result.returncode == 1
        assert "values don't meet the specifications of the schema(s) in the following chart(s)" in result.stderr
        assert f"- at '{at}': additional properties '{key}' not allowed" in result.stderr


def test_free_form_maps_take_any_key(helm_env):
    render(helm_env, CA, {**CA_VALUES, "extraArgs": {"any-flag": 1}, "podAnnotations": {"x/y": "z"},
                          "extraEnv": {"HTTP_PROXY": "http://proxy:3128"}, "additionalLabels": {"a": "b"},
                          "serviceMonitor": {"selector": {"release": "kps"}, "relabelings": {}}})
    render(helm_env, LBC, {**LBC_VALUES, "securityContext": {"runAsUser": 1000}, "podLabels": {"a": "b"},
                           "controllerConfig": {"featureGates": {"ALBSingleSubnet": True}},
                           "livenessProbe": {"periodSeconds": 5}, "env": {"A": "b"}, "vpcTags": {"k": "v"}})


# -- the chart repository --------------------------------------------------------


def fetch(url: str) -> tuple[int, bytes]:
    try:
        with urllib.request.urlopen(url, timeout=10) as response:  # noqa: S310 - the local emulator
            return response.status, response.read()
    except urllib.error.HTTPError as exc:
        return exc.code, exc.read()


@pytest.fixture(scope="module")
def charts_url(emulator_server) -> str:
    return f"{emulator_server.url}/_emulator/charts"


def test_index_lists_both_charts_with_digests_of_the_archives(charts_url):
    status, body = fetch(f"{charts_url}/index.yaml")
    assert status == 200
    index = yaml.safe_load(body)
    assert index["apiVersion"] == "v1" and index["generated"]
    assert sorted(index["entries"]) == [LBC, CA]
    for name, version, app_version in ((CA, "9.59.0", "1.35.0"), (LBC, "3.5.0", "v3.5.0")):
        (entry,) = index["entries"][name]
        assert (entry["name"], entry["version"], entry["appVersion"], entry["apiVersion"]) == \
            (name, version, app_version, "v2")
        assert entry["description"].startswith("Stand-in for the")
        assert entry["urls"] == [f"{charts_url}/{name}-{version}.tgz"]
        status, archive = fetch(entry["urls"][0])
        assert status == 200
        assert entry["digest"] == hashlib.sha256(archive).hexdigest()
    assert fetch(f"{charts_url}/")[1] == body


def test_archives_are_laid_out_like_helm_package_and_reproducible(helm_env, tmp_path):
    for chart in (CA, LBC):
        first, second = repo.package(CHARTS / chart), repo.package(CHARTS / chart)
        assert first.archive == second.archive
        with tarfile.open(fileobj=io.BytesIO(first.archive)) as tar:
            members = tar.getmembers()
        names = [m.name for m in members]
        assert names[0] == f"{chart}/Chart.yaml"
        assert {(m.mtime, m.uid, m.gid, m.mode) for m in members} == {(0, 0, 0, 0o644)}
        assert gzip.decompress(first.archive)  # a plain gzip stream
        packaged = helm(helm_env, "package", str(CHARTS / chart), "--destination", str(tmp_path))
        assert packaged.returncode == 0, packaged.stderr
        with tarfile.open(tmp_path / first.filename) as tar:
            assert sorted(tar.getnames()) == sorted(names)


def test_unknown_archive_and_methods_are_refused(charts_url):
    assert fetch(f"{charts_url}/cluster-autoscaler-0.0.1.tgz")[0] == 404
    request = urllib.request.Request(f"{charts_url}/index.yaml", method="DELETE")
    with pytest.raises(urllib.error.HTTPError) as error:
        urllib.request.urlopen(request, timeout=10)  # noqa: S310
    assert error.value.code == 405


def test_helm_uses_it_as_a_chart_repository(helm_env, charts_url, tmp_path):
    def ok(*args: str, values: dict[str, Any] | None = None) -> str:
        result = helm(helm_env, *args, values=values)
        assert result.returncode == 0, f"helm {' '.join(args)}: {result.stderr}"
        return result.stdout

    ok("repo", "add", "llmhub-emulator", charts_url)
    search = ok("search", "repo", "llmhub-emulator", "--output", "yaml")
    assert sorted((e["name"], e["version"], e["app_version"]) for e in yaml.safe_load(search)) == [
        (f"llmhub-emulator/{LBC}", "3.5.0", "v3.5.0"), (f"llmhub-emulator/{CA}", "9.59.0", "1.35.0")]
    ok("pull", f"llmhub-emulator/{CA}", "--version", "9.59.0", "--destination", str(tmp_path))
    assert (tmp_path / "cluster-autoscaler-9.59.0.tgz").read_bytes() == repo.package(CHARTS / CA).archive
    shown = ok("show", "values", f"llmhub-emulator/{LBC}", "--version", "3.5.0")
    assert shown.rstrip("\n") == (CHARTS / LBC / "values.yaml").read_text().rstrip("\n")  # helm adds a newline
    # what kubernetes.core.helm runs with chart_repo_url: show chart --repo, then install/upgrade --repo
    chart = yaml.safe_load(ok("show", "chart", CA, f"--repo={charts_url}", "--version=9.59.0"))
    assert (chart["name"], chart["version"]) == (CA, "9.59.0")
    installed = ok("install", "--dry-run=client", LBC, LBC, f"--repo={charts_url}", "--version=3.5.0",
                   "--namespace", "kube-system", values=LBC_VALUES)
    assert "STATUS: pending-install" in installed and "kind: Deployment" in installed
    rendered = ok("template", CA, CA, "--repo", charts_url, "--version", "9.59.0", "--namespace", "kube-system",
                  values=CA_VALUES)
    found = by_kind([doc for doc in yaml.safe_load_all(rendered) if doc])
    assert ("ServiceAccount", "cluster-autoscaler") in found
    failed = helm(helm_env, "install", "--dry-run=client", CA, CA, f"--repo={charts_url}", "--version=9.59.0",
                  values={**CA_VALUES, "extraArg": {}})
    assert failed.returncode == 1 and "additional properties 'extraArg' not allowed" in failed.stderr
