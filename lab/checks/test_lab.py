"""Checks of the lab as a whole after `make lab` ran site.yml: the sites'
lane (conftest.py LANES), after the clients' checks (test_clients.py).

Ansible runs from the operators' workstation, through the data centre and
the sites' tunnels, as in production (group_vars/lab/connection.yml): a
second site.yml that must change nothing, the monitoring's view, then the
faults, one after the other: a site cut off, a primary uplink cut, a
router edited by hand, a wrong tunnel change, a router made new.
Prometheus' view of every host comes last.
"""

import json
import re
import time

import pytest
from conftest import ALERT_WAIT, TOP, lab_inventory, on, playbook, run
from limits import CONNECT_TIMEOUT
from test_clients import (
    ESERVICE_NAME,
    STAFF_CLIENTS,
    container_run,
    copy_lab_root_ca,
    eservice_health,
    leased_address,
    resolve,
    tcp_connects,
)


@pytest.mark.lab_parts("packages", "backups")
def test_second_run_of_site_changes_nothing(ansible_env):
    # Seven hosts connect at once through the lab's relay (podman exec on
    # the operators' workstation), on a loaded machine (tests/limits.py).
    # Production connects without the relay.
    env = dict(ansible_env, ANSIBLE_TIMEOUT=str(CONNECT_TIMEOUT))
    result = playbook(env, "playbooks/site.yml")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    recap = dict(re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", result.stdout, re.MULTILINE))
    assert recap, "no PLAY RECAP in the output of the second run"
    changed = {host: count for host, count in recap.items() if count != "0"}
    assert not changed, f"a second run changed something: {changed}"


# Run on the monitoring host: wait (bounded) until the marker is in the
# store's file, then say whether it was found.
STORE_WAIT = """
deadline=$(( $(date +%%s) + %(seconds)d ))
until sudo -n grep -qF -- %(marker)s %(path)s 2>/dev/null; do
    if [ "$(date +%%s)" -ge "$deadline" ]; then echo missing; exit 0; fi
    sleep 2
done
echo found
"""


def test_a_line_written_on_a_site_router_reaches_the_data_centre_s_store(ssh_base):
    # Each site router's syslog goes over TLS, through its tunnel and the hub,
    # to the collector on the monitoring host, which files it under the
    # router's ministry and site (roles/base, roles/log_collector).
    inventory = lab_inventory()
    routers = sorted(host for host, values in inventory.items() if values["patn_device_role"] == "router")
    assert routers, "the lab has no site router"
    missing = []
    for router in routers:
        values = inventory[router]
        path = f"/var/log/patn/{values['patn_ministry']}/{values['patn_site']['code']}/{router}.log"
        marker = f"patn-lab-log-{router}-{time.time_ns()}"
        written = run([*on(ssh_base, router), f"logger -t patn-lab {marker}"])
        assert written.returncode == 0, f"{router}: logger failed: {written.stderr}"
        found = run(
            [*on(ssh_base, "ptn-dc-mon1"), "sh -s"],
            input=STORE_WAIT % {"seconds": 60, "marker": marker, "path": path},
        )
        assert found.returncode == 0, found.stderr
        if found.stdout.strip() != "found":
            missing.append(f"{router}: its line {marker} is not in ptn-dc-mon1:{path} after 60 s")
    assert not missing, "; ".join(missing)


def test_the_audit_trail_of_the_site_run_reaches_the_data_centre_s_store(ssh_base):
    # The last play of site.yml ships the run's audit lines to the collector
    # (playbooks/audit-ship.yml): the lab's real run of site.yml is there.
    listing = run(
        [*on(ssh_base, "ptn-dc-mon1"), "sudo -n sh -c 'head -qn1 /var/log/patn/audit/*.jsonl'"],
    )
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


def test_the_rollout_status_page_shows_every_lab_site_converged(tmp_path):
    # make status: the registry, the audit trail of this lab's runs, and the
    # open alerts asked of the monitoring host's Alertmanager.
    result = run(["python3", "scripts/status", "--env", "lab", "--out", str(tmp_path)], cwd=TOP)
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


# Asked on the monitoring host: wait until Prometheus no longer has the
# alert NAME for INSTANCE (its expression is false again), then print
# Alertmanager's view of it: resolved alerts end (endsAt in the past).
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
def wan_cut(interfaces):
    """The shell command that cuts these uplink interfaces inside a router."""
    names = ", ".join(interfaces)
    return (
        "nft add table inet patn_lab_wan_cut"
        " && nft add chain inet patn_lab_wan_cut in '{ type filter hook input priority -300; }'"
        " && nft add chain inet patn_lab_wan_cut out '{ type filter hook output priority -300; }'"
        f" && nft add rule inet patn_lab_wan_cut in iifname {{ {names} }} drop"
        f" && nft add rule inet patn_lab_wan_cut out oifname {{ {names} }} drop"
    )


# The primary uplink only: a router with a second uplink fails over to it.
WAN_CUT = wan_cut(["wan"])
# Every uplink of Justice's router (its second one is "lte"): the site is cut off.
SITE_CUT = wan_cut(["wan", "lte"])


@pytest.mark.lab_parts("uplinks")
def test_a_site_cut_off_is_unreachable_in_alertmanager_and_resolved_when_back(ssh_base):
    # Justice's site loses both its uplinks: within its rule's 3 minutes and a few
    # probes, Alertmanager holds SiteUnreachable for its router, with its
    # ministry and site (the alert the operators receive). With the WAN back,
    # the tunnel comes back by itself and the alert is resolved.
    router, site = "justice-tgi-bzv-rtr1", ("justice", "tgi-bzv")
    monitoring = [*on(ssh_base, "ptn-dc-mon1"), "python3 -"]
    container = f"patn-lab-{router}"
    cut = run(["podman", "exec", container, "sh", "-c", SITE_CUT])
    assert cut.returncode == 0, cut.stderr
    try:
        fired = run(
            monitoring,
            input=ALERT_WAIT
            % {"deadline": 300, "name": "SiteUnreachable", "label": "instance", "value": router},
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
    )
    assert gone.returncode == 0, gone.stderr
    assert json.loads(gone.stdout) == [], "SiteUnreachable still firing 3 minutes after the WAN came back"
    # Back on its primary: the router's default route is no longer on the
    # second uplink (the hosts' lane audits it next).
    left = failover_routes_left(container)
    assert "default via" not in left, (
        f"failover routes still on lte after {FAILBACK_BOUND_SECONDS} s:\n{left}"
    )


# Uplink failover (roles/router, patn-wan-failover): from the primary
# uplink's cut to a fresh handshake at the hub over the second uplink and
# the staff client's HTTPS request answered again. The failover itself
# takes about 3 probe rounds of up to 7 s (router__wan_failover_failures,
# _interval, ping's 2 s timeout), then WireGuard's handshake retry (5 s
# apart, after 15 s without an answer to data) forgets the old source
# address and takes the new route: about 45 s expected, bounded at 120 s
# (roles/router/README.md says the same).
FAILOVER_BOUND_SECONDS = 120
# Bound on the failover routes leaving once the cut is lifted (the next
# answered probe) with the tunnel and the e-service answering. Which uplink
# WireGuard then uses is not asserted: it keeps its last source address
# until a handshake fails, and on the lab's flat networks the hub answers
# on either (the kernel's on-link fallback for a pinned interface).
FAILBACK_BOUND_SECONDS = 120


def failover_routes_left(container):
    """The router's routes on its second uplink once the failover routes have
    left (the primary answers again), or what is still there after
    FAILBACK_BOUND_SECONDS."""
    deadline = time.time() + FAILBACK_BOUND_SECONDS
    while True:
        left = container_run(container, "ip -4 route show dev lte").stdout
        if "default via" not in left or time.time() > deadline:
            return left
        time.sleep(2)


def hub_handshake(router_tunnel_address):
    """The hub's peer of a site router: (endpoint, latest handshake, epoch seconds)."""
    dump = container_run("patn-lab-ptn-dc-hub1", "wg show wg0 dump").stdout.splitlines()
    for line in dump[1:]:  # the first line is the interface's own
        fields = line.split("\t")
        if f"{router_tunnel_address}/32" in fields[3].split(","):
            return fields[2], int(fields[4])
    return "", 0


def wait_for_the_tunnel_and_the_eservice(site, since, via, deadline):
    """Seconds until the hub's handshake with the site's router is newer than
    since, from an endpoint on the address via (any when None), and the site's staff client
    reaches the e-service (its request sent again and again: WireGuard starts
    a handshake when data gets no answer); None at the deadline. site: the
    router, its staff client and the root CA's path in the client."""
    tunnel_address = lab_inventory()[site["router"]]["patn_site"]["tunnel_address"]
    container = f"patn-lab-client-{site['client']}"
    _, address = resolve(container, "staff", ESERVICE_NAME)
    while time.time() < deadline:
        endpoint, handshake = hub_handshake(tunnel_address)
        answered = eservice_health(container, address, site["cafile"])
        fresh = handshake > since and (via is None or endpoint.startswith(f"{via}:"))
        if fresh and answered.returncode == 0 and " 200" in answered.stdout:
            return time.time() - since
        time.sleep(2)
    return None


@pytest.mark.lab_parts("eservice", "uplinks")
def test_the_site_s_tunnel_comes_back_over_its_second_uplink_when_the_primary_is_cut(record_property):
    # Justice's router has a second uplink in the registry (uplinks.secondary:
    # "lte", the hub standing in for the LTE router on patn-lab-lte). Its
    # primary uplink is cut inside the router (WAN_CUT, as the
    # SiteUnreachable check does): within FAILOVER_BOUND_SECONDS the hub has a
    # fresh handshake from the router's second uplink address and the staff
    # client reaches the e-service through the tunnel again. Then the cut is
    # lifted and the tunnel is back on the primary.
    router = "justice-tgi-bzv-rtr1"
    client = next(name for name, site_router in STAFF_CLIENTS.items() if site_router == router)
    hostvars = lab_inventory()
    uplinks = hostvars[router]["patn_uplinks"]
    second = uplinks["secondary"]["address"].split("/")[0]
    container = f"patn-lab-{router}"
    assert hostvars["ptn-dc-hub1"]["lab_lte_address"] == uplinks["secondary"]["gateway"]
    running = container_run(container, "systemctl is-active patn-wan-failover")
    assert running.stdout.strip() == "active", "patn-wan-failover is not running on the router"
    leased_address(client, "staff")
    site = {"router": router, "client": client, "cafile": copy_lab_root_ca([client])}
    cut_at = time.time()
    cut = run(["podman", "exec", container, "sh", "-c", WAN_CUT])
    assert cut.returncode == 0, cut.stderr
    try:
        took = wait_for_the_tunnel_and_the_eservice(site, cut_at, second, cut_at + FAILOVER_BOUND_SECONDS)
        routes = container_run(container, "ip -4 route show dev lte").stdout
    finally:
        run(["podman", "exec", container, "nft", "delete", "table", "inet", "patn_lab_wan_cut"])
    assert took is not None, (
        f"no fresh handshake from {second} with the e-service answering within"
        f" {FAILOVER_BOUND_SECONDS} s of the primary's cut; routes on lte:\n{routes}"
    )
    record_property("result", f"back over the second uplink in {took:.0f} s")
    assert "default via" in routes, routes
    # The primary serves again once it answers: the failover routes leave,
    # and the tunnel and the e-service still answer.
    lifted_at = time.time()
    left = failover_routes_left(container)
    assert "default via" not in left, (
        f"failover routes still on lte after {FAILBACK_BOUND_SECONDS} s:\n{left}"
    )
    # A live tunnel has a handshake at least every 2 minutes (WireGuard's
    # rekey): one in the last 3 minutes, not necessarily a new one.
    back = wait_for_the_tunnel_and_the_eservice(
        site, lifted_at - 180, None, lifted_at + FAILBACK_BOUND_SECONDS
    )
    assert back is not None, (
        f"no fresh handshake and e-service answer {FAILBACK_BOUND_SECONDS} s after the cut was lifted"
    )


def test_a_router_edited_by_hand_raises_configuration_drift_in_the_data_centre(ssh_base, ansible_env):
    # Someone edits the login banner of Justice's router by hand: make drift
    # (check mode only) on that router reports it and publishes its figures
    # to the monitoring host, and Alertmanager holds ConfigurationDrift for
    # the router, routed to its ministry. The banner is put back afterwards.
    router = "justice-tgi-bzv-rtr1"
    edit = "sudo -n cp -p /etc/issue.net /root/issue.net.saved && echo edited | sudo -n tee -a /etc/issue.net"
    assert run([*on(ssh_base, router), edit]).returncode == 0
    try:
        drift = run(["make", "drift", "ENV=lab", f"LIMIT={router}"], cwd=TOP, env=ansible_env)
        assert drift.returncode == 0, drift.stdout[-3000:] + drift.stderr[-2000:]
        waited = run(
            [*on(ssh_base, "ptn-dc-mon1"), "python3 -"],
            input=ALERT_WAIT
            % {"deadline": 90, "name": "ConfigurationDrift", "label": "host", "value": router},
        )
    finally:
        run([*on(ssh_base, router), "sudo -n mv /root/issue.net.saved /etc/issue.net"])
    assert waited.returncode == 0, waited.stderr
    alerts = json.loads(waited.stdout)
    assert len(alerts) == 1, "no ConfigurationDrift alert in Alertmanager within 90 s of make drift"
    assert (alerts[0]["labels"]["ministry"], alerts[0]["labels"]["site"]) == ("justice", "tgi-bzv")


# "packages": the site's apt goes through its tunnel, down for a while here.
@pytest.mark.lab_parts("eservice", "packages")
def test_a_wrong_tunnel_change_through_the_tunnel_comes_back_by_itself(ansible_env, record_property):
    # lab/checks/wrong-tunnel-change.yml, delivered through the site's tunnel
    # like every run after the first contact (group_vars/lab/connection.yml):
    # the task fails (its confirmation cannot come back), the router's timer
    # restores the previous tunnel, and the site answers again within the
    # rollback window (20 s) plus one minute: the hub has a fresh handshake
    # and the site's staff client reaches the e-service.
    router = "sante-bzv-hq-rtr1"
    client = next(name for name, site_router in STAFF_CLIENTS.items() if site_router == router)
    leased_address(client, "staff")
    site = {"router": router, "client": client, "cafile": copy_lab_root_ca([client])}
    started = time.time()
    result = playbook(ansible_env, "lab/checks/wrong-tunnel-change.yml", "--limit", router)
    output = " ".join((result.stdout + result.stderr).split())
    assert result.returncode != 0, "the wrong tunnel change was confirmed: " + output[-2000:]
    assert "rolled_back: true" in output, output[-3000:]
    # The action saw the rollback itself, or found it done when it asked again.
    reverted = ("the previous tunnel configuration came back", "rollback has already restored")
    assert any(words in output for words in reverted), output[-3000:]
    # The run ends once the router answered again after its rollback (at
    # most 20 s + 60 s after the apply: plugin_utils/confirmed_action.py).
    ended = time.time()
    took = wait_for_the_tunnel_and_the_eservice(site, started, None, ended + 60)
    assert took is not None, "the tunnel and the e-service did not answer within 60 s of the rollback"
    record_property("result", f"rolled back; the e-service answered {took:.0f} s after the change began")
    wrong_key = "d3JvbmcgaHViIGtleTogdGhlIGxhYidzIG93biBvbmU="
    configuration = container_run(f"patn-lab-{router}", "cat /etc/wireguard/wg0.conf").stdout
    assert "[Peer]" in configuration, configuration
    assert wrong_key not in configuration, configuration
    assert wrong_key not in container_run(f"patn-lab-{router}", "wg show wg0 peers").stdout


@pytest.mark.lab_parts("packages")
def test_a_throughput_sample_and_the_link_report_come_from_the_lab(ansible_env, tmp_path):
    # playbooks/link-test.yml between the hub and Justice's router (bounded:
    # 3 s each way), kept by the router's node exporter; then make
    # link-report over the last half hour, from the data centre's Prometheus.
    router = "justice-tgi-bzv-rtr1"
    sample = playbook(ansible_env, "playbooks/link-test.yml", "--limit", router, "-e", "link_test_seconds=3")
    assert sample.returncode == 0, sample.stdout[-3000:] + sample.stderr[-2000:]
    # Prometheus scrapes the router every 10 s (the lab's interval).
    for _ in range(12):
        report = run(
            ["python3", "scripts/link-report", "--env", "lab", "--period", "30m", "--out", str(tmp_path)],
            cwd=TOP, env=ansible_env,
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
    # The site cut earlier in this lane is in the period; how much of the
    # period Prometheus has seen depends on how long the lab has run.
    assert 0 < float(availability[:-2]) < 100, row
    assert samples != "no data", row
    assert throughput.startswith("download "), row
    assert ", upload " in throughput, row
    assert (tmp_path / "justice.html").read_text().count("<svg") >= 1


def router_run(ansible_env, router, *extra):
    """playbooks/routers.yml on one router (through its tunnel, as every run after the first contact)."""
    return playbook(ansible_env, "playbooks/routers.yml", "--limit", router, *extra)


@pytest.mark.lab_parts("eservice", "packages")
def test_a_router_made_new_fails_closed_when_its_first_ruleset_is_refused(ansible_env, record_property):
    # Justice's router is made new again (its boot ruleset is no zone policy),
    # then the router role runs through the tunnel with a private prefix
    # that overlaps another: the safe ruleset (management and the tunnel in,
    # nothing forwarded) is made live and confirmed through the tunnel, the
    # zone policy is refused by nft -c, and the site's staff client reaches
    # nothing through the router. A normal run then gives the zone policy
    # back, and the e-service answers again.
    router = "justice-tgi-bzv-rtr1"
    container = f"patn-lab-{router}"
    client = next(name for name, site_router in STAFF_CLIENTS.items() if site_router == router)
    leased_address(client, "staff")
    _, eservice = resolve(f"patn-lab-client-{client}", "staff", ESERVICE_NAME)
    assert tcp_connects(f"patn-lab-client-{client}", eservice, 443), "the e-service is not reachable before"
    made_new = container_run(container, "printf '#!/usr/sbin/nft -f\\nflush ruleset\\n' > /etc/nftables.conf")
    assert made_new.returncode == 0, made_new.stderr
    prefixes = ["10.0.0.0/8", "172.16.0.0/12", "192.168.0.0/16", "100.64.0.0/10", "10.1.0.0/16"]
    overlapping = json.dumps({"router__private_prefixes": prefixes})
    try:
        refused = router_run(ansible_env, router, "-e", overlapping)
        output = " ".join((refused.stdout + refused.stderr).split())
        live = container_run(container, "nft list ruleset").stdout
        forwarding = container_run(container, "cat /proc/sys/net/ipv4/ip_forward").stdout.strip()
        reached = tcp_connects(f"patn-lab-client-{client}", eservice, 443)
    finally:
        restored = router_run(ansible_env, router)
    assert refused.returncode != 0, "the overlapping ruleset was applied: " + output[-2000:]
    assert "nft -c rejected the ruleset" in output, output[-3000:]
    assert "table inet patn_safe {" in live, live
    assert "table inet patn {" not in live, live
    assert forwarding == "0"
    assert not reached, (
        "the staff client reached the e-service through a router with no confirmed zone policy"
    )
    assert restored.returncode == 0, restored.stdout[-3000:] + restored.stderr[-2000:]
    deadline = time.time() + 60
    while not (back := tcp_connects(f"patn-lab-client-{client}", eservice, 443)) and time.time() < deadline:
        time.sleep(2)
    assert back, "the e-service is not back within 60 s of the normal run"
    record_property("result", "safe ruleset live, forwarding off, nothing crossed; zone policy back")


# Asked on the monitoring host: until every target is up and every probe
# passes (the lab scrapes every 10 s; the faults before this check, and
# the restore in the hosts' lane, restarted tunnels and the e-service), or
# 150 s have passed; then its view of each job.
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


@pytest.mark.lab_parts("eservice")
def test_the_data_centre_s_prometheus_watches_every_lab_host(ssh_base):
    # Every host of the inventory scraped through the tunnel, every router
    # and the hub answering their ping, the e-service answering over HTTPS
    # with a valid certificate for its name, the hub's last handshake with
    # each site router fresh: Prometheus' own API, on the monitoring host.
    inventory = lab_inventory()
    address = inventory["ptn-dc-mon1"]["patn_management_address"]
    result = run(
        [*on(ssh_base, "ptn-dc-mon1"), "python3 -"],
        input=PROMETHEUS_VIEW % address,
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
