"""The stand-in charts as a Helm chart repository, under ``/_emulator/charts/``.

``GET /_emulator/charts/index.yaml`` answers the repository index and
``GET /_emulator/charts/<name>-<version>.tgz`` a chart archive, so
``helm repo add llmhub-emulator $AWS_ENDPOINT_URL/_emulator/charts``,
``helm install --repo $AWS_ENDPOINT_URL/_emulator/charts <name> --version
<version>`` and ``kubernetes.core.helm``'s ``chart_repo_url`` work against
the emulator as against a public repository.

The chart directories next to this module (those with a ``Chart.yaml``) are
packaged in memory at the first request, as ``helm package`` lays them out:
a gzipped tar of ``<name>/<path>`` entries, without the files their
``.helmignore`` excludes. The archive is byte-for-byte reproducible (sorted
entries, ``Chart.yaml`` first, fixed mtime/owner/mode, no name or time in
the gzip header), so its ``digest`` (sha256) in the index only changes with
the charts. The index (``apiVersion: v1``) lists each chart's ``Chart.yaml``
metadata with ``digest``, ``created`` and ``urls``; the URLs are absolute,
built from the request's ``Host``, as Helm resolves them.
"""

from __future__ import annotations

import datetime as _dt
import fnmatch
import gzip
import hashlib
import io
import json
import tarfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

CHARTS_DIR = Path(__file__).resolve().parent
URL_PATH = "/_emulator/charts"
MTIME = 0  # every archive entry's mtime (and the gzip header's): the epoch, for reproducible archives

Response = tuple[int, list[tuple[str, str]], bytes]


@dataclass(frozen=True)
class Package:
    """One packaged chart: its ``Chart.yaml`` metadata and archive."""

    metadata: dict[str, Any]
    archive: bytes

    @property
    def name(self) -> str:
        return str(self.metadata["name"])

    @property
    def version(self) -> str:
        return str(self.metadata["version"])

    @property
    def filename(self) -> str:
        return f"{self.name}-{self.version}.tgz"

    @property
    def digest(self) -> str:
        return hashlib.sha256(self.archive).hexdigest()


def _ignore_patterns(chart_dir: Path) -> list[str]:
    """The patterns of the chart's ``.helmignore`` (no negations: none of ours needs them)."""
    path = chart_dir / ".helmignore"
    if not path.exists():
        return []
    patterns = []
    for line in path.read_text().splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if line.startswith("!"):
            raise ValueError(f"{path}: negated patterns are not supported ({line})")
        patterns.append(line)
    return patterns


def _ignored(relative: Path, is_dir: bool, patterns: list[str]) -> bool:
    """Whether Helm's ``.helmignore`` rules drop ``relative`` (a path inside the chart)."""
    if relative.parts[0] == "templates" and relative.name.startswith(".") and len(relative.parts) > 1:
        return True  # Helm's default rule "templates/.?*"
    for pattern in patterns:
        if pattern.endswith("/"):
            if is_dir and fnmatch.fnmatchcase(relative.name, pattern.rstrip("/")):
                return True
            continue
        if "/" in pattern.strip("/"):
            if fnmatch.fnmatchcase(relative.as_posix(), pattern.strip("/")):
                return True
        elif fnmatch.fnmatchcase(relative.name, pattern.lstrip("/")):
            return True
    return False


def chart_files(chart_dir: Path) -> list[Path]:
    """The files ``helm package`` would put in the archive, relative to ``chart_dir``, in archive order."""
    patterns = _ignore_patterns(chart_dir)
    files: list[Path] = []

    def walk(directory: Path) -> None:
        for entry in sorted(directory.iterdir(), key=lambda p: p.name):
            relative = entry.relative_to(chart_dir)
            if entry.name == "__pycache__" or _ignored(relative, entry.is_dir(), patterns):
                continue
            if entry.is_dir():
                walk(entry)
            elif entry.is_file():
                files.append(relative)

    walk(chart_dir)
    first = [Path("Chart.yaml")]
    return first + sorted((f for f in files if f not in first), key=lambda p: p.as_posix())


def package(chart_dir: Path) -> Package:
    """The chart in ``chart_dir`` as a reproducible ``<name>-<version>.tgz``."""
    metadata = yaml.safe_load((chart_dir / "Chart.yaml").read_text())
    for key in ("name", "version", "appVersion"):
        if key in metadata:
            metadata[key] = str(metadata[key])
    raw = io.BytesIO()
    with tarfile.open(fileobj=raw, mode="w", format=tarfile.PAX_FORMAT) as tar:
        for relative in chart_files(chart_dir):
            data = (chart_dir / relative).read_bytes()
            info = tarfile.TarInfo(f"{metadata['name']}/{relative.as_posix()}")
            info.size, info.mtime, info.mode = len(data), MTIME, 0o644
            info.uid = info.gid = 0
            info.uname = info.gname = ""
            tar.addfile(info, io.BytesIO(data))
    compressed = io.BytesIO()
    with gzip.GzipFile(filename="", mode="wb", fileobj=compressed, mtime=MTIME) as gz:
        gz.write(raw.getvalue())
    return Package(metadata, compressed.getvalue())


class ChartRepository:
    """The charts of one directory, packaged once (at first use), and the answers of the repository."""

    def __init__(self, charts_dir: Path = CHARTS_DIR) -> None:
        self.charts_dir = charts_dir
        self._lock = threading.Lock()
        self._packages: dict[str, Package] | None = None
        self._generated = ""

    def packages(self) -> dict[str, Package]:
        """Archive file name -> package, building them at the first call."""
        with self._lock:
            if self._packages is None:
                built = [package(path.parent) for path in sorted(self.charts_dir.glob("*/Chart.yaml"))]
                self._packages = {p.filename: p for p in built}
                now = _dt.datetime.now(_dt.timezone.utc).replace(microsecond=0)
                self._generated = now.isoformat().replace("+00:00", "Z")
            return self._packages

    def index(self, base_url: str) -> dict[str, Any]:
        """The repository index, archive URLs under ``base_url`` (``http://host:port/_emulator/charts``)."""
        packages = self.packages()
        entries: dict[str, list[dict[str, Any]]] = {}
        for pkg in packages.values():
            entries.setdefault(pkg.name, []).append({
                **pkg.metadata,
                "created": self._generated,
                "digest": pkg.digest,
                "urls": [f"{base_url.rstrip('/')}/{pkg.filename}"],
            })
        return {"apiVersion": "v1", "entries": dict(sorted(entries.items())), "generated": self._generated}

    def serve(self, method: str, path: str, environ: dict[str, Any]) -> Response:
        """Answer ``method`` on ``path`` (relative to ``/_emulator/charts/``) of a WSGI request."""
        if method not in ("GET", "HEAD"):
            return _json(405, {"error": f"{method} not allowed on {URL_PATH}/{path}"})
        if path in ("", "index.yaml"):
            body = yaml.safe_dump(self.index(base_url(environ)), sort_keys=False).encode()
            return 200, [("Content-Type", "application/x-yaml")], body
        pkg = self.packages().get(path)
        if pkg is None:
            return _json(404, {"error": f"no chart archive {URL_PATH}/{path}"})
        return 200, [("Content-Type", "application/gzip")], pkg.archive


def base_url(environ: dict[str, Any]) -> str:
    """``<scheme>://<host>/_emulator/charts`` of a WSGI request, from its ``Host`` header."""
    host = environ.get("HTTP_HOST")
    if not host:
        host = f"{environ.get('SERVER_NAME', '127.0.0.1')}:{environ.get('SERVER_PORT', '80')}"
    return f"{environ.get('wsgi.url_scheme', 'http')}://{host}{URL_PATH}"


def _json(status: int, payload: Any) -> Response:
    return status, [("Content-Type", "application/json")], json.dumps(payload).encode()


REPOSITORY = ChartRepository()
