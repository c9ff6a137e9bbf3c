"""EKS optimized AMI releases and the SSM public parameters that announce them.

Every Kubernetes version the emulated EKS supports has a short history of
AMI releases (:data:`BUILTIN_RELEASES`, oldest first, ``<patch version>-
<YYYYMMDD>`` as EKS writes ``releaseVersion``); the last one is the
version's *latest* release. The test control ``eks_ami_releases``
(``{"1.35": "1.35.0-20261215"}``) publishes a newer one, as AWS does every
few weeks: it becomes the latest from then on.

* ``CreateNodegroup`` and ``UpdateNodegroupVersion`` without
  ``releaseVersion`` take the latest release of the node group's version;
  a ``releaseVersion`` that is not a release of that version is refused with
  EKS's ``InvalidParameterException`` (:func:`check_release`).
* The AMI of a release has a stable made-up id (:func:`image_id`), the same
  in the nodes' ``eks.amazonaws.com/nodegroup-image`` label and in SSM.
* SSM's ``GetParameter``, ``GetParameters`` and ``GetParametersByPath``
  answer the public parameters EKS documents, for every supported version
  (:func:`public_parameters`)::

    /aws/service/eks/optimized-ami/<k8s>/amazon-linux-2023/<arch>/<variant>/recommended/release_version
    /aws/service/eks/optimized-ami/<k8s>/amazon-linux-2023/<arch>/<variant>/recommended/image_id
    /aws/service/eks/optimized-ami/<k8s>/amazon-linux-2023/<arch>/<variant>/<image name>/image_id
    /aws/service/bottlerocket/aws-k8s-<k8s>/<arch>/latest/image_version
    /aws/service/bottlerocket/aws-k8s-<k8s>/<arch>/latest/image_id

  with ``<arch>`` ``x86_64`` or ``arm64``, ``<variant>`` ``standard`` or
  ``nvidia`` and image names such as
  ``amazon-eks-node-al2023-x86_64-standard-1.35-v20261118``. They are moto's
  own SSM parameters (``ParameterDict`` loads them the way it loads
  ``/aws/service/ami-amazon-linux-latest``): ``Type`` ``String``,
  ``DataType`` ``text``, ``Version`` the number of values the parameter has
  had (a publication adds one), ``LastModifiedDate`` the release's date, ARN
  ``arn:aws:ssm:<region>::parameter/aws/service/...`` (no account: AWS owns
  them). An unknown name is ``ParameterNotFound`` (``GetParameter``) or
  listed in ``InvalidParameters`` (``GetParameters``), as moto answers.
"""

from __future__ import annotations

import calendar
import functools
import hashlib
import time
from typing import Any

from .test_controls import CONTROLS

# The EKS optimized AMI releases of each supported Kubernetes version, oldest first (as the emulated EKS
# publishes them: a release every two weeks; the last one is the latest).
BUILTIN_RELEASES: dict[str, tuple[str, ...]] = {
    "1.32": ("1.32.9-20261021", "1.32.9-20261104", "1.32.9-20261118"),
    "1.33": ("1.33.5-20261021", "1.33.5-20261104", "1.33.5-20261118"),
    "1.34": ("1.34.1-20261021", "1.34.2-20261104", "1.34.2-20261118"),
    "1.35": ("1.35.0-20261021", "1.35.0-20261104", "1.35.0-20261118"),
}
# Bottlerocket's release (one for every Kubernetes variant), as ``image_version`` writes it.
BOTTLEROCKET_VERSION = "1.50.0-3b1e4c8d"
# SSM path parts of the AL2023 variants -> the node group amiType they serve
AL2023_VARIANTS = {
    ("x86_64", "standard"): "AL2023_x86_64_STANDARD",
    ("arm64", "standard"): "AL2023_ARM_64_STANDARD",
    ("x86_64", "nvidia"): "AL2023_x86_64_NVIDIA",
    ("arm64", "nvidia"): "AL2023_ARM_64_NVIDIA",
}
BOTTLEROCKET_ARCHES = {"x86_64": "BOTTLEROCKET_x86_64", "arm64": "BOTTLEROCKET_ARM_64"}
EKS_PREFIX = "/aws/service/eks/optimized-ami"
BOTTLEROCKET_PREFIX = "/aws/service/bottlerocket"


def releases(version: str) -> tuple[str, ...]:
    """The AMI releases of a Kubernetes version, oldest first (the built-in ones, then a published one)."""
    found = BUILTIN_RELEASES.get(version, ())
    published = CONTROLS.ami_release(version)
    return found + (published,) if published else found


def latest_release(version: str) -> str:
    """The latest EKS optimized AMI release of ``version`` (``<version>.0-<date>`` for one without history)."""
    found = releases(version)
    return found[-1] if found else f"{version}.0-{BUILTIN_RELEASES['1.35'][-1].rpartition('-')[2]}"


def check_release(version: str, release: str) -> str:
    """``release`` if it is a release of ``version``, else EKS's InvalidParameterException."""
    from .eks_common import invalid_parameter

    if release not in releases(version):
        raise invalid_parameter(f"Requested release version {release} is not valid for kubernetes version "
                                f"{version}.")
    return release


def image_id(ami_type: str, release: str, region: str) -> str:
    """The made-up, stable id of the AMI of ``release`` for ``ami_type`` in ``region``."""
    seed = f"{ami_type}/{release}/{region}".encode()
    return "ami-" + hashlib.sha256(seed).hexdigest()[:17]


def image_name(arch: str, variant: str, release: str) -> str:
    """The AMI name EKS gives an AL2023 release: ``amazon-eks-node-al2023-x86_64-standard-1.35-v20261118``."""
    patch, _, date = release.partition("-")
    version = ".".join(patch.split(".")[:2])
    return f"amazon-eks-node-al2023-{arch}-{variant}-{version}-v{date}"


def _release_time(release: str) -> float:
    date = release.rpartition("-")[2]
    return float(calendar.timegm(time.strptime(date, "%Y%m%d")))


def public_parameters(region: str) -> dict[str, tuple[str, int, float]]:
    """Every public parameter of the emulated EKS AMIs in ``region``: name -> (value, Version, modified)."""
    result: dict[str, tuple[str, int, float]] = {}
    for version in BUILTIN_RELEASES:
        history = releases(version)
        latest = history[-1]
        for (arch, variant), ami_type in AL2023_VARIANTS.items():
            base = f"{EKS_PREFIX}/{version}/amazon-linux-2023/{arch}/{variant}"
            for release in history:
                result[f"{base}/{image_name(arch, variant, release)}/image_id"] = (
                    image_id(ami_type, release, region), 1, _release_time(release))
            result[f"{base}/recommended/release_version"] = (latest, len(history), _release_time(latest))
            result[f"{base}/recommended/image_id"] = (image_id(ami_type, latest, region), len(history),
                                                      _release_time(latest))
        for arch, ami_type in BOTTLEROCKET_ARCHES.items():
            base = f"{BOTTLEROCKET_PREFIX}/aws-k8s-{version}/{arch}/latest"
            modified = _release_time(BUILTIN_RELEASES[version][-1])
            result[f"{base}/image_version"] = (BOTTLEROCKET_VERSION, 1, modified)
            result[f"{base}/image_id"] = (image_id(ami_type, BOTTLEROCKET_VERSION, region), 1, modified)
    return result


def _concerns(key: str) -> bool:
    """Does an SSM name or path lookup reach the EKS AMI parameters?"""
    key = str(key or "")
    return any(key.startswith(prefix) or (key and prefix.startswith(key.rstrip("/") + "/"))
               for prefix in (EKS_PREFIX, BOTTLEROCKET_PREFIX))


def _sync(parameters: Any) -> None:
    """Bring a moto ``ParameterDict`` up to date with :func:`public_parameters` (a new value: a new version)."""
    from collections import defaultdict

    from moto.ssm.models import Parameter

    for name, (value, version, modified) in public_parameters(parameters.region_name).items():
        versions = defaultdict.__getitem__(parameters, name)
        if versions and versions[-1].value == value:
            continue
        versions.append(Parameter(account_id="", name=name, value=value, parameter_type="String",
                                  description=None, allowed_pattern=None, keyid=None,
                                  last_modified_date=modified,
                                  version=max(version, versions[-1].version + 1 if versions else 1),
                                  data_type="text"))


def install() -> None:
    """Serve the EKS AMI parameters from moto's SSM (idempotent)."""
    from moto.ssm.models import ParameterDict

    original = ParameterDict._check_loading_status
    if getattr(original, "_emulator_eks_amis", False):
        return

    @functools.wraps(original)
    def check_loading_status(self: Any, key: str) -> None:
        original(self, key)
        if _concerns(key):
            _sync(self)

    check_loading_status._emulator_eks_amis = True  # type: ignore[attr-defined]
    ParameterDict._check_loading_status = check_loading_status
