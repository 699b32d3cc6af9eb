"""The production inventory's Wi-Fi settings, as playbooks/access_points.yml
would give them to the roles radius and access_point.

Rendered on the controller only: a throwaway role holding the two roles'
defaults (no task of theirs) prints the variables with ansible.builtin.debug,
with the local connection and without gathering facts, so nothing is sent to
production addresses. The vault is replaced by dummy values given with -e.
"""

import json
import subprocess

import pytest
import yaml
from conftest import ANSIBLE_ENV, TOP
from limits import HUNG_COMMAND

SITE = "sante-chu-bzv"
AP = f"{SITE}-ap5"
ROUTER = f"{SITE}-rtr1"
ACCESS_POINTS = [f"{SITE}-ap{number}" for number in range(1, 13)]
VAULT = {
    "vault_radius__client_secrets": {host: f"dummy-secret-of-{host}" for host in ACCESS_POINTS},
    "vault_radius__users": {
        "sante": [{"name": "sante.staff", "password": "dummy-sante-password"}],
        "justice": [{"name": "justice.staff", "password": "dummy-justice-password"}],
    },
    "vault_access_point__guest_passphrases": {
        "sante": "dummy-sante-guests",
        "justice": "dummy-justice-guests",
    },
}
# What each kind of host prints: its role's variables (from the role's
# defaults and the production group_vars) and what the test compares them to.
SHOWN = {
    "access_point": [
        "access_point__radius_servers",
        "access_point__radius_secret",
        "access_point__guest_passphrase",
        "access_point__channel_plan",
        "patn_access_points",
        "patn_segments",
    ],
    "router": [
        "radius__access_points",
        "radius__client_secrets",
        "radius__users",
        "radius__listen_address",
        "router__radius_server",
        "patn_management_address",
    ],
}


def render(tmp_path, hosts, extra_vars):
    """host -> its shown variables, templated with the production inventory."""
    role = tmp_path / "roles" / "wifi_variables"
    (role / "defaults" / "main").mkdir(parents=True)
    (role / "tasks").mkdir()
    # defaults/main/ as a folder: both roles' defaults, at role-default
    # precedence as in a real run, so the inventory's group_vars win.
    for name in ("access_point", "radius"):
        defaults = TOP / "roles" / name / "defaults" / "main.yml"
        (role / "defaults" / "main" / f"{name}.yml").symlink_to(defaults)
    tasks = [
        {
            "name": f"Show the {kind} variables",
            "ansible.builtin.debug": {"msg": "{{ {" + ", ".join(f"'{var}': {var}" for var in names) + "} }}"},
            "when": f"patn_device_role == '{kind}'",
        }
        for kind, names in SHOWN.items()
    ]
    (role / "tasks" / "main.yml").write_text(yaml.safe_dump(tasks, sort_keys=False))
    playbook = tmp_path / "show.yml"
    playbook.write_text(
        yaml.safe_dump(
            [{"name": "Show", "hosts": ":".join(hosts), "gather_facts": False, "roles": ["wifi_variables"]}],
            sort_keys=False,
        )
    )
    args = ["ansible-playbook", "-i", "inventories/production", str(playbook), "-c", "local"]
    if extra_vars is not None:
        args += ["-e", json.dumps(extra_vars)]
    # The json callback alone on stdout, so the whole output is one document:
    # enabling it (and nothing else) drops the profile_tasks of ansible.cfg.
    json_only = "ansible.builtin.json"
    env = dict(ANSIBLE_ENV, ANSIBLE_STDOUT_CALLBACK=json_only, ANSIBLE_CALLBACKS_ENABLED=json_only)
    result = subprocess.run(
        args, capture_output=True, text=True, check=False, cwd=TOP, env=env, timeout=HUNG_COMMAND
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr
    shown = {}
    for task in json.loads(result.stdout)["plays"][0]["tasks"]:
        for host, outcome in task["hosts"].items():
            if not outcome.get("skipped"):
                shown[host] = outcome["msg"]
    assert sorted(shown) == sorted(hosts)
    return shown


@pytest.fixture(scope="module")
def shown(tmp_path_factory):
    return render(tmp_path_factory.mktemp("wifi"), [AP, ROUTER], VAULT)


def test_the_access_point_asks_its_site_router(shown):
    ap, router = shown[AP], shown[ROUTER]
    gateway = ap["patn_segments"]["management"]["gateway"]
    assert ap["access_point__radius_servers"] == [gateway]
    # The management gateway is the site router, where FreeRADIUS listens.
    assert router["patn_management_address"] == gateway
    assert router["radius__listen_address"] == gateway
    assert router["router__radius_server"] is True


def test_the_access_point_and_its_router_share_its_own_secret(shown):
    ap, router = shown[AP], shown[ROUTER]
    assert ap["access_point__radius_secret"] == f"dummy-secret-of-{AP}"
    assert router["radius__client_secrets"][AP] == ap["access_point__radius_secret"]
    assert ap["access_point__guest_passphrase"] == "dummy-sante-guests"


def test_the_site_router_answers_the_twelve_access_points_with_its_ministry_accounts(shown):
    router = shown[ROUTER]
    assert router["radius__access_points"] == ACCESS_POINTS
    assert set(router["radius__client_secrets"]) >= set(ACCESS_POINTS)
    assert [user["name"] for user in router["radius__users"]] == ["sante.staff"]


def test_the_access_point_has_channels_on_both_bands(shown):
    plan = shown[AP]["access_point__channel_plan"]
    assert sorted(plan) == sorted(ACCESS_POINTS)
    assert set(plan[AP]) == {"2.4", "5"}
    assert plan[AP]["2.4"]["channel"] in range(1, 14)
    assert plan[AP]["5"]["channel"] >= 36


def test_neighbours_get_different_channels_where_possible(shown):
    ap = shown[AP]
    plan = ap["access_point__channel_plan"]
    placement = {entry["host"]: entry for entry in ap["patn_access_points"]}
    floors = {}
    for host, entry in placement.items():
        floors.setdefault(entry["floor"], []).append(host)
    same_floor = [host for host in floors[placement[AP]["floor"]] if host != AP]
    assert sorted(same_floor) == [f"{SITE}-ap6", f"{SITE}-ap7", f"{SITE}-ap8"]
    # 5 GHz has channels enough: the access point and its floor mates, and
    # every other pair of neighbours, differ.
    assert len({plan[host]["5"]["channel"] for host in [AP, *same_floor]}) == 4
    for host, entry in placement.items():
        neighbours = set(entry["neighbours"]) | (set(floors[entry["floor"]]) - {host})
        for other in neighbours:
            assert plan[host]["5"]["channel"] != plan[other]["5"]["channel"], (host, other)
    # 2.4 GHz has three channels for four access points a floor: each floor
    # uses all three, so only one pair a floor shares, and the access points
    # stacked above each other (named as neighbours) never share.
    for hosts in floors.values():
        assert len({plan[host]["2.4"]["channel"] for host in hosts}) == 3
    for host, entry in placement.items():
        for other in entry["neighbours"]:
            assert plan[host]["2.4"]["channel"] != plan[other]["2.4"]["channel"], (host, other)
    assert set(placement[AP]["neighbours"]) == {f"{SITE}-ap1", f"{SITE}-ap9"}
    # A shared channel is recorded, and only with a floor mate.
    for host in ACCESS_POINTS:
        for other in plan[host]["2.4"]["shared_with"]:
            assert placement[other]["floor"] == placement[host]["floor"]
            assert plan[other]["2.4"]["channel"] == plan[host]["2.4"]["channel"]


def test_without_the_vault_the_access_point_has_no_secret(tmp_path):
    """No vault: the secrets render empty, and the roles refuse to run."""
    ap = render(tmp_path, [AP], None)[AP]
    assert ap["access_point__radius_secret"] == ""
    assert ap["access_point__guest_passphrase"] == ""
