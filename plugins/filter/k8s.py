# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The Kubernetes objects of workflow steps 7 and 8 (storage classes, namespaces, example application).

The roles ``storage`` and ``apps`` hand these lists to ``kubernetes.core.k8s``;
``tests/unit/plugins/test_k8s_manifests.py`` validates every object they can
produce against the Kubernetes OpenAPI schemas of the cluster's version. Each
``*_validate_settings`` filter checks a role's variables before any call,
naming the variable to fix.
"""

from __future__ import annotations

import re

from ansible_collections.llmhub.eks.plugins.plugin_utils import validation

MANAGED_BY = {"app.kubernetes.io/managed-by": "llmhub.eks"}
# metadata.name of namespaces, services and most objects: an RFC 1123 label.
DNS_LABEL = re.compile(r"^[a-z0-9]([-a-z0-9]{0,61}[a-z0-9])?$")
# metadata.name of storage and priority classes: an RFC 1123 subdomain.
DNS_SUBDOMAIN = re.compile(r"^(?=.{1,253}$)[a-z0-9]([-a-z0-9]*[a-z0-9])?(\.[a-z0-9]([-a-z0-9]*[a-z0-9])?)*$")
# resource.Quantity, as apimachinery parses it.
QUANTITY = re.compile(r"^[+-]?(\d+(\.\d*)?|\.\d+)([eE][+-]?\d+|Ki|Mi|Gi|Ti|Pi|Ei|n|u|m|k|M|G|T|P|E)?$")
POD_SECURITY_LEVELS = ("privileged", "baseline", "restricted")
POD_SECURITY_MODES = ("enforce", "audit", "warn")
EBS_VOLUME_TYPES = {  # EC2 CreateVolume: IOPS and throughput ranges per type (None: the type takes none)
    "gp3": {"iops": (3000, 16000), "throughput": (125, 1000)},
    "gp2": {"iops": None, "throughput": None},
    "io1": {"iops": (100, 64000), "throughput": None},
    "io2": {"iops": (100, 256000), "throughput": None},
    "st1": {"iops": None, "throughput": None},
    "sc1": {"iops": None, "throughput": None},
}
STORAGE_CLASS_KEYS = ("name", "type", "iops", "throughput", "encrypted", "reclaim_policy", "volume_binding_mode",
                      "allow_volume_expansion", "fs_type", "parameters")
NAMESPACE_KEYS = ("name", "pod_security", "labels", "annotations", "quota", "limits", "network_policies",
                  "default_deny", "allow_dns")
LIMIT_KEYS = ("default", "default_request", "max", "min")
PRIORITY_CLASS_KEYS = ("name", "value", "description", "global_default", "preemption_policy")
APP_KEYS = ("enabled", "name", "namespace", "image", "port", "replicas", "resources", "node_selector", "tolerations",
            "priority_class", "min_available", "autoscaling", "ingress", "cache")
AUTOSCALING_KEYS = ("min_replicas", "max_replicas", "cpu_utilization", "memory_utilization",
                    "scale_down_stabilization_seconds")
INGRESS_KEYS = ("enabled", "class_name", "host", "path", "scheme", "target_type", "certificate_arn", "waf_acl_arn",
                "ssl_policy", "security_group_ids", "source_cidrs", "healthcheck_path", "group_name")
CACHE_KEYS = ("enabled", "name", "image", "port", "storage_class", "size", "resources", "node_selector",
              "tolerations", "run_as_user")
ALB_SCHEMES = ("internet-facing", "internal")
ALB_TARGET_TYPES = ("ip", "instance")


def _labels(name, extra=None):
    labels = {"app.kubernetes.io/name": name, **MANAGED_BY}
    labels.update(extra or {})
    return labels


def _check_name(variable, name, pattern=DNS_LABEL, what="an RFC 1123 label (lower case letters, digits and -)"):
    if not isinstance(name, str) or not pattern.match(name):
        validation.fail(variable, f"{name!r} is not a valid Kubernetes name: it must be {what}")
    return name


def _check_quantities(variable, mapping):
    if mapping is None:
        return
    if not isinstance(mapping, dict):
        validation.fail(variable, f"must be a mapping of resource names to quantities, got {mapping!r}")
    for key, value in mapping.items():
        if isinstance(value, bool) or not QUANTITY.match(str(value)):
            validation.fail(f"{variable}.{key}", f"{value!r} is not a Kubernetes quantity (e.g. 500m, 2, 512Mi, 1Gi)")


def _check_resources(variable, resources):
    if resources is None:
        return
    validation.check_keys(variable, resources, ("requests", "limits"))
    for part in ("requests", "limits"):
        _check_quantities(f"{variable}.{part}", resources.get(part))


def _quantity_text(value):
    return str(value)


# --- add-ons -----------------------------------------------------------------------------------------------------
# Flags of cluster-autoscaler (its FAQ, "What are the parameters to CA?"): the chart passes any extraArgs key as
# --key=value, so a misspelt one would only fail in the pod's log; these are checked here.
CLUSTER_AUTOSCALER_FLAGS = (
    "balance-similar-node-groups", "balancing-ignore-label", "balancing-label", "cloud-config", "cloud-provider",
    "cluster-name", "cordon-node-before-terminating", "daemonset-eviction-for-empty-nodes",
    "daemonset-eviction-for-occupied-nodes", "emit-per-nodegroup-metrics", "enforce-node-group-min-size",
    "estimator", "expander", "expendable-pods-priority-cutoff", "grpc-expander-cert", "grpc-expander-url",
    "ignore-daemonsets-utilization", "ignore-mirror-pods-utilization", "ignore-taint", "kubeconfig",
    "leader-elect", "logtostderr", "max-autoprovisioned-node-group-count", "max-bulk-soft-taint-count",
    "max-bulk-soft-taint-time", "max-empty-bulk-delete", "max-graceful-termination-sec",
    "max-inactivity", "max-node-provision-time", "max-nodes-total", "max-pod-eviction-time",
    "max-total-unready-percentage", "memory-total", "cores-total", "min-replica-count",
    "new-pod-scale-up-delay", "node-deletion-delay-timeout", "node-group-auto-discovery", "nodes",
    "ok-total-unready-count", "parallel-drain", "max-drain-parallelism", "max-scale-down-parallelism",
    "scale-down-candidates-pool-min-count", "scale-down-candidates-pool-ratio", "scale-down-delay-after-add",
    "scale-down-delay-after-delete", "scale-down-delay-after-failure", "scale-down-enabled",
    "scale-down-gpu-utilization-threshold", "scale-down-non-empty-candidates-count",
    "scale-down-unneeded-time", "scale-down-unready-time", "scale-down-utilization-threshold",
    "scale-up-from-zero", "scan-interval", "skip-nodes-with-custom-controller-pods",
    "skip-nodes-with-local-storage", "skip-nodes-with-system-pods", "stderrthreshold", "unremovable-node-recheck-timeout",
    "v", "write-status-configmap", "status-config-map-name", "aws-use-static-instance-list",
    "max-node-startup-time", "max-node-skip-eval-time-tracker-enabled", "node-info-cache-expire-time",
    "node-deletion-batcher-interval", "leader-elect-resource-lock",
)
CLUSTER_AUTOSCALER_EXPANDERS = ("random", "most-pods", "least-waste", "price", "priority", "grpc", "least-nodes")
DURATION = re.compile(r"^(\d+(\.\d+)?(ns|us|ms|s|m|h))+$")
CHART_VERSION = re.compile(r"^\d+\.\d+\.\d+([-+][0-9A-Za-z.-]+)?$")


def kubeconfig_validate_settings(settings):
    """``settings`` (the kubeconfig role's ``kubeconfig_role_settings``) unchanged, or an error naming the variable."""
    validation.check_int("kubeconfig_verify_timeout", settings.get("verify_timeout"), 1)
    validation.check_int("kubeconfig_wait_for_nodes", settings.get("wait_for_nodes"), 0, what=" (0: do not wait)")
    return settings


def addons_validate_settings(settings):
    """Check the addons role's variables; the same mapping back."""
    managed = settings.get("addons_managed")
    if not isinstance(managed, list):
        validation.fail("addons_managed", "must be a list of EKS add-ons ({name, version, service_account_role, ...})")
    for index, addon in enumerate(managed):
        if not isinstance(addon, dict) or not addon.get("name"):
            validation.fail(f"addons_managed[{index}]", "needs a name, e.g. metrics-server")
    selector = settings.get("addons_system_node_selector")
    if not isinstance(selector, dict):
        validation.fail("addons_system_node_selector", f"must be a mapping of node labels, got {selector!r}")
    flags = settings.get("addons_cluster_autoscaler_settings") or {}
    if not isinstance(flags, dict):
        validation.fail("addons_cluster_autoscaler_settings", "must be a mapping of cluster-autoscaler flags to values")
    for key, value in flags.items():
        where = f"addons_cluster_autoscaler_settings.{key}"
        # the chart's form for a repeated flag: balancing-ignore-label_1, balancing-ignore-label_2, ...
        flag = re.sub(r"_\d+$", "", key)
        if flag not in CLUSTER_AUTOSCALER_FLAGS:
            validation.fail(where, validation.unknown_key_message(flag, CLUSTER_AUTOSCALER_FLAGS).replace(
                "valid keys are", "cluster-autoscaler flags include"))
        if flag.endswith(("-delay", "-delay-after-add", "-delay-after-delete", "-delay-after-failure", "-time",
                          "-unneeded-time")) and not isinstance(value, bool) and not DURATION.match(str(value)):
            validation.fail(where, f"{value!r} is not a Go duration (e.g. 10s, 10m, 1h30m)")
        if flag.endswith("utilization-threshold"):
            try:
                ratio = float(value)
            except (TypeError, ValueError):
                ratio = -1.0
            if not 0 < ratio <= 1:
                validation.fail(where, f"{value!r} must be a fraction of the node's requests, above 0 and at most 1")
        if flag == "expander":
            for name in str(value).split(","):
                if name not in CLUSTER_AUTOSCALER_EXPANDERS:
                    validation.fail(where, f"{name!r} is not an expander; use {CLUSTER_AUTOSCALER_EXPANDERS}")
    for variable in ("addons_cluster_autoscaler_chart_version", "addons_load_balancer_controller_chart_version"):
        if not CHART_VERSION.match(str(settings.get(variable))):
            validation.fail(variable, f"{settings.get(variable)!r} is not a chart version (pin one, e.g. 1.14.0)")
    for variable in ("addons_cluster_autoscaler_replicas", "addons_load_balancer_controller_replicas"):
        validation.check_int(variable, settings.get(variable), 1, None)
    validation.check_int("addons_wait_timeout", settings.get("addons_wait_timeout"), 1, None)
    return settings


def helm_release_summary(results):
    """``<release> <chart>-<version> (revision N, <status>)`` per kubernetes.core.helm result."""
    lines = []
    for result in results or []:
        status = (result or {}).get("status") or {}
        if not status:
            continue
        lines.append(f"{status.get('name')} {status.get('chart')} (revision {status.get('revision')}, "
                     f"{status.get('status')})")
    return lines


# --- storage -----------------------------------------------------------------------------------------------------
def storage_validate_settings(settings):
    """Check the storage role's variables (``storage_classes``, ``storage_default_class``); the same mapping back."""
    classes = settings.get("storage_classes")
    if not isinstance(classes, list) or not classes:
        validation.fail("storage_classes", "must be a non-empty list of storage classes")
    names = []
    for index, item in enumerate(classes):
        where = f"storage_classes[{index}]"
        validation.check_keys(where, item, STORAGE_CLASS_KEYS)
        name = _check_name(f"{where}.name", item.get("name"), DNS_SUBDOMAIN, "an RFC 1123 subdomain")
        names.append(name)
        volume_type = item.get("type", "gp3")
        if volume_type not in EBS_VOLUME_TYPES:
            validation.fail(f"{where}.type", f"{volume_type!r} is not an EBS volume type; use one of {sorted(EBS_VOLUME_TYPES)}")
        limits = EBS_VOLUME_TYPES[volume_type]
        for field in ("iops", "throughput"):
            if item.get(field) is None:
                continue
            if limits[field] is None:
                validation.fail(f"{where}.{field}", f"{volume_type} volumes take no {field} setting; remove it")
            low, high = limits[field]
            validation.check_int(f"{where}.{field}", item[field], low, high, f" ({field} of {volume_type} volumes)")
        if item.get("reclaim_policy", "Delete") not in ("Delete", "Retain"):
            validation.fail(f"{where}.reclaim_policy", f"{item['reclaim_policy']!r} must be Delete or Retain")
        if item.get("volume_binding_mode", "WaitForFirstConsumer") not in ("WaitForFirstConsumer", "Immediate"):
            validation.fail(f"{where}.volume_binding_mode",
                            f"{item['volume_binding_mode']!r} must be WaitForFirstConsumer or Immediate")
    if len(set(names)) != len(names):
        validation.fail("storage_classes", f"names must be unique, got {names}")
    default = settings.get("storage_default_class")
    if default is not None and default not in names:
        validation.fail("storage_default_class", f"{default!r} is not one of storage_classes {names}")
    return settings


def storage_class_manifests(classes, default_class=None, kms_key_id=None):
    """StorageClass objects of the EBS CSI driver (``ebs.csi.aws.com``); exactly ``default_class`` is the default."""
    manifests = []
    for item in classes or []:
        volume_type = item.get("type", "gp3")
        parameters = {"type": volume_type}
        for field in ("iops", "throughput"):
            if item.get(field) is not None:
                parameters[field] = str(item[field])
        if item.get("fs_type"):
            parameters["csi.storage.k8s.io/fstype"] = item["fs_type"]
        encrypted = item.get("encrypted", True)
        parameters["encrypted"] = "true" if encrypted else "false"
        if encrypted and kms_key_id:
            parameters["kmsKeyId"] = kms_key_id
        parameters.update({str(k): str(v) for k, v in (item.get("parameters") or {}).items()})
        manifests.append({
            "apiVersion": "storage.k8s.io/v1",
            "kind": "StorageClass",
            "metadata": {
                "name": item["name"],
                "labels": dict(MANAGED_BY),
                "annotations": {"storageclass.kubernetes.io/is-default-class":
                                "true" if item["name"] == default_class else "false"},
            },
            "provisioner": "ebs.csi.aws.com",
            "parameters": parameters,
            "reclaimPolicy": item.get("reclaim_policy", "Delete"),
            "volumeBindingMode": item.get("volume_binding_mode", "WaitForFirstConsumer"),
            "allowVolumeExpansion": bool(item.get("allow_volume_expansion", True)),
        })
    return manifests


def storage_classes_to_undefault(existing, default_class=None):
    """Names of the classes in the cluster (``k8s_info`` resources) marked default other than ``default_class``."""
    names = []
    for item in existing or []:
        metadata = item.get("metadata") or {}
        annotations = metadata.get("annotations") or {}
        marked = (annotations.get("storageclass.kubernetes.io/is-default-class") == "true"
                  or annotations.get("storageclass.beta.kubernetes.io/is-default-class") == "true")
        if marked and metadata.get("name") != default_class:
            names.append(metadata.get("name"))
    return sorted(names)


IMMUTABLE_CLASS_FIELDS = ("provisioner", "parameters", "reclaimPolicy", "volumeBindingMode")


def storage_classes_to_replace(existing, desired):
    """Names of the classes in the cluster whose immutable fields differ from ``desired`` (deleted, then re-made)."""
    current = {(item.get("metadata") or {}).get("name"): item for item in existing or []}
    names = []
    for manifest in desired or []:
        found = current.get(manifest["metadata"]["name"])
        if found is None:
            continue
        defaults = {"reclaimPolicy": "Delete", "volumeBindingMode": "Immediate", "parameters": {}}
        if any(found.get(f, defaults.get(f)) != manifest.get(f, defaults.get(f)) for f in IMMUTABLE_CLASS_FIELDS):
            names.append(manifest["metadata"]["name"])
    return sorted(names)


# --- namespaces and priority classes -------------------------------------------------------------------------------
def _pod_security(variable, value):
    """``restricted`` or ``{enforce: restricted, audit: restricted, warn: restricted, version: latest}``."""
    if isinstance(value, str):
        value = {"enforce": value}
    validation.check_keys(variable, value, (*POD_SECURITY_MODES, "version"))
    for mode in POD_SECURITY_MODES:
        if mode in value and value[mode] not in POD_SECURITY_LEVELS:
            validation.fail(f"{variable}.{mode}", f"{value[mode]!r} is not a Pod Security level {POD_SECURITY_LEVELS}")
    return value


def _pod_security_labels(value, default):
    value = _pod_security("pod_security", value if value is not None else default)
    level = value.get("enforce", "restricted")
    labels = {}
    for mode in POD_SECURITY_MODES:
        labels[f"pod-security.kubernetes.io/{mode}"] = value.get(mode, level)
        labels[f"pod-security.kubernetes.io/{mode}-version"] = str(value.get("version", "latest"))
    return labels


def apps_validate_settings(settings):
    """Check the apps role's variables (namespaces, priority classes, example application); the mapping back."""
    namespaces = settings.get("apps_namespaces")
    if not isinstance(namespaces, list):
        validation.fail("apps_namespaces", "must be a list of namespaces")
    _pod_security("apps_pod_security", settings.get("apps_pod_security") or "restricted")
    names = []
    for index, item in enumerate(namespaces):
        where = f"apps_namespaces[{index}]"
        validation.check_keys(where, item, NAMESPACE_KEYS)
        names.append(_check_name(f"{where}.name", item.get("name")))
        if item.get("pod_security") is not None:
            _pod_security(f"{where}.pod_security", item["pod_security"])
        _check_quantities(f"{where}.quota", item.get("quota"))
        if item.get("limits") is not None:
            validation.check_keys(f"{where}.limits", item["limits"], LIMIT_KEYS)
            for part in LIMIT_KEYS:
                _check_quantities(f"{where}.limits.{part}", item["limits"].get(part))
        for policy_index, policy in enumerate(item.get("network_policies") or []):
            validation.check_keys(f"{where}.network_policies[{policy_index}]", policy, ("name", "spec"))
            _check_name(f"{where}.network_policies[{policy_index}].name", policy.get("name"))
    if len(set(names)) != len(names):
        validation.fail("apps_namespaces", f"names must be unique, got {names}")
    for variable in ("apps_wait_timeout", "apps_wait_sleep"):
        if variable in settings:
            validation.check_int(variable, settings[variable], 1, None, " seconds")
    for index, item in enumerate(settings.get("apps_priority_classes") or []):
        where = f"apps_priority_classes[{index}]"
        validation.check_keys(where, item, PRIORITY_CLASS_KEYS)
        _check_name(f"{where}.name", item.get("name"), DNS_SUBDOMAIN, "an RFC 1123 subdomain")
        if str(item["name"]).startswith("system-"):
            validation.fail(f"{where}.name", "names starting with system- are reserved for Kubernetes")
        validation.check_int(f"{where}.value", item.get("value"), -2147483648, 1000000000,
                             " (priority of a user-defined class)")
        if item.get("preemption_policy", "PreemptLowerPriority") not in ("PreemptLowerPriority", "Never"):
            validation.fail(f"{where}.preemption_policy", "must be PreemptLowerPriority or Never")
    defaults = [c["name"] for c in settings.get("apps_priority_classes") or [] if c.get("global_default")]
    if len(defaults) > 1:
        validation.fail("apps_priority_classes", f"at most one class may be global_default, got {defaults}")
    _validate_app(settings.get("apps_example_app") or {}, names)
    return settings


def _validate_app(app, namespaces):
    where = "apps_example_app"
    validation.check_keys(where, app, APP_KEYS)
    if not app.get("enabled", True):
        return
    _check_name(f"{where}.name", app.get("name"))
    namespace = _check_name(f"{where}.namespace", app.get("namespace"))
    if namespace not in namespaces:
        validation.fail(f"{where}.namespace", f"{namespace!r} is not one of apps_namespaces {namespaces}")
    validation.check_int(f"{where}.port", app.get("port"), 1, 65535, " (container port)")
    validation.check_int(f"{where}.replicas", app.get("replicas"), 1, None, " (replicas)")
    _check_resources(f"{where}.resources", app.get("resources"))
    scaling = app.get("autoscaling") or {}
    validation.check_keys(f"{where}.autoscaling", scaling, AUTOSCALING_KEYS)
    if scaling:
        low = validation.check_int(f"{where}.autoscaling.min_replicas", scaling.get("min_replicas"), 1, None)
        validation.check_int(f"{where}.autoscaling.max_replicas", scaling.get("max_replicas"), low, None,
                             " (max_replicas (at least min_replicas))")
        for metric in ("cpu_utilization", "memory_utilization"):
            if scaling.get(metric) is not None:
                validation.check_int(f"{where}.autoscaling.{metric}", scaling[metric], 1, 100, " (percent of requests)")
        if not (app.get("resources") or {}).get("requests"):
            validation.fail(f"{where}.resources.requests", "the HPA scales on utilization of requests: set them")
    min_available = app.get("min_available")
    if min_available is not None:
        validation.check_int(f"{where}.min_available", min_available, 0, None)
    ingress = app.get("ingress") or {}
    validation.check_keys(f"{where}.ingress", ingress, INGRESS_KEYS)
    if ingress.get("scheme", "internet-facing") not in ALB_SCHEMES:
        validation.fail(f"{where}.ingress.scheme", f"{ingress['scheme']!r} must be one of {ALB_SCHEMES}")
    if ingress.get("target_type", "ip") not in ALB_TARGET_TYPES:
        validation.fail(f"{where}.ingress.target_type", f"{ingress['target_type']!r} must be one of {ALB_TARGET_TYPES}")
    for key, pattern in (("certificate_arn", r"^arn:aws[a-zA-Z-]*:acm:[a-z0-9-]+:\d{12}:certificate/.+$"),
                         ("waf_acl_arn", r"^arn:aws[a-zA-Z-]*:wafv2:[a-z0-9-]+:\d{12}:regional/webacl/.+$")):
        if ingress.get(key) and not re.match(pattern, str(ingress[key])):
            validation.fail(f"{where}.ingress.{key}", f"{ingress[key]!r} is not a {key.split('_', maxsplit=1)[0].upper()} ARN of"
                            " the ALB's region")
    cache = app.get("cache") or {}
    validation.check_keys(f"{where}.cache", cache, CACHE_KEYS)
    if cache.get("enabled", False):
        _check_name(f"{where}.cache.name", cache.get("name"))
        _check_quantities(f"{where}.cache", {"size": cache.get("size")})
        _check_resources(f"{where}.cache.resources", cache.get("resources"))


def apps_namespace_manifests(namespaces, pod_security="restricted"):
    """Per namespace: the Namespace with Pod Security labels, network policies, a ResourceQuota and a LimitRange."""
    manifests = []
    for item in namespaces or []:
        name = item["name"]
        security = _pod_security_labels(item.get("pod_security"), pod_security)
        labels = {**MANAGED_BY, **(item.get("labels") or {}), **security}
        namespace = {"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": name, "labels": labels}}
        if item.get("annotations"):
            namespace["metadata"]["annotations"] = dict(item["annotations"])
        manifests.append(namespace)
        manifests.extend(_namespace_policies(item))
        if item.get("quota"):
            manifests.append({
                "apiVersion": "v1", "kind": "ResourceQuota",
                "metadata": {"name": "quota", "namespace": name, "labels": dict(MANAGED_BY)},
                "spec": {"hard": {k: _quantity_text(v) for k, v in item["quota"].items()}},
            })
        limits = item.get("limits") or {}
        if limits:
            limit = {"type": "Container"}
            for key, field in (("default", "default"), ("default_request", "defaultRequest"), ("max", "max"),
                               ("min", "min")):
                if limits.get(key):
                    limit[field] = {k: _quantity_text(v) for k, v in limits[key].items()}
            manifests.append({
                "apiVersion": "v1", "kind": "LimitRange",
                "metadata": {"name": "container-defaults", "namespace": name, "labels": dict(MANAGED_BY)},
                "spec": {"limits": [limit]},
            })
    return manifests


def _network_policy(name, namespace, spec):
    return {"apiVersion": "networking.k8s.io/v1", "kind": "NetworkPolicy",
            "metadata": {"name": name, "namespace": namespace, "labels": dict(MANAGED_BY)}, "spec": spec}


def _namespace_policies(item):
    name = item["name"]
    policies = []
    if item.get("default_deny", True):
        policies.append(_network_policy("default-deny", name,
                                        {"podSelector": {}, "policyTypes": ["Ingress", "Egress"]}))
    if item.get("allow_dns", True):
        policies.append(_network_policy("allow-dns", name, {
            "podSelector": {},
            "policyTypes": ["Egress"],
            "egress": [{
                "to": [{"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "kube-system"}},
                        "podSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
                "ports": [{"protocol": "UDP", "port": 53}, {"protocol": "TCP", "port": 53}],
            }],
        }))
    for policy in item.get("network_policies") or []:
        policies.append(_network_policy(policy["name"], name, dict(policy.get("spec") or {})))
    return policies


def apps_priority_class_manifests(classes):
    """PriorityClass objects (``scheduling.k8s.io/v1``)."""
    manifests = []
    for item in classes or []:
        manifest = {
            "apiVersion": "scheduling.k8s.io/v1", "kind": "PriorityClass",
            "metadata": {"name": item["name"], "labels": dict(MANAGED_BY)},
            "value": int(item["value"]),
            "globalDefault": bool(item.get("global_default", False)),
            "preemptionPolicy": item.get("preemption_policy", "PreemptLowerPriority"),
        }
        if item.get("description"):
            manifest["description"] = item["description"]
        manifests.append(manifest)
    return manifests


# --- the example application --------------------------------------------------------------------------------------
RESTRICTED_CONTAINER = {
    "allowPrivilegeEscalation": False,
    "readOnlyRootFilesystem": True,
    "capabilities": {"drop": ["ALL"]},
}


def _pod_security_context(user):
    return {"runAsNonRoot": True, "runAsUser": int(user), "runAsGroup": int(user), "fsGroup": int(user),
            "seccompProfile": {"type": "RuntimeDefault"}}


def _place(pod_spec, settings, priority_class):
    """Node selector, tolerations and priority class of a pod spec, from a workload's settings."""
    if settings.get("node_selector"):
        pod_spec["nodeSelector"] = dict(settings["node_selector"])
    if settings.get("tolerations"):
        pod_spec["tolerations"] = list(settings["tolerations"])
    if priority_class:
        pod_spec["priorityClassName"] = priority_class


def _ingress_annotations(ingress, security_group_ids):
    annotations = {
        "alb.ingress.kubernetes.io/scheme": ingress.get("scheme", "internet-facing"),
        "alb.ingress.kubernetes.io/target-type": ingress.get("target_type", "ip"),
        "alb.ingress.kubernetes.io/healthcheck-path": ingress.get("healthcheck_path", "/"),
    }
    if ingress.get("certificate_arn"):
        annotations["alb.ingress.kubernetes.io/certificate-arn"] = ingress["certificate_arn"]
        annotations["alb.ingress.kubernetes.io/listen-ports"] = '[{"HTTP": 80}, {"HTTPS": 443}]'
        annotations["alb.ingress.kubernetes.io/ssl-redirect"] = "443"
        annotations["alb.ingress.kubernetes.io/ssl-policy"] = ingress.get(
            "ssl_policy", "ELBSecurityPolicy-TLS13-1-2-2021-06")
    else:
        annotations["alb.ingress.kubernetes.io/listen-ports"] = '[{"HTTP": 80}]'
    if ingress.get("waf_acl_arn"):
        annotations["alb.ingress.kubernetes.io/wafv2-acl-arn"] = ingress["waf_acl_arn"]
    groups = [g for g in (security_group_ids or []) if g]
    if groups:
        # the vpc role's ALB group (80/443 from vpc_alb_ingress_cidrs; the node group admits it), not one the
        # controller would create open to the world
        annotations["alb.ingress.kubernetes.io/security-groups"] = ",".join(groups)
    if ingress.get("group_name"):
        annotations["alb.ingress.kubernetes.io/group.name"] = ingress["group_name"]
    return annotations


def apps_example_manifests(app, security_group_ids=None):
    """The example application set: Deployment, PDB, HPA, Service, ALB Ingress, network policies, and a cache
    StatefulSet whose claim becomes an encrypted gp3 volume."""
    if not app or not app.get("enabled", True):
        return []
    name, namespace, port = app["name"], app["namespace"], int(app["port"])
    labels = _labels(name, {"app.kubernetes.io/component": "api"})
    selector = {"app.kubernetes.io/name": name}
    spread = [
        {"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone", "whenUnsatisfiable": "DoNotSchedule",
         "labelSelector": {"matchLabels": selector}},
        {"maxSkew": 1, "topologyKey": "kubernetes.io/hostname", "whenUnsatisfiable": "ScheduleAnyway",
         "labelSelector": {"matchLabels": selector}},
    ]
    pod_spec = {
        "securityContext": _pod_security_context(101),
        "topologySpreadConstraints": spread,
        "containers": [{
            "name": name,
            "image": app["image"],
            "ports": [{"name": "http", "containerPort": port, "protocol": "TCP"}],
            "resources": app.get("resources") or {},
            "securityContext": RESTRICTED_CONTAINER,
            "readinessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 10},
            "livenessProbe": {"httpGet": {"path": "/", "port": "http"}, "periodSeconds": 20},
            "volumeMounts": [{"name": "tmp", "mountPath": "/tmp"}],
        }],
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    _place(pod_spec, app, app.get("priority_class"))
    scaling = app.get("autoscaling") or {}
    deployment_spec = {
        "selector": {"matchLabels": selector},
        "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxSurge": "25%", "maxUnavailable": 0}},
        "template": {"metadata": {"labels": labels}, "spec": pod_spec},
    }
    if not scaling:
        # with an HPA the replicas are its own: applying a count would fight it on every run
        deployment_spec["replicas"] = int(app["replicas"])
    manifests = [
        {"apiVersion": "apps/v1", "kind": "Deployment",
         "metadata": {"name": name, "namespace": namespace, "labels": labels}, "spec": deployment_spec},
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": name, "namespace": namespace, "labels": labels},
         "spec": {"type": "ClusterIP", "selector": selector,
                  "ports": [{"name": "http", "port": 80, "targetPort": "http", "protocol": "TCP"}]}},
    ]
    if app.get("min_available") is not None:
        manifests.append({"apiVersion": "policy/v1", "kind": "PodDisruptionBudget",
                          "metadata": {"name": name, "namespace": namespace, "labels": labels},
                          "spec": {"minAvailable": int(app["min_available"]), "selector": {"matchLabels": selector}}})
    if scaling:
        manifests.append(_hpa(name, namespace, labels, app, scaling))
    manifests.extend(_app_policies(app, selector))
    ingress = app.get("ingress") or {}
    if ingress.get("enabled", True):
        groups = ingress.get("security_group_ids") or security_group_ids
        rule = {"http": {"paths": [{"path": ingress.get("path", "/"), "pathType": "Prefix",
                                    "backend": {"service": {"name": name, "port": {"name": "http"}}}}]}}
        if ingress.get("host"):
            rule["host"] = ingress["host"]
        manifests.append({
            "apiVersion": "networking.k8s.io/v1", "kind": "Ingress",
            "metadata": {"name": name, "namespace": namespace, "labels": labels,
                         "annotations": _ingress_annotations(ingress, groups)},
            "spec": {"ingressClassName": ingress.get("class_name", "alb"), "rules": [rule]},
        })
    cache = app.get("cache") or {}
    if cache.get("enabled", False):
        manifests.extend(_cache(app, cache))
    return manifests


def _hpa(name, namespace, labels, app, scaling):
    metrics = []
    for resource in ("cpu", "memory"):
        target = scaling.get(f"{resource}_utilization")
        if target is not None:
            metrics.append({"type": "Resource", "resource": {
                "name": resource, "target": {"type": "Utilization", "averageUtilization": int(target)}}})
    return {
        "apiVersion": "autoscaling/v2", "kind": "HorizontalPodAutoscaler",
        "metadata": {"name": name, "namespace": namespace, "labels": labels},
        "spec": {
            "scaleTargetRef": {"apiVersion": "apps/v1", "kind": "Deployment", "name": name},
            "minReplicas": int(scaling.get("min_replicas", app.get("replicas", 1))),
            "maxReplicas": int(scaling["max_replicas"]),
            "metrics": metrics,
            "behavior": {"scaleDown": {"stabilizationWindowSeconds":
                                       int(scaling.get("scale_down_stabilization_seconds", 300))}},
        },
    }


def _app_policies(app, selector):
    namespace, port = app["namespace"], int(app["port"])
    ingress = app.get("ingress") or {}
    sources = [{"ipBlock": {"cidr": cidr}} for cidr in ingress.get("source_cidrs") or []]
    policies = [_network_policy(f"{app['name']}-from-load-balancer", namespace, {
        "podSelector": {"matchLabels": selector},
        "policyTypes": ["Ingress"],
        "ingress": [{**({"from": sources} if sources else {}), "ports": [{"protocol": "TCP", "port": port}]}],
    })]
    cache = app.get("cache") or {}
    if cache.get("enabled", False):
        cache_selector = {"app.kubernetes.io/name": cache["name"]}
        policies.append(_network_policy(f"{app['name']}-to-{cache['name']}", namespace, {
            "podSelector": {"matchLabels": selector},
            "policyTypes": ["Egress"],
            "egress": [{"to": [{"podSelector": {"matchLabels": cache_selector}}],
                        "ports": [{"protocol": "TCP", "port": int(cache["port"])}]}],
        }))
        policies.append(_network_policy(f"{cache['name']}-from-{app['name']}", namespace, {
            "podSelector": {"matchLabels": cache_selector},
            "policyTypes": ["Ingress"],
            "ingress": [{"from": [{"podSelector": {"matchLabels": selector}}],
                         "ports": [{"protocol": "TCP", "port": int(cache["port"])}]}],
        }))
    return policies


def _cache(app, cache):
    name, namespace, port = cache["name"], app["namespace"], int(cache["port"])
    labels = _labels(name, {"app.kubernetes.io/component": "cache", "app.kubernetes.io/part-of": app["name"]})
    selector = {"app.kubernetes.io/name": name}
    pod_spec = {
        "securityContext": _pod_security_context(cache.get("run_as_user", 999)),
        "containers": [{
            "name": name,
            "image": cache["image"],
            "args": ["--appendonly", "yes", "--dir", "/data"],
            "ports": [{"name": "cache", "containerPort": port, "protocol": "TCP"}],
            "resources": cache.get("resources") or {},
            "securityContext": RESTRICTED_CONTAINER,
            "volumeMounts": [{"name": "data", "mountPath": "/data"}],
        }],
    }
    _place(pod_spec, cache, app.get("priority_class"))
    return [
        {"apiVersion": "v1", "kind": "Service",
         "metadata": {"name": name, "namespace": namespace, "labels": labels},
         "spec": {"clusterIP": "None", "selector": selector,
                  "ports": [{"name": "cache", "port": port, "targetPort": "cache", "protocol": "TCP"}]}},
        {"apiVersion": "apps/v1", "kind": "StatefulSet",
         "metadata": {"name": name, "namespace": namespace, "labels": labels},
         "spec": {
             "serviceName": name,
             "replicas": 1,
             "selector": {"matchLabels": selector},
             "template": {"metadata": {"labels": labels}, "spec": pod_spec},
             "volumeClaimTemplates": [{
                 "metadata": {"name": "data", "labels": dict(MANAGED_BY)},
                 "spec": {"accessModes": ["ReadWriteOnce"], "storageClassName": cache.get("storage_class", "gp3"),
                          "resources": {"requests": {"storage": str(cache.get("size", "10Gi"))}}},
             }],
             "persistentVolumeClaimRetentionPolicy": {"whenDeleted": "Retain", "whenScaled": "Retain"},
         }},
    ]


def apps_external_secret_manifests(secrets, path, store, region, refresh_interval="1h"):
    """The ClusterSecretStore of the cluster's Secrets Manager path and one ExternalSecret per secret with a namespace.

    The store reads Secrets Manager in ``region`` as the External Secrets Operator's own service account (its IRSA
    role may read ``path`` only) and serves only the namespaces of the secrets. Each ExternalSecret is named after
    the last part of the secret's name and makes a Secret of that name (owned by it) with every key of the secret's
    JSON object, refreshed every ``refresh_interval``.
    """
    declared = [item for item in secrets or [] if item.get("namespace")]
    if not declared:
        return []
    namespaces = sorted({item["namespace"] for item in declared})
    labels = {"app.kubernetes.io/managed-by": "llmhub.eks"}
    objects = [{
        "apiVersion": "external-secrets.io/v1",
        "kind": "ClusterSecretStore",
        "metadata": {"name": store, "labels": labels},
        "spec": {
            "provider": {"aws": {"service": "SecretsManager", "region": region}},
            "conditions": [{"namespaces": namespaces}],
        },
    }]
    for item in declared:
        name = item["name"].rsplit("/", 1)[-1].lower().replace("_", "-").replace(".", "-")
        objects.append({
            "apiVersion": "external-secrets.io/v1",
            "kind": "ExternalSecret",
            "metadata": {"name": name, "namespace": item["namespace"], "labels": labels,
                         "annotations": {"llmhub.io/secrets-manager-name": path + item["name"]}},
            "spec": {
                "refreshInterval": refresh_interval,
                "secretStoreRef": {"name": store, "kind": "ClusterSecretStore"},
                "target": {"name": name, "creationPolicy": "Owner"},
                "dataFrom": [{"extract": {"key": path + item["name"]}}],
            },
        })
    return objects


def k8s_plannable(objects, namespaces=None):
    """The objects a server-side dry run can take: all of them when ``namespaces`` is None (not check mode), else
    the cluster-scoped ones, the Namespaces, and those in a namespace of ``namespaces`` (one that exists)."""
    if namespaces is None:
        return list(objects or [])
    known = set(namespaces)
    return [o for o in objects or [] if o.get("kind") == "Namespace"
            or not (o.get("metadata") or {}).get("namespace") or o["metadata"]["namespace"] in known]


class FilterModule:
    """The Kubernetes objects of the storage and apps roles."""

    def filters(self):
        return {
            "addons_validate_settings": addons_validate_settings,
            "kubeconfig_validate_settings": kubeconfig_validate_settings,
            "helm_release_summary": helm_release_summary,
            "storage_validate_settings": storage_validate_settings,
            "storage_class_manifests": storage_class_manifests,
            "storage_classes_to_undefault": storage_classes_to_undefault,
            "storage_classes_to_replace": storage_classes_to_replace,
            "apps_validate_settings": apps_validate_settings,
            "apps_namespace_manifests": apps_namespace_manifests,
            "apps_priority_class_manifests": apps_priority_class_manifests,
            "apps_example_manifests": apps_example_manifests,
            "apps_external_secret_manifests": apps_external_secret_manifests,
            "k8s_plannable": k8s_plannable,
        }
