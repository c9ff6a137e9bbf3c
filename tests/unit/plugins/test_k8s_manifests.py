"""Every Kubernetes object the storage and apps roles can render is valid for the cluster's version.

The objects come from the roles' defaults (templated as Ansible would, with
the facts the roles read) through the filters of plugins/filter/k8s.py, with
every optional part switched on (HTTPS listener, WAF, cache, declared
policies). Each is validated by kubernetes-validate against the OpenAPI
schemas of Kubernetes 1.32 to 1.35 (strict: an unknown field fails), so a
manifest that a real API server would reject cannot pass here. The helm
stand-in charts' output is validated in tests/unit/emulator/.
"""

from __future__ import annotations

import copy
from pathlib import Path

import kubernetes_validate
import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible.parsing.dataloader import DataLoader
from ansible.template import Templar, trust_as_template

from ansible_collections.llmhub.eks.plugins.filter import k8s

ROOT = Path(__file__).resolve().parents[3]
VERSIONS = ("1.32", "1.33", "1.34", "1.35")
FACTS = {
    "inventory_hostname": "llm-analytics-hub-prod-eks",
    "vpc_outputs": {"vpc_cidr": "10.0.0.0/16"},
}
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/0b5c1a8e-8c51-4a5e-9d3b-2c0f3d0c6a11"


def _trusted(value):
    if isinstance(value, str):
        return trust_as_template(value)
    if isinstance(value, dict):
        return {k: _trusted(v) for k, v in value.items()}
    if isinstance(value, list):
        return [_trusted(v) for v in value]
    return value


def role_defaults(role: str) -> dict:
    raw = yaml.safe_load((ROOT / "roles" / role / "defaults" / "main.yml").read_text(encoding="utf-8"))
    variables = {**FACTS, **raw}
    templar = Templar(loader=DataLoader(), variables=_trusted(variables))
    return {key: templar.template(_trusted(value)) for key, value in raw.items()}


def all_manifests() -> list[dict]:
    storage = role_defaults("storage")
    apps = role_defaults("apps")
    k8s.storage_validate_settings(storage)
    k8s.apps_validate_settings(apps)
    manifests = k8s.storage_class_manifests(storage["storage_classes"], storage["storage_default_class"], KEY_ARN)
    manifests += k8s.apps_namespace_manifests(apps["apps_namespaces"], apps["apps_pod_security"])
    manifests += k8s.apps_priority_class_manifests(apps["apps_priority_classes"])
    manifests += k8s.apps_example_manifests(apps["apps_example_app"], ["sg-0123456789abcdef0"])
    # every optional part on: HTTPS with a certificate, WAF, a host, an ingress group, a declared policy
    app = copy.deepcopy(apps["apps_example_app"])
    app["ingress"].update(certificate_arn="arn:aws:acm:us-east-1:123456789012:certificate/abc",
                          waf_acl_arn="arn:aws:wafv2:us-east-1:123456789012:regional/webacl/llm/abc",
                          host="api.example.com", group_name="llm")
    manifests += k8s.apps_example_manifests(app)
    namespaces = copy.deepcopy(apps["apps_namespaces"])
    namespaces[0]["network_policies"] = [{"name": "allow-https-egress", "spec": {
        "podSelector": {}, "policyTypes": ["Egress"],
        "egress": [{"to": [{"ipBlock": {"cidr": "0.0.0.0/0"}}], "ports": [{"protocol": "TCP", "port": 443}]}]}}]
    namespaces[0]["pod_security"] = {"enforce": "baseline", "warn": "restricted", "version": "v1.35"}
    manifests += k8s.apps_namespace_manifests(namespaces)
    return manifests


MANIFESTS = all_manifests()


@pytest.mark.parametrize("version", VERSIONS)
@pytest.mark.parametrize("manifest", MANIFESTS, ids=lambda m: f"{m['kind']}/{m['metadata']['name']}")
def test_every_rendered_object_is_valid_for_the_kubernetes_version(manifest, version):
    kubernetes_validate.validate(manifest, version, strict=True)


def test_the_walk_covers_every_kind_the_roles_apply():
    kinds = {m["kind"] for m in MANIFESTS}
    assert kinds >= {"StorageClass", "Namespace", "NetworkPolicy", "ResourceQuota", "LimitRange", "PriorityClass",
                     "Deployment", "Service", "PodDisruptionBudget", "HorizontalPodAutoscaler", "Ingress",
                     "StatefulSet"}


def test_storage_classes_are_the_overviews_with_exactly_one_default():
    classes = {m["metadata"]["name"]: m for m in MANIFESTS if m["kind"] == "StorageClass"}
    assert set(classes) == {"gp3", "io2", "gp3-retain"}
    defaults = [n for n, m in classes.items()
                if m["metadata"]["annotations"]["storageclass.kubernetes.io/is-default-class"] == "true"]
    assert defaults == ["gp3"]
    assert classes["gp3"]["parameters"] == {"type": "gp3", "iops": "3000", "throughput": "125", "encrypted": "true",
                                            "kmsKeyId": KEY_ARN}
    assert classes["gp3"]["volumeBindingMode"] == "WaitForFirstConsumer" and classes["gp3"]["allowVolumeExpansion"]
    assert classes["io2"]["parameters"]["iops"] == "10000"
    assert classes["gp3-retain"]["reclaimPolicy"] == "Retain" and classes["gp3"]["reclaimPolicy"] == "Delete"


def test_namespaces_are_restricted_by_default_and_deny_all_but_dns():
    namespace = next(m for m in MANIFESTS if m["kind"] == "Namespace" and m["metadata"]["name"] == "llm-analytics")
    labels = namespace["metadata"]["labels"]
    assert {labels[f"pod-security.kubernetes.io/{mode}"] for mode in ("enforce", "audit", "warn")} == {"restricted"}
    policies = {m["metadata"]["name"]: m["spec"] for m in MANIFESTS
                if m["kind"] == "NetworkPolicy" and m["metadata"]["namespace"] == "llm-analytics"}
    assert policies["default-deny"] == {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}
    assert {p["port"] for p in policies["allow-dns"]["egress"][0]["ports"]} == {53}


def test_storage_classes_to_replace_and_undefault():
    desired = k8s.storage_class_manifests([{"name": "gp3", "type": "gp3", "iops": 3000}], "gp3", KEY_ARN)
    existing = copy.deepcopy(desired)
    assert not k8s.storage_classes_to_replace(existing, desired)
    existing[0]["parameters"]["iops"] = "4000"
    assert k8s.storage_classes_to_replace(existing, desired) == ["gp3"]
    gp2 = {"metadata": {"name": "gp2", "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}}}
    assert k8s.storage_classes_to_undefault([gp2, *desired], "gp3") == ["gp2"]


@pytest.mark.parametrize("settings, variable", [
    ({"storage_classes": [{"name": "gp3", "type": "gp4"}]}, "storage_classes[0].type"),
    ({"storage_classes": [{"name": "gp3", "type": "gp3", "iops": 20000}]}, "storage_classes[0].iops"),
    ({"storage_classes": [{"name": "io2", "type": "io2", "throughput": 125}]}, "storage_classes[0].throughput"),
    ({"storage_classes": [{"name": "Fast", "type": "gp3"}]}, "storage_classes[0].name"),
    ({"storage_classes": [{"name": "gp3"}], "storage_default_class": "gp2"}, "storage_default_class"),
    ({"storage_classes": [{"name": "gp3", "reclaim": "Retain"}]}, "storage_classes[0].reclaim"),
])
def test_bad_storage_settings_name_the_variable(settings, variable):
    with pytest.raises(AnsibleFilterError, match=rf"^{variable.replace('[', '\\[').replace(']', '\\]')}"):
        k8s.storage_validate_settings(settings)


def _apps(**changes):
    apps = role_defaults("apps")
    settings = {key: apps[key] for key in ("apps_pod_security", "apps_namespaces", "apps_priority_classes",
                                           "apps_example_app", "apps_wait_timeout", "apps_wait_sleep")}
    for path, value in changes.items():
        target = settings
        *parents, leaf = path.split("__")
        for part in parents:
            target = target[int(part)] if part.isdigit() else target[part]
        target[leaf] = value
    return settings


@pytest.mark.parametrize("changes, variable", [
    ({"apps_namespaces__0__pod_security": "strict"}, "apps_namespaces[0].pod_security.enforce"),
    ({"apps_namespaces__0__quota": {"pods": "many"}}, "apps_namespaces[0].quota.pods"),
    ({"apps_namespaces__0__name": "LLM"}, "apps_namespaces[0].name"),
    ({"apps_priority_classes__0__name": "system-mine"}, "apps_priority_classes[0].name"),
    ({"apps_example_app__namespace": "elsewhere"}, "apps_example_app.namespace"),
    ({"apps_example_app__autoscaling": {"min_replicas": 5, "max_replicas": 2}}, "apps_example_app.autoscaling.max_replicas"),
    ({"apps_example_app__ingress": {"scheme": "public"}}, "apps_example_app.ingress.scheme"),
    ({"apps_example_app__ingress": {"certificate_arn": "arn:aws:iam::1:cert"}}, "apps_example_app.ingress.certificate_arn"),
    ({"apps_example_app__replica": 3}, "apps_example_app.replica"),
    ({"apps_wait_sleep": 0}, "apps_wait_sleep"),
    ({"apps_wait_timeout": -1}, "apps_wait_timeout"),
])
def test_bad_apps_settings_name_the_variable(changes, variable):
    with pytest.raises(AnsibleFilterError) as error:
        k8s.apps_validate_settings(_apps(**changes))
    assert str(error.value).startswith(variable), str(error.value)


@pytest.mark.parametrize("flags, message", [
    ({"scale-down-delay-after-ad": "10m"}, "did you mean 'scale-down-delay-after-add'"),
    ({"new-pod-scale-up-delay": "ten seconds"}, "not a Go duration"),
    ({"scale-down-utilization-threshold": 50}, "at most 1"),
    ({"expander": "cheapest"}, "not an expander"),
])
def test_bad_autoscaler_flags_are_named(flags, message):
    settings = {"addons_managed": [], "addons_system_node_selector": {"role": "system"},
                "addons_cluster_autoscaler_settings": flags, "addons_cluster_autoscaler_chart_version": "9.52.1",
                "addons_load_balancer_controller_chart_version": "1.14.0", "addons_cluster_autoscaler_replicas": 1,
                "addons_load_balancer_controller_replicas": 2, "addons_wait_timeout": 900}
    with pytest.raises(AnsibleFilterError, match=message):
        k8s.addons_validate_settings(settings)


def test_the_addons_defaults_pass_validation():
    defaults = role_defaults("addons")
    assert k8s.addons_validate_settings(defaults) is defaults


def test_repeated_autoscaler_flags_in_the_charts_form_are_accepted():
    settings = {"addons_managed": [], "addons_system_node_selector": {"role": "system"},
                "addons_cluster_autoscaler_settings": {"balancing-ignore-label_1": "topology.ebs.csi.aws.com/zone",
                                                       "balancing-ignore-label_2": "eks.amazonaws.com/nodegroup"},
                "addons_cluster_autoscaler_chart_version": "9.59.0",
                "addons_load_balancer_controller_chart_version": "3.5.0", "addons_cluster_autoscaler_replicas": 1,
                "addons_load_balancer_controller_replicas": 2, "addons_wait_timeout": 900}
    assert k8s.addons_validate_settings(settings) is settings


def test_the_ingress_takes_its_own_security_groups_over_the_vpc_roles():
    app = copy.deepcopy(role_defaults("apps")["apps_example_app"])
    app["ingress"]["security_group_ids"] = ["sg-0aaaaaaaaaaaaaaaa"]
    [ingress] = [m for m in k8s.apps_example_manifests(app, ["sg-0bbbbbbbbbbbbbbbb"]) if m["kind"] == "Ingress"]
    assert ingress["metadata"]["annotations"]["alb.ingress.kubernetes.io/security-groups"] == "sg-0aaaaaaaaaaaaaaaa"


def test_check_mode_plans_only_objects_in_existing_namespaces():
    objects = [{"kind": "Namespace", "metadata": {"name": "a"}}, {"kind": "PriorityClass", "metadata": {"name": "p"}},
               {"kind": "ConfigMap", "metadata": {"name": "c", "namespace": "a"}},
               {"kind": "ConfigMap", "metadata": {"name": "d", "namespace": "b"}}]
    assert k8s.k8s_plannable(objects) == objects
    assert [o["metadata"]["name"] for o in k8s.k8s_plannable(objects, ["b"])] == ["a", "p", "d"]


def eso_schema(kind):
    """The v1 openAPIV3Schema of an external-secrets.io kind, from the stand-in chart's CRD (its Helm lines left out)."""
    text = (ROOT / "emulator" / "charts" / "external-secrets" / "templates" / "crds" / f"{kind.lower()}.yaml").read_text()
    crd = yaml.safe_load("\n".join(line for line in text.splitlines()
                                   if not line.strip().startswith("{{") and "{{" not in line))
    [version] = [v for v in crd["spec"]["versions"] if v["name"] == "v1"]
    assert crd["spec"]["names"]["kind"] == kind
    return version["schema"]["openAPIV3Schema"]


def test_external_secret_objects_follow_the_operators_crds():
    import jsonschema

    secrets = [{"name": "llm-analytics/api-keys", "namespace": "llm-analytics", "keys": ["a"]},
               {"name": "batch/db_Main", "namespace": "batch"}, {"name": "no-namespace"}]
    objects = k8s.apps_external_secret_manifests(secrets, "llmhub/hub/", "secrets-manager", "eu-west-1", "15m")
    assert [(o["kind"], o["metadata"]["name"]) for o in objects] == [
        ("ClusterSecretStore", "secrets-manager"), ("ExternalSecret", "api-keys"), ("ExternalSecret", "db-main")]
    store, api, db = objects
    assert store["spec"] == {"provider": {"aws": {"service": "SecretsManager", "region": "eu-west-1"}},
                             "conditions": [{"namespaces": ["batch", "llm-analytics"]}]}
    assert api["metadata"]["namespace"] == "llm-analytics" and api["spec"]["refreshInterval"] == "15m"
    assert api["spec"]["dataFrom"] == [{"extract": {"key": "llmhub/hub/llm-analytics/api-keys"}}]
    assert api["spec"]["target"] == {"name": "api-keys", "creationPolicy": "Owner"}
    assert db["spec"]["dataFrom"] == [{"extract": {"key": "llmhub/hub/batch/db_Main"}}]
    for item in objects:
        jsonschema.validate(item, eso_schema(item["kind"]))
    assert k8s.apps_external_secret_manifests([{"name": "x"}], "p/", "s", "us-east-1") == []
