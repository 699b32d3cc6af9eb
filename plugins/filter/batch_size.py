# Copyright: PATN infrastructure team
# Apache License 2.0
"""The batch size (serial) of a play over many sites (filter batch_size)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: batch_size
short_description: Batch size (serial) of a play that no single down site can end
version_added: 0.2.0
author: PATN infrastructure team
description:
  - Gives the C(serial) of a play from its number of hosts, so that a bad change stops before it
    reaches every site and no batch is small.
  - >-
    Ansible ends the whole run when every host of a batch failed or was unreachable, so a small
    batch (one site's worth) lets one site whose link is down end the run. playbooks/base.yml says
    more.
  - >-
    The play runs in max(1, min(O(max_batches), ceil(hosts / (2 * O(min_size))))) batches of about
    equal size; the size returned is ceil(hosts / batches).
  - >-
    With the defaults: at most four batches, none under five hosts unless the run has only one, and
    one batch up to 10 hosts (39 hosts give batches of 10, 10, 10, 9; 41 give 11, 11, 11, 8; 220 give
    four of 55).
  - No host at all gives 1 (a valid C(serial)).
positional: _input
options:
  _input:
    description:
      - The number of hosts of the play, usually C(ansible_play_hosts_all | length), which honours
        C(--limit).
    type: int
    required: true
  max_batches:
    description: The most batches (1 or more).
    type: int
    default: 4
  min_size:
    description:
      - The smallest batch wanted (1 or more). A play of up to twice this many hosts runs in one
        batch; each further C(2 * min_size) hosts add a batch, up to O(max_batches).
    type: int
    default: 5
"""

EXAMPLES = r"""
# In a play (playbooks/base.yml); base_batch overrides the size (-e base_batch=25%):
#   serial: "{{ base_batch | default(ansible_play_hosts_all | length | patn.infra.batch_size) }}"
#   max_fail_percentage: 30
- name: The batch size of this play
  ansible.builtin.debug:
    msg: "{{ ansible_play_hosts_all | length | patn.infra.batch_size }}"

# 10 -> 10; 11 -> 6 (6, 5); 39 -> 10 (10, 10, 10, 9); 220 -> 55 (four batches)
- name: At most three batches of at least eight hosts
  ansible.builtin.debug:
    msg: "{{ 100 | patn.infra.batch_size(max_batches=3, min_size=8) }}"
"""

RETURN = r"""
_value:
  description: The number of hosts per batch, 1 or more.
  type: int
  sample: 10
"""

from ansible.errors import AnsibleFilterError


def _count(name, value, lowest):
    # bool is an int in Python, never a count.
    if isinstance(value, bool) or not isinstance(value, int):
        raise AnsibleFilterError(
            f"batch_size: {name} must be an integer, got {type(value).__name__} {value!r}"
        )
    if value < lowest:
        raise AnsibleFilterError(f"batch_size: {name} must be {lowest} or more, got {value}")
    return value


def _ceil_div(numerator, denominator):
    return -(-numerator // denominator)


def batch_size(hosts, max_batches=4, min_size=5):
    """Hosts per batch for a play of `hosts` hosts (see DOCUMENTATION)."""
    hosts = _count("the number of hosts", hosts, 0)
    max_batches = _count("max_batches", max_batches, 1)
    min_size = _count("min_size", min_size, 1)
    batches = max(1, min(max_batches, _ceil_div(hosts, 2 * min_size)))
    return max(1, _ceil_div(hosts, batches))


class FilterModule:
    """patn.infra.batch_size."""

    def filters(self):
        return {"batch_size": batch_size}
