"""scripts/status: the rollout status page, from the lab's registry, an audit
trail of five runs (tests/fixtures/status/audit) and Alertmanager's answer
(tests/fixtures/status/alerts.json). The lab check asks the lab's real
Alertmanager (lab/checks/test_lab.py)."""

import subprocess
import sys

import pytest
from conftest import FIXTURES, TOP

SCRIPT = TOP / "scripts" / "status"
AUDIT = FIXTURES / "status" / "audit"


def status(tmp_path, *options):
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--env", "lab", "--dir", str(AUDIT), "--out", str(tmp_path), *options],
        capture_output=True, text=True, check=False, cwd=TOP,
    )  # fmt: skip


def site_rows(markdown):
    """Site code -> its row's cells, from the ministries' tables."""
    rows = {}
    for line in markdown.splitlines():
        cells = [cell.strip() for cell in line.strip("|").split("|")]
        if len(cells) == 8 and cells[0] not in ("Site", "---"):
            rows[cells[0]] = dict(
                zip(
                    ("name", "status", "devices", "converged", "verified", "failed", "alerts"),
                    cells[1:],
                    strict=True,
                )
            )
    return rows


@pytest.fixture(scope="module")
def page(tmp_path_factory):
    out = tmp_path_factory.mktemp("status")
    result = status(out, "--alerts", str(FIXTURES / "status" / "alerts.json"))
    assert result.returncode == 0, result.stderr
    assert result.stdout.split() == [str(out / "status.md"), str(out / "status.html")]
    return (out / "status.md").read_text(), (out / "status.html").read_text()


def test_a_site_is_converged_by_the_last_whole_job_that_reached_all_its_devices(page):
    rows = site_rows(page[0])
    # Run 5 reached one of the data centre's three devices: not its converge.
    assert rows["dc"]["converged"] == "2026-11-02T08:00:00Z"
    # Run 4 reached Justice's only device.
    assert rows["tgi-bzv"]["converged"] == "2026-11-05T08:00:00Z"
    # Run 3 was the routers' playbook, and failed on Health's router.
    assert rows["bzv-hq"]["converged"] == "2026-11-02T08:00:00Z"


def test_check_mode_runs_are_verifications_and_failures_are_shown(page):
    rows = site_rows(page[0])
    assert {code: row["verified"] for code, row in rows.items()} == dict.fromkeys(
        ("dc", "bzv-hq", "tgi-bzv"), "2026-11-03T08:00:00Z"
    )
    assert {code: row["failed"] for code, row in rows.items()} == {
        "dc": "",
        "bzv-hq": "2026-11-04T08:00:00Z",
        "tgi-bzv": "",
    }


def test_open_alerts_are_counted_per_site_and_named(page):
    rows = site_rows(page[0])
    assert rows["bzv-hq"]["alerts"] == "1 (SiteUnreachable)"
    assert rows["dc"]["alerts"] == "2 (BackupStale, RebootRequired)"
    assert rows["tgi-bzv"]["alerts"] == "0"
    assert "| sante | 1 | 1 active | 1 | 1 |" in page[0]


def test_the_html_page_extends_the_report_pages_and_escapes_registry_text(page):
    html = page[1]
    assert "<h1>Rollout status</h1>" in html
    assert "<style>" in html  # the one stylesheet of page.html.j2
    assert "Centre de données de l&#39;État (lab)" in html
    assert '<td class="failed">2026-11-04T08:00:00Z</td>' in html


def test_without_alerts_the_page_says_they_were_not_asked(tmp_path):
    result = status(tmp_path, "--no-alerts")
    assert result.returncode == 0, result.stderr
    assert {row["alerts"] for row in site_rows((tmp_path / "status.md").read_text()).values()} == {
        "not asked"
    }


@pytest.mark.parametrize(
    ("options", "message"),
    [
        (
            ["--alerts", str(FIXTURES / "status" / "alerts-not-a-list.json")],
            "alerts-not-a-list.json: not Alertmanager's answer",
        ),
        (["--alerts", "/nonexistent/alerts.json"], "/nonexistent/alerts.json: not Alertmanager's answer"),
    ],
)
def test_unreadable_input_is_refused_naming_the_file(tmp_path, options, message):
    result = status(tmp_path, *options)
    assert result.returncode == 2
    assert message in result.stderr
    assert not (tmp_path / "status.md").exists()


def test_a_broken_audit_line_is_refused_naming_its_file_and_line(tmp_path):
    audit = tmp_path / "audit"
    audit.mkdir()
    (audit / "2026-11-02.jsonl").write_text((AUDIT / "2026-11-02.jsonl").read_text() + "{not json\n")
    command = [
        sys.executable,
        str(SCRIPT),
        "--env",
        "lab",
        "--dir",
        str(audit),
        "--out",
        str(tmp_path / "out"),
    ]
    result = subprocess.run([*command, "--no-alerts"], capture_output=True, text=True, check=False, cwd=TOP)
    assert result.returncode == 2
    assert f"{audit / '2026-11-02.jsonl'}:11: not valid JSON" in result.stderr
