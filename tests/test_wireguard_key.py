"""The wireguard_key module, run for real with a stand-in wg.

tests/fixtures/wireguard_key holds an existing key with its public key;
errors/ files that are not keys: each must make the module fail and stay as
it was; modes/ cases: an existing key's mode, and the change, mode and diff
expected; links/ cases: a symbolic link at the key's path (to a key, or
dangling), each must make the module fail naming the path, nothing touched.
"""

import json
import shutil

import pytest
import yaml
from conftest import TOP, run_module

FIXTURES = TOP / "tests" / "fixtures" / "wireguard_key"
ERRORS = sorted(p.name for p in (FIXTURES / "errors").iterdir())
MODES = sorted(p.stem for p in (FIXTURES / "modes").glob("*.yml"))
LINKS = sorted(p.stem for p in (FIXTURES / "links").glob("*.yml"))


def wireguard_key(tmp_path, path, check_mode=False, regenerate=False):
    args = {
        "path": str(path),
        "regenerate": regenerate,
        "_ansible_check_mode": check_mode,
        "_ansible_diff": True,
    }
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
    path.chmod(0o600)
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


@pytest.mark.parametrize("case", MODES)
def test_a_loose_key_is_made_private_and_the_change_reported(case, tmp_path):
    given = yaml.safe_load((FIXTURES / "modes" / f"{case}.yml").read_text())
    path = tmp_path / "private.key"
    shutil.copy(FIXTURES / "existing.key", path)
    path.chmod(int(given["mode"], 8))
    result = wireguard_key(tmp_path, path, check_mode=given["check_mode"])
    assert result.get("failed") is not True, result
    assert result["changed"] is given["changed"]
    assert f"{path.stat().st_mode & 0o7777:04o}" == given["mode_after"]
    assert path.read_text() == (FIXTURES / "existing.key").read_text()
    assert result["public_key"] == (FIXTURES / "existing.pub").read_text().strip()
    if "diff" in given:
        for side in ("before", "after"):
            assert result["diff"][side] == {"path": str(path), **given["diff"][side]}
    else:
        assert "diff" not in result
    assert path.read_text().strip() not in json.dumps(result)
    if not given["check_mode"]:
        assert wireguard_key(tmp_path, path)["changed"] is False


@pytest.mark.parametrize("case", LINKS)
def test_a_symbolic_link_at_the_key_path_is_refused_untouched(case, tmp_path):
    given = yaml.safe_load((FIXTURES / "links" / f"{case}.yml").read_text())
    target = tmp_path / "elsewhere.key"
    if given["target"] == "key":
        shutil.copy(FIXTURES / "existing.key", target)
        target.chmod(int(given.get("target_mode", "0600"), 8))
    before = (target.read_bytes(), target.stat().st_mode) if target.exists() else None
    path = tmp_path / "private.key"
    path.symlink_to(target)
    result = wireguard_key(tmp_path, path, check_mode=given["check_mode"], regenerate=given["regenerate"])
    assert result.get("failed") is True, result
    assert f"{path}: is a symbolic link" in result["msg"]
    assert path.is_symlink()
    assert path.readlink() == target
    assert not (tmp_path / "private.key.new").exists()
    if before:
        assert (target.read_bytes(), target.stat().st_mode) == before
    else:
        assert not target.exists()
