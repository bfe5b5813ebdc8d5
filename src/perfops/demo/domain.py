"""The demo domain: an online shop's services, their traffic and latency profiles, and its consumers.

The catalog itself (squads, tiers, SLOs, NFRs, capacity, cost) lives in `catalog.yaml` next to
this module — a commented example users can copy — and is parsed with the real catalog loader.
This module holds what a catalog does not say: how much traffic each endpoint gets, how fast it
is on its own, which downstream endpoints it calls, how often it fails, and who calls it. The
telemetry generator (`perfops.demo.telemetry`) turns these profiles into series; the numbers are
chosen so that, without the seeded incidents, every service sits comfortably inside its SLO,
NFR and capacity (tests check that).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import cache
from importlib import resources

from perfops.model.catalog import Catalog

CATALOG_RESOURCE = "catalog.yaml"


@dataclass(frozen=True)
class EndpointProfile:
    """One endpoint of a service.

    share: fraction of the service's requests; p50_ms: its own median time (without the calls it
    makes); r95/r99: p95 and p99 as multiples of the p50; calls: downstream endpoint
    ("service:METHOD /path") -> weight of that endpoint's latency added to this one's;
    error_pct / client_error_pct: base server- and client-error rates in %.
    """

    name: str
    share: float
    p50_ms: float
    r95: float = 2.4
    r99: float = 4.0
    calls: dict[str, float] = field(default_factory=dict)
    error_pct: float = 0.03
    client_error_pct: float = 0.5


@dataclass(frozen=True)
class ServiceProfile:
    """Traffic and resource behaviour of one service.

    mean_tps: mean requests/s over a week (before any growth); phase_h: shift of the daily
    curve in hours (positive = later peak); cpu_idle / cpu_slope: cpu_pct = idle + slope × load,
    load = requests/s ÷ (instances × max_tps_per_instance); memory_pct: the steady level.
    """

    name: str
    mean_tps: float
    endpoints: tuple[EndpointProfile, ...]
    phase_h: float = 0.0
    cpu_idle: float = 4.0
    cpu_slope: float = 80.0
    memory_pct: float = 45.0
    egress_per_million: float = 0.1  # cost that follows traffic, in currency per million requests


@dataclass(frozen=True)
class ConsumerShare:
    """A known consumer's part of one endpoint's traffic, and how it behaves there."""

    consumer: str
    service: str
    endpoint: str
    share: float
    client_error_pct: float = 0.5
    flat: bool = False  # a machine client: no daily or weekly pattern


E = EndpointProfile

SERVICES: tuple[ServiceProfile, ...] = (
    ServiceProfile("web", 120, (
        E("GET /", 0.30, 45, calls={"catalog:GET /products": 0.8, "recommendations:GET /recommendations": 0.6,
                                    "identity:GET /userinfo": 0.5}),
        E("GET /product/{id}", 0.50, 40, calls={"catalog:GET /products/{id}": 1.0,
                                                "recommendations:GET /recommendations": 0.5,
                                                "identity:GET /userinfo": 0.5}),
        E("GET /category/{id}", 0.20, 50, calls={"catalog:GET /products": 1.0, "identity:GET /userinfo": 0.5}),
    ), memory_pct=52),
    ServiceProfile("catalog", 150, (
        E("GET /products/{id}", 0.60, 18, calls={"pricing:GET /prices/{sku}": 0.8}),
        E("GET /products", 0.40, 35, calls={"pricing:GET /prices/{sku}": 1.0}),
    ), cpu_slope=62, memory_pct=58),
    ServiceProfile("search", 60, (
        E("GET /search", 0.75, 60, r95=2.2, calls={"catalog:GET /products": 0.5}),
        E("GET /suggest", 0.25, 15),
    ), phase_h=0.5, memory_pct=63),
    ServiceProfile("recommendations", 40, (
        E("GET /recommendations", 1.0, 35, r95=2.6, calls={"catalog:GET /products/{id}": 0.5}),
    ), memory_pct=48),
    ServiceProfile("cart", 70, (
        E("GET /cart", 0.55, 25, calls={"pricing:GET /prices/{sku}": 0.8, "identity:GET /userinfo": 0.4}),
        E("POST /cart/items", 0.30, 90, calls={"inventory:GET /stock/{sku}": 1.0, "pricing:GET /prices/{sku}": 1.0,
                                               "identity:GET /userinfo": 0.4}),
        E("DELETE /cart/items/{id}", 0.15, 20),
    ), phase_h=0.5, memory_pct=41),
    ServiceProfile("inventory", 50, (
        E("GET /stock/{sku}", 0.70, 8, error_pct=0.2),
        E("POST /reservations", 0.30, 22, error_pct=0.2),
    ), phase_h=0.5, memory_pct=37),
    ServiceProfile("pricing", 90, (
        E("GET /prices/{sku}", 0.85, 6, r95=2.2),
        E("POST /quotes", 0.15, 25),
    ), memory_pct=42),
    ServiceProfile("checkout-api", 25, (
        E("POST /checkout", 0.30, 70, r95=2.2, calls={"payments:POST /payments": 0.9, "orders:POST /orders": 0.8,
                                                     "inventory:POST /reservations": 0.8,
                                                     "identity:GET /userinfo": 0.5},
          client_error_pct=0.6),
        E("GET /checkout/{id}", 0.55, 15, client_error_pct=0.4),
        E("POST /checkout/{id}/confirm", 0.15, 40, calls={"orders:GET /orders/{id}": 0.5}),
    ), phase_h=1.0, memory_pct=47),
    ServiceProfile("orders", 20, (
        E("POST /orders", 0.25, 30, calls={"ledger:POST /entries": 0.8, "notifications:POST /notify": 0.3},
          error_pct=0.15),
        E("GET /orders/{id}", 0.73, 12, error_pct=0.15),
        E("GET /v1/orders/{id}", 0.02, 25, error_pct=0.15),
    ), phase_h=1.0, memory_pct=50),
    ServiceProfile("payments", 9, (
        E("POST /payments", 0.60, 95, r95=2.3, calls={"fraud:POST /score": 0.9, "ledger:POST /entries": 0.8}),
        E("GET /payments/{id}", 0.40, 12),
    ), phase_h=1.0, memory_pct=55),
    ServiceProfile("fraud", 10, (
        E("POST /score", 1.0, 35, r95=2.2),
    ), phase_h=1.0, cpu_slope=132, memory_pct=61),
    ServiceProfile("ledger", 85, (
        E("POST /entries", 0.45, 10),
        E("GET /balances/{id}", 0.55, 6),
    ), memory_pct=44),
    ServiceProfile("notifications", 30, (
        E("POST /notify", 1.0, 20, r95=2.8),
    ), phase_h=1.5, memory_pct=35),
    ServiceProfile("identity", 100, (
        E("POST /token", 0.20, 30),
        E("GET /userinfo", 0.80, 5, r95=2.2),
    ), memory_pct=46),
)

# The consumers whose calls are broken down in the telemetry. Three behave well (web-frontend,
# mobile-app, partner-acme); partner-globex, affiliate-feed and store-kiosk are the seeded misuse.
CONSUMER_SHARES: tuple[ConsumerShare, ...] = (
    ConsumerShare("web-frontend", "checkout-api", "POST /checkout", 0.52, 0.5),
    ConsumerShare("mobile-app", "checkout-api", "POST /checkout", 0.36, 0.7),
    ConsumerShare("partner-acme", "checkout-api", "POST /checkout", 0.07, 0.4),
    ConsumerShare("partner-globex", "checkout-api", "POST /checkout", 0.05, 0.6),
    ConsumerShare("web-frontend", "orders", "GET /orders/{id}", 0.50, 0.3),
    ConsumerShare("mobile-app", "orders", "GET /orders/{id}", 0.40, 0.4),
    ConsumerShare("partner-acme", "orders", "GET /orders/{id}", 0.06, 0.3),
    ConsumerShare("affiliate-feed", "orders", "GET /orders/{id}", 0.012, 0.5, flat=True),
    ConsumerShare("store-kiosk", "orders", "GET /v1/orders/{id}", 1.0, 0.3),
    ConsumerShare("web-frontend", "catalog", "GET /products", 0.55, 0.4),
    ConsumerShare("mobile-app", "catalog", "GET /products", 0.30, 0.5),
    ConsumerShare("partner-acme", "catalog", "GET /products", 0.10, 0.3),
    ConsumerShare("affiliate-feed", "catalog", "GET /products", 0.05, 0.4, flat=True),
)


def catalog_text() -> str:
    """The demo's perfops.yaml, as shipped (comments included)."""
    return resources.files("perfops.demo").joinpath(CATALOG_RESOURCE).read_text(encoding="utf-8")


@cache
def demo_catalog() -> Catalog:
    """The demo catalog, parsed and validated by the same loader users' catalogs go through."""
    from perfops.workspace import parse_catalog

    return parse_catalog(catalog_text(), CATALOG_RESOURCE)


def profile(service: str) -> ServiceProfile:
    return next(s for s in SERVICES if s.name == service)


def dependency_order(services: tuple[ServiceProfile, ...] = SERVICES) -> list[ServiceProfile]:
    """Services callees first, so a caller's latency can add its callees' (Kahn's algorithm)."""
    callees = {s.name: {c.split(":", 1)[0] for e in s.endpoints for c in e.calls} for s in services}
    done: list[str] = []
    pending = [s.name for s in services]
    while pending:
        ready = [n for n in pending if callees[n] <= set(done)]
        if not ready:
            raise ValueError(f"call cycle among {pending}")
        done.extend(ready)
        pending = [n for n in pending if n not in ready]
    by_name = {s.name: s for s in services}
    return [by_name[n] for n in done]
