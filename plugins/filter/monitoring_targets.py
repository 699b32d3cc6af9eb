# Copyright: PATN infrastructure team
# Apache License 2.0
"""What the data centre's Prometheus watches, from the inventory (filter monitoring_targets)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: monitoring_targets
short_description: The data centre's scrape and probe targets, one list per ministry, from the inventory
version_added: 0.6.0
author: PATN infrastructure team
description:
  - Reads each host's registry variables (patn_ministry, patn_site, patn_device_role,
    patn_management_address) and returns Prometheus file service discovery files, one per job and
    ministry, whose groups are labelled ministry, site, site_name, role and instance (the host's
    inventory name).
  - C(node) has every host's node exporter; C(icmp) every router and hub, pinged through the tunnel;
    C(https) every e-service virtual host (nginx__sites' first server name), probed at its server's
    address with its own TLS name, through the blackbox module C(https_NAME) that C(https_modules)
    lists, on the health path of the application behind it (the eservice__apps entry whose port is
    the virtual host's upstream port; C(/) when none is).
  - Hosts are listed in the order given; a host without registry data or with a malformed one is
    refused, naming the host and the variable, so that no site is silently left unwatched.
positional: _input
options:
  _input:
    description: The inventory host names to watch (usually C(groups['all'])).
    type: list
    elements: str
    required: true
  hostvars:
    description: Every host's variables (C(hostvars)).
    type: dict
    required: true
  exporter_port:
    description: The node exporters' port.
    type: int
    default: 9100
"""

EXAMPLES = r"""
monitoring__targets: "{{ groups['all'] | patn.infra.monitoring_targets(hostvars, exporter_port=9100) }}"
"""

RETURN = r"""
files:
  description: >-
    The file service discovery files, one per job (C(node), C(icmp), C(https)) and ministry, sorted
    by job then ministry: C(name) (JOB-MINISTRY.yml), C(job), C(ministry) and C(groups), one group
    per target. C(node) targets are HOST:PORT; C(icmp) targets the management address; C(https)
    targets C(https://ADDRESS/HEALTH_PATH), with the label C(__param_module) naming the blackbox
    module that checks the server name's certificate.
  type: list
  elements: dict
  sample:
    - name: node-sante.yml
      job: node
      ministry: sante
      groups:
        - targets: ["10.48.4.1:9100"]
          labels: {ministry: sante, site: bzv-hq, site_name: CHU de Brazzaville, role: router,
                   instance: sante-bzv-hq-rtr1}
https_modules:
  description: The blackbox modules the C(https) groups use, one per server name, sorted.
  type: list
  elements: dict
  sample: [{name: https_dossiers-patients.sante.patn.cg, server_name: dossiers-patients.sante.patn.cg}]
"""

import re
from urllib.parse import urlsplit

from ansible.errors import AnsibleFilterError

# Roles whose management address is a gateway the data centre pings.
PINGED_ROLES = ("router", "hub")
PORT_MAX = 65535
# roles/eservice's default health_path of an application.
DEFAULT_HEALTH_PATH = "/health"
MODULE_NAME = re.compile(r"[^A-Za-z0-9_.-]")


def _required(host, variables, name):
    value = variables.get(name)
    if value in (None, ""):
        raise AnsibleFilterError(
            f"monitoring_targets: host {host} has no {name} (not from the site registry?)"
        )
    return value


def _labels(host, variables):
    site = _required(host, variables, "patn_site")
    if not isinstance(site, dict) or "code" not in site:
        raise AnsibleFilterError(f"monitoring_targets: host {host}: patn_site has no code")
    return {
        "ministry": _required(host, variables, "patn_ministry"),
        "site": site["code"],
        "site_name": site.get("name", site["code"]),
        "role": _required(host, variables, "patn_device_role"),
        "instance": host,
    }


def _virtual_hosts(host, variables):
    """(first server name, probed path) of each of the host's nginx sites: the health path of
    the e-service application behind it (eservice__apps, by its port), else /."""
    sites = variables.get("nginx__sites") or []
    apps = variables.get("eservice__apps") or []
    if not isinstance(sites, list) or not isinstance(apps, list):
        raise AnsibleFilterError(
            f"monitoring_targets: host {host}: nginx__sites and eservice__apps must be lists"
        )
    health = {
        app.get("port"): app.get("health_path", DEFAULT_HEALTH_PATH) for app in apps if isinstance(app, dict)
    }
    found = []
    for site in sites:
        server_names = site.get("server_names") if isinstance(site, dict) else None
        if not server_names:
            raise AnsibleFilterError(
                f"monitoring_targets: host {host}: an nginx__sites entry has no server_names"
            )
        upstream = urlsplit(str(site.get("upstream", "")))
        try:
            port = upstream.port
        except ValueError:
            port = None
        found.append((server_names[0], health.get(port, "/")))
    return found


def monitoring_targets(hosts, hostvars, exporter_port=9100):
    """The node, icmp and https groups per ministry, and the https modules (see DOCUMENTATION)."""
    if not isinstance(hosts, list):
        raise AnsibleFilterError(f"monitoring_targets: the hosts must be a list, got {type(hosts).__name__}")
    if (
        isinstance(exporter_port, bool)
        or not isinstance(exporter_port, int)
        or not 0 < exporter_port <= PORT_MAX
    ):
        raise AnsibleFilterError(
            f"monitoring_targets: exporter_port must be a port number, got {exporter_port!r}"
        )
    node, icmp, https, modules = {}, {}, {}, {}
    for host in hosts:
        if host not in hostvars:
            raise AnsibleFilterError(f"monitoring_targets: host {host} is not in hostvars")
        variables = hostvars[host]
        labels = _labels(host, variables)
        address = _required(host, variables, "patn_management_address")
        ministry = labels["ministry"]
        node.setdefault(ministry, []).append({"targets": [f"{address}:{exporter_port}"], "labels": labels})
        if labels["role"] in PINGED_ROLES:
            icmp.setdefault(ministry, []).append({"targets": [address], "labels": labels})
        for name, path in _virtual_hosts(host, variables) if labels["role"] == "eservice" else []:
            module = "https_" + MODULE_NAME.sub("_", name)
            modules[module] = {"name": module, "server_name": name}
            https.setdefault(ministry, []).append(
                {
                    "targets": [f"https://{address}{path}"],
                    "labels": {**labels, "server_name": name, "__param_module": module},
                }
            )
    files = [
        {"name": f"{job}-{ministry}.yml", "job": job, "ministry": ministry, "groups": groups}
        for job, per_ministry in (("node", node), ("icmp", icmp), ("https", https))
        for ministry, groups in sorted(per_ministry.items())
    ]
    return {"files": files, "https_modules": [modules[name] for name in sorted(modules)]}


class FilterModule:
    """patn.infra.monitoring_targets."""

    def filters(self):
        return {"monitoring_targets": monitoring_targets}
