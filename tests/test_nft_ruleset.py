"""The nftables reader of the service contract (module_utils nft_ruleset).

Each folder of tests/fixtures/nft_ruleset/cases/ holds a ruleset
(ruleset.nft: two as roles/router renders them for production, one written
for the test) and packets with the verdict of their hook (packets.yml);
every file of errors/ must be refused with the message on its first line.
"""

import pytest
import yaml
from ansible_collections.patn.infra.plugins.module_utils.nft_ruleset import NftError, Packet, parse
from conftest import FIXTURES, TOP

CASES_DIR = FIXTURES / "nft_ruleset" / "cases"
ERRORS_DIR = FIXTURES / "nft_ruleset" / "errors"
CASES = sorted(path.name for path in CASES_DIR.iterdir())
ERRORS = sorted(path.stem for path in ERRORS_DIR.glob("*.nft"))
EXPECTED = ("hook", "accepted", "chain", "reason")


def packets(case):
    for number, given in enumerate(yaml.safe_load((CASES_DIR / case / "packets.yml").read_text()), start=1):
        yield number, given, Packet(**{key: value for key, value in given.items() if key not in EXPECTED})


@pytest.mark.parametrize("case", CASES)
def test_case(case):
    ruleset = parse((CASES_DIR / case / "ruleset.nft").read_text())
    for number, given, packet in packets(case):
        outcome = ruleset.evaluate(given["hook"], packet)
        expected = (given["accepted"], given.get("chain", ""), given.get("reason", ""))
        assert (outcome.accepted, outcome.chain, outcome.reason) == expected, f"packet {number}: {given}"


@pytest.mark.parametrize("case", ERRORS)
def test_error(case):
    text = (ERRORS_DIR / f"{case}.nft").read_text()
    message = text.splitlines()[0].removeprefix("# error: ")
    with pytest.raises(NftError) as raised:
        parse(text)
    assert message in str(raised.value)


def test_the_rendered_cases_are_the_role_s():
    """The two rendered rulesets have every kind of line the template writes."""
    template = (TOP / "roles" / "router" / "templates" / "nftables.conf.j2").read_text()
    rendered = (CASES_DIR / "site_router" / "ruleset.nft").read_text() + (
        CASES_DIR / "hub" / "ruleset.nft"
    ).read_text()
    for construct in (
        "meter guest_rate",
        "masquerade",
        "meta priority set",
        "ip daddr != @private_prefixes",
        "iif lo",
    ):
        assert construct in template
        assert construct in rendered


def test_replies_pass_where_the_connection_was_accepted():
    ruleset = parse((CASES_DIR / "hub" / "ruleset.nft").read_text())
    reply = Packet(
        "10.32.8.1", "10.240.12.10", "udp", dport=40000, sport=123, iif="", oif="wg0", state="established"
    )
    assert ruleset.evaluate("output", reply).accepted
    answer = Packet(
        "10.48.40.1", "10.32.8.126", "tcp", 40000, 22, iif="wg0", oif="eth1.10", state="established"
    )
    assert ruleset.evaluate("forward", answer).accepted
