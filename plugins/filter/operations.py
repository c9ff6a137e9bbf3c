# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks of the operations roles (setup, deploy_lock) before any call."""

from __future__ import annotations

import ipaddress
import re

from ansible_collections.llmhub.eks.plugins.plugin_utils import validation

BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
TABLE = re.compile(r"^[A-Za-z0-9_.-]{3,255}$")
INVENTORY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_-]{0,62}$")


def _check_table(variable, name):
    if not TABLE.match(str(name or "")):
        validation.fail(variable, f"{name!r} is not a DynamoDB table name (3-255 letters, digits, '_', '-', '.')")


def setup_validate_settings(settings):
    """``settings`` (the setup role's ``setup_role_settings``) unchanged, or an error naming the variable."""
    validation.check_region("setup_aws_region", settings["region"])
    bucket = settings.get("bucket") or ""
    if bucket and (not BUCKET.match(bucket) or ".." in bucket):
        validation.fail("setup_artifacts_bucket", f"{bucket!r} is not an S3 bucket name (3-63 lower-case letters, "
                                                  "digits, '.' and '-', starting and ending with a letter or digit)")
    validation.check_int("setup_artifacts_noncurrent_version_days", settings["noncurrent_version_days"], 1)
    validation.check_int("setup_artifacts_abort_multipart_days", settings["abort_multipart_days"], 1)
    _check_table("setup_lock_table", settings["lock_table"])
    name = settings.get("inventory_name") or ""
    if not name:
        return settings
    if not INVENTORY.match(name) or name in ("local", "example"):
        validation.fail("setup_inventory_name", f"{name!r}: a directory name under inventories/ (letters, digits, "
                                                "'-', '_'), not local or example")
    validation.check_cluster_name("setup_inventory_cluster_name", settings.get("inventory_cluster_name") or "")
    region = settings["inventory_region"]
    validation.check_region("setup_inventory_region", region)
    for zone in settings.get("inventory_azs") or []:
        if not re.match(rf"^{re.escape(region)}[a-z]$", str(zone)):
            validation.fail("setup_inventory_azs", f"{zone!r} is not an availability zone of {region} "
                                                   f"(such as {region}a)")
    try:
        network = ipaddress.ip_network(str(settings["inventory_vpc_cidr"]), strict=True)
    except ValueError as e:
        validation.fail("setup_inventory_vpc_cidr", f"{settings['inventory_vpc_cidr']!r} is not a network: {e}")
    if network.version != 4 or not 16 <= network.prefixlen <= 18:
        validation.fail("setup_inventory_vpc_cidr", f"{network}: an IPv4 block between /16 and /18 holds the "
                                                    "overview's subnet layout")
    cidrs = settings.get("inventory_public_access_cidrs") or []
    if not cidrs:
        validation.fail("setup_inventory_public_access_cidrs", "name the networks that may reach the cluster's "
                                                               "public API endpoint (office, VPN, CI egress)")
    for cidr in cidrs:
        try:
            if ipaddress.ip_network(str(cidr), strict=False).prefixlen == 0:
                validation.fail("setup_inventory_public_access_cidrs", f"{cidr} opens the API to the internet")
        except ValueError as e:
            validation.fail("setup_inventory_public_access_cidrs", f"{cidr!r} is not a CIDR: {e}")
    return settings


def deploy_lock_validate_settings(settings):
    """``settings`` (the deploy_lock role's ``deploy_lock_role_settings``) unchanged, or an error naming the variable."""
    _check_table("deploy_lock_table", settings["table"])
    validation.check_int("deploy_lock_lease_seconds", settings["lease_seconds"], 60, 7 * 86400)
    if not str(settings.get("name") or "").strip():
        validation.fail("deploy_lock_name", "must name the lock (the cluster's name)")
    return settings


class FilterModule:
    """Input checks of the setup and deploy_lock roles."""

    def filters(self):
        return {
            "setup_validate_settings": setup_validate_settings,
            "deploy_lock_validate_settings": deploy_lock_validate_settings,
        }
