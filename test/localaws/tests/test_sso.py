"""IAM Identity Center through boto3's own clients: the SSO portal's
GetRoleCredentials (bearer token), SSO OIDC's RegisterClient and
CreateToken (refresh_token grant), and STS AssumeRole with an MFA code."""
import pytest
from botocore import UNSIGNED
from botocore.config import Config
from botocore.exceptions import ClientError

ACCOUNT = "123456789012"
MFA_ROLE = f"arn:aws:iam::{ACCOUNT}:role/needs-mfa"
MFA_SERIAL = f"arn:aws:iam::{ACCOUNT}:mfa/alice"


@pytest.fixture
def sso(client):
    return client("sso", config=Config(signature_version=UNSIGNED))


@pytest.fixture
def oidc(client):
    return client("sso-oidc", config=Config(signature_version=UNSIGNED))


def error_of(excinfo):
    response = excinfo.value.response
    return response["Error"]["Code"], response["ResponseMetadata"]["HTTPStatusCode"]


def test_role_credentials_for_a_logged_in_token_sign_sts(sso, client, clean_control):
    token = clean_control.post("sso/login", {})
    answer = sso.get_role_credentials(roleName="Admin", accountId=ACCOUNT,
                                      accessToken=token["accessToken"])["roleCredentials"]
    assert answer["accessKeyId"].startswith("ASIA")
    assert answer["expiration"] > 10**12  # epoch milliseconds
    sts = client("sts", aws_access_key_id=answer["accessKeyId"],
                 aws_secret_access_key=answer["secretAccessKey"],
                 aws_session_token=answer["sessionToken"])
    assert sts.get_caller_identity()["Arn"] == \
        f"arn:aws:sts::{ACCOUNT}:assumed-role/AWSReservedSSO_Admin/localaws-sso-user"


@pytest.mark.parametrize("case", ["unknown", "expired"])
def test_portal_refuses_unknown_and_expired_tokens(sso, clean_control, case):
    token = clean_control.post("sso/login", {"expires_in": 60})["accessToken"]
    if case == "unknown":
        token = "not-a-token"
    else:
        clean_control.post("clock", {"advance": 61})
    with pytest.raises(ClientError) as excinfo:
        sso.get_role_credentials(roleName="Admin", accountId=ACCOUNT, accessToken=token)
    assert error_of(excinfo) == ("UnauthorizedException", 401)


def test_refresh_token_gives_a_new_access_token_once(sso, oidc, clean_control):
    login = clean_control.post("sso/login", {"expires_in": 60})
    clean_control.post("clock", {"advance": 61})
    fresh = oidc.create_token(clientId=login["clientId"], clientSecret=login["clientSecret"],
                              grantType="refresh_token", refreshToken=login["refreshToken"])
    assert fresh["expiresIn"] == 3600 and fresh["refreshToken"] != login["refreshToken"]
    sso.get_role_credentials(roleName="Admin", accountId=ACCOUNT, accessToken=fresh["accessToken"])
    with pytest.raises(ClientError) as excinfo:
        oidc.create_token(clientId=login["clientId"], clientSecret=login["clientSecret"],
                          grantType="refresh_token", refreshToken=login["refreshToken"])
    assert error_of(excinfo) == ("InvalidGrantException", 400)


def test_create_token_checks_the_client(oidc):
    client = oidc.register_client(clientName="test", clientType="public")
    with pytest.raises(ClientError) as excinfo:
        oidc.create_token(clientId=client["clientId"], clientSecret="wrong",
                          grantType="refresh_token", refreshToken="x")
    assert error_of(excinfo) == ("InvalidClientException", 401)


@pytest.mark.parametrize("serial, code, expected", [
    (None, None, ("AccessDenied", 403)),
    (MFA_SERIAL, "000000", ("AccessDenied", 403)),
    (MFA_SERIAL, "12345a", ("ValidationError", 400)),
    (MFA_SERIAL, "123456", None),
])
def test_assume_role_with_mfa(sts, control, serial, code, expected):
    control.post("sts/mfa", {"role_arn": MFA_ROLE, "code": "123456"})
    extra = {"SerialNumber": serial, "TokenCode": code} if serial else {}
    if expected is None:
        assert sts.assume_role(RoleArn=MFA_ROLE, RoleSessionName="mfa-session", **extra)["Credentials"]
        return
    with pytest.raises(ClientError) as excinfo:
        sts.assume_role(RoleArn=MFA_ROLE, RoleSessionName="mfa-session", **extra)
    assert error_of(excinfo) == expected
