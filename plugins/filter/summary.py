# -*- coding: utf-8 -*-
# Copyright: Contributors to the llmhub.eks collection
# GNU General Public License v3.0+ (see https://www.gnu.org/licenses/gpl-3.0.txt)
"""The run summary of playbooks/site.yml: what a run built, or what a check mode run would build."""

from __future__ import annotations

from ansible_collections.llmhub.eks.plugins.module_utils.plan import KNOWN_AFTER_APPLY

NOT_IN_THIS_RUN = "not in this run"
BUILT = "built"
WOULD_BUILD = (f"would build (check mode: nothing was changed; {KNOWN_AFTER_APPLY} stands for the ids, ARNs and "
               "URLs AWS assigns when it creates a resource)")


def _known_after_apply(value):
    """``value`` with every None (in dicts and lists) as KNOWN_AFTER_APPLY."""
    if value is None:
        return KNOWN_AFTER_APPLY
    if isinstance(value, dict):
        return {key: _known_after_apply(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_known_after_apply(item) for item in value]
    return value


def platform_summary(layers, check_mode=False):
    """``{"run": "built" or "would build ...", <layer>: <its outputs>, ...}`` for the last play of site.yml.

    ``layers`` maps each layer to its outputs (``vpc_outputs`` summarised, ``iam_outputs``, ...) or to None when
    the layer did not run (its tags were not selected): "not in this run". In check mode nothing exists yet, so a
    value still missing (None) is one AWS assigns on creation and is shown as KNOWN_AFTER_APPLY, never as null.
    """
    summary = {"run": WOULD_BUILD if check_mode else BUILT}
    for layer, outputs in (layers or {}).items():
        if outputs is None:
            summary[layer] = NOT_IN_THIS_RUN
        else:
            summary[layer] = _known_after_apply(outputs) if check_mode else outputs
    return summary


class FilterModule:
    """Run summary filters."""

    def filters(self):
        return {
            "platform_summary": platform_summary,
        }
