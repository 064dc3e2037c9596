"""AWS's default request rates, for the fault kind `rate_limit`.

A rate_limit rule throttles a request when its operation has used up its
rate: a token bucket per (service, operation) for SSM, and per (bucket,
key prefix, read or write) for S3, each refilling at the rate per second
and holding at most one second's worth (a burst of `rate`). The answer is
the service's throttling error, exactly as for the `throttle` kind (SSM:
HTTP 400 ThrottlingException "Rate exceeded"; S3: 503 SlowDown).

Default rates (transactions per second):
- SSM GetParameter, GetParameters, GetParametersByPath: 40, the default
  throughput (https://docs.aws.amazon.com/general/latest/gr/ssm.html,
  "Max throughput"; https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-throughput.html).
- SSM PutParameter: 3 with the default throughput (AWS Support's answer
  quoted in github-aws-runners/terraform-aws-github-runner#2944; 10 with
  higher throughput).
- SSM GetParameterHistory, DescribeParameters, DeleteParameter(s),
  LabelParameterVersion: AWS publishes no figure; 3, like PutParameter
  (DescribeParameters throttles after a few requests a second:
  segmentio/chamber#34).
- S3: 3,500 PUT/COPY/POST/DELETE and 5,500 GET/HEAD requests per second
  per partitioned prefix
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html).

Rule fields: `scale` multiplies every rate (a test that cannot wait for 3
a second at 1,000 parameters uses scale 10: the same shape, ten times
faster), `rates` overrides single operations ({"PutParameter": 5}).
"""
import threading
import time
import urllib.parse

SSM_RATES = {
    "GetParameter": 40, "GetParameters": 40, "GetParametersByPath": 40,
    "PutParameter": 3, "GetParameterHistory": 3, "DescribeParameters": 3,
    "DeleteParameter": 3, "DeleteParameters": 3, "LabelParameterVersion": 3,
}
S3_WRITE_RATE, S3_READ_RATE = 3500, 5500
S3_READS = frozenset(("GET", "HEAD"))


class TokenBucket:
    def __init__(self, rate, now):
        self.rate = rate
        self.capacity = max(1.0, rate)
        self.tokens = self.capacity
        self.stamp = now

    def take(self, now):
        """True when a request may go now (and counts it)."""
        self.tokens = min(self.capacity, self.tokens + (now - self.stamp) * self.rate)
        self.stamp = now
        if self.tokens >= 1.0:
            self.tokens -= 1.0
            return True
        return False


def s3_prefix(request):
    """(bucket, key prefix up to the last slash): S3 scales per prefix."""
    path = urllib.parse.unquote(request.path.split("?", 1)[0])
    bucket, _, key = path.lstrip("/").partition("/")
    return bucket, key.rpartition("/")[0]


class RateLimiter:
    def __init__(self, spec):
        self.scale = float(spec.get("scale", 1.0))
        if self.scale <= 0:
            raise ValueError("scale must be positive")
        self.overrides = {str(k): float(v) for k, v in (spec.get("rates") or {}).items()}
        self._buckets = {}
        self._lock = threading.Lock()

    def _rate(self, service, operation, request):
        if operation in self.overrides:
            return self.overrides[operation] * self.scale
        if service == "ssm":
            rate = SSM_RATES.get(operation)
        elif service == "s3":
            read = request is not None and request.method in S3_READS
            rate = S3_READ_RATE if read else S3_WRITE_RATE
        else:
            rate = None
        return None if rate is None else rate * self.scale

    def _scope(self, service, operation, request):
        if service == "s3" and request is not None:
            return (service, request.method in S3_READS) + s3_prefix(request)
        return (service, operation)

    def allows(self, service, operation, request=None):
        rate = self._rate(service, operation, request)
        if rate is None:
            return True
        scope = self._scope(service, operation, request)
        now = time.monotonic()
        with self._lock:
            bucket = self._buckets.get(scope)
            if bucket is None:
                bucket = self._buckets[scope] = TokenBucket(rate, now)
            return bucket.take(now)
