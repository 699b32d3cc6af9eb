"""The filter patn.infra.batch_size: the batch size (serial) of the site
playbooks, and the serial of their plays on a real ansible-playbook run."""

import re

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.patn.infra.plugins.filter.batch_size import batch_size
from conftest import TOP, run_playbook

PLAYBOOKS = ["base.yml", "hub.yml", "eservices.yml", "routers.yml", "access_points.yml"]


def batches(hosts, size):
    """The batch sizes Ansible makes of `hosts` hosts with serial `size`."""
    return [min(size, hosts - start) for start in range(0, hosts, size)]


@pytest.mark.parametrize(
    ("hosts", "expected"),
    [(0, 1), (1, 1), (5, 5), (10, 10), (11, 6), (20, 10), (39, 10), (40, 10), (41, 11), (220, 55)],
)
def test_batch_size(hosts, expected):
    assert batch_size(hosts) == expected


def test_at_most_four_batches_and_none_small():
    # Ansible ends the run when every host of a batch is unreachable:
    # a run's only batch may be small, no other.
    for hosts in range(1, 1001):
        sizes = batches(hosts, batch_size(hosts))
        assert sum(sizes) == hosts
        assert len(sizes) <= 4, (hosts, sizes)
        assert len(sizes) == 1 or min(sizes) >= 5, (hosts, sizes)


def test_options():
    # ceil(100 / 16) = 7 batches, at most 3: ceil(100 / 3).
    assert batch_size(100, max_batches=3, min_size=8) == 34
    assert batch_size(16, max_batches=3, min_size=8) == 16
    assert batch_size(17, max_batches=3, min_size=8) == 9
    assert batch_size(1000, max_batches=1) == 1000


@pytest.mark.parametrize(
    ("args", "kwargs", "message"),
    [
        (("20",), {}, "the number of hosts must be an integer, got str '20'"),
        ((2.5,), {}, "the number of hosts must be an integer, got float 2.5"),
        ((True,), {}, "the number of hosts must be an integer, got bool True"),
        ((None,), {}, "the number of hosts must be an integer, got NoneType None"),
        ((-1,), {}, "the number of hosts must be 0 or more, got -1"),
        ((20,), {"max_batches": 0}, "max_batches must be 1 or more, got 0"),
        ((20,), {"min_size": -5}, "min_size must be 1 or more, got -5"),
        ((20,), {"min_size": "5"}, "min_size must be an integer, got str '5'"),
    ],
    ids=["str", "float", "bool", "none", "negative", "no-batch", "negative-min", "str-option"],
)
def test_errors(args, kwargs, message):
    with pytest.raises(AnsibleFilterError, match=re.escape(f"batch_size: {message}")):
        batch_size(*args, **kwargs)


def site_plays():
    """(playbook, play) of every play of the site playbooks (not their imports)."""
    for name in PLAYBOOKS:
        for play in yaml.safe_load((TOP / "playbooks" / name).read_text()):
            if "hosts" in play:
                yield name, play


def test_the_site_playbooks_serial_honours_limit_on_a_real_run(tmp_path):
    # Every play of the entry playbooks, with its own hosts, serial and
    # max_fail_percentage, on 200 local hosts of which --limit keeps 20:
    # ansible_play_hosts_all, when serial is templated, counts the 20, so
    # each play runs in two batches of 10 (200 hosts would give four of 50).
    plays = [
        {
            "name": f"{name}: {play['name']}",
            "hosts": play["hosts"],
            "gather_facts": False,
            "serial": play["serial"],
            "max_fail_percentage": play["max_fail_percentage"],
            "tasks": [
                {
                    "name": "Batch",
                    "ansible.builtin.debug": {"msg": "BATCH {{ ansible_play_batch | join(',') }}"},
                    "run_once": True,
                }
            ],
        }
        for name, play in site_plays()
    ]
    assert len(plays) == 7
    (tmp_path / "playbook.yml").write_text(yaml.safe_dump(plays, sort_keys=False))
    groups = {"role_eservice", "role_router", "role_access_point", "role_hub"}
    hosts = "".join(f"h{n:03d}\n" for n in range(200))
    (tmp_path / "hosts.ini").write_text(
        "[all:vars]\nansible_connection=local\n" + "".join(f"[{group}]\n{hosts}" for group in sorted(groups))
    )
    names = [f"h{n:03d}" for n in range(20)]
    completed = run_playbook(
        "-i",
        tmp_path / "hosts.ini",
        tmp_path / "playbook.yml",
        "--limit",
        ",".join(names),
        # Not the audit trail.
        env_extra={"ANSIBLE_CALLBACKS_ENABLED": "patn.infra.site_summary", "ANSIBLE_NOCOLOR": "1"},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    seen = re.findall(r"BATCH ([\w,]+)", completed.stdout)
    assert seen == [",".join(names[:10]), ",".join(names[10:])] * 7, completed.stdout
