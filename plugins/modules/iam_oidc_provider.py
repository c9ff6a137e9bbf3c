#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: iam_oidc_provider
short_description: The IAM OpenID Connect identity provider of an EKS cluster (or any OIDC issuer)
version_added: 0.1.0
description:
  - Ensures the IAM OIDC identity provider of an issuer URL, which IRSA role trust policies name as their
    C(Federated) principal (see M(llmhub.eks.irsa_role)). Neither amazon.aws nor community.aws has such a module.
  - The issuer is O(url), or the C(identity.oidc.issuer) of the EKS cluster O(cluster_name).
  - The provider is found by listing the account's providers and matching the URL without its scheme (the provider's
    ARN ends with it).
  - Client ids (audiences) are added and removed to match O(client_ids); thumbprints are replaced when O(thumbprints)
    is given and differs; tags are reconciled.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  url:
    description:
      - Issuer URL, C(https://...). Mutually exclusive with O(cluster_name).
      - In check mode V((known after apply\)), the RV(llmhub.eks.eks_cluster#module:oidc_issuer) of a cluster that
        would be created, plans the provider of that issuer.
    type: str
  cluster_name:
    description:
      - EKS cluster whose OIDC issuer is used. Mutually exclusive with O(url).
      - In check mode a cluster that does not exist yet is reported with a warning (the provider would be created).
    type: str
  client_ids:
    description: Client ids (audiences) accepted by the provider; C(sts.amazonaws.com) for IRSA.
    type: list
    elements: str
    default: [sts.amazonaws.com]
  thumbprints:
    description:
      - SHA-1 thumbprints (40 hexadecimal characters, at most 5) of the issuer's server certificate chain.
      - When omitted, a new provider is created without thumbprints (C(ThumbprintList) is optional in IAM's
        C(CreateOpenIDConnectProvider)). IAM then obtains the top intermediate CA thumbprint itself, and for
        EKS issuers (hosted on AWS) relies on its library of trusted root CAs, so no thumbprint needs to be
        maintained. An existing provider keeps its thumbprints.
      - When given (not empty), the provider's thumbprints are replaced by these when they differ.
    type: list
    elements: str
  state:
    description: V(present) ensures the provider; V(absent) deletes it.
    type: str
    choices: [present, absent]
    default: present
extends_documentation_fragment:
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.tags
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: OIDC provider of the cluster, for IRSA
  llmhub.eks.iam_oidc_provider:
    cluster_name: llm-analytics-hub-prod-eks
    tags:
      Project: llm-analytics-hub
      llmhub.io/cluster: llm-analytics-hub-prod-eks
  register: eks_oidc_result

- name: The same from the issuer llmhub.eks.eks_cluster returned, without looking the cluster up (as the eks role does)
  llmhub.eks.iam_oidc_provider:
    url: "{{ eks_cluster_result.oidc_issuer }}"

- name: A provider of another issuer, with a pinned thumbprint
  llmhub.eks.iam_oidc_provider:
    url: https://token.actions.githubusercontent.com
    client_ids: [sts.amazonaws.com]
    thumbprints: [6938fd4d98bab03faadb97b34396831e3780aea1]

- name: Delete the cluster's provider
  llmhub.eks.iam_oidc_provider:
    cluster_name: llm-analytics-hub-prod-eks
    state: absent
"""

RETURN = r"""
arn:
  description: ARN of the provider (V(null) after O(state=absent); V((known after apply\)) in check mode when it would be
    created).
  returned: always
  type: str
  sample: arn:aws:iam::123456789012:oidc-provider/oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE
url:
  description: The issuer URL with its C(https://) scheme (IAM stores it without). V((known after apply\)) in check mode
    when the cluster (or its issuer) does not exist yet.
  returned: always
  type: str
  sample: https://oidc.eks.us-east-1.amazonaws.com/id/EXAMPLED539D4633E53DE1B71EXAMPLE
client_ids:
  description: Client ids of the provider, sorted (empty after O(state=absent)).
  returned: always
  type: list
  elements: str
  sample: [sts.amazonaws.com]
thumbprints:
  description: Thumbprints of the provider, sorted (empty when IAM manages them, or after O(state=absent)).
  returned: always
  type: list
  elements: str
tags:
  description: Tags of the provider.
  returned: always
  type: dict
actions:
  description: What was done (or would be in check mode).
  returned: always
  type: list
  elements: str
"""

import re

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule
from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.llmhub.eks.plugins.module_utils.common import KNOWN_AFTER_APPLY
from ansible_collections.llmhub.eks.plugins.module_utils.common import known_option
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module
from ansible_collections.llmhub.eks.plugins.module_utils.policy import issuer_host_path
from ansible_collections.llmhub.eks.plugins.module_utils.policy import issuer_problem

THUMBPRINT = re.compile(r"[0-9A-Fa-f]{40}")


def validate(params):
    problems = []
    if params["url"] not in (None, KNOWN_AFTER_APPLY):  # KNOWN_AFTER_APPLY: the issuer of a planned cluster
        problem = issuer_problem(params["url"])
        if problem:
            problems.append(f"url: {problem}")
    client_ids = params["client_ids"]
    if params["state"] == "present":
        if not client_ids:
            problems.append("client_ids: at least one client id is required (sts.amazonaws.com for IRSA)")
        if len(client_ids) > 100:
            problems.append("client_ids: at most 100 client ids")
        for index, client_id in enumerate(client_ids):
            if not 1 <= len(client_id) <= 255:
                problems.append(f"client_ids[{index}]: must be 1-255 characters")
        thumbprints = params["thumbprints"] or []
        if len(thumbprints) > 5:
            problems.append("thumbprints: at most 5 thumbprints")
        for index, thumbprint in enumerate(thumbprints):
            if not THUMBPRINT.fullmatch(thumbprint):
                problems.append(f"thumbprints[{index}]: {thumbprint!r} must be 40 hexadecimal characters (a SHA-1 "
                                "fingerprint)")
    return problems


def resolve_url(module):
    """The issuer URL, or None when the cluster does not exist (a warning; a failure outside check mode if present)
    or when O(url) is the KNOWN_AFTER_APPLY of a cluster planned in check mode."""
    if module.params["url"] == KNOWN_AFTER_APPLY:
        return None
    if module.params["url"]:
        return module.params["url"].rstrip("/")
    name = module.params["cluster_name"]
    eks = retrying_client(module, "eks")
    try:
        cluster = eks.describe_cluster(aws_retry=True, name=name)["cluster"]
    except is_boto3_error_code("ResourceNotFoundException"):
        cluster = None
    issuer = (((cluster or {}).get("identity") or {}).get("oidc") or {}).get("issuer")
    if issuer:
        return issuer.rstrip("/")
    reason = "does not exist" if cluster is None else f"has no OIDC issuer yet (status {cluster.get('status')})"
    if module.params["state"] == "absent":
        module.warn(f"EKS cluster {name} {reason}: its OIDC provider cannot be found by cluster_name; pass url "
                    "to delete a provider left behind")
    elif module.check_mode:
        module.warn(f"EKS cluster {name} {reason} (yet): its OIDC provider would be created once it does")
    else:
        module.fail_json(msg=f"cluster_name: EKS cluster {name} {reason} in {module.region}; create it first or "
                             "pass url")
    return None


def find_provider(client, url):
    """The provider of an issuer URL as returned by GetOpenIDConnectProvider plus its Arn, or None."""
    suffix = f":oidc-provider/{issuer_host_path(url)}"
    providers = client.list_open_id_connect_providers(aws_retry=True)["OpenIDConnectProviderList"]
    arn = next((p["Arn"] for p in providers if p["Arn"].endswith(suffix)), None)
    if arn is None:
        return None
    try:
        provider = client.get_open_id_connect_provider(aws_retry=True, OpenIDConnectProviderArn=arn)
    except is_boto3_error_code("NoSuchEntity"):
        return None
    provider["Arn"] = arn
    return provider


def view(provider, url):
    if not provider:
        return {}
    return {
        "url": url,
        "client_ids": sorted(provider.get("ClientIDList") or []),
        "thumbprints": sorted(t.lower() for t in provider.get("ThumbprintList") or []),
        "tags": boto3_tag_list_to_ansible_dict(provider.get("Tags") or []),
    }


def wanted(module, before, url):
    tags = dict(before.get("tags", {}))
    if module.params["tags"] is not None:
        tags = dict(module.params["tags"]) if module.params["purge_tags"] else {**tags, **module.params["tags"]}
    thumbprints = before.get("thumbprints", [])
    if module.params["thumbprints"]:
        thumbprints = sorted({t.lower() for t in module.params["thumbprints"]})
    return {
        "url": url,
        "client_ids": sorted(set(module.params["client_ids"])),
        "thumbprints": thumbprints,
        "tags": tags,
    }


def result_of(arn, actions, before, after, module):
    result = dict(changed=bool(actions), actions=actions, arn=arn, url=after.get("url"),
                  client_ids=after.get("client_ids", []), thumbprints=after.get("thumbprints", []),
                  tags=after.get("tags", {}))
    result["diff"] = dict(before=before, after=after)
    return result


def ensure_present(module, client):
    url = resolve_url(module)
    if url is None:  # check mode, cluster not there yet: its issuer, and so the provider's ARN, come later
        after = wanted(module, {}, KNOWN_AFTER_APPLY)
        module.exit_json(**result_of(KNOWN_AFTER_APPLY, ["create OIDC provider"], {}, after, module))
    provider = find_provider(client, url)
    before = view(provider, url)
    after = wanted(module, before, url)
    actions = []
    if provider is None:
        actions.append(f"create OIDC provider of {url}")
        arn = KNOWN_AFTER_APPLY
        if not module.check_mode:
            params = dict(Url=url, ClientIDList=after["client_ids"])
            if module.params["thumbprints"]:
                params["ThumbprintList"] = after["thumbprints"]
            if after["tags"]:
                params["Tags"] = ansible_dict_to_boto3_tag_list(after["tags"])
            arn = client.create_open_id_connect_provider(aws_retry=True, **params)["OpenIDConnectProviderArn"]
        module.exit_json(**result_of(arn, actions, before, after, module))
    arn = provider["Arn"]
    add = [c for c in after["client_ids"] if c not in before["client_ids"]]
    remove = [c for c in before["client_ids"] if c not in after["client_ids"]]
    actions += [f"add client id {c}" for c in add] + [f"remove client id {c}" for c in remove]
    if after["thumbprints"] != before["thumbprints"]:
        actions.append("update thumbprints")
    to_set, to_unset = compare_aws_tags(before["tags"], after["tags"], purge_tags=True)
    if to_set:
        actions.append(f"tag {sorted(to_set)}")
    if to_unset:
        actions.append(f"untag {sorted(to_unset)}")
    if actions and not module.check_mode:
        # Add before removing, so that the provider never has no client id.
        for client_id in add:
            client.add_client_id_to_open_id_connect_provider(aws_retry=True, OpenIDConnectProviderArn=arn,
                                                             ClientID=client_id)
        for client_id in remove:
            client.remove_client_id_from_open_id_connect_provider(aws_retry=True, OpenIDConnectProviderArn=arn,
                                                                  ClientID=client_id)
        if after["thumbprints"] != before["thumbprints"]:
            client.update_open_id_connect_provider_thumbprint(aws_retry=True, OpenIDConnectProviderArn=arn,
                                                              ThumbprintList=after["thumbprints"])
        if to_unset:
            client.untag_open_id_connect_provider(aws_retry=True, OpenIDConnectProviderArn=arn, TagKeys=to_unset)
        if to_set:
            client.tag_open_id_connect_provider(aws_retry=True, OpenIDConnectProviderArn=arn,
                                                Tags=ansible_dict_to_boto3_tag_list(to_set))
    module.exit_json(**result_of(arn, actions, before, after, module))


def ensure_absent(module, client):
    url = resolve_url(module)
    provider = find_provider(client, url) if url else None
    actions = []
    before = view(provider, url)
    if provider is not None:
        actions.append(f"delete OIDC provider of {url}")
        if not module.check_mode:
            try:
                client.delete_open_id_connect_provider(aws_retry=True, OpenIDConnectProviderArn=provider["Arn"])
            except is_boto3_error_code("NoSuchEntity"):
                pass
    module.exit_json(**result_of(None, actions, before, {}, module))


def main():
    argument_spec = dict(
        url=dict(type="str"),
        cluster_name=dict(type="str"),
        client_ids=dict(type="list", elements="str", default=["sts.amazonaws.com"]),
        thumbprints=dict(type="list", elements="str"),
        tags=dict(type="dict", aliases=["resource_tags"]),
        purge_tags=dict(type="bool", default=True),
        state=dict(type="str", choices=["present", "absent"], default="present"),
    )
    module = AnsibleAWSModule(
        argument_spec=argument_spec,
        supports_check_mode=True,
        mutually_exclusive=[("url", "cluster_name")],
        required_one_of=[("url", "cluster_name")],
    )
    known_option(module, "url")  # KNOWN_AFTER_APPLY only in check mode
    problems = validate(module.params)
    if problems:
        module.fail_json(msg="Invalid OIDC provider: " + "; ".join(problems))
    client = retrying_client(module, "iam")
    handler = ensure_present if module.params["state"] == "present" else ensure_absent
    run_module(module, handler, module, client)


if __name__ == "__main__":
    main()
