# Copyright: PATN infrastructure team
# Apache License 2.0
"""Callback patn.infra.site_summary: which sites failed and why, at the end of a run."""

from __future__ import annotations

DOCUMENTATION = r"""
name: site_summary
type: aggregate
short_description: Closing summary of a run per site, with why each failed host failed
description:
  - At the end of a playbook run, after the recap, prints which sites failed and why, one line
    per host that did not finish, grouped by site. A site is the host's C(patn_ministry) and
    C(patn_site.code) (C(sante/bzv-hq)); a host without them is under C((no site)).
  - "A host does not finish when: a task failed on it (C(failed); not under C(ignore_errors),
    not rescued by a block); it could not be reached (C(unreachable); not under
    C(ignore_unreachable)); its batch was stopped because too many hosts of the batch failed
    (C(stopped): C(max_fail_percentage) or C(any_errors_fatal)); or it never ran a play because
    the run stopped before its batch or before the play (C(not run): a batch passed
    C(max_fail_percentage), or every host of a batch failed or was unreachable, which ends the
    whole run)."
  - Each line gives the site, the host, what happened, the task (the play for C(not run)) and
    the first line of the error (the result's C(msg), else the last line of its C(stderr)),
    cut to 160 characters. Then C(N of M sites failed) and the sites that fully succeeded.
  - When nothing failed, one line C(All N sites succeeded (M hosts)); nothing at all when no
    host of the run belongs to a site (a run on the controller only).
  - "Left out of the C(not run) detection: plays that run C(meta: end_play) (which ends them
    on purpose), and plays the run never reached whose hosts pattern is a template."
requirements:
  - enabled in ansible.cfg C(callbacks_enabled) (or C(ANSIBLE_CALLBACKS_ENABLED))
"""

EXAMPLES = r"""
# ansible.cfg: a closing summary for every run from this checkout.
#   [defaults]
#   callbacks_enabled = ansible.posix.profile_tasks, patn.infra.audit, patn.infra.site_summary

# One run only:
#   ANSIBLE_CALLBACKS_ENABLED=patn.infra.site_summary \
#     ansible-playbook -i inventories/lab playbooks/site.yml --check --diff

# What it prints when two sites failed (one line per host; wrapped here):
#   SITE SUMMARY *******************************************************************
#   justice/tgi-pnr  justice-tgi-pnr-rtr1  failed       [patn.infra.base : Install the packages]
#     No package matching 'chronyd' is available
#   sante/bzv-hq     sante-bzv-hq-ap1      unreachable  [Gathering Facts] Failed to connect to the
#     host via ssh: ssh: connect to host 10.20.1.5 port 22: Connection timed out
#   2 of 3 sites failed
#   1 site fully succeeded: ptn/dc

# And when nothing failed:
#   SITE SUMMARY *******************************************************************
#   All 3 sites succeeded (4 hosts)
"""

from collections.abc import Mapping

from ansible import constants as C
from ansible_collections.patn.infra.plugins.plugin_utils.ansible_private import object_id
from ansible_collections.patn.infra.plugins.plugin_utils.host_place import host_place, run_hostvars
from ansible_collections.patn.infra.plugins.plugin_utils.safe_callback import SafeCallback

NO_SITE = "(no site)"
MESSAGE_LENGTH = 160
# Fully successful sites named on the closing line; beyond, only their number.
LISTED_SITES = 20
META_ACTIONS = ("meta", "ansible.builtin.meta", "ansible.legacy.meta")


def first_line(result: Mapping) -> str:
    """The first line of a result's error: msg, else the last line of stderr, cut to 160 characters."""
    message = result.get("msg")
    # A loop's result only says that an item failed: the first failed item says why.
    items = result.get("results")
    if isinstance(items, list):
        for item in items:
            if isinstance(item, Mapping) and item.get("failed") and item.get("msg"):
                message = item["msg"]
                break
    lines = _lines(message) or _lines(result.get("stderr"))[-1:]
    text = lines[0] if lines else "(no message)"
    # A first line that only announces what follows (Mitogen's "EOF on
    # stream; last 100 lines received:") gets the last of those lines: the
    # reason, such as SSH's own error.
    if text.endswith(":") and len(lines) > 1:
        text = f"{text} {lines[-1]}"
    if len(text) > MESSAGE_LENGTH:
        text = text[: MESSAGE_LENGTH - 3] + "..."
    return text


def _lines(value) -> list[str]:
    """The lines of a value that are not blank, stripped."""
    return [line.strip() for line in str(value or "").splitlines() if line.strip()]


def plural(count: int, word: str) -> str:
    return f"{count} {word}" if count == 1 else f"{count} {word}s"


class CallbackModule(SafeCallback):
    CALLBACK_VERSION = 2.0
    CALLBACK_TYPE = "aggregate"
    CALLBACK_NAME = "patn.infra.site_summary"
    CALLBACK_NEEDS_ENABLED = True
    FAULT = "cannot summarise this run"

    def __init__(self, display=None):
        super().__init__(display=display)
        self._problems = {}  # host name -> (status, task or play, message); the last that counts
        self._plays = {}  # play uuid -> what the run knows of the play, in playbook order
        self._play = None  # the uuid of the current play
        self._task = None  # the name of the current task
        self._variables = None  # the variable manager, loader and hostvars, known once a play starts
        self._loader = None
        self._hostvars = None
        self._sites = {}  # host name -> site label

    # Plays and batches. -------------------------------------------------------

    def v2_playbook_on_start(self, playbook):
        self._safely(self._on_start, playbook)

    def _on_start(self, playbook):
        # Every play of the playbook (imports included): a play the run never reached still
        # names its hosts.
        for play in playbook.get_plays():
            self._plays.setdefault(object_id(play), self._new_play(play))

    @staticmethod
    def _new_play(play) -> dict:
        return {
            "play": play,
            "name": play.get_name(),
            "pattern": play.hosts,
            "started": False,
            "hosts": [],  # every host of the play, batches and limits applied
            "batched": set(),  # the hosts of the batches that started
            "batch": [],  # the hosts of the current batch
            "stopped": set(),  # the hosts of a batch stopped by its failures
            "stopped_at": None,
            "reason": None,
            "ends_itself": False,  # runs meta: end_play
        }

    def v2_playbook_on_play_start(self, play):
        self._safely(self._on_play_start, play)

    def _on_play_start(self, play):
        self._variables = play.get_variable_manager()
        self._loader = play.get_loader()
        self._play = object_id(play)
        known = self._plays.setdefault(self._play, self._new_play(play))
        # Once per batch: the play's hosts (--limit applied) and the batch's, as the play sees them.
        variables = self._variables.get_vars(play=play)
        self._hostvars = variables.get("hostvars")
        if not known["started"]:
            known["started"] = True
            known["hosts"] = list(variables["ansible_play_hosts_all"])
        known["batch"] = list(variables["ansible_play_batch"])
        # Ansible's implicit localhost is in no batch it lists (the batch is taken from the
        # pattern 'all', which leaves it out), yet it runs with the play.
        inventory_hosts = set(variables["groups"]["all"])
        known["batch"] += [name for name in known["hosts"] if name not in inventory_hosts]
        known["batched"].update(known["batch"])
        if play.max_fail_percentage is not None:
            known["reason"] = f"its batch passed max_fail_percentage ({play.max_fail_percentage:g}%)"
        elif play.any_errors_fatal:
            known["reason"] = "a host of its batch failed (any_errors_fatal)"

    def v2_playbook_on_task_start(self, task, is_conditional):
        self._safely(self._on_task_start, task)

    def v2_playbook_on_handler_task_start(self, task):
        self._safely(self._on_task_start, task)

    def _on_task_start(self, task):
        self._task = task.get_name()
        if task.action in META_ACTIONS and task.args.get("_raw_params") == "end_play" and self._play:
            self._plays[self._play]["ends_itself"] = True

    def v2_playbook_on_no_hosts_remaining(self):
        self._safely(self._on_no_hosts_remaining)

    def _on_no_hosts_remaining(self):
        # The batch ends before its tasks do: the hosts that did not fail were stopped.
        if self._play in self._plays:
            play = self._plays[self._play]
            play["stopped"].update(play["batch"])
            play["stopped_at"] = self._task

    # Results. -----------------------------------------------------------------

    def v2_runner_on_failed(self, result, ignore_errors=False):
        if not ignore_errors:
            self._safely(self._record, result, "failed")

    def v2_runner_on_unreachable(self, result):
        if not result.task.ignore_unreachable:
            self._safely(self._record, result, "unreachable")

    def _record(self, result, status):
        self._problems[result.host.get_name()] = (status, result.task_name, first_line(result.result))

    # The summary. -------------------------------------------------------------

    def v2_playbook_on_stats(self, stats):
        self._safely(self._on_stats, stats)

    def _on_stats(self, stats):
        problems = self._counted_problems(stats)
        hosts = set(stats.processed) | set(problems)
        if not hosts:
            return
        sites = {name: self._site(name) for name in hosts}
        real = {site for site in sites.values() if site != NO_SITE}
        if not problems and not real:
            return  # a run on the controller or lab containers only: no site to speak of
        self._display.banner("SITE SUMMARY")
        if not problems:
            self._display.display(
                f"All {plural(len(real), 'site')} succeeded ({plural(len(hosts), 'host')})",
                color=C.COLOR_OK,
            )
            return
        # Sites in order, the hosts outside any site last.
        order = sorted(problems, key=lambda name: (sites[name] == NO_SITE, sites[name], name))
        rows = [(sites[name], name, *problems[name]) for name in order]
        widths = [max(len(row[column]) for row in rows) for column in range(3)]
        for row in rows:
            columns = "  ".join(value.ljust(width) for value, width in zip(row[:3], widths, strict=True))
            self._display.display(f"{columns}  [{row[3]}] {row[4]}", color=C.COLOR_ERROR)
        failed = {sites[name] for name in problems}
        line = f"{len(failed & real)} of {len(real)} sites failed"
        outside = sum(1 for name in problems if sites[name] == NO_SITE)
        if outside:
            line += f", and {plural(outside, 'host')} outside any site"
        self._display.display(line, color=C.COLOR_ERROR)
        succeeded = sorted(real - failed)
        if succeeded:
            listed = ", ".join(succeeded[:LISTED_SITES])
            if len(succeeded) > LISTED_SITES:
                listed += f" and {len(succeeded) - LISTED_SITES} more"
            self._display.display(
                f"{plural(len(succeeded), 'site')} fully succeeded: {listed}", color=C.COLOR_OK
            )

    def _counted_problems(self, stats) -> dict:
        """Per host that did not finish: (status, task or play, message)."""
        problems = {}
        for name, problem in self._problems.items():
            summary = stats.summarize(name)
            # A failure rescued by a block is not one.
            if summary["failures"] or summary["unreachable"]:
                problems[name] = problem
        for play in self._plays.values():
            if play["ends_itself"] or (not play["started"] and not self._pattern_is_plain(play)):
                continue
            if play["started"]:
                hosts = play["hosts"]
            elif self._variables is not None:
                variables = self._variables.get_vars(play=play["play"], include_hostvars=False)
                hosts = variables["ansible_play_hosts_all"]
            else:
                continue
            for name in hosts:
                if name in problems:
                    continue
                if name in play["stopped"]:
                    why = play["reason"] or "too many hosts of its batch failed"
                    problems[name] = ("stopped", play["stopped_at"] or play["name"], why)
                elif name not in play["batched"]:
                    where = "its batch" if play["started"] else "this play"
                    problems[name] = ("not run", play["name"], f"the run stopped before {where}")
        return problems

    @staticmethod
    def _pattern_is_plain(play) -> bool:
        pattern = play["pattern"]
        patterns = pattern if isinstance(pattern, list) else [pattern]
        return bool(patterns) and all(isinstance(p, str) and "{{" not in p for p in patterns)

    # What a host is. ----------------------------------------------------------

    def _site(self, name: str) -> str:
        """The host's site, ministry/code, from its variables; NO_SITE when undefined."""
        if name in self._sites:
            return self._sites[name]
        label = NO_SITE
        hostvars = self._hostvars
        if hostvars is None and self._variables is not None:
            hostvars = run_hostvars(self._variables)
        if hostvars is not None and name in hostvars:
            try:
                ministry, code = host_place(hostvars, self._loader, name)
                if code:
                    label = f"{ministry}/{code}" if ministry else code
            except Exception:  # an unknown place is no site
                label = NO_SITE
        self._sites[name] = label
        return label
