# Copyright: PATN infrastructure team
# Apache License 2.0
"""Whole sites per slice: which hosts of a built registry one slice of a run keeps.

AWX's own job slicing deals out the inventory's hosts one by one (round
robin over the host list sorted by name), so the devices of one site land
in different slices, and the data centre's hub in one slice only. The
registry plugin's C(slice) option (PATN_SLICE) slices by site instead:
every site goes whole into exactly one slice, and the data-centre sites
(type data_centre: the hub, monitoring, log collector, backup repository)
are in every slice, for reference only (a site router's tunnel names the
hub; playbooks/validate.yml refuses a sliced run that targets them).
"""

from __future__ import annotations

import re

# Sites every slice keeps (as reference data, never as targets).
SHARED_SITE_TYPES = ("data_centre",)
SLICE_PATTERN = re.compile(r"(\d+)/(\d+)")


class SliceError(ValueError):
    """A slice value that is not K/N with 1 <= K <= N."""


def parse_slice(value, option="slice"):
    """(K, N) of a slice value "K/N"; None for an empty value (no slicing).

    option names the setting in the error (the plugin option and its
    environment variable).
    """
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    match = SLICE_PATTERN.fullmatch(str(value).strip())
    if match is None:
        raise SliceError(f"{option}: {value!r} is not K/N (slice K of N, for example 1/4)")
    index, count = int(match.group(1)), int(match.group(2))
    if count < 1 or not 1 <= index <= count:
        raise SliceError(f"{option}: {value!r}: K must be between 1 and N (slice K of N), N at least 1")
    return index, count


def site_groups(data):
    """{site group: its group variables' patn_site} of a built registry (plugin data)."""
    return {
        group: values["patn_site"]
        for group, values in data["group_vars"].items()
        if isinstance(values.get("patn_site"), dict)
    }


def assign_sites(data, count):
    """{site group: slice number (1..count), or 0 for a shared site in every slice}.

    Deterministic and balanced by host count: the largest site first (ties in
    ministry then site code order) into the slice with the fewest hosts so
    far (ties: the lowest slice number). The same registry and count always
    give the same slices; a site added or removed can move other sites to
    another slice, which only matters within one run.
    """
    sites = site_groups(data)
    shared = {group: 0 for group, site in sites.items() if site.get("type") in SHARED_SITE_TYPES}
    sized = sorted(
        (group for group in sites if group not in shared),
        key=lambda group: (
            -len(data["groups"].get(group, ())),
            str(sites[group].get("ministry")),
            str(sites[group].get("code")),
        ),
    )
    load = [0] * count
    assigned = dict(shared)
    for group in sized:
        lightest = min(range(count), key=lambda number: (load[number], number))
        assigned[group] = lightest + 1
        load[lightest] += len(data["groups"].get(group, ()))
    return assigned


def slice_hosts(data, index, count):
    """The host names slice index of count keeps: its sites' and the shared sites' hosts."""
    kept = set()
    for group, number in assign_sites(data, count).items():
        if number in (0, index):
            kept.update(data["groups"].get(group, ()))
    return kept
