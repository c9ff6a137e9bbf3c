# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Pure network planning for the ``vpc`` role: subnet maths and validation.

Everything here runs on the controller with no AWS call, so bad input fails
before anything is created, with a message that names the variable to fix.
"""

from __future__ import annotations

import ipaddress
import math
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.llmhub.eks.plugins.plugin_utils import validation

TIERS = ("private", "public", "intra")
# AWS accepts subnet prefixes from /16 to /28.
MIN_SUBNET_PREFIX = 16
MAX_SUBNET_PREFIX = 28
AZ_SUFFIX = re.compile(r"^[a-z]$")
PORT_RANGE = re.compile(r"^(\d{1,5})(?:-(\d{1,5}))?$")
ENDPOINT_TYPES = ("Gateway", "Interface")
SECURITY_GROUP_KEYS = ("key", "description", "ingress", "tags")
RULE_KEYS = ("ports", "protocol", "cidrs", "group", "self", "description")
ENDPOINT_KEYS = ("service", "type", "private_dns")


def _fail(variable, message):
    raise AnsibleFilterError(f"{variable}: {message}")


def _network(variable, value):
    if not isinstance(value, str):
        _fail(variable, f"expected a CIDR string such as 10.0.0.0/16, got {value!r}")
    try:
        network = ipaddress.ip_network(value, strict=True)
    except ValueError as exc:
        _fail(variable, f"{value!r} is not a valid IPv4 CIDR ({exc}); use the network address, e.g. 10.0.0.0/16")
    if network.version != 4:
        _fail(variable, f"{value!r} is IPv6; an IPv4 CIDR is required")
    return network


def validate_azs(region, azs, variable="vpc_azs"):
    """Check the AZ list against the region by name: at least 2, unique, ``<region><letter>``."""
    if not isinstance(azs, list) or not all(isinstance(a, str) for a in azs):
        _fail(variable, f"expected a list of availability zone names, got {azs!r}")
    if len(azs) < 2:
        _fail(variable, f"at least 2 availability zones are required for high availability, got {len(azs)} ({azs})")
    if len(set(azs)) != len(azs):
        _fail(variable, f"availability zones must be unique, got {azs}")
    for az in azs:
        if not (az.startswith(region) and AZ_SUFFIX.match(az[len(region):])):
            _fail(variable, f"{az!r} is not an availability zone of region {region!r} (expected e.g. {region}a)")
    return azs


def _explicit_subnets(variable, cidrs, vpc, count):
    if not isinstance(cidrs, list):
        _fail(variable, f"expected a list of CIDRs (one per AZ), got {cidrs!r}")
    if len(cidrs) != count:
        _fail(variable, f"{len(cidrs)} subnets given for {count} availability zones; give exactly one per AZ")
    networks = [_network(variable, cidr) for cidr in cidrs]
    for network in networks:
        if not network.subnet_of(vpc):
            _fail(variable, f"{network} is outside the VPC CIDR {vpc} (vpc_cidr)")
        if not MIN_SUBNET_PREFIX <= network.prefixlen <= MAX_SUBNET_PREFIX:
            _fail(variable, f"{network}: AWS subnets must be between /{MIN_SUBNET_PREFIX} and /{MAX_SUBNET_PREFIX}")
    return networks


def derive_subnets(vpc_cidr, azs, private_newbits=4, edge_newbits=8):
    """Derive the private, public and intra CIDRs from the VPC CIDR and AZ count.

    The layout generalises the overview's 10.0.0.0/16 over 3 AZs:
    private /20s from the start of the VPC (10.0.0.0, .16.0, .32.0), then the
    public /24s right after them (10.0.48-50.0), then the intra /24s in the next
    aligned block (10.0.52-54.0). Blocks are aligned to the next power of two of
    the AZ count, so adding a 4th AZ later does not move existing subnets.
    """
    vpc = _network("vpc_cidr", vpc_cidr)
    count = len(azs)
    private_prefix = vpc.prefixlen + private_newbits
    edge_prefix = vpc.prefixlen + edge_newbits
    for variable, prefix in (("vpc_private_subnet_newbits", private_prefix), ("vpc_edge_subnet_newbits", edge_prefix)):
        if prefix > MAX_SUBNET_PREFIX:
            _fail(
                "vpc_cidr",
                f"{vpc} is too small: {variable} gives /{prefix} subnets, AWS allows at most /{MAX_SUBNET_PREFIX};"
                " use a larger VPC (e.g. a /16) or lower the newbits",
            )
    if edge_prefix < private_prefix:
        _fail("vpc_edge_subnet_newbits", "must be at least vpc_private_subnet_newbits (edge subnets are the smaller ones)")
    block = 2 ** math.ceil(math.log2(count)) if count > 1 else 1
    private_size = 2 ** (32 - private_prefix)
    edge_size = 2 ** (32 - edge_prefix)
    private_end = count * private_size
    public_start = private_end
    intra_start = public_start + block * edge_size
    needed = intra_start + block * edge_size
    if needed > vpc.num_addresses:
        _fail(
            "vpc_cidr",
            f"{vpc} is too small for {count} AZs x 3 tiers (needs {needed} addresses, has {vpc.num_addresses});"
            " use a larger VPC or fewer availability zones (vpc_azs)",
        )
    base = int(vpc.network_address)

    def subnet(offset, prefix):
        return ipaddress.ip_network(f"{ipaddress.ip_address(base + offset)}/{prefix}")

    return {
        "private": [subnet(i * private_size, private_prefix) for i in range(count)],
        "public": [subnet(public_start + i * edge_size, edge_prefix) for i in range(count)],
        "intra": [subnet(intra_start + i * edge_size, edge_prefix) for i in range(count)],
    }


def _check_overlaps(by_tier):
    seen = []
    for tier in TIERS:
        for network in by_tier[tier]:
            for other_tier, other in seen:
                if network.overlaps(other):
                    _fail(
                        f"vpc_{tier}_subnets",
                        f"{network} overlaps {other} (vpc_{other_tier}_subnets); subnets must not overlap",
                    )
            seen.append((tier, network))


def parse_ports(variable, ports):
    """Return (from_port, to_port) for 443, '443', '1025-65535' or 'all'."""
    if ports in (None, "all", -1, "-1"):
        return None, None
    match = PORT_RANGE.match(str(ports))
    if not match:
        _fail(variable, f"ports {ports!r} must be a port (443), a range (1025-65535) or 'all'")
    low = int(match.group(1))
    high = int(match.group(2) or low)
    if not 0 <= low <= high <= 65535:
        _fail(variable, f"ports {ports!r} must satisfy 0 <= from <= to <= 65535")
    return low, high


def _security_group_plan(settings, cluster_name, vpc):
    groups = settings.get("vpc_security_groups") or []
    for index, group in enumerate(groups):
        validation.check_keys(f"vpc_security_groups[{index}]", group, SECURITY_GROUP_KEYS)
        for rule_index, rule in enumerate(group.get("ingress") or []):
            validation.check_keys(f"vpc_security_groups[{index}].ingress[{rule_index}]", rule, RULE_KEYS)
    keys = [g.get("key") for g in groups]
    if len(set(keys)) != len(keys) or not all(keys):
        _fail("vpc_security_groups", f"every group needs a unique key, got {keys}")
    names = {key: f"{cluster_name}-{key}" for key in keys}
    planned = []
    for group in groups:
        rules = []
        for index, rule in enumerate(group.get("ingress") or []):
            where = f"vpc_security_groups[{group['key']}].ingress[{index}]"
            low, high = parse_ports(where, rule.get("ports", "all"))
            sources = [k for k in ("cidrs", "group", "self") if rule.get(k)]
            if len(sources) != 1:
                _fail(where, "each rule needs exactly one source: cidrs, group or self")
            entry = {
                "protocol": rule.get("protocol", "tcp" if low is not None else "all"),
                "from_port": low,
                "to_port": high,
                "description": rule.get("description", ""),
            }
            if rule.get("cidrs"):
                cidrs = rule["cidrs"] if isinstance(rule["cidrs"], list) else [rule["cidrs"]]
                entry["cidr_ip"] = [str(_network(where, c)) for c in cidrs]
            elif rule.get("group"):
                if rule["group"] not in names:
                    _fail(where, f"group {rule['group']!r} is not a key of vpc_security_groups {keys}")
                entry["group_name"] = names[rule["group"]]
            else:
                entry["group_name"] = names[group["key"]]
            rules.append(entry)
        planned.append(
            {
                "name": names[group["key"]],
                "description": group.get("description") or f"{cluster_name} {group['key']}",
                "rules": rules,
                "rules_egress": [
                    {"protocol": "all", "from_port": None, "to_port": None, "cidr_ip": ["0.0.0.0/0"],
                     "description": "All egress"}
                ],
                "tags": dict(group.get("tags") or {}),
            }
        )
    return planned


def vpc_network_plan(settings):
    """Validate the ``vpc`` role's variables and return the whole network plan.

    ``settings`` maps the role's variable names to their values, so every error
    names the variable to change. The plan holds names only (no AWS ids): the
    modules resolve names in the VPC, which is what makes check mode on an empty
    account and re-runs after an interruption work.
    """
    if not isinstance(settings, dict):
        raise AnsibleFilterError("vpc_network_plan expects a dict of the vpc role's variables")
    cluster_name = settings.get("vpc_cluster_name")
    region = settings.get("vpc_aws_region")
    validation.check_cluster_name("vpc_cluster_name", cluster_name)
    validation.check_region("vpc_aws_region", region)
    vpc = _network("vpc_cidr", settings.get("vpc_cidr"))
    if not MIN_SUBNET_PREFIX <= vpc.prefixlen <= MAX_SUBNET_PREFIX:
        _fail("vpc_cidr", f"{vpc}: AWS VPCs must be between /{MIN_SUBNET_PREFIX} and /{MAX_SUBNET_PREFIX}")
    azs = validate_azs(region, settings.get("vpc_azs"))

    derived = None
    by_tier = {}
    for tier in TIERS:
        variable = f"vpc_{tier}_subnets"
        explicit = settings.get(variable)
        if explicit:
            by_tier[tier] = _explicit_subnets(variable, explicit, vpc, len(azs))
        else:
            if derived is None:
                derived = derive_subnets(
                    str(vpc), azs,
                    int(settings.get("vpc_private_subnet_newbits", 4)),
                    int(settings.get("vpc_edge_subnet_newbits", 8)),
                )
            by_tier[tier] = derived[tier]
    _check_overlaps(by_tier)

    common_tags = dict(settings.get("vpc_tags") or {})
    cluster_tag = {f"kubernetes.io/cluster/{cluster_name}": "shared"}
    tier_tags = {
        "private": {"kubernetes.io/role/internal-elb": "1", **cluster_tag},
        "public": {"kubernetes.io/role/elb": "1", **cluster_tag},
        "intra": dict(cluster_tag),
    }
    subnets = []
    for tier in TIERS:
        for az, network in zip(azs, by_tier[tier]):
            subnets.append(
                {
                    "name": f"{cluster_name}-{tier}-{az}",
                    "cidr": str(network),
                    "az": az,
                    "map_public_ip_on_launch": False,
                    "tags": {"llmhub.io/tier": tier, **tier_tags[tier]},
                }
            )

    single_nat = bool(settings.get("vpc_single_nat_gateway", False))
    nat_azs = azs[:1] if single_nat else azs
    nat_gateways = [
        {"name": f"{cluster_name}-nat-{az}", "subnet": f"{cluster_name}-public-{az}"} for az in nat_azs
    ]

    route_tables = []
    for tier in TIERS:
        for az in azs:
            routes = []
            if tier == "public":
                routes.append({"destination_cidr_block": "0.0.0.0/0", "gateway_id": "igw"})
            elif tier == "private":
                nat_az = nat_azs[0] if single_nat else az
                routes.append({"destination_cidr_block": "0.0.0.0/0", "nat_gateway": f"{cluster_name}-nat-{nat_az}"})
            route_tables.append(
                {
                    "name": f"{cluster_name}-{tier}-{az}",
                    "subnets": [f"{cluster_name}-{tier}-{az}"],
                    "routes": routes,
                    "tags": {"llmhub.io/tier": tier},
                }
            )

    security_groups = _security_group_plan(settings, cluster_name, vpc)
    sg_names = {g["key"]: f"{cluster_name}-{g['key']}" for g in settings.get("vpc_security_groups") or []}
    sg_keys = set(sg_names)
    endpoint_sg_key = settings.get("vpc_endpoints_security_group", "vpc-endpoints")
    endpoints = []
    services = []
    for index, endpoint in enumerate(settings.get("vpc_endpoints") or []):
        where = f"vpc_endpoints[{index}]"
        validation.check_keys(where, endpoint, ENDPOINT_KEYS)
        service = endpoint.get("service")
        kind = endpoint.get("type", "Interface")
        if not service:
            _fail(where, "needs a service, e.g. ecr.api or s3")
        if kind not in ENDPOINT_TYPES:
            _fail(where, f"type {kind!r} must be one of {list(ENDPOINT_TYPES)}")
        if service in services:
            _fail(where, f"service {service!r} is listed twice")
        services.append(service)
        planned = {
            "name": f"{cluster_name}-{service.replace('.', '-')}",
            "service": service if service.startswith("com.amazonaws.") else f"com.amazonaws.{region}.{service}",
            "type": kind,
        }
        if kind == "Gateway":
            planned["route_tables"] = [rt["name"] for rt in route_tables if rt["tags"]["llmhub.io/tier"] in ("private", "intra")]
        else:
            if endpoint_sg_key not in sg_keys:
                _fail("vpc_endpoints_security_group", f"{endpoint_sg_key!r} is not a key of vpc_security_groups")
            planned["subnets"] = [s["name"] for s in subnets if s["tags"]["llmhub.io/tier"] == "private"]
            planned["security_groups"] = [f"{cluster_name}-{endpoint_sg_key}"]
            planned["private_dns_enabled"] = bool(endpoint.get("private_dns", True))
        endpoints.append(planned)

    retention = validation.check_log_retention("vpc_flow_logs_retention_days",
                                               settings.get("vpc_flow_logs_retention_days", 14))
    flow_logs = {
        "enabled": bool(settings.get("vpc_flow_logs_enabled", True)),
        "log_group_name": settings.get("vpc_flow_logs_log_group") or f"/aws/vpc/{cluster_name}/flow-logs",
        "retention_in_days": retention,
        "iam_role_name": f"{cluster_name}-vpc-flow-logs",
        "traffic_type": settings.get("vpc_flow_logs_traffic_type", "ALL"),
    }

    return {
        "cluster_name": cluster_name,
        "region": region,
        "vpc": {"name": f"{cluster_name}-vpc", "cidr": str(vpc)},
        "azs": azs,
        "tags": {**common_tags, "llmhub.io/cluster": cluster_name},
        "subnets": subnets,
        "nat_gateways": nat_gateways,
        "route_tables": route_tables,
        "security_groups": security_groups,
        "security_group_names": sg_names,
        "endpoints": endpoints,
        "flow_logs": flow_logs,
    }


def vpc_network_outputs(plan, vpc_id=None, subnets=None, nat_gateways=None, security_groups=None,
                        route_tables=None, endpoints=None, flow_log=None):
    """The network's ids by role, for later roles and the run summary.

    Takes the plan and the ``*_by_name`` results of the network modules; ids of
    things not created yet (check mode) are ``(known after apply)``, as the modules report them.
    """
    subnets = subnets or {}
    security_groups = security_groups or {}
    tier_of = {s["name"]: s["tags"]["llmhub.io/tier"] for s in plan["subnets"]}
    by_tier = {tier: [subnets.get(s["name"]) for s in plan["subnets"] if tier_of[s["name"]] == tier] for tier in TIERS}
    return {
        "cluster_name": plan["cluster_name"],
        "region": plan["region"],
        "vpc_id": vpc_id,
        "vpc_cidr": plan["vpc"]["cidr"],
        "azs": plan["azs"],
        "subnets": [
            {"name": s["name"], "id": subnets.get(s["name"]), "cidr": s["cidr"], "az": s["az"], "tier": tier_of[s["name"]]}
            for s in plan["subnets"]
        ],
        "private_subnet_ids": by_tier["private"],
        "public_subnet_ids": by_tier["public"],
        "intra_subnet_ids": by_tier["intra"],
        "nat_gateway_ids": [(nat_gateways or {}).get(n["name"]) for n in plan["nat_gateways"]],
        "route_table_ids": dict(route_tables or {}),
        "security_group_ids": {key: security_groups.get(name) for key, name in plan["security_group_names"].items()},
        "endpoint_ids": dict(endpoints or {}),
        "flow_log_id": (flow_log or {}).get("id"),
        "flow_log_group": plan["flow_logs"]["log_group_name"] if plan["flow_logs"]["enabled"] else None,
    }


def vpc_network_summary(outputs):
    """A short human summary of :func:`vpc_network_outputs` (ids, CIDRs, AZs)."""
    return {
        "cluster": outputs["cluster_name"],
        "region": outputs["region"],
        "vpc": f"{outputs['vpc_id']} {outputs['vpc_cidr']}",
        "azs": ", ".join(outputs["azs"]),
        "subnets": [f"{s['tier']:<8} {s['az']} {s['cidr']:<15} {s['id']}" for s in outputs["subnets"]],
        "nat_gateways": list(outputs["nat_gateway_ids"]),
        "security_groups": [f"{key}: {gid}" for key, gid in outputs["security_group_ids"].items()],
        "endpoints": [f"{name}: {eid}" for name, eid in outputs["endpoint_ids"].items()],
        "flow_logs": f"{outputs['flow_log_id']} -> {outputs['flow_log_group']}" if outputs["flow_log_group"] else "off",
    }


class FilterModule:
    """Network planning filters."""

    def filters(self):
        return {
            "vpc_network_plan": vpc_network_plan,
            "vpc_network_outputs": vpc_network_outputs,
            "vpc_network_summary": vpc_network_summary,
        }
