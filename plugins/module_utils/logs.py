# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

"""CloudWatch Logs log groups: find one by name, create it, set its retention and tags.

Shared by ``cloudwatch_log_group`` (the EKS control-plane log group) and
``ec2_vpc_flow_logs`` (the group its flow logs deliver to).
"""

from __future__ import annotations

from ansible_collections.amazon.aws.plugins.module_utils.tagging import compare_aws_tags

from ansible_collections.llmhub.eks.plugins.module_utils.common import paginate
from ansible_collections.llmhub.eks.plugins.module_utils.common import planned


def find_log_group(logs, name):
    """The log group called exactly ``name`` (DescribeLogGroups matches by prefix), or None."""
    groups = paginate(logs, "describe_log_groups", "logGroups", logGroupNamePrefix=name)
    return next((group for group in groups if group["logGroupName"] == name), None)


def group_arn(group):
    """The ARN tagging calls take (DescribeLogGroups' ``arn`` ends in ``:*``)."""
    return group.get("logGroupArn") or group["arn"].removesuffix(":*")


def ensure_log_group(logs, name, retention, tags, check_mode, purge_tags=True):
    """Create the group or bring its retention (None: leave it) and tags (None: leave them) to what is wanted.

    Returns ``(before, after, actions)``: the group's ``{"retention_in_days", "tags", "arn"}`` before (None when it
    did not exist) and after (its ``arn`` KNOWN_AFTER_APPLY in check mode when it would be created), and a sentence
    per change made (or that would be made in check mode).
    """
    actions = []
    group = find_log_group(logs, name)
    if group is None:
        actions.append(f"create log group {name}")
        if not check_mode:
            logs.create_log_group(aws_retry=True, logGroupName=name, **({"tags": tags} if tags else {}))
            group = find_log_group(logs, name)
        before = None
        current_retention, current_tags = None, dict(tags or {})
    else:
        current_retention = group.get("retentionInDays")
        current_tags = logs.list_tags_for_resource(aws_retry=True, resourceArn=group_arn(group)).get("tags", {})
        before = {"arn": group_arn(group), "retention_in_days": current_retention, "tags": dict(current_tags)}
    if retention is not None and current_retention != retention:
        actions.append(f"set retention of {name} to {retention} days")
        if not check_mode:
            logs.put_retention_policy(aws_retry=True, logGroupName=name, retentionInDays=retention)
    after_tags = dict(current_tags)
    if tags is not None and before is not None:
        missing, stale = compare_aws_tags(current_tags, tags, purge_tags=purge_tags)
        if stale:
            actions.append(f"remove tags {', '.join(sorted(stale))} from {name}")
            if not check_mode:
                logs.untag_resource(aws_retry=True, resourceArn=group_arn(group), tagKeys=sorted(stale))
        if missing:
            actions.append(f"set tags {', '.join(sorted(missing))} of {name}")
            if not check_mode:
                logs.tag_resource(aws_retry=True, resourceArn=group_arn(group), tags=missing)
        after_tags = {**{k: v for k, v in current_tags.items() if k not in stale}, **missing}
    after = {
        "arn": group_arn(group) if group is not None else planned(None, check_mode),
        "retention_in_days": retention if retention is not None else current_retention,
        "tags": after_tags,
    }
    return before, after, actions
