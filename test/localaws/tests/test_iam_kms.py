"""IAM, KMS, bucket policies and the bucket owner condition (localaws --iam).

What AWS does, followed here:
- evaluation: https://docs.aws.amazon.com/IAM/latest/UserGuide/reference_policies_evaluation-logic.html
- AccessDenied wording: https://docs.aws.amazon.com/IAM/latest/UserGuide/troubleshoot_access-denied.html
- key policies: https://docs.aws.amazon.com/kms/latest/developerguide/key-policy-default.html
- SSE-KMS: https://docs.aws.amazon.com/AmazonS3/latest/userguide/UsingKMSEncryption.html
- bucket owner condition: https://docs.aws.amazon.com/AmazonS3/latest/userguide/bucket-owner-condition.html
"""
import json
import uuid

import pytest
from botocore.exceptions import ClientError

from conftest import LocalAws, make_client

OTHER_ACCOUNT = "111111111111"


@pytest.fixture(scope="module")
def server():
    server = LocalAws("--iam", env={"LOCALAWS_CREDENTIALS": f"test:test,other:other:{OTHER_ACCOUNT}"})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def admin(server):
    return lambda service: make_client(server.endpoint, service)


def name(prefix):
    return f"{prefix}-{uuid.uuid4().hex[:10]}"


def error_of(excinfo):
    return excinfo.value.response["Error"]["Code"], excinfo.value.response["Error"]["Message"]


@pytest.fixture(scope="module")
def make_user(server, admin):
    """make_user({statements}) -> (arn, client factory) of a new IAM user."""
    iam = admin("iam")

    def make(*statements):
        user = name("user")
        arn = iam.create_user(UserName=user)["User"]["Arn"]
        if statements:
            iam.put_user_policy(UserName=user, PolicyName="p", PolicyDocument=json.dumps(
                {"Version": "2012-10-17", "Statement": list(statements)}))
        key = iam.create_access_key(UserName=user)["AccessKey"]
        return arn, lambda service: make_client(
            server.endpoint, service, aws_access_key_id=key["AccessKeyId"],
            aws_secret_access_key=key["SecretAccessKey"])
    return make


def allow(actions, resource="*"):
    return {"Effect": "Allow", "Action": actions, "Resource": resource}


@pytest.fixture
def kms_bucket(admin):
    """A bucket whose default encryption is SSE-KMS with a key under AWS's
    default key policy, holding one object; (bucket, key ARN)."""
    key_arn = admin("kms").create_key(Description="t")["KeyMetadata"]["Arn"]
    s3 = admin("s3")
    bucket = name("kms")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_encryption(Bucket=bucket, ServerSideEncryptionConfiguration={"Rules": [{
        "ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                               "KMSMasterKeyID": key_arn},
        "BucketKeyEnabled": True}]})
    put = s3.put_object(Bucket=bucket, Key="/app/secret", Body=b"hunter2")
    assert put["ServerSideEncryption"] == "aws:kms"
    assert put["SSEKMSKeyId"] == key_arn and put["BucketKeyEnabled"] is True
    return bucket, key_arn


def test_identity_of_an_iam_user(make_user):
    arn, client = make_user()
    assert client("sts").get_caller_identity()["Arn"] == arn


def test_get_object_alone_reads_no_sse_kms_object(kms_bucket, make_user):
    bucket, key_arn = kms_bucket
    arn, client = make_user(allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*"))
    s3 = client("s3")
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="/app/secret")
    code, message = error_of(excinfo)
    assert code == "AccessDenied" and excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert message == (f"User: {arn} is not authorized to perform: kms:Decrypt on resource: "
                       f"{key_arn} because no identity-based policy allows the kms:Decrypt action")
    # HEAD reads no body: no KMS call, as in S3
    head = s3.head_object(Bucket=bucket, Key="/app/secret")
    assert head["ServerSideEncryption"] == "aws:kms" and head["SSEKMSKeyId"] == key_arn


def test_kms_decrypt_in_an_iam_policy_reads_it(kms_bucket, make_user):
    bucket, key_arn = kms_bucket
    _, client = make_user(allow("s3:GetObject", f"arn:aws:s3:::{bucket}/*"),
                          allow("kms:Decrypt", key_arn))
    assert client("s3").get_object(Bucket=bucket, Key="/app/secret")["Body"].read() == b"hunter2"


def test_a_key_policy_that_does_not_name_the_account_refuses_iam_grants(admin, make_user):
    kms = admin("kms")
    arn, client = make_user(allow("kms:*"))
    key = kms.create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [{
        "Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:role/someone"},
        "Action": "kms:*", "Resource": "*"}]}))["KeyMetadata"]
    with pytest.raises(ClientError) as excinfo:
        client("kms").encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    code, message = error_of(excinfo)
    assert code == "AccessDeniedException"
    assert message.endswith("because no resource-based policy allows the kms:Encrypt action")


def test_a_key_policy_naming_the_principal_needs_no_iam_policy(admin, make_user):
    arn, client = make_user()
    key = admin("kms").create_key(Policy=json.dumps({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
         "Action": "kms:*", "Resource": "*"},
        {"Effect": "Allow", "Principal": {"AWS": arn}, "Action": ["kms:Encrypt", "kms:Decrypt"],
         "Resource": "*"}]}))["KeyMetadata"]
    kms = client("kms")
    blob = kms.encrypt(KeyId=key["Arn"], Plaintext=b"secret",
                       EncryptionContext={"k": "v"})["CiphertextBlob"]
    assert kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "v"})["Plaintext"] == b"secret"
    with pytest.raises(ClientError) as excinfo:
        kms.decrypt(CiphertextBlob=blob, EncryptionContext={"k": "other"})
    assert error_of(excinfo)[0] == "InvalidCiphertextException"


def test_kms_keys_aliases_and_data_keys(admin):
    kms = admin("kms")
    key = kms.create_key(Description="mine")["KeyMetadata"]
    assert key["KeyManager"] == "CUSTOMER" and key["KeyState"] == "Enabled"
    alias = name("alias/t")
    kms.create_alias(AliasName=alias, TargetKeyId=key["KeyId"])
    assert kms.describe_key(KeyId=alias)["KeyMetadata"]["Arn"] == key["Arn"]
    assert json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])[
        "Statement"][0]["Principal"] == {"AWS": "arn:aws:iam::000000000000:root"}
    data_key = kms.generate_data_key(KeyId=alias, KeySpec="AES_256")
    assert len(data_key["Plaintext"]) == 32
    assert kms.decrypt(CiphertextBlob=data_key["CiphertextBlob"])["Plaintext"] == data_key["Plaintext"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is True
    with pytest.raises(ClientError) as excinfo:
        kms.describe_key(KeyId="alias/none-such")
    assert error_of(excinfo)[0] == "NotFoundException"
    assert kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)["KeyState"] == \
        "PendingDeletion"
    with pytest.raises(ClientError) as excinfo:
        kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    assert error_of(excinfo)[0] == "KMSInvalidStateException"


WRITERS_ONLY = """{{"Version": "2012-10-17", "Statement": [{{
  "Sid": "OnlyWriters", "Effect": "Deny", "Principal": "*",
  "Action": ["s3:PutObject", "s3:DeleteObject", "s3:DeleteObjectVersion"],
  "Resource": ["arn:aws:s3:::{bucket}", "arn:aws:s3:::{bucket}/*"],
  "Condition": {{"ArnNotLike": {{"aws:PrincipalArn": ["{writer}"]}}}}}}]}}"""


def test_a_bucket_policy_deny_binds_everyone_outside_the_writers(admin, make_user):
    s3 = admin("s3")
    bucket = name("writers")
    s3.create_bucket(Bucket=bucket)
    writer_arn, writer = make_user(allow("s3:*"))
    outsider_arn, outsider = make_user(allow("s3:*"))
    s3.put_bucket_policy(Bucket=bucket, Policy=WRITERS_ONLY.format(bucket=bucket, writer=writer_arn))
    writer("s3").put_object(Bucket=bucket, Key="k", Body=b"ok")
    with pytest.raises(ClientError) as excinfo:
        outsider("s3").put_object(Bucket=bucket, Key="k", Body=b"planted")
    assert error_of(excinfo) == ("AccessDenied", (
        f"User: {outsider_arn} is not authorized to perform: s3:PutObject on resource: "
        f"arn:aws:s3:::{bucket}/k with an explicit deny in a resource-based policy"))
    # even the account's root user: an explicit deny wins over everything
    with pytest.raises(ClientError):
        s3.put_object(Bucket=bucket, Key="k", Body=b"planted")
    deleted = outsider("s3").delete_objects(Bucket=bucket, Delete={"Objects": [{"Key": "k"}]})
    assert deleted["Errors"][0]["Code"] == "AccessDenied"
    assert s3.get_object(Bucket=bucket, Key="k")["Body"].read() == b"ok"
    assert json.loads(s3.get_bucket_policy(Bucket=bucket)["Policy"])["Statement"][0]["Sid"] == \
        "OnlyWriters"


def test_secure_transport_condition(admin):
    s3 = admin("s3")
    bucket = name("tls")
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Statement": [{
        "Effect": "Deny", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"],
        "Condition": {"Bool": {"aws:SecureTransport": "false"}}}]}))
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x")   # this server speaks HTTP
    assert error_of(excinfo)[0] == "AccessDenied"


def test_no_identity_policy_no_access(admin, make_user):
    bucket = name("none")
    admin("s3").create_bucket(Bucket=bucket)
    arn, client = make_user()
    with pytest.raises(ClientError) as excinfo:
        client("s3").list_object_versions(Bucket=bucket)
    assert error_of(excinfo) == ("AccessDenied", (
        f"User: {arn} is not authorized to perform: s3:ListBucketVersions on resource: "
        f"arn:aws:s3:::{bucket} because no identity-based policy allows the "
        "s3:ListBucketVersions action"))


def test_ssm_identity_policies(admin, make_user):
    admin("ssm").put_parameter(Name="/iam/p", Value="v", Type="String", Overwrite=True)
    arn, client = make_user(allow("ssm:GetParameter",
                                  "arn:aws:ssm:us-east-1:000000000000:parameter/iam/*"))
    ssm = client("ssm")
    assert ssm.get_parameter(Name="/iam/p")["Parameter"]["Value"] == "v"
    with pytest.raises(ClientError) as excinfo:
        ssm.put_parameter(Name="/iam/p", Value="w", Type="String", Overwrite=True)
    assert error_of(excinfo) == ("AccessDeniedException", (
        f"User: {arn} is not authorized to perform: ssm:PutParameter on resource: "
        "arn:aws:ssm:us-east-1:000000000000:parameter/iam/p because no identity-based policy "
        "allows the ssm:PutParameter action"))


def test_an_assumed_role_is_held_to_its_policies(admin, server):
    iam = admin("iam")
    role = name("reader")
    role_arn = iam.create_role(RoleName=role, AssumeRolePolicyDocument=json.dumps({
        "Statement": [{"Effect": "Allow", "Principal": {"AWS": "arn:aws:iam::000000000000:root"},
                       "Action": "sts:AssumeRole"}]}))["Role"]["Arn"]
    iam.put_role_policy(RoleName=role, PolicyName="p", PolicyDocument=json.dumps({
        "Statement": [allow("s3:ListAllMyBuckets")]}))
    credentials = admin("sts").assume_role(RoleArn=role_arn, RoleSessionName="ses")["Credentials"]
    s3 = make_client(server.endpoint, "s3", aws_access_key_id=credentials["AccessKeyId"],
                     aws_secret_access_key=credentials["SecretAccessKey"],
                     aws_session_token=credentials["SessionToken"])
    s3.list_buckets()
    with pytest.raises(ClientError) as excinfo:
        s3.create_bucket(Bucket=name("nope"))
    assert f"assumed-role/{role}/ses is not authorized to perform: s3:CreateBucket" in \
        error_of(excinfo)[1]


def test_expected_bucket_owner(admin, server):
    s3 = admin("s3")
    bucket = name("owned")
    s3.create_bucket(Bucket=bucket)
    s3.put_object(Bucket=bucket, Key="k", Body=b"x", ExpectedBucketOwner="000000000000")
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner=OTHER_ACCOUNT)
    assert error_of(excinfo) == ("AccessDenied", "Access Denied")
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as excinfo:
        s3.head_bucket(Bucket=bucket, ExpectedBucketOwner=OTHER_ACCOUNT)
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=bucket, Key="k", ExpectedBucketOwner="not-an-account")
    assert error_of(excinfo)[0] == "InvalidArgument"


def test_a_bucket_of_another_account(admin, server):
    """Bucket sniping: another account made the name first; its owner sees
    it, the victim's CreateBucket is refused and the owner condition
    catches every other request, even through a policy open to all."""
    other = make_client(server.endpoint, "s3", aws_access_key_id="other",
                        aws_secret_access_key="other")
    bucket = name("sniped")
    other.create_bucket(Bucket=bucket)
    other.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}))
    s3 = admin("s3")
    assert bucket not in [b["Name"] for b in s3.list_buckets()["Buckets"]]
    with pytest.raises(ClientError) as excinfo:
        s3.create_bucket(Bucket=bucket)
    assert error_of(excinfo)[0] == "BucketAlreadyExists"
    s3.put_object(Bucket=bucket, Key="k", Body=b"the policy lets anyone in")
    with pytest.raises(ClientError) as excinfo:
        s3.put_object(Bucket=bucket, Key="k", Body=b"x", ExpectedBucketOwner="000000000000")
    assert error_of(excinfo) == ("AccessDenied", "Access Denied")


def test_cloudformation_makes_kms_keys_and_aliases(admin):
    cfn = admin("cloudformation")
    stack = name("kms")
    template = {"Resources": {
        "Key": {"Type": "AWS::KMS::Key", "Properties": {
            "Description": "t", "EnableKeyRotation": True, "KeyPolicy": {
                "Version": "2012-10-17", "Statement": [{
                    "Effect": "Allow", "Principal": {"AWS": {"Fn::Sub":
                                                             "arn:aws:iam::${AWS::AccountId}:root"}},
                    "Action": "kms:*", "Resource": "*"}]}}},
        "Alias": {"Type": "AWS::KMS::Alias", "Properties": {
            "AliasName": f"alias/{stack}", "TargetKeyId": {"Ref": "Key"}}}},
        "Outputs": {"Id": {"Value": {"Ref": "Key"}}, "Arn": {"Value": {"Fn::GetAtt": ["Key", "Arn"]}}}}
    cfn.create_stack(StackName=stack, TemplateBody=json.dumps(template))
    cfn.get_waiter("stack_create_complete").wait(StackName=stack,
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    outputs = {o["OutputKey"]: o["OutputValue"]
               for o in cfn.describe_stacks(StackName=stack)["Stacks"][0]["Outputs"]}
    kms = admin("kms")
    described = kms.describe_key(KeyId=f"alias/{stack}")["KeyMetadata"]
    assert described["KeyId"] == outputs["Id"] and described["Arn"] == outputs["Arn"]
    assert kms.get_key_rotation_status(KeyId=outputs["Id"])["KeyRotationEnabled"] is True
    cfn.delete_stack(StackName=stack)
    cfn.get_waiter("stack_delete_complete").wait(StackName=stack,
                                                 WaiterConfig={"Delay": 1, "MaxAttempts": 60})
    assert kms.describe_key(KeyId=outputs["Id"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    assert not [a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == f"alias/{stack}"]
