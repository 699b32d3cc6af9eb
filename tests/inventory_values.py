"""Every value of an inventory's hosts checked against the roles' specs, as
patn.infra.config_inputs checks it in a run, without connecting to any host
(run by tests/test_config_inputs.py in a child process, whose Ansible state
it sets up).

    python tests/inventory_values.py INVENTORY

For each play of playbooks/site.yml and each patn.infra.config_inputs task of
its roles, every host of the play gets its variables as that task would see
them (inventory, group_vars, role defaults and vars). Prints one JSON object:
the number of values checked, the refusals, and the values that could not be
computed here (vault variables are simply undefined and skipped, as the
action skips them).
"""

import json
import sys
from pathlib import Path

from ansible import constants
from ansible.plugins.loader import init_plugin_loader

init_plugin_loader(constants.COLLECTIONS_PATHS)

# After the plugin loader, as ansible-playbook does.
import yaml
from ansible import context
from ansible.errors import AnsibleUndefinedVariable
from ansible.inventory.manager import InventoryManager
from ansible.module_utils.common.collections import ImmutableDict
from ansible.parsing.dataloader import DataLoader
from ansible.playbook import Playbook
from ansible.playbook.block import Block
from ansible.template import Templar
from ansible.vars.hostvars import HostVars
from ansible.vars.manager import VariableManager
from ansible_collections.patn.infra.plugins.module_utils import config_values

TOP = Path(__file__).resolve().parents[1]


def tasks_of(blocks):
    for block in blocks:
        if isinstance(block, Block):
            for part in (block.block, block.rescue, block.always):
                yield from tasks_of(part)
        else:
            yield block


def main(inventory_path: str) -> dict:
    context.CLIARGS = ImmutableDict(check=True, tags=[], skip_tags=[])
    loader = DataLoader()
    inventory = InventoryManager(loader=loader, sources=[inventory_path])
    variable_manager = VariableManager(loader=loader, inventory=inventory)
    HostVars(
        inventory=inventory, variable_manager=variable_manager, loader=loader
    )  # hostvars, as a run has it
    playbook = Playbook.load(
        str(TOP / "playbooks" / "site.yml"), variable_manager=variable_manager, loader=loader
    )
    report = {"checked": 0, "refused": [], "not_computed": []}
    for play in playbook.get_plays():
        for task in tasks_of(play.compile()):
            if task.action != "patn.infra.config_inputs":
                continue
            spec_file = Path(task._role._role_path) / "meta" / "config_inputs.yml"
            checked = yaml.safe_load(spec_file.read_text())[task.args.get("entry_point", "main")]["checked"]
            for host in inventory.get_hosts(play.hosts):
                templar = Templar(
                    loader=loader, variables=variable_manager.get_vars(play=play, host=host, task=task)
                )
                for name, spec in checked.items():
                    try:
                        refused = config_values.check(name, templar.resolve_variable_expression(name), spec)
                    except AnsibleUndefinedVariable:
                        continue  # as the action: a vault variable, absent here
                    except Exception as error:  # reported, for the test to judge
                        report["not_computed"].append(f"{host}: {name}: {error}")
                        continue
                    report["checked"] += 1
                    report["refused"] += [f"{host}: {line}" for line in refused]
    return report


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1])))
