"""Shared fixtures: an in-process AWS emulator and boto3 clients bound to it."""

from __future__ import annotations

import os
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT) not in sys.path:
    sys.path.insert(0, str(ROOT))
# The filters import the collection's plugin_utils as ansible_collections.llmhub.eks.*
if str(ROOT / ".collections") not in sys.path:
    sys.path.insert(1, str(ROOT / ".collections"))

os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")
# As under `make` (which exports it): a bare `pytest` run sees what `make test` and CI see.
os.environ["ANSIBLE_CONFIG"] = str(ROOT / "ansible.cfg")
for _name in ("AWS_PROFILE", "AWS_SESSION_TOKEN"):
    os.environ.pop(_name, None)
os.environ["AWS_ACCESS_KEY_ID"] = "testing"
os.environ["AWS_SECRET_ACCESS_KEY"] = "testing"  # noqa: S105 - fake credentials of the emulator
os.environ["AWS_DEFAULT_REGION"] = "us-east-1"

from emulator.client import EmulatorClient  # noqa: E402
from emulator.server import EmulatorServer  # noqa: E402
from tests.support import shared_platform  # noqa: E402


@pytest.fixture(scope="session")
def emulator_server():
    """One emulator per test process (instant profile, no faults)."""
    with EmulatorServer() as server:
        yield server


@pytest.fixture
def emulator(emulator_server):
    """The emulator, reset to an empty account and default settings."""
    client = EmulatorClient(emulator_server.url)
    client.reset()
    shared_platform.forget()
    client.configure(profile="instant", scale=1.0, fault_rate=0.0, faults=["throttle", "5xx"], seed=None)
    yield emulator_server
    client.configure(profile="instant", scale=1.0, fault_rate=0.0)


@pytest.fixture
def emulator_client(emulator):
    return EmulatorClient(emulator.url)


@pytest.fixture
def aws(emulator):
    """``aws("ec2")`` -> a boto3 client against the emulator (us-east-1)."""
    import boto3
    from botocore.config import Config

    session = boto3.session.Session(region_name="us-east-1")
    config = Config(retries={"mode": "standard", "max_attempts": 10})

    def client(service: str, **kwargs):
        return session.client(service, endpoint_url=emulator.url, config=config, **kwargs)

    return client
