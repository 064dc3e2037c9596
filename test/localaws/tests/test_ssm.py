"""SSM Parameter Store, driven with boto3 as an application would."""
import datetime
import json
import re

import pytest
from botocore.exceptions import ClientError


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def put(ssm, name, value="v", **extra):
    extra.setdefault("Type", "String")
    return ssm.put_parameter(Name=name, Value=value, **extra)


@pytest.fixture
def root(unique):
    """A fresh path prefix, e.g. /t-1a2b3c4d5e."""
    return "/" + unique("t")


def test_put_then_get_returns_the_parameter_as_aws_shapes_it(ssm, root):
    result = put(ssm, f"{root}/db/url", "postgres://x", Description="the db")
    assert result["Version"] == 1 and result["Tier"] == "Standard"
    param = ssm.get_parameter(Name=f"{root}/db/url")["Parameter"]
    assert param["Name"] == f"{root}/db/url"
    assert param["Value"] == "postgres://x"
    assert param["Type"] == "String"
    assert param["DataType"] == "text"
    assert param["ARN"] == f"arn:aws:ssm:us-east-1:000000000000:parameter{root}/db/url"
    assert isinstance(param["LastModifiedDate"], datetime.datetime)


def test_overwrite_makes_a_new_version_and_selectors_pick_old_ones(ssm, root):
    name = f"{root}/p"
    put(ssm, name, "one")
    with pytest.raises(ClientError) as excinfo:
        put(ssm, name, "two")
    assert error_code(excinfo) == "ParameterAlreadyExists"
    assert put(ssm, name, "two", Overwrite=True)["Version"] == 2
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "two"
    old = ssm.get_parameter(Name=f"{name}:1")["Parameter"]
    assert (old["Value"], old["Version"], old["Selector"]) == ("one", 1, ":1")
    with pytest.raises(ClientError) as excinfo:
        ssm.get_parameter(Name=f"{name}:7")
    assert error_code(excinfo) == "ParameterVersionNotFound"


def test_bare_names_without_slash_are_valid_and_root_level(ssm, unique):
    name = unique("bare")
    put(ssm, name, "x")
    assert ssm.get_parameter(Name=name)["Parameter"]["ARN"].endswith(f":parameter/{name}")
    pages = ssm.get_paginator("get_parameters_by_path").paginate(Path="/")
    assert name in [p["Name"] for page in pages for p in page["Parameters"]]


@pytest.mark.parametrize("name, code", [
    ("/aws/reserved", "ValidationException"),
    ("/SSM-thing/x", "ValidationException"),
    ("awsfoo", "ValidationException"),
    ("/has space/x", "ValidationException"),
    ("/bad*char", "ValidationException"),
    ("no/leading/slash", "ValidationException"),
    ("/a//b", "ValidationException"),
    ("/" + "/".join(f"l{i}" for i in range(16)), "HierarchyLevelLimitExceededException"),
])
def test_name_rules(ssm, name, code):
    with pytest.raises(ClientError) as excinfo:
        put(ssm, name)
    assert error_code(excinfo) == code


def test_fifteen_levels_are_allowed(ssm, root):
    name = root + "".join(f"/l{i}" for i in range(14))
    assert put(ssm, name)["Version"] == 1


@pytest.mark.parametrize("tier, size, outcome", [
    ("Standard", 4096, "Standard"),
    ("Standard", 4097, "ValidationException"),
    ("Advanced", 8192, "Advanced"),
    ("Advanced", 8193, "ValidationException"),
    ("Intelligent-Tiering", 4096, "Standard"),
    ("Intelligent-Tiering", 4097, "Advanced"),
])
def test_tier_value_limits(ssm, root, tier, size, outcome):
    name = f"{root}/big"
    if outcome.endswith("Exception"):
        with pytest.raises(ClientError) as excinfo:
            put(ssm, name, "x" * size, Tier=tier)
        assert error_code(excinfo) == outcome
    else:
        assert put(ssm, name, "x" * size, Tier=tier)["Tier"] == outcome


def test_advanced_cannot_go_back_to_standard(ssm, root):
    put(ssm, f"{root}/adv", Tier="Advanced")
    with pytest.raises(ClientError) as excinfo:
        put(ssm, f"{root}/adv", Tier="Standard", Overwrite=True)
    assert error_code(excinfo) == "ValidationException"


def test_secure_string_is_returned_encrypted_unless_decrypted(ssm, root):
    name = f"{root}/secret"
    put(ssm, name, "hunter2", Type="SecureString")
    raw = ssm.get_parameter(Name=name)["Parameter"]["Value"]
    assert raw != "hunter2" and raw.startswith("AQICA")
    assert ssm.get_parameter(Name=name, WithDecryption=True)["Parameter"]["Value"] == "hunter2"
    described = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"][0]
    assert described["KeyId"] == "alias/aws/ssm"
    with pytest.raises(ClientError) as excinfo:
        put(ssm, f"{root}/s2", Type="SecureString", KeyId="not a key")
    assert error_code(excinfo) == "InvalidKeyId"


def test_key_id_only_for_secure_string(ssm, root):
    with pytest.raises(ClientError) as excinfo:
        put(ssm, f"{root}/k", KeyId="alias/aws/ssm")
    assert error_code(excinfo) == "ValidationException"


def test_allowed_pattern_and_data_type(ssm, root):
    put(ssm, f"{root}/num", "123", AllowedPattern=r"^\d+$")
    with pytest.raises(ClientError) as excinfo:
        put(ssm, f"{root}/num2", "12a", AllowedPattern=r"^\d+$")
    assert error_code(excinfo) == "ParameterPatternMismatchException"
    with pytest.raises(ClientError) as excinfo:
        put(ssm, f"{root}/dt", "x", DataType="json")
    assert error_code(excinfo) == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        put(ssm, f"{root}/ami3", "ami-0123456789abcdef0", DataType="aws:ec2:image",
            Type="SecureString")
    assert error_code(excinfo) == "UnsupportedParameterType"


def test_type_is_required_on_create_and_kept_on_overwrite(ssm, root):
    with pytest.raises(ClientError) as excinfo:
        ssm.put_parameter(Name=f"{root}/nt", Value="x")
    assert error_code(excinfo) == "ValidationException"
    put(ssm, f"{root}/list", "a,b", Type="StringList")
    ssm.put_parameter(Name=f"{root}/list", Value="c", Overwrite=True)
    assert ssm.get_parameter(Name=f"{root}/list")["Parameter"]["Type"] == "StringList"


def test_get_parameters_reports_invalid_names_and_caps_at_ten(ssm, root):
    put(ssm, f"{root}/a", "1")
    put(ssm, f"{root}/b", "2")
    result = ssm.get_parameters(Names=[f"{root}/a", f"{root}/missing", f"{root}/b:1", f"{root}/b:9"])
    assert [p["Name"] for p in result["Parameters"]] == [f"{root}/a", f"{root}/b"]
    assert sorted(result["InvalidParameters"]) == [f"{root}/b:9", f"{root}/missing"]
    with pytest.raises(ClientError) as excinfo:
        ssm.get_parameters(Names=[f"{root}/{i}" for i in range(11)])
    assert error_code(excinfo) == "ValidationException"


def test_get_parameters_by_path_pages_25_parameters_by_10(ssm, root):
    for i in range(25):
        put(ssm, f"{root}/app/p{i:02d}", str(i))
    put(ssm, f"{root}/app/deeper/x", "deep")
    first = ssm.get_parameters_by_path(Path=f"{root}/app", MaxResults=10)
    assert len(first["Parameters"]) == 10 and "NextToken" in first
    pages = list(ssm.get_paginator("get_parameters_by_path").paginate(
        Path=f"{root}/app", PaginationConfig={"PageSize": 10}))
    assert [len(page["Parameters"]) for page in pages] == [10, 10, 5]
    names = [p["Name"] for page in pages for p in page["Parameters"]]
    assert names == [f"{root}/app/p{i:02d}" for i in range(25)]
    recursive = ssm.get_paginator("get_parameters_by_path").paginate(Path=f"{root}/app/", Recursive=True)
    assert len([p for page in recursive for p in page["Parameters"]]) == 26


@pytest.mark.parametrize("path", ["app", "/bad path", "/a//b"])
def test_get_parameters_by_path_rejects_bad_paths(ssm, path):
    with pytest.raises(ClientError) as excinfo:
        ssm.get_parameters_by_path(Path=path)
    assert error_code(excinfo) == "ValidationException"


def test_get_parameters_by_path_limits_and_filters(ssm, root):
    with pytest.raises(ClientError) as excinfo:
        ssm.get_parameters_by_path(Path="/", MaxResults=11)
    assert error_code(excinfo) == "ValidationException"
    put(ssm, f"{root}/s", "x", Type="SecureString")
    put(ssm, f"{root}/p", "y")
    result = ssm.get_parameters_by_path(
        Path=root, WithDecryption=True,
        ParameterFilters=[{"Key": "Type", "Option": "Equals", "Values": ["SecureString"]}])
    assert [(p["Name"], p["Value"]) for p in result["Parameters"]] == [(f"{root}/s", "x")]


def test_history_is_oldest_first_with_labels_and_pages_by_50(ssm, root):
    name = f"{root}/h"
    for i in range(60):
        put(ssm, name, f"v{i + 1}", Overwrite=True, Description="d")
    ssm.label_parameter_version(Name=name, ParameterVersion=3, Labels=["prod"])
    first = ssm.get_parameter_history(Name=name)
    assert len(first["Parameters"]) == 50 and first["NextToken"]
    pages = ssm.get_paginator("get_parameter_history").paginate(Name=name)
    history = [p for page in pages for p in page["Parameters"]]
    assert [h["Version"] for h in history] == list(range(1, 61))
    assert history[2]["Labels"] == ["prod"] and history[2]["Value"] == "v3"
    assert history[0]["LastModifiedUser"] == "arn:aws:iam::000000000000:root"
    assert history[0]["Tier"] == "Standard" and history[0]["Description"] == "d"
    with pytest.raises(ClientError) as excinfo:
        ssm.get_parameter_history(Name=name, MaxResults=51)
    assert error_code(excinfo) == "ValidationException"


def test_labels_move_between_versions_and_select_them(ssm, root):
    name = f"{root}/l"
    for value in ("a", "b", "c"):
        put(ssm, name, value, Overwrite=True)
    result = ssm.label_parameter_version(Name=name, ParameterVersion=1, Labels=["live", "9bad", "awsx"])
    assert result == {**result, "ParameterVersion": 1, "InvalidLabels": ["9bad", "awsx"]}
    assert ssm.get_parameter(Name=f"{name}:live")["Parameter"]["Value"] == "a"
    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["live"])
    assert ssm.get_parameter(Name=f"{name}:live")["Parameter"]["Value"] == "b"
    versions = ssm.get_parameter_history(Name=name)["Parameters"]
    assert [v["Labels"] for v in versions] == [[], ["live"], []]
    with pytest.raises(ClientError) as excinfo:
        ssm.label_parameter_version(Name=name, ParameterVersion=1,
                                    Labels=[f"l{i}" for i in range(10)] + ["live"])
    assert error_code(excinfo) == "ValidationException" or error_code(excinfo) == \
        "ParameterVersionLabelLimitExceeded"
    with pytest.raises(ClientError) as excinfo:
        ssm.label_parameter_version(Name=name, ParameterVersion=9, Labels=["x"])
    assert error_code(excinfo) == "ParameterVersionNotFound"


def test_history_keeps_100_versions_unless_the_oldest_is_labelled(ssm, root):
    name = f"{root}/many"
    for i in range(100):
        put(ssm, name, str(i + 1), Overwrite=True)
    assert put(ssm, name, "101", Overwrite=True)["Version"] == 101
    pages = ssm.get_paginator("get_parameter_history").paginate(Name=name)
    versions = [p["Version"] for page in pages for p in page["Parameters"]]
    assert versions[0] == 2 and versions[-1] == 101 and len(versions) == 100
    ssm.label_parameter_version(Name=name, ParameterVersion=2, Labels=["keep"])
    with pytest.raises(ClientError) as excinfo:
        put(ssm, name, "102", Overwrite=True)
    assert error_code(excinfo) == "ParameterMaxVersionLimitExceeded"


def test_describe_parameters_filters_and_pages(ssm, root):
    for i in range(12):
        put(ssm, f"{root}/d/p{i:02d}", "x", Type="SecureString" if i % 2 else "String")
    put(ssm, f"{root}/d/sub/q", "x")
    pages = ssm.get_paginator("describe_parameters").paginate(
        ParameterFilters=[{"Key": "Path", "Option": "OneLevel", "Values": [f"{root}/d"]}],
        PaginationConfig={"PageSize": 5})
    names = [p["Name"] for page in pages for p in page["Parameters"]]
    assert names == [f"{root}/d/p{i:02d}" for i in range(12)]
    cases = [
        ([{"Key": "Path", "Option": "Recursive", "Values": [f"{root}/d"]}], 13),
        ([{"Key": "Path", "Values": [f"{root}/d"]}, {"Key": "Type", "Values": ["SecureString"]}], 6),
        ([{"Key": "Name", "Option": "BeginsWith", "Values": [f"{root}/d/p0"]}], 10),
        ([{"Key": "Name", "Values": [f"{root}/d/p03"]}], 1),
        ([{"Key": "Name", "Option": "Contains", "Values": [f"{root}/d/sub"]}], 1),
        ([{"Key": "KeyId", "Values": ["alias/aws/ssm"]}, {"Key": "Path", "Values": [f"{root}/d"],
                                                          "Option": "Recursive"}], 6),
    ]
    for filters, expected in cases:
        pages = ssm.get_paginator("describe_parameters").paginate(ParameterFilters=filters)
        assert sum(len(page["Parameters"]) for page in pages) == expected, filters
    legacy = ssm.describe_parameters(Filters=[{"Key": "Name", "Values": [f"{root}/d/p1"]}])
    assert [p["Name"] for p in legacy["Parameters"]] == [f"{root}/d/p10", f"{root}/d/p11"]
    with pytest.raises(ClientError) as excinfo:
        ssm.describe_parameters(MaxResults=51)
    assert error_code(excinfo) == "ValidationException"
    with pytest.raises(ClientError) as excinfo:
        ssm.describe_parameters(ParameterFilters=[{"Key": "Name", "Option": "Recursive",
                                                   "Values": ["x"]}])
    assert error_code(excinfo) == "InvalidFilterOption"


def test_delete_parameter_and_delete_parameters(ssm, root):
    put(ssm, f"{root}/x")
    ssm.delete_parameter(Name=f"{root}/x")
    with pytest.raises(ClientError) as excinfo:
        ssm.get_parameter(Name=f"{root}/x")
    assert error_code(excinfo) == "ParameterNotFound"
    with pytest.raises(ClientError) as excinfo:
        ssm.delete_parameter(Name=f"{root}/x")
    assert error_code(excinfo) == "ParameterNotFound"
    put(ssm, f"{root}/y")
    put(ssm, f"{root}/z")
    result = ssm.delete_parameters(Names=[f"{root}/y", f"{root}/nope", f"{root}/z"])
    assert result["DeletedParameters"] == [f"{root}/y", f"{root}/z"]
    assert result["InvalidParameters"] == [f"{root}/nope"]
    with pytest.raises(ClientError) as excinfo:
        ssm.delete_parameters(Names=[f"{root}/{i}" for i in range(11)])
    assert error_code(excinfo) == "ValidationException"


def test_recreated_parameter_starts_again_at_version_one(ssm, root):
    put(ssm, f"{root}/r", "1")
    put(ssm, f"{root}/r", "2", Overwrite=True)
    ssm.delete_parameter(Name=f"{root}/r")
    assert put(ssm, f"{root}/r", "3")["Version"] == 1


def test_last_modified_date_follows_the_emulator_clock(ssm, root, clean_control):
    clean_control.post("clock", {"fixed": "2024-06-13T01:54:26Z", "check_skew": False})
    put(ssm, f"{root}/clock")
    modified = ssm.get_parameter(Name=f"{root}/clock")["Parameter"]["LastModifiedDate"]
    assert modified.astimezone(datetime.timezone.utc) == datetime.datetime(
        2024, 6, 13, 1, 54, 26, tzinfo=datetime.timezone.utc)


@pytest.mark.parametrize("operation, filters, code", [
    ("get_parameters_by_path", [{"Key": "Name", "Values": ["/x"]}], "InvalidFilterKey"),
    ("get_parameters_by_path", [{"Key": "tag:team", "Values": ["a"]}], "InvalidFilterKey"),
    ("get_parameters_by_path", [{"Key": "Label", "Option": "BeginsWith", "Values": ["a"]}],
     "InvalidFilterOption"),
    ("describe_parameters", [{"Key": "Label", "Values": ["a"]}], "InvalidFilterKey"),
    ("describe_parameters", [{"Key": "Type", "Option": "Contains", "Values": ["S"]}],
     "InvalidFilterOption"),
    ("describe_parameters", [{"Key": "Path", "Values": ["no-slash"]}], "ValidationException"),
])
def test_filter_keys_and_options_per_operation(ssm, operation, filters, code):
    kwargs = {"ParameterFilters": filters}
    if operation == "get_parameters_by_path":
        kwargs["Path"] = "/"
    with pytest.raises(ClientError) as excinfo:
        getattr(ssm, operation)(**kwargs)
    assert error_code(excinfo) == code


def test_tag_and_begins_with_filters(ssm, root):
    put(ssm, f"{root}/tagged", Tags=[{"Key": "team", "Value": "platform"}])
    put(ssm, f"{root}/untagged")
    by_tag = ssm.describe_parameters(ParameterFilters=[
        {"Key": "tag:team", "Values": ["platform"]}, {"Key": "Path", "Values": [root]}])
    assert [p["Name"] for p in by_tag["Parameters"]] == [f"{root}/tagged"]
    by_type = ssm.describe_parameters(ParameterFilters=[
        {"Key": "Type", "Option": "BeginsWith", "Values": ["Str"]}, {"Key": "Path", "Values": [root]}])
    assert len(by_type["Parameters"]) == 2
    with pytest.raises(ClientError) as excinfo:
        put(ssm, f"{root}/tagged", Overwrite=True, Tags=[{"Key": "a", "Value": "b"}])
    assert error_code(excinfo) == "ValidationException"


def test_label_filter_selects_the_labelled_version(ssm, root):
    put(ssm, f"{root}/lab", "old")
    put(ssm, f"{root}/lab", "new", Overwrite=True)
    ssm.label_parameter_version(Name=f"{root}/lab", ParameterVersion=1, Labels=["stable"])
    result = ssm.get_parameters_by_path(
        Path=root, ParameterFilters=[{"Key": "Label", "Values": ["stable"]}])
    assert [(p["Name"], p["Value"]) for p in result["Parameters"]] == [(f"{root}/lab", "old")]


def test_timestamps_are_written_as_aws_writes_them(ssm, root):
    """AWS JSON prints epoch seconds like a Java double: 1.718243666351E9."""
    put(ssm, f"{root}/raw")
    raw = []

    def keep_body(http_response, **kwargs):
        raw.append(http_response.content)

    ssm.meta.events.register("after-call.ssm.GetParameter", keep_body)
    try:
        ssm.get_parameter(Name=f"{root}/raw")
    finally:
        ssm.meta.events.unregister("after-call.ssm.GetParameter", keep_body)
    assert re.search(rb'"LastModifiedDate": \d\.\d+E9[,}]', raw[0]), raw[0]


def test_missing_required_members_are_validation_errors(endpoint):
    """botocore checks these itself; other clients rely on the service."""
    from test_auth import send, signed
    body = b'{"WithDecryption": true}'
    headers = signed(endpoint, "ssm", "POST", "/", body, {
        "X-Amz-Target": "AmazonSSM.GetParameter", "Content-Type": "application/x-amz-json-1.1"})
    code, answer = send(endpoint, "POST", "/", headers, body)
    assert code == 400
    assert json.loads(answer) == {
        "__type": "ValidationException",
        "message": "1 validation error detected: Value null at 'name' failed to satisfy "
                   "constraint: Member must not be null"}
