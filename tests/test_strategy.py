"""The project's strategy (plugins/strategy/mitogen_linear.py): Mitogen's
mitogen_linear, with no process pinned to a CPU."""

import os
import re
from pathlib import Path

import ansible_mitogen
import pytest
from conftest import FIXTURES, run_playbook

PLAY = FIXTURES / "strategy" / "cpus.yml"
# Mitogen's own strategy plugins, as the package installs them.
MITOGEN_STRATEGIES = Path(ansible_mitogen.__file__).parent / "plugins" / "strategy"

pytestmark = pytest.mark.skipif(
    len(os.sched_getaffinity(0)) < 2, reason="a pinning shows only where there are 2 CPUs or more"
)


def cpus_of_a_task(env_extra=None):
    result = run_playbook("-i", "localhost,", PLAY, env_extra=env_extra)
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-2000:]
    [shown] = re.findall(r"Cpus_allowed_list:\\t([0-9,-]+)", result.stdout)
    return shown


def own_cpus():
    return re.search(r"^Cpus_allowed_list:\s+(\S+)$", Path("/proc/self/status").read_text(), re.MULTILINE)[1]


def test_a_task_s_process_may_use_every_cpu_the_run_may_use():
    # Everything a task starts (ssh, podman, the lab's containers) inherits it.
    assert cpus_of_a_task() == own_cpus()


def test_mitogen_s_own_strategy_pins_it_which_is_why_the_project_has_its_own():
    # If Mitogen stops pinning, this fails: plugins/strategy can then go.
    assert cpus_of_a_task({"ANSIBLE_STRATEGY_PLUGINS": str(MITOGEN_STRATEGIES)}) != own_cpus()
