"""STS: caller identity and temporary credentials the emulator then honours."""
import datetime

import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

ROLE = "arn:aws:iam::000000000000:role/ssmbak-backup"


def error_code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_get_caller_identity_of_static_keys(sts):
    identity = sts.get_caller_identity()
    assert identity["Account"] == "000000000000"
    assert identity["Arn"] == "arn:aws:iam::000000000000:root"


def temporary_client(client, service, credentials, **overrides):
    return client(service, aws_access_key_id=credentials["AccessKeyId"],
                  aws_secret_access_key=credentials["SecretAccessKey"],
                  aws_session_token=credentials["SessionToken"], **overrides)


def test_assume_role_credentials_work_everywhere_then_expire(client, sts, clean_control, unique):
    result = sts.assume_role(RoleArn=ROLE, RoleSessionName="restore", DurationSeconds=900,
                             ExternalId="ext")
    credentials = result["Credentials"]
    assert credentials["AccessKeyId"].startswith("ASIA") and len(credentials["AccessKeyId"]) == 20
    assert result["AssumedRoleUser"]["Arn"] == \
        "arn:aws:sts::000000000000:assumed-role/ssmbak-backup/restore"
    lifetime = credentials["Expiration"] - datetime.datetime.now(datetime.timezone.utc)
    assert 800 < lifetime.total_seconds() <= 900
    temp_sts = temporary_client(client, "sts", credentials)
    assert temp_sts.get_caller_identity()["Arn"] == result["AssumedRoleUser"]["Arn"]
    temp_ssm = temporary_client(client, "ssm", credentials)
    name = "/" + unique("sts")
    temp_ssm.put_parameter(Name=name, Value="v", Type="String")
    history = client("ssm").get_parameter_history(Name=name)["Parameters"]
    assert history[0]["LastModifiedUser"] == result["AssumedRoleUser"]["Arn"]
    temporary_client(client, "s3", credentials).list_buckets()

    clean_control.post("clock", {"advance": 901})
    for service, call, code in [("sts", lambda c: c.get_caller_identity(), "ExpiredToken"),
                                ("ssm", lambda c: c.describe_parameters(), "ExpiredTokenException"),
                                ("s3", lambda c: c.list_buckets(), "ExpiredToken")]:
        with pytest.raises(ClientError) as excinfo:
            call(temporary_client(client, service, credentials))
        assert error_code(excinfo) == code


@pytest.mark.parametrize("service, call, code", [
    ("sts", lambda c: c.get_caller_identity(), "InvalidClientTokenId"),
    ("ssm", lambda c: c.describe_parameters(), "UnrecognizedClientException"),
    ("s3", lambda c: c.list_buckets(), "InvalidToken"),
])
def test_temporary_credentials_need_their_own_session_token(client, sts, service, call, code):
    credentials = dict(sts.assume_role(RoleArn=ROLE, RoleSessionName="tok")["Credentials"])
    credentials["SessionToken"] = "not-the-token"
    with pytest.raises(ClientError) as excinfo:
        call(temporary_client(client, service, credentials))
    assert error_code(excinfo) == code


def test_assume_role_with_web_identity_is_unsigned(client):
    anonymous = client("sts", config=Config(signature_version=UNSIGNED))
    result = anonymous.assume_role_with_web_identity(
        RoleArn=ROLE, RoleSessionName="gha", WebIdentityToken="eyJ.token.sig")
    assert result["Credentials"]["AccessKeyId"].startswith("ASIA")
    assert temporary_client(client, "sts", result["Credentials"]).get_caller_identity()["Arn"] == \
        "arn:aws:sts::000000000000:assumed-role/ssmbak-backup/gha"
    with pytest.raises(ClientError) as excinfo:
        anonymous.assume_role_with_web_identity(RoleArn=ROLE, RoleSessionName="gha",
                                                WebIdentityToken="invalid")
    assert error_code(excinfo) == "InvalidIdentityToken"


@pytest.mark.parametrize("kwargs", [
    {"RoleArn": "arn:aws:iam::000000000000:user/not-a-role"},
    {"RoleArn": ROLE, "RoleSessionName": "bad session"},
    {"RoleArn": ROLE, "DurationSeconds": 43201},
])
def test_assume_role_validation(sts, kwargs):
    kwargs.setdefault("RoleSessionName", "session")
    with pytest.raises(ClientError) as excinfo:
        sts.assume_role(**kwargs)
    assert error_code(excinfo) == "ValidationError"


def test_awscli_assume_role(aws):
    result = aws("sts", "assume-role", "--role-arn", ROLE, "--role-session-name", "cli")
    assert result["Credentials"]["SessionToken"]
