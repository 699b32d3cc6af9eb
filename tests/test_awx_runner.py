"""The project as AWX runs it: ansible-runner's input directory.

AWX hands ansible-runner a private data directory: env/ (extravars,
envvars, settings), inventory/ and project/ (a checkout of the project,
without this machine's .venv), and requirements_collections/, where the
project sync installed collections/requirements.yml: the project itself as
patn.infra. The project's ansible.cfg finds it there (../requirements_collections);
the .venv link of scripts/setup does not exist in a project checkout, so the
registry inventory plugin is loaded from the project or not at all.
"""

import json

import ansible_runner
import pytest
from ansible_collections.patn.infra.plugins.module_utils import registry
from awx_input import copy_project, install_project_collection
from conftest import TOP

PRODUCTION = TOP / "inventories" / "production"


def input_directory(tmp_path, install_collections=True):
    """ansible-runner's input directory, as AWX builds it for a job of the project."""
    private = tmp_path / "runner"
    project = private / "project"
    copy_project(project)
    collections = private / "requirements_collections"
    collections.mkdir()
    if install_collections:
        install_project_collection(project, collections)
    # The inventory source of the project (registry.yml, its registry/ and group_vars/).
    (private / "inventory").symlink_to(project / "inventories" / "production")
    env = private / "env"
    env.mkdir()
    (env / "extravars").write_text(json.dumps({"awx_job_id": 1, "awx_job_template_name": "PATN justice"}))
    (env / "envvars").write_text(
        json.dumps(
            {
                # What AWX (24.6) sets for an inventory update: ansible-core 2.19
                # ignores it, the project's ansible.cfg names ../requirements_collections.
                "ANSIBLE_COLLECTIONS_PATHS": f"{collections}:/usr/share/ansible/collections",
                # An image without Mitogen: Ansible's own strategy (docs/awx.md).
                "ANSIBLE_STRATEGY": "linear",
                "ANSIBLE_CACHE_PLUGIN": "ansible.builtin.memory",
            }
        )
    )
    (env / "settings").write_text(json.dumps({"job_timeout": 120, "suppress_ansible_output": True}))
    return private


@pytest.fixture
def no_checkout_config(monkeypatch):
    """As in AWX: the project's ansible.cfg, found in the working directory (project/)."""
    monkeypatch.delenv("ANSIBLE_CONFIG", raising=False)
    monkeypatch.delenv("ANSIBLE_COLLECTIONS_PATH", raising=False)


def test_a_job_of_the_project_runs_through_ansible_runner(tmp_path, no_checkout_config):
    private = input_directory(tmp_path)
    run = ansible_runner.run(
        private_data_dir=str(private), playbook="playbooks/validate.yml", limit="ministry_justice", quiet=True
    )
    events = list(run.events)
    assert run.status == "successful", run.stdout.read()[-3000:]
    assert run.rc == 0
    justice = {
        name
        for name, values in registry.build(registry.load(PRODUCTION / "registry")).hosts.items()
        if name.startswith("justice-")
    }
    seen = {event["event_data"]["host"] for event in events if event["event"] == "runner_on_ok"}
    # Every justice host ran the validation play; nothing else did (localhost: the delegated checks).
    assert seen - {"localhost"} == justice
    stats = next(event["event_data"] for event in events if event["event"] == "playbook_on_stats")
    assert not stats["failures"]
    assert not stats["dark"]
    assert set(stats["ok"]) - {"localhost"} == justice
    assert run.config.cwd == str(private / "project")


def test_a_host_has_the_variables_of_the_registry(tmp_path, no_checkout_config):
    """ansible-inventory through ansible-runner, in project/ as an AWX inventory update runs it."""
    private = input_directory(tmp_path)
    out, err, rc = ansible_runner.run_command(
        executable_cmd="ansible-inventory",
        cmdline_args=["-i", str(private / "inventory"), "--host", "justice-tgi-pnr-rtr1"],
        host_cwd=str(private / "project"),
        envvars=json.loads((private / "env" / "envvars").read_text()),
        quiet=True,
    )
    assert rc == 0, out + err
    host = json.loads(out)
    assert host["patn_ministry"] == "justice"
    assert host["patn_site"]["code"] == "tgi-pnr"
    assert host["patn_device_role"] == "router"


def test_without_the_project_collection_nothing_runs(tmp_path, no_checkout_config):
    """No patn.infra in requirements_collections: the inventory does not load, the job fails."""
    private = input_directory(tmp_path, install_collections=False)
    run = ansible_runner.run(
        private_data_dir=str(private), playbook="playbooks/validate.yml", limit="ministry_justice", quiet=True
    )
    output = run.stdout.read()
    assert run.status == "failed"
    assert "Error loading plugin 'patn.infra.registry'" in output
    assert "registry.yml" in output
    assert not [event for event in run.events if event["event"] == "runner_on_ok"]
