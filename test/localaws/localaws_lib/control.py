"""The control endpoint under /_localaws/: no auth, JSON in and out.

  GET    /_localaws/health
  GET    /_localaws/counters          DELETE resets
  GET    /_localaws/faults            POST adds a rule, DELETE clears
  GET    /_localaws/clock             POST {"offset"|"fixed"|"advance"[, "check_skew"]} or {}
  GET    /_localaws/events            DELETE clears
  POST   /_localaws/s3/bulk           load many object versions at once
and the routes other components add (add_route): EventBridge delivery
hold/release, Lambda statistics.
"""
import json
import logging

from .server import CONTROL_PREFIX, Response

log = logging.getLogger("localaws.control")


class ControlError(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status
        self.message = message


def json_response(status, payload):
    return Response(status, [("Content-Type", "application/json")],
                    json.dumps(payload).encode("utf-8"))


class Control:
    def __init__(self, *, clock, counters, faults, events, s3):
        self.clock = clock
        self.counters = counters
        self.faults = faults
        self.events = events
        self.s3 = s3
        self.routes = {
            ("GET", "health"): self.health,
            ("GET", "counters"): lambda body: self.counters.snapshot(),
            ("DELETE", "counters"): self.reset_counters,
            ("GET", "faults"): lambda body: self.faults.list(),
            ("POST", "faults"): self.add_faults,
            ("DELETE", "faults"): self.clear_faults,
            ("GET", "clock"): lambda body: self.clock.describe(),
            ("POST", "clock"): self.set_clock,
            ("GET", "events"): lambda body: self.events.list(),
            ("DELETE", "events"): self.clear_events,
            ("POST", "s3/bulk"): self.s3_bulk,
        }
        self.patterns = []               # (method, "a/*/b", handler): add_route

    def add_route(self, method, pattern, handler):
        """Another component's route: handler(body, query, *parts), parts being
        the path segments `*` matched; it may answer a Response of its own."""
        self.patterns.append((method, pattern, handler))

    def _pattern_route(self, request, name):
        parts = name.split("/")
        for method, pattern, handler in self.patterns:
            wanted = pattern.split("/")
            if method == request.method and len(wanted) == len(parts) and all(
                    w in ("*", p) for w, p in zip(wanted, parts)):
                wild = [p for w, p in zip(wanted, parts) if w == "*"]
                return lambda body: handler(body, request.query, *wild)
        return None

    def handle(self, request):
        name = request.path[len(CONTROL_PREFIX):].strip("/")
        route = self.routes.get((request.method, name)) or self._pattern_route(request, name)
        if route is None:
            known = sorted({n for _, n in self.routes} | {p for _, p, _ in self.patterns})
            return json_response(404, {"error": f"no such control route: {request.method} "
                                                f"{request.path}", "routes": known})
        try:
            body = json.loads(request.body) if request.body.strip() else {}
            answer = route(body)
            return answer if isinstance(answer, Response) else json_response(200, answer)
        except ControlError as error:
            return json_response(error.status, {"error": error.message})
        except (ValueError, KeyError, TypeError) as error:
            return json_response(400, {"error": f"{type(error).__name__}: {error}"})

    def health(self, body):
        return {"status": "ok", "time": self.clock.describe()["now"]}

    def reset_counters(self, body):
        self.counters.reset()
        return {}

    def add_faults(self, body):
        rules = body if isinstance(body, list) else [body]
        return [self.faults.add(rule) for rule in rules]

    def clear_faults(self, body):
        self.faults.clear()
        return {}

    def set_clock(self, body):
        if "check_skew" in body:
            self.clock.check_skew = bool(body["check_skew"])
        if "fixed" in body:
            self.clock.set_fixed(body["fixed"])
        elif "offset" in body:
            self.clock.set_offset(body["offset"])
        elif "advance" in body:
            self.clock.advance(body["advance"])
        elif "check_skew" not in body:
            self.clock.reset()
        return self.clock.describe()

    def clear_events(self, body):
        self.events.clear()
        return {}

    def s3_bulk(self, body):
        versions = self.s3.bulk_load(body["bucket"], body.get("objects", []))
        return {"bucket": body["bucket"], "versions": versions}
