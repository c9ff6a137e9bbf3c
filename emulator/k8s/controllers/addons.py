"""The workloads of the EKS managed add-ons, and what EKS puts in every new cluster.

When an add-on is created (from ``CREATING`` on) its objects are applied as
EKS applies them, with the add-on's version in the images:

* ``coredns``: Deployment ``coredns`` (2 replicas, tolerates
  ``CriticalAddonsOnly``, prefers spreading over hosts and zones), Service
  ``kube-dns`` (``172.20.0.10``), ConfigMap, ServiceAccount, RBAC,
  PodDisruptionBudget;
* ``vpc-cni``: DaemonSet ``aws-node``; ``kube-proxy``: DaemonSet
  ``kube-proxy`` and its ConfigMaps; ``eks-pod-identity-agent``: its DaemonSet;
* ``aws-ebs-csi-driver``: Deployment ``ebs-csi-controller``, DaemonSet
  ``ebs-csi-node``, CSIDriver ``ebs.csi.aws.com``, service accounts (the
  add-on's IAM role as ``eks.amazonaws.com/role-arn``), RBAC,
  PodDisruptionBudget, and the ``ebs-csi-default-sc`` class with
  ``defaultStorageClass.enabled``;
* ``metrics-server`` (the EKS community add-on, upstream's Helm chart): in
  ``kube-system`` ServiceAccount and Deployment ``metrics-server`` (2
  replicas, ``--secure-port=10251``, image ``eks/metrics-server:<add-on
  version>``), Service ``metrics-server`` (443 -> ``https``), RBAC
  (``system:metrics-server``, ``system:metrics-server-aggregated-reader``
  aggregated to view/edit/admin, ``metrics-server:system:auth-delegator``,
  ``metrics-server-auth-reader``) and the APIService ``v1beta1.metrics.k8s.io``
  (see :mod:`.aggregation` for what then serves ``metrics.k8s.io``);
* ``amazon-cloudwatch-observability`` (Container Insights) in its namespace
  ``amazon-cloudwatch``: the operator's Deployment
  ``amazon-cloudwatch-observability-controller-manager`` and webhook Service,
  what the operator makes of its default agent resource (DaemonSet and Service
  ``cloudwatch-agent``, ConfigMap ``cloudwatch-agent`` with the agent's JSON
  configuration), the ``fluent-bit`` DaemonSet and ``fluent-bit-config``
  (container logs to ``/aws/containerinsights/<cluster>/application``); both
  DaemonSets tolerate every taint; service accounts
  ``amazon-cloudwatch-observability-controller-manager`` and ``cloudwatch-agent``
  (the add-on's IAM role as ``eks.amazonaws.com/role-arn``: its trust policy
  names ``system:serviceaccount:amazon-cloudwatch:cloudwatch-agent``), RBAC.
  The operator's CRDs, webhooks and auto-instrumentation are not emulated, and
  the images carry the add-on version as their tag.

``configurationValues`` are honoured for the usual keys (``replicaCount``,
``resources``, ``tolerations``, ``nodeSelector``, ``affinity``; for the EBS
driver under ``controller``/``node``, and ``controller.extraVolumeTags`` (the
driver's ``--extra-tags``: tags of every volume it makes); for metrics-server ``replicas``,
``args`` (added to the defaults), ``podDisruptionBudget``; for Container
Insights top-level ``tolerations``, ``manager``/``agent`` (and ``agent.config``,
the agent's JSON), ``containerLogs.enabled: false`` (no Fluent Bit) and
``containerLogs.fluentBit``). An update of the add-on's version or
configuration re-applies its objects (EKS's OVERWRITE) and deletes those it
no longer has (Fluent Bit after ``containerLogs.enabled: false``); a deleted add-on's
objects are deleted, unless it was deleted with ``preserve``. Every new
cluster also gets the ``gp2`` StorageClass (in-tree ``kubernetes.io/aws-ebs``,
WaitForFirstConsumer, not the default since Kubernetes 1.30).
"""

from __future__ import annotations

import json
from typing import Any

import yaml

from ..store import SERVICE_CIDR
from .cloud import Addon, ClusterInfo
from .runtime import Context, kind_name

ECR = "602401143452.dkr.ecr.{region}.amazonaws.com"
KUBE_DNS_IP = str(SERVICE_CIDR.network_address + 10)
LINUX_AFFINITY = [{"key": "kubernetes.io/os", "operator": "In", "values": ["linux"]},
                  {"key": "kubernetes.io/arch", "operator": "In", "values": ["amd64", "arm64"]},
                  {"key": "eks.amazonaws.com/compute-type", "operator": "NotIn", "values": ["fargate", "hybrid",
                                                                                            "auto"]}]
TOLERATE_ALL = [{"operator": "Exists"}]
POD_IDENTITY_IMAGES = {"v1.3.8-eksbuild.2": "0.1.29", "v1.3.10-eksbuild.1": "0.1.32"}
SIDECARS = {"csi-provisioner": "v5.3.0", "csi-attacher": "v4.9.0", "csi-snapshotter": "v8.3.0",
            "csi-resizer": "v1.14.0", "livenessprobe": "v2.16.0", "csi-node-driver-registrar": "v2.14.0"}
GP2 = {
    "apiVersion": "storage.k8s.io/v1", "kind": "StorageClass",
    "metadata": {"name": "gp2"},
    "parameters": {"fsType": "ext4", "type": "gp2"},
    "provisioner": "kubernetes.io/aws-ebs",
    "reclaimPolicy": "Delete",
    "volumeBindingMode": "WaitForFirstConsumer",
}


def _config(addon: Addon) -> dict[str, Any]:
    if not addon.configuration:
        return {}
    try:
        value = json.loads(addon.configuration)
    except ValueError:
        try:
            value = yaml.safe_load(addon.configuration)
        except yaml.YAMLError:
            return {}
    return value if isinstance(value, dict) else {}


def _bare(version: str) -> str:
    """``v1.50.1-eksbuild.1`` -> ``1.50.1``."""
    return version.lstrip("v").split("-", 1)[0]


def _obj(api_version: str, kind: str, name: str, namespace: str | None = "kube-system", **fields: Any) -> dict:
    metadata: dict[str, Any] = {"name": name}
    if namespace:
        metadata["namespace"] = namespace
    metadata.update(fields.pop("metadata", {}))
    return {"apiVersion": api_version, "kind": kind, "metadata": metadata, **fields}


def _sa(name: str, labels: dict, role_arn: str | None = None, namespace: str = "kube-system") -> dict:
    metadata: dict[str, Any] = {"labels": labels}
    if role_arn:
        metadata["annotations"] = {"eks.amazonaws.com/role-arn": role_arn}
    return _obj("v1", "ServiceAccount", name, namespace, metadata=metadata)


def _cluster_role(name: str, labels: dict, rules: list[dict]) -> dict:
    return _obj("rbac.authorization.k8s.io/v1", "ClusterRole", name, None, metadata={"labels": labels}, rules=rules)


def _binding(name: str, role: str, service_account: str, labels: dict, namespace: str = "kube-system") -> dict:
    return _obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", name, None, metadata={"labels": labels},
                roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": role},
                subjects=[{"kind": "ServiceAccount", "name": service_account, "namespace": namespace}])


def _apply_pod_config(template_spec: dict, config: dict) -> None:
    for key in ("tolerations", "nodeSelector", "affinity", "topologySpreadConstraints", "priorityClassName"):
        if key in config:
            template_spec[key] = config[key]
    if isinstance(config.get("resources"), dict):
        template_spec["containers"][0]["resources"] = config["resources"]


def coredns(info: ClusterInfo, addon: Addon) -> list[dict]:
    config = _config(addon)
    registry = ECR.format(region=info.region)
    labels = {"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns", "kubernetes.io/name": "CoreDNS"}
    selector = {"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns"}
    spec: dict[str, Any] = {
        "affinity": {
            "nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
                {"matchExpressions": LINUX_AFFINITY[:2]}]}},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{
                "weight": 100, "podAffinityTerm": {
                    "labelSelector": {"matchExpressions": [{"key": "k8s-app", "operator": "In",
                                                            "values": ["kube-dns"]}]},
                    "topologyKey": "kubernetes.io/hostname"}}]},
        },
        "containers": [{
            "name": "coredns",
            "image": f"{registry}/eks/coredns:{addon.version}",
            "imagePullPolicy": "IfNotPresent",
            "args": ["-conf", "/etc/coredns/Corefile"],
            "ports": [{"containerPort": 53, "name": "dns", "protocol": "UDP"},
                      {"containerPort": 53, "name": "dns-tcp", "protocol": "TCP"},
                      {"containerPort": 9153, "name": "metrics", "protocol": "TCP"}],
            "resources": {"limits": {"memory": "170Mi"}, "requests": {"cpu": "100m", "memory": "70Mi"}},
            "livenessProbe": {"httpGet": {"path": "/health", "port": 8080, "scheme": "HTTP"},
                              "initialDelaySeconds": 60, "timeoutSeconds": 5, "failureThreshold": 5},
            "readinessProbe": {"httpGet": {"path": "/ready", "port": 8181, "scheme": "HTTP"}},
            "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True,
                                "capabilities": {"add": ["NET_BIND_SERVICE"], "drop": ["ALL"]}},
            "volumeMounts": [{"mountPath": "/etc/coredns", "name": "config-volume", "readOnly": True}],
        }],
        "dnsPolicy": "Default",
        "priorityClassName": "system-cluster-critical",
        "serviceAccountName": "coredns",
        "tolerations": [{"key": "node-role.kubernetes.io/control-plane", "effect": "NoSchedule"},
                        {"key": "CriticalAddonsOnly", "operator": "Exists"}],
        "topologySpreadConstraints": [{"maxSkew": 1, "topologyKey": "topology.kubernetes.io/zone",
                                       "whenUnsatisfiable": "ScheduleAnyway",
                                       "labelSelector": {"matchLabels": {"k8s-app": "kube-dns"}}}],
        "volumes": [{"name": "config-volume",
                     "configMap": {"name": "coredns", "items": [{"key": "Corefile", "path": "Corefile"}]}}],
    }
    _apply_pod_config(spec, config)
    corefile = config.get("corefile") or (
        ".:53 {\n    errors\n    health {\n        lameduck 5s\n      }\n    ready\n"
        "    kubernetes cluster.local in-addr.arpa ip6.arpa {\n      pods insecure\n      fallthrough in-addr.arpa "
        "ip6.arpa\n    }\n    prometheus :9153\n    forward . /etc/resolv.conf\n    cache 30\n    loop\n"
        "    reload\n    loadbalance\n}\n")
    rbac_labels = {"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns",
                   "kubernetes.io/bootstrapping": "rbac-defaults"}
    return [
        _sa("coredns", {"eks.amazonaws.com/component": "coredns", "k8s-app": "kube-dns"}, addon.role_arn),
        _cluster_role("system:coredns", rbac_labels, [
            {"apiGroups": [""], "resources": ["endpoints", "services", "pods", "namespaces"],
             "verbs": ["list", "watch"]},
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get"]},
            {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch"]}]),
        _binding("system:coredns", "system:coredns", "coredns", rbac_labels),
        _obj("v1", "ConfigMap", "coredns", metadata={"labels": {"eks.amazonaws.com/component": "coredns",
                                                                "k8s-app": "kube-dns"}},
             data={"Corefile": corefile}),
        _obj("apps/v1", "Deployment", "coredns", metadata={"labels": labels}, spec={
            "replicas": int(config.get("replicaCount") or 2),
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1, "maxSurge": "25%"}},
            "template": {"metadata": {"labels": selector}, "spec": spec},
        }),
        _obj("v1", "Service", "kube-dns", metadata={
            "labels": {"eks.amazonaws.com/component": "kube-dns", "k8s-app": "kube-dns",
                       "kubernetes.io/cluster-service": "true", "kubernetes.io/name": "CoreDNS"},
            "annotations": {"prometheus.io/port": "9153", "prometheus.io/scrape": "true"}}, spec={
            "clusterIP": KUBE_DNS_IP,
            "ports": [{"name": "dns", "port": 53, "protocol": "UDP", "targetPort": 53},
                      {"name": "dns-tcp", "port": 53, "protocol": "TCP", "targetPort": 53},
                      {"name": "metrics", "port": 9153, "protocol": "TCP", "targetPort": 9153}],
            "selector": {"k8s-app": "kube-dns"},
        }),
        _obj("policy/v1", "PodDisruptionBudget", "coredns", metadata={"labels": selector}, spec={
            "maxUnavailable": 1, "selector": {"matchLabels": selector}}),
    ]


def vpc_cni(info: ClusterInfo, addon: Addon) -> list[dict]:
    registry = ECR.format(region=info.region)
    labels = {"app.kubernetes.io/instance": "aws-vpc-cni", "app.kubernetes.io/name": "aws-node",
              "app.kubernetes.io/version": f"v{_bare(addon.version)}", "k8s-app": "aws-node"}
    template_labels = {"app.kubernetes.io/instance": "aws-vpc-cni", "app.kubernetes.io/name": "aws-node",
                       "k8s-app": "aws-node"}
    spec = {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": LINUX_AFFINITY}]}}},
        "hostNetwork": True,
        "priorityClassName": "system-node-critical",
        "serviceAccountName": "aws-node",
        "terminationGracePeriodSeconds": 10,
        "tolerations": TOLERATE_ALL,
        "initContainers": [{"name": "aws-vpc-cni-init", "image": f"{registry}/amazon-k8s-cni-init:{addon.version}",
                            "resources": {"requests": {"cpu": "25m"}}, "securityContext": {"privileged": True}}],
        "containers": [
            {"name": "aws-node", "image": f"{registry}/amazon-k8s-cni:{addon.version}",
             "ports": [{"containerPort": 61678, "name": "metrics"}],
             "env": [{"name": "CLUSTER_NAME", "value": info.name}, {"name": "VPC_ID", "value": info.vpc_id},
                     {"name": "AWS_VPC_K8S_CNI_LOGLEVEL", "value": "DEBUG"}],
             "resources": {"requests": {"cpu": "25m"}},
             "securityContext": {"capabilities": {"add": ["NET_ADMIN", "NET_RAW"]}}},
            {"name": "aws-eks-nodeagent", "image": f"{registry}/amazon/aws-network-policy-agent:v1.2.7-eksbuild.1",
             "resources": {"requests": {"cpu": "25m"}},
             "securityContext": {"privileged": True, "capabilities": {"add": ["NET_ADMIN"]}}},
        ],
    }
    rules = [{"apiGroups": [""], "resources": ["pods", "namespaces"], "verbs": ["list", "watch", "get"]},
             {"apiGroups": [""], "resources": ["nodes"], "verbs": ["list", "watch", "get"]},
             {"apiGroups": ["", "events.k8s.io"], "resources": ["events"], "verbs": ["create", "patch", "list"]}]
    return [
        _sa("aws-node", labels, addon.role_arn),
        _cluster_role("aws-node", labels, rules),
        _binding("aws-node", "aws-node", "aws-node", labels),
        _obj("apps/v1", "DaemonSet", "aws-node", metadata={"labels": labels}, spec={
            "selector": {"matchLabels": {"k8s-app": "aws-node"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
            "template": {"metadata": {"labels": template_labels}, "spec": spec},
        }),
    ]


def kube_proxy(info: ClusterInfo, addon: Addon) -> list[dict]:
    registry = ECR.format(region=info.region)
    tag = addon.version.replace("-eksbuild", "-minimal-eksbuild")
    labels = {"eks.amazonaws.com/component": "kube-proxy", "k8s-app": "kube-proxy"}
    spec = {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": LINUX_AFFINITY}]}}},
        "hostNetwork": True,
        "priorityClassName": "system-node-critical",
        "serviceAccountName": "kube-proxy",
        "tolerations": TOLERATE_ALL,
        "containers": [{
            "name": "kube-proxy", "image": f"{registry}/eks/kube-proxy:{tag}",
            "command": ["kube-proxy", "--v=2", "--config=/var/lib/kube-proxy-config/config",
                        "--hostname-override=$(NODE_NAME)"],
            "env": [{"name": "NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
            "resources": {"requests": {"cpu": "100m"}},
            "securityContext": {"privileged": True},
            "volumeMounts": [{"mountPath": "/var/log", "name": "varlog"},
                             {"mountPath": "/run/xtables.lock", "name": "xtables-lock"},
                             {"mountPath": "/lib/modules", "name": "lib-modules", "readOnly": True},
                             {"mountPath": "/var/lib/kube-proxy/", "name": "kubeconfig"},
                             {"mountPath": "/var/lib/kube-proxy-config/", "name": "config"}],
        }],
        "volumes": [{"name": "varlog", "hostPath": {"path": "/var/log"}},
                    {"name": "xtables-lock", "hostPath": {"path": "/run/xtables.lock", "type": "FileOrCreate"}},
                    {"name": "lib-modules", "hostPath": {"path": "/lib/modules"}},
                    {"name": "kubeconfig", "configMap": {"name": "kube-proxy"}},
                    {"name": "config", "configMap": {"name": "kube-proxy-config"}}],
    }
    config = ("apiVersion: kubeproxy.config.k8s.io/v1alpha1\nkind: KubeProxyConfiguration\nbindAddress: 0.0.0.0\n"
              "clientConnection:\n  kubeconfig: /var/lib/kube-proxy/kubeconfig\nclusterCIDR: \"\"\n"
              "metricsBindAddress: 0.0.0.0:10249\nmode: \"iptables\"\n")
    return [
        _sa("kube-proxy", labels, addon.role_arn),
        _obj("rbac.authorization.k8s.io/v1", "ClusterRoleBinding", "eks:kube-proxy", None,
             metadata={"labels": {"eks.amazonaws.com/component": "kube-proxy"}},
             roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole", "name": "system:node-proxier"},
             subjects=[{"kind": "ServiceAccount", "name": "kube-proxy", "namespace": "kube-system"}]),
        _obj("v1", "ConfigMap", "kube-proxy", metadata={"labels": labels}, data={
            "kubeconfig": "kind: Config\napiVersion: v1\nclusters:\n- cluster:\n    certificate-authority: "
                          "/var/run/secrets/kubernetes.io/serviceaccount/ca.crt\n    server: https://kubernetes."
                          "default.svc\n  name: default\ncontexts:\n- context:\n    cluster: default\n    namespace: "
                          "default\n    user: default\n  name: default\ncurrent-context: default\nusers:\n- name: "
                          "default\n  user:\n    tokenFile: /var/run/secrets/kubernetes.io/serviceaccount/token\n"}),
        _obj("v1", "ConfigMap", "kube-proxy-config", metadata={"labels": labels}, data={"config": config}),
        _obj("apps/v1", "DaemonSet", "kube-proxy", metadata={"labels": labels}, spec={
            "selector": {"matchLabels": {"k8s-app": "kube-proxy"}},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
            "template": {"metadata": {"labels": labels}, "spec": spec},
        }),
    ]


def ebs_csi(info: ClusterInfo, addon: Addon) -> list[dict]:
    config = _config(addon)
    registry = ECR.format(region=info.region)
    version = _bare(addon.version)
    common = {"app.kubernetes.io/component": "csi-driver", "app.kubernetes.io/managed-by": "EKS",
              "app.kubernetes.io/name": "aws-ebs-csi-driver", "app.kubernetes.io/version": version}
    eks_tag = f"eks-{info.version.replace('.', '-')}-3"

    def sidecar(name: str, image: str, args: list[str]) -> dict:
        return {"name": name, "image": f"{registry}/eks/{image}:{SIDECARS[image]}-{eks_tag}", "args": args,
                "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "10m", "memory": "40Mi"}},
                "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
                "volumeMounts": [{"mountPath": "/var/lib/csi/sockets/pluginproxy/", "name": "socket-dir"}]}

    controller_config = config.get("controller") if isinstance(config.get("controller"), dict) else {}
    node_config = config.get("node") if isinstance(config.get("node"), dict) else {}
    plugin_args = ["controller", "--endpoint=$(CSI_ENDPOINT)", f"--k8s-tag-cluster-id={info.name}"]
    extra_tags = controller_config.get("extraVolumeTags")
    if isinstance(extra_tags, dict) and extra_tags:
        # the chart's aws-ebs-csi-driver.extra-volume-tags: key=value pairs in key order, comma-separated
        plugin_args.append("--extra-tags=" + ",".join(f"{k}={v}" for k, v in sorted(extra_tags.items())))
    controller_selector = {"app": "ebs-csi-controller", "app.kubernetes.io/name": "aws-ebs-csi-driver"}
    controller_spec: dict[str, Any] = {
        "affinity": {
            "nodeAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 1, "preference": {
                "matchExpressions": [{"key": "eks.amazonaws.com/compute-type", "operator": "NotIn",
                                      "values": ["fargate", "auto", "hybrid"]}]}}]},
            "podAntiAffinity": {"preferredDuringSchedulingIgnoredDuringExecution": [{"weight": 100, "podAffinityTerm": {
                "labelSelector": {"matchExpressions": [{"key": "app", "operator": "In",
                                                        "values": ["ebs-csi-controller"]}]},
                "topologyKey": "kubernetes.io/hostname"}}]},
        },
        "containers": [
            {"name": "ebs-plugin", "image": f"{registry}/eks/aws-ebs-csi-driver:v{version}",
             "args": plugin_args + ["--batching=true", "--logging-format=text", "--v=2"],
             "env": [{"name": "CSI_ENDPOINT", "value": "unix:///var/lib/csi/sockets/pluginproxy/csi.sock"},
                     {"name": "AWS_REGION", "value": info.region}],
             "ports": [{"containerPort": 9808, "name": "healthz", "protocol": "TCP"}],
             "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "10m", "memory": "40Mi"}},
             "securityContext": {"allowPrivilegeEscalation": False, "readOnlyRootFilesystem": True},
             "volumeMounts": [{"mountPath": "/var/lib/csi/sockets/pluginproxy/", "name": "socket-dir"}]},
            sidecar("csi-provisioner", "csi-provisioner",
                    ["--timeout=60s", "--csi-address=$(ADDRESS)", "--v=2", "--feature-gates=Topology=true",
                     "--extra-create-metadata", "--leader-election=true", "--default-fstype=ext4"]),
            sidecar("csi-attacher", "csi-attacher",
                    ["--timeout=6m", "--csi-address=$(ADDRESS)", "--v=2", "--leader-election=true"]),
            sidecar("csi-snapshotter", "csi-snapshotter",
                    ["--csi-address=$(ADDRESS)", "--leader-election=true", "--extra-create-metadata"]),
            sidecar("csi-resizer", "csi-resizer",
                    ["--timeout=60s", "--csi-address=$(ADDRESS)", "--v=2", "--leader-election=true"]),
            sidecar("liveness-probe", "livenessprobe", ["--csi-address=/csi/csi.sock"]),
        ],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "priorityClassName": "system-cluster-critical",
        "securityContext": {"fsGroup": 1000, "runAsGroup": 1000, "runAsNonRoot": True, "runAsUser": 1000},
        "serviceAccountName": "ebs-csi-controller-sa",
        "tolerations": [{"key": "CriticalAddonsOnly", "operator": "Exists"},
                        {"effect": "NoExecute", "operator": "Exists", "tolerationSeconds": 300}],
        "volumes": [{"name": "socket-dir", "emptyDir": {}}],
    }
    _apply_pod_config(controller_spec, controller_config)
    node_selector = {"app": "ebs-csi-node", "app.kubernetes.io/name": "aws-ebs-csi-driver"}
    node_spec: dict[str, Any] = {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {"nodeSelectorTerms": [
            {"matchExpressions": [{"key": "eks.amazonaws.com/compute-type", "operator": "NotIn",
                                   "values": ["fargate", "auto", "hybrid"]}]}]}}},
        "containers": [
            {"name": "ebs-plugin", "image": f"{registry}/eks/aws-ebs-csi-driver:v{version}",
             "args": ["node", "--endpoint=$(CSI_ENDPOINT)", "--csi-mount-point-prefix=/var/lib/kubelet/plugins/"
                      "kubernetes.io/csi/ebs.csi.aws.com/", "--logging-format=text", "--v=2"],
             "env": [{"name": "CSI_ENDPOINT", "value": "unix:/csi/csi.sock"},
                     {"name": "CSI_NODE_NAME", "valueFrom": {"fieldRef": {"fieldPath": "spec.nodeName"}}}],
             "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "10m", "memory": "40Mi"}},
             "securityContext": {"privileged": True, "readOnlyRootFilesystem": True},
             "volumeMounts": [{"mountPath": "/var/lib/kubelet", "mountPropagation": "Bidirectional",
                               "name": "kubelet-dir"}, {"mountPath": "/csi", "name": "plugin-dir"},
                              {"mountPath": "/dev", "name": "device-dir"}]},
            {"name": "node-driver-registrar",
             "image": f"{registry}/eks/csi-node-driver-registrar:{SIDECARS['csi-node-driver-registrar']}-{eks_tag}",
             "args": ["--csi-address=$(ADDRESS)", "--kubelet-registration-path=$(DRIVER_REG_SOCK_PATH)", "--v=2"],
             "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "10m", "memory": "40Mi"}},
             "volumeMounts": [{"mountPath": "/csi", "name": "plugin-dir"},
                              {"mountPath": "/registration", "name": "registration-dir"}]},
            {"name": "liveness-probe", "image": f"{registry}/eks/livenessprobe:{SIDECARS['livenessprobe']}-{eks_tag}",
             "args": ["--csi-address=/csi/csi.sock"],
             "resources": {"limits": {"memory": "256Mi"}, "requests": {"cpu": "10m", "memory": "40Mi"}},
             "volumeMounts": [{"mountPath": "/csi", "name": "plugin-dir"}]},
        ],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "priorityClassName": "system-node-critical",
        "securityContext": {"fsGroup": 0, "runAsGroup": 0, "runAsNonRoot": False, "runAsUser": 0},
        "serviceAccountName": "ebs-csi-node-sa",
        "terminationGracePeriodSeconds": 30,
        "tolerations": node_config.get("tolerations") or TOLERATE_ALL,
        "volumes": [
            {"name": "kubelet-dir", "hostPath": {"path": "/var/lib/kubelet", "type": "Directory"}},
            {"name": "plugin-dir", "hostPath": {"path": "/var/lib/kubelet/plugins/ebs.csi.aws.com/",
                                                "type": "DirectoryOrCreate"}},
            {"name": "registration-dir", "hostPath": {"path": "/var/lib/kubelet/plugins_registry/",
                                                      "type": "Directory"}},
            {"name": "device-dir", "hostPath": {"path": "/dev", "type": "Directory"}},
        ],
    }
    objects = [
        _sa("ebs-csi-controller-sa", common, addon.role_arn),
        _sa("ebs-csi-node-sa", common),
        _cluster_role("ebs-external-provisioner-role", common, [
            {"apiGroups": [""], "resources": ["persistentvolumes"],
             "verbs": ["get", "list", "watch", "create", "patch", "delete"]},
            {"apiGroups": [""], "resources": ["persistentvolumeclaims"], "verbs": ["get", "list", "watch", "update"]},
            {"apiGroups": ["storage.k8s.io"], "resources": ["storageclasses", "csinodes"],
             "verbs": ["get", "list", "watch"]},
            {"apiGroups": [""], "resources": ["events"], "verbs": ["list", "watch", "create", "update", "patch"]},
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "list", "watch"]}]),
        _binding("ebs-csi-provisioner-binding", "ebs-external-provisioner-role", "ebs-csi-controller-sa", common),
        _cluster_role("ebs-external-attacher-role", common, [
            {"apiGroups": [""], "resources": ["persistentvolumes"], "verbs": ["get", "list", "watch", "update",
                                                                               "patch"]},
            {"apiGroups": ["storage.k8s.io"], "resources": ["volumeattachments", "volumeattachments/status",
                                                            "csinodes"],
             "verbs": ["get", "list", "watch", "update", "patch"]}]),
        _binding("ebs-csi-attacher-binding", "ebs-external-attacher-role", "ebs-csi-controller-sa", common),
        _cluster_role("ebs-csi-node-role", common, [
            {"apiGroups": [""], "resources": ["nodes"], "verbs": ["get", "patch"]},
            {"apiGroups": ["storage.k8s.io"], "resources": ["volumeattachments"], "verbs": ["get", "list", "watch"]},
            {"apiGroups": ["storage.k8s.io"], "resources": ["csinodes"], "verbs": ["get"]}]),
        _binding("ebs-csi-node-getter-binding", "ebs-csi-node-role", "ebs-csi-node-sa", common),
        _obj("apps/v1", "Deployment", "ebs-csi-controller", metadata={"labels": common}, spec={
            "replicas": int(controller_config.get("replicaCount") or 2),
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": controller_selector},
            "strategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {"metadata": {"labels": dict(common, **controller_selector)}, "spec": controller_spec},
        }),
        _obj("policy/v1", "PodDisruptionBudget", "ebs-csi-controller", metadata={"labels": common}, spec={
            "maxUnavailable": 1, "selector": {"matchLabels": controller_selector}}),
        _obj("apps/v1", "DaemonSet", "ebs-csi-node", metadata={"labels": common}, spec={
            "selector": {"matchLabels": node_selector},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
            "template": {"metadata": {"labels": dict(common, **node_selector)}, "spec": node_spec},
        }),
        _obj("storage.k8s.io/v1", "CSIDriver", "ebs.csi.aws.com", None, metadata={"labels": common}, spec={
            "attachRequired": True, "podInfoOnMount": False, "fsGroupPolicy": "File"}),
    ]
    default_class = config.get("defaultStorageClass")
    if isinstance(default_class, dict) and default_class.get("enabled"):
        objects.append(_obj("storage.k8s.io/v1", "StorageClass", "ebs-csi-default-sc", None, metadata={
            "labels": common, "annotations": {"storageclass.kubernetes.io/is-default-class": "true"}},
            provisioner="ebs.csi.aws.com", reclaimPolicy="Delete", volumeBindingMode="WaitForFirstConsumer",
            allowVolumeExpansion=True))
    return objects


def pod_identity_agent(info: ClusterInfo, addon: Addon) -> list[dict]:
    registry = ECR.format(region=info.region)
    image = f"{registry}/eks/eks-pod-identity-agent:{POD_IDENTITY_IMAGES.get(addon.version, '0.1.32')}"
    labels = {"app.kubernetes.io/instance": "eks-pod-identity-agent", "app.kubernetes.io/name":
              "eks-pod-identity-agent"}
    spec = {
        "affinity": {"nodeAffinity": {"requiredDuringSchedulingIgnoredDuringExecution": {
            "nodeSelectorTerms": [{"matchExpressions": LINUX_AFFINITY}]}}},
        "hostNetwork": True,
        "priorityClassName": "system-node-critical",
        "terminationGracePeriodSeconds": 30,
        "tolerations": TOLERATE_ALL,
        "initContainers": [{"name": "eks-pod-identity-agent-init", "image": image,
                            "command": ["/go-runner", "/eks-pod-identity-agent", "initialize"],
                            "securityContext": {"privileged": True}}],
        "containers": [{"name": "eks-pod-identity-agent", "image": image,
                        "command": ["/go-runner", "/eks-pod-identity-agent", "server"],
                        "args": ["--port", "80", "--cluster-name", info.name, "--probe-port", "2703"],
                        "ports": [{"containerPort": 80, "name": "proxy", "protocol": "TCP"},
                                  {"containerPort": 2703, "name": "probes-port", "protocol": "TCP"}],
                        "securityContext": {"capabilities": {"add": ["CAP_NET_BIND_SERVICE"]}}}],
    }
    return [_obj("apps/v1", "DaemonSet", "eks-pod-identity-agent", metadata={"labels": labels}, spec={
        "selector": {"matchLabels": labels},
        "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": "10%"}},
        "template": {"metadata": {"labels": labels}, "spec": spec},
    })]


def field(path: str) -> dict:
    """An env var's ``valueFrom`` a pod field."""
    return {"valueFrom": {"fieldRef": {"fieldPath": path}}}


def _sub(config: dict, key: str) -> dict:
    value = config.get(key)
    return value if isinstance(value, dict) else {}


def metrics_server(info: ClusterInfo, addon: Addon) -> list[dict]:
    """The EKS community add-on: upstream metrics-server (its Helm chart) with EKS's image and port 10251."""
    config = _config(addon)
    registry = ECR.format(region=info.region)
    selector = {"app.kubernetes.io/instance": "metrics-server", "app.kubernetes.io/name": "metrics-server"}
    labels = dict(selector, **{"app.kubernetes.io/managed-by": "EKS",
                               "app.kubernetes.io/version": _bare(addon.version)})
    args = ["--secure-port=10251", "--cert-dir=/tmp", "--kubelet-preferred-address-types=InternalIP,ExternalIP,Hostname",
            "--kubelet-use-node-status-port", "--metric-resolution=15s"]
    args += [str(a) for a in config.get("args") or [] if isinstance(a, (str, int))]
    spec: dict[str, Any] = {
        "containers": [{
            "name": "metrics-server",
            "image": f"{registry}/eks/metrics-server:{addon.version}",
            "imagePullPolicy": "IfNotPresent",
            "args": args,
            "ports": [{"containerPort": 10251, "name": "https", "protocol": "TCP"}],
            "livenessProbe": {"httpGet": {"path": "/livez", "port": "https", "scheme": "HTTPS"},
                              "periodSeconds": 10, "failureThreshold": 3},
            "readinessProbe": {"httpGet": {"path": "/readyz", "port": "https", "scheme": "HTTPS"},
                               "initialDelaySeconds": 20, "periodSeconds": 10, "failureThreshold": 3},
            "resources": {"requests": {"cpu": "100m", "memory": "200Mi"}},
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]},
                                "readOnlyRootFilesystem": True, "runAsNonRoot": True, "runAsUser": 1000,
                                "seccompProfile": {"type": "RuntimeDefault"}},
            "volumeMounts": [{"mountPath": "/tmp", "name": "tmp"}],
        }],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "priorityClassName": "system-cluster-critical",
        "serviceAccountName": "metrics-server",
        "volumes": [{"name": "tmp", "emptyDir": {}}],
    }
    _apply_pod_config(spec, config)
    reader_labels = dict(labels, **{"rbac.authorization.k8s.io/aggregate-to-admin": "true",
                                    "rbac.authorization.k8s.io/aggregate-to-edit": "true",
                                    "rbac.authorization.k8s.io/aggregate-to-view": "true"})
    objects = [
        _sa("metrics-server", labels, addon.role_arn),
        _cluster_role("system:metrics-server-aggregated-reader", reader_labels, [
            {"apiGroups": ["metrics.k8s.io"], "resources": ["pods", "nodes"], "verbs": ["get", "list", "watch"]}]),
        _cluster_role("system:metrics-server", labels, [
            {"apiGroups": [""], "resources": ["nodes/metrics"], "verbs": ["get"]},
            {"apiGroups": [""], "resources": ["pods", "nodes", "namespaces", "configmaps"],
             "verbs": ["get", "list", "watch"]}]),
        _obj("rbac.authorization.k8s.io/v1", "RoleBinding", "metrics-server-auth-reader", metadata={"labels": labels},
             roleRef={"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                      "name": "extension-apiserver-authentication-reader"},
             subjects=[{"kind": "ServiceAccount", "name": "metrics-server", "namespace": "kube-system"}]),
        _binding("metrics-server:system:auth-delegator", "system:auth-delegator", "metrics-server", labels),
        _binding("system:metrics-server", "system:metrics-server", "metrics-server", labels),
        _obj("v1", "Service", "metrics-server", metadata={"labels": labels}, spec={
            "ports": [{"name": "https", "port": 443, "protocol": "TCP", "targetPort": "https"}],
            "selector": selector, "type": "ClusterIP"}),
        _obj("apps/v1", "Deployment", "metrics-server", metadata={"labels": labels}, spec={
            "replicas": int(config.get("replicas") or 2),
            "revisionHistoryLimit": 10,
            "selector": {"matchLabels": selector},
            "template": {"metadata": {"labels": selector}, "spec": spec},
        }),
        _obj("apiregistration.k8s.io/v1", "APIService", "v1beta1.metrics.k8s.io", None, metadata={"labels": labels},
             spec={"group": "metrics.k8s.io", "version": "v1beta1", "groupPriorityMinimum": 100,
                   "versionPriority": 100, "insecureSkipTLSVerify": True,
                   "service": {"name": "metrics-server", "namespace": "kube-system", "port": 443}}),
    ]
    budget = _sub(config, "podDisruptionBudget")
    if budget.get("enabled"):
        limits = {k: budget[k] for k in ("minAvailable", "maxUnavailable") if budget.get(k) is not None}
        objects.append(_obj("policy/v1", "PodDisruptionBudget", "metrics-server", metadata={"labels": labels},
                            spec={**(limits or {"minAvailable": 1}), "selector": {"matchLabels": selector}}))
    return objects


CLOUDWATCH_NAMESPACE = "amazon-cloudwatch"
FLUENT_BIT_CONF = """[SERVICE]
    Flush                     5
    Grace                     30
    Log_Level                 error
    Daemon                    off
    Parsers_File              parsers.conf
    HTTP_Server               ${HTTP_SERVER}
    HTTP_Listen               0.0.0.0
    HTTP_Port                 ${HTTP_PORT}
    storage.path              /var/fluent-bit/state/flb-storage/
    storage.sync              normal
    storage.checksum          off
    storage.backlog.mem_limit 5M

@INCLUDE application-log.conf
@INCLUDE dataplane-log.conf
@INCLUDE host-log.conf
"""
APPLICATION_LOG_CONF = """[INPUT]
    Name                tail
    Tag                 application.*
    Exclude_Path        /var/log/containers/cloudwatch-agent*, /var/log/containers/fluent-bit*
    Path                /var/log/containers/*.log
    multiline.parser    docker, cri
    DB                  /var/fluent-bit/state/flb_container.db
    Mem_Buf_Limit       50MB
    Skip_Long_Lines     On
    Refresh_Interval    10
    Rotate_Wait         30
    storage.type        filesystem
    Read_from_Head      ${READ_FROM_HEAD}

[FILTER]
    Name                kubernetes
    Match               application.*
    Kube_URL            https://kubernetes.default.svc:443
    Kube_Tag_Prefix     application.var.log.containers.
    Merge_Log           On
    Merge_Log_Key       log_processed
    K8S-Logging.Parser  On
    K8S-Logging.Exclude Off
    Labels              Off
    Annotations         Off
    Use_Kubelet         On
    Kubelet_Port        10250
    Buffer_Size         0

[OUTPUT]
    Name                cloudwatch_logs
    Match               application.*
    region              ${AWS_REGION}
    log_group_name      /aws/containerinsights/${CLUSTER_NAME}/application
    log_stream_prefix   ${HOST_NAME}-
    auto_create_group   true
    extra_user_agent    container-insights
"""


def _log_conf(name: str, tag: str, path: str) -> str:
    return (f"[INPUT]\n    Name                tail\n    Tag                 {tag}.*\n    Path                {path}\n"
            f"    DB                  /var/fluent-bit/state/flb_{name}.db\n    Mem_Buf_Limit       5MB\n"
            f"    Skip_Long_Lines     On\n    Refresh_Interval    10\n    Read_from_Head      ${{READ_FROM_HEAD}}\n\n"
            f"[OUTPUT]\n    Name                cloudwatch_logs\n    Match               {tag}.*\n"
            f"    region              ${{AWS_REGION}}\n"
            f"    log_group_name      /aws/containerinsights/${{CLUSTER_NAME}}/{name}\n"
            f"    log_stream_prefix   ${{HOST_NAME}}-\n    auto_create_group   true\n"
            f"    extra_user_agent    container-insights\n")


def cloudwatch_observability(info: ClusterInfo, addon: Addon) -> list[dict]:
    """CloudWatch Container Insights in ``amazon-cloudwatch``: the agent operator, and what it makes of its default
    ``AmazonCloudWatchAgent`` (the ``cloudwatch-agent`` DaemonSet), Fluent Bit for container logs."""
    config = _config(addon)
    registry = ECR.format(region=info.region)
    namespace = CLOUDWATCH_NAMESPACE
    version = addon.version
    common = {"app.kubernetes.io/instance": "amazon-cloudwatch-observability",
              "app.kubernetes.io/managed-by": "EKS", "app.kubernetes.io/name": "amazon-cloudwatch-observability",
              "app.kubernetes.io/version": _bare(version)}
    tolerations = config.get("tolerations") if isinstance(config.get("tolerations"), list) else None

    manager_selector = {"app.kubernetes.io/component": "controller-manager",
                        "app.kubernetes.io/name": "amazon-cloudwatch-observability"}
    manager_config = _sub(config, "manager")
    manager_spec: dict[str, Any] = {
        "containers": [{
            "name": "manager",
            "image": f"{registry}/eks/cloudwatch-agent-operator:{version}",
            "imagePullPolicy": "IfNotPresent",
            "args": ["--metrics-bind-address=:8080", "--leader-elect"],
            "ports": [{"containerPort": 9443, "name": "webhook-server", "protocol": "TCP"}],
            "resources": {"requests": {"cpu": "100m", "memory": "64Mi"}},
            "securityContext": {"allowPrivilegeEscalation": False, "capabilities": {"drop": ["ALL"]}},
        }],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "serviceAccountName": "amazon-cloudwatch-observability-controller-manager",
        "terminationGracePeriodSeconds": 10,
    }
    if tolerations is not None:
        manager_spec["tolerations"] = tolerations
    _apply_pod_config(manager_spec, manager_config)

    agent_config = _sub(config, "agent")
    agent_labels = {"app.kubernetes.io/component": "amazon-cloudwatch-agent",
                    "app.kubernetes.io/instance": f"{namespace}.cloudwatch-agent",
                    "app.kubernetes.io/managed-by": "amazon-cloudwatch-agent-operator",
                    "app.kubernetes.io/name": "cloudwatch-agent", "app.kubernetes.io/part-of": "amazon-cloudwatch-agent",
                    "app.kubernetes.io/version": _bare(version)}
    agent_selector = {key: agent_labels[key] for key in ("app.kubernetes.io/component", "app.kubernetes.io/instance",
                                                         "app.kubernetes.io/managed-by", "app.kubernetes.io/part-of")}
    agent_spec: dict[str, Any] = {
        "containers": [{
            "name": "cloudwatch-agent",
            "image": f"{registry}/eks/cloudwatch-agent:{version}",
            "imagePullPolicy": "IfNotPresent",
            "env": [{"name": "K8S_NODE_NAME", **field("spec.nodeName")},
                    {"name": "HOST_IP", **field("status.hostIP")},
                    {"name": "HOST_NAME", **field("spec.nodeName")},
                    {"name": "K8S_NAMESPACE", **field("metadata.namespace")},
                    {"name": "POD_NAME", **field("metadata.name")}],
            "ports": [{"containerPort": 4315, "name": "app-signals-grpc", "protocol": "TCP"},
                      {"containerPort": 4316, "name": "app-signals-http", "protocol": "TCP"},
                      {"containerPort": 2000, "name": "app-signals-xray", "protocol": "TCP"},
                      {"containerPort": 25888, "name": "emf-tcp", "protocol": "TCP"}],
            "resources": {"limits": {"cpu": "500m", "memory": "512Mi"}, "requests": {"cpu": "250m", "memory": "128Mi"}},
            "volumeMounts": [{"mountPath": "/etc/cwagentconfig", "name": "cwagentconfig"},
                             {"mountPath": "/rootfs", "name": "rootfs", "readOnly": True},
                             {"mountPath": "/run/containerd/containerd.sock", "name": "containerdsock",
                              "readOnly": True},
                             {"mountPath": "/sys", "name": "sys", "readOnly": True},
                             {"mountPath": "/dev/disk", "name": "devdisk", "readOnly": True}],
        }],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "serviceAccountName": "cloudwatch-agent",
        "terminationGracePeriodSeconds": 60,
        "tolerations": tolerations if tolerations is not None else TOLERATE_ALL,
        "volumes": [{"name": "cwagentconfig", "configMap": {"name": "cloudwatch-agent",
                                                           "items": [{"key": "cwagentconfig.json",
                                                                      "path": "cwagentconfig.json"}]}},
                    {"name": "rootfs", "hostPath": {"path": "/"}},
                    {"name": "containerdsock", "hostPath": {"path": "/run/containerd/containerd.sock"}},
                    {"name": "sys", "hostPath": {"path": "/sys"}},
                    {"name": "devdisk", "hostPath": {"path": "/dev/disk/"}}],
    }
    _apply_pod_config(agent_spec, agent_config)
    agent_json = agent_config.get("config")
    if not isinstance(agent_json, dict):
        agent_json = {"agent": {"region": info.region},
                      "logs": {"metrics_collected": {"kubernetes": {"cluster_name": info.name,
                                                                    "enhanced_container_insights": True},
                                                     "application_signals": {"hosted_in": info.name}}},
                      "traces": {"traces_collected": {"application_signals": {}}}}

    logs_config = _sub(config, "containerLogs")
    fluent_config = _sub(logs_config, "fluentBit")
    fluent_labels = {"k8s-app": "fluent-bit", "kubernetes.io/cluster-service": "true", "version": "v1"}
    fluent_spec: dict[str, Any] = {
        "containers": [{
            "name": "fluent-bit",
            "image": f"{registry}/eks/aws-for-fluent-bit:{version}",
            "imagePullPolicy": "IfNotPresent",
            "env": [{"name": "AWS_REGION", "value": info.region}, {"name": "CLUSTER_NAME", "value": info.name},
                    {"name": "READ_FROM_HEAD", "value": "Off"}, {"name": "READ_FROM_TAIL", "value": "On"},
                    {"name": "HTTP_SERVER", "value": "On"}, {"name": "HTTP_PORT", "value": "2020"},
                    {"name": "HOST_NAME", **field("spec.nodeName")}, {"name": "HOSTNAME", **field("metadata.name")},
                    {"name": "CI_VERSION", "value": "k8s/1.3.17"}],
            "resources": {"limits": {"memory": "250Mi"}, "requests": {"cpu": "50m", "memory": "25Mi"}},
            "volumeMounts": [{"mountPath": "/var/fluent-bit/state", "name": "fluentbitstate"},
                             {"mountPath": "/var/log", "name": "varlog", "readOnly": True},
                             {"mountPath": "/var/lib/docker/containers", "name": "varlibdockercontainers",
                              "readOnly": True},
                             {"mountPath": "/fluent-bit/etc/", "name": "fluent-bit-config"},
                             {"mountPath": "/run/log/journal", "name": "runlogjournal", "readOnly": True},
                             {"mountPath": "/var/log/dmesg", "name": "dmesg", "readOnly": True}],
        }],
        "nodeSelector": {"kubernetes.io/os": "linux"},
        "serviceAccountName": "cloudwatch-agent",
        "terminationGracePeriodSeconds": 10,
        "tolerations": tolerations if tolerations is not None else TOLERATE_ALL,
        "volumes": [{"name": "fluentbitstate", "hostPath": {"path": "/var/fluent-bit/state"}},
                    {"name": "varlog", "hostPath": {"path": "/var/log"}},
                    {"name": "varlibdockercontainers", "hostPath": {"path": "/var/lib/docker/containers"}},
                    {"name": "fluent-bit-config", "configMap": {"name": "fluent-bit-config"}},
                    {"name": "runlogjournal", "hostPath": {"path": "/run/log/journal"}},
                    {"name": "dmesg", "hostPath": {"path": "/var/log/dmesg"}}],
    }
    _apply_pod_config(fluent_spec, fluent_config)

    agent_rules = [
        {"apiGroups": [""], "resources": ["pods", "pods/logs", "nodes", "nodes/proxy", "namespaces", "endpoints",
                                          "services"], "verbs": ["list", "watch", "get"]},
        {"apiGroups": [""], "resources": ["nodes/stats", "configmaps", "events"], "verbs": ["create", "get"]},
        {"apiGroups": [""], "resources": ["configmaps"], "resourceNames": ["cwagent-clusterleader"],
         "verbs": ["get", "update"]},
        {"apiGroups": ["apps"], "resources": ["replicasets", "daemonsets", "deployments", "statefulsets"],
         "verbs": ["list", "watch", "get"]},
        {"apiGroups": ["batch"], "resources": ["jobs"], "verbs": ["list", "watch"]},
        {"apiGroups": ["discovery.k8s.io"], "resources": ["endpointslices"], "verbs": ["list", "watch", "get"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"], "verbs": ["create", "get", "update"]},
        {"nonResourceURLs": ["/metrics"], "verbs": ["get", "list", "watch"]},
    ]
    manager_rules = [
        {"apiGroups": [""], "resources": ["configmaps", "serviceaccounts", "services", "namespaces", "pods",
                                          "events"], "verbs": ["create", "delete", "get", "list", "patch", "update",
                                                               "watch"]},
        {"apiGroups": ["apps"], "resources": ["daemonsets", "deployments", "statefulsets", "replicasets"],
         "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
        {"apiGroups": ["cloudwatch.aws.amazon.com"], "resources": ["*"],
         "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
        {"apiGroups": ["coordination.k8s.io"], "resources": ["leases"],
         "verbs": ["create", "get", "list", "update"]},
        {"apiGroups": ["rbac.authorization.k8s.io"], "resources": ["clusterroles", "clusterrolebindings"],
         "verbs": ["create", "delete", "get", "list", "patch", "update", "watch"]},
    ]
    objects = [
        _obj("v1", "Namespace", namespace, None, metadata={"labels": {"name": namespace}}),
        _sa("amazon-cloudwatch-observability-controller-manager", common, namespace=namespace),
        _sa("cloudwatch-agent", common, addon.role_arn, namespace=namespace),
        _cluster_role("amazon-cloudwatch-observability-manager-role", common, manager_rules),
        _binding("amazon-cloudwatch-observability-manager-rolebinding", "amazon-cloudwatch-observability-manager-role",
                 "amazon-cloudwatch-observability-controller-manager", common, namespace),
        _cluster_role("cloudwatch-agent-role", common, agent_rules),
        _binding("cloudwatch-agent-role-binding", "cloudwatch-agent-role", "cloudwatch-agent", common, namespace),
        _obj("v1", "ConfigMap", "cloudwatch-agent", namespace, metadata={"labels": agent_labels},
             data={"cwagentconfig.json": json.dumps(agent_json, sort_keys=True)}),
        _obj("apps/v1", "Deployment", "amazon-cloudwatch-observability-controller-manager", namespace,
             metadata={"labels": dict(common, **manager_selector)}, spec={
                 "replicas": int(manager_config.get("replicas") or 1),
                 "revisionHistoryLimit": 10,
                 "selector": {"matchLabels": manager_selector},
                 "template": {"metadata": {"labels": manager_selector}, "spec": manager_spec},
             }),
        _obj("v1", "Service", "amazon-cloudwatch-observability-webhook-service", namespace,
             metadata={"labels": common}, spec={
                 "ports": [{"port": 443, "protocol": "TCP", "targetPort": 9443}], "selector": manager_selector}),
        _obj("apps/v1", "DaemonSet", "cloudwatch-agent", namespace, metadata={"labels": agent_labels}, spec={
            "selector": {"matchLabels": agent_selector},
            "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
            "template": {"metadata": {"labels": agent_labels}, "spec": agent_spec},
        }),
        _obj("v1", "Service", "cloudwatch-agent", namespace, metadata={"labels": agent_labels}, spec={
            "internalTrafficPolicy": "Local", "selector": agent_selector,
            "ports": [{"name": "app-signals-grpc", "port": 4315, "protocol": "TCP", "targetPort": 4315},
                      {"name": "app-signals-http", "port": 4316, "protocol": "TCP", "targetPort": 4316},
                      {"name": "app-signals-xray", "port": 2000, "protocol": "TCP", "targetPort": 2000},
                      {"name": "emf-tcp", "port": 25888, "protocol": "TCP", "targetPort": 25888}]}),
    ]
    if logs_config.get("enabled", True) is not False:
        objects += [
            _obj("v1", "ConfigMap", "fluent-bit-config", namespace, metadata={"labels": fluent_labels}, data={
                "fluent-bit.conf": FLUENT_BIT_CONF, "application-log.conf": APPLICATION_LOG_CONF,
                "dataplane-log.conf": _log_conf("dataplane", "dataplane.tail", "/var/log/containers/aws-node*, "
                                                "/var/log/containers/kube-proxy*"),
                "host-log.conf": _log_conf("host", "host.messages", "/var/log/messages"),
                "parsers.conf": "[PARSER]\n    Name                syslog\n    Format              regex\n"
                                "    Regex               ^(?<time>[^ ]* {1,2}[^ ]* [^ ]*) (?<host>[^ ]*) "
                                "(?<ident>[a-zA-Z0-9_\\/\\.\\-]*)(?:\\[(?<pid>[0-9]+)\\])?(?:[^\\:]*\\:)? "
                                "*(?<message>.*)$\n    Time_Key            time\n"
                                "    Time_Format         %b %d %H:%M:%S\n"}),
            _obj("apps/v1", "DaemonSet", "fluent-bit", namespace, metadata={"labels": fluent_labels}, spec={
                "selector": {"matchLabels": {"k8s-app": "fluent-bit"}},
                "updateStrategy": {"type": "RollingUpdate", "rollingUpdate": {"maxUnavailable": 1}},
                "template": {"metadata": {"labels": fluent_labels}, "spec": fluent_spec},
            }),
        ]
    return objects


MANIFESTS = {
    "coredns": coredns,
    "vpc-cni": vpc_cni,
    "kube-proxy": kube_proxy,
    "aws-ebs-csi-driver": ebs_csi,
    "eks-pod-identity-agent": pod_identity_agent,
    "metrics-server": metrics_server,
    "amazon-cloudwatch-observability": cloudwatch_observability,
}
# the Deployment whose readiness is the add-on's health (add-ons that run a Deployment)
HEALTH_DEPLOYMENTS = {
    "coredns": ("kube-system", "coredns"),
    "aws-ebs-csi-driver": ("kube-system", "ebs-csi-controller"),
    "metrics-server": ("kube-system", "metrics-server"),
    "amazon-cloudwatch-observability": (CLOUDWATCH_NAMESPACE, "amazon-cloudwatch-observability-controller-manager"),
}


def manifests(info: ClusterInfo, addon: Addon) -> list[dict]:
    build = MANIFESTS.get(addon.name)
    return build(info, addon) if build else []


def _key(obj: dict) -> tuple[str, str | None, str]:
    return kind_name(obj) or "", obj["metadata"].get("namespace"), obj["metadata"]["name"]


class AddonController:
    """Applies and removes the add-ons' objects (see the module docstring)."""

    def __init__(self) -> None:
        self._applied: dict[str, tuple] = {}  # add-on name -> what its objects were last applied from
        self._known: dict[str, Addon] = {}
        self._bootstrapped = False

    def reconcile(self, ctx: Context) -> None:
        info = ctx.info
        if info is None:
            return
        if not self._bootstrapped:
            if ctx.get("storageclasses", None, "gp2") is None:
                ctx.try_create("storageclasses", json.loads(json.dumps(GP2)))
            self._bootstrapped = True
        present = {a.name: a for a in info.addons if a.status not in ("DELETING", "DELETE_FAILED")}
        for name, addon in present.items():
            fingerprint = (addon.version, addon.configuration, addon.role_arn, info.version)
            overwrite = self._applied.get(name) != fingerprint
            wanted = manifests(info, addon)
            previous = self._known.get(name)
            if overwrite and previous is not None and previous != addon:
                # what the new version or configuration no longer has goes, as a Helm upgrade removes it
                keep = {_key(o) for o in wanted} | {_key(o) for other in present.values() if other.name != name
                                                     for o in manifests(info, other)}
                for obj in reversed(manifests(info, previous)):
                    kind, namespace, object_name = _key(obj)
                    if kind and (kind, namespace, object_name) not in keep:
                        ctx.delete(kind, namespace, object_name)
            if self._apply(ctx, wanted, overwrite):
                self._applied[name] = fingerprint
            self._known[name] = addon
        for name in list(self._known):
            if name in present:
                continue
            addon = self._known.pop(name)
            self._applied.pop(name, None)
            if name in info.preserved_addons:
                continue
            wanted_elsewhere = {_key(o) for other in present.values() for o in manifests(info, other)}
            for obj in reversed(manifests(info, addon)):
                kind, namespace, object_name = _key(obj)
                if kind and (kind, namespace, object_name) not in wanted_elsewhere:
                    ctx.delete(kind, namespace, object_name)

    def _apply(self, ctx: Context, objects: list[dict], overwrite: bool) -> bool:
        done = True
        for obj in objects:
            kind, namespace, name = _key(obj)
            if not kind:
                continue
            existing = ctx.get(kind, namespace, name)
            if existing is None:
                if ctx.try_create(kind, obj) is None:
                    done = False
                continue
            if existing["metadata"].get("deletionTimestamp"):
                done = False
                continue
            if not overwrite:
                continue
            updated = dict(existing)
            meta = dict(existing["metadata"])
            for field in ("labels", "annotations"):
                if obj["metadata"].get(field):
                    meta[field] = dict(meta.get(field) or {}, **obj["metadata"][field])
            updated["metadata"] = meta
            for field, value in obj.items():
                if field in ("apiVersion", "kind", "metadata", "status"):
                    continue
                if field == "spec" and kind == "services":
                    value = dict(value)
                    value.setdefault("clusterIP", (existing.get("spec") or {}).get("clusterIP"))
                    value.setdefault("clusterIPs", (existing.get("spec") or {}).get("clusterIPs"))
                updated[field] = value
            if ctx.update(kind, updated) is None:
                done = False
        return done
