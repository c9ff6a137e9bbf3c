"""``python -m emulator serve`` / ``run`` as subprocesses."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
TIMEOUT = 60  # generous: the first moto request of a process loads a lot


def emulator_cmd(*args: str) -> list[str]:
    return [sys.executable, "-m", "emulator", *args]


def child_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join(filter(None, [str(ROOT), env.get("PYTHONPATH")]))
    for name in ("AWS_ENDPOINT_URL", "LLMHUB_EMULATOR_URL", "AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"):
        env.pop(name, None)
    return env


def run(*args: str, timeout: float = TIMEOUT) -> subprocess.CompletedProcess:
    return subprocess.run(emulator_cmd(*args), cwd=ROOT, env=child_env(), capture_output=True,
                          text=True, timeout=timeout, check=False)


CHILD = """
import json, os, sys
import boto3
dlm = boto3.client("dlm")  # no endpoint_url, region nor credentials given
print(json.dumps({
    "endpoint": os.environ["AWS_ENDPOINT_URL"],
    "emulator": os.environ["LLMHUB_EMULATOR_URL"],
    "region": dlm.meta.region_name,
    "url": dlm.meta.endpoint_url,
    "policies": dlm.get_lifecycle_policies()["Policies"],
}))
sys.exit(int(sys.argv[1]))
"""


def test_run_points_the_command_at_the_emulator_and_propagates_its_status():
    result = run("run", "--profile", "demo", "--", sys.executable, "-c", CHILD, "3")
    assert result.returncode == 3, result.stderr
    lines = result.stdout.splitlines()
    assert lines[0].startswith("AWS emulator listening on http://127.0.0.1:")
    assert lines[0].endswith("(profile demo)")
    assert lines[-1] == "AWS emulator stopped"
    seen = json.loads(lines[1])
    assert seen["endpoint"] == seen["emulator"] == seen["url"] == lines[0].split()[4]
    assert (seen["region"], seen["policies"]) == ("us-east-1", [])


def test_run_without_a_runnable_command():
    missing = run("run", "--", "no-such-command-for-the-emulator")
    assert missing.returncode == 127
    assert "cannot run 'no-such-command-for-the-emulator'" in missing.stderr

    nothing = run("run")
    assert nothing.returncode == 2 and "nothing to run" in nothing.stderr


@pytest.mark.parametrize("args, message", [
    (["serve", "--profile", "no-such-profile"], "unknown profile 'no-such-profile'"),
    (["run", "--profile", "no-such-profile", "--", "true"], "unknown profile 'no-such-profile'"),
    (["serve", "--fault-rate", "3"], "fault_rate must be between 0 and 1"),
    (["serve", "--faults", "throttle,flood"], "faults must be a non-empty subset"),
])
def test_bad_options_exit_non_zero_with_a_clear_message(args, message):
    result = run(*args, timeout=30)
    assert result.returncode == 2
    assert message in result.stderr
    assert "Traceback" not in result.stderr


def test_serve_writes_endpoint_file_and_stops_on_sigterm(tmp_path):
    endpoint_file = tmp_path / "state" / "endpoint"
    proc = subprocess.Popen(
        emulator_cmd("serve", "--endpoint-file", str(endpoint_file), "--profile", "demo", "--seed", "1"),
        cwd=ROOT, env=child_env(), stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        deadline = time.monotonic() + TIMEOUT
        while not endpoint_file.exists():
            assert proc.poll() is None, proc.communicate()
            assert time.monotonic() < deadline, "endpoint file not written in time"
            time.sleep(0.05)
        url = endpoint_file.read_text(encoding="utf-8").strip()
        assert url.startswith("http://127.0.0.1:")
        with urllib.request.urlopen(f"{url}/_emulator/config", timeout=10) as response:  # noqa: S310
            config = json.loads(response.read())
        assert (config["profile"], config["seed"]) == ("demo", 1)

        proc.send_signal(signal.SIGTERM)
        out, err = proc.communicate(timeout=TIMEOUT)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.communicate()
    assert proc.returncode == 0, err
    assert f"AWS emulator listening on {url}" in out and "AWS emulator stopped" in out
    assert not endpoint_file.exists()
    assert list(endpoint_file.parent.iterdir()) == []  # no temporary file left behind
    with pytest.raises(OSError):
        urllib.request.urlopen(f"{url}/_emulator/config", timeout=2)  # noqa: S310


@pytest.mark.parametrize("args", [["serve"], ["run", "--", sys.executable, "-c", "raise SystemExit(7)"]])
def test_another_moto_version_stops_before_serving(monkeypatch, capsys, args):
    from emulator.__main__ import main
    from emulator.server import EmulatorServer

    monkeypatch.setattr("emulator.installed_moto_version", lambda: "5.3.0")
    monkeypatch.setattr(EmulatorServer, "start", lambda self: pytest.fail("the emulator started"))
    assert main(args) == 1
    out, err = capsys.readouterr()
    assert out == ""
    assert err == ("python -m emulator: emulator/ patches moto 5.2.5 but moto 5.3.0 is installed: "
                   "run `make venv` (requirements.txt pins moto[server]==5.2.5)\n")
