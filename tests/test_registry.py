"""The site registry: golden inventories, rejected registries, the real ones.

Fixtures (tests/fixtures/registry):
- base/: a small valid registry;
- golden/<case>/: files laid over base/, and expected.json, the inventory
  that must come out (regenerate with PATN_UPDATE_GOLDEN=1 and review the diff);
- errors/<case>/: files laid over base/, and expect.txt, the problems that
  must be reported, one per line, paths relative to the case's registry.
Next to each case's registry, base/national.yml is also at ../base/national.yml,
for a case whose national.yml is an overlay (as the lab's is of production's).
"""

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml
from ansible_collections.patn.infra.plugins.module_utils import registry
from conftest import FIXTURES, TOP
from limits import HUNG_COMMAND

CASES = FIXTURES / "registry"
GOLDEN = sorted(p for p in (CASES / "golden").iterdir() if p.is_dir())
ERRORS = sorted(p for p in (CASES / "errors").iterdir() if p.is_dir())


def registry_for(case: Path, tmp_path: Path) -> Path:
    """base/ with the case's files laid over it, in a fresh folder; base/national.yml
    also beside it (../base/national.yml), for an overlay to name."""
    target = tmp_path / "registry"
    shutil.copytree(CASES / "base", target)
    (tmp_path / "base").mkdir(exist_ok=True)
    shutil.copy(CASES / "base" / "national.yml", tmp_path / "base" / "national.yml")
    for path in case.rglob("*.yml"):
        destination = target / path.relative_to(case)
        destination.parent.mkdir(parents=True, exist_ok=True)
        shutil.copy(path, destination)
    return target


def as_data(inventory: registry.Inventory) -> dict:
    return {
        "hosts": inventory.hosts,
        "groups": {name: sorted(hosts) for name, hosts in sorted(inventory.groups.items())},
        "children": inventory.children,
        "group_vars": inventory.group_vars,
    }


@pytest.mark.parametrize("case", GOLDEN, ids=lambda p: p.name)
def test_golden_inventory(case, tmp_path):
    built = as_data(registry.build(registry.load(registry_for(case, tmp_path))))
    expected_file = case / "expected.json"
    if os.environ.get("PATN_UPDATE_GOLDEN"):
        expected_file.write_text(json.dumps(built, indent=2, ensure_ascii=False, sort_keys=True) + "\n")
    assert built == json.loads(expected_file.read_text())


@pytest.mark.parametrize("case", ERRORS, ids=lambda p: p.name)
def test_bad_registry_is_refused_with_its_message(case, tmp_path):
    directory = registry_for(case, tmp_path)
    with pytest.raises(registry.RegistryError) as refused:
        registry.build(registry.load(directory))
    # Paths relative to the registry; an overlay's base (../base/) relative to its parent.
    reported = [
        str(problem).replace(f"{directory}/", "").replace(f"{directory.parent}/", "")
        for problem in refused.value.problems
    ]
    expected = (case / "expect.txt").read_text().splitlines()
    assert reported == expected


def test_every_error_case_says_what_it_expects():
    assert len(ERRORS) >= 15
    for case in ERRORS:
        assert (case / "expect.txt").read_text().strip(), f"{case.name}/expect.txt is empty"


# Read in a child process limited to 1 GiB of memory; it prints the CPU
# seconds the refusal took (a loaded machine does not inflate them as it does
# the clock's), then the refusal.
HOSTILE_READER = """
import resource, sys, time
resource.setrlimit(resource.RLIMIT_AS, (1 << 30, 1 << 30))
sys.path.insert(0, sys.argv[1])
from ansible_collections.patn.infra.plugins.module_utils import registry
start = time.process_time()
try:
    registry.build(registry.load(sys.argv[2]))
except registry.RegistryError as error:
    print(time.process_time() - start)
    print(error)
"""


@pytest.mark.parametrize("case", ["billion_laughs", "recursive_alias"])
def test_hostile_aliases_are_refused_at_once_with_bounded_memory(case, tmp_path):
    directory = registry_for(CASES / "errors" / case, tmp_path)
    completed = subprocess.run(
        [sys.executable, "-c", HOSTILE_READER, str(TOP / ".venv" / "collections"), str(directory)],
        capture_output=True,
        text=True,
        timeout=30,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr[-2000:]
    seconds, message = completed.stdout.split("\n", 1)
    assert float(seconds) < 2, f"refused after {seconds} s of CPU"
    assert f"{directory}/sites/justice.yml: " in message


def test_bytes_that_are_not_utf8_are_refused_with_their_line(tmp_path):
    # Through the inventory plugin, as an operator meets it.
    directory = registry_for(CASES / "errors" / "not_utf8", tmp_path)
    (tmp_path / "registry.yml").write_text("plugin: patn.infra.registry\nregistry_dir: registry\n")
    completed = subprocess.run(
        ["ansible-inventory", "-i", str(tmp_path / "registry.yml"), "--list"],
        capture_output=True,
        text=True,
        cwd=TOP,
        env=dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), ANSIBLE_INVENTORY_CACHE="false"),
        timeout=HUNG_COMMAND,
        check=False,
    )
    assert completed.returncode != 0
    message = " ".join(completed.stderr.split())
    assert f"{directory}/sites/justice.yml: is not UTF-8 text (line 5, column 35: byte 0xe8)" in message


def test_error_message_names_file_site_and_field(tmp_path):
    directory = registry_for(CASES / "errors" / "unknown_department", tmp_path)
    with pytest.raises(registry.RegistryError) as refused:
        registry.build(registry.load(directory))
    message = str(refused.value)
    assert f"{directory}/sites/justice.yml" in message
    assert "site 10 (tgi-pnr)" in message
    assert "field 'department'" in message


def test_decommissioned_site_has_no_hosts_but_keeps_its_block(tmp_path):
    directory = registry_for(CASES / "golden" / "overrides", tmp_path)
    built = registry.build(registry.load(directory))
    assert not [name for name in built.hosts if "tgi-old" in name]
    # Its block is still taken: a manual prefix inside it is refused.
    justice = directory / "sites" / "justice.yml"
    justice.write_text(
        justice.read_text().replace(
            "prefixes: {staff: 192.168.50.0/26}", "prefixes: {staff: 10.20.139.64/26}"
        )
    )
    with pytest.raises(
        registry.RegistryError, match=r"overlaps the block 10\.20\.139\.0/24 of site justice/11"
    ):
        registry.build(registry.load(directory))


def test_access_points_carry_their_mac_and_their_host_address(tmp_path):
    built = registry.build(registry.load(registry_for(CASES / "golden" / "access_points", tmp_path)))
    access_points = built.group_vars["site_justice_bzv_hq"]["patn_access_points"]
    for access_point in access_points:
        host = built.hosts[access_point["host"]]
        assert access_point["address"] == host["patn_management_address"]
    macs = {access_point["number"]: access_point["mac"] for access_point in access_points}
    # Lower case whatever the registry's case; null where the registry gives none.
    assert macs == {1: "02:ab:00:00:01:0a", 2: None, 3: "02:ab:00:00:01:0c", 4: "02:ab:00:00:01:0d", 5: None}


def test_an_overlay_merges_mappings_and_replaces_everything_else():
    base = {"plan": {"supernet": "10.0.0.0/8", "prefix": 12}, "departments": ["A", "B"], "hub": None}
    overlay = {"plan": {"supernet": "172.16.0.0/12"}, "departments": ["C"], "hub": {"port": 1}}
    assert registry.overlaid(base, overlay) == {
        "plan": {"supernet": "172.16.0.0/12", "prefix": 12},
        "departments": ["C"],  # a list is replaced whole, never merged
        "hub": {"port": 1},
    }
    assert base["plan"] == {"supernet": "10.0.0.0/8", "prefix": 12}  # the base is left as it was


def _repeated(overlay, base, where=""):
    """The fields an overlay sets to the value its base already has."""
    if isinstance(overlay, dict) and isinstance(base, dict):
        return [
            found
            for key, value in overlay.items()
            if key in base
            for found in _repeated(value, base[key], f"{where}.{key}" if where else key)
        ]
    return [where] if overlay == base else []


def test_the_lab_s_national_yml_holds_only_what_differs_from_production_s():
    """One source: the lab changes production's national definitions, never copies them."""
    lab = yaml.safe_load((TOP / "inventories" / "lab" / "registry" / "national.yml").read_text())
    production = TOP / "inventories" / "production" / "registry" / "national.yml"
    assert (TOP / "inventories" / "lab" / "registry" / lab.pop("overlay")).resolve() == production
    assert _repeated(lab, yaml.safe_load(production.read_text())) == []
    assert lab, "the lab's national.yml changes nothing: it could name production's registry instead"


@pytest.mark.parametrize("name", ["production", "lab"])
def test_project_registries_are_valid(name):
    directory = TOP / "inventories" / name / "registry"
    assert registry.validate(registry.load(directory)) == []


@pytest.mark.parametrize("name", ["production", "lab"])
def test_project_registries_give_every_host_the_zone_policy(name):
    directory = TOP / "inventories" / name / "registry"
    loaded = registry.load(directory)
    built = registry.build(loaded)
    policy = built.group_vars["ministries"]["patn_zone_policy"]
    assert policy == loaded.national["zone_policy"]
    # On the parent of every ministry group, which holds every host.
    ministry_groups = [f"ministry_{ministry['key']}" for ministry in loaded.national["ministries"]]
    assert built.children["ministries"] == sorted(ministry_groups)
    assert set(built.hosts) == {host for group in ministry_groups for host in built.groups.get(group, [])}
    zones = {segment["zone"] for segment in loaded.national["segments"].values()}
    assert zones | {"tunnel"} == set(policy)
    assert policy["guest"] == ["internet"]


def test_production_registry_covers_the_six_ministries():
    built = registry.build(registry.load(TOP / "inventories" / "production" / "registry"))
    for ministry in ["interieur", "ptn", "sante", "justice", "affaires_sociales", "fonction_publique"]:
        assert built.groups.get(f"ministry_{ministry}"), f"no host for ministry {ministry}"
    assert built.groups["role_hub"] == ["ptn-dc-hub1"]
