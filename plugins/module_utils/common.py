# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Shared plumbing of the llmhub.eks set-reconciling modules.

A module here reconciles a whole set of one AWS concept in one process:
it describes what exists once, computes the difference, makes the mutating
calls concurrently, then waits for everything at once. This file holds the
pieces every such module needs: a retrying client, concurrent execution that
reports every failure (not just the first), and a set waiter that polls all
pending resources with one describe call per round.
"""

from __future__ import annotations

import time
from concurrent.futures import ThreadPoolExecutor

try:
    import botocore
except ImportError:
    pass  # AnsibleAWSModule reports the missing library.

from ansible_collections.amazon.aws.plugins.module_utils.botocore import is_boto3_error_code
from ansible_collections.amazon.aws.plugins.module_utils.exceptions import AnsibleAWSError
from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.llmhub.eks.plugins.module_utils import progress
# the check-mode plan helpers live apart (no boto3) so that controller-side filters can import them cheaply
from ansible_collections.llmhub.eks.plugins.module_utils.plan import KNOWN_AFTER_APPLY  # noqa: F401 pylint: disable=unused-import
from ansible_collections.llmhub.eks.plugins.module_utils.plan import fill_unknown  # noqa: F401 pylint: disable=unused-import
from ansible_collections.llmhub.eks.plugins.module_utils.plan import is_known  # noqa: F401 pylint: disable=unused-import
from ansible_collections.llmhub.eks.plugins.module_utils.plan import known_option  # noqa: F401 pylint: disable=unused-import
from ansible_collections.llmhub.eks.plugins.module_utils.plan import planned  # noqa: F401 pylint: disable=unused-import

# Calls are I/O bound; AWS throttles per account, so keep the fan-out moderate.
MAX_WORKERS = 10
# Polling follows the time already waited: the next poll comes after 5% of
# it (at least 0.25 s, at most 10 s, Terraform's cap). A resource is noticed
# at most 5% (or 10 s) after it is ready, which matters on the critical path
# (cluster, node groups, add-ons), and a 10-minute EKS create costs ~130
# describe calls (a fixed 0.25 s poll would make 2,400).
POLL_FIRST_DELAY = 0.25
POLL_MAX_DELAY = 10.0
POLL_FRACTION = 0.05
# Why not botocore's waiters (eks ClusterActive/NodegroupActive poll every 30 s, AddonActive every 10 s, ec2
# NatGatewayAvailable/VpcAvailable every 15 s, one resource per waiter): a fixed 30 s delay notices an ACTIVE
# cluster up to 30 s late, on the critical path, where the schedule above notices it within 5% (at most 10 s);
# one describe per round covers a whole set (three node groups, every add-on, three NAT gateways); and each
# round reports the members' states for the progress callback. Botocore has no waiter for updates or sets.


# AWSRetry's default list has the query protocols' "Throttling" but not the JSON
# protocols' code (EKS, CloudWatch Logs, KMS answer ThrottlingException).
# IAM answers ConcurrentModification when calls on one role overlap (iam_roles attaches policies concurrently).
RETRY_CODES = ["ThrottlingException", "TooManyRequestsException", "ConcurrentModification"]


def retry_backoff():
    """The retry decorator of every llmhub.eks call: jittered backoff on throttling and 5xx."""
    return AWSRetry.jittered_backoff(retries=10, delay=1, max_delay=30, catch_extra_error_codes=RETRY_CODES)


def retrying_client(module, service):
    """A boto3 client whose calls retry throttling and 5xx with jittered backoff when given aws_retry=True."""
    return module.client(service, retry_decorator=retry_backoff())


# A policy naming a principal created moments ago (a role, an OIDC provider) is refused until IAM has propagated
# it, typically within seconds: such calls are retried after doubling delays (1, 2, 4, 8, 10, ... s).
PRINCIPAL_RETRY_FIRST_DELAY = 1.0
PRINCIPAL_RETRY_MAX_DELAY = 10.0


def retry_while_principal_unknown(call, error_code, timeout, sleep=time.sleep, **params):
    """``call(aws_retry=True, **params)``, retried while AWS answers ``error_code`` about a principal (IAM:
    MalformedPolicyDocument "Invalid principal", KMS: MalformedPolicyDocumentException), sleeping at most
    ``timeout`` seconds in all."""
    waited, delay = 0.0, PRINCIPAL_RETRY_FIRST_DELAY
    while True:
        try:
            return call(aws_retry=True, **params)
        except is_boto3_error_code(error_code) as e:
            if "principal" not in str(e).lower() or waited + delay > timeout:
                raise
            sleep(delay)
            waited += delay
            delay = min(PRINCIPAL_RETRY_MAX_DELAY, delay * 2)


def paginate(client, operation, key, **params):
    """All items of a paginated call, following its tokens, retried as a whole on throttling."""

    @retry_backoff()
    def full_result():
        return client.get_paginator(operation).paginate(**params).build_full_result()

    return full_result().get(key, [])


class SetOperationError(AnsibleAWSError):
    """One or more members of a set failed; the message names each of them."""

    def __init__(self, description, failures):
        self.failures = failures
        details = "; ".join(f"{label}: {_describe_error(error)}" for label, error in failures)
        super().__init__(message=f"Failed to {description} for {len(failures)} item(s): {details}")


def _describe_error(error):
    response = getattr(error, "response", None)
    if isinstance(response, dict) and "Error" in response:
        return f"{response['Error'].get('Code')}: {response['Error'].get('Message')}"
    return str(error)


def run_concurrently(func, items, description, label=str, max_workers=MAX_WORKERS):
    """Call ``func(item)`` for every item in threads and return the results in order.

    Every item runs to completion even when others fail; then, if any failed,
    a single SetOperationError names every failed item and why.
    """
    items = list(items)
    if not items:
        return []
    if len(items) == 1:
        workers = 1
    else:
        workers = min(max_workers, len(items))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        futures = [pool.submit(func, item) for item in items]
    results, failures = [], []
    for item, future in zip(items, futures):
        error = future.exception()
        if error is not None:
            failures.append((label(item), error))
            results.append(None)
        else:
            results.append(future.result())
    if failures:
        raise SetOperationError(description, failures)
    return results


def wait_for_set(fetch, ids, is_ready, failure_reason, timeout, description, sleep=time.sleep, clock=time.monotonic):
    """Wait until every id is ready, polling all pending ids with one ``fetch`` per round.

    ``fetch(pending_ids)`` returns {id: resource}; a missing id counts as not
    ready. ``failure_reason(resource)`` returns a string when the resource
    reached a terminal failed state. Returns {id: resource} of the final view.
    Raises AnsibleAWSError naming every failed or timed out id. After each
    round the members' states are reported for the ``llmhub.eks.progress``
    callback, which prints them while the task runs.
    """
    pending = list(dict.fromkeys(ids))
    final = {}
    failed = {}
    states = {}
    started = clock()
    started_wall = time.time()
    deadline = started + timeout
    try:
        while pending:
            seen = fetch(pending)
            still = []
            for resource_id in pending:
                resource = seen.get(resource_id)
                states[str(resource_id)] = progress.state_of(resource) or "not found yet"
                if resource is not None and is_ready(resource):
                    final[resource_id] = resource
                elif resource is not None and failure_reason(resource):
                    failed[resource_id] = failure_reason(resource)
                    final[resource_id] = resource
                else:
                    still.append(resource_id)
            pending = still
            if not pending:
                break
            progress.report(description, states, started_wall)
            now = clock()
            delay = min(POLL_MAX_DELAY, max(POLL_FIRST_DELAY, (now - started) * POLL_FRACTION))
            if now + delay > deadline:
                failed.update({resource_id: f"still not ready after {timeout}s" for resource_id in pending})
                break
            sleep(delay)
    finally:
        progress.finish()
    if failed:
        details = "; ".join(f"{resource_id}: {reason}" for resource_id, reason in failed.items())
        raise AnsibleAWSError(message=f"Failed waiting for {description}: {details}")
    return final


def diff_view(items, keys):
    """A stable, comparable view of a set for ``--diff``: a dict keyed by name with the chosen fields."""
    return {item["name"]: {key: item.get(key) for key in keys} for item in sorted(items, key=lambda i: i["name"])}


def run_module(module, handler, *args):
    """Run a module's handler and turn AWS errors into fail_json with the failing call named."""
    try:
        handler(*args)
    except AnsibleAWSError as e:
        module.fail_json_aws_error(e)
    except (botocore.exceptions.ClientError, botocore.exceptions.BotoCoreError) as e:
        module.fail_json_aws(e, msg="AWS call failed")
