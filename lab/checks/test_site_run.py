"""The second run of playbooks/site.yml on the lab: it must change nothing.

Alone on the lab (the "configuration" lock, conftest.LAB_PARTS): no other
check changes what site.yml manages while it runs. Lynis follows it on the
same worker (conftest.CHECK_FILES).
"""

import re

import pytest
from conftest import INVENTORY, TOP
from test_lab import run


@pytest.mark.lab_state(configuration="exclusive")
def test_second_run_of_site_changes_nothing(ansible_env):
    result = run(
        ["ansible-playbook", "-i", str(INVENTORY), "playbooks/site.yml"],
        cwd=TOP,
        env=ansible_env,
        timeout=900,
    )
    assert result.returncode == 0, result.stdout[-3000:] + result.stderr[-3000:]
    recap = dict(re.findall(r"^(\S+)\s+: ok=\d+\s+changed=(\d+)", result.stdout, re.MULTILINE))
    assert recap, "no PLAY RECAP in the output of the second run"
    changed = {host: count for host, count in recap.items() if count != "0"}
    assert not changed, f"a second run changed something: {changed}"
