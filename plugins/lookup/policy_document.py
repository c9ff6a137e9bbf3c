# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
name: policy_document
short_description: An IAM or KMS policy document from a JSON file with C(${name}) placeholders
version_added: 0.1.0
description:
  - Reads a JSON policy document, parses it, then replaces each C(${name}) placeholder in its strings (keys and
    values) by the value O(values) gives for it, as Terraform's C(templatefile) does for a policy. The document is
    parsed before any value is put in, so a value can never break its syntax.
  - A string that is exactly one placeholder takes the value itself, whatever its type (a list of principals stays
    a list); a placeholder inside a longer string takes a string or a number.
  - IAM's own policy variables (C(${aws:username}), C(${aws:PrincipalTag/team})) are not placeholders and are kept.
  - Unlike rendering a C(.json.j2) file with M(ansible.builtin.template) or the C(template) lookup, nothing but the
    values given is visible to the document, and the run's variables are not copied for each document (the C(template)
    lookup deep-copies every variable of the task, ~0.1 s a document here).
  - No AWS call.
options:
  _terms:
    description:
      - Paths of JSON documents. A relative path is looked for in the C(files) directory of the running role, then
        of the playbook, as the C(file) lookup does; an absolute one (for example under
        C(lookup('llmhub.eks.role_path', 'eks'\)) is read as it is.
    required: true
    type: list
    elements: path
  values:
    description: The value of each placeholder, by name. A placeholder with no value is an error naming it.
    type: dict
    default: {}
author:
  - LLM Analytics Hub platform team (@llmhub)
"""

EXAMPLES = r"""
- name: The node role's inline policy for EBS volumes of this cluster only
  ansible.builtin.set_fact:
    node_ebs_policy: >-
      {{ lookup('llmhub.eks.policy_document', 'node-ebs-policy.json',
                values={'partition': 'aws', 'region': 'us-east-1', 'account_id': '123456789012',
                        'cluster_name': 'llm-analytics-hub-prod-eks'}) }}

# files/kms-key-policy.json:
#   {"Statement": [{"Sid": "AccountAdministersTheKey", "Principal": {"AWS": "${administrators}"}, ...}]}
- name: A key policy whose principals are a list
  ansible.builtin.set_fact:
    key_policy: >-
      {{ lookup('llmhub.eks.policy_document', 'kms-key-policy.json',
                values={'administrators': ['arn:aws:iam::123456789012:root'], 'cluster_name': 'hub'}) }}
"""

RETURN = r"""
_raw:
  description: One rendered document (a dictionary) per path.
  type: list
  elements: dict
"""

import os

from ansible.errors import AnsibleLookupError
from ansible.plugins.lookup import LookupBase

from ansible_collections.llmhub.eks.plugins.plugin_utils.policy_documents import PolicyDocumentError
from ansible_collections.llmhub.eks.plugins.plugin_utils.policy_documents import load


class LookupModule(LookupBase):
    def run(self, terms, variables=None, **kwargs):
        self.set_options(var_options=variables, direct=kwargs)
        values = self.get_option("values") or {}
        documents = []
        for term in terms:
            path = term if os.path.isabs(term) else self.find_file_in_search_path(variables, "files", term,
                                                                                  ignore_missing=True)
            if not path or not os.path.isfile(path):
                raise AnsibleLookupError(f"llmhub.eks.policy_document: could not find the policy document {term!r}")
            try:
                documents.append(load(path, values))
            except PolicyDocumentError as e:
                raise AnsibleLookupError(f"llmhub.eks.policy_document: {e}") from None
        return documents
