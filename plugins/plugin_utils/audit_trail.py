# Copyright: PATN infrastructure team
# Apache License 2.0
"""The audit trail that the callback patn.infra.audit writes, read back: its
JSON lines (scripts/audit-summary, scripts/status), and each site's last
converge and verification (scripts/status)."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

# The playbook whose full, successful run is a site's converge (or, in check
# mode, its verification): the whole job, not one capability.
WHOLE_JOB = "playbooks/site.yml"
# A check-mode run of the drift report plays site.yml through this one.
DRIFT_JOB = "playbooks/audit.yml"


class AuditError(Exception):
    """An audit log that cannot be read; the message says where."""


def read_lines(directory: Path, since: str | None, run_id: str | None = None) -> list[dict]:
    """Every record of the log's files (from `since` on; of one run only), in file and line order."""
    if not directory.is_dir():
        raise AuditError(f"{directory}: no such audit log folder (set --dir or PATN_AUDIT_DIR)")
    records = []
    for path in sorted(directory.glob("*.jsonl")):
        if since and path.stem < since:
            continue
        with path.open(encoding="utf-8") as lines:
            for number, line in enumerate(lines, start=1):
                if not line.strip() or (run_id and run_id not in line):
                    continue
                try:
                    record = json.loads(line.rstrip("\r\n"))
                except json.JSONDecodeError as error:
                    message = f"{path}:{number}: not valid JSON: {error.msg} (column {error.colno})"
                    raise AuditError(message) from None
                if not isinstance(record, dict) or "run_id" not in record:
                    raise AuditError(f"{path}:{number}: not an audit record (a JSON object with a run_id)")
                if since and str(record.get("time", "")) < since:
                    continue
                if run_id and record["run_id"] != run_id:
                    continue
                records.append(record)
    return records


@dataclass
class SiteRuns:
    """When a site's devices last went through the whole job without a failure."""

    converged: str | None = None  # the latest such run applied (not in check mode)
    verified: str | None = None  # the latest such run in check mode (site.yml --check, the drift report)
    failed: str | None = None  # the latest run in which one of them failed or was unreachable


def site_runs(
    records: list[dict], sites: dict[tuple[str, str], list[str]]
) -> dict[tuple[str, str], SiteRuns]:
    """Per (ministry, site code): its latest converge, verification and failure, from the runs'
    run_end lines. A run counts for a site only when it reached every device of the site (its
    hosts, as `sites` lists them): a run limited to one device neither converges nor verifies
    the site."""
    starts = {r["run_id"]: r for r in records if r.get("event") == "run_start"}
    found = {key: SiteRuns() for key in sites}
    for record in records:
        if record.get("event") != "run_end":
            continue
        start = starts.get(record["run_id"], record)
        time, hosts = start.get("time") or record.get("time"), record.get("hosts") or {}
        whole_job = record.get("playbook") in (WHOLE_JOB, DRIFT_JOB)
        for key, names in sites.items():
            reached = [hosts[name] for name in names if name in hosts]
            if not reached:
                continue
            runs = found[key]
            if any(h.get("failed") or h.get("unreachable") for h in reached):
                runs.failed = max(runs.failed or "", time)
            elif whole_job and len(reached) == len(names):
                if record.get("check_mode") is True:
                    runs.verified = max(runs.verified or "", time)
                else:
                    runs.converged = max(runs.converged or "", time)
    return found
