"""The router role's files for a production-like site (VLANs on a trunk).

The Molecule scenario proves the role on live containers with port binding;
the lab's kernel has no VLAN devices, so the VLAN binding, the static WAN
and the forwarded zones are checked here on the rendered files
(tests/fixtures/router: render.yml renders them with the role's defaults).
"""

import json
import os
import subprocess

import pytest
import yaml
from conftest import TOP

FIXTURES = TOP / "tests" / "fixtures" / "router"


def render(out, extra_vars=None):
    """Render the role's files into out; extra_vars override site.yml."""
    extra = ["-e", json.dumps(extra_vars)] if extra_vars else []
    result = subprocess.run(
        ["ansible-playbook", "-i", "localhost,", str(FIXTURES / "render.yml"), "-e", f"out={out}", *extra],
        capture_output=True,
        text=True,
        cwd=TOP,
        env=dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), ANSIBLE_CACHE_PLUGIN="memory"),
        timeout=120,
        check=False,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def load_site():
    return yaml.safe_load((FIXTURES / "site.yml").read_text())


def input_chain(rules):
    """The body of the ruleset's input chain."""
    return rules.split("    chain input {\n", 1)[1].split("\n    }\n", 1)[0]


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    return render(tmp_path_factory.mktemp("router"))


@pytest.fixture(scope="module")
def rendered_radius(tmp_path_factory):
    return render(tmp_path_factory.mktemp("router-radius"), {"router__radius_server": True})


def test_segments_are_vlans_of_the_trunk(rendered):
    trunk = (rendered / "trunk.network").read_text()
    assert "Name=enp2s0" in trunk
    for vlan in (10, 30, 40):
        assert f"VLAN=enp2s0.{vlan}" in trunk
    staff = (rendered / "staff.netdev").read_text()
    assert "Name=enp2s0.30" in staff
    assert "Kind=vlan" in staff
    assert "Id=30" in staff
    assert "Address=10.64.85.1/24" in (rendered / "staff.network").read_text()


def test_static_wan(rendered):
    wan = (rendered / "wan.network").read_text()
    assert "Name=enp1s0" in wan
    assert "Address=192.0.2.10/29" in wan
    assert "Gateway=192.0.2.9" in wan
    assert "DHCP" not in wan


def test_zone_policy_on_vlan_interfaces(rendered):
    rules = (rendered / "nftables.conf").read_text()
    assert rules.splitlines()[0] == "#!/usr/sbin/nft -f"
    assert "\nflush ruleset\n" in rules
    # Guests reach the internet only, never a private address, and are rate limited.
    assert 'iifname "enp2s0.40" oifname "enp1s0" ip daddr != @private_prefixes accept' in rules
    assert 'iifname "enp2s0.40" oifname "enp2s0.30"' not in rules
    assert 'iifname "enp2s0.40" ct state new meter guest_rate' in rules
    # Staff reach the data centre; nobody reaches management but the administrators.
    assert 'iifname "enp2s0.30" ip daddr @datacentre_prefixes accept' in rules
    assert 'oifname "enp2s0.10" accept' not in rules
    assert "elements = { 10.32.0.0/25 }" in rules
    # No tunnel on this site: no tunnel port opened.
    assert "51820" not in rules


def test_kea_serves_each_segment_with_its_reservations(rendered):
    text = "\n".join(
        line for line in (rendered / "kea-dhcp4.conf").read_text().splitlines() if not line.startswith("//")
    )
    dhcp = json.loads(text)["Dhcp4"]
    assert sorted(dhcp["interfaces-config"]["interfaces"]) == ["enp2s0.10", "enp2s0.30", "enp2s0.40"]
    subnets = {subnet["subnet"]: subnet for subnet in dhcp["subnet4"]}
    management = subnets["10.64.84.0/25"]
    assert management["pools"] == [{"pool": "10.64.84.100 - 10.64.84.126"}]
    assert management["reservations"] == [
        {"hw-address": "02:00:00:00:00:01", "ip-address": "10.64.84.10", "hostname": "justice-tgi-pnr-ap1"}
    ]
    routers = {option["name"]: option["data"] for option in subnets["10.64.85.0/24"]["option-data"]}
    assert routers["routers"] == "10.64.85.1"
    assert routers["domain-name-servers"] == "10.64.85.1"


def test_unbound_publishes_the_site_and_forwards_government_zones(rendered):
    unbound = (rendered / "unbound.conf").read_text()
    assert 'local-zone: "tgi-pnr.justice.patn.cg." static' in unbound
    assert 'local-data: "justice-tgi-pnr-ap1.tgi-pnr.justice.patn.cg. IN A 10.64.84.10"' in unbound
    assert 'name: "gouv.cg."' in unbound
    assert "forward-addr: 10.32.0.140" in unbound
    assert "access-control: 10.64.86.0/23 allow" in unbound


def test_qos_shares_the_wan_rate(rendered):
    qos = (rendered / "patn-qos").read_text()
    assert "htb rate 10000kbit ceil 10000kbit" in qos
    assert "classid 1:30 htb rate 1500kbit ceil 5000kbit prio 2" in qos
    assert "fq_codel" in qos


def test_radius_closed_by_default(rendered):
    rules = (rendered / "nftables.conf").read_text()
    assert "1812" not in rules
    assert "1813" not in rules
    assert "RADIUS" not in rules


def test_radius_from_the_access_points_only(rendered_radius):
    rules = (rendered_radius / "nftables.conf").read_text()
    # The access points live on the management segment (VLAN 10): RADIUS to
    # the router itself (input), from that interface only, nowhere else.
    radius = [line.strip() for line in rules.splitlines() if "1812" in line or "1813" in line]
    assert radius == ['iifname "enp2s0.10" udp dport { 1812, 1813 } accept']
    chain = input_chain(rules)
    assert "# management: RADIUS from the access points (roles/radius)" in chain
    assert radius[0] in chain
    # Before the logged drop that ends the chain.
    assert chain.index(radius[0]) < chain.index("patn-drop-input")


def test_radius_without_a_management_segment_renders_nothing(tmp_path):
    segments = load_site()["patn_segments"]
    del segments["management"]
    out = render(
        tmp_path,
        {"router__radius_server": True, "patn_segments": segments, "router__dhcp_reservations": []},
    )
    rules = (out / "nftables.conf").read_text()
    assert "enp2s0.30" in input_chain(rules)
    assert "1812" not in rules
    assert "RADIUS" not in rules
