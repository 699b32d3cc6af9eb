"""Live checks of the pki role: trust, certificate, key custody, renewal."""

import os
from pathlib import Path

CERT = "/etc/ssl/patn/test.crt"


def test_certificate_verifies_against_the_system_trust_store(host):
    # No -CAfile: only the trust store, where the role installed the root.
    result = host.run("openssl verify %s", CERT)
    assert result.rc == 0, result.stderr
    assert result.stdout.strip().endswith(": OK")


def test_certificate_names_the_service(host):
    names = host.run("openssl x509 -in %s -noout -ext subjectAltName", CERT).stdout
    assert "DNS:test.lab.patn" in names
    assert "DNS:alias.lab.patn" in names
    assert "IP Address:127.0.0.1" in names


def test_private_key_stays_private_and_matches(host):
    key = host.file("/etc/ssl/patn/test.key")
    assert key.mode == 0o640
    assert key.user == "root"
    cert_key = host.run("openssl x509 -in %s -noout -pubkey", CERT).stdout
    own_key = host.run("openssl pkey -in /etc/ssl/patn/test.key -pubout").stdout
    assert cert_key == own_key


def test_root_ca_key_is_vault_encrypted_on_the_controller():
    ca_dir = Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / "pki"
    assert (ca_dir / "ca.key").read_text().startswith("$ANSIBLE_VAULT;")
    assert "BEGIN CERTIFICATE" in (ca_dir / "ca.crt").read_text()
    # The server's key never came to the controller.
    assert sorted(p.name for p in ca_dir.iterdir()) == ["ca.crt", "ca.key"]


def test_certificate_was_renewed_by_the_side_effect(host):
    before = host.file("/root/serial-before").content_string.strip()
    after = host.run("openssl x509 -in %s -noout -serial", CERT).stdout.strip()
    assert before.startswith("serial=")
    assert after != before
    assert host.run("openssl verify %s", CERT).rc == 0
