#!/usr/bin/python3
# Copyright: PATN infrastructure team
# Apache License 2.0
"""Retention and disk limit of the central log store (roles/log_collector).

    patn-log-prune --dir /var/log/patn --retention-days 90 --max-bytes 53687091200 \
                   --metrics-dir /var/lib/prometheus/node-exporter

1. Retention: every file of the store whose last write is older than the
   retention is removed (a rotated day, a host's file that has not grown
   since, a shipped audit run).
2. Disk limit: while the store is over --max-bytes, its oldest file goes
   first, whatever its age; each such removal is counted and said on
   standard error (the journal), as it shortens the retention.
3. The collector reopens its files (a HUP) when a file it may still write
   was removed, then the metrics are written for the node exporter's
   textfile collector: patn_log_store_bytes, patn_log_store_limit_bytes,
   patn_log_store_files, patn_log_store_oldest_timestamp_seconds,
   patn_log_store_removed_files{reason="retention"|"size"} (this run) and
   patn_log_store_last_run_timestamp_seconds.
Exit status 0, or 1 when a file could not be removed (named on standard error).
"""

import argparse
import os
import subprocess
import sys
import time
from pathlib import Path

SERVICE = "patn-log-collector.service"
METRICS_FILE = "patn_log_store.prom"


def store_files(top: Path) -> list[tuple[float, int, Path]]:
    """(last write, size, path) of every regular file of the store, oldest first."""
    found = []
    for folder, _folders, names in os.walk(top):
        for name in names:
            path = Path(folder) / name
            try:
                status = path.lstat()
            except FileNotFoundError:
                continue
            if path.is_file() and not path.is_symlink():
                found.append((status.st_mtime, status.st_size, path))
    return sorted(found)


def remove(path: Path, reason: str, errors: list[str]) -> bool:
    try:
        path.unlink()
    except FileNotFoundError:
        return True
    except OSError as error:
        errors.append(f"{path}: cannot remove it ({reason}): {error}")
        return False
    return True


def write_metrics(folder: Path, lines: list[str]) -> None:
    """Atomically, so that the node exporter never reads half a file."""
    if not folder.is_dir():
        return
    temporary = folder / f".{METRICS_FILE}.{os.getpid()}"
    temporary.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    temporary.chmod(0o644)
    temporary.replace(folder / METRICS_FILE)


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("--dir", required=True, type=Path, help="the store's folder")
    parser.add_argument("--retention-days", required=True, type=int, help="days a message is kept")
    parser.add_argument("--max-bytes", required=True, type=int, help="disk space of the whole store")
    parser.add_argument("--metrics-dir", type=Path, help="the node exporter's textfile folder")
    parser.add_argument("--no-reload", action="store_true", help="never signal the collector")
    options = parser.parse_args(argv)

    now = time.time()
    errors: list[str] = []
    removed = {"retention": 0, "size": 0}
    reopen = False
    files = store_files(options.dir) if options.dir.is_dir() else []
    kept = []
    cutoff = now - options.retention_days * 86400
    for mtime, size, path in files:
        if mtime < cutoff and remove(path, "retention", errors):
            removed["retention"] += 1
            reopen = reopen or path.suffix == ".log"
        else:
            kept.append((mtime, size, path))
    total = sum(size for _mtime, size, _path in kept)
    while kept and total > options.max_bytes:
        mtime, size, path = kept.pop(0)
        if remove(path, "disk limit", errors):
            removed["size"] += 1
            total -= size
            reopen = reopen or path.suffix == ".log"
            print(
                f"{path}: removed before its retention:"
                f" the store is over its limit of {options.max_bytes} bytes",
                file=sys.stderr,
            )
    if reopen and not options.no_reload:
        subprocess.run(
            ["systemctl", "kill", "--kill-whom=main", "--signal=HUP", SERVICE],
            check=False,
            capture_output=True,
        )
    for message in errors:
        print(message, file=sys.stderr)

    oldest = kept[0][0] if kept else now
    lines = [
        "# HELP patn_log_store_bytes Disk space of the central log store.",
        "# TYPE patn_log_store_bytes gauge",
        f"patn_log_store_bytes {total}",
        "# HELP patn_log_store_limit_bytes The store's disk limit (log_collector__max_size).",
        "# TYPE patn_log_store_limit_bytes gauge",
        f"patn_log_store_limit_bytes {options.max_bytes}",
        "# HELP patn_log_store_files Files of the store.",
        "# TYPE patn_log_store_files gauge",
        f"patn_log_store_files {len(kept)}",
        "# HELP patn_log_store_oldest_timestamp_seconds Last write of the store's oldest file.",
        "# TYPE patn_log_store_oldest_timestamp_seconds gauge",
        f"patn_log_store_oldest_timestamp_seconds {oldest:.0f}",
        "# HELP patn_log_store_retention_days Days a message is kept (log_collector__retention_days).",
        "# TYPE patn_log_store_retention_days gauge",
        f"patn_log_store_retention_days {options.retention_days}",
        "# HELP patn_log_store_removed_files Files the last run removed, by reason.",
        "# TYPE patn_log_store_removed_files gauge",
        f'patn_log_store_removed_files{{reason="retention"}} {removed["retention"]}',
        f'patn_log_store_removed_files{{reason="size"}} {removed["size"]}',
        "# HELP patn_log_store_last_run_timestamp_seconds When the retention and disk limit last ran.",
        "# TYPE patn_log_store_last_run_timestamp_seconds gauge",
        f"patn_log_store_last_run_timestamp_seconds {now:.0f}",
    ]
    if options.metrics_dir:
        write_metrics(options.metrics_dir, lines)
    return 1 if errors else 0


if __name__ == "__main__":
    sys.exit(main())
