"""Shared fixtures and helpers of the lab checks: the lab inventory, read
through Ansible, and the two lanes the checks run in.

The checks run in two lanes side by side (scripts/lab: pytest-xdist, two
workers), each lane a list of files run by one worker (LANES), in the
list's order (pytest_collection_modifyitems). A
check that changes a part of the lab another check of the other lane relies
on names it (`@pytest.mark.lab_parts("packages")`, PARTS): it holds that
part to itself while it runs, and a check of the other lane naming it waits.
"""

import fcntl
import functools
import json
import os
import subprocess
import sys
from contextlib import ExitStack, contextmanager
from pathlib import Path

import pytest
from xdist.scheduler import LoadScopeScheduling

TOP = Path(__file__).resolve().parents[2]
INVENTORY = TOP / "inventories" / "lab"
LAB_DIR = TOP / ".lab"

# The unit tests' helpers the checks share (tests/limits.py, tests/awx_input.py).
sys.path.append(str(TOP / "tests"))
from limits import HUNG_COMMAND

# Lane -> its files, run in this order. The sites' lane goes from the
# clients' view of a healthy lab and a second site.yml to the faults (a site
# cut off, a primary uplink cut, a router edited by hand, a wrong tunnel
# change, a router made new) and ends with Prometheus' view of every host; the
# hosts' lane runs a ministry's job in the execution environment, then checks
# each host on its out-of-band port, the backups and a restore, Lynis, then
# the sites' packages through the data centre's cache (after Lynis, which
# holds the uplinks last, as its last check does).
LANES = {
    "sites": ["test_clients.py", "test_lab.py"],
    # The execution environment's job first: its check-mode run must see the
    # converged lab, before the sites' lane's faults leave a site cut off or
    # a router being reverted (run after the wrong tunnel change, it reported
    # the tunnel changed in CI of bf00de3: the revert left the refused file
    # staged; a rollback now puts the live file back in the stage). It holds
    # the hosts' packages, so the second site.yml waits for it.
    "hosts": ["test_execution_environment.py", "test_hosts.py", "test_lynis.py", "test_package_cache.py"],
}
# The parts of the lab a check can hold to itself (lab_parts).
PARTS = {
    # apt and dpkg on the hosts: installs, security updates, Ansible runs.
    "packages",
    # The data centre's backup repository and the e-service server's data.
    "backups",
    # The e-service answering (a restore stops it; the faults' checks end
    # with a staff client reaching it).
    "eservice",
    # The site routers' uplinks, which carry their tunnel and so the sites'
    # apt (through the data centre's package cache), and their default
    # route: a router with a second uplink moves it there when the primary
    # is cut.
    "uplinks",
}
LOCKS = TOP / ".cache" / "lab-locks"


def lane_of(filename):
    """(lane, rank of the file in its lane): LANES' order. A file in no lane
    would run in a third one, beside both: refused, naming it."""
    for lane, files in LANES.items():
        if filename in files:
            return lane, files.index(filename)
    raise pytest.UsageError(f"lab/checks/{filename} is in no lane: add it to LANES in lab/checks/conftest.py")


class LaneScheduling(LoadScopeScheduling):
    """xdist's scheduling by scope, a scope being a lane (LANES)."""

    def _split_scope(self, nodeid):
        return lane_of(nodeid.split("::", 1)[0].rsplit("/", 1)[-1])[0]


def pytest_collection_modifyitems(items):
    # Every worker collects the same items and sorts them the same way, so
    # xdist sees one order; the sort is stable: a file's checks keep theirs.
    items.sort(key=lambda item: lane_of(item.path.name))


def pytest_xdist_make_scheduler(config, log):
    return LaneScheduling(config, log)


def pytest_configure(config):
    config.addinivalue_line(
        "markers", "lab_parts(*parts): the parts of the lab (PARTS) the check holds to itself"
    )


@contextmanager
def lab_parts(*parts):
    """Hold these parts of the lab (PARTS) while the block runs: a check of
    the other lane that names one of them waits (flock, taken in a fixed
    order so that two lanes never wait for each other)."""
    unknown = set(parts) - PARTS
    assert not unknown, f"unknown parts of the lab: {sorted(unknown)} (conftest.py PARTS)"
    LOCKS.mkdir(parents=True, exist_ok=True)
    with ExitStack() as held:
        for part in sorted(set(parts)):
            lock = held.enter_context((LOCKS / part).open("w"))
            fcntl.flock(lock, fcntl.LOCK_EX)
        yield


@pytest.fixture(autouse=True)
def _held_lab_parts(request):
    marker = request.node.get_closest_marker("lab_parts")
    with lab_parts(*(marker.args if marker else ())):
        yield


@functools.cache
def lab_inventory():
    """Every lab host's variables, as Ansible sees the inventory (read once:
    the checks change hosts, never the inventory)."""
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


def run(command, **kwargs):
    """A command's exit code and output (text); hung after tests/limits.py's HUNG_COMMAND."""
    return subprocess.run(
        command, capture_output=True, text=True, timeout=HUNG_COMMAND, check=False, **kwargs
    )


def playbook(ansible_env, path, *arguments):
    """ansible-playbook on the lab, from the top of the checkout: through the
    operators' workstation and the tunnels, as every run after the first
    contact (group_vars/lab/connection.yml)."""
    command = ["ansible-playbook", "-i", str(INVENTORY), path, *arguments]
    return run(command, cwd=TOP, env=ansible_env)


def on(ssh_base, host):
    """The command line that runs a shell command on a lab host as its administrator."""
    return [*ssh_base, "-p", str(lab_hosts()[host]), "lab-admin@127.0.0.1"]


# Asked on the monitoring host: Alertmanager's open alerts named NAME whose
# label LABEL is VALUE, until there is one or DEADLINE seconds have passed.
ALERT_WAIT = """
import json, time, urllib.request
deadline = time.time() + %(deadline)d
while True:
    alerts = json.load(urllib.request.urlopen('http://127.0.0.1:9093/api/v2/alerts?active=true', timeout=10))
    found = [a for a in alerts if a['labels'].get('alertname') == %(name)r
             and a['labels'].get(%(label)r) == %(value)r]
    if found or time.time() > deadline:
        break
    time.sleep(3)
print(json.dumps(found))
"""


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
