# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Checks across the collection's layers: variables nobody reads (a misspelt name is silently ignored)."""

from __future__ import annotations

from ansible_collections.llmhub.eks.plugins.plugin_utils import validation

# The prefixes of the variables the collection's roles and playbooks read.
PREFIXES = ("llmhub_", "iam_", "vpc_", "eks_", "nodegroups_")


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


class FilterModule:
    """Input checks spanning every layer."""

    def filters(self):
        return {"llmhub_unknown_variables": llmhub_unknown_variables}
