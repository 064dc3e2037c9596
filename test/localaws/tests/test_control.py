"""The /_localaws/ control endpoint: counters, faults, clock, events, bulk."""
import time
import uuid

import pytest
from botocore.exceptions import ClientError, HTTPClientError


def error_of(excinfo):
    return excinfo.value.response["Error"]["Code"], \
        excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]


def test_health(control):
    assert control.get("health")["status"] == "ok"


def test_counters_count_every_routed_request_including_refused_ones(control, client, s3, ssm, bucket):
    control.delete("counters")
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"c{i}", Body=b"x")
    with pytest.raises(ClientError):
        client("ssm", aws_secret_access_key="wrong").get_parameter(Name="/x")
    ssm.describe_parameters()
    counters = control.get("counters")
    assert counters["s3"]["PutObject"] == 3
    assert counters["ssm"] == {"GetParameter": 1, "DescribeParameters": 1}
    control.delete("counters")
    assert control.get("counters") == {}


# fault kind -> what boto3 (retries off) reports: (code, HTTP status) or an exception type
@pytest.mark.parametrize("service, call, kind, expected", [
    ("s3", lambda c, b: c.put_object(Bucket=b, Key="f", Body=b"x"), "throttle", ("SlowDown", 503)),
    ("ssm", lambda c, b: c.describe_parameters(), "throttle", ("ThrottlingException", 400)),
    ("sts", lambda c, b: c.get_caller_identity(), "throttle", ("Throttling", 400)),
    ("s3", lambda c, b: c.list_objects_v2(Bucket=b), "error500", ("InternalError", 500)),
    ("ssm", lambda c, b: c.describe_parameters(), "error500", ("InternalServerError", 500)),
    ("s3", lambda c, b: c.list_objects_v2(Bucket=b), "drop", HTTPClientError),
    ("ssm", lambda c, b: c.describe_parameters(), "reset", HTTPClientError),
])
def test_injected_faults_reach_the_client(client, clean_control, bucket, service, call, kind, expected):
    control = clean_control
    control.post("faults", {"service": service, "operation": "*", "kind": kind, "count": 1})
    boto = client(service)
    if isinstance(expected, tuple):
        with pytest.raises(ClientError) as excinfo:
            call(boto, bucket)
        assert error_of(excinfo) == expected
    else:
        with pytest.raises(expected):
            call(boto, bucket)
    call(boto, bucket)   # count: 1 -> only the next matching request failed
    assert control.get("faults")[0]["fired"] == 1


def test_fault_targets_one_operation_and_counters_still_count(client, clean_control, bucket):
    control = clean_control
    control.delete("counters")
    control.post("faults", {"service": "s3", "operation": "PutObject", "kind": "throttle", "count": 2})
    s3 = client("s3")
    s3.list_objects_v2(Bucket=bucket)
    for _ in range(2):
        with pytest.raises(ClientError):
            s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    s3.put_object(Bucket=bucket, Key="k", Body=b"x")
    assert control.get("counters")["s3"]["PutObject"] == 3


def test_retrying_client_gets_through_throttling(client, clean_control, bucket):
    clean_control.post("faults", {"service": "s3", "operation": "GetObject", "kind": "throttle",
                                  "count": 2})
    s3 = client("s3", retries=5)
    s3.put_object(Bucket=bucket, Key="r", Body=b"ok")
    assert s3.get_object(Bucket=bucket, Key="r")["Body"].read() == b"ok"


def test_delay_and_rate(client, clean_control):
    control = clean_control
    control.post("faults", {"service": "sts", "operation": "GetCallerIdentity", "kind": "delay",
                            "delay_ms": 300, "count": 1})
    start = time.monotonic()
    client("sts").get_caller_identity()
    assert time.monotonic() - start >= 0.3
    control.delete("faults")
    control.post("faults", {"service": "sts", "kind": "throttle", "rate": 0.0})
    for _ in range(5):
        client("sts").get_caller_identity()
    assert control.get("faults")[0]["fired"] == 0


def test_faults_can_be_given_at_start():
    from conftest import LocalAws, make_client
    server = LocalAws("--faults", '[{"service": "sts", "kind": "error500", "count": 1}]')
    try:
        sts = make_client(server.endpoint, "sts")
        with pytest.raises(ClientError) as excinfo:
            sts.get_caller_identity()
        assert error_of(excinfo) == ("InternalFailure", 500)
        sts.get_caller_identity()
    finally:
        server.stop()


def test_clock_control(control):
    try:
        fixed = control.post("clock", {"fixed": "2024-06-13T01:54:26Z"})
        assert fixed["now"] == "2024-06-13T01:54:26.000Z" and fixed["fixed"] is True
        assert control.post("clock", {"advance": 60})["now"] == "2024-06-13T01:55:26.000Z"
        offset = control.post("clock", {"offset": -3600})
        assert abs(offset["epoch"] - (time.time() - 3600)) < 5
    finally:
        reset = control.post("clock", {})
    assert abs(reset["epoch"] - time.time()) < 5 and reset["offset"] == 0


def test_ssm_changes_emit_parameter_store_change_events(control, ssm):
    name = f"/events/{uuid.uuid4().hex[:8]}/p"
    control.delete("events")
    ssm.put_parameter(Name=name, Value="1", Type="String", Description="desc")
    ssm.put_parameter(Name=name, Value="2", Type="String", Overwrite=True)
    ssm.label_parameter_version(Name=name, Labels=["live"])
    ssm.put_parameter(Name=name + "2", Value="x", Type="SecureString")
    ssm.delete_parameters(Names=[name, name + "2", name + "-missing"])
    events = control.get("events")
    assert [(e["detail"]["name"], e["detail"]["operation"]) for e in events] == [
        (name, "Create"), (name, "Update"), (name, "LabelParameterVersion"),
        (name + "2", "Create"), (name, "Delete"), (name + "2", "Delete")]
    first = events[0]
    assert set(first) == {"version", "id", "detail-type", "source", "account", "time", "region",
                          "resources", "detail"}
    assert first["version"] == "0" and first["source"] == "aws.ssm"
    assert first["detail-type"] == "Parameter Store Change"
    assert first["account"] == "000000000000" and first["region"] == "us-east-1"
    assert first["resources"] == [f"arn:aws:ssm:us-east-1:000000000000:parameter{name}"]
    assert first["detail"] == {"name": name, "type": "String", "operation": "Create",
                               "description": "desc"}
    assert time.strptime(first["time"], "%Y-%m-%dT%H:%M:%SZ")
    assert len(first["id"]) == 36
    assert events[3]["detail"]["type"] == "SecureString"
    control.delete("events")
    assert control.get("events") == []


def test_unknown_control_route_is_a_404(control):
    import urllib.error
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        control.get("nope")
    assert excinfo.value.code == 404


def raw_exchange(endpoint):
    """Send a signed STS call on a bare socket; what came back, or the error."""
    import socket
    import urllib.parse
    from botocore.auth import SigV4Auth
    from botocore.awsrequest import AWSRequest
    from botocore.credentials import Credentials
    body = b"Action=GetCallerIdentity&Version=2011-06-15"
    request = AWSRequest(method="POST", url=endpoint + "/", data=body,
                         headers={"Content-Type": "application/x-www-form-urlencoded"})
    SigV4Auth(Credentials("test", "test"), "sts", "us-east-1").add_auth(request)
    url = urllib.parse.urlsplit(endpoint)
    head = "".join(f"{k}: {v}\r\n" for k, v in request.headers.items())
    wire = (f"POST / HTTP/1.1\r\nHost: {url.netloc}\r\nContent-Length: {len(body)}\r\n{head}\r\n"
            ).encode() + body
    with socket.create_connection((url.hostname, url.port), timeout=10) as sock:
        sock.sendall(wire)
        try:
            return sock.recv(65536)
        except ConnectionResetError as error:
            return error


@pytest.mark.parametrize("kind, outcome", [
    ("drop", b""),                       # orderly close (FIN), no answer
    ("reset", ConnectionResetError),     # RST
])
def test_drop_and_reset_on_the_wire(endpoint, clean_control, kind, outcome):
    clean_control.post("faults", {"service": "sts", "kind": kind, "count": 1})
    got = raw_exchange(endpoint)
    if outcome is ConnectionResetError:
        assert isinstance(got, ConnectionResetError)
    else:
        assert got == outcome
    assert raw_exchange(endpoint).startswith(b"HTTP/1.1 200")


def test_ssm_bulk_sets_parameters_with_their_version_and_date(control, ssm):
    name = f"/bulk{uuid.uuid4().hex[:8]}/p"
    control.post("ssm/bulk", {"region": "us-east-1", "parameters": [
        {"name": name, "value": "v", "type": "SecureString", "version": 7,
         "last_modified": 1718243666.123}]})
    got = ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert (got["Value"], got["Version"], got["Type"]) == ("v", 7, "SecureString")
    described, = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"]
    assert described["LastModifiedDate"].timestamp() == 1718243666.123
