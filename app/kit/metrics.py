"""HTTP metrics per route template, and the Prometheus registry /metrics exposes."""

from prometheus_client import REGISTRY, CollectorRegistry, Counter, Histogram
from prometheus_client.multiprocess import MultiProcessCollector

from app.kit.multiprocess import multiprocess_dir

# The route label of requests no route matched (so a scan of random paths adds no series).
UNMATCHED = "unmatched"

HTTP_REQUESTS = Counter(
    "convene_http_requests",
    "HTTP requests by route template, method and status",
    ["route", "method", "status"],
)
HTTP_DURATION = Histogram(
    "convene_http_request_duration_seconds",
    "Time from a request's arrival to the end of its response, by route template and method",
    ["route", "method"],
    buckets=(0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30),
)


def metrics_registry() -> CollectorRegistry:
    """The registry to expose: this process's, or in multiprocess mode every process's sum."""
    directory = multiprocess_dir()
    if directory is None:
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry, str(directory))  # type: ignore[no-untyped-call]
    return registry
