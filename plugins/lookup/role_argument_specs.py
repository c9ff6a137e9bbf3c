# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: role_argument_specs
short_description: The argument specs of the collection's roles, by role
version_added: 0.1.0
description:
  - Reads, from the installed collection itself, the options of one entry point of each role named in the terms
    (C(meta/argument_specs.yml)), and returns them as one mapping of role name to options.
  - Used by the validation step at the start of C(site.yml) and C(destroy.yml) with the filter
    C(llmhub.eks.llmhub_validate_role_arguments), so that every layer's variables are checked against their
    argument specs in one task (what C(ansible.builtin.validate_argument_spec) does for one role).
  - No AWS call.
options:
  _terms:
    description: Names of roles of this collection (C(iam), C(vpc)...).
    required: true
    type: list
    elements: str
  entry_point:
    description: The entry point whose options are returned.
    type: str
    default: validate
author:
  - LLM Analytics Hub platform team (@llmhub)
"""

EXAMPLES = r"""
- name: Check the iam and vpc roles' variables against their argument specs
  ansible.builtin.assert:
    that: >-
      dict(names | zip(query('ansible.builtin.vars', *names)))
      | llmhub.eks.llmhub_validate_role_arguments(lookup('llmhub.eks.role_argument_specs', 'iam', 'vpc'))
      is mapping
  vars:
    names: "{{ query('ansible.builtin.varnames', '^(iam|vpc)_') }}"
"""

RETURN = r"""
_raw:
  description: Role name to the options of its entry point, as in C(meta/argument_specs.yml).
  type: dict
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.llmhub.eks.plugins.plugin_utils.collection_roles import ROLES, entry_points


def role_argument_specs(names, entry_point="validate", roles=ROLES):
    """``{role: options of its entry point}``; AnsibleLookupError for a role or entry point that does not exist."""
    specs = {}
    for name in names:
        declared = entry_points(roles / str(name)) if "/" not in str(name) else {}
        if not declared:
            raise AnsibleLookupError(f"llmhub.eks.role_argument_specs: no role {name!r} with an argument spec in"
                                     f" {roles}")
        if entry_point not in declared:
            raise AnsibleLookupError(f"llmhub.eks.role_argument_specs: role {name!r} has no entry point"
                                     f" {entry_point!r} (it has {sorted(declared)})")
        specs[str(name)] = (declared[entry_point] or {}).get("options") or {}
    return specs


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        if not terms:
            raise AnsibleLookupError("llmhub.eks.role_argument_specs takes the names of the roles")
        return [role_argument_specs(terms, self.get_option("entry_point"))]
