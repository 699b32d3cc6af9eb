"""The drift audit: playbooks/audit.yml on real check-mode runs (the callback
patn.infra.audit writes the report at the run's end), and
scripts/audit-summary drift on a fixture log.

tests/fixtures/audit_drift/playbook.yml writes one file per host of
inventory.yml (three local hosts, two ministries); the test writes the files
first: one host's as the playbook would (in line), another's with an older
banner, and none for the third. log/ holds a hand-written log of three runs
(a check-mode run with drift, failures and an unreachable host; one without
drift; one not in check mode) and drift.md the report of the first.
"""

import json
import subprocess

import pytest
from conftest import FIXTURES, TOP, run_playbook
from limits import HUNG_COMMAND

DRIFT = FIXTURES / "audit_drift"
LOG = DRIFT / "log"
RUN = "5d1e9a40-7c2b-4f3e-9a61-0b8c2d4e6f10"
CLEAN_RUN = "8f3a2c17-1d4e-4b5a-8c9d-2e7f6a1b3c05"
REAL_RUN = "c4b7e2d9-6a1f-4e3c-b8d2-9f0a5e1c7d36"
LIMIT = "ministry_justice:ministry_sante"
IN_LINE = "banner=<CHU de Brazzaville>\npassword=drift-pw-8e2c\n"
OLD = "banner=<Tribunal (old)>\npassword=drift-pw-8e2c\n"
REFUSAL = "audit.yml never changes anything: run it with --check --diff"
NO_TRAIL = "the callback patn.infra.audit is not enabled"


def audit(folder, *args, callbacks="patn.infra.audit"):
    """ansible-playbook playbooks/audit.yml of the fixture playbook; files and report in folder."""
    out = folder / "out"
    out.mkdir(parents=True)
    (out / "justice-tgi-pnr-rtr1.conf").write_text(OLD)
    (out / "sante-bzv-hq-srv2.conf").write_text(IN_LINE)
    for path in out.iterdir():
        path.chmod(0o644)
    completed = run_playbook(
        "-i",
        DRIFT / "inventory.yml",
        "playbooks/audit.yml",
        "--limit",
        LIMIT,
        "-e",
        f"audit_playbook={DRIFT / 'playbook.yml'}",
        "-e",
        f"out={out}",
        "-e",
        f"audit_report_dir={folder / 'reports'}",
        *args,
        env_extra={
            "ANSIBLE_CALLBACKS_ENABLED": callbacks,
            "PATN_AUDIT_DIR": str(folder / "audit"),
            "PATN_OPERATOR": "auditor-test",
        },
    )
    reports = folder / "reports"
    return {
        "completed": completed,
        "output": completed.stdout + completed.stderr,
        "out": out,
        "reports": sorted(reports.iterdir()) if reports.is_dir() else [],
        "audit": folder / "audit",
    }


def report(run, kind):
    """The text of the run's report, md or html."""
    return next(path for path in run["reports"] if path.suffix == f".{kind}").read_text()


@pytest.fixture(scope="module")
def audited(tmp_path_factory):
    return audit(tmp_path_factory.mktemp("audited"), "--check", "--diff")


def test_audit_writes_a_markdown_and_an_html_report_and_its_figures_named_after_the_limit(audited):
    assert audited["completed"].returncode == 0, audited["output"]
    names = [path.name for path in audited["reports"]]
    assert len(names) == 3, names
    # The pages, and the figures that make drift publishes (tests/test_drift_metrics.py).
    assert {name.rsplit(".", 1)[1] for name in names} == {"md", "html", "json"}
    assert all(name.startswith("ministry_justice_ministry_sante-20") for name in names)
    assert "Drift on 2 of 3 hosts" in audited["completed"].stdout  # the callback says it


def test_the_report_names_the_drifting_hosts_with_their_diffs_and_the_host_in_line(audited):
    markdown = report(audited, "md")
    assert markdown.startswith("# Drift on 2 of 3 hosts\n")
    run_id = json.loads((next(audited["audit"].glob("*.jsonl"))).read_text().splitlines()[0])["run_id"]
    assert f"| {run_id} | " in markdown
    assert f"| auditor-test | playbooks/audit.yml (audit of {DRIFT / 'playbook.yml'}) |" in markdown
    assert f" | {LIMIT} |" in markdown
    assert "| justice | 1 | 1 | 0 | 0 | 0 |" in markdown
    assert "| sante | 2 | 1 | 0 | 0 | 1 |" in markdown
    assert "| justice-tgi-pnr-rtr1 | drift | 1 | 0 |" in markdown
    assert "| sante-bzv-hq-srv1 | drift | 1 | 0 |" in markdown
    assert "| sante-bzv-hq-srv2 | in line | 0 | 0 |" in markdown
    out = audited["out"]
    assert (
        "```diff\n"
        f"--- before: {out}/justice-tgi-pnr-rtr1.conf\n"
        f"+++ after: {out}/justice-tgi-pnr-rtr1.conf\n"
        "@@ -1,2 +1,2 @@\n"
        "-banner=<Tribunal (old)>\n"
        "+banner=<Tribunal de Pointe-Noire>\n"
        " password=********\n"
        "```\n"
    ) in markdown
    assert f"+++ after: {out}/sante-bzv-hq-srv1.conf\n" in markdown
    assert "+banner=<CHU de Brazzaville>\n+password=********\n" in markdown
    assert "#### sante-bzv-hq-srv2" not in markdown  # in line: nothing to show
    assert "drift-pw-8e2c" not in markdown


def test_the_html_report_escapes_what_the_diffs_hold(audited):
    page = report(audited, "html")
    assert page.startswith("<!DOCTYPE html>")
    assert "<h1>Drift on 2 of 3 hosts</h1>" in page
    assert "-banner=&lt;Tribunal (old)&gt;\n+banner=&lt;Tribunal de Pointe-Noire&gt;\n" in page
    assert "<Tribunal" not in page
    assert "<CHU" not in page
    assert "drift-pw-8e2c" not in page


def test_the_audited_playbook_changes_nothing(audited):
    out = audited["out"]
    assert sorted(path.name for path in out.iterdir()) == [
        "justice-tgi-pnr-rtr1.conf",
        "sante-bzv-hq-srv2.conf",
    ]
    assert (out / "justice-tgi-pnr-rtr1.conf").read_text() == OLD
    assert (out / "sante-bzv-hq-srv2.conf").read_text() == IN_LINE
    records = [json.loads(line) for path in audited["audit"].glob("*.jsonl") for line in path.open()]
    assert all(record["check_mode"] is True for record in records)
    assert {record["status"] for record in records if record["event"] == "task"} == {"changed"}


@pytest.mark.parametrize(
    ("args", "callbacks", "message"),
    [
        (["--diff"], "patn.infra.audit", REFUSAL),
        (["--check", "--diff"], "ansible.posix.profile_tasks", NO_TRAIL),
    ],
    ids=["without-check", "without-audit-trail"],
)
def test_audit_refuses_to_run_unless_checked_and_recorded(tmp_path, args, callbacks, message):
    run = audit(tmp_path, *args, callbacks=callbacks)
    assert run["completed"].returncode == 2, run["output"]
    assert message in " ".join(run["output"].split())
    assert "Drift audit fixture" not in run["output"]  # the audited playbook never started
    assert (run["out"] / "justice-tgi-pnr-rtr1.conf").read_text() == OLD
    assert not (run["out"] / "sante-bzv-hq-srv1.conf").exists()
    assert not run["reports"]


def drift(*args, stdin=None):
    return subprocess.run(
        [str(TOP / "scripts" / "audit-summary"), "drift", *args],
        capture_output=True,
        text=True,
        input=stdin,
        check=False,
        timeout=HUNG_COMMAND,
    )


def test_drift_report_of_a_fixture_run(tmp_path):
    result = drift("--run-id", RUN, "--dir", str(LOG), "--out", str(tmp_path / "r"), "--audited", "site.yml")
    assert result.returncode == 0, result.stderr
    assert result.stdout.splitlines() == [
        "Drift on 2 of 5 hosts; 1 not checked (failed or unreachable)",
        str(tmp_path / "r.md"),
        str(tmp_path / "r.html"),
    ]
    assert (tmp_path / "r.md").read_text() == (DRIFT / "drift.md").read_text()
    page = (tmp_path / "r.html").read_text()
    assert "-Bienvenue &lt;PATN&gt;\n+Bienvenue &lt;PATN&gt; &amp; TGI de Pointe-Noire\n" in page
    assert "<PATN>" not in page


def test_a_run_that_fails_midway_still_writes_its_drift_report(tmp_path):
    run = audit(tmp_path, "--check", "--diff", "-e", "drift_stop=true")
    assert run["completed"].returncode == 2, run["output"]  # every host failed: the run stopped
    assert len(run["reports"]) == 3, run["output"]  # .md, .html, .json
    markdown = report(run, "md")
    assert markdown.startswith("# Drift on 2 of 3 hosts; 1 not checked (failed or unreachable)\n")
    assert "| justice-tgi-pnr-rtr1 | drift | 1 | 1 |" in markdown
    assert "| sante-bzv-hq-srv2 | failed | 0 | 1 |" in markdown
    assert "| Stop the run here on request | failed | stopped by the test |" in markdown
    assert "drift-pw-8e2c" not in markdown
    assert "Drift on 2 of 3 hosts" in run["completed"].stdout


def test_drift_report_of_a_run_interrupted_before_its_end_lists_the_hosts_of_its_trail(tmp_path):
    log = tmp_path / "log"
    log.mkdir()
    lines = (LOG / "2025-06-10.jsonl").read_text().splitlines(keepends=True)
    (log / "2025-06-10.jsonl").write_text("".join(line for line in lines if '"run_end"' not in line))
    args = ["--run-id", RUN, "--dir", str(log), "--out", str(tmp_path / "r"), "--audited", "site.yml"]
    result = drift(*args)
    assert result.returncode == 0, result.stderr
    markdown = (tmp_path / "r.md").read_text()
    # The hosts in line have no line before the run_end one: they are left out.
    assert markdown.startswith("# Drift on 2 of 3 hosts; 1 not checked (failed or unreachable)\n")
    assert (
        "\n\nThe run was interrupted before its end: only the hosts its audit trail names are listed.\n\n"
        in (markdown)
    )
    assert "| in line |" not in markdown
    assert "The run was interrupted before its end" in (tmp_path / "r.html").read_text()


def test_drift_report_of_a_run_without_drift(tmp_path):
    result = drift("--run-id", CLEAN_RUN, "--dir", str(LOG), "--out", str(tmp_path / "r"))
    assert result.returncode == 0, result.stderr
    markdown = (tmp_path / "r.md").read_text()
    assert markdown.startswith("# No drift: 2 hosts match the inventory\n")
    assert "| 444444444444 (dirty: uncommitted changes) | ministry_sante |" in markdown
    assert "| sante-bzv-hq-srv2 | in line | 0 | 0 |" in markdown


@pytest.mark.parametrize(
    ("run_id", "message"),
    [
        (REAL_RUN, f"run {REAL_RUN} was not in check mode"),
        ("0000", "no run_start line of run 0000 in the audit log"),
    ],
    ids=["not-check-mode", "unknown-run"],
)
def test_drift_report_refuses_a_run_it_cannot_report(tmp_path, run_id, message):
    result = drift("--run-id", run_id, "--dir", str(LOG), "--out", str(tmp_path / "r"))
    assert result.returncode == 2
    assert message in result.stderr
    assert not list(tmp_path.iterdir())
