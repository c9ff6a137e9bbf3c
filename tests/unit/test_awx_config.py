"""awx/llmhub-eks.json, the controller configuration `awx import` applies, checked without a controller.

The API objects' POST fields, required fields and choices come from
tests/support/awx_api_fields.json, derived from AWX's source (the tag matching the
pinned awxkit) by tests/support/derive_awx_api_fields.py. Playbooks, tags and
variables are checked against this repository.
"""

import json
import pathlib
import re

import pytest
import yaml

ROOT = pathlib.Path(__file__).resolve().parents[2]
CONFIG = json.loads((ROOT / "awx/llmhub-eks.json").read_text())
API = json.loads((ROOT / "tests/support/awx_api_fields.json").read_text())

# export key of awx/llmhub-eks.json -> API object type (the natural key's `type`)
RESOURCE_TYPES = {
    "organizations": "organization",
    "credentials": "credential",
    "projects": "project",
    "inventory": "inventory",
    "inventory_sources": "inventory_source",
    "execution_environments": "execution_environment",
    "job_templates": "job_template",
    "workflow_job_templates": "workflow_job_template",
}
# What an export adds to an object's POST fields
EXPORT_KEYS = {"related", "natural_key"}
# awxkit's import creates the resources in this order (ApiV2._dependent_resources with
# the API root's resources; tested below against awxkit itself)
IMPORT_ORDER = ["organizations", "inventory", "workflow_job_templates", "credentials",
                "execution_environments", "projects", "inventory_sources", "job_templates"]
# The controller's own objects the file refers to without defining them
BUILT_IN = [{"name": API["managed_credential_types"]["aws"]["name"], "kind": "cloud", "type": "credential_type"}]


def objects():
    """(export key, object) of every top-level object, and of the workflow nodes."""
    for key, items in CONFIG.items():
        for item in items:
            yield key, item
            for node in item.get("related", {}).get("workflow_nodes", []):
                yield "workflow_nodes", node


def object_id(key, item):
    return f"{key}:{item.get('name') or item['natural_key'].get('identifier')}"


ALL = list(objects())
NATURAL_KEYS = [item["natural_key"] for _, item in ALL] + BUILT_IN


def api_type(key, item):
    return item["natural_key"]["type"]


def job_templates():
    return CONFIG["job_templates"]


NATURAL_KEY_TYPES = {"organization", "credential", "credential_type", "project", "inventory", "inventory_source",
                     "execution_environment", "job_template", "workflow_job_template", "workflow_job_template_node"}


def is_natural_key(value):
    return isinstance(value, dict) and value.get("type") in NATURAL_KEY_TYPES


def test_file_is_awx_export_shape():
    assert set(CONFIG) <= set(API["exportable_resources"])
    for key, items in CONFIG.items():
        assert isinstance(items, list)
        for item in items:
            assert item["natural_key"]["type"] == RESOURCE_TYPES[key]


@pytest.mark.parametrize("key,item", ALL, ids=[object_id(k, i) for k, i in ALL])
def test_fields_known_required_and_choices(key, item):
    post_fields = API["objects"][api_type(key, item)]["post_fields"]
    unknown = set(item) - set(post_fields) - EXPORT_KEYS
    assert not unknown, f"{object_id(key, item)}: not a field of the API object: {sorted(unknown)}"
    missing = [f for f, spec in post_fields.items() if spec["required"] and item.get(f) in (None, "")]
    if api_type(key, item) == "workflow_job_template_node":
        # the node list of a workflow job template POSTs workflow_job_template itself
        missing = [f for f in missing if f != "workflow_job_template"]
    assert not missing, f"{object_id(key, item)}: required fields missing: {missing}"
    for field, value in item.items():
        spec = post_fields.get(field)
        if spec is None or value is None:
            continue
        if spec["type"] == "choice":
            assert value in spec["choices"] or (value == "" and spec.get("allow_blank")), f"{object_id(key, item)}.{field}={value!r}: not one of {spec['choices']}"
        elif spec["type"] == "boolean":
            assert isinstance(value, bool), f"{object_id(key, item)}.{field}"
        elif spec["type"] == "integer":
            assert isinstance(value, int) and not isinstance(value, bool), f"{object_id(key, item)}.{field}"
        elif spec["type"] == "id":
            assert is_natural_key(value), f"{object_id(key, item)}.{field}: a reference is a natural key"
        elif spec["type"] == "string":
            assert isinstance(value, str), f"{object_id(key, item)}.{field}"


def test_natural_keys_have_the_fields_awxkit_computes():
    page_of = {
        "organization": "Organization", "credential": "Credential", "project": "Project", "inventory": "Inventory",
        "inventory_source": "InventorySource", "execution_environment": "ExecutionEnvironment",
        "job_template": "JobTemplate", "workflow_job_template": "WorkflowJobTemplate",
        "workflow_job_template_node": "WorkflowJobTemplateNode", "credential_type": "CredentialType",
    }
    # fields the controller's object has no value for (an inventory source has no organization)
    absent = {"inventory_source": {"organization"}}

    def check(natural_key):
        expected = set(API["natural_keys"][page_of[natural_key["type"]]]) - absent.get(natural_key["type"], set())
        assert set(natural_key) - {"type"} == expected, natural_key
        for value in natural_key.values():
            if is_natural_key(value):
                check(value)

    for _, item in ALL:
        check(item["natural_key"])
        assert item["natural_key"].get("name", item.get("name")) == item.get("name", item["natural_key"].get("name"))


def references(value):
    if is_natural_key(value):
        yield value
    elif isinstance(value, dict):
        for inner in value.values():
            yield from references(inner)
    elif isinstance(value, list):
        for inner in value:
            yield from references(inner)


@pytest.mark.parametrize("key,item", ALL, ids=[object_id(k, i) for k, i in ALL])
def test_references_resolve(key, item):
    body = {k: v for k, v in item.items() if k != "natural_key"}
    for ref in references(body):
        assert ref in NATURAL_KEYS, f"{object_id(key, item)}: {ref} is not defined in awx/llmhub-eks.json"
    for ref in references(item["natural_key"]):
        if ref is not item["natural_key"]:
            assert ref in NATURAL_KEYS


def test_references_exist_when_awxkit_imports_them():
    """A top-level field's reference must be created earlier (related sets are assigned after every list)."""
    created = list(BUILT_IN)
    for key in IMPORT_ORDER:
        for item in CONFIG.get(key, []):
            for field, value in item.items():
                if field not in ("natural_key", "related") and is_natural_key(value):
                    assert value in created, f"{object_id(key, item)}.{field}: {value['name']} is imported later"
            created.append(item["natural_key"])


def test_awxkit_import_order():
    """awxkit's own ordering (ApiV2._dependent_resources) over the resources of a controller's API root."""
    pytest.importorskip("awxkit")
    from awxkit.api.client import Connection
    from awxkit.api.pages.api import ApiV2
    from awxkit.api.resources import resources

    root = {}
    for attr in vars(type(resources)):
        if attr.startswith("_") and not attr.startswith("__"):
            value = getattr(resources, attr[1:])
            if isinstance(value, str) and re.fullmatch(r"/api/v2/[a-z_]+/", value):
                root[attr[1:]] = value
    root["inventory"] = "/api/v2/inventories/"
    # no request is made: the connection is only held
    order = list(ApiV2(Connection("http://127.0.0.1:1"), endpoint="/api/v2/", json=root)._dependent_resources())
    assert [r for r in order if r in CONFIG] == IMPORT_ORDER


class FakeClient:
    """What awxkit's Import command uses of its CLI client; import_assets records instead of calling the API."""

    def __init__(self, stdin, fmt):
        self.stdin, self.fmt, self.help, self.imported = stdin, fmt, False, None
        self.v2 = self

    def get_config(self, key):
        assert key == "format"
        return self.fmt

    def authenticate(self):
        pass

    def import_assets(self, data):
        self.imported = data


@pytest.mark.parametrize("fmt", ["json", "yaml"])
def test_awxkit_import_command_reads_the_file(fmt):
    """awxkit's own `awx import` command (awxkit/cli/resource.py Import.handle) up to the API calls,
    which need a controller: `awx import < awx/llmhub-eks.json`, and `awx -f yaml import` of the same file."""
    pytest.importorskip("awxkit")
    from awxkit.cli.resource import Import

    with (ROOT / "awx/llmhub-eks.json").open() as stdin:
        client = FakeClient(stdin, fmt)
        assert Import().handle(client, None) == {}
    assert client.imported == CONFIG


def test_awxkit_turns_the_placeholders_into_no_secret():
    pytest.importorskip("awxkit")
    from awxkit.api.utils import remove_encrypted

    for credential in CONFIG["credentials"]:
        posted = remove_encrypted(credential["inputs"])
        assert all(value == "" for value in posted.values()), "a secret would be imported"


def test_credentials_hold_no_secret():
    aws = API["managed_credential_types"]["aws"]
    secret_fields = {f["id"] for f in aws["fields"] if f["secret"]}
    known = {f["id"] for f in aws["fields"]}
    for credential in CONFIG["credentials"]:
        assert credential["credential_type"] == BUILT_IN[0]
        assert set(credential["inputs"]) <= known
        for field, value in credential["inputs"].items():
            assert value == ("$encrypted$" if field in secret_fields else ""), f"{credential['name']}.{field}"


def test_inventory_sources_read_inventories_of_the_project():
    for source in CONFIG["inventory_sources"]:
        assert source["source"] == "scm"
        assert source["source_project"] in [p["natural_key"] for p in CONFIG["projects"]]
        path = ROOT / source["source_path"]
        assert path.is_file(), source["source_path"]
        hosts = yaml.safe_load(path.read_text())
        assert hosts["all"]["children"]["eks_clusters"]["hosts"], source["source_path"]


# --- job templates: playbooks, tags, surveys ---

def playbook_files(playbook):
    """The playbook and what it imports (import_playbook), as paths."""
    path = ROOT / playbook
    out = [path]
    for play in yaml.safe_load(path.read_text()):
        if "ansible.builtin.import_playbook" in play:
            out += playbook_files(str((path.parent / play["ansible.builtin.import_playbook"]).relative_to(ROOT)))
    return out


def collect_tags(node, found):
    if isinstance(node, dict):
        if "tags" in node:
            tags = node["tags"]
            found.update([tags] if isinstance(tags, str) else tags)
        for value in node.values():
            collect_tags(value, found)
    elif isinstance(node, list):
        for value in node:
            collect_tags(value, found)


def playbook_tags(playbook):
    found = set()
    for path in playbook_files(playbook):
        collect_tags(yaml.safe_load(path.read_text()), found)
    return found


def role_variables():
    names = set()
    for spec in ROOT.glob("roles/*/meta/argument_specs.yml"):
        for entry in (yaml.safe_load(spec.read_text()).get("argument_specs") or {}).values():
            names.update((entry or {}).get("options") or {})
    return names


def playbook_variables(playbook):
    """Names a playbook's plays use in their expressions (asserts, when, module arguments)."""
    text = "\n".join(path.read_text() for path in playbook_files(playbook))
    return set(re.findall(r"[A-Za-z_][A-Za-z0-9_]*", text))


TEMPLATE_IDS = [t["name"] for t in job_templates()]


@pytest.mark.parametrize("template", job_templates(), ids=TEMPLATE_IDS)
def test_playbook_exists(template):
    assert template["playbook"].startswith("playbooks/")
    assert (ROOT / template["playbook"]).is_file(), template["playbook"]


def test_one_template_per_playbook():
    playbooks = {p.name for p in (ROOT / "playbooks").glob("*.yml")}
    used = {pathlib.Path(t["playbook"]).name for t in job_templates()}
    # site.yml is the apply template
    assert used == playbooks, f"playbooks without a template: {playbooks - used}; templates without a playbook: {used - playbooks}"


def test_plan_and_drift_run_in_check_mode_with_diff():
    by_playbook = {pathlib.Path(t["playbook"]).name: t for t in job_templates()}
    for name in ("plan.yml", "drift.yml"):
        assert by_playbook[name]["job_type"] == "check"
        assert by_playbook[name]["diff_mode"] is True
    assert by_playbook["site.yml"]["job_type"] == "run"
    assert by_playbook["site.yml"]["ask_tags_on_launch"] is True


@pytest.mark.parametrize("template", job_templates(), ids=TEMPLATE_IDS)
def test_tags_exist_in_the_playbook(template):
    tags = playbook_tags(template["playbook"])
    asked = [t for t in re.split(r"\s*,\s*", template["job_tags"] + "," + template["skip_tags"]) if t]
    for question in template["related"].get("survey_spec", {}).get("spec", []):
        if question["variable"] in ("job_tags", "skip_tags"):
            asked += question.get("choices", [])
    for tag in asked:
        assert tag in tags, f"{template['name']}: tag {tag!r} is not in {template['playbook']} ({sorted(tags)})"
    if template["ask_tags_on_launch"]:
        assert tags - {"always"}, f"{template['name']} asks for tags its playbook does not have"


@pytest.mark.parametrize("template", job_templates(), ids=TEMPLATE_IDS)
def test_every_template_can_choose_the_environment(template):
    assert template["ask_inventory_on_launch"] is True
    assert template["ask_credential_on_launch"] is True
    assert template["inventory"] in [i["natural_key"] for i in CONFIG["inventory"]]
    assert all(c["type"] == "credential" for c in template["related"]["credentials"])


def validate_survey_spec(spec, types):
    """The rules of AWX's JobTemplateSurveySpec._validate_spec_data (awx/api/views/__init__.py, 24.6.1)."""
    for field, expected in (("name", str), ("description", str), ("spec", list)):
        assert isinstance(spec.get(field), expected), f"survey spec field {field!r}"
    assert spec["spec"], "'spec' doesn't contain any items"
    variables = set()
    python_types = {"str": str, "int": int, "float": float}
    for idx, item in enumerate(spec["spec"]):
        assert isinstance(item, dict)
        for field in ("type", "question_name", "variable", "required"):
            assert field in item, f"{field!r} missing from survey question {idx}"
            assert isinstance(item[field], bool if field == "required" else str), f"question {idx}: {field}"
        assert item["variable"] not in variables, f"variable {item['variable']} duplicated"
        variables.add(item["variable"])
        assert item["type"] in types, f"question {idx}: type {item['type']!r} not in {sorted(types)}"
        allowed = types[item["type"]]
        allowed = tuple(python_types[t] for t in ([allowed] if isinstance(allowed, str) else allowed))
        if item.get("default", "") != "":
            assert isinstance(item["default"], allowed), f"question {idx}: default"
        for key in ("min", "max"):
            assert item.get(key) is None or isinstance(item[key], int), f"question {idx}: {key}"
        if item["type"] in ("multiplechoice", "multiselect"):
            assert "choices" in item, f"question {idx} must specify choices"
            defaults = item.get("default", "")
            defaults = [d for d in defaults.splitlines() if d.strip()] if isinstance(defaults, str) else defaults
            if item["type"] == "multiplechoice":
                assert len(defaults) <= 1
            assert all(d in item["choices"] for d in defaults), f"question {idx}: default not a choice"
        if isinstance(item.get("default"), str):
            assert not item["default"].startswith("$encrypted$")
        # a required text answer shorter than min is refused at launch; a default must fit too
        if item["type"] in ("text", "textarea") and item.get("default"):
            assert item.get("min", 0) <= len(item["default"]) <= item.get("max", 1024)


SURVEYED = [t for t in job_templates() if t["survey_enabled"]]


@pytest.mark.parametrize("template", SURVEYED, ids=[t["name"] for t in SURVEYED])
def test_survey_spec_valid_and_variables_read(template):
    spec = template["related"]["survey_spec"]
    validate_survey_spec(spec, API["survey_question_types"])
    read = role_variables() | playbook_variables(template["playbook"])
    for question in spec["spec"]:
        assert question["variable"] in read, (
            f"{template['name']}: survey variable {question['variable']} is read by no role spec or {template['playbook']}")


def test_no_survey_without_survey_enabled():
    for template in job_templates():
        assert ("survey_spec" in template["related"]) == template["survey_enabled"], template["name"]


def test_destroy_and_restore_need_the_cluster_name_and_restore_a_backup_id():
    by_playbook = {pathlib.Path(t["playbook"]).name: t for t in job_templates()}
    destroy = {q["variable"]: q for q in by_playbook["destroy.yml"]["related"]["survey_spec"]["spec"]}
    assert destroy["confirm_destroy"]["required"] and destroy["confirm_destroy"]["type"] == "text"
    assert destroy["confirm_destroy"]["default"] == "", "a default would confirm by itself"
    assert "confirm_destroy | default('') == inventory_hostname" in (ROOT / "playbooks/destroy.yml").read_text()
    restore = {q["variable"]: q for q in by_playbook["restore.yml"]["related"]["survey_spec"]["spec"]}
    assert restore["backup_id"]["required"] and restore["backup_id"]["default"] == ""
    assert restore["confirm_restore"]["required"] and restore["confirm_restore"]["default"] == ""
    assert "confirm_restore | default('') == inventory_hostname" in (ROOT / "playbooks/restore.yml").read_text()
    backup = {q["variable"]: q for q in by_playbook["backup.yml"]["related"]["survey_spec"]["spec"]}
    assert not backup["backup_id"]["required"]
    choices = yaml.safe_load((ROOT / "roles/backup/meta/argument_specs.yml").read_text())
    options = choices["argument_specs"]["main"]["options"]
    assert backup["backup_action"]["choices"] == options["backup_action"]["choices"]


def test_workflow_plan_approve_apply_backup():
    (workflow,) = CONFIG["workflow_job_templates"]
    nodes = {n["identifier"]: n for n in workflow["related"]["workflow_nodes"]}
    names = {jt["natural_key"]["name"]: pathlib.Path(jt["playbook"]).name for jt in job_templates()}

    def follow(identifier):
        node = nodes[identifier]
        assert node["natural_key"]["workflow_job_template"] == workflow["natural_key"]
        successors = node["related"]["success_nodes"]
        assert len(successors) <= 1 and not node["related"]["failure_nodes"] and not node["related"]["always_nodes"]
        step = ("approval" if "create_approval_template" in node["related"]
                else names[node["unified_job_template"]["name"]])
        return step, (successors[0]["identifier"] if successors else None)

    parents = {s["identifier"] for n in nodes.values() for s in n["related"]["success_nodes"]}
    (start,) = set(nodes) - parents
    chain, current = [], start
    while current:
        step, current = follow(current)
        chain.append(step)
    assert chain == ["plan.yml", "approval", "site.yml", "backup.yml"]
    approval = nodes["approve"]
    assert "unified_job_template" not in approval
    approval_fields = API["objects"]["workflow_approval_template"]["post_fields"]
    template = approval["related"]["create_approval_template"]
    assert set(template) <= set(approval_fields)
    assert all(template.get(f) for f, s in approval_fields.items() if s["required"])
    assert template["timeout"] > 0
