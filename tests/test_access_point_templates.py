"""The access_point role's network files for a VLAN-trunk site, rendered on
the controller (tests/fixtures/access_point/render.yml): the lab's kernel has
no VLAN devices, so molecule/access_point proves the port binding only."""

import pytest
import yaml
from ansible_collections.patn.infra.plugins.module_utils import registry
from conftest import FIXTURES, TOP, run_playbook


@pytest.fixture(scope="module")
def rendered(tmp_path_factory):
    out = tmp_path_factory.mktemp("access_point")
    result = run_playbook("-i", "localhost,", FIXTURES / "access_point" / "render.yml", "-e", f"out={out}")
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    return out


def test_the_trunk_carries_one_vlan_per_segment(rendered):
    trunk = (rendered / "trunk.network").read_text()
    assert "Name=enp1s0" in trunk
    for vlan in ("enp1s0.10", "enp1s0.30", "enp1s0.40"):
        assert f"VLAN={vlan}" in trunk
    for name, vlan in (("management", 10), ("staff", 30), ("guest", 40)):
        netdev = (rendered / f"{name}.netdev").read_text()
        assert f"Name=enp1s0.{vlan}" in netdev
        assert "Kind=vlan" in netdev
        assert f"Id={vlan}" in netdev


def test_management_takes_its_reservation_by_dhcp_on_its_vlan(rendered):
    management = (rendered / "management.network").read_text()
    assert "Name=enp1s0.10" in management
    assert "DHCP=ipv4" in management
    assert "Address=" not in management


@pytest.mark.parametrize(
    ("segment", "vlan", "bridge"), [("staff", 30, "br-staff"), ("guest", 40, "br-guest")]
)
def test_each_ssid_vlan_goes_into_its_bridge(rendered, segment, vlan, bridge):
    network = (rendered / f"{segment}.network").read_text()
    assert f"Name=enp1s0.{vlan}" in network
    assert f"Bridge={bridge}" in network


def test_the_site_fixture_is_what_the_registry_gives():
    """site.yml's ministry, binding and segments are the plugin's for an access
    point of Justice's court tgi-pnr in the production inventory: a change of
    the plan cannot leave these tests proving an old one."""
    inventory = registry.build(registry.load(TOP / "inventories" / "production" / "registry"))
    site = yaml.safe_load((FIXTURES / "access_point" / "site.yml").read_text())
    # As Ansible layers them for the host: all ministries, its ministry, its site, itself.
    given = {}
    for group in ("ministries", "ministry_justice", "site_justice_tgi_pnr"):
        given.update(inventory.group_vars[group])
    given.update(inventory.hosts["justice-tgi-pnr-ap1"])
    assert given["patn_device_role"] == "access_point"
    for key in ("patn_ministry", "patn_segment_binding"):
        assert site[key] == given[key], key
    assert site["patn_segments"].keys() == given["patn_segments"].keys()
    for name, segment in site["patn_segments"].items():
        assert segment.items() <= given["patn_segments"][name].items(), name
