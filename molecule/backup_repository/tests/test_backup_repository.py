"""Live checks of the backup_repository role after side_effect.yml.

One host plays both parts: the e-service server (the backup role, with its
append-only credential) and the data centre's repository host. The side
effect recorded each outcome under /root/proof.
"""

import json
import re

PROOF = "/root/proof"
METRICS = "/var/lib/prometheus/node-exporter"
SERVER = '{server="backup-repository-debian12"}'


def proof(host, name):
    return host.file(f"{PROOF}/{name}").content_string


def snapshot_times(host, name):
    return sorted(snapshot["time"][:10] for snapshot in json.loads(proof(host, name)))


def test_rest_server_is_tls_and_append_only(host):
    unit = host.file("/etc/systemd/system/patn-backup-repository.service").content_string
    assert "--append-only --private-repos" in unit
    assert host.service("patn-backup-repository").is_running
    process = host.process.get(comm="rclone")
    assert process.user == "patn-backup"
    # restic on the server verifies the certificate with the system's trust
    # store, where the pki role put the root: a plain https URL, no --cacert.
    environment = host.file("/etc/restic/patn-backup.env").content_string
    assert re.search(r"^RESTIC_REPOSITORY='?rest:https://", environment, re.M)
    assert "cacert" not in environment
    plain = host.run("curl -s -o /dev/null -w '%{http_code}' http://127.0.0.1:8000/")
    assert plain.stdout != "200"


def test_credentials_are_hashed_and_passwords_root_only(host):
    htpasswd = host.file("/etc/patn-backup-repository/htpasswd")
    assert htpasswd.mode == 0o640
    assert re.fullmatch(r"backup-repository-debian12:\$2[aby]\$.*\n", htpasswd.content_string)
    password = host.file("/etc/patn-backup-repository/passwords/backup-repository-debian12")
    assert (password.user, password.mode) == ("root", 0o600)


def test_the_server_cannot_forget_or_prune(host):
    attack = json.loads(proof(host, "attack.json"))
    assert attack["forget"] != 0
    assert attack["forget_prune"] != 0
    assert attack["delete"] == "403"
    # Its credential opens its own repository only.
    assert attack["other_repository"] in ("401", "403", "404")
    before = json.loads(proof(host, "snapshots-before.json"))
    after = json.loads(proof(host, "snapshots-after-attack.json"))
    assert len(before) == 7
    assert sorted(s["id"] for s in after) == sorted(s["id"] for s in before)


def test_the_server_does_not_apply_retention_itself(host):
    script = host.file("/usr/local/sbin/patn-backup").content_string
    assert "forget" not in script


def test_retention_on_the_repository_host_keeps_the_policy(host):
    before = snapshot_times(host, "snapshots-before.json")
    today = before[-1]
    # daily 2: today's last and 2025-03-04; weekly 1: today's; monthly 3:
    # today's, 2025-03-04 and 2025-01-15. Today's first, 03-01 to 03-03 go.
    assert snapshot_times(host, "snapshots-after-retention.json") == ["2025-01-15", "2025-03-04", today]
    metrics = host.file(f"{METRICS}/patn_backup_repository_retention.prom").content_string
    assert f"patn_backup_retention_last_run_success{SERVER} 1" in metrics
    assert "patn_backup_retention_last_success_timestamp_seconds{" in metrics


def test_a_repository_over_its_quota_refuses_backups_until_below(host):
    outcome = json.loads(proof(host, "quota.json"))
    assert outcome["over"] != 0
    assert outcome["under"] == 0
    assert f"patn_backup_repository_over_quota{SERVER} 1" in proof(host, "over-quota.prom")
    metrics = host.file(f"{METRICS}/patn_backup_repository_quota.prom").content_string
    assert f"patn_backup_repository_over_quota{SERVER} 0" in metrics
    assert f"patn_backup_repository_quota_bytes{SERVER} 1073741824" in metrics
    assert re.search(r"^patn_backup_repository_free_bytes [1-9][0-9]*$", metrics, re.M)


def test_the_drill_passes_on_the_good_repository(host):
    report = proof(host, "drill-good.txt")
    assert "1 of 1 servers passed" in report
    passed = r"backup-repository-debian12: passed in [0-9.]+ s; snapshot \w+ of .*: \d+ files identical"
    assert re.search(passed, report)
    assert "1 database dumps readable (registres.dump)" in report
    metrics = proof(host, "drill-good.prom")
    assert f"patn_backup_drill_last_run_success{SERVER} 1" in metrics
    assert f"patn_backup_drill_last_success_timestamp_seconds{SERVER}" in metrics
    assert f"patn_backup_drill_duration_seconds{SERVER}" in metrics
    # The scratch copy is gone.
    assert host.run("ls -A /srv/patn-backup-drill").stdout.strip() == ""


def test_the_drill_fails_on_a_damaged_repository_and_says_so(host):
    assert proof(host, "drill-damaged.outcome").strip() == "failed"
    assert host.run("systemctl is-failed patn-backup-drill.service").stdout.strip() == "failed"
    assert "FAILED: backup-repository-debian12" in proof(host, "drill-damaged.txt")
    metrics = proof(host, "drill-damaged.prom")
    assert f"patn_backup_drill_last_run_success{SERVER} 0" in metrics
    # The last success is kept, so that an alert can say since when.
    last_success = f"patn_backup_drill_last_success_timestamp_seconds{SERVER}"
    good = re.search(rf"^{re.escape(last_success)} (\d+)$", proof(host, "drill-good.prom"), re.M)
    assert f"{last_success} {good.group(1)}" in metrics


def test_timers_are_scheduled(host):
    for job in ("retention", "drill", "quota"):
        timer = host.check_output(f"systemctl show patn-backup-{job}.timer -p UnitFileState -p ActiveState")
        assert "UnitFileState=enabled" in timer
        assert "ActiveState=active" in timer
