# Copyright: PATN infrastructure team
# Apache License 2.0
"""What a value may be before it is written into a configuration file.

The roles write inventory values into files read by nftables, Unbound, Kea,
hostapd, FreeRADIUS, nginx, systemd, sshd, chrony, rsyslog, PostgreSQL and
environment files. In every one of them a line break, or a quote or a brace
in the wrong place, ends the value and starts a new directive, rule or key:
"enp2s0\n chain evil {" in an interface name adds an nftables chain. Each
value is therefore checked against a kind that says what the file allows
there, before any file is written (action patn.infra.config_inputs, fed by
each role's meta/config_inputs.yml).

A spec says what one variable holds:

    KIND                       one value of that kind (see KINDS)
    KIND?                      that, or the empty string
    KIND|KIND                  one of either kind
    {items: SPEC}              a list, each element SPEC
    {keys: KIND, values: SPEC} a mapping: its keys KIND, its values SPEC
    {fields: {NAME: SPEC}}     a mapping: these fields, when present, SPEC
                               (other fields reach no file and are not read)

None (a YAML null) passes everywhere: it writes no text of its own.
"""

from __future__ import annotations

import ipaddress
import re
from collections.abc import Callable, Mapping, Sequence

# Control characters (C0, DEL, C1) and the Unicode line and paragraph
# separators: any of them can end a line for one reader or another.
_BREAKS = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")
# One token of a configuration line: no space, quote, brace, semicolon,
# comment sign, variable sign, backslash or shell metacharacter.
_WORD = r"[A-Za-z0-9][A-Za-z0-9._:@+=,/-]*"
# Host names have no "_", but DNS names may (bzv-hq.affaires_sociales.patn.cg): it ends nothing.
_LABEL = r"[A-Za-z0-9_](?:[A-Za-z0-9_-]{0,61}[A-Za-z0-9_])?"
_DNS_NAME = rf"{_LABEL}(?:\.{_LABEL})*\.?"
_PATH = r"/[A-Za-z0-9._/@+,:=-]*"
DNS_NAME_MAX = 253
SSID_MAX_BYTES = 32
# A refused value is shown up to this length.
SHOWN_MAX = 80


def _regex(pattern: str) -> Callable[[str], bool]:
    compiled = re.compile(pattern)
    return lambda text: compiled.fullmatch(text) is not None


def _line(text: str) -> bool:
    return not _BREAKS.search(text)


def _address(kind, strict: bool = True) -> Callable[[str], bool]:
    """A test with the ipaddress module, on text of digits, dots, colons and one slash."""

    def test(text: str) -> bool:
        if not re.fullmatch(r"[0-9A-Fa-f.:]+(/[0-9]{1,3})?", text):
            return False
        try:
            kind(text, strict) if kind in (ipaddress.IPv4Network, ipaddress.ip_network) else kind(text)
        except ValueError:
            return False
        return True

    return test


def _in_range(low: int, high: int) -> Callable[[str], bool]:
    return lambda text: re.fullmatch(r"-?[0-9]+", text) is not None and low <= int(text) <= high


def _host_port(text: str) -> bool:
    host, _, port = text.rpartition(":")
    host = host[1:-1] if host.startswith("[") and host.endswith("]") else host
    return bool(host) and _in_range(1, 65535)(port) and (KINDS["host"][0](host) or KINDS["ip"][0](host))


def _dns_name(text: str) -> bool:
    return len(text) <= DNS_NAME_MAX and re.fullmatch(_DNS_NAME, text) is not None


def _ssid(text: str) -> bool:
    return _line(text) and 1 <= len(text.encode()) <= SSID_MAX_BYTES


# kind -> (test of its text, what it is, for the refusal)
KINDS: dict[str, tuple[Callable[[str], bool], str]] = {
    "name": (_regex(r"[a-z][a-z0-9_]{0,62}"), "a name (a lower-case letter, then letters, digits or '_')"),
    "identifier": (_regex(r"[a-z_][a-z0-9_]{0,62}"), "an identifier (lower-case letters, digits and '_')"),
    "slug": (_regex(r"[a-z0-9][a-z0-9_-]{0,28}"), "a short name (lower-case letters, digits, '_', '-')"),
    "user_name": (
        _regex(r"[a-z_][a-z0-9_-]{0,31}"),
        "a user or group name (lower-case letters, digits, '_', '-')",
    ),
    "file_name": (
        _regex(r"[A-Za-z0-9][A-Za-z0-9._-]{0,127}"),
        "a file name (letters, digits, '.', '_', '-')",
    ),
    "unit_name": (_regex(r"[A-Za-z0-9][A-Za-z0-9_.@:-]{0,250}"), "a systemd unit name"),
    "interface": (
        _regex(r"[A-Za-z0-9_][A-Za-z0-9_.-]{0,14}"),
        "an interface name (15 letters, digits, '.', '_', '-')",
    ),
    "ipv4": (_address(ipaddress.IPv4Address), "an IPv4 address"),
    "ipv4_network": (_address(ipaddress.IPv4Network), "an IPv4 network (address/prefix, no host bits)"),
    "ipv4_interface": (
        lambda text: "/" in text and _address(ipaddress.IPv4Interface)(text),
        "an IPv4 address with its prefix length",
    ),
    "ip": (_address(ipaddress.ip_address), "an IP address"),
    "any_address": (lambda text: text == "*", "'*' (every address)"),
    "ip_network": (_address(ipaddress.ip_network), "an IP network (address/prefix, no host bits)"),
    "dns_name": (_dns_name, "a DNS name (labels of letters, digits, '-' and '_', separated by dots)"),
    "host": (
        lambda text: _dns_name(text) or _address(ipaddress.ip_address)(text),
        "a host name or an IP address",
    ),
    "host_port": (_host_port, "a host and its port (host:port)"),
    "server_name": (
        lambda text: text == "_" or _dns_name(text.removeprefix("*.")),
        "a server name (a DNS name, *.name or _)",
    ),
    "mac": (_regex(r"[0-9A-Fa-f]{2}(:[0-9A-Fa-f]{2}){5}"), "a MAC address (aa:bb:cc:dd:ee:ff)"),
    "integer": (_regex(r"-?[0-9]+"), "an integer"),
    "port": (_in_range(1, 65535), "a port (1-65535)"),
    "vlan": (_in_range(1, 4094), "a VLAN id (1-4094)"),
    "prefix_length": (_in_range(0, 32), "an IPv4 prefix length (0-32)"),
    "url": (
        _regex(r"https?://[A-Za-z0-9._~:/?@!&()*+,=%\[\]-]+"),
        "an http(s) URL without spaces, quotes, ';', braces, '$' or '#'",
    ),
    "url_path": (_regex(r"/[A-Za-z0-9._~/?=&%+-]*"), "a URL path"),
    "path": (_regex(_PATH), "an absolute path (letters, digits and ._/@+,:=-)"),
    "word": (_regex(_WORD), "one word (letters, digits and ._:@+=,/-)"),
    "words": (_regex(rf"{_WORD}( {_WORD})*"), "words separated by single spaces"),
    "size": (_regex(r"[0-9]+[KkMmGgTt]?"), "a size (a number, then k, m, g or t)"),
    "timespan": (_regex(r"[0-9]+ ?[a-z]*( [0-9]+ ?[a-z]*)*"), "a time span (30min, 1h 30min)"),
    "clock_time": (_regex(r"now|[0-2]?[0-9]:[0-5][0-9]"), "a time of day (HH:MM)"),
    "prometheus_duration": (
        _regex(r"([0-9]+(ms|s|m|h|d|w|y))+"),
        "a Prometheus duration (a number and ms, s, m, h, d, w or y: 30s, 1h30m)",
    ),
    "prometheus_size": (
        _regex(r"[0-9]+(B|KB|MB|GB|TB|PB|EB)"),
        "a Prometheus size (a number and B, KB, MB, GB or TB)",
    ),
    "email": (
        lambda text: (
            re.fullmatch(r"[A-Za-z0-9._%+-]+@(.+)", text) is not None and _dns_name(text.rpartition("@")[2])
        ),
        "an e-mail address (name@domain)",
    ),
    "timezone": (_regex(r"[A-Za-z0-9_+-]+(/[A-Za-z0-9_+-]+)*"), "a time zone (Area/City)"),
    "country": (_regex(r"[A-Z]{2}"), "a country code (two capital letters)"),
    "ssid": (_ssid, "an SSID (one line, 1 to 32 bytes)"),
    "wpa_passphrase": (_regex(r"[\x20-\x7e]{8,63}"), "a WPA passphrase (8 to 63 printable ASCII characters)"),
    "line": (_line, "one line of text (no line break or control character)"),
    "quoted": (
        lambda text: _line(text) and '"' not in text and "\\" not in text,
        "one line of text without '\"' or '\\' (it is written between double quotes)",
    ),
    "gecos": (lambda text: _line(text) and ":" not in text, "one line of text without ':'"),
    "env_name": (_regex(r"[A-Za-z_][A-Za-z0-9_]*"), "an environment variable name"),
    "env_value": (
        lambda text: _line(text) and not text.endswith("\\"),
        "one line of text not ending with '\\' (a second line would be a second variable)",
    ),
    "ssh_public_key": (
        lambda text: (
            _line(text) and re.fullmatch(r"(ssh|ecdsa|sk)-[A-Za-z0-9@.-]+ [A-Za-z0-9+/]+={0,3}( .*)?", text)
        ),
        "an SSH public key on one line (type, key, comment)",
    ),
    "sysctl_key": (_regex(r"[a-z0-9_][a-z0-9_./-]*"), "a kernel parameter name"),
    "sysctl_value": (lambda text: _line(text) and "=" not in text, "one line of text without '='"),
    "radius_user": (_regex(r"[A-Za-z0-9._@-]+"), "an account name (letters, digits, . _ @ -)"),
    "version": (
        lambda text: ".." not in text and re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._+~-]*", text) is not None,
        "a version (letters, digits and ._+~-, no '/')",
    ),
    "wireguard_key": (
        _regex(r"[A-Za-z0-9+/]{42}[AEIMQUYcgkosw048]="),
        "a WireGuard key (44 characters of base64)",
    ),
    "snapshot": (_regex(r"latest|[0-9a-f]{8,64}"), "latest or a snapshot id"),
    "restic_repository": (
        _regex(rf"{_PATH}|[a-z0-9]+:[^\s\"'\\]+"),
        "a restic repository (an absolute path, or backend:address without spaces or quotes)",
    ),
}

_FORMS = ("items", "keys", "values", "fields")
# Kinds of free text, where secrets live (passwords, shared secrets, a URL's
# credentials): a refused value of these kinds is never shown.
FREE_TEXT = frozenset(
    {"line", "quoted", "env_value", "wpa_passphrase", "gecos", "sysctl_value", "restic_repository", "url"}
)


class SpecError(ValueError):
    """A spec that does not follow the grammar of this module."""


def spec_problems(spec, where: str) -> list[str]:
    """What is wrong with a spec (unknown kinds or forms), each prefixed with where."""
    if isinstance(spec, str):
        names = spec.removesuffix("?").split("|")
        return [f"{where}: unknown kind '{name}'" for name in names if name not in KINDS]
    if not isinstance(spec, Mapping) or not spec or set(spec) - set(_FORMS):
        return [f"{where}: a spec is a kind or a mapping of {', '.join(_FORMS)}, not {spec!r}"]
    if "items" in spec and len(spec) == 1:
        return spec_problems(spec["items"], f"{where}[]")
    if "fields" in spec and len(spec) == 1 and isinstance(spec["fields"], Mapping):
        return [
            problem
            for name, field in spec["fields"].items()
            for problem in spec_problems(field, f"{where}.{name}")
        ]
    if set(spec) == {"keys", "values"} and isinstance(spec["keys"], str):
        return spec_problems(spec["keys"], f"{where} (keys)") + spec_problems(spec["values"], f"{where}.*")
    return [
        f"{where}: items and fields stand alone (fields as a mapping); keys (a kind) and values go together"
    ]


def check(
    name: str, value, spec, hidden: Callable[[str, object], bool] = lambda _where, _value: False
) -> list[str]:
    """The refusals of one variable's value against its spec: '<where>: <why>', never an empty list
    for a value a file cannot hold. hidden(where, value) says when a value must not be shown."""
    return _check(name, value, spec, hidden)


def _check(where: str, value, spec, hidden) -> list[str]:
    if value is None:
        return []
    if isinstance(spec, str):
        return _check_kind(where, value, spec, hidden)
    if "items" in spec:
        return _check_list(where, value, spec["items"], hidden)
    if not isinstance(value, Mapping):
        return [f"{where}: {_shown(where, value, hidden)} is not a mapping"]
    if "fields" in spec:
        return [
            problem
            for field, field_spec in spec["fields"].items()
            if field in value
            for problem in _check(f"{where}.{field}", value[field], field_spec, hidden)
        ]
    problems = []
    for key, item in value.items():
        problems += _check_kind(f"{where} key", key, spec["keys"], hidden)
        problems += _check(
            f"{where}.{key}" if _line(str(key)) else f"{where}[{key!r}]", item, spec["values"], hidden
        )
    return problems


def _check_list(where: str, value, spec, hidden) -> list[str]:
    if isinstance(value, str | bytes | Mapping) or not isinstance(value, Sequence):
        return [f"{where}: {_shown(where, value, hidden)} is not a list"]
    return [
        problem
        for index, item in enumerate(value)
        for problem in _check(f"{where}[{index}]", item, spec, hidden)
    ]


def _check_kind(where: str, value, spec: str, hidden) -> list[str]:
    optional = spec.endswith("?")
    names = spec.removesuffix("?").split("|")
    if isinstance(value, bool) or not isinstance(value, str | int | float):
        return [f"{where}: {_shown(where, value, hidden)} is not one value ({_described(names)})"]
    text = str(value)
    if (optional and text == "") or any(KINDS[name][0](text) for name in names):
        return []
    free = any(name in FREE_TEXT for name in names)
    return [f"{where}: {_shown(where, value, hidden, free)} is not {_described(names)}"]


def _described(names: list[str]) -> str:
    return " or ".join(KINDS[name][1] for name in names)


def _shown(where: str, value, hidden, free_text: bool = False) -> str:
    if free_text or hidden(where, value):
        return "the value (not shown: it may be a secret)"
    text = repr(value) if isinstance(value, str | int | float | bool) else type(value).__name__
    return text if len(text) <= SHOWN_MAX else text[: SHOWN_MAX - 3] + "..."
