#!/usr/bin/python3
# Copyright: PATN infrastructure team
# Apache License 2.0
"""The data centre's backup repository host's own jobs (roles/backup_repository).

The e-service servers write into their repositories through rclone's
append-only REST server and can never delete; this tool, run by systemd
timers as root on the repository host, does what they cannot:

  retention  forget --prune every repository with the retention policy, as
             the repository's owner (the files stay the REST server's);
  drill      restore the latest snapshot of every repository into a scratch
             folder, check each database dump (pg_restore --list), compare
             every restored file's checksum with the snapshot's own content
             (restic dump), time it and write a report;
  quota      measure every repository against its quota: a repository over
             it loses the right to take locks, so the server's next backup
             fails (and says so) instead of filling the disk.

Each job publishes its outcome per server for the node exporter and exits
non-zero when any server failed: a failed job is a failed unit, never silence.
Settings: a JSON file written by the role (--config).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import pwd
import shutil
import subprocess
import sys
import tarfile
import time
from pathlib import Path

CONFIG = "/etc/patn-backup-repository/config.json"
# A repository whose locks folder is not writable takes no new backup.
LOCKS_OPEN, LOCKS_CLOSED = 0o700, 0o500
CHUNK = 1 << 20


class Failed(Exception):
    """A step of one server's job failed (the message says which)."""


def last_line(text: str, status: int) -> str:
    """What restic said last (its error), or its exit status."""
    lines = text.strip().splitlines()
    return lines[-1] if lines else f"exit status {status}"


def load(path: str) -> dict:
    return json.loads(Path(path).read_text())


def password(config: dict, name: str) -> str:
    return (Path(config["passwords"]) / name).read_text().rstrip("\n")


def restic(config: dict, name: str, *args: str, as_owner: bool = False, **options):
    """Run restic on a server's repository (local access, not the REST server)."""
    env = {
        "PATH": "/usr/sbin:/usr/bin:/sbin:/bin",
        "HOME": "/nonexistent",
        "RESTIC_REPOSITORY": str(Path(config["root"]) / name),
        "RESTIC_PASSWORD": password(config, name),
    }
    command = ["restic", "--no-cache", *args]
    kwargs = {"env": env}
    if as_owner:
        owner = pwd.getpwnam(config["user"])
        kwargs.update(user=owner.pw_uid, group=owner.pw_gid, extra_groups=[])
    if options.get("stream"):
        return subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kwargs)
    result = subprocess.run(command, capture_output=True, text=True, check=False, **kwargs)
    if result.returncode != 0:
        raise Failed(f"restic {' '.join(args)}: {last_line(result.stderr, result.returncode)}")
    return result


def repository(config: dict, name: str) -> Path:
    path = Path(config["root"]) / name
    if not (path / "config").is_file():
        raise Failed(f"no repository at {path}: the server has never backed up")
    return path


def snapshots(config: dict, name: str) -> list[dict]:
    return json.loads(restic(config, name, "--no-lock", "snapshots", "--json").stdout or "[]")


# --- metrics ----------------------------------------------------------------------------------


def previous(metrics: Path, metric: str) -> dict[str, str]:
    """server -> value of a metric in the last file this job wrote."""
    values = {}
    if metrics.is_file():
        prefix = metric + '{server="'
        for line in metrics.read_text().splitlines():
            if line.startswith(prefix):
                server, _, value = line[len(prefix) :].partition('"} ')
                values[server] = value
    return values


def publish(config: dict, job: str, series: dict[str, tuple[str, dict[str, object]]]) -> None:
    """Write {job}.prom atomically: metric -> (help, {server or "": value})."""
    folder = Path(config["metrics"])
    if not folder.is_dir():
        return
    lines = []
    for metric, (text, values) in series.items():
        lines += [f"# HELP {metric} {text}", f"# TYPE {metric} gauge"]
        for server, value in sorted(values.items()):
            labels = f'{{server="{server}"}}' if server else ""
            lines.append(f"{metric}{labels} {value}")
    target = folder / f"patn_backup_repository_{job}.prom"
    temporary = target.with_suffix(".tmp")
    temporary.write_text("\n".join(lines) + "\n")
    temporary.replace(target)


def outcome_series(config: dict, job: str, results: dict[str, bool], now: int) -> dict:
    """Success of the last run per server, and the time of its last success (kept across failures)."""
    metric = f"patn_backup_{job}_last_success_timestamp_seconds"
    target = Path(config["metrics"]) / f"patn_backup_repository_{job}.prom"
    last = previous(target, metric)
    for server, success in results.items():
        if success:
            last[server] = str(now)
    return {
        f"patn_backup_{job}_last_run_success": (
            f"1 when the last {job} of the server's repository succeeded, else 0.",
            {server: int(success) for server, success in results.items()},
        ),
        f"patn_backup_{job}_last_run_timestamp_seconds": (
            f"End of the last {job} run.",
            dict.fromkeys(results, now),
        ),
        metric: (
            f"End of the last successful {job} of the server's repository.",
            {server: value for server, value in last.items() if server in results},
        ),
    }


# --- retention --------------------------------------------------------------------------------


def retention(config: dict) -> dict[str, bool]:
    keep = config["keep"]
    results = {}
    for client in config["clients"]:
        name = client["name"]
        try:
            path = repository(config, name)
            # prune needs a lock, even on a repository over its quota.
            (path / "locks").chmod(LOCKS_OPEN)
            restic(
                config,
                name,
                "forget",
                "--prune",
                "--keep-daily",
                str(keep["daily"]),
                "--keep-weekly",
                str(keep["weekly"]),
                "--keep-monthly",
                str(keep["monthly"]),
                as_owner=True,
            )
            results[name] = True
            print(f"{name}: retention applied, {len(snapshots(config, name))} snapshots kept")
        except (Failed, OSError) as error:
            results[name] = False
            print(f"{name}: retention FAILED: {error}", file=sys.stderr)
    publish(config, "retention", outcome_series(config, "retention", results, int(time.time())))
    quota(config)
    return results


# --- drill ------------------------------------------------------------------------------------


def sha256(stream) -> str:
    digest = hashlib.sha256()
    while chunk := stream.read(CHUNK):
        digest.update(chunk)
    return digest.hexdigest()


def compare_with_snapshot(config: dict, name: str, snapshot: str, restored: Path) -> int:
    """Every regular file of the snapshot (restic dump, as tar) against the restored copy."""
    process = restic(config, name, "--no-lock", "dump", "--archive", "tar", snapshot, "/", stream=True)
    compared, differing = 0, []
    with tarfile.open(fileobj=process.stdout, mode="r|") as archive:
        for member in archive:
            if not member.isfile():
                continue
            path = member.name.lstrip("/")
            expected = sha256(archive.extractfile(member))
            copy = restored / path
            actual = sha256(copy.open("rb")) if copy.is_file() else "missing"
            if actual != expected:
                differing.append(path)
            compared += 1
    stderr = process.stderr.read().decode(errors="replace").strip()
    if process.wait() != 0:
        raise Failed(f"restic dump: {last_line(stderr, process.returncode)}")
    if differing:
        raise Failed(f"{len(differing)} restored files differ from the snapshot: {', '.join(differing[:5])}")
    if compared == 0:
        raise Failed("the snapshot holds no file")
    return compared


def check_dumps(restored: Path, dumps: str) -> list[str]:
    """pg_restore --list on every database dump of the snapshot."""
    folder = restored / dumps.lstrip("/")
    checked = []
    for dump in sorted(folder.glob("*.dump")) if folder.is_dir() else []:
        result = subprocess.run(
            ["pg_restore", "--list", str(dump)], capture_output=True, text=True, check=False
        )
        if result.returncode != 0:
            raise Failed(f"pg_restore --list {dump.name}: {result.stderr.strip()}")
        checked.append(dump.name)
    return checked


def drill_one(config: dict, name: str) -> str:
    repository(config, name)
    found = snapshots(config, name)
    if not found:
        raise Failed("the repository holds no snapshot")
    latest = max(found, key=lambda snapshot: snapshot["time"])
    restored = Path(config["scratch"]) / name
    shutil.rmtree(restored, ignore_errors=True)
    restored.mkdir(parents=True, mode=0o700)
    try:
        restic(config, name, "--no-lock", "check")
        snapshot = latest["short_id"]
        restic(config, name, "--no-lock", "restore", snapshot, "--target", str(restored), "--verify")
        dumps = check_dumps(restored, config["dumps"])
        files = compare_with_snapshot(config, name, snapshot, restored)
    finally:
        shutil.rmtree(restored, ignore_errors=True)
    return (
        f"snapshot {latest['short_id']} of {latest['time'][:19]}: {files} files identical, "
        f"{len(dumps)} database dumps readable ({', '.join(dumps) or 'none'})"
    )


def drill(config: dict) -> dict[str, bool]:
    results, durations, lines = {}, {}, []
    started = time.strftime("%Y-%m-%d %H:%M:%S %Z")
    for client in config["clients"]:
        name = client["name"]
        start = time.monotonic()
        try:
            summary = drill_one(config, name)
            results[name] = True
        except (Failed, OSError, tarfile.TarError, json.JSONDecodeError) as error:
            summary = str(error)
            results[name] = False
        durations[name] = round(time.monotonic() - start, 1)
        lines.append(f"{name}: {'passed' if results[name] else 'FAILED'} in {durations[name]} s; {summary}")
        print(lines[-1], file=sys.stdout if results[name] else sys.stderr)
    now = int(time.time())
    series = outcome_series(config, "drill", results, now)
    series["patn_backup_drill_duration_seconds"] = ("Time the server's last restore drill took.", durations)
    publish(config, "drill", series)
    failed = [name for name, success in results.items() if not success]
    report = [
        f"Restore drill of {started} on {os.uname().nodename} (roles/backup_repository)",
        f"{len(results) - len(failed)} of {len(results)} servers passed"
        + (f"; FAILED: {', '.join(failed)}" if failed else ""),
        "",
        *lines,
    ]
    folder = Path(config["reports"])
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "last-drill.txt").write_text("\n".join(report) + "\n")
    return results


# --- quota ------------------------------------------------------------------------------------


def size_of(path: Path) -> int:
    return sum(
        (Path(folder) / file).stat().st_size for folder, _dirs, files in os.walk(path) for file in files
    )


def quota(config: dict) -> dict[str, bool]:
    sizes, quotas, over = {}, {}, {}
    for client in config["clients"]:
        name = client["name"]
        path = Path(config["root"]) / name
        quotas[name] = client["quota"]
        sizes[name] = size_of(path) if path.is_dir() else 0
        over[name] = int(sizes[name] > client["quota"])
        if (path / "locks").is_dir():
            (path / "locks").chmod(LOCKS_CLOSED if over[name] else LOCKS_OPEN)
        if over[name]:
            print(f"{name}: {sizes[name]} bytes, over its quota of {client['quota']}: no new backup accepted")
    space = shutil.disk_usage(config["root"])
    publish(
        config,
        "quota",
        {
            "patn_backup_repository_size_bytes": ("Size of the server's repository.", sizes),
            "patn_backup_repository_quota_bytes": ("Quota of the server's repository.", quotas),
            "patn_backup_repository_over_quota": (
                "1 when the server's repository is over its quota (its backups are refused), else 0.",
                over,
            ),
            "patn_backup_repository_free_bytes": (
                "Free space of the repositories' file system.",
                {"": space.free},
            ),
            "patn_backup_repository_capacity_bytes": (
                "Size of the repositories' file system.",
                {"": space.total},
            ),
        },
    )
    return {name: not value for name, value in over.items()}


JOBS = {"retention": retention, "drill": drill, "quota": quota}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n", 1)[0])
    parser.add_argument("job", choices=sorted(JOBS))
    parser.add_argument("--config", default=CONFIG)
    arguments = parser.parse_args(argv)
    config = load(arguments.config)
    results = JOBS[arguments.job](config)
    # The quota's refusals are its purpose, not its failure.
    if arguments.job == "quota":
        return 0
    return 0 if all(results.values()) else 1


if __name__ == "__main__":
    sys.exit(main())
