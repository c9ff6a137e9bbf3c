"""What makes a cluster's store behave like a cluster, kwok-style (no containers run).

``Controllers(store, cloud, durations=..., name=...)`` (:mod:`.runtime`) runs, on
one background thread per cluster, level-triggered on the store's changes:

* :mod:`.nodes`: Node objects for the EKS managed node groups (from the
  :class:`~.cloud.Cloud`'s snapshot), the pod garbage collector;
* :mod:`.scheduler`: kube-scheduler's filters and scores, FailedScheduling;
* :mod:`.kubelet`: bound pods start (``k8s_pod_start`` of the latency
  profile), Job pods complete;
* :mod:`.workloads`: Deployment, ReplicaSet, StatefulSet, DaemonSet, Job,
  CronJob controllers and their status;
* :mod:`.endpoints`: Endpoints and EndpointSlices;
* :mod:`.aggregation`: the ``Available`` condition of APIServices;
* :mod:`.autoscaling`: HorizontalPodAutoscalers (over the metrics API);
* :mod:`.addons`: the EKS add-ons' workloads in ``kube-system``;
* :mod:`.storage`: claims, volumes, the EBS CSI provisioner;
* :mod:`.loadbalancers`: the AWS Load Balancer Controller;
* :mod:`.external_secrets`: the External Secrets Operator (SecretStores,
  ClusterSecretStores, ExternalSecrets over Secrets Manager, as an IRSA role;
  :mod:`.iam` evaluates the role's policies).

Nothing here imports moto: :mod:`emulator.k8s.eks_bridge` implements the
cloud over the emulator's backends and starts/stops the controllers with each
cluster's Kubernetes API.
"""

from .cloud import (
    Addon, Cloud, CloudError, ClusterInfo, InstanceType, ListenerSpec, LoadBalancerSpec, NodeGroup, NullCloud,
    Rollout, SecretValue, StaticCloud, Subnet, TargetGroupSpec, VolumeRequest,
)
from .runtime import Context, Controllers

__all__ = [
    "Addon", "Cloud", "CloudError", "ClusterInfo", "Context", "Controllers", "InstanceType", "ListenerSpec",
    "LoadBalancerSpec", "NodeGroup", "NullCloud", "Rollout", "SecretValue", "StaticCloud", "Subnet", "TargetGroupSpec",
    "VolumeRequest",
]
