"""One deployed platform shared by the integration modules that only read it.

A module that sets ``SHARES_PLATFORM = True`` takes the platform of the
sharing module that ran just before it in the same test process (xdist's
``loadfile`` runs whole modules, in an order of its own) instead of deploying
its own (a deploy costs 40-90 s). A module's tests marked ``mutates_platform``
run after its other tests, and such a module leaves nothing to share; so does
anything that empties the emulator's account (``forget()``): the next module
deploys again.
"""

from __future__ import annotations

from typing import Any

_state: dict[str, Any] = {"run": None}


def remembered() -> Any:
    """The site.yml run of the shared platform, or None when there is none in the emulator."""
    return _state["run"]


def remember(run: Any) -> None:
    _state["run"] = run


def forget() -> None:
    _state["run"] = None
