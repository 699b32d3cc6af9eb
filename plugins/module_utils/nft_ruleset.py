# Copyright: PATN infrastructure team
# Apache License 2.0
"""The project's nftables rulesets, read and evaluated for one packet.

What the service contract of `make validate` needs (module_utils
service_contract): does a new connection, and its replies, pass the chains
of a router, or of a device's host firewall? The reader supports exactly
what roles/router/templates/nftables.conf.j2 and roles/base/templates/
host-firewall.nft.j2 write: tables of named interval sets and base chains,
and rules made of these matches and statements:

    ct state S[,S] | iif NAME | iifname "I" | oifname "I" (each also with !=)
    ip saddr|daddr [!=] @set | ADDRESS | PREFIX | { A, B }
    tcp|udp dport|sport [!=] N | { N, M } | N-M
    icmp type { T, ... } | icmpv6 type { T, ... }
    limit rate [over] N/UNIT | meter NAME { ip saddr limit rate over N/UNIT }
    log prefix "P" level L | counter | meta priority set C | masquerade
    accept | drop | reject

Anything else is refused with the line it is on (NftError): a rule the
evaluator would misread must never pass silently. The syntax itself is
checked by `nft -c` in the validation container; this reader is about what
the rules mean.

Evaluation is for the first packet of a flow (ct state new) or a reply (ct
state established): a rate limit never stops one packet (`limit rate` under
its rate matches, `limit rate over` does not), logging and marking change
nothing. Pure Python, no Ansible import: scripts and tests use it directly.
"""

from __future__ import annotations

import ipaddress
import re
from dataclasses import dataclass, field

HOOKS = ("prerouting", "input", "forward", "output", "postrouting")
PRIORITIES = {"raw": -300, "mangle": -150, "dstnat": -100, "filter": 0, "security": 50, "srcnat": 100}
VERDICTS = ("accept", "drop", "reject")
PROTOCOLS = ("tcp", "udp")
STATES = {"new", "established", "related", "invalid", "untracked"}
# Words keep their commas ("established,related"); lists split them.
_TOKEN = re.compile(r'"[^"]*"|!=|[{};]|[^\s{};"]+')
_RATE = re.compile(r"\d+/(second|minute|hour|day)")
_METER = ["ip", "saddr", "limit", "rate", "over"]


class NftError(ValueError):
    """A ruleset this reader does not understand, with where and why."""


@dataclass(frozen=True)
class Packet:
    """One packet as the chains see it. iif/oif: interface names ("" when
    the hook has none: no oif on input, no iif on output)."""

    saddr: str
    daddr: str
    protocol: str  # tcp | udp | icmp | icmpv6
    dport: int = 0
    sport: int = 40000
    iif: str = ""
    oif: str = ""
    state: str = "new"  # ct state: new | established


@dataclass
class Rule:
    text: str
    line: int
    matches: list = field(default_factory=list)  # callables: (ruleset, packet) -> bool
    verdict: str | None = None


@dataclass
class Chain:
    table: str
    name: str
    kind: str = ""  # filter | nat | route
    hook: str = ""
    priority: int = 0
    policy: str = "accept"
    rules: list[Rule] = field(default_factory=list)

    @property
    def label(self) -> str:
        return f"{self.table} {self.name}"


@dataclass
class Outcome:
    """The chains' verdict on a packet at a hook."""

    accepted: bool
    chain: str = ""  # the chain that dropped it
    reason: str = ""  # the rule that dropped it, or the policy


@dataclass
class Ruleset:
    sets: dict[str, list] = field(default_factory=dict)  # name -> networks
    chains: list[Chain] = field(default_factory=list)

    def evaluate(self, hook: str, packet: Packet) -> Outcome:
        """Every filter chain of a hook, in priority order: the packet passes
        when none drops it (an accept ends only its own chain)."""
        chains = sorted(
            (c for c in self.chains if c.hook == hook and c.kind != "nat"), key=lambda c: c.priority
        )
        for chain in chains:
            verdict, rule = self._run(chain, packet)
            if verdict != "accept":
                reason = (
                    f"rule '{rule.text}' (line {rule.line})"
                    if rule
                    else f"no rule accepts it, policy {verdict}"
                )
                return Outcome(False, chain.label, reason)
        return Outcome(True)

    def _run(self, chain: Chain, packet: Packet) -> tuple[str, Rule | None]:
        for rule in chain.rules:
            if rule.verdict and all(match(self, packet) for match in rule.matches):
                return rule.verdict, rule
        return chain.policy, None

    def in_set(self, name: str, address: str) -> bool:
        if name not in self.sets:
            raise NftError(f"unknown set @{name}")
        ip = ipaddress.ip_address(address)
        return any(ip in network for network in self.sets[name])


# --- reading the file: tables, sets, chains ----------------------------------------------


def _strip_comment(line: str) -> str:
    """The line without its # comment (outside double quotes)."""
    in_string = False
    for index, char in enumerate(line):
        if char == '"':
            in_string = not in_string
        elif char == "#" and not in_string:
            return line[:index]
    return line


def parse(text: str) -> Ruleset:
    """Read a ruleset as nftables.conf.j2 writes it."""
    reader = _Reader()
    for number, raw in enumerate(text.splitlines(), start=1):
        line = _strip_comment(raw).strip()
        if line:
            reader.read(line, number)
    if reader.open:
        raise NftError(f"unclosed {reader.open[-1]} at the end of the ruleset")
    for name, where in reader.set_references:
        if name not in reader.ruleset.sets:
            raise NftError(f"{where}: unknown set @{name}")
    return reader.ruleset


class _Reader:
    """One line at a time; `open` says what the open braces are."""

    def __init__(self):
        self.ruleset = Ruleset()
        self.open: list[str] = []
        self.table = ""
        self.set_name = ""
        self.set_body: list[str] = []
        self.chain: Chain | None = None
        self.set_references: list[tuple[str, str]] = []  # (set, where), checked at the end

    def read(self, line: str, number: int) -> None:
        where = f"line {number}: {line}"
        inside = self.open[-1] if self.open else "file"
        getattr(self, f"_in_{inside}")(line, number, where)

    def _in_file(self, line: str, _number: int, where: str) -> None:
        if line == "flush ruleset":
            return
        match = re.fullmatch(r"table (?:inet|ip) (\S+) \{", line)
        if not match:
            raise NftError(f"{where}: expected 'table <family> <name> {{'")
        self.table = match.group(1)
        self.open.append("table")

    def _in_table(self, line: str, _number: int, where: str) -> None:
        if line == "}":
            self.open.pop()
        elif match := re.fullmatch(r"set (\S+) \{", line):
            self.set_name, self.set_body = match.group(1), []
            self.open.append("set")
        elif match := re.fullmatch(r"chain (\S+) \{", line):
            self.chain = Chain(self.table, match.group(1))
            self.open.append("chain")
        else:
            raise NftError(f"{where}: expected a set, a chain or '}}'")

    def _in_set(self, line: str, _number: int, where: str) -> None:
        if line != "}":
            self.set_body.append(line)
            return
        self.ruleset.sets[self.set_name] = _set_elements(" ".join(self.set_body), where)
        self.open.pop()

    def _in_chain(self, line: str, number: int, where: str) -> None:
        if line == "}":
            if not self.chain.hook:
                raise NftError(f"{where}: chain {self.chain.name} is not a base chain (no hook)")
            self.ruleset.chains.append(self.chain)
            self.open.pop()
        elif line.startswith("type "):
            _chain_header(self.chain, line, where)
        else:
            rule = _RuleReader(line, number)
            self.chain.rules.append(rule.read())
            self.set_references += [(name, where) for name in rule.sets]


def _set_elements(body: str, where: str) -> list:
    elements = []
    for statement in (part.strip() for part in body.split(";")):
        if statement in ("", "type ipv4_addr", "flags interval"):
            continue
        match = re.fullmatch(r"elements = \{(.*)\}", statement)
        if not match:
            raise NftError(f"{where}: set statement '{statement}' is not understood")
        elements += [_network(element.strip(), where) for element in match.group(1).split(",")]
    return elements


def _network(value: str, where: str):
    try:
        return ipaddress.ip_network(value, strict=False)
    except ValueError as error:
        raise NftError(f"{where}: '{value}' is not an address or prefix") from error


def _chain_header(chain: Chain, line: str, where: str) -> None:
    match = re.fullmatch(r"type (filter|nat|route) hook (\w+) priority ([\w-]+); policy (accept|drop);", line)
    if not match:
        raise NftError(f"{where}: expected 'type T hook H priority P; policy accept|drop;'")
    chain.kind, chain.hook, priority, chain.policy = match.groups()
    if chain.hook not in HOOKS:
        raise NftError(f"{where}: unknown hook {chain.hook}")
    if priority not in PRIORITIES and not re.fullmatch(r"-?\d+", priority):
        raise NftError(f"{where}: unknown priority {priority}")
    chain.priority = PRIORITIES.get(priority) if priority in PRIORITIES else int(priority)


# --- reading one rule ----------------------------------------------------------------------


class _RuleReader:
    """A rule's tokens, read left to right; one method per leading word."""

    def __init__(self, line: str, number: int):
        self.rule = Rule(text=line, line=number)
        self.tokens = _TOKEN.findall(line)
        self.position = 0
        self.where = f"line {number}: {line}"
        self.sets: list[str] = []  # the named sets it refers to

    def read(self) -> Rule:
        while self.position < len(self.tokens):
            token = self._take()
            if self.rule.verdict:
                self._fail(f"'{token}' after the verdict")
            if token in VERDICTS:
                self.rule.verdict = "drop" if token == "reject" else token
                continue
            reader = getattr(self, f"_{token}", None) if token.isidentifier() else None
            if reader is None:
                self._fail(f"'{token}' is not understood")
            reader(token)
        return self.rule

    def _fail(self, message: str):
        raise NftError(f"{self.where}: {message}")

    def _take(self) -> str:
        if self.position >= len(self.tokens):
            self._fail("the rule ends too early")
        self.position += 1
        return self.tokens[self.position - 1]

    def _expect(self, *words: str) -> None:
        for word in words:
            if (token := self._take()) != word:
                self._fail(f"'{word}' expected, not '{token}'")

    def _next_is(self, word: str) -> bool:
        if self.position < len(self.tokens) and self.tokens[self.position] == word:
            self.position += 1
            return True
        return False

    def _values(self) -> list[str]:
        first = self._take()
        if first != "{":
            return [first]
        found = []
        while (token := self._take()) != "}":
            found += [part for part in token.split(",") if part]
        return found

    def _match(self, function) -> None:
        self.rule.matches.append(function)

    # Matches.

    def _ct(self, _token: str) -> None:
        self._expect("state")
        negated = self._next_is("!=")
        states = {state for value in self._values() for state in value.split(",")}
        if not states <= STATES:
            self._fail(f"unknown ct state in {sorted(states)}")
        self._match(lambda _ruleset, packet: (packet.state in states) != negated)

    def _interface(self, token: str) -> None:
        which = "oif" if token == "oifname" else "iif"
        negated = self._next_is("!=")
        given = self._values()
        # iifname and oifname take strings; a bare word is something else (vmap).
        if token != "iif" and not all(value.startswith('"') for value in given):
            self._fail(f"'{token} {given[0]}' is not understood")
        names = [value.strip('"') for value in given]
        self._match(lambda _ruleset, packet: (getattr(packet, which) in names) != negated)

    _iif = _iifname = _oifname = _interface

    def _ip(self, _token: str) -> None:
        field_name = self._take()
        if field_name not in ("saddr", "daddr"):
            self._fail(f"'ip {field_name}' is not understood")
        negated = self._next_is("!=")
        given = self._values()
        if len(given) == 1 and given[0].startswith("@"):
            name = given[0][1:]
            self.sets.append(name)
            self._match(lambda ruleset, packet: ruleset.in_set(name, getattr(packet, field_name)) != negated)
            return
        networks = [_network(value, self.where) for value in given]

        def match(_ruleset, packet) -> bool:
            address = ipaddress.ip_address(getattr(packet, field_name))
            return any(address in network for network in networks) != negated

        self._match(match)

    def _port(self, protocol: str) -> None:
        field_name = self._take()
        if field_name not in ("dport", "sport"):
            self._fail(f"'{protocol} {field_name}' is not understood")
        negated = self._next_is("!=")
        ranges = []
        for value in self._values():
            low, _, high = value.partition("-")
            if not low.isdigit() or (high and not high.isdigit()):
                self._fail(f"port '{value}' is not understood")
            ranges.append((int(low), int(high or low)))

        def match(_ruleset, packet) -> bool:
            if packet.protocol != protocol:
                return False  # a port match implies its protocol
            port = getattr(packet, field_name)
            return any(low <= port <= high for low, high in ranges) != negated

        self._match(match)

    _tcp = _udp = _port

    def _icmp(self, token: str) -> None:
        self._expect("type")
        self._values()
        self._match(lambda _ruleset, packet: packet.protocol == token)

    _icmpv6 = _icmp

    def _limit(self, _token: str) -> None:
        self._expect("rate")
        over = self._next_is("over")
        if not _RATE.fullmatch(self._take()):
            self._fail("a rate N/second|minute|hour|day is expected")
        # One packet is always under a rate: 'over' never matches it.
        self._match(lambda _ruleset, _packet: not over)

    def _meter(self, _token: str) -> None:
        self._take()  # its name
        body = self._values()
        if body[:-1] != _METER or not _RATE.fullmatch(body[-1]):
            self._fail("only 'meter N { ip saddr limit rate over R }' is understood")
        self._match(lambda _ruleset, _packet: False)

    # Statements: no effect on whether a packet passes.

    def _log(self, _token: str) -> None:
        while self._next_is("prefix") or self._next_is("level"):
            self._take()

    def _meta(self, _token: str) -> None:
        self._expect("priority", "set")
        self._take()

    def _counter(self, _token: str) -> None:
        return

    _masquerade = _counter
