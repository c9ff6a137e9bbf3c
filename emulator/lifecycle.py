"""Time-based resource lifecycles, computed lazily from timestamps.

moto makes every resource ``available``/``ACTIVE`` the moment it is created.
Here a resource's state is a :class:`Timeline`: a list of ``(timestamp,
state)`` entries, some of them in the future. Reading the state returns the
last entry whose timestamp has passed, so no background thread is needed.
Starting a new phase (e.g. a delete while still creating) drops the entries
that had not happened yet. Every entry is also an event of
``GET /_emulator/events``, reported once its time has come, with the time it
(virtually) happened.

:class:`LifecycleAttribute` replaces a plain state attribute of a moto model
class (``NatGateway.state``...): moto's own assignments (``self.state =
"available"`` in ``__init__``, ``= "deleted"`` on delete) start timed phases
instead. :class:`LingeringDict` is a backend dict whose entries vanish once
their timeline reaches :data:`GONE`.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any, Callable, Iterator

GONE = "gone"


class Timeline:
    """States of one resource over time."""

    def __init__(self, tracker: LifecycleTracker, kind: str, ident: Callable[[], str]):
        self._tracker = tracker
        self.kind = kind
        self._ident = ident
        self.entries: list[tuple[float, str]] = []

    @property
    def ident(self) -> str:
        return self._ident()

    def state(self, now: float | None = None) -> str | None:
        """Current state, hiding :data:`GONE` (the last real state is returned)."""
        now = time.time() if now is None else now
        with self._tracker.lock:
            current = None
            for ts, state in self.entries:
                if ts > now:
                    break
                if state != GONE:
                    current = state
            return current

    def gone(self, now: float | None = None) -> bool:
        """True once the resource has disappeared."""
        now = time.time() if now is None else now
        with self._tracker.lock:
            past = [state for ts, state in self.entries if ts <= now]
            return bool(past) and past[-1] == GONE

    def begin(self, transient: str, final: str, seconds: float) -> None:
        """Enter ``transient`` now and ``final`` after ``seconds``."""
        now = time.time()
        with self._tracker.lock:
            self.entries = [(ts, s) for ts, s in self.entries if ts <= now]
            last = self.entries[-1][1] if self.entries else None
            if transient != last:
                self.entries.append((now, transient))
            self.entries.append((now + max(seconds, 0.0), final))

    def set(self, state: str) -> None:
        """Switch to ``state`` immediately."""
        now = time.time()
        with self._tracker.lock:
            self.entries = [(ts, s) for ts, s in self.entries if ts <= now]
            if not self.entries or self.entries[-1][1] != state:
                self.entries.append((now, state))

    def heading_to(self, state: str) -> bool:
        """True if ``state`` is the last scheduled entry (reached or not)."""
        with self._tracker.lock:
            return bool(self.entries) and self.entries[-1][1] == state

    def settle_time(self) -> float:
        """Timestamp of the last scheduled entry (when the resource settles)."""
        with self._tracker.lock:
            return self.entries[-1][0] if self.entries else 0.0


class LifecycleTracker:
    """Registry of all timelines (for the events list) and duration lookup."""

    def __init__(self) -> None:
        self.lock = threading.RLock()
        self._timelines: list[Timeline] = []
        self.duration: Callable[[str], float] = lambda kind: 0.0

    def track(self, kind: str, ident: Callable[[], str]) -> Timeline:
        """Create and register a timeline for a resource of ``kind``."""
        timeline = Timeline(self, kind, ident)
        with self.lock:
            self._timelines.append(timeline)
        return timeline

    def seconds(self, transition: str) -> float:
        """Effective duration of a transition kind (e.g. ``eks_cluster_create``)."""
        return self.duration(transition)

    def events(self) -> list[dict[str, Any]]:
        """Transitions that have happened, ordered by time."""
        now = time.time()
        with self.lock:
            events = []
            for timeline in self._timelines:
                previous = None
                for ts, state in timeline.entries:
                    if ts > now:
                        break
                    events.append(
                        {"ts": ts, "kind": timeline.kind, "id": timeline.ident,
                         "from": previous, "to": state}
                    )
                    previous = state
        events.sort(key=lambda event: event["ts"])
        return events

    def settle(self) -> int:
        """Let every scheduled transition happen now; return how many timelines moved.

        For tests that look at a transient state: they give the transition a
        long duration, assert what they see while it lasts, and settle instead
        of sleeping, so a paused machine cannot end the state before they look.
        Entries keep their order; each one keeps its place in the events.
        """
        now = time.time()
        moved = 0
        with self.lock:
            for timeline in self._timelines:
                if timeline.entries and timeline.entries[-1][0] > now:
                    timeline.entries = [(min(ts, now), state) for ts, state in timeline.entries]
                    moved += 1
        return moved

    def reset(self) -> None:
        """Forget every timeline (after moto's backends were reset)."""
        with self.lock:
            self._timelines.clear()


TRACKER = LifecycleTracker()


@dataclass(frozen=True)
class Phase:
    """A timed phase: ``transient`` now, ``final`` after the ``duration`` kind.

    A ``once`` phase (create, delete) is not restarted when it is already
    heading to, or has reached, its final state.
    """

    transient: str
    final: str
    duration: str
    once: bool = True


class LifecycleAttribute:
    """Data descriptor standing in for a model's plain state attribute.

    ``phases`` maps a value that moto assigns to the timed phase it starts;
    any other assigned value takes effect immediately.
    """

    def __init__(self, name: str, kind: str, ident: Callable[[Any], str], phases: dict[str, Phase]):
        self.slot = f"_emulator_{name}_timeline"
        self.kind = kind
        self.ident = ident
        self.phases = phases

    def timeline(self, obj: Any) -> Timeline:
        """The timeline of ``obj``, created on first use."""
        timeline = obj.__dict__.get(self.slot)
        if timeline is None:
            timeline = TRACKER.track(self.kind, lambda: self.ident(obj))
            obj.__dict__[self.slot] = timeline
        return timeline

    def __get__(self, obj: Any, owner: type | None = None) -> Any:
        if obj is None:
            return self
        return self.timeline(obj).state()

    def __set__(self, obj: Any, value: str) -> None:
        phase = self.phases.get(value)
        timeline = self.timeline(obj)
        if phase is None:
            timeline.set(value)
        elif not (phase.once and timeline.heading_to(phase.final)):
            timeline.begin(phase.transient, phase.final, TRACKER.seconds(phase.duration))


def timeline_of(obj: Any, attribute: str) -> Timeline:
    """The timeline behind ``obj``'s lifecycle attribute ``attribute``."""
    for klass in type(obj).__mro__:
        descriptor = klass.__dict__.get(attribute)
        if isinstance(descriptor, LifecycleAttribute):
            return descriptor.timeline(obj)
    raise TypeError(f"{type(obj).__name__}.{attribute} is not a lifecycle attribute")


class LingeringDict(dict):
    """A dict whose values disappear once ``is_gone(value)`` becomes true.

    Used for moto backend collections so a deleted resource stays visible
    (in a ``deleting`` state) until its delete transition completes.
    """

    def __init__(self, is_gone: Callable[[Any], bool], *args: Any, **kwargs: Any):
        super().__init__(*args, **kwargs)
        self._is_gone = is_gone

    def _purge(self) -> None:
        for key in [k for k, v in dict.items(self) if self._is_gone(v)]:
            dict.__delitem__(self, key)

    def __getitem__(self, key: Any) -> Any:
        self._purge()
        return dict.__getitem__(self, key)

    def __contains__(self, key: object) -> bool:
        self._purge()
        return dict.__contains__(self, key)

    def __iter__(self) -> Iterator[Any]:
        self._purge()
        return iter(list(dict.keys(self)))

    def __len__(self) -> int:
        self._purge()
        return dict.__len__(self)

    def get(self, key: Any, default: Any = None) -> Any:
        self._purge()
        return dict.get(self, key, default)

    def keys(self):  # type: ignore[override]
        self._purge()
        return list(dict.keys(self))

    def values(self):  # type: ignore[override]
        self._purge()
        return list(dict.values(self))

    def items(self):  # type: ignore[override]
        self._purge()
        return list(dict.items(self))

    def pop(self, key: Any, *default: Any) -> Any:
        self._purge()
        return dict.pop(self, key, *default)


def install_ec2_patches() -> None:
    """Give moto's NAT gateways and VPC endpoints timed lifecycles."""
    from moto.ec2.models.nat_gateways import NatGateway
    from moto.ec2.models.vpcs import VPCBackend, VPCEndPoint

    if isinstance(NatGateway.__dict__.get("state"), LifecycleAttribute):
        return
    NatGateway.state = LifecycleAttribute(
        "state", "nat_gateway", lambda gw: gw.id,
        {
            "available": Phase("pending", "available", "nat_gateway_create"),
            "deleted": Phase("deleting", "deleted", "nat_gateway_delete"),
        },
    )
    VPCEndPoint.state = LifecycleAttribute(
        "state", "vpc_endpoint", lambda endpoint: endpoint.id,
        {
            "available": Phase("pending", "available", "vpc_endpoint_create"),
            "deleted": Phase("deleting", GONE, "vpc_endpoint_delete"),
        },
    )
    original_endpoint_init = VPCEndPoint.__init__

    def vpc_endpoint_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_endpoint_init(self, *args, **kwargs)
        # AWS defaults VpcEndpointType to Gateway; moto keeps None and then
        # fails (HTTP 500) in DeleteVpcEndpoints on ``None.lower()``.
        if self.vpc_endpoint_type is None:
            self.vpc_endpoint_type = "Gateway"

    VPCEndPoint.__init__ = vpc_endpoint_init
    original_init = VPCBackend.__init__

    def vpc_backend_init(self: Any) -> None:
        original_init(self)
        self.vpc_end_points = LingeringDict(
            lambda endpoint: timeline_of(endpoint, "state").gone()
        )

    VPCBackend.__init__ = vpc_backend_init

    # The network interfaces a NAT gateway or an interface endpoint puts in its subnets are the service's, as on
    # AWS: requester-managed, of type nat_gateway / vpc_endpoint, described by their owner (moto makes them
    # plain interfaces, as if the account had created them).
    original_nat_init = NatGateway.__init__

    def nat_gateway_init(self: Any, *args: Any, **kwargs: Any) -> None:
        original_nat_init(self, *args, **kwargs)
        eni = getattr(self, "_eni", None)
        if eni is not None:
            eni.interface_type, eni.requester_managed = "nat_gateway", True
            eni.description = f"Interface for NAT Gateway {self.id}"

    NatGateway.__init__ = nat_gateway_init
    from moto.ec2.models.nat_gateways import NatGatewayBackend

    original_delete_nat = NatGatewayBackend.delete_nat_gateway

    def delete_nat_gateway(self: Any, nat_gateway_id: str) -> Any:
        gateway = original_delete_nat(self, nat_gateway_id)
        eni = getattr(gateway, "_eni", None)
        if eni is not None:  # AWS removes the gateway's interface with it (the account cannot delete it)
            for address in list(self.addresses):
                if address.eni is eni:
                    self.disassociate_address(address=address.public_ip)
            self.enis.pop(eni.id, None)
        return gateway

    NatGatewayBackend.delete_nat_gateway = delete_nat_gateway
    original_create_endpoint = VPCBackend.create_vpc_endpoint

    def create_vpc_endpoint(self: Any, *args: Any, **kwargs: Any) -> Any:
        endpoint = original_create_endpoint(self, *args, **kwargs)
        for eni_id in endpoint.network_interface_ids or []:
            eni = self.enis.get(eni_id)
            if eni is not None:
                eni.interface_type, eni.requester_managed = "vpc_endpoint", True
                eni.description = f"VPC Endpoint Interface {endpoint.id}"
        return endpoint

    VPCBackend.create_vpc_endpoint = create_vpc_endpoint
    original_delete_vpc = VPCBackend.delete_vpc

    def delete_vpc(self: Any, vpc_id: str) -> Any:
        vpc = original_delete_vpc(self, vpc_id)
        # AWS deletes the VPC's default network ACL with it (moto kept it, listed with the VPC gone)
        for acl_id, acl in list(self.network_acls.items()):
            if acl.vpc_id == vpc_id and str(acl.default).lower() == "true":
                self.network_acls.pop(acl_id, None)
        return vpc

    VPCBackend.delete_vpc = delete_vpc
