"""Live checks of the backup role after side_effect.yml's round trip.

The round trip wrote 5,000 rows, 20 files and a link, backed them up,
destroyed the database and the files (a link of the same name put back
elsewhere), and restored them; these checks compare what was
there before with what came back, and look at the repository itself.
"""

import json
import os
from pathlib import Path

RESTIC = "/usr/local/sbin/patn-restic"


def test_round_trip_loses_no_row_and_no_file(host):
    before = host.file("/root/round-trip-before").content_string
    after = host.file("/root/round-trip-after").content_string
    rows = before.splitlines()[0].split()[0]
    assert rows == "5000"
    assert len(before.splitlines()) == 1 + 20 + 1, "the record of the files is incomplete"
    # The link a reinstall put there again is replaced by the one backed up.
    assert before.splitlines()[-1] == "courant -> 2026"
    assert after == before


def test_excluded_files_are_not_backed_up(host):
    assert not host.file("/srv/registres/pieces/upload.tmp").exists


def test_restored_database_keeps_its_owner_and_least_privilege(host):
    password = (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "pg-registres").read_text().split()[0]
    own = host.run(
        f"PGPASSWORD={password} psql -XAtq -h 127.0.0.1 -U registres -d registres "
        "-c 'SELECT count(*) FROM actes'"
    )
    assert own.rc == 0, own.stderr
    assert own.stdout.strip() == "5000"
    query = "SELECT has_database_privilege('public', 'registres', 'CONNECT')"
    public = host.check_output(f'runuser -u postgres -- psql -XAtq -c "{query}"')
    assert public.strip() == "f"


def test_restore_without_confirmation_is_refused(host):
    refusal = host.file("/root/restore-refusal").content_string
    assert "add -e backup__restore_confirm=backup-debian12" in refusal


def test_retention_keeps_one_snapshot_a_day(host):
    snapshots = json.loads(host.check_output(f"{RESTIC} snapshots --json"))
    assert len(snapshots) == 1
    assert snapshots[0]["hostname"] == "backup-debian12"
    assert "patn" in snapshots[0]["tags"]


def test_repository_is_sound_and_encrypted(host):
    check = host.run(f"{RESTIC} check --read-data")
    assert check.rc == 0, check.stderr
    # The rows are in the repository, but never in clear.
    assert host.run("grep -rq citoyen-4242 /var/backups/restic").rc == 1
    assert host.file("/etc/restic/password").mode == 0o600
    assert host.file("/etc/restic/patn-backup.env").mode == 0o600


def test_timer_is_scheduled(host):
    timer = host.check_output(
        "systemctl show patn-backup.timer -p UnitFileState -p ActiveState -p NextElapseUSecRealtime"
    )
    assert "UnitFileState=enabled" in timer
    assert "ActiveState=active" in timer
    assert "NextElapseUSecRealtime=\n" not in timer + "\n"


def test_last_success_is_published_for_monitoring(host):
    metrics = host.file("/var/lib/prometheus/node-exporter/patn_backup.prom").content_string
    assert "patn_backup_last_run_success 1" in metrics
    assert "patn_backup_last_success_timestamp_seconds " in metrics


def test_a_failed_backup_is_published_as_such(host):
    # A database that does not exist makes pg_dump fail: the run must fail and
    # say so, keeping the time of the last success.
    script = host.file("/usr/local/sbin/patn-backup").content_string
    broken = script.replace("--dbname=registres", "--dbname=absente")
    assert broken != script
    host.run(f"cat > /root/patn-backup-broken <<'EOF'\n{broken}\nEOF")
    result = host.run("bash /root/patn-backup-broken")
    assert result.rc != 0
    metrics = host.file("/var/lib/prometheus/node-exporter/patn_backup.prom").content_string
    assert "patn_backup_last_run_success 0" in metrics
    assert "patn_backup_last_success_timestamp_seconds " in metrics
