"""The registry inventory plugin through Ansible's own commands.

ansible-inventory and ansible-playbook run as an operator would run them;
nothing here connects to a host (the validation play only asserts).
"""

import json
import os
import shutil
import subprocess

import pytest
import yaml
from ansible_collections.patn.infra.plugins.module_utils import registry
from conftest import ANSIBLE_ENV, FIXTURES, TOP
from limits import HUNG_COMMAND

# No fact cache: facts of lab hosts with the same names must not leak in.
MINISTRIES = ["interieur", "ptn", "sante", "justice", "affaires_sociales", "fonction_publique"]


def ansible(*args, cwd=TOP):
    return subprocess.run(
        args, capture_output=True, text=True, check=False, cwd=cwd, env=ANSIBLE_ENV, timeout=HUNG_COMMAND
    )


def inventory_source(tmp_path, case_dir=None, **options):
    """A registry.yml source in tmp_path over the base fixture (plus a case overlay)."""
    shutil.copytree(FIXTURES / "registry" / "base", tmp_path / "registry")
    if case_dir is not None:
        for path in case_dir.rglob("*.yml"):
            shutil.copy(path, tmp_path / "registry" / path.relative_to(case_dir))
    source = tmp_path / "registry.yml"
    source.write_text(
        yaml.safe_dump({"plugin": "patn.infra.registry", "registry_dir": "registry", **options})
    )
    return source


def test_production_graph_shows_the_six_ministries():
    result = ansible("ansible-inventory", "-i", "inventories/production", "--graph", "ministries")
    assert result.returncode == 0, result.stderr
    for ministry in MINISTRIES:
        assert f"@ministry_{ministry}:" in result.stdout
    assert "sante-chu-bzv-rtr1" in result.stdout


@pytest.mark.parametrize("pattern", ["ministry_sante", "site_justice_tgi_ouesso", "role_hub"])
def test_limit_to_a_ministry_a_site_or_a_role(pattern):
    result = ansible("ansible", "-i", "inventories/production", pattern, "--list-hosts")
    assert result.returncode == 0, result.stderr
    hosts = [line.strip() for line in result.stdout.splitlines()[1:]]
    assert hosts
    prefix = {
        "ministry_sante": "sante-",
        "site_justice_tgi_ouesso": "justice-tgi-ouesso-",
        "role_hub": "ptn-dc-hub",
    }
    assert all(host.startswith(prefix[pattern]) for host in hosts)


def test_list_matches_the_registry_build(tmp_path):
    source = inventory_source(tmp_path)
    result = ansible("ansible-inventory", "-i", str(source), "--list")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    built = registry.build(registry.load(tmp_path / "registry"))
    assert set(listed["_meta"]["hostvars"]) == set(built.hosts)
    for name, values in built.hosts.items():
        groups = [group for group, hosts in built.groups.items() if name in hosts]
        # Parent groups (ministries, above every ministry_<key>) first: children win.
        parents = [parent for parent, children in built.children.items() if set(children) & set(groups)]
        groups = parents + groups
        expected = {key: value for group in groups for key, value in built.group_vars.get(group, {}).items()}
        expected.update(values)
        assert listed["_meta"]["hostvars"][name] == expected
    assert sorted(listed["ministry_justice"]["hosts"]) == sorted(built.groups["ministry_justice"])


@pytest.mark.parametrize(
    ("inventory", "host"),
    [("production", "sante-chu-bzv-rtr1"), ("production", "ptn-dc-hub1"), ("lab", "ptn-dc-srv1")],
)
def test_every_host_sees_the_zone_policy_of_national_yml(inventory, host):
    result = ansible("ansible-inventory", "-i", f"inventories/{inventory}", "--host", host)
    assert result.returncode == 0, result.stderr
    # As the registry reads it (the lab's national.yml is an overlay of production's).
    national = registry.load(TOP / "inventories" / inventory / "registry").national
    assert json.loads(result.stdout)["patn_zone_policy"] == national["zone_policy"]


def test_router_role_takes_the_zone_policy_of_the_registry():
    """Templated on the controller with the local connection: nothing is sent to production addresses."""
    result = ansible(
        "ansible", "-i", "inventories/production", "justice-tgi-pnr-rtr1", "-c", "local",
        "-m", "ansible.builtin.debug", "-a", "msg={{ router__zone_policy | to_json }}",
        "-e", "@roles/router/defaults/main.yml",
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    national = yaml.safe_load((TOP / "inventories" / "production" / "registry" / "national.yml").read_text())
    shown = json.loads(yaml.safe_load(result.stdout.split(" => ", 1)[1])["msg"])
    assert shown == national["zone_policy"]


def test_constructed_options_compose_and_keyed_groups(tmp_path):
    source = inventory_source(
        tmp_path,
        compose={"ansible_host": "patn_management_address", "site_town": "patn_site.town"},
        keyed_groups=[{"key": "patn_site.town", "prefix": "town"}],
        groups={"gateways": "patn_device_role in ['router', 'hub']"},
    )
    result = ansible("ansible-inventory", "-i", str(source), "--list")
    assert result.returncode == 0, result.stderr
    listed = json.loads(result.stdout)
    assert listed["_meta"]["hostvars"]["justice-tgi-pnr-ap1"]["ansible_host"] == "10.20.138.10"
    assert listed["_meta"]["hostvars"]["justice-tgi-pnr-ap1"]["site_town"] == "Pointe-Noire"
    assert "justice-tgi-pnr-rtr1" in listed["town_Pointe_Noire"]["hosts"]
    assert sorted(listed["gateways"]["hosts"]) == [
        "affaires-sociales-cas-sibiti-rtr1",
        "justice-bzv-hq-rtr1",
        "justice-tgi-pnr-rtr1",
        "ptn-dc-hub1",
    ]


def test_cache_serves_the_inventory_while_the_registry_is_unchanged(tmp_path):
    cache_dir = tmp_path / "cache"
    source = inventory_source(
        tmp_path, cache=True, cache_plugin="ansible.builtin.jsonfile", cache_connection=str(cache_dir)
    )
    first = ansible("ansible-inventory", "-i", str(source), "--list")
    assert first.returncode == 0, first.stderr
    assert list(cache_dir.iterdir()), "nothing was cached"
    # A site file edited behind the cache's back (same size, same time) is
    # not seen: the inventory came from the cache...
    sites = tmp_path / "registry" / "sites" / "justice.yml"
    status = sites.stat()
    text = sites.read_text()
    sites.write_text(text.replace("name: TGI de Pointe-Noire", "name: TGI de Pointe-Noirx"))
    os.utime(sites, ns=(status.st_atime_ns, status.st_mtime_ns))
    cached = ansible("ansible-inventory", "-i", str(source), "--list")
    assert cached.returncode == 0, cached.stderr
    assert json.loads(cached.stdout) == json.loads(first.stdout)
    # ...and --flush-cache reads the registry again.
    flushed = ansible("ansible-inventory", "-i", str(source), "--list", "--flush-cache")
    assert flushed.returncode == 0, flushed.stderr
    assert "TGI de Pointe-Noirx" in flushed.stdout


def test_a_changed_registry_is_read_again_whatever_the_cache(tmp_path):
    cache_dir = tmp_path / "cache"
    # A cache that never expires by itself.
    source = inventory_source(
        tmp_path,
        cache=True,
        cache_plugin="ansible.builtin.jsonfile",
        cache_connection=str(cache_dir),
        cache_timeout=0,
    )
    first = ansible("ansible-inventory", "-i", str(source), "--list")
    assert first.returncode == 0, first.stderr
    assert 'TGI de Pointe-Noire"' in first.stdout
    # An operator's edit: read at once, not after the cache expires.
    sites = tmp_path / "registry" / "sites" / "justice.yml"
    sites.write_text(sites.read_text().replace("name: TGI de Pointe-Noire", "name: TGI de Pointe-Noirx"))
    changed = ansible("ansible-inventory", "-i", str(source), "--list")
    assert changed.returncode == 0, changed.stderr
    assert "TGI de Pointe-Noirx" in changed.stdout
    # A registry gone is an error, never the cached inventory.
    shutil.rmtree(tmp_path / "registry")
    gone = ansible("ansible-inventory", "-i", str(source), "--list")
    assert gone.returncode != 0


def test_invalid_registry_loads_nothing_and_says_why(tmp_path):
    source = inventory_source(tmp_path, FIXTURES / "registry" / "errors" / "unknown_department")
    result = ansible("ansible-playbook", "-i", str(source), "playbooks/validate.yml")
    assert result.returncode != 0
    output = result.stdout + result.stderr
    assert (
        "sites/justice.yml: site 10 (tgi-pnr): field 'department': unknown department 'Pointe Noire'"
        in output
    )
    assert "ok=" not in output  # no play ran


def test_validation_play_refuses_a_host_outside_the_registry(tmp_path):
    static = tmp_path / "static.yml"
    static.write_text(yaml.safe_dump({"all": {"hosts": {"rogue": {"ansible_connection": "local"}}}}))
    result = ansible("ansible-playbook", "-i", str(static), "playbooks/validate.yml")
    assert result.returncode != 0
    assert "rogue has no site registry data" in result.stdout


def test_validation_play_accepts_the_production_inventory():
    result = ansible(
        "ansible-playbook",
        "-i",
        "inventories/production",
        "playbooks/validate.yml",
        "--limit",
        "ministry_justice",
    )
    assert result.returncode == 0, result.stdout[-2000:]
    assert "failed=0" in result.stdout


def test_vault_references_in_site_vars_are_resolved(tmp_path):
    source = inventory_source(tmp_path, FIXTURES / "registry" / "golden" / "overrides")
    result = ansible(
        "ansible",
        "-i",
        str(source),
        "justice-bzv-hq-rtr1",
        "-m",
        "ansible.builtin.debug",
        "-a",
        "var=radius_secret",
        "-e",
        "vault_radius_secret_justice_bzv_hq=from-the-vault",
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "radius_secret: from-the-vault" in result.stdout


def router_prefixes(host):
    """A production host's router prefixes, templated on the controller with
    the local connection: nothing is sent to production addresses."""
    message = (
        "msg=admin={{ router__admin_prefixes | join(',') }};"
        "dc={{ router__datacentre_prefixes | default([]) | join(',') }}"
    )
    result = ansible(
        "ansible", "-i", "inventories/production", host, "-c", "local",
        "-m", "ansible.builtin.debug", "-a", message,
    )  # fmt: skip
    assert result.returncode == 0, result.stdout + result.stderr
    return result.stdout


def test_production_routers_reach_the_data_centre_segments_of_the_registry():
    listing = ansible("ansible-inventory", "-i", "inventories/production", "--host", "ptn-dc-hub1")
    hub = json.loads(listing.stdout)
    management = hub["patn_segments"]["management"]["network"]
    services = hub["patn_segments"]["services"]["network"]
    site = router_prefixes("sante-bzv-hq-rtr1")
    assert f"admin={management};dc={services}" in site
    assert f"admin={management};dc=" in router_prefixes("ptn-dc-hub1")
