"""roles/router/files/patn-ppp-peer-check: the structure of pppd's peer file.

The check runs before the role puts a peer file in place (the confirmed
change's validate:) and in make validate's container. Every file of
tests/fixtures/ppp_peer_check/good/ passes; every file of errors/ fails with
the problem its first line names (# expect: ...).
"""

import subprocess

import pytest
from conftest import FIXTURES, TOP

CHECK = TOP / "roles" / "router" / "files" / "patn-ppp-peer-check"
HERE = FIXTURES / "ppp_peer_check"
GOOD = sorted((HERE / "good").glob("*.peer"))
ERRORS = sorted((HERE / "errors").glob("*.peer"))


def check(path):
    return subprocess.run([str(CHECK), str(path)], capture_output=True, text=True, check=False)


@pytest.mark.parametrize("peer", GOOD, ids=lambda path: path.stem)
def test_a_sound_peer_file_passes(peer):
    result = check(peer)
    assert result.returncode == 0, result.stderr
    assert result.stderr == ""


@pytest.mark.parametrize("peer", ERRORS, ids=lambda path: path.stem)
def test_a_broken_peer_file_fails_naming_the_problem(peer):
    expected = peer.read_text().splitlines()[0].removeprefix("# expect: ")
    result = check(peer)
    assert result.returncode == 1, result.stderr
    assert expected in result.stderr, result.stderr
    assert result.stderr.startswith(f"patn-ppp-peer-check: {peer}: ")


def test_every_error_case_says_what_it_expects():
    assert len(ERRORS) >= 8
    for peer in ERRORS:
        assert peer.read_text().startswith("# expect: "), peer.name


def test_without_its_argument_it_says_how_to_call_it():
    result = subprocess.run([str(CHECK)], capture_output=True, text=True, check=False)
    assert result.returncode == 2
    assert "Usage: patn-ppp-peer-check <peer file>" in result.stderr
