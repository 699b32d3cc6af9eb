# Copyright: PATN infrastructure team
# Apache License 2.0
"""What is wrong with a site router's uplinks (filter router_uplink_problems)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: router_uplink_problems
short_description: What is wrong with a site router's uplink settings
version_added: 0.4.0
author: PATN infrastructure team
description:
  - The uplink checks of roles/router (its tasks/main.yml asserts the list is empty), in Python so
    that each rule has unit tests instead of living in Jinja.
  - Separate from P(patn.infra.router_layout#filter) on purpose. The layout names every networkd file,
    and an uplink's address that is not decided yet must fail only its own file (make validate), so the
    layout never reads the addresses; this filter does, and only the check uses it.
  - Refuses input of the wrong type (not a list) naming the input; an operator's wrong values are
    returned, never raised, so that the role's check names the host and the site.
positional: _input
options:
  _input:
    description:
      - "The uplinks, primary first, each with C(name) (C(wan) or C(wan2)), C(interface), C(mode)
        (C(dhcp), C(static), C(pppoe) or C(none)), and what its mode needs: C(address) and C(gateway)
        (static), C(credentials) (pppoe: true when a user name and a password are given; the password
        itself is never passed here)."
    type: list
    elements: dict
    required: true
  failover_probes:
    description: The addresses the failover pings through the primary uplink; a second uplink needs one.
    type: list
    elements: str
    default: []
"""

EXAMPLES = r"""
router__uplink_problems: >-
  {{ [{'name': 'wan', 'interface': 'eth0', 'mode': 'static', 'address': router__wan_address,
       'gateway': router__wan_gateway}]
     | patn.infra.router_uplink_problems(failover_probes=router__wan_failover_probes) }}
"""

RETURN = r"""
_value:
  description: What is wrong, one sentence each, naming the role variables and the registry's field.
  type: list
  elements: str
  sample: ["router__wan2_interface is also the primary uplink's interface (eth0)"]
"""

from ansible.errors import AnsibleFilterError

# The role variables and the registry field of each uplink, for the problems' wording.
SETTINGS = {"wan": ("router__wan", "uplinks.primary"), "wan2": ("router__wan2", "uplinks.secondary")}


def _list(what, value):
    if not isinstance(value, list):
        raise AnsibleFilterError(f"router_uplink_problems: {what} must be a list, got {type(value).__name__}")
    return value


def router_uplink_problems(uplinks, failover_probes=None):
    """What is wrong with the uplinks' settings."""
    uplinks = _list("the uplinks", uplinks)
    probes = _list("the failover probes", [] if failover_probes is None else failover_probes)
    problems = []
    for uplink in uplinks:
        prefix, field = SETTINGS.get(uplink.get("name"), (f"uplink {uplink.get('name')!r}", "uplinks"))
        if uplink.get("mode") == "static" and not (uplink.get("address") and uplink.get("gateway")):
            problems.append(
                f"{prefix}_mode is static: {prefix}_address and {prefix}_gateway are needed"
                f" ({field} of the registry)"
            )
        if uplink.get("mode") == "pppoe" and not uplink.get("credentials"):
            problems.append(
                f"{prefix}_mode is pppoe: {prefix}_pppoe_username and {prefix}_pppoe_password are needed"
                f" ({field} of the registry; the password from ansible-vault)"
            )
    if len(uplinks) > 1:
        if not probes:
            problems.append(
                "a second uplink needs router__wan_failover_probes"
                " (the hub endpoint by default: router__tunnel_hub_endpoint is empty)"
            )
        primary, second = uplinks[0].get("interface"), uplinks[1].get("interface")
        if primary == second:
            problems.append(f"router__wan2_interface is also the primary uplink's interface ({primary})")
    return problems


class FilterModule:
    """patn.infra.router_uplink_problems."""

    def filters(self):
        return {"router_uplink_problems": router_uplink_problems}
