# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of playbooks/diagnose.yml: the overview's three troubleshooting cases ("Troubleshooting Guide") checked
against what llmhub.eks.eks_diagnose_info read in AWS and what the Kubernetes API holds, each finding with its fix."""

from __future__ import annotations

import ipaddress

import yaml

CASES = {
    "nodes_not_joining": "Nodes not joining cluster",
    "pods_pending": "Pods stuck in Pending",
    "load_balancer_not_creating": "Load balancer not creating",
}
PASS = "\u2713"
FAIL = "\u2717"
ROLE_ANNOTATION = "eks.amazonaws.com/role-arn"
NODEGROUP_LABEL = "eks.amazonaws.com/nodegroup"
NODE_ENTRY_TYPES = ("EC2_LINUX", "EC2_WINDOWS", "EC2")
# What a node in a private subnet without a NAT gateway needs to reach: EC2 (the node's own description), ECR (the
# images, their layers on S3) and STS (IRSA, the kubelet's credentials).
PRIVATE_NODE_ENDPOINTS = ("ec2", "ecr.api", "ecr.dkr", "sts")
ECR_READ_POLICIES = ("AmazonEC2ContainerRegistryReadOnly", "AmazonEC2ContainerRegistryPullOnly")
APPLY = "`ansible-playbook playbooks/site.yml --tags {tags}` (`make apply TAGS={tags}`)"
# What to do about the health issue codes of a managed node group (EKS API Issue.code).
HEALTH_FIXES = {
    "AccessDenied": "the node role or the EKS service-linked role lacks permissions: restore the node role's policies "
                    "(" + APPLY.format(tags="iam") + ")",
    "AsgInstanceLaunchFailures": "the Auto Scaling group cannot launch instances (capacity, quota, launch template): "
                                 "change nodegroups_definitions[].instance_types or ask for a quota increase",
    "Ec2SecurityGroupNotFound": "the launch template names a deleted security group: " + APPLY.format(tags="vpc,nodegroups"),
    "Ec2SubnetInvalidConfiguration": "a node subnet has no route out or no public IP: " + APPLY.format(tags="vpc"),
    "IamInstanceProfileNotFound": "the node role's instance profile is missing: " + APPLY.format(tags="iam"),
    "IamNodeRoleNotFound": "the node role is missing: " + APPLY.format(tags="iam"),
    "NodeCreationFailure": "instances launched but did not register: check the node role, security groups and the "
                           "subnets' routes below; on an instance `sudo journalctl -u kubelet`",
    "InstanceLimitExceeded": "the account's EC2 instance quota is reached: ask for a quota increase",
    "InsufficientFreeAddresses": "the node subnets have no free addresses: enlarge vpc_private_subnets",
}


def _finding(case, check, subject, problem, fix):
    return {"case": case, "check": check, "subject": subject, "problem": problem, "fix": fix}


def _check(case, check_id, title, findings, healthy):
    return {"case": case, "id": check_id, "title": title, "ok": not findings, "mark": FAIL if findings else PASS,
            "detail": healthy if not findings else f"{len(findings)} finding(s)", "findings": findings}


def _names(items):
    return ", ".join(items)


# --- Kubernetes objects ---------------------------------------------------------------------------------------------

def _meta(obj):
    return obj.get("metadata") or {}


def _condition(obj, kind):
    return next((c for c in (obj.get("status") or {}).get("conditions") or [] if c.get("type") == kind), {})


def _owner(pod):
    """The workload of a pod: ``Deployment/<name>`` for a ReplicaSet's pod of a Deployment, else its owner."""
    owners = _meta(pod).get("ownerReferences") or []
    if not owners:
        return f"Pod/{_meta(pod).get('name')}"
    owner = owners[0]
    template_hash = (_meta(pod).get("labels") or {}).get("pod-template-hash")
    if owner.get("kind") == "ReplicaSet" and template_hash and owner.get("name", "").endswith("-" + template_hash):
        return "Deployment/" + owner["name"][:-len(template_hash) - 1]
    return f"{owner.get('kind')}/{owner.get('name')}"


def _map_roles(config_map):
    try:
        entries = yaml.safe_load(((config_map or {}).get("data") or {}).get("mapRoles") or "[]") or []
    except yaml.YAMLError:
        return []
    return [e.get("rolearn") for e in entries if isinstance(e, dict) and e.get("rolearn")]


def diagnose_kubernetes_facts(results):
    """The registered loop of kubernetes.core.k8s_info over Node, Pod, Service, Ingress, Deployment, ServiceAccount
    and the aws-auth ConfigMap, as the few fields the findings read."""
    by_kind = {}
    for result in results or []:
        item = result.get("item")
        kind = item.get("kind") if isinstance(item, dict) else item
        by_kind.setdefault(kind, []).extend(result.get("resources") or [])

    nodes = [{"name": _meta(n).get("name"), "labels": _meta(n).get("labels") or {},
              "taints": (n.get("spec") or {}).get("taints") or [],
              "unschedulable": bool((n.get("spec") or {}).get("unschedulable")),
              "ready": _condition(n, "Ready").get("status") == "True"} for n in by_kind.get("Node", [])]
    pending = []
    for pod in by_kind.get("Pod", []):
        spec, status = pod.get("spec") or {}, pod.get("status") or {}
        if status.get("phase") != "Pending" or spec.get("nodeName"):
            continue
        scheduled = _condition(pod, "PodScheduled")
        pending.append({"namespace": _meta(pod).get("namespace"), "name": _meta(pod).get("name"), "owner": _owner(pod),
                        "node_selector": spec.get("nodeSelector") or {}, "tolerations": spec.get("tolerations") or [],
                        "scheduled": {"status": scheduled.get("status"), "reason": scheduled.get("reason"),
                                      "message": scheduled.get("message")}})
    services = [{"namespace": _meta(s).get("namespace"), "name": _meta(s).get("name"),
                 "address": bool(((s.get("status") or {}).get("loadBalancer") or {}).get("ingress"))}
                for s in by_kind.get("Service", []) if (s.get("spec") or {}).get("type") == "LoadBalancer"]
    ingresses = [{"namespace": _meta(i).get("namespace"), "name": _meta(i).get("name"),
                  "address": bool(((i.get("status") or {}).get("loadBalancer") or {}).get("ingress"))}
                 for i in by_kind.get("Ingress", [])
                 if ((i.get("spec") or {}).get("ingressClassName")
                     or (_meta(i).get("annotations") or {}).get("kubernetes.io/ingress.class")) == "alb"]
    deployments = [{"namespace": _meta(d).get("namespace"), "name": _meta(d).get("name"),
                    "service_account": (((d.get("spec") or {}).get("template") or {}).get("spec") or {}).get(
                        "serviceAccountName") or "default",
                    "replicas": (d.get("spec") or {}).get("replicas", 1),
                    "available_replicas": (d.get("status") or {}).get("availableReplicas") or 0,
                    "available": _condition(d, "Available").get("status") == "True"}
                   for d in by_kind.get("Deployment", [])]
    accounts = {f"{_meta(a).get('namespace')}/{_meta(a).get('name')}": (_meta(a).get("annotations") or {}).get(ROLE_ANNOTATION)
                for a in by_kind.get("ServiceAccount", [])}
    aws_auth = next((c for c in by_kind.get("ConfigMap", []) if _meta(c).get("name") == "aws-auth"), None)
    return {"nodes": nodes, "pending_pods": pending, "load_balancer_services": services, "alb_ingresses": ingresses,
            "deployments": deployments, "service_accounts": accounts, "aws_auth_roles": _map_roles(aws_auth),
            "role_arns": sorted({arn for arn in accounts.values() if arn})}


# --- Nodes not joining cluster -----------------------------------------------------------------------------------------

def _nodegroup_checks(facts, kubernetes):
    case = "nodes_not_joining"
    ready = {}
    for node in kubernetes.get("nodes") or []:
        group = node["labels"].get(NODEGROUP_LABEL)
        if group and node.get("ready"):
            ready[group] = ready.get(group, 0) + 1
    missing, health = [], []
    groups = facts.get("nodegroups") or []
    for group in groups:
        count, desired = ready.get(group["name"], 0), group.get("desired_size") or 0
        if count < desired:
            missing.append(_finding(
                case, "nodegroup_nodes", group["name"],
                f"node group {group['name']} ({group.get('status')}): {count} of {desired} desired nodes are Ready "
                f"Node objects labelled {NODEGROUP_LABEL}={group['name']}",
                "see the node group's health issues and the node role, security group and subnet checks; on an "
                "instance: `aws ssm start-session --target <instance id>` then `sudo journalctl -u kubelet`"))
        for issue in group.get("health_issues") or []:
            health.append(_finding(
                case, "nodegroup_health", group["name"],
                f"node group {group['name']}: {issue.get('code')}: {issue.get('message')}"
                + (f" ({_names(issue['resource_ids'])})" if issue.get("resource_ids") else ""),
                HEALTH_FIXES.get(issue.get("code"), "see `aws eks describe-nodegroup --cluster-name "
                                 f"{facts.get('cluster', {}).get('name')} --nodegroup-name {group['name']}`")))
    return [
        _check(case, "nodegroup_nodes", "Each node group's desired nodes are Ready Nodes", missing,
               ", ".join(f"{g['name']} {ready.get(g['name'], 0)}/{g.get('desired_size')}" for g in groups)
               or "no node group"),
        _check(case, "nodegroup_health", "Node groups without health issues", health,
               f"{len(groups)} node groups without health issues"),
    ]


def _node_role_checks(facts, kubernetes, settings):
    case = "nodes_not_joining"
    cluster = facts.get("cluster") or {}
    cni_irsa = bool(facts.get("vpc_cni_role_arn") or (kubernetes.get("service_accounts") or {}).get("kube-system/aws-node"))
    wanted = ["AmazonEKSWorkerNodePolicy", "AmazonEC2ContainerRegistryReadOnly"] + ([] if cni_irsa else ["AmazonEKS_CNI_Policy"])
    role_findings, access_findings = [], []
    mode = cluster.get("authentication_mode") or "API_AND_CONFIG_MAP"
    mapped = set(kubernetes.get("aws_auth_roles") or [])
    for role in facts.get("node_roles") or []:
        name = role["name"]
        if not role.get("exists"):
            role_findings.append(_finding(case, "node_role", name, f"the node role {name} does not exist",
                                          "iam_node_role_name and " + APPLY.format(tags="iam,nodegroups")))
            continue
        if not role.get("trusted_by_ec2"):
            role_findings.append(_finding(
                case, "node_role", name, f"the node role {name} does not trust ec2.amazonaws.com (sts:AssumeRole)",
                APPLY.format(tags="iam") + " restores its trust policy"))
        have = set(role.get("managed_policies") or [])
        lacking = [p for p in wanted if p not in have
                   and not (p in ECR_READ_POLICIES and have & set(ECR_READ_POLICIES))]
        if lacking:
            role_findings.append(_finding(
                case, "node_role", name, f"the node role {name} lacks {_names(lacking)}",
                " ; ".join(f"`aws iam attach-role-policy --role-name {name} --policy-arn arn:aws:iam::aws:policy/{p}`"
                           for p in lacking) + f", or iam_node_role_managed_policies and {APPLY.format(tags='iam')}"))
        by_entry = mode != "CONFIG_MAP" and role.get("access_entry_type") in NODE_ENTRY_TYPES
        by_map = mode != "API" and role["arn"] in mapped
        if not (by_entry or by_map):
            found = f" (its entry is of type {role['access_entry_type']})" if role.get("access_entry_type") else ""
            access_findings.append(_finding(
                case, "node_access", name,
                f"the node role {name} has no EC2_LINUX access entry in the cluster{found}"
                + (" nor an aws-auth mapping" if mode != "API" else ""),
                f"`aws eks create-access-entry --cluster-name {cluster.get('name')} --principal-arn {role['arn']} "
                "--type EC2_LINUX`" if mode != "CONFIG_MAP" else
                f"map {role['arn']} to system:nodes in the kube-system/aws-auth ConfigMap"))
    roles = [r["name"] for r in facts.get("node_roles") or []]
    return [
        _check(case, "node_role", "Node role trusted by EC2 with the worker node policies", role_findings,
               f"{_names(roles)}: trusted by ec2.amazonaws.com, {_names(wanted)}" if roles else "no node role"),
        _check(case, "node_access", "Node role allowed into the cluster (EC2_LINUX access entry or aws-auth)",
               access_findings, f"{_names(roles)} mapped to system:nodes" if roles else "no node role"),
    ]


def _allows(rules, port, groups=(), networks=()):
    """Whether a rule of ``rules`` admits tcp/``port`` from one of ``groups`` or from CIDRs covering ``networks``."""
    for rule in rules or []:
        if rule.get("protocol") not in ("-1", "tcp", "6"):
            continue
        if rule.get("protocol") != "-1" and not (
                (rule.get("from_port") if rule.get("from_port") is not None else 0) <= port
                <= (rule.get("to_port") if rule.get("to_port") is not None else 65535)):
            continue
        if set(rule.get("group_ids") or []) & set(groups):
            return True
        cidrs = []
        for cidr in rule.get("cidrs") or []:
            try:
                cidrs.append(ipaddress.ip_network(cidr, strict=False))
            except ValueError:
                continue
        if networks and all(any(net.version == c.version and net.subnet_of(c) for c in cidrs) for net in networks):
            return True
    return False


def _security_group_checks(facts):
    case = "nodes_not_joining"
    cluster = facts.get("cluster") or {}
    groups = {g["group_id"]: g for g in facts.get("security_groups") or []}
    cluster_groups = [g for g in cluster.get("security_group_ids") or [] if g in groups]
    subnets = {s["subnet_id"]: s for s in facts.get("subnets") or []}
    findings = []

    def label(group_ids):
        return _names(f"{groups[g].get('group_name')} ({g})" for g in group_ids if g in groups) or "(none)"

    for group in facts.get("nodegroups") or []:
        node_groups = [g for g in group.get("security_group_ids") or [] if g in groups]
        node_nets = [ipaddress.ip_network(subnets[s]["cidr"]) for s in group.get("subnets") or [] if s in subnets]
        to_api = any(_allows(groups[g]["ingress"], 443, node_groups, node_nets) for g in cluster_groups)
        egress = any(_allows(groups[g]["egress"], 443, cluster_groups,
                             [ipaddress.ip_network(c) for c in cluster.get("vpc_cidrs") or []]) for g in node_groups)
        to_kubelet = any(_allows(groups[g]["ingress"], 10250, cluster_groups) for g in node_groups)
        fix = f"{APPLY.format(tags='vpc')} restores the rules of vpc_security_groups"
        if not to_api:
            findings.append(_finding(
                case, "security_groups", group["name"],
                f"node group {group['name']}: no rule of the control plane's groups {label(cluster_groups)} admits "
                f"tcp/443 from its nodes' groups {label(node_groups)}", fix))
        if not egress:
            findings.append(_finding(
                case, "security_groups", group["name"],
                f"node group {group['name']}: its nodes' groups {label(node_groups)} allow no egress on tcp/443 to the "
                "control plane", fix))
        if not to_kubelet:
            findings.append(_finding(
                case, "security_groups", group["name"],
                f"node group {group['name']}: its nodes' groups {label(node_groups)} admit no tcp/10250 (kubelet) "
                f"from the control plane's groups {label(cluster_groups)}", fix))
    return [_check(case, "security_groups", "Nodes reach the API on 443, the control plane reaches kubelets on 10250",
                   findings, f"control plane {label(cluster_groups)} and the node groups' groups allow 443 and 10250")]


def _route_checks(facts):
    case = "nodes_not_joining"
    subnets = {s["subnet_id"]: s for s in facts.get("subnets") or []}
    endpoints = [e for e in facts.get("vpc_endpoints") or [] if e.get("state") == "available"]
    # an interface endpoint serves the nodes' default AWS host names only with its private DNS name on
    interface = {e["service"] for e in endpoints if e.get("type") == "Interface" and e.get("private_dns")}
    node_subnets = sorted({s for g in facts.get("nodegroups") or [] for s in g.get("subnets") or []})
    findings = []
    for subnet_id in node_subnets:
        subnet = subnets.get(subnet_id)
        if subnet is None:
            findings.append(_finding(case, "subnet_routes", subnet_id, f"node subnet {subnet_id} does not exist",
                                     APPLY.format(tags="vpc,nodegroups")))
            continue
        name = subnet.get("name") or subnet_id
        route = subnet.get("default_route") or {}
        target = str(route.get("target") or "")
        if target.startswith("nat-") and route.get("state") == "active" and route.get("nat_state") == "available":
            continue
        if target.startswith("igw-") and route.get("state") == "active" and subnet.get("map_public_ip_on_launch"):
            continue
        s3 = any(e["service"] == "s3" and e.get("type") == "Gateway" and subnet.get("route_table_id") in e["route_table_ids"]
                 for e in endpoints)
        lacking = [s for s in PRIVATE_NODE_ENDPOINTS if s not in interface] + ([] if s3 else ["s3 (gateway)"])
        if not lacking:
            continue
        if target.startswith("nat-"):
            why = f"its default route goes to {target}, which is {route.get('nat_state')} (route {route.get('state')})"
        elif target:
            why = f"its default route goes to {target} ({route.get('state')})" + (
                " but the subnet gives no public IP" if target.startswith("igw-") else "")
        else:
            why = f"its route table {subnet.get('route_table_id')} has no 0.0.0.0/0 route"
        findings.append(_finding(
            case, "subnet_routes", name,
            f"node subnet {name} ({subnet_id}): {why}, and the VPC lacks the endpoints {_names(lacking)}",
            f"{APPLY.format(tags='vpc')} restores the NAT gateways and routes (vpc_single_nat_gateway) "
            "or add the endpoints to vpc_endpoints"))
    return [_check(case, "subnet_routes", "Node subnets route 0.0.0.0/0 to an available NAT gateway or have the endpoints",
                   findings, f"{len(node_subnets)} node subnets reach ECR, EC2, STS and S3")]


# --- Pods stuck in Pending ---------------------------------------------------------------------------------------------

def _tolerates(tolerations, taint):
    for toleration in tolerations or []:
        if toleration.get("effect") and toleration["effect"] != taint.get("effect"):
            continue
        if toleration.get("operator") == "Exists":
            if not toleration.get("key") or toleration["key"] == taint.get("key"):
                return True
        elif toleration.get("key") == taint.get("key") and (toleration.get("value") or "") == (taint.get("value") or ""):
            return True
    return False


def _taint(taint):
    value = f"={taint['value']}" if taint.get("value") else ""
    return f"{taint.get('key')}{value}:{taint.get('effect')}"


def _scheduling_checks(kubernetes):
    case = "pods_pending"
    nodes = [n for n in kubernetes.get("nodes") or [] if n.get("ready") and not n.get("unschedulable")]
    workloads = {}
    for pod in kubernetes.get("pending_pods") or []:
        if pod["scheduled"].get("status") != "False":
            continue
        workloads.setdefault((pod["namespace"], pod["owner"]), []).append(pod)
    findings = []
    for (namespace, owner), pods in sorted(workloads.items()):
        pod = pods[0]
        subject = f"{namespace}/{owner}"
        count = f"{len(pods)} pod(s) of {subject} Pending"
        selector = pod["node_selector"]
        matching = [n for n in nodes if all(n["labels"].get(k) == v for k, v in selector.items())]
        if not matching:
            wanted = _names(f"{k}={v}" for k, v in sorted(selector.items()))
            findings.append(_finding(
                case, "pod_scheduling", subject, f"{count}: no Ready node has the labels of its nodeSelector {wanted}",
                "correct the workload's nodeSelector, or give a node group these labels "
                f"(nodegroups_definitions[].labels, {APPLY.format(tags='nodegroups')})"))
            continue
        untolerated = sorted({_taint(t) for n in matching for t in n["taints"]
                              if t.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(pod["tolerations"], t)})
        if all(any(t.get("effect") in ("NoSchedule", "NoExecute") and not _tolerates(pod["tolerations"], t)
                   for t in n["taints"]) for n in matching):
            findings.append(_finding(
                case, "pod_scheduling", subject,
                f"{count}: every node its nodeSelector allows has a taint it does not tolerate: {_names(untolerated)}",
                "add the matching tolerations to the pod template, or run it on an untainted node group "
                "(nodegroups_definitions[].taints)"))
            continue
        message = pod["scheduled"].get("message") or pod["scheduled"].get("reason") or "unschedulable"
        insufficient = "Insufficient" in message
        findings.append(_finding(
            case, "pod_scheduling", subject, f"{count}: {message}",
            "lower the pods' resource requests or let the node groups grow: raise "
            "nodegroups_definitions[].scaling.max_size (" + APPLY.format(tags="nodegroups") + "); the Cluster "
            "Autoscaler adds nodes up to it" if insufficient else "`kubectl describe pod -n "
            f"{namespace} {pod['name']}` shows the scheduler's events"))
    return [_check(case, "pod_scheduling", "No pod is unschedulable (taints, nodeSelector, resources)", findings,
                   "no Pending pod with PodScheduled=False")]


def _nodegroup_max_checks(facts):
    case = "pods_pending"
    full = [g for g in facts.get("nodegroups") or [] if g.get("max_size") is not None
            and (g.get("desired_size") or 0) >= g["max_size"]]
    findings = [_finding(
        case, "nodegroup_max", g["name"],
        f"node group {g['name']} is at its maximum: desired {g.get('desired_size')} of max {g['max_size']}; the Cluster "
        "Autoscaler cannot add a node to it",
        f"raise nodegroups_definitions[name={g['name']}].scaling.max_size and {APPLY.format(tags='nodegroups')}, or "
        f"`aws eks update-nodegroup-config --cluster-name {(facts.get('cluster') or {}).get('name')} --nodegroup-name "
        f"{g['name']} --scaling-config maxSize=<n>`") for g in full]
    return [_check(case, "nodegroup_max", "Node groups below their maximum size", findings,
                   _names(f"{g['name']} {g.get('desired_size')}/{g.get('max_size')}" for g in facts.get("nodegroups") or [])
                   or "no node group")]


def _controller_checks(facts, kubernetes, case, check_prefix, title, controller, tags_fix):
    """A controller that runs as a Deployment with an IRSA service account: present, Available, annotated, role exists."""
    namespace, account = controller["namespace"], controller["service_account"]
    deployments = [d for d in kubernetes.get("deployments") or []
                   if d["namespace"] == namespace and d["service_account"] == account]
    accounts = kubernetes.get("service_accounts") or {}
    key = f"{namespace}/{account}"
    deployed = []
    if not deployments:
        deployed.append(_finding(case, check_prefix, key,
                                 f"no Deployment in {namespace} runs as the service account {account}: the {title} "
                                 "is not deployed", tags_fix))
    for deployment in deployments:
        if not deployment["available"]:
            deployed.append(_finding(
                case, check_prefix, f"{namespace}/{deployment['name']}",
                f"the {title} Deployment {namespace}/{deployment['name']} is not Available "
                f"({deployment['available_replicas']} of {deployment['replicas']} replicas)",
                f"`kubectl describe deployment -n {namespace} {deployment['name']}`; its pods may be pending (see the "
                "pods checks)"))
    role_findings = []
    role = accounts.get(key)
    if key not in accounts:
        role_findings.append(_finding(case, f"{check_prefix}_role", key, f"the service account {key} does not exist",
                                      tags_fix))
    elif not role:
        role_findings.append(_finding(
            case, f"{check_prefix}_role", key,
            f"the service account {key} has no {ROLE_ANNOTATION} annotation: the {title} gets no AWS credentials",
            f"{tags_fix}, or `kubectl annotate serviceaccount -n {namespace} {account} {ROLE_ANNOTATION}=<role ARN>` "
            "and restart the Deployment"))
    elif (facts.get("roles") or {}).get(role) is False:
        role_findings.append(_finding(
            case, f"{check_prefix}_role", key, f"the service account {key} names the role {role}, which does not exist",
            APPLY.format(tags="eks") + " makes the IRSA roles (eks_irsa_roles)"))
    return [
        _check(case, check_prefix, f"{title} deployed and Available", deployed,
               _names(f"{namespace}/{d['name']} {d['available_replicas']}/{d['replicas']} available" for d in deployments)),
        _check(case, f"{check_prefix}_role", f"{title} service account annotated with an IRSA role that exists",
               role_findings, f"{key} -> {role}"),
    ]


# --- Load balancer not creating ----------------------------------------------------------------------------------------

def _pending_load_balancer_checks(kubernetes, controller):
    case = "load_balancer_not_creating"
    logs = (f"`kubectl logs -n {controller['namespace']} -l app.kubernetes.io/name=aws-load-balancer-controller` and "
            "the checks below")
    findings = [_finding(case, "pending_load_balancers", f"{s['namespace']}/{s['name']}",
                         f"Service {s['namespace']}/{s['name']} of type LoadBalancer has no address", logs)
                for s in kubernetes.get("load_balancer_services") or [] if not s["address"]]
    findings += [_finding(case, "pending_load_balancers", f"{i['namespace']}/{i['name']}",
                          f"ALB Ingress {i['namespace']}/{i['name']} has no address", logs)
                 for i in kubernetes.get("alb_ingresses") or [] if not i["address"]]
    total = len(kubernetes.get("load_balancer_services") or []) + len(kubernetes.get("alb_ingresses") or [])
    return [_check(case, "pending_load_balancers", "LoadBalancer Services and ALB Ingresses have an address", findings,
                   f"{total} with an address")]


def _subnet_tier(subnet, node_subnets):
    tier = (subnet.get("tags") or {}).get("llmhub.io/tier")
    if tier:
        return tier
    if str((subnet.get("default_route") or {}).get("target") or "").startswith("igw-"):
        return "public"
    return "private" if subnet["subnet_id"] in node_subnets else None


def _subnet_tag_checks(facts):
    case = "load_balancer_not_creating"
    cluster = (facts.get("cluster") or {}).get("name")
    cluster_tag = f"kubernetes.io/cluster/{cluster}"
    node_subnets = {s for g in facts.get("nodegroups") or [] for s in g.get("subnets") or []}
    wanted = {"public": "kubernetes.io/role/elb", "private": "kubernetes.io/role/internal-elb"}
    lacking = {}
    for subnet in facts.get("subnets") or []:
        tier = _subnet_tier(subnet, node_subnets)
        if tier not in wanted:
            continue
        tags = subnet.get("tags") or {}
        name = subnet.get("name") or subnet["subnet_id"]
        if tags.get(wanted[tier]) != "1":
            lacking.setdefault((tier, f"{wanted[tier]}=1"), []).append((name, subnet["subnet_id"]))
        if tags.get(cluster_tag) not in ("shared", "owned"):
            lacking.setdefault((tier, f"{cluster_tag}=shared"), []).append((name, subnet["subnet_id"]))
    findings = []
    for (tier, tag), subnets in sorted(lacking.items()):
        key, value = tag.split("=", 1)
        findings.append(_finding(
            case, "subnet_tags", _names(name for name, _sid in subnets),
            f"{tier} subnets without the tag {tag}: {_names(f'{name} ({sid})' for name, sid in subnets)}; the AWS Load "
            f"Balancer Controller finds no {'internet-facing' if tier == 'public' else 'internal'} subnet to place a "
            "load balancer in",
            f"`aws ec2 create-tags --resources {' '.join(sid for _name, sid in subnets)} --tags Key={key},Value={value}`, "
            f"or {APPLY.format(tags='vpc')} restores the subnets' tags"))
    return [_check(case, "subnet_tags", "Public subnets tagged kubernetes.io/role/elb, private ones internal-elb",
                   findings, f"public and private subnets carry the role tags and {cluster_tag}")]


def diagnose_findings(facts, kubernetes=None, settings=None):
    """The overview's three troubleshooting cases for one cluster: every check with its mark, each finding with what
    is wrong (names) and the fix (a command, or the variable and the --tags run that restores it)."""
    kubernetes, settings = kubernetes or {}, settings or {}
    controller = (settings.get("load_balancer_controller")
                  or {"namespace": "kube-system", "service_account": "aws-load-balancer-controller"})
    autoscaler = settings.get("cluster_autoscaler") or {"namespace": "kube-system", "service_account": "cluster-autoscaler"}
    checks = (_nodegroup_checks(facts, kubernetes) + _node_role_checks(facts, kubernetes, settings)
              + _security_group_checks(facts) + _route_checks(facts)
              + _scheduling_checks(kubernetes) + _nodegroup_max_checks(facts)
              + _controller_checks(facts, kubernetes, "pods_pending", "cluster_autoscaler", "Cluster Autoscaler",
                                   autoscaler, APPLY.format(tags="addons") + " (addons_cluster_autoscaler_*)")
              + _pending_load_balancer_checks(kubernetes, controller)
              + _controller_checks(facts, kubernetes, "load_balancer_not_creating", "load_balancer_controller",
                                   "AWS Load Balancer Controller", controller,
                                   APPLY.format(tags="addons") + " (addons_load_balancer_controller_*)")
              + _subnet_tag_checks(facts))
    findings = [f for c in checks for f in c["findings"]]
    return {"cluster": (facts.get("cluster") or {}).get("name"), "healthy": not findings, "findings": findings,
            "cases": {case: sum(1 for f in findings if f["case"] == case) for case in CASES},
            "checks": [{k: v for k, v in c.items() if k != "findings"} for c in checks]}


def diagnose_report_markdown(report):
    """The diagnosis as Markdown: per troubleshooting case, each check with its mark, then the findings and fixes."""
    findings = report.get("findings") or []
    lines = [f"# Diagnosis: {report['cluster']}", "",
             "Healthy: no finding in the three troubleshooting cases." if report.get("healthy")
             else f"{len(findings)} finding(s): " + ", ".join(f"{CASES[c]} {n}" for c, n in report["cases"].items() if n)
             + ".", ""]
    for case, title in CASES.items():
        lines += [f"## {title}", "", "| | Check | Found |", "|---|---|---|"]
        lines += [f"| {c['mark']} | {c['title']} | {c['detail'].replace('|', '/')} |"
                  for c in report.get("checks") or [] if c["case"] == case]
        lines.append("")
        for finding in (f for f in findings if f["case"] == case):
            lines += [f"- **{finding['check']}** {finding['problem']}", f"  - fix: {finding['fix']}"]
        if any(f["case"] == case for f in findings):
            lines.append("")
    return "\n".join(lines)


def diagnose_summary(report):
    """One line per finding (``<case> / <check>: <what> -> fix: <fix>``), or the healthy line."""
    if report.get("healthy"):
        return [f"{report['cluster']}: healthy ({len(report.get('checks') or [])} checks, no finding)"]
    return [f"{CASES[f['case']]} / {f['check']}: {f['problem']} -> fix: {f['fix']}" for f in report.get("findings") or []]


class FilterModule:
    """Diagnosis filters (playbooks/diagnose.yml)."""

    def filters(self):
        return {
            "diagnose_kubernetes_facts": diagnose_kubernetes_facts,
            "diagnose_findings": diagnose_findings,
            "diagnose_report_markdown": diagnose_report_markdown,
            "diagnose_summary": diagnose_summary,
        }
