"""The Molecule scenarios' site variables are what the registry plugin gives.

Each scenario's host (or group) variables that describe a site (`patn_*`)
were once copied from the plugin's output, and drifted (a segment the site
did not have). Here they are compared with what the registry code builds
from tests/fixtures/molecule_sites/ (the lab's national.yml, sites of the
scenarios' own shape): a scenario may leave out a segment or a field it does
not use, never add or change one.
"""

import dataclasses

import pytest
import yaml
from ansible_collections.patn.infra.plugins.module_utils import registry
from conftest import TOP

SITES = TOP / "tests" / "fixtures" / "molecule_sites"
# Variables of a scenario that describe its sites: (scenario, host or group
# "all") -> (ministry, site code, device role), for the entries that do not
# name their site themselves (patn_site).
NAMED_ELSEWHERE = {("access_point", "all"): ("sante", "bzv-hq", "access_point")}
# What a scenario sets apart from the plan, on purpose, with the reason.
APART = {
    # Prometheus scrapes the host's own exporter on loopback in a container
    # that has no management segment.
    ("monitoring", "monitoring-debian12", "patn_management_address"),
}
IDENTITY = ("patn_ministry", "patn_device_role", "patn_management_address", "patn_segment_binding")


def plan():
    """The registry's hosts and their variables, as the plugin layers them."""
    lab = registry.load(TOP / "inventories" / "lab" / "registry")
    files = [
        registry.SiteFile(str(path), yaml.safe_load(path.read_text())) for path in sorted(SITES.glob("*.yml"))
    ]
    inventory = registry.build(dataclasses.replace(lab, directory=str(SITES), site_files=files))
    hosts = {}
    for name, own in inventory.hosts.items():
        # As Ansible layers them for the host: all ministries, its ministry, its site, itself.
        given = {}
        for group in ("ministries", *sorted(g for g, members in inventory.groups.items() if name in members)):
            if group == "ministries" or group.startswith(("ministry_", "site_")):
                given.update(inventory.group_vars.get(group, {}))
        given.update(own)
        hosts[name] = given
    return hosts


def scenario_entries():
    """(scenario, host or "all", its variables) of every entry that describes a site."""
    entries = []
    for path in sorted((TOP / "molecule").glob("*/molecule.yml")):
        scenario = path.parent.name
        inventory = (yaml.safe_load(path.read_text()).get("provisioner") or {}).get("inventory") or {}
        shared = (inventory.get("group_vars") or {}).get("all") or {}
        if "patn_segments" in shared:
            entries.append((scenario, "all", shared))
        for host, own in (inventory.get("host_vars") or {}).items():
            if "patn_site" in own or "patn_segments" in own:
                entries.append((scenario, host, own))
    return entries


ENTRIES = scenario_entries()


def test_the_scenarios_with_site_variables_are_all_compared():
    found = {(scenario, host) for scenario, host, _ in ENTRIES}
    assert {
        ("router", "router"),
        ("router", "hub"),
        ("router", "router2"),
        ("monitoring", "monitoring-debian12"),
    } <= found
    assert set(NAMED_ELSEWHERE) <= found


@pytest.mark.parametrize(("scenario", "host", "given"), ENTRIES, ids=[f"{s}:{h}" for s, h, _ in ENTRIES])
def test_a_scenario_s_site_is_the_plan_s(scenario, host, given):
    if "patn_site" in given:
        where = (given["patn_ministry"], given["patn_site"]["code"], given["patn_device_role"])
    else:
        where = NAMED_ELSEWHERE[(scenario, host)]
    ministry, code, role = where
    matches = [
        variables
        for variables in plan().values()
        if (variables["patn_ministry"], variables["patn_site"]["code"], variables["patn_device_role"])
        == where
    ]
    assert matches, f"molecule/{scenario}: {host}: no {role} at {ministry}/{code} in {SITES}"
    planned = matches[0]
    wrong = []
    for key in IDENTITY:
        if key in given and (scenario, host, key) not in APART and given[key] != planned[key]:
            wrong.append(f"{key}: {given[key]!r}, the plan {planned[key]!r}")
    for key, value in (given.get("patn_site") or {}).items():
        if planned["patn_site"].get(key) != value:
            wrong.append(f"patn_site.{key}: {value!r}, the plan {planned['patn_site'].get(key)!r}")
    if "patn_zone_policy" in given and given["patn_zone_policy"] != planned["patn_zone_policy"]:
        wrong.append(f"patn_zone_policy: the plan {planned['patn_zone_policy']!r}")
    for name, segment in (given.get("patn_segments") or {}).items():
        if name not in planned["patn_segments"]:
            wrong.append(f"patn_segments.{name}: not a segment of the site")
            continue
        for key, value in segment.items():
            if planned["patn_segments"][name].get(key) != value:
                planned_value = planned["patn_segments"][name].get(key)
                wrong.append(f"patn_segments.{name}.{key}: {value!r}, the plan {planned_value!r}")
    assert not wrong, f"molecule/{scenario}/molecule.yml, {host}: " + "; ".join(wrong)


def test_a_changed_plan_is_caught(monkeypatch):
    # The comparison fails when the plan moves under a scenario: here the
    # court's site id (and with it every address of the site).
    original = plan

    def moved():
        hosts = original()
        for variables in hosts.values():
            if variables["patn_ministry"] == "justice":
                variables["patn_site"] = dict(variables["patn_site"], id=4)
        return hosts

    monkeypatch.setitem(globals(), "plan", moved)
    router2 = next(entry for entry in ENTRIES if entry[:2] == ("router", "router2"))
    with pytest.raises(AssertionError, match=r"patn_site\.id: 3, the plan 4"):
        test_a_scenario_s_site_is_the_plan_s(*router2)
