#!/usr/bin/env bash
# Print the path of a Python >= 3.12 that runs (ansible-core 2.20+ needs it).
# Tries python3.13, python3.12 and python3 on PATH, then pyenv's installed
# 3.12/3.13 versions (a pyenv shim on PATH may not run without PYENV_VERSION).
set -u
ok() { "$1" -c 'import sys, venv; sys.exit(sys.version_info < (3, 12))' >/dev/null 2>&1; }
real() { "$1" -c 'import sys; print(sys.executable)'; }
for candidate in python3.12 python3.13 python3; do
  path=$(command -v "$candidate" 2>/dev/null) || continue
  if ok "$path"; then real "$path"; exit 0; fi
done
root=${PYENV_ROOT:-$HOME/.pyenv}
for path in $(ls -d "$root"/versions/3.1[2-9]*/bin/python3 2>/dev/null | sort -V); do
  if ok "$path"; then real "$path"; exit 0; fi
done
echo "No Python 3.12 or newer found (tried python3.12, python3.13, python3 and $root/versions)." >&2
echo "Install one (e.g. 'pyenv install 3.12') or run: make PYTHON=/path/to/python3.12 <target>" >&2
exit 1
