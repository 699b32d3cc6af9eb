"""Checks of the lab's managed hosts after `make lab` ran site.yml over SSH.

They go through the same path as an operator: SSH on the host's out-of-band
port (published on 127.0.0.1), the administrator's key, sudo. The clients'
end-to-end checks are in test_clients.py.
"""

import json
import re
import subprocess

from conftest import INVENTORY, TOP, lab_hosts, lab_inventory


def run(command, timeout=120, **kwargs):
    return subprocess.run(command, capture_output=True, text=True, timeout=timeout, check=False, **kwargs)


def test_admin_logs_in_with_key_and_becomes_root(lab_host, ssh_base):
    _, port = lab_host
    result = run([*ssh_base, "-p", str(port), "lab-admin@127.0.0.1", "sudo -n id -u"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_password_login_is_refused(lab_host, ssh_base):
    _, port = lab_host
    result = run(
        [
            *ssh_base,
            "-o", "PubkeyAuthentication=no",
            "-o", "PreferredAuthentications=password,keyboard-interactive",
            "-p", str(port),
            "lab-admin@127.0.0.1",
            "true",
        ]
    )  # fmt: skip
    assert result.returncode == 255
    assert "Permission denied (publickey)" in result.stderr


def test_time_is_served_by_chrony_in_brazzaville_time(lab_host, ssh_base):
    _, port = lab_host
    result = run([*ssh_base, "-p", str(port), "lab-admin@127.0.0.1", "date +%Z; sudo -n chronyc -n tracking"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "WAT"
    assert "Reference ID" in result.stdout


def test_second_run_of_site_changes_nothing(ansible_env):
    result = run(
        ["ansible-playbook", "-i", str(INVENTORY), "playbooks/site.yml"],
        cwd=TOP,
        env=ansible_env,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    recap = dict(re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", result.stdout, re.MULTILINE))
    assert recap, "no PLAY RECAP in the output of the second run"
    changed = {host: count for host, count in recap.items() if count != "0"}
    assert not changed, f"a second run changed something: {changed}"


def test_backup_runs_and_monitoring_sees_it(ssh_base):
    # Run the nightly backup now on the e-service server, then scrape that
    # server's node exporter from the hub, as the data centre's monitoring
    # would: from the management segment (the server's host firewall lets
    # only that in), on the server's management address planned in the registry.
    ports = lab_hosts()
    inventory = lab_inventory()
    address = inventory["ptn-dc-srv1"]["patn_management_address"]
    monitoring = inventory["ptn-dc-hub1"]["patn_management_address"]
    server = run(
        [*ssh_base, "-p", str(ports["ptn-dc-srv1"]), "lab-admin@127.0.0.1",
         "sudo -n systemctl start patn-backup.service && sudo -n patn-restic snapshots --json"],
        timeout=300,
    )  # fmt: skip
    assert server.returncode == 0, server.stderr
    assert json.loads(server.stdout), "no snapshot in the server's repository"
    script = (
        "import http.client; "
        f"c = http.client.HTTPConnection('{address}', 9100, timeout=10, source_address=('{monitoring}', 0)); "
        "c.request('GET', '/metrics'); print(c.getresponse().read().decode())"
    )
    hub = run([*ssh_base, "-p", str(ports["ptn-dc-hub1"]), "lab-admin@127.0.0.1", f'python3 -c "{script}"'])
    assert hub.returncode == 0, hub.stderr
    assert "patn_backup_last_run_success 1" in hub.stdout
    assert 'node_systemd_unit_state{name="eservice-dossiers-patients.service",state="active"' in hub.stdout
