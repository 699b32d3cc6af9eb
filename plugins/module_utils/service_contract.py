# Copyright: PATN infrastructure team
# Apache License 2.0
"""The cross-host contract of `make validate`: every service a host is told
to use is allowed by the rulesets on the path between the two.

Both sides come from the files the roles render (scripts/validate renders
them; this module reads text only, without Ansible):

- the flows, from what each client's configuration tells it to use:
  chrony's servers (NTP), rsyslog's forwarding target (syslog), hostapd's
  RADIUS servers, restic's repository (backups), apt's sources given by
  address (the data centre's package cache), the spoke's WireGuard
  endpoint (the tunnel), Unbound's forwarders (DNS), and Kea's options for
  the DHCP clients of each segment (DHCP, DNS, NTP from the router); plus
  what the data centre opens towards every device: its node exporter
  (metrics scrape, on the address and port it listens on) and SSH
  (administration), from the data centre's administration prefixes, the
  `admin_prefixes` set of the device's router (router__admin_prefixes);
- the verdict, from the routers' rendered rulesets (nft_ruleset): the
  source router's output chain, the forward chain of every router on the
  way, the destination router's input chain, each with the interface the
  packet arrives on and leaves by (a segment's VLAN or port, the WAN, the
  WireGuard interface), and WireGuard's own filter (the sender must be in
  its peer's AllowedIPs) where the path crosses the tunnel. The answer is
  checked too (ct state established, back from where the request ended).

Routing, as on the devices: a router delivers to its own addresses (input),
to its segments' networks, to the tunnel when a peer's AllowedIPs hold the
address (longest prefix), else to the WAN. A router's own traffic leaves
with the address of its outgoing interface (the tunnel address through the
tunnel). Other devices reach the router of their segment; where one has a
host firewall (roles/base, HOST_RULESET), a request delivered to it must
also pass that ruleset's input chain (its output accepts everything). A
representative address stands for a prefix: its last host; for the DHCP
clients of a segment, the first address of the pool.
"""

from __future__ import annotations

import ipaddress
import json
import re
from dataclasses import dataclass, field

from .nft_ruleset import Packet, Ruleset, parse

# Where the daemons read the files this module reads (Debian's places).
RULESET = "/etc/nftables.d/patn-candidate.nft"
HOST_RULESET = "/etc/nftables.d/patn-host.nft"
CHRONY = "/etc/chrony/chrony.conf"
NODE_EXPORTER = "/etc/default/prometheus-node-exporter"
SSHD = "/etc/ssh/sshd_config"
KEA = "/etc/kea/kea-dhcp4.conf"
APT_SOURCES = "/etc/apt/sources.list.d/debian.sources"
LOOPBACK = "lo"
BROADCAST = "255.255.255.255"
EPHEMERAL_PORT = 40000
MAX_ROUTERS = 8
# Stand-ins on the internet side of the tunnel (documentation prefixes,
# RFC 5737): the spoke's WAN address after NAT, and a hub endpoint given as
# a name.
WAN_SOURCE = "198.51.100.1"
NAMED_ENDPOINT = "192.0.2.1"
PLACEHOLDER_PREFIX = "placeholder-"


class ContractError(ValueError):
    """Input the contract cannot be computed from (named, never silent)."""


@dataclass
class Segment:
    name: str
    interface: str
    network: ipaddress.IPv4Network
    gateway: str
    zone: str


@dataclass
class Peer:
    host: str
    allowed: list[ipaddress.IPv4Network]
    endpoint: str = ""


@dataclass
class Router:
    name: str
    ruleset: Ruleset
    segments: list[Segment]
    wan: str  # the primary uplink's interface: the routes out of the site
    tunnel: str = ""  # WireGuard interface, "" without a tunnel
    tunnel_address: str = ""
    management_address: str = ""
    listen_port: int = 0
    peers: list[Peer] = field(default_factory=list)
    # Every uplink's interface, the primary first: the tunnel may leave by
    # each of them (the second one after a failover).
    wans: list[str] = field(default_factory=list)

    def addresses(self) -> set[str]:
        own = {segment.gateway for segment in self.segments} | {"127.0.0.1"}
        return own | {address for address in (self.tunnel_address, self.management_address) if address}

    def segment_of(self, address: str) -> Segment | None:
        ip = ipaddress.ip_address(address)
        found = [segment for segment in self.segments if ip in segment.network]
        return max(found, key=lambda segment: segment.network.prefixlen) if found else None

    def peer_for(self, address: str) -> Peer | None:
        """The tunnel peer whose AllowedIPs hold the address (longest prefix)."""
        ip = ipaddress.ip_address(address)
        candidates = [
            (network.prefixlen, peer) for peer in self.peers for network in peer.allowed if ip in network
        ]
        return max(candidates, key=lambda candidate: candidate[0])[1] if candidates else None

    def peer_named(self, name: str) -> Peer | None:
        return next((peer for peer in self.peers if peer.host == name), None)

    def route(self, address: str) -> tuple[str, Peer | None]:
        """The interface a packet to the address leaves by, and the tunnel peer."""
        segment = self.segment_of(address)
        if segment is not None:
            return segment.interface, None
        peer = self.peer_for(address) if self.tunnel else None
        return (self.tunnel, peer) if peer else (self.wan, None)

    def source_for(self, interface: str) -> str:
        """The address the router's own packets carry out of an interface."""
        if interface == self.tunnel:
            return self.tunnel_address
        gateways = [segment.gateway for segment in self.segments if segment.interface == interface]
        return gateways[0] if gateways else WAN_SOURCE


@dataclass
class Host:
    """What the contract knows of a host: its address and its rendered files."""

    name: str
    address: str  # management address, from the registry
    files: dict[str, str]  # device path -> text
    router: Router | None = None
    firewall: Ruleset | None = None  # a device's host firewall (HOST_RULESET)


@dataclass
class Flow:
    service: str
    client: str  # a host name, or who stands for the clients
    server: str  # address
    protocol: str
    port: int
    declared: str  # host and file that tell the client to use it
    source: str = ""  # the client's address ("" for a router: from its route)
    router: str = ""  # with interface: a client that is not a host, arriving there
    interface: str = ""
    peer: str = ""  # for the tunnel itself: its far end (the hub)

    def describe(self) -> str:
        return f"{self.service}: {self.client} -> {self.server} {self.protocol}/{self.port}"


@dataclass
class Verdict:
    flow: Flow
    passed: bool
    host: str = ""  # whose ruleset (or tunnel) drops it
    chain: str = ""
    reason: str = ""
    direction: str = "request"  # request | reply

    def describe(self) -> str:
        if self.passed:
            return f"{self.flow.describe()} ({self.direction}): allowed"
        where = f"{self.host}, {self.chain}" if self.chain else self.host
        return (
            f"{self.flow.describe()} ({self.direction}) dropped by {where}: {self.reason}"
            f" [declared in {self.flow.declared}]"
        )


@dataclass
class Note:
    """A flow that cannot be checked offline, and why (not a failure)."""

    host: str
    file: str
    message: str


# --- reading the routers ----------------------------------------------------------------


def wireguard_peers(text: str, names: list[str]) -> tuple[int, list[Peer]]:
    """ListenPort and [Peer] sections of a wg-quick file, named in order."""
    listen_port = 0
    sections: list[dict] = []
    for raw in text.splitlines():
        line = raw.split("#", 1)[0].strip()
        if line.startswith("["):
            if line == "[Peer]":
                sections.append({})
            continue
        key, _, value = (part.strip() for part in line.partition("="))
        if sections:
            sections[-1][key] = value
        elif key == "ListenPort":
            listen_port = int(value)
    if len(sections) != len(names):
        raise ContractError(f"{len(sections)} [Peer] sections for {len(names)} peers ({', '.join(names)})")
    peers = []
    for name, section in zip(names, sections, strict=True):
        allowed = [item.strip() for item in section.get("AllowedIPs", "").split(",") if item.strip()]
        peers.append(
            Peer(
                name,
                [ipaddress.ip_network(item, strict=False) for item in allowed],
                section.get("Endpoint", ""),
            )
        )
    return listen_port, peers


def load_router(name: str, files: dict[str, str], variables: dict) -> Router:
    """A router from its rendered ruleset and tunnel, and its role's variables
    (router__segments, router__segment_interfaces, router__wan_devices (else router__wan_interface),
    router__tunnel_enabled, router__tunnel_interface, router__tunnel_address,
    router__tunnel_mode, router__tunnel_hub, router__tunnel_spokes,
    patn_management_address)."""
    segments = [
        Segment(
            segment_name,
            variables["router__segment_interfaces"][segment_name],
            ipaddress.ip_network(segment["network"]),
            segment["gateway"],
            segment["zone"],
        )
        for segment_name, segment in sorted(variables["router__segments"].items())
    ]
    wans = list(variables.get("router__wan_devices") or [variables["router__wan_interface"]])
    router = Router(
        name=name,
        ruleset=parse(files[RULESET]),
        segments=segments,
        wan=wans[0],
        wans=wans,
        management_address=variables.get("patn_management_address", ""),
    )
    if variables.get("router__tunnel_enabled"):
        router.tunnel = variables["router__tunnel_interface"]
        router.tunnel_address = variables["router__tunnel_address"]
        path = f"/etc/wireguard/{router.tunnel}.conf"
        if path in files:
            hub = variables["router__tunnel_mode"] == "hub"
            names = list(variables["router__tunnel_spokes"]) if hub else [variables["router__tunnel_hub"]]
            try:
                router.listen_port, router.peers = wireguard_peers(files[path], names)
            except ValueError as error:
                raise ContractError(f"{path}: {error}") from error
    return router


def load_firewall(files: dict[str, str]) -> Ruleset | None:
    """A device's host firewall (roles/base), when it has one."""
    return parse(files[HOST_RULESET]) if HOST_RULESET in files else None


# --- the flows each client is told to use -----------------------------------------------


def _is_address(value: str) -> bool:
    try:
        ipaddress.ip_address(value)
    except ValueError:
        return False
    return True


def last_host(prefix: str) -> str:
    """The address that stands for a prefix: its last host."""
    network = ipaddress.ip_network(prefix, strict=False)
    return str(network[-2] if network.num_addresses > 2 else network[-1])  # noqa: PLR2004 - /31 and /32 have no broadcast


class _Found:
    """The flows and notes of one host, as its files are read."""

    def __init__(self, host: Host):
        self.host = host
        self.flows: list[Flow] = []
        self.notes: list[Note] = []

    def note(self, path: str, message: str) -> None:
        self.notes.append(Note(self.host.name, path, message))

    def use(self, service: str, server: str, protocol: str, port, path: str) -> None:
        """The host is told to use server:port for service (by path)."""
        if PLACEHOLDER_PREFIX in server:
            self.note(path, f"{service}: the server is a vault placeholder ({server}): not checked")
        elif not _is_address(server):
            self.note(path, f"{service}: {server} is a name, resolved on the device: not checked")
        else:
            self.flows.append(
                Flow(service, self.host.name, server, protocol, int(port), f"{self.host.name}: {path}")
            )


def _chrony(found: _Found, path: str, text: str) -> None:
    for match in re.finditer(r"^(?:server|pool)\s+(\S+)", text, re.M):
        found.use("NTP", match.group(1), "udp", 123, path)


def _rsyslog(found: _Found, path: str, text: str) -> None:
    if 'type="omfwd"' not in text:
        return
    target = re.search(r'target="([^"]*)"', text)
    port = re.search(r'port="(\d+)"', text)
    protocol = re.search(r'protocol="(\w+)"', text)
    found.use(
        "syslog",
        target.group(1),
        protocol.group(1) if protocol else "udp",
        port.group(1) if port else 514,
        path,
    )


def _hostapd(found: _Found, path: str, text: str) -> None:
    for kind, service in (("auth", "RADIUS authentication"), ("acct", "RADIUS accounting")):
        servers = re.findall(rf"^{kind}_server_addr=(\S+)", text, re.M)
        ports = re.findall(rf"^{kind}_server_port=(\d+)", text, re.M)
        for server, port in zip(servers, ports, strict=False):
            found.use(service, server, "udp", port, path)


def _restic(found: _Found, path: str, text: str) -> None:
    """restic's repository: sftp:[user@]host:path, rest:http(s)://host[:port]/, s3:https://host/..."""
    match = re.search(r"^RESTIC_REPOSITORY=(.*)$", text, re.M)
    repository = match.group(1).strip("'\"") if match else ""
    if not repository or repository.startswith("/"):
        return  # on the server itself: no flow
    # The server is read first: a placeholder for the URL's credentials
    # (the vault's) leaves the address to check.
    if match := re.fullmatch(r"sftp:(?:[^@]+@)?([^:/]+):.*", repository):
        found.use("backup", match.group(1), "tcp", 22, path)
    elif match := re.fullmatch(
        r"(?:rest:|s3:)?(https?)://(?:[^@/]+@)?([^:/]+)(?::(\d+))?(?:/.*)?", repository
    ):
        scheme, server, port = match.groups()
        found.use("backup", server, "tcp", port or (443 if scheme == "https" else 80), path)
    elif PLACEHOLDER_PREFIX in repository:
        found.note(path, f"backup: the repository is a vault placeholder ({repository}): not checked")
    else:
        found.note(path, f"backup: repository {repository!r} is not understood: not checked")


def _apt_sources(found: _Found, path: str, text: str) -> None:
    """apt's sources (deb822 URIs). A source given by address is the data
    centre's package cache; a name is a mirror on the internet, reached by
    the host's own way out, which no ruleset of the inventory decides."""
    servers = set()
    for uri in re.findall(r"^URIs:\s*(.+)$", text, re.M):
        for scheme, server, port in re.findall(r"(https?)://([^:/\s]+)(?::(\d+))?", uri):
            if _is_address(server):
                servers.add((server, int(port or (443 if scheme == "https" else 80))))
    for server, port in sorted(servers):
        found.use("packages", server, "tcp", port, path)


def _unbound(found: _Found, path: str, text: str) -> None:
    for server in re.findall(r"^\s*forward-addr:\s*([^\s@#]+)", text, re.M):
        found.use("DNS forwarding", server, "udp", 53, path)
        found.use("DNS forwarding", server, "tcp", 53, path)


def _wireguard(found: _Found, path: str, _text: str) -> None:
    """A spoke's tunnel: its own packets to the hub's endpoint, by the WAN."""
    router = found.host.router
    if router is None or len(router.peers) != 1:
        return  # the hub answers; it dials no endpoint
    peer = router.peers[0]
    if not peer.endpoint:
        found.note(path, f"WireGuard: no Endpoint for {peer.host}: the tunnel cannot come up")
        return
    address, _, port = peer.endpoint.rpartition(":")
    server = address if _is_address(address) else NAMED_ENDPOINT
    declared = f"{found.host.name}: {path}"
    found.flows.append(Flow("tunnel", found.host.name, server, "udp", int(port), declared, peer=peer.host))


def _kea(found: _Found, path: str, text: str) -> None:
    """The DHCP clients of each subnet: DHCP from the router, and the DNS and
    NTP servers Kea hands them."""
    config = json.loads("\n".join(line for line in text.splitlines() if not line.lstrip().startswith("//")))
    for subnet in config["Dhcp4"].get("subnet4", []):
        interface = subnet["interface"]
        pools = subnet.get("pools") or [{"pool": last_host(subnet["subnet"])}]
        client = pools[0]["pool"].split("-")[0].strip()
        who = f"DHCP clients of {found.host.name} {interface}"
        declared = f"{found.host.name}: {path}"
        common = {"router": found.host.name, "interface": interface}
        found.flows.append(Flow("DHCP", who, BROADCAST, "udp", 67, declared, source="0.0.0.0", **common))
        options = {option["name"]: option["data"] for option in subnet.get("option-data", [])}
        for option, service, protocols, port in (
            ("domain-name-servers", "DNS", ("udp", "tcp"), 53),
            ("ntp-servers", "NTP", ("udp",), 123),
        ):
            for server in (item.strip() for item in options.get(option, "").split(",") if item.strip()):
                for protocol in protocols:
                    found.flows.append(
                        Flow(service, who, server, protocol, port, declared, source=client, **common)
                    )


# Each client file, by where its daemon reads it, and its reader.
READERS = (
    (lambda path: path == CHRONY, _chrony),
    (lambda path: path.startswith("/etc/rsyslog.d/"), _rsyslog),
    (lambda path: path.startswith("/etc/hostapd/") and path.endswith(".conf"), _hostapd),
    (lambda path: path.startswith("/etc/restic/") and path.endswith(".env"), _restic),
    (lambda path: path == APT_SOURCES, _apt_sources),
    (lambda path: path.startswith("/etc/unbound/"), _unbound),
    (lambda path: path.startswith("/etc/wireguard/") and path.endswith(".conf"), _wireguard),
    (lambda path: path == KEA, _kea),
)


def client_flows(host: Host) -> tuple[list[Flow], list[Note]]:
    """The services a host's own files tell it to use."""
    found = _Found(host)
    for path, text in sorted(host.files.items()):
        for applies, reader in READERS:
            if applies(path):
                reader(found, path, text)
    return found.flows, found.notes


def data_centre_flows(host: Host, router: Router | None) -> tuple[list[Flow], list[Note]]:
    """What the data centre opens to a device: the metrics scrape of its
    node exporter, from each monitoring prefix of its router (the
    administration prefixes when it has none), and SSH, from each
    administration prefix."""
    found = _Found(host)
    if router is None:
        found.note("", "no router has a segment holding its address: the data centre's flows are not checked")
        return found.flows, found.notes
    targets = []
    exporter = re.search(r"--web\.listen-address=(\S+):(\d+)", host.files.get(NODE_EXPORTER, ""))
    if exporter and exporter.group(1) in ("127.0.0.1", "localhost", "::1"):
        found.note(NODE_EXPORTER, "metrics scrape: the exporter listens on this host only")
    elif exporter:
        address = host.address if exporter.group(1) == "0.0.0.0" else exporter.group(1)
        targets.append(("metrics scrape", address, int(exporter.group(2)), NODE_EXPORTER))
    if SSHD in host.files:
        port = re.search(r"^Port\s+(\d+)", host.files[SSHD], re.M)
        targets.append(("administration (SSH)", host.address, int(port.group(1)) if port else 22, SSHD))
    prefixes = [str(network) for network in router.ruleset.sets.get("admin_prefixes", [])]
    scrapers = [str(network) for network in router.ruleset.sets.get("monitoring_prefixes", [])] or prefixes
    if targets and not prefixes:
        found.note(
            RULESET, f"{router.name} has no administration prefix: nobody may scrape or administer the host"
        )
    for service, address, port, path in targets:
        for prefix in scrapers if path == NODE_EXPORTER else prefixes:
            who = f"the data centre ({prefix})"
            declared = f"{host.name}: {path}"
            found.flows.append(Flow(service, who, address, "tcp", port, declared, source=last_host(prefix)))
    return found.flows, found.notes


# --- the path -----------------------------------------------------------------------------------


@dataclass
class _Hop:
    """A packet at a router: arriving on interface ("" for the router's own)."""

    router: Router
    interface: str
    packet: Packet


class Network:
    """Every router of the inventory, and where each device sits."""

    def __init__(self, hosts: dict[str, Host]):
        self.hosts = hosts
        self.routers = {name: host.router for name, host in hosts.items() if host.router is not None}
        self.firewalls = {host.address: host for host in hosts.values() if host.firewall is not None}

    def router_of(self, address: str) -> tuple[Router, Segment] | None:
        """The router with a segment holding the address (the most specific)."""
        placed = [(router, router.segment_of(address)) for router in self.routers.values()]
        placed = [(router, segment) for router, segment in placed if segment is not None]
        return max(placed, key=lambda item: item[1].network.prefixlen) if placed else None

    def check(self, flow: Flow) -> list[Verdict]:
        """The flow's verdicts: the request, then (when it passes) the reply."""
        if flow.peer:
            return self._check_tunnel(flow)
        start = self._start(flow)
        if isinstance(start, Verdict):
            return [start]
        request, end = self._trace(flow, start, "request")
        if not request.passed or end is None or flow.service == "DHCP":
            return [request]
        # The answer goes back from where the request ended, to its source.
        answer = Packet(
            flow.server, end.packet.saddr, flow.protocol, EPHEMERAL_PORT, flow.port, state="established"
        )
        reply, _ = self._trace(flow, _Hop(end.router, end.interface, answer), "reply")
        return [request, reply]

    def _start(self, flow: Flow) -> _Hop | Verdict:
        """Where the flow's first packet meets a router."""
        packet = Packet(flow.source, flow.server, flow.protocol, flow.port, EPHEMERAL_PORT)
        if flow.router:
            return _Hop(self.routers[flow.router], flow.interface, packet)
        client = self.hosts.get(flow.client)
        if client is not None and client.router is not None:
            return _Hop(client.router, "", packet)  # the router's own traffic
        address = flow.source or (client.address if client else "")
        placed = self.router_of(address)
        if placed is None:
            return Verdict(
                flow, False, flow.client, "", f"no router has a segment holding its address {address}"
            )
        router, segment = placed
        if router.segment_of(flow.server) is segment and flow.server not in router.addresses():
            # The same segment: no router on the way, the device's own firewall only.
            packet = Packet(address, flow.server, flow.protocol, flow.port, EPHEMERAL_PORT)
            return self._delivered(flow, packet)
        return _Hop(
            router, segment.interface, Packet(address, flow.server, flow.protocol, flow.port, EPHEMERAL_PORT)
        )

    def _trace(self, flow: Flow, hop: _Hop, direction: str) -> tuple[Verdict, _Hop | None]:
        """Follow a packet from router to router. Returns the verdict and,
        when it passes, where its answer starts (router, interface it arrives
        on, and the packet whose source is to be answered)."""
        for _router in range(MAX_ROUTERS):
            outcome = self._step(flow, hop, direction)
            if not isinstance(outcome, _Hop):
                return outcome if isinstance(outcome, tuple) else (outcome, None)
            hop = outcome
        return Verdict(
            flow, False, hop.router.name, "routing", f"more than {MAX_ROUTERS} routers on the way", direction
        ), None

    def _step(self, flow: Flow, hop: _Hop, direction: str):
        """One router: its chains, then delivery, or the next router."""
        router, packet, own = hop.router, hop.packet, hop.interface == ""
        daddr = packet.daddr
        local = daddr in router.addresses() or daddr == BROADCAST
        out, peer = ("", None) if local else router.route(daddr)
        # The kernel's choice of source for the router's own packets.
        source = packet.saddr or (daddr if local else router.source_for(out))
        iif = (LOOPBACK if local else "") if own else hop.interface
        hook = "input" if local else ("output" if own else "forward")
        packet = Packet(source, daddr, packet.protocol, packet.dport, packet.sport, iif, out, packet.state)
        outcome = router.ruleset.evaluate(hook, packet)
        if not outcome.accepted:
            where = " ".join(
                part for part in (f"iif {iif}" if iif else "", f"oif {out}" if out else "") if part
            )
            return Verdict(
                flow, False, router.name, f"chain {outcome.chain} ({where})", outcome.reason, direction
            )
        passed = Verdict(flow, True, direction=direction)
        if local:
            return passed, _Hop(router, "", packet)  # answered by the router itself
        if out == router.tunnel:
            return self._through_tunnel(flow, router, peer, packet, direction)
        if out == router.wan and ipaddress.ip_address(daddr).is_private:
            return Verdict(
                flow,
                False,
                router.name,
                "routing",
                f"no route to {daddr}: it would leave by the WAN",
                direction,
            )
        # Out of a segment (to the device there, through its host firewall
        # if it has one) or to the internet: the answer comes back in by the
        # same interface.
        if direction == "request":
            delivered = self._delivered(flow, packet)
            if not delivered.passed:
                return delivered
        return passed, _Hop(router, out, packet)

    def _delivered(self, flow: Flow, packet: Packet) -> Verdict:
        """A request reaching a device: its host firewall's input chain, if any."""
        device = self.firewalls.get(packet.daddr)
        if device is None:
            return Verdict(flow, True)
        arriving = Packet(packet.saddr, packet.daddr, packet.protocol, packet.dport, packet.sport)
        outcome = device.firewall.evaluate("input", arriving)
        if outcome.accepted:
            return Verdict(flow, True)
        return Verdict(flow, False, device.name, f"host firewall, chain {outcome.chain}", outcome.reason)

    def _through_tunnel(self, flow: Flow, router: Router, peer: Peer, packet: Packet, direction: str):
        far = self.routers.get(peer.host)
        if far is None:
            return Verdict(flow, False, router.name, "tunnel", f"peer {peer.host} has no ruleset", direction)
        back = far.peer_named(router.name)
        if back is None or not any(ipaddress.ip_address(packet.saddr) in network for network in back.allowed):
            reason = f"source {packet.saddr} is not in the AllowedIPs of its peer {router.name}"
            return Verdict(flow, False, far.name, f"WireGuard {far.tunnel}", reason, direction)
        return _Hop(far, far.tunnel, packet)

    def _check_tunnel(self, flow: Flow) -> list[Verdict]:
        """The WireGuard transport: the spoke's own packets out of its WAN,
        into the hub's WAN, to the hub's ListenPort; and the hub's answers."""
        spoke, hub = self.routers[flow.client], self.routers.get(flow.peer)
        if hub is None:
            return [Verdict(flow, False, flow.peer, "", "the tunnel's hub has no ruleset")]
        if hub.listen_port and flow.port != hub.listen_port:
            return [
                Verdict(
                    flow,
                    False,
                    hub.name,
                    "WireGuard",
                    f"the hub listens on udp/{hub.listen_port}, not {flow.port}",
                )
            ]
        sport = spoke.listen_port or flow.port
        # Out of each of the spoke's uplinks (a second one after a failover).
        legs = {
            "request": [
                step
                for wan in spoke.wans or [spoke.wan]
                for step in (
                    (spoke, "output", Packet(WAN_SOURCE, flow.server, "udp", flow.port, sport, "", wan)),
                    (hub, "input", Packet(WAN_SOURCE, flow.server, "udp", flow.port, sport, hub.wan, "")),
                )
            ],
            "reply": [
                step
                for wan in spoke.wans or [spoke.wan]
                for step in (
                    (
                        hub,
                        "output",
                        Packet(flow.server, WAN_SOURCE, "udp", sport, flow.port, "", hub.wan, "established"),
                    ),
                    (
                        spoke,
                        "input",
                        Packet(flow.server, WAN_SOURCE, "udp", sport, flow.port, wan, "", "established"),
                    ),
                )
            ],
        }
        verdicts = []
        for direction, steps in legs.items():
            for router, hook, packet in steps:
                outcome = router.ruleset.evaluate(hook, packet)
                if not outcome.accepted:
                    where = f"iif {packet.iif}" if packet.iif else f"oif {packet.oif}"
                    chain = f"chain {outcome.chain} ({where})"
                    return [*verdicts, Verdict(flow, False, router.name, chain, outcome.reason, direction)]
            verdicts.append(Verdict(flow, True, direction=direction))
        return verdicts


def check_all(hosts: dict[str, Host]) -> tuple[list[Verdict], list[Note]]:
    """Every flow of every host, with its verdicts; notes for what cannot be checked."""
    network = Network(hosts)
    verdicts: list[Verdict] = []
    notes: list[Note] = []
    for name in sorted(hosts):
        host = hosts[name]
        flows, found = client_flows(host)
        notes += found
        placed = network.router_of(host.address) if host.address else None
        more, found = data_centre_flows(host, host.router or (placed[0] if placed else None))
        notes += found
        for flow in flows + more:
            verdicts += network.check(flow)
    return verdicts, notes
