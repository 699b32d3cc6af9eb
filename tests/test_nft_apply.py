"""The nft_apply module, run for real against a stand-in host.

tests/fixtures/nft_apply/fake_host.py plays nft, systemctl and systemd-run
with a state folder (live ruleset, armed rollback timer). Each folder of
cases/ gives the host before (setup.yml), the ruleset to apply
(candidate.nft) and what must hold after (expect.yml); every folder of
errors/ must fail with the message in expect.txt and leave the host as it
was. The real rollback (a ruleset that cuts SSH, undone by the timer) is
proven on a live router by molecule/router.
"""

import os
import subprocess

import pytest
import yaml
from conftest import TOP, run_module

FIXTURES = TOP / "tests" / "fixtures" / "nft_apply"
CASES = sorted(p.name for p in (FIXTURES / "cases").iterdir())
ERRORS = sorted(p.name for p in (FIXTURES / "errors").iterdir())


class FakeHost:
    def __init__(self, root, case_dir):
        self.root = root
        self.state = root / "state"
        self.state.mkdir()
        self.setup = (
            yaml.safe_load((case_dir / "setup.yml").read_text()) if (case_dir / "setup.yml").exists() else {}
        )
        self.setup = self.setup or {}
        self.src = root / "candidate.nft"
        self.dest = root / "nftables.conf"
        self.state_dir = root / "patn-nft"
        if not self.setup.get("src_missing"):
            self.src.write_text((case_dir / "candidate.nft").read_text())
        self.live_path.write_text(self.setup.get("live", ""))
        for key, path in (("dest", self.dest), ("recorded", self.state_dir / "applied.nft")):
            value = self.setup.get(key)
            if value is None:
                continue
            path.parent.mkdir(exist_ok=True)
            path.write_text({"candidate": self.src.read_text(), "live": self.live}.get(value, value))
        if self.setup.get("armed"):
            (self.state / "timer").write_text("armed by an earlier run\n")

    @property
    def live_path(self):
        return self.state / "live"

    @property
    def live(self):
        return self.live_path.read_text()

    @property
    def armed(self):
        return (self.state / "timer").exists()

    @property
    def commands(self):
        log = self.state / "log"
        return log.read_text() if log.exists() else ""

    def snapshot(self):
        files = [self.live_path, self.dest, self.state_dir / "applied.nft", self.state / "timer"]
        return {str(p): p.read_text() if p.exists() else None for p in files}

    def run_module(self):
        args = {
            "src": str(self.src),
            "dest": str(self.dest),
            "state_dir": str(self.state_dir),
            "rollback_timeout": self.setup.get("rollback_timeout", 60),
            "phase": self.setup.get("phase", "apply"),
            "_ansible_check_mode": bool(self.setup.get("check_mode")),
            "_ansible_diff": True,
        }
        return run_module(
            "nft_apply", args, self.root, env_extra={"FAKE_HOST_STATE": str(self.state)},
            stand_ins={name: FIXTURES / "fake_host.py" for name in ("nft", "systemctl", "systemd-run")},
        )  # fmt: skip


@pytest.mark.parametrize("case", CASES)
def test_case(case, tmp_path):
    case_dir = FIXTURES / "cases" / case
    host = FakeHost(tmp_path, case_dir)
    candidate = host.src.read_text()
    expect = yaml.safe_load((case_dir / "expect.yml").read_text())

    result = host.run_module()

    assert not result.get("failed"), result.get("msg")
    for key, value in expect["result"].items():
        assert result.get(key) == value, f"{key}: {result.get(key)!r} != {value!r}"
    assert host.armed == expect["armed"]
    if "live_is_candidate" in expect:
        applied = "".join(
            line for line in candidate.splitlines(keepends=True) if line.strip() != "flush ruleset"
        )
        assert (host.live == applied) == expect["live_is_candidate"]
    if "previous" in expect:
        assert (host.state_dir / "previous.nft").read_text() == expect["previous"]
    if expect.get("diff"):
        assert result["diff"]["after"] == candidate
        assert result["diff"]["before"] != candidate
    if "commands" in expect:
        assert host.commands == expect["commands"]
    if expect.get("dest_is_candidate"):
        assert host.dest.read_text() == candidate
    if expect.get("recorded_is_live"):
        assert (host.state_dir / "applied.nft").read_text() == host.live


@pytest.mark.parametrize("case", ERRORS)
def test_error(case, tmp_path):
    case_dir = FIXTURES / "errors" / case
    host = FakeHost(tmp_path, case_dir)
    before = host.snapshot()

    result = host.run_module()

    assert result.get("failed"), f"errors/{case} did not fail: {result}"
    assert (case_dir / "expect.txt").read_text().strip() in result["msg"]
    assert host.snapshot() == before, "a failed run changed the host"


def test_rollback_timer_restores_the_ruleset_of_before(tmp_path):
    # The timer armed by an apply runs `nft -f previous.nft`: run that command
    # line as systemd would, and the live ruleset is the one of before.
    host = FakeHost(tmp_path, FIXTURES / "cases" / "update")
    before = host.live
    host.run_module()
    assert host.live != before
    command = (host.state / "timer").read_text().split()
    nft = command.index(next(word for word in command if word.endswith("/nft")))
    assert command[nft + 1 :] == ["-f", str(host.state_dir / "previous.nft")]
    assert "--on-active=60s" in command
    env = dict(os.environ, FAKE_HOST_STATE=str(host.state))
    subprocess.run([str(host.root / "bin" / "nft"), *command[nft + 1 :]], check=True, env=env)
    assert host.live == before
