# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""EC2 helpers shared by the network modules: one describe per set, names from tags, tag reconciliation."""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_specifications
from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.llmhub.eks.plugins.module_utils.common import known_option
from ansible_collections.llmhub.eks.plugins.module_utils.common import paginate  # noqa: F401 pylint: disable=unused-import
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client

COMMON_ARGS = dict(
    vpc_id=dict(type="str"),
    tags=dict(type="dict", aliases=["resource_tags"]),
    purge_tags=dict(type="bool", default=True),
    state=dict(type="str", choices=["present", "absent"], default="present"),
)


def ec2_client(module):
    return retrying_client(module, "ec2")


def tags_of(resource):
    return boto3_tag_list_to_ansible_dict(resource.get("Tags") or [])


def name_of(resource):
    return tags_of(resource).get("Name")


def desired_tags(module, name, extra=None):
    """Common ``tags`` option + the member's own tags + its Name tag."""
    tags = dict(module.params.get("tags") or {})
    tags.update(extra or {})
    tags["Name"] = name
    return tags


def tag_specifications(tags, resource_type):
    return boto3_tag_specifications(tags, types=resource_type)


def vpc_filter(vpc_id, **extra):
    filters = [{"Name": "vpc-id", "Values": [vpc_id]}]
    for name, values in extra.items():
        filters.append({"Name": name.replace("_", "-"), "Values": list(values)})
    return filters


def by_name(resources):
    """Index resources by their Name tag (resources without one are left out)."""
    indexed = {}
    for resource in resources:
        name = name_of(resource)
        if name:
            indexed.setdefault(name, resource)
    return indexed


def reconcile_tags(client, module, resource_id, current_tags, wanted_tags, purge=None):
    """Bring one resource's tags to ``wanted_tags`` (purging others when ``purge``, by default the module's
    purge_tags). Returns changed.

    Not amazon.aws's ``ensure_ec2_tags``: it describes the tags again (an extra call per resource on every run,
    where the set's one describe call already returned them), and its add/remove helpers call ``fail_json``
    themselves, which a worker thread of ``run_concurrently`` cannot do (every failure of a set is reported
    together instead).
    """
    purge = module.params.get("purge_tags", True) if purge is None else purge
    to_set, to_unset = compare_aws_tags(current_tags, wanted_tags, purge_tags=purge)
    if not to_set and not to_unset:
        return False
    if module.check_mode:
        return True
    if to_unset:
        client.delete_tags(aws_retry=True, Resources=[resource_id], Tags=[{"Key": key} for key in to_unset])
    if to_set:
        client.create_tags(aws_retry=True, Resources=[resource_id], Tags=ansible_dict_to_boto3_tag_list(to_set))
    return True


def require_vpc(module):
    """Outside check mode a vpc_id is needed; in check mode a missing VPC (no vpc_id, or the KNOWN_AFTER_APPLY of
    a planned one) means everything would be created."""
    vpc_id = known_option(module, "vpc_id")
    if not vpc_id and not module.check_mode:
        module.fail_json(msg="vpc_id is required: pass the id of the VPC (e.g. from amazon.aws.ec2_vpc_net)")
    return vpc_id


def ids_by_reference(resources, id_key, name_key=None):
    """{reference: id} where a reference is the resource's id, its Name tag or ``name_key``'s value."""
    ids = {resource[id_key]: resource[id_key] for resource in resources}
    if name_key:
        ids.update({resource[name_key]: resource[id_key] for resource in resources})
    else:
        ids.update({name: resource[id_key] for name, resource in by_name(resources).items()})
    return ids
