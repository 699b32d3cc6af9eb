"""The Wi-Fi roles refuse incomplete settings before touching anything, with
a message that names what is missing and never prints a secret. (What they
build is proven by molecule/access_point.)"""

import json

import pytest
from conftest import run_playbook

SECRET = "a-secret-that-must-never-show"
SITE = {
    "patn_ministry": "sante",
    "patn_segment_binding": "port",
    "patn_segments": {
        "management": {"vlan": 10, "gateway": "172.19.4.1"},
        "staff": {"vlan": 30, "gateway": "172.19.5.1"},
        "guest": {"vlan": 40, "gateway": "172.19.6.1"},
    },
    "patn_access_points": [
        {"host": "localhost", "number": 1, "floor": 0, "location": "", "neighbours": []},
    ],
    "patn_management_address": "172.19.4.10",
}


def run_role(tmp_path, role, settings):
    playbook = tmp_path / "play.yml"
    playbook.write_text(
        json.dumps([{"hosts": "localhost", "gather_facts": False, "roles": [{"role": f"patn.infra.{role}"}]}])
    )
    extra = tmp_path / "vars.json"
    extra.write_text(json.dumps({**SITE, **settings}))
    # --check: even a check that wrongly passed would change nothing here.
    result = run_playbook("-i", "localhost,", "-c", "local", playbook, "-e", f"@{extra}", "--check")
    return result.returncode, result.stdout + result.stderr


REFUSALS = {
    "radius-no-secret": (
        "radius",
        {"radius__client_secrets": {}},
        "access point(s) localhost need their own",
    ),
    "radius-short-secret": (
        "radius",
        {"radius__client_secrets": {"localhost": "short"}},
        "access point(s) localhost",
    ),
    "radius-bad-accounts": (
        "radius",
        {
            "radius__client_secrets": {"localhost": SECRET},
            "radius__users": [{"name": "agent.sante", "password": "1234"}, {"password": SECRET}],
        },
        "radius__users entries agent.sante, #2 need a name",
    ),
    "ap-no-secret": (
        "access_point",
        {"access_point__radius_secret": ""},
        "its own shared secret of 16 characters",
    ),
    "ap-not-in-the-plan": (
        "access_point",
        {"access_point__radius_secret": SECRET, "patn_access_points": []},
        "a place in its site's channel plan",
    ),
    "ap-no-ports": (
        "access_point",
        {"access_point__radius_secret": SECRET, "access_point__segment_ports": {}},
        "port binding a port",
    ),
}


@pytest.mark.parametrize(("role", "settings", "named"), REFUSALS.values(), ids=REFUSALS.keys())
def test_wifi_roles_refuse_incomplete_settings(tmp_path, role, settings, named):
    returncode, output = run_role(tmp_path, role, settings)
    assert returncode != 0
    assert named in output
    assert SECRET not in output
