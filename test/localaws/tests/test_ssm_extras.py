"""What SSM keeps beside a value: resource tags, labels, parameter
policies and the user who made a version, through boto3."""
import json

import pytest
from botocore.exceptions import ClientError


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture
def name(unique):
    return "/" + unique("x") + "/p"


def tags_of(ssm, name):
    return {t["Key"]: t["Value"] for t in
            ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)["TagList"]}


def test_tags_given_at_create_then_added_overwritten_and_removed(ssm, name):
    # https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_AddTagsToResource.html
    ssm.put_parameter(Name=name, Value="v", Type="String", Tags=[{"Key": "team", "Value": "a"}])
    assert tags_of(ssm, name) == {"team": "a"}
    ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name,
                             Tags=[{"Key": "team", "Value": "b"}, {"Key": "env", "Value": "prod"}])
    assert tags_of(ssm, name) == {"team": "b", "env": "prod"}
    ssm.remove_tags_from_resource(ResourceType="Parameter", ResourceId=name, TagKeys=["team"])
    assert tags_of(ssm, name) == {"env": "prod"}


def test_tags_of_a_missing_parameter_and_too_many_tags(ssm, name):
    with pytest.raises(ClientError) as excinfo:
        ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId=name)
    assert error_code(excinfo) == "InvalidResourceId"
    ssm.put_parameter(Name=name, Value="v", Type="String")
    with pytest.raises(ClientError) as excinfo:
        ssm.add_tags_to_resource(ResourceType="Parameter", ResourceId=name,
                                 Tags=[{"Key": f"k{i}", "Value": "v"} for i in range(51)])
    assert error_code(excinfo) == "TooManyTagsError"


def test_unlabel_removes_only_labels_the_version_has(ssm, name):
    # https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_UnlabelParameterVersion.html
    ssm.put_parameter(Name=name, Value="a", Type="String")
    ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["live", "blue"])
    answer = ssm.unlabel_parameter_version(Name=name, ParameterVersion=1, Labels=["live", "green"])
    assert (answer["RemovedLabels"], answer["InvalidLabels"]) == (["live"], ["green"])
    assert ssm.get_parameter_history(Name=name)["Parameters"][0]["Labels"] == ["blue"]
    with pytest.raises(ClientError) as excinfo:
        ssm.unlabel_parameter_version(Name=name, ParameterVersion=4, Labels=["blue"])
    assert error_code(excinfo) == "ParameterVersionNotFound"


def test_policies_are_kept_per_version_and_carry_over(ssm, name):
    # https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ParameterInlinePolicy.html
    policy = {"Type": "Expiration", "Version": "1.0",
              "Attributes": {"Timestamp": "2030-01-01T00:00:00.000Z"}}
    ssm.put_parameter(Name=name, Value="a", Type="String", Tier="Advanced",
                      Policies=json.dumps([policy]))
    ssm.put_parameter(Name=name, Value="b", Overwrite=True)
    history = ssm.get_parameter_history(Name=name)["Parameters"]
    for version in history:
        (inline,) = version["Policies"]
        assert inline["PolicyType"] == "Expiration" and inline["PolicyStatus"] == "Pending"
        assert json.loads(inline["PolicyText"]) == policy
    described = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"][0]
    assert described["Policies"][0]["PolicyType"] == "Expiration"
    with pytest.raises(ClientError) as excinfo:
        ssm.put_parameter(Name=name, Value="c", Overwrite=True,
                          Policies=json.dumps([{"Type": "Nope"}]))
    assert error_code(excinfo) == "InvalidPolicyTypeException"


def test_last_modified_user_is_the_callers_arn(ssm, sts, name):
    # https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_ParameterHistory.html
    ssm.put_parameter(Name=name, Value="a", Type="String")
    (version,) = ssm.get_parameter_history(Name=name)["Parameters"]
    assert version["LastModifiedUser"] == sts.get_caller_identity()["Arn"]
