"""The audit trail: the callback patn.infra.audit on real playbook runs, and
scripts/audit-summary on fixture logs.

tests/fixtures/audit/playbook.yml plays, on the local hosts of inventory.yml
(two ministries' devices and one outside any ministry), a change with a
diff, an unchanged task, changes whose diffs hold secrets (text and a
structure), a no_log change and an ignored failure; a fourth host is
unreachable. shapes.yml plays every shape in which a secret can reach the
log (one task each, "Shape NN"), with vault files under shapes/ and their
throwaway password shapes/vault-password. log/ holds a hand-written log of
four runs and summary*.md what audit-summary prints for it.
"""

import base64
import json
import re
import subprocess
import uuid
from datetime import datetime

import pytest
from ansible_collections.patn.infra.plugins.callback import audit
from ansible_collections.patn.infra.plugins.module_utils import secret_words
from conftest import FIXTURES, TOP, run_playbook
from limits import HUNG_COMMAND

AUDIT = FIXTURES / "audit"
SECRETS = [
    "hunter2",
    "db-pw-5f2a",
    "db-pw-old-71c3",
    "passphrase-9c1e",
    "tok-77aa",
    "radius-pw-3b8d",
    "key-line-1-e4f0",
    "key-line-2-e4f0",
    "pem-body-0d9b",
    "nolog-4e11",
]
LOCAL_HOSTS = ["justice-tgi-pnr-rtr1", "sante-bzv-hq-srv1", "lab-controller"]
CHANGES = [
    "Write the site file",
    "Write the credentials",
    "Set the database settings",
    "Write the vault (no_log)",
]
COMMON = {"event", "run_id", "time", "operator", "playbook", "git_commit", "dirty", "check_mode"}
PLAYBOOK = "tests/fixtures/audit/playbook.yml"


def head():
    return subprocess.run(
        ["git", "-C", str(TOP), "rev-parse", "HEAD"], capture_output=True, text=True, check=True
    ).stdout.strip()


def play(folder, *args, audit_dir=None):
    """ansible-playbook of the fixture playbook, with the callback writing to audit_dir."""
    out = folder / "out"
    out.mkdir(parents=True)
    audit_dir = audit_dir or folder / "audit"
    before = head()
    completed = run_playbook(
        "-i",
        AUDIT / "inventory.yml",
        PLAYBOOK,
        "--diff",
        "-e",
        f"out={out}",
        *args,
        env_extra={
            "ANSIBLE_CALLBACKS_ENABLED": "patn.infra.audit",
            "ANSIBLE_SSH_RETRIES": "0",
            "PATN_AUDIT_DIR": str(audit_dir),
            "PATN_OPERATOR": "auditor-test",
        },
    )
    files = sorted(audit_dir.glob("*.jsonl")) if audit_dir.is_dir() else []
    text = "".join(path.read_text() for path in files)
    return {
        "completed": completed,
        "files": files,
        "text": text,
        "records": [json.loads(line) for line in text.splitlines()],
        "heads": {before, head()},  # another commit may land during the run
        "audit_dir": audit_dir,
    }


# Each shape of shapes.yml and what must never be seen of its secret (a
# distinctive prefix of it, or the encoded form the task writes). v: from
# vault; l: given to a no_log task first; p: plain, for the keyword rule only.
SHAPES = {
    "01": ["vS01"],
    "02": ["vS02"],
    "03": ["vS03"],
    "04": ["vS04"],
    "05": ["vS05"],
    "06": ["vS06"],
    "07": ["vS07"],
    "08": ["vS08"],
    "09": ["vS09"],
    "10": ["vS10"],
    "11": ["vS11", base64.b64encode(b"vS11-base64-e5c9").decode()],
    "12": ["vS12"],
    "13": ["vS13"],
    "14": ["vS14"],
    "15": ["vS15"],
    "16": ["vS16"],
    "17": ["vS17"],
    "18": ["vS18"],
    "19": ["lS19"],
    "20": ["lS20"],
    "21": ["vS21"],
    "22": ["vS22"],
    "23": ["vS23"],
    "24": ["vS24"],
    "25": ["vS25"],
    "26": ["vS26"],
    "27": ["pS27"],
    "28": ["pS28"],
    "29": ["pS29"],
    "30": ["pS30"],
    "31": ["pS31"],
    "32": ["pS32"],
    "33": ["pS33"],
    "34": ["vS34"],
    "35": ["vS36"],
    "36": ["vS37"],
    "37": ["lS38"],
}


def strings(value):
    """Every string of a decoded line, keys included."""
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for key, item in value.items():
            yield key
            yield from strings(item)
    elif isinstance(value, list):
        for item in value:
            yield from strings(item)


@pytest.fixture(scope="module")
def shapes(tmp_path_factory):
    """shapes.yml played once, with its vault password; the log's lines and all their strings."""
    folder = tmp_path_factory.mktemp("shapes")
    (folder / "out").mkdir()
    completed = run_playbook(
        "-i",
        AUDIT / "shapes" / "inventory.yml",
        AUDIT / "shapes.yml",
        "--diff",
        "--vault-password-file",
        AUDIT / "shapes" / "vault-password",
        "-e",
        f"out={folder / 'out'}",
        "-e",
        f"@{AUDIT / 'shapes' / 'extra-vault.yml'}",
        env_extra={"ANSIBLE_CALLBACKS_ENABLED": "patn.infra.audit", "PATN_AUDIT_DIR": str(folder / "audit")},
    )
    assert completed.returncode == 0, completed.stdout[-3000:] + completed.stderr[-3000:]
    records = [json.loads(line) for path in (folder / "audit").glob("*.jsonl") for line in path.open()]
    return {
        "completed": completed,
        "records": records,
        "strings": "\n".join(text for record in records for text in strings(record)),
    }


@pytest.mark.parametrize("shape", SHAPES, ids=[f"shape-{number}" for number in SHAPES])
def test_no_secret_reaches_the_log_whatever_its_shape(shapes, shape):
    lines = [r for r in tasks(shapes) if r["task"].startswith(f"Shape {shape}:")]
    assert len(lines) == 1, f"shape {shape} left {len(lines)} lines"  # the shape was played
    for secret in SHAPES[shape]:
        assert secret not in shapes["strings"], f"shape {shape}: {secret} is in the audit log"


def test_masking_by_value_keeps_what_is_not_secret(shapes):
    by_shape = {
        r["task"][len("Shape ") : len("Shape 00")]: r for r in tasks(shapes) if r["task"].startswith("Shape")
    }
    assert by_shape["01"]["diff"][0]["after"] == "upstream = https://svc:********@api.example.cg/v1\n"
    assert by_shape["08"]["task"] == "Shape 08: the task's name holds ********"
    assert by_shape["09"]["diff"][0]["after_header"].endswith("/out/********.conf")
    assert by_shape["22"]["diff"][0]["after"] == "id=abc********xyz\n"
    assert by_shape["07"]["msg"] == "cannot reach the database with ********"
    assert by_shape["17"]["diff"]["after"] == {"db_user": "app", "endpoint": "********"}
    # What the no_log tasks did is recorded, never what they were given.
    hidden = [r for r in tasks(shapes) if not r["task"].startswith("Shape") and r["diff"] == "(no_log)"]
    assert len(hidden) == 3


def test_a_host_s_name_given_to_a_no_log_task_is_not_taken_for_a_secret(shapes):
    # The no_log task was given the host's name beside a secret: the secret
    # is masked, the host's name is still on its lines and in the recap.
    (end,) = [r for r in shapes["records"] if r["event"] == "run_end"]
    assert "sante-bzv-hq-srv1" in end["hosts"]
    assert {r["host"] for r in tasks(shapes)} == {"sante-bzv-hq-srv1"}


def test_the_keyword_rule_is_one_list_for_the_whole_project():
    # The registry, the audit trail and the configuration checks read the
    # words of secret_words.py; no other plugin or script lists them again.
    listed = re.compile(r"(?:password|passphrase|secret|token|psk)\|", re.IGNORECASE)
    holders = sorted(
        str(path.relative_to(TOP))
        for folder in ("plugins", "scripts")
        for path in (TOP / folder).rglob("*")
        if path.is_file()
        and "__pycache__" not in path.parts
        and listed.search(path.read_text(errors="ignore"))
    )
    assert holders == []
    words = secret_words.WORDS + secret_words.PARTS
    assert all(secret_words.is_secret_name(f"db_{word}") for word in words)
    assert not [
        name for name in ("bypass", "passive", "compass", "public_key") if secret_words.is_secret_name(name)
    ]


@pytest.fixture(scope="module")
def played(tmp_path_factory):
    return play(tmp_path_factory.mktemp("played"))


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    return play(tmp_path_factory.mktemp("checked"), "--check")


def tasks(run):
    return [record for record in run["records"] if record["event"] == "task"]


@pytest.mark.parametrize("name", ["played", "checked"])
def test_one_line_per_change_failure_and_unreachable_host(name, request):
    run = request.getfixturevalue(name)
    # The unreachable access point makes the run end in 4; nothing else fails it.
    assert run["completed"].returncode == 4, run["completed"].stdout + run["completed"].stderr
    found = sorted((r["host"], r["task"], r["status"]) for r in tasks(run))
    expected = sorted(
        [(host, task, "changed") for host in LOCAL_HOSTS for task in CHANGES]
        + [(host, "Fail on purpose", "failed") for host in LOCAL_HOSTS]
        + [("sante-bzv-hq-ap1", "Write the site file", "unreachable")]
    )
    assert found == expected
    assert all(r["ignored"] for r in tasks(run) if r["status"] == "failed")
    assert all(r["check_mode"] is (name == "checked") for r in run["records"])


def test_no_secret_reaches_the_log(played):
    assert "hunter2" in played["completed"].stdout  # the fixture really shows it
    for secret in SECRETS:
        assert secret not in played["text"], f"{secret} is in the audit log"
    credentials = next(
        r for r in tasks(played) if r["task"] == "Write the credentials" and r["host"] == "lab-controller"
    )
    after = credentials["diff"][0]["after"]
    for line in [
        "user=admin",
        "password=********",
        "db_password: ********",
        "wpa_passphrase = ********",
        '"api_token": "********"',
        'bob Cleartext-Password := "********"',
        "listen=0.0.0.0",
    ]:
        assert f"{line}\n" in after
    settings = next(r for r in tasks(played) if r["task"] == "Set the database settings")
    assert settings["diff"] == {
        "before": {"db_user": "app", "db_password": "********"},
        "after": {"db_user": "app", "db_password": "********"},
    }
    failure = next(r for r in tasks(played) if r["status"] == "failed")
    assert failure["msg"] == "the database refused password=********"


def test_a_no_log_result_is_recorded_without_its_details(played):
    hidden = [r for r in tasks(played) if r["task"] == "Write the vault (no_log)"]
    assert len(hidden) == 3
    for record in hidden:
        assert record["diff"] == "(no_log)"
        assert set(record) == COMMON | {"host", "ministry", "site", "task", "action", "status", "diff"}


def test_run_start_and_run_end_frame_one_run(played):
    records = played["records"]
    assert [r["event"] for r in (records[0], records[-1])] == ["run_start", "run_end"]
    assert [r["event"] for r in records].count("run_start") == 1
    assert len({r["run_id"] for r in records}) == 1
    assert uuid.UUID(records[0]["run_id"]).version == 4
    hosts = records[-1]["hosts"]
    assert hosts["justice-tgi-pnr-rtr1"] == {
        "ok": 6,
        "changed": 4,
        "failed": 0,
        "unreachable": 0,
        "skipped": 0,
        "rescued": 0,
        "ignored": 1,
        "ministry": "justice",
        "site": "tgi-pnr",
    }
    assert hosts["sante-bzv-hq-ap1"]["unreachable"] == 1


def test_every_line_says_who_ran_what_from_which_commit_and_when(played):
    assert len(played["files"]) in (1, 2)  # two only across midnight UTC
    for record in played["records"]:
        assert record["operator"] == "auditor-test"
        assert record["playbook"] == PLAYBOOK
        assert record["git_commit"] in played["heads"]
        assert isinstance(record["dirty"], bool)
        moment = datetime.fromisoformat(record["time"])
        assert moment.utcoffset().total_seconds() == 0
        assert f"{moment:%Y-%m-%d}.jsonl" in {path.name for path in played["files"]}


def test_task_lines_name_the_ministry_and_site_of_their_host(played):
    places = {(r["host"], r["ministry"], r["site"]) for r in tasks(played)}
    assert places == {
        ("justice-tgi-pnr-rtr1", "justice", "tgi-pnr"),
        ("sante-bzv-hq-srv1", "sante", "bzv-hq"),
        ("sante-bzv-hq-ap1", "sante", "bzv-hq"),
        ("lab-controller", None, None),
    }
    actions = {r["action"] for r in tasks(played)}
    assert actions == {"ansible.builtin.copy", "audit_settings", "ansible.builtin.fail"}
    first = next(r for r in tasks(played) if r["task"] == "Write the site file" and r["status"] == "changed")
    assert first["diff"][0]["after"].startswith("site=")


def test_an_unwritable_log_warns_once_and_the_play_goes_on(tmp_path):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    run = play(tmp_path, "--limit", "justice-tgi-pnr-rtr1", audit_dir=blocker)
    assert run["completed"].returncode == 0, run["completed"].stderr
    output = run["completed"].stdout + run["completed"].stderr
    assert " ".join(output.split()).count("patn.infra.audit: cannot write the audit log") == 1
    assert "ok=6" in run["completed"].stdout


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("password=hunter2\n", "password=********\n"),
        ("  db_password: 'x y'\n", "  db_password: '********'\n"),
        ("wpa_psk = abc\n", "wpa_psk = ********\n"),
        ('bob Cleartext-Password := "pw"\n', 'bob Cleartext-Password := "********"\n'),
        ('"Secret" := "s3"', '"Secret" := "********"'),
        ('{"token":"t0k"}', '{"token":"********"'),
        (
            "PrivateKey = aGVsbG8=\nPresharedKey = d29ybGQ=\n",
            "PrivateKey = ********\nPresharedKey = ********\n",
        ),
        (
            "key: |\n  a\nsecret: |\n  line1\n\n  line2\nnext: 1\n",
            "key: |\n  a\nsecret: |\n  ********\n\n  ********\nnext: 1\n",
        ),
        (
            "password=\nuser=admin\nurl: https://example.org\n",
            "password=\nuser=admin\nurl: https://example.org\n",
        ),
        ("url: https://u:pw-1@host/x\n", "url: https://u:********@host/x\n"),
        ("restic --password pw-2 init\n", "restic --password ******** init\n"),
        ("tokens:\n- a\n- b\nnext: 1\n", "tokens:\n********\n********\nnext: 1\n"),
        ("secrets:\n  db: x\nnext: 1\n", "secrets:\n  ********\nnext: 1\n"),
        ('"api_keys": [\n  "k"\n],\n', '"api_keys": [\n  ********\n],\n'),
        ("db_pass = x\nbypass = on\n", "db_pass = ********\nbypass = on\n"),
    ],
)
def test_redact_text_hides_the_value_of_secret_assignments(text, expected):
    assert audit.redact_text(text) == expected


def test_redact_hides_secret_keys_and_whole_key_files():
    diff = [
        {"before": "", "after": "b64key\n", "after_header": "/etc/wireguard/private.key"},
        {"before": {"api": {"Token": "t"}}, "after": {"api": {"Token": "u"}, "name": "n"}},
    ]
    assert audit.redact(diff) == [
        {"before": "********", "after": "********", "after_header": "/etc/wireguard/private.key"},
        {"before": {"api": {"Token": "********"}}, "after": {"api": {"Token": "********"}, "name": "n"}},
    ]


def summary(*args):
    return subprocess.run(
        [str(TOP / "scripts" / "audit-summary"), *args],
        capture_output=True,
        text=True,
        check=False,
        timeout=HUNG_COMMAND,
    )


@pytest.mark.parametrize(
    ("args", "expected"),
    [([], "summary.md"), (["--since", "2025-05-02", "--ministry", "justice"], "summary-justice-since.md")],
    ids=["all", "justice-since"],
)
def test_audit_summary_prints_a_table_per_ministry(args, expected):
    result = summary("--dir", str(AUDIT / "log"), *args)
    assert result.returncode == 0, result.stderr
    assert result.stdout == (AUDIT / expected).read_text()


def test_audit_summary_reads_what_the_callback_wrote(played):
    result = summary("--dir", str(played["audit_dir"]), "--ministry", "sante")
    assert result.returncode == 0, result.stderr
    row = next(line for line in result.stdout.splitlines() if re.match(r"\| \d", line))
    # One run; four changes on the server; its ignored failure and the unreachable access point.
    assert row.startswith("| 1 | 4 | 2 | 1 | ")
    assert "| auditor-test |" in row


@pytest.mark.parametrize(
    ("folder", "message"),
    [
        (AUDIT / "errors" / "bad_json", "bad_json/2025-05-03.jsonl:2: not valid JSON"),
        (AUDIT / "errors" / "missing", "no such audit log folder"),
    ],
    ids=["bad-json", "missing-folder"],
)
def test_audit_summary_refuses_an_unreadable_log(folder, message):
    result = summary("--dir", str(folder))
    assert result.returncode == 2
    assert message in result.stderr
    assert not result.stdout


class _Stub:
    """Attributes given by name: the parts of a task result the callback reads."""

    def __init__(self, **attributes):
        self.__dict__.update(attributes)


def test_a_line_whose_secrets_cannot_be_listed_keeps_nothing_that_could_hold_one(tmp_path, monkeypatch):
    callback = audit.CallbackModule()
    callback._plugin_options["log_dir"] = str(tmp_path)  # as set_options would, without the plugin loader

    def fails(_result):
        raise RuntimeError("no variables")

    monkeypatch.setattr(callback, "_learn_vaulted", fails)
    task = _Stub(check_mode=False, no_log=False, action="ansible.builtin.copy", _uuid="t1")
    result = _Stub(
        result={"changed": True, "diff": {"before": "", "after": "password-free secret v-0e1f\n"}},
        task=task,
        task_name="Write with v-0e1f",
        task_fields={"no_log": False, "args": {}},
        host=_Stub(get_name=lambda: "sante-bzv-hq-srv1"),
    )
    callback.v2_runner_on_ok(_Stub(is_changed=lambda: True, **result.__dict__))
    line = json.loads(next(tmp_path.glob("*.jsonl")).read_text())
    assert (line["task"], line["diff"]) == ("(withheld)", "(withheld)")
