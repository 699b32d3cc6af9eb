# Copyright: PATN infrastructure team
# Apache License 2.0
"""Inventory plugin: hosts, groups and addresses from the site registry."""

from __future__ import annotations

DOCUMENTATION = r"""
name: registry
short_description: Hosts, groups and addresses from the PATN site registry
description:
  - Reads a site registry folder (C(national.yml) and C(sites/<ministry>.yml)),
    refuses a file that is not UTF-8 (naming its line), larger than 16 MiB, or whose YAML aliases
    expand without bound (before it is built), validates it (JSON Schema where an integer is an
    integer and a pattern matches the whole value, then duplicate ids or codes, unknown
    department, site type or segment, overlapping manual prefixes, more devices
    than a segment holds, secrets written inline, access point placement naming
    an access point twice, one the site does not have, or itself as a neighbour,
    an access point MAC address that is malformed, not unicast, or another access point's,
    a zone policy naming an unknown source zone or destination, or missing a segment's zone)
    and produces one host per device with every address it needs, computed from the
    national address plan.
  - "C(national.yml) may be an overlay of another one: C(overlay: <path relative to it>) and only
    the fields that differ (mappings merged, any other value replaced whole; the named file a whole
    C(national.yml), not an overlay itself). The lab's is one of production's."
  - An invalid registry loads nothing; the error names the file, the site and the field.
  - "Host names (DNS-safe): C(<ministry key with - for _>-<site code>-<role short name><n>),
    for example C(sante-chu-bzv-ap3) or C(affaires-sociales-bzv-hq-rtr1)."
  - "Groups: C(ministry_<key>), C(site_<ministry>_<code>), C(site_type_<type>),
    C(department_<name>), C(role_<role>), C(status_<status>), and C(ministries) above the ministries."
  - "Variables of the C(ministries) group, so of every host: C(patn_supernet), the address plan's
    supernet (every address of the plan is inside it); C(patn_zone_policy), the C(zone_policy)
    of C(national.yml) (source zone or C(tunnel) to the zones, C(internet) or C(datacentre) it may reach),
    and C(patn_tunnel_hub) when C(national.yml) has a C(tunnel_hub): the hub's address, port, status
    (C(planned) or C(approved)) and endpoint (C(address:port), the site routers' WireGuard peer)."
  - "Ministry group variables: C(patn_ministry), C(patn_ministry_name)."
  - "Site group variables, set once per site: C(patn_site) (id, code, name, type, department,
    town, status, block, tunnel address), C(patn_segments) (per segment: vlan,
    zone, network, gateway, DHCP pool), C(patn_segment_binding), C(patn_access_points) (every
    access point of the site, by number: host, number, floor, location, neighbours as host
    names, both ways, mac (lower case, null when the registry gives none) and address, its
    host's C(patn_management_address); empty without access points)."
  - "Host variables: C(patn_device_role), C(patn_device_number), C(patn_management_address),
    C(patn_home_segment), plus the site's own C(vars) (host level, so they win over group_vars files)."
  - "With C(slice) (or C(PATN_SLICE)) C(K/N): only the hosts of the sites of slice K of N, every
    site whole in exactly one slice, plus the data-centre sites (type C(data_centre)) in every slice
    as reference data, and C(patn_slice) (C(index), C(count)) on the C(ministries) group
    (docs/awx.md#job-slicing)."
  - Supports Ansible's constructed options (compose, groups, keyed_groups) and inventory caching.
  - "With the cache, the cached registry is used only while every file of C(registry_dir) has the
    name, size and modification time it had when it was cached: a changed registry is read again at
    once, whatever C(cache_timeout)."
author: PATN infrastructure team
version_added: 0.1.0
options:
  plugin:
    description: Marks this file as a source for this plugin.
    required: true
    choices: [patn.infra.registry]
  registry_dir:
    description:
      - The registry folder, relative to this file unless absolute.
      - "Inside an inventory folder, keep it out of Ansible's own scan with
        C(inventory_ignore_patterns) (the project's ansible.cfg ignores C(registry))."
    type: str
    default: registry
  slice:
    description:
      - "One slice of a run: C(K/N) keeps the sites of slice K of N (K from 1 to N), each site whole
        in exactly one slice, sites dealt largest first to the slice with the fewest hosts so far
        (ties in ministry and site code order): the same registry and N always give the same slices."
      - The data-centre sites (type C(data_centre)) are in every slice, for reference only (a site
        router's tunnel names the hub); C(playbooks/validate.yml) refuses a sliced run that targets
        them. Run the data centre in its own job, without a slice.
      - Empty or unset, no slicing. A value that is not C(K/N) with 1 <= K <= N loads nothing, and
        the error names the option and the value.
    type: str
    env:
      - name: PATN_SLICE
    version_added: 0.2.0
extends_documentation_fragment:
  - ansible.builtin.constructed
  - ansible.builtin.inventory_cache
"""

EXAMPLES = r"""
# inventories/production/registry.yml
plugin: patn.infra.registry
registry_dir: registry
# Reach devices on their management address. ansible-core compiles a compose
# expression again for every host (about 1 ms each); production sets
# ansible_host in group_vars/all instead, templated only when a host is reached.
compose:
  ansible_host: patn_management_address
# Extra groups from any variable, with Ansible's constructed options.
keyed_groups:
  - key: patn_site.town
    prefix: town
# Slice 2 of 4 of a run (one AWX inventory per slice: docs/awx.md), or
# PATN_SLICE=2/4 in the environment of an unchanged registry.yml.
slice: 2/4
# Cache the parsed registry between runs (see ansible.cfg [inventory]).
cache: true
cache_plugin: ansible.builtin.jsonfile
cache_connection: .cache/inventory
"""

import gc
import hashlib
from contextlib import contextmanager
from pathlib import Path

from ansible.errors import AnsibleParserError
from ansible.inventory.helpers import get_group_vars
from ansible.plugins.inventory import BaseInventoryPlugin, Cacheable, Constructable
from ansible.utils.vars import combine_vars
from ansible_collections.patn.infra.plugins.module_utils import registry as site_registry
from ansible_collections.patn.infra.plugins.plugin_utils import site_slices


@contextmanager
def _cyclic_gc_paused():
    """Pause Python's cyclic garbage collector while the inventory is built.

    A large registry allocates millions of small objects (Ansible copies and
    tags every value it is given), none of them cyclic garbage; the collector
    would walk the whole growing heap again and again: at 50,000 hosts that
    was about a third of the load time. Reference counting still frees
    everything as usual. Afterwards what exists is frozen (gc.freeze): the
    inventory lives as long as the run, and the collector, enabled again,
    then never walks its objects (a full pass over them cost 1.6 s of CPU
    each time, once on re-enabling and again during the run).
    """
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if was_enabled:
            gc.freeze()
            gc.enable()


def _fingerprint(registry_dir):
    """What the cached registry was built from: every file's name, size and modification time."""
    digest = hashlib.sha256()
    for path in sorted(registry_dir.rglob("*")):
        if path.is_file():
            status = path.stat()
            digest.update(
                f"{path.relative_to(registry_dir)}\0{status.st_size}\0{status.st_mtime_ns}\n".encode()
            )
    return digest.hexdigest()


class InventoryModule(BaseInventoryPlugin, Constructable, Cacheable):
    NAME = "patn.infra.registry"
    # The registry is reviewed code, like group_vars: its strings may hold
    # templates (vault references such as "{{ vault_radius_secret }}").
    trusted_by_default = True

    def verify_file(self, path):
        return super().verify_file(path) and path.endswith(("registry.yml", "registry.yaml"))

    def parse(self, inventory, loader, path, cache=True):
        with _cyclic_gc_paused():
            self._parse(inventory, loader, path, cache)

    def _parse(self, inventory, loader, path, cache):
        super().parse(inventory, loader, path, cache)
        self._read_config_data(path)
        try:
            chosen_slice = site_slices.parse_slice(self.get_option("slice"), "option 'slice' (PATN_SLICE)")
        except site_slices.SliceError as error:
            raise AnsibleParserError(f"{path}: {error}") from None
        registry_dir = Path(self.get_option("registry_dir"))
        if not registry_dir.is_absolute():
            registry_dir = Path(path).parent / registry_dir

        cache_key = self.get_cache_key(path)
        use_cache = self.get_option("cache") and cache
        fingerprint = _fingerprint(registry_dir) if self.get_option("cache") else None
        data = None
        if use_cache:
            cached = self._cache.get(cache_key)
            # A registry changed since it was cached is read again: never a stale inventory.
            if isinstance(cached, dict) and cached.get("fingerprint") == fingerprint:
                data = cached
        if data is None:
            data = self._load(registry_dir)
            if self.get_option("cache"):
                data["fingerprint"] = fingerprint
                self._cache[cache_key] = data
        self._populate(data, chosen_slice)

    @staticmethod
    def _load(registry_dir):
        try:
            built = site_registry.build(site_registry.load(registry_dir))
        except site_registry.RegistryError as error:
            raise AnsibleParserError(str(error)) from None
        return {
            "hosts": built.hosts,
            "groups": built.groups,
            "children": built.children,
            "group_vars": built.group_vars,
        }

    def _populate(self, data, chosen_slice=None):
        inventory = self.inventory
        hosts = data["hosts"]
        if chosen_slice is not None:
            # The cache holds the whole registry: every slice reads the same.
            kept = site_slices.slice_hosts(data, *chosen_slice)
            hosts = {name: values for name, values in hosts.items() if name in kept}
            index, count = chosen_slice
            inventory.add_group("ministries")
            inventory.set_variable("ministries", "patn_slice", {"index": index, "count": count})
        for parent, children in data["children"].items():
            inventory.add_group(parent)
            for child in children:
                inventory.add_group(child)
                inventory.add_child(parent, child)
        for group, members in data["groups"].items():
            inventory.add_group(group)
            for host in members:
                if host in hosts:
                    inventory.add_host(host, group=group)
        for group, values in data["group_vars"].items():
            inventory.add_group(group)
            for name, value in values.items():
                inventory.set_variable(group, name, value)
        strict = self.get_option("strict")
        constructed = any(self.get_option(o) for o in ("compose", "groups", "keyed_groups"))
        for host, values in hosts.items():
            for name, value in values.items():
                inventory.set_variable(host, name, value)
            if constructed:
                # Expressions see the site and ministry group variables too.
                context = combine_vars(get_group_vars(inventory.hosts[host].get_groups()), values)
                self._set_composite_vars(self.get_option("compose"), context, host, strict=strict)
                self._add_host_to_composed_groups(self.get_option("groups"), context, host, strict=strict)
                self._add_host_to_keyed_groups(self.get_option("keyed_groups"), context, host, strict=strict)
