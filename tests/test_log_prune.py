"""The central log store's retention and disk limit
(roles/log_collector/files/patn-log-prune.py), on folders of the test."""

import os
import subprocess
import sys
import time

from conftest import TOP

SCRIPT = TOP / "roles" / "log_collector" / "files" / "patn-log-prune.py"
DAY = 86400


def store(tmp_path, files):
    """files: relative path -> (size in bytes, age in days)."""
    top = tmp_path / "store"
    now = time.time()
    for name, (size, age) in files.items():
        path = top / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(b"x" * size)
        os.utime(path, (now - age * DAY, now - age * DAY))
    return top


def prune(top, tmp_path, retention=90, max_bytes=10**9):
    metrics = tmp_path / "metrics"
    metrics.mkdir(exist_ok=True)
    completed = subprocess.run(
        [sys.executable, SCRIPT, "--dir", top, "--retention-days", str(retention),
         "--max-bytes", str(max_bytes), "--metrics-dir", metrics, "--no-reload"],
        capture_output=True, text=True, check=False,
    )  # fmt: skip
    left = sorted(str(path.relative_to(top)) for path in top.rglob("*") if path.is_file())
    values = {
        line.rsplit(" ", 1)[0]: float(line.rsplit(" ", 1)[1])
        for line in (metrics / "patn_log_store.prom").read_text().splitlines()
        if not line.startswith("#")
    }
    return completed, left, values


def test_the_retention_removes_what_is_older_whatever_its_kind(tmp_path):
    top = store(
        tmp_path,
        {
            "sante/bzv-hq/rtr1.log-20200101.gz": (100, 120),
            "sante/bzv-hq/rtr1.log": (100, 0),
            "justice/tgi-bzv/old-host.log": (100, 91),
            "audit/2020-01-01-run.jsonl": (100, 200),
            "unknown/10.0.0.9.log": (100, 89),
        },
    )
    completed, left, values = prune(top, tmp_path)
    assert completed.returncode == 0, completed.stderr
    assert left == ["sante/bzv-hq/rtr1.log", "unknown/10.0.0.9.log"]
    assert values['patn_log_store_removed_files{reason="retention"}'] == 3
    assert values['patn_log_store_removed_files{reason="size"}'] == 0
    assert values["patn_log_store_bytes"] == 200
    assert values["patn_log_store_files"] == 2
    # Nothing was removed for the disk limit: nothing said.
    assert completed.stderr == ""


def test_over_the_limit_the_oldest_files_go_first_and_are_named(tmp_path):
    top = store(
        tmp_path,
        {
            "a/b/h.log-3": (1000, 3),
            "a/b/h.log-2": (1000, 2),
            "a/b/h.log-1": (1000, 1),
            "a/b/h.log": (1000, 0),
        },
    )
    completed, left, values = prune(top, tmp_path, max_bytes=2500)
    assert completed.returncode == 0, completed.stderr
    assert left == ["a/b/h.log", "a/b/h.log-1"]
    assert "a/b/h.log-3: removed before its retention" in completed.stderr
    assert "a/b/h.log-2: removed before its retention" in completed.stderr
    assert values['patn_log_store_removed_files{reason="size"}'] == 2
    assert values["patn_log_store_bytes"] == 2000
    assert values["patn_log_store_limit_bytes"] == 2500


def test_an_empty_store_publishes_zero(tmp_path):
    top = tmp_path / "store"
    top.mkdir()
    completed, left, values = prune(top, tmp_path)
    assert completed.returncode == 0
    assert left == []
    assert values["patn_log_store_bytes"] == 0
    assert values["patn_log_store_files"] == 0
