# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The monthly cost estimate of ``playbooks/plan.yml`` (workflow step 4): the inventory's settings times prices.

Pure arithmetic on the controller, no AWS call. The input is the deploy's settings keyed by the variables they
come from (the plan role's ``plan_cost_settings``), so every error names the variable to fix; the prices come from
``roles/plan/files/prices/<region>.yml`` (each figure with its unit, date and source), overridden by ``plan_prices``.

Lines follow the overview's "Estimated Monthly Cost" table (EKS control plane, NAT gateways, the three node groups,
data transfer) and add what the overview leaves out (NAT data processing, public IPv4 addresses, EBS volumes,
interface endpoints, load balancers, CloudWatch Logs). ``overview`` compares the overview's six lines with ours and
explains each difference from the figures themselves.
"""

from __future__ import annotations

import copy
import re

from ansible.errors import AnsibleFilterError

from ansible_collections.llmhub.eks.plugins.plugin_utils import validation

# The overview's "Estimated Monthly Cost" table (reference/infrastructure-overview.md), in USD per month.
OVERVIEW_TABLE = (
    ("eks_control_plane", "EKS Control Plane", "1 cluster", 72),
    ("nat_gateways", "NAT Gateways", "3 (HA)", 97),
    ("nodes_system", "System Nodes", "3x m5.xlarge (ON_DEMAND)", 374),
    ("nodes_application", "Application Nodes", "5x m5.2xlarge (SPOT)", 310),
    ("nodes_database", "Database Nodes", "4x r5.2xlarge (ON_DEMAND)", 1169),
    ("data_transfer", "Data Transfer", "Estimated", 100),
)
OVERVIEW_KEYS = tuple(row[0] for row in OVERVIEW_TABLE)
# The total the overview states ("~$2,022"). Its six lines add up to $2,122: the stated total leaves out its own
# $100 of data transfer. Both are compared: our six lines with $2,122, our five without data transfer with $2,022.
OVERVIEW_TOTAL = 2022
OVERVIEW_LINES_SUM = sum(row[-1] for row in OVERVIEW_TABLE)
# A line of ours within this fraction of the overview's counts as the same figure.
TOLERANCE = 0.05
# gp3 includes 3000 IOPS and 125 MiB/s in the GB-month price; more is billed per IOPS-month and MiB/s-month.
GP3_BASELINE_IOPS = 3000
GP3_BASELINE_THROUGHPUT = 125
# Volume types and what they bill: GB-month always, provisioned IOPS for io1/io2, extra IOPS/throughput for gp3.
VOLUME_TYPES = ("gp3", "gp2", "io1", "io2", "st1", "sc1")
PRICE_KEYS = (
    "eks_cluster_hour", "eks_extended_support_cluster_hour", "nat_gateway_hour", "nat_gateway_gb",
    "public_ipv4_hour", "ebs_gp3_gb_month", "ebs_gp3_iops_month", "ebs_gp3_throughput_month", "ebs_gp2_gb_month",
    "ebs_io1_gb_month", "ebs_io1_iops_month", "ebs_io2_gb_month", "ebs_io2_iops_month", "ebs_st1_gb_month",
    "ebs_sc1_gb_month", "interface_endpoint_az_hour", "interface_endpoint_gb", "alb_hour", "alb_lcu_hour",
    "logs_ingestion_gb", "logs_vended_ingestion_gb", "logs_storage_gb_month",
)
# Why each line beyond the overview's six is not in its table.
LEFT_OUT = {
    "nat_data": "the overview's NAT line is the gateways' hours only; AWS also bills every GB they process",
    "public_ipv4": "AWS bills every public IPv4 address since February 2024 (the NAT gateways' EIPs, the ALB's "
                   "nodes); the overview does not count them",
    "ebs_root_volumes": "the overview prices the nodes' instances, not their gp3 root volumes (100, 200 and 500 GB "
                        "per node by default)",
    "ebs_claims": "the overview prices no persistent volumes",
    "vpc_endpoints": "the overview lists seven interface endpoints as cost-effective but prices none; each is billed "
                     "per AZ-hour",
    "load_balancers": "the overview's ingress ALB has no line in its table",
    "cloudwatch_logs": "the overview turns on all five control plane log types (30 days) and flow logs (14 days) but "
                       "prices no logs",
}
LOG_SOURCES = ("eks_control_plane", "vpc_flow_logs")
VOLUME_KEYS = ("name", "storage_class", "type", "size", "size_gb", "iops", "throughput", "count")
QUANTITY = re.compile(r"^\s*([0-9]+(?:\.[0-9]+)?)\s*([KMGTPE]i?)?\s*$")
UNITS = {None: 1, "Ki": 2 ** 10, "Mi": 2 ** 20, "Gi": 2 ** 30, "Ti": 2 ** 40, "Pi": 2 ** 50, "Ei": 2 ** 60,
         "K": 10 ** 3, "M": 10 ** 6, "G": 10 ** 9, "T": 10 ** 12, "P": 10 ** 15, "E": 10 ** 18}


def _fail(variable, message):
    raise AnsibleFilterError(f"{variable}: {message}")


def _money(value):
    return round(float(value) + 1e-9, 2)


def _usd(value, digits=2):
    return f"${value:,.{digits}f}"


def _rate(value):
    """A unit price as written in the price files: $0.192, $0.0225, $0.10."""
    text = f"{value:.4f}".rstrip("0")
    if len(text.split(".")[1]) < 2:
        text = f"{value:.2f}"
    return f"${text}"


def _number(variable, value, minimum=0.0, maximum=None):
    if isinstance(value, bool):
        _fail(variable, f"{value!r} is not a number")
    try:
        number = float(value)
    except (TypeError, ValueError):
        _fail(variable, f"{value!r} is not a number")
    if number < minimum or (maximum is not None and number > maximum):
        bounds = f"between {minimum:g} and {maximum:g}" if maximum is not None else f"at least {minimum:g}"
        _fail(variable, f"{value!r} must be {bounds}")
    return number


# --- prices ---------------------------------------------------------------------------------------------------
class Prices:
    """The region's price table merged with ``plan_prices``; unknown figures fail naming both."""

    def __init__(self, region, table, overrides, prices_file=None):
        table = table or {}
        where = prices_file or f"roles/plan/files/prices/{region}.yml"
        self.where = where
        overrides = overrides or {}
        if not isinstance(overrides, dict):
            _fail("plan_prices", f"must be a mapping of price names to numbers, got {type(overrides).__name__}")
        if not table and not overrides:
            _fail("plan_prices", f"no prices for region {region!r}: {where} does not exist; add it (copy "
                                 "roles/plan/files/prices/us-east-1.yml and change the figures), point "
                                 "plan_prices_file at a file of your own, or set every price in plan_prices")
        if table and table.get("region") not in (None, region):
            _fail("plan_prices_file", f"holds the prices of {table.get('region')!r}, not of the cluster's region "
                                      f"{region!r}")
        for key in overrides:
            if key not in PRICE_KEYS and key != "instance_hour":
                _fail(f"plan_prices.{key}", "unknown price; "
                                            + validation.unknown_key_message(key, PRICE_KEYS + ("instance_hour",)))
        self.region = region
        self.table = table
        self.prices = copy.deepcopy(table.get("prices") or {})
        for key, value in overrides.items():
            if key == "instance_hour":
                if not isinstance(value, dict):
                    _fail("plan_prices.instance_hour", "must map instance types to prices per hour")
                self.prices.setdefault("instance_hour", {})
                for instance_type, price in value.items():
                    self.prices["instance_hour"][instance_type] = {"price": price, "source": "plan_prices"}
            else:
                self.prices[key] = value if isinstance(value, dict) else {"price": value, "source": "plan_prices"}
        self.overridden = sorted(overrides)

    def _entry(self, key, variable):
        entry = self.prices.get(key)
        if entry is None:
            _fail(variable, f"no price {key!r} for region {self.region!r}: set plan_prices.{key} or add it to "
                            f"{self.where}")
        return entry if isinstance(entry, dict) else {"price": entry}

    def get(self, key, variable="plan_prices"):
        entry = self._entry(key, variable)
        if "tiers" in entry:
            return _number(f"plan_prices.{key}", entry["tiers"][0]["price"])
        return _number(f"plan_prices.{key}", entry.get("price"))

    def tiered(self, key, quantity, variable="plan_prices"):
        """Monthly charge of ``quantity`` units under the tiers of ``key`` (io2 IOPS), or its flat price."""
        entry = self._entry(key, variable)
        tiers = entry.get("tiers")
        if not tiers:
            return quantity * self.get(key, variable)
        total, low = 0.0, 0.0
        for tier in tiers:
            high = tier.get("up_to")
            price = _number(f"plan_prices.{key}.tiers", tier.get("price"))
            top = quantity if high is None else min(quantity, float(high))
            if top > low:
                total += (top - low) * price
            if high is None or quantity <= float(high):
                break
            low = float(high)
        return total

    def instance(self, instance_type, variable):
        entry = (self.prices.get("instance_hour") or {}).get(instance_type)
        if entry is None:
            _fail(variable, f"no on-demand price for instance type {instance_type!r} in region {self.region!r}: set "
                            f"plan_prices.instance_hour[{instance_type!r}] (USD per hour, Linux on-demand) or add it "
                            f"to {self.where}")
        entry = entry if isinstance(entry, dict) else {"price": entry}
        return _number(f"plan_prices.instance_hour[{instance_type!r}]", entry.get("price"))

    def sources(self):
        """Every figure used, with unit, date and source, for the report's footnotes."""
        listed = []
        for key, entry in sorted(self.prices.items()):
            if key == "instance_hour":
                for instance_type, item in sorted(entry.items()):
                    item = item if isinstance(item, dict) else {"price": item}
                    listed.append({"name": f"instance_hour[{instance_type}]", **item})
            else:
                listed.append({"name": key, **(entry if isinstance(entry, dict) else {"price": entry})})
        return listed


# --- volumes --------------------------------------------------------------------------------------------------
def _gib(variable, value):
    """A size in GiB from a number (GiB) or a Kubernetes quantity (10Gi, 1Ti, 500G)."""
    if isinstance(value, (int, float)) and not isinstance(value, bool):
        return _number(variable, value)
    match = QUANTITY.match(str(value))
    if not match:
        _fail(variable, f"{value!r} is not a size (a number of GiB or a quantity such as 10Gi)")
    return float(match.group(1)) * UNITS[match.group(2)] / 2 ** 30


def _volume_monthly(prices, variable, kind, size_gb, iops=None, throughput=None):
    """(monthly USD per volume, formula) of one EBS volume."""
    if kind not in VOLUME_TYPES:
        _fail(f"{variable}.type", f"{kind!r} must be one of {list(VOLUME_TYPES)}")
    storage = size_gb * prices.get(f"ebs_{kind}_gb_month", variable)
    parts = [f"{size_gb:g} GB x {_rate(prices.get(f'ebs_{kind}_gb_month', variable))}/GB-month"]
    total = storage
    if kind == "gp3":
        extra_iops = max(0.0, float(iops or GP3_BASELINE_IOPS) - GP3_BASELINE_IOPS)
        extra_throughput = max(0.0, float(throughput or GP3_BASELINE_THROUGHPUT) - GP3_BASELINE_THROUGHPUT)
        if extra_iops:
            price = prices.get("ebs_gp3_iops_month", variable)
            total += extra_iops * price
            parts.append(f"{extra_iops:g} IOPS above {GP3_BASELINE_IOPS} x {_rate(price)}/IOPS-month")
        if extra_throughput:
            price = prices.get("ebs_gp3_throughput_month", variable)
            total += extra_throughput * price
            parts.append(f"{extra_throughput:g} MiB/s above {GP3_BASELINE_THROUGHPUT} x {_rate(price)}/MiB/s-month")
    elif kind in ("io1", "io2"):
        if not iops:
            _fail(f"{variable}.iops", f"{kind} volumes need provisioned IOPS")
        charge = prices.tiered(f"ebs_{kind}_iops_month", float(iops), variable)
        total += charge
        parts.append(f"{float(iops):g} IOPS = {_usd(charge)}/month")
    return total, " + ".join(parts)


def _claims(settings):
    """The claims the deploy declares: the example application's cache and ``plan_volumes``."""
    claims = []
    app = settings.get("apps_example_app") or {}
    cache = app.get("cache") or {}
    if app.get("enabled", False) and cache.get("enabled", False):
        claims.append(("apps_example_app.cache", {"name": f"{app.get('namespace', '')}/{cache.get('name', 'cache')}",
                                                  "storage_class": cache.get("storage_class", "gp3"),
                                                  "size": cache.get("size", "10Gi"), "count": 1}))
    volumes = settings.get("plan_volumes") or []
    if not isinstance(volumes, list):
        _fail("plan_volumes", "must be a list of {name, storage_class or type, size, count}")
    for index, volume in enumerate(volumes):
        where = f"plan_volumes[{index}]"
        if not isinstance(volume, dict):
            _fail(where, "must be a mapping {name, storage_class or type, size, iops, throughput, count}")
        validation.check_keys(where, volume, VOLUME_KEYS)
        claims.append((where, volume))
    return claims


# --- the estimate ---------------------------------------------------------------------------------------------
def _line(key, component, configuration, monthly, formula, notes="", overview=False, **details):
    """One line of the estimate; ``details`` are the counts and unit prices behind it (count, rate, ...)."""
    return {"key": key, "component": component, "configuration": configuration, "monthly": _money(monthly),
            "formula": formula, "notes": notes, "overview_line": overview, "details": details}


def _nodegroup_lines(settings, prices, hours, spot_discount):
    definitions = settings.get("nodegroups_definitions") or []
    if not isinstance(definitions, list):
        _fail("nodegroups_definitions", "must be a list of node groups")
    lines, volumes = [], []
    for index, group in enumerate(definitions):
        where = f"nodegroups_definitions[{index}]"
        name = str(group.get("name", index))
        types = group.get("instance_types") or []
        if not types:
            _fail(f"{where}.instance_types", "needs at least one instance type")
        rates = {t: prices.instance(t, f"{where}.instance_types") for t in types}
        scaling = group.get("scaling") or {}
        desired = int(_number(f"{where}.scaling.desired_size", scaling.get("desired_size", 0)))
        capacity = str(group.get("capacity_type", "ON_DEMAND")).upper()
        first = types[0]
        rate = rates[first]
        monthly = desired * rate * hours
        formula = f"{desired} x {_rate(rate)}/h ({first} on-demand) x {hours:g} h"
        factor = 1 - spot_discount if capacity == "SPOT" else 1.0
        maximum = int(_number(f"{where}.scaling.max_size", scaling.get("max_size", desired)))
        notes = [f"desired size; the autoscaler may run {scaling.get('min_size', desired)}-{maximum} nodes, "
                 f"{_usd(maximum * rate * hours * factor, 0)}/month at max_size"]
        if capacity == "SPOT":
            monthly *= factor
            formula += f" x (1 - {spot_discount:g} spot discount)"
            notes.insert(0, f"spot at {spot_discount:.0%} below on-demand (plan_spot_discount), saves "
                            f"{_usd(desired * rate * hours * spot_discount, 0)}/month; spot prices vary by hour and AZ")
        if len(types) > 1:
            listed = ", ".join(f"{t} {_rate(r)}/h" for t, r in rates.items() if t != first)
            notes.append(f"priced as {first}, the first type; the group may also run {listed}")
        label = name.replace("_", " ").replace("-", " ").title()
        configuration = f"{desired}x {first} ({capacity})"
        lines.append(_line(f"nodes_{name}", f"{label} Nodes", configuration, monthly, formula, "; ".join(notes),
                           overview=f"nodes_{name}" in OVERVIEW_KEYS, count=desired, rate=rate,
                           instance_type=first, capacity_type=capacity))
        disk = group.get("disk") or {"size_gb": 20, "type": "gp3"}
        if desired:
            volumes.append((f"{where}.disk", f"root volumes of {name}", desired, disk))
    return lines, volumes


def plan_cost_estimate(settings, prices=None, overrides=None, prices_file=None):
    """The monthly estimate: ``{region, currency, hours_per_month, lines, total, overview, prices}``.

    ``prices`` is the region's price file as loaded, ``overrides`` the inventory's ``plan_prices`` (they win),
    ``prices_file`` the file's path, named in the messages.
    """
    if not isinstance(settings, dict):
        _fail("plan_cost_settings", "must be a mapping of the deploy's variables")
    region = settings.get("plan_region") or settings.get("vpc_aws_region")
    if not region:
        _fail("plan_region", "the cluster's region is required (llmhub_aws_region)")
    table = Prices(region, prices, overrides, prices_file)
    hours = _number("plan_hours_per_month", settings.get("plan_hours_per_month", 730), 1, 744)
    spot_discount = _number("plan_spot_discount", settings.get("plan_spot_discount", 0.70), 0, 0.95)
    azs = settings.get("vpc_azs") or []
    az_count = len(azs) if isinstance(azs, list) else int(_number("vpc_azs", azs, 1))
    if az_count < 1:
        _fail("vpc_azs", "needs at least one availability zone")
    lines = []

    # EKS control plane
    eks_rate = table.get("eks_cluster_hour")
    lines.append(_line("eks_control_plane", "EKS Control Plane", "1 cluster", eks_rate * hours,
                       f"1 x {_rate(eks_rate)}/h x {hours:g} h",
                       f"standard support; a Kubernetes version in extended support costs "
                       f"{_rate(table.get('eks_extended_support_cluster_hour'))}/h", overview=True, count=1,
                       rate=eks_rate))

    # NAT gateways: hours (the overview's line), then the data they process and their public IPv4 addresses.
    nat_count = 1 if settings.get("vpc_single_nat_gateway") else az_count
    nat_rate = table.get("nat_gateway_hour")
    nat_mode = "single" if nat_count == 1 else "HA, one per AZ"
    lines.append(_line("nat_gateways", "NAT Gateways", f"{nat_count} ({nat_mode})",
                       nat_count * nat_rate * hours, f"{nat_count} x {_rate(nat_rate)}/h x {hours:g} h",
                       "hours only, as the overview's line; data processed is the next line", overview=True,
                       count=nat_count, rate=nat_rate))

    # Node groups at their desired sizes.
    node_lines, root_volumes = _nodegroup_lines(settings, table, hours, spot_discount)
    lines.extend(node_lines)

    # Data transfer: the overview's flat estimate.
    transfer = _number("plan_data_transfer_monthly", settings.get("plan_data_transfer_monthly", 100))
    lines.append(_line("data_transfer", "Data Transfer", "Estimated", transfer,
                       f"{_usd(transfer)} (plan_data_transfer_monthly)",
                       "the overview's flat estimate of internet egress and cross-AZ traffic; $100 is about 1.1 TB "
                       "out to the internet at $0.09/GB", overview=True))

    # --- beyond the overview's table ---
    nat_gb = _number("plan_nat_data_gb_per_month", settings.get("plan_nat_data_gb_per_month", 0))
    nat_gb_rate = table.get("nat_gateway_gb")
    lines.append(_line("nat_data", "NAT Gateway Data Processing", f"{nat_gb:g} GB/month (assumed)",
                       nat_gb * nat_gb_rate, f"{nat_gb:g} GB x {_rate(nat_gb_rate)}/GB",
                       "plan_nat_data_gb_per_month; ECR, STS, EC2, logs, ELB and Auto Scaling traffic goes through "
                       "the interface endpoints and S3 through the free gateway endpoint, not the NAT"))

    load_balancers = settings.get("plan_load_balancers")
    if load_balancers is None:
        app = settings.get("apps_example_app") or {}
        ingress = app.get("ingress") or {}
        load_balancers = 1 if app.get("enabled", False) and ingress.get("enabled", False) else 0
        lb_source = "the example application's ALB Ingress" if load_balancers else "no Ingress declared"
    else:
        load_balancers = int(_number("plan_load_balancers", load_balancers))
        lb_source = "plan_load_balancers"

    ipv4_rate = table.get("public_ipv4_hour")
    ipv4_count = nat_count + load_balancers * az_count
    lines.append(_line("public_ipv4", "Public IPv4 Addresses", f"{ipv4_count} ({nat_count} NAT EIPs + "
                       f"{load_balancers * az_count} ALB node addresses)", ipv4_count * ipv4_rate * hours,
                       f"{ipv4_count} x {_rate(ipv4_rate)}/h x {hours:g} h",
                       "every public IPv4 address is billed since February 2024, in use or not; the EKS public "
                       "endpoint's addresses are AWS's"))

    # EBS: node root volumes, then the declared claims.
    ebs_total, ebs_parts, ebs_gb = 0.0, [], 0.0
    for variable, what, count, disk in root_volumes:
        size = _number(f"{variable}.size_gb", disk.get("size_gb", 20))
        monthly, formula = _volume_monthly(table, variable, disk.get("type", "gp3"), size, disk.get("iops"),
                                           disk.get("throughput"))
        ebs_total += count * monthly
        ebs_gb += count * size
        ebs_parts.append(f"{what}: {count} x ({formula})")
    classes = {c.get("name"): c for c in settings.get("storage_classes") or [] if isinstance(c, dict)}
    claim_total, claim_parts, claim_gb = 0.0, [], 0.0
    for variable, claim in _claims(settings):
        if claim.get("type"):
            kind, iops, throughput = claim["type"], claim.get("iops"), claim.get("throughput")
        else:
            name = claim.get("storage_class") or settings.get("storage_default_class") or "gp3"
            if name not in classes:
                _fail(f"{variable}.storage_class", f"{name!r} is not one of storage_classes {sorted(classes)}")
            cls = classes[name]
            kind, iops, throughput = cls.get("type", "gp3"), claim.get("iops", cls.get("iops")), \
                claim.get("throughput", cls.get("throughput"))
        size = _gib(f"{variable}.size", claim.get("size_gb", claim.get("size")))
        count = int(_number(f"{variable}.count", claim.get("count", 1), 1))
        monthly, formula = _volume_monthly(table, variable, kind, size, iops, throughput)
        claim_total += count * monthly
        claim_gb += count * size
        claim_parts.append(f"{claim.get('name', variable)}: {count} x ({formula})")
    lines.append(_line("ebs_root_volumes", "EBS Node Root Volumes", f"{ebs_gb:g} GB over "
                       f"{sum(volume[2] for volume in root_volumes)} nodes", ebs_total, "; ".join(ebs_parts),
                       "gp3 includes 3000 IOPS and 125 MiB/s; only what is above is billed"))
    lines.append(_line("ebs_claims", "EBS Persistent Volumes", f"{claim_gb:g} GB in {len(claim_parts)} claim(s)",
                       claim_total, "; ".join(claim_parts) or "no claims declared",
                       "the claims the apps role declares plus plan_volumes; snapshots (backup role, DLM) not counted"))

    # Interface endpoints, one network interface per AZ each.
    endpoints = settings.get("vpc_endpoints") or []
    interface = [e.get("service") for e in endpoints if isinstance(e, dict)
                 and str(e.get("type", "Interface")).lower() == "interface"]
    gateway = [e.get("service") for e in endpoints if isinstance(e, dict)
               and str(e.get("type", "Interface")).lower() == "gateway"]
    endpoint_rate = table.get("interface_endpoint_az_hour")
    lines.append(_line("vpc_endpoints", "VPC Interface Endpoints",
                       f"{len(interface)} interface x {az_count} AZs" + (f" (+ {', '.join(gateway)} gateway, free)"
                                                                         if gateway else ""),
                       len(interface) * az_count * endpoint_rate * hours,
                       f"{len(interface)} x {az_count} AZ x {_rate(endpoint_rate)}/h x {hours:g} h",
                       f"{', '.join(interface) or 'none'}; plus {_rate(table.get('interface_endpoint_gb'))}/GB "
                       "processed, not estimated"))

    # Load balancers.
    lcu = _number("plan_alb_lcu_per_hour", settings.get("plan_alb_lcu_per_hour", 1))
    alb_rate, lcu_rate = table.get("alb_hour"), table.get("alb_lcu_hour")
    lines.append(_line("load_balancers", "Application Load Balancers", f"{load_balancers} ALB ({lb_source})",
                       load_balancers * (alb_rate + lcu * lcu_rate) * hours,
                       f"{load_balancers} x ({_rate(alb_rate)}/h + {lcu:g} LCU x {_rate(lcu_rate)}/LCU-h) "
                       f"x {hours:g} h",
                       "plan_alb_lcu_per_hour LCUs on average (1 LCU: 25 new connections/s, 3000 active, 1 GB/h)"))

    # CloudWatch Logs: control plane logs and VPC flow logs, ingestion and the retained volume.
    volumes = settings.get("plan_log_gb_per_month") or {}
    if not isinstance(volumes, dict):
        _fail("plan_log_gb_per_month", f"must map {list(LOG_SOURCES)} to GB ingested per month")
    validation.check_keys("plan_log_gb_per_month", volumes, LOG_SOURCES)
    logs = []
    if settings.get("eks_log_types"):
        logs.append(("eks_control_plane", f"EKS {'/'.join(settings['eks_log_types'])}", "logs_ingestion_gb",
                     settings.get("eks_log_retention_days", 30)))
    if settings.get("vpc_flow_logs_enabled", False):
        logs.append(("vpc_flow_logs", "VPC flow logs (vended)", "logs_vended_ingestion_gb",
                     settings.get("vpc_flow_logs_retention_days", 14)))
    log_total, log_parts, log_gb = 0.0, [], 0.0
    storage_rate = table.get("logs_storage_gb_month")
    for source, what, price_key, retention in logs:
        gb = _number(f"plan_log_gb_per_month.{source}", volumes.get(source, 0))
        retention = _number("eks_log_retention_days" if source == "eks_control_plane"
                            else "vpc_flow_logs_retention_days", retention, 1)
        stored = gb * min(retention, 3653) / 30
        ingest_rate = table.get(price_key)
        log_total += gb * ingest_rate + stored * storage_rate
        log_gb += gb
        log_parts.append(f"{what}: {gb:g} GB x {_rate(ingest_rate)}/GB + {stored:.1f} GB stored "
                         f"({retention:g} days) x {_rate(storage_rate)}/GB-month")
    lines.append(_line("cloudwatch_logs", "CloudWatch Logs", f"{log_gb:g} GB/month ingested (assumed)", log_total,
                       "; ".join(log_parts) or "no log groups", "plan_log_gb_per_month; stored volume is the "
                       "uncompressed upper bound (CloudWatch bills compressed bytes); Container Insights metrics "
                       "not included"))

    total = _money(sum(line["monthly"] for line in lines))
    estimate = {
        "region": region,
        "currency": "USD",
        "hours_per_month": hours,
        "spot_discount": spot_discount,
        "lines": lines,
        "total": total,
        "overview": _overview(lines, hours, spot_discount),
        "prices": {"file": table.where if table.table else None, "as_of": table.table.get("as_of"),
                   "overridden": table.overridden, "figures": table.sources()},
    }
    return estimate


def _overview(lines, hours, spot_discount):
    """The overview's six lines next to ours, each difference explained from the figures."""
    ours = {line["key"]: line for line in lines}
    compared, subtotal, overview_sum = [], 0.0, 0
    for key, component, configuration, figure in OVERVIEW_TABLE:
        line = ours.get(key)
        estimate = line["monthly"] if line else 0.0
        subtotal += estimate
        overview_sum += figure
        within = abs(estimate - figure) <= TOLERANCE * figure
        if line is None:
            why = "not in this inventory"
        elif within:
            why = "the same figure within 5%"
            details = line["details"]
            if details.get("count") and details.get("rate") and key in ("eks_control_plane", "nat_gateways"):
                why += (f"; the overview's figure is about {figure / (details['count'] * details['rate']):.0f} "
                        f"hours at {_rate(details['rate'])}/h, we count {hours:g}")
        else:
            why = _why(key, line, figure, hours, spot_discount)
        compared.append({"key": key, "component": component, "overview_configuration": configuration,
                         "configuration": line["configuration"] if line else "", "overview": figure,
                         "estimate": _money(estimate), "difference_pct": _pct(estimate, figure),
                         "within_tolerance": within, "explanation": why})
    subtotal = _money(subtotal)
    without_transfer = _money(subtotal - (ours["data_transfer"]["monthly"] if "data_transfer" in ours else 0))
    extra = [{"key": line["key"], "component": line["component"], "monthly": line["monthly"],
              "explanation": LEFT_OUT.get(line["key"], "a line the overview's table does not have")}
             for line in lines if not line["overview_line"]]
    return {
        "lines": compared,
        "overview_total": OVERVIEW_TOTAL,
        "overview_lines_sum": overview_sum,
        "total_note": (f"the overview states ~{_usd(OVERVIEW_TOTAL, 0)}, the sum of its lines without its own "
                       f"{_usd(OVERVIEW_LINES_SUM - OVERVIEW_TOTAL, 0)} of data transfer; its six lines add up to "
                       f"{_usd(overview_sum, 0)}"),
        "subtotal": subtotal,
        "subtotal_difference_pct": _pct(subtotal, overview_sum),
        "subtotal_within_tolerance": abs(subtotal - overview_sum) <= TOLERANCE * overview_sum,
        "subtotal_without_data_transfer": without_transfer,
        "stated_total_difference_pct": _pct(without_transfer, OVERVIEW_TOTAL),
        "stated_total_within_tolerance": abs(without_transfer - OVERVIEW_TOTAL) <= TOLERANCE * OVERVIEW_TOTAL,
        "extra_lines": extra,
    }


def _pct(value, reference):
    return round((value - reference) / reference * 100, 1)


def _why(key, line, figure, hours, spot_discount):
    details = line["details"]
    if key.startswith("nodes_"):
        count, rate, instance_type = details["count"], details["rate"], details["instance_type"]
        if details["capacity_type"] == "SPOT":
            implied = 1 - figure / (count * rate * hours) if count else 0
            return (f"the overview's {_usd(figure, 0)} is {count:g} {instance_type} at {_rate(rate)}/h on-demand with "
                    f"a {implied:.1%} spot discount; its text says ~70% (plan_spot_discount {spot_discount:g} gives "
                    f"{_usd(line['monthly'], 0)}); spot prices change hourly")
        implied = figure / (count * hours) if count else 0
        return (f"the overview's {_usd(figure, 0)} implies {_rate(implied)}/h for {instance_type}; the on-demand "
                f"price is {_rate(rate)}/h ({implied / rate:.0%} of it); the overview does not say which rate "
                f"it used")
    if key == "data_transfer":
        return "plan_data_transfer_monthly differs from the overview's $100"
    return f"{line['formula']} differs from the overview's {_usd(figure, 0)}"


# --- Markdown -------------------------------------------------------------------------------------------------
def _cell(text):
    return str(text).replace("|", "\\|").replace("\n", " ")


def plan_cost_markdown(estimate, title="Estimated monthly cost"):
    """The estimate as Markdown: the table, the overview comparison and the prices used."""
    if not isinstance(estimate, dict) or "lines" not in estimate:
        _fail("plan_cost_estimate", "is not the result of the llmhub.eks.plan_cost_estimate filter")
    out = [f"## {title} ({estimate['region']}, {estimate['currency']}, {estimate['hours_per_month']:g} h/month)", "",
           "| Component | Configuration | Monthly cost | How |", "|---|---|---:|---|"]
    for line in estimate["lines"]:
        out.append(f"| {_cell(line['component'])} | {_cell(line['configuration'])} | {_usd(line['monthly'])} | "
                   f"{_cell(line['formula'])} |")
    out.append(f"| **Total** | | **{_usd(estimate['total'])}** | |")
    overview = estimate.get("overview") or {}
    if overview:
        out += ["", f"### Against the overview's cost table (~{_usd(overview['overview_total'], 0)}/month)", "",
                "| Component | Overview | Estimate | Difference | Why |", "|---|---:|---:|---:|---|"]
        for line in overview["lines"]:
            out.append(f"| {_cell(line['component'])} | {_usd(line['overview'], 0)} | {_usd(line['estimate'])} | "
                       f"{line['difference_pct']:+.1f}% | {_cell(line['explanation'])} |")
        out.append(f"| **Overview's six lines** | **{_usd(overview['overview_lines_sum'], 0)}** | "
                   f"**{_usd(overview['subtotal'])}** | **{overview['subtotal_difference_pct']:+.1f}%** | "
                   "the sum of the six lines above |")
        out.append(f"| **Overview's stated total** | **~{_usd(overview['overview_total'], 0)}** | "
                   f"**{_usd(overview['subtotal_without_data_transfer'])}** | "
                   f"**{overview['stated_total_difference_pct']:+.1f}%** | {_cell(overview['total_note'])}; compared "
                   "with our lines without data transfer |")
        out += ["", "Lines the overview leaves out:", ""]
        for line in overview["extra_lines"]:
            out.append(f"- {line['component']}: {_usd(line['monthly'])} ({line['explanation']})")
    out += ["", "Notes:", ""]
    for line in estimate["lines"]:
        if line["notes"]:
            out.append(f"- {line['component']}: {line['notes']}")
    prices = estimate.get("prices") or {}
    source = f"{prices['file']} (as of {prices.get('as_of') or 'n/a'})" if prices.get("file") else "plan_prices only"
    out += ["", f"Prices: {source}"
            + (f"; overridden by plan_prices: {', '.join(prices['overridden'])}" if prices.get("overridden") else "")
            + ". Estimates, not a quote: the bill depends on usage.", ""]
    return "\n".join(out)


def plan_validate_settings(settings):
    """``settings`` (the plan role's ``plan_role_settings``) unchanged, or an error naming the variable.

    The ranges the argument spec cannot express; no price file is read (a region without one fails only the plan).
    """
    _number("plan_spot_discount", settings.get("spot_discount"), 0, 0.95)
    _number("plan_hours_per_month", settings.get("hours_per_month"), 1, 744)
    _number("plan_nat_data_gb_per_month", settings.get("nat_data_gb_per_month"), 0)
    _number("plan_data_transfer_monthly", settings.get("data_transfer_monthly"), 0)
    _number("plan_alb_lcu_per_hour", settings.get("alb_lcu_per_hour"), 0)
    if settings.get("load_balancers") is not None:
        _number("plan_load_balancers", settings["load_balancers"], 0)
    unknown = sorted(set(settings.get("log_gb_per_month") or {}) - {"eks_control_plane", "vpc_flow_logs"})
    if unknown:
        raise AnsibleFilterError(f"plan_log_gb_per_month: unknown keys {', '.join(unknown)} (known: eks_control_plane, "
                                 "vpc_flow_logs)")
    return settings


class FilterModule:
    """The plan's cost estimate."""

    def filters(self):
        return {
            "plan_cost_estimate": plan_cost_estimate,
            "plan_cost_markdown": plan_cost_markdown,
            "plan_validate_settings": plan_validate_settings,
        }
