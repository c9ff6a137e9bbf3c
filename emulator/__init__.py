"""Local AWS for llmhub.eks: a moto server plus what moto lacks.

See emulator/README.md. Entry points: :class:`emulator.server.EmulatorServer`
(in-process, used by tests) and ``python -m emulator`` (serve / run).
"""

import os

# moto reads this when its IAM backend is first created: attach AWS managed
# policies (AmazonEKSClusterPolicy...) like real IAM has them.
os.environ.setdefault("MOTO_IAM_LOAD_MANAGED_POLICIES", "true")

__all__ = ["EmulatorServer"]


def __getattr__(name: str):
    if name == "EmulatorServer":
        from .server import EmulatorServer

        return EmulatorServer
    raise AttributeError(name)
