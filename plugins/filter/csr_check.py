# Copyright: PATN infrastructure team
# Apache License 2.0
"""Whether a host's certificate signing request asks for what the inventory plans (filter csr_check)."""

from __future__ import annotations

DOCUMENTATION = r"""
name: csr_check
short_description: Refuse a certificate signing request that asks for more than the inventory plans
version_added: 0.4.0
author: PATN infrastructure team
description:
  - The pki role makes each server's signing request on the server itself (its key never leaves
    it), and the controller signs it with the national CA, which copies every extension of the
    request into the certificate. A compromised server could therefore ask for any name or usage.
    This filter runs on the controller before the signature and refuses the request unless it asks
    for exactly the certificate the inventory plans for that host.
  - "Checked: the request's own signature; the subject (exactly the planned common name and
    organisation, no other attribute); the subject alternative names (exactly the planned DNS names
    and IP addresses, none missing, none added, no wildcard); the key usage and extended key usage
    (present and exactly the planned ones); the basic constraints (absent, or C(CA:FALSE) without a
    path length); and no other extension at all."
  - When O(permitted_domains) is given, every planned and requested DNS name must be one of these
    domains or below one, as the root CA's name constraints require.
  - Every refusal names the host and the field, with what was asked and what was planned.
  - Uses the Python C(cryptography) library to read the request.
positional: _input, plan, host
options:
  _input:
    description: The signing request, PEM (C(openssl_csr_pipe)'s C(csr)).
    type: str
    required: true
  plan:
    description: The certificate the inventory plans for the host.
    type: dict
    required: true
    suboptions:
      common_name:
        description: The subject's common name.
        type: str
        required: true
      organization:
        description: The subject's organisation; when absent, the subject holds the common name only.
        type: str
      dns:
        description: DNS names of the subject alternative names.
        type: list
        elements: str
        required: true
      ips:
        description: IP addresses of the subject alternative names.
        type: list
        elements: str
        default: []
      key_usage:
        description: Key usages, OpenSSL's short names (C(digitalSignature), ...).
        type: list
        elements: str
        required: true
      extended_key_usage:
        description: Extended key usages, OpenSSL's short names (C(serverAuth), ...).
        type: list
        elements: str
        required: true
  host:
    description: The host whose request it is, named in every refusal.
    type: str
    required: true
  permitted_domains:
    description: Domains every DNS name must belong to (the root CA's name constraints).
    type: list
    elements: str
"""

EXAMPLES = r"""
- name: Refuse a request that asks for more than the inventory plans
  ansible.builtin.set_fact:
    checked_request: >-
      {{ csr.csr | patn.infra.csr_check({'common_name': 'etat-civil.interieur.gouv.cg',
         'organization': 'Republique du Congo - PATN', 'dns': ['etat-civil.interieur.gouv.cg'],
         'key_usage': ['digitalSignature'], 'extended_key_usage': ['serverAuth']},
         inventory_hostname, permitted_domains=['gouv.cg']) }}
  delegate_to: localhost
"""

RETURN = r"""
_value:
  description: What the request asks for, once checked (the certificate that will be signed).
  type: dict
  contains:
    common_name:
      description: The subject's common name.
      type: str
    organization:
      description: The subject's organisation, or null.
      type: str
    dns:
      description: DNS names, sorted.
      type: list
      elements: str
    ips:
      description: IP addresses, sorted.
      type: list
      elements: str
    key_usage:
      description: Key usages, sorted.
      type: list
      elements: str
    extended_key_usage:
      description: Extended key usages, sorted.
      type: list
      elements: str
  sample:
    common_name: etat-civil.interieur.gouv.cg
    organization: Republique du Congo - PATN
    dns: [etat-civil.interieur.gouv.cg]
    ips: []
    key_usage: [digitalSignature]
    extended_key_usage: [serverAuth]
"""

import ipaddress
from collections.abc import Mapping, Sequence

from ansible.errors import AnsibleFilterError

try:
    from cryptography import x509
    from cryptography.x509.oid import ExtendedKeyUsageOID, ExtensionOID, NameOID
except ImportError as error:  # pragma: no cover - cryptography comes with community.crypto
    x509 = None
    IMPORT_ERROR = error
else:
    IMPORT_ERROR = None

# OpenSSL's short names of the key usages, as cryptography's KeyUsage names them.
KEY_USAGES = {
    "digitalSignature": "digital_signature",
    "nonRepudiation": "content_commitment",
    "keyEncipherment": "key_encipherment",
    "dataEncipherment": "data_encipherment",
    "keyAgreement": "key_agreement",
    "keyCertSign": "key_cert_sign",
    "cRLSign": "crl_sign",
    "encipherOnly": "encipher_only",
    "decipherOnly": "decipher_only",
}

if x509 is not None:
    EXTENDED_KEY_USAGES = {
        ExtendedKeyUsageOID.SERVER_AUTH: "serverAuth",
        ExtendedKeyUsageOID.CLIENT_AUTH: "clientAuth",
        ExtendedKeyUsageOID.CODE_SIGNING: "codeSigning",
        ExtendedKeyUsageOID.EMAIL_PROTECTION: "emailProtection",
        ExtendedKeyUsageOID.TIME_STAMPING: "timeStamping",
        ExtendedKeyUsageOID.OCSP_SIGNING: "OCSPSigning",
        ExtendedKeyUsageOID.ANY_EXTENDED_KEY_USAGE: "anyExtendedKeyUsage",
    }
    ALLOWED_EXTENSIONS = {
        ExtensionOID.SUBJECT_ALTERNATIVE_NAME: "subjectAltName",
        ExtensionOID.KEY_USAGE: "keyUsage",
        ExtensionOID.EXTENDED_KEY_USAGE: "extendedKeyUsage",
        ExtensionOID.BASIC_CONSTRAINTS: "basicConstraints",
    }


def _refuse(host, field, message):
    raise AnsibleFilterError(f"csr_check: host {host}: {field}: {message}; nothing is signed")


def _names(values, field, host):
    if isinstance(values, str) or not isinstance(values, Sequence):
        raise AnsibleFilterError(f"csr_check: host {host}: the plan's {field} must be a list")
    return list(values)


def _in_domains(name, domains):
    return any(name == domain or name.endswith("." + domain) for domain in domains)


def _read_plan(plan, host):
    if not isinstance(plan, Mapping):
        raise AnsibleFilterError(
            f"csr_check: host {host}: the plan must be a dict, got {type(plan).__name__}"
        )
    for key in ("common_name", "dns", "key_usage", "extended_key_usage"):
        if not plan.get(key):
            raise AnsibleFilterError(f"csr_check: host {host}: the plan has no {key}")
    unknown = sorted(set(_names(plan["key_usage"], "key_usage", host)) - set(KEY_USAGES))
    if unknown:
        raise AnsibleFilterError(f"csr_check: host {host}: the plan names unknown key usages {unknown}")
    known_extended = set(EXTENDED_KEY_USAGES.values())
    unknown = sorted(set(_names(plan["extended_key_usage"], "extended_key_usage", host)) - known_extended)
    if unknown:
        raise AnsibleFilterError(
            f"csr_check: host {host}: the plan names unknown extended key usages {unknown}"
        )
    try:
        ips = sorted(str(ipaddress.ip_address(str(ip))) for ip in _names(plan.get("ips") or [], "ips", host))
    except ValueError as error:
        raise AnsibleFilterError(f"csr_check: host {host}: the plan's ips: {error}") from None
    return {
        "common_name": str(plan["common_name"]),
        "organization": None if plan.get("organization") is None else str(plan["organization"]),
        "dns": sorted(str(name).lower() for name in _names(plan["dns"], "dns", host)),
        "ips": ips,
        "key_usage": sorted(str(usage) for usage in plan["key_usage"]),
        "extended_key_usage": sorted(str(usage) for usage in plan["extended_key_usage"]),
    }


def _subject(csr, host):
    common_names, organizations = [], []
    for attribute in csr.subject:
        if attribute.oid == NameOID.COMMON_NAME:
            common_names.append(attribute.value)
        elif attribute.oid == NameOID.ORGANIZATION_NAME:
            organizations.append(attribute.value)
        else:
            _refuse(
                host,
                "subject",
                f"the request adds {attribute.rfc4514_string()}, which the inventory does not plan",
            )
    if len(common_names) != 1 or len(organizations) > 1:
        _refuse(
            host, "subject", f"the request's subject {csr.subject.rfc4514_string()!r} needs one common name"
        )
    return common_names[0], organizations[0] if organizations else None


def _key_usage(value):
    usages = []
    for short, attribute in KEY_USAGES.items():
        if attribute in ("encipher_only", "decipher_only") and not value.key_agreement:
            continue  # cryptography refuses to read these without key agreement
        if getattr(value, attribute):
            usages.append(short)
    return sorted(usages)


def _extended_key_usage(value):
    return sorted(EXTENDED_KEY_USAGES.get(oid, oid.dotted_string) for oid in value)


def _differ(host, field, asked, planned):
    added = [item for item in asked if item not in planned]
    missing = [item for item in planned if item not in asked]
    parts = []
    if added:
        parts.append(f"the request adds {added}")
    if missing:
        parts.append(f"the request lacks {missing}")
    _refuse(host, field, ", ".join(parts) + f" (the inventory plans {planned})")


def _load(csr_pem, host):
    if not isinstance(csr_pem, str | bytes):
        _refuse(host, "request", f"expected a PEM signing request, got {type(csr_pem).__name__}")
    data = csr_pem.encode() if isinstance(csr_pem, str) else csr_pem
    try:
        csr = x509.load_pem_x509_csr(data)
    except ValueError as error:
        _refuse(host, "request", f"not a PEM signing request ({error})")
    if not csr.is_signature_valid:
        _refuse(host, "request", "its signature does not match its key")
    return csr


def _domains(permitted_domains, wanted, host):
    if permitted_domains is None:
        return
    domains = [
        str(domain).lower().strip(".") for domain in _names(permitted_domains, "permitted_domains", host)
    ]
    outside = [name for name in wanted["dns"] if not _in_domains(name, domains)]
    if outside:
        message = f"the inventory plans {outside}, outside the CA's domains {domains}"
        _refuse(host, "subject alternative names", message)


def _extensions(csr, host):
    extensions = {}
    for extension in csr.extensions:
        if extension.oid not in ALLOWED_EXTENSIONS:
            name = getattr(extension.oid, "_name", None) or extension.oid.dotted_string
            message = f"the request adds the extension {name} ({extension.oid.dotted_string})"
            _refuse(host, "extensions", message + ", which is never signed")
        extensions[extension.oid] = extension.value
    return extensions


def _alternative_names(extensions, wanted, host):
    field = "subject alternative names"
    san = extensions.get(ExtensionOID.SUBJECT_ALTERNATIVE_NAME)
    if san is None:
        _refuse(host, field, "the request has none")
    dns, ips = [], []
    for general_name in san:
        if isinstance(general_name, x509.DNSName):
            dns.append(general_name.value.lower())
        elif isinstance(general_name, x509.IPAddress):
            ips.append(str(general_name.value))
        else:
            _refuse(host, field, f"the request adds {general_name}, neither a DNS name nor an IP address")
    wildcards = [name for name in dns if "*" in name]
    if wildcards:
        _refuse(host, field, f"the request asks for the wildcard {wildcards}, which is never signed")
    if sorted(dns) != wanted["dns"]:
        _differ(host, f"{field} (DNS)", sorted(dns), wanted["dns"])
    if sorted(ips) != wanted["ips"]:
        _differ(host, f"{field} (IP)", sorted(ips), wanted["ips"])
    return sorted(dns), sorted(ips)


def _usages(extensions, wanted, host):
    found = {}
    for field, oid, read in (
        ("key usage", ExtensionOID.KEY_USAGE, _key_usage),
        ("extended key usage", ExtensionOID.EXTENDED_KEY_USAGE, _extended_key_usage),
    ):
        planned = wanted[field.replace(" ", "_")]
        if oid not in extensions:
            _refuse(host, field, f"the request has none (the inventory plans {planned})")
        found[field] = read(extensions[oid])
        if found[field] != planned:
            _differ(host, field, found[field], planned)
    constraints = extensions.get(ExtensionOID.BASIC_CONSTRAINTS)
    if constraints is not None and (constraints.ca or constraints.path_length is not None):
        message = "the request asks for a CA certificate (CA:TRUE), which is never signed for a server"
        _refuse(host, "basic constraints", message)
    return found["key usage"], found["extended key usage"]


def csr_check(csr_pem, plan, host, permitted_domains=None):
    """What the request asks for, when it is exactly the plan (see DOCUMENTATION)."""
    if x509 is None:  # pragma: no cover
        raise AnsibleFilterError(f"csr_check needs the Python cryptography library: {IMPORT_ERROR}")
    host = str(host)
    wanted = _read_plan(plan, host)
    _domains(permitted_domains, wanted, host)
    csr = _load(csr_pem, host)
    common_name, organization = _subject(csr, host)
    for field, asked in (("common name", common_name), ("organization", organization)):
        planned = wanted[field.replace(" ", "_")]
        if asked != planned:
            _refuse(
                host, f"subject {field}", f"the request asks for {asked!r}, the inventory plans {planned!r}"
            )
    extensions = _extensions(csr, host)
    dns, ips = _alternative_names(extensions, wanted, host)
    key_usage, extended_key_usage = _usages(extensions, wanted, host)
    return {
        "common_name": common_name,
        "organization": organization,
        "dns": dns,
        "ips": ips,
        "key_usage": key_usage,
        "extended_key_usage": extended_key_usage,
    }


class FilterModule:
    """patn.infra.csr_check."""

    def filters(self):
        return {"csr_check": csr_check}
