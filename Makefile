# Entry points of the project. Quick start (README): `make lab`, `make test`.
# Every target installs what it needs first (scripts/setup), so both work
# from a fresh clone on a fresh Debian machine run as root.

SHELL := /bin/bash
.SHELLFLAGS := -euo pipefail -c
.DEFAULT_GOAL := help

VENV := .venv
# Tools run from the virtualenv; molecule also needs ansible-config on PATH.
export PATH := $(CURDIR)/$(VENV)/bin:$(PATH)
export CONTAINERS_CONF := $(CURDIR)/lab/containers.conf
export ANSIBLE_CONFIG := $(CURDIR)/ansible.cfg

.PHONY: help setup images ee check-collections lint unit validate setup-check molecule test test-log lab lab-check lab-destroy report status link-report drift plan-diff benchmark-inventory benchmark-speed constraints bundle

help: ## List the targets
	@grep -E '^[a-z-]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-18s %s\n", $$1, $$2}'

setup: ## Install system packages, the pinned toolchain and the collection link
	@scripts/setup

images: setup ## Build the lab base images (Debian 12 and 13) when their inputs changed
	@scripts/build-lab-images

check-collections: setup ## Prove the installed collections satisfy requirements.yml
	@python3 scripts/check-collections requirements.yml

lint: setup ## ansible-lint (production profile), yamllint, ruff
	yamllint --strict .
	ruff check .
	ruff format --check .
	ansible-lint --offline

unit: setup ## Unit tests of the Python plugins and scripts (on both cores)
	python3 -m pytest -p no:cacheprovider -n 2 --durations=10 tests --ignore=tests/containers

# The offline controller's archive (docs/offline.md): every wheel of the
# pinned toolchain for Python 3.11 and 3.13, pip's, a SHA-256 list; the lab
# images too with IMAGES=1 (several GB). Install: scripts/setup --offline FILE.
bundle: setup ## Archive for an offline controller: wheels and checksums (IMAGES=1 adds the lab images, OUT=file)
	@scripts/bundle $(if $(IMAGES),--images) $(if $(OUT),--out '$(OUT)')

# Every file every role writes, for every host of inventories/$(ENV), checked
# offline by the programs that read them in one network-less container, then
# the service contract between the hosts (scripts/validate says how).
validate: setup ## Render and check every role's files for every host, and the service contract (ENV=production|lab, LIMIT=...)
	@scripts/build-lab-images debian12-services
	python3 scripts/validate --env $(or $(ENV),production) $(if $(LIMIT),--limit '$(LIMIT)')

setup-check: images ## The tests that need the lab images: scripts/setup in clean Debian 12 and 13, make validate's real checkers
	python3 -m pytest -p no:cacheprovider tests/containers

# Scenarios side by side (MOLECULE_JOBS at a time), the heaviest first.
# Three: they spend much of their time waiting (containers booting, podman
# exec, rollback timers), and two at a time left 30 to 50 % of the 2 cores
# idle (vmstat during a CI run).
MOLECULE_JOBS ?= 3
molecule: images ## Every Molecule scenario, three at a time (MOLECULE_JOBS=1: one after the other)
	@python3 scripts/molecule-all --jobs $(MOLECULE_JOBS)

# Every Ansible run of the suite logs to one file, read at the end for
# deprecation warnings (scripts/check-deprecations).
TEST_LOG := $(CURDIR)/.cache/test-logs/ansible.log
# The lab check, the longest part, starts first in the background; lint,
# unit, setup-check and validate run beside it (OFFLINE_JOBS at a time, each
# one's output printed in one piece when it ends), then Molecule, all at a
# lower priority than the lab: see scripts/test-suite. Molecule runs beside the lab only above the inotify
# limit of scripts/limits (scripts/setup raises it as root).
OFFLINE_JOBS ?= 2
test: export ANSIBLE_LOG_PATH := $(TEST_LOG)
test: export OFFLINE_JOBS := $(OFFLINE_JOBS)
test: test-log check-collections images ## The whole suite: what CI runs
	@scripts/test-suite
	@python3 scripts/check-deprecations $(TEST_LOG)
	@echo "All checks passed."

test-log:
	@mkdir -p $(dir $(TEST_LOG)) && : > $(TEST_LOG)

ee: images ## The execution environment for AWX and ansible-runner, localhost/patn-ee:latest (ee/Containerfile), when its inputs changed
	@scripts/build-ee

lab-check: images ## The main job end to end on a fresh lab, then tear it down
	@scripts/lab check

lab: images ## The main job: the lab's containers, then playbooks/site.yml on them
	@scripts/lab up

lab-destroy: setup ## Remove the lab's containers and networks
	@scripts/lab down

report: setup ## Auditor reports per ministry (REGISTRY=..., OUT=...), Markdown and HTML
	python3 scripts/report $(or $(REGISTRY),inventories/production/registry) $(or $(OUT),reports/production)

status: setup ## Rollout status per ministry (ENV=production|lab): sites, last converge and verification, open alerts, in reports/status
	python3 scripts/status --env $(or $(ENV),production)

link-report: setup ## Link quality per ministry over a period (ENV=production|lab, PERIOD=7d, OUT=...): availability, loss, latency, throughput, in reports/links
	python3 scripts/link-report --env $(or $(ENV),production) --period $(or $(PERIOD),7d) $(if $(OUT),--out '$(OUT)')

# The audit changes nothing; then the figures of the report it wrote (the
# .json files newer than the run's start) go to the monitoring host
# (playbooks/drift-metrics.yml, which changes only that file), failed hosts
# in the audit or not. The exit status is the audit's, unless the
# publication fails.
drift: setup ## Drift report, check mode only (ENV=production LIMIT=ministry_sante; the lab by default), in reports/drift; its figures to the monitoring
	@stamp=$$(mktemp); status=0; \
	ansible-playbook $(if $(ENV),-i inventories/$(ENV)) playbooks/audit.yml $(if $(LIMIT),--limit '$(LIMIT)') --check --diff || status=$$?; \
	reports=$$(find $(CURDIR)/reports/drift -maxdepth 1 -name '*.json' -newer "$$stamp" 2>/dev/null | sort | paste -sd, - || true); \
	rm -f "$$stamp"; \
	if [ -z "$$reports" ]; then echo "make drift: no drift report written, nothing published" >&2; exit $$(( status ? status : 1 )); fi; \
	ansible-playbook $(if $(ENV),-i inventories/$(ENV)) playbooks/drift-metrics.yml -e "drift_reports=$$reports"; \
	exit $$status

plan-diff: setup ## Address plan changes between two revisions: make plan-diff A=main~1 [B=main]
	python3 scripts/plan-diff $(A) $(B) --registry $(or $(REGISTRY),inventories/production/registry)

benchmark-inventory: setup ## Registry plugin (no cache, cold, warm) vs static inventory at playbook time, 50,000 hosts (under 10 min)
	python3 scripts/benchmark-inventory

benchmark-speed: images ## No-change site.yml on the lab, ansible.cfg vs Ansible's defaults (ARGS="--runs 2 --json f.json"; ~25 min)
	python3 scripts/benchmark-speed $(ARGS)

constraints: setup ## Re-pin constraints.txt after changing requirements.txt
	@( echo "# Every Python package of the toolchain, pinned (pip freeze of a working .venv)."; \
	   echo "# Regenerate after changing requirements.txt: make constraints"; \
	   pip freeze --exclude-editable ) > constraints.txt
