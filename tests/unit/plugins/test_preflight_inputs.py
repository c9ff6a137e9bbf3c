"""The preflight's one-task check of every layer: the role argument specs lookup, the filter validating several
roles' variables at once, and the role path lookup (the eks role's IRSA policy documents, read from any role)."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
import yaml
from ansible.errors import AnsibleFilterError, AnsibleLookupError

ROOT = Path(__file__).resolve().parents[3]
sys.path.insert(0, str(ROOT / ".collections"))

from ansible_collections.llmhub.eks.plugins.filter.inputs import llmhub_validate_role_arguments  # noqa: E402
from ansible_collections.llmhub.eks.plugins.lookup import role_argument_specs, role_path  # noqa: E402

PREFLIGHT_VARS = yaml.safe_load((ROOT / "roles/preflight/vars/main.yml").read_text(encoding="utf-8"))
LAYERS = PREFLIGHT_VARS["preflight_layers"]


def test_the_lookup_returns_each_roles_validate_options():
    specs = role_argument_specs.role_argument_specs(["iam", "vpc"])
    assert list(specs) == ["iam", "vpc"]
    declared = yaml.safe_load((ROOT / "roles/vpc/meta/argument_specs.yml").read_text(encoding="utf-8"))
    assert specs["vpc"] == declared["argument_specs"]["validate"]["options"]
    assert "iam_kms_deletion_window_days" in specs["iam"]


def test_the_lookup_names_a_missing_role_or_entry_point():
    with pytest.raises(AnsibleLookupError, match="no role 'vpcs'"):
        role_argument_specs.role_argument_specs(["vpcs"])
    with pytest.raises(AnsibleLookupError, match="no entry point 'nope'.*'validate'"):
        role_argument_specs.role_argument_specs(["vpc"], entry_point="nope")


def test_every_layer_with_a_validate_entry_point_is_checked_by_the_preflight():
    with_validate = set()
    for spec_file in ROOT.glob("roles/*/meta/argument_specs.yml"):
        if "validate" in yaml.safe_load(spec_file.read_text(encoding="utf-8"))["argument_specs"]:
            with_validate.add(spec_file.parts[-3])
    # setup runs before the platform (setup.yml), diagnose reads a built one: their playbooks validate them
    assert set(LAYERS) == with_validate - {"setup", "diagnose"}


def test_every_layer_is_imported_by_the_preflight_without_its_own_validation_task():
    tasks = yaml.safe_load((ROOT / "roles/preflight/tasks/main.yml").read_text(encoding="utf-8"))
    imports = {t["ansible.builtin.import_role"]["name"].split(".")[-1]: t["ansible.builtin.import_role"]
               for t in tasks if "ansible.builtin.import_role" in t}
    assert set(imports) == set(LAYERS)
    for layer, spec in imports.items():
        assert spec["rolespec_validate"] is False, layer
        assert spec["tasks_from"] == "settings", layer
        assert yaml.safe_load((ROOT / "roles" / layer / "tasks/settings.yml").read_text(encoding="utf-8")) == []


def test_the_one_check_runs_every_layers_filter():
    tasks = yaml.safe_load((ROOT / "roles/preflight/tasks/main.yml").read_text(encoding="utf-8"))
    (check,) = [t for t in tasks if "ansible.builtin.set_fact" in t]
    expression = check["ansible.builtin.set_fact"]["preflight_passed"]
    named = {"vpc": "vpc_network_plan", "nodegroups": "nodegroups_plan"}
    for layer in LAYERS:
        assert f"| llmhub.eks.{named.get(layer, layer + '_validate_settings')} is mapping" in expression, layer
    assert expression.index("llmhub_validate_common") < expression.index("llmhub_validate_role_arguments")


SPECS = {
    "vpc": {"vpc_cidr": {"type": "str", "required": True}, "vpc_az_count": {"type": "int", "default": 3},
            "vpc_flow_logs": {"type": "dict", "options": {"retention_days": {"type": "int"}}}},
    "eks": {"eks_log_types": {"type": "list", "elements": "str", "choices": ["api", "audit"]}},
}


def test_valid_variables_are_returned_unchanged():
    values = {"vpc_cidr": "10.0.0.0/16", "vpc_az_count": "3", "eks_log_types": ["api"], "other": object()}
    assert llmhub_validate_role_arguments(values, SPECS) is values


def test_every_error_of_every_role_is_named_at_once():
    values = {"vpc_az_count": "three", "vpc_flow_logs": {"retention_days": 7, "retention": 1},
              "eks_log_types": ["api", "scheduler"]}
    with pytest.raises(AnsibleFilterError) as error:
        llmhub_validate_role_arguments(values, SPECS)
    lines = str(error.value).splitlines()
    assert lines[0] == "Validation of arguments failed:"
    assert any(line.startswith("role vpc:") and "vpc_cidr" in line for line in lines)  # required
    assert any(line.startswith("role vpc:") and "vpc_az_count" in line for line in lines)  # type
    assert any(line.startswith("role vpc:") and "retention" in line for line in lines)  # unknown sub-option
    assert any(line.startswith("role eks:") and "eks_log_types" in line for line in lines)  # choices


def test_bad_arguments_of_the_filter_itself():
    with pytest.raises(AnsibleFilterError, match="expects a mapping"):
        llmhub_validate_role_arguments(["vpc_cidr"], SPECS)


def test_the_role_path_lookup_finds_the_roles_of_the_collection_only():
    lookup = role_path.LookupModule()
    assert lookup.run(["eks"]) == [str(ROOT / "roles" / "eks")]
    assert (Path(lookup.run(["eks"])[0]) / "files" / "cluster-autoscaler-policy.json").is_file()
    for bad in ("ekss", "../eks", ""):
        with pytest.raises(AnsibleLookupError, match="is not a role of llmhub.eks"):
            lookup.run([bad])
