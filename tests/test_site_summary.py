"""The closing summary per site: the callback patn.infra.site_summary on real
playbook runs, and the batches of the site playbooks it reports on.

tests/fixtures/site_summary/playbook.yml plays, on the hosts of
inventory.yml (three sites of three ministries, all the controller itself,
and one host outside any site), a task that fails on one host; the site's
access point is unreachable (its SSH port on loopback is closed).
"""

import re

import pytest
import yaml
from ansible_collections.patn.infra.plugins.callback import site_summary
from conftest import FIXTURES, TOP, run_playbook

SUMMARY = FIXTURES / "site_summary"
FAILED = "nft: syntax error in zone policy of justice-tgi-pnr-rtr1"


def play(*args):
    """ansible-playbook of the fixture playbook with the summary enabled, and its summary's lines."""
    completed = run_playbook(
        "-i",
        SUMMARY / "inventory.yml",
        SUMMARY / "playbook.yml",
        *args,
        env_extra={
            "ANSIBLE_CALLBACKS_ENABLED": "patn.infra.site_summary",
            "ANSIBLE_SSH_RETRIES": "0",
            "ANSIBLE_NOCOLOR": "1",
        },
        env_drop=["ANSIBLE_FORCE_COLOR"],
    )
    _, banner, after = completed.stdout.partition("SITE SUMMARY *")
    assert banner, completed.stdout + completed.stderr
    lines = [line for line in after.splitlines()[1:] if line.strip()]
    return completed, lines


def rows(lines):
    """The host lines of a summary: [site, host, status, '[task] message']."""
    return [re.split(r" {2,}", line, maxsplit=3) for line in lines if re.search(r" {2,}\S+ {2,}", line)]


@pytest.fixture(scope="module")
def mixed():
    return play()


def test_the_summary_names_each_failed_site_host_task_and_reason(mixed):
    completed, lines = mixed
    assert completed.returncode != 0
    failed, unreachable = rows(lines)
    assert failed == [
        "justice/tgi-pnr",
        "justice-tgi-pnr-rtr1",
        "failed",
        f"[Check the configuration] {FAILED}",
    ]
    assert unreachable[:3] == ["sante/bzv-hq", "sante-bzv-hq-ap1", "unreachable"]
    task, _, message = unreachable[3].partition("] ")
    assert task == "[Reach the host"
    assert "127.0.0.1 port 1" in message
    assert len(message) <= 160
    assert lines[2:] == ["2 of 3 sites failed", "1 site fully succeeded: ptn/dc"]


def test_ignored_and_rescued_failures_and_later_lines_are_left_out(mixed):
    text = "\n".join(mixed[1])
    assert "an ignored failure" not in text
    assert "a rescued failure" not in text
    assert "line 3: unexpected token" not in text  # only the message's first line
    assert "sante-bzv-hq-srv1" not in text
    assert "lab-controller" not in text
    # Ansible's implicit localhost ran its play (the lab's plays on localhost).
    assert "localhost" not in text


def test_a_run_without_failure_says_so_in_one_line():
    completed, lines = play("-e", "fail_host=none", "--limit", "!sante-bzv-hq-ap1")
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert lines == ["All 3 sites succeeded (4 hosts)"]


def test_a_run_on_hosts_outside_any_site_prints_no_site_summary():
    completed = run_playbook(
        "-i",
        SUMMARY / "inventory.yml",
        SUMMARY / "playbook.yml",
        "-e",
        "fail_host=none",
        "--limit",
        "lab-controller",
        env_extra={"ANSIBLE_CALLBACKS_ENABLED": "patn.infra.site_summary", "ANSIBLE_NOCOLOR": "1"},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "ok=" in completed.stdout
    assert "SITE SUMMARY" not in completed.stdout


def test_a_batch_over_its_failure_threshold_names_the_hosts_it_left_out():
    # Batches of two, no failure allowed: the first batch stops, the run ends.
    completed, lines = play("-e", "batch=2", "-e", "max_fail=0")
    assert completed.returncode != 0
    assert rows(lines) == [
        ["justice/tgi-pnr", "justice-tgi-pnr-rtr1", "failed", f"[Check the configuration] {FAILED}"],
        ["ptn/dc", "ptn-dc-hub1", "not run", "[Site fixture] the run stopped before its batch"],
        ["sante/bzv-hq", "sante-bzv-hq-ap1", "not run", "[Site fixture] the run stopped before its batch"],
        [
            "sante/bzv-hq",
            "sante-bzv-hq-srv1",
            "stopped",
            "[Check the configuration] its batch passed max_fail_percentage (0%)",
        ],
        ["(no site)", "lab-controller", "not run", "[Controller fixture] the run stopped before this play"],
        ["(no site)", "localhost", "not run", "[Local fixture] the run stopped before this play"],
    ]
    assert lines[-1] == "3 of 3 sites failed, and 2 hosts outside any site"


def test_an_unreachable_host_alone_in_its_batch_ends_the_run_and_the_summary_says_so():
    # What the site playbooks' batch sizes avoid: Ansible ends the run when
    # every host of a batch is unreachable, whatever max_fail_percentage says.
    completed, lines = play("-e", "batch=1", "-e", "fail_host=none")
    assert completed.returncode != 0
    found = {row[1]: (row[2], row[3].partition("]")[0]) for row in rows(lines)}
    assert found == {
        "sante-bzv-hq-ap1": ("unreachable", "[Reach the host"),
        "ptn-dc-hub1": ("not run", "[Site fixture"),
        "justice-tgi-pnr-rtr1": ("not run", "[Controller fixture"),
        "sante-bzv-hq-srv1": ("not run", "[Controller fixture"),
        "lab-controller": ("not run", "[Controller fixture"),
        "localhost": ("not run", "[Local fixture"),
    }


@pytest.mark.parametrize(
    ("result", "expected"),
    [
        ({"msg": "first\nsecond"}, "first"),
        (
            {"msg": "", "stderr": "warning: x\nE: Unable to locate package nginxx\n"},
            "E: Unable to locate package nginxx",
        ),
        (
            {
                "msg": "One or more items failed",
                "results": [{"failed": False}, {"failed": True, "msg": "item 2"}],
            },
            "item 2",
        ),
        ({"msg": "x" * 200}, "x" * 157 + "..."),
        ({"rc": 1}, "(no message)"),
        ({"msg": ["a", "b"]}, "['a', 'b']"),
    ],
    ids=["first-line", "stderr-last-line", "loop-item", "cut", "none", "not-text"],
)
def test_first_line_of_an_error(result, expected):
    assert site_summary.first_line(result) == expected


@pytest.mark.parametrize(
    ("playbook", "overrides"),
    [
        ("base.yml", ["base_batch"]),
        ("hub.yml", ["routers_batch", "hub_batch"]),
        ("eservices.yml", ["eservices_batch"]),
        ("routers.yml", ["routers_batch"]),
        ("access_points.yml", ["routers_batch", "access_points_batch"]),
    ],
)
def test_site_playbooks_take_their_batch_size_from_the_filter(playbook, overrides):
    # Small batches would let one unreachable site end the run (above):
    # patn.infra.batch_size makes none (tests/test_batch_size.py).
    plays = [play for play in yaml.safe_load((TOP / "playbooks" / playbook).read_text()) if "hosts" in play]
    assert [play["serial"] for play in plays] == [
        f"{{{{ {name} | default(ansible_play_hosts_all | length | patn.infra.batch_size) }}}}"
        for name in overrides
    ]
    assert [play["max_fail_percentage"] for play in plays] == [30] * len(overrides)
