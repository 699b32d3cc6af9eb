# Copyright: PATN infrastructure team
# Apache License 2.0
"""The Wi-Fi channel plan of the access points of one site.

Neighbour rule: two access points are neighbours when either names the
other in its `neighbours`, or when both are on the same floor. A same-floor
pair weighs 2, any other named pair weighs 1; weights only matter when a
neighbour must share a channel (the plan then picks the cheapest channel).

Each band (2.4 GHz and 5 GHz) is planned on its own with a DSatur-style
greedy colouring, deterministic for the same access points whatever their
order in the list:

    next AP  = the uncoloured AP with the most distinct neighbour channels,
               then the highest weighted degree, then the lowest number
    channel  = the first channel, in preference order, that no neighbour uses;
               when every channel is used by a neighbour, the channel with the
               lowest weighted conflict cost (ties: preference order)

5 GHz tries the non-DFS channels first; the DFS channels (radar detection,
a channel may go quiet for a minute) are candidates only when use_dfs is
true and every non-DFS channel is taken by a neighbour. An AP that shares
its channel with a neighbour transmits 3 dB less on that band (less
co-channel overlap), never below min_power_dbm.

Pure Python: errors are ChannelPlanError (a ValueError); the filter
patn.infra.channel_plan turns them into Ansible errors.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass

BANDS = ("2.4", "5")
CHANNELS_2_4 = (1, 6, 11)
CHANNELS_5 = (36, 40, 44, 48, 149, 153, 157, 161, 165)
CHANNELS_5_DFS = (52, 56, 60, 64, 100, 104, 108, 112, 116, 120, 124, 128, 132, 136, 140, 144)
POWER_DBM = {"2.4": 14, "5": 17}
MIN_POWER_DBM = 8
# Power taken off an AP that shares its channel with a neighbour.
SHARED_POWER_CUT_DB = 3
SAME_FLOOR_WEIGHT = 2
NAMED_WEIGHT = 1

VALID_2_4 = frozenset(range(1, 14))
VALID_5 = frozenset([*range(36, 65, 4), *range(100, 145, 4), *range(149, 166, 4)])


class ChannelPlanError(ValueError):
    """Access points or options from which no plan can be made."""


@dataclass(frozen=True)
class AccessPoint:
    host: str
    number: int
    floor: int
    location: str
    neighbours: tuple[str, ...]


def _is_int(value) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _is_list(value) -> bool:
    return isinstance(value, Sequence) and not isinstance(value, (str, bytes))


def _describe(index: int, entry) -> str:
    host = entry.get("host") if isinstance(entry, Mapping) else None
    if isinstance(host, str) and host:
        return f"access point {host!r}"
    return f"access point #{index + 1} of the list"


def _access_point(index: int, entry) -> AccessPoint:
    if not isinstance(entry, Mapping):
        raise ChannelPlanError(
            f"access point #{index + 1} of the list is a {type(entry).__name__}, not a mapping "
            "with host, number, floor, location and neighbours"
        )
    name = _describe(index, entry)
    for field in ("host", "number", "floor"):
        if field not in entry or entry[field] is None:
            raise ChannelPlanError(f"{name}: field '{field}' is missing")
    host = entry["host"]
    if not isinstance(host, str) or not host:
        raise ChannelPlanError(f"{name}: field 'host' must be a non-empty string, not {host!r}")
    for field in ("number", "floor"):
        if not _is_int(entry[field]):
            raise ChannelPlanError(f"{name}: field '{field}' must be an integer, not {entry[field]!r}")
    location = entry.get("location", "")
    if location is None:
        location = ""
    if not isinstance(location, str):
        raise ChannelPlanError(f"{name}: field 'location' must be a string, not {location!r}")
    neighbours = entry.get("neighbours") or []
    if not _is_list(neighbours) or not all(isinstance(n, str) for n in neighbours):
        raise ChannelPlanError(
            f"{name}: field 'neighbours' must be a list of access point host names, not {neighbours!r}"
        )
    return AccessPoint(
        host=str(host),
        number=int(entry["number"]),
        floor=int(entry["floor"]),
        location=str(location),
        neighbours=tuple(sorted({str(n) for n in neighbours})),
    )


def parse_access_points(access_points) -> list[AccessPoint]:
    """Check the site's access points; return them sorted by number."""
    if not _is_list(access_points):
        raise ChannelPlanError(
            f"the access points must be a list (patn_access_points), not a {type(access_points).__name__}"
        )
    aps = [_access_point(index, entry) for index, entry in enumerate(access_points)]
    by_host: dict[str, AccessPoint] = {}
    by_number: dict[int, AccessPoint] = {}
    for ap in aps:
        if ap.host in by_host:
            raise ChannelPlanError(f"access point {ap.host!r}: field 'host' appears twice in the list")
        if ap.number in by_number:
            raise ChannelPlanError(
                f"access point {ap.host!r}: field 'number' {ap.number} is already the number of "
                f"{by_number[ap.number].host!r}"
            )
        by_host[ap.host] = ap
        by_number[ap.number] = ap
    for ap in aps:
        for other in ap.neighbours:
            if other == ap.host:
                raise ChannelPlanError(
                    f"access point {ap.host!r}: field 'neighbours' names the access point itself"
                )
            if other not in by_host:
                raise ChannelPlanError(
                    f"access point {ap.host!r}: field 'neighbours' names {other!r}, "
                    "which is not an access point of this site"
                )
    return sorted(aps, key=lambda ap: (ap.number, ap.host))


def neighbour_weights(aps: Sequence[AccessPoint]) -> dict[str, dict[str, int]]:
    """host -> {neighbour host: weight}, symmetric (see the neighbour rule)."""
    weights: dict[str, dict[str, int]] = {ap.host: {} for ap in aps}
    for ap in aps:
        for other in ap.neighbours:
            weights[ap.host][other] = max(weights[ap.host].get(other, 0), NAMED_WEIGHT)
            weights[other][ap.host] = max(weights[other].get(ap.host, 0), NAMED_WEIGHT)
    for index, ap in enumerate(aps):
        for other in aps[index + 1 :]:
            if ap.floor == other.floor:
                weights[ap.host][other.host] = SAME_FLOOR_WEIGHT
                weights[other.host][ap.host] = SAME_FLOOR_WEIGHT
    return weights


def _channel_list(option: str, value, valid: frozenset[int], what: str) -> tuple[int, ...]:
    if not _is_list(value):
        raise ChannelPlanError(f"{option}: must be a list of channel numbers, not {value!r}")
    if not value:
        raise ChannelPlanError(f"{option}: the channel list is empty")
    seen: list[int] = []
    for channel in value:
        if not _is_int(channel):
            raise ChannelPlanError(f"{option}: channel {channel!r} is not an integer")
        if channel not in valid:
            raise ChannelPlanError(f"{option}: channel {channel} is not {what}")
        if channel in seen:
            raise ChannelPlanError(f"{option}: channel {channel} is listed twice")
        seen.append(channel)
    return tuple(seen)


@dataclass(frozen=True)
class Options:
    channels_2_4: tuple[int, ...]
    channels_5: tuple[int, ...]
    channels_5_dfs: tuple[int, ...]
    use_dfs: bool
    power_dbm: Mapping[str, int]
    min_power_dbm: int


# The filter's keyword options and their defaults.
DEFAULTS = {
    "channels_2_4": CHANNELS_2_4,
    "channels_5": CHANNELS_5,
    "channels_5_dfs": CHANNELS_5_DFS,
    "use_dfs": True,
    "power_dbm": POWER_DBM,
    "min_power_dbm": MIN_POWER_DBM,
}
VALID_5_TEXT = "a 5 GHz 20 MHz channel (36-64, 100-144 or 149-165, in steps of 4)"


def _power(power_dbm, min_power_dbm) -> dict[str, int]:
    if not _is_int(min_power_dbm):
        raise ChannelPlanError(f"min_power_dbm: must be an integer (dBm), not {min_power_dbm!r}")
    if not isinstance(power_dbm, Mapping):
        raise ChannelPlanError(f"power_dbm: must be a mapping of band ('2.4', '5') to dBm, not {power_dbm!r}")
    power = dict(POWER_DBM)
    for band, dbm in power_dbm.items():
        # YAML reads an unquoted 2.4 key as a float.
        name = str(band)
        if name not in BANDS:
            raise ChannelPlanError(f"power_dbm: band {band!r} is neither '2.4' nor '5'")
        if not _is_int(dbm):
            raise ChannelPlanError(f"power_dbm: power {dbm!r} of band {name} is not an integer (dBm)")
        power[name] = dbm
    for band in BANDS:
        if power[band] < min_power_dbm:
            raise ChannelPlanError(
                f"power_dbm: power {power[band]} dBm of band {band} is below min_power_dbm {min_power_dbm}"
            )
    return power


def parse_options(options: Mapping) -> Options:
    """Check the filter's keyword options; a missing or None option takes its default."""
    unknown = sorted(set(options) - set(DEFAULTS))
    if unknown:
        raise ChannelPlanError(f"unknown option {unknown[0]!r}; the options are {', '.join(DEFAULTS)}")
    given = {name: DEFAULTS[name] if options.get(name) is None else options[name] for name in DEFAULTS}
    chan_2_4 = _channel_list("channels_2_4", given["channels_2_4"], VALID_2_4, "a 2.4 GHz channel (1-13)")
    chan_5 = _channel_list("channels_5", given["channels_5"], VALID_5, VALID_5_TEXT)
    chan_dfs = _channel_list("channels_5_dfs", given["channels_5_dfs"], VALID_5, VALID_5_TEXT)
    both = sorted(set(chan_5) & set(chan_dfs))
    if both:
        raise ChannelPlanError(f"channels_5_dfs: channels {both} are also in channels_5")
    if not isinstance(given["use_dfs"], bool):
        raise ChannelPlanError(f"use_dfs: must be true or false, not {given['use_dfs']!r}")
    power = _power(given["power_dbm"], given["min_power_dbm"])
    return Options(chan_2_4, chan_5, chan_dfs, given["use_dfs"], power, given["min_power_dbm"])


def _colour(
    aps: Sequence[AccessPoint],
    weights: Mapping[str, Mapping[str, int]],
    first_choice: Sequence[int],
    fallback: Sequence[int],
) -> dict[str, int]:
    """DSatur-style greedy colouring of one band: host -> channel.

    `first_choice` channels are tried first; `fallback` channels (DFS) only
    when every first-choice channel is used by a neighbour. When all are used,
    the cheapest channel of both lists wins.
    """
    channel_of: dict[str, int] = {}
    degree = {ap.host: sum(weights[ap.host].values()) for ap in aps}

    def priority(ap: AccessPoint) -> tuple[int, int, int]:
        # Most distinct neighbour channels, then heaviest, then lowest number.
        seen = {channel_of[n] for n in weights[ap.host] if n in channel_of}
        return (-len(seen), -degree[ap.host], ap.number)

    uncoloured = list(aps)
    while uncoloured:
        ap = min(uncoloured, key=priority)
        uncoloured.remove(ap)
        cost: dict[int, int] = {}
        for other, weight in weights[ap.host].items():
            if other in channel_of:
                cost[channel_of[other]] = cost.get(channel_of[other], 0) + weight
        free = [c for c in first_choice if c not in cost] or [c for c in fallback if c not in cost]
        if free:
            channel_of[ap.host] = free[0]
        else:
            candidates = [*first_choice, *fallback]
            channel_of[ap.host] = min(candidates, key=lambda c: (cost[c], candidates.index(c)))
    return channel_of


def plan(access_points, **options) -> dict[str, dict[str, dict]]:
    """The channel plan of one site: host -> band -> channel, power, sharers.

    `options` are the filter's keyword options (DEFAULTS). The result is
    sorted by host.
    """
    opts = parse_options(options)
    aps = parse_access_points(access_points)
    weights = neighbour_weights(aps)
    power = opts.power_dbm
    bands = {
        "2.4": _colour(aps, weights, opts.channels_2_4, ()),
        "5": _colour(aps, weights, opts.channels_5, opts.channels_5_dfs if opts.use_dfs else ()),
    }
    result: dict[str, dict[str, dict]] = {}
    for ap in sorted(aps, key=lambda ap: ap.host):
        result[ap.host] = {}
        for band, channel_of in bands.items():
            channel = channel_of[ap.host]
            shared = sorted(n for n in weights[ap.host] if channel_of[n] == channel)
            dbm = power[band]
            if shared:
                dbm = max(dbm - SHARED_POWER_CUT_DB, opts.min_power_dbm)
            result[ap.host][band] = {"channel": channel, "power_dbm": dbm, "shared_with": shared}
    return result
