"""The llmhub.eks.gc_freeze callback: a play starts with the controller's objects collected and frozen."""

from __future__ import annotations

import gc
import sys
import weakref
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.llmhub.eks.plugins.callback import gc_freeze  # noqa: E402


class Cycle:
    def __init__(self):
        self.me = self


def test_a_play_start_collects_then_freezes_and_the_end_of_the_run_unfreezes():
    callback = gc_freeze.CallbackModule()
    try:
        garbage = weakref.ref(Cycle())  # garbage in a cycle: only the collector frees it
        assert garbage() is not None
        callback.v2_playbook_on_play_start(play=None)
        frozen = gc.get_freeze_count()
        assert frozen > 0
        assert garbage() is None, "collected before the freeze, not frozen"
        later = weakref.ref(Cycle())  # garbage made after the freeze: the collector still frees it
        gc.collect()
        assert later() is None
        # the next play collects what the previous one froze and became garbage since
        callback.v2_playbook_on_play_start(play=None)
        assert gc.get_freeze_count() > 0
        callback.v2_playbook_on_stats(stats=None)
        assert gc.get_freeze_count() == 0
    finally:
        gc.unfreeze()


def test_it_runs_only_when_enabled():
    assert gc_freeze.CallbackModule.CALLBACK_NEEDS_ENABLED is True
    assert gc_freeze.CallbackModule.CALLBACK_NAME == "llmhub.eks.gc_freeze"
