"""Clusters of one inventory run together: the hosted zone they share is made once, not once per cluster."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from tests.support.inventory import fleet_inventory

from .conftest import ROOT, playbook_environment

pytestmark = pytest.mark.integration

CLUSTERS = ["llm-analytics-hub-prod-eks", "llm-analytics-hub-fleet-01", "llm-analytics-hub-fleet-02"]
DOMAIN = "shared-zone.example.com"


def test_three_clusters_together_make_one_zone(fresh_account, emulator_server, boto, tmp_path):
    inventory = fleet_inventory(tmp_path, len(CLUSTERS))
    play = [{
        "name": "TLS of three clusters of one domain, together",
        "hosts": "eks_clusters",
        "gather_facts": False,
        "tasks": [{"name": "TLS", "ansible.builtin.include_role": {"name": "llmhub.eks.hardening", "tasks_from": "tls"},
                   "vars": {"hardening_tls_domain_name": DOMAIN, "hardening_tls_hosted_zone": DOMAIN,
                            "hardening_tls_create_hosted_zone": True,
                            "hardening_tls_certificate_name": "{{ inventory_hostname }}-ingress",
                            "hardening_cluster_name": "{{ inventory_hostname }}"}}],
    }]
    path = tmp_path / "play.yml"
    path.write_text(yaml.safe_dump(play, sort_keys=False), encoding="utf-8")
    command = [str(Path(sys.executable).with_name("ansible-playbook")), str(path), "-i", str(inventory),
               "--forks", "3"]
    proc = subprocess.run(command, cwd=ROOT, env=playbook_environment(emulator_server.url), capture_output=True,
                          text=True, timeout=600, check=False)
    assert proc.returncode == 0, proc.stdout[-4000:] + proc.stderr[-2000:]
    zones = [zone for zone in boto("route53").list_hosted_zones()["HostedZones"] if zone["Name"] == DOMAIN + "."]
    assert len(zones) == 1, zones
    certificates = boto("acm").list_certificates()["CertificateSummaryList"]
    assert len([c for c in certificates if c["DomainName"] == DOMAIN]) == len(CLUSTERS)
