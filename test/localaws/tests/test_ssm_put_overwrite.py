"""PutParameter with Overwrite: what each member does when it is left
out, given empty, or changed. This is what a restore must send to put a
parameter back exactly (issue 14, "Restores converge").

https://docs.aws.amazon.com/systems-manager/latest/APIReference/API_PutParameter.html
- Description, AllowedPattern: "Minimum length of 0": left out, the
  previous version's stays; "" removes it (terraform-provider-aws sends
  AllowedPattern "" to remove one, and Description only when it changed).
- Tier: an advanced parameter never becomes standard again ("you can't
  revert an advanced parameter to a standard parameter ... you must
  delete it and recreate it as a new standard parameter",
  userguide/parameter-store-advanced-parameters.html); Intelligent-Tiering
  picks Advanced for values over 4 KB, for policies, and for a parameter
  that is advanced already.
- Policies: only on advanced parameters; "All existing policies are
  preserved until you send new policies or an empty policy".
- KeyId: only for SecureString; left out, the key stays; a String that
  becomes a SecureString gets alias/aws/ssm.
- DataType: left out, the previous version's; aws:ec2:image is validated
  after the call answers.
"""
import json
import time

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def name(unique):
    return "/" + unique("ow") + "/p"


def describe(ssm, name):
    found = ssm.describe_parameters(
        ParameterFilters=[{"Key": "Name", "Values": [name]}])["Parameters"]
    assert len(found) == 1
    return found[0]


def refused(call):
    with pytest.raises(ClientError) as raised:
        call()
    error = raised.value.response["Error"]
    return error["Code"], error["Message"]


def put(ssm, name, value="v", **members):
    members.setdefault("Type", "String")
    return ssm.put_parameter(Name=name, Value=value, **members)


def test_description_left_out_stays_empty_removes_changed_replaces(ssm, name):
    put(ssm, name, Description="first")
    put(ssm, name, "v2", Overwrite=True)
    assert describe(ssm, name)["Description"] == "first"
    put(ssm, name, "v3", Overwrite=True, Description="")
    assert "Description" not in describe(ssm, name)
    put(ssm, name, "v4", Overwrite=True)
    assert "Description" not in describe(ssm, name)
    put(ssm, name, "v5", Overwrite=True, Description="second")
    assert describe(ssm, name)["Description"] == "second"
    history = ssm.get_parameter_history(Name=name)["Parameters"]
    assert [h.get("Description") for h in history] == ["first", "first", None, None, "second"]


def test_allowed_pattern_left_out_stays_and_only_empty_removes_it(ssm, name):
    put(ssm, name, "abc", AllowedPattern="^[a-z]+$")
    put(ssm, name, "def", Overwrite=True)
    assert describe(ssm, name)["AllowedPattern"] == "^[a-z]+$"
    code, message = refused(lambda: put(ssm, name, "ABC", Overwrite=True))
    assert code == "ParameterPatternMismatchException"
    assert message == "Parameter value, cannot be validated against allowedPattern: ^[a-z]+$"
    put(ssm, name, "ABC", Overwrite=True, AllowedPattern="")
    assert "AllowedPattern" not in describe(ssm, name)
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "ABC"


DOWNGRADE = ("This parameter uses the advanced-parameter tier. You can't downgrade a parameter "
             "from the advanced-parameter tier to the standard-parameter tier. If necessary, you "
             "can delete the advanced parameter and recreate it as a standard parameter.")


def test_advanced_never_becomes_standard_but_by_delete_and_create(ssm, name):
    assert put(ssm, name, Tier="Advanced")["Tier"] == "Advanced"
    assert put(ssm, name, "v2", Overwrite=True)["Tier"] == "Advanced"
    assert refused(lambda: put(ssm, name, "v3", Overwrite=True, Tier="Standard")) == \
        ("ValidationException", DOWNGRADE)
    assert put(ssm, name, "v3", Overwrite=True, Tier="Intelligent-Tiering")["Tier"] == "Advanced"
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 3
    ssm.delete_parameter(Name=name)
    created = put(ssm, name, "v4", Tier="Standard")
    assert (created["Version"], created["Tier"]) == (1, "Standard")


EXPIRES = json.dumps([{"Type": "Expiration", "Version": "1.0",
                       "Attributes": {"Timestamp": "2099-12-31T00:00:00.000Z"}}])


@pytest.mark.parametrize("value,policies,tier", [
    ("small", None, "Standard"), ("x" * 4097, None, "Advanced"), ("small", EXPIRES, "Advanced")])
def test_intelligent_tiering_picks_the_tier_a_request_needs(ssm, name, value, policies, tier):
    members = {"Policies": policies} if policies else {}
    assert put(ssm, name, value, Tier="Intelligent-Tiering", **members)["Tier"] == tier
    assert describe(ssm, name)["Tier"] == tier


def test_policies_only_on_advanced_and_kept_until_replaced_or_emptied(ssm, name):
    code, _ = refused(lambda: put(ssm, name, Tier="Standard", Policies=EXPIRES))
    assert code == "ValidationException"
    put(ssm, name, Tier="Advanced", Policies=EXPIRES)
    policy, = describe(ssm, name)["Policies"]
    assert policy["PolicyType"] == "Expiration" and policy["PolicyStatus"] == "Pending"
    assert json.loads(policy["PolicyText"])["Attributes"]["Timestamp"].startswith("2099")
    put(ssm, name, "v2", Overwrite=True)
    assert [p["PolicyType"] for p in describe(ssm, name)["Policies"]] == ["Expiration"]
    put(ssm, name, "v3", Overwrite=True, Policies="[]")
    assert describe(ssm, name)["Policies"] == []


@pytest.mark.parametrize("policies,code", [
    ("not json", "InvalidPolicyAttributeException"),
    (json.dumps([{"Type": "Rotation", "Version": "1.0", "Attributes": {}}]),
     "InvalidPolicyTypeException"),
    (json.dumps([{"Type": "Expiration", "Version": "1.0", "Attributes": {}}] * 2),
     "IncompatiblePolicyException"),
])
def test_bad_policies_are_refused(ssm, name, policies, code):
    assert refused(lambda: put(ssm, name, Tier="Advanced", Policies=policies))[0] == code


def test_key_id_stays_changes_and_belongs_to_secure_strings(ssm, name):
    put(ssm, name, "s1", Type="SecureString", KeyId="alias/custom")
    put(ssm, name, "s2", Type="SecureString", Overwrite=True)
    assert describe(ssm, name)["KeyId"] == "alias/custom"
    put(ssm, name, "s3", Type="SecureString", Overwrite=True, KeyId="alias/other")
    assert describe(ssm, name)["KeyId"] == "alias/other"
    put(ssm, name, "plain", Type="String", Overwrite=True)
    assert "KeyId" not in describe(ssm, name)
    assert refused(lambda: put(ssm, name, "p2", Overwrite=True, KeyId="alias/custom")) == \
        ("ValidationException", "KeyId is required for SecureString type parameter only.")
    put(ssm, name, "s4", Type="SecureString", Overwrite=True)
    assert describe(ssm, name)["KeyId"] == "alias/aws/ssm"


def test_data_type_left_out_stays_and_ec2_images_are_checked_after_the_answer(ssm, name):
    put(ssm, name, "ami-0123456789abcdef0", DataType="aws:ec2:image")
    time.sleep(0.3)
    assert put(ssm, name, "ami-0123456789abcdef1", Overwrite=True)["Version"] == 2
    assert ssm.get_parameter(Name=name)["Parameter"]["Version"] == 1  # not validated yet
    time.sleep(0.3)
    param = ssm.get_parameter(Name=name)["Parameter"]
    assert (param["Version"], param["DataType"]) == (2, "aws:ec2:image")
    put(ssm, name, "not-an-image", Overwrite=True)
    time.sleep(0.3)
    assert ssm.get_parameter(Name=name)["Parameter"]["Value"] == "ami-0123456789abcdef1"
    put(ssm, name, "free text", Overwrite=True, DataType="text")
    assert ssm.get_parameter(Name=name)["Parameter"]["DataType"] == "text"
