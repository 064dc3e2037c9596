"""The `malformed` fault kind: real answers, spoiled on the way out, as a
broken proxy or a hostile server would send them; what boto3 makes of each.

botocore's own checks are the reference: its paginator refuses a token it
has seen before ("The same next token was received twice"), its parsers
refuse cut documents, its HTTP layer a header line over 64 KB or a body
that ends early. https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_DescribeParameters.html,
https://docs.aws.amazon.com/AmazonS3/latest/API/API_ListObjectVersions.html
"""
import json
import time
import uuid

import pytest
from botocore.config import Config
from botocore.exceptions import ClientError, HTTPClientError, PaginationError, ReadTimeoutError
from botocore.history import get_global_history_recorder
from botocore.parsers import ResponseParserError

from conftest import LocalAws, make_client


def malformed(control, service, operation, mutation, **extra):
    control.post("faults", {"service": service, "operation": operation, "kind": "malformed",
                            "mutation": mutation, **extra})


@pytest.fixture
def names(ssm):
    prefix = f"/malformed-{uuid.uuid4().hex[:8]}"
    created = [f"{prefix}/p{i}" for i in range(3)]
    for name in created:
        ssm.put_parameter(Name=name, Value="v", Type="String")
    yield created
    ssm.delete_parameters(Names=created)


def test_body_replaces_the_answer_and_keeps_its_status(ssm, clean_control, names):
    malformed(clean_control, "ssm", "GetParameters", "body", body="{}")
    answer = ssm.get_parameters(Names=names)
    assert "Parameters" not in answer and "InvalidParameters" not in answer
    assert answer["ResponseMetadata"]["HTTPStatusCode"] == 200


def test_body_with_status_and_headers_is_an_error_of_our_making(ssm, clean_control, names):
    malformed(clean_control, "ssm", "GetParameters", "body", status=400,
              body='{"__type": "Bad\\nCode", "message": "two\\nlines"}',
              headers={"x-amzn-RequestId": "id-\x1b[31m"})
    with pytest.raises(ClientError) as excinfo:
        ssm.get_parameters(Names=names)
    error = excinfo.value.response
    assert error["Error"]["Code"] == "Bad\nCode"
    assert error["Error"]["Message"] == "two\nlines"
    assert error["ResponseMetadata"]["RequestId"] == "id-\x1b[31m"


class BodiesSeen:
    """The raw bodies of the HTTP answers botocore receives, before it
    parses them (botocore's history recorder sees them first)."""

    def __init__(self):
        self.bodies = []

    def emit(self, event_type, payload, source):
        if event_type == "HTTP_RESPONSE":
            self.bodies.append(payload["body"])


@pytest.fixture
def seen():
    recorder = get_global_history_recorder()
    bodies = BodiesSeen()
    recorder.add_handler(bodies)
    recorder.enable()
    try:
        yield bodies.bodies
    finally:
        recorder.disable()
        recorder._handlers.remove(bodies)


def test_truncate_cuts_the_document(ssm, clean_control, names, seen):
    ssm.get_parameters(Names=names)
    malformed(clean_control, "ssm", "GetParameters", "truncate")
    # botocore takes a JSON body it cannot parse for a message, not an error
    answer = ssm.get_parameters(Names=names)
    assert "Parameters" not in answer
    assert seen[1] == seen[0][:len(seen[0]) // 2]


def test_truncate_to_bytes_cuts_xml_too(s3, bucket, clean_control):
    malformed(clean_control, "s3", "ListObjectVersions", "truncate", bytes=60)
    with pytest.raises(ResponseParserError):
        s3.list_object_versions(Bucket=bucket)


def test_wrong_types_in_json(ssm, clean_control, names, seen):
    malformed(clean_control, "ssm", "GetParameters", "wrong_types", members=["Parameters"])
    # botocore walks the string as if it were the list, and trips over it
    with pytest.raises(AttributeError):
        ssm.get_parameters(Names=names)
    assert b'"Parameters": "not-a-list"' in seen[0]
    assert b'"InvalidParameters": []' in seen[0]


def test_wrong_types_in_xml(s3, bucket, clean_control, seen):
    s3.put_object(Bucket=bucket, Key="wrong-types", Body=b"x")
    malformed(clean_control, "s3", "ListObjectVersions", "wrong_types", members=["IsTruncated"])
    answer = s3.list_object_versions(Bucket=bucket)
    # botocore reads a boolean from text: an element there is not "true"
    assert answer["IsTruncated"] is False
    assert b"<IsTruncated><Wrong/></IsTruncated>" in seen[-1]
    assert b"<Key>wrong-types</Key>" in seen[-1]


def test_repeat_token_makes_botocore_refuse_the_second_page(ssm, clean_control, names):
    malformed(clean_control, "ssm", "DescribeParameters", "repeat_token")
    pages = ssm.get_paginator("describe_parameters").paginate(
        ParameterFilters=[{"Key": "Name", "Option": "BeginsWith", "Values": [names[0][:-3]]}])
    with pytest.raises(PaginationError, match="same next token"):
        for _ in pages:
            pass


def test_repeat_token_in_an_s3_listing(s3, bucket, clean_control):
    s3.put_object(Bucket=bucket, Key="repeat-a", Body=b"x")
    malformed(clean_control, "s3", "ListObjectVersions", "repeat_token")
    first = s3.list_object_versions(Bucket=bucket, Prefix="repeat-")
    assert first["IsTruncated"] is True and first["NextKeyMarker"] == "repeat-a"
    again = s3.list_object_versions(Bucket=bucket, Prefix="repeat-", KeyMarker="repeat-a",
                                    VersionIdMarker=first["NextVersionIdMarker"])
    assert again["IsTruncated"] is True
    assert (again["NextKeyMarker"], again["NextVersionIdMarker"]) == \
        (first["NextKeyMarker"], first["NextVersionIdMarker"])


def test_oversize_header_is_refused_by_the_http_layer(ssm, clean_control, names):
    malformed(clean_control, "ssm", "GetParameters", "oversize_header")
    with pytest.raises(HTTPClientError):
        ssm.get_parameters(Names=names)


def test_slow_drip_runs_into_the_read_timeout(endpoint, clean_control, names):
    malformed(clean_control, "ssm", "GetParameters", "slow_drip", delay_ms=1500)
    slow = make_client(endpoint, "ssm", config=Config(read_timeout=1, retries={"total_max_attempts": 1}))
    started = time.monotonic()
    with pytest.raises(ReadTimeoutError):
        slow.get_parameters(Names=names)
    assert time.monotonic() - started < 10


def test_reset_after_headers(ssm, clean_control, names):
    malformed(clean_control, "ssm", "GetParameters", "reset_after_headers")
    with pytest.raises(HTTPClientError):
        ssm.get_parameters(Names=names)


def test_unknown_mutation_is_refused(control):
    with pytest.raises(Exception, match="400"):
        malformed(control, "ssm", "*", "garble")


def test_path_prefix_serves_under_it_and_checks_the_signature_with_it():
    server = LocalAws("--path-prefix", "/aws")
    try:
        ssm = make_client(server.endpoint + "/aws", "ssm")
        ssm.put_parameter(Name="/prefixed", Value="v", Type="String")
        assert ssm.get_parameter(Name="/prefixed")["Parameter"]["Value"] == "v"
        s3 = make_client(server.endpoint + "/aws", "s3")
        s3.create_bucket(Bucket="prefixed")
        s3.put_object(Bucket="prefixed", Key="k", Body=b"x")
        assert s3.get_object(Bucket="prefixed", Key="k")["Body"].read() == b"x"
        outside = make_client(server.endpoint, "ssm")
        with pytest.raises(ClientError) as excinfo:
            outside.get_parameter(Name="/prefixed")
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 404
    finally:
        server.stop()


def test_repeat_token_in_a_query_protocol_listing(client, clean_control):
    cfn = client("cloudformation")
    name = f"malformed-{uuid.uuid4().hex[:8]}"
    cfn.create_stack(StackName=name, TemplateBody=json.dumps({"Resources": {"P": {
        "Type": "AWS::SSM::Parameter", "Properties": {"Type": "String", "Value": "x"}}}}))
    cfn.get_waiter("stack_create_complete").wait(
        StackName=name, WaiterConfig={"Delay": 0.2, "MaxAttempts": 100})
    malformed(clean_control, "cloudformation", "DescribeStackEvents", "repeat_token")
    with pytest.raises(PaginationError, match="same next token"):
        for _ in cfn.get_paginator("describe_stack_events").paginate(StackName=name):
            pass
    cfn.delete_stack(StackName=name)
