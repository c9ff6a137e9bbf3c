#!/usr/bin/env python3
"""Build the Lambda deployment packages the roles upload, byte for byte reproducibly.

A package is the files of a directory under ``roles/*/files/<name>/`` as
``roles/*/files/<name>.zip``: entries sorted, stored (no compression, so no
zlib version changes a byte), every timestamp 1980-01-01, mode 0644. Its
SHA-256 is therefore the same on every machine, and ``amazon.aws.lambda``
(which compares it with the function's ``CodeSha256``) leaves the function
alone on a re-run from any checkout (AWX clones the project for every job).

    python scripts/build_lambda_zip.py          # writes the packages that changed
    python scripts/build_lambda_zip.py --check  # exit status 1 if one is stale
"""

from __future__ import annotations

import argparse
import io
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
PACKAGES = [ROOT / "roles" / "hardening" / "files" / "secrets_rotation"]
EPOCH = (1980, 1, 1, 0, 0, 0)


def build(source: Path) -> bytes:
    """The package of ``source``: its files (not __pycache__), sorted, stored, with fixed metadata."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_STORED) as package:
        for path in sorted(p for p in source.rglob("*") if p.is_file() and "__pycache__" not in p.parts):
            entry = zipfile.ZipInfo(path.relative_to(source).as_posix(), date_time=EPOCH)
            entry.external_attr = 0o100644 << 16
            entry.create_system = 3  # unix, so the mode above is read
            package.writestr(entry, path.read_bytes())
    return buffer.getvalue()


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true", help="only report stale packages (exit status 1)")
    args = parser.parse_args(argv)
    stale = []
    for source in PACKAGES:
        target = source.with_suffix(".zip")
        content = build(source)
        if target.exists() and target.read_bytes() == content:
            continue
        stale.append(target)
        if not args.check:
            target.write_bytes(content)
            print(f"wrote {target.relative_to(ROOT)}")
    if args.check and stale:
        print("stale: " + ", ".join(str(t.relative_to(ROOT)) for t in stale) + " (run scripts/build_lambda_zip.py)")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
