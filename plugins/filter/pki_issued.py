# Copyright: PATN infrastructure team
# Apache License 2.0
"""What the pki role issued on a host, by certificate name (filter pki_issued)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: pki_issued
short_description: The pki role's output, each certificate it issues on the host by name, with its files
version_added: 0.7.0
author: PATN infrastructure team
description:
  - "The pki role's contract with the roles that serve its certificates (nginx). From the
    certificates the host is planned to have (C(pki__certificates)) and the folder they are
    written to (C(pki__cert_dir)), each certificate by name with its names and the paths of its
    files. The pki role sets it as the fact C(pki__issued) once it has issued them (merged with
    what an earlier run of the role on the same host issued, as radius runs it for its own);
    C(make validate) computes it the same way (scripts/validate-stand-ins.yml)."
  - "Per certificate: C(name), C(dns) (its names), C(certificate) (the certificate alone,
    C(<name>.crt)), C(key) (its private key, C(<name>.key), made on the host), C(chain) (the
    certificate followed by the issuing CA, what a server sends, C(<name>.fullchain.pem))."
  - Refuses a certificate without a name or names, a name that is not a file name, a name given
    twice, and a folder that is not absolute.
positional: _input, cert_dir
options:
  _input:
    description: The host's planned certificates (C(pki__certificates)).
    type: list
    elements: dict
    required: true
  cert_dir:
    description: Where the certificates and keys are written on the host (C(pki__cert_dir)).
    type: path
    required: true
"""

EXAMPLES = r"""
- name: Publish what this role issued (its output)
  ansible.builtin.set_fact:
    pki__issued: >-
      {{ pki__issued | default({}) | combine(pki__certificates | patn.infra.pki_issued(pki__cert_dir)) }}

- name: Serve a certificate the pki role issued
  ansible.builtin.debug:
    msg: "ssl_certificate {{ pki__issued['eservices'].chain }}; key {{ pki__issued['eservices'].key }}"
"""

RETURN = r"""
_value:
  description: Each certificate by name, in the order of the input.
  type: dict
  sample:
    eservices:
      name: eservices
      dns: [etat-civil.interieur.gouv.cg]
      certificate: /etc/ssl/patn/eservices.crt
      key: /etc/ssl/patn/eservices.key
      chain: /etc/ssl/patn/eservices.fullchain.pem
"""

import re
from collections.abc import Mapping

from ansible.errors import AnsibleFilterError

FILE_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]*$")


def pki_issued(certificates, cert_dir):
    """Each certificate by name, with its files (see DOCUMENTATION)."""
    if not isinstance(certificates, list):
        raise AnsibleFilterError(
            f"pki_issued: the certificates must be a list, got {type(certificates).__name__}"
        )
    if not isinstance(cert_dir, str) or not cert_dir.startswith("/"):
        raise AnsibleFilterError(
            f"pki_issued: the certificate folder must be an absolute path, got {cert_dir!r}"
        )
    issued = {}
    for number, certificate in enumerate(certificates, 1):
        if not isinstance(certificate, Mapping):
            raise AnsibleFilterError(f"pki_issued: certificate {number} is not a mapping")
        name = certificate.get("name")
        if not isinstance(name, str) or not FILE_NAME.match(name):
            raise AnsibleFilterError(f"pki_issued: certificate {number}: name {name!r} is not a file name")
        dns = certificate.get("dns")
        if not isinstance(dns, list) or not dns or not all(isinstance(entry, str) for entry in dns):
            raise AnsibleFilterError(f"pki_issued: certificate {name}: dns must be a non-empty list of names")
        if name in issued:
            raise AnsibleFilterError(f"pki_issued: certificate {name} is planned twice")
        base = f"{cert_dir.rstrip('/')}/{name}"
        issued[name] = {
            "name": name,
            "dns": list(dns),
            "certificate": f"{base}.crt",
            "key": f"{base}.key",
            "chain": f"{base}.fullchain.pem",
        }
    return issued


class FilterModule:
    """patn.infra.pki_issued."""

    def filters(self):
        return {"pki_issued": pki_issued}
