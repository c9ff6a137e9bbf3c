"""The policy_document lookup: JSON parsed first, then ${name} placeholders filled, never text templating."""

from __future__ import annotations

import json

import pytest
from ansible.errors import AnsibleLookupError

from ansible_collections.llmhub.eks.plugins.lookup import policy_document
from ansible_collections.llmhub.eks.plugins.plugin_utils.policy_documents import PolicyDocumentError
from ansible_collections.llmhub.eks.plugins.plugin_utils.policy_documents import render

DOCUMENT = {
    "Id": "${cluster_name}-secrets",
    "Statement": [{
        "Principal": {"AWS": "${administrators}"},
        "Resource": "arn:${partition}:kms:${region}:${account_id}:key/*",
        "Condition": {"StringEquals": {"aws:ResourceTag/k8s.io/cluster-autoscaler/${cluster_name}": "owned",
                                       "aws:username": "${aws:username}"}},
        "Port": 443,
    }],
}
VALUES = {"cluster_name": 'hub"x', "administrators": ["arn:aws:iam::1:root", "arn:aws:iam::1:role/admin"],
          "partition": "aws-cn", "region": "cn-north-1", "account_id": "000000000001"}


def test_placeholders_in_keys_and_values_are_filled_after_parsing():
    rendered = render(DOCUMENT, VALUES)
    statement = rendered["Statement"][0]
    # a quote in a value stays inside its string: the document is still valid JSON
    assert rendered["Id"] == 'hub"x-secrets'
    assert json.loads(json.dumps(rendered)) == rendered
    assert statement["Resource"] == "arn:aws-cn:kms:cn-north-1:000000000001:key/*"
    assert statement["Condition"]["StringEquals"] == {
        'aws:ResourceTag/k8s.io/cluster-autoscaler/hub"x': "owned",
        "aws:username": "${aws:username}",  # IAM's own policy variable is kept
    }
    assert statement["Port"] == 443


def test_a_string_that_is_one_placeholder_takes_the_value_itself():
    assert render(DOCUMENT, VALUES)["Statement"][0]["Principal"] == {"AWS": VALUES["administrators"]}


def test_the_document_given_is_not_changed():
    before = json.dumps(DOCUMENT)
    render(DOCUMENT, VALUES)
    assert json.dumps(DOCUMENT) == before


def test_a_missing_value_is_named():
    values = dict(VALUES)
    del values["region"]
    with pytest.raises(PolicyDocumentError, match=r"key.json: no value for \$\{region\}; pass it in values"):
        render(DOCUMENT, values, source="key.json")


def test_a_list_inside_a_longer_string_is_refused():
    with pytest.raises(PolicyDocumentError, match=r"\$\{administrators\} is part of the string .* not list"):
        render({"Resource": "arn:${administrators}"}, VALUES)


def make_lookup():
    """The lookup with its options as the plugin loader would set them from the keyword arguments."""
    lookup = policy_document.LookupModule()
    given = {}
    lookup.set_options = lambda var_options=None, direct=None: given.update(direct or {})
    lookup.get_option = given.get
    return lookup


def test_the_lookup_reads_relative_and_absolute_paths(tmp_path):
    path = tmp_path / "files" / "doc.json"
    path.parent.mkdir()
    path.write_text(json.dumps(DOCUMENT))
    lookup = make_lookup()
    lookup.find_file_in_search_path = lambda variables, subdir, term, ignore_missing=False: (
        str(tmp_path / subdir / term) if (tmp_path / subdir / term).is_file() else None)
    assert lookup.run([str(path)], variables={}, values=VALUES) == [render(DOCUMENT, VALUES)]
    assert lookup.run(["doc.json"], variables={}, values=VALUES) == [render(DOCUMENT, VALUES)]


def test_the_lookup_names_a_missing_file_a_bad_document_and_a_missing_value(tmp_path):
    lookup = make_lookup()
    lookup.find_file_in_search_path = lambda *args, **kwargs: None
    with pytest.raises(AnsibleLookupError, match="could not find the policy document 'nope.json'"):
        lookup.run(["nope.json"], variables={}, values={})
    broken = tmp_path / "broken.json"
    broken.write_text('{"Statement": [}')
    with pytest.raises(AnsibleLookupError, match="broken.json is not JSON"):
        lookup.run([str(broken)], variables={}, values={})
    good = tmp_path / "good.json"
    good.write_text(json.dumps(DOCUMENT))
    with pytest.raises(AnsibleLookupError, match=r"good.json: no value for \$\{"):
        lookup.run([str(good)], variables={}, values={})
