"""The routing table, as later services (SQS, Lambda, Logs, CloudFormation)
will extend it: one line per way AWS clients address a service."""
import email.message
import os
import sys

import pytest

sys.path.insert(0, os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

from localaws_lib.protocols import JsonService, QueryService, Service  # noqa: E402
from localaws_lib.server import Request, Router  # noqa: E402


class FakeS3(Service):
    name = signing_name = "s3"


class FakeSsm(JsonService):
    name = signing_name = "ssm"
    target_prefixes = ("AmazonSSM",)


class FakeSts(QueryService):
    name = signing_name = "sts"
    query_actions = ("GetCallerIdentity", "AssumeRoleWithWebIdentity")


class FakeCloudFormation(QueryService):
    name = signing_name = "cloudformation"
    query_actions = ("DescribeStacks",)


class FakeSqs(QueryService):
    name = signing_name = "sqs"
    query_actions = ("GetCallerIdentity",)   # a name clash, settled by the scope


def request(method="GET", path="/", headers=(), body=b""):
    message = email.message.Message()
    for name, value in headers:
        message[name] = value
    return Request(method, path, message, body)


def signed_for(service):
    return ("Authorization", f"AWS4-HMAC-SHA256 Credential=test/20240613/us-east-1/{service}/"
                             "aws4_request, SignedHeaders=host, Signature=00")


FORM = ("Content-Type", "application/x-www-form-urlencoded")

CASES = [
    ("X-Amz-Target", request("POST", headers=[("X-Amz-Target", "AmazonSSM.GetParameter"),
                                              signed_for("ssm")]), "ssm"),
    ("form Action + scope", request("POST", headers=[FORM, signed_for("sts")],
                                    body=b"Action=GetCallerIdentity"), "sts"),
    ("scope settles a clash", request("POST", headers=[FORM, signed_for("sqs")],
                                      body=b"Action=GetCallerIdentity"), "sqs"),
    ("query-string Action", request("GET", "/?Action=DescribeStacks&Version=2010-05-15",
                                    headers=[signed_for("cloudformation")]), "cloudformation"),
    ("unsigned Action", request("POST", headers=[FORM],
                                body=b"Action=AssumeRoleWithWebIdentity&WebIdentityToken=t"), "sts"),
    ("path-style S3", request("GET", "/bucket/key", headers=[signed_for("s3")]), "s3"),
    ("unsigned S3", request("GET", "/bucket//app/db/url"), "s3"),
]


@pytest.mark.parametrize("case, req, expected", CASES, ids=[c[0] for c in CASES])
def test_route(case, req, expected):
    router = Router([FakeSsm(), FakeSts(), FakeSqs(), FakeCloudFormation(), FakeS3()], "s3")
    assert router.route(req).name == expected


@pytest.mark.parametrize("raw, path, query", [
    ("/b//app/db/url", "/b//app/db/url", []),
    ("/b/x%20y/z+w", "/b/x y/z+w", []),
    ("/b/%C3%BCn%C3%AF/%C3%A7", "/b/ünï/ç", []),
    ("/b/a%252Fb", "/b/a%2Fb", []),
    ("/b?versions&prefix=%2Fapp%2F&key-marker=a%2Bb+c", "/b",
     [("versions", ""), ("prefix", "/app/"), ("key-marker", "a+b c")]),
])
def test_path_is_decoded_once_and_query_as_a_form(raw, path, query):
    req = request("GET", raw)
    assert (req.path, req.query_pairs) == (path, query)
