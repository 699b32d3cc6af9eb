# Copyright: PATN infrastructure team
# Apache License 2.0
"""The national address plan, computed with netaddr.

One private supernet is split by ministry (a fixed slot per ministry), each
ministry block by site (the slot is the site id, never reused), each site
block by segment (a fixed slot per segment). Every allocation derives from
stable keys only, so adding, removing or decommissioning a site changes no
other site's addresses, and every address can be explained from the
registry alone:

    site block    = supernet / ministry_prefix [ministry slot] / site_prefix [site id]
    segment block = site block / segment prefix [segment slot]
    host address  = segment block [host index]   (1 is the site router)
    site number   = ministry slot * sites per ministry + site id
    tunnel        = first half of the infrastructure block [site number]

The infrastructure block is one ministry-sized slot kept for the sites'
tunnel addresses (its first half; the second half stays free). Errors name
the prefixes and counts involved.
"""

from __future__ import annotations

from dataclasses import dataclass
from itertools import pairwise

from netaddr import IPAddress, IPNetwork


class PlanError(ValueError):
    """An allocation that cannot be made (no space, out of range, overlap).

    `field` names the registry field at fault when the plan knows it.
    """

    def __init__(self, message: str, field: str | None = None):
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class SegmentSpec:
    """How one segment is carved out of every site block."""

    name: str
    prefix: int
    slot: int
    vlan: int
    zone: str
    dhcp: bool = True
    # Host indexes: 1 is the router; [2, static_start) stay free (set by
    # hand on site); [static_start, dhcp_start) hold the reservations of the
    # site's devices (each device role's first_host is at least
    # static_start); [dhcp_start, last] is the pool.
    static_start: int = 10
    dhcp_start: int = 64


@dataclass(frozen=True)
class Segment:
    """One segment of one site, with every address derived from it."""

    name: str
    vlan: int
    zone: str
    network: IPNetwork
    gateway: IPAddress
    dhcp_pool: tuple[IPAddress, IPAddress] | None

    def host(self, index: int) -> IPAddress:
        """Address of host number `index` of the segment (1 = the router)."""
        if not 1 <= index < self.network.size - 1:
            raise PlanError(
                f"segment {self.name} {self.network} has hosts 1-{self.network.size - 2}, not {index}"
            )
        return IPAddress(self.network.first + index)


class AddressPlan:
    """Allocations of the national plan. Pure computation: no I/O."""

    def __init__(
        self,
        supernet: str,
        ministry_prefix: int,
        site_prefix: int,
        infrastructure_slot: int,
        segments: dict[str, SegmentSpec],
    ):
        self.supernet = IPNetwork(supernet)
        if self.supernet.version != 4:  # noqa: PLR2004 - the plan is IPv4 for now
            raise PlanError(f"supernet {supernet} is not IPv4")
        if self.supernet.network != self.supernet.ip:
            raise PlanError(f"supernet {supernet} has host bits set; use {self.supernet.cidr}")
        if not self.supernet.prefixlen <= ministry_prefix <= site_prefix:
            raise PlanError(
                f"prefix lengths must grow: supernet /{self.supernet.prefixlen}, "
                f"ministry /{ministry_prefix}, site /{site_prefix}"
            )
        self.ministry_prefix = ministry_prefix
        self.site_prefix = site_prefix
        self.ministry_slots = 2 ** (ministry_prefix - self.supernet.prefixlen)
        self.sites_per_ministry = 2 ** (site_prefix - ministry_prefix)
        self.infrastructure_slot = infrastructure_slot
        self.infrastructure = self._ministry_slot_block(infrastructure_slot, "the infrastructure block")
        half = self.infrastructure.prefixlen + 1
        self.tunnel_network = self._nth_subnet(self.infrastructure, half, 0)
        all_sites = self.ministry_slots * self.sites_per_ministry
        if all_sites > self.tunnel_network.size - 2:
            raise PlanError(
                f"{all_sites} possible sites do not fit in the tunnel network {self.tunnel_network} "
                f"({self.tunnel_network.size - 2} addresses): use a longer site prefix",
                "address_plan.site_prefix",
            )
        self.segments = dict(segments)
        self._check_segments()

    # --- blocks -------------------------------------------------------------

    def _ministry_slot_block(self, slot: int, what: str) -> IPNetwork:
        if not 0 <= slot < self.ministry_slots:
            raise PlanError(
                f"{what}: slot {slot} is outside supernet {self.supernet.cidr} split into "
                f"/{self.ministry_prefix}: {self.ministry_slots} blocks (slots 0-{self.ministry_slots - 1})"
            )
        return self._nth_subnet(self.supernet, self.ministry_prefix, slot)

    @staticmethod
    def _nth_subnet(network: IPNetwork, prefix: int, index: int) -> IPNetwork:
        # Arithmetic instead of netaddr's subnet() generator: O(1) per block,
        # which matters for tens of thousands of hosts.
        size = 2 ** (32 - prefix)
        return IPNetwork((network.first + index * size, prefix))

    def ministry_block(self, ministry_slot: int) -> IPNetwork:
        if ministry_slot == self.infrastructure_slot:
            raise PlanError(
                f"ministry slot {ministry_slot} is the infrastructure block {self.infrastructure}"
            )
        return self._ministry_slot_block(ministry_slot, "ministry")

    def site_block(self, ministry_slot: int, site_id: int) -> IPNetwork:
        block = self.ministry_block(ministry_slot)
        if not 1 <= site_id < self.sites_per_ministry:
            count = self.sites_per_ministry
            raise PlanError(
                f"site id {site_id} does not fit: ministry block {block} holds "
                f"{count} sites of /{self.site_prefix} (ids 1-{count - 1})"
            )
        return self._nth_subnet(block, self.site_prefix, site_id)

    def site_number(self, ministry_slot: int, site_id: int) -> int:
        """Nationally unique number of a site, used for its tunnel address."""
        return ministry_slot * self.sites_per_ministry + site_id

    def tunnel_address(self, ministry_slot: int, site_id: int) -> IPAddress:
        return self._numbered(self.tunnel_network, self.site_number(ministry_slot, site_id), "tunnel")

    @staticmethod
    def _numbered(network: IPNetwork, number: int, what: str) -> IPAddress:
        if not 1 <= number < network.size - 1:
            raise PlanError(
                f"{what} network {network} has {network.size - 2} addresses; site number {number}"
            )
        return IPAddress(network.first + number)

    # --- segments -------------------------------------------------------------

    def _check_segments(self) -> None:
        blocks = {}
        for spec in self.segments.values():
            if spec.prefix < self.site_prefix:
                raise PlanError(
                    f"segment {spec.name} /{spec.prefix} is larger than a site block /{self.site_prefix}",
                    f"segments.{spec.name}.prefix",
                )
            count = 2 ** (spec.prefix - self.site_prefix)
            if not 0 <= spec.slot < count:
                raise PlanError(
                    f"segment {spec.name}: a /{self.site_prefix} site block holds {count} "
                    f"blocks of /{spec.prefix} (slots 0-{count - 1}), not slot {spec.slot}",
                    f"segments.{spec.name}.slot",
                )
            size = 2 ** (32 - spec.prefix)
            if not 1 < spec.static_start <= size - 2:
                raise PlanError(
                    f"segment {spec.name} /{spec.prefix} has hosts 1-{size - 2}: "
                    f"static_start {spec.static_start} must be between 2 and {size - 2}",
                    f"segments.{spec.name}.static_start",
                )
            if spec.dhcp and not spec.static_start <= spec.dhcp_start <= size - 2:
                raise PlanError(
                    f"segment {spec.name} /{spec.prefix} has hosts 1-{size - 2}: dhcp_start "
                    f"{spec.dhcp_start} must be between static_start ({spec.static_start}) and {size - 2}",
                    f"segments.{spec.name}.dhcp_start",
                )
            # Offsets inside a site block, to find overlaps once for all sites.
            blocks[spec.name] = (spec.slot * size, (spec.slot + 1) * size - 1)
        names = sorted(blocks, key=lambda n: blocks[n])
        for left, right in pairwise(names):
            if blocks[right][0] <= blocks[left][1]:
                example = self.segment(self._nth_subnet(self.supernet, self.site_prefix, 0), left)
                other = self.segment(self._nth_subnet(self.supernet, self.site_prefix, 0), right)
                raise PlanError(
                    f"segments {left} and {right} overlap in every site "
                    f"(first site block: {example.network} and {other.network})",
                    f"segments.{right}.slot",
                )

    def segment(self, site_block: IPNetwork, name: str, network: IPNetwork | None = None) -> Segment:
        """Segment `name` of a site; `network` replaces the computed block (manual override)."""
        spec = self.segments[name]
        if network is None:
            network = self._nth_subnet(site_block, spec.prefix, spec.slot)
        last_host = network.size - 2
        pool = None
        if spec.dhcp and spec.dhcp_start <= last_host:
            pool = (IPAddress(network.first + spec.dhcp_start), IPAddress(network.first + last_host))
        return Segment(
            name=name,
            vlan=spec.vlan,
            zone=spec.zone,
            network=network,
            gateway=IPAddress(network.first + 1),
            dhcp_pool=pool,
        )


def overlapping(networks: dict[str, IPNetwork]) -> list[tuple[str, str]]:
    """Overlapping pairs, found by sorting (n log n).

    Every network that overlaps another appears in at least one pair, with
    the earlier network reaching furthest; enough to report each once.
    """
    ordered = sorted(networks.items(), key=lambda item: (item[1].first, item[1].last))
    pairs = []
    reach_label, reach_last = None, -1
    for label, network in ordered:
        if network.first <= reach_last:
            pairs.append((reach_label, label))
        if network.last > reach_last:
            reach_label, reach_last = label, network.last
    return pairs
