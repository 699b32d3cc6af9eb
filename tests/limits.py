"""The limits every test suite of the project gives the commands it starts:
the unit tests (tests/), the lab's checks (lab/checks/) and Molecule's runner
(scripts/molecule-all). Written once, here.

They tell a hung command from a slow one; they measure no speed (the
benchmark scripts do). On CI's loaded 2 cores, commands that take 15 s on a
quiet machine took 90 s, and Lynis, which takes a minute on one lab host,
took more than 15 minutes beside Molecule: a tight limit fails sound code.
"""

# Seconds a command may run before it counts as hung.
HUNG_COMMAND = 900

# Seconds Ansible waits to connect to a host (ANSIBLE_TIMEOUT) instead of
# ansible.cfg's 30: beside the lab on a loaded machine, Gathering Facts timed
# out on a container that had booted (Molecule, CI of 2026-12-03) and on a
# lab host reached through the relay (the second site.yml, CI of bf00de3).
CONNECT_TIMEOUT = 90
