# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Validation of the ``iam`` role's variables, before any AWS call (errors name the variable)."""

from __future__ import annotations

import re

from ansible_collections.llmhub.eks.plugins.plugin_utils import validation

PRINCIPAL_ARN = re.compile(r"^arn:[^:]+:(iam|sts)::\d{12}:(root|role/.+|user/.+|assumed-role/.+)$")


def iam_validate_settings(settings):
    """Check the iam role's variables (names and AWS limits); returns them unchanged."""
    validation.check_cluster_name("iam_cluster_name", settings.get("iam_cluster_name"))
    validation.check_region("iam_aws_region", settings.get("iam_aws_region"))
    for variable in ("iam_cluster_role_name", "iam_node_role_name"):
        validation.check_iam_role_name(variable, settings.get(variable))
    alias = settings.get("iam_kms_alias")
    if not isinstance(alias, str) or not validation.KMS_ALIAS.match(alias):
        validation.fail("iam_kms_alias", f"{alias!r} is not a KMS alias of ours: alias/ then letters, digits, /, _"
                                         " or - (alias/aws/ is reserved for AWS managed keys)")
    low, high = validation.KMS_DELETION_WINDOW
    validation.check_int("iam_kms_deletion_window_days", settings.get("iam_kms_deletion_window_days"),
                         minimum=low, maximum=high, what=" days (KMS ScheduleKeyDeletion)")
    for index, arn in enumerate(settings.get("iam_kms_admin_arns") or []):
        if not PRINCIPAL_ARN.match(str(arn)):
            validation.fail(f"iam_kms_admin_arns[{index}]", f"{arn!r} is not an IAM principal ARN")
    return settings


class FilterModule:
    """Validation filters of the iam role."""

    def filters(self):
        return {"iam_validate_settings": iam_validate_settings}
