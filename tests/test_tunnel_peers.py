"""patn.infra.tunnel_peers through ansible-playbook: the hub's peers when routers are down.

Three site routers in the inventory, never contacted: one returned its key
this run (as playbooks/hub.yml's key play leaves it), one did not answer but
has a peer in the hub's current configuration, one did not answer and never
had one. The hub is the controller itself (connection local) reading a
configuration written by the test. molecule/router proves the same on live
containers with a router stopped.
"""

import json

import yaml
from conftest import run_playbook

CURRENT = """[Interface]
Address = 10.240.0.1/32

# justice-tgi-pnr-rtr1: site tgi-pnr of justice.
[Peer]
PublicKey = b2xkLWtleS1vZi10aGUtY291cnQtcm91dGVyLTEyMzQ=
AllowedIPs = 10.240.0.21/32, 10.64.84.0/22

# sante-bzv-hq-rtr1: site bzv-hq of sante.
[Peer]
PublicKey = b2xkLWtleS1vZi10aGUtaGVhbHRoLXJvdXRlci0xMjM=
AllowedIPs = 10.240.0.22/32, 10.48.4.0/22
"""
NEW_KEY = "bmV3LWtleS1vZi10aGUtaGVhbHRoLXJvdXRlci0xMjM="


def run(tmp_path, config_text):
    config = tmp_path / "wg0.conf"
    if config_text is not None:
        config.write_text(config_text)
    inventory = {
        "all": {
            "hosts": {
                "ptn-dc-hub1": {
                    "ansible_connection": "local",
                    "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                },
                # Answered this run: its key task's result.
                "sante-bzv-hq-rtr1": {"router__tunnel_own_key": {"changed": False, "public_key": NEW_KEY}},
                # Down this run; the hub has its peer.
                "justice-tgi-pnr-rtr1": {},
                # Down this run, and new: no peer anywhere.
                "sante-owd-chu-rtr1": {},
                # Its key task failed: nothing learned from it.
                "sante-pnr-hg-rtr1": {"router__tunnel_own_key": {"failed": True, "msg": "apt failed"}},
            }
        }
    }
    (tmp_path / "inventory.yml").write_text(yaml.safe_dump(inventory))
    spokes = ["sante-bzv-hq-rtr1", "justice-tgi-pnr-rtr1", "sante-owd-chu-rtr1", "sante-pnr-hg-rtr1"]
    playbook = [
        {
            "name": "The hub's peers",
            "hosts": "ptn-dc-hub1",
            "gather_facts": False,
            "become": False,
            "tasks": [
                {
                    "name": "Take the keys",
                    "patn.infra.tunnel_peers": {"spokes": spokes, "config": str(config)},
                    "register": "peers",
                },
                {
                    "name": "Keep them",
                    "ansible.builtin.copy": {
                        "content": "{{ peers | to_json }}",
                        "dest": str(tmp_path / "peers.json"),
                        "mode": "0600",
                    },
                },
            ],
        }
    ]
    (tmp_path / "play.yml").write_text(yaml.safe_dump(playbook, sort_keys=False))
    completed = run_playbook(
        "-i", tmp_path / "inventory.yml", tmp_path / "play.yml",
        env_extra={"PATN_AUDIT_DIR": str(tmp_path / "audit")},
    )  # fmt: skip
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    return json.loads((tmp_path / "peers.json").read_text()), completed.stdout + completed.stderr


def test_routers_that_do_not_answer_keep_their_peer_and_are_named(tmp_path):
    result, output = run(tmp_path, CURRENT)
    assert result["changed"] is False
    assert result["peers"] == [
        {"host": "sante-bzv-hq-rtr1", "public_key": NEW_KEY, "learned": True},
        {
            "host": "justice-tgi-pnr-rtr1",
            "public_key": "b2xkLWtleS1vZi10aGUtY291cnQtcm91dGVyLTEyMzQ=",
            "learned": False,
        },
    ]
    assert result["learned"] == ["sante-bzv-hq-rtr1"]
    assert result["kept"] == ["justice-tgi-pnr-rtr1"]
    assert result["missing"] == ["sante-owd-chu-rtr1", "sante-pnr-hg-rtr1"]
    said = " ".join(output.split())
    assert "keep their tunnel peer as it was: justice-tgi-pnr-rtr1" in said
    assert "have no tunnel peer yet" in said
    assert "sante-owd-chu-rtr1, sante-pnr-hg-rtr1" in said


def test_a_new_hub_without_configuration_takes_what_answered(tmp_path):
    result, _ = run(tmp_path, None)
    assert [peer["host"] for peer in result["peers"]] == ["sante-bzv-hq-rtr1"]
    assert result["missing"] == ["justice-tgi-pnr-rtr1", "sante-owd-chu-rtr1", "sante-pnr-hg-rtr1"]
