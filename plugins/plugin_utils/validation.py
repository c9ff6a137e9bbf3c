# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Input checks shared by the roles' validation filters (controller side, no AWS call).

Every error names the variable (``nodegroups_definitions[1].scaling.max_size: ...``)
so that a run stops before it changes anything and says what to fix. AWS's own
limits come from AWS's documentation and from botocore's service models, which
ship with the SDK: the regions of a partition and the EC2 instance types.
"""

from __future__ import annotations

import difflib
import functools
import importlib.metadata
import json
import os
import re

from ansible.errors import AnsibleFilterError


# EKS CreateCluster: 1-100 characters, a letter or digit first, then letters, digits, - and _.
CLUSTER_NAME = re.compile(r"^[0-9A-Za-z][A-Za-z0-9_-]{0,99}$")
# IAM CreateRole: 1-64 characters of [\w+=,.@-].
IAM_ROLE_NAME_MAX = 64
# KMS ScheduleKeyDeletion: PendingWindowInDays 7-30.
KMS_DELETION_WINDOW = (7, 30)
# KMS CreateAlias: alias/ then 1-250 of [a-zA-Z0-9/_-]; alias/aws/ is reserved for AWS managed keys.
KMS_ALIAS = re.compile(r"^alias/(?!aws/)[a-zA-Z0-9/_-]{1,250}$")
# EKS service quota "Nodes per managed node group" (default 450).
MAX_NODES_PER_NODEGROUP = 450
# The values CloudWatch Logs PutRetentionPolicy accepts.
LOG_RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827, 2192, 2557, 2922,
                      3288, 3653)


def fail(variable, message):
    raise AnsibleFilterError(f"{variable}: {message}")


def closest(name, candidates):
    """The candidate closest to ``name`` (a likely typo), or None."""
    matches = difflib.get_close_matches(str(name), [str(c) for c in candidates], n=1, cutoff=0.6)
    return matches[0] if matches else None


def unknown_key_message(key, allowed):
    guess = closest(key, allowed)
    hint = f"did you mean {guess!r}? " if guess else ""
    return f"unknown key {key!r}; {hint}valid keys are {sorted(allowed)}"


def check_keys(where, mapping, allowed):
    """Fail on the first key of ``mapping`` that is not in ``allowed``, naming the closest valid key."""
    if not isinstance(mapping, dict):
        fail(where, f"must be a mapping with keys among {sorted(allowed)}, got {type(mapping).__name__}")
    for key in mapping:
        if key not in allowed:
            fail(f"{where}.{key}", unknown_key_message(key, allowed))
    return mapping


def check_cluster_name(variable, name):
    if not isinstance(name, str) or not CLUSTER_NAME.match(name):
        fail(variable, f"{name!r} is not a valid EKS cluster name: 1-100 characters, a letter or digit first, then"
                       " letters, digits, - and _ (it also names the VPC, roles, key alias and log groups)")
    return name


def check_iam_role_name(variable, name):
    """IAM's rules for a role name, as amazon.aws's ``validate_iam_identifiers`` checks them."""
    if not isinstance(name, str) or not name:
        fail(variable, f"{name!r} is not a valid IAM role name (1-{IAM_ROLE_NAME_MAX} of letters, digits and +=,.@_-)")
    # imported here: amazon.aws's iam module_utils imports botocore (~0.3 s in every task that loads a filter)
    from ansible_collections.amazon.aws.plugins.module_utils.iam import validate_iam_identifiers  # pylint: disable=import-outside-toplevel

    problem = validate_iam_identifiers("role", name=name)
    if problem:
        hint = " (shorten the cluster name or set this name)" if len(name) > IAM_ROLE_NAME_MAX else ""
        fail(variable, f"{name!r} ({len(name)} characters): {problem}{hint}")
    return name


def check_int(variable, value, minimum=None, maximum=None, what=""):
    """``value`` as an int within [minimum, maximum]; booleans and non-numbers fail."""
    if isinstance(value, bool):
        fail(variable, f"{value!r} is not a whole number")
    try:
        number = int(str(value).strip())
    except ValueError:
        fail(variable, f"{value!r} is not a whole number")
    if minimum is not None and number < minimum or maximum is not None and number > maximum:
        bounds = f"{minimum} to {maximum}" if maximum is not None else f"at least {minimum}"
        fail(variable, f"{number} is out of range: {bounds}{what}")
    return number


def check_log_retention(variable, value):
    days = check_int(variable, value, minimum=1)
    if days not in LOG_RETENTION_DAYS:
        fail(variable, f"{days} is not a CloudWatch Logs retention; use one of {list(LOG_RETENTION_DAYS)}")
    return days


def _cache_file(name):
    """A per-user cache file for data derived from the installed botocore (None when there is no home)."""
    try:
        version = importlib.metadata.version("botocore")
    except importlib.metadata.PackageNotFoundError:
        return None
    base = os.environ.get("XDG_CACHE_HOME") or os.path.join(os.path.expanduser("~"), ".cache")
    return os.path.join(base, "llmhub-eks", f"botocore-{version}-{name}.json")


def _from_botocore(name, compute):
    """``compute()`` (a sorted list from botocore's data), cached on disk per botocore version.

    Every task runs in a fresh worker process, so an in-memory cache does not
    outlive the task; parsing botocore's EC2 model costs ~0.25 s a task.
    Without a writable home directory the value is computed each time.
    """
    path = _cache_file(name)
    if path:
        try:
            with open(path, encoding="utf-8") as handle:
                return json.load(handle)
        except (OSError, ValueError):
            pass
    value = sorted(compute())
    if path:
        try:
            os.makedirs(os.path.dirname(path), exist_ok=True)
            partial = f"{path}.{os.getpid()}"
            with open(partial, "w", encoding="utf-8") as handle:
                json.dump(value, handle)
            os.replace(partial, path)
        except OSError:
            pass
    return value


def _instance_types_from_botocore():
    import botocore.session  # pylint: disable=import-outside-toplevel

    return botocore.session.get_session().get_service_model("ec2").shape_for("InstanceType").enum


def _regions_from_botocore():
    import botocore.session  # pylint: disable=import-outside-toplevel

    session = botocore.session.get_session()
    regions = set()
    for partition in session.get_available_partitions():
        regions.update(session.get_available_regions("ec2", partition_name=partition))
    return regions


@functools.lru_cache(maxsize=1)
def known_instance_types():
    """Every EC2 instance type botocore's EC2 model knows (its ``InstanceType`` enum)."""
    return frozenset(_from_botocore("ec2-instance-types", _instance_types_from_botocore))


def check_instance_type(variable, instance_type):
    known = known_instance_types()
    if instance_type not in known:
        guess = closest(instance_type, known)
        hint = f"; did you mean {guess!r}?" if guess else ""
        fail(variable, f"{instance_type!r} is not an EC2 instance type{hint}")
    return instance_type


@functools.lru_cache(maxsize=1)
def known_regions():
    """Regions of every partition, from the endpoint data botocore ships."""
    return frozenset(_from_botocore("regions", _regions_from_botocore))


def check_region(variable, region):
    if region not in known_regions():
        guess = closest(region, known_regions())
        hint = f"; did you mean {guess!r}?" if guess else ""
        fail(variable, f"{region!r} is not an AWS region{hint}")
    return region
