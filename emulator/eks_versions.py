"""EKS ``DescribeClusterVersions``, which moto lacks: the Kubernetes versions EKS offers.

The table is EKS's Kubernetes release calendar as checked on 2026-12-02
(release, end of standard support 14 months later, end of extended support
12 months after that): 1.29 to 1.31 have left extended support
(``UNSUPPORTED``, listed only with ``includeAll``), 1.32 and 1.33 are in
extended support, 1.34 and 1.35 in standard support, 1.35 the default. The
versions a cluster can be created with are :data:`eks_common.SUPPORTED_VERSIONS`
(the non-``UNSUPPORTED`` rows). A test can move a version to another status
with the ``eks_version_status`` test control (:mod:`emulator.test_controls`),
as when EKS support for it ends after a release of the collection.

Filters as EKS applies them: ``clusterType`` (``eks``), ``clusterVersions``,
``versionStatus`` (or the deprecated ``status``), ``defaultOnly``,
``includeAll``; ``maxResults``/``nextToken`` pagination.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from .eks_common import DEFAULT_VERSION, SUPPORTED_VERSIONS, invalid_parameter, paginate
from .protocols import Call
from .test_controls import CONTROLS


def _date(text: str) -> datetime:
    return datetime.strptime(text, "%Y-%m-%d").replace(tzinfo=timezone.utc)


# version: (release, end of standard support, end of extended support, latest patch, platform version)
CALENDAR = {
    "1.29": ("2024-01-23", "2025-03-23", "2026-03-23", "1.29.15", "eks.40"),
    "1.30": ("2024-05-23", "2025-07-23", "2026-07-23", "1.30.14", "eks.35"),
    "1.31": ("2024-09-26", "2025-11-26", "2026-11-26", "1.31.13", "eks.31"),
    "1.32": ("2025-01-23", "2026-03-23", "2027-03-23", "1.32.9", "eks.24"),
    "1.33": ("2025-05-29", "2026-07-29", "2027-07-29", "1.33.5", "eks.17"),
    "1.34": ("2025-10-02", "2026-12-02", "2027-12-02", "1.34.2", "eks.8"),
    "1.35": ("2026-01-27", "2027-03-27", "2028-03-27", "1.35.0", "eks.3"),
}
_STATUS_AS_CHECKED = {"1.29": "UNSUPPORTED", "1.30": "UNSUPPORTED", "1.31": "UNSUPPORTED",
                      "1.32": "EXTENDED_SUPPORT", "1.33": "EXTENDED_SUPPORT",
                      "1.34": "STANDARD_SUPPORT", "1.35": "STANDARD_SUPPORT"}
_LEGACY_STATUS = {"UNSUPPORTED": "unsupported", "STANDARD_SUPPORT": "standard-support",
                  "EXTENDED_SUPPORT": "extended-support"}
assert tuple(v for v, s in _STATUS_AS_CHECKED.items() if s != "UNSUPPORTED") == SUPPORTED_VERSIONS


def version_status(version: str) -> str:
    """``STANDARD_SUPPORT``, ``EXTENDED_SUPPORT`` or ``UNSUPPORTED`` (also for a version EKS never offered)."""
    return CONTROLS.version_status(version) or _STATUS_AS_CHECKED.get(version, "UNSUPPORTED")


def _describe(version: str) -> dict[str, Any]:
    release, standard_end, extended_end, patch, platform = CALENDAR[version]
    status = version_status(version)
    return {
        "clusterVersion": version,
        "clusterType": "eks",
        "defaultPlatformVersion": platform,
        "defaultVersion": version == DEFAULT_VERSION,
        "releaseDate": _date(release),
        "endOfStandardSupportDate": _date(standard_end),
        "endOfExtendedSupportDate": _date(extended_end),
        "status": _LEGACY_STATUS[status],
        "versionStatus": status,
        "kubernetesPatchVersion": patch,
    }


def _flag(value: Any) -> bool:
    return value is True or str(value).lower() == "true"


def describe_cluster_versions(call: Call, params: dict[str, Any]) -> dict[str, Any]:
    cluster_type = params.get("clusterType")
    if cluster_type not in (None, "", "eks"):
        return {"clusterVersions": []}
    wanted_status = params.get("versionStatus")
    if not wanted_status and params.get("status"):
        wanted_status = {v: k for k, v in _LEGACY_STATUS.items()}.get(params["status"])
        if wanted_status is None:
            raise invalid_parameter(f"Invalid status {params['status']}")
    max_results = params.get("maxResults")
    if max_results is not None and not 1 <= int(max_results) <= 100:
        raise invalid_parameter("maxResults must be between 1 and 100")
    versions = sorted(CALENDAR, key=lambda v: tuple(map(int, v.split("."))), reverse=True)  # newest first, as EKS
    rows = [_describe(v) for v in versions]
    if params.get("clusterVersions"):
        rows = [r for r in rows if r["clusterVersion"] in params["clusterVersions"]]
    elif not _flag(params.get("includeAll")) and not wanted_status:
        rows = [r for r in rows if r["versionStatus"] != "UNSUPPORTED"]
    if wanted_status:
        rows = [r for r in rows if r["versionStatus"] == wanted_status]
    if _flag(params.get("defaultOnly")):
        rows = [r for r in rows if r["defaultVersion"]]
    page, token = paginate(rows, params)
    return {"clusterVersions": page, **({"nextToken": token} if token else {})}


HANDLERS = {"DescribeClusterVersions": describe_cluster_versions}
