# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: role_variables
short_description: Names of every variable the collection's roles and playbooks read
version_added: 0.1.0
description:
  - Reads, from the installed collection itself, the options of every entry point in each role's
    C(meta/argument_specs.yml), the keys of its C(defaults/main.yml) and C(vars/main.yml), the names its tasks
    register or set as facts (a later play of the same run sees them, as C(restore.yml) runs C(site.yml) after the
    backup role), and the inventory-wide C(llmhub_*) variables the playbooks read.
  - Used by the validation step at the start of C(site.yml) and C(destroy.yml) with the filter
    C(llmhub.eks.llmhub_unknown_variables), so that a misspelt variable (C(eks_verison)) stops the run instead of
    being ignored.
  - Takes no terms. No AWS call.
options:
  inputs_only:
    description:
      - Only the variables a user sets (options, defaults, role vars, inventory-wide ones), not the names the roles'
        tasks register or set; what a backup keeps of an inventory.
    type: bool
    default: false
author:
  - LLM Analytics Hub platform team (@llmhub)
"""

EXAMPLES = r"""
- name: Stop on a variable no role reads
  ansible.builtin.assert:
    that: hostvars[inventory_hostname] | llmhub.eks.llmhub_unknown_variables(lookup('llmhub.eks.role_variables', wantlist=true)) is mapping
"""

RETURN = r"""
_raw:
  description: Sorted variable names.
  type: list
  elements: str
"""

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.llmhub.eks.plugins.plugin_utils.collection_roles import ROLES, entry_points, load_yaml

# Inventory-wide settings the playbooks and every role read (documented in README.md, "Inventory").
PLAYBOOK_VARIABLES = (
    "llmhub_aws_region",
    "llmhub_aws_endpoint_url",
    "llmhub_cluster_name",
    "llmhub_require_endpoint_url",
    "llmhub_tags",
)


def _keys(path):
    if not path.is_file():
        return set()
    data = load_yaml(path) or {}
    return set(data)


def _set_by_tasks(tasks_dir):
    """Names the role's tasks register or set as facts (they exist in later plays of the same run)."""
    names = set()
    pending = []
    for path in sorted(tasks_dir.glob("*.yml")) if tasks_dir.is_dir() else []:
        pending.extend(load_yaml(path) or [])
    while pending:
        task = pending.pop()
        if not isinstance(task, dict):
            continue
        if isinstance(task.get("register"), str):
            names.add(task["register"])
        facts = task.get("ansible.builtin.set_fact") or task.get("set_fact")
        if isinstance(facts, dict):
            names |= {key for key in facts if key != "cacheable"}
        for section in ("block", "rescue", "always"):
            pending.extend(task.get(section) or [])
    return names


def role_variables(roles=ROLES, inputs_only=False):
    names = set(PLAYBOOK_VARIABLES)
    for role in sorted(p for p in roles.iterdir() if p.is_dir()):
        names |= _keys(role / "defaults" / "main.yml") | _keys(role / "vars" / "main.yml")
        if not inputs_only:
            names |= _set_by_tasks(role / "tasks")
        for spec in entry_points(role).values():
            names |= set((spec or {}).get("options") or {})
    return sorted(names)


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        if terms:
            raise AnsibleLookupError("llmhub.eks.role_variables takes no terms")
        self.set_options(var_options=variables, direct=kwargs)
        return role_variables(inputs_only=self.get_option("inputs_only"))
