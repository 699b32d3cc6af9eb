"""The service contract of make validate (module_utils service_contract).

tests/fixtures/service_contract/lab/ holds the lab's files the contract
reads, as scripts/validate renders them (test_validate.py keeps them in step
with the roles). Each file of cases/ and errors/ changes some of them and
says what the contract must report (see the fixtures' README.md): a case's
failures exactly, an error's failures among others; every error must fail.
"""

import json
from pathlib import Path

import pytest
import yaml
from ansible_collections.patn.infra.plugins.module_utils import service_contract as contract
from conftest import FIXTURES

HERE = FIXTURES / "service_contract"
LAB = HERE / "lab"
CASES = sorted(path.stem for path in (HERE / "cases").glob("*.yml"))
ERRORS = sorted(path.stem for path in (HERE / "errors").glob("*.yml"))


def lab_files() -> dict[str, tuple[dict, dict[str, str]]]:
    """host -> (host.json, device path -> text)."""
    hosts = {}
    for folder in sorted(LAB.iterdir()):
        files = {
            "/" + str(path.relative_to(folder)): path.read_text()
            for path in sorted(folder.rglob("*"))
            if path.is_file() and path.name != "host.json"
        }
        hosts[folder.name] = (json.loads((folder / "host.json").read_text()), files)
    return hosts


def patch(text: str, change: dict) -> str:
    if "text" in change:
        return change["text"]
    if "replace" in change:
        assert change["replace"] in text, change
        return text.replace(change["replace"], change["with"])
    lines = text.splitlines(keepends=True)
    if "delete" in change:
        kept = [line for line in lines if change["delete"] not in line]
        assert len(kept) < len(lines), change
        return "".join(kept)
    (index,) = [number for number, line in enumerate(lines) if change["after"] in line][:1]
    indent = lines[index][: len(lines[index]) - len(lines[index].lstrip())]
    return "".join([*lines[: index + 1], f"{indent}{change['insert']}\n", *lines[index + 1 :]])


def network(patches: list[dict]) -> dict[str, contract.Host]:
    given = lab_files()
    for change in patches:
        for name in change.get("hosts") or [change["host"]]:
            files = given[name][1]
            files[change["file"]] = patch(files.get(change["file"], ""), change)
    hosts = {}
    for name, (variables, files) in given.items():
        router = contract.load_router(name, files, variables) if contract.RULESET in files else None
        hosts[name] = contract.Host(name, variables["address"], files, router, contract.load_firewall(files))
    return hosts


def verdicts_of(case: Path):
    given = yaml.safe_load(case.read_text())
    verdicts, _notes = contract.check_all(network(given["patches"]))
    shown = [verdict.describe().split(" [declared in ")[0] for verdict in verdicts]
    failed = [line for line, verdict in zip(shown, verdicts, strict=True) if not verdict.passed]
    return given, shown, failed


@pytest.mark.parametrize("case", CASES)
def test_case(case):
    given, shown, failed = verdicts_of(HERE / "cases" / f"{case}.yml")
    assert sorted(failed) == sorted(given["failures"])
    for line in given.get("allowed", []):
        assert line in shown


@pytest.mark.parametrize("case", ERRORS)
def test_error(case):
    given, _shown, failed = verdicts_of(HERE / "errors" / f"{case}.yml")
    assert failed, "an error case must fail"
    for line in given["failures"]:
        assert line in failed


def test_every_flow_is_checked_both_ways():
    verdicts, notes = contract.check_all(network([]))
    requests = [verdict for verdict in verdicts if verdict.direction == "request"]
    replies = [verdict for verdict in verdicts if verdict.direction == "reply"]
    services = {verdict.flow.service for verdict in requests}
    assert {
        "DHCP",
        "DNS",
        "NTP",
        "RADIUS authentication",
        "tunnel",
        "metrics scrape",
        "administration (SSH)",
    } <= services
    assert {"syslog", "packages"} <= services
    # Every request that passes has its reply checked (DHCP answers broadcast),
    # but those that cross no router: the monitoring host (the log collector)
    # sits on the hub's management segment with the administrators, and
    # sends its own logs to itself.
    monitoring = "172.18.8.20"
    local = {"ptn-dc-mon1", "the data centre (172.18.8.0/25)", "the data centre (172.18.8.20/32)"}
    passed = [
        verdict
        for verdict in requests
        if verdict.passed
        and verdict.flow.service != "DHCP"
        and not (verdict.flow.server == monitoring and verdict.flow.client in local)
    ]
    assert len(replies) == len(passed)
    assert notes == []


def test_exporter_on_the_loopback_is_noted_not_scraped():
    hosts = network([])
    hosts["ptn-dc-srv1"].files[contract.NODE_EXPORTER] = 'ARGS="--web.listen-address=127.0.0.1:9100"\n'
    verdicts, notes = contract.check_all(hosts)
    assert not [
        verdict
        for verdict in verdicts
        if verdict.flow.server == "172.18.8.138" and "scrape" in verdict.flow.service
    ]
    assert [note.message for note in notes] == ["metrics scrape: the exporter listens on this host only"]


@pytest.mark.parametrize(
    ("repository", "flow"),
    [
        ("sftp:restic@10.32.8.150:/srv/restic/srv1", ("10.32.8.150", "tcp", 22)),
        ("rest:https://10.32.8.150:8000/srv1", ("10.32.8.150", "tcp", 8000)),
        ("rest:http://user:pass@10.32.8.150/", ("10.32.8.150", "tcp", 80)),
        # The append-only REST repository of the data centre, its credential a vault placeholder.
        ("rest:https://srv1:placeholder-65e7cff1@10.32.8.168:8000/srv1/", ("10.32.8.168", "tcp", 8000)),
        ("s3:https://10.32.8.150/bucket/srv1", ("10.32.8.150", "tcp", 443)),
    ],
)
def test_backup_repositories(repository, flow):
    host = contract.Host(
        "srv1", "10.48.0.10", {"/etc/restic/patn-backup.env": f"RESTIC_REPOSITORY={repository}\n"}
    )
    flows, notes = contract.client_flows(host)
    assert [(item.server, item.protocol, item.port) for item in flows] == [flow]
    assert notes == []


@pytest.mark.parametrize(
    ("repository", "note"),
    [
        ("/var/backups/restic", None),
        (
            "placeholder-65e7cff1",
            "backup: the repository is a vault placeholder (placeholder-65e7cff1): not checked",
        ),
        (
            "sftp:restic@backup.dc.patn.cg:/srv",
            "backup: backup.dc.patn.cg is a name, resolved on the device: not checked",
        ),
        ("b2:bucket:srv1", "backup: repository 'b2:bucket:srv1' is not understood: not checked"),
    ],
)
def test_backup_repositories_not_checked(repository, note):
    host = contract.Host(
        "srv1", "10.48.0.10", {"/etc/restic/patn-backup.env": f"RESTIC_REPOSITORY={repository}\n"}
    )
    flows, notes = contract.client_flows(host)
    assert flows == []
    assert [item.message for item in notes] == ([note] if note else [])


def test_a_tunnel_file_must_name_every_peer():
    _variables, files = lab_files()["ptn-dc-hub1"]
    with pytest.raises(contract.ContractError, match=r"2 \[Peer\] sections for 3 peers"):
        contract.wireguard_peers(files["/etc/wireguard/wg0.conf"], ["a", "b", "c"])


def test_a_representative_address_is_the_last_host():
    assert contract.last_host("10.32.8.0/25") == "10.32.8.126"
    assert contract.last_host("10.32.8.7/32") == "10.32.8.7"
