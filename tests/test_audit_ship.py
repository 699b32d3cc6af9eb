"""The audit trail shipped to the data centre's log collector at the end of
a run (playbooks/tasks/audit-ship.yml, the last play of playbooks/site.yml):
real ansible-playbook runs of tests/fixtures/audit_ship/playbook.yml, with
the callback patn.infra.audit writing to a folder of the test and the
"collector's" store another."""

import json
import uuid

from conftest import FIXTURES, run_playbook

PLAYBOOK = FIXTURES / "audit_ship" / "playbook.yml"


def ship(tmp_path, *args, callback=True):
    out = tmp_path / "out"
    # The collector's audit folder (the log_collector role makes it).
    (out / "store").mkdir(parents=True)
    marker = f"marker-{uuid.uuid4()}"
    completed = run_playbook(
        "-i",
        "localhost,",
        PLAYBOOK,
        "-e",
        f"out={out}",
        "-e",
        f"marker={marker}",
        *args,
        env_extra={
            "ANSIBLE_CALLBACKS_ENABLED": "patn.infra.audit" if callback else "ansible.posix.profile_tasks",
            "PATN_AUDIT_DIR": str(tmp_path / "audit"),
        },
        # Never a run id from whatever started the tests.
        env_drop=("PATN_AUDIT_RUN_ID", "PATN_AUDIT_RUN_DIR", "PATN_AUDIT_RUN_DAY"),
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    shipped = sorted((out / "store").glob("*.jsonl"))
    return completed, shipped, marker


def test_the_runs_lines_reach_the_store_whole_and_as_written(tmp_path):
    completed, shipped, marker = ship(tmp_path)
    assert len(shipped) == 1, completed.stdout[-2000:]
    records = [json.loads(line) for line in shipped[0].read_text().splitlines()]
    run_id = records[0]["run_id"]
    # One file per run: <day the run started>-<run id>.jsonl.
    assert shipped[0].name == f"{records[0]['time'][:10]}-{run_id}.jsonl"
    assert {record["run_id"] for record in records} == {run_id}
    assert records[0]["event"] == "run_start"
    changed = [record for record in records if record["event"] == "task"]
    assert [record["task"] for record in changed] == ["Write the marker file"]
    assert marker in json.dumps(changed[0]["diff"])
    # Exactly the controller's lines of that run, as the callback wrote them.
    written = [
        line
        for path in sorted((tmp_path / "audit").glob("*.jsonl"))
        for line in path.read_text().splitlines()
        if json.loads(line)["run_id"] == run_id and json.loads(line)["event"] != "run_end"
    ]
    assert shipped[0].read_text().splitlines() == written
    # Shipping is not a change of the collector's configuration.
    assert "changed=1 " in completed.stdout
    assert (shipped[0].stat().st_mode & 0o777) == 0o640


def test_a_run_without_the_callback_ships_nothing_and_says_why(tmp_path):
    completed, shipped, _marker = ship(tmp_path, callback=False)
    assert shipped == []
    assert "did not record this run: no audit line to ship" in " ".join(completed.stdout.split())


def test_a_check_mode_run_ships_nothing(tmp_path):
    _completed, shipped, _marker = ship(tmp_path, "--check")
    assert shipped == []
