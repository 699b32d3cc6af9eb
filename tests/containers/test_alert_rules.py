"""The data centre's alert rules (roles/monitoring/files/alerts.yml) against
their unit tests (tests/fixtures/alert_rules/alerts.test.yml), with the
promtool of Debian's prometheus package, in the Molecule image that has it
(no network). A rule whose threshold or delay is changed fails its tests;
every alert has at least one test. `make setup-check` runs it."""

import os
import subprocess

import pytest
import yaml
from conftest import TOP
from limits import HUNG_COMMAND

ENV = dict(os.environ, CONTAINERS_CONF=str(TOP / "lab" / "containers.conf"))
IMAGE = "localhost/patn-lab:debian12-services"
RULES = TOP / "roles" / "monitoring" / "files" / "alerts.yml"
TESTS = TOP / "tests" / "fixtures" / "alert_rules" / "alerts.test.yml"
# Rules changed in one place each: the tests of their alert must fail.
CHANGES = {
    "site-unreachable-after-1-minute": ("SiteUnreachable", "        for: 3m\n", "        for: 1m\n"),
    "backup-stale-after-36-hours": ("BackupStale", "26 * 3600", "36 * 3600"),
    "certificate-warned-7-days-before": ("CertificateExpiringSoon", "< 21 * 86400", "< 7 * 86400"),
    "disk-alert-at-95-percent": ("DiskAlmostFull", "> 0.90", "> 0.95"),
    "drill-stale-after-74-hours": ("BackupDrillStale", "50 * 3600", "74 * 3600"),
    "drift-from-two-tasks": (
        "ConfigurationDrift",
        "patn_drift_changed_tasks > 0",
        "patn_drift_changed_tasks > 1",
    ),
    "drift-check-stale-after-15-days": ("DriftCheckStale", "8 * 86400", "15 * 86400"),
}


@pytest.fixture(scope="module")
def outcomes(tmp_path_factory):
    """promtool test rules on the rules as they are ("as-is") and on each
    changed copy, in one container run: name to (exit status, output)."""
    top = tmp_path_factory.mktemp("alert-rules")
    text = RULES.read_text()
    tests = yaml.safe_load(TESTS.read_text())
    variants = {"as-is": (text, tests["tests"])}
    for name, (alert, old, new) in CHANGES.items():
        assert old in text, f"the rules no longer hold {old!r}: update CHANGES"
        # Only the changed alert's own tests: promtool evaluates every rule
        # at each simulated minute up to a test's last eval_time, so the
        # whole file eight times cost most of this module's CPU.
        own = [
            dict(
                test, alert_rule_test=[case for case in test["alert_rule_test"] if case["alertname"] == alert]
            )
            for test in tests["tests"]
            if any(case["alertname"] == alert for case in test.get("alert_rule_test", []))
        ]
        assert own, f"{name}: no test of {alert}"
        variants[name] = (text.replace(old, new, 1), own)
    for name, (rules, cases) in variants.items():
        (top / name).mkdir()
        (top / name / "alerts.yml").write_text(rules)
        (top / name / "alerts.test.yml").write_text(
            yaml.safe_dump(dict(tests, rule_files=["alerts.yml"], tests=cases))
        )
    script = (
        'for d in */; do promtool test rules "$d/alerts.test.yml" > "$d/output" 2>&1;'
        ' echo $? > "$d/status"; done'
    )
    # The whole file once (over ten simulated days at one evaluation a
    # minute), then each changed rule against its own alert's tests: eight
    # whole runs took about 280 s of CPU, more than 300 s beside the lab.
    subprocess.run(
        ["podman", "run", "--rm", "--network", "none", "-v", f"{top}:/src", "-w", "/src",
         IMAGE, "sh", "-c", script],
        check=True, env=ENV, timeout=HUNG_COMMAND,
    )  # fmt: skip
    return {
        name: (int((top / name / "status").read_text()), (top / name / "output").read_text())
        for name in variants
    }


def test_the_alert_rules_pass_their_unit_tests(outcomes):
    status, output = outcomes["as-is"]
    assert status == 0, output
    assert "SUCCESS" in output


@pytest.mark.parametrize("change", sorted(CHANGES))
def test_a_changed_rule_fails_its_tests(outcomes, change):
    status, output = outcomes[change]
    assert status != 0, f"{change}: promtool test rules still passes"
    assert "FAILED" in output


def test_every_alert_has_a_test():
    rules = yaml.safe_load(RULES.read_text())
    alerts = {rule["alert"] for group in rules["groups"] for rule in group["rules"] if "alert" in rule}
    tests = yaml.safe_load(TESTS.read_text())["tests"]
    tested = {case["alertname"] for test in tests for case in test.get("alert_rule_test", [])}
    assert alerts - tested == set(), f"alerts without a promtool test: {sorted(alerts - tested)}"
