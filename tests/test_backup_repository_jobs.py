"""The backup repository host's jobs (roles/backup_repository/files/
patn-backup-repository.py) without restic: what they do when a repository
is missing or over its quota, and what they publish. molecule/backup_repository
runs them on real repositories."""

import json
import os

import pytest
from conftest import load_script

jobs = load_script("patn-backup-repository.py", "roles/backup_repository/files")


@pytest.fixture
def config(tmp_path):
    settings = {
        "root": str(tmp_path / "srv"),
        "user": "patn-backup",
        "passwords": str(tmp_path / "passwords"),
        "scratch": str(tmp_path / "scratch"),
        "reports": str(tmp_path / "reports"),
        "metrics": str(tmp_path / "metrics"),
        "dumps": "/var/backups/patn-dumps",
        "keep": {"daily": 7, "weekly": 5, "monthly": 12},
        "clients": [{"name": "ptn-dc-srv1", "quota": 150}, {"name": "ptn-dc-srv2", "quota": 1000}],
    }
    for folder in ("srv", "passwords", "scratch", "metrics"):
        (tmp_path / folder).mkdir()
    for name in ("ptn-dc-srv1", "ptn-dc-srv2"):
        (tmp_path / "srv" / name / "locks").mkdir(parents=True)
        (tmp_path / "srv" / name / "data").mkdir()
        (tmp_path / "srv" / name / "data" / "pack").write_bytes(b"x" * 100)
        (tmp_path / "srv" / name / "config").write_bytes(b"x" * 100)
    path = tmp_path / "config.json"
    path.write_text(json.dumps(settings))
    return settings, str(path)


def metrics(settings, job):
    return os.path.join(settings["metrics"], f"patn_backup_repository_{job}.prom")


def read(settings, job):
    with open(metrics(settings, job)) as file:
        return file.read()


def test_a_repository_over_its_quota_takes_no_lock_until_below(config):
    settings, path = config
    assert jobs.main(["quota", "--config", path]) == 0  # refusing is the job, not its failure
    locks = os.path.join(settings["root"], "ptn-dc-srv1", "locks")
    assert os.stat(locks).st_mode & 0o777 == 0o500
    assert os.stat(os.path.join(settings["root"], "ptn-dc-srv2", "locks")).st_mode & 0o777 == 0o700
    published = read(settings, "quota")
    assert 'patn_backup_repository_over_quota{server="ptn-dc-srv1"} 1' in published
    assert 'patn_backup_repository_over_quota{server="ptn-dc-srv2"} 0' in published
    assert 'patn_backup_repository_size_bytes{server="ptn-dc-srv1"} 200' in published
    assert 'patn_backup_repository_quota_bytes{server="ptn-dc-srv1"} 150' in published
    assert "\npatn_backup_repository_free_bytes " in published
    # A larger quota: accepted again.
    settings["clients"][0]["quota"] = 500
    jobs.quota(settings)
    assert os.stat(locks).st_mode & 0o777 == 0o700


def test_a_server_without_repository_fails_its_drill_loudly_keeping_its_last_success(config):
    settings, path = config
    os.remove(os.path.join(settings["root"], "ptn-dc-srv2", "config"))
    settings["clients"] = settings["clients"][1:]
    with open(path, "w") as file:
        json.dump(settings, file)
    with open(metrics(settings, "drill"), "w") as file:
        file.write('patn_backup_drill_last_success_timestamp_seconds{server="ptn-dc-srv2"} 1234\n')
    assert jobs.main(["drill", "--config", path]) == 1
    published = read(settings, "drill")
    assert 'patn_backup_drill_last_run_success{server="ptn-dc-srv2"} 0' in published
    assert 'patn_backup_drill_last_success_timestamp_seconds{server="ptn-dc-srv2"} 1234' in published
    assert 'patn_backup_drill_duration_seconds{server="ptn-dc-srv2"}' in published
    with open(os.path.join(settings["reports"], "last-drill.txt")) as file:
        report = file.read()
    assert "0 of 1 servers passed; FAILED: ptn-dc-srv2" in report
    assert "ptn-dc-srv2: FAILED in" in report
    assert "the server has never backed up" in report


def test_a_retention_that_cannot_run_fails_and_says_so(config):
    settings, path = config
    os.remove(os.path.join(settings["root"], "ptn-dc-srv1", "config"))
    os.remove(os.path.join(settings["root"], "ptn-dc-srv2", "config"))
    assert jobs.main(["retention", "--config", path]) == 1
    published = read(settings, "retention")
    assert 'patn_backup_retention_last_run_success{server="ptn-dc-srv1"} 0' in published
    # The quota check runs after the retention.
    assert os.path.isfile(metrics(settings, "quota"))
