"""EventBridge (JSON 1.1, X-Amz-Target: AWSEvents.<Operation>): rules on
the default bus, their targets, PutEvents, and delivery to SQS queues.

API reference:  https://docs.aws.amazon.com/eventbridge/latest/APIReference/Welcome.html
Event patterns: https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-event-patterns.html
                https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-create-pattern-operators.html

Services' events (events.EventBus: SSM's "Parameter Store Change") and
PutEvents entries are matched against the ENABLED rules of their region's
default bus; every target of a matching rule gets the event JSON as an SQS
message body (or the target's Input / InputPath). Delivery is synchronous,
so the message is in the queue when the API call that caused it returns,
unless the control endpoint holds deliveries (`hold`, then `release` in
order or reversed) to make them late and reordered. Rules are in memory.
"""
import copy
import datetime
import ipaddress
import json
import logging
import operator
import re
import threading
import uuid

from .clock import iso_seconds, parse_time
from .errors import AwsError
from .protocols import JSON_AUTH_ERRORS, JsonService

log = logging.getLogger("localaws.eventbridge")

DEFAULT_BUS = "default"
RULE_NAME = re.compile(r"[.\-_A-Za-z0-9]{1,64}")
TARGET_ID = re.compile(r"[.\-_A-Za-z0-9]{1,64}")
MAX_TARGETS_PER_RULE = 5
MAX_PUT_EVENTS = 10
MISSING = object()
NUMERIC_OPERATORS = {"=": operator.eq, "<": operator.lt, "<=": operator.le,
                     ">": operator.gt, ">=": operator.ge}


# --- event patterns: a pure part, tested alone ---

class PatternError(ValueError):
    pass


def validate_pattern(pattern, top=True):
    """Raises PatternError unless `pattern` is an event pattern EventBridge takes."""
    if not isinstance(pattern, dict):
        raise PatternError("Filter is not an object" if top else "Match value must be an object")
    if top and not pattern:
        raise PatternError("Empty objects are not allowed")
    for key, value in pattern.items():
        if key == "$or":
            if not isinstance(value, list) or len(value) < 2:
                raise PatternError("Or must have at least 2 alternatives")
            for alternative in value:
                validate_pattern(alternative, top=False)
        elif isinstance(value, dict):
            validate_pattern(value, top=False)
        elif isinstance(value, list):
            if not value:
                raise PatternError("Empty arrays are not allowed")
            for matcher in value:
                _validate_matcher(matcher)
        else:
            raise PatternError(f"Match value must be String, number, true, false, or null "
                               f"(field {key!r})")


def _validate_matcher(matcher):
    if matcher is None or isinstance(matcher, (str, int, float, bool)):
        return
    if not isinstance(matcher, dict) or len(matcher) != 1:
        raise PatternError("Match value must be String, number, true, false, or null")
    (kind, value), = matcher.items()
    if kind in ("prefix", "suffix"):
        if isinstance(value, dict) and list(value) == ["equals-ignore-case"]:
            value = value["equals-ignore-case"]
        if not isinstance(value, str):
            raise PatternError(f"{kind} match pattern must be a string")
    elif kind in ("equals-ignore-case", "wildcard"):
        if not isinstance(value, str):
            raise PatternError(f"{kind} match pattern must be a string")
    elif kind == "anything-but":
        if isinstance(value, dict):
            if len(value) != 1 or next(iter(value)) not in (
                    "prefix", "suffix", "equals-ignore-case", "wildcard"):
                raise PatternError("Unsupported anything-but pattern")
        elif isinstance(value, list):
            if not value or any(isinstance(v, (dict, list)) for v in value):
                raise PatternError("Inside anything but list, start|null|boolean is not supported.")
        elif not isinstance(value, (str, int, float)) or isinstance(value, bool):
            raise PatternError("Inside anything but list, start|null|boolean is not supported.")
    elif kind == "numeric":
        if not isinstance(value, list) or len(value) not in (2, 4):
            raise PatternError("Value of numeric must be an array.")
        for op, number in zip(value[::2], value[1::2]):
            if op not in ("=", "<", "<=", ">", ">=") or isinstance(number, bool) \
                    or not isinstance(number, (int, float)):
                raise PatternError(f"Unrecognized numeric range operator: {op}")
    elif kind == "exists":
        if not isinstance(value, bool):
            raise PatternError("exists match pattern must be either true or false.")
    elif kind == "cidr":
        try:
            ipaddress.ip_network(value, strict=False)
        except (TypeError, ValueError):
            raise PatternError(f"Malformed CIDR, {value!r}")
    else:
        raise PatternError(f"Unrecognized match type {kind}")


def matches(pattern, event):
    """Whether `event` (a dict) matches `pattern` (a validated pattern):
    every field of the pattern must match (AND); a leaf array matches when
    any of its matchers matches any value of the field (OR); a missing
    field matches only `{"exists": false}`."""
    for key, value in pattern.items():
        if key == "$or":
            if not any(matches(alternative, event) for alternative in value):
                return False
            continue
        field = event.get(key, MISSING) if isinstance(event, dict) else MISSING
        if isinstance(value, dict):
            if not matches(value, field if isinstance(field, dict) else {}):
                return False
        elif not any(_leaf_matches(matcher, field) for matcher in value):
            return False
    return True


def _leaf_matches(matcher, field):
    if isinstance(matcher, dict) and "exists" in matcher:
        present = field is not MISSING and not isinstance(field, dict)
        return present == matcher["exists"]
    if field is MISSING:
        return False
    values = field if isinstance(field, list) else [field]
    return any(_value_matches(matcher, v) for v in values)


def _same(expected, value):
    if expected is None or isinstance(expected, bool) or isinstance(value, bool):
        return expected is value or (expected == value and type(expected) is type(value))
    if isinstance(expected, (int, float)):
        return isinstance(value, (int, float)) and float(expected) == float(value)
    return isinstance(value, str) and expected == value


def _wildcard(pattern, value):
    """`*` matches any run of characters; `\\*` is a literal star."""
    parts = re.split(r"(?<!\\)\*", pattern)
    regex = ".*".join(re.escape(part.replace("\\*", "*")) for part in parts)
    return re.fullmatch(regex, value, re.S) is not None


def _value_matches(matcher, value):
    if not isinstance(matcher, dict):
        return _same(matcher, value)
    (kind, operand), = matcher.items()
    if kind in ("prefix", "suffix"):
        if not isinstance(value, str):
            return False
        fold = isinstance(operand, dict)
        text = operand["equals-ignore-case"] if fold else operand
        subject, text = (value.lower(), text.lower()) if fold else (value, text)
        return subject.startswith(text) if kind == "prefix" else subject.endswith(text)
    if kind == "equals-ignore-case":
        return isinstance(value, str) and value.lower() == operand.lower()
    if kind == "wildcard":
        return isinstance(value, str) and _wildcard(operand, value)
    if kind == "numeric":
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            return False
        return all(NUMERIC_OPERATORS[op](float(value), float(n))
                   for op, n in zip(operand[::2], operand[1::2]))
    if kind == "cidr":
        try:
            return ipaddress.ip_address(value) in ipaddress.ip_network(operand, strict=False)
        except (TypeError, ValueError):
            return False
    if kind == "anything-but":
        if isinstance(operand, dict):
            inner = dict(operand)
            if "equals-ignore-case" in inner and isinstance(inner["equals-ignore-case"], list):
                return isinstance(value, str) and value.lower() not in {
                    v.lower() for v in inner["equals-ignore-case"]}
            return isinstance(value, str) and not _value_matches(inner, value)
        excluded = operand if isinstance(operand, list) else [operand]
        return not any(_same(e, value) for e in excluded)
    return False


# --- rules and delivery ---

class Rule:
    def __init__(self, name, bus, region, account):
        self.name = name
        self.bus = bus
        self.region = region
        self.account = account
        self.arn = (f"arn:aws:events:{region}:{account}:rule/{name}" if bus == DEFAULT_BUS
                    else f"arn:aws:events:{region}:{account}:rule/{bus}/{name}")
        self.pattern_text = None
        self.pattern = None
        self.schedule = None
        self.state = "ENABLED"
        self.description = None
        self.role_arn = None
        self.targets = {}                # id -> target dict as given


def input_path(event, path):
    """A JSONPath of plain member names ($, $.detail, $.detail.name)."""
    if path in ("$", ""):
        return event
    if not path.startswith("$."):
        raise ValueError(path)
    value = event
    for part in path[2:].split("."):
        value = value.get(part) if isinstance(value, dict) else None
    return value


class Delivery:
    """Hands matched events to targets; can hold them for the control API."""

    def __init__(self, sqs_store):
        self.sqs = sqs_store
        self.invokers = {}               # ARN service ("lambda") -> callable(arn, payload)
        self.lock = threading.Lock()
        self.holding = None              # None, or a set of rule names ("*" = every rule)
        self.held = []
        self.delivered = 0
        self.dropped = 0
        self.failed = []

    def hold(self, rule=None):
        with self.lock:
            self.holding = (self.holding or set()) | {rule or "*"}

    def release(self, order="fifo", rule=None):
        with self.lock:
            mine = [h for h in self.held if rule is None or h[0] == rule]
            self.held = [h for h in self.held if h not in mine]
            if self.holding and rule is not None:
                self.holding.discard(rule)
            if rule is None or not self.holding:
                self.holding = None
        if order == "drop":
            # EventBridge delivers best effort: what was held is lost.
            with self.lock:
                self.dropped += len(mine)
            return len(mine)
        if order == "reverse":
            mine.reverse()
        elif order != "fifo":
            raise ValueError("order must be fifo, reverse or drop")
        for _, arn, payload in mine:
            self._send(arn, payload)
        return len(mine)

    def deliver(self, rule, arn, payload):
        with self.lock:
            if self.holding and ("*" in self.holding or rule.name in self.holding):
                self.held.append((rule.name, arn, payload))
                return
        self._send(arn, payload)

    def _send(self, arn, payload):
        service = arn.split(":")[2] if arn.count(":") >= 5 else ""
        try:
            if service == "sqs":
                queue = self.sqs.by_arn(arn)
                if queue is None:
                    raise LookupError(f"no queue {arn}")
                # EventBridge's own principal sends the message.
                self.sqs.send(queue, payload, sender_id=queue.account)
            elif service in self.invokers:
                self.invokers[service](arn, payload)
            else:
                raise LookupError(f"targets of {service or arn!r} are not emulated")
            with self.lock:
                self.delivered += 1
        except Exception as error:
            log.warning("delivery to %s failed: %s", arn, error)
            with self.lock:
                self.failed.append({"arn": arn, "error": str(error)})

    def describe(self):
        with self.lock:
            return {"holding": sorted(self.holding or []), "held": len(self.held),
                    "delivered": self.delivered, "dropped": self.dropped, "failed": list(self.failed)}


def not_found(rule, bus=DEFAULT_BUS):
    return AwsError("ResourceNotFoundException", f"Rule {rule} does not exist on EventBus {bus}.")


def validation(message):
    return AwsError("ValidationException", message)


class EventBridgeService(JsonService):
    name = signing_name = "events"
    target_prefixes = ("AWSEvents",)
    AUTH_ERRORS = JSON_AUTH_ERRORS
    operations = {
        "PutRule": "put_rule", "DescribeRule": "describe_rule", "DeleteRule": "delete_rule",
        "ListRules": "list_rules", "EnableRule": "enable_rule", "DisableRule": "disable_rule",
        "PutTargets": "put_targets", "ListTargetsByRule": "list_targets_by_rule",
        "RemoveTargets": "remove_targets", "PutEvents": "put_events",
        "TestEventPattern": "test_event_pattern",
    }

    def __init__(self, clock, account, sqs_store):
        self.clock = clock
        self.account = account
        self.lock = threading.RLock()
        self.rules = {}                  # (region, bus, name) -> Rule
        self.delivery = Delivery(sqs_store)

    def internal_error(self):
        return AwsError("InternalException", "An internal error occurred.", 500, sender=False)

    # --- matching ---

    def on_event(self, event):
        """events.EventBus subscriber: the services' events."""
        self.route(event)

    def route(self, event):
        with self.lock:
            # An account's events reach its own bus only.
            rules = [r for (region, bus, _), r in self.rules.items()
                     if region == event.get("region") and bus == DEFAULT_BUS
                     and r.account == event.get("account", r.account)
                     and r.state == "ENABLED" and r.pattern is not None
                     and matches(r.pattern, event)]
            work = [(r, dict(t)) for r in rules for t in r.targets.values()]
        for rule, target in work:
            try:
                payload = self._payload(target, event)
            except (ValueError, TypeError) as error:
                log.warning("rule %s target %s: bad input: %s", rule.name, target["Id"], error)
                continue
            self.delivery.deliver(rule, target["Arn"], payload)

    @staticmethod
    def _payload(target, event):
        if target.get("Input") is not None:
            return target["Input"]
        if target.get("InputPath"):
            return json.dumps(input_path(event, target["InputPath"]), separators=(",", ":"))
        return json.dumps(event, separators=(",", ":"), ensure_ascii=False)

    # --- helpers ---

    def _bus(self, params):
        bus = params.get("EventBusName") or DEFAULT_BUS
        if bus.startswith("arn:"):
            bus = bus.rsplit("/", 1)[-1]
        if bus != DEFAULT_BUS:
            raise AwsError("ResourceNotFoundException", f"Event bus {bus} does not exist.")
        return bus

    def _rule(self, params, ctx, key="Name"):
        bus = self._bus(params)
        rule = self.rules.get((ctx.region, bus, params.get(key, "")))
        if rule is None:
            raise not_found(params.get(key, ""), bus)
        return rule

    @staticmethod
    def _parse_pattern(text):
        try:
            pattern = json.loads(text)
            validate_pattern(pattern)
        except (ValueError, RecursionError) as error:
            raise AwsError("InvalidEventPatternException",
                           f"Event pattern is not valid. Reason: {error}")
        return pattern

    # --- rules ---

    def put_rule(self, params, ctx):
        """Creates or updates (https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutRule.html)."""
        name = params.get("Name", "")
        if not RULE_NAME.fullmatch(name):
            raise validation(f"1 validation error detected: Value '{name}' at 'name' failed to "
                             "satisfy constraint: Member must satisfy regular expression pattern: "
                             "[\\.\\-_A-Za-z0-9]+")
        pattern_text, schedule = params.get("EventPattern"), params.get("ScheduleExpression")
        if not pattern_text and not schedule:
            raise validation("Parameter(s) EventPattern or ScheduleExpression must be specified.")
        state = params.get("State", "ENABLED")
        if state not in ("ENABLED", "DISABLED"):
            raise validation(f"1 validation error detected: Value '{state}' at 'state' failed to "
                             "satisfy constraint: Member must satisfy enum value set: "
                             "[ENABLED, DISABLED]")
        pattern = self._parse_pattern(pattern_text) if pattern_text else None
        bus = self._bus(params)
        with self.lock:
            rule = self.rules.get((ctx.region, bus, name))
            if rule is None:
                rule = self.rules[(ctx.region, bus, name)] = Rule(name, bus, ctx.region, ctx.account)
            rule.pattern_text, rule.pattern, rule.schedule = pattern_text, pattern, schedule
            rule.state = state
            rule.description = params.get("Description")
            rule.role_arn = params.get("RoleArn")
        return {"RuleArn": rule.arn}

    def _rule_shape(self, rule):
        shape = {"Name": rule.name, "Arn": rule.arn, "State": rule.state,
                 "EventBusName": rule.bus}
        for key, value in (("EventPattern", rule.pattern_text), ("Description", rule.description),
                           ("ScheduleExpression", rule.schedule), ("RoleArn", rule.role_arn)):
            if value:
                shape[key] = value
        return shape

    def describe_rule(self, params, ctx):
        with self.lock:
            return {**self._rule_shape(self._rule(params, ctx)), "CreatedBy": ctx.account}

    def delete_rule(self, params, ctx):
        """A rule with targets cannot be deleted; deleting a missing rule succeeds."""
        bus = self._bus(params)
        with self.lock:
            rule = self.rules.get((ctx.region, bus, params.get("Name", "")))
            if rule is None:
                return {}
            if rule.targets and not params.get("Force"):
                raise validation("Rule can't be deleted since it has targets.")
            del self.rules[(ctx.region, bus, rule.name)]
        return {}

    def list_rules(self, params, ctx):
        bus = self._bus(params)
        prefix = params.get("NamePrefix", "")
        limit = int(params.get("Limit") or 100)
        start = int(params.get("NextToken") or 0)
        with self.lock:
            rules = sorted((r for (region, b, n), r in self.rules.items()
                            if region == ctx.region and b == bus and n.startswith(prefix)),
                           key=lambda r: r.name)
            out = {"Rules": [self._rule_shape(r) for r in rules[start:start + limit]]}
        if start + limit < len(rules):
            out["NextToken"] = str(start + limit)
        return out

    def enable_rule(self, params, ctx):
        with self.lock:
            self._rule(params, ctx).state = "ENABLED"
        return {}

    def disable_rule(self, params, ctx):
        with self.lock:
            self._rule(params, ctx).state = "DISABLED"
        return {}

    # --- targets ---

    def put_targets(self, params, ctx):
        targets = params.get("Targets") or []
        if not 1 <= len(targets) <= 10:
            raise validation("1 validation error detected: Value at 'targets' failed to satisfy "
                             "constraint: Member must have length less than or equal to 10")
        failed = []
        with self.lock:
            rule = self._rule(params, ctx, "Rule")
            for target in targets:
                target_id, arn = target.get("Id", ""), target.get("Arn", "")
                if not TARGET_ID.fullmatch(target_id) or not arn.startswith("arn:"):
                    raise validation(f"Parameter {arn or target_id!r} is not valid.")
                if target_id not in rule.targets and len(rule.targets) >= MAX_TARGETS_PER_RULE:
                    failed.append({"TargetId": target_id, "ErrorCode": "LimitExceededException",
                                   "ErrorMessage": "The requested resource exceeds the maximum "
                                                   "number allowed."})
                    continue
                if target.get("InputPath"):
                    try:
                        input_path({}, target["InputPath"])
                    except ValueError:
                        raise validation(f"Parameter InputPath is not valid: {target['InputPath']}")
                rule.targets[target_id] = copy.deepcopy(target)
        return {"FailedEntryCount": len(failed), "FailedEntries": failed}

    def list_targets_by_rule(self, params, ctx):
        limit = int(params.get("Limit") or 100)
        start = int(params.get("NextToken") or 0)
        with self.lock:
            targets = sorted(self._rule(params, ctx, "Rule").targets.values(), key=lambda t: t["Id"])
            out = {"Targets": copy.deepcopy(targets[start:start + limit])}
        if start + limit < len(targets):
            out["NextToken"] = str(start + limit)
        return out

    def remove_targets(self, params, ctx):
        with self.lock:
            rule = self._rule(params, ctx, "Rule")
            for target_id in params.get("Ids") or []:
                rule.targets.pop(target_id, None)
        return {"FailedEntryCount": 0, "FailedEntries": []}

    # --- events ---

    def put_events(self, params, ctx):
        """https://docs.aws.amazon.com/eventbridge/latest/APIReference/API_PutEvents.html:
        failures are per entry; `aws.*` sources are reserved for AWS."""
        entries = params.get("Entries") or []
        if not 1 <= len(entries) <= MAX_PUT_EVENTS:
            raise validation("1 validation error detected: Value at 'entries' failed to satisfy "
                             "constraint: Member must have length less than or equal to 10")
        results, failed = [], 0
        for entry in entries:
            try:
                event = self._event(entry, ctx)
            except AwsError as error:
                failed += 1
                results.append({"ErrorCode": error.code, "ErrorMessage": error.message})
                continue
            self.route(event)
            results.append({"EventId": event["id"]})
        return {"FailedEntryCount": failed, "Entries": results}

    def _event(self, entry, ctx):
        self._bus(entry)
        for key in ("Source", "DetailType", "Detail"):
            if not entry.get(key):
                raise AwsError("InvalidArgument", f"Parameter {key} is not valid. Reason: "
                               f"{key} is a required argument.")
        if entry["Source"].startswith("aws."):
            raise AwsError("NotAuthorizedForSourceException", "Not authorized for the source.")
        try:
            detail = json.loads(entry["Detail"])
        except ValueError:
            detail = None
        if not isinstance(detail, dict):
            raise AwsError("MalformedDetail", "Detail is malformed.")
        when = entry.get("Time")
        return {"version": "0", "id": str(uuid.uuid4()), "detail-type": entry["DetailType"],
                "source": entry["Source"], "account": ctx.account,
                "time": iso_seconds(parse_time(when) if when is not None else self.clock.now()),
                "region": ctx.region, "resources": list(entry.get("Resources") or []),
                "detail": detail}

    def test_event_pattern(self, params, ctx):
        pattern = self._parse_pattern(params.get("EventPattern", ""))
        try:
            event = json.loads(params.get("Event", ""))
        except ValueError:
            raise validation("Parameter Event is not valid.")
        return {"Result": matches(pattern, event)}

    # --- control endpoint ---

    def control_hold(self, body, query):
        self.delivery.hold(body.get("rule") or query.get("rule"))
        return self.delivery.describe()

    def control_release(self, body, query):
        order = body.get("order") or query.get("order") or "fifo"
        released = self.delivery.release(order, body.get("rule") or query.get("rule"))
        return {"released": released, **self.delivery.describe()}

    def scheduled_event(self, rule):
        """What a schedule rule hands its targets.
        https://docs.aws.amazon.com/eventbridge/latest/userguide/eb-run-lambda-schedule.html"""
        now = datetime.datetime.fromtimestamp(int(self.clock.now()), datetime.timezone.utc)
        return {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                "source": "aws.events", "account": rule.account,
                "time": now.strftime("%Y-%m-%dT%H:%M:%SZ"), "region": rule.region,
                "resources": [rule.arn], "detail": {}}

    def control_schedule(self, body, query):
        """Fires the enabled schedule rules now (one, with {"rule": NAME}),
        instead of waiting for their rate."""
        name = body.get("rule") or query.get("rule")
        with self.lock:
            rules = [r for r in self.rules.values() if r.schedule and r.state == "ENABLED"
                     and (name is None or r.name == name)]
            work = [(r, dict(t)) for r in rules for t in r.targets.values()]
        for rule, target in work:
            payload = self._payload(target, self.scheduled_event(rule))
            self.delivery.deliver(rule, target["Arn"], payload)
        return {"fired": len(work), **self.delivery.describe()}

    def control_state(self, body, query):
        return self.delivery.describe()
