"""The wireguard_key module, run for real with a stand-in wg.

tests/fixtures/wireguard_key holds an existing key with its public key, and
errors/ files that are not keys: each must make the module fail and stay as
it was.
"""

import json
import shutil

import pytest
from conftest import TOP, run_module

FIXTURES = TOP / "tests" / "fixtures" / "wireguard_key"
ERRORS = sorted(p.name for p in (FIXTURES / "errors").iterdir())


def wireguard_key(tmp_path, path, check_mode=False, regenerate=False):
    args = {"path": str(path), "regenerate": regenerate, "_ansible_check_mode": check_mode}
    return run_module("wireguard_key", args, tmp_path, stand_ins={"wg": FIXTURES / "fake_wg.py"})


def test_a_missing_key_is_made_private_and_only_its_public_half_returned(tmp_path):
    path = tmp_path / "wireguard" / "private.key"
    result = wireguard_key(tmp_path, path)
    assert result["changed"] is True
    assert path.stat().st_mode & 0o777 == 0o600
    assert (path.parent.stat().st_mode & 0o777) == 0o700
    private = path.read_text().strip()
    assert private not in json.dumps(result)
    second = wireguard_key(tmp_path, path)
    assert second["changed"] is False
    assert second["public_key"] == result["public_key"]


def test_an_existing_key_is_kept_and_its_public_key_returned(tmp_path):
    path = tmp_path / "private.key"
    shutil.copy(FIXTURES / "existing.key", path)
    result = wireguard_key(tmp_path, path)
    assert result["changed"] is False
    assert result["public_key"] == (FIXTURES / "existing.pub").read_text().strip()
    assert path.read_text() == (FIXTURES / "existing.key").read_text()


def test_check_mode_reports_a_new_key_without_making_it(tmp_path):
    path = tmp_path / "private.key"
    result = wireguard_key(tmp_path, path, check_mode=True)
    assert result["changed"] is True
    assert result["public_key"] is None
    assert not path.exists()


def test_regenerate_replaces_the_key(tmp_path):
    path = tmp_path / "private.key"
    shutil.copy(FIXTURES / "existing.key", path)
    result = wireguard_key(tmp_path, path, regenerate=True)
    assert result["changed"] is True
    assert result["public_key"] != (FIXTURES / "existing.pub").read_text().strip()
    assert path.stat().st_mode & 0o777 == 0o600


@pytest.mark.parametrize("case", ERRORS)
def test_a_file_that_is_not_a_key_fails_untouched(case, tmp_path):
    path = tmp_path / "private.key"
    shutil.copy(FIXTURES / "errors" / case, path)
    before = path.read_bytes()
    result = wireguard_key(tmp_path, path)
    assert result.get("failed") is True
    assert "not a WireGuard private key" in result["msg"]
    assert path.read_bytes() == before
