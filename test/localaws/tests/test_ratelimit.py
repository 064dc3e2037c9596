"""The rate_limit fault: AWS's default per-operation rates, answered with
each service's throttling error (SSM: 400 ThrottlingException "Rate
exceeded"; S3: 503 SlowDown). Rates are in ratelimit.py with their sources."""
import time

import pytest
from botocore.exceptions import ClientError

from conftest import CliError


def error_of(excinfo):
    response = excinfo.value.response
    return (response["ResponseMetadata"]["HTTPStatusCode"], response["Error"]["Code"],
            response["Error"]["Message"])


@pytest.fixture
def root(unique):
    return "/" + unique("rl")


def test_put_parameter_gets_3_a_second(ssm, root, clean_control):
    """PutParameter: 3 transactions a second with the default throughput
    (AWS Support in github-aws-runners/terraform-aws-github-runner#2944)."""
    clean_control.post("faults", {"service": "ssm", "kind": "rate_limit"})
    for i in range(3):
        ssm.put_parameter(Name=f"{root}/p{i}", Value="v", Type="String")
    with pytest.raises(ClientError) as excinfo:
        ssm.put_parameter(Name=f"{root}/p3", Value="v", Type="String")
    assert error_of(excinfo) == (400, "ThrottlingException", "Rate exceeded")
    time.sleep(0.4)                      # one more token after 1/3 s
    ssm.put_parameter(Name=f"{root}/p3", Value="v", Type="String")
    assert clean_control.get("faults")[0]["fired"] == 1


def test_reads_get_40_a_second_each_operation_its_own(ssm, root, clean_control):
    """40 a second for GetParameter(s)/ByPath, the default throughput
    (https://docs.aws.amazon.com/general/latest/gr/ssm.html): at scale 1/40
    one a second, so the second call in a row is throttled."""
    ssm.put_parameter(Name=f"{root}/x", Value="v", Type="String")
    clean_control.post("faults", {"service": "ssm", "kind": "rate_limit", "scale": 0.025})
    ssm.get_parameters(Names=[f"{root}/x"])
    with pytest.raises(ClientError) as excinfo:
        ssm.get_parameters(Names=[f"{root}/x"])
    assert error_of(excinfo)[:2] == (400, "ThrottlingException")
    ssm.get_parameter(Name=f"{root}/x")   # another operation, another bucket


def test_the_aws_cli_sees_the_throttle(aws, root, clean_control):
    clean_control.post("faults", {"service": "ssm", "operation": "PutParameter",
                                  "kind": "rate_limit", "rates": {"PutParameter": 0.01}})
    aws("ssm", "put-parameter", "--name", f"{root}/c", "--value", "v", "--type", "String")
    with pytest.raises(CliError) as excinfo:
        aws("ssm", "put-parameter", "--name", f"{root}/c2", "--value", "v", "--type", "String")
    assert "ThrottlingException" in excinfo.value.stderr and "Rate exceeded" in excinfo.value.stderr


def test_s3_throttles_per_prefix_and_reads_apart_from_writes(s3, bucket, clean_control):
    """3,500 writes and 5,500 reads a second per prefix
    (https://docs.aws.amazon.com/AmazonS3/latest/userguide/optimizing-performance.html);
    scale 0.001 makes that 3.5 and 5.5."""
    clean_control.post("faults", {"service": "s3", "kind": "rate_limit", "scale": 0.001})
    for i in range(3):
        s3.put_object(Bucket=bucket, Key=f"a/k{i}", Body=b"x")
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="a/k3", Body=b"x")
    assert error_of(excinfo)[:3] == (503, "SlowDown", "Please reduce your request rate.")
    assert excinfo.value.response["ResponseMetadata"]["HTTPHeaders"]["retry-after"] == "1"
    s3.put_object(Bucket=bucket, Key="b/k0", Body=b"x")           # another prefix
    for i in range(5):
        s3.get_object(Bucket=bucket, Key=f"a/k{i % 3}")             # reads have their own rate
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="a/k0")
    assert error_of(excinfo)[:2] == (503, "SlowDown")


def test_scale_and_overrides_are_checked(clean_control):
    import urllib.error
    with pytest.raises(urllib.error.HTTPError) as excinfo:
        clean_control.post("faults", {"service": "ssm", "kind": "rate_limit", "scale": 0})
    assert excinfo.value.code == 400
