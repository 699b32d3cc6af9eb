"""The Wi-Fi channel plan filter patn.infra.channel_plan.

Each folder of tests/fixtures/channel_plan/cases/ holds the access points
of a site and the filter's options (input.yml) and the plan expected
(expected.yml); every file of errors/ must fail with its `error` fragment.
The properties run on random sites (hypothesis): the plan does not depend
on the order of the list, neighbours never share a channel when there are
channels enough, DFS channels only come when the others are taken.
"""

import json
import sys

import pytest
import yaml
from ansible.errors import AnsibleFilterError
from ansible_collections.patn.infra.plugins.filter.channel_plan import FilterModule
from ansible_collections.patn.infra.plugins.module_utils.channel_plan import (
    CHANNELS_2_4,
    CHANNELS_5,
    CHANNELS_5_DFS,
    ChannelPlanError,
    neighbour_weights,
    parse_access_points,
    plan,
)
from conftest import FIXTURES, run_playbook
from hypothesis import given, settings
from hypothesis import strategies as st

CASES_DIR = FIXTURES / "channel_plan" / "cases"
ERRORS_DIR = FIXTURES / "channel_plan" / "errors"
CASES = sorted(p.name for p in CASES_DIR.iterdir())
ERRORS = sorted(p.stem for p in ERRORS_DIR.glob("*.yml"))
channel_plan = FilterModule().filters()["channel_plan"]


def load(path):
    return yaml.safe_load(path.read_text())


# --- worked examples ------------------------------------------------------------


@pytest.mark.parametrize("case", CASES)
def test_case(case):
    given_ = load(CASES_DIR / case / "input.yml")
    expected = load(CASES_DIR / case / "expected.yml")
    assert channel_plan(given_["access_points"], **(given_.get("options") or {})) == expected


@pytest.mark.parametrize("case", ERRORS)
def test_error(case):
    doc = load(ERRORS_DIR / f"{case}.yml")
    with pytest.raises(AnsibleFilterError) as raised:
        channel_plan(doc["access_points"], **(doc.get("options") or {}))
    assert doc["error"] in str(raised.value)
    assert isinstance(raised.value.__cause__, ChannelPlanError)


def test_the_fixtures_cover_what_the_filter_promises():
    assert {"small_site", "three_floors_stacked", "single_ap", "dense_2_4"} <= set(CASES)
    dense = load(CASES_DIR / "dense_2_4" / "expected.yml")
    assert any(ap["2.4"]["shared_with"] for ap in dense.values())
    assert not any(ap["5"]["shared_with"] for ap in dense.values())


def test_neighbour_rule_and_weights():
    aps = parse_access_points(
        [
            {"host": "a", "number": 1, "floor": 0, "location": "x", "neighbours": ["c"]},
            {"host": "b", "number": 2, "floor": 0, "location": "x", "neighbours": ["a"]},
            {"host": "c", "number": 3, "floor": 1, "location": "x", "neighbours": []},
            {"host": "d", "number": 4, "floor": 2, "location": "x"},
        ]
    )
    # Same floor weighs 2 even when also named; named by one side is enough.
    assert neighbour_weights(aps) == {"a": {"b": 2, "c": 1}, "b": {"a": 2}, "c": {"a": 1}, "d": {}}


# --- properties -------------------------------------------------------------------


@st.composite
def sites(draw, max_aps=14, max_floors=4, max_per_floor=None, cross_floor=True):
    """A random site: unique hosts and numbers, random floors and named neighbours."""
    count = draw(st.integers(1, max_aps))
    numbers = draw(st.lists(st.integers(1, 200), min_size=count, max_size=count, unique=True))
    floors = list(range(max_floors))
    if max_per_floor is not None:
        # Each floor at most max_per_floor times.
        slots = [f for f in floors for _ in range(max_per_floor)]
        floor_of = draw(st.permutations(slots))[:count]
        count = len(floor_of)
        numbers = numbers[:count]
    else:
        floor_of = draw(st.lists(st.sampled_from(floors), min_size=count, max_size=count))
    hosts = [f"ap{n}" for n in numbers]
    aps = [
        {"host": h, "number": n, "floor": f, "location": f"room-{n}", "neighbours": []}
        for h, n, f in zip(hosts, numbers, floor_of, strict=True)
    ]
    if cross_floor and count > 1:
        pairs = [(i, j) for i in range(count) for j in range(count) if i != j]
        named = draw(st.lists(st.sampled_from(pairs), max_size=2 * count, unique=True))
        for i, j in named:
            aps[i]["neighbours"].append(hosts[j])
    return aps


def shared_pairs(result, band):
    return {(host, other) for host, bands in result.items() for other in bands[band]["shared_with"]}


def check_consistent(result, aps, power=None, min_power=8):
    """shared_with is exactly the neighbours on the same channel; power follows it."""
    power = power or {"2.4": 14, "5": 17}
    weights = neighbour_weights(parse_access_points(aps))
    for host, bands in result.items():
        for band, p in bands.items():
            same = sorted(n for n in weights[host] if result[n][band]["channel"] == p["channel"])
            assert p["shared_with"] == same
            cut = max(power[band] - 3, min_power) if same else power[band]
            assert p["power_dbm"] == cut


@settings(max_examples=150, deadline=None)
@given(data=st.data(), aps=sites())
def test_same_plan_whatever_the_order(data, aps):
    reordered = [
        dict(ap, neighbours=data.draw(st.permutations(ap["neighbours"])))
        for ap in data.draw(st.permutations(aps))
    ]
    result = plan(aps)
    assert plan(reordered) == result
    assert list(result) == sorted(result)
    check_consistent(result, aps)


@settings(max_examples=150, deadline=None)
@given(aps=sites(max_aps=12, max_floors=4, max_per_floor=3, cross_floor=False))
def test_three_per_floor_never_share(aps):
    # Floors are cliques of at most 3 with no cross-floor neighbour: three
    # 2.4 GHz channels are enough, and the greedy finds them.
    result = plan(aps)
    assert shared_pairs(result, "2.4") == set()
    assert shared_pairs(result, "5") == set()
    check_consistent(result, aps)


@settings(max_examples=150, deadline=None)
@given(aps=sites(max_aps=16, max_floors=6))
def test_fewer_neighbours_than_channels_never_share(aps):
    # Any greedy order finds a free channel for an AP with fewer neighbours
    # than channels.
    result = plan(aps)
    weights = neighbour_weights(parse_access_points(aps))
    most = max(len(w) for w in weights.values())
    if most < len(CHANNELS_2_4):
        assert shared_pairs(result, "2.4") == set()
    if most < len(CHANNELS_5) + len(CHANNELS_5_DFS):
        assert shared_pairs(result, "5") == set()


@st.composite
def thirty_aps(draw):
    """30 APs on 3 floors (10 per floor), a few stacked named neighbours."""
    aps = [
        {"host": f"ap{n:02d}", "number": n, "floor": (n - 1) // 10, "location": f"r{n}", "neighbours": []}
        for n in range(1, 31)
    ]
    pairs = [(i, j) for i in range(30) for j in range(30) if i // 10 != j // 10]
    for i, j in draw(st.lists(st.sampled_from(pairs), max_size=40, unique=True)):
        aps[i]["neighbours"].append(aps[j]["host"])
    return aps


@settings(max_examples=60, deadline=None)
@given(aps=thirty_aps(), use_dfs=st.booleans())
def test_thirty_aps_use_dfs_only_when_allowed_and_needed(aps, use_dfs):
    result = plan(aps, use_dfs=use_dfs)
    weights = neighbour_weights(parse_access_points(aps))
    dfs_users = [h for h, bands in result.items() if bands["5"]["channel"] in CHANNELS_5_DFS]
    if not use_dfs:
        assert dfs_users == []
        # Ten floor mates, nine non-DFS channels: sharing cannot be avoided.
        assert shared_pairs(result, "5")
        assert {b["5"]["channel"] for b in result.values()} <= set(CHANNELS_5)
    else:
        # Ten floor mates need a tenth channel: some AP goes DFS, but only
        # when its neighbours hold every non-DFS channel.
        assert dfs_users
        for host in dfs_users:
            assert set(CHANNELS_5) <= {result[n]["5"]["channel"] for n in weights[host]}
        most = max(len(w) for w in weights.values())
        if most < len(CHANNELS_5) + len(CHANNELS_5_DFS):
            assert shared_pairs(result, "5") == set()
    check_consistent(result, aps)


def test_no_dfs_without_need_even_when_allowed():
    aps = [{"host": f"ap{n}", "number": n, "floor": 0, "location": "x"} for n in range(1, 10)]
    channels = {bands["5"]["channel"] for bands in plan(aps).values()}
    assert channels == set(CHANNELS_5)


# --- through Ansible --------------------------------------------------------------

PLAYBOOK = """
- name: Channel plan through Ansible
  hosts: localhost
  gather_facts: false
  become: false
  vars:
    patn_access_points: {access_points}
  tasks:
    - name: Plan the site
      ansible.builtin.copy:
        content: "{{{{ patn_access_points | patn.infra.channel_plan(use_dfs=false) | to_json }}}}"
        dest: "{out}/plan.json"
        mode: "0644"
    - name: A bad list fails with the access point and the field
      block:
        - name: Plan a site whose AP names itself
          ansible.builtin.debug:
            msg: "{{{{ [{{'host': 'x1', 'number': 1, 'floor': 0, 'neighbours': ['x1']}}]
                    | patn.infra.channel_plan }}}}"
      rescue:
        - name: Keep the message
          ansible.builtin.copy:
            content: "{{{{ ansible_failed_result.msg }}}}"
            dest: "{out}/error.txt"
            mode: "0644"
"""


def test_through_ansible_playbook(tmp_path):
    case = load(CASES_DIR / "small_site" / "input.yml")
    playbook = tmp_path / "plan.yml"
    playbook.write_text(PLAYBOOK.format(access_points=json.dumps(case["access_points"]), out=tmp_path))
    completed = run_playbook(
        "-i",
        "localhost,",
        "-c",
        "local",
        playbook,
        env_extra={"ANSIBLE_PYTHON_INTERPRETER": sys.executable, "ANSIBLE_LOCAL_TEMP": str(tmp_path / "tmp")},
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert json.loads((tmp_path / "plan.json").read_text()) == load(CASES_DIR / "small_site" / "expected.yml")
    message = (tmp_path / "error.txt").read_text()
    assert "access point 'x1': field 'neighbours' names the access point itself" in message
