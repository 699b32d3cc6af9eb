"""scripts/link-report and plugins/plugin_utils/link_quality.py: the link
quality per ministry, from saved answers of Prometheus' API
(tests/fixtures/link_report, whose README says what each holds)."""

import json
import re
import subprocess
import sys
from pathlib import Path
from urllib.parse import parse_qs, urlsplit

import pytest
from ansible_collections.patn.infra.plugins.module_utils import registry
from ansible_collections.patn.infra.plugins.plugin_utils import link_quality as lq
from ansible_collections.patn.infra.plugins.plugin_utils.report_pages import environment
from conftest import FIXTURES, TOP, load_script

SCRIPT = TOP / "scripts" / "link-report"
HERE = FIXTURES / "link_report"
ANSWERS = HERE / "answers"
ERRORS = sorted(path for path in (HERE / "errors").iterdir() if path.is_dir())


def link_report(*options):
    return subprocess.run(
        [sys.executable, str(SCRIPT), "--env", "lab", *[str(option) for option in options]],
        capture_output=True, text=True, check=False, cwd=TOP,
    )  # fmt: skip


@pytest.fixture(scope="module")
def lab_rows():
    """Site code -> its row, from the lab's registry and the saved answers."""
    period, instant, ranged = lq.read_saved(ANSWERS)
    loaded = registry.load(TOP / "inventories" / "lab" / "registry")
    sites = list(registry.allocations(loaded).values())
    ministries = lq.link_quality(loaded.national["ministries"], sites, instant, ranged, period)
    return {row["code"]: row for ministry in ministries for row in ministry["rows"]}, period


@pytest.mark.parametrize(
    ("text", "expected"), [("30s", 30), ("10m", 600), ("7d", 604800), ("1d12h", 129600), ("2w", 1209600)]
)
def test_durations_are_read_in_prometheus_units(text, expected):
    assert lq.seconds(text) == expected


@pytest.mark.parametrize("text", ["", "7", "7x", "d7", "0s", "7d ", "-1d"])
def test_what_is_not_a_duration_is_refused(text):
    with pytest.raises(lq.LinkReportError, match="is not a duration"):
        lq.seconds(text)


@pytest.mark.parametrize(("length", "resolution"), [(3600, 30), (604800, 30), (2592000, 30), (86400, 10)])
def test_a_period_has_at_most_500_points_each_a_whole_number_of_scrapes(length, resolution):
    period = lq.Period.ending(1793527200, length, resolution)
    assert period.length == length
    assert period.step % resolution == 0
    assert length / period.step <= lq.MAX_POINTS
    # As fine as that allows: one scrape interval less would be too many points.
    assert period.step == resolution or length / (period.step - resolution) > lq.MAX_POINTS


def test_a_period_shorter_than_one_scrape_is_refused():
    with pytest.raises(lq.LinkReportError, match="shorter than the scrape interval"):
        lq.Period.ending(1793527200, 20, 30)


def test_the_queries_count_answered_pings_only_for_latency():
    period = lq.Period.ending(1793527200, 604800, 30)
    instant = lq.instant_query(period)
    assert (
        'label_replace(avg_over_time(probe_success{job="icmp"}[604800s]), "stat", "availability"' in instant
    )
    answered = '(probe_icmp_duration_seconds{job="icmp", phase="rtt"} > 0)[604800s:30s]'
    assert f"quantile_over_time(0.95, {answered})" in instant
    assert f"avg_over_time({answered})" in instant
    assert "last_over_time(patn_link_throughput_bits_per_second[604800s])" in instant
    ranged = lq.range_query(period)
    assert f'avg_over_time(probe_success{{job="icmp"}}[{period.step}s])' in ranged
    assert lq.range_parameters(period) == {"start": period.start + period.step, "end": period.end,
                                           "step": period.step}  # fmt: skip


def test_each_router_has_its_figures(lab_rows):
    rows, _period = lab_rows
    health = rows["bzv-hq"]
    assert health["instance"] == "sante-bzv-hq-rtr1"
    assert health["availability"] == pytest.approx(0.9875)
    assert health["loss"] == pytest.approx(0.0125)
    assert (health["latency_mean"], health["latency_p95"]) == (pytest.approx(0.04213), pytest.approx(0.0812))
    assert (health["samples"], health["expected"]) == (240, 240)
    assert health["throughput"] == {"download": (8.7e6, 1793524220), "upload": (9412345.6, 1793524200)}


def test_a_gap_is_counted_and_breaks_the_line(lab_rows):
    rows, period = lab_rows
    justice = rows["tgi-bzv"]
    assert (justice["samples"], justice["expected"]) == (180, 240)
    assert justice["throughput"] == {}
    # The hour without samples and the point where every ping was lost (NaN) are not drawn.
    assert len(justice["availability_points"]) == 180
    assert len(justice["latency_points"]) == 179
    svg = lq.plot(justice, period)
    assert svg.count("<polyline") == 3
    assert 'fill="#b00020"' in svg  # the probe where every ping was lost


def test_a_router_without_samples_is_shown_as_no_data(lab_rows):
    rows, period = lab_rows
    hub = rows["dc"]
    assert hub["instance"] == "ptn-dc-hub1"
    assert lq.cells(hub)[4:] == ["no data"] * 5 + ["none"]
    assert "<polyline" not in lq.plot(hub, period)


def test_a_router_no_longer_in_the_registry_is_not_shown(lab_rows):
    rows, _period = lab_rows
    assert {row["instance"] for row in rows.values()} == {
        "sante-bzv-hq-rtr1", "justice-tgi-bzv-rtr1", "ptn-dc-hub1"
    }  # fmt: skip


def test_a_site_without_a_router_has_its_row():
    period = lq.Period.ending(1793527200, 3600, 30)
    empty = {"status": "success", "data": {"resultType": "vector", "result": []}}
    ranged = {"status": "success", "data": {"resultType": "matrix", "result": []}}
    site = {"ministry": "sante", "id": 9, "code": "x", "name": "X", "status": "planned",
            "devices": {"sante-x-ap1": {"patn_device_role": "access_point"}}}  # fmt: skip
    [ministry] = lq.link_quality([{"key": "sante", "name": "Santé"}], [site], empty, ranged, period)
    assert lq.cells(ministry["rows"][0])[3:5] == ["no router in the registry", "no data"]


@pytest.mark.parametrize("case", ERRORS, ids=[path.name for path in ERRORS])
def test_saved_answers_that_cannot_be_read_are_refused_naming_the_file(case):
    message = (case / "message").read_text().strip()
    with pytest.raises(lq.LinkReportError) as raised:
        lq.read_saved(case)
    assert f"{case}/{message}" in str(raised.value)


@pytest.mark.parametrize("case", ERRORS[:2], ids=[path.name for path in ERRORS[:2]])
def test_the_script_refuses_them_too_and_writes_nothing(case, tmp_path):
    result = link_report("--prometheus-json", case, "--out", tmp_path / "out")
    assert result.returncode == 2
    assert f"link-report: {case}/{(case / 'message').read_text().strip()}" in result.stderr
    assert not (tmp_path / "out").exists()


@pytest.fixture(scope="module")
def written(tmp_path_factory):
    out = tmp_path_factory.mktemp("links")
    result = link_report("--prometheus-json", ANSWERS.relative_to(TOP), "--out", out)
    assert result.returncode == 0, result.stderr
    return out, result.stdout.split()


def test_the_script_writes_one_markdown_and_one_html_page_per_ministry(written):
    out, printed = written
    keys = [m["key"] for m in registry.load(TOP / "inventories" / "lab" / "registry").national["ministries"]]
    assert printed == [str(out / f"{key}.{kind}") for key in keys for kind in ("md", "html")]
    for key in ("sante", "justice", "ptn"):
        assert (out / f"{key}.md").read_text() == (HERE / "expected" / f"{key}.md").read_text(), key
    assert "No site in the registry." in (out / "interieur.md").read_text()


def test_the_html_page_has_a_plot_per_site_and_escapes_registry_text(written):
    out, _printed = written
    page = (out / "ptn.html").read_text()
    assert "<style>" in page  # page.html.j2's
    assert "Centre de données de l&#39;État (lab)" in page
    assert '<p class="failed">No data over the period.</p>' in page
    health = (out / "sante.html").read_text()
    assert health.count("<svg") == 1
    assert "<td>98.75 %</td>" in health


def test_registry_text_never_becomes_markup():
    period = lq.Period.ending(1793527200, 3600, 30)
    row = {"code": "x", "name": "<script>alert(1)</script>", "status": "active", "instance": "r<1>",
           "availability": None, "loss": None, "latency_mean": None, "latency_p95": None, "samples": 0,
           "expected": 120, "throughput": {}, "availability_points": [(1793527200, 1.0)],
           "latency_points": []}  # fmt: skip
    svg = lq.plot(row, period)
    assert "<script>" not in svg
    assert "&lt;script&gt;" in svg
    row["plot"] = svg
    page = environment().get_template("links.html.j2").render(
        ministry={"key": "k", "name": "<b>K</b>", "rows": [row]}, columns=lq.COLUMNS, cells=lq.cells,
        source="s", start="a", end="b", definitions=lq.DEFINITIONS,
    )  # fmt: skip
    assert "<script>" not in page
    assert "<b>" not in page
    assert "&lt;script&gt;alert(1)&lt;/script&gt;" in page


def test_prometheus_is_asked_on_the_monitoring_host_and_its_answers_saved(tmp_path, monkeypatch):
    script = load_script("link-report")
    answers = {"query": json.loads((ANSWERS / "instant.json").read_text()),
               "query_range": json.loads((ANSWERS / "range.json").read_text())}  # fmt: skip
    asked = []

    def ask(inventory, url, service, timeout=120):
        asked.append((Path(inventory).name, url, service))
        return [("ptn-dc-mon1", answers[urlsplit(url).path.rsplit("/", 1)[1]])]

    monkeypatch.setattr(script.monitoring_host, "ask", ask)
    saved, out = tmp_path / "saved", tmp_path / "out"
    assert script.main(["--env", "lab", "--period", "2h", "--end", "2026-11-01T10:00:00Z",
                        "--save-json", str(saved), "--out", str(out)]) == 0  # fmt: skip
    # The lab's monitoring scrapes every 10 s (its group_vars): 720 probes in 2 hours.
    period = lq.Period.ending(1793527200, 7200, 10)
    assert json.loads((saved / "period.json").read_text()) == vars(period)
    assert [service for _, _, service in asked] == ["Prometheus", "Prometheus"]
    assert {inventory for inventory, _, _ in asked} == {"lab"}
    instant, ranged = (parse_qs(urlsplit(url).query) for _, url, _ in asked)
    assert asked[0][1].startswith(script.PROMETHEUS + "query?")
    assert instant == {"query": [lq.instant_query(period)], "time": [str(period.end)]}
    assert ranged["query"] == [lq.range_query(period)]
    # Templated on the monitoring host: the query itself holds no Jinja.
    assert not re.search(r"[{}]", urlsplit(asked[0][1]).query)
    assert "| 98.75 % |" in (out / "sante.md").read_text()
    # The saved answers make the same pages.
    again = tmp_path / "again"
    assert script.main(["--env", "lab", "--prometheus-json", str(saved), "--out", str(again)]) == 0
    assert (again / "sante.html").read_text().count("<svg") == 1
