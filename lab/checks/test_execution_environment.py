"""The project's execution environment (make ee, ee/Containerfile) runs a
job of the project as AWX runs one: ansible-runner with process isolation,
the job's input directory mounted at /runner (project/ a checkout of the
project, requirements_collections/ the project as patn.infra), the job's
events read back from its artifacts. The container shares the operators'
workstation's network (podman's container: network mode), on the data
centre's management segment where production's controller sits: it reaches
the site's devices itself, through the hub and the site's tunnel."""

import json
import shutil

import ansible_runner
import pytest
from awx_input import copy_project, install_project_collection
from conftest import LAB_DIR, lab_inventory, run

IMAGE = "localhost/patn-ee:latest"
WORKSTATION = "patn-lab-client-ptn-dc-operator"
# A ministry's job template: site.yml in check mode on Health's site, whose
# router and access point no check of the sites' lane changes while the
# e-service is held ("eservice": the tunnel change on Health's router).
MINISTRY = "ministry_sante"

CONTRACT_PLAY = """
- name: The execution environment's contract
  hosts: localhost
  connection: local
  gather_facts: false
  tasks:
    - name: Who runs the job, and a filter of a collection with its Python dependency
      ansible.builtin.command: whoami
      register: user
      changed_when: false
    - name: Show them
      ansible.builtin.debug:
        msg: "{{ user.stdout }} {{ '192.0.2.0/24' | ansible.utils.ipaddr('network') }}"
"""


def job_events(private):
    """The events of the job's artifacts, as AWX reads them."""
    (ident,) = [path for path in (private / "artifacts").iterdir() if path.is_dir()]
    return [json.loads(path.read_text()) for path in sorted((ident / "job_events").glob("*.json"))]


def test_the_image_runs_a_job_as_any_user_of_group_0(tmp_path):
    # OpenShift and AWX's Kubernetes pods run the image as an arbitrary user
    # of group 0: ansible-builder's entrypoint gives it a passwd entry (ssh
    # needs one) and /runner is group 0's.
    private = tmp_path / "runner"
    (private / "project").mkdir(parents=True)
    (private / "project" / "contract.yml").write_text(CONTRACT_PLAY)
    for path in [private, *private.rglob("*")]:
        path.chmod(0o770 if path.is_dir() else 0o660)
    result = run(
        ["podman", "run", "--rm", "--user", "4242:0", "-v", f"{private}:/runner:Z", IMAGE,
         "ansible-runner", "run", "/runner", "-p", "contract.yml"],
    )  # fmt: skip
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-2000:]
    shown = [
        event["event_data"]["res"]["msg"]
        for event in job_events(private)
        if event["event"] == "runner_on_ok" and event["event_data"]["task"] == "Show them"
    ]
    assert shown == ["4242 192.0.2.0"], shown


@pytest.fixture
def private_data_dir(tmp_path):
    """The job's input directory: the project, its collection, the lab's
    throwaway secrets (what AWX's credentials would bring)."""
    private = tmp_path / "runner"
    project = private / "project"
    copy_project(project)
    install_project_collection(project, private / "requirements_collections")
    shutil.copytree(LAB_DIR, project / ".lab", symlinks=True)
    # ansible-runner gives the container /runner/inventory. Relative links
    # resolve inside it too; the lab's registry overlays production's
    # national.yml through ../../production from its registry/ folder.
    (private / "inventory").symlink_to("project/inventories/lab")
    (private / "production").symlink_to("project/inventories/production")
    return private


@pytest.mark.lab_parts("packages", "eservice")
def test_a_ministry_s_job_runs_in_the_execution_environment_through_the_tunnel(
    private_data_dir, record_property
):
    run_ = ansible_runner.run(
        private_data_dir=str(private_data_dir),
        playbook="playbooks/site.yml",
        limit=MINISTRY,
        cmdline="--check",
        extravars={
            "awx_job_template_name": "PATN sante",
            "lab_dir": "/runner/project/.lab",
            # On the management segment itself: no relay (inventories/lab/group_vars/lab/connection.yml).
            "lab_on_management_segment": True,
        },
        envvars={"ANSIBLE_VAULT_PASSWORD_FILE": "/runner/project/scripts/lab-vault-password"},
        process_isolation=True,
        process_isolation_executable="podman",
        container_image=IMAGE,
        # Rootful podman here: the input directory is root's, so the job
        # runs as the container's root (AWX's rootless podman maps its own
        # user there the same way).
        container_options=[f"--network=container:{WORKSTATION}", "--user=0"],
        # 90 s on a quiet machine, 11.5 minutes beside Molecule on a slow one.
        settings={"job_timeout": 1800, "suppress_ansible_output": True},
        quiet=True,
    )
    output = run_.stdout.read()
    assert run_.status == "successful", output[-4000:]
    assert run_.rc == 0
    command = " ".join(run_.config.command)
    assert command.startswith("podman run"), command
    assert IMAGE in command, command
    events = job_events(private_data_dir)
    sante = {name for name, values in lab_inventory().items() if values["patn_ministry"] == "sante"}
    stats = next(event["event_data"] for event in events if event["event"] == "playbook_on_stats")
    assert not stats["failures"], stats
    assert not stats["dark"], stats
    assert set(stats["ok"]) == sante, stats
    ran = {
        (event["event_data"]["host"], event["event_data"]["role"].rsplit(".", 1)[-1])
        for event in events
        if event["event"] == "runner_on_ok" and event["event_data"].get("role")
    }
    assert ("sante-bzv-hq-rtr1", "router") in ran
    assert ("sante-bzv-hq-ap1", "access_point") in ran
    # A converged site: the job in the image sees nothing to change.
    changed = sorted(
        f"{event['event_data']['host']}: {event['event_data']['task']}"
        for event in events
        if event["event"] == "runner_on_ok" and event["event_data"]["res"].get("changed")
    )
    assert not changed, changed
    record_property("result", f"{len(sante)} hosts, {sum(stats['ok'].values())} tasks ok, nothing to change")
