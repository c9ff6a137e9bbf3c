"""Test controls: account and Region conditions a test sets through ``/_emulator/test-controls``.

Real accounts differ in ways a fresh moto account does not show: quota
values AWS (or a support case) applied, instance types some Availability
Zones do not offer, opt-in Regions nobody enabled, Kubernetes versions whose
EKS support ended after a release of the collection, Service Quotas denied
by an SCP. A test sets them here to see the collection refuse before any
change; each is answered the way AWS answers it:

``applied_quotas``
    ``{"<ServiceCode>/<QuotaCode>": value}``: Service Quotas'
    ``GetServiceQuota`` answers ``value`` for that quota (the account's
    applied value); ``GetAWSDefaultServiceQuota`` keeps AWS's default.
``service_quotas_error``
    ``"AccessDeniedException"`` (an SCP or a policy without
    ``servicequotas:Get*``) or ``"ServiceException"``: every Service Quotas
    call answers that error.
``unoffered_instance_types``
    ``{"<availability zone>": ["r5.2xlarge", ...]}``: EC2's
    ``DescribeInstanceTypeOfferings`` by ``availability-zone`` (and
    ``availability-zone-id``) leaves those types out in that zone.
``disabled_regions``
    ``["ap-east-1", ...]``: opt-in Regions the account has not enabled.
    ``DescribeRegions`` reports ``OptInStatus: not-opted-in`` and lists them
    only with ``AllRegions``; every call signed for such a Region is refused
    as AWS refuses it, in its protocol (``AuthFailure`` for EC2,
    ``InvalidClientTokenId`` for query services such as STS,
    ``UnrecognizedClientException`` for JSON services).
``eks_version_status``
    ``{"1.32": "UNSUPPORTED"}``: the ``versionStatus`` EKS reports for a
    Kubernetes version (``STANDARD_SUPPORT``, ``EXTENDED_SUPPORT``,
    ``UNSUPPORTED``); an ``UNSUPPORTED`` one is also refused by
    ``CreateCluster``.
``eks_ami_releases``
    ``{"1.35": "1.35.0-20261215"}``: AWS published a newer EKS optimized AMI
    release for that Kubernetes version (as it does every few weeks). It
    becomes the version's latest release: the SSM public parameters
    ``/aws/service/eks/optimized-ami/<version>/amazon-linux-2023/.../
    recommended/release_version`` and ``image_id`` answer it (their
    ``Version`` goes up by one), ``CreateNodegroup`` without
    ``releaseVersion`` and ``UpdateNodegroupVersion`` without
    ``releaseVersion`` use it, and node groups already running keep their
    release until they are updated (``emulator/eks_amis.py``). The release
    must be ``<version>.<patch>-<YYYYMMDD>`` and newer than the version's
    built-in latest release.

The controls are account state: ``POST /_emulator/reset`` clears them.
"""

from __future__ import annotations

import copy
import re
import threading
from typing import Any

SERVICE_QUOTAS_ERRORS = ("AccessDeniedException", "ServiceException")
VERSION_STATUSES = ("STANDARD_SUPPORT", "EXTENDED_SUPPORT", "UNSUPPORTED")
KEYS = ("applied_quotas", "service_quotas_error", "unoffered_instance_types", "disabled_regions",
        "eks_version_status", "eks_ami_releases")
_RELEASE = re.compile(r"^(\d+\.\d+)\.\d+-(\d{8})$")


def _empty() -> dict[str, Any]:
    return {"applied_quotas": {}, "service_quotas_error": None, "unoffered_instance_types": {},
            "disabled_regions": [], "eks_version_status": {}, "eks_ami_releases": {}}


def _validate(changes: dict[str, Any]) -> dict[str, Any]:
    """The changes in canonical form; ValueError naming the first invalid one."""
    unknown = set(changes) - set(KEYS)
    if unknown:
        raise ValueError(f"unknown test controls: {', '.join(sorted(unknown))} (known: {', '.join(KEYS)})")
    new: dict[str, Any] = {}
    if "applied_quotas" in changes:
        quotas = changes["applied_quotas"] or {}
        if not isinstance(quotas, dict):
            raise ValueError("applied_quotas must map '<ServiceCode>/<QuotaCode>' to a number")
        new["applied_quotas"] = {}
        for key, value in quotas.items():
            service, _, code = str(key).partition("/")
            if not service or not code.startswith("L-"):
                raise ValueError(f"applied_quotas: {key!r} is not '<ServiceCode>/<QuotaCode>' such as 'vpc/L-F678F1CE'")
            new["applied_quotas"][f"{service}/{code}"] = float(value)
    if "service_quotas_error" in changes:
        error = changes["service_quotas_error"]
        if error not in (None, *SERVICE_QUOTAS_ERRORS):
            raise ValueError(f"service_quotas_error must be null or one of {list(SERVICE_QUOTAS_ERRORS)}")
        new["service_quotas_error"] = error
    if "unoffered_instance_types" in changes:
        unoffered = changes["unoffered_instance_types"] or {}
        if not isinstance(unoffered, dict) or not all(isinstance(v, list) for v in unoffered.values()):
            raise ValueError("unoffered_instance_types must map an availability zone to a list of instance types")
        new["unoffered_instance_types"] = {str(zone): sorted(map(str, types)) for zone, types in unoffered.items()}
    if "disabled_regions" in changes:
        regions = changes["disabled_regions"] or []
        if not isinstance(regions, list):
            raise ValueError("disabled_regions must be a list of Region names")
        new["disabled_regions"] = sorted(map(str, regions))
    if "eks_version_status" in changes:
        statuses = changes["eks_version_status"] or {}
        if not isinstance(statuses, dict) or not all(v in VERSION_STATUSES for v in statuses.values()):
            raise ValueError(f"eks_version_status must map a Kubernetes version to one of {list(VERSION_STATUSES)}")
        new["eks_version_status"] = {str(k): v for k, v in statuses.items()}
    if "eks_ami_releases" in changes:
        new["eks_ami_releases"] = _validate_releases(changes["eks_ami_releases"] or {})
    return new


def _validate_releases(releases: Any) -> dict[str, str]:
    from .eks_amis import BUILTIN_RELEASES

    if not isinstance(releases, dict):
        raise ValueError("eks_ami_releases must map a Kubernetes version to a release such as '1.35.0-20261215'")
    result = {}
    for version, release in releases.items():
        version, release = str(version), str(release)
        if version not in BUILTIN_RELEASES:
            raise ValueError(f"eks_ami_releases: {version!r} is not a Kubernetes version the emulated EKS supports "
                             f"({', '.join(BUILTIN_RELEASES)})")
        match = _RELEASE.match(release)
        if match is None or match.group(1) != version:
            raise ValueError(f"eks_ami_releases: {release!r} is not a release of {version} "
                             f"('{version}.<patch>-<YYYYMMDD>', such as '{version}.0-20261215')")
        latest = BUILTIN_RELEASES[version][-1]
        if match.group(2) <= latest.rpartition("-")[2]:
            raise ValueError(f"eks_ami_releases: {release!r} is not newer than {version}'s latest release {latest}")
        result[version] = release
    return result


class TestControls:
    """The controls in force, thread-safe; shared by every in-process server like moto's state."""

    __test__ = False  # not a pytest class

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._values = _empty()

    def update(self, **changes: Any) -> dict[str, Any]:
        """Replace the given controls (a key left out keeps its value); nothing changes on ValueError."""
        new = _validate(changes)
        with self._lock:
            self._values.update(new)
            return copy.deepcopy(self._values)

    def as_dict(self) -> dict[str, Any]:
        with self._lock:
            return copy.deepcopy(self._values)

    def reset(self) -> None:
        with self._lock:
            self._values = _empty()

    def applied_quota(self, service_code: str, quota_code: str) -> float | None:
        with self._lock:
            return self._values["applied_quotas"].get(f"{service_code}/{quota_code}")

    def service_quotas_error(self) -> str | None:
        with self._lock:
            return self._values["service_quotas_error"]

    def unoffered(self, zone: str) -> list[str]:
        with self._lock:
            return list(self._values["unoffered_instance_types"].get(zone, []))

    def region_disabled(self, region: str) -> bool:
        with self._lock:
            return region in self._values["disabled_regions"]

    def version_status(self, version: str) -> str | None:
        with self._lock:
            return self._values["eks_version_status"].get(version)

    def ami_release(self, version: str) -> str | None:
        """The release published for ``version`` by ``eks_ami_releases`` (None: the built-in catalogue only)."""
        with self._lock:
            return self._values["eks_ami_releases"].get(version)


CONTROLS = TestControls()
