"""An EventBridge-like bus: services emit events, subscribers receive them.

Events keep the envelope AWS delivers to rule targets
(https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-events-structure.html):
version "0", id, detail-type, source, account, time (whole seconds, Z),
region, resources, detail. They are kept in order for GET /_localaws/events,
and handed to every subscriber (later: EventBridge rules feeding SQS).
"""
import logging
import threading
import uuid

from .clock import iso_seconds

log = logging.getLogger("localaws.events")


class EventBus:
    def __init__(self, clock):
        self._clock = clock
        self._lock = threading.Lock()
        self._events = []
        self._subscribers = []

    def subscribe(self, callback):
        """callback(event) is called for every event emitted from now on."""
        with self._lock:
            self._subscribers.append(callback)

    def emit(self, *, source, detail_type, detail, resources, account, region):
        event = {
            "version": "0",
            "id": str(uuid.uuid4()),
            "detail-type": detail_type,
            "source": source,
            "account": account,
            "time": iso_seconds(self._clock.now()),
            "region": region,
            "resources": list(resources),
            "detail": detail,
        }
        with self._lock:
            self._events.append(event)
            subscribers = list(self._subscribers)
        for callback in subscribers:
            try:
                callback(event)
            except Exception:  # a broken subscriber must not fail the API call
                log.exception("event subscriber failed")
        return event

    def list(self):
        with self._lock:
            return list(self._events)

    def clear(self):
        with self._lock:
            self._events.clear()

    def to_json(self):
        return self.list()

    def load_json(self, data):
        with self._lock:
            self._events = list(data or [])
