"""Request counters per service and operation, read by GET /_localaws/counters.

A request is counted once it has been routed to a service and its operation
named, before fault injection and before authentication: faulted, refused
(bad signature, unknown key) and failed requests all count.
"""
import threading


class Counters:
    def __init__(self):
        self._lock = threading.Lock()
        self._counts = {}

    def count(self, service, operation):
        with self._lock:
            per_service = self._counts.setdefault(service, {})
            per_service[operation] = per_service.get(operation, 0) + 1

    def snapshot(self):
        with self._lock:
            return {service: dict(ops) for service, ops in self._counts.items()}

    def reset(self):
        with self._lock:
            self._counts.clear()
