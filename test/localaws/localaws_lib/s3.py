"""S3 (REST-XML, path-style addressing: /BUCKET/KEY).

API reference: https://docs.aws.amazon.com/AmazonS3/latest/API/API_Operations_Amazon_Simple_Storage_Service.html
Error codes:   https://docs.aws.amazon.com/AmazonS3/latest/API/ErrorResponses.html

The request path is percent-decoded exactly once, so keys keep leading or
doubled slashes, spaces, `+` and unicode exactly as sent (`/app/db/url` is
requested as /BUCKET//app/db/url).
"""
import base64
import binascii
import hashlib
import json
import re
import secrets
import urllib.parse
import xml.etree.ElementTree as ET

from .clock import http_date, iso_millis, iso_whole_seconds, parse_time
from .errors import AwsError
from .iam import Denied
from .protocols import Service
from . import s3_replication
from .s3_store import (NULL_VERSION, Bucket, ObjectVersion, S3Store, looks_like_version_id,
                       walk_objects, walk_versions)
from .server import Response, next_sequence
from .xmlutil import document

NS = "http://s3.amazonaws.com/doc/2006-03-01/"
MAX_KEYS = 1000
MAX_KEY_BYTES = 1024
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingMetadata.html:
# user-defined metadata is limited to 2 KB (keys and values, UTF-8 bytes).
MAX_METADATA_BYTES = 2048
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/object-tagging.html
MAX_TAGS, MAX_TAG_KEY, MAX_TAG_VALUE = 10, 128, 256
TAG_CHARACTERS = re.compile(r"[\w +\-=.:/@]*")
# https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucketnamingrules.html
BUCKET_NAME = re.compile(r"[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]")
STORED_HEADERS = ("Cache-Control", "Content-Disposition", "Content-Encoding",
                  "Content-Language", "Expires")
SSE_VALUES = ("AES256", "aws:kms", "aws:kms:dsse")


# --- errors -----------------------------------------------------------------

def no_such_bucket(name):
    return AwsError("NoSuchBucket", "The specified bucket does not exist", 404, {"BucketName": name})


def no_such_key(key, headers=None):
    return AwsError("NoSuchKey", "The specified key does not exist.", 404, {"Key": key}, headers)


def no_such_version(key, version_id):
    return AwsError("NoSuchVersion", "The specified version does not exist.", 404,
                    {"Key": key, "VersionId": version_id})


def invalid_argument(message, name, value):
    return AwsError("InvalidArgument", message, 400,
                    {"ArgumentName": name, "ArgumentValue": value})


def malformed_xml():
    return AwsError("MalformedXML", "The XML you provided was not well-formed or did not "
                    "validate against our published schema", 400)


def delete_marker_not_allowed(method, version):
    """405 for operations on a delete marker, with the marker's headers."""
    return AwsError("MethodNotAllowed", "The specified method is not allowed against this resource.",
                    405, {"Method": method, "ResourceType": "DeleteMarker"},
                    {"x-amz-delete-marker": "true", "x-amz-version-id": version.version_id,
                     "Last-Modified": http_date(version.last_modified), "Allow": "DELETE"})


def precondition_failed(condition):
    return AwsError("PreconditionFailed", "At least one of the pre-conditions you specified "
                    "did not hold", 412, {"Condition": condition})


def conditional_request_conflict():
    return AwsError("ConditionalRequestConflict", "The conditional request cannot succeed due "
                    "to a conflicting operation against this resource.", 409)


def _unquoted(etag):
    """S3 compares ETags with or without their quotes
    (https://github.com/versity/versitygw/issues/1710, checked against S3)."""
    etag = etag.strip()
    if etag.startswith("W/"):
        etag = etag[2:]
    return etag[1:-1] if len(etag) >= 2 and etag[0] == etag[-1] == '"' else etag


def access_denied(message):
    return AwsError("AccessDenied", message, 403)


def s3_permissions(operation, request, bucket, key):
    """[(action, resource ARN)] an S3 request needs
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/using-with-s3-policy-actions.html):
    a versionId selects the *Version actions; PutObject with x-amz-tagging
    needs s3:PutObjectTagging too. DeleteObjects is checked per key."""
    versioned = "versionId" in request.query
    bucket_arn = f"arn:aws:s3:::{bucket}"
    object_arn = f"{bucket_arn}/{key}"
    table = {
        "ListBuckets": [("s3:ListAllMyBuckets", "*")],
        "CreateBucket": [("s3:CreateBucket", bucket_arn)],
        "HeadBucket": [("s3:ListBucket", bucket_arn)],
        "DeleteBucket": [("s3:DeleteBucket", bucket_arn)],
        "GetBucketLocation": [("s3:GetBucketLocation", bucket_arn)],
        "GetBucketAcl": [("s3:GetBucketAcl", bucket_arn)],
        "PutBucketReplication": [("s3:PutReplicationConfiguration", bucket_arn)],
        "GetBucketReplication": [("s3:GetReplicationConfiguration", bucket_arn)],
        "DeleteBucketReplication": [("s3:PutReplicationConfiguration", bucket_arn)],
        "GetBucketVersioning": [("s3:GetBucketVersioning", bucket_arn)],
        "PutBucketVersioning": [("s3:PutBucketVersioning", bucket_arn)],
        "ListObjectVersions": [("s3:ListBucketVersions", bucket_arn)],
        "ListObjectsV2": [("s3:ListBucket", bucket_arn)],
        "ListObjects": [("s3:ListBucket", bucket_arn)],
        "DeleteObjects": [],
        "PutBucketPolicy": [("s3:PutBucketPolicy", bucket_arn)],
        "GetBucketPolicy": [("s3:GetBucketPolicy", bucket_arn)],
        "DeleteBucketPolicy": [("s3:DeleteBucketPolicy", bucket_arn)],
        "PutBucketEncryption": [("s3:PutEncryptionConfiguration", bucket_arn)],
        "GetBucketEncryption": [("s3:GetEncryptionConfiguration", bucket_arn)],
        "DeleteBucketEncryption": [("s3:PutEncryptionConfiguration", bucket_arn)],
        "PutObject": [("s3:PutObject", object_arn)] +
        ([("s3:PutObjectTagging", object_arn)] if request.header("x-amz-tagging") else []),
        "GetObject": [("s3:GetObjectVersion" if versioned else "s3:GetObject", object_arn)],
        "HeadObject": [("s3:GetObjectVersion" if versioned else "s3:GetObject", object_arn)],
        "DeleteObject": [("s3:DeleteObjectVersion" if versioned else "s3:DeleteObject",
                          object_arn)],
        "GetObjectTagging": [("s3:GetObjectVersionTagging" if versioned
                              else "s3:GetObjectTagging", object_arn)],
        "PutObjectTagging": [("s3:PutObjectVersionTagging" if versioned
                              else "s3:PutObjectTagging", object_arn)],
        "DeleteObjectTagging": [("s3:DeleteObjectVersionTagging" if versioned
                                 else "s3:DeleteObjectTagging", object_arn)],
    }
    return table.get(operation, [])


def _hex_bytes(text):
    return " ".join(f"{b:02x}" for b in text.encode("utf-8"))


# AuthFailure kind -> (code, HTTP status, message, extra <Error> fields).
AUTH_ERRORS = {
    "missing": ("AccessDenied", 403, "Access Denied", lambda d: {}),
    "missing_date": ("AccessDenied", 403, "AWS authentication requires a valid Date or "
                     "x-amz-date header", lambda d: {}),
    "malformed": ("AuthorizationHeaderMalformed", 400, "The authorization header is malformed; "
                  "the Credential is mal-formed.", lambda d: {}),
    "unknown_key": ("InvalidAccessKeyId", 403, "The AWS Access Key Id you provided does not exist "
                    "in our records.", lambda d: {"AWSAccessKeyId": d["access_key"]}),
    "bad_token": ("InvalidToken", 400, "The provided token is malformed or otherwise invalid.",
                  lambda d: {}),
    "expired_token": ("ExpiredToken", 400, "The provided token has expired.", lambda d: {}),
    "skew": ("RequestTimeTooSkewed", 403, "The difference between the request time and the "
             "current time is too large.",
             lambda d: {"RequestTime": d["stamp"], "ServerTime": iso_millis(d["server_time"]),
                        "MaxAllowedSkewMilliseconds": 900000}),
    "scope_date": ("AuthorizationHeaderMalformed", 400, "The authorization header is malformed; "
                   "Invalid credential date. Date is not the same as X-Amz-Date.", lambda d: {}),
    "scope_service": ("AuthorizationHeaderMalformed", 400, "The authorization header is "
                      "malformed; incorrect service \"{got}\". This endpoint belongs to \"s3\".",
                      lambda d: {}),
    "content_sha_missing": ("InvalidRequest", 400, "Missing required header for this request: "
                            "x-amz-content-sha256", lambda d: {}),
    "content_sha_mismatch": ("XAmzContentSHA256Mismatch", 400, "The provided "
                             "'x-amz-content-sha256' header does not match what was computed.",
                             lambda d: {"ClientComputedContentSHA256": d["declared"],
                                        "S3ComputedContentSHA256": d["actual"]}),
    # Like S3, show what was signed so a client author can diff it.
    "signature": ("SignatureDoesNotMatch", 403, "The request signature we calculated does not "
                  "match the signature you provided. Check your key and signing method.",
                  lambda d: {"AWSAccessKeyId": d["access_key"],
                             "StringToSign": d["string_to_sign"],
                             "SignatureProvided": d["signature_provided"],
                             "StringToSignBytes": _hex_bytes(d["string_to_sign"]),
                             "CanonicalRequest": d["canonical_request"],
                             "CanonicalRequestBytes": _hex_bytes(d["canonical_request"])}),
}


def _auth_error(failure):
    code, status, message, fields = AUTH_ERRORS[failure.kind]
    return AwsError(code, message.format(**failure.details), status, fields(failure.details))


# --- request parsing helpers ---------------------------------------------------

def split_path(path):
    """/BUCKET/KEY -> (bucket, key); key None for bucket-level requests."""
    bucket, slash, key = path[1:].partition("/")
    return bucket, (key if slash and key else None)


def parse_xml(body):
    """Root element of a request body, namespaces stripped."""
    try:
        root = ET.fromstring(body)
    except ET.ParseError:
        raise malformed_xml()
    for element in root.iter():
        element.tag = element.tag.rpartition("}")[2]
    return root


def child_text(element, tag, default=None):
    found = element.find(tag)
    return default if found is None or found.text is None else found.text


def validate_tags(pairs):
    if len(pairs) > MAX_TAGS:
        raise AwsError("BadRequest", "Object tags cannot be greater than 10", 400)
    seen = set()
    for key, value in pairs:
        if key in seen:
            raise AwsError("InvalidTag", "Cannot provide multiple Tags with the same key", 400,
                           {"TagKey": key})
        seen.add(key)
        if key.lower().startswith("aws:"):
            raise AwsError("InvalidTag", "Your TagKey cannot be prefixed with aws:", 400, {"TagKey": key})
        if not 1 <= len(key) <= MAX_TAG_KEY or not TAG_CHARACTERS.fullmatch(key):
            raise AwsError("InvalidTag", "The TagKey you have provided is invalid", 400, {"TagKey": key})
        if len(value) > MAX_TAG_VALUE or not TAG_CHARACTERS.fullmatch(value):
            raise AwsError("InvalidTag", "The TagValue you have provided is invalid", 400,
                           {"TagKey": key, "TagValue": value})
    return pairs


def tags_from_header(value):
    """x-amz-tagging: URL-encoded query parameters, no duplicate names."""
    try:
        pairs = urllib.parse.parse_qsl(value, keep_blank_values=True, strict_parsing=True,
                                       errors="strict")
    except (ValueError, UnicodeDecodeError):
        pairs = None
    if pairs is None or len({k for k, _ in pairs}) != len(pairs):
        raise invalid_argument("The header 'x-amz-tagging' shall be encoded as UTF-8 then "
                               "URLEncoded URL query parameters without tag name duplicates.",
                               "x-amz-tagging", value)
    return validate_tags(pairs)


def tags_from_xml(body):
    root = parse_xml(body)
    tag_set = root.find("TagSet")
    if root.tag != "Tagging" or tag_set is None:
        raise malformed_xml()
    pairs = []
    for tag in tag_set.findall("Tag"):
        key = child_text(tag, "Key")
        if key is None:
            raise malformed_xml()
        pairs.append((key, child_text(tag, "Value", "")))
    return validate_tags(pairs)


def user_metadata(request):
    metadata = {}
    for name, value in request.headers.items():
        if name.lower().startswith("x-amz-meta-"):
            metadata[name.lower()[len("x-amz-meta-"):]] = value
    size = sum(len(k.encode()) + len(v.encode("utf-8", "surrogateescape")) for k, v in metadata.items())
    if size > MAX_METADATA_BYTES:
        raise AwsError("MetadataTooLarge", "Your metadata headers exceed the maximum allowed "
                       "metadata size", 400, {"Size": size, "MaxSizeAllowed": MAX_METADATA_BYTES})
    return metadata


def check_content_md5(request):
    """Content-MD5 must be the base64 MD5 of the body (BadDigest otherwise)."""
    declared = request.header("content-md5")
    if declared is None:
        return
    try:
        digest = base64.b64decode(declared, validate=True)
    except (binascii.Error, ValueError):
        digest = b""
    if len(digest) != 16:
        raise AwsError("InvalidDigest", "The Content-MD5 you specified was invalid.", 400,
                       {"Content-MD5": declared})
    if digest != hashlib.md5(request.body).digest():
        raise AwsError("BadDigest", "The Content-MD5 you specified did not match what we received.",
                       400, {"ExpectedDigest": declared,
                             "CalculatedDigest": base64.b64encode(hashlib.md5(request.body).digest()).decode()})


def parse_max_keys(request):
    raw = request.query.get("max-keys")
    if raw is None:
        return MAX_KEYS
    try:
        value = int(raw)
    except ValueError:
        raise invalid_argument("Provided max-keys not an integer or within integer range", "max-keys", raw)
    if value < 0:
        raise invalid_argument("Argument maxKeys must be an integer between 0 and 2147483647",
                               "maxKeys", raw)
    return min(value, MAX_KEYS)


def url_encoder(request):
    """encoding-type=url: keys come back URL-encoded (space as '+')."""
    encoding = request.query.get("encoding-type")
    if encoding is None:
        return None, lambda text: text
    if encoding != "url":
        raise invalid_argument("Invalid Encoding Method specified in Request", "encoding-type", encoding)
    return "url", lambda text: urllib.parse.quote_plus(text, safe="/") if text else text


def markers_last(entries):
    """The fault kind markers_last: a page's versions, then its delete
    markers, then its CommonPrefixes, as moto lists them; S3 itself
    interleaves each key's versions and markers newest first (the example
    in https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html;
    aws/aws-sdk-java-v2#1620, aws/aws-sdk-go-v2#3164, minio/minio#9959)."""
    def rank(entry):
        if entry[0] == "prefix":
            return 2
        return 1 if entry[1].delete_marker else 0
    return sorted(entries, key=rank)


# --- the service ------------------------------------------------------------------

BUCKET_OPERATIONS = {
    # (method, subresource) -> operation; subresource None: plain bucket URL
    ("GET", None): "ListObjects", ("GET", "list-type"): "ListObjectsV2",
    ("GET", "versions"): "ListObjectVersions", ("GET", "versioning"): "GetBucketVersioning",
    ("GET", "location"): "GetBucketLocation", ("PUT", None): "CreateBucket",
    ("PUT", "versioning"): "PutBucketVersioning", ("HEAD", None): "HeadBucket",
    ("DELETE", None): "DeleteBucket", ("POST", "delete"): "DeleteObjects",
    ("GET", "acl"): "GetBucketAcl",
    ("PUT", "replication"): "PutBucketReplication", ("GET", "replication"): "GetBucketReplication",
    ("DELETE", "replication"): "DeleteBucketReplication",
    ("PUT", "policy"): "PutBucketPolicy", ("GET", "policy"): "GetBucketPolicy",
    ("DELETE", "policy"): "DeleteBucketPolicy", ("PUT", "encryption"): "PutBucketEncryption",
    ("GET", "encryption"): "GetBucketEncryption",
    ("DELETE", "encryption"): "DeleteBucketEncryption",
}
OBJECT_OPERATIONS = {
    ("GET", None): "GetObject", ("HEAD", None): "HeadObject", ("PUT", None): "PutObject",
    ("DELETE", None): "DeleteObject", ("GET", "tagging"): "GetObjectTagging",
    ("PUT", "tagging"): "PutObjectTagging", ("DELETE", "tagging"): "DeleteObjectTagging",
}
# Query parameters that select a sub-resource rather than parameterise a call.
SUBRESOURCES = ("versioning", "versions", "location", "list-type", "delete", "tagging",
                "acl", "policy", "cors", "lifecycle", "encryption", "uploads", "uploadId",
                "website", "logging", "notification", "replication", "ownershipControls",
                "publicAccessBlock", "object-lock", "retention", "legal-hold", "attributes",
                "restore", "select", "accelerate", "analytics", "inventory", "metrics",
                "intelligent-tiering", "requestPayment", "torrent")


# A regional S3 endpoint's host: s3.REGION.DOMAIN (dualstack too).
REGIONAL_HOST = re.compile(r"(^|\.)s3\.(?:dualstack\.)?([a-z]{2}(?:-[a-z]+)+-\d+)\..*$")


class S3Service(Service):
    name = signing_name = "s3"

    def __init__(self, clock, changed, iam=None, kms=None):
        self.clock = clock
        self.changed = changed
        self.iam = iam      # iam.IamStore: who may do what (None: everyone)
        self.kms = kms      # kms.KmsStore: SSE-KMS keys (None: SSE-KMS refused)
        self.store = S3Store()
        # (bucket, key) -> server.next_sequence() of the key's last write:
        # a conditional write that arrived before it was in flight then.
        self.last_write = {}
        self.handlers = {
            "ListBuckets": self.list_buckets, "CreateBucket": self.create_bucket,
            "HeadBucket": self.head_bucket, "DeleteBucket": self.delete_bucket,
            "GetBucketLocation": self.get_bucket_location, "GetBucketAcl": self.get_bucket_acl,
            "GetBucketVersioning": self.get_bucket_versioning,
            "PutBucketVersioning": self.put_bucket_versioning,
            "ListObjectVersions": self.list_object_versions,
            "ListObjectsV2": self.list_objects_v2, "ListObjects": self.list_objects,
            "DeleteObjects": self.delete_objects,
            "PutObject": self.put_object, "GetObject": self.get_object,
            "HeadObject": self.get_object, "DeleteObject": self.delete_object,
            "GetObjectTagging": self.get_object_tagging,
            "PutObjectTagging": self.put_object_tagging,
            "DeleteObjectTagging": self.delete_object_tagging,
            "PutBucketReplication": self.put_bucket_replication,
            "GetBucketReplication": self.get_bucket_replication,
            "DeleteBucketReplication": self.delete_bucket_replication,
            "PutBucketPolicy": self.put_bucket_policy,
            "GetBucketPolicy": self.get_bucket_policy,
            "DeleteBucketPolicy": self.delete_bucket_policy,
            "PutBucketEncryption": self.put_bucket_encryption,
            "GetBucketEncryption": self.get_bucket_encryption,
            "DeleteBucketEncryption": self.delete_bucket_encryption,
        }

    # --- Service interface ---

    def operation_name(self, request):
        bucket, key = split_path(request.path)
        if not bucket:
            return "ListBuckets" if request.method == "GET" else "Unknown"
        subresource = next((s for s in SUBRESOURCES if s in request.query), None)
        table = BUCKET_OPERATIONS if key is None else OBJECT_OPERATIONS
        if key is not None and request.method == "PUT" and request.header("x-amz-copy-source"):
            return "CopyObject"
        return table.get((request.method, subresource), "Unknown")

    def dispatch(self, request, operation, ctx):
        handler = self.handlers.get(operation)
        if handler is None:
            raise AwsError("NotImplemented", "A header you provided implies functionality that "
                           "is not implemented", 501)
        bucket, key = split_path(request.path)
        with self.store.lock:
            if operation not in ("ListBuckets", "CreateBucket"):
                self._check_endpoint(bucket, request)
                self._check_region(bucket, ctx)
                self._check_expected_owner(bucket, request, ctx)
            try:
                self._authorize(operation, request, ctx, bucket, key)
                return handler(request, ctx, bucket, key)
            except Denied as denied:
                raise access_denied(denied.message)

    @staticmethod
    def _owner_of(bucket, ctx):
        """A bucket's account; one from before owners were kept (or bulk
        loaded) is the default account's."""
        return bucket.owner or ctx.credentials.account

    def _check_expected_owner(self, name, request, ctx):
        """x-amz-expected-bucket-owner: a bucket of another account answers
        403 AccessDenied (bucket-owner-condition.html); a value that is not
        an account id is refused first."""
        expected = request.header("x-amz-expected-bucket-owner")
        if expected is None:
            return
        if not re.fullmatch(r"\d{12}", expected):
            raise invalid_argument("The value of the expected bucket owner parameter must be "
                                   "an AWS Account ID", "x-amz-expected-bucket-owner", expected)
        bucket = self.store.buckets.get(name)
        if bucket is not None and self._owner_of(bucket, ctx) != expected:
            raise access_denied("Access Denied")

    # --- who may: identity and bucket policies (iam.py) ---

    def _authorize(self, operation, request, ctx, name, key):
        if self.iam is None or not self.iam.enforce:
            return
        bucket = self.store.buckets.get(name) if name else None
        owner = self._owner_of(bucket, ctx) if bucket else \
            (ctx.principal.account if ctx.principal else ctx.account)
        policy = bucket.policy if bucket else None
        context = {"aws:SecureTransport": "true" if request.scheme == "https" else "false"}
        for header in ("x-amz-server-side-encryption",
                       "x-amz-server-side-encryption-aws-kms-key-id"):
            if request.header(header) is not None:
                context[f"s3:{header}"] = request.header(header)
        for action, resource in s3_permissions(operation, request, name, key):
            self.iam.authorize(ctx.principal, action, resource, context, policy, owner)
        if operation == "DeleteObjects":
            ctx.s3_delete_check = lambda k, version_id: self.iam.authorize(
                ctx.principal, "s3:DeleteObjectVersion" if version_id else "s3:DeleteObject",
                f"arn:aws:s3:::{name}/{k}", context, policy, owner)

    def _check_endpoint(self, name, request):
        """A request sent to another region's endpoint is redirected there.

        localaws serves every region on one port; a Host that names a
        regional S3 endpoint (s3.REGION.amazonaws.com, or
        s3.REGION.localhost, which curl resolves to 127.0.0.1) says which
        region the request was sent to. S3 answers 301 PermanentRedirect
        with the bucket's region in x-amz-bucket-region and its endpoint
        in the body (a HEAD gets the bare 301 with the header).
        """
        bucket = self.store.buckets.get(name)
        host = (request.header("host") or "").split(":")[0]
        match = REGIONAL_HOST.search(host)
        if bucket is None or match is None or match.group(2) == bucket.region:
            return
        endpoint = host[:match.start(2)] + bucket.region + host[match.end(2):]
        raise AwsError("PermanentRedirect", "The bucket you are attempting to access must be "
                       "addressed using the specified endpoint. Please send all future requests "
                       "to this endpoint.", 301, {"Endpoint": endpoint, "Bucket": name},
                       {"x-amz-bucket-region": bucket.region})

    def _check_region(self, name, ctx):
        """A bucket answers only requests signed for its own region.

        AWS says which region is right, in the body and in
        x-amz-bucket-region (a HEAD gets the bare 400 with the header);
        clients such as botocore then retry there.
        """
        bucket = self.store.buckets.get(name)
        if bucket is not None and bucket.region != ctx.region:
            raise AwsError("AuthorizationHeaderMalformed", "The authorization header is "
                           f"malformed; the region '{ctx.region}' is wrong; expecting "
                           f"'{bucket.region}'", 400, {"Region": bucket.region},
                           {"x-amz-bucket-region": bucket.region})

    def render_error(self, request, ctx, error):
        pairs = [("Code", error.code), ("Message", error.message)]
        pairs += [(name, value) for name, value in error.fields.items()]
        pairs += [("RequestId", self._request_id(ctx)), ("HostId", self._host_id(ctx))]
        body = b"" if request.method == "HEAD" else document("Error", pairs)
        headers = [("Content-Type", "application/xml")] + self._id_headers(ctx)
        headers += list(error.headers.items())
        if error.code == "SlowDown":
            headers.append(("Retry-After", "1"))
        return Response(error.status, headers, body)

    def throttle_error(self):
        return AwsError("SlowDown", "Please reduce your request rate.", 503)

    def internal_error(self):
        return AwsError("InternalError", "We encountered an internal error. Please try again.", 500)

    def auth_error(self, failure, request, ctx):
        return _auth_error(failure)

    # --- response helpers ---

    @staticmethod
    def _request_id(ctx):
        if not hasattr(ctx, "s3_request_id"):
            ctx.s3_request_id = secrets.token_hex(8).upper()
            ctx.s3_host_id = base64.b64encode(secrets.token_bytes(48)).decode()
        return ctx.s3_request_id

    def _host_id(self, ctx):
        self._request_id(ctx)
        return ctx.s3_host_id

    def _id_headers(self, ctx):
        return [("x-amz-request-id", self._request_id(ctx)), ("x-amz-id-2", self._host_id(ctx)),
                ("Server", "AmazonS3")]

    def _xml(self, ctx, root, pairs, status=200, headers=()):
        return Response(status, [("Content-Type", "application/xml")] + self._id_headers(ctx)
                        + list(headers), document(root, pairs, NS))

    def _empty(self, ctx, status=200, headers=()):
        return Response(status, self._id_headers(ctx) + list(headers), b"")

    @staticmethod
    def _owner(ctx):
        return [("ID", hashlib.sha256(ctx.account.encode()).hexdigest()), ("DisplayName", "localaws")]

    def _bucket(self, name):
        bucket = self.store.buckets.get(name)
        if bucket is None:
            raise no_such_bucket(name)
        return bucket

    # --- buckets ---

    def list_buckets(self, request, ctx, _bucket, _key):
        account = ctx.principal.account if ctx.principal else ctx.account
        buckets = [("Bucket", [("Name", b.name), ("CreationDate", iso_whole_seconds(b.created))])
                   for b in sorted(self.store.buckets.values(), key=lambda b: b.name)
                   if self._owner_of(b, ctx) == account]
        return self._xml(ctx, "ListAllMyBucketsResult",
                         [("Owner", self._owner(ctx)), ("Buckets", buckets)])

    def create_bucket(self, request, ctx, name, _key):
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_CreateBucket.html"""
        if not BUCKET_NAME.fullmatch(name) or ".." in name:
            raise AwsError("InvalidBucketName", "The specified bucket is not valid.", 400,
                           {"BucketName": name})
        region = self._location_constraint(request, ctx)
        existing = self.store.buckets.get(name)
        creator = ctx.principal.account if ctx.principal else ctx.account
        if existing is not None and self._owner_of(existing, ctx) != creator:
            raise AwsError("BucketAlreadyExists", "The requested bucket name is not available. "
                           "The bucket namespace is shared by all users of the system. Please "
                           "select a different name and try again.", 409, {"BucketName": name})
        if existing is not None:
            # Legacy behaviour kept by S3: re-creating your own bucket in
            # us-east-1 answers 200; elsewhere BucketAlreadyOwnedByYou.
            if region == "us-east-1" and existing.region == "us-east-1":
                return self._empty(ctx, headers=[("Location", f"/{name}")])
            raise AwsError("BucketAlreadyOwnedByYou", "Your previous request to create the named "
                           "bucket succeeded and you already own it.", 409, {"BucketName": name})
        self.store.buckets[name] = Bucket(name, region, self.clock.now(), owner=creator)
        self.changed()
        return self._empty(ctx, headers=[("Location", f"/{name}")])

    @staticmethod
    def _location_constraint(request, ctx):
        constraint = None
        if request.body.strip():
            root = parse_xml(request.body)
            constraint = child_text(root, "LocationConstraint")
        if constraint == "us-east-1":
            raise AwsError("InvalidLocationConstraint", "The specified location-constraint is not valid",
                           400, {"LocationConstraint": constraint})
        if constraint is None:
            if ctx.region != "us-east-1":
                raise AwsError("IllegalLocationConstraintException", "The unspecified location "
                               "constraint is incompatible for the region specific endpoint this "
                               "request was sent to.", 400)
            return "us-east-1"
        if constraint != ctx.region:
            raise AwsError("IllegalLocationConstraintException", f"The {constraint} location "
                           "constraint is incompatible for the region specific endpoint this "
                           "request was sent to.", 400)
        return constraint

    def head_bucket(self, request, ctx, name, _key):
        bucket = self._bucket(name)
        return self._empty(ctx, headers=[("x-amz-bucket-region", bucket.region)])

    def get_bucket_location(self, request, ctx, name, _key):
        bucket = self._bucket(name)
        # us-east-1 buckets report an empty LocationConstraint.
        location = "" if bucket.region == "us-east-1" else bucket.region
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<LocationConstraint xmlns="{NS}">'
                f'{location}</LocationConstraint>').encode()
        return Response(200, [("Content-Type", "application/xml")] + self._id_headers(ctx), body)

    def get_bucket_acl(self, request, ctx, name, _key):
        """A bucket's ACL as S3 gives every new bucket (ACLs disabled, the
        default since April 2023): the owner, one FULL_CONTROL grant to it.
        https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetBucketAcl.html"""
        self._bucket(name)
        owner = self._owner(ctx)
        inner = "".join(f"<{tag}>{value}</{tag}>" for tag, value in owner)
        body = (f'<?xml version="1.0" encoding="UTF-8"?>\n<AccessControlPolicy xmlns="{NS}">'
                f'<Owner>{inner}</Owner><AccessControlList><Grant>'
                f'<Grantee xmlns:xsi="http://www.w3.org/2001/XMLSchema-instance" '
                f'xsi:type="CanonicalUser">{inner}</Grantee>'
                f'<Permission>FULL_CONTROL</Permission></Grant></AccessControlList>'
                f'</AccessControlPolicy>').encode()
        return Response(200, [("Content-Type", "application/xml")] + self._id_headers(ctx), body)

    def delete_bucket(self, request, ctx, name, _key):
        bucket = self._bucket(name)
        if not bucket.is_empty():
            raise AwsError("BucketNotEmpty", "The bucket you tried to delete is not empty", 409,
                           {"BucketName": name})
        del self.store.buckets[name]
        self.changed()
        return self._empty(ctx, 204)

    def get_bucket_versioning(self, request, ctx, name, _key):
        bucket = self._bucket(name)
        pairs = [("Status", bucket.versioning)] if bucket.versioning else []
        return self._xml(ctx, "VersioningConfiguration", pairs)

    def put_bucket_versioning(self, request, ctx, name, _key):
        bucket = self._bucket(name)
        root = parse_xml(request.body)
        status = child_text(root, "Status")
        if root.tag != "VersioningConfiguration" or status not in ("Enabled", "Suspended"):
            raise malformed_xml()
        bucket.versioning = status
        self.changed()
        return self._empty(ctx)

    # --- bucket policies (evaluated with --iam: iam.py) and default encryption ---

    def put_bucket_policy(self, request, ctx, name, _key):
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketPolicy.html"""
        bucket = self._bucket(name)
        try:
            document = json.loads(request.body or b"")
        except ValueError:
            document = None
        if not isinstance(document, dict) or not document.get("Statement"):
            raise AwsError("MalformedPolicy", "Policies must be valid JSON and the first byte "
                           "must be '{'", 400)
        bucket.policy = request.body.decode("utf-8")
        self.changed()
        return self._empty(ctx, 204)

    def get_bucket_policy(self, request, ctx, name, _key):
        bucket = self._bucket(name)
        if not bucket.policy:
            raise AwsError("NoSuchBucketPolicy", "The bucket policy does not exist", 404,
                           {"BucketName": name})
        return Response(200, [("Content-Type", "application/json")] + self._id_headers(ctx),
                        bucket.policy.encode("utf-8"))

    def delete_bucket_policy(self, request, ctx, name, _key):
        bucket = self._bucket(name)
        bucket.policy = None
        self.changed()
        return self._empty(ctx, 204)

    # --- replication (s3_replication.py) ---

    def put_bucket_replication(self, request, ctx, name, _key):
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketReplication.html"""
        bucket = self._bucket(name)
        configuration = s3_replication.parse_configuration(parse_xml(request.body))
        s3_replication.check_buckets(self.store, bucket, configuration)
        bucket.replication = configuration
        self.changed()
        return self._empty(ctx)

    def get_bucket_replication(self, request, ctx, name, _key):
        bucket = self._bucket(name)
        if not bucket.replication:
            raise AwsError("ReplicationConfigurationNotFoundError", "The replication "
                           "configuration was not found", 404, {"BucketName": name})
        return self._xml(ctx, "ReplicationConfiguration",
                         s3_replication.configuration_pairs(bucket.replication))

    def delete_bucket_replication(self, request, ctx, name, _key):
        bucket = self._bucket(name)
        bucket.replication = None
        self.changed()
        return self._empty(ctx, 204)

    # --- default encryption, SSE-KMS ---

    def put_bucket_encryption(self, request, ctx, name, _key):
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutBucketEncryption.html"""
        bucket = self._bucket(name)
        root = parse_xml(request.body)
        rule = root.find("Rule")
        default = rule.find("ApplyServerSideEncryptionByDefault") if rule is not None else None
        algorithm = child_text(default, "SSEAlgorithm") if default is not None else None
        if root.tag != "ServerSideEncryptionConfiguration" or algorithm not in SSE_VALUES:
            raise malformed_xml()
        key_id = child_text(default, "KMSMasterKeyID")
        if key_id and algorithm == "AES256":
            raise invalid_argument("a KMSMasterKeyID is not applicable if the default sse "
                                   "algorithm is not aws:kms or aws:kms:dsse",
                                   "ApplyServerSideEncryptionByDefault", "")
        bucket.encryption = {"SSEAlgorithm": algorithm, "KMSMasterKeyID": key_id,
                             "BucketKeyEnabled": child_text(rule, "BucketKeyEnabled",
                                                            "false").lower() == "true"}
        self.changed()
        return self._empty(ctx)

    def get_bucket_encryption(self, request, ctx, name, _key):
        bucket = self._bucket(name)
        rule = bucket.encryption or {"SSEAlgorithm": "AES256", "KMSMasterKeyID": None,
                                     "BucketKeyEnabled": False}
        default = [("SSEAlgorithm", rule["SSEAlgorithm"]),
                   ("KMSMasterKeyID", rule["KMSMasterKeyID"])]
        return self._xml(ctx, "ServerSideEncryptionConfiguration", [("Rule", [
            ("ApplyServerSideEncryptionByDefault", default),
            ("BucketKeyEnabled", rule["BucketKeyEnabled"])])])

    def delete_bucket_encryption(self, request, ctx, name, _key):
        self._bucket(name).encryption = None
        self.changed()
        return self._empty(ctx, 204)

    def _sse_kms(self, request, ctx, bucket, key, sse):
        """SSE-KMS: S3 asks KMS for a data key as the requester
        (kms:GenerateDataKey through S3); with a Bucket Key the encryption
        context is the bucket's ARN, else the object's
        (https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html).
        Returns (key ARN, bucket key, encrypted data key, response headers)."""
        rule = bucket.encryption or {}
        key_ref = request.header("x-amz-server-side-encryption-aws-kms-key-id") or \
            (rule.get("KMSMasterKeyID") if rule.get("SSEAlgorithm") == sse else None)
        bucket_key_header = request.header("x-amz-server-side-encryption-bucket-key-enabled")
        bucket_key = bucket_key_header.lower() == "true" if bucket_key_header else \
            bool(rule.get("BucketKeyEnabled"))
        if self.kms is None:
            raise invalid_argument("The encryption method specified is not supported",
                                   "x-amz-server-side-encryption", sse)
        if not key_ref:
            key_ref = self.kms.aws_managed("s3", bucket.region)["arn"]
        context = {"aws:s3:arn": f"arn:aws:s3:::{bucket.name}" if bucket_key
                   else f"arn:aws:s3:::{bucket.name}/{key}"}
        try:
            kms_key, data_key = self.kms.generate_data_key_for(
                ctx.principal, key_ref, bucket.region, "s3", context)
        except AwsError as error:
            if error.code == "NotFoundException":
                raise invalid_argument("Invalid arn", "x-amz-server-side-encryption-aws-kms-"
                                       "key-id", key_ref)
            raise
        headers = [("x-amz-server-side-encryption-aws-kms-key-id", kms_key["arn"])]
        if bucket_key:
            headers.append(("x-amz-server-side-encryption-bucket-key-enabled", "true"))
        return kms_key["arn"], bucket_key, data_key, headers

    def _check_kms_decrypt(self, ctx, bucket, version):
        """Reading an SSE-KMS object's body takes kms:Decrypt on its key."""
        if not version.kms_key_arn or self.kms is None:
            return
        context = {"aws:s3:arn": f"arn:aws:s3:::{bucket.name}" if version.bucket_key
                   else f"arn:aws:s3:::{bucket.name}/{version.key}"}
        self.kms.decrypt_for(ctx.principal, base64.b64decode(version.data_key), bucket.region,
                             "s3", context)

    @staticmethod
    def _kms_headers(version):
        if not version.kms_key_arn:
            return []
        headers = [("x-amz-server-side-encryption-aws-kms-key-id", version.kms_key_arn)]
        if version.bucket_key:
            headers.append(("x-amz-server-side-encryption-bucket-key-enabled", "true"))
        return headers

    # --- listings ---

    def list_object_versions(self, request, ctx, name, _key):
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html"""
        bucket = self._bucket(name)
        q = request.query
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        key_marker, version_id_marker = q.get("key-marker", ""), q.get("version-id-marker", "")
        if version_id_marker and not key_marker:
            raise invalid_argument("A version-id marker cannot be specified without a key marker.",
                                   "version-id-marker", version_id_marker)
        if version_id_marker and not looks_like_version_id(version_id_marker):
            raise invalid_argument("Invalid version id specified", "version-id-marker",
                                   version_id_marker)
        max_keys = parse_max_keys(request)
        encoding, enc = url_encoder(request)
        entries, truncated = walk_versions(bucket, prefix, delimiter, key_marker,
                                           version_id_marker, max_keys)
        pairs = [("Name", name), ("Prefix", enc(prefix)), ("KeyMarker", enc(key_marker)),
                 ("VersionIdMarker", version_id_marker)]
        if truncated and entries:
            last = entries[-1]
            if last[0] == "prefix":
                pairs.append(("NextKeyMarker", enc(last[1])))
            else:
                pairs += [("NextKeyMarker", enc(last[1].key)),
                          ("NextVersionIdMarker", last[1].version_id)]
        pairs += [("MaxKeys", max_keys), ("Delimiter", enc(delimiter) or None),
                  ("EncodingType", encoding), ("IsTruncated", truncated)]
        owner = self._owner(ctx)
        if "markers_last" in ctx.shaping:
            entries = markers_last(entries)
        for entry in entries:
            if entry[0] == "prefix":
                pairs.append(("CommonPrefixes", [("Prefix", enc(entry[1]))]))
            else:
                pairs.append(self._version_entry(entry[1], entry[2], enc, owner))
        return self._xml(ctx, "ListVersionsResult", pairs)

    @staticmethod
    def _version_entry(version, is_latest, enc, owner):
        common = [("Key", enc(version.key)), ("VersionId", version.version_id),
                  ("IsLatest", is_latest), ("LastModified", iso_whole_seconds(version.last_modified))]
        if version.delete_marker:
            return ("DeleteMarker", common + [("Owner", owner)])
        return ("Version", common + [("ETag", version.etag), ("Size", version.size),
                                     ("StorageClass", "STANDARD"), ("Owner", owner)])

    @staticmethod
    def _object_entry(version, enc, owner):
        pairs = [("Key", enc(version.key)), ("LastModified", iso_whole_seconds(version.last_modified)),
                 ("ETag", version.etag), ("Size", version.size), ("StorageClass", "STANDARD")]
        if owner:
            pairs.append(("Owner", owner))
        return ("Contents", pairs)

    def list_objects_v2(self, request, ctx, name, _key):
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectsV2.html"""
        bucket = self._bucket(name)
        q = request.query
        prefix, delimiter = q.get("prefix", ""), q.get("delimiter", "")
        token, start_after = q.get("continuation-token"), q.get("start-after", "")
        after = start_after
        if token is not None:
            try:
                after = base64.urlsafe_b64decode(token.encode()).decode("utf-8")
            except (binascii.Error, ValueError):
                raise invalid_argument("The continuation token provided is incorrect",
                                       "continuation-token", token)
        max_keys = parse_max_keys(request)
        encoding, enc = url_encoder(request)
        entries, truncated = walk_objects(bucket, prefix, delimiter, after, max_keys)
        owner = self._owner(ctx) if q.get("fetch-owner") == "true" else None
        pairs = [("Name", name), ("Prefix", enc(prefix))]
        if token is not None:
            pairs.append(("ContinuationToken", token))
        if truncated and entries:
            last = entries[-1][1] if entries[-1][0] == "prefix" else entries[-1][1].key
            pairs.append(("NextContinuationToken",
                          base64.urlsafe_b64encode(last.encode("utf-8")).decode()))
        pairs += [("KeyCount", len(entries)), ("MaxKeys", max_keys),
                  ("Delimiter", enc(delimiter) or None), ("EncodingType", encoding),
                  ("IsTruncated", truncated), ("StartAfter", enc(start_after) or None)]
        pairs += self._listing_entries(entries, enc, owner)
        return self._xml(ctx, "ListBucketResult", pairs)

    def list_objects(self, request, ctx, name, _key):
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjects.html"""
        bucket = self._bucket(name)
        q = request.query
        prefix, delimiter, marker = q.get("prefix", ""), q.get("delimiter", ""), q.get("marker", "")
        max_keys = parse_max_keys(request)
        encoding, enc = url_encoder(request)
        entries, truncated = walk_objects(bucket, prefix, delimiter, marker, max_keys)
        pairs = [("Name", name), ("Prefix", enc(prefix)), ("Marker", enc(marker))]
        if truncated and entries and delimiter:
            last = entries[-1][1] if entries[-1][0] == "prefix" else entries[-1][1].key
            pairs.append(("NextMarker", enc(last)))
        pairs += [("MaxKeys", max_keys), ("Delimiter", enc(delimiter) or None),
                  ("EncodingType", encoding), ("IsTruncated", truncated)]
        pairs += self._listing_entries(entries, enc, self._owner(ctx))
        return self._xml(ctx, "ListBucketResult", pairs)

    def _listing_entries(self, entries, enc, owner):
        pairs = []
        for kind, value in entries:
            if kind == "prefix":
                pairs.append(("CommonPrefixes", [("Prefix", enc(value))]))
            else:
                pairs.append(self._object_entry(value, enc, owner))
        return pairs

    # --- objects ---

    def put_object(self, request, ctx, name, key):
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_PutObject.html"""
        bucket = self._bucket(name)
        if len(key.encode("utf-8", "surrogateescape")) > MAX_KEY_BYTES:
            raise AwsError("KeyTooLongError", "Your key is too long", 400,
                           {"Size": len(key.encode("utf-8", "surrogateescape")),
                            "MaxSizeAllowed": MAX_KEY_BYTES})
        check_content_md5(request)
        metadata = user_metadata(request)
        tagging = request.header("x-amz-tagging")
        tags = tags_from_header(tagging) if tagging else []
        sse = request.header("x-amz-server-side-encryption") or \
            (bucket.encryption or {}).get("SSEAlgorithm") or "AES256"
        if sse not in SSE_VALUES:
            raise invalid_argument("The encryption method specified is not supported",
                                   "x-amz-server-side-encryption", sse)
        self._check_write_conditions(request, bucket, key)
        kms_key_arn, bucket_key, data_key, kms_headers = None, False, None, []
        if sse != "AES256":
            kms_key_arn, bucket_key, data_key, kms_headers = self._sse_kms(
                request, ctx, bucket, key, sse)
        headers = {h: request.header(h) for h in STORED_HEADERS if request.header(h)}
        encoding = [e.strip() for e in headers.get("Content-Encoding", "").split(",")
                    if e.strip() and e.strip() != "aws-chunked"]
        headers.pop("Content-Encoding", None)
        if encoding:
            headers["Content-Encoding"] = ", ".join(encoding)
        version = bucket.add(ObjectVersion(
            key, None, self.clock.now(), body=request.body, metadata=metadata,
            content_type=request.header("content-type") or "binary/octet-stream",
            tags=tags, sse=sse, headers=headers, kms_key_arn=kms_key_arn, bucket_key=bucket_key,
            data_key=base64.b64encode(data_key).decode() if data_key else None))
        self._wrote(bucket, key)
        s3_replication.replicate_version(self.store, bucket, version)
        self.changed()
        out = [("ETag", version.etag), ("x-amz-server-side-encryption", sse)] + kms_headers
        # A `null` version (unversioned or Suspended bucket) is written without
        # x-amz-version-id; reads of it do show "null" once the bucket has been
        # versioned (PutObject examples in the API reference;
        # https://github.com/versity/versitygw/pull/2241 compares with AWS).
        if version.version_id != NULL_VERSION:
            out.append(("x-amz-version-id", version.version_id))
        return self._empty(ctx, headers=out)

    def _wrote(self, bucket, key):
        self.last_write[(bucket.name, key)] = next_sequence()

    def _check_write_conditions(self, request, bucket, key):
        """PutObject's If-None-Match / If-Match, evaluated against the
        key's current version, as S3's conditional writes
        (https://docs.aws.amazon.com/AmazonS3/latest/userguide/conditional-writes.html;
        API_PutObject.html, IfMatch and IfNoneMatch):

        - If-None-Match: `*` only (another value is 501 NotImplemented);
          412 PreconditionFailed when the key has a current version that
          is not a delete marker: a deleted key may be written again.
        - If-Match: ETAG (quotes optional): 404 NoSuchKey when there is no
          current version or it is a delete marker, 412 when its ETag
          differs.
        - Both at once: 501 NotImplemented
          (https://github.com/versity/versitygw/issues/1708, as S3).
        - A write to the key that completed while this request was in
          flight (after it arrived): 409 ConditionalRequestConflict, "on a
          409 failure you should retry the upload".
        The same holds in unversioned and Suspended buckets, where the
        current version is the `null` one.
        """
        if_none_match = request.header("if-none-match")
        if_match = request.header("if-match")
        if if_none_match is None and if_match is None:
            return
        if if_none_match is not None and if_match is not None:
            raise AwsError("NotImplemented", "A header you provided implies functionality that "
                           "is not implemented", 501, {"Header": "If-Match,If-None-Match"})
        if if_none_match is not None and if_none_match.strip() != "*":
            raise AwsError("NotImplemented", "A header you provided implies functionality that "
                           "is not implemented", 501, {"Header": "If-None-Match"})
        if self.last_write.get((bucket.name, key), 0) > request.started:
            raise conditional_request_conflict()
        latest = bucket.latest(key)
        live = latest if latest is not None and not latest.delete_marker else None
        if if_none_match is not None:
            if live is not None:
                raise precondition_failed("If-None-Match")
            return
        if live is None:
            raise no_such_key(key)
        if if_match.strip() != "*" and _unquoted(if_match) != _unquoted(live.etag):
            raise precondition_failed("If-Match")

    def _resolve(self, bucket, key, version_id, method, tagging=False):
        """The version a GET/HEAD/tagging call addresses, or S3's error.

        "If the specified version in the request is a delete marker, the
        response returns a 405 Method Not Allowed error and the
        Last-Modified: timestamp response header"
        (https://docs.aws.amazon.com/AmazonS3/latest/API/API_GetObject.html);
        without versionId GET/HEAD answer 404 NoSuchKey. Tagging calls on a
        delete marker answer 405 MethodNotAllowed in both cases
        (observed on AWS: https://github.com/getmoto/moto/issues/9401).
        """
        if version_id is None:
            latest = bucket.latest(key)
            if latest is None:
                raise no_such_key(key)
            if latest.delete_marker:
                # "If the current version of the object is a delete marker,
                # Amazon S3 behaves as if the object was deleted and includes
                # x-amz-delete-marker: true in the response."
                if not tagging:
                    raise no_such_key(key, {"x-amz-delete-marker": "true",
                                            "x-amz-version-id": latest.version_id})
                raise delete_marker_not_allowed(method, latest)
            return latest
        if not looks_like_version_id(version_id):
            raise invalid_argument("Invalid version id specified", "versionId", version_id)
        version = bucket.find(key, version_id)
        if version is None:
            raise no_such_version(key, version_id)
        if version.delete_marker:
            raise delete_marker_not_allowed(method, version)
        return version

    def _version_header(self, bucket, version):
        if bucket.ever_versioned:
            return [("x-amz-version-id", version.version_id)]
        return []

    def get_object(self, request, ctx, name, key):
        """GetObject and HeadObject (HEAD: same headers, no body)."""
        bucket = self._bucket(name)
        version = self._resolve(bucket, key, request.query.get("versionId"), request.method)
        if request.method != "HEAD":
            self._check_kms_decrypt(ctx, bucket, version)
        headers = [("Last-Modified", http_date(version.last_modified)), ("ETag", version.etag),
                   ("Content-Type", version.content_type), ("Accept-Ranges", "bytes"),
                   ("x-amz-server-side-encryption", version.sse)] + self._kms_headers(version)
        headers += self._version_header(bucket, version)
        headers += [(f"x-amz-meta-{k}", v) for k, v in version.metadata.items()]
        if version.tags:
            headers.append(("x-amz-tagging-count", str(len(version.tags))))
        headers += list(version.headers.items())
        status, body = 200, version.body
        byte_range = request.header("range")
        if byte_range:
            status, body, extra = self._apply_range(byte_range, version.body)
            headers += extra
        headers.append(("Content-Length", str(len(body))))
        if request.method == "HEAD":
            body = b""
        return Response(status, self._id_headers(ctx) + headers, body)

    @staticmethod
    def _apply_range(spec, body):
        """A single `bytes=` range (RFC 9110 14.1.2); others serve the whole body."""
        match = re.fullmatch(r"bytes=(\d*)-(\d*)", spec.strip())
        if not match or match.groups() == ("", ""):
            return 200, body, []
        first, last = match.groups()
        size = len(body)
        if first == "":
            start, end = max(size - int(last), 0), size - 1
        else:
            start, end = int(first), min(int(last), size - 1) if last else size - 1
        if start >= size or start > end:
            raise AwsError("InvalidRange", "The requested range is not satisfiable", 416,
                           {"RangeRequested": spec, "ActualObjectSize": size},
                           {"Content-Range": f"bytes */{size}"})
        return 206, body[start:end + 1], [("Content-Range", f"bytes {start}-{end}/{size}")]

    def delete_object(self, request, ctx, name, key):
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObject.html"""
        bucket = self._bucket(name)
        version_id = request.query.get("versionId")
        if version_id is not None and not looks_like_version_id(version_id):
            raise invalid_argument("Invalid version id specified", "versionId", version_id)
        headers = self._delete(bucket, key, version_id)
        return self._empty(ctx, 204, headers)

    def _delete(self, bucket, key, version_id):
        """Delete one key or version; the response headers describing it."""
        self._wrote(bucket, key)
        if version_id is not None:
            removed = bucket.remove_version(key, version_id)
            self.changed()
            headers = [("x-amz-version-id", version_id)]
            if removed is not None and removed.delete_marker:
                headers.append(("x-amz-delete-marker", "true"))
            return headers
        if not bucket.ever_versioned:
            bucket.remove_version(key, NULL_VERSION)
            self.changed()
            return []
        marker = bucket.add(ObjectVersion(key, None, self.clock.now(), delete_marker=True))
        s3_replication.replicate_delete_marker(self.store, bucket, marker)
        self.changed()
        return [("x-amz-delete-marker", "true"), ("x-amz-version-id", marker.version_id)]

    def delete_objects(self, request, ctx, name, _key):
        """https://docs.aws.amazon.com/AmazonS3/latest/API/API_DeleteObjects.html"""
        bucket = self._bucket(name)
        has_checksum = any(h.lower().startswith("x-amz-checksum-") for h in request.headers.keys())
        if request.header("content-md5") is None and not has_checksum:
            raise AwsError("InvalidRequest", "Missing required header for this request: Content-MD5", 400)
        check_content_md5(request)
        root = parse_xml(request.body)
        objects = root.findall("Object")
        if root.tag != "Delete" or not objects or len(objects) > MAX_KEYS:
            raise malformed_xml()
        quiet = (child_text(root, "Quiet", "false").strip().lower() == "true")
        results = []
        check = getattr(ctx, "s3_delete_check", None)
        for item in objects:
            key, version_id = child_text(item, "Key", ""), child_text(item, "VersionId")
            try:
                if check is not None:
                    check(key, version_id)
            except Denied:
                results.append(("Error", [("Key", key), ("VersionId", version_id),
                                          ("Code", "AccessDenied"),
                                          ("Message", "Access Denied")]))
                continue
            results.append(self._delete_one(bucket, key, version_id, quiet))
        return self._xml(ctx, "DeleteResult", [r for r in results if r is not None])

    def _delete_one(self, bucket, key, version_id, quiet):
        if version_id is not None and not looks_like_version_id(version_id):
            return ("Error", [("Key", key), ("VersionId", version_id), ("Code", "NoSuchVersion"),
                              ("Message", "The specified version does not exist.")])
        headers = dict(self._delete(bucket, key, version_id))
        if quiet:
            return None
        pairs = [("Key", key)]
        if version_id is not None:
            pairs.append(("VersionId", version_id))
        if headers.get("x-amz-delete-marker") == "true":
            pairs += [("DeleteMarker", True), ("DeleteMarkerVersionId", headers["x-amz-version-id"])]
        return ("Deleted", pairs)

    # --- tagging ---

    def get_object_tagging(self, request, ctx, name, key):
        bucket = self._bucket(name)
        version = self._resolve(bucket, key, request.query.get("versionId"), "GET",
                                tagging=True)
        tag_set = [("Tag", [("Key", k), ("Value", v)]) for k, v in version.tags]
        return self._xml(ctx, "Tagging", [("TagSet", tag_set)],
                         headers=self._version_header(bucket, version))

    def put_object_tagging(self, request, ctx, name, key):
        bucket = self._bucket(name)
        version = self._resolve(bucket, key, request.query.get("versionId"), "PUT",
                                tagging=True)
        check_content_md5(request)
        version.tags = tags_from_xml(request.body)
        s3_replication.replicate_tags(self.store, bucket, version)
        self.changed()
        return self._empty(ctx, headers=self._version_header(bucket, version))

    def delete_object_tagging(self, request, ctx, name, key):
        bucket = self._bucket(name)
        version = self._resolve(bucket, key, request.query.get("versionId"), "DELETE",
                                tagging=True)
        version.tags = []
        s3_replication.replicate_tags(self.store, bucket, version)
        self.changed()
        return self._empty(ctx, 204, self._version_header(bucket, version))

    # --- control endpoint ---

    def bulk_load(self, bucket_name, objects):
        """Append versions in the given order (POST /_localaws/s3/bulk).

        A missing bucket is created with versioning Enabled. Each object:
        key, body (text) or body_base64, tags {k: v}, metadata {k: v},
        content_type, last_modified (ISO or epoch; default now),
        delete_marker.
        """
        loaded = []
        with self.store.lock:
            bucket = self.store.buckets.get(bucket_name)
            if bucket is None:
                bucket = self.store.buckets[bucket_name] = Bucket(
                    bucket_name, "us-east-1", self.clock.now(), "Enabled")
            for spec in objects:
                loaded.append(self._bulk_version(bucket, spec))
        self.changed()
        return loaded

    def _bulk_version(self, bucket, spec):
        if "body_base64" in spec:
            body = base64.b64decode(spec["body_base64"])
        else:
            body = str(spec.get("body", "")).encode("utf-8")
        modified = spec.get("last_modified")
        version = bucket.add(ObjectVersion(
            spec["key"], None, parse_time(modified) if modified is not None else self.clock.now(),
            body=b"" if spec.get("delete_marker") else body,
            metadata={k.lower(): str(v) for k, v in (spec.get("metadata") or {}).items()},
            content_type=spec.get("content_type", "binary/octet-stream"),
            tags=list((spec.get("tags") or {}).items()),
            delete_marker=bool(spec.get("delete_marker"))))
        self._wrote(bucket, version.key)
        return {"key": version.key, "version_id": version.version_id,
                "delete_marker": version.delete_marker}
