"""Checks of the lab's managed hosts after `make lab` ran site.yml over SSH.

They go through the same path as an operator: SSH on the host's out-of-band
port (published on 127.0.0.1), the administrator's key, sudo. The clients'
end-to-end checks are in test_clients.py.
"""

import json
import subprocess

import pytest
from conftest import TOP, lab_hosts, lab_inventory


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


def on(ssh_base, host):
    """The command line that runs a shell command on a lab host as its administrator."""
    return [*ssh_base, "-p", str(lab_hosts()[host]), "lab-admin@127.0.0.1"]


PROMETHEUS_VIEW = """
import json, time, urllib.request
base = 'http://%s:9090/api/v1/'
def get(path):
    return json.load(urllib.request.urlopen(base + path, timeout=10))['data']
deadline = time.time() + 150
while True:
    targets = get('targets?state=active')['activeTargets']
    probes = get('query?query=probe_success')['result']
    if (all(t['health'] == 'up' for t in targets) and all(r['value'][1] == '1' for r in probes)
            or time.time() > deadline):
        break
    time.sleep(5)
view = {'targets': [{'job': t['labels']['job'], 'instance': t['labels']['instance'], 'health': t['health'],
                     'error': t['lastError']} for t in targets]}
for query in ('probe_success', 'probe_ssl_earliest_cert_expiry - time()',
              'time() - patn_tunnel_latest_handshake_timestamp_seconds'):
    results = get('query?query=' + urllib.request.quote(query))['result']
    view[query] = {' '.join(r['metric'].get(k, '') for k in ('job', 'instance', 'peer')).strip():
                   float(r['value'][1]) for r in results}
print(json.dumps(view))
"""


@pytest.mark.lab_state(eservice="shared", tunnels="shared")
def test_the_data_centre_s_prometheus_watches_every_lab_host(ssh_base):
    # Every host of the inventory scraped through the tunnel, every router
    # and the hub answering their ping, the e-service answering over HTTPS
    # with a valid certificate for its name, the hub's last handshake with
    # each site router fresh: Prometheus' own API, on the monitoring host.
    inventory = lab_inventory()
    address = inventory["ptn-dc-mon1"]["patn_management_address"]
    result = run(
        [*ssh_base, "-p", str(lab_hosts()["ptn-dc-mon1"]), "lab-admin@127.0.0.1", "python3 -"],
        input=PROMETHEUS_VIEW % address,
        timeout=240,
    )
    assert result.returncode == 0, result.stderr
    view = json.loads(result.stdout)
    node = {t["instance"]: (t["health"], t["error"]) for t in view["targets"] if t["job"] == "node"}
    assert node == {host: ("up", "") for host in inventory}
    routers = sorted(h for h, v in inventory.items() if v["patn_device_role"] in ("router", "hub"))
    assert {k: v for k, v in view["probe_success"].items() if k.startswith("icmp ")} == {
        f"icmp {host}": 1.0 for host in routers
    }
    assert view["probe_success"]["https ptn-dc-srv1"] == 1.0
    assert view["probe_ssl_earliest_cert_expiry - time()"]["https ptn-dc-srv1"] > 21 * 86400
    handshakes = view["time() - patn_tunnel_latest_handshake_timestamp_seconds"]
    spokes = sorted(h for h, v in inventory.items() if v["patn_device_role"] == "router")
    assert sorted(handshakes) == [f"node ptn-dc-hub1 {host}" for host in spokes]
    assert all(age < 300 for age in handshakes.values()), handshakes


def test_the_rollout_status_page_shows_every_lab_site_converged(tmp_path):
    # make status: the registry, the audit trail of this lab's runs, and the
    # open alerts asked of the monitoring host's Alertmanager.
    result = run(["python3", "scripts/status", "--env", "lab", "--out", str(tmp_path)], cwd=TOP, timeout=180)
    assert result.returncode == 0, result.stderr
    rows = [
        [cell.strip() for cell in line.strip("|").split("|")]
        for line in (tmp_path / "status.md").read_text().splitlines()
        if line.count("|") == 9 and not line.startswith(("| Site", "| ---"))
    ]
    sites = {site["patn_site"]["code"] for site in lab_inventory().values()}
    assert {row[0] for row in rows} == sites
    for code, _name, status, _devices, converged, _verified, _failed, alerts in rows:
        assert status == "active", code
        assert converged != "never", f"{code}: no converge in the audit trail"
        assert alerts.split()[0].isdigit(), f"{code}: the alerts were not asked ({alerts})"


# Asked on the monitoring host: Alertmanager's open alerts named NAME whose
# label LABEL is VALUE, until there is one or DEADLINE seconds have passed.
ALERT_WAIT = """
import json, time, urllib.request
deadline = time.time() + %(deadline)d
while True:
    alerts = json.load(urllib.request.urlopen('http://127.0.0.1:9093/api/v2/alerts?active=true', timeout=10))
    found = [a for a in alerts if a['labels'].get('alertname') == %(name)r
             and a['labels'].get(%(label)r) == %(value)r]
    if found or time.time() > deadline:
        break
    time.sleep(3)
print(json.dumps(found))
"""


ALERT_GONE = """
import json, time, urllib.request
deadline = time.time() + %(deadline)d
def firing():
    alerts = json.load(urllib.request.urlopen('http://%(prometheus)s:9090/api/v1/alerts', timeout=10))
    return [a for a in alerts['data']['alerts'] if a['labels'].get('alertname') == %(name)r
            and a['labels'].get('instance') == %(instance)r]
while firing() and time.time() < deadline:
    time.sleep(3)
print(json.dumps(firing()))
"""

# The site's WAN cut inside its router: nothing in or out of its WAN port
# (the tunnel's packets with the rest), in a table of its own, apart from
# the router's own ruleset.
STORE_WAIT = """
deadline=$(( $(date +%%s) + %(seconds)d ))
until sudo -n grep -qF -- %(marker)s %(path)s 2>/dev/null; do
    if [ "$(date +%%s)" -ge "$deadline" ]; then echo missing; exit 0; fi
    sleep 2
done
echo found
"""


def test_the_audit_trail_of_the_site_run_reaches_the_data_centre_s_store(ssh_base):
    # The last play of site.yml ships the run's audit lines to the collector
    # (playbooks/audit-ship.yml): the lab's real run of site.yml is there.
    listing = run(
        [*ssh_base, "-p", str(lab_hosts()["ptn-dc-mon1"]), "lab-admin@127.0.0.1",
         "sudo -n sh -c 'head -qn1 /var/log/patn/audit/*.jsonl'"],
    )  # fmt: skip
    assert listing.returncode == 0, f"ptn-dc-mon1: no audit file in /var/log/patn/audit: {listing.stderr}"
    starts = [json.loads(line) for line in listing.stdout.splitlines() if line.strip()]
    runs = [
        start
        for start in starts
        if start["event"] == "run_start"
        and start["playbook"] == "playbooks/site.yml"
        and not start["check_mode"]
    ]
    assert runs, f"ptn-dc-mon1:/var/log/patn/audit holds no real run of site.yml: {starts}"
