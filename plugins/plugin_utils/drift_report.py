# Copyright: PATN infrastructure team
# Apache License 2.0
"""The drift report of one check-mode run, Markdown and HTML, from its audit trail.

One path writes it: write(), called by the callback patn.infra.audit at the
end of the run that asked for it (playbooks/audit.yml), and by
`scripts/audit-summary drift` for a run interrupted before its end. Its
title is the verdict ("No drift: N hosts match the inventory" or "Drift on
X of N hosts"); then who ran what from which commit (dirty or not) with
which --limit; then per ministry, per site and per host the tasks that
would change with their redacted diffs (the audit trail's lines, redacted
before they were written), the failures and the unreachable hosts; hosts
with nothing to change are "in line". Changes made for real by tasks forced
out of check mode (check_mode: false) are listed apart.

Beside the two pages, PREFIX.json holds the run's figures per host (its
state and how many tasks would change), which playbooks/drift-metrics.yml
publishes to the data centre's Prometheus (make drift runs both).
"""

from __future__ import annotations

import difflib
import json
from collections import defaultdict
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

from ansible_collections.patn.infra.plugins.plugin_utils.report_pages import environment

NONE = "(none)"


class DriftError(ValueError):
    """A run the drift report cannot be made of; the message says why."""


def row(*values: object) -> str:
    """One Markdown table row."""
    return "| " + " | ".join(str(value).replace("|", "\\|").replace("\n", " ") for value in values) + " |"


STATES = ("drift", "unreachable", "failed", "in line")
# A run interrupted before its recap has no run_end line, which lists its hosts.
NOT_ENDED = "The run was interrupted before its end: only the hosts its audit trail names are listed."


@dataclass
class AuditedHost:
    name: str
    ministry: str | None = None
    site: str | None = None
    changes: list[dict] = field(default_factory=list)  # tasks that would change (check mode)
    forced: list[dict] = field(default_factory=list)  # changed for real (check_mode: false)
    failures: list[dict] = field(default_factory=list)  # failed or unreachable results

    @property
    def state(self) -> str:
        """drift, unreachable, failed (not checked to the end) or in line."""
        if self.changes:
            return "drift"
        if any(failure.get("status") == "unreachable" for failure in self.failures):
            return "unreachable"
        if any(not failure.get("ignored") for failure in self.failures):
            return "failed"
        return "in line"


@dataclass
class Drift:
    run_id: str
    start: dict
    hosts: dict[str, AuditedHost]
    ended: bool  # the run_end line was there: the hosts are the run's own list
    audited: str | None = None  # the playbook audited (the run's own is playbooks/audit.yml)

    def count(self, *states: str) -> int:
        return sum(host.state in states for host in self.hosts.values())

    @property
    def verdict(self) -> str:
        total = len(self.hosts)
        drifting = self.count("drift")
        unchecked = self.count("failed", "unreachable")
        if not total:
            return "No host in this run"
        if not drifting and not unchecked:
            return f"No drift: {total} host{'s match' if total > 1 else ' matches'} the inventory"
        if not drifting and unchecked == total:
            return f"Not checked: {total} of {total} hosts failed or were unreachable"
        if not drifting:
            checked = total - unchecked
            return f"No drift on {checked} of {total} hosts; {unchecked} not checked (failed or unreachable)"
        tail = f"; {unchecked} not checked (failed or unreachable)" if unchecked else ""
        return f"Drift on {drifting} of {total} hosts{tail}"

    def ministries(self) -> list[tuple[str, int, list[int]]]:
        """Per ministry: its number of hosts, and how many are in each state (in STATES' order)."""
        counts = []
        for ministry, sites in self.places():
            hosts = [host for _, mine in sites for host in mine]
            counts.append(
                (ministry, len(hosts), [sum(host.state == state for host in hosts) for state in STATES])
            )
        return counts

    def places(self) -> list[tuple[str, list[tuple[str, list[AuditedHost]]]]]:
        """Per ministry, per site, the hosts, sorted ('(none)' last)."""
        tree: dict[str, dict[str, list[AuditedHost]]] = defaultdict(lambda: defaultdict(list))
        for host in self.hosts.values():
            tree[host.ministry or NONE][host.site or NONE].append(host)

        def order(key: str) -> tuple[bool, str]:
            return (key == NONE, key)

        return [
            (
                ministry,
                [
                    (site, sorted(hosts, key=lambda h: h.name))
                    for site, hosts in sorted(sites.items(), key=lambda i: order(i[0]))
                ],
            )
            for ministry, sites in sorted(tree.items(), key=lambda item: order(item[0]))
        ]


def drift(records: list[dict], run_id: str, audited: str | None = None) -> Drift:
    """What one check-mode run found, from its lines of the audit trail."""
    mine = [record for record in records if record.get("run_id") == run_id]
    start = next((record for record in mine if record.get("event") == "run_start"), None)
    if start is None:
        raise DriftError(f"no run_start line of run {run_id} in the audit log")
    if start.get("check_mode") is not True:
        raise DriftError(f"run {run_id} was not in check mode: what it changed is changed, not drift")
    hosts: dict[str, AuditedHost] = {}

    def host(name: str, ministry: str | None, site: str | None) -> AuditedHost:
        found = hosts.setdefault(name, AuditedHost(name))
        found.ministry = found.ministry or ministry or None
        found.site = found.site or site or None
        return found

    end = next((record for record in mine if record.get("event") == "run_end"), None)
    for name, values in ((end or {}).get("hosts") or {}).items():
        host(name, (values or {}).get("ministry"), (values or {}).get("site"))
    for record in mine:
        if record.get("event") != "task":
            continue
        found = host(record["host"], record.get("ministry"), record.get("site"))
        status = record.get("status")
        if status == "changed" and record.get("check_mode") is not False:
            found.changes.append(record)
        elif status == "changed":
            found.forced.append(record)
        elif status in ("failed", "unreachable"):
            found.failures.append(record)
    return Drift(run_id, start, hosts, end is not None, audited)


# What Ansible prints instead of a diff it did not compute, by the diff's key.
SKIPPED = {
    "dst_binary": "destination file appears to be binary",
    "src_binary": "source file appears to be binary",
    "dst_larger": "destination file size is greater than {}",
    "src_larger": "source file size is greater than {}",
}


def diff_text(diff: object) -> str:
    """A result's diff as Ansible shows it (unified diff, without colours)."""
    if diff is None:
        return "(the task computed no diff)\n"
    if isinstance(diff, list):
        return "".join(diff_text(item) for item in diff)
    if not isinstance(diff, Mapping):
        text = diff if isinstance(diff, str) else json.dumps(diff, indent=4, sort_keys=True)
        return text if text.endswith("\n") else text + "\n"
    parts = [f"diff skipped: {what.format(diff[key])}\n" for key, what in SKIPPED.items() if key in diff]
    if "before" in diff and "after" in diff:
        before = f"before: {diff['before_header']}" if "before_header" in diff else "before"
        after = f"after: {diff['after_header']}" if "after_header" in diff else "after"
        parts += difflib.unified_diff(file_lines(diff["before"]), file_lines(diff["after"]), before, after)
    if "prepared" in diff:
        parts.append(str(diff["prepared"]))
    text = "".join(parts)
    return text if not text or text.endswith("\n") else text + "\n"


def file_lines(value: object) -> list[str]:
    """One side of a diff as the lines of a file (a structure as JSON)."""
    if value is None:
        value = ""
    elif not isinstance(value, str):
        value = json.dumps(value, indent=4, sort_keys=True) + "\n"
    lines = value.splitlines(keepends=True)
    if lines and not lines[-1].endswith("\n"):
        lines[-1] += "\n\\ No newline at end of file\n"
    return lines


def fence(text: str) -> str:
    """A Markdown code fence longer than any run of backticks in text."""
    longest = run = 0
    for character in text:
        run = run + 1 if character == "`" else 0
        longest = max(longest, run)
    return "`" * max(3, longest + 1)


def header(report: Drift) -> dict[str, str]:
    """Who ran what, from which commit, on which hosts: the report's first table."""
    start = report.start
    commit = (start.get("git_commit") or "-")[:12]
    if start.get("dirty") is True:
        commit += " (dirty: uncommitted changes)"
    elif start.get("dirty") is None:
        commit += " (dirty: unknown)"
    return {
        "Run": report.run_id,
        "Started (UTC)": start.get("time") or "-",
        "Operator": start.get("operator") or "-",
        "Playbook": (start.get("playbook") or "-")
        + (f" (audit of {report.audited})" if report.audited else ""),
        "Commit": commit,
        "--limit": start.get("limit") or "(none: every host)",
    }


def drift_markdown(report: Drift) -> str:
    lines = [f"# {report.verdict}", ""]
    fields = header(report)
    lines += [row(*fields), "|" + "---|" * len(fields), row(*fields.values()), ""]
    if not report.ended:
        lines += [NOT_ENDED, ""]
    lines += [
        row("Ministry", "Hosts", "Drift", "Unreachable", "Failed", "In line"),
        "|---|---:|---:|---:|---:|---:|",
    ]
    lines += [row(ministry, total, *counts) for ministry, total, counts in report.ministries()]
    for ministry, sites in report.places():
        lines += ["", f"## {ministry}"]
        for site, hosts in sites:
            lines += [
                "",
                f"### {ministry} / {site}",
                "",
                row("Host", "State", "Would change", "Failures"),
                "|---|---|---:|---:|",
            ]
            lines += [row(host.name, host.state, len(host.changes), len(host.failures)) for host in hosts]
            for host in hosts:
                lines += host_markdown(host)
    return "\n".join(lines) + "\n"


def would_change(host: AuditedHost) -> str:
    count = len(host.changes)
    return f"{count} task{'s' if count > 1 else ''} would change"


def host_markdown(host: AuditedHost) -> list[str]:
    lines = []
    if host.changes:
        lines += ["", f"#### {host.name}: {would_change(host)}", ""]
        lines += [row("Task", "Action"), "|---|---|"]
        lines += [row(change.get("task"), change.get("action")) for change in host.changes]
        for change in host.changes:
            text = diff_text(change.get("diff"))
            mark = fence(text)
            lines += ["", f"{change.get('task')} ({change.get('action')}):", "", f"{mark}diff", text + mark]
    if host.failures:
        lines += ["", f"#### {host.name}: failures", "", row("Task", "Status", "Message"), "|---|---|---|"]
        lines += [
            row(
                failure.get("task"),
                failure.get("status") + (" (ignored)" if failure.get("ignored") else ""),
                failure.get("msg") or "-",
            )
            for failure in host.failures
        ]
    if host.forced:
        lines += ["", f"#### {host.name}: changed for real (tasks run with check_mode: false)", ""]
        lines += [row("Task", "Action"), "|---|---|"]
        lines += [row(change.get("task"), change.get("action")) for change in host.forced]
    return lines


def drift_html(report: Drift) -> str:
    """The same content as a page of the reports (page.html.j2), autoescaped: a diff's '<' stays text."""
    return (
        environment()
        .get_template("drift.html.j2")
        .render(
            report=report,
            fields=header(report),
            places=report.places(),
            diff_text=diff_text,
            would_change=would_change,
            not_ended=NOT_ENDED,
        )
    )


def drift_figures(report: Drift) -> dict:
    """The run's figures per host, for the monitoring (playbooks/drift-metrics.yml).

    time is when the run started (UTC, ISO 8601); per host its ministry and
    site (null when unknown), its state and how many tasks would change. A
    failed or unreachable host was not checked to the end: the publication
    keeps its figures of an earlier run.
    """
    return {
        "run_id": report.run_id,
        "time": report.start.get("time"),
        "limit": report.start.get("limit"),
        "ended": report.ended,
        "hosts": {
            name: {
                "ministry": host.ministry,
                "site": host.site,
                "state": host.state,
                "changes": len(host.changes),
            }
            for name, host in sorted(report.hosts.items())
        },
    }


def write(
    records: list[dict], run_id: str, prefix: Path, audited: str | None = None
) -> tuple[Drift, Path, Path]:
    """The drift report of one run, in PREFIX.md and PREFIX.html (and its figures in
    PREFIX.json): the report and its two pages."""
    report = drift(records, run_id, audited)
    prefix.parent.mkdir(parents=True, exist_ok=True)
    markdown_path = prefix.with_name(prefix.name + ".md")
    html_path = prefix.with_name(prefix.name + ".html")
    markdown_path.write_text(drift_markdown(report))
    html_path.write_text(drift_html(report))
    # Last: make drift publishes the figures of a run whose pages are written.
    prefix.with_name(prefix.name + ".json").write_text(json.dumps(drift_figures(report), indent=2) + "\n")
    return report, markdown_path, html_path
