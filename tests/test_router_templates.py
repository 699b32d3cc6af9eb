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
from ansible_collections.patn.infra.plugins.module_utils import nft_ruleset, registry
from conftest import TOP
from limits import HUNG_COMMAND

FIXTURES = TOP / "tests" / "fixtures" / "router"


def run_playbook(playbook, *arguments):
    """ansible-playbook on localhost only (nothing else is ever contacted)."""
    return subprocess.run(
        ["ansible-playbook", "-i", "localhost,", str(playbook), *arguments],
        capture_output=True,
        text=True,
        cwd=TOP,
        env=dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), ANSIBLE_CACHE_PLUGIN="memory"),
        timeout=HUNG_COMMAND,
        check=False,
    )


def render(out, extra_vars=None):
    """Render the role's files into out; extra_vars override site.yml."""
    extra = ["-e", json.dumps(extra_vars)] if extra_vars else []
    result = run_playbook(FIXTURES / "render.yml", "-e", f"out={out}", *extra)
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
    # The primary's default route is preferred over a second uplink's.
    assert "Metric=100" in wan
    assert "DHCP" not in wan
    assert not (rendered / "wan2.network").exists()


# A PPPoE primary uplink and an LTE router as the second (DHCP), as the
# registry gives them (patn_uplinks), with the hub's endpoint the probe.
UPLINKS = {
    "patn_uplinks": {
        "primary": {
            "mode": "pppoe",
            "username": "justice-tgi-pnr@fai.example",
            "password": "pw-placeholder-1",
        },
        "secondary": {"mode": "dhcp"},
    },
    "router__wan_mode": "pppoe",
    "router__wan_address": "",
    "router__wan_gateway": "",
    "router__tunnel_hub_endpoint": "203.0.113.10:51820",
    "router__tunnel_enabled": True,
}


@pytest.fixture(scope="module")
def rendered_uplinks(tmp_path_factory):
    return render(tmp_path_factory.mktemp("router-uplinks"), UPLINKS)


def test_a_pppoe_uplink_brings_its_port_up_without_an_address(rendered_uplinks):
    wan = (rendered_uplinks / "wan.network").read_text()
    assert "Name=enp1s0" in wan
    assert "LinkLocalAddressing=no" in wan
    assert "Address=" not in wan
    assert "DHCP" not in wan


def test_the_pppoe_peer_file_names_its_user_and_passes_its_check(rendered_uplinks):
    peer = rendered_uplinks / "ppp-peer"
    text = peer.read_text()
    assert "plugin rp-pppoe.so\nnic-enp1s0\n" in text
    assert 'user "justice-tgi-pnr@fai.example"' in text
    assert "ifname ppp0" in text
    assert "defaultroute-metric 100" in text
    assert "pw-placeholder-1" not in text
    check = subprocess.run(
        [str(TOP / "roles" / "router" / "files" / "patn-ppp-peer-check"), str(peer)],
        capture_output=True,
        text=True,
        check=False,
    )
    assert check.returncode == 0, check.stderr


def test_the_pppoe_credential_is_in_the_secrets_file_only(rendered_uplinks):
    secrets = (rendered_uplinks / "ppp-secrets").read_text()
    assert '"justice-tgi-pnr@fai.example" * "pw-placeholder-1" *' in secrets
    unit = (rendered_uplinks / "patn-pppoe.service").read_text()
    assert "ExecStart=/usr/sbin/pppd call patn-wan nodetach" in unit


def test_the_second_uplink_has_the_higher_metric(rendered_uplinks):
    second = (rendered_uplinks / "wan2.network").read_text()
    assert "Name=eth2" in second
    assert "DHCP=ipv4" in second
    assert "RouteMetric=200" in second


def test_internet_and_nat_leave_by_both_uplinks(rendered_uplinks):
    rules = (rendered_uplinks / "nftables.conf").read_text()
    assert 'oifname { "ppp0", "eth2" } masquerade' in rules
    assert 'iifname "enp2s0.40" oifname { "ppp0", "eth2" } ip daddr != @private_prefixes accept' in rules
    ruleset = nft_ruleset.parse(rules)
    guest_out = nft_ruleset.Packet("10.64.86.70", "8.8.8.8", "tcp", 443, iif="enp2s0.40", oif="eth2")
    assert ruleset.evaluate("forward", guest_out).accepted
    # The tunnel's own packets come in by either uplink (its input rule names no interface).
    for uplink in ("ppp0", "eth2"):
        tunnel_in = nft_ruleset.Packet("203.0.113.10", "198.51.100.2", "udp", 51820, iif=uplink)
        assert ruleset.evaluate("input", tunnel_in).accepted, uplink


def test_the_failover_probes_the_hub_through_the_primary(rendered_uplinks):
    script = rendered_uplinks / "patn-wan-failover"
    text = script.read_text()
    for line in ("primary=ppp0", "secondary=eth2", "gateway=''", "probes=203.0.113.10", "metric=50"):
        assert f"\n{line}\n" in text, line
    assert 'ping -n -q -c 1 -W 2 -I "$primary"' in text
    # The primary's replies are not dropped by strict reverse-path filtering
    # while the failover's routes send the probes' way out of the second uplink.
    assert 'for uplink in "$primary" "$secondary"; do' in text
    assert "setting=/proc/sys/net/ipv4/conf/$uplink/rp_filter" in text
    assert "\n  loose_reverse_path\n  if primary_answers; then" in text
    parsed = subprocess.run(["sh", "-n", str(script)], capture_output=True, text=True, check=False)
    assert parsed.returncode == 0, parsed.stderr


@pytest.mark.parametrize(
    ("given", "said"),
    [
        (
            {"router__wan_mode": "static", "router__wan_gateway": ""},
            "router__wan_address and router__wan_gateway",
        ),
        (
            {**UPLINKS, "router__wan_pppoe_password": ""},
            "router__wan_pppoe_username and router__wan_pppoe_password",
        ),
        ({**UPLINKS, "router__tunnel_hub_endpoint": ""}, "a second uplink needs router__wan_failover_probes"),
        ({**UPLINKS, "router__wan2_interface": "enp1s0"}, "router__wan2_interface is also the primary"),
        (
            {**UPLINKS, "patn_uplinks": {"primary": {"mode": "dhcp"}, "secondary": {"mode": "static"}}},
            "router__wan2_address and router__wan2_gateway",
        ),
    ],
    ids=["static-without-gateway", "pppoe-without-password", "no-probe", "same-interface", "static-second"],
)
def test_the_role_stops_on_an_incomplete_uplink(tmp_path, given, said):
    result = run_check(tmp_path, "Check the uplinks", given)
    text = " ".join(result.stdout.split())
    assert result.returncode != 0, text[-2000:]
    assert said in text, text[-2000:]


def test_the_site_s_uplinks_pass_the_check(tmp_path):
    for given in ({}, UPLINKS):
        result = run_check(tmp_path, "Check the uplinks", given)
        assert result.returncode == 0, result.stdout[-2000:]


def test_zone_policy_on_vlan_interfaces(rendered):
    rules = (rendered / "nftables.conf").read_text()
    assert rules.splitlines()[0] == "#!/usr/sbin/nft -f"
    assert "\nflush ruleset\n" in rules
    # Guests reach the internet only, never a private address, and are rate limited.
    assert 'iifname "enp2s0.40" oifname { "enp1s0" } ip daddr != @private_prefixes accept' in rules
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
    # The access points with a MAC (from the registry), then the manual one.
    assert management["reservations"] == [
        {"hw-address": "02:00:00:00:00:01", "ip-address": "10.64.84.10", "hostname": "justice-tgi-pnr-ap1"},
        {"hw-address": "02:00:00:00:00:02", "ip-address": "10.64.84.11", "hostname": "justice-tgi-pnr-ap2"},
        {"hw-address": "02:00:00:00:01:01", "ip-address": "10.64.84.20", "hostname": "justice-tgi-pnr-sw1"},
    ]
    assert subnets["10.64.85.0/24"]["reservations"] == []
    routers = {option["name"]: option["data"] for option in subnets["10.64.85.0/24"]["option-data"]}
    assert routers["routers"] == "10.64.85.1"
    assert routers["domain-name-servers"] == "10.64.85.1"


def kea_reservations(out):
    """Every reservation of the rendered Kea configuration, by subnet."""
    text = "\n".join(
        line for line in (out / "kea-dhcp4.conf").read_text().splitlines() if not line.startswith("//")
    )
    return {subnet["subnet"]: subnet["reservations"] for subnet in json.loads(text)["Dhcp4"]["subnet4"]}


def test_each_access_point_with_a_mac_has_its_reservation(rendered):
    management = kea_reservations(rendered)["10.64.84.0/25"]
    by_mac = {reservation["hw-address"]: reservation for reservation in management}
    access_points = load_site()["patn_access_points"]
    with_mac = [access_point for access_point in access_points if access_point["mac"]]
    assert len(with_mac) == 2
    for access_point in with_mac:
        assert by_mac[access_point["mac"]] == {
            "hw-address": access_point["mac"],
            "ip-address": access_point["address"],
            "hostname": access_point["host"],
        }
    # No MAC yet: no reservation (it takes a lease from the pool meanwhile).
    assert "justice-tgi-pnr-ap3" not in {reservation["hostname"] for reservation in management}
    assert "10.64.84.12" not in {reservation["ip-address"] for reservation in management}
    # The manual reservation is kept.
    assert by_mac["02:00:00:00:01:01"]["ip-address"] == "10.64.84.20"


def test_router_access_points_can_be_given_instead_of_the_registry(tmp_path):
    out = render(
        tmp_path,
        {
            "router__access_points": [
                {"host": "justice-tgi-pnr-ap9", "mac": "02:00:00:00:00:AB", "address": "10.64.84.18"}
            ],
            "router__dhcp_reservations": [],
        },
    )
    assert kea_reservations(out)["10.64.84.0/25"] == [
        {"hw-address": "02:00:00:00:00:ab", "ip-address": "10.64.84.18", "hostname": "justice-tgi-pnr-ap9"}
    ]


def check_reservations(tmp_path, extra_vars):
    """Run the role's DHCP reservation assert (from tasks/main.yml) alone, on the site of site.yml."""
    return run_check(tmp_path, "Check the DHCP reservations", extra_vars)


def check_play(tmp_path, task, site=None):
    """A playbook of one of the role's tasks alone, on site.yml's site or on `site`."""
    site_file = FIXTURES / "site.yml"
    if site is not None:
        site_file = tmp_path / "site.yml"
        site_file.write_text(yaml.safe_dump(site))
    playbook = tmp_path / "check.yml"
    role = TOP / "roles" / "router"
    play = {
        "name": "Check the reservations",
        "hosts": "localhost",
        "connection": "local",
        "gather_facts": False,
        "vars_files": [
            str(role / "defaults" / "main.yml"),
            str(role / "vars" / "main.yml"),
            str(site_file),
        ],
        "tasks": [task],
    }
    playbook.write_text(yaml.safe_dump([play]))
    return playbook


def role_task(name, tasks_file="main.yml"):
    tasks = yaml.safe_load((TOP / "roles" / "router" / "tasks" / tasks_file).read_text())
    (task,) = [task for task in tasks if task["name"].startswith(name)]
    return task


def run_check(tmp_path, name, extra_vars, site=None):
    """Run one of the role's asserts (from tasks/main.yml) alone, on site.yml's site or on `site`."""
    return run_playbook(check_play(tmp_path, role_task(name), site), "-e", json.dumps(extra_vars))


def test_reservations_of_the_site_pass_the_check(tmp_path):
    result = check_reservations(tmp_path, {})
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


@pytest.mark.parametrize(
    ("manual", "duplicate"),
    [
        (
            {
                "segment": "management",
                "name": "justice-tgi-pnr-sw1",
                "mac": "02:00:00:00:01:01",
                "address": "10.64.84.11",
            },
            "10.64.84.11 (access point justice-tgi-pnr-ap2"
            " and router__dhcp_reservations entry justice-tgi-pnr-sw1)",
        ),
        (
            {
                "segment": "management",
                "name": "justice-tgi-pnr-ap1",
                "mac": "02:00:00:00:00:01",
                "address": "10.64.84.30",
            },
            "02:00:00:00:00:01 (access point justice-tgi-pnr-ap1"
            " and router__dhcp_reservations entry justice-tgi-pnr-ap1)",
        ),
    ],
    ids=["address", "mac"],
)
def test_a_manual_reservation_may_not_take_an_access_point_s(tmp_path, manual, duplicate):
    # The same MAC in upper case is the same MAC.
    manual = {**manual, "mac": manual["mac"].upper()}
    result = check_reservations(tmp_path, {"router__dhcp_reservations": [manual]})
    assert result.returncode != 0
    said = " ".join(result.stdout.split())  # the callback may wrap the message
    assert "two fixed leases share an address or a MAC" in said
    assert duplicate in said


def check_segments(tmp_path, site):
    result = run_check(tmp_path, "Check the segments", {}, site)
    return result, " ".join(result.stdout.split())  # the callback may wrap the message


def test_zone_policy_of_the_registry_passes_the_check(tmp_path):
    result, _ = check_segments(tmp_path, load_site())
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]


def test_role_stops_without_the_registry_s_zone_policy(tmp_path):
    site = load_site()
    del site["patn_zone_policy"]
    result, said = check_segments(tmp_path, site)
    assert result.returncode != 0
    assert "The zone policy comes from the registry (patn_zone_policy, zone_policy of national.yml)" in said
    assert "missing: patn_zone_policy is not set" in said


def test_role_stops_when_a_segment_s_zone_has_no_entry(tmp_path):
    site = load_site()
    del site["patn_zone_policy"]["guest"]
    result, said = check_segments(tmp_path, site)
    assert result.returncode != 0
    assert "every segment's zone needs an entry in router__zone_policy (missing: ['guest'])" in said


@pytest.mark.parametrize(
    ("copy", "inventory"),
    [
        ("site.yml", "production"),
        ("molecule router", "lab"),
        ("molecule router2", "lab"),
        ("molecule hub", "lab"),
    ],
)
def test_copies_of_the_zone_policy_are_the_registry_s(copy, inventory):
    """Where the role runs without the registry, patn_zone_policy is what the plugin gives."""
    if copy == "site.yml":
        given = load_site()
    else:
        molecule = yaml.safe_load((TOP / "molecule" / "router" / "molecule.yml").read_text())
        given = molecule["provisioner"]["inventory"]["host_vars"][copy.split()[1]]
    # As the registry reads it (the lab's national.yml is an overlay of production's).
    national = registry.load(TOP / "inventories" / inventory / "registry").national
    assert given["patn_zone_policy"] == national["zone_policy"]


def test_the_site_fixture_is_what_the_registry_gives():
    """site.yml's identity, segments and zone policy are the plugin's for its
    router in the production inventory: a change of the plan cannot leave
    these tests proving an old one."""
    inventory = registry.build(registry.load(TOP / "inventories" / "production" / "registry"))
    site = load_site()
    ministry, code = site["patn_ministry"], site["patn_site"]["code"]
    # As Ansible layers them for the host: all ministries, its ministry, its site, itself.
    given = {}
    for group in ("ministries", f"ministry_{ministry}", f"site_{ministry}_{code.replace('-', '_')}"):
        given.update(inventory.group_vars[group])
    given.update(inventory.hosts[f"{ministry}-{code}-rtr1"])
    for key in ("patn_ministry", "patn_device_role", "patn_management_address", "patn_segment_binding"):
        assert site[key] == given[key], key
    assert site["patn_site"].items() <= given["patn_site"].items()
    assert site["patn_zone_policy"] == given["patn_zone_policy"]
    assert site["patn_segments"].keys() == given["patn_segments"].keys()
    for name, segment in site["patn_segments"].items():
        assert segment.items() <= given["patn_segments"][name].items(), name


# The router's templates render.yml leaves out, and what proves them instead.
NOT_RENDERED = {
    "wireguard.conf": "needs the hub's key from a run (tunnel_peers): molecule/router, make validate",
    "wireguard-userspace.conf": "a unit drop-in without site data: molecule/router",
    "patn-qos.service": "a unit without site data: molecule/router",
    "patn-tunnel-metrics": "the hub's only: molecule/router, make validate",
    "patn-tunnel-metrics.service": "the hub's only: molecule/router",
    "patn-tunnel-metrics.timer": "the hub's only: molecule/router",
}


def test_the_render_covers_every_template_of_the_role():
    """render.yml names the templates it renders: a template added to the role
    is rendered here or said above why not, never forgotten."""
    (play,) = yaml.safe_load((FIXTURES / "render.yml").read_text())
    rendered = set()
    for task in play["tasks"]:
        source = task["ansible.builtin.template"]["src"].rsplit("/", 1)[-1].removesuffix(".j2")
        rendered |= set(task["loop"]) if source == "{{ item }}" else {source}
    templates = {
        path.name.removesuffix(".j2") for path in (TOP / "roles" / "router" / "templates").glob("*.j2")
    }
    assert not rendered & NOT_RENDERED.keys()
    assert rendered | NOT_RENDERED.keys() == templates


def test_unbound_publishes_the_site_and_forwards_government_zones(rendered):
    unbound = (rendered / "unbound.conf").read_text()
    assert 'local-zone: "tgi-pnr.justice.patn.cg." static' in unbound
    # The access points with a reservation and the manual reservations.
    assert 'local-data: "justice-tgi-pnr-ap1.tgi-pnr.justice.patn.cg. IN A 10.64.84.10"' in unbound
    assert 'local-data: "justice-tgi-pnr-ap2.tgi-pnr.justice.patn.cg. IN A 10.64.84.11"' in unbound
    assert 'local-data: "justice-tgi-pnr-sw1.tgi-pnr.justice.patn.cg. IN A 10.64.84.20"' in unbound
    assert 'name: "gouv.cg."' in unbound
    assert "forward-addr: 10.32.0.140" in unbound
    assert "access-control: 10.64.86.0/23 allow" in unbound


def test_a_name_ending_with_a_dot_is_published_whole(tmp_path):
    records = {"registre": "10.64.84.30", "dossiers-patients.sante.gouv.cg.": "10.32.0.138"}
    unbound = (render(tmp_path, {"router__dns_records": records}) / "unbound.conf").read_text()
    assert 'local-data: "registre.tgi-pnr.justice.patn.cg. IN A 10.64.84.30"' in unbound
    assert 'local-data: "dossiers-patients.sante.gouv.cg. IN A 10.32.0.138"' in unbound


def test_no_out_of_band_port_by_default(rendered):
    assert "tcp dport 22 accept" in input_chain((rendered / "nftables.conf").read_text())
    assert "Out-of-band" not in (rendered / "nftables.conf").read_text()


def test_out_of_band_port_takes_ssh_and_routes_nothing(tmp_path):
    rules = (render(tmp_path, {"router__oob_interface": "enp9s0"}) / "nftables.conf").read_text()
    assert 'iifname "enp9s0" tcp dport 22 accept' in input_chain(rules)
    forward = rules.split("    chain forward {\n", 1)[1].split("\n    }\n", 1)[0]
    assert "enp9s0" not in forward
    assert rules.count("enp9s0") == 1


def test_qos_shares_the_wan_rate(rendered):
    qos = (rendered / "patn-qos").read_text()
    assert "htb rate 10000kbit ceil 10000kbit" in qos
    assert "classid 1:30 htb rate 1500kbit ceil 5000kbit prio 2" in qos
    assert "fq_codel" in qos


FAKE_TC = """#!/bin/sh
# Stand-in tc: records its arguments; a leaf qdisc the "kernel" lacks fails.
echo "$*" >> "$TC_LOG"
case "$*" in
  *" parent 1:"*" handle "*) for q in $TC_HAS; do case "$*" in *" $q"*) exit 0;; esac; done; exit 2;;
esac
exit 0
"""


@pytest.mark.parametrize(
    ("kernel_has", "chosen"),
    [
        ("cake fq_codel", "cake besteffort unlimited"),
        ("fq_codel", "fq_codel"),
        ("", "kernel default queue (none of: cake, fq_codel)"),
    ],
)
def test_qos_takes_cake_where_the_kernel_has_it(rendered, tmp_path, kernel_has, chosen):
    (tmp_path / "tc").write_text(FAKE_TC)
    (tmp_path / "tc").chmod(0o755)
    log = tmp_path / "tc.log"
    result = subprocess.run(
        ["sh", str(rendered / "patn-qos")],
        capture_output=True,
        text=True,
        env=dict(os.environ, PATH=f"{tmp_path}:{os.environ['PATH']}", TC_LOG=str(log), TC_HAS=kernel_has),
        check=False,
    )
    assert result.returncode == 0, result.stderr
    for class_id in (10, 20, 30):
        assert f"class 1:{class_id}: {chosen}" in result.stdout
    # cake is always tried first, fq_codel only after it failed.
    attempts = [line for line in log.read_text().splitlines() if "parent 1:10 handle" in line]
    assert "cake" in attempts[0]


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


def chain(rules, name):
    """The body of one chain of a ruleset."""
    return rules.split(f"    chain {name} {{\n", 1)[1].split("\n    }\n", 1)[0]


def rule_lines(text):
    return [line.strip() for line in text.splitlines() if line.strip() and not line.strip().startswith("#")]


@pytest.fixture(scope="module")
def rendered_central(tmp_path_factory):
    """A device that holds the central services (the hub's part), with a tunnel and its own monitoring."""
    return render(
        tmp_path_factory.mktemp("router-central"),
        {
            "router__tunnel_enabled": True,
            "router__oob_interface": "enp9s0",
            "router__central_service_addresses": ["10.64.84.1"],
            "router__central_services": [
                {"name": "time", "protocol": "udp", "port": 123},
                {"name": "logs", "protocol": "tcp", "port": 6514},
            ],
            "router__monitoring_prefixes": ["10.32.0.200/29"],
            "router__node_exporter_port": 9200,
        },
    )


def test_the_safe_ruleset_admits_management_and_forwards_nothing(rendered_central):
    safe = (rendered_central / "nftables-safe.nft").read_text()
    assert safe.splitlines()[0] == "#!/usr/sbin/nft -f"
    assert "\nflush ruleset\n" in safe
    # Its own table: the boot file says "no zone policy confirmed yet".
    assert "table inet patn_safe {" in safe
    assert "table inet patn {" not in safe
    # Management from the administrators and the out-of-band port, the tunnel in.
    entry = rule_lines(chain(safe, "input"))
    assert "ip saddr @admin_prefixes tcp dport 22 accept" in entry
    assert 'iifname "enp9s0" tcp dport 22 accept' in entry
    assert "udp dport 51820 accept" in entry
    assert "elements = { 10.32.0.0/25 }" in safe
    # Nothing else in: no DHCP, DNS or time for the segments yet.
    assert not any("53" in line or "67" in line for line in entry)
    # Nothing forwarded, nothing translated.
    forward = rule_lines(chain(safe, "forward"))
    assert forward[0] == "type filter hook forward priority filter; policy drop;"
    assert not any("accept" in line for line in forward)
    assert "type nat" not in safe
    assert "masquerade" not in safe


def test_the_zone_policy_says_so_in_the_boot_file(rendered):
    # tasks/firewall_safe.yml and nftables.service read this line (grep -x).
    assert "table inet patn {" in (rendered / "nftables.conf").read_text().splitlines()


def test_forwarding_follows_the_boot_ruleset(rendered):
    dropin = (rendered / "nftables-forwarding.conf").read_text()
    start = next(line for line in dropin.splitlines() if line.startswith("ExecStartPost="))
    assert 'grep -qx "table inet patn {" /etc/nftables.conf' in start
    assert start.index("ip_forward=1") < start.index("ip_forward=0")
    assert "ExecStopPost=/usr/sbin/sysctl -qw net.ipv4.ip_forward=0" in dropin


def test_monitoring_scrapes_the_node_exporter_on_the_management_address(rendered, rendered_central):
    rules = (rendered / "nftables.conf").read_text()
    # By default the administrators' prefixes are the monitoring's.
    monitoring = rules.split("    set monitoring_prefixes {\n", 1)[1].split("    }\n", 1)[0]
    assert "elements = { 10.32.0.0/25 }" in monitoring
    assert "ip saddr @monitoring_prefixes ip daddr 10.64.84.1 tcp dport 9100 accept" in rule_lines(
        input_chain(rules)
    )
    # And the site's other devices (access points, servers) through the router.
    assert "ip saddr @monitoring_prefixes tcp dport 9100 accept" in rule_lines(chain(rules, "forward"))
    rules = (rendered_central / "nftables.conf").read_text()
    assert "elements = { 10.32.0.200/29 }" in rules
    assert "ip saddr @monitoring_prefixes ip daddr 10.64.84.1 tcp dport 9200 accept" in rules


def test_the_hub_takes_time_and_logs_from_the_tunnel_and_its_segments(rendered_central):
    # The hub holds the central services' address (its management address).
    rules = (rendered_central / "nftables.conf").read_text()
    entry = rule_lines(input_chain(rules))
    sources = '{ "wg0", "enp2s0.10", "enp2s0.30", "enp2s0.40" }'
    assert f"iifname {sources} ip daddr @central_services udp dport 123 accept" in entry
    assert f"iifname {sources} ip daddr @central_services tcp dport 6514 accept" in entry
    assert (
        "elements = { 10.64.84.1 }" in rules.split("    set central_services {\n", 1)[1].split("    }\n")[0]
    )
    # Before the logged drop that ends the chain.
    chain_text = input_chain(rules)
    assert chain_text.index("@central_services") < chain_text.index("patn-drop-input")


def test_a_site_router_forwards_its_devices_time_and_logs_to_the_data_centre(tmp_path):
    out = render(
        tmp_path, {"router__tunnel_enabled": True, "router__central_service_addresses": ["10.32.0.1"]}
    )
    rules = (out / "nftables.conf").read_text()
    # Not its own address: nothing in input...
    assert "@central_services" not in input_chain(rules)
    forward = rule_lines(chain(rules, "forward"))
    central = [line for line in forward if "@central_services" in line]
    # ...forwarded from the zones of the managed devices (management here; no
    # services segment on this site), never from staff or guests.
    assert central == [
        'iifname "enp2s0.10" ip daddr @central_services udp dport 123 accept',
        'iifname "enp2s0.10" ip daddr @central_services tcp dport 6514 accept',
    ]


# Production: time on the hub, logs on the monitoring host behind it (a
# service with addresses of its own).
SPLIT_SERVICES = {
    "router__central_service_addresses": ["10.32.0.1"],
    "router__central_services": [
        {"name": "time", "protocol": "udp", "port": 123},
        {"name": "logs", "protocol": "tcp", "port": 6514, "addresses": ["10.32.0.20"]},
    ],
}


def test_a_site_router_forwards_the_logs_to_their_own_address(tmp_path):
    out = render(tmp_path, {"router__tunnel_enabled": True, **SPLIT_SERVICES})
    rules = (out / "nftables.conf").read_text()
    forward = rule_lines(chain(rules, "forward"))
    assert 'iifname "enp2s0.10" ip daddr @central_services udp dport 123 accept' in forward
    assert 'iifname "enp2s0.10" ip daddr { 10.32.0.20 } tcp dport 6514 accept' in forward
    # The common set holds the hub only: time is never forwarded to the collector.
    assert "elements = { 10.32.0.1 }" in rules.split("    set central_services {\n", 1)[1].split("    }\n")[0]
    assert not any("@central_services tcp dport 6514" in line for line in forward)


def test_the_hub_serves_time_and_forwards_the_tunnels_logs_to_the_collector(tmp_path):
    out = render(
        tmp_path,
        {
            "router__tunnel_enabled": True,
            "router__tunnel_mode": "hub",
            **SPLIT_SERVICES,
            "router__central_service_addresses": ["10.64.84.1"],
        },
    )
    rules = (out / "nftables.conf").read_text()
    entry = rule_lines(input_chain(rules))
    assert any(line.endswith("ip daddr @central_services udp dport 123 accept") for line in entry)
    # The logs are not the hub's: not in its input...
    assert not any("6514" in line for line in entry)
    # ...but forwarded from the tunnel to the collector.
    forward = rule_lines(chain(rules, "forward"))
    assert 'iifname "wg0" ip daddr { 10.32.0.20 } tcp dport 6514 accept' in forward
    assert not any(line.startswith('iifname "wg0"') and "dport 123" in line for line in forward)


def test_no_central_service_address_no_rule(rendered):
    rules = (rendered / "nftables.conf").read_text()
    assert "@central_services" not in rules


PLANNED_HUB = {
    "router__tunnel_mode": "spoke",
    "router__tunnel_hub_endpoint": "203.0.113.10:51820",
    "router__tunnel_hub_planned": True,
}


@pytest.mark.parametrize(
    ("given", "check_mode", "passes"),
    [
        (PLANNED_HUB, False, False),
        (PLANNED_HUB, True, True),
        ({**PLANNED_HUB, "router__tunnel_hub_planned": False}, False, True),
        ({**PLANNED_HUB, "router__tunnel_mode": "hub"}, False, True),
    ],
    ids=["planned-refused", "planned-check-mode", "approved", "hub-itself"],
)
def test_a_planned_hub_endpoint_runs_in_check_mode_only(tmp_path, given, check_mode, passes):
    """The registry's tunnel_hub stands in until approved: rendered and checked, never applied."""
    playbook = check_play(tmp_path, role_task("Refuse a hub endpoint", "tunnel.yml"))
    result = run_playbook(playbook, "-e", json.dumps(given), *(["--check"] if check_mode else []))
    said = " ".join(result.stdout.split())
    assert (result.returncode == 0) == passes, said[-3000:]
    if not passes:
        assert "the hub's endpoint (203.0.113.10:51820) is a stand-in" in said
        assert "national.yml tunnel_hub.status: planned" in said


def test_the_hub_takes_the_throughput_sample_from_the_site_routers_tunnel_addresses_only(tmp_path):
    out = render(
        tmp_path,
        {
            "router__tunnel_enabled": True,
            "router__tunnel_mode": "hub",
            "router__link_test_sources": ["10.240.16.1", "10.240.16.7"],
        },
    )
    rules = (out / "nftables.conf").read_text()
    ruleset = nft_ruleset.parse(rules)
    assert [str(network) for network in ruleset.sets["link_test_sources"]] == [
        "10.240.16.1/32",
        "10.240.16.7/32",
    ]

    def verdict(source, interface="wg0", port=5201, destination="10.240.16.21"):
        return ruleset.evaluate(
            "input", nft_ruleset.Packet(source, destination, "tcp", port, iif=interface)
        ).accepted

    assert verdict("10.240.16.7")
    # Not a site's own devices through the tunnel, not from the WAN, not another port or address.
    assert not verdict("10.64.88.20")
    assert not verdict("10.240.16.7", interface="enp1s0")
    assert not verdict("10.240.16.7", port=5202)
    assert not verdict("10.240.16.7", destination="10.64.84.1")


def test_a_site_router_opens_no_throughput_port(rendered):
    rules = (rendered / "nftables.conf").read_text()
    assert "link_test_sources" not in rules
    assert "5201" not in rules
