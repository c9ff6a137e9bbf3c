# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""Check-mode plan values shared by the modules and the controller-side filters.

Standard library only: filters run in a fresh controller worker per task, and
importing boto3/botocore there (through common.py) cost ~0.3 s a task.
"""

from __future__ import annotations

# In check mode a resource that does not exist yet has no id, ARN or other value AWS assigns when it creates it.
# Results and diffs show this string there instead of null, as Terraform's plan does; the modules take it back as
# the input of a later task (the vpc_id of a planned VPC, the OIDC issuer of a planned cluster) to mean "what an
# earlier task of this run would create", and refuse it outside check mode.
KNOWN_AFTER_APPLY = "(known after apply)"


def is_known(value):
    """Whether ``value`` is an actual value: neither None nor KNOWN_AFTER_APPLY."""
    return value is not None and value != KNOWN_AFTER_APPLY


def planned(value, check_mode=True):
    """``value``, or KNOWN_AFTER_APPLY where it is None in check mode (a value AWS assigns on creation)."""
    return KNOWN_AFTER_APPLY if value is None and check_mode else value


def fill_unknown(view, keys, check_mode=True):
    """``view`` with KNOWN_AFTER_APPLY for each of ``keys`` whose value is None, in check mode (a copy)."""
    if not check_mode or not view:
        return view
    return {key: (KNOWN_AFTER_APPLY if key in keys and value is None else value) for key, value in view.items()}


def known_option(module, option, value=None):
    """The value of ``option`` (``module.params[option]`` unless ``value`` is given), None where it is
    KNOWN_AFTER_APPLY in check mode. Outside check mode that value fails the module: the task that would have made
    the resource ran in check mode, or did not run."""
    if value is None:
        value = module.params.get(option)
    if value != KNOWN_AFTER_APPLY:
        return value
    if not module.check_mode:
        module.fail_json(msg=f"{option}: {KNOWN_AFTER_APPLY!r} is the check mode placeholder of a value that does not "
                             "exist yet; pass the actual value (run the task that creates it without --check first)")
    return None
