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
import re
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
LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml: the CRDs of external-secrets are 2 MB

CA, LBC = "cluster-autoscaler", "aws-load-balancer-controller"
ESO, TRIVY, FALCO = "external-secrets", "trivy-operator", "falco"
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
ESO_VALUES: dict[str, Any] = {
    "installCRDs": True,
    "serviceAccount": {"create": True, "name": "external-secrets",
                       "annotations": {"eks.amazonaws.com/role-arn": ROLE_ARN.format("external-secrets")}},
    "replicaCount": 2,
    "leaderElect": True,  # two replicas: one reconciles at a time
    "nodeSelector": {"role": "system"},
    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
    "priorityClassName": "system-cluster-critical",
    "resources": {"requests": {"cpu": "50m", "memory": "64Mi"}, "limits": {"memory": "128Mi"}},
    # nothing calls admission webhooks in the emulator: no webhook, so no certificate controller
    "webhook": {"create": False},
    "certController": {"create": False},
}
TRIVY_VALUES: dict[str, Any] = {
    "operator": {"replicas": 1},
    "nodeSelector": {"role": "system"},
    "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"}],
    "priorityClassName": "system-cluster-critical",
    "resources": {"requests": {"cpu": "100m", "memory": "128Mi"}, "limits": {"memory": "512Mi"}},
    "trivy": {"ignoreUnfixed": True},
}
FALCO_VALUES: dict[str, Any] = {
    "driver": {"kind": "modern_ebpf"},
    "tolerations": [{"operator": "Exists"}],  # every node, tainted ones included
    "resources": {"requests": {"cpu": "100m", "memory": "512Mi"}, "limits": {"cpu": "1", "memory": "1Gi"}},
}
VALUES = {CA: CA_VALUES, LBC: LBC_VALUES, ESO: ESO_VALUES, TRIVY: TRIVY_VALUES, FALCO: FALCO_VALUES}
# name, version, appVersion, upstream commit
CHARTS_META = [
    (CA, "9.59.0", "1.35.0", "55c37cd5eb550756c5ccc5a89e9068d77797e575"),
    (LBC, "3.5.0", "v3.5.0", "5239609242f3430be50fb0b714a24d3ef2b47983"),
    (ESO, "2.9.0", "v2.9.0", "cc5bfbc2234ace9cb0caff4ea89c435cf517b27b"),
    (TRIVY, "0.34.0", "0.32.0", "1006872c1463e81a40d48298145625aefef2a02f"),
    (FALCO, "9.1.0", "0.44.1", "53586de4fb9d8d02006131ade702b161cd7e06e3"),
]

# Files copied unchanged from upstream, with their git blob ids there (`git ls-tree -r <commit> <chart path>`
# in kubernetes/autoscaler 55c37cd5, aws/eks-charts 52396092, external-secrets/external-secrets cc5bfbc2,
# aquasecurity/trivy-operator 1006872c and falcosecurity/charts 53586de4; LICENSE and NOTICE of the last three
# are the repository's own, at its root).
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
    ESO: {
        ".helmignore": "8d99189ae34ed3d101289632485c7127a2f86ca1",
        "LICENSE": "7a4a3ea2424c09fbe48d455aed1eaa94d9124835",
        "values.yaml": "1d37c401dfee4e24851543fbb874ae3dbda7bc83",
        "templates/NOTES.txt": "7d0205a7d9c1f0da82a412810b56774d4a1d7319",
        "templates/_helpers.tpl": "e71b63378a4035be932b5c6c0cb51b45b1d17e3e",
        "templates/deployment.yaml": "3ce383d8f97fed5eb932b5dab283fc480607a24d",
        "templates/poddisruptionbudget.yaml": "ee62ac043ca40679d98378578f2ad859f78cfb9d",
        "templates/rbac.yaml": "ecfdc8ceef6e202695d6fe61fb9cd528c22877dd",
        "templates/serviceaccount.yaml": "4f3843ab37f83fd7394f4cf9aad41a2b8179a2bd",
    },
    TRIVY: {
        ".helmignore": "0e8a0eb36f4ca2c939201c0d54b5d82a1ea34778",
        "LICENSE": "d645695673349e3947e8e5ae42332d0ac3164cd7",
        "NOTICE": "4741aae6b4a36a9bb1749d8b8b411e3a85caf265",
        "values.yaml": "aa660dea2715423ed244bb85c5c324dd64bee475",
        "crds/aquasecurity.github.io_clustercompliancereports.yaml": "b1cc87674a37e02a6c37d72f379047426e0c0254",
        "crds/aquasecurity.github.io_clusterconfigauditreports.yaml": "cf18adedbc11e603d05a2237844eff9eea9cec09",
        "crds/aquasecurity.github.io_clusterinfraassessmentreports.yaml": "68ae9c6be42afda195293ca30a50bc76c83b61c2",
        "crds/aquasecurity.github.io_clusterrbacassessmentreports.yaml": "f20a675ab0b4044d30d1e0930c499d320d15e06a",
        "crds/aquasecurity.github.io_clustersbomreports.yaml": "ada23e0f9d9d04c47372155f1e54be6650281d65",
        "crds/aquasecurity.github.io_clustervulnerabilityreports.yaml": "1451620d69cffefcaa5c88f156acc5addf58ee08",
        "crds/aquasecurity.github.io_configauditreports.yaml": "a7e6d4d8af5ecf80d7b7c26144178645ad2e601d",
        "crds/aquasecurity.github.io_exposedsecretreports.yaml": "be5c9bcf9929cf35bab4b20a6b38ef0d9f74544c",
        "crds/aquasecurity.github.io_infraassessmentreports.yaml": "501ea2b12c61c4915b32237ed5923433ff1e2eba",
        "crds/aquasecurity.github.io_rbacassessmentreports.yaml": "a01cc45f2ddda073a170563ea8c66d7ab43b7f29",
        "crds/aquasecurity.github.io_sbomreports.yaml": "34cbb3539174a6e08e1d6dabd6956cd8548b7e4c",
        "crds/aquasecurity.github.io_vulnerabilityreports.yaml": "6764ca437a3f720e86be4e53c84234fc05484cbe",
        "generated/role.yaml": "a53c992dd937a10f868970cd360b5b2667ccd940",
        "templates/NOTES.txt": "be6c34608e157a6d9152be4f0a471699464f12e2",
        "templates/_helpers.tpl": "3752783b1d6db6125336120d08b8596a41a3ae92",
        "templates/configmaps/operator.yaml": "4eda2ef64dc3fa39ed637ed92a26fbc4953796ee",
        "templates/configmaps/trivy-operator-config.yaml": "468a3d0297dd4e3930bfc7f981de72e907a7f230",
        "templates/configmaps/trivy.yaml": "b20f4ed5ca63369ff8b4fe773f829e24d81d05ba",
        "templates/deployment.yaml": "bc197124fd1085fc449c2ac00942ebab4e5d2087",
        "templates/monitor/service.yaml": "4f80803cefaa66a3238274af2c2fa8230e174854",
        "templates/rbac/clusterrole.yaml": "c0775ee7a6735224ea315b97f2693882a1c13678",
        "templates/rbac/clusterrolebinding.yaml": "f7d66274335ca457b79484501897c1cad4a22e64",
        "templates/rbac/leader-election-role.yaml": "a5faced6b97778ac8b543c18015fbc63fce4efbe",
        "templates/rbac/leader-election-rolebinding.yaml": "d5f39ed717dd62b2276c870cce5337ea7325c725",
        "templates/rbac/role.yaml": "9b835f9dd48e456544c11580a480614aa165f7c8",
        "templates/rbac/rolebinding.yaml": "5792d3bf15b923b7182cb3d8f227db6ba02f9270",
        "templates/rbac/view-configauditreports-clusterrole.yaml": "6212360f7cb75199307d9237fe393692f5b99031",
        "templates/rbac/view-exposedsecretreports-clusterrole.yaml": "e713796fea28571c7eee0a9445e53c9b7217b5c6",
        "templates/rbac/view-vulnerabilityreports-clusterrole.yaml": "3731f2573f41c524c902ff4cf4c79168cfed6839",
        "templates/secrets/operator.yaml": "77733680e3fa392725fd906235d09b05641c20c7",
        "templates/secrets/trivy.yaml": "cd7e91509f584d362a02e4f268ba946ef675bb1c",
        "templates/serviceaccount.yaml": "5ffe3034147137aee237d802ef2c8d7b8541bb6d",
        "templates/specs/eks-cis-1.4.yaml": "8501ea8513308a23d69340760a461c75e0a5aa88",
        "templates/specs/k8s-cis-1.23.yaml": "e14e93fe2d2398a5836680d81ef0ecf719dfd512",
        "templates/specs/k8s-nsa-1.0.yaml": "fd2cc2a06c235795cbc453674465456cf32b85d9",
        "templates/specs/k8s-pss-baseline-0.1.yaml": "22cedac597c6c15a0e961e837d940f2598b8e286",
        "templates/specs/k8s-pss-restricted-0.1.yaml": "ab56e1dd9909ed8f51b204fff05466c62477161f",
        "templates/specs/rke2-cis-1.24.yaml": "3c615470184adc99525ae1e38326d6698f4a3118",
    },
    FALCO: {
        ".helmignore": "01f03816684e7d176be2aef292db74a288212c05",
        "LICENSE": "261eeb9e9f8b2b4b0d119366dda99c6fd7d35c64",
        "values.yaml": "3970183b0e2d5c97ba051873ce7c04b3930a34c9",
        "templates/NOTES.txt": "86ca4a656113b0439b9916438bf7557067fb7d81",
        "templates/_helpers.tpl": "eef045d410e880b3075d1269541904a62b7f8723",
        "templates/certs-secret.yaml": "176f15733d11b38d3fb777b08b6049f1784d0c4e",
        "templates/configmap.yaml": "6f7944c174872c8064c9319bdbd9edc3be378b94",
        "templates/daemonset.yaml": "ec45757486ab9206ec91094ababfac1670bd485c",
        "templates/falcoctl-configmap.yaml": "9798b0221f11f3304821c6749331a34f7572fdd1",
        "templates/pod-template.tpl": "d44700dd4bd952360cbdfdb5afbeb36203d0ef34",
        "templates/role.yaml": "a0759a2219b5b5070d80b5f00519c2812a1af073",
        "templates/roleBinding.yaml": "9938428ca4c0705f28b9f865d41614bf4a6b981d",
        "templates/rules-configmap.yaml": "4739bec11db969c52199e485e20564c381f22afd",
        "templates/serviceaccount.yaml": "dbe825b2cad809434fd55775aadf0ded17a81341",
    },
}
# external-secrets builds its CRD templates when it packages the chart (hack/helm.generate.sh): it splits
# deploy/crds/bundle.yaml into templates/crds/<singular>.yaml and wraps each (see eso_crd_source below).
ESO_CRD_BUNDLE = "1167ab01c9a02e89fc44675888ab2c18f40c28a1"  # deploy/crds/bundle.yaml at cc5bfbc2


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
    return [doc for doc in yaml.load_all(result.stdout, Loader=LOADER) if doc]


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


def crd_schemas(chart: str, objects: list[dict[str, Any]] = ()) -> dict[tuple[str, str], dict[str, Any]]:
    """(apiVersion, kind) -> openAPIV3Schema of the CRDs a chart ships in crds/ or renders among ``objects``."""
    crds = [obj for obj in objects if obj["kind"] == "CustomResourceDefinition"]
    for path in sorted((CHARTS / chart / "crds").glob("*.yaml")):
        crds.extend(crd for crd in yaml.safe_load_all(path.read_text()) if crd)
    schemas = {}
    for crd in crds:
        for version in crd["spec"]["versions"]:
            key = (f"{crd['spec']['group']}/{version['name']}", crd["spec"]["names"]["kind"])
            schemas[key] = version["schema"]["openAPIV3Schema"]
    return schemas


def served_versions(crd: dict[str, Any]) -> list[tuple[str, bool, bool]]:
    """(name, served, storage) of each version of a CustomResourceDefinition."""
    return [(version["name"], version["served"], version["storage"]) for version in crd["spec"]["versions"]]


# What hack/helm.generate.sh of external-secrets adds to each CRD of deploy/crds/bundle.yaml (its sed lines)
ESO_CRD_ANNOTATIONS = """\
    {{- with .Values.crds.annotations }}
    {{- toYaml . | nindent 4}}
    {{- end }}
    {{- if and .Values.crds.conversion.enabled .Values.webhook.certManager.enabled \
.Values.webhook.certManager.addInjectorAnnotations }}
    cert-manager.io/inject-ca-from: {{ .Release.Namespace }}/{{ include "external-secrets.fullname" . }}-webhook
    {{- end }}
""".replace("\\\n", "")
ESO_V1BETA1_SERVED = "      served: {{ .Values.crds.unsafeServeV1Beta1 }}\n"


def eso_crd_source(text: str) -> tuple[str, str]:
    """(file name in config/crds/bases, bundle.yaml document) of one external-secrets CRD template.

    Undoes what the upstream script does when it packages the chart, failing on anything else: the first
    line is ``{{- if .Values.installCRDs }}`` (``and (.Values.installCRDs) (.Values.crds.create<Kind>)``
    for the Cluster* and PushSecret kinds), the last ``{{- end }}``; the annotations of
    ``ESO_CRD_ANNOTATIONS`` follow the first ``annotations:`` line; ``served: false`` of the v1beta1
    version of ExternalSecret, ClusterExternalSecret, SecretStore and ClusterSecretStore becomes
    ``served: {{ .Values.crds.unsafeServeV1Beta1 }}``.
    """
    first, _, rest = text.partition("\n")
    body, end = rest[:-len("{{- end }}\n")], rest[-len("{{- end }}\n"):]
    assert end == "{{- end }}\n"
    names = {key: re.search(rf"^    {key}: (\S+)$", body, re.MULTILINE).group(1) for key in ("kind", "plural")}
    flag = f"create{names['kind']}"
    if "Cluster" in flag or "PushSecret" in flag:
        assert first == f"{{{{- if and (.Values.installCRDs) (.Values.crds.{flag}) }}}}"
    else:
        assert first == "{{- if .Values.installCRDs }}"
    head, annotations, tail = body.partition("  annotations:\n")
    assert annotations and tail.startswith(ESO_CRD_ANNOTATIONS)
    tail = tail[len(ESO_CRD_ANNOTATIONS):]
    if "ExternalSecret" in flag or "SecretStore" in flag:
        assert tail.count(ESO_V1BETA1_SERVED) == 1
        tail = tail.replace(ESO_V1BETA1_SERVED, "      served: false\n")
    else:
        assert "{{" not in tail
    document = head + annotations + tail
    group = re.search(r"^  group: (\S+)$", document, re.MULTILINE).group(1)
    return f"{group}_{names['plural']}.yaml", document


def assert_valid(objects: list[dict[str, Any]], crds: dict[tuple[str, str], dict[str, Any]]) -> None:
    """Every object valid for Kubernetes 1.35 (strict), custom resources for their CRD's schema."""
    for obj in flatten(objects):
        custom = crds.get((obj["apiVersion"], obj["kind"]))
        if custom is not None:
            jsonschema.Draft7Validator(custom).validate(obj)
        else:
            kubernetes_validate.validate(obj, KUBERNETES_VERSION, strict=True)


# -- the charts' files -----------------------------------------------------------


@pytest.mark.parametrize(("chart", "version", "app_version", "commit"), CHARTS_META)
def test_chart_yaml_names_the_real_chart_and_says_it_is_a_stand_in(chart, version, app_version, commit):
    metadata = yaml.safe_load((CHARTS / chart / "Chart.yaml").read_text())
    assert (metadata["name"], str(metadata["version"]), str(metadata["appVersion"])) == (chart, version, app_version)
    assert metadata["description"].startswith(f"Stand-in for the {chart} chart, served by the llmhub.eks emulator")
    assert metadata["annotations"] == {"llmhub.eks/stand-in": "true", "llmhub.eks/upstream-commit": commit}
    assert "dependencies" not in metadata  # helm would want them in charts/: none is downloaded here
    assert commit in (CHARTS / chart / "README.md").read_text()


def test_every_chart_is_listed_here_and_in_the_readme():
    assert sorted(path.name for path in make_schema.chart_dirs()) == sorted(name for name, *_ in CHARTS_META)
    table = (CHARTS / "README.md").read_text()
    for name, version, app_version, commit in CHARTS_META:
        assert f"| [`{name}`]({name}/README.md) | {version} | {app_version} |" in table
        assert commit in table


@pytest.mark.parametrize("chart", list(VERBATIM))
def test_copied_files_are_the_upstream_ones(chart):
    assert {name: git_blob_id(CHARTS / chart / name) for name in VERBATIM[chart]} == VERBATIM[chart]


@pytest.mark.parametrize("chart", list(VERBATIM))
def test_a_chart_holds_copied_files_and_its_own_only(chart):
    own = {"Chart.yaml", "README.md", make_schema.SCHEMA_FILE}
    own |= {LBC: {"templates/webhook-secret.yaml"},  # the Secret of the real webhook.yaml, its README says
            ESO: {f"templates/crds/{path.name}" for path in (CHARTS / ESO / "templates" / "crds").glob("*.yaml")},
            }.get(chart, set())
    files = {path.relative_to(CHARTS / chart).as_posix() for path in (CHARTS / chart).rglob("*")
             if path.is_file() and "__pycache__" not in path.parts}
    # (the LICENSE and NOTICE of the first two are copied too, but not checked here)
    assert files - {"LICENSE", "NOTICE"} == (set(VERBATIM[chart]) | own) - {"LICENSE", "NOTICE"}


def test_external_secrets_crd_templates_are_upstreams_bundle_wrapped_as_its_packaging_does():
    templates = sorted((CHARTS / ESO / "templates" / "crds").glob("*.yaml"))
    assert len(templates) == 25
    documents = dict(eso_crd_source(path.read_text()) for path in templates)
    assert len(documents) == 25
    # bundle.yaml is the CRDs of config/crds/bases, in the order of their file names
    bundle = "---\n".join(documents[name] for name in sorted(documents)).encode()
    assert hashlib.sha1(b"blob %d\0" % len(bundle) + bundle).hexdigest() == ESO_CRD_BUNDLE  # noqa: S324
    assert {path.stem for path in templates} == {
        re.search(r"^    singular: (\S+)$", document, re.MULTILINE).group(1) for document in documents.values()}


def test_committed_schemas_are_the_generated_ones(capsys):
    for chart in VERBATIM:
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
    for chart, values in VALUES.items():
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


def test_external_secrets_renders_our_values(helm_env):
    objects = render(helm_env, ESO, ESO_VALUES)
    found = by_kind(objects)
    name = "external-secrets"  # the release name holds the chart name: the real fullname is the release
    crds = {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == "CustomResourceDefinition"}
    assert sorted(key for key in found if key[0] != "CustomResourceDefinition") == [
        ("ClusterRole", f"{name}-controller"), ("ClusterRole", f"{name}-edit"),
        ("ClusterRole", f"{name}-servicebindings"), ("ClusterRole", f"{name}-view"),
        ("ClusterRoleBinding", f"{name}-controller"), ("Deployment", name), ("Role", f"{name}-leaderelection"),
        ("RoleBinding", f"{name}-leaderelection"), ("ServiceAccount", name),
    ]
    assert not [obj for obj in objects if "Webhook" in obj["kind"] or "cert-controller" in obj["metadata"]["name"]]
    account = found["ServiceAccount", name]
    assert account["metadata"]["namespace"] == "kube-system"
    assert account["metadata"]["annotations"] == {"eks.amazonaws.com/role-arn": ROLE_ARN.format("external-secrets")}
    for binding in (found["ClusterRoleBinding", f"{name}-controller"], found["RoleBinding", f"{name}-leaderelection"]):
        assert binding["subjects"] == [{"kind": "ServiceAccount", "name": name, "namespace": "kube-system"}]
    deployment = found["Deployment", name]
    assert deployment["spec"]["replicas"] == 2
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == name
    assert pod["nodeSelector"] == {"role": "system"}
    assert pod["tolerations"] == ESO_VALUES["tolerations"]
    assert pod["priorityClassName"] == "system-cluster-critical"
    (container,) = pod["containers"]
    assert container["image"] == "ghcr.io/external-secrets/external-secrets:v2.9.0"
    assert container["args"] == ["--enable-leader-election=true", "--concurrent=1", "--metrics-addr=:8080",
                                 "--loglevel=info", "--zap-time-encoding=epoch"]
    assert container["resources"] == ESO_VALUES["resources"]
    # installCRDs: every CRD of the release, v1 served and stored, v1beta1 there but not served
    assert len(crds) == 25
    for kind in ("ExternalSecret", "SecretStore", "ClusterSecretStore", "ClusterExternalSecret"):
        crd = crds[f"{kind.lower()}s.external-secrets.io"]
        assert (crd["spec"]["group"], crd["spec"]["names"]["kind"]) == ("external-secrets.io", kind)
        assert served_versions(crd) == [("v1", True, True), ("v1beta1", False, False)]
    assert crds["secretstores.external-secrets.io"]["spec"]["scope"] == "Namespaced"
    assert crds["clustersecretstores.external-secrets.io"]["spec"]["scope"] == "Cluster"
    assert served_versions(crds["pushsecrets.external-secrets.io"]) == [("v1alpha1", True, True)]
    assert_valid(objects, crd_schemas(ESO, objects))


def test_external_secrets_other_settings(helm_env):
    values = {**ESO_VALUES, "replicaCount": 1, "leaderElect": False, "installCRDs": True,
              "crds": {"createClusterSecretStore": False, "createClusterGenerator": False,
                       "unsafeServeV1Beta1": True, "annotations": {"team": "platform"}},
              "processClusterStore": False, "processClusterGenerator": False,
              "podDisruptionBudget": {"enabled": True, "minAvailable": 1},
              "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                  {"matchExpressions": [{"key": "role", "operator": "In", "values": ["system"]}]}]}}},
              "extraArgs": {"enable-flood-gate": True}, "podLabels": {"team": "platform"}}
    objects = render(helm_env, ESO, values, "eso")
    found = by_kind(objects)
    crds = {obj["metadata"]["name"]: obj for obj in objects if obj["kind"] == "CustomResourceDefinition"}
    assert "clustersecretstores.external-secrets.io" not in crds and "secretstores.external-secrets.io" in crds
    assert "clustergenerators.generators.external-secrets.io" not in crds
    assert served_versions(crds["externalsecrets.external-secrets.io"]) == [("v1", True, True),
                                                                             ("v1beta1", True, False)]
    assert crds["externalsecrets.external-secrets.io"]["metadata"]["annotations"] == {
        "team": "platform", "controller-gen.kubebuilder.io/version": "v0.19.0"}
    deployment = found["Deployment", "eso-external-secrets"]
    pod = deployment["spec"]["template"]["spec"]
    assert pod["affinity"] == values["affinity"]
    assert deployment["spec"]["template"]["metadata"]["labels"]["team"] == "platform"
    assert pod["containers"][0]["args"][:3] == ["--enable-cluster-store-reconciler=false", "--concurrent=1",
                                                "--enable-flood-gate=true"]
    assert found["PodDisruptionBudget", "eso-external-secrets-pdb"]["spec"]["minAvailable"] == 1
    without = by_kind(render(helm_env, ESO, {**ESO_VALUES, "installCRDs": False}))
    assert not [key for key in without if key[0] == "CustomResourceDefinition"]


def test_trivy_operator_renders_our_values(helm_env):
    objects = render(helm_env, TRIVY, TRIVY_VALUES, None, "--namespace", "trivy-system")
    found = by_kind(objects)
    name = "trivy-operator"
    assert sorted(found) == [
        ("ClusterComplianceReport", "k8s-cis-1.23"), ("ClusterComplianceReport", "k8s-nsa-1.0"),
        ("ClusterComplianceReport", "k8s-pss-baseline-0.1"), ("ClusterComplianceReport", "k8s-pss-restricted-0.1"),
        ("ClusterRole", "aggregate-config-audit-reports-view"), ("ClusterRole", "aggregate-exposed-secret-reports-view"),
        ("ClusterRole", "aggregate-vulnerability-reports-view"), ("ClusterRole", name),
        ("ClusterRoleBinding", name), ("ConfigMap", name), ("ConfigMap", f"{name}-config"),
        ("ConfigMap", f"{name}-trivy-config"), ("Deployment", name), ("Role", name),
        ("Role", f"{name}-leader-election"), ("RoleBinding", name), ("RoleBinding", f"{name}-leader-election"),
        ("Secret", name), ("Secret", f"{name}-trivy-config"), ("Service", name), ("ServiceAccount", name),
    ]
    assert found["ServiceAccount", name]["metadata"]["namespace"] == "trivy-system"
    assert found["ClusterRoleBinding", name]["subjects"] == [
        {"kind": "ServiceAccount", "name": name, "namespace": "trivy-system"}]
    deployment = found["Deployment", name]
    assert deployment["spec"]["replicas"] == 1  # operator.replicas
    pod = deployment["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == name
    assert pod["nodeSelector"] == {"role": "system"}
    assert pod["tolerations"] == TRIVY_VALUES["tolerations"]
    assert pod["priorityClassName"] == "system-cluster-critical"
    (container,) = pod["containers"]
    assert container["image"] == "mirror.gcr.io/aquasec/trivy-operator:0.32.0"
    assert container["resources"] == TRIVY_VALUES["resources"]
    assert container["envFrom"] == [{"configMapRef": {"name": "trivy-operator-config"}}]
    trivy = found["ConfigMap", f"{name}-trivy-config"]["data"]
    assert trivy["trivy.ignoreUnfixed"] == "true"
    assert (trivy["trivy.repository"], trivy["trivy.tag"], trivy["trivy.mode"]) == (
        "mirror.gcr.io/aquasec/trivy", "0.72.0", "Standalone")
    # the scan jobs' resources are trivy.resources, not the operator's
    assert (trivy["trivy.resources.requests.cpu"], trivy["trivy.resources.limits.memory"]) == ("100m", "500M")
    assert "OPERATOR_LEADER_ELECTION_ENABLED" not in found["ConfigMap", f"{name}-config"]["data"]
    assert_valid(objects, crd_schemas(TRIVY))


def test_trivy_operator_other_settings(helm_env):
    values = {**TRIVY_VALUES, "operator": {"replicas": 2}, "trivy": {"ignoreUnfixed": False, "severity": "HIGH,CRITICAL"},
              "compliance": {"specs": ["eks-cis-1.4"]}, "serviceAccount": {"annotations": {"a": "b"}},
              "affinity": {"podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                  "weight": 100, "podAffinityTerm": {"topologyKey": "kubernetes.io/hostname", "labelSelector": {
                      "matchLabels": {"app.kubernetes.io/name": "trivy-operator"}}}}]}}}
    found = by_kind(render(helm_env, TRIVY, values, None, "--namespace", "trivy-system"))
    assert found["Deployment", "trivy-operator"]["spec"]["replicas"] == 2
    assert found["Deployment", "trivy-operator"]["spec"]["template"]["spec"]["affinity"] == values["affinity"]
    config = found["ConfigMap", "trivy-operator-config"]["data"]
    assert (config["OPERATOR_LEADER_ELECTION_ENABLED"], config["OPERATOR_LEADER_ELECTION_ID"]) == (
        "true", "trivyoperator-lock")
    trivy = found["ConfigMap", "trivy-operator-trivy-config"]["data"]
    assert "trivy.ignoreUnfixed" not in trivy and trivy["trivy.severity"] == "HIGH,CRITICAL"
    assert [key for key in found if key[0] == "ClusterComplianceReport"] == [("ClusterComplianceReport", "eks-cis-1.4")]
    assert found["ServiceAccount", "trivy-operator"]["metadata"]["annotations"] == {"a": "b"}


def test_falco_renders_our_values(helm_env):
    objects = render(helm_env, FALCO, FALCO_VALUES, None, "--namespace", "falco")
    found = by_kind(objects)
    assert sorted(found) == [("ConfigMap", "falco"), ("ConfigMap", "falco-falcoctl"), ("DaemonSet", "falco"),
                             ("ServiceAccount", "falco")]  # no Role: only driver.kind auto needs one
    daemonset = found["DaemonSet", "falco"]
    assert daemonset["spec"]["updateStrategy"] == {"type": "RollingUpdate"}
    pod = daemonset["spec"]["template"]["spec"]
    assert pod["serviceAccountName"] == "falco"
    assert pod["tolerations"] == [{"operator": "Exists"}]  # replaces the chart's control-plane tolerations
    falco, follow = pod["containers"]
    assert (falco["name"], falco["image"]) == ("falco", "docker.io/falcosecurity/falco:0.44.1")
    assert falco["resources"] == FALCO_VALUES["resources"]
    assert falco["securityContext"] == {"privileged": True}  # modern_ebpf, not leastPrivileged
    assert follow["name"] == "falcoctl-artifact-follow"
    # modern_ebpf needs no driver loader: only falcoctl's init container
    assert [c["name"] for c in pod["initContainers"]] == ["falcoctl-artifact-install"]
    assert {"name": "sys-fs", "hostPath": {"path": "/sys/kernel"}} in pod["volumes"]
    config = yaml.safe_load(found["ConfigMap", "falco"]["data"]["falco.yaml"])
    assert config["engine"] == {"kind": "modern_ebpf", "modern_ebpf": {
        "buf_size_preset": 4, "cpus_for_each_buffer": 2, "disable_iterators": False, "drop_failed_exit": False}}
    assert config["load_plugins"] == ["container"]
    assert_valid(objects, {})


def test_falco_other_settings(helm_env):
    values = {**FALCO_VALUES, "driver": {"kind": "auto"}, "nodeSelector": {"kubernetes.io/os": "linux"},
              "podPriorityClassName": "system-node-critical", "falco": {"json_output": True}}
    found = by_kind(render(helm_env, FALCO, values, None, "--namespace", "falco"))
    assert ("Role", "falco") in found and ("RoleBinding", "falco") in found
    pod = found["DaemonSet", "falco"]["spec"]["template"]["spec"]
    assert pod["nodeSelector"] == {"kubernetes.io/os": "linux"}
    assert pod["priorityClassName"] == "system-node-critical"
    assert [c["name"] for c in pod["initContainers"]] == ["falco-driver-loader", "falcoctl-artifact-install"]
    assert yaml.safe_load(found["ConfigMap", "falco"]["data"]["falco.yaml"])["json_output"] is True
    defaults = by_kind(render(helm_env, FALCO, {}, None, "--namespace", "falco"))
    assert defaults["DaemonSet", "falco"]["spec"]["template"]["spec"]["tolerations"] == [
        {"effect": "NoSchedule", "key": "node-role.kubernetes.io/master"},
        {"effect": "NoSchedule", "key": "node-role.kubernetes.io/control-plane"}]


@pytest.mark.parametrize(("chart", "values", "at", "key"), [
    (CA, {"extraArg": {"expander": "least-waste"}}, "", "extraArg"),
    (CA, {"autoDiscovery": {"clusterNam": CLUSTER}}, "/autoDiscovery", "clusterNam"),
    (CA, {"rbac": {"serviceAccount": {"anotations": {"a": "b"}}}}, "/rbac/serviceAccount", "anotations"),
    (LBC, {"serviceAccount": {"anotations": {"a": "b"}}}, "/serviceAccount", "anotations"),
    (LBC, {"clustername": CLUSTER}, "", "clustername"),
    (ESO, {"serviceAccount": {"anotations": {"a": "b"}}}, "/serviceAccount", "anotations"),
    (ESO, {"installCrds": True}, "", "installCrds"),
    (ESO, {"crds": {"createClusterSecretStores": False}}, "/crds", "createClusterSecretStores"),
    (TRIVY, {"operator": {"replica": 2}}, "/operator", "replica"),
    (TRIVY, {"trivy": {"ignoreUnfixd": True}}, "/trivy", "ignoreUnfixd"),
    (TRIVY, {"priorityClass": "x"}, "", "priorityClass"),
    (FALCO, {"driver": {"knd": "modern_ebpf"}}, "/driver", "knd"),
    (FALCO, {"priorityClassName": "system-node-critical"}, "", "priorityClassName"),  # podPriorityClassName
    (FALCO, {"driver": {"modernEbpf": {"leastPrivilege": True}}}, "/driver/modernEbpf", "leastPrivilege"),
])
def test_a_misspelt_key_fails_with_helms_schema_error(helm_env, chart, values, at, key):
    base = VALUES[chart]
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
    render(helm_env, ESO, {**ESO_VALUES, "securityContext": {"enabled": True, "runAsGroup": 1000},
                           "podSecurityContext": {"enabled": True, "fsGroup": 1000}, "extraArgs": {"any-flag": 1},
                           "readinessProbe": {"enabled": True, "spec": {"terminationGracePeriodSeconds": 5}},
                           "serviceAccount": {"extraLabels": {"a": "b"}}, "crds": {"annotations": {"a": "b"}}})
    render(helm_env, TRIVY, {**TRIVY_VALUES, "securityContext": {"runAsUser": 10000}, "podAnnotations": {"a": "b"},
                             "trivyOperator": {"scanJobPodTemplateContainerSecurityContext": {"runAsUser": 0}},
                             "trivy": {"registry": {"mirror": {"index.docker.io": "mirror.example.com"}}}})
    render(helm_env, FALCO, {**FALCO_VALUES, "falco": {"static_fields": {"cluster": CLUSTER}},
                             "resources": {"requests": {"ephemeral-storage": "1Gi"}},
                             "controller": {"daemonset": {"updateStrategy": {"rollingUpdate": {"maxUnavailable": 2}}}},
                             "falcoctl": {"config": {"indexes": [], "any": {"key": 1}}}})
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


def test_index_lists_every_chart_with_digests_of_the_archives(charts_url):
    status, body = fetch(f"{charts_url}/index.yaml")
    assert status == 200
    index = yaml.safe_load(body)
    assert index["apiVersion"] == "v1" and index["generated"]
    assert sorted(index["entries"]) == [LBC, CA, ESO, FALCO, TRIVY]
    for name, version, app_version, _ in CHARTS_META:
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
    for chart in VALUES:
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
    assert sorted((e["name"], e["version"], e["app_version"]) for e in yaml.safe_load(search)) == sorted(
        (f"llmhub-emulator/{name}", version, app_version) for name, version, app_version, _ in CHARTS_META)
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
