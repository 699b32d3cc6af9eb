"""Whole sites per slice: the registry plugin's slice option (PATN_SLICE).

Two slices of the production inventory, as two AWX inventories would load
them: every site whole in exactly one slice, the data centre in both for
reference only, and the site summary of each sliced run naming each of its
sites once. fixtures/site_slices/errors/: slice values that must load nothing,
with an error naming the option and the value.
"""

import json
import re
import subprocess

import pytest
import yaml
from ansible_collections.patn.infra.plugins.plugin_utils import site_slices
from conftest import ANSIBLE_ENV, FIXTURES, TOP, run_playbook
from limits import HUNG_COMMAND

SLICES = FIXTURES / "site_slices"
ERRORS = sorted(SLICES.glob("errors/*.yml"))
PRODUCTION = "inventories/production"
DATA_CENTRE = {"ptn-dc-bak1", "ptn-dc-hub1", "ptn-dc-mon1", "ptn-dc-srv1", "ptn-dc-srv2"}


def inventory(env_extra=None, *sources):
    result = subprocess.run(
        [
            "ansible-inventory",
            *(arg for source in sources or [PRODUCTION] for arg in ("-i", source)),
            "--list",
        ],
        capture_output=True,
        text=True,
        check=False,
        cwd=TOP,
        env=dict(ANSIBLE_ENV, **(env_extra or {})),
        timeout=HUNG_COMMAND,
    )
    return result


def hostvars(env_extra=None):
    result = inventory(env_extra)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout)["_meta"]["hostvars"]


def site(values):
    return f"{values['patn_ministry']}/{values['patn_site']['code']}"


@pytest.fixture(scope="module")
def production():
    whole = hostvars()
    slices = [hostvars({"PATN_SLICE": f"{index}/2"}) for index in (1, 2)]
    return whole, slices


def test_two_slices_hold_every_site_once_and_whole(production):
    whole, slices = production
    assert {
        name for name, values in whole.items() if values["patn_site"]["type"] == "data_centre"
    } == DATA_CENTRE
    site_hosts = [set(hosts) - DATA_CENTRE for hosts in slices]
    assert site_hosts[0]
    assert site_hosts[1]
    assert not site_hosts[0] & site_hosts[1]
    assert site_hosts[0] | site_hosts[1] | DATA_CENTRE == set(whole)
    # The data centre in every slice, for reference (the routers' tunnels name the hub).
    assert all(set(hosts) >= DATA_CENTRE for hosts in slices)
    sites = [{site(whole[name]) for name in hosts} for hosts in site_hosts]
    assert not sites[0] & sites[1]
    for number, hosts in enumerate(site_hosts):
        for name in set(whole) - DATA_CENTRE - hosts:
            assert site(whole[name]) not in sites[number], f"{site(whole[name])} split: {name} elsewhere"
    # Balanced by host count, and each host as it is without slicing (plus the slice).
    assert abs(len(site_hosts[0]) - len(site_hosts[1])) <= max(
        len([name for name in whole if site(whole[name]) == one]) for one in sites[0] | sites[1]
    )
    for number, hosts in enumerate(slices, start=1):
        for name, values in hosts.items():
            assert values == dict(whole[name], patn_slice={"index": number, "count": 2})


def test_the_slices_are_the_same_every_time(production):
    _, slices = production
    again = hostvars({"PATN_SLICE": " 1/2 "})
    assert set(again) == set(slices[0])


def summary_rows(output):
    """The site summary's host lines: (site, host)."""
    _, banner, after = output.partition("SITE SUMMARY *")
    assert banner, output[-3000:]
    return [
        tuple(re.split(r" {2,}", line.strip())[:2])
        for line in after.splitlines()
        if re.search(r" {2,}\S+ {2,}failed", line)
    ]


def sliced_run(index, *args):
    return run_playbook(
        "-i", PRODUCTION, SLICES / "playbook.yml", *args,
        env_extra={
            "PATN_SLICE": f"{index}/2",
            "ANSIBLE_CALLBACKS_ENABLED": "patn.infra.site_summary",
            "ANSIBLE_NOCOLOR": "1",
            "ANSIBLE_STRATEGY": "linear",
        },
        env_drop=["ANSIBLE_FORCE_COLOR"],
    )  # fmt: skip


def test_the_site_summary_of_each_slice_names_each_of_its_sites_once(production):
    whole, slices = production
    seen = []
    for index, hosts in enumerate(slices, start=1):
        completed = sliced_run(index, "--limit", "!site_type_data_centre")
        assert completed.returncode != 0  # the routers' failure on purpose
        rows = summary_rows(completed.stdout)
        expected = {site(whole[name]) for name in set(hosts) - DATA_CENTRE}
        assert sorted(place for place, _ in rows) == sorted(expected)
        assert {host for _, host in rows} <= set(hosts)
        closing = f"{len(expected)} of {len(expected)} sites failed"
        assert closing in completed.stdout
        seen.extend(place for place, _ in rows)
    assert len(seen) == len(set(seen))
    assert set(seen) == {site(values) for name, values in whole.items() if name not in DATA_CENTRE}


def test_a_sliced_run_refuses_to_target_the_data_centre():
    completed = sliced_run(1, "--limit", "site_type_data_centre")
    assert completed.returncode != 0
    assert "ptn-dc-hub1 is a data-centre host in slice 1/2" in completed.stdout
    assert "Fail on the site routers only" not in completed.stdout  # stopped at validation


@pytest.mark.parametrize("case", ERRORS, ids=[path.stem for path in ERRORS])
def test_a_bad_slice_value_is_refused(case):
    value = yaml.safe_load(case.read_text())["slice"]
    with pytest.raises(site_slices.SliceError, match=re.escape(f"{value!r}")):
        site_slices.parse_slice(value if isinstance(value, str) else str(value))


def test_every_bad_slice_value_loads_nothing_and_names_option_and_value(tmp_path):
    """All the error cases as sources of one ansible-inventory run: each fails on its own."""
    sources = []
    for case in ERRORS:
        source = tmp_path / case.stem / "registry.yml"
        source.parent.mkdir()
        value = yaml.safe_load(case.read_text())["slice"]
        source.write_text(
            yaml.safe_dump(
                {
                    "plugin": "patn.infra.registry",
                    "registry_dir": str(FIXTURES / "registry" / "base"),
                    "slice": value,
                }
            )
        )
        sources.append(str(source))
    result = inventory(
        {"ANSIBLE_INVENTORY_UNPARSED_FAILED": "0", "ANSIBLE_INVENTORY_ANY_UNPARSED_IS_FAILED": "0"}, *sources
    )
    output = " ".join((result.stdout + result.stderr).split())
    listed = json.loads(result.stdout)
    assert listed["_meta"]["hostvars"] == {}
    for case, source in zip(ERRORS, sources, strict=True):
        doc = yaml.safe_load(case.read_text())
        shown = repr(str(doc["slice"]))
        assert f"{source}: option 'slice' (PATN_SLICE): {shown}" in output, case.stem
        assert doc["why"] in output


def test_an_empty_slice_is_no_slicing():
    assert site_slices.parse_slice("") is None
    assert site_slices.parse_slice(None) is None
    assert site_slices.parse_slice("4/4") == (4, 4)
