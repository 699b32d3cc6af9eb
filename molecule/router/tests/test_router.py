"""Live checks of the router role, from the clients of each segment.

Each test names, as fixtures, the containers it runs commands in.

Every check sends packets between the scenario's own containers, on
internal networks (the WAN is a documentation prefix): nothing leaves the
machine.
"""

import base64
import json
import random
import struct
from pathlib import Path

import pytest
import testinfra

DOMAIN = "bzv-hq.sante.patn.cg"
SERVICE = "172.19.4.138"
DC_SERVICE = "172.18.8.138"
NOC = "172.18.8.140"
UPSTREAM = "198.51.100.20"


# The containers of the scenario, each checked from where it sits.
@pytest.fixture(scope="module")
def router():
    return testinfra.get_host("podman://router")


@pytest.fixture(scope="module")
def hub():
    return testinfra.get_host("podman://hub")


@pytest.fixture(scope="module")
def noc():
    return testinfra.get_host("podman://noc")


@pytest.fixture(scope="module")
def access_point():
    return testinfra.get_host("podman://ap-client")


@pytest.fixture(scope="module")
def staff():
    return testinfra.get_host("podman://staff-client")


@pytest.fixture(scope="module")
def guest():
    return testinfra.get_host("podman://guest-client")


@pytest.fixture(scope="module")
def router2():
    return testinfra.get_host("podman://router2")


@pytest.fixture(scope="module")
def staff2():
    return testinfra.get_host("podman://staff2-client")


@pytest.fixture(scope="module")
def guest2():
    return testinfra.get_host("podman://guest2-client")


def http_get(host, address, timeout=5):
    script = (
        "import urllib.request; "
        f"print(urllib.request.urlopen('http://{address}/', timeout={timeout}).read().decode().strip())"
    )
    return host.run(f'python3 -c "{script}"')


def tcp_connect(host, address, port):
    script = f"import socket; socket.create_connection(('{address}', {port}), timeout=3)"
    return host.run(f'python3 -c "{script}"')


def tcp_outcome(host, address, port):
    """open, refused (the packet got there: no listener) or dropped (no answer in 3 s)."""
    script = (
        "import socket\n"
        "try:\n"
        f"    socket.create_connection(('{address}', {port}), timeout=3); print('open')\n"
        "except ConnectionRefusedError:\n"
        "    print('refused')\n"
        "except OSError:\n"
        "    print('dropped')\n"
    )
    encoded = base64.b64encode(script.encode()).decode()
    return host.check_output(f"python3 -c \"import base64; exec(base64.b64decode('{encoded}'))\"")


ICMP_ECHO = (Path(__file__).parent.parent / "files" / "icmp_echo.py").read_text()


def icmp_echo(host, address):
    """True when address answers one ICMP echo from host within 2 s (the images have no ping)."""
    encoded = base64.b64encode(ICMP_ECHO.encode()).decode()
    script = (
        f"import base64, sys; sys.argv = ['icmp_echo', '{address}', '2']; exec(base64.b64decode('{encoded}'))"
    )
    return host.run(f'python3 -c "{script}"').rc == 0


def resolve(host, server, name):
    """One DNS A query over UDP, by hand (the clients have no DNS tools)."""
    query_id = random.randint(0, 0xFFFF)
    question = b"".join(bytes([len(label)]) + label.encode() for label in name.split(".")) + b"\0"
    packet = struct.pack(">HHHHHH", query_id, 0x0100, 1, 0, 0, 0) + question + struct.pack(">HH", 1, 1)
    script = (
        "import socket; s = socket.socket(socket.AF_INET, socket.SOCK_DGRAM); s.settimeout(5); "
        f"s.sendto(bytes.fromhex('{packet.hex()}'), ('{server}', 53)); "
        "r = s.recv(512); print(r.hex())"
    )
    answer = bytes.fromhex(host.check_output(f'python3 -c "{script}"'))
    assert answer[:2] == packet[:2]
    answers = struct.unpack(">H", answer[6:8])[0]
    return ".".join(str(b) for b in answer[-4:]) if answers else None


# --- From the staff client ------------------------------------------------------


def test_staff_client_has_a_lease_from_kea(staff):
    address = staff.check_output("ip -4 -br addr show staff").split()[2]
    ip, prefix = address.split("/")
    assert prefix == "24"
    assert ip.startswith("172.19.5.")
    assert 64 <= int(ip.split(".")[3]) <= 254
    assert "default via 172.19.5.1" in staff.check_output("ip route")


def test_staff_client_resolves_site_names_through_unbound(staff):
    assert resolve(staff, "172.19.5.1", f"dossiers-patients.{DOMAIN}") == SERVICE


def test_staff_client_resolves_an_access_point_by_its_reservation_name(staff):
    assert resolve(staff, "172.19.5.1", f"sante-bzv-hq-ap1.{DOMAIN}") == "172.19.4.10"


def test_access_point_gets_its_reserved_address(access_point):
    assert access_point.check_output("ip -4 -br addr show management").split()[2] == "172.19.4.10/25"


def test_staff_reaches_the_eservice(staff):
    result = http_get(staff, SERVICE)
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "service"


def test_staff_reaches_a_datacentre_eservice_through_the_tunnel(staff):
    result = http_get(staff, DC_SERVICE)
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "dc-eservice"
    route = staff.check_output(f"ip route get {DC_SERVICE}")
    assert "via 172.19.5.1" in route


def test_staff_does_not_reach_the_router_management(staff):
    assert tcp_connect(staff, "172.19.4.1", 22).rc != 0
    assert tcp_connect(staff, "172.19.5.1", 22).rc != 0


# --- From the guest client ------------------------------------------------------


def test_guest_client_has_a_lease_and_reaches_the_upstream(guest):
    address = guest.check_output("ip -4 -br addr show guest").split()[2]
    assert address.startswith(("172.19.6.", "172.19.7."))
    assert address.endswith("/23")
    result = http_get(guest, UPSTREAM)
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == "upstream"


@pytest.mark.parametrize(
    ("address", "port"),
    [(SERVICE, 80), (DC_SERVICE, 80), ("172.19.4.1", 22), (NOC, 22), ("172.19.5.1", 22)],
    ids=["eservice", "dc-eservice", "router-ssh", "noc", "router-staff-side"],
)
def test_guest_reaches_no_internal_address(guest, address, port):
    assert tcp_connect(guest, address, port).rc != 0


def test_guest_reaches_no_staff_client(guest, staff):
    address = staff.check_output("ip -4 -br addr show staff").split()[2].split("/")[0]
    assert tcp_connect(guest, address, 22).rc != 0
    assert staff.run("timeout 5 bash -c '</dev/tcp/127.0.0.1/22'").rc == 0, "the staff client's sshd is down"


# --- On the router --------------------------------------------------------------


def test_a_ruleset_cutting_management_was_rolled_back(router):
    # The task failed (side_effect.yml kept its result with failed_when: false).
    result = json.loads(router.file("/root/cut-result.json").content_string)
    assert result["applied"] is True
    assert result["confirmed"] is False
    assert result["rolled_back"] is True
    reverted = ("the previous ruleset came back", "rollback has already restored")
    assert any(words in result["msg"] for words in reverted)
    live = router.check_output("nft list ruleset")
    assert "@admin_prefixes tcp dport 22 accept" in live
    # The file loaded at boot is still the confirmed one.
    assert "@admin_prefixes tcp dport 22 accept" in router.file("/etc/nftables.conf").content_string


def test_administrators_reach_the_router_again(noc):
    # From the administrators' station, through the tunnel, as the rollback check's SSH did.
    assert tcp_connect(noc, "172.19.4.1", 22).rc == 0


def test_tunnel_shows_a_recent_handshake(router):
    handshakes = router.check_output("wg show wg0 latest-handshakes").split()
    assert len(handshakes) == 2, "the router should have exactly one peer: the hub"
    age = int(router.check_output("date +%s")) - int(handshakes[1])
    assert age < 180


def test_wireguard_go_is_killed_soon_when_it_does_not_stop(router):
    # It once ignored SIGTERM for systemd's default 90 s: a rollback came late.
    assert router.check_output("systemctl show -P TimeoutStopUSec wg-quick@wg0") == "5s"


def test_private_keys_stay_private(router):
    key = router.file("/etc/wireguard/private.key")
    assert key.mode == 0o600
    assert key.content_string.strip() not in router.file("/etc/wireguard/wg0.conf").content_string


def test_hub_has_one_peer_per_site_with_the_site_block(hub):
    allowed = hub.check_output("wg show wg0 allowed-ips")
    assert "172.31.0.193/32" in allowed
    assert "172.19.4.0/22" in allowed


def test_drops_are_logged_at_a_limited_rate(router):
    live = router.check_output("nft list chain inet patn forward")
    assert 'log prefix "patn-drop-forward: "' in live
    assert "limit rate" in live


def test_dhcp_served_the_staff_client(router):
    leases = router.file("/var/lib/kea/kea-leases4.csv").content_string
    assert ",172.19.5." in leases or "\n172.19.5." in leases


def class_bytes(host, class_id):
    """Bytes sent so far by one HTB class of the router's WAN."""
    stats = host.check_output("tc -s class show dev wan")
    block = stats.split(f"class htb 1:{class_id} ")[1]
    return int(block.split("Sent ")[1].split()[0])


def test_qos_classes_get_the_best_queue_this_kernel_has(router):
    # This kernel has neither cake nor fq_codel: every class says it fell
    # back to the kernel's default after trying both, and exists anyway.
    log = router.check_output("journalctl -u patn-qos -o cat --no-pager")
    for class_id in (10, 20, 30):
        assert f"class 1:{class_id}: kernel default queue (none of: cake, fq_codel)" in log
    assert "qdisc cake" not in router.check_output("tc qdisc show dev wan")


def test_qos_puts_each_kind_of_traffic_in_its_class(router, guest, staff):
    before = {class_id: class_bytes(router, class_id) for class_id in (10, 20, 30)}
    assert http_get(guest, UPSTREAM).rc == 0
    assert http_get(staff, UPSTREAM).rc == 0
    # Tunnel packets: any request to the data centre.
    assert http_get(staff, DC_SERVICE).rc == 0
    after = {class_id: class_bytes(router, class_id) for class_id in (10, 20, 30)}
    assert after[30] > before[30], "guest traffic did not go to class 1:30"
    assert after[20] > before[20], "staff traffic did not go to class 1:20"
    assert after[10] > before[10], "tunnel traffic did not go to class 1:10"


def test_monitoring_reaches_the_node_exporter_port_and_no_one_else_does(noc, staff):
    # The services image runs a node exporter (roles/base is not run here):
    # open, or refused where none listens, both prove the firewall let the
    # packet through; dropped is the firewall's answer.
    assert tcp_outcome(noc, "172.19.4.1", 9100) in ("open", "refused")
    assert tcp_outcome(staff, "172.19.4.1", 9100) == "dropped"
    assert tcp_outcome(staff, "172.19.5.1", 9100) == "dropped"


# --- Confirm-or-revert of the tunnel ------------------------------------------------


def test_a_wrong_tunnel_change_through_the_tunnel_came_back_by_itself(router):
    # side_effect.yml: the tunnel with a wrong hub key, over SSH through the tunnel.
    result = json.loads(router.file("/root/tunnel-change-result.json").content_string)
    assert result.get("rolled_back") is True, result
    assert result["confirmed"] is False
    assert result["applied"] is True
    reverted = ("the previous tunnel configuration came back", "rollback has already restored")
    assert any(words in result["msg"] for words in reverted), result["msg"]
    # The site answered again within the rollback window (20 s) plus one minute.
    assert result["answered"] - result["armed_at"] <= 20 + 60
    configuration = router.file("/etc/wireguard/wg0.conf").content_string
    assert "d3JvbmcgaHViIGtleTogdGhlIGxhYidzIG93biBvbmU=" not in configuration
    assert "d3JvbmcgaHViIGtleTogdGhlIGxhYidzIG93biBvbmU=" not in router.check_output("wg show wg0 peers")
    assert not router.file("/var/lib/patn-apply/tunnel/pending.json").exists
    # The stage is the live file again: a later check-mode run (make drift)
    # does not report the refused key as a change still due.
    assert router.file("/etc/patn-router/tunnel/wg0.conf").content_string == configuration


# --- A new router fails closed ----------------------------------------------------------


def test_a_refused_first_ruleset_leaves_the_safe_one(router2):
    refusal = json.loads(router2.file("/root/first-ruleset-result.json").content_string)
    assert refusal["task"] == "Apply it, undone unless Ansible reconnects through it"
    assert "nft -c rejected the ruleset" in refusal["msg"]
    boot = router2.file("/etc/nftables.conf").content_string
    assert "table inet patn_safe {" in boot
    assert "table inet patn {" not in boot
    # router2 was stopped and started since: the boot ruleset is the live one.
    live = router2.check_output("nft list ruleset")
    assert "table inet patn_safe" in live
    assert "table inet patn " not in live


def test_an_unconfirmed_first_ruleset_falls_back_to_the_safe_one(router2):
    after = router2.file("/root/after-unconfirmed-first.nft").content_string
    assert "table inet patn_safe" in after
    assert "table inet patn " not in after


def test_nothing_crosses_between_the_segments_of_a_new_router(router2, staff2, guest2):
    # The segments are up (each client reaches its gateway)...
    assert icmp_echo(staff2, "172.20.13.1")
    assert icmp_echo(guest2, "172.20.14.1")
    assert staff2.run("timeout 5 bash -c '</dev/tcp/127.0.0.1/22'").rc == 0, "staff2's sshd is down"
    # ...and forwarding is off (nftables.service left it off at boot: no zone policy)...
    assert router2.file("/proc/sys/net/ipv4/ip_forward").content_string.strip() == "0"
    for forwarding in ("0", "1"):
        # ...and even on, the safe ruleset forwards nothing.
        router2.run(f"sysctl -qw net.ipv4.ip_forward={forwarding}")
        try:
            assert tcp_outcome(guest2, "172.20.13.10", 22) == "dropped"
            assert tcp_outcome(staff2, "172.20.14.10", 22) == "dropped"
            assert tcp_outcome(staff2, UPSTREAM, 80) == "dropped"
            assert tcp_outcome(staff2, DC_SERVICE, 80) == "dropped"
        finally:
            router2.run("sysctl -qw net.ipv4.ip_forward=0")


# --- One site down blocks no other --------------------------------------------------------


def test_the_hub_configures_the_routers_that_answer_when_one_is_down(hub):
    # side_effect.yml: router2 stopped, the first router's peer removed from the
    # hub's file, then the hub's tunnel tasks run.
    result = json.loads(hub.file("/root/tunnel-peers-result.json").content_string)
    assert result["learned"] == ["router"]
    assert result["kept"] == ["router2"]
    assert result["missing"] == []
    assert any("router2" in warning for warning in result["warnings"])
    assert result["applied"]["confirmed"] is True
    configuration = hub.file("/etc/wireguard/wg0.conf").content_string
    assert "# router: site bzv-hq of sante." in configuration
    assert "# router2: site tgi-bzv of justice." in configuration
    allowed = hub.check_output("wg show wg0 allowed-ips")
    assert "172.19.4.0/22" in allowed
    assert "172.20.12.0/22" in allowed
