"""site.yml and destroy.yml skip each role's own argument validation because the preflight already ran it.

That is sound only while every role's ``validate`` entry point (what the preflight validates) declares
every option of the role's other entry points, with the same definition.
"""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).resolve().parents[2]
SPECS = sorted(ROOT.glob("roles/*/meta/argument_specs.yml"))


def entry_points(spec_file: Path) -> dict:
    return yaml.safe_load(spec_file.read_text())["argument_specs"]


@pytest.mark.parametrize("spec_file", SPECS, ids=lambda p: p.parts[-3])
def test_validate_entry_point_declares_every_option_of_the_others(spec_file):
    specs = entry_points(spec_file)
    if spec_file.parts[-3] == "preflight":
        pytest.skip("the preflight is the validation itself")
    validate = specs["validate"].get("options") or {}
    for name, spec in specs.items():
        for option, definition in (spec.get("options") or {}).items():
            assert option in validate, f"{spec_file}: {name}.{option} missing from the validate entry point"
            assert validate[option] == definition, f"{spec_file}: {name}.{option} differs from validate's"


@pytest.mark.parametrize("playbook", ["site.yml", "destroy.yml", "upgrade.yml", "ami_refresh.yml"])
def test_playbooks_validate_once_in_the_preflight(playbook):
    plays = yaml.safe_load((ROOT / "playbooks" / playbook).read_text())
    imports = [task for task in plays[0]["tasks"] if "ansible.builtin.import_role" in task]
    first, rest = imports[0], imports[1:]
    assert first["ansible.builtin.import_role"]["name"] == "llmhub.eks.preflight"
    assert first["tags"] == "always"
    assert rest
    for task in rest:
        assert task["ansible.builtin.import_role"].get("rolespec_validate") is False, task["name"]


def test_the_hardening_and_apps_roles_default_to_the_same_application_secrets():
    """Both roles read llmhub_app_secrets; each runs alone, so each has the default: the two must not drift."""
    hardening = yaml.safe_load((ROOT / "roles" / "hardening" / "vars" / "main.yml").read_text())
    apps = yaml.safe_load((ROOT / "roles" / "apps" / "defaults" / "main.yml").read_text())
    assert hardening["hardening_default_app_secrets"] == apps["apps_default_app_secrets"]
