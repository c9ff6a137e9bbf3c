#!/usr/bin/env python3
"""Derive tests/support/awx_api_fields.json from an AWX source tree.

There is no controller on these machines, so tests/unit/test_awx_config.py checks
awx/llmhub-eks.json against the field definitions of AWX's API objects read from
AWX's own source, statically (nothing of AWX is imported or run):

- the POST fields of each serializer (``awx/api/serializers.py``): ``Meta.fields``
  merged through the bases as AWX's ``BaseSerializerMetaclass`` does (``'*'``
  inherits, ``'-name'`` removes), ``read_only_fields`` and ``extra_kwargs``, and
  the fields a serializer declares itself (``read_only=True``, ``required=``);
- for the model fields behind them (``awx/main/models/``, through the model's
  bases in Python's method resolution order): the type, whether the POST requires
  it (as Django REST framework's ``get_field_kwargs`` decides: not required when
  the model field has a default, ``blank=True`` or ``null=True``; read-only when
  ``editable=False``) and its ``choices``;
- ``SURVEY_TYPE_MAPPING`` (``awx/main/constants.py``), the question types
  ``JobTemplateSurveySpec._validate_spec_data`` (``awx/api/views/__init__.py``) allows;
- the managed credential type ``aws`` (``awx/main/models/credential/__init__.py``);
- awxkit's ``EXPORTABLE_RESOURCES`` and each page's ``NATURAL_KEY``.

Usage (the tree of the AWX tag that matches the pinned awxkit):
    git -C <awx clone> archive 24.6.1 awx/api awx/main/models awx/main/constants.py awxkit/awxkit/api/pages \\
        | tar -x -C /tmp/awx-24.6.1
    python tests/support/derive_awx_api_fields.py /tmp/awx-24.6.1 --version 24.6.1 --commit <sha> \\
        > tests/support/awx_api_fields.json
"""

import argparse
import ast
import json
import pathlib
import sys

# The API objects awx/llmhub-eks.json uses: export key (or related key) -> serializer used for POST.
OBJECTS = {
    "organization": "OrganizationSerializer",
    "credential": "CredentialSerializerCreate",
    "project": "ProjectSerializer",
    "inventory": "InventorySerializer",
    "inventory_source": "InventorySourceSerializer",
    "execution_environment": "ExecutionEnvironmentSerializer",
    "job_template": "JobTemplateSerializer",
    "workflow_job_template": "WorkflowJobTemplateSerializer",
    "workflow_job_template_node": "WorkflowJobTemplateNodeSerializer",
    # POSTed to a node's create_approval_template (the view's serializer)
    "workflow_approval_template": "WorkflowJobTemplateNodeCreateApprovalSerializer",
}

# Serializer field classes that never take input.
READ_ONLY_SERIALIZER_FIELDS = {"SerializerMethodField", "ReadOnlyField", "HiddenField"}

FIELD_TYPES = {
    "ForeignKey": "id",
    "OneToOneField": "id",
    "BooleanField": "boolean",
    "AskForField": "boolean",
    "NullBooleanField": "boolean",
    "IntegerField": "integer",
    "PositiveIntegerField": "integer",
    "PositiveSmallIntegerField": "integer",
    "BigIntegerField": "integer",
    "SmallIntegerField": "integer",
    "FloatField": "float",
    "CharField": "string",
    "TextField": "string",
    "URLField": "string",
    "SlugField": "string",
    "DateTimeField": "datetime",
    "JSONField": "json",
    "JSONBlob": "json",
    "CredentialInputField": "json",
    "CredentialTypeInputField": "json",
    "CredentialTypeInjectorField": "json",
    "DynamicCredentialInputField": "json",
    "AutoField": "id",
    "SmartFilterField": "string",
}

# Django REST framework serializer field classes -> the type AWX's OPTIONS reports.
SERIALIZER_FIELD_TYPES = {
    "CharField": "string",
    "BooleanField": "boolean",
    "IntegerField": "integer",
    "ChoiceField": "choice",
    "PrimaryKeyRelatedField": "id",
}


def api_field_classes(root):
    """Custom serializer fields of awx/api/fields.py: base class and whether __init__ makes them optional."""
    out = {}
    tree = ast.parse((root / "awx/api/fields.py").read_text())
    for cls in tree.body:
        if not isinstance(cls, ast.ClassDef):
            continue
        optional = False
        for node in ast.walk(cls):
            if isinstance(node, ast.Assign) and isinstance(node.targets[0], ast.Subscript):
                key = node.targets[0].slice
                if isinstance(key, ast.Constant) and key.value in ("default", "allow_null"):
                    optional = True
        out[cls.name] = {"base": base_names(cls)[0] if cls.bases else None, "optional": optional}
    return out


def call_name(node):
    func = node.func
    if isinstance(func, ast.Attribute):
        return func.attr
    if isinstance(func, ast.Name):
        return func.id
    return None


def unwrap(node):
    """prevent_search(models.X(...)) -> models.X(...)"""
    while isinstance(node, ast.Call) and call_name(node) in ("prevent_search", "accepts_json") and node.args:
        node = node.args[0]
    return node


class Evaluator:
    """Evaluates the literal choice lists of AWX's source (gettext calls unwrapped, names resolved)."""

    def __init__(self, scopes):
        self.scopes = scopes  # list of dicts name -> ast node, searched in order

    def eval(self, node, scopes=None):
        scopes = scopes if scopes is not None else self.scopes
        if isinstance(node, ast.Constant):
            return node.value
        if isinstance(node, (ast.List, ast.Tuple)):
            return [self.eval(elt, scopes) for elt in node.elts]
        if isinstance(node, ast.Call) and call_name(node) == "items" and isinstance(node.func, ast.Attribute):
            return list(dict(self.eval(node.func.value, scopes)).items())
        if isinstance(node, ast.Call) and call_name(node) == "OrderedDict" and node.args:
            return self.eval(node.args[0], scopes)
        if isinstance(node, ast.Call) and call_name(node) in ("_", "gettext_lazy", "gettext_noop", "gettext") and node.args:
            return self.eval(node.args[0], scopes)
        if isinstance(node, ast.BinOp) and isinstance(node.op, ast.Add):
            return self.eval(node.left, scopes) + self.eval(node.right, scopes)
        if isinstance(node, ast.Attribute):
            return self.eval(ast.Name(id=node.attr), scopes)
        if isinstance(node, ast.Name):
            for scope in scopes:
                if node.id in scope:
                    return self.eval(scope[node.id], scopes)
        raise ValueError(f"cannot evaluate {ast.unparse(node)}")


def module_assigns(tree):
    out = {}
    for stmt in tree.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            out[stmt.targets[0].id] = stmt.value
    return out


def class_assigns(cls):
    out = {}
    for stmt in cls.body:
        if isinstance(stmt, ast.Assign) and len(stmt.targets) == 1 and isinstance(stmt.targets[0], ast.Name):
            out[stmt.targets[0].id] = stmt.value
    return out


def base_names(cls):
    names = []
    for base in cls.bases:
        if isinstance(base, ast.Name):
            names.append(base.id)
        elif isinstance(base, ast.Attribute):
            names.append(base.attr)
    return names


def mro(classes, name):
    """The C3 linearisation of AWX's classes (unknown bases such as Django's dropped)."""
    built = {}

    def build(cls_name):
        if cls_name not in built:
            bases = []
            for base in base_names(classes[cls_name][0]):
                if base in classes and base != cls_name:
                    candidate = build(base)
                    if candidate not in bases:
                        bases.append(candidate)
            built[cls_name] = type(cls_name, tuple(bases) or (object,), {})
        return built[cls_name]

    return [c.__name__ for c in build(name).__mro__ if c is not object]


def load_models(root):
    classes = {}  # name -> (ClassDef, module assigns)
    module_scopes = []
    for path in sorted((root / "awx/main/models").rglob("*.py")):
        tree = ast.parse(path.read_text())
        assigns = module_assigns(tree)
        module_scopes.append(assigns)
        for stmt in tree.body:
            if isinstance(stmt, ast.ClassDef):
                classes.setdefault(stmt.name, (stmt, assigns))
    return classes, module_scopes


def model_field(classes, constants, model, field_name):
    for cls_name in mro(classes, model):
        cls, mod = classes[cls_name]
        attrs = class_assigns(cls)
        if field_name not in attrs:
            continue
        node = unwrap(attrs[field_name])
        if not isinstance(node, ast.Call):
            return None  # a property or a plain attribute: not a model field
        kind = call_name(node)
        if not (kind in FIELD_TYPES or kind.endswith("Field")):
            return None
        kwargs = {kw.arg: kw.value for kw in node.keywords if kw.arg}

        def flag(key):
            return key in kwargs and isinstance(kwargs[key], ast.Constant) and kwargs[key].value is True

        info = {"model_field": kind, "type": FIELD_TYPES.get(kind, kind)}
        if kind in ("ManyToManyField", "OrderedManyToManyField", "ImplicitRoleField"):
            return None
        if "editable" in kwargs and isinstance(kwargs["editable"], ast.Constant) and kwargs["editable"].value is False:
            info["read_only"] = True
            return info
        info["required"] = not ("default" in kwargs or flag("blank") or flag("null"))
        if flag("blank") and kind in ("CharField", "TextField"):
            info["allow_blank"] = True  # "" besides the choices
        if "choices" in kwargs:
            scopes = [attrs] + [class_assigns(classes[c][0]) for c in mro(classes, model)] + [mod, constants]
            info["choices"] = [pair[0] for pair in Evaluator(scopes).eval(kwargs["choices"])]
            info["type"] = "choice"
        return info
    return None


def serializer_meta(classes, name):
    """Meta.fields / read_only_fields / extra_kwargs and declared fields, merged as BaseSerializerMetaclass does."""
    cls = classes[name]
    meta = {"fields": [], "read_only_fields": [], "extra_kwargs": {}, "model": None}
    declared = {}
    for base in reversed(base_names(cls)):
        if base in classes:
            parent, parent_declared = serializer_meta(classes, base)
            for key in ("fields", "read_only_fields"):
                meta[key] += [f for f in parent[key] if f not in meta[key]]
            for key, value in parent["extra_kwargs"].items():
                meta["extra_kwargs"].setdefault(key, {}).update(value)
            meta["model"] = parent["model"] or meta["model"]
            declared.update(parent_declared)
    own = next((s for s in cls.body if isinstance(s, ast.ClassDef) and s.name == "Meta"), None)
    if own is not None:
        for key, value in class_assigns(own).items():
            if key == "model":
                meta["model"] = ast.unparse(value)
            elif key in ("fields", "read_only_fields"):
                values = Evaluator([]).eval(value)
                inherited, merged, removed = meta[key], [], []
                for item in values:
                    if item == "*":
                        merged += inherited
                    elif item.startswith("-"):
                        removed.append(item[1:])
                    else:
                        merged.append(item)
                meta[key] = []
                for item in merged:
                    if item not in removed and item not in meta[key]:
                        meta[key].append(item)
            elif key == "extra_kwargs":
                for field, kw in value_dict(value).items():
                    meta["extra_kwargs"].setdefault(field, {}).update(kw)
    for field, node in class_assigns(cls).items():
        if isinstance(node, ast.Call) and call_name(node) and call_name(node)[0].isupper():
            kwargs = {}
            for kw in node.keywords:
                if kw.arg and isinstance(kw.value, ast.Constant):
                    kwargs[kw.arg] = kw.value.value
                elif kw.arg in ("choices",):
                    kwargs[kw.arg] = kw.value
            declared[field] = {"class": call_name(node), "kwargs": kwargs}
    return meta, declared


def value_dict(node):
    out = {}
    for key, value in zip(node.keys, node.values):
        inner = {}
        for ikey, ivalue in zip(value.keys, value.values):
            if isinstance(ivalue, ast.Constant):
                inner[ikey.value] = ivalue.value
        out[key.value] = inner
    return out


def derive(root):
    ser_tree = ast.parse((root / "awx/api/serializers.py").read_text())
    serializers = {s.name: s for s in ser_tree.body if isinstance(s, ast.ClassDef)}
    classes, module_scopes = load_models(root)
    api_fields = api_field_classes(root)
    constants_tree = ast.parse((root / "awx/main/constants.py").read_text())
    constants = module_assigns(constants_tree)
    all_consts = {}
    for scope in module_scopes:
        all_consts.update(scope)
    all_consts.update(constants)

    objects = {}
    for obj_type, ser_name in OBJECTS.items():
        meta, declared = serializer_meta(serializers, ser_name)
        model = meta["model"]
        fields = {}
        for field in meta["fields"]:
            info = None
            if field in declared:
                decl = declared[field]
                kwargs = decl["kwargs"]
                if decl["class"] in READ_ONLY_SERIALIZER_FIELDS or kwargs.get("read_only"):
                    continue
                base = model_field(classes, all_consts, model, field) or {}
                custom = api_fields.get(decl["class"], {})
                info = {"type": SERIALIZER_FIELD_TYPES.get(decl["class"]) or SERIALIZER_FIELD_TYPES.get(custom.get("base")) or base.get("type", decl["class"])}
                # DRF: a declared field is required unless it says otherwise or has a default
                info["required"] = bool(kwargs.get("required", "default" not in kwargs)) and not custom.get("optional")
                if "choices" in kwargs:
                    info["type"] = "choice"
                    info["choices"] = [pair[0] for pair in Evaluator([all_consts]).eval(kwargs["choices"])]
                elif "choices" in base:
                    info["type"] = "choice"
                    info["choices"] = base["choices"]
                if kwargs.get("allow_null"):
                    info["required"] = False
                if kwargs.get("allow_blank"):
                    info["allow_blank"] = True
            else:
                info = model_field(classes, all_consts, model, field)
                if info is None or info.pop("read_only", False):
                    continue  # a property, a method field or an uneditable field: read-only
                info.pop("model_field", None)
            if field in meta["read_only_fields"] or field in ("id", "type", "url", "related", "summary_fields", "created", "modified"):
                continue
            if "required" in meta["extra_kwargs"].get(field, {}):
                info["required"] = meta["extra_kwargs"][field]["required"]
            fields[field] = info
        objects[obj_type] = {"serializer": ser_name, "model": model, "post_fields": fields}

    views = (root / "awx/api/views/__init__.py").read_text()
    assert "def _validate_spec_data" in views
    # question type -> the Python type(s) of a default ("str", ["float", "int"])
    survey_types = eval_dict(constants["SURVEY_TYPE_MAPPING"])

    pages = {}
    for path in sorted((root / "awxkit/awxkit/api/pages").glob("*.py")):
        tree = ast.parse(path.read_text())
        for stmt in tree.body:
            if isinstance(stmt, ast.ClassDef):
                attrs = class_assigns(stmt)
                if "NATURAL_KEY" in attrs and isinstance(attrs["NATURAL_KEY"], ast.Tuple):
                    pages[stmt.name] = list(ast.literal_eval(attrs["NATURAL_KEY"]))
    api_tree = ast.parse((root / "awxkit/awxkit/api/pages/api.py").read_text())
    exportable = ast.literal_eval(module_assigns(api_tree)["EXPORTABLE_RESOURCES"])

    aws = None
    cred_src = (root / "awx/main/models/credential/__init__.py").read_text()
    for node in ast.walk(ast.parse(cred_src)):
        if isinstance(node, ast.Call) and call_name(node) == "ManagedCredentialType":
            kwargs = {kw.arg: kw.value for kw in node.keywords}
            if isinstance(kwargs.get("namespace"), ast.Constant) and kwargs["namespace"].value == "aws":
                inputs = eval_dict(kwargs["inputs"])
                aws = {
                    "name": Evaluator([]).eval(kwargs["name"]),
                    "kind": kwargs["kind"].value,
                    "fields": [{"id": f["id"], "secret": bool(f.get("secret"))} for f in inputs["fields"]],
                    "required": inputs["required"],
                }
    return objects, survey_types, pages, exportable, aws


def eval_dict(node):
    if isinstance(node, ast.Dict):
        return {eval_dict(k): eval_dict(v) for k, v in zip(node.keys, node.values)}
    if isinstance(node, (ast.List, ast.Tuple)):
        return [eval_dict(e) for e in node.elts]
    if isinstance(node, ast.Call) and node.args:
        return eval_dict(node.args[0])
    if isinstance(node, ast.Constant):
        return node.value
    return ast.unparse(node)


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("root", type=pathlib.Path, help="AWX source tree (awx/ and awxkit/ of one tag)")
    parser.add_argument("--version", required=True)
    parser.add_argument("--commit", required=True)
    args = parser.parse_args(argv)
    objects, survey_types, pages, exportable, aws = derive(args.root)
    out = {
        "source": {
            "repository": "https://github.com/ansible/awx",
            "version": args.version,
            "commit": args.commit,
            "files": [
                "awx/api/serializers.py",
                "awx/api/fields.py",
                "awx/main/models/",
                "awx/main/constants.py",
                "awx/api/views/__init__.py",
                "awxkit/awxkit/api/pages/",
            ],
            "derived_by": "tests/support/derive_awx_api_fields.py",
        },
        "exportable_resources": exportable,
        "natural_keys": pages,
        "survey_question_types": survey_types,
        "managed_credential_types": {"aws": aws},
        "objects": objects,
    }
    json.dump(out, sys.stdout, indent=2, sort_keys=False)
    sys.stdout.write("\n")


if __name__ == "__main__":
    main()
