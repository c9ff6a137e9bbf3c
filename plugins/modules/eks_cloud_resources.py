#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_cloud_resources
short_description: Remove what makes AWS resources from inside an EKS cluster (load balancers, EBS volumes) before it goes
version_added: 0.1.0
description:
  - The first step of a teardown. Controllers inside the cluster make AWS resources that no CloudFormation stack or
    Terraform state knows about. The AWS Load Balancer Controller makes a load balancer and target groups for each
    Service of type LoadBalancer and each ALB Ingress. The EBS CSI driver makes an EBS volume for each claim. Deleting
    the node groups and the cluster first would leave those behind. They keep billing, and the load balancers'
    network interfaces and security groups stop the VPC and its subnets from being deleted. This module deletes the
    Kubernetes objects while the controllers still run, so that the controllers delete the AWS resources, and waits
    until AWS shows them gone.
  - Describes the cluster once. A cluster that does not exist, or whose status is not C(ACTIVE) or C(UPDATING), has
    nothing to remove. The module then returns RV(cluster_found=false) and C(changed=false), so a destroy that is run
    again after the cluster is gone passes.
  - Talks to the cluster's Kubernetes API in-process with an EKS token minted from the module's own credentials (as
    M(llmhub.eks.eks_kubeconfig) checks access). The token is sent only in an C(Authorization) header over HTTPS
    verified with the cluster's CA, and never appears in the result, warnings or errors. The module's AWS principal
    needs an access entry that may list and delete these objects, such as one with C(AmazonEKSClusterAdminPolicy).
  - O(kinds=load_balancer_services) finds every Service of type C(LoadBalancer), in all namespaces.
  - O(kinds=ingresses) finds every Ingress the AWS Load Balancer Controller handles. That is one whose
    C(spec.ingressClassName) names an IngressClass with C(spec.controller=ingress.k8s.aws/alb), one with the
    annotation C(kubernetes.io/ingress.class=alb), or one naming no class while such an IngressClass is the default.
  - O(kinds=volumes) finds every PersistentVolumeClaim bound to a PersistentVolume whose reclaim policy is
    C(Delete), and records the PV's EBS volume id (its CSI C(volumeHandle)). Claims of a C(Retain) class (such as
    C(gp3-retain)) are left alone, with their volumes. A claim in use is not removed while a pod mounts it
    (C(kubernetes.io/pvc-protection)). So the module finds the pods that mount those claims and deletes their top
    owners with C(propagationPolicy=Background). The top owner is the Deployment of a ReplicaSet's pod, the
    StatefulSet, the DaemonSet, the CronJob of a Job's pod, any other namespaced controller found through API
    discovery, or the pod itself when nothing controls it.
  - Deletes, in this order, those workloads, the Services, the Ingresses, then the claims. Objects already marked
    for deletion by an earlier, interrupted run are not deleted again, only waited for.
  - With O(wait=true), waits in one poll loop until those objects are gone from the API, and until AWS shows that no
    ELBv2 load balancer or target group tagged C(elbv2.k8s.aws/cluster=<cluster>) and made for one of those Services
    or Ingresses (their C(service.k8s.aws/stack) or C(ingress.k8s.aws/stack) tag) remains and that the recorded EBS
    volumes are gone. An orphan, made for an object gone long ago, is not waited for (no controller deletes it);
    C(playbooks/destroy.yml)'s sweep (M(llmhub.eks.eks_leftovers)) removes it. Load balancers and target groups are found with C(DescribeLoadBalancers) and
    C(DescribeTargetGroups), and C(DescribeTags) in batches of 20. The volumes of C(Delete) PersistentVolumes already
    C(Released) are waited for too. On timeout the task fails, naming what remains and what to check.
  - In check mode nothing is deleted. The module reports what would be deleted and what exists in AWS now.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  cluster_name:
    description: Name of the EKS cluster.
    type: str
    required: true
  state:
    description: V(absent) removes the objects that make AWS resources (the only state).
    type: str
    choices: [absent]
    default: absent
  kinds:
    description:
      - What to remove.
      - V(load_balancer_services) removes the Services of type C(LoadBalancer) (network load balancers).
      - V(ingresses) removes the Ingresses of the AWS Load Balancer Controller (application load balancers).
      - V(volumes) removes the claims of C(Delete) volumes (EBS volumes) and the workloads that mount them.
      - With only one of V(load_balancer_services) and V(ingresses), the wait covers only the load balancers and
        target groups tagged for that kind (C(service.k8s.aws/stack) or C(ingress.k8s.aws/stack)).
    type: list
    elements: str
    choices: [load_balancer_services, ingresses, volumes]
    default: [load_balancer_services, ingresses, volumes]
  wait:
    description:
      - Wait until the objects are gone from the Kubernetes API and their AWS resources are gone. The controllers
        delete them after the objects are deleted.
      - Without it, RV(remaining) is what AWS shows right after the deletions.
    type: bool
    default: true
  wait_timeout:
    description: Seconds to wait for the whole set.
    type: int
    default: 900
notes:
  - The AWS Load Balancer Controller and the EBS CSI driver must still run. Use this module before the add-ons, the
    node groups and the cluster are removed. A load balancer whose Service or Ingress is already gone while the
    controller was not running is not removed by anyone. The wait then times out and names it, so that it can be
    deleted by hand.
  - Workloads that mount a claim of a C(Delete) volume are deleted with everything they own. Anything that recreates
    them, such as a GitOps controller or an operator, should be stopped first.
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Remove load balancers and EBS volumes made from inside the cluster, before its node groups go
  llmhub.eks.eks_cloud_resources:
    cluster_name: llm-analytics-hub-prod-eks
  register: cloud_resources

- name: What a destroy would remove (check mode), without waiting
  llmhub.eks.eks_cloud_resources:
    cluster_name: llm-analytics-hub-prod-eks
    wait: false
  check_mode: true

- name: Only the load balancers, keeping the volumes' claims and their workloads
  llmhub.eks.eks_cloud_resources:
    cluster_name: llm-analytics-hub-prod-eks
    kinds: [load_balancer_services, ingresses]
    wait_timeout: 600
"""

RETURN = r"""
cluster_found:
  description:
    - Whether the cluster exists and serves its Kubernetes API (C(ACTIVE) or C(UPDATING)).
    - When false, nothing was looked at or deleted.
  returned: always
  type: bool
  sample: true
cluster_status:
  description: Status of the cluster as described (null when it does not exist).
  returned: always
  type: str
  sample: ACTIVE
deleted:
  description:
    - The objects this run deleted (in check mode, would delete).
    - Objects already marked for deletion are not listed; they are waited for.
  returned: always
  type: dict
  contains:
    services:
      description: Services of type C(LoadBalancer), as C(namespace/name).
      type: list
      elements: str
      sample: ["apps/web"]
    ingresses:
      description: Ingresses of the AWS Load Balancer Controller, as C(namespace/name).
      type: list
      elements: str
      sample: ["apps/web"]
    persistent_volume_claims:
      description: Claims bound to C(Delete) volumes, as C(namespace/name).
      type: list
      elements: str
      sample: ["analytics/data-postgres-0"]
    workloads:
      description: Top owners of the pods that mounted those claims, as C(Kind namespace/name).
      type: list
      elements: str
      sample: ["StatefulSet analytics/postgres", "Deployment apps/uploader"]
remaining:
  description:
    - The AWS resources still there at the end. With O(wait=true) and success, all three lists are empty.
    - In check mode, or with O(wait=false), what AWS shows at that moment.
  returned: always
  type: dict
  contains:
    load_balancers:
      description: ARNs of the load balancers tagged C(elbv2.k8s.aws/cluster=<cluster>) for the Services and Ingresses
        found (of the O(kinds) removed).
      type: list
      elements: str
      sample: ["arn:aws:elasticloadbalancing:us-east-1:123456789012:loadbalancer/net/k8s-apps-web-0123456789/50dc6c495c0c9188"]
    target_groups:
      description: ARNs of the target groups tagged C(elbv2.k8s.aws/cluster=<cluster>) for the Services and Ingresses
        found (of the O(kinds) removed).
      type: list
      elements: str
    volumes:
      description: Ids of the EBS volumes of the removed claims (and of C(Released) C(Delete) volumes) that still exist.
      type: list
      elements: str
      sample: ["vol-0123456789abcdef0"]
volume_ids:
  description: EBS volume ids of the claims removed (or that would be), and of C(Released) C(Delete) volumes.
  returned: always
  type: list
  elements: str
  sample: ["vol-0123456789abcdef0"]
"""

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils import cloud_resources as cr
from ansible_collections.llmhub.eks.plugins.module_utils import eks_token
from ansible_collections.llmhub.eks.plugins.module_utils import kubeconfig as kc
from ansible_collections.llmhub.eks.plugins.module_utils.common import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_concurrently
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.common import wait_for_set
from ansible_collections.llmhub.eks.plugins.module_utils.eks import describe_cluster
from ansible_collections.llmhub.eks.plugins.module_utils.eks import eks_client

# Statuses whose API answers (UPDATING: a version or config update; the endpoint keeps serving).
SERVING_STATUSES = ("ACTIVE", "UPDATING")
TAGS_BATCH = 20  # DescribeTags takes at most 20 ARNs
FILTER_BATCH = 200  # values of one EC2 filter
GONE = "gone"
LOAD_BALANCERS = "load balancers"
TARGET_GROUPS = "target groups"
VOLUME_GONE_STATES = ("deleted",)
# (kind: the prefix of a wait member, the collection listed to see whether its objects are gone)
COLLECTIONS = (("Service", cr.SERVICES), ("Ingress", cr.INGRESSES), ("PersistentVolumeClaim", cr.CLAIMS))
OBJECT_PATHS = {
    "Service": ("v1", "services"),
    "Ingress": ("networking.k8s.io/v1", "ingresses"),
    "PersistentVolumeClaim": ("v1", "persistentvolumeclaims"),
}
CONTROLLERS = (("aws-load-balancer-controller", "the AWS Load Balancer Controller"),
               ("ebs-csi-controller", "the EBS CSI driver's controller"))


def empty_deleted():
    return {"services": [], "ingresses": [], "persistent_volume_claims": [], "workloads": []}


def empty_remaining():
    return {"load_balancers": [], "target_groups": [], "volumes": []}


class CloudResources:
    """One run: the cluster, what is found in it, the deletions, the wait."""

    def __init__(self, module):
        self.module = module
        self.name = module.params["cluster_name"]
        self.kinds = set(module.params["kinds"])
        self.stack_tags = cr.stack_tags_of(self.kinds)
        self.api = None
        self.sts = None
        self.resources = {}  # (apiVersion, kind) -> (resource, namespaced) or None
        self.discovered = {}  # apiVersion -> its resources list, or None
        self.last_view = {}
        self.last_aws = empty_remaining()
        # stack tag values of the Services and Ingresses found (None until discovered: every load balancer)
        self.stacks = None
        self._elbv2 = None
        self._ec2 = None

    # -- AWS ------------------------------------------------------------------------------------

    @property
    def elbv2(self):
        if self._elbv2 is None:
            self._elbv2 = retrying_client(self.module, "elbv2")
        return self._elbv2

    @property
    def ec2(self):
        if self._ec2 is None:
            self._ec2 = retrying_client(self.module, "ec2")
        return self._ec2

    def tags_of(self, arns):
        """{arn: {key: value}} with DescribeTags, 20 ARNs a call."""
        tags = {}
        for start in range(0, len(arns), TAGS_BATCH):
            batch = arns[start:start + TAGS_BATCH]
            for description in self.elbv2.describe_tags(aws_retry=True, ResourceArns=batch)["TagDescriptions"]:
                tags[description["ResourceArn"]] = {t["Key"]: t.get("Value", "") for t in description.get("Tags") or []}
        return tags

    def tagged_load_balancing(self):
        """(load balancer ARNs, target group ARNs) tagged for the cluster (of the kinds removed), sorted."""
        if self.stack_tags == ():
            return [], []
        for attempt in range(3):
            try:
                balancers = [lb["LoadBalancerArn"] for lb in paginate(self.elbv2, "describe_load_balancers",
                                                                      "LoadBalancers")]
                groups = [tg["TargetGroupArn"] for tg in paginate(self.elbv2, "describe_target_groups",
                                                                  "TargetGroups")]
                tags = self.tags_of(balancers + groups)
            except is_boto3_error_code(["LoadBalancerNotFound", "TargetGroupNotFound"]):
                if attempt == 2:
                    raise
                continue  # one went between the listing and DescribeTags: look again
            break

        def ours(arn):
            # only those of the Services and Ingresses found here: an orphan (its object long gone) is left to
            # destroy.yml's sweep (eks_leftovers) instead of being waited on until the timeout
            found = tags.get(arn, {})
            return cr.tagged_for(found, self.name, self.stack_tags) and (
                self.stacks is None or cr.made_for_stacks(found, self.stacks))

        return sorted(arn for arn in balancers if ours(arn)), sorted(arn for arn in groups if ours(arn))

    def volumes_left(self, volume_ids):
        """{volume id: state} of the volumes of ``volume_ids`` that still exist (not ``deleted``)."""
        found = {}
        for start in range(0, len(volume_ids), FILTER_BATCH):
            batch = volume_ids[start:start + FILTER_BATCH]
            for volume in paginate(self.ec2, "describe_volumes", "Volumes",
                                   Filters=[{"Name": "volume-id", "Values": batch}]):
                if volume.get("State") not in VOLUME_GONE_STATES:
                    found[volume["VolumeId"]] = volume.get("State") or "unknown"
        return found

    def look_at_aws(self, volume_ids):
        balancers, groups = self.tagged_load_balancing()
        volumes = self.volumes_left(volume_ids) if volume_ids else {}
        self.last_aws = {"load_balancers": balancers, "target_groups": groups, "volumes": sorted(volumes)}
        return balancers, groups, volumes

    # -- Kubernetes -----------------------------------------------------------------------------

    def connect(self, cluster):
        sts = self.module.client("sts")
        self.api = kc.KubernetesApi(cluster["endpoint"], cluster["certificateAuthority"]["data"],
                                    lambda: eks_token.mint_token(sts, self.name))
        self.sts = sts

    def caller(self):
        try:
            return self.sts.get_caller_identity()["Arn"]
        except Exception:  # pylint: disable=broad-exception-caught
            return "this module's AWS principal"

    def fail_access(self, error, cluster):
        if error.status == 401:
            self.module.fail_json(msg=(
                f"The Kubernetes API of {self.name} refused the token of {self.caller()} (401 Unauthorized): that "
                "principal has no access entry in the cluster. Add it to eks_access_entries (or keep "
                "eks_access_include_deployer: true) and run `ansible-playbook playbooks/site.yml --tags eks`, or run "
                "with credentials that have one"))
        if error.status == 403:
            self.module.fail_json(msg=(
                f"{self.caller()} may not do what removing the cloud resources of {self.name} needs ({error}): "
                "associate AmazonEKSClusterAdminPolicy (cluster scope) with its access entry (eks_access_entries), "
                "or run with credentials that have it"))
        if error.status is not None:
            self.module.fail_json(msg=(
                f"The Kubernetes API of {self.name} answered an error while the module looked for its load "
                f"balancers and volumes: {error}. Run this again; deleting the cluster first would leave them behind"))
        vpc = cluster.get("resourcesVpcConfig") or {}
        if vpc.get("endpointPublicAccess"):
            hint = (f"its public endpoint admits only {', '.join(vpc.get('publicAccessCidrs') or [])} "
                    "(eks_public_access_cidrs): add this machine's address there")
        else:
            hint = "its endpoint is private only: run from inside the VPC (or a peered network or VPN)"
        self.module.fail_json(msg=(
            f"Cannot reach the Kubernetes API of {self.name} at {cluster.get('endpoint')} to remove its load "
            f"balancers and volumes before it goes: {error}. {hint}. Deleting the cluster first would leave them "
            "behind (billing, and blocking the VPC's deletion)"))

    def list_or_empty(self, path):
        """The items of ``path``; [] when the server does not serve that resource (404)."""
        try:
            return self.api.list(path)
        except kc.KubernetesApiError as e:
            if e.status == 404:
                return []
            raise

    def resource_of(self, api_version, kind):
        """(resource, namespaced) of ``kind`` in ``api_version``, from the table of workloads or discovery;
        None when the server does not serve it."""
        known = self.resources.get((api_version, kind), False)
        if known is not False:
            return known
        resource = cr.WORKLOAD_RESOURCES.get((cr.group_of(api_version), kind))
        if resource is not None:
            found = (resource, True)
        else:
            if api_version not in self.discovered:
                try:
                    self.discovered[api_version] = self.api.get(cr.api_root(api_version)).get("resources") or []
                except kc.KubernetesApiError as e:
                    if e.status != 404:
                        raise
                    self.discovered[api_version] = []
            found = next(((r["name"], bool(r.get("namespaced"))) for r in self.discovered[api_version]
                          if r.get("kind") == kind and "/" not in r.get("name", "")), None)
        self.resources[(api_version, kind)] = found
        return found

    def fetch_owner(self, namespace, ref):
        """The owner ``ref`` of an object in ``namespace``, or None (gone, cluster-scoped or not served)."""
        found = self.resource_of(ref.get("apiVersion"), ref.get("kind"))
        if found is None or not found[1] or not namespace:
            return None
        try:
            return self.api.get(cr.object_path(ref.get("apiVersion"), found[0], namespace, ref.get("name", "")))
        except kc.KubernetesApiError as e:
            if e.status == 404:
                return None
            raise

    def workload_path(self, workload):
        found = self.resource_of(workload.get("apiVersion"), workload.get("kind"))
        return cr.object_path(workload.get("apiVersion"), found[0], cr.meta(workload).get("namespace"),
                              cr.meta(workload).get("name"))

    def discover(self):
        """What to delete and what to wait for: {services, ingresses, claims, workloads, volume_ids}, each
        ([to delete], [already deleting]) but volume_ids."""
        found = {"services": ([], []), "ingresses": ([], []), "claims": ([], []), "workloads": ([], []),
                 "volume_ids": []}
        if "load_balancer_services" in self.kinds:
            found["services"] = cr.split_deleting(cr.load_balancer_services(self.api.list(cr.SERVICES)))
        if "ingresses" in self.kinds:
            ingresses = self.list_or_empty(cr.INGRESSES)
            classes = self.list_or_empty(cr.INGRESS_CLASSES) if ingresses else []
            found["ingresses"] = cr.split_deleting(cr.alb_ingresses(ingresses, classes))
        if "volumes" in self.kinds:
            volumes = self.api.list(cr.VOLUMES)
            plan = cr.claims_to_delete(self.api.list(cr.CLAIMS), volumes)
            claims = [item["claim"] for item in plan]
            found["claims"] = cr.split_deleting(claims)
            pods = cr.pods_using(self.api.list(cr.PODS), claims) if claims else []
            found["workloads"] = cr.split_deleting(cr.workloads_to_delete(pods, self.fetch_owner))
            found["volume_ids"] = sorted({item["volume_id"] for item in plan if item["volume_id"]}
                                         | set(cr.released_volume_ids(volumes)))
        return found

    def delete_all(self, objects, path_of, description):
        run_concurrently(lambda obj: self.api.delete(path_of(obj), "Background"), objects, description,
                         label=cr.key)

    @staticmethod
    def object_path(kind, obj):
        api_version, resource = OBJECT_PATHS[kind]
        return cr.object_path(api_version, resource, cr.meta(obj).get("namespace"), cr.meta(obj).get("name"))

    # -- the wait -------------------------------------------------------------------------------

    def look(self, pending):
        """One round of the wait: {member: {"state": ...}} for the pending members."""
        view = {}
        for kind, path in COLLECTIONS:
            wanted = [m for m in pending if m.startswith(kind + " ")]
            if not wanted:
                continue
            try:
                present = {cr.key(o): o for o in self.api.list(path)}
            except kc.KubernetesApiError as e:
                view.update({m: {"state": f"not known ({e})"} for m in wanted})
                continue
            for member in wanted:
                obj = present.get(member.split(" ", 1)[1])
                if obj is None:
                    view[member] = {"state": GONE}
                else:
                    state = "deleting" if cr.is_deleting(obj) else "present"
                    view[member] = {"state": f"{state} ({cr.finalizers_note(obj)})", "object": obj}
        aws_members = [m for m in pending if m in (LOAD_BALANCERS, TARGET_GROUPS) or m.startswith("EBS volume ")]
        if aws_members:
            volume_ids = [m.split(" ", 2)[2] for m in aws_members if m.startswith("EBS volume ")]
            balancers, groups, volumes = self.look_at_aws(volume_ids)
            for member, arns in ((LOAD_BALANCERS, balancers), (TARGET_GROUPS, groups)):
                if member in pending:
                    view[member] = {"state": f"{len(arns)} left" if arns else GONE}
            for volume_id in volume_ids:
                view[f"EBS volume {volume_id}"] = {"state": volumes.get(volume_id, GONE)}
        self.last_view.update(view)
        return view

    def wait(self, members, timeout):
        try:
            wait_for_set(self.look, members, lambda r: r["state"] == GONE, lambda r: None, timeout,
                         f"the load balancers and volumes of {self.name} to go")
        except AnsibleAWSError:
            return False
        return True

    def controllers_note(self):
        """What the controllers that delete the AWS resources look like: their Deployments' ready replicas."""
        notes = []
        for name, what in CONTROLLERS:
            try:
                deployments = self.api.list("/apis/apps/v1/deployments", {"fieldSelector": f"metadata.name={name}"})
            except kc.KubernetesApiError:
                return ""
            if not deployments:
                notes.append(f"{what} is not installed (no Deployment {name})")
            else:
                for deployment in deployments:
                    ready = int((deployment.get("status") or {}).get("readyReplicas") or 0)
                    notes.append(f"{what} (Deployment {cr.key(deployment)}) has {ready} ready replica(s)")
        return "; ".join(notes)

    def users_note(self, claims):
        try:
            pods = cr.pods_using(self.api.list(cr.PODS), claims)
        except kc.KubernetesApiError:
            return ""
        return ", ".join(cr.key(p) for p in pods)

    def fail_timeout(self, timeout, result):
        remaining = []
        for member, view in sorted(self.last_view.items()):
            if view["state"] == GONE:
                continue
            if member in (LOAD_BALANCERS, TARGET_GROUPS):
                arns = self.last_aws["load_balancers" if member == LOAD_BALANCERS else "target_groups"]
                remaining.append(f"{member}: {', '.join(arns)}")
            elif member.startswith("EBS volume "):
                remaining.append(f"{member} ({view['state']})")
            else:
                remaining.append(f"{member}, {view['state']}")
        claims = [v["object"] for m, v in self.last_view.items()
                  if m.startswith("PersistentVolumeClaim ") and v["state"] != GONE and "object" in v]
        users = self.users_note(claims) if claims else ""
        controllers = self.controllers_note()
        self.module.fail_json(
            msg=(f"Timed out after {timeout}s waiting for the load balancers and volumes of {self.name} to go; "
                 f"remaining: {'; '.join(remaining)}. "
                 + (f"Pods still using the claims: {users}. " if users else "")
                 + (f"Controllers: {controllers}. " if controllers else "")
                 + "Check the AWS Load Balancer Controller's logs (`kubectl -n kube-system logs "
                 "deployment/aws-load-balancer-controller`) and the events of the Services and Ingresses "
                 "(`kubectl describe`), the claims' finalizers (kubernetes.io/pvc-protection stays while a pod "
                 "mounts the claim) and the EBS CSI driver's logs (`kubectl -n kube-system logs "
                 "deployment/ebs-csi-controller -c csi-provisioner`); a load balancer whose object is gone is "
                 "deleted by no one: delete it by hand. Then run this again (or raise wait_timeout)"),
            **result)

    # -- the run --------------------------------------------------------------------------------

    def absent(self):
        params = self.module.params
        if not self.kinds:
            self.module.fail_json(msg=f"kinds: give at least one of {', '.join(cr.KINDS)}")
        if params["wait_timeout"] <= 0:
            self.module.fail_json(msg="wait_timeout: must be a positive number of seconds")
        cluster = describe_cluster(eks_client(self.module), self.name)
        status = (cluster or {}).get("status")
        if cluster is None or status not in SERVING_STATUSES:
            if cluster is not None:
                self.module.warn(f"EKS cluster {self.name} is {status}: its Kubernetes API does not serve, so "
                                 "nothing inside it was looked at")
            self.module.exit_json(changed=False, cluster_found=False, cluster_status=status,
                                  deleted=empty_deleted(), remaining=empty_remaining(), volume_ids=[],
                                  diff={"before": empty_deleted(), "after": empty_deleted()})
        self.connect(cluster)
        try:
            found = self.discover()
        except kc.KubernetesApiError as e:
            self.fail_access(e, cluster)
        services, ingresses, claims, workloads = (found[k] for k in ("services", "ingresses", "claims", "workloads"))
        self.stacks = cr.stacks_of(services[0] + services[1], ingresses[0] + ingresses[1])
        deleted = {
            "services": [cr.key(o) for o in services[0]],
            "ingresses": [cr.key(o) for o in ingresses[0]],
            "persistent_volume_claims": [cr.key(o) for o in claims[0]],
            "workloads": [cr.workload_label(o) for o in workloads[0]],
        }
        changed = any(deleted.values())
        before = {
            "services": sorted(cr.key(o) for o in services[0] + services[1]),
            "ingresses": sorted(cr.key(o) for o in ingresses[0] + ingresses[1]),
            "persistent_volume_claims": sorted(cr.key(o) for o in claims[0] + claims[1]),
            "workloads": sorted(cr.workload_label(o) for o in workloads[0] + workloads[1]),
        }
        diff = {"before": before, "after": empty_deleted()}
        volume_ids = found["volume_ids"]
        result = dict(changed=changed, cluster_found=True, cluster_status=status, deleted=deleted,
                      volume_ids=volume_ids, diff=diff)

        if not self.module.check_mode:
            try:
                self.delete_all(workloads[0], self.workload_path, f"delete the workloads of the claims of {self.name}")
                self.delete_all(services[0], lambda o: self.object_path("Service", o),
                                f"delete the LoadBalancer Services of {self.name}")
                self.delete_all(ingresses[0], lambda o: self.object_path("Ingress", o),
                                f"delete the ALB Ingresses of {self.name}")
                self.delete_all(claims[0], lambda o: self.object_path("PersistentVolumeClaim", o),
                                f"delete the claims of Delete volumes of {self.name}")
            except AnsibleAWSError as e:
                self.module.fail_json(msg=f"{e}", remaining=empty_remaining(), **result)

        if self.module.check_mode or not params["wait"]:
            self.look_at_aws(volume_ids)
            self.module.exit_json(remaining=self.last_aws, **result)

        members = ([f"Service {cr.key(o)}" for o in services[0] + services[1]]
                   + [f"Ingress {cr.key(o)}" for o in ingresses[0] + ingresses[1]]
                   + [f"PersistentVolumeClaim {cr.key(o)}" for o in claims[0] + claims[1]]
                   + ([LOAD_BALANCERS, TARGET_GROUPS] if self.stack_tags != () and self.stacks else [])
                   + [f"EBS volume {volume_id}" for volume_id in volume_ids])
        if not self.wait(members, params["wait_timeout"]):
            result["remaining"] = self.last_aws
            self.fail_timeout(params["wait_timeout"], result)
        self.module.exit_json(remaining=self.last_aws, **result)


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        state=dict(type="str", choices=["absent"], default="absent"),
        kinds=dict(type="list", elements="str", choices=list(cr.KINDS), default=list(cr.KINDS)),
        wait=dict(type="bool", default=True),
        wait_timeout=dict(type="int", default=900),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    run = CloudResources(module)
    run_module(module, run.absent)


if __name__ == "__main__":
    main()
