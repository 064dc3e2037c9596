"""CloudWatch Logs (JSON 1.1, X-Amz-Target: Logs_20140328.<Operation>).

API reference: https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/Welcome.html
Filter syntax: https://docs.aws.amazon.com/AmazonCloudWatch/latest/logs/FilterAndPatternSyntax.html

Log groups are per region, in memory. Lambda writes its functions' output
here through `LogStore.put` (one event a line). `aws logs tail` is a
FilterLogEvents paginator with `interleaved: true` and, by default, a
`startTime` ten minutes back (awscli/customizations/logs/tail.py).
"""
import base64
import binascii
import re
import shlex
import threading

from .errors import AwsError
from .protocols import JSON_AUTH_ERRORS, JsonService

# https://docs.aws.amazon.com/AmazonCloudWatchLogs/latest/APIReference/API_PutRetentionPolicy.html
RETENTION_DAYS = (1, 3, 5, 7, 14, 30, 60, 90, 120, 150, 180, 365, 400, 545, 731, 1096, 1827,
                  2192, 2557, 2922, 3288, 3653)
GROUP_NAME = re.compile(r"[.\-_/#A-Za-z0-9]{1,512}")
STREAM_NAME = re.compile(r"[^:*]{1,512}")
MAX_PAGE = 50
MAX_EVENTS = 10000
DAY_MS = 86400 * 1000


def not_found(what="log group"):
    return AwsError("ResourceNotFoundException", f"The specified {what} does not exist.")


def invalid(message):
    return AwsError("InvalidParameterException", message)


def encode_token(index):
    return base64.urlsafe_b64encode(str(index).encode()).decode()


def decode_token(token):
    try:
        return int(base64.urlsafe_b64decode(token.encode()).decode())
    except (ValueError, binascii.Error, UnicodeDecodeError):
        raise invalid("The specified nextToken is invalid.")


class LogEvent:
    __slots__ = ("timestamp", "message", "ingestion", "event_id")

    def __init__(self, timestamp, message, ingestion, event_id):
        self.timestamp = timestamp
        self.message = message
        self.ingestion = ingestion
        self.event_id = event_id


class LogStream:
    def __init__(self, name, created):
        self.name = name
        self.created = created
        self.events = []                 # in arrival order
        self.last_ingestion = None


class LogGroup:
    def __init__(self, name, region, account, created):
        self.name = name
        self.arn = f"arn:aws:logs:{region}:{account}:log-group:{name}"
        self.created = created
        self.retention = None
        self.streams = {}


class LogStore:
    def __init__(self, clock, account):
        self.clock = clock
        self.account = account
        self.lock = threading.RLock()
        self.groups = {}                 # (region, name) -> LogGroup
        self._sequence = 0

    def now_ms(self):
        return int(self.clock.now() * 1000)

    def ensure_group(self, region, name):
        with self.lock:
            group = self.groups.get((region, name))
            if group is None:
                group = self.groups[(region, name)] = LogGroup(name, region, self.account,
                                                               self.now_ms())
            return group

    def ensure_stream(self, region, group_name, stream_name):
        with self.lock:
            group = self.ensure_group(region, group_name)
            stream = group.streams.get(stream_name)
            if stream is None:
                stream = group.streams[stream_name] = LogStream(stream_name, self.now_ms())
            return stream

    def put(self, region, group_name, stream_name, messages, timestamp=None):
        """Appends messages (one event each) at `timestamp` ms (default now)."""
        with self.lock:
            stream = self.ensure_stream(region, group_name, stream_name)
            now = self.now_ms()
            for message in messages:
                self._append(stream, now if timestamp is None else timestamp, message, now)

    def _append(self, stream, timestamp, message, ingestion):
        self._sequence += 1
        # Event ids are 56-digit strings on AWS; ours keep the same shape.
        event_id = f"{timestamp:020d}{self._sequence:036d}"
        stream.events.append(LogEvent(timestamp, message, ingestion, event_id))
        stream.last_ingestion = ingestion

    def live_events(self, group, stream):
        """The stream's events not yet expired by the group's retention."""
        if group.retention is None:
            return stream.events
        oldest = self.now_ms() - group.retention * DAY_MS
        return [e for e in stream.events if e.timestamp >= oldest]


class FilterPattern:
    """Unstructured filter patterns: terms that must all appear
    (case-sensitive), `"quoted phrases"`, `?term` (any of the ?-terms) and
    `-term` (must not appear). JSON and space-delimited patterns are not
    emulated and match nothing but what their literal text matches."""

    def __init__(self, text):
        try:
            tokens = shlex.split(text or "")
        except ValueError:
            raise invalid("Invalid character(s) in term '" + (text or "") + "'")
        self.required = [t for t in tokens if not t.startswith(("?", "-"))]
        self.optional = [t[1:] for t in tokens if t.startswith("?") and len(t) > 1]
        self.excluded = [t[1:] for t in tokens if t.startswith("-") and len(t) > 1]

    def matches(self, message):
        return (all(t in message for t in self.required)
                and (not self.optional or any(t in message for t in self.optional))
                and not any(t in message for t in self.excluded))


class LogsService(JsonService):
    name = signing_name = "logs"
    target_prefixes = ("Logs_20140328",)
    AUTH_ERRORS = JSON_AUTH_ERRORS
    operations = {
        "CreateLogGroup": "create_log_group", "DeleteLogGroup": "delete_log_group",
        "DescribeLogGroups": "describe_log_groups", "PutRetentionPolicy": "put_retention_policy",
        "DeleteRetentionPolicy": "delete_retention_policy",
        "CreateLogStream": "create_log_stream", "DeleteLogStream": "delete_log_stream",
        "DescribeLogStreams": "describe_log_streams", "PutLogEvents": "put_log_events",
        "GetLogEvents": "get_log_events", "FilterLogEvents": "filter_log_events",
    }

    def __init__(self, clock, account):
        self.store = LogStore(clock, account)

    def throttle_error(self):
        return AwsError("ThrottlingException", "Rate exceeded", 400)

    def internal_error(self):
        return AwsError("ServiceUnavailableException", "The service cannot complete the request.",
                        500, sender=False)

    # --- helpers ---

    def _group(self, params, ctx, key="logGroupName"):
        name = params.get(key) or params.get("logGroupIdentifier", "")
        if name.startswith("arn:"):
            name = name.split(":log-group:", 1)[-1].removesuffix(":*")
        group = self.store.groups.get((ctx.region, name))
        if group is None:
            raise not_found()
        return group

    @staticmethod
    def _check_group_name(name):
        if not GROUP_NAME.fullmatch(name or ""):
            raise invalid("1 validation error detected: Value '" + str(name) + "' at "
                          "'logGroupName' failed to satisfy constraint: Member must satisfy "
                          "regular expression pattern: [\\.\\-_/#A-Za-z0-9]+")

    @staticmethod
    def _limit(params, default, maximum):
        limit = params.get("limit", default)
        if not isinstance(limit, int) or not 1 <= limit <= maximum:
            raise invalid(f"1 validation error detected: Value '{limit}' at 'limit' failed to "
                          f"satisfy constraint: Member must have value less than or equal to "
                          f"{maximum}")
        return limit

    def _group_shape(self, group):
        shape = {"logGroupName": group.name, "creationTime": group.created,
                 "metricFilterCount": 0, "arn": group.arn + ":*", "logGroupArn": group.arn,
                 "storedBytes": sum(len(e.message.encode()) for s in group.streams.values()
                                    for e in s.events),
                 "logGroupClass": "STANDARD"}
        if group.retention is not None:
            shape["retentionInDays"] = group.retention
        return shape

    def _stream_shape(self, group, stream):
        events = self.store.live_events(group, stream)
        shape = {"logStreamName": stream.name, "creationTime": stream.created,
                 "arn": f"{group.arn}:log-stream:{stream.name}", "storedBytes": 0}
        if events:
            shape.update(firstEventTimestamp=min(e.timestamp for e in events),
                         lastEventTimestamp=max(e.timestamp for e in events),
                         lastIngestionTime=stream.last_ingestion)
        return shape

    # --- groups ---

    def create_log_group(self, params, ctx):
        name = params.get("logGroupName")
        self._check_group_name(name)
        with self.store.lock:
            if (ctx.region, name) in self.store.groups:
                raise AwsError("ResourceAlreadyExistsException",
                               "The specified log group already exists")
            self.store.ensure_group(ctx.region, name)
        return {}

    def delete_log_group(self, params, ctx):
        with self.store.lock:
            group = self._group(params, ctx)
            del self.store.groups[(ctx.region, group.name)]
        return {}

    def describe_log_groups(self, params, ctx):
        prefix = params.get("logGroupNamePrefix", "")
        pattern = params.get("logGroupNamePattern")
        if prefix and pattern:
            raise invalid("LogGroup name prefix and LogGroup name pattern are mutually exclusive "
                          "parameters.")
        limit = self._limit(params, MAX_PAGE, MAX_PAGE)
        with self.store.lock:
            groups = sorted((g for (region, _), g in self.store.groups.items() if region == ctx.region
                             and g.name.startswith(prefix)
                             and (not pattern or pattern.lower() in g.name.lower())),
                            key=lambda g: g.name)
            start = decode_token(params["nextToken"]) if params.get("nextToken") else 0
            page = groups[start:start + limit]
            out = {"logGroups": [self._group_shape(g) for g in page]}
        if start + limit < len(groups):
            out["nextToken"] = encode_token(start + limit)
        return out

    def put_retention_policy(self, params, ctx):
        days = params.get("retentionInDays")
        if days not in RETENTION_DAYS:
            raise invalid(f"1 validation error detected: Value '{days}' at 'retentionInDays' "
                          "failed to satisfy constraint: Member must satisfy enum value set: "
                          f"[{', '.join(map(str, RETENTION_DAYS))}]")
        with self.store.lock:
            self._group(params, ctx).retention = days
        return {}

    def delete_retention_policy(self, params, ctx):
        with self.store.lock:
            self._group(params, ctx).retention = None
        return {}

    # --- streams ---

    def create_log_stream(self, params, ctx):
        name = params.get("logStreamName", "")
        if not STREAM_NAME.fullmatch(name):
            raise invalid("1 validation error detected: Value '" + name + "' at 'logStreamName' "
                          "failed to satisfy constraint: Member must satisfy regular expression "
                          "pattern: [^:*]*")
        with self.store.lock:
            group = self._group(params, ctx)
            if name in group.streams:
                raise AwsError("ResourceAlreadyExistsException",
                               "The specified log stream already exists")
            self.store.ensure_stream(ctx.region, group.name, name)
        return {}

    def delete_log_stream(self, params, ctx):
        with self.store.lock:
            group = self._group(params, ctx)
            if group.streams.pop(params.get("logStreamName", ""), None) is None:
                raise not_found("log stream")
        return {}

    def describe_log_streams(self, params, ctx):
        """Ordered by name, or by last event time (then no prefix allowed)."""
        prefix = params.get("logStreamNamePrefix", "")
        order = params.get("orderBy", "LogStreamName")
        if order not in ("LogStreamName", "LastEventTime"):
            raise invalid(f"1 validation error detected: Value '{order}' at 'orderBy' failed to "
                          "satisfy constraint: Member must satisfy enum value set: "
                          "[LogStreamName, LastEventTime]")
        if prefix and order == "LastEventTime":
            raise invalid("Cannot order by LastEventTime with a logStreamNamePrefix.")
        limit = self._limit(params, MAX_PAGE, MAX_PAGE)
        with self.store.lock:
            group = self._group(params, ctx)
            shapes = [self._stream_shape(group, s) for s in group.streams.values()
                      if s.name.startswith(prefix)]
        if order == "LogStreamName":
            shapes.sort(key=lambda s: s["logStreamName"])
        else:
            shapes.sort(key=lambda s: (s.get("lastEventTimestamp", 0), s["logStreamName"]))
        if params.get("descending"):
            shapes.reverse()
        start = decode_token(params["nextToken"]) if params.get("nextToken") else 0
        out = {"logStreams": shapes[start:start + limit]}
        if start + limit < len(shapes):
            out["nextToken"] = encode_token(start + limit)
        return out

    # --- events ---

    def put_log_events(self, params, ctx):
        """Events of one call in chronological order; those more than 14
        days old or 2 hours ahead are rejected (API_PutLogEvents.html)."""
        events = params.get("logEvents") or []
        if not events:
            raise invalid("1 validation error detected: Value '[]' at 'logEvents' failed to "
                          "satisfy constraint: Member must have length greater than or equal to 1")
        stamps = [e.get("timestamp", 0) for e in events]
        if stamps != sorted(stamps):
            raise invalid("Log events in a single PutLogEvents request must be in chronological "
                          "order.")
        with self.store.lock:
            group = self._group(params, ctx)
            stream = group.streams.get(params.get("logStreamName", ""))
            if stream is None:
                raise not_found("log stream")
            now = self.store.now_ms()
            rejected = {}
            for index, event in enumerate(events):
                if event["timestamp"] < now - 14 * DAY_MS:
                    rejected["tooOldLogEventEndIndex"] = index + 1
                elif event["timestamp"] > now + 2 * 3600 * 1000:
                    rejected.setdefault("tooNewLogEventStartIndex", index)
                else:
                    self.store._append(stream, event["timestamp"], event.get("message", ""), now)
        out = {"nextSequenceToken": encode_token(len(stream.events))}
        if rejected:
            out["rejectedLogEventsInfo"] = rejected
        return out

    @staticmethod
    def _event_shape(event, stream=None):
        shape = {"timestamp": event.timestamp, "message": event.message,
                 "ingestionTime": event.ingestion}
        if stream is not None:
            shape.update(logStreamName=stream.name, eventId=event.event_id)
        return shape

    @staticmethod
    def _in_window(event, params):
        start, end = params.get("startTime"), params.get("endTime")
        return (start is None or event.timestamp >= start) and (end is None or event.timestamp < end)

    def get_log_events(self, params, ctx):
        """One stream. Tokens `f/N` and `b/N` bound a window; at either end
        the same token comes back, which ends botocore's paginator."""
        limit = self._limit(params, MAX_EVENTS, MAX_EVENTS)
        with self.store.lock:
            group = self._group(params, ctx)
            stream = group.streams.get(params.get("logStreamName", ""))
            if stream is None:
                raise not_found("log stream")
            events = [e for e in self.store.live_events(group, stream) if self._in_window(e, params)]
        token = params.get("nextToken")
        if token:
            direction, _, position = token.partition("/")
            if direction not in ("f", "b") or not position.isdigit():
                raise invalid("The specified nextToken is invalid.")
            position = int(position)
            if direction == "f":
                first, last = position, min(position + limit, len(events))
            else:
                first, last = max(position - limit, 0), position
        elif params.get("startFromHead"):
            first, last = 0, min(limit, len(events))
        else:
            first, last = max(len(events) - limit, 0), len(events)
        return {"events": [self._event_shape(e) for e in events[first:last]],
                "nextForwardToken": f"f/{last:056d}", "nextBackwardToken": f"b/{first:056d}"}

    def filter_log_events(self, params, ctx):
        names = params.get("logStreamNames")
        prefix = params.get("logStreamNamePrefix")
        if names and prefix:
            raise invalid("logStreamNames and logStreamNamePrefix are mutually exclusive "
                          "parameters.")
        limit = self._limit(params, MAX_EVENTS, MAX_EVENTS)
        pattern = FilterPattern(params.get("filterPattern"))
        with self.store.lock:
            group = self._group(params, ctx)
            streams = [s for s in group.streams.values()
                       if (names is None or s.name in names)
                       and (prefix is None or s.name.startswith(prefix))]
            if names and len(streams) != len(set(names)):
                raise not_found("log stream")
            found = [(e, s) for s in streams for e in self.store.live_events(group, s)
                     if self._in_window(e, params) and pattern.matches(e.message)]
        found.sort(key=lambda pair: (pair[0].timestamp, pair[0].event_id))
        start = decode_token(params["nextToken"]) if params.get("nextToken") else 0
        out = {"events": [self._event_shape(e, s) for e, s in found[start:start + limit]],
               "searchedLogStreams": [{"logStreamName": s.name, "searchedCompletely": True}
                                      for s in streams]}
        if start + limit < len(found):
            out["nextToken"] = encode_token(start + limit)
        return out
