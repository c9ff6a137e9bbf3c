# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks across the collection's layers: the inventory-wide settings, and variables nobody reads (a misspelt
name would be ignored silently)."""

from __future__ import annotations

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator

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
    if variables.get("llmhub_require_endpoint_url") and not variables.get("llmhub_aws_endpoint_url"):
        validation.fail("llmhub_aws_endpoint_url", "empty, but this inventory talks to the local emulator "
                                                   "(llmhub_require_endpoint_url): run `make demo`, or "
                                                   "`python -m emulator run -- ansible-playbook ...`")
    if "llmhub_aws_region" in variables:
        validation.check_region("llmhub_aws_region", variables["llmhub_aws_region"])
    if "llmhub_cluster_name" in variables:
        validation.check_cluster_name("llmhub_cluster_name", variables["llmhub_cluster_name"])
    if "llmhub_tags" in variables and not isinstance(variables["llmhub_tags"], dict):
        validation.fail("llmhub_tags", f"must be a mapping of tag names to values, got {variables['llmhub_tags']!r}")
    return variables


def _plain(value):
    """A copy made of plain dicts and lists (ArgumentSpecValidator deep-copies what it validates: a templating
    engine's lazy container would be copied with its templar and plugin loaders)."""
    if isinstance(value, Mapping):
        return {key: _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    return value


def llmhub_validate_role_arguments(values, specs):
    """Check variables against several roles' argument specs at once, as each role's own validation would.

    ``values`` maps variable names to their (templated) values, ``specs`` role names to the options of an entry
    point (lookup ``llmhub.eks.role_argument_specs``). Each role's options are validated by ansible-core's
    ``ArgumentSpecValidator``, the validator of ``ansible.builtin.validate_argument_spec`` (types, choices,
    required options, sub-options). Every error of every role is reported at once, each naming the role and the
    variable; returns ``values`` unchanged.
    """
    if not isinstance(values, dict) or not isinstance(specs, dict):
        raise AnsibleFilterError("llmhub_validate_role_arguments: expects a mapping of variables and a mapping of"
                                 " role names to argument specs")
    errors = []
    for role, options in specs.items():
        provided = {name: _plain(values[name]) for name in options or {} if name in values}
        result = ArgumentSpecValidator(options or {}).validate(provided)
        errors.extend(f"role {role}: {message}" for message in result.error_messages)
    if errors:
        raise AnsibleFilterError("Validation of arguments failed:\n" + "\n".join(errors))
    return values


class FilterModule:
    """Input checks spanning every layer."""

    def filters(self):
        return {
            "llmhub_unknown_variables": llmhub_unknown_variables,
            "llmhub_validate_common": llmhub_validate_common,
            "llmhub_validate_role_arguments": llmhub_validate_role_arguments,
        }
