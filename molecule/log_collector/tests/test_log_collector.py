"""Live checks of the log_collector role and of the base role's forwarding
over TLS: a client's syslog reaches the collector's store under its
ministry and site; a sender the table does not know is filed under
unknown/; a client without TLS gets nothing in; the retention and the disk
limit remove files, oldest first."""

import time
import uuid

import pytest
import testinfra

STORE = "/var/log/patn"
CA = "/usr/local/share/ca-certificates/patn-root-ca.crt"
CLIENT_FILE = f"{STORE}/sante/bzv-hq/log-client-debian13.log"
PRUNE = "/usr/local/sbin/patn-log-prune"


@pytest.fixture(scope="module")
def collector():
    return testinfra.get_host("podman://log-collector-debian12")


@pytest.fixture(scope="module")
def client():
    return testinfra.get_host("podman://log-client-debian13")


def address(host):
    return host.check_output("ip -4 -o route get 1.1.1.1 | sed -n 's/.* src \\([0-9.]*\\).*/\\1/p'")


def wait_for(host, marker, path, seconds=45):
    """True once the marker is in a file under path (grep -r), within the time."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if host.run(f"grep -rqF -- {marker} {path}").rc == 0:
            return True
        time.sleep(1)
    return False


def test_listener_speaks_tls_with_the_collectors_certificate(collector, client):
    assert collector.service("patn-log-collector").is_running
    assert collector.service("patn-log-collector").is_enabled
    assert collector.socket("tcp://0.0.0.0:6514").is_listening
    # The client checks the certificate against the national (here
    # throwaway) root and the name it must carry.
    handshake = client.run(
        f"openssl s_client -connect {address(collector)}:6514 -CAfile {CA}"
        " -verify_hostname journaux.lab.patn -verify_return_error </dev/null"
    )
    assert handshake.rc == 0, handshake.stdout + handshake.stderr
    assert "Verify return code: 0 (ok)" in handshake.stdout


def test_the_client_forwards_over_tls(client):
    forward = client.file("/etc/rsyslog.d/60-patn-forward.conf").content_string
    assert 'StreamDriver="gtls"' in forward
    assert 'StreamDriverAuthMode="x509/name"' in forward
    assert 'StreamDriverPermittedPeers="journaux.lab.patn"' in forward
    assert client.package("rsyslog-gnutls").is_installed


def test_a_clients_line_is_filed_under_its_ministry_and_site(collector, client):
    marker = f"patn-molecule-{uuid.uuid4()}"
    client.check_output(f"logger -t patn-molecule {marker}")
    assert wait_for(collector, marker, CLIENT_FILE), f"{marker} not in {CLIENT_FILE} on the collector"
    line = collector.check_output(f"grep -F -- {marker} {CLIENT_FILE}")
    assert "log-client-debian13" in line
    stored = collector.file(CLIENT_FILE)
    assert (stored.user, stored.mode) == ("root", 0o640)


def test_an_unknown_sender_is_filed_not_dropped(collector):
    marker = f"patn-unknown-{uuid.uuid4()}"
    sent = collector.run(
        f"printf '<13>Dec  1 12:00:00 stranger test: {marker}\\n'"
        f" | timeout 10 openssl s_client -connect 127.0.0.1:6514 -CAfile {CA} -quiet -no_ign_eof"
    )
    assert sent.rc == 0, sent.stderr
    assert wait_for(collector, marker, f"{STORE}/unknown/127.0.0.1.log", 20)


def test_a_client_without_tls_gets_nothing_in(collector, client):
    marker = f"patn-plain-{uuid.uuid4()}"
    client.run(f"logger --tcp --server {address(collector)} --port 6514 -t patn-plain {marker}")
    # Time for a line to be filed, had it been accepted (the TLS one takes
    # well under a second).
    time.sleep(5)
    assert collector.run(f"grep -rqF -- {marker} {STORE}").rc != 0
    assert collector.service("patn-log-collector").is_running


def test_the_retention_removes_old_files(collector):
    old = f"{STORE}/sante/bzv-hq/log-client-debian13.log-20200101.gz"
    collector.check_output(f"touch -d '100 days ago' {old}")
    collector.check_output("systemctl start patn-log-prune.service")
    assert not collector.file(old).exists
    # The current file, written today, stays.
    assert collector.file(CLIENT_FILE).exists
    metrics = collector.file("/var/lib/prometheus/node-exporter/patn_log_store.prom").content_string
    assert 'patn_log_store_removed_files{reason="retention"} 1' in metrics
    assert "patn_log_store_limit_bytes 53687091200" in metrics


def test_the_disk_limit_removes_the_oldest_files_first(collector):
    scratch = "/root/store"
    collector.check_output(f"rm -rf {scratch} && mkdir -p {scratch}/a/b")
    for name, age in (("oldest.log-1", "3 days ago"), ("older.log-2", "2 days ago"), ("host.log", "now")):
        path = f"{scratch}/a/b/{name}"
        collector.check_output(f"head -c 1000 /dev/zero > {path} && touch -d '{age}' {path}")
    run = collector.run(f"{PRUNE} --dir {scratch} --retention-days 90 --max-bytes 2000 --no-reload")
    assert run.rc == 0, run.stderr
    assert "oldest.log-1: removed before its retention" in run.stderr
    left = collector.check_output(f"ls {scratch}/a/b").split()
    assert sorted(left) == ["host.log", "older.log-2"]
