# Copyright: PATN infrastructure team
# Apache License 2.0
"""Documentation of patn.infra.tunnel_peers, an action that runs on the controller (plugins/action)."""

from __future__ import annotations

DOCUMENTATION = r"""
module: tunnel_peers
short_description: The hub's peers from the site routers that answered this run, the others kept as they were
description:
  - Runs on the hub (an action, on the controller). For each site router of O(spokes), takes the
    public key the router itself returned earlier in the run (its O(key_fact), registered by
    C(roles/router/tasks/tunnel_key.yml), which C(playbooks/hub.yml) runs on every router first).
  - A router that did not answer this run (down, unreachable, failed) keeps the key the hub's
    current configuration O(config) gives it, so one site that is down loses nothing and blocks
    no other site. A router with neither gets no peer yet.
  - Warns, naming them, about the routers whose key was not learned this run.
  - Changes nothing; supports check mode.
version_added: 0.3.0
author: PATN infrastructure team
options:
  spokes:
    description: Inventory names of the site routers the hub serves.
    type: list
    elements: str
    required: true
  config:
    description: The hub's current tunnel configuration, read on the hub (missing on a new hub).
    type: path
    default: /etc/wireguard/wg0.conf
  key_fact:
    description: The variable of each router holding the result of its key task (with C(public_key)).
    type: str
    default: router__tunnel_own_key
notes:
  - "The configuration names each peer on the comment line before it (C(# <router>: site ...)), as
    C(roles/router/templates/wireguard.conf.j2) writes it."
"""

EXAMPLES = r"""
- name: Learn the site routers' public keys
  patn.infra.tunnel_peers:
    spokes: "{{ groups['role_router'] }}"
  register: peers

- name: One peer per router with a key
  ansible.builtin.debug:
    msg: "{{ peers.peers | map(attribute='host') | list }}"
"""

RETURN = r"""
peers:
  description: One entry per router that has a key, in the order of O(spokes).
  type: list
  elements: dict
  returned: always
  contains:
    host: {description: Inventory name of the router., type: str}
    public_key: {description: Its public key., type: str}
    learned: {description: The router returned its key in this run (else kept from O(config))., type: bool}
learned:
  description: The routers whose key was learned in this run.
  type: list
  elements: str
  returned: always
kept:
  description: The routers that did not answer and keep their peer as it was.
  type: list
  elements: str
  returned: always
missing:
  description: The routers that did not answer and have no peer yet.
  type: list
  elements: str
  returned: always
"""
