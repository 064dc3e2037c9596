"""Fault injection: rules that make matching requests fail on purpose.

A rule matches a service and an operation (or "*"), fires with probability
`rate` (default 1) and, when `count` is given, only for that many more
firings; `after` lets that many matching requests through first. Kinds:
  throttle  the service's throttling error (S3 503 SlowDown, SSM 400
            ThrottlingException, STS 400 Throttling)
  error500  the service's internal error, HTTP 500
  drop      close the connection without answering
  reset     abort the connection with a TCP RST (SO_LINGER 0)
  delay     wait delay_ms, then answer normally
  rate_limit  the throttling error once an operation exceeds AWS's default
            rate (ratelimit.py; `scale`, `rates`)
  markers_last  ListObjectVersions lists a page's versions first, then its
            delete markers (what moto does), not interleaved as S3 does
"""
import random
import threading

from .ratelimit import RateLimiter

KINDS = ("throttle", "error500", "drop", "delay", "reset", "rate_limit", "markers_last")
# Kinds that let the request through and change its answer.
SHAPING_KINDS = ("markers_last",)


class FaultRule:
    def __init__(self, spec):
        self.service = spec.get("service", "*")
        self.operation = spec.get("operation", "*")
        self.kind = spec["kind"]
        if self.kind not in KINDS:
            raise ValueError(f"kind must be one of {', '.join(KINDS)}")
        self.rate = float(spec.get("rate", 1.0))
        count = spec.get("count")
        self.remaining = None if count is None else int(count)
        self.delay_ms = int(spec.get("delay_ms", 0))
        self.after = int(spec.get("after", 0))
        self.fired = 0
        self.limiter = RateLimiter(spec) if self.kind == "rate_limit" else None

    def matches(self, service, operation):
        return (self.service in ("*", service)
                and self.operation in ("*", operation)
                and self.remaining != 0)

    def describe(self):
        return {"service": self.service, "operation": self.operation,
                "kind": self.kind, "rate": self.rate, "count": self.remaining,
                "delay_ms": self.delay_ms, "after": self.after, "fired": self.fired}


class Faults:
    def __init__(self, rng=None):
        self._lock = threading.Lock()
        self._rules = []
        self._random = rng or random.Random()

    def add(self, spec):
        rule = FaultRule(spec)
        with self._lock:
            self._rules.append(rule)
        return rule.describe()

    def clear(self):
        with self._lock:
            self._rules.clear()

    def list(self):
        with self._lock:
            return [rule.describe() for rule in self._rules]

    def pick(self, service, operation, request=None):
        """The rule that fires for this request, or None."""
        with self._lock:
            for rule in self._rules:
                if not rule.matches(service, operation):
                    continue
                if rule.after > 0:
                    rule.after -= 1
                    continue
                if rule.limiter is not None and rule.limiter.allows(service, operation, request):
                    continue
                if self._random.random() >= rule.rate:
                    continue
                if rule.remaining is not None:
                    rule.remaining -= 1
                rule.fired += 1
                return rule
        return None
