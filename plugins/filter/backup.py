# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Filters of the backup role: its settings checked, and the inventory variables a backup keeps."""

from __future__ import annotations

import re

from ansible.errors import AnsibleFilterError

from ansible_collections.llmhub.eks.plugins.module_utils import backup as bk

BUCKET = re.compile(r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$")
TIME = re.compile(r"^([01][0-9]|2[0-3]):[0-5][0-9]$")


def _int(settings, key, variable, low, high=None):
    try:
        value = int(settings[key])
    except (TypeError, ValueError):
        raise AnsibleFilterError(f"{variable}: must be a whole number, got {settings[key]!r}") from None
    if value < low or (high is not None and value > high):
        bound = f"between {low} and {high}" if high is not None else f"at least {low}"
        raise AnsibleFilterError(f"{variable}: must be {bound}, got {value}")
    return value


def backup_validate_settings(settings):
    """``settings`` (the role's ``backup_role_settings``) unchanged, or an error naming the variable."""
    if settings.get("backup_id"):
        try:
            bk.check_backup_id(settings["backup_id"])
        except bk.BackupError as e:
            raise AnsibleFilterError(str(e)) from None
    bucket = settings.get("bucket") or ""
    if bucket and (not BUCKET.match(bucket) or ".." in bucket):
        raise AnsibleFilterError(f"backup_bucket: {bucket!r} is not an S3 bucket name (3-63 lower-case letters, "
                                 "digits, '.' and '-', starting and ending with a letter or digit)")
    if bucket and settings.get("directory"):
        raise AnsibleFilterError("backup_bucket and backup_directory are both set: a backup goes to one of them")
    prefix = str(settings.get("prefix") or "")
    if prefix.startswith("/") or ".." in prefix.split("/"):
        raise AnsibleFilterError(f"backup_prefix: {prefix!r} must be a relative key prefix such as backups/<cluster>")
    _int(settings, "wait_timeout", "backup_wait_timeout", 1)
    _int(settings, "retention_days", "backup_retention_days", 1)
    _int(settings, "keep_last", "backup_keep_last", 0)
    _int(settings, "dlm_retain_count", "backup_dlm_retain_count", 1, 1000)
    _int(settings, "restore_wait_timeout", "backup_restore_wait_timeout", 1)
    times = settings.get("dlm_times") or []
    if len(times) != 1 or not all(TIME.match(str(t)) for t in times):
        raise AnsibleFilterError(f"backup_dlm_times: one UTC time as HH:MM, such as ['03:00'], got {times!r}")
    tags = settings.get("dlm_target_tags") or {}
    if not tags:
        raise AnsibleFilterError("backup_dlm_target_tags: at least one tag must name the volumes DLM snapshots")
    return settings


def backup_inventory_variables(variables, known):
    """The variables of ``variables`` (``hostvars[inventory_hostname]``) that the roles read (``known``, lookup
    ``llmhub.eks.role_variables``), as the deploy used them: what a restore needs to build the platform again."""
    known = set(known)
    kept = {}
    for name in sorted(known):
        if name.startswith("backup_") or name not in variables:
            continue
        kept[name] = variables[name]
    return kept


class FilterModule:
    def filters(self):
        return {
            "backup_validate_settings": backup_validate_settings,
            "backup_inventory_variables": backup_inventory_variables,
        }
