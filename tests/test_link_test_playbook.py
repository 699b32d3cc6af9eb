"""playbooks/link-test.yml, the on-demand throughput sample: what it targets
and that it loads. Its real run (iperf3 between the lab's hub and a router)
is proven in the lab."""

import pytest
import yaml
from conftest import TOP, run_playbook

PLAYBOOK = TOP / "playbooks" / "link-test.yml"


def test_the_playbook_loads():
    result = run_playbook("-i", "inventories/lab", PLAYBOOK, "--syntax-check")
    assert result.returncode == 0, result.stderr


def plays_and_hosts(limit):
    result = run_playbook("-i", "inventories/lab", PLAYBOOK, "--list-hosts", "--limit", limit)
    assert result.returncode == 0, result.stderr
    plays, current = {}, None
    for line in result.stdout.splitlines():
        if line.strip().startswith("play #"):
            current = line.split(": ", 1)[1].split("\t")[0].strip()
            plays[current] = []
        elif current and line.startswith("      "):
            plays[current].append(line.strip())
    return plays


@pytest.mark.parametrize(
    ("limit", "routers"),
    [
        ("site_sante_bzv_hq", ["sante-bzv-hq-rtr1"]),
        ("role_router", ["justice-tgi-bzv-rtr1", "sante-bzv-hq-rtr1"]),
        # The hub is the far end of every test, never a subject.
        ("ptn-dc-hub1", []),
    ],
)
def test_the_routers_of_the_limit_are_sampled_one_at_a_time(limit, routers):
    plays = plays_and_hosts(limit)
    sampled = plays["Sample each router's throughput to the hub"]
    assert sorted(sampled) == routers
    assert sorted(plays["Install iperf3 on the hub and the routers"]) == routers
    play = next(p for p in yaml.safe_load(PLAYBOOK.read_text()) if p.get("name", "").startswith("Sample"))
    assert play["serial"] == 1


def test_each_test_is_bounded_in_time_and_rate():
    play = next(p for p in yaml.safe_load(PLAYBOOK.read_text()) if p.get("name", "").startswith("Sample"))
    bounds = play["tasks"][0]["ansible.builtin.assert"]["that"]
    assert "link_test_seconds | int <= 10" in bounds
    assert "link_test_max_mbit | int <= 1000" in bounds
    direction = (TOP / "playbooks" / "tasks" / "link-test-direction.yml").read_text()
    assert "--time {{ link_test_seconds }} --bitrate {{ link_test_max_mbit }}M" in direction
    assert "--one-off --bind {{ link_test_hub_address }}" in direction
    # Every iperf3 ends on its own even if its peer never comes.
    assert direction.count("timeout {{ link_test_seconds | int + ") == 2
