"""CloudWatch metrics (awsQuery, Version 2010-08-01, signing name
"monitoring"): PutMetricData, ListMetrics, GetMetricStatistics. What the
ssmbak Lambda's scheduled reconcile publishes, and what a test reads back.

API reference: https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/Welcome.html
- PutMetricData: Namespace required, not starting with "AWS/"; at most 1000
  MetricData members, each with MetricName, 30 Dimensions at most, Value
  (or Values/StatisticValues), Unit from the documented list.
- ListMetrics: filter by Namespace, MetricName and Dimensions.
- GetMetricStatistics: Datapoints of one metric (exact dimensions) between
  StartTime (inclusive) and EndTime (exclusive), one per Period.
Datapoints are kept in memory, per region.
"""
import datetime
import math
import threading

from .errors import AwsError
from .protocols import QUERY_AUTH_ERRORS, QueryService

NAMESPACE = "http://monitoring.amazonaws.com/doc/2010-08-01/"
# https://docs.aws.amazon.com/AmazonCloudWatch/latest/APIReference/API_MetricDatum.html
UNITS = ("Seconds", "Microseconds", "Milliseconds", "Bytes", "Kilobytes", "Megabytes",
         "Gigabytes", "Terabytes", "Bits", "Kilobits", "Megabits", "Gigabits", "Terabits",
         "Percent", "Count", "Bytes/Second", "Kilobytes/Second", "Megabytes/Second",
         "Gigabytes/Second", "Terabytes/Second", "Bits/Second", "Kilobits/Second",
         "Megabits/Second", "Gigabits/Second", "Terabits/Second", "Count/Second", "None")
STATISTICS = ("SampleCount", "Average", "Sum", "Minimum", "Maximum")


def invalid(message, code="InvalidParameterValue"):
    return AwsError(code, message, 400)


def members(params, prefix):
    """The numbered members prefix.member.1, .2, ... as dicts of their rest."""
    out = {}
    head = prefix + ".member."
    for key, value in params.items():
        if key.startswith(head):
            number, _, rest = key[len(head):].partition(".")
            if number.isdigit():
                out.setdefault(int(number), {})[rest] = value
    return [out[n] for n in sorted(out)]


def dimensions_of(member, prefix="Dimensions"):
    dims = members(member, prefix)
    if len(dims) > 30:
        raise invalid("The collection Dimensions must not have a size greater than 30.")
    out = []
    for d in dims:
        if not d.get("Name") or "Value" not in d:
            raise invalid("Each dimension needs a Name and a Value.",
                          "MissingParameter")
        out.append((d["Name"], d["Value"]))
    return tuple(sorted(out))


def parse_time(text):
    try:
        return datetime.datetime.fromisoformat(text.replace("Z", "+00:00")).timestamp()
    except ValueError:
        raise invalid(f"Invalid time {text!r}.")


class CloudWatchService(QueryService):
    name = "cloudwatch"
    signing_name = "monitoring"
    namespace = NAMESPACE
    AUTH_ERRORS = QUERY_AUTH_ERRORS
    actions = {
        "PutMetricData": "put_metric_data",
        "ListMetrics": "list_metrics",
        "GetMetricStatistics": "get_metric_statistics",
    }
    query_actions = tuple(actions)

    def __init__(self, clock):
        self.clock = clock
        self.lock = threading.Lock()
        self.points = {}   # (region, namespace, name, dimensions) -> [(time, value, unit)]

    def put_metric_data(self, params, ctx):
        namespace = params.get("Namespace")
        if not namespace:
            raise invalid("The parameter Namespace is required.", "MissingParameter")
        if namespace.startswith("AWS/"):
            raise invalid("The value AWS/ for parameter Namespace is invalid.")
        data = members(params, "MetricData")
        if not data:
            raise invalid("The parameter MetricData is required.", "MissingParameter")
        if len(data) > 1000:
            raise invalid("The collection MetricData must not have a size greater than 1000.")
        now = self.clock.now()
        taken = []
        for datum in data:
            name = datum.get("MetricName")
            if not name:
                raise invalid("The parameter MetricData.member.N.MetricName is required.",
                              "MissingParameter")
            unit = datum.get("Unit", "None")
            if unit not in UNITS:
                raise invalid(f"The value {unit} for parameter MetricData.member.N.Unit is "
                              "invalid.")
            try:
                value = float(datum["Value"])
            except (KeyError, ValueError):
                raise invalid("The parameter MetricData.member.N.Value is required and must "
                              "be a number.", "MissingParameter")
            if math.isnan(value) or math.isinf(value):
                raise invalid("The value for parameter MetricData.member.N.Value is invalid.")
            when = parse_time(datum["Timestamp"]) if datum.get("Timestamp") else now
            taken.append(((ctx.region, namespace, name, dimensions_of(datum)),
                          (when, value, unit)))
        with self.lock:
            for key, point in taken:
                self.points.setdefault(key, []).append(point)
        return []

    def list_metrics(self, params, ctx):
        wanted = [(d.get("Name"), d.get("Value")) for d in members(params, "Dimensions")]
        out = []
        with self.lock:
            keys = sorted(self.points)
        for region, namespace, name, dims in keys:
            if region != ctx.region:
                continue
            if params.get("Namespace") not in (None, namespace):
                continue
            if params.get("MetricName") not in (None, name):
                continue
            if any(not any(n == w and (v is None or v == x) for n, x in dims)
                   for w, v in wanted):
                continue
            out.append(("member", [("Namespace", namespace), ("MetricName", name),
                                   ("Dimensions", [("member", [("Name", n), ("Value", v)])
                                                   for n, v in dims])]))
        return [("Metrics", out)]

    def get_metric_statistics(self, params, ctx):
        for required in ("Namespace", "MetricName", "StartTime", "EndTime", "Period"):
            if not params.get(required):
                raise invalid(f"The parameter {required} is required.", "MissingParameter")
        start, end = parse_time(params["StartTime"]), parse_time(params["EndTime"])
        period = int(params["Period"])
        if period < 1:
            raise invalid("The parameter Period must be positive.")
        stats = [v for _, v in sorted((int(k.rsplit(".", 1)[1]), v) for k, v in params.items()
                                      if k.startswith("Statistics.member."))]
        if not stats or any(s not in STATISTICS for s in stats):
            raise invalid(f"Statistics must be some of {', '.join(STATISTICS)}.")
        key = (ctx.region, params["Namespace"], params["MetricName"], dimensions_of(params))
        with self.lock:
            points = [p for p in self.points.get(key, []) if start <= p[0] < end]
        buckets = {}
        for when, value, unit in points:
            buckets.setdefault(start + (when - start) // period * period, []).append((value, unit))
        out = []
        for begin in sorted(buckets):
            values = [v for v, _ in buckets[begin]]
            row = {"SampleCount": float(len(values)), "Sum": sum(values),
                   "Minimum": min(values), "Maximum": max(values),
                   "Average": sum(values) / len(values)}
            stamp = datetime.datetime.fromtimestamp(begin, datetime.timezone.utc)
            out.append(("member", [("Timestamp", stamp.strftime("%Y-%m-%dT%H:%M:%SZ")),
                                   *[(s, repr(row[s])) for s in stats],
                                   ("Unit", buckets[begin][0][1])]))
        return [("Label", params["MetricName"]), ("Datapoints", out)]
