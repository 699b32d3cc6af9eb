# Copyright: PATN infrastructure team
# Apache License 2.0
"""The site registry: load, validate, and turn into hosts, groups and addresses.

A registry is a folder written by people:

    national.yml        the address plan, segments, zone policy, device roles,
                        site types, departments and ministries; or an overlay:
                        `overlay: <path of another national.yml>` and only the
                        fields that differ from it (the lab's, over production's)
    sites/<key>.yml     one ministry's sites (stable id, code, name, type,
                        department, town, status, optional overrides)

`load()` reads it, `validate()` lists every problem (file, site, field,
message), `build()` produces the inventory. Shared by the inventory plugin
(patn.infra.registry), the reports and the benchmark, so they can never
disagree about an address.
"""

from __future__ import annotations

import ipaddress
import os
import re
import unicodedata
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import yaml
from ansible_collections.patn.infra.plugins.module_utils.address_plan import (
    AddressPlan,
    PlanError,
    SegmentSpec,
    overlapping,
)
from ansible_collections.patn.infra.plugins.module_utils.registry_schema import (
    NATIONAL_SCHEMA,
    SITES_SCHEMA,
    RegistryValidator,
)
from ansible_collections.patn.infra.plugins.module_utils.secret_words import is_secret_name
from netaddr import INET_PTON, AddrFormatError, IPAddress, IPNetwork

# libyaml's safe loader when PyYAML has it: several times faster on big registries.
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)
# A registry file is read whole: a bigger one is no registry (memory stays bounded).
MAX_FILE_BYTES = 16 * 1024 * 1024
# Values that aliases may add to a file once expanded. A legitimate registry
# reuses a few small maps; a "billion laughs" document adds 10**9 and would
# exhaust memory and time in whatever walks it next.
MAX_ALIAS_VALUES = 10_000
VAULT_REFERENCE = re.compile(r"^\{\{\s*vault_[A-Za-z0-9_]+\s*\}\}$")
# The device role whose placement a site's access_points give.
ACCESS_POINT_ROLE = "access_point"
# Zone policy: a source that is not a segment's zone (what arrives through the
# tunnel), and destinations that are not a segment's zone (out of the WAN; the
# data-centre prefixes behind the tunnel). Names as roles/router reads them.
TUNNEL_ZONE = "tunnel"
OUTSIDE_DESTINATIONS = ("internet", "datacentre")
# A site's uplinks: the fields each mode takes besides mode, provider and
# notes (what roles/router needs to bring it up), and the modes a second
# uplink may have (an LTE router on its own network: PPPoE is the primary's).
UPLINK_FIELDS = {"dhcp": (), "static": ("address", "gateway"), "pppoe": ("username", "password")}
SECONDARY_UPLINK_MODES = ("dhcp", "static")
# Without uplinks in the registry, a site takes its address from the ISP box.
DEFAULT_UPLINKS = {"primary": {"mode": "dhcp"}}
# The device role of the data centre's tunnel hub: a static primary uplink of
# its site is the address the routers dial (tunnel_hub of national.yml).
HUB_ROLE = "hub"


@dataclass(frozen=True)
class Problem:
    """One reason a registry is refused, located as precisely as possible."""

    file: str
    message: str
    site: str | None = None
    field: str | None = None

    def __str__(self) -> str:
        where = [self.file]
        if self.site:
            where.append(f"site {self.site}")
        if self.field:
            where.append(f"field '{self.field}'")
        return f"{': '.join(where)}: {self.message}"


class RegistryError(Exception):
    """An invalid registry: nothing of it may be used."""

    def __init__(self, directory: str, problems: list[Problem]):
        self.problems = problems
        lines = "\n".join(f"  - {p}" for p in problems)
        super().__init__(f"site registry {directory} is invalid ({len(problems)} problem(s)):\n{lines}")


@dataclass
class SiteFile:
    path: str
    data: Any


@dataclass
class Registry:
    directory: str
    national_path: str
    national: Any
    site_files: list[SiteFile] = field(default_factory=list)
    # When national.yml is an overlay: the file it lays over, and its own
    # fields (what it changes), so that a problem names the file it comes from.
    national_base_path: str | None = None
    national_overlay: Any = None

    def national_file(self, field_name: str | None) -> str:
        """The national file behind a field ('a.b.0.c'): the overlay's when it sets
        the field or part of it (or the problem is the whole file's), the base's
        when the field is the base's alone."""
        if self.national_base_path is None or not field_name:
            return self.national_path
        node = self.national_overlay
        for part in field_name.split("."):
            if not isinstance(node, dict):
                return self.national_path  # a value the overlay sets whole (lists too)
            if part not in node:
                return self.national_base_path
            node = node[part]
        return self.national_path


# --- loading --------------------------------------------------------------------


class _Refused(Exception):
    """A registry file that cannot be used, and why."""


def _read_yaml(path: Path, shown: str, problems: list[Problem]) -> Any:
    """The file's data, or None with its problem."""
    try:
        return _parse_yaml(_read_text(path))
    except _Refused as refused:
        problems.append(Problem(shown, str(refused)))
    return None


def _read_text(path: Path) -> str:
    """The file's text: readable, not too big, UTF-8."""
    try:
        if path.stat().st_size > MAX_FILE_BYTES:
            raise _Refused(f"is larger than {MAX_FILE_BYTES // 2**20} MiB: no registry file is")
        raw = path.read_bytes()
    except OSError as error:
        raise _Refused(f"cannot be read: {error.strerror}") from None
    try:
        return raw.decode("utf-8")
    except UnicodeDecodeError as error:
        line = raw.count(b"\n", 0, error.start) + 1
        column = error.start - raw.rfind(b"\n", 0, error.start)
        byte = raw[error.start]
        raise _Refused(
            f"is not UTF-8 text (line {line}, column {column}: byte 0x{byte:02x}); save it as UTF-8"
        ) from None


def _parse_yaml(text: str) -> Any:
    """The data of a YAML document, refused before it is built when its aliases would
    expand without bound."""
    loader = _YAML_LOADER(text)  # a safe loader
    try:
        node = loader.get_single_node()
        if node is None:
            return None
        problem = _alias_problem(node)
        if problem:
            raise _Refused(problem)
        return loader.construct_document(node)
    except yaml.YAMLError as error:
        mark = getattr(error, "problem_mark", None)
        where = f" (line {mark.line + 1}, column {mark.column + 1})" if mark else ""
        raise _Refused(f"is not valid YAML{where}: {getattr(error, 'problem', error)}") from None
    finally:
        loader.dispose()


def _alias_problem(root: yaml.Node) -> str | None:
    """Why a composed document's aliases are refused: one that contains itself, or
    more than MAX_ALIAS_VALUES values added once they are expanded. Linear in the
    document's own nodes, whatever the expansion."""
    sizes: dict[int, int] = {}  # node id -> its values once expanded
    path: set[int] = set()  # the nodes being walked, from the root down
    stack: list[tuple[yaml.Node, bool]] = [(root, False)]
    while stack:
        node, finished = stack.pop()
        key = id(node)
        if finished:
            path.discard(key)
            sizes[key] = 1 + sum(sizes[id(child)] for child in _children(node))
            continue
        if key in sizes:
            continue
        if key in path:
            line = node.start_mark.line + 1 if node.start_mark else "?"
            return f"an alias refers to a node that contains it (line {line}): the document never ends"
        path.add(key)
        stack.append((node, True))
        stack.extend((child, False) for child in _children(node) if id(child) not in sizes)
    added = sizes[id(root)] - len(sizes)
    if added > MAX_ALIAS_VALUES:
        return (
            f"its aliases expand it by {added} values, more than the {MAX_ALIAS_VALUES} allowed "
            "(a document that grows without bound when read)"
        )
    return None


def _children(node: yaml.Node) -> list[yaml.Node]:
    if isinstance(node, yaml.SequenceNode):
        return list(node.value)
    if isinstance(node, yaml.MappingNode):
        return [part for pair in node.value for part in pair]
    return []


# The field of national.yml that makes it an overlay of another national.yml.
OVERLAY_FIELD = "overlay"


def overlaid(base: Any, overlay: Any) -> Any:
    """`base` with `overlay` laid over it: mappings merged key by key, any other
    value (a list too) replaced whole by the overlay's."""
    if not (isinstance(base, dict) and isinstance(overlay, dict)):
        return overlay
    merged = dict(base)
    for key, value in overlay.items():
        merged[key] = overlaid(base[key], value) if key in base else value
    return merged


def _read_national(path: Path, problems: list[Problem]) -> tuple[Any, str | None, Any]:
    """national.yml's data, laid over the file it overlays if it is an overlay;
    with that file's path and the overlay's own fields (None, None otherwise)."""
    data = _read_yaml(path, str(path), problems)
    if not (isinstance(data, dict) and OVERLAY_FIELD in data):
        return data, None, None
    own = {key: value for key, value in data.items() if key != OVERLAY_FIELD}
    try:
        base_path, base = _overlay_base(path, data[OVERLAY_FIELD], problems)
    except _Refused as refused:
        problems.append(Problem(str(path), str(refused), field=OVERLAY_FIELD))
        return None, None, None
    if base is None:
        return None, None, None  # unreadable: its own problem names it
    return overlaid(base, own), base_path, own


def _overlay_base(path: Path, named: Any, problems: list[Problem]) -> tuple[str, Any]:
    """The path and data of the national.yml an overlay names. Raises _Refused
    (a problem of the overlay's field) when it names no whole national.yml."""
    if not isinstance(named, str) or not named:
        raise _Refused("must be the path of the national.yml this file changes, relative to this file")
    # Shown as written from here, without the detour ("lab/registry/../../production/...").
    base_path = os.path.normpath(path.parent / named)
    if not Path(base_path).is_file():
        raise _Refused(f"'{named}' is no file ({base_path})")
    known = len(problems)
    base = _read_yaml(Path(base_path), base_path, problems)
    if len(problems) > known:
        return base_path, None  # unreadable: its own problem names it
    if not isinstance(base, dict):
        raise _Refused(f"'{named}' is not a national.yml (a mapping of the national definitions)")
    if OVERLAY_FIELD in base:
        # One level only: what a registry runs on is read from two files at most.
        raise _Refused(f"'{named}' is an overlay itself: an overlay lays over a whole national.yml")
    return base_path, base


def load(directory: str | Path) -> Registry:
    """Read a registry folder. Raises RegistryError when a file cannot be read."""
    top = Path(directory)
    problems: list[Problem] = []
    national_path = top / "national.yml"
    national, base_path, overlay = _read_national(national_path, problems)
    site_files = [
        SiteFile(str(path), _read_yaml(path, str(path), problems))
        for path in sorted((top / "sites").glob("*.yml"))
    ]
    if not site_files and not problems:
        problems.append(Problem(str(top / "sites"), "holds no <ministry>.yml file"))
    if problems:
        raise RegistryError(str(top), problems)
    return Registry(str(top), str(national_path), national, site_files, base_path, overlay)


# --- validation -----------------------------------------------------------------


def _site_label(site: Any) -> str | None:
    if not isinstance(site, dict):
        return None
    # A code or id that is not plain text (a trailing newline) is shown quoted, on one line.
    shown = [
        value if isinstance(value, int | float) or str(value).isprintable() else repr(value)
        for value in (site.get("id", "?"), site.get("code", "?"))
    ]
    return f"{shown[0]} ({shown[1]})"


def _schema_problems(path: str, data: Any, schema: dict) -> list[Problem]:
    problems = []
    validator = RegistryValidator(schema)
    for error in sorted(validator.iter_errors(data), key=lambda e: [str(p) for p in e.absolute_path]):
        location = list(error.absolute_path)
        site = None
        if len(location) >= 2 and location[0] == "sites" and isinstance(location[1], int):  # noqa: PLR2004
            site = _site_label(data["sites"][location[1]])
            location = location[2:]
        problems.append(Problem(path, error.message, site, ".".join(str(p) for p in location) or None))
    return problems


def plan_from(national: dict) -> AddressPlan:
    """The AddressPlan of a (schema-valid) national.yml. Raises PlanError."""
    plan = national["address_plan"]
    specs = {
        name: SegmentSpec(
            name=name,
            prefix=spec["prefix"],
            slot=spec["slot"],
            vlan=spec["vlan"],
            zone=spec["zone"],
            dhcp=spec.get("dhcp", True),
            static_start=spec.get("static_start", SegmentSpec.static_start),
            dhcp_start=spec.get("dhcp_start", SegmentSpec.dhcp_start),
        )
        for name, spec in national["segments"].items()
    }
    return AddressPlan(
        plan["supernet"],
        plan["ministry_prefix"],
        plan["site_prefix"],
        plan["infrastructure_slot"],
        specs,
    )


def _national_problems(path: str, national: dict) -> tuple[list[Problem], AddressPlan | None]:
    try:
        plan = plan_from(national)
    except PlanError as error:
        return [Problem(path, str(error), field=error.field or "address_plan")], None
    except (AddrFormatError, ValueError) as error:
        return [Problem(path, str(error), field="address_plan.supernet")], None
    problems = _ministry_problems(path, national, plan) + _profile_problems(path, national)
    problems += _tunnel_hub_problems(path, national, plan)
    return problems + _zone_policy_problems(path, national), plan


# RFC 5737 and RFC 3849: addresses for examples, never routed.
DOCUMENTATION_NETWORKS = [
    IPNetwork(network) for network in ("192.0.2.0/24", "198.51.100.0/24", "203.0.113.0/24", "2001:db8::/32")
]


def _tunnel_hub_problems(path: str, national: dict, plan: AddressPlan) -> list[Problem]:
    """The hub's endpoint: an IP address outside the plan; a documentation one only planned."""
    hub = national.get("tunnel_hub")
    if hub is None:
        return []
    field = "tunnel_hub.address"
    try:
        address = IPAddress(hub["address"], flags=INET_PTON)
    except (AddrFormatError, ValueError):
        message = (
            f"'{hub['address']}' is not an IP address (the site routers dial the hub before"
            " any resolver is reachable: a DNS name would need the tunnel it opens)"
        )
        return [Problem(path, message, field=field)]
    if address in plan.supernet:
        message = (
            f"{address} is inside the address plan ({plan.supernet}): the tunnel cannot run inside itself"
        )
        return [Problem(path, message, field=field)]
    if hub["status"] == "approved" and any(address in network for network in DOCUMENTATION_NETWORKS):
        message = (
            f"{address} is a documentation address (RFC 5737/3849): it can only be planned, never approved"
        )
        return [Problem(path, message, field="tunnel_hub.status")]
    return []


def _ministry_problems(path: str, national: dict, plan: AddressPlan) -> list[Problem]:
    problems = []
    keys: set[str] = set()
    slots: dict[int, str] = {}
    for index, ministry in enumerate(national["ministries"]):
        where, key, slot = f"ministries.{index}", ministry["key"], ministry["slot"]
        if key in keys:
            problems.append(Problem(path, f"ministry '{key}' is listed twice", field=f"{where}.key"))
        if slot in slots:
            message = f"slot {slot} is given to both '{slots[slot]}' and '{key}'"
            problems.append(Problem(path, message, field=f"{where}.slot"))
        keys.add(key)
        slots.setdefault(slot, key)
        try:
            plan.ministry_block(slot)
        except PlanError as error:
            problems.append(Problem(path, str(error), field=f"{where}.slot"))
    return problems


def _profile_problems(path: str, national: dict) -> list[Problem]:
    """Device roles and site types must name known segments and roles."""
    problems = []
    segments, roles = national["segments"], national["device_roles"]
    for name, role in roles.items():
        if role["segment"] not in segments:
            problems.append(
                Problem(
                    path, _known("segment", role["segment"], segments), None, f"device_roles.{name}.segment"
                )
            )
        elif role["address"] == "reserved" and "first_host" not in role:
            problems.append(
                Problem(path, "a reserved address needs first_host", None, f"device_roles.{name}")
            )
        elif role["address"] == "reserved":
            # Hosts 2 to static_start - 1 are left for addresses set by hand.
            static_start = segments[role["segment"]].get("static_start", SegmentSpec.static_start)
            if role["first_host"] < static_start:
                message = (
                    f"first_host {role['first_host']} is below static_start {static_start} of segment "
                    f"'{role['segment']}': hosts 2-{static_start - 1} are left for addresses set by hand"
                )
                problems.append(Problem(path, message, None, f"device_roles.{name}.first_host"))
    for name, site_type in national["site_types"].items():
        problems += [
            Problem(path, _known("device role", role, roles), None, f"site_types.{name}.devices")
            for role in site_type["devices"]
            if role not in roles
        ]
        problems += [
            Problem(path, _known("segment", segment, segments), None, f"site_types.{name}.segments")
            for segment in site_type["segments"]
            if segment not in segments
        ]
    return problems


def _zone_policy_problems(path: str, national: dict) -> list[Problem]:
    """Zone policy: known sources and destinations, an entry for every segment zone."""
    problems = []
    policy = national["zone_policy"]
    by_zone: dict[str, list[str]] = {}
    for name, segment in national["segments"].items():
        by_zone.setdefault(segment["zone"], []).append(name)
    sources = [*by_zone, TUNNEL_ZONE]
    destinations = [*by_zone, *OUTSIDE_DESTINATIONS]
    for source, allowed in policy.items():
        where = f"zone_policy.{source}"
        if source not in sources:
            message = (
                f"unknown source zone '{source}': no segment is in it and it is not {TUNNEL_ZONE} "
                f"(known: {', '.join(sources)})"
            )
            problems.append(Problem(path, message, field=where))
        problems += [
            Problem(path, _known("destination", destination, destinations), field=where)
            for destination in allowed
            if destination not in destinations
        ]
    for zone, segments in by_zone.items():
        if zone not in policy:
            plural = "s" if len(segments) > 1 else ""
            message = (
                f"zone '{zone}' (segment{plural} {', '.join(segments)}) has no entry; "
                "give it the zones it may reach, [] for none"
            )
            problems.append(Problem(path, message, field=f"zone_policy.{zone}"))
    return problems


def _secret_problems(path: str, site: str, values: Any, trail: str) -> list[Problem]:
    problems = []
    if isinstance(values, dict):
        for key, value in values.items():
            here = f"{trail}.{key}"
            if is_secret_name(key) and not (isinstance(value, str) and VAULT_REFERENCE.match(value)):
                problems.append(
                    Problem(
                        path,
                        "a secret is written inline; put it in an ansible-vault file and "
                        "refer to it here as '{{ vault_<name> }}'",
                        site,
                        here,
                    )
                )
            else:
                problems.extend(_secret_problems(path, site, value, here))
    elif isinstance(values, list):
        for index, value in enumerate(values):
            problems.extend(_secret_problems(path, site, value, f"{trail}.{index}"))
    return problems


def _site_devices(national: dict, site: dict) -> dict[str, int]:
    counts = dict(national["site_types"][site["type"]]["devices"])
    counts.update(site.get("devices", {}))
    return {role: count for role, count in counts.items() if count > 0}


def _site_segments(national: dict, site: dict) -> list[str]:
    return list(site.get("segments") or national["site_types"][site["type"]]["segments"])


def _access_point_count(count: int) -> str:
    if count == 0:
        return "this site has no access point"
    return f"this site has {count} access point{'s' if count > 1 else ''}"


def _uplink_fields(mode: str) -> str:
    fields = UPLINK_FIELDS[mode]
    return (
        f"a {mode} uplink has {' and '.join(fields)}"
        if fields
        else f"a {mode} uplink has none of address, gateway, username, password"
    )


def _uplink_vars(site: dict) -> dict[str, Any]:
    """The site's uplinks as roles/router reads them (patn_uplinks): primary, and secondary when given."""
    return {role: dict(uplink) for role, uplink in (site.get("uplinks") or DEFAULT_UPLINKS).items()}


def uplink_summary(uplink: dict) -> str:
    """One uplink in words, for the reports: how it is addressed; a PPPoE
    password only by the name of the vault variable that holds it."""
    mode = uplink["mode"]
    if mode == "static":
        return f"static {uplink['address']}, gateway {uplink['gateway']}"
    if mode == "pppoe":
        variable = str(uplink.get("password", "")).strip("{} ")
        return f"PPPoE as {uplink.get('username')}, password in ansible-vault ({variable})"
    return "DHCP (the address from the provider's router)"


def _known(kind: str, name: str, known) -> str:
    return f"unknown {kind} '{name}' (known: {', '.join(known)})"


@dataclass(frozen=True)
class _Override:
    """A manual prefix of one site's segment."""

    path: str
    site: str
    field: str
    network: IPNetwork
    block_key: tuple[int, int]


class _SiteChecker:
    """Checks the site files against a sound national.yml, collecting problems."""

    def __init__(self, national: dict, plan: AddressPlan):
        self.national = national
        self.plan = plan
        self.ministries = {m["key"]: m for m in national["ministries"]}
        self.departments = set(national["departments"])
        self.roles = national["device_roles"]
        self.problems: list[Problem] = []
        self.ministry_files: dict[str, str] = {}
        self.blocks: dict[tuple[int, int], str] = {}  # (ministry slot, site id) -> "ministry/label"
        self.own_segments: dict[tuple[int, int], list[tuple[str, IPNetwork]]] = {}
        self.overrides: list[_Override] = []
        self.macs: dict[str, tuple[str, str, str]] = {}  # MAC -> (site, file, access point)

    def report(self, path, message, site=None, field_name=None):
        self.problems.append(Problem(path, message, site, field_name))

    def site_file(self, site_file: SiteFile) -> None:
        path, key = site_file.path, site_file.data["ministry"]
        if key not in self.ministries:
            self.report(path, _known("ministry", key, self.ministries), field_name="ministry")
            return
        if key in self.ministry_files:
            self.report(
                path,
                f"ministry '{key}' already has its sites in {self.ministry_files[key]}",
                None,
                "ministry",
            )
            return
        self.ministry_files[key] = path
        ids: dict[int, str] = {}
        codes: dict[str, str] = {}
        for site in site_file.data["sites"]:
            label = _site_label(site)
            if site["id"] in ids:
                self.report(path, f"id {site['id']} is also used by site {ids[site['id']]}", label, "id")
            if site["code"] in codes:
                self.report(
                    path, f"code '{site['code']}' is also used by site {codes[site['code']]}", label, "code"
                )
            ids.setdefault(site["id"], label)
            codes.setdefault(site["code"], label)
            self.site(path, key, label, site)

    def site(self, path: str, key: str, label: str, site: dict) -> None:
        if site["type"] not in self.national["site_types"]:
            self.report(path, _known("site type", site["type"], self.national["site_types"]), label, "type")
            return
        if site["department"] not in self.departments:
            self.report(
                path, _known("department", site["department"], sorted(self.departments)), label, "department"
            )
        for role in site.get("devices", {}):
            if role not in self.roles:
                self.report(path, _known("device role", role, self.roles), label, f"devices.{role}")
        self.access_points(path, label, site)
        segments = _site_segments(self.national, site)
        unknown = [s for s in segments if s not in self.plan.segments]
        if unknown:
            message = f"unknown segment(s) {', '.join(unknown)} (known: {', '.join(self.plan.segments)})"
            self.report(path, message, label, "segments")
            return
        slot = self.ministries[key]["slot"]
        try:
            block = self.plan.site_block(slot, site["id"])
        except PlanError as error:
            self.report(path, str(error), label, "id")
            return
        self.blocks[(slot, site["id"])] = f"{key}/{label}"
        self.problems += _secret_problems(path, label, site.get("vars", {}), "vars")
        for role, uplink in site.get("uplinks", {}).items():
            self.uplink(path, label, f"uplinks.{role}", role, uplink)
        self.hub_uplink(path, label, site)
        self.capacity(path, label, site, segments)
        self.prefixes(path, label, site, segments, (slot, site["id"]))
        self.own_segments[(slot, site["id"])] = [
            (name, self.plan.segment(block, name).network)
            for name in segments
            if name not in site.get("prefixes", {})
        ]

    def access_points(self, path: str, label: str, site: dict) -> None:
        """Placement of access points the site has, each once, neighbours among them."""
        count = _site_devices(self.national, site).get(ACCESS_POINT_ROLE, 0)
        seen: dict[int, int] = {}
        for index, entry in enumerate(site.get("access_points", [])):
            where, number = f"access_points.{index}", entry["number"]
            if number in seen:
                message = f"access point {number} is listed twice (also access_points.{seen[number]})"
                self.report(path, message, label, f"{where}.number")
            elif number > count:
                message = f"access point {number} does not exist: {_access_point_count(count)}"
                self.report(path, message, label, f"{where}.number")
            seen.setdefault(number, index)
            if "mac" in entry:
                self.access_point_mac(path, label, where, number, entry["mac"].lower())
            for neighbour in entry.get("neighbours", []):
                if neighbour == number:
                    message = f"access point {number} cannot be its own neighbour"
                    self.report(path, message, label, f"{where}.neighbours")
                elif neighbour > count:
                    message = (
                        f"neighbour {neighbour} is not one of this site's access points: "
                        f"{_access_point_count(count)}"
                    )
                    self.report(path, message, label, f"{where}.neighbours")

    def uplink(self, path: str, label: str, where: str, role: str, uplink: dict) -> None:
        """The fields of its mode, all of them; a static address outside the plan; a vault password."""
        mode = uplink["mode"]
        if role == "secondary" and mode not in SECONDARY_UPLINK_MODES:
            message = (
                f"a second uplink is {' or '.join(SECONDARY_UPLINK_MODES)} (PPPoE is the primary's only)"
            )
            self.report(path, message, label, f"{where}.mode")
            return
        wanted = UPLINK_FIELDS[mode]
        for name in (name for fields in UPLINK_FIELDS.values() for name in fields):
            if name in uplink and name not in wanted:
                message = f"a {mode} uplink takes no {name} ({_uplink_fields(mode)})"
                self.report(path, message, label, f"{where}.{name}")
            elif name in wanted and name not in uplink:
                self.report(path, f"missing: {_uplink_fields(mode)}", label, f"{where}.{name}")
        if mode == "pppoe" and "password" in uplink:
            self.problems += _secret_problems(path, label, {"password": uplink["password"]}, where)
        if mode == "static" and "address" in uplink and "gateway" in uplink:
            self.static_uplink(path, label, where, uplink)

    def hub_uplink(self, path: str, label: str, site: dict) -> None:
        """The hub's site: a static primary uplink holds the endpoint the routers dial."""
        primary = site.get("uplinks", {}).get("primary", {})
        hub = self.national.get("tunnel_hub")
        if not hub or HUB_ROLE not in _site_devices(self.national, site) or primary.get("mode") != "static":
            return
        address = str(primary.get("address", "")).split("/", 1)[0]
        if address != hub["address"]:
            message = (
                f"the tunnel hub's uplink address {address} is not tunnel_hub.address {hub['address']} of"
                " national.yml, where the site routers dial it"
            )
            self.report(path, message, label, "uplinks.primary.address")

    def static_uplink(self, path: str, label: str, where: str, uplink: dict) -> None:
        """A host address of its network, outside the plan, and a gateway on that network."""
        try:
            interface = ipaddress.IPv4Interface(uplink["address"])
            gateway = ipaddress.IPv4Address(uplink["gateway"])
        except ValueError as error:
            self.report(path, f"not an IPv4 address: {error}", label, where)
            return
        network = interface.network
        # /31 and /32 have no network or broadcast address (RFC 3021).
        if network.num_addresses > 2 and interface.ip in (network.network_address, network.broadcast_address):  # noqa: PLR2004
            message = f"{interface} is not a host address of {network} (its network or broadcast address)"
            self.report(path, message, label, f"{where}.address")
        elif IPAddress(str(interface.ip)) in self.plan.supernet:
            message = (
                f"{interface.ip} is inside the address plan ({self.plan.supernet}): an uplink's address is"
                " the provider's, outside the plan"
            )
            self.report(path, message, label, f"{where}.address")
        if gateway not in network or gateway == interface.ip:
            message = f"gateway {gateway} is not another address of the uplink's network {network}"
            self.report(path, message, label, f"{where}.gateway")

    def access_point_mac(self, path: str, label: str, where: str, number: int, mac: str) -> None:
        """One access point per MAC address in the whole registry (one DHCP reservation each)."""
        here = (label, path, f"access point {number} ({where})")
        other = self.macs.setdefault(mac, here)
        if other is here:
            return
        owner = other[2] if other[:2] == here[:2] else f"{other[2]} of site {other[0]} ({other[1]})"
        self.report(path, f"MAC address {mac} is also the MAC of {owner}", label, f"{where}.mac")

    def capacity(self, path: str, label: str, site: dict, segments: list[str]) -> None:
        """More devices than their segment holds."""
        for role, count in _site_devices(self.national, site).items():
            spec = self.roles.get(role)
            if spec is None:
                continue  # reported as unknown
            segment = spec["segment"]
            if segment not in segments:
                message = f"device role '{role}' lives in segment '{segment}', which this site does not have"
                self.report(path, message, label, "segments")
            elif spec["address"] == "gateway":
                if count > 1:
                    self.report(
                        path,
                        f"a site has one {role} (the segment gateway), not {count}",
                        label,
                        f"devices.{role}",
                    )
            else:
                seg = self.plan.segments[segment]
                last = (seg.dhcp_start - 1) if seg.dhcp else 2 ** (32 - seg.prefix) - 2
                first = spec["first_host"]
                room = max(0, last - first + 1)
                if count > room:
                    message = (
                        f"{count} {role} devices do not fit: segment {segment} /{seg.prefix} reserves hosts "
                        f"{first}-{last} for them ({room} addresses)"
                    )
                    self.report(path, message, label, f"devices.{role}")

    def prefixes(self, path, label, site, segments, block_key) -> None:
        """Manual prefixes: well formed, the segment's size, collected for overlaps."""
        for name, prefix in site.get("prefixes", {}).items():
            field_name = f"prefixes.{name}"
            if name not in segments:
                self.report(
                    path,
                    f"segment '{name}' is not one of this site's ({', '.join(segments)})",
                    label,
                    field_name,
                )
                continue
            try:
                network = IPNetwork(prefix)
            except (AddrFormatError, ValueError):
                self.report(path, f"'{prefix}' is not a network", label, field_name)
                continue
            expected = self.plan.segments[name].prefix
            if network.ip != network.network:
                self.report(
                    path, f"{prefix} has host bits set; the network is {network.cidr}", label, field_name
                )
            elif network.prefixlen != expected:
                self.report(
                    path,
                    f"{prefix} is a /{network.prefixlen}; segment {name} is a /{expected}",
                    label,
                    field_name,
                )
            else:
                self.overrides.append(_Override(path, label, field_name, network, block_key))

    def override_overlaps(self) -> None:
        """Manual prefixes may overlap neither each other nor the plan's blocks."""
        for left, right in overlapping({index: o.network for index, o in enumerate(self.overrides)}):
            a, b = self.overrides[left], self.overrides[right]
            self.report(
                b.path, f"{b.network} overlaps {a.network} of site {a.site} ({a.path})", b.site, b.field
            )
        for override in self.overrides:
            network = override.network
            for segment_name, own in self.own_segments[override.block_key]:
                if own.first <= network.last and network.first <= own.last:
                    message = f"{network} overlaps this site's segment {segment_name} {own}"
                    self.report(override.path, message, override.site, override.field)
            others = [o for o in _site_blocks_touching(self.plan, network) if o != override.block_key]
            taken = [o for o in others if o in self.blocks]
            for other in taken:
                block = self.plan.site_block(*other)
                message = f"{network} overlaps the block {block} of site {self.blocks[other]}"
                self.report(override.path, message, override.site, override.field)
            if others and not taken:
                # Plan space no site holds yet: a future site would collide.
                message = (
                    f"{network} is inside the supernet {self.plan.supernet} but outside this site's "
                    f"block {self.plan.site_block(*override.block_key)}: a manual prefix must be outside "
                    "the supernet (a legacy network) or inside the site's own block"
                )
                self.report(override.path, message, override.site, override.field)


def validate(registry: Registry) -> list[Problem]:
    """Every problem of the registry; an empty list means it can be used."""
    national = _schema_problems(registry.national_path, registry.national, NATIONAL_SCHEMA)
    problems = _located(registry, national)
    for site_file in registry.site_files:
        problems += _schema_problems(site_file.path, site_file.data, SITES_SCHEMA)
    if problems:
        return problems  # the checks below rely on the shape
    problems, plan = _national_problems(registry.national_path, registry.national)
    if problems or plan is None:
        return _located(registry, problems)  # sites are judged against a sound national.yml only
    checker = _SiteChecker(registry.national, plan)
    for site_file in registry.site_files:
        checker.site_file(site_file)
    checker.override_overlaps()
    return checker.problems


def _located(registry: Registry, problems: list[Problem]) -> list[Problem]:
    """National problems named after the file their field comes from (an overlay or its base)."""
    return [replace(problem, file=registry.national_file(problem.field)) for problem in problems]


def _site_blocks_touching(plan: AddressPlan, network: IPNetwork) -> list[tuple[int, int]]:
    """(ministry slot, site id) of every site block that `network` touches."""
    if network.last < plan.supernet.first or network.first > plan.supernet.last:
        return []
    site_size = 2 ** (32 - plan.site_prefix)
    first = (max(network.first, plan.supernet.first) - plan.supernet.first) // site_size
    last = (min(network.last, plan.supernet.last) - plan.supernet.first) // site_size
    return [divmod(n, plan.sites_per_ministry) for n in range(first, last + 1)]


# --- inventory ------------------------------------------------------------------


def _site_identity(ministry: str, site: dict) -> dict[str, Any]:
    """What names a site, as the registry gives it."""
    fields = ("id", "code", "name", "type", "department", "town", "status")
    return {**{name: site[name] for name in fields}, "ministry": ministry}


def host_name(ministry: str, code: str, short_name: str, number: int) -> str:
    """A device's inventory host name (a DNS name: no '_'): sante-chu-bzv-ap3."""
    return f"{ministry.replace('_', '-')}-{code}-{short_name}{number}"


def site_group_name(ministry: str, code: str) -> str:
    """The inventory group of a site: site_<ministry>_<code>."""
    return f"site_{ministry}_{slug(code)}"


def slug(text: str) -> str:
    """A group-name-safe form of a name: 'Cuvette-Ouest' -> 'cuvette_ouest'."""
    plain = unicodedata.normalize("NFKD", text).encode("ascii", "ignore").decode()
    return re.sub(r"[^a-z0-9]+", "_", plain.lower()).strip("_")


@dataclass
class Inventory:
    hosts: dict[str, dict[str, Any]] = field(default_factory=dict)
    groups: dict[str, list[str]] = field(default_factory=dict)
    children: dict[str, list[str]] = field(default_factory=dict)
    group_vars: dict[str, dict[str, Any]] = field(default_factory=dict)

    def add(self, group: str, host: str) -> None:
        self.groups.setdefault(group, []).append(host)


def _segment_vars(segment) -> dict[str, Any]:
    return {
        "vlan": segment.vlan,
        "zone": segment.zone,
        "network": str(segment.network.cidr),
        "prefix_length": segment.network.prefixlen,
        "netmask": str(segment.network.netmask),
        "gateway": str(segment.gateway),
        "dhcp_pool": [str(a) for a in segment.dhcp_pool] if segment.dhcp_pool else None,
    }


def _access_point_vars(national: dict, ministry: str, site: dict) -> list[dict[str, Any]]:
    """Every access point of a site with its placement and MAC; neighbours both ways, by host name.

    Its management address is added by build(), from the access point's host.
    """
    count = _site_devices(national, site).get(ACCESS_POINT_ROLE, 0)
    if not count:
        return []
    short_name = national["device_roles"][ACCESS_POINT_ROLE]["short_name"]
    names = {n: host_name(ministry, site["code"], short_name, n) for n in range(1, count + 1)}
    placed = {entry["number"]: entry for entry in site.get("access_points", [])}
    neighbours: dict[int, set[int]] = {n: set() for n in names}
    for number, entry in placed.items():
        for other in entry.get("neighbours", []):
            if number in names and other in names and other != number:
                neighbours[number].add(other)
                neighbours[other].add(number)
    return [
        {
            "host": names[n],
            "number": n,
            "floor": placed.get(n, {}).get("floor", 0),
            "location": placed.get(n, {}).get("location", ""),
            "neighbours": sorted(names[other] for other in neighbours[n]),
            "mac": placed[n]["mac"].lower() if "mac" in placed.get(n, {}) else None,
        }
        for n in sorted(names)
    ]


def _national_variables(national: dict) -> dict:
    """Variables of every host: the address plan's supernet, the zone policy, and
    the tunnel hub with the endpoint WireGuard takes (when the registry has one)."""
    variables: dict[str, Any] = {
        "patn_supernet": national["address_plan"]["supernet"],
        "patn_zone_policy": {zone: list(allowed) for zone, allowed in national["zone_policy"].items()},
    }
    if "tunnel_hub" in national:
        hub = national["tunnel_hub"]
        address = str(IPAddress(hub["address"], flags=INET_PTON))
        endpoint = f"[{address}]:{hub['port']}" if ":" in address else f"{address}:{hub['port']}"
        variables["patn_tunnel_hub"] = {
            "address": address,
            "port": hub["port"],
            "status": hub["status"],
            "endpoint": endpoint,
        }
    return variables


def build(registry: Registry, *, check: bool = True) -> Inventory:
    """Hosts, groups and variables of a registry. Validates first unless told not to."""
    if check:
        problems = validate(registry)
        if problems:
            raise RegistryError(registry.directory, problems)
    national = registry.national
    plan = plan_from(national)
    ministries = {m["key"]: m for m in national["ministries"]}
    roles = national["device_roles"]
    # Every device role has its group, even with no device yet (the lab has
    # no backup repository): a playbook for that role finds no host instead
    # of warning that its pattern matches nothing.
    inventory = Inventory(groups={f"role_{role}": [] for role in roles})
    # National, so on the parent of every ministry group: every host sees it.
    inventory.group_vars["ministries"] = _national_variables(national)
    for key, ministry in ministries.items():
        inventory.group_vars[f"ministry_{key}"] = {
            "patn_ministry": key,
            "patn_ministry_name": ministry["name"],
        }
    for site_file in registry.site_files:
        key = site_file.data["ministry"]
        slot = ministries[key]["slot"]
        for site in site_file.data["sites"]:
            if site["status"] == "decommissioned":
                continue  # its block stays reserved: allocations derive from its id
            block = plan.site_block(slot, site["id"])
            segment_names = _site_segments(national, site)
            segments = {
                name: plan.segment(
                    block,
                    name,
                    IPNetwork(site["prefixes"][name]) if name in site.get("prefixes", {}) else None,
                )
                for name in segment_names
            }
            segment_vars = {name: _segment_vars(seg) for name, seg in segments.items()}
            site_vars = {
                **_site_identity(key, site),
                "block": str(block.cidr),
                "tunnel_address": str(plan.tunnel_address(slot, site["id"])),
            }
            site_group = site_group_name(key, site["code"])
            inventory.group_vars[site_group] = {
                "patn_site": site_vars,
                "patn_segments": segment_vars,
                "patn_segment_binding": site.get("binding", "vlan"),
                "patn_access_points": _access_point_vars(national, key, site),
                "patn_uplinks": _uplink_vars(site),
            }
            for role, count in _site_devices(national, site).items():
                spec = roles[role]
                home = segments[spec["segment"]]
                for number in range(1, count + 1):
                    name = host_name(key, site["code"], spec["short_name"], number)
                    if spec["address"] == "gateway":
                        address = home.gateway
                    else:
                        address = home.host(spec["first_host"] + number - 1)
                    # Site-wide data lives once on the site group; the site's own
                    # vars are host vars, so they win over group_vars files.
                    host_vars = {
                        "patn_device_role": role,
                        "patn_device_number": number,
                        "patn_management_address": str(address),
                        "patn_home_segment": spec["segment"],
                        **site.get("vars", {}),
                    }
                    inventory.hosts[name] = host_vars
                    for group in (
                        f"ministry_{key}",
                        site_group,
                        f"site_type_{site['type']}",
                        f"department_{slug(site['department'])}",
                        f"role_{role}",
                        f"status_{site['status']}",
                    ):
                        inventory.add(group, name)
            for access_point in inventory.group_vars[site_group]["patn_access_points"]:
                # What the site router reserves for it: its host's management address.
                access_point["address"] = inventory.hosts[access_point["host"]]["patn_management_address"]
    inventory.children["ministries"] = sorted(f"ministry_{key}" for key in ministries)
    return inventory


def allocations(registry: Registry) -> dict[str, dict[str, Any]]:
    """Every site's allocations, decommissioned ones included, keyed 'ministry/id'.

    What the reports show and what the plan diff compares: the block, the
    segments, the tunnel address, and each device's management address.
    """
    built = build(registry)
    plan = plan_from(registry.national)
    slots = {m["key"]: m["slot"] for m in registry.national["ministries"]}
    table = {}
    for site_file in registry.site_files:
        key = site_file.data["ministry"]
        for site in site_file.data["sites"]:
            group = site_group_name(key, site["code"])
            group_vars = built.group_vars.get(group, {})
            table[f"{key}/{site['id']}"] = {
                **_site_identity(key, site),
                "binding": site.get("binding", "vlan"),
                "manual": sorted(site.get("prefixes", {})),
                "group": group,
                "block": str(plan.site_block(slots[key], site["id"]).cidr),
                "tunnel_address": group_vars.get("patn_site", {}).get("tunnel_address"),
                "uplinks": _uplink_vars(site),
                "segments": group_vars.get("patn_segments", {}),
                "devices": {name: built.hosts[name] for name in sorted(built.groups.get(group, []))},
            }
    return table
