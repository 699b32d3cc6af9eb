"""Live checks of the eservice role through nginx, PostgreSQL and systemd."""

import json

CURL = "curl -sS --max-time 10 --resolve registres.lab.patn:443:127.0.0.1"


def test_application_answers_through_nginx_and_reaches_its_database(host):
    before = json.loads(host.check_output(f"{CURL} https://registres.lab.patn/records"))
    stored = host.run(f"{CURL} -X POST --data acte-de-naissance-0042 https://registres.lab.patn/records")
    assert stored.rc == 0, stored.stderr
    after = json.loads(host.check_output(f"{CURL} https://registres.lab.patn/records"))
    assert after["count"] == before["count"] + 1


def test_broken_release_was_rolled_back_to_the_previous_one(host):
    failure = host.file("/root/deploy-2.0.0-failure").content_string
    assert "registres 2.0.0 failed its health check; rolled back to releases/1.1.0" in failure
    current = host.file("/opt/eservices/registres/current").linked_to
    assert current == "/opt/eservices/registres/releases/1.1.0"
    health = json.loads(host.check_output(f"{CURL} https://registres.lab.patn/health"))
    assert health["version"] == "1.1.0"


def test_previous_release_is_kept_for_rollback(host):
    releases = host.file("/opt/eservices/registres/releases").listdir()
    assert "1.1.0" in releases
    assert "1.0.0" in releases


def test_service_runs_as_its_own_user_in_a_sandbox(host):
    properties = host.check_output(
        "systemctl show eservice-registres -p User -p NoNewPrivileges -p ProtectSystem -p ProtectHome "
        "-p PrivateTmp -p CapabilityBoundingSet"
    )
    assert "User=es-registres" in properties
    assert "NoNewPrivileges=yes" in properties
    assert "ProtectSystem=strict" in properties
    assert "ProtectHome=yes" in properties
    assert "PrivateTmp=yes" in properties
    assert "CapabilityBoundingSet=\n" in properties + "\n"
    owner = host.check_output("ps -o user= -C python3 | sort -u")
    assert "es-registres" in owner


def test_environment_file_with_the_password_is_private(host):
    env = host.file("/etc/eservice-registres.env")
    assert env.mode == 0o640
    assert env.group == "es-registres"


def test_the_rollback_restored_the_previous_environment_and_unit_and_found_it_healthy(host):
    failure = host.file("/root/deploy-2.0.0-failure").content_string
    assert (
        "rolled back to releases/1.1.0 (its environment and unit too), which answers its health check"
        in failure
    )
    release = "/opt/eservices/registres/releases/1.1.0/.patn"
    live = {
        "app.env": "/etc/eservice-registres.env",
        "eservice.service": "/etc/systemd/system/eservice-registres.service",
    }
    for name, path in live.items():
        assert host.file(path).content == host.file(f"{release}/{name}").content, path
    assert "RELEASE_NOTE" not in host.file("/etc/eservice-registres.env").content_string
    assert "/ready" not in host.file("/etc/systemd/system/eservice-registres.service").content_string
    # The running process started after 1.1.0's environment was back (its
    # environ is not readable here: podman gives root no CAP_SYS_PTRACE).
    started = host.check_output(
        'date -d "$(systemctl show -p ExecMainStartTimestamp --value eservice-registres)" +%s'
    )
    assert int(started) >= int(host.check_output("stat -c %Y /etc/eservice-registres.env"))
    # systemd runs the unit on disk (daemon-reload after the restore).
    assert host.check_output("systemctl show -p NeedDaemonReload --value eservice-registres") == "no"


def test_each_release_keeps_its_own_environment_and_unit(host):
    broken = "/opt/eservices/registres/releases/2.0.0/.patn"
    assert "RELEASE_NOTE=broken-2.0.0" in host.file(f"{broken}/app.env").content_string
    assert (
        "# Health check: http://127.0.0.1:8001/ready"
        in host.file(f"{broken}/eservice.service").content_string
    )
    for release in ("1.1.0", "2.0.0"):
        folder = host.file(f"/opt/eservices/registres/releases/{release}/.patn")
        assert folder.mode == 0o750
        assert folder.group == "es-registres"
        env = host.file(f"{folder.path}/app.env")
        assert env.mode == 0o640
        assert env.group == "es-registres"
