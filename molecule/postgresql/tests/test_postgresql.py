"""Live checks of the postgresql role: real logins with psql, from the server."""

import os
from pathlib import Path

import pytest


def password(role):
    return (Path(os.environ["MOLECULE_EPHEMERAL_DIRECTORY"]) / f"pg-{role}").read_text().split()[0]


def psql(host, role, database, secret, address="127.0.0.1"):
    return host.run(
        "PGPASSWORD=%s PGCONNECT_TIMEOUT=5 psql -h %s -U %s -d %s -tAc 'select current_user'",
        secret,
        address,
        role,
        database,
    )


@pytest.mark.parametrize("service", ["etat_civil", "dossiers_patients"])
def test_each_eservice_reaches_its_own_database(host, service):
    result = psql(host, service, service, password(service))
    assert result.rc == 0, result.stderr
    assert result.stdout.strip() == service


def test_an_eservice_is_refused_another_eservices_database(host):
    result = psql(host, "etat_civil", "dossiers_patients", password("etat_civil"))
    assert result.rc != 0
    # pg_hba.conf's final reject line: etat_civil has no entry for that database.
    assert "pg_hba.conf rejects connection" in result.stderr


def test_wrong_password_is_refused(host):
    result = psql(host, "etat_civil", "etat_civil", "not-the-password")
    assert result.rc != 0
    assert "password authentication failed" in result.stderr


def as_postgres(host, query):
    return host.run("runuser -u postgres -- psql -tAc %s", query)


def test_public_cannot_connect_even_where_pg_hba_would_allow(host):
    # CONNECT is revoked from PUBLIC: only the owner (and superusers) may connect.
    acl = as_postgres(host, "select datacl from pg_database where datname='etat_civil'")
    assert acl.rc == 0, acl.stderr
    entries = acl.stdout.strip().strip("{}").split(",")
    assert any(entry.startswith("etat_civil=") and "c" in entry.split("/")[0] for entry in entries)
    public = [entry.split("/")[0] for entry in entries if entry.startswith("=")]
    assert not [grant for grant in public if "c" in grant]


def test_listens_on_localhost_only(host):
    sockets = host.run("ss -Htlnp").stdout
    lines = [line for line in sockets.splitlines() if ":5432" in line]
    assert lines
    assert all(("127.0.0.1:5432" in line) or ("[::1]:5432" in line) for line in lines)


def test_passwords_are_stored_as_scram(host):
    stored = as_postgres(host, "select rolpassword from pg_authid where rolname='etat_civil'")
    assert stored.stdout.startswith("SCRAM-SHA-256$")
