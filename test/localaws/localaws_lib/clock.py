"""The emulator's clock: wall time, shifted or frozen by the control API.

Every timestamp the emulator produces (SSM LastModifiedDate, event times,
S3 LastModified, STS expirations) and the SigV4 skew check read this clock,
so tests can move time without sleeping.
"""
import datetime
import threading
import time


def parse_time(value):
    """Epoch seconds from an epoch number or an ISO-8601 string (Z or offset)."""
    if isinstance(value, (int, float)):
        return float(value)
    text = str(value).strip()
    if text.endswith("Z"):
        text = text[:-1] + "+00:00"
    moment = datetime.datetime.fromisoformat(text)
    if moment.tzinfo is None:
        moment = moment.replace(tzinfo=datetime.timezone.utc)
    return moment.timestamp()


def iso_seconds(epoch):
    """`2024-06-13T01:54:26Z`: EventBridge's `time` and STS's Expiration."""
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(epoch))


def iso_millis(epoch):
    """`2024-06-13T01:54:26.123Z`: S3's XML timestamps."""
    whole = int(epoch)
    millis = int(round((epoch - whole) * 1000))
    if millis == 1000:
        whole, millis = whole + 1, 0
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(whole)) + f".{millis:03d}Z"


def iso_whole_seconds(epoch):
    """`2024-06-13T01:54:26.000Z`: S3's XML timestamps. S3 keeps
    LastModified to the second: listings print `.000Z` and the
    Last-Modified header (RFC 1123) has seconds
    (https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html,
    response example)."""
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(int(epoch))) + ".000Z"


def http_date(epoch):
    """RFC 1123 date, as S3's Last-Modified header and HTTP Date."""
    return time.strftime("%a, %d %b %Y %H:%M:%S GMT", time.gmtime(epoch))


def amz_date(epoch):
    """`20240613T015426Z`: the X-Amz-Date format."""
    return time.strftime("%Y%m%dT%H%M%SZ", time.gmtime(epoch))


class Clock:
    """Wall clock plus an offset, or a fixed instant."""

    def __init__(self):
        self._lock = threading.Lock()
        self._offset = 0.0
        self._fixed = None
        # SigV4's 15-minute window is checked against this clock. Tests that
        # move it far from real time while signing with real time may turn
        # the check off (not an AWS behaviour: a test convenience).
        self.check_skew = True

    def now(self):
        with self._lock:
            if self._fixed is not None:
                return self._fixed
            return time.time() + self._offset

    def set_offset(self, seconds):
        with self._lock:
            self._fixed, self._offset = None, float(seconds)

    def set_fixed(self, value):
        with self._lock:
            self._fixed = parse_time(value)

    def advance(self, seconds):
        with self._lock:
            if self._fixed is not None:
                self._fixed += float(seconds)
            else:
                self._offset += float(seconds)

    def reset(self):
        with self._lock:
            self._fixed, self._offset = None, 0.0
            self.check_skew = True

    def describe(self):
        now = self.now()
        with self._lock:
            return {"now": iso_millis(now), "epoch": now, "offset": self._offset,
                    "fixed": self._fixed is not None, "check_skew": self.check_skew}
