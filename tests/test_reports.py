"""Auditor reports (scripts/report), the pages they share with the drift
report, and the plan diff (scripts/plan-diff)."""

import html
import json
import re
import shutil
import subprocess
import sys

import pytest
import yaml
from ansible_collections.patn.infra.plugins.module_utils import registry
from ansible_collections.patn.infra.plugins.plugin_utils import drift_report, report_pages
from conftest import FIXTURES, TOP, load_script
from test_registry import registry_for

report = load_script("report")
plan_diff = load_script("plan-diff")


def test_reports_render_sites_devices_segments_and_diagrams(tmp_path):
    directory = registry_for(FIXTURES / "registry" / "golden" / "overrides", tmp_path)
    output = tmp_path / "reports"
    assert report.main(["report", str(directory), str(output)]) == 0
    for key in ["ptn", "justice", "affaires_sociales"]:
        assert (output / f"{key}.md").is_file()
        assert (output / f"{key}.html").is_file()
    markdown = (output / "justice.md").read_text()
    decommissioned = "| 11 | tgi-old | Ancien TGI | court | Brazzaville | Brazzaville | decommissioned |"
    assert f"{decommissioned} 10.20.139.0/24 (reserved) |" in markdown
    assert (
        "| staff (manual) | 30 | staff | 192.168.50.0/26 | 192.168.50.1 | 192.168.50.20 - 192.168.50.62 |"
        in markdown
    )
    assert "| justice-bzv-hq-ap3 | access_point | 10.20.129.12 | management |" in markdown
    assert "![tgi-pnr](justice-diagrams/tgi-pnr.svg)" in markdown
    diagram = (output / "justice-diagrams" / "tgi-pnr.svg").read_text()
    assert diagram.startswith("<svg")
    assert "justice-tgi-pnr-rtr1" in diagram
    page = (output / "justice.html").read_text()
    assert page.count("<svg") == 2  # two sites in service, one decommissioned
    assert "Ancien TGI" in page
    assert "[justice.md](justice.md)" in (output / "index.md").read_text()


def test_the_html_report_shows_registry_markup_as_text(tmp_path):
    directory = registry_for(FIXTURES / "reports" / "markup", tmp_path)
    output = tmp_path / "reports"
    assert report.main(["report", str(directory), str(output)]) == 0
    page = (output / "justice.html").read_text()
    assert "<script>" not in page
    assert "<img" not in page
    assert "<b>Cour</b>" not in page
    name = "&lt;script&gt;alert(&#39;site&#39;)&lt;/script&gt; TGI &amp; &lt;b&gt;Cour&lt;/b&gt;"
    assert f"<td>{name}</td>" in page  # the table of sites
    assert f"<h2>{name} (tgi-pnr, site 10)</h2>" in page
    assert "<td>&lt;img src=x onerror=alert(1)&gt;</td>" in page
    # The diagram is the report's own markup, its text escaped where it is made.
    assert "<title>tgi-pnr: &lt;script&gt;alert(&#x27;site&#x27;)&lt;/script&gt; TGI" in page


def test_report_refuses_an_invalid_registry(tmp_path, capsys):
    directory = registry_for(FIXTURES / "registry" / "errors" / "unknown_department", tmp_path)
    assert report.main(["report", str(directory), str(tmp_path / "out")]) == 1
    assert "unknown department 'Pointe Noire'" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_plan_diff_lists_added_sites_status_and_allocation_changes(tmp_path):
    before = registry.allocations(
        registry.load(registry_for(FIXTURES / "registry" / "golden" / "base", tmp_path / "a"))
    )
    after = registry.allocations(
        registry.load(registry_for(FIXTURES / "registry" / "golden" / "overrides", tmp_path / "b"))
    )
    lines = plan_diff.diff(before, after)
    assert "| justice/11 | tgi-old | decommissioned | 10.20.139.0/24 |" in lines
    assert "| justice/1 | segment staff | 10.20.129.64/26 | 192.168.50.0/26 |" in lines
    assert "| justice/1 | device justice-bzv-hq-ap3 | - | 10.20.129.12 |" in lines
    # Sites that did not change are not mentioned.
    assert not [
        line for line in lines if line.startswith(("| ptn/", "| affaires_sociales/", "| justice/10 "))
    ]


def test_plan_diff_of_a_revision_with_itself_shows_no_change():
    result = subprocess.run(
        [
            sys.executable,
            str(TOP / "scripts" / "plan-diff"),
            "HEAD",
            "HEAD",
            "--registry",
            "inventories/lab/registry",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=TOP,
    )
    assert result.returncode == 0, result.stderr
    assert "No change in sites or allocations." in result.stdout


def test_plan_diff_reads_a_registry_from_before_the_zone_policy(tmp_path):
    # Revisions older than national.yml's zone_policy stay comparable.
    old = tmp_path / "registry"
    shutil.copytree(TOP / "inventories" / "lab" / "registry", old)
    # Whole, as it was then (the lab's national.yml is now an overlay of production's).
    national = registry.load(TOP / "inventories" / "lab" / "registry").national
    del national["zone_policy"]
    (old / "national.yml").write_text(yaml.safe_dump(national))
    loaded = registry.load(old)
    with pytest.raises(registry.RegistryError, match="zone_policy"):
        registry.allocations(loaded)
    tables = registry.allocations(plan_diff.with_zone_policy(registry.load(old)))
    current = registry.allocations(registry.load(TOP / "inventories" / "lab" / "registry"))
    assert plan_diff.diff(tables, current) == ["No change in sites or allocations."]


def test_reports_show_the_tunnel_hub_and_its_status(tmp_path):
    output = tmp_path / "reports"
    assert report.main(["report", str(TOP / "inventories" / "production" / "registry"), str(output)]) == 0
    markdown = " ".join((output / "sante.md").read_text().split())
    assert "tunnel hub at 203.0.113.10, UDP port 51820 (status: planned;" in markdown
    page = " ".join((output / "sante.html").read_text().split())
    assert "tunnel hub at 203.0.113.10, UDP port 51820 (status: planned;" in page


def test_reports_show_each_site_s_uplinks_and_the_hub_it_dials(tmp_path):
    # tests/fixtures/registry/golden/uplinks: PPPoE with an LTE second uplink, static with a static one.
    directory = registry_for(FIXTURES / "registry" / "golden" / "uplinks", tmp_path)
    output = tmp_path / "reports"
    assert report.main(["report", str(directory), str(output)]) == 0
    for page in ((output / "justice.md").read_text(), (output / "justice.html").read_text()):
        text = " ".join(html.unescape(page).split())  # the HTML escapes the apostrophe
        assert "Tunnel to the hub over the primary uplink, or the second one when the primary fails" in text
        assert (
            "PPPoE as justice-hq@isp.example, password in ansible-vault (vault_pppoe_password_justice_bzv_hq)"
            in text
        )
        assert "static 198.51.100.10/29, gateway 198.51.100.9" in text
        assert "DHCP (the address from the provider's router)" in text
        assert "{{" not in text  # the vault reference is named, never templated or shown as is
    markdown = (output / "justice.md").read_text()
    assert (
        "| secondary | static | static 192.168.8.2/24, gateway 192.168.8.1 | LTE router (planned) |"
        in markdown
    )
    # With the registry's tunnel_hub, each site names the endpoint it dials.
    production = tmp_path / "production"
    assert report.main(["report", str(TOP / "inventories" / "production" / "registry"), str(production)]) == 0
    assert (
        "Tunnel to the hub at 203.0.113.10:51820 over the primary uplink"
        in (production / "sante.md").read_text()
    )


def skeleton(page: str) -> str:
    """An HTML page without its title and body: its skeleton and stylesheet."""
    page = re.sub(r"<title>.*?</title>", "<title></title>", page, flags=re.DOTALL)
    return re.sub(r"<body>.*</body>", "<body></body>", page, flags=re.DOTALL)


def test_the_ministry_and_drift_pages_come_from_one_base_template(tmp_path):
    assert report.main(["report", str(TOP / "inventories" / "lab" / "registry"), str(tmp_path)]) == 0
    ministry = (tmp_path / "sante.html").read_text()
    records = [json.loads(line) for line in (FIXTURES / "audit_drift" / "log" / "2025-06-10.jsonl").open()]
    _, _, page = drift_report.write(records, "5d1e9a40-7c2b-4f3e-9a61-0b8c2d4e6f10", tmp_path / "drift")
    drift = page.read_text()
    base = report_pages.environment().get_template("page.html.j2").render()
    assert "<style>" in base
    assert skeleton(ministry) == skeleton(drift) == skeleton(base)
    for name in ("ministry.html.j2", "drift.html.j2"):
        source = (report_pages.TEMPLATES / name).read_text()
        assert source.startswith('{% extends "page.html.j2" %}\n'), name
        assert "<style" not in source, name  # one stylesheet, the base's
