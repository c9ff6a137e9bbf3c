"""Stand-in for ansible-test's pip bootstrap script (get-pip.py).

ansible-test downloads get-pip.py from ci-files.testing.ansible.com, a host
this project's machines cannot reach, and documents saving the script to
``~/.ansible/test/cache/get_pip_<version>.py`` instead. ``make sanity``
copies this file there. Same contract as get-pip.py: install pip into the
running interpreter (from the wheel Python ships in ``ensurepip``) and then
the requested packages (e.g. ``pip==24.2``) from the configured index.
"""

import ensurepip
import os
import subprocess
import sys

GET_PIP_ONLY = {"--no-setuptools", "--no-wheel"}


def main() -> int:
    environment = dict(os.environ)
    # ensurepip sets PIP_CONFIG_FILE=/dev/null in os.environ; the install
    # below must see the machine's pip configuration (index, certificates).
    ensurepip.bootstrap(upgrade=True)
    args = [arg for arg in sys.argv[1:] if arg not in GET_PIP_ONLY]
    return subprocess.call([sys.executable, "-m", "pip", "install", *args], env=environment)


if __name__ == "__main__":
    sys.exit(main())
