#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations

DOCUMENTATION = r"""
---
module: eks_backup_info
short_description: List the backup sets of an EKS cluster, or verify one and read what a restore needs
version_added: 0.1.0
description:
  - Without O(backup_id), lists the sets M(llmhub.eks.eks_backup) wrote to O(bucket) (under O(prefix)) or
    O(directory), oldest first, each with its creation time, Kubernetes version, counts and size.
  - With O(backup_id), reads that set's manifest and, unless O(verify=false), checks every file against the size and
    SHA-256 the manifest recorded. A missing or changed file fails the task naming it; an unknown id fails naming the
    ids that exist. Returns the manifest, the stored inventory variables, and whether the cluster exists now.
  - Makes no change; runs in check mode.
author:
  - LLM Analytics Hub platform team (@llmhub)
options:
  cluster_name:
    description: Name of the EKS cluster whose sets are read.
    type: str
    required: true
  backup_id:
    description: The set to verify and read.
    type: str
  verify:
    description: Check every file of set O(backup_id) against its checksum.
    type: bool
    default: true
extends_documentation_fragment:
  - llmhub.eks.backup_store
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: List the backups of the cluster
  llmhub.eks.eks_backup_info:
    cluster_name: llm-analytics-hub-prod-eks
    bucket: llmhub-artifacts-123456789012-us-east-1
  register: backups

- name: Verify a backup before restoring it
  llmhub.eks.eks_backup_info:
    cluster_name: llm-analytics-hub-prod-eks
    bucket: llmhub-artifacts-123456789012-us-east-1
    backup_id: 20261202T151500Z
  register: backup_set
"""

RETURN = r"""
backups:
  description: Every set, oldest first.
  returned: always
  type: list
  elements: dict
  sample: [{"id": "20261202T151500Z", "created": "2026-12-02T15:15:00+00:00", "kubernetes_version": "1.35",
            "objects": 42, "volumes": 1, "size": 123456, "location": "s3://bucket/backups/cluster/20261202T151500Z/"}]
manifest:
  description: The manifest of O(backup_id) (files with checksums, resource types, counts, volumes and snapshots).
  returned: when backup_id is given
  type: dict
verified_files:
  description: Number of files checked against their checksums.
  returned: when backup_id is given
  type: int
variables:
  description: The inventory variables stored with the set, less the ones that bind a run to a machine or endpoint.
  returned: when backup_id is given
  type: dict
cluster_exists:
  description: Whether the cluster exists now (a restore builds the platform first when it does not).
  returned: when backup_id is given
  type: bool
"""

import json

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.llmhub.eks.plugins.module_utils import backup as bk
from ansible_collections.llmhub.eks.plugins.module_utils.backup_session import cluster_exists
from ansible_collections.llmhub.eks.plugins.module_utils.backup_session import open_store
from ansible_collections.llmhub.eks.plugins.module_utils.common import retrying_client
from ansible_collections.llmhub.eks.plugins.module_utils.common import run_module


def summary(store, backup_id):
    try:
        manifest = bk.read_manifest(store, backup_id)
    except bk.BackupError:
        return {"id": backup_id, "location": store.location(backup_id), "readable": False, "created": None}
    return {"id": backup_id, "location": store.location(backup_id), "readable": True,
            "created": manifest.get("created"), "kubernetes_version": manifest.get("kubernetes_version"),
            "objects": sum((manifest.get("objects") or {}).values()), "volumes": len(manifest.get("volumes") or []),
            "size": sum(f.get("size", 0) for f in manifest["files"].values())}


def inspect(module):
    params = module.params
    store = open_store(module)
    result = {"changed": False, "backups": [summary(store, backup_id) for backup_id in store.ids()]}
    if params.get("backup_id"):
        backup_id = bk.check_backup_id(params["backup_id"])
        manifest = bk.read_manifest(store, backup_id)
        if manifest.get("cluster") != params["cluster_name"]:
            raise bk.BackupError(f"Backup {backup_id} is of cluster {manifest.get('cluster')}, not "
                                 f"{params['cluster_name']}")
        contents = bk.verify(store, backup_id, manifest) if params["verify"] else {}
        stored = contents.get("inventory/variables.json") or store.get(backup_id, "inventory/variables.json")
        variables = json.loads(stored) if stored else {}
        exists = cluster_exists(retrying_client(module, "eks"), params["cluster_name"])
        result.update(manifest=manifest, verified_files=len(contents), cluster_exists=exists,
                      variables={k: v for k, v in sorted(variables.items()) if not bk.environment_variable(k)})
    module.exit_json(**result)


def main():
    argument_spec = dict(
        cluster_name=dict(type="str", required=True),
        backup_id=dict(type="str"),
        bucket=dict(type="str"),
        prefix=dict(type="str"),
        directory=dict(type="path"),
        verify=dict(type="bool", default=True),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True,
                              mutually_exclusive=[("bucket", "directory")],
                              required_one_of=[("bucket", "directory")])
    try:
        run_module(module, inspect, module)
    except bk.BackupError as e:
        module.fail_json(msg=str(e))


if __name__ == "__main__":
    main()
