"""Mitogen's mitogen_linear strategy, without Mitogen's CPU pinning."""

DOCUMENTATION = r"""
name: mitogen_linear
short_description: Mitogen's linear strategy, without its CPU pinning
description:
  - Mitogen for Ansible's C(mitogen_linear) strategy (the C(mitogen) package, pinned in
    constraints.txt), unchanged but for one thing. It pins no process to a CPU.
  - Mitogen pins its connection multiplexer to the first CPU and the Ansible process, its workers
    and every process they start to the others. On a machine of 2 or 3 CPUs, everything Ansible
    does, and everything it starts (ssh, the modules, podman and the containers of the lab and of
    Molecule, which inherit the mask) ran on one CPU while the first one stayed mostly idle
    (on CI's machine of 2 CPUs, one was 66 % idle, the other never; docs/performance.md).
  - Named by ansible.cfg (strategy_plugins, strategy). Where Mitogen is not installed, run
    Ansible's own strategy instead (ANSIBLE_STRATEGY=linear, docs/awx.md).
author: PATN infrastructure team
"""

EXAMPLES = r"""
# ansible.cfg, [defaults]:
#   strategy_plugins = plugins/strategy
#   strategy = mitogen_linear
# Ansible's own strategy for one run:
#   ANSIBLE_STRATEGY=linear ansible-playbook -i inventories/lab playbooks/site.yml
"""

import ansible_mitogen.affinity
from ansible_mitogen.plugins.strategy.mitogen_linear import StrategyModule

__all__ = ["StrategyModule"]


def place_no_process():
    """Mitogen's base policy, which places nothing: every process keeps the
    CPUs it was started with. Set before the strategy starts Mitogen's
    processes, which look the policy up then (ansible_mitogen.process,
    ansible_mitogen.strategy)."""
    ansible_mitogen.affinity.policy = ansible_mitogen.affinity.Policy()


place_no_process()
