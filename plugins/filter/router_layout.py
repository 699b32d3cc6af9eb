# Copyright: PATN infrastructure team
# Apache License 2.0
"""A site router's layout from its inputs: interfaces, fixed leases, networkd files, input problems
(filter router_layout)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: router_layout
short_description: A site router's layout from its inputs (interfaces, fixed leases, networkd files, problems)
version_added: 0.4.0
author: PATN infrastructure team
description:
  - The values roles/router derives from its inputs (roles/router/vars/main.yml), computed in Python
    so that each rule has unit tests instead of living in Jinja loops. Returns a dict, one key per
    value (see RETURN).
  - Refuses input of the wrong type (not a dict, not a list) naming the input; an operator's wrong
    values are returned in C(segment_problems) and C(reservation_duplicates), never raised, so that the
    role's checks name the host and the site.
positional: _input
options:
  _input:
    description: The site's segments, name to segment (zone, vlan, dhcp_pool, ...), from the registry.
    type: dict
    required: true
  binding:
    description: How the segments reach the router, C(vlan) (on O(trunk)) or C(port) (O(ports)).
    type: str
    required: true
  ports:
    description: Segment name to interface, with binding C(port).
    type: dict
    default: {}
  trunk:
    description: The trunk interface, with binding C(vlan).
    type: str
    default: ""
  access_points:
    description: The site's access points (host, address, mac), from the registry.
    type: list
    elements: dict
    default: []
  reservations:
    description: The manual fixed leases (segment, name, mac, address).
    type: list
    elements: dict
    default: []
  access_point_segment:
    description: The segment of the access points' management addresses.
    type: str
    default: management
  uplinks:
    description:
      - "The uplinks, primary first, each with C(name) (C(wan) or C(wan2), its file's name), C(interface)
        and C(mode) (C(dhcp), C(static), C(pppoe) or C(none)). Their addresses stay in the role's variables
        (a missing one fails only its file)."
      - One networkd file each, but none for mode C(none) (the platform configures it).
    type: list
    elements: dict
    default: []
  staging_dir:
    description: Where the candidate files are rendered before they are put in place.
    type: str
    default: /etc/patn-router
  zone_policy:
    description: The zone policy, zone name to its rules.
    type: dict
    default: {}
"""

EXAMPLES = r"""
router__layout: >-
  {{ router__segments | patn.infra.router_layout(binding=router__segment_binding,
     ports=router__segment_ports, trunk=router__trunk_interface, zone_policy=router__zone_policy) }}
router__segment_interfaces: "{{ router__layout.segment_interfaces }}"
"""

RETURN = r"""
segment_interfaces:
  description: >-
    Each segment's interface. With binding C(vlan), C(TRUNK.VLAN); with binding C(port), the port
    O(ports) names. An empty string where there is none (no port named, no trunk, a segment without
    its VLAN), listed in C(segment_problems).
  type: dict
  sample: {guest: trunk0.30, staff: trunk0.20}
dhcp_reservations:
  description: >-
    Every fixed lease, the access points that have a MAC first (on O(access_point_segment), the MAC
    in lower case), then O(reservations) as they are.
  type: list
  elements: dict
reservation_duplicates:
  description: Each address or MAC that two fixed leases claim, with the two that claim it.
  type: list
  elements: str
  sample: ["10.64.84.10 (access point justice-tgi-pnr-ap1 and router__dhcp_reservations entry sw1)"]
network_files:
  description: >-
    The systemd-networkd files of the interfaces, each with its template, its candidate (C(src), under
    O(staging_dir)) and where networkd reads it (C(dest)); C(key) and C(value) name the segment for the
    segment templates, and the uplink for C(uplink.network.j2).
  type: list
  elements: dict
segment_problems:
  description: What is wrong with the segments, their binding and the zone policy, for an operator to act on.
  type: list
  elements: str
"""

from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

NETWORK_DIR = "/etc/systemd/network/"


def _mapping(what, value):
    if not isinstance(value, Mapping):
        raise AnsibleFilterError(f"router_layout: {what} must be a dict, got {type(value).__name__}")
    return value


def _sequence(what, value):
    if not isinstance(value, list):
        raise AnsibleFilterError(f"router_layout: {what} must be a list, got {type(value).__name__}")
    return value


def router_segment_interfaces(segments, binding, ports, trunk):
    """Segment name to interface (see DOCUMENTATION)."""
    _mapping("the segments", segments)
    if binding == "port":
        ports = _mapping("the segment ports", ports or {})
        return {name: ports.get(name) or "" for name in sorted(segments)}
    # No trunk, or a segment without its VLAN: no interface (a problem), never "eth1.None".
    return {
        name: f"{trunk}.{segments[name]['vlan']}" if trunk and segments[name].get("vlan") is not None else ""
        for name in sorted(segments)
    }


def router_dhcp_reservations(access_points, manual, segment):
    """Every fixed lease: the access points with a MAC, then the manual ones."""
    _sequence("the access points", access_points)
    _sequence("the manual reservations", manual)
    from_registry = [
        {
            "segment": segment,
            "name": point["host"],
            "mac": str(point["mac"]).lower(),
            "address": point["address"],
        }
        for point in access_points
        if point.get("mac")
    ]
    return from_registry + list(manual)


def router_reservation_duplicates(access_points, manual, segment):
    """Each address or MAC two fixed leases claim, with both claimants."""
    from_registry = router_dhcp_reservations(access_points, [], segment)
    claimants = [("access point ", lease) for lease in from_registry] + [
        ("router__dhcp_reservations entry ", lease) for lease in manual
    ]
    seen, duplicates = {}, []
    for kind, lease in claimants:
        who = kind + str(lease.get("name"))
        keys = [str(lease[field]).lower() for field in ("address", "mac") if lease.get(field)]
        for key in keys:
            if key in seen:
                duplicates.append(f"{key} ({seen[key]} and {who})")
            else:
                seen[key] = who
    return duplicates


def router_network_files(segments, binding, uplinks, staging_dir):
    """The systemd-networkd files of the interfaces, each with template, src and dest."""
    _mapping("the segments", segments)
    staged = f"{staging_dir}/network/"
    files = []
    for name in sorted(segments):
        kinds = ["network", "netdev"] if binding == "vlan" else ["network"]
        for kind in kinds:
            file_name = f"20-patn-{name}.{kind}"
            files.append(
                {
                    "template": f"segment.{kind}.j2",
                    "key": name,
                    "value": segments[name],
                    "src": staged + file_name,
                    "dest": NETWORK_DIR + file_name,
                }
            )
    if binding == "vlan":
        files.append(
            {
                "template": "trunk.network.j2",
                "src": staged + "10-patn-trunk.network",
                "dest": NETWORK_DIR + "10-patn-trunk.network",
            }
        )
    for uplink in _sequence("the uplinks", uplinks):
        if uplink.get("mode") == "none":
            continue  # the platform configures it (the lab)
        file_name = f"10-patn-{uplink['name']}.network"
        files.append(
            {
                "template": "uplink.network.j2",
                "key": uplink["name"],
                "value": uplink,
                "src": staged + file_name,
                "dest": NETWORK_DIR + file_name,
            }
        )
    return files


def router_segment_problems(segments, binding, interfaces, zone_policy, trunk=""):
    """What is wrong with the segments, their binding and the zone policy."""
    _mapping("the segments", segments)
    _mapping("the interfaces", interfaces)
    problems = []
    if not segments:
        problems.append("no segments: router__segments is empty (the registry gives a site its segments)")
    if binding not in ("vlan", "port"):
        problems.append(f"router__segment_binding is {binding!r}: it must be 'vlan' or 'port'")
    without_interface = [name for name in sorted(interfaces) if interfaces[name] == ""]
    if without_interface and binding == "port":
        problems.append(
            "with binding 'port', router__segment_ports must name the interface of each segment"
            f" (missing: {without_interface})"
        )
    if without_interface and binding == "vlan":
        if not trunk:
            problems.append("with binding 'vlan', router__trunk_interface must name the trunk interface")
        without_vlan = [name for name in without_interface if segments[name].get("vlan") is None]
        if without_vlan:
            problems.append(
                "with binding 'vlan', every segment needs its VLAN (vlan in the registry's segment)"
                f" (missing: {without_vlan})"
            )
    policy = zone_policy if isinstance(zone_policy, Mapping) else {}
    if not policy:
        problems.append(
            "The zone policy comes from the registry (patn_zone_policy, zone_policy of national.yml):"
            " missing: patn_zone_policy is not set, so this host is not from the registry"
            " (or give it router__zone_policy)"
        )
    else:
        zones = [segments[name].get("zone") for name in sorted(segments)]
        missing_zones = list(dict.fromkeys(zone for zone in zones if zone not in policy))
        if missing_zones:
            problems.append(
                f"every segment's zone needs an entry in router__zone_policy (missing: {missing_zones});"
                " the zone policy comes from the registry (zone_policy of national.yml):"
                f" zones {list(policy)}"
            )
    return problems


OPTIONS = {
    "ports": {},
    "trunk": "",
    "access_points": [],
    "reservations": [],
    "access_point_segment": "management",
    "uplinks": [],
    "staging_dir": "/etc/patn-router",
    "zone_policy": {},
}


def router_layout(segments, binding, **options):
    """Every derived value of a site router, in one dict (see RETURN)."""
    unknown = sorted(set(options) - set(OPTIONS))
    if unknown:
        raise AnsibleFilterError(f"router_layout: unknown option(s) {unknown} (known: {sorted(OPTIONS)})")
    # Only a missing or null option takes its default: a wrong one is refused or reported.
    given = dict(OPTIONS)
    given.update((name, value) for name, value in options.items() if value is not None)
    interfaces = router_segment_interfaces(segments, binding, given["ports"], given["trunk"])
    points, manual, segment = given["access_points"], given["reservations"], given["access_point_segment"]
    return {
        "segment_interfaces": interfaces,
        "dhcp_reservations": router_dhcp_reservations(points, manual, segment),
        "reservation_duplicates": router_reservation_duplicates(points, manual, segment),
        "network_files": router_network_files(segments, binding, given["uplinks"], given["staging_dir"]),
        "segment_problems": router_segment_problems(
            segments, binding, interfaces, given["zone_policy"], given["trunk"]
        ),
    }


class FilterModule:
    """patn.infra.router_layout."""

    def filters(self):
        return {"router_layout": router_layout}
