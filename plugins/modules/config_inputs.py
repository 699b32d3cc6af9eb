# Copyright: PATN infrastructure team
# Apache License 2.0
"""Documentation of the action patn.infra.config_inputs (it runs on the controller)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: config_inputs
short_description: Refuse, before any file is written, a value that a configuration file cannot hold
description:
  - Checks every variable of a role that reaches a configuration file (nftables, Unbound, Kea,
    hostapd, FreeRADIUS, nginx, systemd units, environment files, sshd, chrony, rsyslog,
    PostgreSQL) against what that file allows there, so that no inventory value can add a rule,
    a chain, a zone, an access-control line, a directive or a second key, with a line break or a
    quote, a brace or a semicolon in the wrong place.
  - What each variable holds is declared in the role's C(meta/config_inputs.yml), per entry point
    (C(checked), a spec per variable; C(unchecked), the variables that reach no file as text, each
    with its reason). The kinds and the spec grammar are in
    C(plugins/module_utils/config_values.py) (C(interface), C(ipv4_network), C(dns_name),
    C(line), C(quoted), C(env_value), ...; C(KIND?) also takes the empty string, C(KIND|KIND)
    either, C({items}), C({keys, values}) and C({fields}) lists and mappings).
  - "Fails with one line per refused value, each naming the host and the variable (with the path
    inside it, such as C(router__segments.staff.gateway)) and what the file allows. A refused
    value is shown, unless it may be a secret: free text (kinds C(line), C(quoted),
    C(env_value), C(url), ...), a variable whose name holds a secret word, or a value from
    ansible-vault. An undefined variable is left to the role's argument specs and checks."
  - Runs on the controller only, in check mode too; changes nothing.
version_added: 0.4.0
author: PATN infrastructure team
options:
  spec:
    description:
      - The spec file. Default, C(meta/config_inputs.yml) of the role the task belongs to.
    type: path
  entry_point:
    description: The entry point of the role whose variables are checked (C(main), C(restore), ...).
    type: str
    default: main
attributes:
  check_mode:
    support: full
  diff_mode:
    support: none
"""

EXAMPLES = r"""
# roles/router/tasks/main.yml, before any file is written:
- name: Check the values that go into configuration files
  patn.infra.config_inputs:
  tags: [always]

# roles/router/meta/config_inputs.yml:
#   main:
#     checked:
#       router__wan_interface: interface
#       router__dns_domain: dns_name
#       router__dns_records: {keys: dns_name, values: ipv4}
#       router__segments:
#         keys: name
#         values: {fields: {vlan: vlan, gateway: ipv4, dhcp_pool: {items: ipv4}}}
#     unchecked:
#       router__zone_policy: only its names reach the file, checked through router__segments

# A refusal (the host, then one line per value):
#   justice-tgi-pnr-rtr1: 1 value cannot go into a configuration file (nothing was written):
#     router__dns_domain: 'tgi-pnr.justice.patn.cg" ...' is not a DNS name (...)
"""

RETURN = r"""
checked:
  description: The variables checked (defined ones), in the spec's order.
  type: list
  elements: str
  returned: always
  sample: [router__wan_interface, router__dns_domain]
refused:
  description: One line per refused value, naming the variable and what its file allows (never a secret).
  type: list
  elements: str
  returned: always
  sample: ["router__wan_interface: 'eth0\\n' is not an interface name (...)"]
"""

if __name__ == "__main__":
    # The work is done by the action plugin of the same name, on the controller.
    import json
    import sys

    print(
        json.dumps({"failed": True, "msg": "patn.infra.config_inputs runs on the controller (action plugin)"})
    )
    sys.exit(1)
