"""The llmhub.eks.gc_freeze callback: a play starts with the controller's objects collected and frozen."""

from __future__ import annotations

import gc
import json
import os
import subprocess
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
    callback.get_option = {"preload_plugins": False}.get  # its options as ansible-playbook would set them
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


PROBE = """
import json, sys
from ansible.plugins.loader import callback_loader, init_plugin_loader
init_plugin_loader()
from ansible_collections.llmhub.eks.plugins.callback import gc_freeze
callback = callback_loader.get("llmhub.eks.gc_freeze")
callback.set_options()
loaded = gc_freeze.preload_plugins() if callback.get_option("preload_plugins") else []
print(json.dumps({"loaded": loaded, "modules": sorted(sys.modules)}))
"""


def probe(**environment):
    """The callback as ansible-playbook loads it (configuration, plugin loaders), in a Python of its own."""
    env = {**os.environ, "ANSIBLE_CONFIG": str(ROOT / "ansible.cfg"), **environment}
    result = subprocess.run([sys.executable, "-c", PROBE], cwd=ROOT, env=env, capture_output=True, text=True,
                            check=True)
    return json.loads(result.stdout.splitlines()[-1])


def test_the_plugins_every_task_process_loads_are_loaded_once_in_the_controller():
    found = probe()
    # ansible-core's filters and tests (any templating), the module action, this collection's filters and lookups
    for expected in ("filter:*", "filter:llmhub.eks.llmhub_validate_common", "test:*", "action:ansible.builtin.normal",
                     "lookup:llmhub.eks.policy_document", "connection:llmhub.eks.forkserver", "shell:ansible.builtin.sh"):
        assert expected in found["loaded"]
    # a task process starts as a copy of the controller: these modules are there, not imported again
    assert "ansible_collections.llmhub.eks.plugins.filter.network" in found["modules"]
    assert "ansible_collections.llmhub.eks.plugins.plugin_utils.policy_documents" in found["modules"]
    # nor is boto3 imported for the many task processes that do not need it
    assert "boto3" not in found["modules"]


def test_preloading_can_be_turned_off():
    assert probe(LLMHUB_GC_FREEZE_PRELOAD_PLUGINS="false")["loaded"] == []


def test_a_plugin_that_cannot_be_loaded_is_left_to_its_task(monkeypatch):
    class Loader:
        def get(self, name, class_only=False):
            if name == "missing":
                raise ImportError(name)
            return object

    monkeypatch.setattr(gc_freeze, "PRELOAD", (("lookup", Loader(), ("missing", "env")),))
    assert gc_freeze.preload_plugins() == ["lookup:env"]
