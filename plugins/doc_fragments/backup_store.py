# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)

from __future__ import annotations


class ModuleDocFragment:
    """Where the backup modules keep their sets."""

    DOCUMENTATION = r"""
options:
  bucket:
    description:
      - S3 bucket of the sets (the C(backup) role makes it with versioning, default encryption and public access
        blocked). One of O(bucket) and O(directory) is required.
    type: str
  prefix:
    description: Key prefix of the sets in O(bucket). Default C(backups/<cluster>), of the cluster the sets are of.
    type: str
  directory:
    description: Local directory of the sets instead of a bucket.
    type: path
"""
