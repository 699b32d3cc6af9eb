# Copyright: PATN infrastructure team
# Apache License 2.0
"""Every file the roles write, rendered on the controller for every host.

What `make validate` (scripts/validate) checks. Nothing is contacted: the
inventory, the playbook and the roles are read with Ansible's own Python
API, and the roles' tasks are walked as Ansible would run them, without
running a module.

One source: the files are not listed here. The plays of playbooks/site.yml
say which roles a host gets (and with which role `when`); the roles' task
files say which files they write: every `template` task (src, dest, loop,
when, vars, its `validate:` command), every `copy` task with `content`, and
the `file` tasks that link or remove a file (nginx and FreeRADIUS enable
their sites that way), and `patn.infra.confirmed_apply`, which puts the
files staged by those tasks in place (each is reported where its program
reads it, its `dest`). `include_tasks` and `include_role` are followed per
loop item. The roles' input checks (`assert` tasks, the argument specs
Ansible checks before each role, and `patn.infra.config_inputs`, the values
each configuration file can take) are evaluated too, so an unset required
input or a value its file cannot take is reported with the role's own
message, naming the host and the variable.

Variables come from Ansible's VariableManager for each task, so the
precedence is Ansible's (role defaults < inventory < role vars < task vars).
What only exists at run time on a device (facts, registered results) comes
from stand-ins (scripts/validate-stand-ins.yml); vault-encrypted files are
left out and the vault's variables get placeholders built from the
inventory's vault.yml.example (`placeholders`).

Why not ansible-playbook with one template task per file and host: for the
production inventory (220 hosts, about 30 files each) that is 6,600 task
results through the executor, forks and callbacks; here each file is one
Templar call in one process, and two measures keep it near a minute and a
half: compiled templates are kept for the run (cache_compiled_templates),
and tasks under the same parent share one VariableManager answer.
"""

from __future__ import annotations

import hashlib
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ansible import context

# Internal to ansible-core (pinned 2.19): the template action's own
# variables (ansible_managed, template_*), so the files are what a run
# writes; and the engine whose compilations cache_compiled_templates keeps.
from ansible._internal._templating._engine import TemplateEngine
from ansible._internal._templating._template_vars import generate_ansible_template_vars
from ansible.cli import CLI
from ansible.errors import AnsibleError, AnsibleUndefinedVariable
from ansible.inventory.manager import InventoryManager
from ansible.module_utils.common.arg_spec import ArgumentSpecValidator
from ansible.module_utils.common.collections import ImmutableDict
from ansible.parsing.dataloader import DataLoader
from ansible.playbook import Playbook
from ansible.playbook.block import Block
from ansible.playbook.helpers import load_list_of_blocks
from ansible.template import Templar, trust_as_template
from ansible.utils.vars import combine_vars
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager
from ansible_collections.patn.infra.plugins.module_utils import config_values
from ansible_collections.patn.infra.plugins.plugin_utils.ansible_private import object_id
from ansible_collections.patn.infra.plugins.plugin_utils.config_inputs_spec import hidden, load_spec

# Actions the walk acts on; every other task is skipped (it would change a
# device, or only reads one).
TEMPLATE = "template"
ASSERT = "assert"
COPY = "copy"
FILE = "file"
INCLUDE_TASKS = "include_tasks"
INCLUDE_ROLE = "include_role"
ARGUMENT_SPEC = "validate_argument_spec"
CONFIRMED_APPLY = "confirmed_apply"
CONFIG_INPUTS = "config_inputs"
ACTED_ON = {
    TEMPLATE, ASSERT, COPY, FILE, INCLUDE_TASKS, INCLUDE_ROLE, ARGUMENT_SPEC, CONFIRMED_APPLY, CONFIG_INPUTS
}  # fmt: skip

# A placeholder never looks like a secret: this prefix, then a short hash.
PLACEHOLDER_PREFIX = "placeholder-"


@dataclass
class RenderedFile:
    """One file a role writes on a host, as it would be written."""

    host: str
    path: str  # where the role writes it on the device
    text: str
    origin: str  # role task (file:line) that writes it
    validate: str | None = None  # the task's own validate command (%s: the file)
    secret: bool = False  # the task hides its diff: never print the text
    mode: str | None = None  # as the task sets them
    owner: str | None = None
    group: str | None = None
    handlers: list[str] = field(default_factory=list)  # commands of the handlers it notifies
    variables: dict = field(default_factory=dict)  # asked for with RoleFiles(keep=...)


@dataclass
class FileChange:
    """A file task that links or removes a file or makes a folder, or a copy from a role's files/."""

    host: str
    kind: str  # link | absent | directory | install
    path: str
    source: str = ""  # link target, or the role file installed
    mode: str | None = None


@dataclass
class Problem:
    """Something that stops a host's files from being what a run would write."""

    host: str
    where: str  # the file, or the role task
    message: str


@dataclass
class HostFiles:
    host: str
    files: list[RenderedFile] = field(default_factory=list)
    changes: list[FileChange] = field(default_factory=list)
    problems: list[Problem] = field(default_factory=list)
    checks: int = 0  # role input checks (assert) evaluated
    seen: set = field(default_factory=set)  # checks evaluated: (task, item)
    variables: dict = field(default_factory=dict)  # (play, host, parent) -> variables, for the walk


def placeholder(path: str) -> str:
    """A value that is clearly not a secret, stable for a variable path.

    Lower case letters, digits and '-', 20 characters: a valid Linux user
    name, long enough for the roles' secret checks (16), short enough for a
    WPA passphrase (63).
    """
    return PLACEHOLDER_PREFIX + hashlib.sha256(path.encode()).hexdigest()[:8]


def placeholders(example: Mapping, hosts: set[str], ministries: set[str]) -> dict:
    """Placeholders for the vault's variables, shaped like its example file.

    Every string becomes `placeholder-<hash>`. A mapping keyed by inventory
    host names (or by ministry keys) gets an entry for every host (every
    ministry), shaped like the example's first entry: the example lists a
    few, the vault lists them all.
    """

    def shape(value: Any, path: str) -> Any:
        if isinstance(value, Mapping):
            keys = {str(key) for key in value}
            for every in (hosts, ministries):
                if keys and keys <= every:
                    first = next(iter(value.values()))
                    return {key: shape(first, f"{path}.{key}") for key in sorted(every)}
            return {str(key): shape(item, f"{path}.{key}") for key, item in value.items()}
        if isinstance(value, list):
            return [shape(item, f"{path}[{number}]") for number, item in enumerate(value)]
        if isinstance(value, str):
            return placeholder(path)
        return value

    return {name: shape(value, name) for name, value in example.items()}


def _vault_unknown(value: Any) -> Any:
    """The value with each string made from a vault placeholder as None (not
    checked, as the config_inputs action skips a vault variable it cannot
    read): its real value is only known with the vault."""
    if isinstance(value, Mapping):
        return {key: _vault_unknown(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_vault_unknown(item) for item in value]
    if isinstance(value, str) and PLACEHOLDER_PREFIX in value:
        return None
    return value


class _VaultlessLoader(DataLoader):
    """A DataLoader that leaves out vault-encrypted files instead of failing.

    make validate never has the vault password: the variables of those
    files get placeholders instead (`placeholders`)."""

    def __init__(self):
        super().__init__()
        self.left_out: set[str] = set()
        self._plain: set[str] = set()

    def load_from_file(self, file_name, *args, **kwargs):
        name = str(file_name)
        if name not in self._plain and name not in self.left_out:
            path = Path(self.path_dwim(name))
            encrypted = False
            if path.is_file():
                with path.open("rb") as stream:
                    encrypted = stream.read(14) == b"$ANSIBLE_VAULT"
            (self.left_out if encrypted else self._plain).add(name)
        if name in self.left_out:
            return {}
        return super().load_from_file(file_name, *args, **kwargs)


def cache_compiled_templates() -> None:
    """Compile each template text once for the whole run.

    ansible-core 2.19 compiles a template string every time it is used; the
    roles' defaults are the same strings for every host, so this divides the
    time of a 220-host run by about five. A compiled template keeps no
    variables (they are passed when it is rendered), so sharing it is safe;
    the key holds everything its compilation depends on. For this process
    only (scripts/validate), never for a playbook run.
    """
    if getattr(TemplateEngine, "_patn_cached", False):
        return
    compile_template = TemplateEngine._compile_template
    compile_expression = TemplateEngine._compile_expression
    compiled: dict = {}

    def searchpath(engine) -> tuple:
        loader = engine.environment.loader
        return tuple(getattr(loader, "searchpath", ()) or ())

    def cached_template(engine, template, options):
        key = ("template", str(template), options, searchpath(engine))
        if key not in compiled:
            compiled[key] = compile_template(engine, template, options)
        return compiled[key]

    def cached_expression(engine, expression, options):
        key = ("expression", str(expression), options)
        if key not in compiled:
            compiled[key] = compile_expression(engine, expression, options)
        return compiled[key]

    TemplateEngine._compile_template = cached_template
    TemplateEngine._compile_expression = cached_expression
    TemplateEngine._patn_cached = True


def _plain(value: Any) -> Any:
    """Plain Python data (no lazy container): the contract reads it."""
    if isinstance(value, Mapping):
        return {str(key): _plain(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(item) for item in value]
    if isinstance(value, str):
        return str(value)
    return value


def short(error: BaseException) -> str:
    """An Ansible error on one line: its message, without the traceback help."""
    text = str(error).strip()
    lines = [line.strip() for line in text.splitlines() if line.strip()]
    return " ".join(lines[:6]) if lines else type(error).__name__


class RoleFiles:
    """The roles' files for every host of an inventory, and their input checks."""

    # The checkout: this file is plugins/plugin_utils/ of the collection.
    top = Path(os.path.realpath(__file__)).parents[2]

    def __init__(
        self,
        inventory: Path,
        playbook: Path,
        stand_ins: Path,
        run_variables: Mapping,
        keep: Mapping[str, list[str]] | None = None,
    ):
        """stand_ins: the stand-ins file (its run_files
        are already in place); run_variables: values known only to this run
        (validate_*); keep: device path -> variables to keep with that
        file, templated as the task that writes it sees them. The caller
        sets up Ansible's plugin loader first (init_plugin_loader), then
        imports this module through it."""
        self.keep = dict(keep or {})
        context.CLIARGS = ImmutableDict(check=False, diff=False, tags=["all"], skip_tags=[])
        cache_compiled_templates()
        self.loader = _VaultlessLoader()
        self.loader.set_basedir(str(self.top))
        stand_ins = self.loader.load_from_file(str(stand_ins), trusted_as_template=True) or {}
        self.inventory = InventoryManager(loader=self.loader, sources=[str(inventory)])
        self.variables = VariableManager(
            loader=self.loader, inventory=self.inventory, version_info=CLI.version_info(gitinfo=False)
        )
        HostVars(inventory=self.inventory, variable_manager=self.variables, loader=self.loader)
        self.hosts = sorted(self.inventory.hosts)  # names
        self._add_placeholders(inventory)
        self.run_variables = dict(run_variables)
        self._stand_ins(stand_ins)
        playbook_object = Playbook.load(str(playbook), variable_manager=self.variables, loader=self.loader)
        # Each play with its hosts and its tasks, compiled once.
        self.plays = []
        for play in playbook_object.get_plays():
            hosts = [host.name for host in self.inventory.get_hosts(play.hosts)]
            self.plays.append((play, hosts, play.compile()))
        self._included: dict[tuple[str, str, str], list[Block]] = {}

    # --- inputs that only exist at run time ---------------------------------

    def _add_placeholders(self, inventory: Path) -> None:
        """The vault's variables, as placeholders, at inventory precedence
        (the lowest after role defaults: any real value wins)."""
        ministries = {
            name.removeprefix("ministry_") for name in self.inventory.groups if name.startswith("ministry_")
        }
        for example in sorted(inventory.glob("group_vars/*/vault.yml.example")):
            values = placeholders(self.loader.load_from_file(str(example)) or {}, set(self.hosts), ministries)
            for name, value in values.items():
                self.inventory.groups["all"].set_variable(name, value)

    def _stand_ins(self, stand_ins: Mapping) -> None:
        """Run-time values from the stand-ins file: variables above
        everything (extra-vars precedence), facts and registered results."""
        self.variables._extra_vars = {**self.variables.extra_vars, **self.run_variables}
        extra = dict(stand_ins.get("variables") or {})
        self.variables._extra_vars = {**self.variables.extra_vars, **extra}
        self.facts = dict(stand_ins.get("facts") or {})
        self.registered = dict(stand_ins.get("registered") or {})
        for name in self.hosts:
            host = self.inventory.get_host(name)
            templar = Templar(loader=self.loader, variables=self.variables.get_vars(host=host))
            self.variables.set_host_facts(name, templar.template(self.facts))
            # Registered results stay templates: they are resolved in each
            # task's own context (role defaults included).
            self.variables.set_nonpersistent_facts(name, self.registered)

    def select(self, pattern: str) -> list[str]:
        """The hosts of an Ansible host pattern (--limit), sorted."""
        return sorted(host.name for host in self.inventory.get_hosts(pattern))

    def host_value(self, name: str, expression: str):
        """A Jinja expression in the host's variables (before any task)."""
        host = self.inventory.get_host(name)
        return Templar(loader=self.loader, variables=self.variables.get_vars(host=host)).template(
            trust_as_template("{{ " + expression + " }}")
        )

    def host_address(self, name: str) -> str:
        """The host's management address (patn_management_address)."""
        return str(self.host_value(name, "patn_management_address | default('')"))

    # --- the walk -------------------------------------------------------------

    def render_host(self, name: str) -> HostFiles:
        """Every file the plays of the playbook would write on this host."""
        result = HostFiles(host=name)
        for play, hosts, blocks in self.plays:
            if name in hosts:
                visit = _Visit(play, hosts, self.inventory.get_host(name), result)
                for block in blocks:
                    self._walk_block(block, visit)
        # A file written twice (by two plays) is the last one written.
        result.files = list({item.path: item for item in result.files}.values())
        return result

    def _walk_block(self, block: Block, visit: _Visit) -> None:
        # rescue runs only when the block failed: nothing a normal run writes.
        for task in (block.block or []) + (block.always or []):
            if isinstance(task, Block):
                self._walk_block(task, visit)
            elif task.action.rsplit(".", 1)[-1] in ACTED_ON:
                self._walk_task(task, visit)

    def _walk_task(self, task, visit: _Visit) -> None:
        """A task for each of its loop items whose condition holds."""
        where = self._origin(task)
        try:
            task_vars = dict(self._task_vars(task, visit))
            task_vars["ansible_search_path"] = task.get_search_path()
            items = self._loop_items(task, Templar(loader=self.loader, variables=task_vars))
        except AnsibleError as error:
            visit.result.problems.append(Problem(visit.host.name, where, short(error)))
            return
        loop_var = task.loop_control.loop_var if task.loop_control else "item"
        index_var = task.loop_control.index_var if task.loop_control else None
        for index, item in enumerate(items if items is not None else [None]):
            step_vars = dict(task_vars) | ({loop_var: item} if items is not None else {})
            if items is not None and index_var:
                step_vars[index_var] = index
            step = _Step(
                task, Templar(loader=self.loader, variables=step_vars), step_vars, visit, item, where
            )
            try:
                if all(step.templar.evaluate_conditional(condition) for condition in task.when):
                    self._actions[task.action.rsplit(".", 1)[-1]](step)
            except AnsibleError as error:
                dest = task.args.get("dest") if "dest" in task.args else None
                shown = self._quiet_template(step.templar, dest) if dest else where
                visit.result.problems.append(Problem(visit.host.name, shown, short(error)))

    def _task_vars(self, task, visit: _Visit) -> dict:
        """The task's variables from VariableManager. Tasks without variables
        of their own under the same parent (block, imported file, role) see
        the same ones: asked once per host and parent, not once per task
        (a third of the time of a run otherwise)."""
        # By identity: a copy of an include task (one per loop item) keeps its uuid.
        key = (id(visit.play), visit.host.name, id(task._parent)) if not task.vars and task._parent else None
        if key is not None and key in visit.result.variables:
            return visit.result.variables[key]
        # The play's hosts are given, as the executor does: not recomputed.
        found = self.variables.get_vars(
            play=visit.play, host=visit.host, task=task, _hosts=visit.hosts, _hosts_all=visit.hosts
        )
        if key is not None:
            visit.result.variables[key] = found
        return found

    @staticmethod
    def _loop_items(task, templar: Templar) -> list | None:
        """The loop's items (None without a loop). As the executor: a loop
        that cannot be templated is an error only when the task runs."""
        if task.loop is None:
            return None
        try:
            items = templar.template(task.loop)
        except AnsibleUndefinedVariable:
            if not all(templar.evaluate_conditional(condition) for condition in task.when):
                return []
            raise
        if not isinstance(items, list):
            raise AnsibleError(f"loop is not a list: {items!r}")
        return items

    @property
    def _actions(self):
        return {
            ASSERT: self._check,
            ARGUMENT_SPEC: self._argument_spec,
            TEMPLATE: self._template,
            COPY: self._copy,
            FILE: self._file,
            CONFIRMED_APPLY: self._confirmed_apply,
            CONFIG_INPUTS: self._config_inputs,
            INCLUDE_TASKS: self._include_tasks,
            INCLUDE_ROLE: self._include_role,
        }

    def _origin(self, task) -> str:
        """The task as a reader finds it: roles/<role>/tasks/<file>:<line> (its name)."""
        if task.action.rsplit(".", 1)[-1] == ARGUMENT_SPEC and task._role is not None:
            role = os.path.relpath(os.path.realpath(task._role._role_path), self.top)
            return f"{role}/meta/argument_specs.yml ({task.name})"
        path, _, line = (task.get_path() or "").rpartition(":")
        # Roles are loaded through the collection link (.venv/collections).
        path = os.path.realpath(path)
        if path.startswith(str(self.top) + os.sep):
            path = path[len(str(self.top)) + 1 :]
        return f"{path}:{line} ({task.name or task.action})"

    @staticmethod
    def _quiet_template(templar: Templar, value: str) -> str:
        """A value templated when it can be, else as written (for messages)."""
        try:
            return str(templar.template(value))
        except AnsibleError:
            return str(value)

    # --- what each acted-on task does -----------------------------------------------

    @staticmethod
    def _first_time(step: _Step) -> bool:
        """Every entry playbook imports the validation play, and the pki role
        runs twice on e-service servers: each check counts (and is reported)
        once per host."""
        key = (step.where, repr(step.item))
        if key in step.visit.result.seen:
            return False
        step.visit.result.seen.add(key)
        step.visit.result.checks += 1
        return True

    def _argument_spec(self, step: _Step) -> None:
        """The role's meta/argument_specs.yml, as the validate_argument_spec
        action checks the role's variables against it."""
        if not self._first_time(step):
            return
        spec = step.task.args["argument_spec"]
        given = step.templar.template({name: step.variables[name] for name in spec if name in step.variables})
        provided = step.templar.template(step.task.args.get("provided_arguments") or {})
        checked = ArgumentSpecValidator(spec).validate(
            combine_vars(given, provided), validate_role_argument_spec=True
        )
        if checked.error_messages:
            message = "Validation of arguments failed: " + "; ".join(checked.error_messages)
            step.visit.result.problems.append(Problem(step.visit.host.name, step.where, message))

    def _check(self, step: _Step) -> None:
        if not self._first_time(step):
            return
        that = step.task.args.get("that")
        for condition in that if isinstance(that, list) else [that]:
            if not step.templar.evaluate_conditional(condition):
                message = step.task.args.get("fail_msg", step.task.args.get("msg", "Assertion failed"))
                message = " ".join(str(step.templar.template(message)).split())
                step.visit.result.problems.append(Problem(step.visit.host.name, step.where, message))
                return

    def _config_inputs(self, step: _Step) -> None:
        """The role's meta/config_inputs.yml, as the patn.infra.config_inputs
        action checks it: each value that cannot go into its configuration
        file is a problem, named by its path in the variable."""
        if not self._first_time(step):
            return
        task = step.task
        spec = task.args.get("spec") or str(Path(task._role._role_path) / "meta" / "config_inputs.yml")
        for name, kinds in load_spec(Path(spec), task.args.get("entry_point", "main")).items():
            try:
                value = step.templar.resolve_variable_expression(name)
            except AnsibleUndefinedVariable:
                continue  # as the action: the argument specs and the role's checks deal with it
            for refusal in config_values.check(name, _vault_unknown(value), kinds, hidden):
                step.visit.result.problems.append(Problem(step.visit.host.name, step.where, refusal))

    def _source(self, task, kind: str, source: str) -> Path:
        """A role's templates/ or files/ file, else one next to the playbook."""
        candidates = []
        if task._role is not None:
            candidates.append(Path(task._role._role_path) / kind / source)
        candidates.append(Path(self.loader.get_basedir()) / kind / source)
        for candidate in candidates:
            if candidate.is_file():
                return candidate
        raise AnsibleError(f"{kind[:-1]} {source} not found (looked in {', '.join(map(str, candidates))})")

    def _template(self, step: _Step) -> None:
        """As the template action: its variables, search path and options."""
        task, templar, args = step.task, step.templar, step.task.args
        source = self._source(task, "templates", str(templar.template(args["src"])))
        dest = str(templar.template(args["dest"]))
        template_vars = dict(step.variables)
        template_vars.update(
            generate_ansible_template_vars(
                path=args["src"],
                fullpath=str(source),
                dest_path=dest,
                include_ansible_managed="ansible_managed" not in template_vars,
            )
        )
        searchpath = [str(source.parent.parent / "templates"), str(source.parent)]
        text = templar.copy_with_new_env(searchpath=searchpath, available_variables=template_vars).template(
            trust_as_template(self.loader.get_text_file_contents(str(source))),
            escape_backslashes=False,
            overrides={
                "trim_blocks": bool(args.get("trim_blocks", True)),
                "lstrip_blocks": bool(args.get("lstrip_blocks", False)),
                "newline_sequence": "\n",
            },
        )
        validate = args.get("validate")
        kept = {
            name: _plain(templar.template(trust_as_template(f"{{{{ {name} }}}}")))
            for name in self.keep.get(dest, [])
        }
        step.visit.result.files.append(
            RenderedFile(
                host=step.visit.host.name,
                path=dest,
                text="" if text is None else str(text),
                origin=step.where,
                validate=str(templar.template(validate)) if validate else None,
                secret=task.diff is False or bool(templar.template(task.no_log)),
                handlers=self._handler_commands(task, templar),
                variables=kept,
                **self._ownership(step),
            )
        )

    @staticmethod
    def _ownership(step: _Step) -> dict:
        """The mode, owner and group the task gives the file."""
        given = {name: step.task.args.get(name) for name in ("mode", "owner", "group")}
        return {name: str(step.templar.template(value)) for name, value in given.items() if value is not None}

    @staticmethod
    def _handler_commands(task, templar: Templar) -> list[str]:
        """The whole-configuration checks a task notifies: command handlers
        that notify the restart they guard (`nginx -t` then "Reload nginx",
        `freeradius -XC` then "Restart FreeRADIUS"). A command handler that
        notifies nothing changes the device (networkctl reload): not a check."""
        if not task.notify or task._role is None:
            return []
        notified = set(task.notify if isinstance(task.notify, list) else [task.notify])
        commands = []
        for block in task._role.get_handler_blocks(play=task.get_play()):
            for handler in block.block:
                names = {handler.name, *(handler.listen or [])}
                is_command = handler.action.rsplit(".", 1)[-1] in ("command", "shell")
                if names & notified and is_command and handler.notify:
                    command = handler.args.get("_raw_params") or handler.args.get("cmd")
                    commands.append(str(templar.template(command)))
        return commands

    def _copy(self, step: _Step) -> None:
        task, templar, args = step.task, step.templar, step.task.args
        host, dest = step.visit.host.name, str(templar.template(args["dest"]))
        if "content" in args:
            if templar.template(task.no_log):
                return  # a secret (the backup password): never written out
            text = str(templar.template(args["content"]))
            step.visit.result.files.append(
                RenderedFile(host, dest, text, step.where, secret=task.diff is False)
            )
        elif "src" in args:
            source = str(templar.template(args["src"]))
            # A controller file outside the roles (the root CA) is not the
            # roles' to check: only a role's own files/ are installed.
            if not os.path.isabs(source):
                installed = str(self._source(task, "files", source))
                mode = self._ownership(step).get("mode")
                step.visit.result.changes.append(FileChange(host, "install", dest, installed, mode))

    @staticmethod
    def _file(step: _Step) -> None:
        templar, args, changes = step.templar, step.task.args, step.visit.result.changes
        state = templar.template(args.get("state", "file"))
        path = str(templar.template(args.get("path") or args.get("dest")))
        if state == "link":
            changes.append(FileChange(step.visit.host.name, "link", path, str(templar.template(args["src"]))))
        elif state == "absent":
            changes.append(FileChange(step.visit.host.name, "absent", path))
        elif state == "directory":
            # A folder a checked file names (rsyslog's work directory).
            changes.append(FileChange(step.visit.host.name, "directory", path))

    @staticmethod
    def _confirmed_apply(step: _Step) -> None:
        """patn.infra.confirmed_apply puts each staged file (src, written by an
        earlier task) in place at dest, where its program reads it: the file
        is reported there. A src that no task wrote is a problem."""
        files = step.templar.template(step.task.args.get("files") or [])
        written = {item.path: item for item in step.visit.result.files}
        for entry in files:
            source, dest = str(entry["src"]), str(entry["dest"])
            staged = written.get(source)
            if staged is None:
                message = f"{step.task.args.get('name', 'confirmed_apply')}: {source} is written by no task"
                step.visit.result.problems.append(Problem(step.visit.host.name, step.where, message))
                continue
            staged.path = dest
            if entry.get("validate"):
                staged.validate = str(entry["validate"])

    def _include(self, step: _Step):
        """A copy of the include task carrying the loop item, as the strategy
        makes it the parent of what it includes."""
        include = step.task.copy(exclude_parent=True)
        include._parent = step.task._parent
        if step.task.loop is not None:
            loop_var = step.task.loop_control.loop_var if step.task.loop_control else "item"
            include.vars = include.vars | {loop_var: step.item}
        return include

    def _include_tasks(self, step: _Step) -> None:
        task = step.task
        name = str(step.templar.template(task.args.get("_raw_params") or task.args.get("file")))
        base = (
            Path(task._role._role_path) / "tasks"
            if task._role
            else Path(task.get_path().split(":")[0]).parent
        )
        key = (object_id(task), str(base / name), repr(step.item))
        if key not in self._included:
            data = self.loader.load_from_file(str(base / name), trusted_as_template=True) or []
            self._included[key] = load_list_of_blocks(
                data,
                play=step.visit.play,
                parent_block=self._include(step).build_parent_block(),
                role=task._role,
                loader=self.loader,
                variable_manager=self.variables,
            )
        for block in self._included[key]:
            self._walk_block(block, step.visit)

    def _include_role(self, step: _Step) -> None:
        key = (object_id(step.task), "role", repr(step.item))
        if key not in self._included:
            blocks, _handlers = self._include(step).get_block_list(
                play=step.visit.play, variable_manager=self.variables, loader=self.loader
            )
            self._included[key] = blocks
        for block in self._included[key]:
            self._walk_block(block, step.visit)


@dataclass
class _Visit:
    """A host in a play."""

    play: Any
    hosts: list[str]
    host: Any
    result: HostFiles


@dataclass
class _Step:
    """A task for a host and a loop item, with its variables."""

    task: Any
    templar: Templar
    variables: dict
    visit: _Visit
    item: Any
    where: str
