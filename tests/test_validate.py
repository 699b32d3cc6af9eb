"""make validate (scripts/validate): every file the roles write, rendered
offline for every host of an inventory and checked; the service contract.

The render runs with --no-container (no podman needed): each file of
tests/fixtures/validate/errors/ changes a copy of the lab inventory and
lists what the run must print. Two tests read the production inventory
(about 20 s each, --limit to one hospital and the hub). The real checkers
in the validation container are tested in
tests/containers/test_validate_checkers.py (make setup-check: it needs the
lab images).
"""

import json
import os
import shutil
import subprocess
import sys

import pytest
import yaml
from ansible_collections.patn.infra.plugins.plugin_utils.role_files import placeholder, placeholders
from conftest import FIXTURES, TOP
from limits import HUNG_COMMAND

HERE = FIXTURES / "validate"
ERRORS = sorted(path.stem for path in (HERE / "errors").glob("*.yml"))
CONTRACT_LAB = FIXTURES / "service_contract" / "lab"
CONTAINERS_CONF = TOP / "lab" / "containers.conf"
PRODUCTION_VAULT = TOP / "inventories" / "production" / "group_vars" / "all" / "vault.yml.example"
# One hospital, its access points, and the hub on the way to the data centre.
PRODUCTION_LIMIT = "site_sante_chu_bzv:role_hub"


def validate(*arguments, timeout=HUNG_COMMAND):
    env = dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"), CONTAINERS_CONF=str(CONTAINERS_CONF))
    return subprocess.run(
        [sys.executable, str(TOP / "scripts" / "validate"), *map(str, arguments)],
        capture_output=True,
        text=True,
        cwd=TOP,
        env=env,
        timeout=timeout,
        check=False,
    )


def copy_lab_inventory(target):
    """The lab inventory at `target`, with production's registry beside it
    (../production/registry), whose national.yml the lab's overlays."""
    shutil.copytree(TOP / "inventories" / "lab", target)
    production = TOP / "inventories" / "production" / "registry"
    shutil.copytree(production, target.parent / "production" / "registry")


def lab_copy(tmp_path, group_vars):
    """The lab inventory, with variables added per group."""
    inventory = tmp_path / "inventory"
    copy_lab_inventory(inventory)
    for group, variables in group_vars.items():
        folder = inventory / "group_vars" / group
        folder.mkdir(parents=True, exist_ok=True)
        (folder / "zz-test.yml").write_text(yaml.safe_dump(variables))
    return inventory


def said(result):
    """The run's output, with the lines as the fixtures write them."""
    return result.stdout + result.stderr


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """The lab's render, from a copy of its inventory: the copy's lab folder
    (lab_dir, inventory_dir/../../.lab) is its own, which no lab running
    beside the tests (make test) writes into."""
    top = tmp_path_factory.mktemp("lab-copy")
    inventory = top / "inventories" / "lab"
    copy_lab_inventory(inventory)
    out = top / "out"
    result = validate("-i", inventory, "--no-container", "--out", out)
    # The lab's password lookups write into the run's own folder, never lab_dir.
    assert not (top / ".lab").exists()
    return result, out


@pytest.mark.parametrize("case", ERRORS)
def test_error(case, tmp_path):
    given = yaml.safe_load((HERE / "errors" / f"{case}.yml").read_text())
    result = validate("-i", lab_copy(tmp_path, given["group_vars"]), "--no-container")
    assert result.returncode == 1, said(result)
    for line in given["expected"]:
        assert line in result.stdout, said(result)


def test_the_lab_passes(lab):
    # Its routers let the data centre scrape them (router__monitoring_prefixes);
    # errors/scrape_not_allowed puts that defect back.
    result, _out = lab
    assert result.returncode == 0, said(result)
    assert not [line for line in result.stdout.splitlines() if line.startswith("FAILED")]
    last = result.stdout.splitlines()[-1]
    assert last.startswith("OK: 7 hosts, 267 files, "), last
    assert " (lab, " in last


def test_the_contract_fixtures_are_what_the_roles_render(lab):
    """tests/fixtures/service_contract/lab/ is the lab's render (secret lines
    left out): after a change of the roles, copy the files listed from
    `scripts/validate --env lab --no-container --out DIR`."""
    _result, out = lab
    stale = []
    for path in sorted(CONTRACT_LAB.rglob("*")):
        if path.is_file():
            fresh = out / path.relative_to(CONTRACT_LAB)
            if path.name == "host.json":
                same = json.loads(path.read_text()) == json.loads(fresh.read_text())
            else:
                same = fresh.is_file() and fresh.read_text() == path.read_text()
            if not same:
                stale.append(str(path.relative_to(CONTRACT_LAB)))
    assert not stale, f"stale fixtures, render them again: {stale}"


def test_no_secret_leaves_the_run(lab):
    """--out keeps no line that holds a secret in a file whose task hides
    its diff; the lab's secrets are made in the run's folder (the fixture
    checks that .lab/ is left as it was)."""
    _result, out = lab
    clients = (out / "sante-bzv-hq-rtr1" / "etc" / "freeradius" / "3.0" / "clients.conf").read_text()
    assert "client sante-bzv-hq-ap1" in clients
    assert "secret" not in clients
    hostapd = (out / "sante-bzv-hq-ap1" / "etc" / "hostapd" / "wlan0.conf").read_text()
    assert "auth_server_addr=" in hostapd
    assert "shared_secret" not in hostapd
    assert "wpa_passphrase" not in hostapd
    # The server's repository URL carries its credential on the backup host.
    restic = (out / "ptn-dc-srv1" / "etc" / "restic" / "patn-backup.env").read_text()
    assert "RESTIC_CACHE_DIR=" in restic
    assert "RESTIC_REPOSITORY=" not in restic


def test_a_vault_file_is_left_out_without_its_password(tmp_path):
    inventory = lab_copy(tmp_path, {})
    (tmp_path / "password").write_text("a-throwaway-test-password\n")
    (tmp_path / "vault.yml").write_text("vault_lab_test: a value nobody reads\n")
    encrypted = inventory / "group_vars" / "lab" / "vault.yml"
    subprocess.run(
        [
            "ansible-vault",
            "encrypt",
            "--vault-password-file",
            tmp_path / "password",
            "--output",
            encrypted,
            tmp_path / "vault.yml",
        ],
        check=True,
        capture_output=True,
    )
    result = validate("-i", inventory, "--no-container")
    assert f"note: {encrypted}: vault-encrypted, left out" in result.stdout, said(result)
    assert result.stdout.splitlines()[-1].startswith("OK: 7 hosts, 267 files, "), said(result)


@pytest.fixture(scope="module")
def production(tmp_path_factory):
    out = tmp_path_factory.mktemp("production-files")
    result = validate("--env", "production", "--no-container", "--limit", PRODUCTION_LIMIT, "--out", out)
    return result, out


def test_production_passes_with_its_planned_hub_noted(production):
    """Issue 14's defects on the production inventory: every device takes
    its time and logs from the hub's management address, and the data
    centre scrapes every router's exporter. The rulesets now allow both
    (router__central_services, router__monitoring_prefixes): none of these
    flows is dropped (errors/time_and_logs_from_the_hub and
    errors/scrape_not_allowed keep the defects' detection proven on the lab).
    The hub's public endpoint is registry data, planned: rendered with its
    stand-in address and named in a note (a real run refuses it)."""
    result, out = production
    assert result.returncode == 0, said(result)
    assert "FAILED" not in result.stdout, said(result)
    noted = "note: registry/national.yml: tunnel_hub is planned: every file was rendered and checked"
    assert noted in result.stdout
    wireguard = (out / "sante-chu-bzv-rtr1" / "etc" / "wireguard" / "wg0.conf").read_text()
    assert "Endpoint = 203.0.113.10:51820" in wireguard
    for flow in (
        "NTP: sante-chu-bzv-rtr1 -> 10.32.8.1 udp/123",
        "syslog: sante-chu-bzv-rtr1 -> 10.32.8.1 tcp/514",
        "NTP: sante-chu-bzv-ap1 -> 10.32.8.1 udp/123",
        "metrics scrape: the data centre (10.32.8.0/25) -> 10.48.40.1 tcp/9100",
    ):
        assert flow not in result.stdout, flow
    assert result.stdout.splitlines()[-1].startswith("OK: 14 hosts, ")


def test_production_without_the_vault_gets_placeholders(production):
    result, out = production
    assert "Check that every access point has its own secret" not in result.stdout
    assert not (out / "ptn-dc-srv1").exists()  # not in the limit
    kea = (out / "sante-chu-bzv-rtr1" / "etc" / "kea" / "kea-dhcp4.conf").read_text()
    assert "sante-chu-bzv-ap12" not in kea  # the registry gives these access points no MAC
    sudoers = (out / "sante-chu-bzv-rtr1" / "etc" / "sudoers.d" / "patn-admins").read_text()
    assert "%patn-admins ALL=(ALL:ALL) NOPASSWD: ALL" in sudoers


def test_placeholders_are_shaped_like_the_example():
    example = yaml.safe_load(PRODUCTION_VAULT.read_text())
    hosts = {*example["vault_radius__client_secrets"], "justice-ca-bzv-ap1", "sante-chu-bzv-rtr1"}
    made = placeholders(example, hosts, {"sante", "justice", "ptn"})
    assert set(made) == set(example)
    # Keyed by host or by ministry: every one of them, shaped like the first.
    assert set(made["vault_radius__client_secrets"]) == hosts
    assert set(made["vault_radius__users"]) == {"sante", "justice", "ptn"}
    assert set(made["vault_radius__users"]["ptn"][0]) == {"name", "password"}
    # Strings: clearly placeholders, long enough for the roles' checks.
    for value in (made["vault_backup__password"], made["vault_radius__client_secrets"]["justice-ca-bzv-ap1"]):
        assert value.startswith("placeholder-")
        assert 16 <= len(value) <= 63
    assert made["vault_base__admin_users"][0]["name"] == placeholder("vault_base__admin_users[0].name")
