"""The sites' devices install through the data centre's package cache
(roles/package_cache on the monitoring host, group_vars/all/packages.yml):
the hosts' lane (conftest.py LANES).

After their first contact, scripts/lab closed the site routers' and the
access point's own way out (lab/close-sites-way-out.yml) and ran site.yml
for them through the tunnels: their Debian sources now name the cache, and
every package list and package they read since came from it. The cache's
log (apt-cacher-ng.log: time|I or O|size|client|path, I from upstream, O to
a client) shows each device as a client; and a package of the base role,
removed from both routers, is installed again by site.yml through the
cache, crossing the data centre's internet link once.
"""

import pytest
from conftest import lab_inventory, on, playbook, run
from test_clients import container_run

CACHE = "ptn-dc-mon1"
LOG = "/var/log/apt-cacher-ng/apt-cacher.log"
# A package of the base role (roles/base/vars/main.yml) that no service
# needs and the role does not configure: a tool, gone for a moment.
PACKAGE = "apt-show-versions"
ROUTERS = ("sante-bzv-hq-rtr1", "justice-tgi-bzv-rtr1")


def site_devices():
    hostvars = lab_inventory()
    return sorted(name for name, values in hostvars.items() if values["patn_site"]["type"] != "data_centre")


def client_address(name):
    """The address a device's requests reach the cache from: a router's own
    leave by its tunnel (its tunnel address), the others' keep their
    management address."""
    values = lab_inventory()[name]
    if values["patn_device_role"] == "router":
        return values["patn_site"]["tunnel_address"]
    return values["patn_management_address"]


def installed(ssh_base, host):
    """Whether dpkg has PACKAGE installed on the host."""
    status = run([*on(ssh_base, host), f"dpkg-query -W -f='${{Status}}' {PACKAGE} 2>/dev/null || true"])
    return status.stdout.strip() == "install ok installed"


def transfers(ssh_base, path_part=""):
    """(kind I or O, client, path) of the cache log's transfer lines whose path holds path_part."""
    log = run([*on(ssh_base, CACHE), f"sudo -n cat {LOG}"])
    assert log.returncode == 0, log.stderr
    found = []
    for line in log.stdout.splitlines():
        fields = line.split("|")
        if len(fields) >= 5 and fields[1] in ("I", "O") and path_part in fields[4]:
            found.append((fields[1], fields[3], fields[4]))
    return found


@pytest.mark.parametrize("device", site_devices())
def test_a_site_device_has_no_way_out_but_its_tunnel(device):
    # A route lookup inside the device: no packet leaves. The primary
    # uplink's failover (test_lab.py) may lend the justice router a default
    # route to the hub, which forwards nothing out: only oob is a way out.
    routed = container_run(f"patn-lab-{device}", "ip -4 route get 9.9.9.9")
    assert routed.returncode != 0 or " dev oob " not in routed.stdout, routed.stdout


@pytest.mark.parametrize("device", site_devices())
def test_a_site_device_reads_its_packages_from_the_data_centre_s_cache(ssh_base, device):
    cache = lab_inventory()[CACHE]["patn_management_address"]
    sources = run([*on(ssh_base, device), "cat /etc/apt/sources.list.d/debian.sources"])
    assert f"URIs: http://{cache}:3142/deb.debian.org/debian" in sources.stdout, sources.stdout
    assert f"URIs: http://{cache}:3142/security.debian.org/debian-security" in sources.stdout, sources.stdout
    # site.yml's run through the tunnel read the new sources' lists there.
    served = [
        path
        for kind, client, path in transfers(ssh_base, "/dists/")
        if kind == "O" and client == client_address(device)
    ]
    assert served, f"no package list served to {device} ({client_address(device)}) in the cache's log"


# Both routers' tunnels up ("uplinks"), no install beside ("packages").
@pytest.mark.lab_parts("packages", "uplinks")
def test_site_yml_installs_through_the_cache_a_package_fetched_once_for_both_routers(
    ssh_base, ansible_env, record_property
):
    # A package of the base role, gone from both routers (Debian 12 both):
    # site.yml, through the tunnels, installs it again from the cache; the
    # cache fetched it from upstream for the first router only (their first
    # contact installed it directly: the cache had never seen it).
    for router in ROUTERS:
        # Its .deb too, which apt keeps from the first contact's download.
        purge = (
            f"sudo -n sh -c 'DEBIAN_FRONTEND=noninteractive apt-get purge -y -qq {PACKAGE}"
            f" && rm -f /var/cache/apt/archives/{PACKAGE}_*.deb'"
        )
        purged = run([*on(ssh_base, router), purge])
        assert purged.returncode == 0, f"{router}: {purged.stdout}{purged.stderr}"
        assert not installed(ssh_base, router), f"{router}: {PACKAGE} still installed"
    result = playbook(
        ansible_env, "playbooks/site.yml", "--limit", ",".join(ROUTERS), "--tags", "base_packages"
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    for router in ROUTERS:
        assert installed(ssh_base, router), f"{router}: {PACKAGE} not installed again"
    lines = transfers(ssh_base, f"/pool/main/{PACKAGE[0]}/{PACKAGE}/")
    fetched_upstream = [line for line in lines if line[0] == "I"]
    served_to = {client for kind, client, _path in lines if kind == "O"}
    assert len(fetched_upstream) == 1, (
        f"{PACKAGE} fetched from upstream {len(fetched_upstream)} times: {lines}"
    )
    assert {client_address(router) for router in ROUTERS} <= served_to, lines
    every = transfers(ssh_base)
    sites = {client_address(device) for device in site_devices()}
    to_sites = sum(1 for kind, client, _path in every if kind == "O" and client in sites)
    upstream = sum(1 for kind, _client, _path in every if kind == "I")
    record_property(
        "result",
        f"{to_sites} files served to the sites' devices, {upstream} fetched from upstream;"
        f" {PACKAGE}: 1 fetch for 2 routers",
    )
