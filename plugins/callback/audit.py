# Copyright: PATN infrastructure team
# Apache License 2.0
"""Callback patn.infra.audit: the audit trail of playbook runs, one JSON line per change."""

from __future__ import annotations

DOCUMENTATION = r"""
name: audit
type: aggregate
short_description: Audit trail of playbook runs, one JSON line per change, failure or run
description:
  - Appends one JSON line per changed task result, and one per failed or unreachable
    result, to C(<log_dir>/<YYYY-MM-DD>.jsonl) (the UTC date), for an auditor to read
    (C(scripts/audit-summary) summarises the files per ministry).
  - "Every line carries C(event) (C(run_start), C(task) or C(run_end)), C(run_id) (one UUID per
    C(ansible-playbook) invocation), C(time) (UTC, ISO 8601), C(operator) (C(PATN_OPERATOR), else
    the login user), C(playbook) (relative to the top of its git repository), C(git_commit)
    (C(git rev-parse HEAD) in the playbook's folder, null outside git), C(dirty) (true when
    C(git status --porcelain) lists anything) and C(check_mode)."
  - "Task lines add C(host), C(ministry) and C(site) (the host's C(patn_ministry) and
    C(patn_site.code), null when undefined), C(task), C(action), C(status) (C(changed),
    C(failed) or C(unreachable)), C(ignored) for failures under C(ignore_errors), C(msg) for
    failures, and C(diff): the result's diff (null when the run computes none; the project's
    ansible.cfg sets C([diff] always = true) so every run does); a loop's items' diffs as a list."
  - "C(run_end) adds C(hosts): per host, C(ok), C(changed), C(failed), C(unreachable),
    C(skipped), C(rescued), C(ignored), C(ministry) and C(site)."
  - "Secrets are removed before anything is written, first by value: every value that came from
    ansible-vault (an inline C(!vault) string, or any value of a vault-encrypted file such as
    C(group_vars/all/vault.yml)) and every value a C(no_log) task was given (its arguments that
    came from a template) is replaced by C(********) in every string of every line (task names,
    diffs, file names, failure messages), whatever its key or shape, and so are its URL-encoded,
    JSON-escaped and base64 forms and, for a multi-line secret, each of its lines. A value seen
    only by a C(no_log) task is masked from the moment that task runs. Values shorter than six
    characters are not masked by value."
  - "Then by keyword, as a second net: any key holding one of the project's secret words (the one
    list of C(plugins/module_utils/secret_words.py), such as password, secret or token, or C(pass)
    as a part of a name) anywhere in the diff has its value replaced; in the
    diff's text and in failure messages and task names, so is the value of any line
    C(key=value), C(key = value), C(key: value) or C(key := value) whose key holds one (as in
    FreeRADIUS' C(Cleartext-Password := \"...\")), a command-line option such as
    C(--password value), YAML block scalars, lists and maps under such a key, the password of a
    URL (C(https://user:pass@host)), private keys in PEM form, and the whole content of files
    named C(*.key) or C(*.pem), or whose name holds a secret word."
  - A result hidden with C(no_log) is recorded with C(diff) set to C((no_log)) and nothing else of it.
  - "When the run starts, the callback sets C(PATN_AUDIT_RUN_ID) (its run_id), C(PATN_AUDIT_RUN_DIR)
    (the log folder) and C(PATN_AUDIT_RUN_DAY) (the UTC day of its first line) in the controller's
    environment, so that the run's plays can read its own lines (C(playbooks/tasks/audit-ship.yml)
    ships them to the data centre's log collector at the end of C(playbooks/site.yml))."
  - Lines are appended under an exclusive lock (C(fcntl.flock)), so runs in parallel never
    interleave. The log never breaks a playbook; when it cannot be written, one warning says so.
  - "The drift report: when a play of a check-mode run has the variable C(patn_drift_report), a
    mapping of C(dir) (a folder, absolute or relative to the top of the git repository of the
    run's playbook) and C(audited) (the playbook audited, for the report's header),
    as C(playbooks/audit.yml) gives the plays it audits, the callback writes the drift report of
    the run at its end, from the lines it wrote (C(plugins/plugin_utils/drift_report.py)), in
    C(<dir>/<--limit or all>-<UTC time>.md) and C(.html) (its figures per host in C(.json), which
    C(playbooks/drift-metrics.yml) publishes to the monitoring), and prints its verdict and files. It
    does so whenever the run reaches its recap, failed or unreachable hosts or not. It names the
    files when the first such play starts, with the command that writes them from the audit log
    should the run be interrupted before its end (C(scripts/audit-summary drift))."
requirements:
  - enabled in ansible.cfg C(callbacks_enabled) (or C(ANSIBLE_CALLBACKS_ENABLED))
  - git on the controller, for C(git_commit) and C(dirty)
options:
  log_dir:
    description:
      - Folder of the audit log, one C(<YYYY-MM-DD>.jsonl) file per UTC day. Created when missing.
    type: path
    default: ~/.local/state/patn/audit
    env:
      - name: PATN_AUDIT_DIR
    ini:
      - section: callback_audit
        key: log_dir
"""

EXAMPLES = r"""
# ansible.cfg: record every run from this checkout.
#   [defaults]
#   callbacks_enabled = ansible.posix.profile_tasks, patn.infra.audit
#   [callback_audit]
#   log_dir = /var/log/patn/audit

# One run, recorded in a chosen folder under the operator's name:
#   PATN_OPERATOR=jmalonga PATN_AUDIT_DIR=/srv/audit \
#     ansible-playbook -i inventories/production playbooks/routers.yml --limit site_sante_bzv_hq --diff

# A line of the log (one per line in the file; wrapped here):
#   {"event": "task", "run_id": "0b6f...", "time": "2025-05-02T08:14:03Z", "operator": "jmalonga",
#    "playbook": "playbooks/routers.yml", "git_commit": "7144e62...", "dirty": false,
#    "check_mode": false, "host": "sante-bzv-hq-rtr1", "ministry": "sante", "site": "bzv-hq",
#    "task": "patn.infra.router : Write the WireGuard configuration", "action": "ansible.builtin.template",
#    "status": "changed", "diff": {"before": "PrivateKey = ********\n...", "after": "..."}}

# What changed per ministry since the first of the month:
#   scripts/audit-summary --since 2025-05-01
"""

import fcntl
import getpass
import json
import os
import re
import shlex
import subprocess
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from pathlib import Path

from ansible import context
from ansible.template import Templar
from ansible_collections.patn.infra.plugins.module_utils.secret_words import PATTERN, SECRET_NAME
from ansible_collections.patn.infra.plugins.plugin_utils import drift_report
from ansible_collections.patn.infra.plugins.plugin_utils.ansible_private import object_id
from ansible_collections.patn.infra.plugins.plugin_utils.host_place import host_place, run_hostvars
from ansible_collections.patn.infra.plugins.plugin_utils.safe_callback import SafeCallback
from ansible_collections.patn.infra.plugins.plugin_utils.secret_values import SecretValues

MASK = "********"
# In place of what could not be cleared of secrets.
WITHHELD = "(withheld)"
# Keys whose values are secrets, in a result's structure or in a configuration line.
SECRET = SECRET_NAME
# `key=value`, `key = value`, `key: value`, `"key": "value"`, `key := "value"`: the first
# such assignment of a line whose key holds a secret word; the rest of the line is its value.
ASSIGNMENT = re.compile(
    rf"""(?P<key>[\w.\-]*(?:{PATTERN})[\w.\-]*)["']?[ \t]*(?P<sign>:=|=|:(?=\s|$|["']))[ \t]*""",
    re.IGNORECASE,
)
# A command-line option naming a secret, and its value: --password xyz, -db-token xyz.
OPTION = re.compile(
    rf"""(?<!\S)(?P<option>--?[\w.\-]*(?:{PATTERN})[\w.\-]*)[ \t]+(?P<value>[^\s-]\S*)""", re.IGNORECASE
)
# The password of a URL: scheme://user:password@host.
URL_PASSWORD = re.compile(r"(?P<head>\b[A-Za-z][A-Za-z0-9+.\-]*://[^\s/@:]*:)(?P<password>[^\s/@]+)(?=@)")
# YAML block scalar indicators: the secret is on the more indented lines below.
BLOCK_SCALAR = re.compile(r"^[|>][+-]?\d*$")
PEM_BEGIN = re.compile(r"-----BEGIN [A-Z ]*PRIVATE KEY-----")
PEM_END = re.compile(r"-----END [A-Z ]*PRIVATE KEY-----")
# A file holding nothing but a key: its whole content is a secret.
SECRET_FILE = re.compile(r"\.(key|pem)$", re.IGNORECASE)
TEXT_KEYS = ("before", "after", "prepared")


def _redact_line(body: str) -> str:
    """One line with its URL passwords and secret options masked."""
    body = URL_PASSWORD.sub(lambda match: match.group("head") + MASK, body)
    return OPTION.sub(lambda match: match.group(0)[: match.start("value") - match.start()] + MASK, body)


def redact_text(text: str) -> str:
    """The text with the value of every secret-looking assignment replaced by MASK."""
    lines = []
    block_indent = None  # inside a block under a secret key, deeper than this
    block_items = False  # ... or a YAML list at the same indent (key:\n- item)
    in_pem = False
    for line in text.splitlines(keepends=True):
        body = line.rstrip("\r\n")
        end = line[len(body) :]
        indent = len(body) - len(body.lstrip())
        if in_pem:
            in_pem = not PEM_END.search(body)
            lines.append(line if not in_pem else MASK + end)
            continue
        if block_indent is not None:
            item = block_items and indent == block_indent and body.lstrip().startswith("-")
            if not body.strip() or indent > block_indent or item:
                lines.append((body[:indent] + MASK if body.strip() else body) + end)
                continue
            block_indent = None
        begin = PEM_BEGIN.search(body)
        if begin:
            # The key's lines are hidden up to its END line (which stays).
            finish = PEM_END.search(body, begin.end())
            in_pem = finish is None
            lines.append(body[: begin.end()] + (MASK + body[finish.start() :] if finish else "") + end)
            continue
        body = _redact_line(body)
        match = ASSIGNMENT.search(body)
        if match:
            value = body[match.end() :].rstrip()
            if BLOCK_SCALAR.match(value) or value in ("[", "{") or (not value and match.group("sign") == ":"):
                # The secret is below: a block scalar, a list or a map (YAML or JSON).
                block_indent, block_items = indent, not value
            elif value:
                quote = value[0] if value[0] in "\"'" else ""
                body = body[: match.end()] + quote + MASK + quote
        lines.append(body + end)
    return "".join(lines)


def redact(data, whole=False):
    """A copy of a result's structure with every secret replaced by MASK.

    whole: the strings are the content of a secret file, hidden entirely.
    """
    if isinstance(data, Mapping):
        headers = [str(data.get(key) or "") for key in ("before_header", "after_header", "dest", "path")]
        names = [os.path.basename(header) for header in headers if header]
        whole = whole or any(SECRET_FILE.search(name) or SECRET.search(name) for name in names)
        copy = {}
        for key, value in data.items():
            hidden = whole and key in TEXT_KEYS and isinstance(value, str)
            if hidden or SECRET.search(str(key)):
                copy[key] = MASK
            else:
                copy[key] = redact(value, whole)
        return copy
    if isinstance(data, list | tuple):
        return [redact(value, whole) for value in data]
    if isinstance(data, str):
        return redact_text(data)
    return data


def _git(folder: str, *args: str) -> str | None:
    """Output of one git command in folder, None when it fails (outside git, no git)."""
    try:
        completed = subprocess.run(
            ["git", "-C", folder, *args],
            capture_output=True,
            text=True,
            check=False,
            timeout=30,
            # Read only: never take the index lock another git command may hold.
            env=dict(os.environ, GIT_OPTIONAL_LOCKS="0"),
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return completed.stdout if completed.returncode == 0 else None


def repository_state(playbook: str) -> tuple[dict, str]:
    """Commit, dirtiness and the playbook's path in the repository it lives in; and the
    repository's top folder (the playbook's folder outside git)."""
    folder = os.path.dirname(os.path.abspath(playbook))
    commit = _git(folder, "rev-parse", "HEAD")
    if commit is None:
        return {"playbook": os.path.abspath(playbook), "git_commit": None, "dirty": None}, folder
    top = (_git(folder, "rev-parse", "--show-toplevel") or "").strip()
    status = _git(folder, "status", "--porcelain")
    path = os.path.relpath(os.path.realpath(playbook), os.path.realpath(top)) if top else playbook
    state = {
        "playbook": path,
        "git_commit": commit.strip(),
        "dirty": bool(status.strip()) if status is not None else None,
    }
    return state, top or folder


def operator() -> str | None:
    """Who runs the playbook: PATN_OPERATOR, else the login user."""
    if os.environ.get("PATN_OPERATOR"):
        return os.environ["PATN_OPERATOR"]
    try:
        return os.getlogin()
    except OSError:
        pass
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return None


# What the run's plays see of it (os.environ of the controller, which the workers inherit).
RUN_ID_ENV = "PATN_AUDIT_RUN_ID"
RUN_DIR_ENV = "PATN_AUDIT_RUN_DIR"
RUN_DAY_ENV = "PATN_AUDIT_RUN_DAY"


def now() -> datetime:
    return datetime.now(UTC)


class CallbackModule(SafeCallback):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "patn.infra.audit"
    CALLBACK_NEEDS_ENABLED = True
    FAULT = "cannot record this run"

    def __init__(self, display=None):
        super().__init__(display=display)
        self._run = {
            "run_id": str(uuid.uuid4()),
            "operator": operator(),
            "playbook": None,
            "git_commit": None,
            "dirty": None,
            "check_mode": bool(context.CLIARGS.get("check", False)),
        }
        self._variables = None  # the variable manager, loader, play and hostvars, known once a play starts
        self._loader = None
        self._play = None
        self._hostvars = None
        self._play_seen = False  # the play's variables walked for vaulted values
        self._hosts_seen = False  # every host's variables walked, once per run
        self._places = {}  # host name -> (ministry, site)
        self._secrets = SecretValues(MASK)  # vaulted and no_log values seen in this run
        self._raw_args = {}  # task uuid -> its arguments before templating, to tell literals apart
        self._records = []  # the lines written, in a check-mode run: a drift report is made of them
        self._drift = None  # (files' prefix, playbook audited) once a play asks for the drift report
        self._top = os.getcwd()  # the top of the playbook's repository, once the run starts

    # Writing. -----------------------------------------------------------------

    def _write(self, event: str, **fields) -> None:
        moment = now()
        record = {
            "event": event,
            "run_id": self._run["run_id"],
            "time": moment.strftime("%Y-%m-%dT%H:%M:%SZ"),
        }
        record.update((key, value) for key, value in self._run.items() if key != "run_id")
        record.update(fields)
        path = None
        try:
            # Nothing is written unless every known secret is out of it.
            record = self._secrets.scrub(json.loads(json.dumps(record, ensure_ascii=False, default=str)))
            if self._run["check_mode"]:
                self._records.append(record)
            line = json.dumps(record, ensure_ascii=False) + "\n"
            folder = Path(self.get_option("log_dir")).expanduser()
            folder.mkdir(parents=True, exist_ok=True, mode=0o750)
            path = folder / f"{moment:%Y-%m-%d}.jsonl"
            descriptor = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o640)
            try:
                fcntl.flock(descriptor, fcntl.LOCK_EX)
                data = line.encode()
                while data:
                    data = data[os.write(descriptor, data) :]
            finally:
                os.close(descriptor)  # releases the lock
        except Exception as error:  # the log must never break a playbook
            self._warn_once(f"cannot write the audit log {path or self.get_option('log_dir')}: {error}")

    # What a host is. ----------------------------------------------------------

    def _place(self, name: str) -> tuple[str | None, str | None]:
        """The host's ministry and site code, from its variables (None when undefined)."""
        if name in self._places:
            return self._places[name]
        place = (None, None)
        if self._hostvars is not None:
            try:
                place = host_place(self._hostvars, self._loader, name)
            except Exception:  # an unknown place is recorded as null
                place = (None, None)
        self._places[name] = place
        return place

    # Events. ------------------------------------------------------------------

    def v2_playbook_on_start(self, playbook):
        self._safely(self._on_start, playbook)

    def _on_start(self, playbook):
        state, self._top = repository_state(playbook._file_name)
        self._run.update(state)
        self._write("run_start", limit=context.CLIARGS.get("subset"))
        # The run's plays may read its own records (playbooks/tasks/audit-ship.yml ships them to
        # the data centre's log collector): its id, its folder and the day it started.
        os.environ[RUN_ID_ENV] = self._run["run_id"]
        os.environ[RUN_DIR_ENV] = str(Path(self.get_option("log_dir")).expanduser())
        os.environ[RUN_DAY_ENV] = f"{now():%Y-%m-%d}"

    def v2_playbook_on_play_start(self, play):
        self._variables = play.get_variable_manager()
        self._loader = play.get_loader()
        self._play = play
        self._play_seen = False
        self._safely(self._learn_hostvars)
        if self._drift is None and self._run["check_mode"] and "patn_drift_report" in play.vars:
            self._safely(self._ask_drift_report, play)

    def _learn_hostvars(self):
        self._hostvars = run_hostvars(self._variables)
        if self._hostvars is not None:
            self._secrets.keep_public(self._hostvars)

    def _ask_drift_report(self, play):
        variables = self._variables.get_vars(play=play, include_hostvars=False)
        asked = Templar(loader=self._loader, variables=variables).template(variables["patn_drift_report"])
        limit = re.sub(r"[^A-Za-z0-9_.-]+", "_", context.CLIARGS.get("subset") or "all")
        # A relative folder is the checkout's: the top of the repository of the run's playbook.
        prefix = Path(self._top, Path(asked["dir"]).expanduser()) / f"{limit}-{now():%Y%m%dT%H%M%SZ}"
        self._drift = (prefix, asked.get("audited"))
        command = ["scripts/audit-summary", "drift", "--run-id", self._run["run_id"]]
        command += ["--dir", os.path.abspath(os.path.expanduser(self.get_option("log_dir")))]
        command += ["--out", str(prefix)]
        if asked.get("audited"):
            command += ["--audited", str(asked["audited"])]
        self._display.display(
            f"Drift report of run {self._run['run_id']}: {prefix}.md and .html, written at the run's end."
            f" Should the run be interrupted before, write it with: {shlex.join(command)}"
        )

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._safely(self._remember_args, task)

    def v2_playbook_on_handler_task_start(self, task):
        self._safely(self._remember_args, task)

    def _remember_args(self, task):
        # Results bring the arguments templated: keep what was written, to tell literals apart.
        self._raw_args[object_id(task)] = {"args": dict(task.args), "environment": task.environment}

    def v2_runner_item_on_ok(self, result):
        self._safely(self._learn_no_log, result)

    def v2_runner_item_on_failed(self, result):
        self._safely(self._learn_no_log, result)

    def v2_runner_on_ok(self, result):
        if result.is_changed():
            self._safely(self._on_result, result, "changed", False)
        else:
            self._safely(self._learn_no_log, result)

    def v2_runner_on_failed(self, result, ignore_errors=False):
        self._safely(self._on_result, result, "failed", ignore_errors)

    def v2_runner_on_unreachable(self, result):
        self._safely(self._on_result, result, "unreachable", False)

    # Secrets known by their value. ---------------------------------------------

    def _learn_no_log(self, result):
        """The values a no_log task (or loop item) was given become secrets of this run."""
        fields = result.task_fields
        if fields.get("no_log") is not True and not result.result.get("_ansible_no_log"):
            return
        raw = self._raw_args.get(object_id(result.task), {})
        self._secrets.add_task_values(raw.get("args"), fields.get("args"))
        self._secrets.add_task_values(
            {"environment": raw.get("environment")}, {"environment": fields.get("environment")}
        )

    def _learn_vaulted(self, result):
        """Vaulted values: of every host once, of the play once, and of this result's host and task."""
        if self._variables is None:
            return
        get_vars = self._variables.get_vars
        if not self._hosts_seen:
            # Every host of the inventory, once: a line may show another host's value (hostvars).
            # Its variables without the play's, which are walked on their own below.
            hostvars = self._hostvars if self._hostvars is not None else run_hostvars(self._variables)
            for name in hostvars:
                self._secrets.add_vaulted(hostvars.raw_get(name))
            self._hosts_seen = True
        if not self._play_seen:
            self._play_seen = True
            self._secrets.add_vaulted(get_vars(play=self._play, include_hostvars=False))
        # Again for this host and task: include_vars and role variables come and go.
        task = result.task
        self._secrets.add_vaulted(
            get_vars(play=self._play, host=result.host, task=task, include_hostvars=False)
        )

    # Results. -------------------------------------------------------------------

    def _on_result(self, result, status, ignored):
        data = result.result
        task = result.task
        try:
            self._learn_no_log(result)
            self._learn_vaulted(result)
            known = True
        except Exception as error:  # the line is written without what could hold a secret
            known = False
            self._warn_once(f"cannot list this run's secrets ({error}): diffs and messages are withheld")
        ministry, site = self._place(result.host.get_name())
        check_mode = task.check_mode if isinstance(task.check_mode, bool) else None
        fields = {
            "host": result.host.get_name(),
            "ministry": ministry,
            "site": site,
            "task": redact_text(result.task_name) if known else WITHHELD,
            "action": task.action,
            "status": status,
        }
        if check_mode is not None and check_mode != self._run["check_mode"]:
            fields["check_mode"] = check_mode
        if ignored:
            fields["ignored"] = True
        if data.get("_ansible_no_log") or (isinstance(task.no_log, bool) and task.no_log):
            fields["diff"] = "(no_log)"
        elif not known:
            fields["diff"] = WITHHELD
        else:
            fields["diff"] = redact(self._diff_of(data))
            if status != "changed" and data.get("msg"):
                fields["msg"] = redact(str(data["msg"]))
        self._write("task", **fields)

    @staticmethod
    def _diff_of(data):
        """The result's diff; for a loop, the diffs of its changed items."""
        if data.get("diff"):
            return data["diff"]
        diffs = []
        for item in data.get("results") or []:
            if isinstance(item, Mapping) and item.get("changed") and item.get("diff"):
                if item.get("_ansible_no_log"):
                    diffs.append("(no_log)")
                elif isinstance(item["diff"], list):
                    diffs.extend(item["diff"])
                else:
                    diffs.append(item["diff"])
        return diffs or None

    def v2_playbook_on_stats(self, stats):
        self._safely(self._on_stats, stats)

    def _on_stats(self, stats):
        hosts = {}
        for name in sorted(stats.processed):
            summary = stats.summarize(name)
            ministry, site = self._place(name)
            hosts[name] = {
                "ok": summary["ok"],
                "changed": summary["changed"],
                "failed": summary["failures"],
                "unreachable": summary["unreachable"],
                "skipped": summary["skipped"],
                "rescued": summary["rescued"],
                "ignored": summary["ignored"],
                "ministry": ministry,
                "site": site,
            }
        self._write("run_end", hosts=hosts)
        if self._drift is not None:
            self._write_drift_report()

    def _write_drift_report(self):
        prefix, audited = self._drift
        try:
            report, markdown, page = drift_report.write(self._records, self._run["run_id"], prefix, audited)
        except Exception as error:  # said every time: the run asked for this report
            self._display.warning(f"{self.CALLBACK_NAME}: cannot write the drift report {prefix}: {error}")
            return
        self._display.banner("DRIFT REPORT")
        self._display.display(f"{report.verdict}\n{markdown}\n{page}")
