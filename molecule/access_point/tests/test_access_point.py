"""Live checks of the access_point and radius roles.

The lab has no radio: hostapd's own parser judges the rendered files, and
eapol_test on an access point plays the 802.1X exchange against the site's
FreeRADIUS, as an access point with a staff device behind it would. Every
packet stays between the scenario's containers.

Each test names, as fixtures, the containers it runs commands in.
"""

import json
import os
import re
import shlex
from pathlib import Path

import pytest
import testinfra

RADIUS = "172.19.4.2"
STAFF_VLAN = "30"
SERVER_NAME = "radius.sante.gouv.cg"
SECRETS = Path(os.environ.get("MOLECULE_EPHEMERAL_DIRECTORY", "/nonexistent")) / "secrets"


@pytest.fixture(scope="module")
def router():
    return testinfra.get_host("podman://wifi-router")


@pytest.fixture(scope="module")
def ap1():
    return testinfra.get_host("podman://wifi-ap1")


@pytest.fixture(scope="module")
def ap2():
    return testinfra.get_host("podman://wifi-ap2")


def secret(name):
    """A throwaway secret the scenario made (ansible.builtin.password lookup file)."""
    return (SECRETS / name).read_text().split()[0]


def hostapd_conf(host, radio):
    lines = host.file(f"/etc/hostapd/{radio}.conf").content_string.splitlines()
    return [line for line in lines if line and not line.startswith("#")]


def first(conf, key):
    return next(line.split("=", 1)[1] for line in conf if line.startswith(f"{key}="))


# --- hostapd ---------------------------------------------------------------------


@pytest.mark.parametrize("radio", ["wlan0", "wlan1"])
def test_hostapd_parser_accepts_each_radio(ap1, ap2, radio):
    for host in (ap1, ap2):
        result = host.run(f"patn-hostapd-check /etc/hostapd/{radio}.conf")
        assert result.rc == 0, result.stderr


def test_hostapd_parser_refuses_a_broken_file(ap1):
    # The check must be able to fail: an unknown hw_mode and a misspelt key.
    result = ap1.run(
        "sed -e 's/^hw_mode=.*/hw_mode=q/' -e 's/^channel=/chanel=/' /etc/hostapd/wlan0.conf"
        " > /tmp/broken.conf && patn-hostapd-check /tmp/broken.conf"
    )
    assert result.rc == 1
    assert "Line" in result.stderr


def test_staff_and_guest_ssids_on_each_radio(ap1):
    conf = hostapd_conf(ap1, "wlan0")
    assert first(conf, "country_code") == "CG"
    ssids = [line.split("=", 1)[1] for line in conf if line.startswith("ssid=")]
    assert ssids == ["sante-personnel", "sante-invites"]
    staff, guest = "\n".join(conf).split("bss=wlan0_1")
    assert "wpa_key_mgmt=WPA-EAP WPA-EAP-SHA256" in staff
    assert f"auth_server_addr={RADIUS}" in staff
    assert "dynamic_vlan=1" in staff
    assert "bridge=br-staff" in staff
    assert "ap_isolate=1" in guest
    assert "bridge=br-guest" in guest
    assert "wpa_key_mgmt=WPA-PSK SAE" in guest
    vlans = ap1.file("/etc/hostapd/wlan0.vlan").content_string
    assert vlans.strip().endswith(f"{STAFF_VLAN} wlan0.30 br-staff")


def test_configuration_is_private(ap1):
    # It holds the RADIUS secret and the guest passphrase.
    conf = ap1.file("/etc/hostapd/wlan0.conf")
    assert (conf.user, conf.mode) == ("root", 0o600)


def test_neighbours_on_one_floor_get_different_channels(ap1, ap2):
    for radio in ("wlan0", "wlan1"):
        channels = {int(first(hostapd_conf(host, radio), "channel")) for host in (ap1, ap2)}
        assert len(channels) == 2, f"{radio}: both access points on {channels}"
    assert first(hostapd_conf(ap1, "wlan0"), "hw_mode") == "g"
    assert first(hostapd_conf(ap1, "wlan1"), "hw_mode") == "a"
    power = ap1.file("/etc/systemd/system/hostapd@wlan0.service.d/patn-power.conf").content_string
    assert re.search(r"iw dev %i set txpower fixed \d+00$", power, re.MULTILINE)


def test_hostapd_is_not_started_without_a_radio(ap1):
    assert not ap1.service("hostapd@wlan0").is_enabled


# --- segments and bridges --------------------------------------------------------


@pytest.mark.parametrize(("bridge", "port"), [("br-staff", "staff"), ("br-guest", "guest")])
def test_each_ssid_bridge_is_up_with_its_segment(ap1, ap2, bridge, port):
    for host in (ap1, ap2):
        links = json.loads(host.check_output(f"ip -j link show master {bridge}"))
        assert [link["ifname"] for link in links] == [port]
        (info,) = json.loads(host.check_output(f"ip -j addr show dev {bridge}"))
        assert "UP" in info["flags"]
        assert not [a for a in info["addr_info"] if a["family"] == "inet"], "a bridge carries no address"


def test_management_address_is_the_planned_one(ap1):
    (info,) = json.loads(ap1.check_output("ip -j addr show dev management"))
    assert "172.19.4.10" in [a["local"] for a in info["addr_info"] if a["family"] == "inet"]


# --- RADIUS: 802.1X from the access point ----------------------------------------


@pytest.fixture(scope="module")
def supplicant(router, ap1):
    """eapol_test profiles on ap1: the national root, the server's name, staff credentials."""
    ca = router.file("/usr/local/share/ca-certificates/patn-root-ca.crt").content_string
    ap1.run(f"mkdir -p /root/eap && printf %s {shlex.quote(ca)} > /root/eap/ca.crt")
    password = secret("agent.sante")
    profiles = {
        "peap": ("PEAP", "auth=MSCHAPV2", password),
        "ttls": ("TTLS", "auth=PAP", password),
        "peap-wrong": ("PEAP", "auth=MSCHAPV2", password + "x"),
    }
    for name, (method, phase2, secret_word) in profiles.items():
        profile = (
            "network={\n key_mgmt=WPA-EAP\n"
            f' eap={method}\n identity="agent.sante"\n anonymous_identity="anonymous"\n'
            f' password="{secret_word}"\n phase2="{phase2}"\n'
            f' ca_cert="/root/eap/ca.crt"\n domain_suffix_match="{SERVER_NAME}"\n}}\n'
        )
        ap1.run(f"printf %s {shlex.quote(profile)} > /root/eap/{name}.conf")
    return ap1


def eapol(host, profile, shared_secret):
    command = f"eapol_test -c /root/eap/{profile}.conf -a {RADIUS} -s {shlex.quote(shared_secret)} -t 6"
    return host.run(command)


def reply_attribute(output, number):
    """The value of a RADIUS attribute in eapol_test's dump of the Access-Accept."""
    accept = output.stdout.split("(Access-Accept)", 1)[1]
    match = re.search(rf"Attribute {number} \(.*?\) length=\d+\n\s+Value: ([0-9a-f]+)", accept)
    return bytes.fromhex(match.group(1)).decode() if match else None


@pytest.mark.parametrize("profile", ["peap", "ttls"])
def test_staff_credentials_get_accept_with_the_staff_vlan(supplicant, profile):
    result = eapol(supplicant, profile, secret("wifi-ap1"))
    assert result.rc == 0, result.stdout[-2000:]
    assert result.stdout.rstrip().endswith("SUCCESS")
    assert reply_attribute(result, 81) == STAFF_VLAN  # Tunnel-Private-Group-Id


def test_wrong_password_gets_reject(supplicant):
    result = eapol(supplicant, "peap-wrong", secret("wifi-ap1"))
    assert result.rc != 0
    assert "RADIUS message: code=3 (Access-Reject)" in result.stdout


@pytest.mark.parametrize("shared_secret", ["not-the-secret-of-this-ap", "wifi-ap2"])
def test_wrong_shared_secret_gets_no_answer(supplicant, shared_secret):
    # A packet signed with another secret, even another access point's, is dropped.
    if shared_secret == "wifi-ap2":
        shared_secret = secret("wifi-ap2")
    result = eapol(supplicant, "peap", shared_secret)
    assert result.rc != 0
    assert "EAPOL test timed out" in result.stdout
    for answer in ("Access-Challenge", "Access-Accept", "Access-Reject"):
        assert f"({answer})" not in result.stdout


def test_accounting_is_logged_per_access_point(router, supplicant):
    session = "patn-test-session"
    request = f"Acct-Status-Type = Start, Acct-Session-Id = {session}, User-Name = agent.sante"
    shared_secret = shlex.quote(secret("wifi-ap1"))
    command = f"radclient -t 3 -r 1 {RADIUS}:1813 acct {shared_secret}"
    result = supplicant.run(f"echo {shlex.quote(request)} | {command}")
    assert "Accounting-Response" in result.stdout, result.stdout + result.stderr
    logged = router.run(f"grep -rl {session} /var/log/freeradius/radacct/172.19.4.10/")
    assert logged.rc == 0


def test_accepts_and_rejects_are_logged_without_passwords(router, supplicant):
    eapol(supplicant, "peap", secret("wifi-ap1"))
    log = router.file("/var/log/freeradius/radius.log").content_string
    assert "Login OK: [agent.sante" in log
    assert secret("agent.sante") not in log


def test_radius_listens_on_the_management_address_only(router):
    sockets = router.check_output("ss -Hlnu")
    assert f"{RADIUS}:1812" in sockets
    assert f"{RADIUS}:1813" in sockets
    assert "0.0.0.0:1812" not in sockets
    assert "*:1812" not in sockets


def test_secrets_and_key_are_readable_by_freeradius_only(router):
    for path in (
        "/etc/freeradius/3.0/clients.conf",
        "/etc/freeradius/3.0/mods-config/files/authorize",
        "/etc/ssl/patn/radius.key",
    ):
        item = router.file(path)
        assert (item.user, item.group, item.mode) == ("root", "freerad", 0o640), path


def test_a_configuration_freeradius_refuses_is_never_written(router):
    # side_effect.yml ran the role with two access points at one address: the
    # clients file failed its check (freeradius -XC on a copy of the tree).
    outcome = router.file("/root/radius-refused").content_string
    assert outcome.startswith("The access points, each with its own secret"), outcome
    assert "failed to validate" in outcome
    assert "Failed to add duplicate client" in outcome
    for name in ("wifi-ap1", "wifi-ap2"):
        assert secret(name) not in outcome


def test_the_live_configuration_and_freeradius_outlive_the_refusal(router):
    live = router.check_output(
        "cd /etc/freeradius/3.0 && sha256sum clients.conf radiusd.conf sites-available/patn "
        "mods-available/eap mods-config/files/authorize"
    )
    assert live + "\n" == router.file("/root/radius-before").content_string
    # Never restarted with a refused file: the same main process.
    pid = router.check_output("systemctl show -p MainPID --value freeradius")
    assert pid == router.file("/root/radius-pid-before").content_string.strip()
    assert router.service("freeradius").is_running
    assert not router.run("ls -d /tmp/tmp.*").stdout, "a copy of the configuration was left behind"
