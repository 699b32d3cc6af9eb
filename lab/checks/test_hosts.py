"""Checks of each managed lab host on its out-of-band port (SSH published
on 127.0.0.1, the administrator's key, sudo), and of the e-service server's
backups and its restore from the data centre: the hosts' lane (conftest.py
LANES), before Lynis (test_lynis.py).
"""

import json
import time

import pytest
from conftest import ALERT_WAIT, lab_inventory, on, playbook, run


def test_admin_logs_in_with_key_and_becomes_root(lab_host, ssh_base):
    name, _ = lab_host
    result = run([*on(ssh_base, name), "sudo -n id -u"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "0"


def test_password_login_is_refused(lab_host, ssh_base):
    _, port = lab_host
    result = run(
        [
            *ssh_base,
            "-o", "PubkeyAuthentication=no",
            "-o", "PreferredAuthentications=password,keyboard-interactive",
            "-p", str(port),
            "lab-admin@127.0.0.1",
            "true",
        ]
    )  # fmt: skip
    assert result.returncode == 255
    assert "Permission denied (publickey)" in result.stderr


def test_time_is_served_by_chrony_in_brazzaville_time(lab_host, ssh_base):
    name, _ = lab_host
    result = run([*on(ssh_base, name), "date +%Z; sudo -n chronyc -n tracking"])
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines()[0] == "WAT"
    assert "Reference ID" in result.stdout


def snapshot_ids(ssh_base, server):
    """The server's snapshots, as its own credential lists them."""
    listed = run([*on(ssh_base, server), "sudo -n patn-restic snapshots --json"])
    assert listed.returncode == 0, listed.stderr
    return [snapshot["id"] for snapshot in json.loads(listed.stdout)]


@pytest.mark.lab_parts("backups")
def test_backup_runs_and_monitoring_sees_it(ssh_base):
    # Run the nightly backup now on the e-service server, into the data
    # centre's backup repository (ptn-dc-bak1, restic's REST protocol over
    # TLS), then scrape that server's node exporter from the data centre's
    # monitoring host, in the management segment (the server's host firewall
    # lets only that in), on the server's management address planned in the
    # registry.
    address = lab_inventory()["ptn-dc-srv1"]["patn_management_address"]
    server = run([*on(ssh_base, "ptn-dc-srv1"), "sudo -n systemctl start patn-backup.service"])
    assert server.returncode == 0, server.stderr
    assert snapshot_ids(ssh_base, "ptn-dc-srv1"), "no snapshot of ptn-dc-srv1 in the data centre's repository"
    stored = run([*on(ssh_base, "ptn-dc-bak1"), "sudo -n ls /srv/restic/ptn-dc-srv1/snapshots"])
    assert stored.returncode == 0, stored.stderr
    assert stored.stdout.split(), "ptn-dc-bak1: no snapshot in /srv/restic/ptn-dc-srv1"
    script = (
        "import http.client; "
        f"c = http.client.HTTPConnection('{address}', 9100, timeout=10); "
        "c.request('GET', '/metrics'); print(c.getresponse().read().decode())"
    )
    scrape = run([*on(ssh_base, "ptn-dc-mon1"), f'python3 -c "{script}"'])
    assert scrape.returncode == 0, scrape.stderr
    assert "patn_backup_last_run_success 1" in scrape.stdout
    assert 'node_systemd_unit_state{name="eservice-dossiers-patients.service",state="active"' in scrape.stdout


# On the e-service server, as root: the request restic's forget makes,
# DELETE of a snapshot, with the server's own credential from its
# repository's URL (restic itself would retry it for a minute:
# molecule/backup_repository runs restic forget). Prints the HTTP status.
DELETE_SNAPSHOT = """
import base64, urllib.error, urllib.parse, urllib.request
lines = open('/etc/restic/patn-backup.env').read().splitlines()
env = dict(line.split('=', 1) for line in lines if '=' in line and not line.startswith('#'))
url = urllib.parse.urlsplit(env['RESTIC_REPOSITORY'].removeprefix('rest:'))
plain = url._replace(netloc=url.hostname + ':' + str(url.port))
request = urllib.request.Request(plain.geturl() + 'snapshots/%s', method='DELETE')
login = urllib.parse.unquote(url.username) + ':' + urllib.parse.unquote(url.password)
request.add_header('Authorization', 'Basic ' + base64.b64encode(login.encode()).decode())
try:
    print(urllib.request.urlopen(request, timeout=30).status)
except urllib.error.HTTPError as error:
    print(error.code)
"""


@pytest.mark.lab_parts("backups")
def test_the_server_s_own_credential_cannot_erase_its_backups(ssh_base):
    # Whoever takes over the server holds its credential: the repository
    # serves it append-only, so deleting a snapshot is refused (403) and the
    # snapshots stay as they were.
    before = snapshot_ids(ssh_base, "ptn-dc-srv1")
    assert before, "no snapshot to delete: the backup check failed"
    delete = run([*on(ssh_base, "ptn-dc-srv1"), "sudo -n python3 -"], input=DELETE_SNAPSHOT % before[0])
    assert delete.returncode == 0, delete.stderr
    assert delete.stdout.strip() == "403", f"ptn-dc-srv1 deleting snapshot {before[0]}: HTTP {delete.stdout}"
    assert snapshot_ids(ssh_base, "ptn-dc-srv1") == before


@pytest.mark.lab_parts("backups")
def test_the_repository_host_s_restore_drill_passes(ssh_base):
    # The drill (normally nightly) restores the server's latest snapshot on
    # the repository host, checks its dumps and files, and publishes it.
    drill = run([*on(ssh_base, "ptn-dc-bak1"), "sudo -n systemctl start patn-backup-drill.service"])
    report = run([*on(ssh_base, "ptn-dc-bak1"), "sudo -n cat /var/lib/patn-backup-repository/last-drill.txt"])
    assert drill.returncode == 0, f"ptn-dc-bak1: patn-backup-drill failed: {report.stdout}"
    assert "ptn-dc-srv1" in report.stdout, report.stdout
    metrics = run(
        [
            *on(ssh_base, "ptn-dc-bak1"),
            "cat /var/lib/prometheus/node-exporter/patn_backup_repository_drill.prom",
        ]
    )
    assert 'patn_backup_drill_last_run_success{server="ptn-dc-srv1"} 1' in metrics.stdout, metrics.stdout


@pytest.mark.lab_parts("backups")
def test_a_stale_backup_raises_its_alert_in_the_data_centre(ssh_base):
    # The server's backup metric says its last success was two days ago (as
    # if the nightly backup had stopped): Prometheus scrapes it, its rule
    # fires, Alertmanager holds the alert with the server's ministry and
    # site. The real metric is put back afterwards.
    metric = "/var/lib/prometheus/node-exporter/patn_backup.prom"
    server = on(ssh_base, "ptn-dc-srv1")
    stale = (
        f"sudo -n cp {metric} /root/patn_backup.prom.saved && "
        f"printf 'patn_backup_last_success_timestamp_seconds %d\\n' $(( $(date +%s) - 2 * 86400 ))"
        f" | sudo -n tee {metric}.tmp >/dev/null"
        f" && sudo -n chmod 0644 {metric}.tmp && sudo -n mv {metric}.tmp {metric}"
    )
    assert run([*server, stale]).returncode == 0
    try:
        waited = run(
            [*on(ssh_base, "ptn-dc-mon1"), "python3 -"],
            input=ALERT_WAIT
            % {"deadline": 120, "name": "BackupStale", "label": "instance", "value": "ptn-dc-srv1"},
        )
    finally:
        run([*server, f"sudo -n mv /root/patn_backup.prom.saved {metric}"])
    assert waited.returncode == 0, waited.stderr
    alerts = json.loads(waited.stdout)
    assert len(alerts) == 1, "no BackupStale alert in Alertmanager within 2 minutes"
    labels = alerts[0]["labels"]
    assert (labels["ministry"], labels["site"], labels["severity"]) == ("ptn", "dc", "critical")


# On the e-service server: a query of its database, as PostgreSQL's owner.
PSQL = 'sudo -n -u postgres psql -At -d dossiers_patients -c "%s"'
# There: a checksum of every record of its database and of every file of
# its e-services.
CHECKSUMS = (
    PSQL % "select count(*) || ' ' || md5(string_agg(id || ':' || body, ',' order by id)) from records"
    + " && sudo -n find /opt/eservices -type f -exec sha256sum {} + | sort -k 2 | sha256sum"
)
# There: its application answers its health check within 30 s.
HEALTH = (
    'python3 -c "import time, urllib.request\n'
    "for _ in range(30):\n"
    "    try:\n"
    "        answer = urllib.request.urlopen('http://127.0.0.1:8001/health', timeout=5)\n"
    "        raise SystemExit(answer.status != 200)\n"
    "    except OSError:\n"
    "        time.sleep(1)\n"
    'raise SystemExit(1)"'
)
DESTROY = (
    "sudo -n systemctl stop eservice-dossiers-patients && sudo -n -u postgres dropdb dossiers_patients"
    " && sudo -n rm -rf /opt/eservices/dossiers-patients"
)


@pytest.mark.lab_parts("backups", "eservice", "packages")
def test_the_server_is_restored_from_the_data_centre(ssh_base, ansible_env, record_property):
    # A record written, a backup into the data centre's repository; then the
    # server's database and files are destroyed, and playbooks/restore.yml
    # brings them back from the repository: the same records, the same
    # files, the e-service answering again.
    server = on(ssh_base, "ptn-dc-srv1")
    marker = f"restore-check-{time.time_ns()}"
    insert = PSQL % f"insert into records (body) values ('{marker}')"
    written = run([*server, f"{insert} && sudo -n systemctl start patn-backup.service"])
    assert written.returncode == 0, written.stderr
    before = run([*server, CHECKSUMS])
    assert before.returncode == 0, before.stderr
    destroyed = run([*server, DESTROY])
    assert destroyed.returncode == 0, destroyed.stderr
    started = time.monotonic()
    confirm = "backup__restore_confirm=ptn-dc-srv1"
    restore = playbook(ansible_env, "playbooks/restore.yml", "--limit", "ptn-dc-srv1", "-e", confirm)
    assert restore.returncode == 0, restore.stdout[-3000:] + restore.stderr[-2000:]
    record_property("result", f"{time.monotonic() - started:.0f} s")
    after = run([*server, CHECKSUMS])
    assert after.stdout == before.stdout, f"ptn-dc-srv1 restored differs: {before.stdout!r}, {after.stdout!r}"
    found = run([*server, PSQL % f"select count(*) from records where body = '{marker}'"])
    assert found.stdout.strip() == "1", found.stdout + found.stderr
    health = run([*server, HEALTH])
    assert health.returncode == 0, (
        f"ptn-dc-srv1: the e-service does not answer after the restore: {health.stderr}"
    )
