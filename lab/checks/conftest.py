"""Shared fixtures of the lab checks: the lab inventory, read through Ansible,
and the locks that let checks run side by side (scripts/lab runs them three
at a time with pytest-xdist)."""

import fcntl
import json
import os
import subprocess
from contextlib import ExitStack, contextmanager
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


# The parts of the lab a check can break for a while. A check that breaks
# one (or must see it untouched) holds its lock "exclusive"; a check that
# needs it working holds it "shared": @pytest.mark.lab_state(tunnels="shared").
# Checks that must also keep their order (a backup before its restore) share
# an xdist_group, which runs them one after the other on one worker.
LAB_PARTS = {
    "configuration": "what site.yml manages: its second run must see nobody change it",
    "eservice": "the e-service on ptn-dc-srv1, destroyed and restored by the restore check",
    "tunnels": "the sites' tunnels to the data centre, one cut by the WAN check",
}
LOCKS = LAB_DIR / "locks"


def pytest_configure(config):
    parts = ", ".join(LAB_PARTS)
    config.addinivalue_line("markers", f"lab_state(**parts): parts ({parts}) a check breaks or needs")


@contextmanager
def lab_parts_held(**parts):
    """Hold each named lab part's lock, "shared" or "exclusive" (LAB_PARTS)."""
    modes = {"shared": fcntl.LOCK_SH, "exclusive": fcntl.LOCK_EX}
    for part, mode in parts.items():
        if part not in LAB_PARTS or mode not in modes:
            raise ValueError(f"lab_state({part}={mode!r}): parts are {list(LAB_PARTS)}, modes {list(modes)}")
    LOCKS.mkdir(parents=True, exist_ok=True)
    with ExitStack() as held:
        # Always taken in the same order: two checks never wait for each other.
        for part in sorted(parts):
            lock = held.enter_context((LOCKS / f"{part}.lock").open("w"))
            fcntl.flock(lock, modes[parts[part]])
        yield


@pytest.fixture(autouse=True)
def lab_state_locks(request):
    """The check's lab parts (its lab_state marker), held for its whole run."""
    marker = request.node.get_closest_marker("lab_state")
    with lab_parts_held(**(marker.kwargs if marker else {})):
        yield


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
    # In the order of the files, whichever worker ran each check.
    for report in sorted(RESULTS, key=lambda report: (*report.location[:2], report.nodeid)):
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
