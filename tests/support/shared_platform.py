"""One deployed platform shared by the integration modules that only read it.

A module that sets ``SHARES_PLATFORM = True`` takes the platform of the
previous sharing module of the same test process instead of deploying its
own: ``site.yml`` once per process for all of them (a deploy costs 40-70 s).
The integration conftest puts the sharing modules in one xdist group, so one
worker runs them back to back, and runs their tests marked
``mutates_platform`` after every read-only one. Anything that empties the
emulator's account calls ``forget()``: the next module deploys again.
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
