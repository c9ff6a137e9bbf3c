"""The order the integration modules are handed to the pytest-xdist workers in: the costliest first.

``make integration`` runs ``--dist loadfile --no-loadscope-reorder``: every module runs whole on one worker, and the
modules go to the workers in collection order, each worker taking the next when it is almost done. xdist's own
reorder (the default) hands them out by number of tests, which sends a module of one or two long tests (the AWX
runner, the tags contract) last, where one worker runs it alone while the other waits. Longest first, the last
modules handed out are short ones and both workers finish close together.

COSTS are worker-seconds per module (the sum of its tests' and fixtures' durations, ``pytest --durations=0``),
rounded; only their order matters. A module not listed counts as DEFAULT_COST (about one deploy). Refresh a module's
entry when a change moves it by more than a minute (benchmarks/README.md, "The integration suite's cost").
"""

from __future__ import annotations

DEFAULT_COST = 120

# Worker-seconds on a loaded 2-core machine (2026-12-03, about twice idle): the sum of each module's entries in
# `make integration`'s slowest-25 list, and test_destroy_sweep.py / test_vpc_resilience.py measured alone after
# their consolidation; test_upgrade.py (908 s) and test_diagnose.py (~8 min) measured alone on that machine.
COSTS = {
    "test_operations_workflow.py": 730,
    "test_backup_restore.py": 540,
    "test_nodegroup_recreate.py": 470,
    "test_destroy_sweep.py": 460,
    "test_tags_contract.py": 440,
    "test_upgrade.py": 650,  # one upgrade step since 2026-12-03 (the sum of its durations, `make integration`)
    "test_diagnose.py": 480,
    "test_input_validation.py": 320,
    "test_module_eks_cloud_resources.py": 320,
    "test_module_eks_kubeconfig.py": 250,
    "test_kubernetes_cluster_behaviour.py": 220,
    "test_hardening_report.py": 170,
    "test_awx_runner.py": 140,
    "test_platform_input_and_timing.py": 130,
    "test_vpc_resilience.py": 100,
}


def cost(module_path: str) -> int:
    """The cost of a test module, by its file name."""
    return COSTS.get(module_path.rsplit("/", 1)[-1], DEFAULT_COST)
