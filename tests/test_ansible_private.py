"""The private ansible-core attribute the plugins read (plugin_utils/ansible_private.py).

Fails when an ansible-core release renames or drops it, or stops carrying
it through the copies the callbacks are given.
"""

import re

from ansible.parsing.dataloader import DataLoader
from ansible.playbook.play import Play
from ansible.vars.manager import VariableManager
from ansible_collections.patn.infra.plugins.plugin_utils.ansible_private import object_id
from conftest import TOP


def play_of(*names):
    loader = DataLoader()
    source = {
        "name": "p",
        "hosts": "all",
        "gather_facts": False,
        "tasks": [{"name": n, "debug": {}} for n in names],
    }
    return Play.load(source, variable_manager=VariableManager(loader=loader), loader=loader)


def test_a_play_and_its_tasks_keep_their_identity_through_copies():
    play = play_of("one", "two")
    first = play.get_tasks()[0][0]
    assert object_id(play.copy()) == object_id(play)
    assert object_id(first.copy()) == object_id(first)
    assert object_id(first.copy(exclude_parent=True, exclude_tasks=True)) == object_id(first)


def test_distinct_plays_and_tasks_have_distinct_identities():
    play, other = play_of("one", "two"), play_of("one", "two")
    first, second = play.get_tasks()[0][:2]
    assert object_id(play) != object_id(other)
    assert object_id(first) != object_id(second)
    assert isinstance(object_id(first), str)


def test_the_plugins_read_no_other_private_attribute_of_plays_tasks_or_the_variable_manager():
    # The inventory is reached through hostvars and the play's magic variables (host_place).
    private = re.compile(r"\._(uuid|inventory)\b")
    found = [
        f"{path.relative_to(TOP)}:{number}"
        for path in sorted((TOP / "plugins").rglob("*.py"))
        if path.name != "ansible_private.py"
        for number, line in enumerate(path.read_text().splitlines(), start=1)
        if private.search(line)
    ]
    assert not found
