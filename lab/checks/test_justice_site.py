"""Justice's site router, seen from the data centre: a throughput sample
and the link report, a log line reaching the central store, configuration
drift from a hand edit, and last a WAN cut raising SiteUnreachable and its
resolution. One after the other, in this order (one worker runs a file's
checks in order): they all use the same router and its tunnel.
"""

import json
import time

import pytest
from conftest import INVENTORY, TOP, lab_hosts, lab_inventory
from test_lab import ALERT_GONE, ALERT_WAIT, STORE_WAIT, on, run


@pytest.mark.lab_state(tunnels="shared")
def test_a_throughput_sample_and_the_link_report_come_from_the_lab(ansible_env, tmp_path):
    # playbooks/link-test.yml between the hub and Justice's router (bounded:
    # 3 s each way), kept by the router's node exporter; then make
    # link-report over the last half hour, from the data centre's Prometheus.
    router = "justice-tgi-bzv-rtr1"
    sample = run(
        ["ansible-playbook", "-i", str(INVENTORY), "playbooks/link-test.yml", "--limit", router,
         "-e", "link_test_seconds=3"],
        cwd=TOP, env=ansible_env, timeout=600,
    )  # fmt: skip
    assert sample.returncode == 0, sample.stdout[-3000:] + sample.stderr[-2000:]
    # Prometheus scrapes the router every 10 s (the lab's interval).
    for _ in range(12):
        report = run(
            ["python3", "scripts/link-report", "--env", "lab", "--period", "30m", "--out", str(tmp_path)],
            cwd=TOP, env=ansible_env, timeout=180,
        )  # fmt: skip
        assert report.returncode == 0, report.stderr
        page = (tmp_path / "justice.md").read_text()
        row = next(line for line in page.splitlines() if line.startswith("| tgi-bzv "))
        if "Mbit/s" in row:
            break
        time.sleep(5)
    cells = [cell.strip() for cell in row.strip("|").split("|")]
    availability, samples, throughput = cells[4], cells[8], cells[9]
    assert availability.endswith(" %"), row
    # The WAN cut of the previous check is in the period; how much of the
    # period Prometheus has seen depends on how long the lab has run.
    assert 0 < float(availability[:-2]) < 100, row
    assert samples != "no data", row
    assert throughput.startswith("download "), row
    assert ", upload " in throughput, row
    assert (tmp_path / "justice.html").read_text().count("<svg") >= 1


# Run on the monitoring host: wait (bounded) until the marker is in the
# store's file, then say whether it was found.
@pytest.mark.lab_state(tunnels="shared")
def test_a_line_written_on_a_site_router_reaches_the_data_centre_s_store(ssh_base):
    # Each site router's syslog goes over TLS, through its tunnel and the hub,
    # to the collector on the monitoring host, which files it under the
    # router's ministry and site (roles/base, roles/log_collector).
    inventory = lab_inventory()
    ports = lab_hosts()
    routers = sorted(host for host, values in inventory.items() if values["patn_device_role"] == "router")
    assert routers, "the lab has no site router"
    missing = []
    for router in routers:
        values = inventory[router]
        path = f"/var/log/patn/{values['patn_ministry']}/{values['patn_site']['code']}/{router}.log"
        marker = f"patn-lab-log-{router}-{time.time_ns()}"
        written = run(
            [*ssh_base, "-p", str(ports[router]), "lab-admin@127.0.0.1", f"logger -t patn-lab {marker}"]
        )
        assert written.returncode == 0, f"{router}: logger failed: {written.stderr}"
        found = run(
            [*ssh_base, "-p", str(ports["ptn-dc-mon1"]), "lab-admin@127.0.0.1", "sh -s"],
            input=STORE_WAIT % {"seconds": 60, "marker": marker, "path": path},
            timeout=120,
        )
        assert found.returncode == 0, found.stderr
        if found.stdout.strip() != "found":
            missing.append(f"{router}: its line {marker} is not in ptn-dc-mon1:{path} after 60 s")
    assert not missing, "; ".join(missing)


@pytest.mark.lab_state(configuration="shared")
def test_a_router_edited_by_hand_raises_configuration_drift_in_the_data_centre(ssh_base, ansible_env):
    # Someone edits the login banner of Justice's router by hand: make drift
    # (check mode only) on that router reports it and publishes its figures
    # to the monitoring host, and Alertmanager holds ConfigurationDrift for
    # the router, routed to its ministry. The banner is put back afterwards.
    router = "justice-tgi-bzv-rtr1"
    edit = "sudo -n cp -p /etc/issue.net /root/issue.net.saved && echo edited | sudo -n tee -a /etc/issue.net"
    assert run([*on(ssh_base, router), edit]).returncode == 0
    try:
        drift = run(["make", "drift", "ENV=lab", f"LIMIT={router}"], cwd=TOP, env=ansible_env, timeout=900)
        assert drift.returncode == 0, drift.stdout[-3000:] + drift.stderr[-2000:]
        waited = run(
            [*on(ssh_base, "ptn-dc-mon1"), "python3 -"],
            input=ALERT_WAIT
            % {"deadline": 90, "name": "ConfigurationDrift", "label": "host", "value": router},
            timeout=150,
        )
    finally:
        run([*on(ssh_base, router), "sudo -n mv /root/issue.net.saved /etc/issue.net"])
    assert waited.returncode == 0, waited.stderr
    alerts = json.loads(waited.stdout)
    assert len(alerts) == 1, "no ConfigurationDrift alert in Alertmanager within 90 s of make drift"
    assert (alerts[0]["labels"]["ministry"], alerts[0]["labels"]["site"]) == ("justice", "tgi-bzv")


WAN_CUT = (
    "nft add table inet patn_lab_wan_cut"
    " && nft add chain inet patn_lab_wan_cut in '{ type filter hook input priority -300; }'"
    " && nft add chain inet patn_lab_wan_cut out '{ type filter hook output priority -300; }'"
    " && nft add rule inet patn_lab_wan_cut in iifname wan drop"
    " && nft add rule inet patn_lab_wan_cut out oifname wan drop"
)


@pytest.mark.lab_state(configuration="shared", tunnels="exclusive")
def test_a_site_cut_off_is_unreachable_in_alertmanager_and_resolved_when_back(ssh_base):
    # Justice's site loses its WAN: within its rule's 3 minutes and a few
    # probes, Alertmanager holds SiteUnreachable for its router, with its
    # ministry and site (the alert the operators receive). With the WAN back,
    # the tunnel comes back by itself and the alert is resolved.
    router, site = "justice-tgi-bzv-rtr1", ("justice", "tgi-bzv")
    monitoring = [*ssh_base, "-p", str(lab_hosts()["ptn-dc-mon1"]), "lab-admin@127.0.0.1", "python3 -"]
    container = f"patn-lab-{router}"
    cut = run(["podman", "exec", container, "sh", "-c", WAN_CUT])
    assert cut.returncode == 0, cut.stderr
    try:
        fired = run(
            monitoring,
            input=ALERT_WAIT
            % {"deadline": 300, "name": "SiteUnreachable", "label": "instance", "value": router},
            timeout=360,
        )
    finally:
        run(["podman", "exec", container, "nft", "delete", "table", "inet", "patn_lab_wan_cut"])
    assert fired.returncode == 0, fired.stderr
    alerts = json.loads(fired.stdout)
    assert len(alerts) == 1, "no SiteUnreachable alert in Alertmanager within 5 minutes of the cut"
    assert (alerts[0]["labels"]["ministry"], alerts[0]["labels"]["site"]) == site
    address = lab_inventory()["ptn-dc-mon1"]["patn_management_address"]
    gone = run(
        monitoring,
        input=ALERT_GONE
        % {"deadline": 180, "prometheus": address, "name": "SiteUnreachable", "instance": router},
        timeout=240,
    )
    assert gone.returncode == 0, gone.stderr
    assert json.loads(gone.stdout) == [], "SiteUnreachable still firing 3 minutes after the WAN came back"
