# Copyright: PATN infrastructure team
# Apache License 2.0
"""Link quality per site over a period, from the data centre's Prometheus
(scripts/link-report): the queries to ask, the answers read back, and the
per-ministry tables and plots made of them. No I/O but read_saved.

What is measured (roles/monitoring): the blackbox exporter pings every
router and the hub through the tunnel once per scrape interval (job icmp,
one echo request per probe), and playbooks/link-test.yml leaves the latest
on-demand throughput sample in each router's node exporter.

- availability: the mean of probe_success over the period (answered probes
  over probes made); loss: the share of pings lost (one ping per probe: its
  complement); samples: the probes Prometheus holds, beside the number the
  scrape interval makes over the period (fewer: the monitoring or the probe
  did not run, a gap);
- latency: the round trips of the answered pings only (the exporter gives an
  unanswered one 0 s), their mean and 95th percentile;
- throughput: the latest sample of the period in each direction.
"""

from __future__ import annotations

import html
import json
import math
import re
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

from ansible_collections.patn.infra.plugins.filter.monitoring_targets import PINGED_ROLES
from ansible_collections.patn.infra.plugins.plugin_utils.drift_report import row

SUCCESS = 'probe_success{job="icmp"}'
RTT = 'probe_icmp_duration_seconds{job="icmp", phase="rtt"}'
THROUGHPUT = "patn_link_throughput_bits_per_second"
THROUGHPUT_TIME = "patn_link_throughput_timestamp_seconds"
# At most this many points per site and series in the plots.
MAX_POINTS = 500
NO_DATA = "no data"
UNITS = {"s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800}
# The files of saved answers (--prometheus-json DIR).
SAVED = ("period.json", "instant.json", "range.json")
COLUMNS = ("Site", "Name", "Status", "Router", "Availability", "Loss", "Latency (mean)", "Latency (p95)",
           "Samples", "Throughput (latest)")  # fmt: skip


class LinkReportError(ValueError):
    """An answer or a value the report cannot be made from; the message says which."""


def seconds(text: str) -> int:
    """A duration in Prometheus' units (7d, 12h, 1d12h, 30s) in seconds."""
    parts = re.findall(r"(\d+)([smhdw])", text)
    if not parts or "".join(n + u for n, u in parts) != text or not any(int(n) for n, _ in parts):
        raise LinkReportError(f"{text!r} is not a duration (a number and s, m, h, d or w: 7d, 12h, 30s)")
    return sum(int(number) * UNITS[unit] for number, unit in parts)


@dataclass(frozen=True)
class Period:
    """The period reported on, and the spacing of its plots' points."""

    start: int
    end: int
    resolution: int  # the scrape interval: one probe each
    step: int  # one plot point each: at most MAX_POINTS over the period

    @classmethod
    def ending(cls, end: int, length: int, resolution: int) -> Period:
        if length < resolution:
            raise LinkReportError(
                f"the period ({length} s) is shorter than the scrape interval ({resolution} s)"
            )
        step = resolution * math.ceil(length / MAX_POINTS / resolution)
        return cls(end - length, end, resolution, step)

    @classmethod
    def read(cls, data: object) -> Period:
        names = ("start", "end", "resolution", "step")
        if not isinstance(data, dict) or any(not isinstance(data.get(n), int) for n in names):
            raise LinkReportError(f"not a period: an object with integer {', '.join(names)}")
        period = cls(**{name: data[name] for name in names})
        if period.end <= period.start or period.resolution <= 0 or period.step < period.resolution:
            raise LinkReportError("not a period: end after start, 0 < resolution <= step")
        return period

    @property
    def length(self) -> int:
        return self.end - self.start

    def expected(self) -> int:
        return self.length // self.resolution


def _tagged(stat: str, expression: str) -> str:
    """The expression's series labelled stat=STAT, so that one query asks several."""
    return f'label_replace({expression}, "stat", "{stat}", "", "")'


def _answered(window: int, resolution: int) -> str:
    """The round trips of the answered pings over the window (a subquery at the scrape interval)."""
    return f"({RTT} > 0)[{window}s:{resolution}s]"


def instant_query(period: Period) -> str:
    """Every figure of the tables, at the period's end."""
    window = period.length
    return " or ".join(
        (
            _tagged("availability", f"avg_over_time({SUCCESS}[{window}s])"),
            _tagged("samples", f"count_over_time({SUCCESS}[{window}s])"),
            _tagged("latency_mean", f"avg_over_time({_answered(window, period.resolution)})"),
            _tagged("latency_p95", f"quantile_over_time(0.95, {_answered(window, period.resolution)})"),
            _tagged("throughput", f"last_over_time({THROUGHPUT}[{window}s])"),
            _tagged("throughput_time", f"last_over_time({THROUGHPUT_TIME}[{window}s])"),
        )
    )


def range_query(period: Period) -> str:
    """The plots' points: each the mean over the step before it."""
    return " or ".join(
        (
            _tagged("availability", f"avg_over_time({SUCCESS}[{period.step}s])"),
            _tagged("latency", f"avg_over_time({_answered(period.step, period.resolution)})"),
        )
    )


def range_parameters(period: Period) -> dict[str, int]:
    """start, end and step of the range query (its first point covers the period's first step)."""
    return {"start": period.start + period.step, "end": period.end, "step": period.step}


# --- the answers --------------------------------------------------------------------------


def _number(text: object) -> float | None:
    """A sample value; None for NaN and infinities (nothing to show)."""
    try:
        value = float(text)
    except (TypeError, ValueError):
        raise LinkReportError(f"sample value {text!r} is not a number") from None
    return value if math.isfinite(value) else None


def results(answer: object, kind: str) -> list[dict]:
    """The series of a Prometheus API answer of result type kind (vector or matrix)."""
    if not isinstance(answer, dict) or "status" not in answer:
        raise LinkReportError("not an answer of Prometheus' HTTP API (an object with status and data)")
    if answer["status"] != "success":
        raise LinkReportError(
            f"Prometheus refused the query: {answer.get('errorType', '?')}: {answer.get('error', '?')}"
        )
    data = answer.get("data")
    if (
        not isinstance(data, dict)
        or data.get("resultType") != kind
        or not isinstance(data.get("result"), list)
    ):
        found = data.get("resultType") if isinstance(data, dict) else None
        raise LinkReportError(f"expected a {kind} result, found {found or 'none'}")
    series = data["result"]
    field = "value" if kind == "vector" else "values"
    for one in series:
        points = [one.get(field)] if kind == "vector" else one.get(field)
        if (
            not isinstance(one.get("metric"), dict)
            or not isinstance(points, list)
            or not all(isinstance(point, list) and len(point) == len(("time", "value")) for point in points)
        ):
            raise LinkReportError(f"a series has no metric and {field}: {json.dumps(one)[:200]}")
        for point in points:
            _number(point[1])
    return series


def read_saved(directory: Path) -> tuple[Period, dict, dict]:
    """The period and the two answers saved by scripts/link-report --save-json.
    Every error names its file."""
    read = {}
    for name in SAVED:
        path = directory / name
        try:
            read[name] = json.loads(path.read_text())
        except (OSError, json.JSONDecodeError) as error:
            raise LinkReportError(f"{path}: cannot be read as JSON: {error}") from None
    checks = (("period.json", Period.read), ("instant.json", lambda a: results(a, "vector")),
              ("range.json", lambda a: results(a, "matrix")))  # fmt: skip
    done = {}
    for name, check in checks:
        try:
            done[name] = check(read[name])
        except LinkReportError as error:
            raise LinkReportError(f"{directory / name}: {error}") from None
    return done["period.json"], read["instant.json"], read["range.json"]


# --- the tables ---------------------------------------------------------------------------


def _by_instance(series: list[dict]) -> dict[str, dict[str, list[dict]]]:
    """instance -> stat -> its series."""
    found: dict[str, dict[str, list[dict]]] = {}
    for one in series:
        labels = one["metric"]
        found.setdefault(labels.get("instance", ""), {}).setdefault(labels.get("stat", ""), []).append(one)
    return found


def _value(stats: dict, stat: str) -> float | None:
    series = stats.get(stat) or []
    return _number(series[0]["value"][1]) if series else None


def _points(stats: dict, stat: str) -> list[tuple[float, float]]:
    points = []
    for one in stats.get(stat) or []:
        points += [(float(t), v) for t, text in one["values"] if (v := _number(text)) is not None]
    return sorted(points)


def _throughput(stats: dict) -> dict[str, tuple[float, float | None]]:
    """direction -> (bits per second, time of the sample)."""
    times = {
        one["metric"].get("direction", ""): _number(one["value"][1])
        for one in stats.get("throughput_time", [])
    }
    found = {}
    for one in stats.get("throughput") or []:
        direction = one["metric"].get("direction", "")
        if (bits := _number(one["value"][1])) is not None:
            found[direction] = (bits, times.get(direction))
    return dict(sorted(found.items()))


def link_quality(
    ministries: list[dict], sites: list[dict], instant: dict, ranged: dict, period: Period
) -> list[dict]:
    """Per ministry (key, name, rows): one row per site and pinged device (its
    router; the hub for the data centre), in site id order. A site without a
    router, or a router without samples, has its row: no data, never hidden.

    sites: the registry's allocations (ministry, id, code, name, status,
    devices name -> variables with patn_device_role)."""
    figures = _by_instance(results(instant, "vector"))
    plotted = _by_instance(results(ranged, "matrix"))
    reports = []
    for ministry in ministries:
        rows = []
        for site in sorted((s for s in sites if s["ministry"] == ministry["key"]), key=lambda s: s["id"]):
            gateways = [
                name for name, device in sorted(site["devices"].items())
                if device.get("patn_device_role") in PINGED_ROLES
            ]  # fmt: skip
            for instance in gateways or [None]:
                stats = figures.get(instance, {}) if instance else {}
                availability = _value(stats, "availability")
                rows.append(
                    {
                        "code": site["code"],
                        "name": site["name"],
                        "status": site["status"],
                        "instance": instance,
                        "availability": availability,
                        "loss": None if availability is None else 1 - availability,
                        "latency_mean": _value(stats, "latency_mean"),
                        "latency_p95": _value(stats, "latency_p95"),
                        "samples": int(_value(stats, "samples") or 0),
                        "expected": period.expected(),
                        "throughput": _throughput(stats),
                        "availability_points": _points(plotted.get(instance, {}), "availability"),
                        "latency_points": _points(plotted.get(instance, {}), "latency"),
                    }
                )
        reports.append({"key": ministry["key"], "name": ministry["name"], "rows": rows})
    return reports


# --- what the pages show ------------------------------------------------------------------


def when(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, tz=UTC).strftime("%Y-%m-%d %H:%M UTC")


def percent(value: float | None) -> str:
    return NO_DATA if value is None else f"{100 * value:.2f} %"


def milliseconds(value: float | None) -> str:
    return NO_DATA if value is None else f"{1000 * value:.1f} ms"


def rate(bits: float) -> str:
    for unit, size in (("Gbit/s", 1e9), ("Mbit/s", 1e6), ("kbit/s", 1e3)):
        if bits >= size:
            return f"{bits / size:.1f} {unit}"
    return f"{bits:.0f} bit/s"


def throughput_text(throughput: dict) -> str:
    if not throughput:
        return "none"
    parts = []
    for direction, (bits, time) in throughput.items():
        parts.append(f"{direction} {rate(bits)}" + (f" ({when(time)})" if time is not None else ""))
    return ", ".join(parts)


def cells(site: dict) -> list[str]:
    """One row of the table, as text (escaped by the page that shows it)."""
    samples = f"{site['samples']} of {site['expected']}" if site["samples"] else NO_DATA
    return [site["code"], site["name"], site["status"], site["instance"] or "no router in the registry",
            percent(site["availability"]), percent(site["loss"]), milliseconds(site["latency_mean"]),
            milliseconds(site["latency_p95"]), samples, throughput_text(site["throughput"])]  # fmt: skip


def markdown(ministry: dict, period: Period, source: str) -> str:
    lines = [f"# Link quality: {ministry['name']} ({ministry['key']})", "",
             f"From {when(period.start)} to {when(period.end)}, {source}.", "", DEFINITIONS, ""]  # fmt: skip
    if not ministry["rows"]:
        return "\n".join([*lines, "No site in the registry."]) + "\n"
    lines += [row(*COLUMNS), row(*["---"] * len(COLUMNS))]
    lines += [row(*cells(site)) for site in ministry["rows"]]
    return "\n".join(lines) + "\n"


DEFINITIONS = (
    "Availability: the share of the data centre's pings through the tunnel that the site's router "
    "answered (one per scrape interval); loss: the share lost. Latency: the round trip of the answered "
    "pings. Samples: the pings Prometheus holds, of those the period should have (fewer: a gap in the "
    "monitoring). Throughput: the latest on-demand sample (playbooks/link-test.yml)."
)


# --- the plots ----------------------------------------------------------------------------

WIDTH, LATENCY_HEIGHT, STRIP_HEIGHT, LEFT, TOP = 420, 90, 14, 48, 10


def _x(period: Period, time: float) -> float:
    return LEFT + (time - period.start) / period.length * (WIDTH - LEFT - 4)


def plot(site: dict, period: Period) -> str:
    """An inline SVG: the latency of the answered pings over the period (a line,
    broken where there is no point) above the availability (a strip, one bar per
    point: green all answered, orange some lost, red none; grey: no data)."""
    latency, availability = site["latency_points"], site["availability_points"]
    top = max((v for _, v in latency), default=0) * 1000 or 1.0
    strip_y = TOP + LATENCY_HEIGHT + 8
    height = strip_y + STRIP_HEIGHT + 18
    label = f"{site['code']} ({site['instance'] or 'no router'}): {site['name']}"
    parts = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'viewBox="0 0 {WIDTH} {height}" font-family="sans-serif" font-size="10" role="img">',
        f"<title>{html.escape(label)}</title>",
        f'<rect x="{LEFT}" y="{TOP}" width="{WIDTH - LEFT - 4}" height="{LATENCY_HEIGHT}" '
        'fill="#fafafa" stroke="#bbb"/>',
        f'<text x="{LEFT - 4}" y="{TOP + 8}" text-anchor="end">{top:.0f} ms</text>',
        f'<text x="{LEFT - 4}" y="{TOP + LATENCY_HEIGHT}" text-anchor="end">0</text>',
        f'<rect x="{LEFT}" y="{strip_y}" width="{WIDTH - LEFT - 4}" height="{STRIP_HEIGHT}" fill="#ddd"/>',
        f'<text x="{LEFT - 4}" y="{strip_y + 10}" text-anchor="end">up</text>',
        f'<text x="{LEFT}" y="{height - 4}">{when(period.start)}</text>',
        f'<text x="{WIDTH - 4}" y="{height - 4}" text-anchor="end">{when(period.end)}</text>',
    ]
    # A new line wherever a point is missing (more than a step and a half apart).
    lines: list[list[str]] = []
    previous = None
    for time, value in latency:
        if previous is None or time - previous > 1.5 * period.step:
            lines.append([])
        y = TOP + LATENCY_HEIGHT - value * 1000 / top * LATENCY_HEIGHT
        lines[-1].append(f"{_x(period, time):.1f},{y:.1f}")
        previous = time
    for points in lines:
        if len(points) == 1:
            x, y = points[0].split(",")
            parts.append(f'<circle cx="{x}" cy="{y}" r="1.5" fill="#2b6ca3"/>')
        else:
            line = " ".join(points)
            parts.append(f'<polyline points="{line}" fill="none" stroke="#2b6ca3" stroke-width="1"/>')
    bar = max((WIDTH - LEFT - 4) * period.step / period.length, 0.5)
    for time, value in availability:
        colour = "#2e8b57" if value >= 1 else "#e08a00" if value > 0 else "#b00020"
        parts.append(
            f'<rect x="{_x(period, time) - bar:.1f}" y="{strip_y}" width="{bar:.2f}" height="{STRIP_HEIGHT}" '
            f'fill="{colour}"/>'
        )
    parts.append("</svg>")
    return "\n".join(parts)
