"""SSM as AWS answers it: single-level names with and without their slash,
filter value limits, and the asynchronous aws:ec2:image validation."""
import time

import pytest
from botocore.exceptions import ClientError


def error_of(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


def eventually(check, what, timeout=5.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        result = check()
        if result:
            return result
        time.sleep(0.02)
    raise AssertionError(f"timed out waiting for {what}")


def test_a_single_level_name_with_its_slash_is_the_name_without_it(ssm, unique):
    """`/foo` and `foo` are one parameter, kept as `foo`: a single name given
    with a leading slash is normalized (hashicorp/terraform-provider-aws#49116,
    #49119); DescribeParameters names it `foo` while GetParameter answers with
    the name as asked (#49339)."""
    bare = unique("single")
    assert ssm.put_parameter(Name="/" + bare, Value="one", Type="String")["Version"] == 1
    with pytest.raises(ClientError) as excinfo:
        ssm.put_parameter(Name=bare, Value="two", Type="String")
    assert error_of(excinfo)[0] == "ParameterAlreadyExists"
    assert ssm.put_parameter(Name=bare, Value="two", Type="String", Overwrite=True)["Version"] == 2
    plain = ssm.get_parameter(Name=bare)["Parameter"]
    slashed = ssm.get_parameter(Name="/" + bare)["Parameter"]
    assert (plain["Name"], plain["Value"], plain["Version"]) == (bare, "two", 2)
    assert (slashed["Name"], slashed["Value"], slashed["Version"]) == ("/" + bare, "two", 2)
    assert plain["ARN"] == slashed["ARN"] == f"arn:aws:ssm:us-east-1:000000000000:parameter/{bare}"
    assert ssm.get_parameter(Name=plain["ARN"])["Parameter"]["Name"] == bare
    got = ssm.get_parameters(Names=["/" + bare, bare])
    assert sorted(p["Name"] for p in got["Parameters"]) == sorted(["/" + bare, bare])
    history = ssm.get_parameter_history(Name="/" + bare)["Parameters"]
    assert [(h["Name"], h["Value"]) for h in history] == [(bare, "one"), (bare, "two")]
    for option, value in (("Equals", "/" + bare), ("Equals", bare), ("BeginsWith", "/" + bare[:8])):
        described = ssm.describe_parameters(
            ParameterFilters=[{"Key": "Name", "Option": option, "Values": [value]}])["Parameters"]
        assert bare in [p["Name"] for p in described], (option, value)
        assert "/" + bare not in [p["Name"] for p in described]
    by_path = [p["Name"] for page in ssm.get_paginator("get_parameters_by_path").paginate(Path="/")
               for p in page["Parameters"]]
    assert bare in by_path and "/" + bare not in by_path


def test_the_event_names_the_stored_parameter(ssm, control, unique):
    bare = unique("evt")
    ssm.put_parameter(Name="/" + bare, Value="v", Type="String")
    ssm.delete_parameter(Name="/" + bare)
    mine = [e for e in control.get("events") if e["resources"][0].endswith("/" + bare)]
    assert [(e["detail"]["name"], e["detail"]["operation"]) for e in mine] == [
        (bare, "Create"), (bare, "Delete")]
    assert mine[0]["resources"] == [f"arn:aws:ssm:us-east-1:000000000000:parameter/{bare}"]


@pytest.mark.parametrize("delete", ["one", "many"])
def test_deletes_find_a_single_level_name_either_way(ssm, unique, delete):
    bare = unique("del")
    ssm.put_parameter(Name=bare, Value="v", Type="String")
    if delete == "one":
        ssm.delete_parameter(Name="/" + bare)
    else:
        answer = ssm.delete_parameters(Names=["/" + bare])
        assert answer["DeletedParameters"] == ["/" + bare] and answer["InvalidParameters"] == []
    with pytest.raises(ClientError) as excinfo:
        ssm.get_parameter(Name=bare)
    assert error_of(excinfo)[0] == "ParameterNotFound"


@pytest.mark.parametrize("name", ["a/b", "app/db/url"])
def test_a_path_without_its_leading_slash_is_refused(ssm, aws, name):
    with pytest.raises(ClientError) as excinfo:
        ssm.put_parameter(Name=name, Value="v", Type="String")
    code, message = error_of(excinfo)
    assert code == "ValidationException" and "If formed as a path" in message
    # the AWS CLI sees the same answer
    from conftest import CliError
    with pytest.raises(CliError) as cli:
        aws("ssm", "put-parameter", "--name", name, "--value", "v", "--type", "String")
    assert "ValidationException" in cli.value.stderr


def test_describe_parameters_refuses_more_than_50_filter_values(ssm):
    """ParameterStringFilter.Values: 1 to 50 items
    (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ParameterStringFilter.html)."""
    fifty = [f"/x/{i}" for i in range(50)]
    ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": fifty}])
    with pytest.raises(ClientError) as excinfo:
        ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Values": fifty + ["/x/50"]}])
    code, message = error_of(excinfo)
    assert code == "ValidationException"
    assert message.startswith("1 validation error detected: Value '[/x/0, /x/1, ")
    assert message.endswith("at 'parameterFilters.1.member.values' failed to satisfy constraint: "
                            "Member must have length less than or equal to 50")


@pytest.fixture
def slow_validation(control):
    control.post("ssm/validation", {"delay_ms": 600})
    try:
        yield
    finally:
        control.post("ssm/validation", {"delay_ms": 50})


def test_ec2_image_values_are_validated_after_the_call(ssm, control, unique, slow_validation):
    """PutParameter with DataType aws:ec2:image answers 200 before the value
    is validated; an invalid AMI id then makes nothing, which only the
    "Parameter Store Change" event tells
    (https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html,
    DataType; https://docs.aws.amazon.com/systems-manager/latest/userguide/parameter-store-ec2-aliases.html)."""
    good, bad = f"/{unique()}/ami", f"/{unique()}/ami"
    assert ssm.put_parameter(Name=good, Value="ami-0123456789abcdef0", Type="String",
                             DataType="aws:ec2:image")["Version"] == 1
    assert ssm.put_parameter(Name=bad, Value="not-an-ami", Type="String",
                             DataType="aws:ec2:image")["Version"] == 1
    with pytest.raises(ClientError) as excinfo:       # still being validated
        ssm.get_parameter(Name=good)
    assert error_of(excinfo)[0] == "ParameterNotFound"
    got = eventually(lambda: _get(ssm, good), "the valid AMI parameter")
    assert (got["Value"], got["DataType"], got["Version"]) == (
        "ami-0123456789abcdef0", "aws:ec2:image", 1)
    events = eventually(lambda: [e for e in control.get("events")
                                 if e["detail"].get("name") == bad], "the failure event")
    assert events[0]["detail"] == {"exception": "Unable to Describe Resource",
                                   "dataType": "aws:ec2:image", "name": bad, "type": "String",
                                   "operation": "Create"}
    assert _get(ssm, bad) is None


def test_an_ec2_image_update_keeps_the_old_version_until_validated(ssm, unique, slow_validation):
    name = f"/{unique()}/ami"
    ssm.put_parameter(Name=name, Value="ami-0123456789abcdef0", Type="String",
                      DataType="aws:ec2:image")
    eventually(lambda: _get(ssm, name), "the first version")
    assert ssm.put_parameter(Name=name, Value="ami-00000000", Type="String",
                             DataType="aws:ec2:image", Overwrite=True)["Version"] == 2
    assert _get(ssm, name)["Version"] == 1
    eventually(lambda: (_get(ssm, name) or {}).get("Version") == 2, "the second version")


def _get(ssm, name):
    try:
        return ssm.get_parameter(Name=name)["Parameter"]
    except ClientError as error:
        if error.response["Error"]["Code"] != "ParameterNotFound":
            raise
        return None
