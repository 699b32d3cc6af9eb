# Copyright: PATN infrastructure team
# Apache License 2.0
"""JSON Schemas of the site registry files (checked with jsonschema).

national.yml holds the national definitions; each file under sites/ holds
one ministry's sites. The schemas catch the shape (unknown or misspelt
fields, wrong types); registry.py checks the meaning (duplicates, unknown
names, overlaps, capacity, inline secrets).
"""

from __future__ import annotations

import re

from jsonschema import Draft202012Validator, ValidationError, validators

_NAME = {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"}
_CODE = {"type": "string", "pattern": "^[a-z0-9]+(-[a-z0-9]+)*$", "maxLength": 24}
_CIDR = {"type": "string", "pattern": r"^\d{1,3}(\.\d{1,3}){3}/\d{1,2}$"}
_TEXT = {"type": "string", "minLength": 1}
_COUNT = {"type": "integer", "minimum": 0}
_SEGMENT_LIST = {"type": "array", "items": _NAME, "uniqueItems": True, "minItems": 1}
# The zone policy: source zone -> the destinations it may open connections to
# (an empty list: none). registry.py checks the names.
_ZONE_POLICY = {
    "type": "object",
    "propertyNames": _NAME,
    "additionalProperties": {"type": "array", "items": _NAME, "uniqueItems": True},
}
# A unicast MAC address written aa:bb:cc:dd:ee:ff (either case): the low bit of
# the first octet (group) is 0, so its second hex digit is even.
_MAC = {"type": "string", "pattern": "^[0-9A-Fa-f][02468ACEace](:[0-9A-Fa-f]{2}){5}$"}


def _record(required: list[str], properties: dict) -> dict:
    """A closed object: these fields only, some of them required."""
    return {"type": "object", "additionalProperties": False, "required": required, "properties": properties}


def _named(entry: dict) -> dict:
    """A mapping from names (lower case) to entries, with at least one entry."""
    return {"type": "object", "minProperties": 1, "propertyNames": _NAME, "additionalProperties": entry}


_DEVICE_COUNTS = {
    "type": "object",
    "propertyNames": _NAME,
    "additionalProperties": _COUNT,
}

# Where a site's Wi-Fi access points are (for the channel plan): access point
# <number> of the site, its floor (negative below ground), where on the floor,
# the access points it is known to interfere with, and its MAC address (the
# site router's DHCP reservation of its management address).
_ACCESS_POINT = _record(
    ["number"],
    {
        "number": {"type": "integer", "minimum": 1},
        "floor": {"type": "integer"},
        "location": _TEXT,
        "neighbours": {"type": "array", "items": {"type": "integer", "minimum": 1}, "uniqueItems": True},
        "mac": _MAC,
    },
)

# A site's uplink to the Internet (the tunnel to the data centre runs over
# it): dhcp (the ISP box), static (address with its prefix length, and the
# gateway), or pppoe (the user name; the password only as a vault reference,
# checked by registry.py, which also checks which fields each mode takes).
_IPV4 = {"type": "string", "pattern": r"^\d{1,3}(\.\d{1,3}){3}$"}
_UPLINK = _record(
    ["mode"],
    {
        "mode": {"enum": ["dhcp", "static", "pppoe"]},
        "address": _CIDR,
        "gateway": _IPV4,
        "username": {"type": "string", "pattern": r"^[A-Za-z0-9@._+-]{1,128}$"},
        "password": _TEXT,
        "provider": _TEXT,
        "notes": _TEXT,
    },
)
# The site's uplinks: the primary, and an optional second one (an LTE router
# on its own network) that takes over when the primary fails.
_UPLINKS = _record(["primary"], {"primary": _UPLINK, "secondary": _UPLINK})

NATIONAL_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "national.yml: plan, segments, zone policy, device roles, site types, ministries, tunnel hub",
    **_record(
        [
            "address_plan",
            "segments",
            "zone_policy",
            "device_roles",
            "site_types",
            "departments",
            "ministries",
        ],
        {
            "address_plan": _record(
                ["supernet", "ministry_prefix", "site_prefix", "infrastructure_slot"],
                {
                    "supernet": _CIDR,
                    "ministry_prefix": {"type": "integer", "minimum": 1, "maximum": 30},
                    "site_prefix": {"type": "integer", "minimum": 1, "maximum": 30},
                    "infrastructure_slot": {"type": "integer", "minimum": 0},
                    "status": {"enum": ["planned", "approved"]},
                },
            ),
            "segments": _named(
                _record(
                    ["vlan", "prefix", "slot", "zone"],
                    {
                        "vlan": {"type": "integer", "minimum": 1, "maximum": 4094},
                        "prefix": {"type": "integer", "minimum": 16, "maximum": 30},
                        "slot": {"type": "integer", "minimum": 0},
                        "zone": _NAME,
                        "dhcp": {"type": "boolean"},
                        "static_start": {"type": "integer", "minimum": 2},
                        "dhcp_start": {"type": "integer", "minimum": 2},
                        "description": _TEXT,
                    },
                )
            ),
            "zone_policy": _ZONE_POLICY,
            "device_roles": _named(
                _record(
                    ["short_name", "segment", "address"],
                    {
                        "short_name": {"type": "string", "pattern": "^[a-z]+$"},
                        "segment": _NAME,
                        # gateway: host 1 of the segment (the site's router);
                        # reserved: device n gets host first_host + n - 1.
                        "address": {"enum": ["gateway", "reserved"]},
                        "first_host": {"type": "integer", "minimum": 2},
                        "description": _TEXT,
                    },
                )
            ),
            "site_types": _named(
                _record(
                    ["description", "devices", "segments"],
                    {"description": _TEXT, "devices": _DEVICE_COUNTS, "segments": _SEGMENT_LIST},
                )
            ),
            "departments": {"type": "array", "items": _TEXT, "uniqueItems": True, "minItems": 1},
            # The data centre's WireGuard endpoint, as the site routers dial
            # it over the Internet: an IP address (registry.py checks it) and
            # a UDP port. planned until the address is assigned.
            "tunnel_hub": _record(
                ["address", "port", "status"],
                {
                    "address": _TEXT,
                    "port": {"type": "integer", "minimum": 1, "maximum": 65535},
                    "status": {"enum": ["planned", "approved"]},
                    "notes": _TEXT,
                },
            ),
            "ministries": {
                "type": "array",
                "minItems": 1,
                "items": _record(
                    ["key", "slot", "name"],
                    {
                        "key": _NAME,
                        "slot": {"type": "integer", "minimum": 0},
                        "name": _TEXT,
                        "short_name": _TEXT,
                    },
                ),
            },
        },
    ),
}

SITES_SCHEMA = {
    "$schema": "https://json-schema.org/draft/2020-12/schema",
    "title": "sites/<ministry>.yml: one ministry's sites",
    **_record(
        ["ministry", "sites"],
        {
            "ministry": _NAME,
            "sites": {
                "type": "array",
                "items": _record(
                    ["id", "code", "name", "type", "department", "town", "status"],
                    {
                        "id": {"type": "integer", "minimum": 1},
                        "code": _CODE,
                        "name": _TEXT,
                        "type": _NAME,
                        "department": _TEXT,
                        "town": _TEXT,
                        "status": {"enum": ["planned", "active", "decommissioned"]},
                        "devices": _DEVICE_COUNTS,
                        "segments": _SEGMENT_LIST,
                        "prefixes": {"type": "object", "propertyNames": _NAME, "additionalProperties": _CIDR},
                        "binding": {"enum": ["vlan", "port"]},
                        "vars": {"type": "object"},
                        "access_points": {"type": "array", "items": _ACCESS_POINT},
                        "uplinks": _UPLINKS,
                        "notes": _TEXT,
                    },
                ),
            },
        },
    ),
}


# How the registry's schemas are checked, stricter than plain JSON Schema in
# two ways: an integer is an int (77.0 or true are not, though JSON Schema
# takes both), and a pattern matches the whole value (Python's "$" also
# matches before a trailing newline, which would let "tgi-pnr\n" through).


def _is_integer(_checker, instance) -> bool:
    return isinstance(instance, int) and not isinstance(instance, bool)


def _whole_pattern(validator, pattern, instance, _schema):
    if validator.is_type(instance, "string") and not re.fullmatch(pattern, instance):
        yield ValidationError(f"{instance!r} does not match {pattern!r}")


RegistryValidator = validators.extend(
    Draft202012Validator,
    validators={"pattern": _whole_pattern},
    type_checker=Draft202012Validator.TYPE_CHECKER.redefine("integer", _is_integer),
)
