"""Live checks of the monitoring role, from inside the monitoring host:
Prometheus' API shows the inventory's targets up with their labels, the
rules loaded, the alerts routed; the blackbox exporter pings; Alertmanager
answers. Every configuration file passed its own program's check."""

import json
import time

import pytest

PROMETHEUS = "http://127.0.0.1:9090"


def api(host, url):
    result = host.run(f"curl -sS --max-time 10 '{url}'")
    assert result.rc == 0, result.stderr
    return json.loads(result.stdout)


def active_targets(host, until):
    """Prometheus' active targets, once `until` holds for them (scrapes every 5 s)."""
    for _ in range(30):
        targets = api(host, f"{PROMETHEUS}/api/v1/targets?state=active")["data"]["activeTargets"]
        if until(targets):
            return targets
        time.sleep(2)
    return targets


def test_every_inventory_host_is_scraped_and_up_with_its_labels(host):
    def both_up(targets):
        return len([t for t in targets if t["labels"]["job"] == "node" and t["health"] == "up"]) == 2

    targets = active_targets(host, both_up)
    node = {t["labels"]["instance"]: t for t in targets if t["labels"]["job"] == "node"}
    assert set(node) == {"monitoring-debian12", "sante-chu-bzv-rtr1"}
    assert {t["health"] for t in node.values()} == {"up"}, [t["lastError"] for t in node.values()]
    router = node["sante-chu-bzv-rtr1"]
    assert router["scrapeUrl"] == "http://127.0.0.2:9100/metrics"
    assert {k: router["labels"][k] for k in ("ministry", "site", "site_name", "role")} == {
        "ministry": "sante",
        "site": "chu-bzv",
        "site_name": "CHU de Brazzaville",
        "role": "router",
    }


def test_the_site_router_is_pinged_through_the_blackbox_exporter(host):
    active_targets(host, lambda ts: any(t["labels"]["job"] == "icmp" and t["health"] == "up" for t in ts))
    query = "probe_success%7Bjob%3D%22icmp%22%7D"
    result = api(host, f"{PROMETHEUS}/api/v1/query?query={query}")["data"]["result"]
    assert [(r["metric"]["instance"], r["value"][1]) for r in result] == [("sante-chu-bzv-rtr1", "1")]


def test_only_routers_and_hubs_are_pinged(host):
    # The monitoring host itself is not pinged: only routers and hubs are.
    targets = api(host, f"{PROMETHEUS}/api/v1/targets?state=active")["data"]["activeTargets"]
    assert [t["labels"]["instance"] for t in targets if t["labels"]["job"] == "icmp"] == [
        "sante-chu-bzv-rtr1"
    ]


def test_the_alert_rules_are_loaded(host):
    groups = api(host, f"{PROMETHEUS}/api/v1/rules")["data"]["groups"]
    alerts = {rule["name"] for group in groups for rule in group["rules"]}
    assert {"SiteUnreachable", "HostDown", "BackupStale", "CertificateExpiringSoon", "LinkDegraded"} <= alerts
    assert all(rule["health"] == "ok" for group in groups for rule in group["rules"])


def test_alertmanager_answers_and_routes_each_ministry_to_its_operators(host):
    status = api(host, "http://127.0.0.1:9093/api/v2/status")
    assert status["cluster"]["status"] in ("disabled", "ready")
    config = status["config"]["original"]
    assert "operators-sante" in config
    assert "noc.sante@patn.gouv.cg" in config
    route = "amtool config routes test --config.file=/etc/prometheus/alertmanager.yml alertname=HostDown"
    assert host.run(f"{route} ministry=sante").stdout.strip() == "operators-sante"
    assert host.run(f"{route} ministry=justice").stdout.strip() == "operators"


def test_prometheus_is_connected_to_alertmanager(host):
    managers = api(host, f"{PROMETHEUS}/api/v1/alertmanagers")["data"]["activeAlertmanagers"]
    assert [m["url"] for m in managers] == ["http://127.0.0.1:9093/api/v2/alerts"]


@pytest.mark.parametrize(
    ("service", "address"),
    [("prometheus-alertmanager", "127.0.0.1:9093"), ("prometheus-blackbox-exporter", "127.0.0.1:9115")],
)
def test_the_helpers_listen_on_loopback_only(host, service, address):
    assert host.service(service).is_running
    assert host.socket(f"tcp://{address}").is_listening
    assert not host.socket(f"tcp://0.0.0.0:{address.split(':')[1]}").is_listening
