# Copyright: PATN infrastructure team
# Apache License 2.0
"""Which kernel parameters differ from their wanted values (filter sysctl_changes)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: sysctl_changes
short_description: The kernel parameters whose live value differs from the wanted one
version_added: 0.3.0
author: PATN infrastructure team
description:
  - Compares wanted kernel parameters with the live values printed by C(sysctl KEY...) (lines
    C(key = value)) and returns C(key=value) for each one to change, ready for C(sysctl -w).
  - >-
    Lets a role check and set tens of parameters in two commands instead of one module call per
    parameter (roles/base/tasks/sysctl.yml). Whitespace inside a value is compared loosely, as the
    kernel prints tabs where a file has spaces.
  - A wanted parameter missing from the live output is returned, so that C(sysctl -w) reports it.
  - Refuses a key that is not a sysctl name, and a value that is empty, not a scalar, or holds a
    line break or C(=), so that no value can add a line to the parameters file.
positional: _input, live
options:
  _input:
    description: The wanted parameters, name to value.
    type: dict
    required: true
  live:
    description: What C(sysctl KEY...) printed for the same keys (its standard output).
    type: str
    required: true
"""

EXAMPLES = r"""
- name: Read the live values
  ansible.builtin.command:
    argv: "{{ ['sysctl', '--'] + (wanted | list) }}"
  register: live
  changed_when: false
  check_mode: false

- name: Apply the parameters that differ
  ansible.builtin.command:
    argv: "{{ ['sysctl', '-w', '--'] + (wanted | patn.infra.sysctl_changes(live.stdout)) }}"
  when: wanted | patn.infra.sysctl_changes(live.stdout) | length > 0
"""

RETURN = r"""
_value:
  description: C(key=value) for each parameter to change, in the order of the wanted dict.
  type: list
  elements: str
  sample: [net.ipv4.conf.all.rp_filter=1]
"""

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

KEY = re.compile(r"^[a-z0-9_][a-z0-9_.\-/]*$")


def _normalise(value) -> str:
    return " ".join(str(value).split())


def _checked(key, value) -> str:
    if not isinstance(key, str) or not KEY.match(key):
        raise AnsibleFilterError(f"sysctl_changes: {key!r} is not a kernel parameter name")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        raise AnsibleFilterError(
            f"sysctl_changes: {key}: the value must be a string or a number, got {type(value).__name__}"
        )
    text = str(value)
    if not text.strip() or "\n" in text or "\r" in text or "=" in text:
        raise AnsibleFilterError(
            f"sysctl_changes: {key}: the value {text!r} is empty or holds '=' or a line break"
        )
    return _normalise(text)


def sysctl_changes(wanted, live):
    """key=value for each wanted parameter whose live value differs (see DOCUMENTATION)."""
    if not isinstance(wanted, Mapping):
        raise AnsibleFilterError(
            f"sysctl_changes: the wanted parameters must be a dict, got {type(wanted).__name__}"
        )
    if not isinstance(live, str):
        raise AnsibleFilterError(f"sysctl_changes: live must be sysctl's output, got {type(live).__name__}")
    current = {}
    for line in live.splitlines():
        key, separator, value = line.partition(" = ")
        if separator:
            current[key.strip()] = _normalise(value)
    changes = []
    for key, value in wanted.items():
        text = _checked(key, value)
        if current.get(key) != text:
            changes.append(f"{key}={text}")
    return changes


class FilterModule:
    """patn.infra.sysctl_changes."""

    def filters(self):
        return {"sysctl_changes": sysctl_changes}
