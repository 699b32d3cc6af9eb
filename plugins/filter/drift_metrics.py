# Copyright: PATN infrastructure team
# Apache License 2.0
"""The drift figures for the node exporter's textfile collector (filter drift_metrics)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: drift_metrics
short_description: The drift figures of each host, newest run first, as a node exporter textfile
version_added: 0.7.0
author: PATN infrastructure team
description:
  - Merges the figures of drift reports (the C(.json) file written beside each drift report,
    C(plugins/plugin_utils/drift_report.py)) into the figures already published (the current
    text of the file), and returns the file's new text, for the node exporter's textfile
    collector on the data centre's monitoring host (C(playbooks/drift-metrics.yml)).
  - "Two gauges per host: C(patn_drift_changed_tasks), how many tasks would change on the host
    (0: in line with the inventory), and C(patn_drift_last_run_timestamp_seconds), when that
    drift run started. Labels C(host), C(host_ministry) and C(host_site): the drifting host's,
    not those of the monitoring host that Prometheus scrapes, which the target's labels
    C(ministry) and C(site) already carry."
  - Per host, the newest run that checked it wins, whatever the order in which reports are
    published; a run limited to one ministry leaves the other hosts' figures as they were. A host
    that failed or was unreachable was not checked to the end and keeps its earlier figures; its
    timestamp ages, which the alert C(DriftCheckStale) sees. A host no longer in the inventory
    (C(hosts)) is dropped.
  - Refuses a report that is not one (no C(time) or C(hosts)) and a published line it did not
    write, naming it.
positional: _input, reports, hosts
options:
  _input:
    description: The text of the file published before (empty when there is none).
    type: str
    required: true
  reports:
    description: The drift reports' figures (their C(.json) files, parsed).
    type: list
    elements: dict
    required: true
  hosts:
    description: The inventory's hosts; figures of other hosts are dropped. None keeps every host.
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Write the drift figures
  ansible.builtin.copy:
    content: "{{ published | patn.infra.drift_metrics(reports, groups['all']) }}"
    dest: /var/lib/prometheus/node-exporter/patn_drift.prom
    mode: "0644"
"""

RETURN = r"""
_value:
  description: The file's text, Prometheus' text format, hosts sorted by name.
  type: str
  sample: |
    # HELP patn_drift_changed_tasks Tasks that would change on the host, in the last drift run ...
    # TYPE patn_drift_changed_tasks gauge
    patn_drift_changed_tasks{host="sante-chu-bzv-rtr1",host_ministry="sante",host_site="chu-bzv"} 2
"""

import re
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

from ansible.errors import AnsibleFilterError

CHANGES = "patn_drift_changed_tasks"
TIME = "patn_drift_last_run_timestamp_seconds"
HELP = {
    CHANGES: "Tasks that would change on the host, in the last drift run that checked it (make drift).",
    TIME: "When the last drift run that checked the host started, in seconds since the epoch.",
}
# Failed or unreachable: not checked to the end (drift_report.AuditedHost.state).
CHECKED = ("drift", "in line")
LINE = re.compile(
    r'^(?P<metric>\w+)\{host="(?P<host>[^"\\]*)",host_ministry="(?P<ministry>[^"\\]*)",'
    r'host_site="(?P<site>[^"\\]*)"\} (?P<value>[0-9]+(?:\.[0-9]+)?)$'
)
SAFE = re.compile(r"^[A-Za-z0-9_.:-]*$")


@dataclass(frozen=True)
class Figure:
    ministry: str
    site: str
    changes: int
    time: int


def _label(value, what: str) -> str:
    text = "" if value is None else str(value)
    if not SAFE.match(text):
        raise AnsibleFilterError(f"drift_metrics: {what} {text!r} cannot be a label value")
    return text


def _seconds(text, run) -> int:
    try:
        moment = datetime.strptime(str(text), "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=UTC)
    except ValueError:
        raise AnsibleFilterError(
            f"drift_metrics: report of run {run}: time {text!r} is not a UTC time (YYYY-MM-DDTHH:MM:SSZ)"
        ) from None
    return int(moment.timestamp())


def _published(text: str) -> dict[str, Figure]:
    """The figures of the file's current text."""
    values: dict[str, dict] = {}
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        match = LINE.match(line)
        if not match or match["metric"] not in HELP:
            raise AnsibleFilterError(
                f"drift_metrics: line {number} of the published file is not ours: {line!r}"
            )
        host = values.setdefault(match["host"], {"ministry": match["ministry"], "site": match["site"]})
        host[match["metric"]] = int(float(match["value"]))
    figures = {}
    for name, host in values.items():
        if CHANGES not in host or TIME not in host:
            missing = TIME if CHANGES in host else CHANGES
            raise AnsibleFilterError(f"drift_metrics: the published file has no {missing} of {name}")
        figures[name] = Figure(host["ministry"], host["site"], host[CHANGES], host[TIME])
    return figures


def _reported(report, index: int) -> dict[str, Figure]:
    """The figures of the hosts one report checked."""
    if (
        not isinstance(report, Mapping)
        or not isinstance(report.get("hosts"), Mapping)
        or not report.get("time")
    ):
        raise AnsibleFilterError(
            f"drift_metrics: report {index} is not a drift report's figures (time, hosts)"
        )
    run = report.get("run_id") or f"number {index}"
    time = _seconds(report["time"], run)
    figures = {}
    for name, host in report["hosts"].items():
        if not isinstance(host, Mapping) or not isinstance(host.get("changes"), int) or "state" not in host:
            raise AnsibleFilterError(
                f"drift_metrics: report of run {run}: host {name} has no state or changes"
            )
        if host["state"] not in CHECKED:
            continue
        _label(name, "host")
        figures[name] = Figure(
            _label(host.get("ministry"), f"{name}'s ministry"),
            _label(host.get("site"), f"{name}'s site"),
            host["changes"],
            time,
        )
    return figures


def drift_metrics(published, reports, hosts=None):
    """The file's new text: the newest figures per host (see DOCUMENTATION)."""
    if not isinstance(published, str):
        raise AnsibleFilterError(
            f"drift_metrics: the published text must be a string, got {type(published).__name__}"
        )
    if not isinstance(reports, list):
        raise AnsibleFilterError(f"drift_metrics: reports must be a list, got {type(reports).__name__}")
    figures = _published(published)
    for index, report in enumerate(reports, 1):
        for name, figure in _reported(report, index).items():
            if name not in figures or figure.time >= figures[name].time:
                figures[name] = figure
    if hosts is not None:
        if not isinstance(hosts, list):
            raise AnsibleFilterError(f"drift_metrics: hosts must be a list, got {type(hosts).__name__}")
        known = set(hosts)
        figures = {name: figure for name, figure in figures.items() if name in known}
    lines = []
    for metric in (CHANGES, TIME):
        lines += [f"# HELP {metric} {HELP[metric]}", f"# TYPE {metric} gauge"]
        for name, figure in sorted(figures.items()):
            value = figure.changes if metric == CHANGES else figure.time
            labels = f'host="{name}",host_ministry="{figure.ministry}",host_site="{figure.site}"'
            lines.append(f"{metric}{{{labels}}} {value}")
    return "\n".join(lines) + "\n"


class FilterModule:
    """patn.infra.drift_metrics."""

    def filters(self):
        return {"drift_metrics": drift_metrics}
