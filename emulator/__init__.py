"""Local AWS for llmhub.eks: a moto server plus what moto lacks.

See emulator/README.md. Entry points: :class:`emulator.server.EmulatorServer`
(in-process, used by tests) and ``python -m emulator`` (serve / run).
"""

import os
from importlib import metadata

# The moto release emulator/ patches (its models, private helpers and routes):
# requirements.txt pins moto[server] to it, and the emulator refuses any other.
MOTO_VERSION = "5.2.5"

# moto reads this when its IAM backend is first created: attach AWS managed
# policies (AmazonEKSClusterPolicy...) like real IAM has them.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

__all__ = ["MOTO_VERSION", "EmulatorServer", "MotoVersionError", "check_moto_version"]


class MotoVersionError(RuntimeError):
    """The installed moto is not :data:`MOTO_VERSION`."""


def installed_moto_version() -> str | None:
    """Version of the installed moto distribution (None if there is none), without importing moto."""
    try:
        return metadata.version("moto")
    except metadata.PackageNotFoundError:
        return None


def check_moto_version() -> None:
    """Raise :class:`MotoVersionError` unless moto :data:`MOTO_VERSION` is installed."""
    installed = installed_moto_version()
    if installed != MOTO_VERSION:
        found = f"moto {installed} is installed" if installed else "moto is not installed"
        raise MotoVersionError(f"emulator/ patches moto {MOTO_VERSION} but {found}: "
                               f"run `make venv` (requirements.txt pins moto[server]=={MOTO_VERSION})")


def __getattr__(name: str):
    if name == "EmulatorServer":
        from .server import EmulatorServer

        return EmulatorServer
    raise AttributeError(name)
