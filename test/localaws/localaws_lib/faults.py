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
  malformed answer the request, then spoil the answer as `mutation` says
            (see MUTATIONS and malform below): what a broken proxy, a
            truncating middlebox or a hostile server would send
"""
import base64
import json
import random
import re
import threading
import urllib.parse
from xml.sax.saxutils import escape, unescape

from .ratelimit import RateLimiter

KINDS = ("throttle", "error500", "drop", "delay", "reset", "rate_limit", "markers_last",
         "malformed")
# Kinds that let the request through and change its answer.
SHAPING_KINDS = ("markers_last",)
MUTATIONS = ("body", "truncate", "wrong_types", "repeat_token", "oversize_header",
             "slow_drip", "reset_after_headers")


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
        self.malformed = Malformed(spec) if self.kind == "malformed" else None

    def matches(self, service, operation):
        return (self.service in ("*", service)
                and self.operation in ("*", operation)
                and self.remaining != 0)

    def describe(self):
        described = {"service": self.service, "operation": self.operation,
                     "kind": self.kind, "rate": self.rate, "count": self.remaining,
                     "delay_ms": self.delay_ms, "after": self.after, "fired": self.fired}
        if self.malformed is not None:
            described.update(self.malformed.describe())
        return described


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


# --- malformed answers ------------------------------------------------------

# The token localaws' SSM pagination reads as "from the first item on"
# (ssm.paginate: base64 of {"after": key}): a first page that had no
# NextToken gets this one, so the listing starts over.
SSM_TOKEN_FROM_START = base64.urlsafe_b64encode(json.dumps({"after": ""}).encode()).decode()
# curl refuses a header line over 100 KB (CURL_MAX_HTTP_HEADER), Python's
# http.client one over 64 KB.
DEFAULT_OVERSIZE = 200 * 1024


class Malformed:
    """What a `malformed` rule does to the answer it spoils.

    mutation:
      body              the answer's body is `body` (a string), its status
                        `status` if given, extra `headers` (name: value) set
      truncate          the body cut to `bytes` (default half), Content-Length
                        saying so: a complete answer with a cut document
      wrong_types       JSON: each top-level member (or only `members`) gets a
                        value of another type (list -> string, string ->
                        number, number -> string, object -> list, bool ->
                        string, null -> object); XML: the text of every leaf
                        element (or only those named in `members`) becomes an
                        element, `<Key><Wrong/></Key>`
      repeat_token      the answer's next token is the request's, so the same
                        page comes back for ever: JSON NextToken and query
                        (CloudFormation) NextToken (a first page without one
                        gets a token that starts over), S3
                        ListObjectVersions/ListObjects(V2) IsTruncated true
                        with the request's markers (a first page: its last
                        entry's)
      oversize_header   an `x-localaws-padding` header of `size` bytes
                        (default 200 KiB)
      slow_drip         the body sent one byte every `delay_ms` (default 100)
      reset_after_headers  status and headers (with the full Content-Length)
                        sent, then a TCP RST instead of the body
    """

    def __init__(self, spec):
        self.mutation = spec.get("mutation")
        if self.mutation not in MUTATIONS:
            raise ValueError(f"mutation must be one of {', '.join(MUTATIONS)}")
        self.body = spec.get("body")
        if self.mutation == "body" and not isinstance(self.body, str):
            raise ValueError("mutation body needs a body (a string)")
        self.status = spec.get("status")
        self.headers = dict(spec.get("headers") or {})
        self.bytes = spec.get("bytes")
        self.members = spec.get("members")
        self.size = int(spec.get("size", DEFAULT_OVERSIZE))
        self.drip_ms = int(spec.get("delay_ms", 100))

    def describe(self):
        return {"mutation": self.mutation}

    def spoil(self, response, request):
        """The spoiled response (the same object, changed)."""
        getattr(self, "_" + self.mutation)(response, request)
        return response

    def _body(self, response, request):
        response.body = self.body.encode("utf-8")
        if self.status is not None:
            response.status = int(self.status)
        set_headers(response, self.headers)

    def _truncate(self, response, request):
        keep = len(response.body) // 2 if self.bytes is None else int(self.bytes)
        response.body = response.body[:keep]

    def _wrong_types(self, response, request):
        if is_json(response):
            document = json.loads(response.body)
            if isinstance(document, dict):
                for name in list(document):
                    if self.members is None or name in self.members:
                        document[name] = wrong_json_type(document[name])
            response.body = json.dumps(document).encode("utf-8")
        else:
            response.body = wrong_xml_types(response.body, self.members)

    def _repeat_token(self, response, request):
        if is_json(response):
            response.body = repeat_json_token(response.body, request.body)
        elif request.action:
            response.body = repeat_query_token(response.body, request.action,
                                               request.params.get("NextToken"))
        else:
            response.body = repeat_xml_markers(response.body, request.query)

    def _oversize_header(self, response, request):
        response.headers.append(("x-localaws-padding", "x" * self.size))

    def _slow_drip(self, response, request):
        response.action = "slow_drip"
        response.drip_ms = self.drip_ms

    def _reset_after_headers(self, response, request):
        response.action = "reset_after_headers"


def set_headers(response, headers):
    for name, value in headers.items():
        response.headers = [(k, v) for k, v in response.headers if k.lower() != name.lower()]
        response.headers.append((name, value))


def is_json(response):
    content_type = (response.header("content-type") or "").lower()
    return "json" in content_type or response.body[:1] in (b"{", b"[")


def wrong_json_type(value):
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, list):
        return "not-a-list"
    if isinstance(value, dict):
        return [value]
    if isinstance(value, str):
        return 12345
    if isinstance(value, (int, float)):
        return "not-a-number"
    return {}


LEAF = re.compile(rb"<([A-Za-z][\w.-]*)>([^<]*)</\1>")


def wrong_xml_types(body, members):
    def spoil(match):
        name = match.group(1).decode()
        if members is not None and name not in members:
            return match.group(0)
        return b"<%s><Wrong/></%s>" % (match.group(1), match.group(1))
    return LEAF.sub(spoil, body)


def repeat_json_token(body, request_body):
    document = json.loads(body)
    try:
        asked = json.loads(request_body or b"{}").get("NextToken")
    except (ValueError, AttributeError):
        asked = None
    document["NextToken"] = asked or document.get("NextToken") or SSM_TOKEN_FROM_START
    return json.dumps(document).encode("utf-8")


# localaws' CloudFormation pages by offset: "0" is the first item on.
QUERY_TOKEN_FROM_START = "0"


def repeat_query_token(body, action, asked):
    """A query-protocol answer (CloudFormation, STS) whose NextToken is the
    request's, or one that starts over on a first page."""
    token = escape(asked or QUERY_TOKEN_FROM_START).encode()
    body = re.sub(rb"<NextToken>[^<]*</NextToken>", b"", body)
    end = b"</%sResult>" % action.encode()
    return body.replace(end, b"<NextToken>" + token + b"</NextToken>" + end, 1)


def xml_text(body, name):
    found = re.findall(rb"<%s>([^<]*)</%s>" % (name, name), body)
    return unescape(found[-1].decode()) if found else None


def repeat_xml_markers(body, query):
    """IsTruncated true, and the next markers those the request came with
    (encoded as the answer encodes keys), or the page's last entry's."""
    encode = (lambda key: urllib.parse.quote(key, safe="/")) \
        if query.get("encoding-type") == "url" else (lambda key: key)
    body = re.sub(rb"<IsTruncated>[^<]*</IsTruncated>", b"<IsTruncated>true</IsTruncated>", body)
    body = re.sub(rb"<(NextKeyMarker|NextVersionIdMarker|NextMarker|NextContinuationToken)>"
                  rb"[^<]*</\1>", b"", body)
    if "versions" in query:
        key = encode(query["key-marker"]) if query.get("key-marker") else \
            xml_text(body, b"Key") or "localaws-repeat"
        version = query.get("version-id-marker") or xml_text(body, b"VersionId") or ""
        markers = (f"<NextKeyMarker>{escape(key)}</NextKeyMarker>"
                   f"<NextVersionIdMarker>{escape(version)}</NextVersionIdMarker>")
    elif query.get("list-type") == "2":
        token = query.get("continuation-token") or "localaws-repeat"
        markers = f"<NextContinuationToken>{escape(token)}</NextContinuationToken>"
    else:
        marker = encode(query["marker"]) if query.get("marker") else \
            xml_text(body, b"Key") or "localaws-repeat"
        markers = f"<NextMarker>{escape(marker)}</NextMarker>"
    return body.replace(b"<IsTruncated>true</IsTruncated>",
                        b"<IsTruncated>true</IsTruncated>" + markers.encode(), 1)
