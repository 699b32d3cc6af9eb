"""Shared fixtures of the lab checks: the lab inventory, read through Ansible."""

import json
import os
import subprocess
from pathlib import Path

import pytest

TOP = Path(__file__).resolve().parents[2]
INVENTORY = TOP / "inventories" / "lab"
LAB_DIR = TOP / ".lab"


def lab_inventory():
    """Every lab host's variables, as Ansible sees the inventory."""
    listing = subprocess.run(
        ["ansible-inventory", "-i", str(INVENTORY), "--list"],
        check=True,
        capture_output=True,
        text=True,
        cwd=TOP,
    ).stdout
    return json.loads(listing)["_meta"]["hostvars"]


def lab_hosts():
    """Host name -> SSH port of every lab host."""
    return {name: int(values["lab_ssh_port"]) for name, values in sorted(lab_inventory().items())}


@pytest.fixture(scope="session")
def ssh_base():
    """An ssh command line that reaches lab hosts on loopback with the lab's key."""
    return [
        "ssh",
        "-o", "BatchMode=yes",
        "-o", f"UserKnownHostsFile={LAB_DIR / 'known_hosts'}",
        "-o", "StrictHostKeyChecking=yes",
        "-o", "ConnectTimeout=10",
        "-i", str(LAB_DIR / "id_ed25519"),
    ]  # fmt: skip


def pytest_generate_tests(metafunc):
    if "lab_host" in metafunc.fixturenames:
        hosts = lab_hosts()
        metafunc.parametrize("lab_host", sorted(hosts.items()), ids=sorted(hosts))


@pytest.fixture(scope="session")
def ansible_env():
    return dict(os.environ, ANSIBLE_CONFIG=str(TOP / "ansible.cfg"))


# The short table of results printed after the checks: one line per check
# and host, for the operator who just ran the main job.
RESULTS = []


def pytest_runtest_logreport(report):
    if report.when == "call" or (report.when == "setup" and not report.passed):
        RESULTS.append(report)


def pytest_terminal_summary(terminalreporter):
    if not RESULTS:
        return
    rows = []
    for report in RESULTS:
        check, _, host = report.nodeid.split("::", 1)[1].partition("[")
        outcome = "skipped" if report.skipped else ("passed" if report.passed else "FAILED")
        # A check may add what it measured (record_property("result", ...)).
        measured = dict(report.user_properties).get("result")
        if measured:
            outcome += f" ({measured})"
        rows.append((check.removeprefix("test_").replace("_", " "), host.rstrip("]") or "(the lab)", outcome))
    widths = [max(len(row[column]) for row in rows) for column in range(2)]
    terminalreporter.section("Lab checks")
    for check, host, outcome in rows:
        terminalreporter.write_line(f"{check:<{widths[0]}}  {host:<{widths[1]}}  {outcome}")
    failed = sum(1 for row in rows if row[2].startswith("FAILED"))
    terminalreporter.write_line(f"{len(rows) - failed} of {len(rows)} checks passed")
