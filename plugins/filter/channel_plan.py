# Copyright: PATN infrastructure team
# Apache License 2.0
"""The Wi-Fi channel plan of one site's access points (filter channel_plan)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: channel_plan
short_description: Wi-Fi channels and transmit power of the access points of one site
version_added: 0.2.0
author: PATN infrastructure team
description:
  - Gives every access point of one site a 2.4 GHz and a 5 GHz channel and a transmit power, so
    that neighbours use different channels whenever the channels allow it.
  - >-
    Neighbour rule: two access points are neighbours when either names the other in its
    C(neighbours), or when both are on the same C(floor). A same-floor pair weighs 2, any other
    named pair weighs 1; the weights only matter when neighbours must share a channel.
  - >-
    Each band is planned on its own with a DSatur-style greedy colouring: repeatedly the uncoloured
    access point with the most distinct neighbour channels (then the highest weighted degree, then
    the lowest C(number)) takes the first channel, in preference order, used by no neighbour. When
    every channel is used by a neighbour it takes the channel of lowest weighted conflict cost
    (ties: preference order). The result is the same whatever the order of the list.
  - >-
    5 GHz uses the channels of O(channels_5) first. The DFS channels of O(channels_5_dfs) are used
    only when O(use_dfs=true) and every channel of O(channels_5) is taken by a neighbour.
  - >-
    An access point that shares its channel with a neighbour transmits 3 dB below O(power_dbm) on
    that band (less co-channel overlap), never below O(min_power_dbm).
  - Invalid input fails with an error that names the access point (or option) and the field.
positional: _input
options:
  _input:
    description:
      - The access points of ONE site, as the registry gives them in C(patn_access_points).
      - Each is a mapping with C(host) (str, unique), C(number) (int, unique), C(floor) (int),
        C(location) (str, informative) and C(neighbours) (list of host names of the same site,
        optional; never the access point itself).
    type: list
    elements: dict
    required: true
  channels_2_4:
    description: 2.4 GHz channels in preference order (each 1-13).
    type: list
    elements: int
    default: [1, 6, 11]
  channels_5:
    description:
      - Non-DFS 5 GHz 20 MHz channels in preference order (36-64, 100-144 or 149-165, steps of 4).
    type: list
    elements: int
    default: [36, 40, 44, 48, 149, 153, 157, 161, 165]
  channels_5_dfs:
    description:
      - DFS 5 GHz 20 MHz channels in preference order, tried after every channel of O(channels_5)
        is taken by a neighbour. Must not repeat a channel of O(channels_5).
    type: list
    elements: int
    default: [52, 56, 60, 64, 100, 104, 108, 112, 116, 120, 124, 128, 132, 136, 140, 144]
  use_dfs:
    description: Allow the DFS channels of O(channels_5_dfs) at all.
    type: bool
    default: true
  power_dbm:
    description:
      - Transmit power per band (keys C('2.4') and C('5')), in dBm, of an access point that shares
        its channel with no neighbour. A partial mapping keeps the default of the other band.
    type: dict
    default: {"2.4": 14, "5": 17}
  min_power_dbm:
    description: Lowest power given to an access point that shares its channel (dBm).
    type: int
    default: 8
"""

EXAMPLES = r"""
- name: Plan the site's Wi-Fi channels
  ansible.builtin.set_fact:
    ap_channels: "{{ patn_access_points | patn.infra.channel_plan }}"

- name: Without DFS channels (a site near a weather radar), lower power
  ansible.builtin.set_fact:
    ap_channels: >-
      {{ patn_access_points | patn.infra.channel_plan(use_dfs=false,
         power_dbm={'2.4': 11, '5': 14}, min_power_dbm=6) }}

# patn_access_points:
#   - {host: hq-ap1, number: 1, floor: 0, location: hall, neighbours: [hq-ap3]}
#   - {host: hq-ap2, number: 2, floor: 0, location: office, neighbours: []}
#   - {host: hq-ap3, number: 3, floor: 1, location: meeting, neighbours: []}
# gives
#   hq-ap1: {"2.4": {channel: 1, power_dbm: 14, shared_with: []},
#            "5": {channel: 36, power_dbm: 17, shared_with: []}}
#   hq-ap2: {"2.4": {channel: 6, ...}, "5": {channel: 40, ...}}
#   hq-ap3: {"2.4": {channel: 6, ...}, "5": {channel: 40, ...}}
- name: The channel of this access point
  ansible.builtin.debug:
    msg: "{{ ap_channels[inventory_hostname]['5'].channel }}"
"""

RETURN = r"""
_value:
  description:
    - Access point host -> band (C('2.4'), C('5')) -> its plan, sorted by host.
    - C(channel) is the channel, C(power_dbm) the transmit power (dBm), C(shared_with) the sorted
      hosts of the neighbours on the same channel (empty when none).
  type: dict
  sample:
    hq-ap1:
      "2.4": {channel: 1, power_dbm: 14, shared_with: []}
      "5": {channel: 36, power_dbm: 17, shared_with: []}
"""

from ansible.errors import AnsibleFilterError
from ansible_collections.patn.infra.plugins.module_utils.channel_plan import ChannelPlanError, plan


def channel_plan(access_points, **options):
    """host -> {'2.4': {channel, power_dbm, shared_with}, '5': {...}}.

    Keyword options: channels_2_4, channels_5, channels_5_dfs, use_dfs,
    power_dbm, min_power_dbm (see DOCUMENTATION).
    """
    try:
        return plan(access_points, **options)
    except ChannelPlanError as error:
        raise AnsibleFilterError(f"channel_plan: {error}") from error


class FilterModule:
    """patn.infra.channel_plan."""

    def filters(self):
        return {"channel_plan": channel_plan}
