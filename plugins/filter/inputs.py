# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks across the collection's layers: the inventory-wide settings, and variables nobody reads (a misspelt
name would be ignored silently)."""

from __future__ import annotations

from ansible_collections.llmhub.eks.plugins.plugin_utils import validation

# The prefixes of the variables the collection's roles and playbooks read.
PREFIXES = ("llmhub_", "iam_", "vpc_", "eks_", "nodegroups_", "kubeconfig_", "storage_", "addons_", "apps_", "plan_",
            "backup_", "setup_", "deploy_lock_", "preflight_", "hardening_", "diagnose_")


def llmhub_unknown_variables(variables, known, prefixes=PREFIXES):
    """Fail on the first variable named like ours (``eks_verison``) that no role or playbook reads.

    ``variables`` are the host's inventory and extra variables (``hostvars[inventory_hostname]``), ``known`` the
    names the roles declare (lookup ``llmhub.eks.role_variables``). Returns ``variables`` unchanged.
    """
    known = set(known)
    for name in sorted(variables):
        if name.startswith(tuple(prefixes)) and name not in known:
            guess = validation.closest(name, known)
            hint = f"did you mean {guess!r}? " if guess else ""
            validation.fail(name, f"no role of llmhub.eks reads this variable; {hint}(a misspelt variable is"
                                  " ignored and its default used instead)")
    return variables


def llmhub_validate_common(variables):
    """Check the inventory-wide ``llmhub_*`` settings every role derives its own from; returns ``variables``."""
    if "llmhub_aws_region" in variables:
        validation.check_region("llmhub_aws_region", variables["llmhub_aws_region"])
    if "llmhub_cluster_name" in variables:
        validation.check_cluster_name("llmhub_cluster_name", variables["llmhub_cluster_name"])
    if "llmhub_tags" in variables and not isinstance(variables["llmhub_tags"], dict):
        validation.fail("llmhub_tags", f"must be a mapping of tag names to values, got {variables['llmhub_tags']!r}")
    return variables


class FilterModule:
    """Input checks spanning every layer."""

    def filters(self):
        return {
            "llmhub_unknown_variables": llmhub_unknown_variables,
            "llmhub_validate_common": llmhub_validate_common,
        }
