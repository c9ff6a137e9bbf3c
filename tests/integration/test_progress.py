"""A long AWS wait prints what it waits for, its states and the time elapsed while the task runs."""

from __future__ import annotations

import re
import subprocess

import pytest

from .conftest import ROOT, playbook_command, playbook_environment

pytestmark = pytest.mark.integration


def test_a_cluster_wait_prints_progress_lines_while_it_runs(fresh_account, emulator_server):
    # a cluster creation of 30 s (10 min on AWS): the network edge is built meanwhile, then the play waits for it
    fresh_account.configure(profile={"eks_cluster_create": 30})
    env = {**playbook_environment(emulator_server.url), "ANSIBLE_STDOUT_CALLBACK": "ansible.builtin.default",
           "LLMHUB_PROGRESS_INTERVAL": "1"}
    proc = subprocess.run(playbook_command("site.yml", "--tags", "iam,vpc,eks"), cwd=ROOT, env=env, capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-3000:] + proc.stderr[-3000:]
    lines = [line for line in proc.stdout.splitlines() if line.startswith("Still waiting [")]
    cluster = [line for line in lines if "llm-analytics-hub-prod-eks CREATING" in line]
    assert cluster, "\n".join(lines) or proc.stdout[-3000:]
    assert re.match(r"^Still waiting \[\d+s elapsed\]: .+: llm-analytics-hub-prod-eks CREATING$", cluster[0])
    seconds = [int(re.match(r"^Still waiting \[(\d+)s", line).group(1)) for line in cluster]
    assert seconds == sorted(seconds) and seconds[-1] > seconds[0]  # the elapsed time grows line by line
