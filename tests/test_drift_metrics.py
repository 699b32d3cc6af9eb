"""The drift figures published to the monitoring: the filter
patn.infra.drift_metrics and playbooks/drift-metrics.yml.

Each folder of tests/fixtures/drift_metrics/cases/ holds the published text,
the reports' figures and the inventory's hosts (input.yml) and the file
expected (expected.prom); every file of errors/ must fail with its `error`
fragment. The playbook runs on the lab's monitoring host played locally,
with the figures of the fixture drift report (tests/test_audit_drift.py)."""

import json
import subprocess

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.patn.infra.plugins.filter.drift_metrics import drift_metrics
from conftest import FIXTURES, TOP, run_playbook

CASES_DIR = FIXTURES / "drift_metrics" / "cases"
ERRORS_DIR = FIXTURES / "drift_metrics" / "errors"
DRIFT_LOG = FIXTURES / "audit_drift" / "log"
RUN = "5d1e9a40-7c2b-4f3e-9a61-0b8c2d4e6f10"


def load(path):
    return yaml.safe_load(path.read_text())


@pytest.mark.parametrize("case", sorted(p.name for p in CASES_DIR.iterdir()))
def test_case(case):
    given = load(CASES_DIR / case / "input.yml")
    text = drift_metrics(given["published"], given["reports"], given.get("hosts"))
    assert text == (CASES_DIR / case / "expected.prom").read_text()
    # What it writes it reads back: publishing the same reports again changes nothing.
    assert drift_metrics(text, given["reports"], given.get("hosts")) == text


@pytest.mark.parametrize("case", sorted(p.stem for p in ERRORS_DIR.glob("*.yml")))
def test_error(case):
    doc = load(ERRORS_DIR / f"{case}.yml")
    with pytest.raises(AnsibleFilterError) as raised:
        drift_metrics(doc["published"], doc["reports"], doc.get("hosts"))
    assert doc["error"] in str(raised.value)


def publish(tmp_path, *reports):
    return run_playbook(
        "-i",
        "inventories/lab",
        "playbooks/drift-metrics.yml",
        "--limit",
        "ptn-dc-mon1",
        "-e",
        "ansible_connection=local",
        "-e",
        "ansible_become=false",
        "-e",
        f"drift_metrics_file={tmp_path / 'patn_drift.prom'}",
        "-e",
        f"drift_reports={','.join(str(report) for report in reports)}",
    )


@pytest.fixture(scope="module")
def report(tmp_path_factory):
    """The figures of the fixture run's drift report, as scripts/audit-summary drift writes them."""
    folder = tmp_path_factory.mktemp("report")
    command = [TOP / "scripts" / "audit-summary", "drift", "--run-id", RUN, "--dir", DRIFT_LOG]
    completed = subprocess.run(
        [*command, "--out", folder / "r"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert completed.returncode == 0, completed.stderr
    return folder / "r.json"


def test_the_report_holds_the_figures_per_host(report):
    figures = json.loads(report.read_text())
    assert figures["run_id"] == RUN
    assert figures["time"] == "2025-06-10T07:00:00Z"
    assert {name: (host["state"], host["changes"]) for name, host in figures["hosts"].items()} == {
        "justice-tgi-pnr-rtr1": ("drift", 2),
        "lab-controller": ("in line", 0),
        "sante-bzv-hq-ap1": ("unreachable", 0),
        "sante-bzv-hq-srv1": ("drift", 1),
        "sante-bzv-hq-srv2": ("in line", 0),
    }
    assert figures["hosts"]["sante-bzv-hq-srv1"]["ministry"] == "sante"
    assert figures["hosts"]["sante-bzv-hq-srv1"]["site"] == "bzv-hq"


def lab_report(folder):
    """Figures of a run limited to santé in the lab: a server with drift, one unreachable."""
    path = folder / "ministry_sante-20261201T070000Z.json"
    hosts = {
        "sante-bzv-hq-rtr1": {"ministry": "sante", "site": "bzv-hq", "state": "drift", "changes": 2},
        "sante-bzv-hq-ap1": {"ministry": "sante", "site": "bzv-hq", "state": "unreachable", "changes": 0},
        "sante-old-rtr1": {"ministry": "sante", "site": "old", "state": "in line", "changes": 0},
    }
    path.write_text(json.dumps({"run_id": "r1", "time": "2026-12-01T07:00:00Z", "hosts": hosts}))
    return path


def test_the_playbook_publishes_the_figures_of_the_inventory_hosts(tmp_path):
    report = lab_report(tmp_path)
    published = tmp_path / "patn_drift.prom"
    mon1 = 'host="ptn-dc-mon1",host_ministry="ptn",host_site="dc"'
    published.write_text(
        f"patn_drift_changed_tasks{{{mon1}}} 0\npatn_drift_last_run_timestamp_seconds{{{mon1}}} 1764000000\n"
    )
    completed = publish(tmp_path, report)
    assert completed.returncode == 0, completed.stdout + completed.stderr
    text = published.read_text()
    # Another ministry's figures stay; the checked hosts of the lab inventory are added.
    rtr1 = 'host="sante-bzv-hq-rtr1",host_ministry="sante",host_site="bzv-hq"'
    assert f"patn_drift_changed_tasks{{{mon1}}} 0\n" in text
    assert f"patn_drift_changed_tasks{{{rtr1}}} 2\n" in text
    assert f"patn_drift_last_run_timestamp_seconds{{{rtr1}}} 1796108400\n" in text
    assert "sante-bzv-hq-ap1" not in text  # unreachable: not checked
    assert "sante-old-rtr1" not in text  # not in the inventory
    assert oct(published.stat().st_mode & 0o777) == "0o644"
    again = publish(tmp_path, report)
    assert again.returncode == 0, again.stdout + again.stderr
    assert "changed=0" in again.stdout
    assert published.read_text() == text


def test_the_playbook_refuses_to_run_without_reports(tmp_path):
    completed = publish(tmp_path)
    assert completed.returncode == 2
    assert "Name the drift reports' figures to publish" in completed.stdout
