# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: role_path
short_description: The directory of one of this collection's roles, wherever the collection is installed
version_added: 0.1.0
description:
  - Returns the absolute path of C(roles/<name>) of the installed llmhub.eks collection.
  - C(ansible.builtin.file), C(ansible.builtin.template) and C(llmhub.eks.policy_document) lookups resolve a
    relative path against the role whose task is running. A role default that reads one of its role's files (the eks
    role's IRSA policies) would not be found when another role's task reads it, such as the preflight checking every
    layer's variables; with this path it is.
  - No AWS call.
options:
  _terms:
    description: The name of one role of this collection (C(eks)).
    required: true
    type: list
    elements: str
author:
  - LLM Analytics Hub platform team (@llmhub)
"""

EXAMPLES = r"""
- name: Read the eks role's cluster autoscaler policy from any role or play
  ansible.builtin.debug:
    msg: >-
      {{ lookup('ansible.builtin.file', lookup('llmhub.eks.role_path', 'eks') ~ '/files/cluster-autoscaler-policy.json') }}
"""

RETURN = r"""
_raw:
  description: The role's directory.
  type: list
  elements: path
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.llmhub.eks.plugins.plugin_utils.collection_roles import ROLES, role_names


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        paths = []
        known = role_names()
        for term in terms:
            if term not in known:
                raise AnsibleLookupError(f"llmhub.eks.role_path: {term!r} is not a role of llmhub.eks ({known})")
            paths.append(str(ROLES / term))
        return paths
