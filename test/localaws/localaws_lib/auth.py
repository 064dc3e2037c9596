"""Credentials and SigV4 verification.

Every signed request's signature is recomputed with botocore's own signer
(SigV4Auth, or S3SigV4Auth for S3) from what was received: method, raw
path, query, body and only the headers named in SignedHeaders, with the
request's X-Amz-Date as the signing time. Services turn an AuthFailure into
their own error with a table of their own (see e.g. ssm.AUTH_ERRORS).

SigV4 reference: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-create-signed-request.html
"""
import calendar
import email.utils
import hashlib
import hmac
import os
import re
import secrets
import string
import threading
import time

from botocore.auth import S3SigV4Auth, SigV4Auth
from botocore.awsrequest import AWSRequest, HTTPHeaders
from botocore.credentials import Credentials

from .clock import amz_date, iso_seconds

# Requests more than 15 minutes away from the server's clock are refused
# (https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_sigv-signing-elements.html).
MAX_SKEW_SECONDS = 15 * 60
ALGORITHM = "AWS4-HMAC-SHA256"
UNSIGNED_PAYLOAD = "UNSIGNED-PAYLOAD"
EMPTY_SHA256 = hashlib.sha256(b"").hexdigest()
_AUTH_FIELD = re.compile(r"\s*(Credential|SignedHeaders|Signature)\s*=\s*([^,\s]*)\s*")


class AuthFailure(Exception):
    """Why a request was refused; `kind` selects the service's error."""

    def __init__(self, kind, **details):
        super().__init__(kind)
        self.kind = kind
        self.details = details


class Principal:
    """Who signed the request, as GetCallerIdentity tells it."""

    def __init__(self, arn, user_id, account, access_key):
        self.arn = arn
        self.user_id = user_id
        self.account = account
        self.access_key = access_key


class CredentialStore:
    """Static key pairs from LOCALAWS_CREDENTIALS (each its account's root
    user), IAM users' access keys (iam.py) and STS-issued ones."""

    def __init__(self, clock, account, static_pairs):
        self._clock = clock
        self.account = account
        # key -> (secret, account); a pair without an account is the default one's
        self._static = {key: value if isinstance(value, tuple) else (value, account)
                        for key, value in dict(static_pairs).items()}
        self._long_term = {}   # IAM users' keys: key -> {"secret", "arn", "user_id"}
        self._temporary = {}
        self._lock = threading.Lock()
        self.on_change = lambda: None

    @staticmethod
    def parse_pairs(text):
        """`AKID:SECRET,AKID2:SECRET2:111111111111` -> {AKID: SECRET, AKID2:
        (SECRET2, "111111111111")}: a third field puts the key pair in
        another account (the root user of 111111111111)."""
        pairs = {}
        for item in (text or "").split(","):
            if item.strip():
                key, _, rest = item.strip().partition(":")
                secret, _, account = rest.partition(":")
                pairs[key] = (secret, account) if account else secret
        return pairs

    def lookup(self, access_key):
        """(secret, session token or None, expiration or None, Principal)."""
        if access_key in self._static:
            secret, account = self._static[access_key]
            principal = Principal(f"arn:aws:iam::{account}:root", account, account, access_key)
            return secret, None, None, principal
        with self._lock:
            user = self._long_term.get(access_key)
            temp = self._temporary.get(access_key)
        if user is not None:
            return user["secret"], None, None, Principal(user["arn"], user["user_id"],
                                                         self.account, access_key)
        if temp is None:
            return None
        principal = Principal(temp["arn"], temp["user_id"], account_of(temp["arn"], self.account),
                              access_key)
        return temp["secret"], temp["token"], temp["expiration"], principal

    def add_long_term(self, access_key, secret, arn, user_id):
        """An IAM user's access key (CreateAccessKey)."""
        with self._lock:
            self._long_term[access_key] = {"secret": secret, "arn": arn, "user_id": user_id}

    def remove_long_term(self, access_key):
        with self._lock:
            self._long_term.pop(access_key, None)

    def issue(self, arn, user_id, duration_seconds):
        """New temporary credentials for an assumed role (STS)."""
        access_key = "ASIA" + "".join(secrets.choice(string.ascii_uppercase + string.digits)
                                      for _ in range(16))
        secret = secrets.token_urlsafe(30)[:40]
        token = "IQoJb3JpZ2luX2VjE" + secrets.token_urlsafe(180)
        expiration = self._clock.now() + duration_seconds
        with self._lock:
            self._temporary[access_key] = {
                "secret": secret, "token": token, "expiration": expiration,
                "arn": arn, "user_id": user_id}
        self.on_change()
        return {"AccessKeyId": access_key, "SecretAccessKey": secret,
                "SessionToken": token, "Expiration": iso_seconds(expiration)}

    def to_json(self):
        with self._lock:
            return dict(self._temporary)

    def load_json(self, data):
        with self._lock:
            self._temporary = dict(data or {})


def account_of(arn, default):
    """The account of an assumed-role ARN (arn:aws:sts::ACCOUNT:assumed-role/...):
    credentials of a role in another account act in that account, which is
    how localaws simulates an organization's member accounts
    (organizations.py)."""
    parts = (arn or "").split(":")
    return parts[4] if len(parts) > 5 and parts[4].isdigit() and len(parts[4]) == 12 else default


def default_store(clock):
    account = os.environ.get("LOCALAWS_ACCOUNT", "000000000000")
    pairs = CredentialStore.parse_pairs(os.environ.get("LOCALAWS_CREDENTIALS", "test:test"))
    return CredentialStore(clock, account, pairs)


class SignedRequest:
    """The parts of the Authorization header and the credential scope."""

    def __init__(self, header):
        algorithm, _, rest = header.strip().partition(" ")
        if algorithm != ALGORITHM:
            raise AuthFailure("malformed", reason="algorithm", algorithm=algorithm)
        fields = {}
        for part in rest.split(","):
            match = _AUTH_FIELD.fullmatch(part)
            if not match:
                raise AuthFailure("malformed", reason="field", part=part)
            fields[match.group(1)] = match.group(2)
        missing = [f for f in ("Credential", "SignedHeaders", "Signature") if f not in fields]
        if missing:
            raise AuthFailure("malformed", reason="missing", missing=missing)
        scope = fields["Credential"].split("/")
        if len(scope) != 5 or scope[4] != "aws4_request":
            raise AuthFailure("malformed", reason="credential", credential=fields["Credential"])
        self.access_key, self.date, self.region, self.service, _ = scope
        self.signed_headers = fields["SignedHeaders"].split(";")
        self.signature = fields["Signature"]


def credential_scope(request):
    """(access key, region, service) from Authorization, or None."""
    header = request.header("authorization")
    if not header:
        return None
    try:
        signed = SignedRequest(header)
    except AuthFailure:
        return None
    return signed.access_key, signed.region, signed.service


class _ExactHeadersMixin:
    """Sign exactly the headers handed over (the request's SignedHeaders).

    botocore's own headers_to_sign skips a blacklist (user-agent, expect...)
    that it never signs itself; another client may sign them, and AWS then
    includes them, so the verifier must too.
    """

    def headers_to_sign(self, request):
        headers = HTTPHeaders()
        for name, value in request.headers.items():
            headers[name.lower()] = value
        return headers


class _GenericVerifier(_ExactHeadersMixin, SigV4Auth):
    pass


class _S3Verifier(_ExactHeadersMixin, S3SigV4Auth):
    """S3: no path normalisation; the payload hash is x-amz-content-sha256."""

    content_sha256 = None

    def payload(self, request):
        return self.content_sha256


def request_timestamp(request):
    """The signing time as `YYYYMMDDTHHMMSSZ`, from X-Amz-Date or Date."""
    value = request.header("x-amz-date")
    if value:
        try:
            time.strptime(value, "%Y%m%dT%H%M%SZ")
        except ValueError:
            raise AuthFailure("missing_date", value=value)
        return value
    value = request.header("date")
    if value:
        parsed = email.utils.parsedate_tz(value)
        if parsed:
            return amz_date(email.utils.mktime_tz(parsed))
    raise AuthFailure("missing_date", value=value)


def timestamp_epoch(stamp):
    return calendar.timegm(time.strptime(stamp, "%Y%m%dT%H%M%SZ"))


def verify(request, signing_name, store, clock):
    """The Principal that signed `request` for `signing_name`, or AuthFailure."""
    header = request.header("authorization")
    if not header:
        raise AuthFailure("missing")
    signed = SignedRequest(header)
    secret, principal = _check_credentials(request, signed, store, clock)
    stamp = request_timestamp(request)
    _check_time(stamp, signed, signing_name, clock)
    content_sha256 = _check_content_sha256(request, signing_name)
    _check_signature(request, signed, secret, stamp, signing_name, content_sha256)
    return principal, signed.region


def _check_credentials(request, signed, store, clock):
    found = store.lookup(signed.access_key)
    if found is None:
        raise AuthFailure("unknown_key", access_key=signed.access_key)
    secret, token, expiration, principal = found
    presented = request.header("x-amz-security-token")
    if token is None:
        if presented:
            raise AuthFailure("bad_token", access_key=signed.access_key)
        return secret, principal
    if not presented:
        # A temporary key alone is not a credential AWS knows.
        raise AuthFailure("unknown_key", access_key=signed.access_key)
    if not hmac.compare_digest(presented, token):
        raise AuthFailure("bad_token", access_key=signed.access_key)
    if clock.now() >= expiration:
        raise AuthFailure("expired_token", access_key=signed.access_key)
    return secret, principal


def _check_time(stamp, signed, signing_name, clock):
    now = clock.now()
    request_time = timestamp_epoch(stamp)
    if clock.check_skew and abs(now - request_time) > MAX_SKEW_SECONDS:
        raise AuthFailure("skew", request_time=request_time, server_time=now,
                          stamp=stamp, early=request_time < now)
    if signed.date != stamp[:8]:
        raise AuthFailure("scope_date", scope_date=signed.date, stamp=stamp)
    if signed.service != signing_name:
        raise AuthFailure("scope_service", expected=signing_name, got=signed.service)


def _check_content_sha256(request, signing_name):
    """S3 requires x-amz-content-sha256 and checks it against the body."""
    if signing_name != "s3":
        return None
    declared = request.header("x-amz-content-sha256")
    if not declared:
        raise AuthFailure("content_sha_missing")
    if declared == UNSIGNED_PAYLOAD or declared.startswith("STREAMING-"):
        return declared
    actual = hashlib.sha256(request.body).hexdigest()
    if declared.lower() != actual:
        raise AuthFailure("content_sha_mismatch", declared=declared, actual=actual)
    return declared


def _check_signature(request, signed, secret, stamp, signing_name, content_sha256):
    headers = HTTPHeaders()
    for name in signed.signed_headers:
        for value in request.header_values(name):
            headers[name] = value
    url = f"{request.scheme}://{request.header('host') or 'localhost'}{request.raw_path}"
    aws_request = AWSRequest(method=request.method, url=url, data=request.body,
                             headers=headers, params=list(request.query_pairs))
    aws_request.context["timestamp"] = stamp
    credentials = Credentials(signed.access_key, secret)
    if signing_name == "s3":
        signer = _S3Verifier(credentials, signed.service, signed.region)
        signer.content_sha256 = content_sha256
    else:
        signer = _GenericVerifier(credentials, signed.service, signed.region)
    canonical_request = signer.canonical_request(aws_request)
    string_to_sign = signer.string_to_sign(aws_request, canonical_request)
    expected = signer.signature(string_to_sign, aws_request)
    if not hmac.compare_digest(expected, signed.signature):
        raise AuthFailure("signature", access_key=signed.access_key,
                          canonical_request=canonical_request,
                          string_to_sign=string_to_sign,
                          signature_provided=signed.signature)
