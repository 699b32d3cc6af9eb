"""Security updates and Lynis, Debian's security auditing tool, as an outside
check of each managed lab host after site.yml.

On every host, one per core at a time: the package lists are refreshed and
unattended-upgrades runs for real (the security suite
is a source, so the pending security updates install: nothing from it is
left to upgrade), then Lynis audits the host. No Lynis warning is allowed;
its hardening index goes in the lab's results table (the goal is 80; what
Lynis still suggests and why it does not apply is listed in
roles/base/README.md; each host's report is kept in .cache/lynis/). Lynis
is installed by this check only: it is the auditor's tool, not part of a
device."""

import os
import re
import subprocess
import time
from concurrent.futures import ThreadPoolExecutor

import pytest
from conftest import TOP, lab_hosts, lab_inventory, lab_parts, on, run

# Each host's last Lynis report (lynis-report.dat).
REPORTS = TOP / ".cache" / "lynis"

# As the device's timers do (apt-daily, then apt-daily-upgrade): the package
# lists are refreshed first, else an update published since the last
# refresh is left for Lynis to find (PKGS-7392: it refreshes them itself).
# Each step names itself on stderr first: a host that hangs is reported with
# the step it hung in.
AUDIT = (
    "sudo -n sh -c 'echo step: the package lists >&2; apt-get update -qq >/dev/null"
    " && echo step: the security updates >&2 && unattended-upgrade >/dev/null 2>&1;"
    " echo security updates left: $(apt list --upgradable 2>/dev/null | grep -c -- -security);"
    " echo step: installing Lynis >&2; DEBIAN_FRONTEND=noninteractive apt-get install -y -qq lynis >/dev/null"
    " && echo step: the audit >&2 && lynis audit system --quick --no-colors >/dev/null"
    " && cat /var/log/lynis-report.dat'"
)
# At most one audit per core. Lynis is a shell script of thousands of short
# commands: about a minute of CPU on one lab host. Six at once beside
# Molecule were still running after the hung limit (CI of 275cb6b), when
# Mitogen also held every container on one CPU of two (docs/performance.md,
# since undone by plugins/strategy); one per core takes the same time in
# all, each host its share.
AT_ONCE = os.cpu_count() or 1


def report_values(report, key):
    return [line.split("=", 1)[1] for line in report.splitlines() if line.startswith(f"{key}=")]


@pytest.fixture(scope="module")
def audits(ssh_base):
    """Host name -> (seconds, the audit's finished command, or its
    subprocess.TimeoutExpired if it hung): one host's hang fails its own check only."""

    def audit(name):
        start = time.monotonic()
        try:
            result = run([*on(ssh_base, name), AUDIT])
        except subprocess.TimeoutExpired as hung:
            result = hung
        return time.monotonic() - start, result

    hosts = lab_hosts()
    inventory = lab_inventory()
    # A router with a second uplink goes out through whichever uplink is up,
    # and the sites' lane cuts them: it is audited when no cut is on
    # ("uplinks"), the other hosts before. Meanwhile the installs and
    # security updates keep the other lane's Ansible runs off the hosts'
    # apt ("packages", conftest.py).
    failing_over = {name for name in hosts if (inventory[name].get("patn_uplinks") or {}).get("secondary")}
    results = {}
    for group, parts in (
        (sorted(set(hosts) - failing_over), ["packages"]),
        (sorted(failing_over), ["packages", "uplinks"]),
    ):
        with lab_parts(*parts), ThreadPoolExecutor(max_workers=AT_ONCE) as pool:
            results.update(zip(group, pool.map(audit, group), strict=True))
    return results


def test_security_updates_install_and_lynis_finds_no_warning(lab_host, audits, record_property):
    name, _ = lab_host
    seconds, result = audits[name]
    if isinstance(result, subprocess.TimeoutExpired):
        # Its output so far: bytes on POSIX, whatever run() asked.
        said = (result.stderr or b"").decode(errors="replace")
        steps = re.findall(r"^step: (.*)$", said, re.MULTILINE)
        pytest.fail(f"{name}: still running after {result.timeout:.0f} s, in {steps[-1] if steps else 'ssh'}")
    assert result.returncode == 0, result.stderr[-2000:]
    first, _, report = result.stdout.partition("\n")
    assert first == "security updates left: 0", first
    # Kept for the base role's README (what Lynis still suggests, and why).
    REPORTS.mkdir(parents=True, exist_ok=True)
    (REPORTS / f"{name}.dat").write_text(report)
    [index] = report_values(report, "hardening_index")
    record_property("result", f"Lynis index {index}, {seconds:.0f} s")
    assert report_values(report, "warning[]") == []
    # The goal of issue 21: what still costs points is listed, with its
    # reason, in roles/base/README.md.
    assert int(index) >= 80, f"Lynis index {index} < 80 (report in {REPORTS})"
