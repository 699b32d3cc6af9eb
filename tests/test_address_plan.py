"""The national address plan: worked examples and properties.

The properties run on random registries (hypothesis): allocations never
overlap, and adding, removing or decommissioning sites changes no other
site's addresses.
"""

import copy

import pytest
import yaml
from ansible_collections.patn.infra.plugins.module_utils import registry
from ansible_collections.patn.infra.plugins.module_utils.address_plan import (
    AddressPlan,
    PlanError,
    SegmentSpec,
    overlapping,
)
from conftest import FIXTURES
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from netaddr import IPNetwork

NATIONAL = yaml.safe_load((FIXTURES / "registry" / "base" / "national.yml").read_text())
PLAN = registry.plan_from(NATIONAL)
MINISTRY_SLOTS = [m["slot"] for m in NATIONAL["ministries"]]


# --- worked examples (the numbers an auditor can recompute by hand) ------------


def test_site_block_is_ministry_slot_then_site_id():
    # 10.20.0.0/16 -> /19 per ministry: slot 4 is 10.20.128.0/19;
    # -> /24 per site: id 10 is the 11th /24 of it.
    assert PLAN.site_block(4, 10) == IPNetwork("10.20.138.0/24")


def test_segments_gateway_pool_and_reservations():
    block = PLAN.site_block(4, 10)
    management = PLAN.segment(block, "management")
    assert management.network == IPNetwork("10.20.138.0/26")
    assert str(management.gateway) == "10.20.138.1"
    assert [str(a) for a in management.dhcp_pool] == ["10.20.138.40", "10.20.138.62"]
    assert str(management.host(10)) == "10.20.138.10"
    assert PLAN.segment(block, "services").dhcp_pool is None
    assert PLAN.segment(block, "guest").network == IPNetwork("10.20.138.192/26")


def test_tunnel_addresses_come_from_the_infrastructure_block():
    assert PLAN.infrastructure == IPNetwork("10.20.224.0/19")
    assert str(PLAN.tunnel_address(4, 10)) == "10.20.224.138"
    # The first half only: the second stays free.
    assert PLAN.tunnel_network == IPNetwork("10.20.224.0/20")


@pytest.mark.parametrize(
    ("call", "message"),
    [
        (
            lambda: PLAN.site_block(4, 32),
            r"site id 32 does not fit: ministry block 10\.20\.128\.0/19 holds 32 sites",
        ),
        (lambda: PLAN.site_block(4, 0), r"site id 0 does not fit"),
        (
            lambda: PLAN.ministry_block(8),
            r"slot 8 is outside supernet 10\.20\.0\.0/16 split into /19: 8 blocks",
        ),
        (lambda: PLAN.ministry_block(7), r"ministry slot 7 is the infrastructure block 10\.20\.224\.0/19"),
        (
            lambda: PLAN.segment(PLAN.site_block(4, 1), "management").host(63),
            r"segment management 10\.20\.129\.0/26 has hosts 1-62, not 63",
        ),
    ],
)
def test_impossible_allocations_say_which_prefixes_and_counts(call, message):
    with pytest.raises(PlanError, match=message):
        call()


def test_plan_too_small_for_its_sites_is_refused():
    # /16 in /17 ministries of /30 sites: 16384 sites, but a /18 tunnel network.
    with pytest.raises(
        PlanError, match=r"16384 possible sites do not fit in the tunnel network 10\.0\.128\.0/18"
    ):
        AddressPlan("10.0.0.0/16", 17, 30, 1, {"m": SegmentSpec("m", 30, 0, 10, "management", dhcp=False)})


def test_overlapping_reports_every_network_that_overlaps():
    networks = {
        n: IPNetwork(n) for n in ["10.0.0.0/24", "10.0.0.128/25", "10.0.1.0/24", "10.0.0.0/16", "10.1.0.0/24"]
    }
    involved = {label for pair in overlapping(networks) for label in pair}
    assert involved == {"10.0.0.0/24", "10.0.0.128/25", "10.0.1.0/24", "10.0.0.0/16"}
    assert not overlapping({"a": IPNetwork("10.0.0.0/25"), "b": IPNetwork("10.0.0.128/25")})


# --- properties ---------------------------------------------------------------

site_keys = st.sets(
    st.tuples(
        st.sampled_from(MINISTRY_SLOTS), st.integers(min_value=1, max_value=PLAN.sites_per_ministry - 1)
    ),
    min_size=1,
    max_size=60,
)


@given(site_keys)
def test_allocations_never_overlap(keys):
    networks = {}
    addresses = set()
    for slot, site_id in keys:
        block = PLAN.site_block(slot, site_id)
        assert block in PLAN.supernet
        assert block not in PLAN.infrastructure
        for name in PLAN.segments:
            segment = PLAN.segment(block, name)
            assert segment.network in block
            networks[(slot, site_id, name)] = segment.network
        addresses.add(PLAN.tunnel_address(slot, site_id))
    assert overlapping(networks) == []
    assert len(addresses) == len(keys)
    assert all(address in PLAN.tunnel_network for address in addresses)


def registry_of(sites_by_ministry):
    """An in-memory registry with the base national.yml and the given sites."""
    keys = {m["slot"]: m["key"] for m in NATIONAL["ministries"]}
    files = []
    for slot, entries in sorted(sites_by_ministry.items()):
        sites = [
            {
                "id": site_id,
                "code": f"s{site_id}",
                "name": f"Site {site_id}",
                "type": kind,
                "department": "Brazzaville",
                "town": "Brazzaville",
                "status": status,
            }
            for site_id, kind, status in sorted(entries)
        ]
        files.append(registry.SiteFile(f"sites/{keys[slot]}.yml", {"ministry": keys[slot], "sites": sites}))
    return registry.Registry("memory", "national.yml", copy.deepcopy(NATIONAL), files)


site_entries = st.dictionaries(
    st.tuples(
        st.sampled_from(MINISTRY_SLOTS), st.integers(min_value=1, max_value=PLAN.sites_per_ministry - 1)
    ),
    st.tuples(
        st.sampled_from(["headquarters", "court", "data_centre"]), st.sampled_from(["planned", "active"])
    ),
    min_size=2,
    max_size=25,
)


def by_ministry(entries):
    grouped = {}
    for (slot, site_id), (kind, status) in entries.items():
        grouped.setdefault(slot, []).append((site_id, kind, status))
    return grouped


@settings(max_examples=60, suppress_health_check=[HealthCheck.too_slow])
@given(site_entries, st.data())
def test_changing_some_sites_renumbers_no_other(entries, data):
    before = registry.build(registry_of(by_ministry(entries))).hosts
    changed = data.draw(st.sets(st.sampled_from(sorted(entries)), min_size=1, max_size=len(entries) - 1))
    after_entries = dict(entries)
    for key in changed:
        if data.draw(st.booleans()):
            del after_entries[key]  # removed from the registry
        else:
            after_entries[key] = (entries[key][0], "decommissioned")
    after = registry.build(registry_of(by_ministry(after_entries))).hosts
    for name, values in after.items():
        assert before[name] == values, f"{name} changed although its site did not"
    assert len(after) < len(before)
