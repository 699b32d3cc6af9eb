"""No inventory value can add a rule to a configuration file: every role
refuses, before any file is written, a value its files cannot hold, naming
the host and the variable (action patn.infra.config_inputs, fed by each
role's meta/config_inputs.yml).

tests/fixtures/config_inputs/<role>.yml holds valid values for the role and
injections: a line break (or a quote, a brace, a semicolon, a comma, a path
out of its folder) followed by a rule, a directive or a key of the file the
value goes into. Each injection is one host of a real ansible-playbook run
of the role on the controller, in check mode: each host must stop at the
check, with its one refused value named and nothing changed.
"""

import copy
import json
import re

import pytest
import yaml
from ansible_collections.patn.infra.plugins.module_utils import config_values
from conftest import FIXTURES, TOP, run_playbook

CASES = FIXTURES / "config_inputs"
ROLES = sorted(path.stem for path in CASES.glob("*.yml"))
SECRET = "a-secret-that-must-never-show"
# Every role writes configuration files; each is proven here.
WRITERS = ["access_point", "backup", "base", "eservice", "nginx", "pki", "postgresql", "radius", "router"]


def injected(values, injection):
    """The injected variable's whole value: the injection, or a copy with one field replaced."""
    if "path" not in injection:
        return injection["value"]
    whole = copy.deepcopy(values[injection["variable"]])
    inner = whole
    for step in injection["path"][:-1]:
        inner = inner[step]
    inner[injection["path"][-1]] = injection["value"]
    return whole


def host_name(role, number):
    return f"{role.replace('_', '-')}-{number:02d}"


@pytest.fixture(scope="module", params=ROLES)
def refused(request, tmp_path_factory):
    role = request.param
    case = yaml.safe_load((CASES / f"{role}.yml").read_text())
    folder = tmp_path_factory.mktemp(role)
    hosts = {
        host_name(role, number): {injection["variable"]: injected(case["vars"], injection)}
        for number, injection in enumerate(case["injections"], 1)
    }
    inventory = {
        "all": {
            "vars": {
                "ansible_connection": "local",
                "ansible_python_interpreter": "{{ ansible_playbook_python }}",
                **case["vars"],
            },
            "hosts": hosts,
        }
    }
    (folder / "inventory.yml").write_text(json.dumps(inventory))
    (folder / "play.yml").write_text(
        json.dumps([{"hosts": "all", "gather_facts": False, "roles": [{"role": f"patn.infra.{role}"}]}])
    )
    # The whole role, in check mode: a check that wrongly passed would still change nothing.
    completed = run_playbook("-i", folder / "inventory.yml", folder / "play.yml", "--check")
    return role, case, completed.returncode, completed.stdout + completed.stderr


def test_every_role_that_writes_files_is_proven():
    assert ROLES == WRITERS


def test_each_injection_is_refused_naming_the_host_and_the_variable(refused):
    role, case, returncode, output = refused
    assert returncode != 0
    text = " ".join(output.split())
    for number, injection in enumerate(case["injections"], 1):
        host = host_name(role, number)
        # The refusal, up to where Ansible names the task (a variable derived from the
        # injected one, such as a default that copies it, is refused with it).
        heading = rf"{host}: \d+ values? cannot go into a configuration file \(nothing was written\):"
        found = re.search(heading + r"(.*?) Origin: ", text)
        assert found, f"{host} ({injection['where']}): {output[-3000:]}"
        assert f" {injection['where']}: " in found.group(1), found.group(1)


def test_the_check_comes_before_any_change(refused):
    role, case, _, output = refused
    for number in range(1, len(case["injections"]) + 1):
        recap = re.search(rf"^{host_name(role, number)}\s*:(.*)$", output, re.MULTILINE)
        assert recap, output[-2000:]
        assert "changed=0" in recap.group(1)
        assert "failed=1" in recap.group(1)
    sections = re.split(r"^TASK \[", output, flags=re.MULTILINE)[1:]
    failed_tasks = {section.split("]")[0] for section in sections if "\nfatal: [" in section}
    assert len(failed_tasks) == 1, failed_tasks
    assert "Check the values that go into configuration files" in failed_tasks.pop()


def test_secrets_are_never_shown(refused):
    _, case, _, output = refused
    assert SECRET not in output
    for injection in case["injections"]:
        if injection.get("secret"):
            assert "not shown" in output


def test_the_kinds_refuse_what_the_injections_hold():
    # The same injections, straight through the kinds: one refusal each.
    for role in ROLES:
        case = yaml.safe_load((CASES / f"{role}.yml").read_text())
        specs = yaml.safe_load((TOP / "roles" / role / "meta" / "config_inputs.yml").read_text())["main"][
            "checked"
        ]
        for injection in case["injections"]:
            variable = injection["where"].split(".")[0].split("[")[0]
            name = {"patn_segments": "router__segments"}.get(injection["variable"], injection["variable"])
            assert variable == name, injection
            refusals = config_values.check(name, injected(case["vars"], injection), specs[name])
            assert [line.split(": ")[0] for line in refusals] == [injection["where"]], refusals
