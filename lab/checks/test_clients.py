"""End-to-end checks from the lab's client devices (lab/lab.yml).

A client is a laptop plugged into one segment of a site: it takes its
address by DHCP from the site router, asks the router's resolver, and
reaches what the zone policy allows, the data centre's e-services through
the WireGuard tunnel. Every packet stays on the lab's internal networks;
the checks run inside the containers (podman exec), never from the host.
"""

import re
import shlex
import time

import pytest
from conftest import LAB_DIR, lab_inventory, run

ESERVICE_NAME = "dossiers-patients.sante.lab.patn"
ESERVICE_HOST = "ptn-dc-srv1"
STAFF_CLIENTS = {"sante-bzv-hq-staff": "sante-bzv-hq-rtr1", "justice-tgi-bzv-staff": "justice-tgi-bzv-rtr1"}
GUEST_CLIENT, GUEST_SITE_ROUTER = "justice-tgi-bzv-guest", "justice-tgi-bzv-rtr1"
# The staff client on the guest client's site.
STAFF_NEXT_DOOR = "patn-lab-client-justice-tgi-bzv-staff"
ACCESS_POINT, ACCESS_POINT_ROUTER = "sante-bzv-hq-ap1", "sante-bzv-hq-rtr1"


def container_run(container, command):
    """A shell command inside a lab container (podman exec), as root."""
    return run(["podman", "exec", container, "sh", "-c", command])


def python_in(container, script):
    return container_run(container, f"python3 -c {shlex.quote(script)}")


@pytest.fixture(scope="module")
def hostvars():
    return lab_inventory()


def segment_of(hostvars, router, name):
    return hostvars[router]["patn_segments"][name]


def leased_address(client, segment):
    """The client's DHCP address on its segment, waiting for the lease."""
    container = f"patn-lab-client-{client}"
    deadline = time.monotonic() + 120
    while True:
        shown = container_run(container, f"ip -4 -o addr show {segment}").stdout.split()
        if len(shown) > 3:
            return shown[3]
        if time.monotonic() > deadline:
            pytest.fail(f"{client} has no address on {segment} after 2 minutes")
        # The router's Kea answered only once site.yml ran: ask again now.
        container_run(container, f"networkctl renew {segment}")
        time.sleep(3)


def resolve(container, segment, name):
    """The name's address, asked of the DNS server the client's DHCP lease names."""
    lease = container_run(container, f"networkctl status {segment} --no-pager").stdout
    servers = re.findall(r"^\s+DNS: (\S+)", lease, re.MULTILINE)
    assert servers, f"the DHCP lease on {segment} named no DNS server:\n{lease}"
    # The client uses it as a laptop's resolver would (no systemd-resolved here).
    container_run(container, f"echo nameserver {servers[0]} > /etc/resolv.conf")
    answer = container_run(container, f"getent ahostsv4 {name}").stdout.split()
    return servers[0], answer[0] if answer else None


def tcp_connects(container, address, port):
    script = f"import socket; socket.create_connection(('{address}', {port}), timeout=3)"
    return python_in(container, script).returncode == 0


def eservice_health(container, address, cafile):
    """The e-service's /health over HTTPS from a client, the certificate checked
    against the lab's root CA and the name; stdout: the TLS version and the status line."""
    script = (
        "import socket, ssl; "
        f"context = ssl.create_default_context(cafile='{cafile}'); "
        f"raw = socket.create_connection(('{address}', 443), timeout=10); "
        f"tls = context.wrap_socket(raw, server_hostname='{ESERVICE_NAME}'); "
        f"tls.sendall(b'GET /health HTTP/1.1\\r\\nHost: {ESERVICE_NAME}\\r\\n"
        "Connection: close\\r\\n\\r\\n'); "
        "print(tls.version(), tls.recv(200).decode().splitlines()[0])"
    )
    return python_in(container, script)


def copy_lab_root_ca(clients):
    """The lab's root CA, copied into each client as a user would import it: its path there."""
    for client in clients:
        destination = f"patn-lab-client-{client}:/tmp/lab-root-ca.crt"
        copied = run(["podman", "cp", str(LAB_DIR / "pki" / "root-ca.crt"), destination])
        assert copied.returncode == 0, copied.stderr
    return "/tmp/lab-root-ca.crt"


@pytest.fixture(scope="module")
def lab_root_ca():
    return copy_lab_root_ca([*STAFF_CLIENTS, GUEST_CLIENT])


@pytest.mark.parametrize("client", sorted(STAFF_CLIENTS))
def test_staff_client_gets_an_address_from_its_site_router(hostvars, client):
    staff = segment_of(hostvars, STAFF_CLIENTS[client], "staff")
    address = leased_address(client, "staff")
    length = staff["prefix_length"]
    assert address.endswith(f"/{length}")
    first, last = staff["dhcp_pool"]
    as_int = lambda ip: int.from_bytes(bytes(int(octet) for octet in ip.split(".")), "big")  # noqa: E731
    assert as_int(first) <= as_int(address.split("/")[0]) <= as_int(last), f"{address} outside the pool"
    routes = container_run(f"patn-lab-client-{client}", "ip -4 route").stdout
    assert f"default via {staff['gateway']}" in routes


@pytest.mark.parametrize("client", sorted(STAFF_CLIENTS))
@pytest.mark.lab_parts("eservice")
def test_staff_client_reaches_the_eservice_through_the_tunnel_tls_verified(hostvars, lab_root_ca, client):
    router = STAFF_CLIENTS[client]
    gateway = segment_of(hostvars, router, "staff")["gateway"]
    container = f"patn-lab-client-{client}"
    leased_address(client, "staff")
    # The name, from the resolver the lease names: the site router's.
    server, address = resolve(container, "staff", ESERVICE_NAME)
    assert server == gateway
    assert address == hostvars[ESERVICE_HOST]["patn_management_address"]
    # HTTPS with the certificate checked against the lab's root CA and the
    # name; the sample application answers from its database.
    result = eservice_health(container, address, lab_root_ca)
    assert result.returncode == 0, result.stderr
    version, status = result.stdout.strip().split(" ", 1)
    assert version in ("TLSv1.2", "TLSv1.3")
    assert status.startswith("HTTP/1.1 200")
    # The site router sends it into the tunnel, and the tunnel is up.
    route = container_run(f"patn-lab-{router}", f"ip route get {address}").stdout
    assert " dev wg0 " in route, route
    handshake = container_run(f"patn-lab-{router}", "wg show wg0 latest-handshakes").stdout.split()
    assert handshake, "no peer on the router's tunnel"
    assert time.time() - int(handshake[-1]) < 300, handshake


def test_a_wrong_name_fails_verification(hostvars, lab_root_ca):
    # The same request under a name the certificate does not carry is refused:
    # the check above verifies the certificate, it does not just connect.
    client = "justice-tgi-bzv-staff"
    leased_address(client, "staff")
    address = hostvars[ESERVICE_HOST]["patn_management_address"]
    script = (
        "import socket, ssl; "
        f"context = ssl.create_default_context(cafile='{lab_root_ca}'); "
        f"raw = socket.create_connection(('{address}', 443), timeout=10); "
        "context.wrap_socket(raw, server_hostname='autre-service.sante.lab.patn')"
    )
    result = python_in(f"patn-lab-client-{client}", script)
    assert result.returncode != 0
    assert "CERTIFICATE_VERIFY_FAILED" in result.stderr


def test_guest_client_reaches_its_gateway_and_no_internal_address(hostvars):
    router = GUEST_SITE_ROUTER
    guest = segment_of(hostvars, router, "guest")
    container = f"patn-lab-client-{GUEST_CLIENT}"
    address = leased_address(GUEST_CLIENT, "guest")
    assert address.endswith(f"/{guest['prefix_length']}")
    # It is on the network: its gateway's resolver answers it.
    site, ministry = hostvars[router]["patn_site"]["code"], hostvars[router]["patn_ministry"]
    router_name = f"{router}.{site}.{ministry}.patn.cg"
    router_address = hostvars[router]["patn_management_address"]
    assert resolve(container, "guest", router_name) == (guest["gateway"], router_address)
    # The staff client next door has SSH open (the lab image's), which its
    # own router reaches.
    staff_client = leased_address("justice-tgi-bzv-staff", "staff").split("/")[0]
    assert tcp_connects(f"patn-lab-{router}", staff_client, 22)
    # The guest reaches nothing of the government's: the data centre's
    # e-service, the router's other addresses, the hub, that staff client.
    eservice = hostvars[ESERVICE_HOST]["patn_management_address"]
    closed = {
        "the data centre's e-service (https)": (eservice, 443),
        "the router's staff address (ssh)": (segment_of(hostvars, router, "staff")["gateway"], 22),
        "the router's management address (ssh)": (hostvars[router]["patn_management_address"], 22),
        "the hub's management address (ssh)": (hostvars["ptn-dc-hub1"]["patn_management_address"], 22),
        "the staff client next door (ssh)": (staff_client, 22),
    }
    reached = [what for what, (ip, port) in closed.items() if tcp_connects(container, ip, port)]
    assert not reached, f"a guest reached {reached}"
    # The staff client itself does reach that e-service: the block is the policy's.
    assert tcp_connects(STAFF_NEXT_DOOR, eservice, 443)


@pytest.mark.lab_parts("eservice")
def test_the_eservice_server_s_own_firewall_lets_staff_reach_its_web_only(hostvars):
    # The routers' zone policy lets staff into the data centre's services
    # segment, every port; past them, the server's host firewall (roles/base,
    # tasks/firewall.yml) lets in its web and drops its SSH and exporter,
    # which listen (the server reaches them itself).
    client = "sante-bzv-hq-staff"
    leased_address(client, "staff")
    address = hostvars[ESERVICE_HOST]["patn_management_address"]
    assert tcp_connects(f"patn-lab-client-{client}", address, 443)
    for port in (22, 9100):
        assert tcp_connects(f"patn-lab-{ESERVICE_HOST}", address, port), f"nothing listens on {port}"
        assert not tcp_connects(f"patn-lab-client-{client}", address, port), f"staff reached port {port}"


# --- RADIUS: 802.1X from the site's access point -----------------------------


def lab_secret(name):
    return (LAB_DIR / "secrets" / name).read_text().split()[0]


@pytest.fixture(scope="module")
def supplicant(hostvars):
    """eapol_test profiles on the access point: the lab root CA, the server's name, a staff user."""
    container = f"patn-lab-{ACCESS_POINT}"
    ministry = hostvars[ACCESS_POINT]["patn_ministry"]
    user, password = f"agent.{ministry}", lab_secret(f"radius-user-agent.{ministry}")
    copied = run(["podman", "cp", str(LAB_DIR / "pki" / "root-ca.crt"), f"{container}:/root/lab-root-ca.crt"])
    assert copied.returncode == 0, copied.stderr
    for name, secret_word in {"peap": password, "peap-wrong": password + "x"}.items():
        profile = (
            "network={\n key_mgmt=WPA-EAP\n eap=PEAP\n"
            f' identity="{user}"\n anonymous_identity="anonymous"\n password="{secret_word}"\n'
            ' phase2="auth=MSCHAPV2"\n ca_cert="/root/lab-root-ca.crt"\n'
            f' domain_suffix_match="radius.{ministry}.gouv.cg"\n}}\n'
        )
        container_run(container, f"printf %s {shlex.quote(profile)} > /root/{name}.conf")
    return container


def eapol(supplicant, hostvars, profile):
    server = hostvars[ACCESS_POINT_ROUTER]["patn_management_address"]
    secret = shlex.quote(lab_secret(f"radius-{ACCESS_POINT}"))
    return container_run(supplicant, f"eapol_test -c /root/{profile}.conf -a {server} -s {secret} -t 6")


def test_access_point_has_its_reserved_address(hostvars):
    # By DHCP from the router's Kea, the reservation of its MAC in the registry.
    shown = container_run(f"patn-lab-{ACCESS_POINT}", "ip -4 -o addr show management").stdout.split()
    assert shown[3].split("/")[0] == hostvars[ACCESS_POINT]["patn_management_address"]


def test_radius_authenticates_staff_from_the_access_point(supplicant, hostvars):
    result = eapol(supplicant, hostvars, "peap")
    assert result.returncode == 0, result.stdout[-2000:]
    assert result.stdout.rstrip().endswith("SUCCESS")
    # The Access-Accept puts the device in the staff VLAN (Tunnel-Private-Group-Id).
    accept = result.stdout.split("(Access-Accept)", 1)[1]
    match = re.search(r"Attribute 81 \(.*?\) length=\d+\n\s+Value: ([0-9a-f]+)", accept)
    staff_vlan = segment_of(hostvars, ACCESS_POINT_ROUTER, "staff")["vlan"]
    assert match, "no Tunnel-Private-Group-Id in the Access-Accept"
    assert bytes.fromhex(match.group(1)).decode() == str(staff_vlan)


def test_radius_rejects_a_wrong_password(supplicant, hostvars):
    result = eapol(supplicant, hostvars, "peap-wrong")
    assert result.returncode != 0
    assert "RADIUS message: code=3 (Access-Reject)" in result.stdout
