"""What a backup keeps of each object, where sets are kept, their verification, the restore order, the filters."""

from __future__ import annotations

import copy
import json

import pytest
from ansible.errors import AnsibleFilterError

from ansible_collections.llmhub.eks.plugins.filter.backup import backup_inventory_variables
from ansible_collections.llmhub.eks.plugins.filter.backup import backup_validate_settings
from ansible_collections.llmhub.eks.plugins.module_utils import backup as bk

SERVER_META = {"uid": "0b1c", "resourceVersion": "42", "generation": 3, "creationTimestamp": "2026-12-02T10:00:00Z",
               "managedFields": [{"manager": "kubectl"}], "selfLink": "/x", "finalizers": ["x"],
               "ownerReferences": [{"kind": "Thing", "name": "t", "uid": "u"}]}


def with_server_fields(obj):
    obj = copy.deepcopy(obj)
    obj["metadata"].update(copy.deepcopy(SERVER_META))
    obj["metadata"].setdefault("annotations", {})["kubectl.kubernetes.io/last-applied-configuration"] = "{}"
    obj["status"] = {"phase": "whatever"}
    return obj


class TestClean:
    def test_metadata_keeps_only_what_a_user_sets(self):
        obj = with_server_fields({"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"},
                                  "metadata": {"name": "c", "namespace": "n", "labels": {"x": "y"},
                                               "annotations": {"team": "shop"}}})
        assert bk.clean(obj) == {"apiVersion": "v1", "kind": "ConfigMap", "data": {"a": "b"},
                                 "metadata": {"name": "c", "namespace": "n", "labels": {"x": "y"},
                                              "annotations": {"team": "shop"}}}

    def test_the_input_is_not_changed(self):
        obj = with_server_fields({"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                                  "spec": {"clusterIP": "10.0.0.1", "ports": [{"port": 80, "nodePort": 30001}]}})
        before = copy.deepcopy(obj)
        bk.clean(obj)
        assert obj == before

    def test_service_loses_cluster_assigned_addresses_but_headless_stays_headless(self):
        service = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "s"},
                   "spec": {"type": "LoadBalancer", "clusterIP": "10.0.0.1", "clusterIPs": ["10.0.0.1"],
                            "healthCheckNodePort": 31000, "ports": [{"port": 80, "nodePort": 30001}]}}
        assert bk.clean(service)["spec"] == {"type": "LoadBalancer", "ports": [{"port": 80}]}
        headless = {"apiVersion": "v1", "kind": "Service", "metadata": {"name": "h"},
                    "spec": {"clusterIP": "None", "clusterIPs": ["None"]}}
        assert bk.clean(headless)["spec"]["clusterIP"] == "None"

    def test_volumes_and_claims_stay_bound_to_each_other(self):
        pv = {"apiVersion": "v1", "kind": "PersistentVolume", "metadata": {"name": "pv"},
              "spec": {"claimRef": {"kind": "PersistentVolumeClaim", "namespace": "n", "name": "c", "uid": "u",
                                    "resourceVersion": "7"},
                       "csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}}}
        assert bk.clean(pv)["spec"]["claimRef"] == {"kind": "PersistentVolumeClaim", "namespace": "n", "name": "c"}
        pvc = {"apiVersion": "v1", "kind": "PersistentVolumeClaim",
               "metadata": {"name": "c", "annotations": {"pv.kubernetes.io/bind-completed": "yes",
                                                         "volume.kubernetes.io/selected-node": "n1"}},
               "spec": {"volumeName": "pv", "storageClassName": "gp3"}}
        assert bk.clean(pvc) == {"apiVersion": "v1", "kind": "PersistentVolumeClaim", "metadata": {"name": "c"},
                                 "spec": {"volumeName": "pv", "storageClassName": "gp3"}}
        provisioned = {"apiVersion": "v1", "kind": "PersistentVolume",
                       "metadata": {"name": "pv", "annotations": {"pv.kubernetes.io/provisioned-by": "ebs.csi.aws.com"}}}
        # the provisioner deletes only the volumes it made: a restored Delete volume must still say it did
        assert bk.clean(provisioned)["metadata"]["annotations"] == {"pv.kubernetes.io/provisioned-by": "ebs.csi.aws.com"}

    def test_accounts_and_jobs(self):
        account = {"apiVersion": "v1", "kind": "ServiceAccount", "metadata": {"name": "a"}, "secrets": [{"name": "t"}]}
        assert "secrets" not in bk.clean(account)
        job = {"apiVersion": "batch/v1", "kind": "Job",
               "metadata": {"name": "j", "labels": {"batch.kubernetes.io/controller-uid": "u", "app": "x"}},
               "spec": {"selector": {"matchLabels": {"batch.kubernetes.io/controller-uid": "u"}},
                        "template": {"metadata": {"labels": {"controller-uid": "u", "job-name": "j", "app": "x"}}}}}
        cleaned = bk.clean(job)
        assert "selector" not in cleaned["spec"]
        assert cleaned["spec"]["template"]["metadata"]["labels"] == {"app": "x"}
        assert cleaned["metadata"]["labels"] == {"app": "x"}

    def test_a_bare_pod_loses_its_node_and_injected_token_volume(self):
        pod = {"apiVersion": "v1", "kind": "Pod", "metadata": {"name": "p"},
               "spec": {"nodeName": "n1", "volumes": [{"name": "kube-api-access-x1"}, {"name": "data"}],
                        "containers": [{"name": "c", "volumeMounts": [{"name": "kube-api-access-x1"},
                                                                      {"name": "data"}]}]}}
        spec = bk.clean(pod)["spec"]
        assert spec == {"volumes": [{"name": "data"}], "containers": [{"name": "c", "volumeMounts": [{"name": "data"}]}]}


class TestSkipAndOrder:
    def test_what_controllers_make_again_is_skipped(self):
        owned = {"metadata": {"ownerReferences": [{"kind": "ReplicaSet", "name": "rs", "controller": True}]}}
        assert "ReplicaSet" in bk.skip_reason("", "pods", owned)
        assert bk.skip_reason("", "pods", {"metadata": {"ownerReferences": [{"kind": "X", "name": "x"}]}}) is None
        assert bk.skip_reason("", "persistentvolumeclaims", owned) is None  # data, even when a StatefulSet owns it
        assert bk.skip_reason("", "configmaps", {"metadata": {"name": "kube-root-ca.crt"}})
        assert bk.skip_reason("", "secrets", {"metadata": {"name": "t"}, "type": "kubernetes.io/service-account-token"})

    def test_what_eks_the_api_server_and_unkept_namespaces_make_is_skipped(self):
        assert bk.skip_reason("rbac.authorization.k8s.io", "clusterroles", {"metadata": {"name": "system:node"}})
        assert bk.skip_reason("rbac.authorization.k8s.io", "clusterrolebindings", {"metadata": {"name": "eks:addon"}})
        assert bk.skip_reason("scheduling.k8s.io", "priorityclasses", {"metadata": {"name": "system-node-critical"}})
        assert bk.skip_reason("rbac.authorization.k8s.io", "clusterroles", {"metadata": {
            "name": "x", "labels": {"eks.amazonaws.com/component": "coredns"}}})
        helm = {"metadata": {"name": "aws-load-balancer-controller-role",
                             "annotations": {"meta.helm.sh/release-namespace": "kube-system"}}}
        assert "Helm release in kube-system" in bk.skip_reason("rbac.authorization.k8s.io", "clusterroles", helm)
        webhook = {"metadata": {"name": "aws-load-balancer-webhook"},
                   "webhooks": [{"clientConfig": {"service": {"namespace": "kube-system", "name": "w"}}}]}
        assert "served from kube-system" in bk.skip_reason(
            "admissionregistration.k8s.io", "mutatingwebhookconfigurations", webhook)
        assert bk.skip_reason("rbac.authorization.k8s.io", "clusterroles", {"metadata": {"name": "shop-reader"}}) is None
        # a namespaced Role named system:... is the user's
        assert bk.skip_reason("rbac.authorization.k8s.io", "roles", {"metadata": {"name": "system:x", "namespace": "n"}}) \
            is None

    def test_restore_tiers_follow_dependencies(self):
        def tier(api_version, kind):
            return bk.RESTORE_TIERS[bk.restore_tier({"apiVersion": api_version, "kind": kind})][0]

        order = [tier("apiextensions.k8s.io/v1", "CustomResourceDefinition"), tier("v1", "Namespace"),
                 tier("rbac.authorization.k8s.io/v1", "RoleBinding"), tier("v1", "Secret"),
                 tier("v1", "PersistentVolumeClaim"), tier("apps/v1", "StatefulSet"),
                 tier("networking.k8s.io/v1", "Ingress"), tier("shop.llmhub.io/v1", "Promotion"),
                 tier("admissionregistration.k8s.io/v1", "ValidatingWebhookConfiguration")]
        names = [name for name, _members in bk.RESTORE_TIERS]
        assert [names.index(t) for t in order] == sorted(names.index(t) for t in order)
        assert len(set(order)) == len(order)

    def test_discovery_takes_listable_creatable_types_and_says_what_it_leaves_out(self):
        class Api:
            answers = {
                "/apis": {"groups": [{"name": "apps", "preferredVersion": {"groupVersion": "apps/v1"}},
                                     {"name": "metrics.k8s.io", "preferredVersion": {"groupVersion": "metrics.k8s.io/v1beta1"}}]},
                "/api/v1": {"resources": [
                    {"name": "configmaps", "kind": "ConfigMap", "namespaced": True, "verbs": ["create", "get", "list"]},
                    {"name": "pods/log", "kind": "Pod", "namespaced": True, "verbs": ["get"]},
                    {"name": "events", "kind": "Event", "namespaced": True, "verbs": ["create", "get", "list"]},
                    {"name": "bindings", "kind": "Binding", "namespaced": True, "verbs": ["create"]}]},
                "/apis/apps/v1": {"resources": [
                    {"name": "deployments", "kind": "Deployment", "namespaced": True, "verbs": ["create", "get", "list"]},
                    {"name": "controllerrevisions", "kind": "ControllerRevision", "namespaced": True,
                     "verbs": ["create", "get", "list"]}]},
            }

            def get(self, path):
                return self.answers[path]

        found, left_out = bk.discover(Api())
        assert [(t["group"], t["resource"]) for t in found] == [("", "configmaps"), ("apps", "deployments")]
        assert set(left_out) == {"events.core", "controllerrevisions.apps", "*.metrics.k8s.io"}
        assert bk.collection_path(found[1], "ns") == "/apis/apps/v1/namespaces/ns/deployments"
        assert bk.object_path(found[0], "c") == "/api/v1/configmaps/c"


class TestVolumes:
    def test_volume_ids_of_csi_and_in_tree_volumes(self):
        assert bk.ebs_volume_id({"spec": {"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-1"}}}) == "vol-1"
        assert bk.ebs_volume_id({"spec": {"awsElasticBlockStore": {"volumeID": "aws://us-east-1a/vol-2"}}}) == "vol-2"
        assert bk.ebs_volume_id({"spec": {"csi": {"driver": "efs.csi.aws.com", "volumeHandle": "fs-1"}}}) is None

    def test_a_restored_volume_in_another_zone_moves_the_node_affinity(self):
        pv = {"spec": {"csi": {"driver": "ebs.csi.aws.com", "volumeHandle": "vol-old"},
                       "nodeAffinity": {"required": {"nodeSelectorTerms": [{"matchExpressions": [
                           {"key": "topology.ebs.csi.aws.com/zone", "operator": "In", "values": ["us-east-1a"]}]}]}}}}
        moved = bk.with_volume(pv, "vol-new", "us-east-1b", "us-east-1a")
        assert moved["spec"]["csi"]["volumeHandle"] == "vol-new"
        expression = moved["spec"]["nodeAffinity"]["required"]["nodeSelectorTerms"][0]["matchExpressions"][0]
        assert expression["values"] == ["us-east-1b"]
        assert pv["spec"]["csi"]["volumeHandle"] == "vol-old"


class TestStoreAndVerification:
    def test_directory_store_round_trip_and_verification(self, tmp_path):
        store = bk.DirectoryStore(str(tmp_path))
        data = bk.dumps({"a": 1})
        store.put("b1", "kubernetes/cluster/x.core.json", data)
        manifest = {"format": bk.FORMAT, "backup_id": "b1",
                    "files": {"kubernetes/cluster/x.core.json": {"size": len(data), "sha256": bk.sha256(data)}}}
        store.put("b1", bk.MANIFEST, bk.dumps(manifest))
        assert store.ids() == ["b1"]
        assert bk.verify(store, "b1", bk.read_manifest(store, "b1")) == {"kubernetes/cluster/x.core.json": data}
        (tmp_path / "b1" / "kubernetes" / "cluster" / "x.core.json").write_bytes(b'{"a": 2}\n')
        with pytest.raises(bk.BackupError, match=r"kubernetes/cluster/x.core.json does not match its checksum"):
            bk.verify(store, "b1", manifest)
        (tmp_path / "b1" / "kubernetes" / "cluster" / "x.core.json").unlink()
        with pytest.raises(bk.BackupError, match=r"kubernetes/cluster/x.core.json is missing"):
            bk.verify(store, "b1", manifest)
        with pytest.raises(bk.BackupError, match=r"There is no backup b2 .* Backups there: b1"):
            bk.read_manifest(store, "b2")
        store.delete("b1")
        assert store.ids() == []

    def test_a_file_name_cannot_leave_its_set(self, tmp_path):
        with pytest.raises(bk.BackupError):
            bk.DirectoryStore(str(tmp_path)).put("b1", "../b2/manifest.json", b"{}")

    @pytest.mark.parametrize("backup_id", ["", "../x", "a/b", "-x", "x" * 65])
    def test_backup_ids(self, backup_id):
        with pytest.raises(bk.BackupError, match="backup_id"):
            bk.check_backup_id(backup_id)

    def test_new_ids_sort_by_time(self):
        import datetime as dt

        first = bk.new_backup_id(dt.datetime(2026, 12, 2, 9, 5, 0, tzinfo=dt.timezone.utc))
        second = bk.new_backup_id(dt.datetime(2026, 12, 2, 10, 0, 0, tzinfo=dt.timezone.utc))
        assert first == "20261202T090500Z" and first < second
        bk.check_backup_id(first)

    def test_dumps_is_stable(self):
        assert bk.dumps({"b": 1, "a": [1]}) == bk.dumps({"a": [1], "b": 1})
        assert json.loads(bk.dumps({"a": 1})) == {"a": 1}


SETTINGS = {"cluster_name": "c", "action": "create", "backup_id": "", "bucket": "", "directory": "", "prefix": "backups/c",
            "wait_timeout": 1800, "retention_days": 30, "keep_last": 1, "dlm_times": ["03:00"],
            "dlm_retain_count": 7, "dlm_target_tags": {"KubernetesCluster": "c"}, "restore_wait_timeout": 900}


class TestFilters:
    def test_defaults_pass(self):
        assert backup_validate_settings(dict(SETTINGS)) == SETTINGS

    @pytest.mark.parametrize("change, variable", [
        ({"bucket": "Bad_Bucket"}, "backup_bucket"),
        ({"bucket": "ok-bucket", "directory": "/tmp/x"}, "backup_bucket and backup_directory"),
        ({"prefix": "/abs"}, "backup_prefix"),
        ({"wait_timeout": 0}, "backup_wait_timeout"),
        ({"retention_days": "x"}, "backup_retention_days"),
        ({"keep_last": -1}, "backup_keep_last"),
        ({"dlm_retain_count": 1001}, "backup_dlm_retain_count"),
        ({"dlm_times": ["3am"]}, "backup_dlm_times"),
        ({"dlm_times": ["03:00", "04:00"]}, "backup_dlm_times"),
        ({"dlm_target_tags": {}}, "backup_dlm_target_tags"),
        ({"backup_id": "../x"}, "backup_id"),
        ({"restore_wait_timeout": 0}, "backup_restore_wait_timeout"),
    ])
    def test_bad_settings_name_their_variable(self, change, variable):
        with pytest.raises(AnsibleFilterError, match=variable):
            backup_validate_settings(dict(SETTINGS, **change))

    def test_inventory_variables_are_the_known_ones_without_the_backup_roles(self):
        variables = {"eks_version": "1.35", "backup_id": "x", "unrelated": 1, "vpc_cidr": "10.0.0.0/16"}
        assert backup_inventory_variables(variables, ["eks_version", "vpc_cidr", "backup_id", "eks_missing"]) == {
            "eks_version": "1.35", "vpc_cidr": "10.0.0.0/16"}

    def test_environment_bindings_are_not_restored(self):
        for name in ("llmhub_aws_endpoint_url", "kubeconfig_path", "addons_helm_binary", "ansible_connection",
                     "addons_cluster_autoscaler_chart_repo"):
            assert bk.environment_variable(name), name
        for name in ("eks_version", "vpc_cidr", "nodegroups_definitions"):
            assert not bk.environment_variable(name), name
