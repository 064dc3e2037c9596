"""Credentials and region found where the AWS CLI finds them, end to end.

Every scenario runs build/whoami, which resolves the chain exactly as the
commands do (aws_ctx_init) and signs a real STS GetCallerIdentity against
localaws; the test checks which key signed and who localaws says called.
localaws plays STS (AssumeRole, AssumeRoleWithWebIdentity); creds_servers
plays IMDSv2 and the container endpoint. A wrong or expired credential
fails with its one-line message and the documented exit code (1: AWS said
no, 3: configuration). No run may print a secret or a token.
"""
import datetime
import hashlib
import json
import os
import pty
import select
import signal
import stat
import subprocess
import termios
import textwrap
import time

import pytest

from conftest import LocalAws, built
from creds_servers import (SECRETS, ContainerEndpoint, Imds, in_seconds, remember,
                           temporary_credentials)

EXIT_FAILURE, EXIT_CONFIG = 1, 3
ACCOUNT = "000000000000"
ROOT_ARN = f"arn:aws:iam::{ACCOUNT}:root"
# Key pairs localaws accepts, one per source so a test sees which signed.
KEYS = {"test": "test", "AKIDFILE": "secret-file-0001", "AKIDCONF": "secret-conf-0002",
        "AKIDPROC": "secret-proc-0003", "AKIDPROC2": "secret-proc-0004",
        "AKIDBASE": "secret-base-0005"}
remember(*[secret for secret in KEYS.values() if secret != "test"])


def role(name):
    return f"arn:aws:iam::123456789012:role/{name}"


def assumed(name, session):
    return f"arn:aws:sts::123456789012:assumed-role/{name}/{session}"


@pytest.fixture(scope="module")
def la():
    server = LocalAws(env={"LOCALAWS_CREDENTIALS": ",".join(f"{k}:{v}" for k, v in KEYS.items())})
    try:
        yield server
    finally:
        server.stop()


@pytest.fixture
def sts(la):
    la.clock()
    yield la
    la.clock()


class Home:
    """A user's home with ~/.aws/config and ~/.aws/credentials."""

    def __init__(self, path):
        self.path = path
        self.aws = path / ".aws"
        self.aws.mkdir()
        self.config = self.aws / "config"
        self.credentials = self.aws / "credentials"

    def write_config(self, text):
        self.config.write_text(textwrap.dedent(text))

    def write_credentials(self, text):
        self.credentials.write_text(textwrap.dedent(text))

    def file(self, name, text, mode=0o600):
        p = self.path / name
        p.write_text(text)
        p.chmod(mode)
        return p


@pytest.fixture
def home(tmp_path):
    h = tmp_path / "home"
    h.mkdir()
    return Home(h)


class Result:
    def __init__(self, proc):
        self.rc = proc.returncode
        self.stdout = proc.stdout
        self.stderr = proc.stderr
        self.out = dict(line.split("=", 1) for line in proc.stdout.splitlines() if "=" in line)
        self.keys = [line.split("=", 1)[1] for line in proc.stdout.splitlines()
                     if line.startswith("access_key_id=")]
        self.arns = [line.split("=", 1)[1] for line in proc.stdout.splitlines()
                     if line.startswith("arn=")]

    def __repr__(self):
        return f"rc={self.rc}\nstdout:\n{self.stdout}\nstderr:\n{self.stderr}"


@pytest.fixture
def whoami(sts, home):
    """whoami(*args, **env) with a clean environment: HOME, localaws as
    every endpoint, us-east-1, no IMDS; env values of None unset a name.
    $SSMBAK_WHOAMI may name another build (a sanitizer one)."""
    binary = os.environ.get("SSMBAK_WHOAMI") or built("build/whoami")
    sanitizers = {k: v for k, v in os.environ.items() if k.endswith("SAN_OPTIONS")}

    def run(*args, **env):
        full = {"PATH": "/usr/bin:/bin", "HOME": str(home.path), "AWS_ENDPOINT_URL": sts.endpoint,
                "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true", **sanitizers}
        full.update(env)
        full = {k: v for k, v in full.items() if v is not None}
        # A session of its own: no controlling terminal to ask an MFA code on.
        proc = subprocess.run([binary, *args], env=full, capture_output=True, text=True,
                              timeout=60, start_new_session=True)
        result = Result(proc)
        for secret in SECRETS:
            assert secret not in proc.stdout + proc.stderr, f"a secret was printed\n{result}"
        if result.rc:
            assert len(proc.stderr.strip().splitlines()) == 1, f"not one line\n{result}"
        return result
    return run


def signed_by(r, key, arn=ROOT_ARN):
    assert r.rc == 0, r
    assert r.keys == [key], r
    assert r.arns == [arn], r


def failed(r, code, *fragments):
    assert r.rc == code, r
    for fragment in fragments:
        assert fragment in r.stderr, r


# --- the environment ------------------------------------------------------

def test_environment_keys_sign(whoami):
    r = whoami(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    signed_by(r, "test")
    assert r.out["credentials"] == "env"


def test_environment_session_token_signs(whoami, sts):
    c = temporary_credentials(sts.endpoint, role=role("ci"), session="job-1")
    r = whoami(AWS_ACCESS_KEY_ID=c["AccessKeyId"], AWS_SECRET_ACCESS_KEY=c["SecretAccessKey"],
               AWS_SESSION_TOKEN=c["Token"])
    signed_by(r, c["AccessKeyId"], assumed("ci", "job-1"))


def test_environment_wrong_secret_is_refused(whoami):
    r = whoami(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="not-the-secret")
    remember("not-the-secret")
    failed(r, EXIT_FAILURE, "STS GetCallerIdentity: SignatureDoesNotMatch")


def test_environment_unknown_key_is_refused(whoami):
    r = whoami(AWS_ACCESS_KEY_ID="AKIDUNKNOWN", AWS_SECRET_ACCESS_KEY="x")
    failed(r, EXIT_FAILURE, "STS GetCallerIdentity: InvalidClientTokenId")


def test_environment_expired_credentials(whoami):
    r = whoami(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test",
               AWS_CREDENTIAL_EXPIRATION="2020-01-01T00:00:00Z")
    failed(r, EXIT_CONFIG, "AWS_CREDENTIAL_EXPIRATION: the credentials expired at 2020-01-01T00:00:00Z")


def test_environment_key_without_secret(whoami):
    r = whoami(AWS_ACCESS_KEY_ID="test")
    failed(r, EXIT_CONFIG, "AWS_ACCESS_KEY_ID is set but AWS_SECRET_ACCESS_KEY is not")


# --- the shared files -----------------------------------------------------

CREDENTIALS = """\
    # keys of several people
    [default]
    aws_access_key_id = AKIDFILE
    aws_secret_access_key = secret-file-0001

    [base]
    aws_access_key_id=AKIDBASE
    aws_secret_access_key=secret-base-0005
    ; a comment
    [proc]
    aws_access_key_id = AKIDPROC
    aws_secret_access_key = secret-proc-0003
    """


def test_credentials_file_default_profile(whoami, home):
    home.write_credentials(CREDENTIALS)
    r = whoami()
    signed_by(r, "AKIDFILE")
    assert r.out["credentials"] == "shared-credentials-file(default)"


def test_profile_flag_skips_the_environment(whoami, home):
    home.write_credentials(CREDENTIALS)
    r = whoami("--profile", "base", AWS_ACCESS_KEY_ID="AKIDWRONG", AWS_SECRET_ACCESS_KEY="wrong")
    signed_by(r, "AKIDBASE")


def test_aws_profile_does_not_skip_the_environment(whoami, home):
    home.write_credentials(CREDENTIALS)
    r = whoami(AWS_PROFILE="base", AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    signed_by(r, "test")


def test_profile_flag_over_aws_profile(whoami, home):
    home.write_credentials(CREDENTIALS)
    assert whoami(AWS_PROFILE="proc").keys == ["AKIDPROC"]
    signed_by(whoami("--profile", "base", AWS_PROFILE="proc"), "AKIDBASE")


def test_config_file_keys(whoami, home):
    home.write_config("""\
        [profile conf]
        region = us-east-1
        aws_access_key_id = AKIDCONF
        aws_secret_access_key = secret-conf-0002
        """)
    r = whoami("--profile", "conf")
    signed_by(r, "AKIDCONF")
    assert r.out["credentials"] == "config-file(conf)"


def test_credentials_file_over_config_file(whoami, home):
    home.write_config("""\
        [profile base]
        aws_access_key_id = AKIDCONF
        aws_secret_access_key = secret-conf-0002
        """)
    home.write_credentials(CREDENTIALS)
    signed_by(whoami("--profile", "base"), "AKIDBASE")


def test_files_named_by_the_environment(whoami, home):
    elsewhere = home.file("team-credentials", "[default]\naws_access_key_id = AKIDCONF\n"
                                              "aws_secret_access_key = secret-conf-0002\n")
    home.write_credentials(CREDENTIALS)
    signed_by(whoami(AWS_SHARED_CREDENTIALS_FILE=str(elsewhere)), "AKIDCONF")


def test_config_profile_section_rules(whoami, home):
    # In the config file [base] is no profile; in the credentials file
    # [profile x] is a profile named "profile x".
    home.write_config("[base]\nregion = eu-west-1\n")
    home.write_credentials("[profile x]\naws_access_key_id = AKIDFILE\n"
                           "aws_secret_access_key = secret-file-0001\n")
    failed(whoami("--profile", "x"), EXIT_CONFIG, "profile 'x' not found")
    failed(whoami("--profile", "base"), EXIT_CONFIG, "profile 'base' not found")


def test_missing_profile_names_profile_and_files(whoami, home):
    home.write_credentials(CREDENTIALS)
    r = whoami("--profile", "ghost")
    failed(r, EXIT_CONFIG,
           f"profile 'ghost' not found in {home.config} (missing) or {home.credentials}")
    failed(whoami(AWS_PROFILE="ghost", AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test"),
           EXIT_CONFIG, "profile 'ghost' not found")


def test_malformed_config_file(whoami, home):
    home.write_config("[default]\nregion = us-east-1\nthis is not a setting\n")
    failed(whoami(AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test"), EXIT_CONFIG,
           f"{home.config} line 3: expected 'key = value' or a [section]")


def test_real_world_config_syntax(whoami, home, sts):
    home.write_config(f"""\
        # written by aws configure sso, then edited
        [default]
        region = eu-west-2
        output = json

        [sso-session corp]
        sso_start_url = https://corp.awsapps.com/start
        sso_region = us-east-1
        sso_registration_scopes = sso:account:access

        [services local]
        sts =
          endpoint_url = {sts.endpoint}

        [profile  dev]
        region=ap-southeast-2
        s3 =
            max_concurrent_requests = 20
            addressing_style = path
        ; keys below
        AWS_ACCESS_KEY_ID = AKIDCONF
        aws_secret_access_key: secret-conf-0002
        """)
    r = whoami("--profile", "dev", AWS_REGION=None)
    signed_by(r, "AKIDCONF")
    assert r.out["region"] == "ap-southeast-2 (profile)"


# --- region and endpoint --------------------------------------------------

def test_region_from_the_profile(whoami, home):
    home.write_config("[default]\nregion = eu-west-3\n")
    home.write_credentials(CREDENTIALS)
    r = whoami(AWS_REGION=None)
    signed_by(r, "AKIDFILE")
    assert r.out["region"] == "eu-west-3 (profile)"
    assert whoami(AWS_REGION=None, AWS_DEFAULT_REGION="ca-central-1").out["region"] == \
        "ca-central-1 (AWS_DEFAULT_REGION)"
    assert whoami("--region", "sa-east-1").out["region"] == "sa-east-1 (--region)"


def test_no_region(whoami):
    r = whoami(AWS_REGION=None, AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    failed(r, EXIT_CONFIG, "no region: give --region, set AWS_REGION, or set region in your "
                           "profile in ~/.aws/config")


def test_endpoint_url_from_the_profile(whoami, home, sts):
    home.write_config(f"[default]\nendpoint_url = {sts.endpoint}\n")
    home.write_credentials(CREDENTIALS)
    signed_by(whoami(AWS_ENDPOINT_URL=None), "AKIDFILE")


# --- credential_process ---------------------------------------------------

def process_script(home, body):
    """A credential_process helper in Python; body sees `count`, the run
    number, and prints with out(dict)."""
    script = home.file("helper.py", "import json, pathlib, sys, datetime\n"
                       f"counter = pathlib.Path({str(home.path / 'runs')!r})\n"
                       "count = int(counter.read_text()) + 1 if counter.exists() else 1\n"
                       "counter.write_text(str(count))\n"
                       "def out(d): print(json.dumps(d))\n"
                       + textwrap.dedent(body), 0o700)
    return f"/usr/bin/python3 {script}"


def runs(home):
    p = home.path / "runs"
    return int(p.read_text()) if p.exists() else 0


def test_credential_process_signs(whoami, home):
    command = process_script(home, """\
        out({"Version": 1, "AccessKeyId": "AKIDPROC", "SecretAccessKey": "secret-proc-0003"})
        """)
    home.write_config(f"[profile p]\ncredential_process = {command} --profile p\n")
    r = whoami("--profile", "p")
    signed_by(r, "AKIDPROC")
    assert r.out["credentials"] == "custom-process(p)"


def test_credential_process_with_session_token(whoami, home, sts):
    c = temporary_credentials(sts.endpoint, role=role("sso"), session="alice")
    command = process_script(home, f"""\
        out({{"Version": 1, "AccessKeyId": {c["AccessKeyId"]!r},
              "SecretAccessKey": {c["SecretAccessKey"]!r},
              "SessionToken": {c["Token"]!r}, "Expiration": {c["Expiration"]!r}}})
        """)
    # What `aws configure export-credentials --format process` gives SSO users.
    home.write_config(f"[profile sso-process]\ncredential_process = {command}\n")
    signed_by(whoami("--profile", "sso-process"), c["AccessKeyId"], assumed("sso", "alice"))


def test_credential_process_runs_through_the_shell(whoami, home):
    command = process_script(home, """\
        out({"Version": 1, "AccessKeyId": sys.stdin.readline().strip() or "none",
             "SecretAccessKey": "secret-proc-0003"})
        """)
    home.write_config(f"[default]\ncredential_process = echo AKIDPROC | {command} 2>/dev/null\n")
    signed_by(whoami(), "AKIDPROC")


def test_credential_process_refreshed_before_expiry(whoami, home):
    command = process_script(home, """\
        soon = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(seconds=302)
        out({"Version": 1, "AccessKeyId": "AKIDPROC" if count == 1 else "AKIDPROC2",
             "SecretAccessKey": "secret-proc-0003" if count == 1 else "secret-proc-0004",
             "Expiration": soon.strftime("%Y-%m-%dT%H:%M:%SZ")})
        """)
    home.write_config(f"[default]\ncredential_process = {command}\n")
    r = whoami("--calls", "2", "--interval-ms", "2500")
    assert r.rc == 0, r
    # Five minutes before expiry the SDKs fetch anew; so do we.
    assert r.keys == ["AKIDPROC", "AKIDPROC2"], r
    assert runs(home) == 2


def test_credential_process_expired(whoami, home):
    command = process_script(home, """\
        out({"Version": 1, "AccessKeyId": "AKIDPROC", "SecretAccessKey": "secret-proc-0003",
             "Expiration": "2021-06-01T00:00:00Z"})
        """)
    home.write_config(f"[default]\ncredential_process = {command}\n")
    failed(whoami(), EXIT_CONFIG,
           "credential_process of profile 'default': the credentials expired at 2021-06-01T00:00:00Z")


def test_credential_process_fails(whoami, home):
    command = process_script(home, """\
        print("Error loading SSO Token: Token for corp does not exist", file=sys.stderr)
        sys.exit(255)
        """)
    home.write_config(f"[default]\ncredential_process = {command}\n")
    failed(whoami(), EXIT_CONFIG, "credential_process of profile 'default' failed with exit "
                                  "status 255: Error loading SSO Token")


def test_credential_process_wrong_version(whoami, home):
    command = process_script(home, """\
        out({"Version": 2, "AccessKeyId": "AKIDPROC", "SecretAccessKey": "secret-proc-0003"})
        """)
    home.write_config(f"[default]\ncredential_process = {command}\n")
    failed(whoami(), EXIT_CONFIG, "credential_process of profile 'default': Version must be 1")


# --- IAM Identity Center (SSO) --------------------------------------------

SSO_CONFIG = """\
    [profile dev]
    sso_session = my-sso
    sso_account_id = 123456789012
    sso_role_name = Admin
    region = us-east-1
    [sso-session my-sso]
    sso_start_url = https://corp.awsapps.com/start
    sso_region = us-east-1
    sso_registration_scopes = sso:account:access
    """
LEGACY_SSO_CONFIG = """\
    [profile old]
    sso_start_url = https://corp.awsapps.com/start
    sso_region = us-east-1
    sso_account_id = 123456789012
    sso_role_name = ReadOnly
    """
SSO_ARN = "arn:aws:sts::123456789012:assumed-role/AWSReservedSSO_{}/localaws-sso-user"


def sso_cache_file(home, key):
    """~/.aws/sso/cache/<sha1 of the session name or start URL>.json"""
    return home.aws / "sso" / "cache" / (hashlib.sha1(key.encode()).hexdigest() + ".json")


def sso_login(la, home, key, *, expires_at=None, refreshable=True):
    """What `aws sso login` leaves: a token localaws knows, in the cache."""
    login = la.control("POST", "sso/login", {})
    remember(login["accessToken"], login["refreshToken"], login["clientSecret"])
    token = {"startUrl": "https://corp.awsapps.com/start", "region": "us-east-1",
             "accessToken": login["accessToken"], "expiresAt": expires_at or login["expiresAt"]}
    if refreshable:
        token.update({k: login[k] for k in ("clientId", "clientSecret",
                                             "registrationExpiresAt", "refreshToken")})
    path = sso_cache_file(home, key)
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(json.dumps(token))
    path.chmod(0o600)
    return path, token


def test_sso_session_profile(whoami, home, sts):
    home.write_config(SSO_CONFIG)
    sso_login(sts, home, "my-sso")
    r = whoami("--profile", "dev")
    assert r.rc == 0, r
    assert r.keys[0].startswith("ASIA") and r.arns == [SSO_ARN.format("Admin")], r
    assert r.out["credentials"] == "SSO profile dev (sso-session my-sso)"


def test_legacy_sso_profile(whoami, home, sts):
    home.write_config(LEGACY_SSO_CONFIG)
    sso_login(sts, home, "https://corp.awsapps.com/start", refreshable=False)
    r = whoami("--profile", "old")
    assert r.rc == 0 and r.arns == [SSO_ARN.format("ReadOnly")], r
    assert r.out["credentials"] == \
        "SSO profile old (legacy, sso_start_url https://corp.awsapps.com/start)"


def test_expired_sso_token_is_refreshed_and_the_cache_rewritten(whoami, home, sts):
    home.write_config(SSO_CONFIG)
    path, old = sso_login(sts, home, "my-sso", expires_at=in_seconds(-60))
    r = whoami("--profile", "dev")
    assert r.rc == 0 and r.arns == [SSO_ARN.format("Admin")], r
    new = json.loads(path.read_text())
    remember(new["accessToken"], new["refreshToken"])
    assert new["accessToken"] != old["accessToken"]
    assert new["refreshToken"] != old["refreshToken"]
    assert new["clientId"] == old["clientId"] and new["startUrl"] == old["startUrl"]
    assert datetime.datetime.fromisoformat(new["expiresAt"].replace("Z", "+00:00")) > \
        datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=50)
    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    # the refresh token was spent: the next run uses the new token as it is
    assert whoami("--profile", "dev").rc == 0


@pytest.mark.parametrize("profile, config, key", [
    ("dev", SSO_CONFIG, "my-sso"),
    ("old", LEGACY_SSO_CONFIG, "https://corp.awsapps.com/start"),
])
def test_expired_sso_token_without_refresh_asks_for_login(whoami, home, sts, profile, config,
                                                          key):
    home.write_config(config)
    sso_login(sts, home, key, expires_at=in_seconds(-60), refreshable=False)
    failed(whoami("--profile", profile), EXIT_CONFIG, "the SSO token has expired",
           f"run aws sso login --profile {profile}")


def test_sso_without_a_cached_token_asks_for_login(whoami, home):
    home.write_config(SSO_CONFIG)
    failed(whoami("--profile", "dev"), EXIT_CONFIG, "no SSO token for profile 'dev'",
           "run aws sso login --profile dev")


def test_sso_token_the_portal_refuses_asks_for_login(whoami, home):
    home.write_config(SSO_CONFIG)
    path = sso_cache_file(home, "my-sso")
    path.parent.mkdir(parents=True)
    path.write_text(json.dumps({"accessToken": remember("revoked-token"),
                                "expiresAt": in_seconds(3600)}))
    failed(whoami("--profile", "dev"), EXIT_CONFIG, "the SSO token was refused",
           "run aws sso login --profile dev")


@pytest.mark.parametrize("config, message", [
    ("[profile s]\nsso_session = nope\nsso_account_id = 1\nsso_role_name = r\n",
     "profile 's' names sso_session 'nope', but there is no [sso-session nope]"),
    ("[profile s]\nsso_session = c\nsso_role_name = r\n[sso-session c]\n"
     "sso_start_url = https://x\nsso_region = us-east-1\n",
     "profile 's' uses IAM Identity Center (SSO) but has no sso_account_id"),
    ("[profile s]\nsso_session = c\nsso_account_id = 1\nsso_role_name = r\n"
     "[sso-session c]\nsso_start_url = https://x\n",
     "sso-session 'c' of profile 's' has no sso_region"),
    ("[profile s]\nsso_session = c\nsso_region = eu-west-1\nsso_account_id = 1\n"
     "sso_role_name = r\n[sso-session c]\nsso_start_url = https://x\nsso_region = us-east-1\n",
     "profile 's' has sso_region 'eu-west-1' but its sso-session 'c' has 'us-east-1'"),
])
def test_sso_configuration_mistakes(whoami, home, config, message):
    home.write_config(config)
    failed(whoami("--profile", "s"), EXIT_CONFIG, message)


def test_expired_sso_token_whose_refresh_is_refused_asks_for_login(whoami, home, sts):
    home.write_config(SSO_CONFIG)
    path, token = sso_login(sts, home, "my-sso", expires_at=in_seconds(-60))
    token["refreshToken"] = remember("spent-refresh-token")
    path.write_text(json.dumps(token))
    failed(whoami("--profile", "dev"), EXIT_CONFIG,
           "the SSO token has expired and its refresh failed (InvalidGrantException)",
           "run aws sso login --profile dev")
    assert json.loads(path.read_text()) == token, "the cache was rewritten"


def test_role_assumed_from_an_sso_profile(whoami, home, sts):
    home.write_config(textwrap.dedent(SSO_CONFIG) + textwrap.dedent(f"""\
        [profile deploy]
        role_arn = {role("deploy")}
        source_profile = dev
        role_session_name = ci
        """))
    sso_login(sts, home, "my-sso")
    r = whoami("--profile", "deploy")
    assert r.rc == 0 and r.arns == [assumed("deploy", "ci")], r
    assert r.out["credentials"] == "assume-role(deploy) <- SSO profile dev (sso-session my-sso)"


def test_ssmbak_verbose_names_the_sso_profile(ssmbak_bin, home, sts):
    """The command itself: -v says where the credentials come from."""
    home.write_config(SSO_CONFIG)
    sso_login(sts, home, "my-sso")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home.path), "AWS_ENDPOINT_URL": sts.endpoint,
           "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
           **{k: v for k, v in os.environ.items() if k.endswith("SAN_OPTIONS")}}
    proc = subprocess.run([ssmbak_bin, "history", "-v", "--profile", "dev", "/x"], env=env,
                          capture_output=True, text=True, timeout=60, start_new_session=True)
    assert "credentials from SSO profile dev (sso-session my-sso)" in proc.stderr, proc.stderr
    # the SSO credentials signed: what follows is about the (missing) bucket
    assert "SSO" not in proc.stderr.split("credentials from", 1)[1].split("\n", 1)[1], proc.stderr
    for secret in SECRETS:
        assert secret not in proc.stdout + proc.stderr


# --- MFA ------------------------------------------------------------------

MFA_SERIAL = "arn:aws:iam::123456789012:mfa/alice"
MFA_ROLE = role("admin-mfa")
MFA_CONFIG = f"""\
    [profile admin]
    role_arn = {MFA_ROLE}
    source_profile = base
    mfa_serial = {MFA_SERIAL}
    """


@pytest.fixture
def mfa_role(sts, home):
    sts.control("POST", "sts/mfa", {"role_arn": MFA_ROLE, "code": "123456"})
    home.write_credentials(CREDENTIALS)
    home.write_config(MFA_CONFIG)


def on_terminal(sts, home, args, code, *, after=None):
    """Runs whoami on a pseudo-terminal of its own (its controlling
    terminal, as /dev/tty), answering the MFA prompt with code (bytes:
    typed as they are); after(fd) is called once the child has ended."""
    binary = os.environ.get("SSMBAK_WHOAMI") or built("build/whoami")
    env = {"PATH": "/usr/bin:/bin", "HOME": str(home.path), "AWS_ENDPOINT_URL": sts.endpoint,
           "AWS_REGION": "us-east-1", "AWS_EC2_METADATA_DISABLED": "true",
           **{k: v for k, v in os.environ.items() if k.endswith("SAN_OPTIONS")}}
    pid, fd = pty.fork()
    if pid == 0:
        try:
            os.execve(binary, [binary, *args], env)
        finally:
            os._exit(127)
    seen, answered = b"", False
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline:
            ready, _, _ = select.select([fd], [], [], 1)
            if not ready:
                continue
            try:
                chunk = os.read(fd, 4096)
            except OSError:  # EIO: the child closed the terminal
                break
            if not chunk:
                break
            seen += chunk
            if not answered and b"Enter MFA code for " in seen:
                os.write(fd, code if isinstance(code, bytes) else code.encode() + b"\n")
                answered = True
    finally:
        _, status = os.waitpid(pid, 0)
        if after is not None:
            after(fd)
        os.close(fd)
    return os.waitstatus_to_exitcode(status), seen.decode(errors="replace")


def cli_cache_file(home):
    """~/.aws/cli/cache/<sha1 of botocore's AssumeRole arguments>.json"""
    args = json.dumps({"RoleArn": MFA_ROLE, "SerialNumber": MFA_SERIAL}, sort_keys=True)
    return home.aws / "cli" / "cache" / (hashlib.sha1(args.encode()).hexdigest() + ".json")


def test_mfa_prompts_on_the_terminal_then_uses_the_cache(whoami, home, sts, mfa_role):
    sts.reset_counters()
    rc, out = on_terminal(sts, home, ["--profile", "admin"], "123456")
    assert rc == 0, out
    assert f"Enter MFA code for {MFA_SERIAL}: " in out
    assert "arn=arn:aws:sts::123456789012:assumed-role/admin-mfa/" in out, out
    assert f"{MFA_SERIAL}: 123456" not in out, "the code was echoed"
    cache = cli_cache_file(home)
    assert stat.S_IMODE(cache.stat().st_mode) == 0o600
    cached = json.loads(cache.read_text())["Credentials"]
    remember(cached["SecretAccessKey"], cached["SessionToken"])
    # the second run, with no terminal at all, takes the cached credentials
    r = whoami("--profile", "admin")
    assert r.rc == 0 and r.keys == [cached["AccessKeyId"]], r
    assert r.out["credentials"] == \
        f"assume-role(admin, MFA {MFA_SERIAL}) <- shared-credentials-file(base)"
    assert sts.counters().get("sts", {}).get("AssumeRole") == 1, sts.counters()


def test_mfa_wrong_code_is_refused(home, sts, mfa_role):
    rc, out = on_terminal(sts, home, ["--profile", "admin"], "000000")
    assert rc == EXIT_FAILURE, out
    assert "MultiFactorAuthentication failed" in out, out
    assert not cli_cache_file(home).exists()


def test_mfa_prompt_interrupted_gives_the_echo_back(home, sts, mfa_role):
    modes = []
    rc, out = on_terminal(sts, home, ["--profile", "admin"], b"\x03",
                          after=lambda fd: modes.append(termios.tcgetattr(fd)[3]))
    assert rc == -signal.SIGINT, out
    assert modes and modes[0] & termios.ECHO, "the terminal was left without echo"
    assert not cli_cache_file(home).exists()


def test_mfa_without_a_terminal_fails_with_one_line(whoami, mfa_role):
    failed(whoami("--profile", "admin"), EXIT_CONFIG,
           f"profile 'admin' needs an MFA code for {MFA_SERIAL} (mfa_serial), and there is "
           "no terminal to ask on")


def test_mfa_expired_cache_entry_asks_again(home, sts, mfa_role):
    cache = cli_cache_file(home)
    cache.parent.mkdir(parents=True)
    # as the AWS CLI writes it: strftime's %Z, "UTC"
    cache.write_text(json.dumps({"Credentials": {
        "AccessKeyId": "ASIAOLD", "SecretAccessKey": "old", "SessionToken": "old",
        "Expiration": (datetime.datetime.now(datetime.timezone.utc) +
                       datetime.timedelta(minutes=10)).strftime("%Y-%m-%dT%H:%M:%SUTC")}}))
    rc, out = on_terminal(sts, home, ["--profile", "admin"], "123456")
    assert rc == 0 and "Enter MFA code" in out, out
    assert json.loads(cache.read_text())["Credentials"]["AccessKeyId"] != "ASIAOLD"


# --- assume role ----------------------------------------------------------

def test_assume_role_from_source_profile(whoami, home):
    home.write_credentials(CREDENTIALS)
    home.write_config(f"""\
        [profile dev]
        role_arn = {role("dev")}
        source_profile = base
        role_session_name = ssmbak-e2e
        external_id = team-42
        duration_seconds = 900
        """)
    r = whoami("--profile", "dev")
    assert r.rc == 0, r
    assert r.keys[0].startswith("ASIA"), r
    assert r.arns == [assumed("dev", "ssmbak-e2e")], r
    assert r.out["credentials"] == "assume-role(dev) <- shared-credentials-file(base)"


def test_assume_role_default_session_name(whoami, home):
    home.write_credentials(CREDENTIALS)
    home.write_config(f"[default]\nrole_arn = {role('dev')}\nsource_profile = base\n")
    r = whoami()
    assert r.rc == 0, r
    assert r.arns[0].startswith("arn:aws:sts::123456789012:assumed-role/dev/ssmbak-session-"), r


def test_assume_role_chain(whoami, home):
    home.write_credentials(CREDENTIALS)
    home.write_config(f"""\
        [profile a]
        role_arn = {role("a")}
        source_profile = b
        role_session_name = hop-a
        [profile b]
        role_arn = {role("b")}
        source_profile = base
        role_session_name = hop-b
        """)
    r = whoami("--profile", "a")
    assert r.rc == 0, r
    assert r.arns == [assumed("a", "hop-a")], r
    assert r.out["credentials"] == \
        "assume-role(a) <- assume-role(b) <- shared-credentials-file(base)"


def test_assume_role_loop(whoami, home):
    home.write_config(f"""\
        [profile a]
        role_arn = {role("a")}
        source_profile = b
        [profile b]
        role_arn = {role("b")}
        source_profile = a
        """)
    failed(whoami("--profile", "a"), EXIT_CONFIG, "source_profile loop: a -> b -> a")


def test_assume_role_refused_by_sts(whoami, home):
    home.write_credentials(CREDENTIALS)
    home.write_config(f"""\
        [profile dev]
        role_arn = {role("dev")}
        source_profile = base
        duration_seconds = 60
        """)
    failed(whoami("--profile", "dev"), EXIT_FAILURE, "STS AssumeRole: ValidationError",
           f"(role_arn {role('dev')} of profile 'dev')")


def test_assume_role_with_a_bad_source_key(whoami, home):
    home.write_credentials("[base]\naws_access_key_id = AKIDBASE\n"
                           "aws_secret_access_key = secret-wrong-0009\n")
    remember("secret-wrong-0009")
    home.write_config(f"[profile dev]\nrole_arn = {role('dev')}\nsource_profile = base\n")
    failed(whoami("--profile", "dev"), EXIT_FAILURE, "STS AssumeRole: SignatureDoesNotMatch",
           "of profile 'dev'")


def test_assume_role_refreshed_before_expiry(whoami, home, sts):
    # localaws' clock runs 598 s behind: the 900 s role it hands out
    # expires 302 s from our now, so the second call must assume anew.
    sts.clock(offset=-598)
    home.write_credentials(CREDENTIALS)
    home.write_config(f"[default]\nrole_arn = {role('dev')}\nsource_profile = base\n"
                      "duration_seconds = 900\n")
    r = whoami("--calls", "2", "--interval-ms", "2500")
    assert r.rc == 0, r
    assert len(set(r.keys)) == 2, r


def test_credential_source_environment(whoami, home):
    home.write_config(f"""\
        [profile ci]
        role_arn = {role("deploy")}
        credential_source = Environment
        role_session_name = from-env
        """)
    # credential_source reads the environment even with --profile.
    r = whoami("--profile", "ci", AWS_ACCESS_KEY_ID="test", AWS_SECRET_ACCESS_KEY="test")
    assert r.rc == 0, r
    assert r.arns == [assumed("deploy", "from-env")], r
    assert r.out["credentials"] == "assume-role(ci) <- env"


def test_credential_source_container(whoami, home, sts):
    with ContainerEndpoint(lambda: temporary_credentials(sts.endpoint, role=role("task"))) as ecs:
        home.write_config(f"[default]\nrole_arn = {role('deploy')}\n"
                          "credential_source = EcsContainer\nrole_session_name = from-task\n")
        r = whoami(AWS_CONTAINER_CREDENTIALS_FULL_URI=ecs.url + "/v2/credentials/x")
    assert r.rc == 0, r
    assert r.arns == [assumed("deploy", "from-task")], r
    assert len(ecs.requests) == 1


def test_credential_source_instance_metadata(whoami, home, sts):
    with Imds(lambda: temporary_credentials(sts.endpoint, role=role("instance"))) as imds:
        home.write_config(f"[default]\nrole_arn = {role('deploy')}\n"
                          "credential_source = Ec2InstanceMetadata\n"
                          "role_session_name = from-ec2\n")
        r = whoami(AWS_EC2_METADATA_DISABLED=None, AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url)
    assert r.rc == 0, r
    assert r.arns == [assumed("deploy", "from-ec2")], r


def test_credential_source_unknown(whoami, home):
    home.write_config(f"[default]\nrole_arn = {role('x')}\ncredential_source = Ec2Metadata\n")
    failed(whoami(), EXIT_CONFIG, "credential_source 'Ec2Metadata' of profile 'default' is not one "
                                  "of Environment, Ec2InstanceMetadata or EcsContainer")


# --- web identity ---------------------------------------------------------

def test_web_identity_from_the_environment(whoami, home):
    token = home.file("token", remember("eyJhbGciOiJSUzI1NiJ9.e2e-token.sig") + "\n")
    r = whoami(AWS_WEB_IDENTITY_TOKEN_FILE=str(token), AWS_ROLE_ARN=role("gha"),
               AWS_ROLE_SESSION_NAME="run-7")
    assert r.rc == 0, r
    assert r.arns == [assumed("gha", "run-7")], r
    assert r.out["credentials"] == "assume-role-with-web-identity(env)"


def test_web_identity_from_the_profile(whoami, home):
    token = home.file("token", remember("eyJ.profile-token.sig"))
    home.write_config(f"[profile k8s]\nrole_arn = {role('pod')}\n"
                      f"web_identity_token_file = {token}\nrole_session_name = pod-1\n")
    r = whoami("--profile", "k8s")
    assert r.rc == 0, r
    assert r.arns == [assumed("pod", "pod-1")], r


def test_web_identity_then_a_chained_role(whoami, home):
    token = home.file("token", remember("eyJ.chain-token.sig"))
    home.write_config(f"""\
        [profile web]
        role_arn = {role("pod")}
        web_identity_token_file = {token}
        [profile target]
        role_arn = {role("target")}
        source_profile = web
        role_session_name = hop
        """)
    r = whoami("--profile", "target")
    assert r.rc == 0, r
    assert r.arns == [assumed("target", "hop")], r


def test_web_identity_environment_ignored_with_profile_flag(whoami, home):
    token = home.file("token", remember("eyJ.ignored.sig"))
    home.write_credentials(CREDENTIALS)
    signed_by(whoami("--profile", "base", AWS_WEB_IDENTITY_TOKEN_FILE=str(token),
                     AWS_ROLE_ARN=role("gha")), "AKIDBASE")


def test_web_identity_invalid_token(whoami, home):
    token = home.file("token", "invalid")
    failed(whoami(AWS_WEB_IDENTITY_TOKEN_FILE=str(token), AWS_ROLE_ARN=role("gha")),
           EXIT_FAILURE, "STS AssumeRoleWithWebIdentity: InvalidIdentityToken",
           f"(AWS_ROLE_ARN {role('gha')})")


def test_web_identity_token_file_missing(whoami, home):
    failed(whoami(AWS_WEB_IDENTITY_TOKEN_FILE=str(home.path / "nope"), AWS_ROLE_ARN=role("gha")),
           EXIT_CONFIG, f"cannot read the web identity token file {home.path / 'nope'}")


def test_web_identity_without_role(whoami, home):
    token = home.file("token", "eyJ.x.y")
    failed(whoami(AWS_WEB_IDENTITY_TOKEN_FILE=str(token)), EXIT_CONFIG,
           "AWS_WEB_IDENTITY_TOKEN_FILE is set but no role ARN")


# --- containers -----------------------------------------------------------

def test_container_full_uri_with_token(whoami, sts):
    with ContainerEndpoint(lambda: temporary_credentials(sts.endpoint, role=role("task"),
                                                         session="task-1"),
                           token="Bearer secret-ecs-token") as ecs:
        r = whoami(AWS_CONTAINER_CREDENTIALS_FULL_URI=ecs.url + "/creds",
                   AWS_CONTAINER_AUTHORIZATION_TOKEN="Bearer secret-ecs-token")
    assert r.rc == 0, r
    assert r.arns == [assumed("task", "task-1")], r
    assert r.out["credentials"] == "container-role"
    assert ecs.requests[0][1] == "/creds"


def test_container_token_file_wins(whoami, sts, home):
    token = home.file("eks-token", remember("eks-pod-identity-token") + "\n")
    with ContainerEndpoint(lambda: temporary_credentials(sts.endpoint, role=role("pod")),
                           token="eks-pod-identity-token") as eks:
        r = whoami(AWS_CONTAINER_CREDENTIALS_FULL_URI=eks.url + "/v1/credentials",
                   AWS_CONTAINER_AUTHORIZATION_TOKEN_FILE=str(token),
                   AWS_CONTAINER_AUTHORIZATION_TOKEN="stale")
    assert r.rc == 0, r


def test_container_wrong_token(whoami, sts):
    with ContainerEndpoint(lambda: {}, token="right") as ecs:
        r = whoami(AWS_CONTAINER_CREDENTIALS_FULL_URI=ecs.url + "/creds",
                   AWS_CONTAINER_AUTHORIZATION_TOKEN="wrong")
    failed(r, EXIT_CONFIG, f"the container endpoint {ecs.url}/creds answered HTTP 403")


def test_container_expired_credentials(whoami, sts):
    with ContainerEndpoint(lambda: temporary_credentials(sts.endpoint, expires_in=-60)) as ecs:
        r = whoami(AWS_CONTAINER_CREDENTIALS_FULL_URI=ecs.url + "/creds")
    failed(r, EXIT_CONFIG, "the container endpoint: the credentials expired at")


def test_container_host_not_allowed(whoami):
    failed(whoami(AWS_CONTAINER_CREDENTIALS_FULL_URI="http://192.0.2.10/creds"), EXIT_CONFIG,
           "AWS_CONTAINER_CREDENTIALS_FULL_URI http://192.0.2.10/creds is not allowed")


def test_container_credentials_refreshed_before_expiry(whoami, sts):
    with ContainerEndpoint(lambda: temporary_credentials(sts.endpoint, expires_in=302)) as ecs:
        r = whoami("--calls", "2", "--interval-ms", "2500",
                   AWS_CONTAINER_CREDENTIALS_FULL_URI=ecs.url + "/creds")
    assert r.rc == 0, r
    assert len(ecs.requests) == 2
    assert len(set(r.keys)) == 2, r


# --- EC2 instance metadata ------------------------------------------------

def test_instance_metadata_credentials_and_region(whoami, sts):
    with Imds(lambda: temporary_credentials(sts.endpoint, role=role("ec2"), session="i-0abc"),
              region="eu-central-1") as imds:
        r = whoami(AWS_EC2_METADATA_DISABLED=None, AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url,
                   AWS_REGION=None)
    assert r.rc == 0, r
    assert r.arns == [assumed("ec2", "i-0abc")], r
    assert r.out["credentials"] == "iam-role"
    assert r.out["region"] == "eu-central-1 (instance metadata)"
    # IMDSv2: a token first, asked with its TTL, then every GET carries it.
    puts = [req for req in imds.requests if req[0] == "PUT"]
    assert puts and all(req[1] == "/latest/api/token" for req in puts)
    assert all(req[2].get("X-aws-ec2-metadata-token") == imds.token
               for req in imds.requests if req[0] == "GET")
    assert ("GET", Imds.ROLES + "ssmbak-instance-role") in imds.paths()


def test_instance_metadata_without_role(whoami, home):
    with Imds(lambda: {}, role=None) as imds:
        r = whoami(AWS_EC2_METADATA_DISABLED=None, AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url)
    failed(r, EXIT_CONFIG, "no credentials found", f"instance metadata at {imds.url} (no IAM role)")


def test_instance_metadata_disabled(whoami):
    with Imds(lambda: {}) as imds:
        r = whoami(AWS_EC2_METADATA_DISABLED="TRUE", AWS_EC2_METADATA_SERVICE_ENDPOINT=imds.url,
                   AWS_REGION=None)
    failed(r, EXIT_CONFIG, "no region")
    assert imds.requests == []


def test_no_credentials_anywhere(whoami, home):
    # A closed port plays an instance metadata service that is not there.
    r = whoami(AWS_EC2_METADATA_DISABLED=None, AWS_EC2_METADATA_SERVICE_ENDPOINT="http://127.0.0.1:9")
    failed(r, EXIT_CONFIG,
           "no credentials found: looked in the environment (AWS_ACCESS_KEY_ID, "
           "AWS_WEB_IDENTITY_TOKEN_FILE), "
           f"profile 'default' of {home.config} (missing) and {home.credentials} (missing), "
           "the container endpoint (AWS_CONTAINER_CREDENTIALS_RELATIVE_URI and _FULL_URI unset), "
           "instance metadata at http://127.0.0.1:9 (no answer)")


# --- the same choice as the AWS CLI ---------------------------------------

BOTOCORE_METHOD = """\
import json, sys, botocore.session
profile = sys.argv[1] or None
session = botocore.session.Session(profile=profile)
try:
    creds = session.get_credentials()
    print(creds.method if creds else "none")
except Exception as e:
    print("error")
"""


@pytest.mark.parametrize("case", [
    ("env", {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}, None),
    ("env-over-file", {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}, None),
    ("profile-flag", {"AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test"}, "base"),
    ("aws-profile-env", {"AWS_PROFILE": "base"}, None),
    ("config-only", {}, "conf"),
    ("both-files", {}, "both"),
    ("process", {}, "proc"),
    ("role", {}, "dev"),
    ("role-over-web-env", {"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": role("w")}, "dev"),
    ("web-env", {"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": role("w")}, None),
    ("web-env-profile-flag", {"AWS_WEB_IDENTITY_TOKEN_FILE": "/t", "AWS_ROLE_ARN": role("w")}, "base"),
    ("web-profile", {}, "web"),
    ("file-over-process", {}, "fileproc"),
], ids=lambda c: c[0])
def test_same_source_as_botocore(whoami, home, case):
    name, env, profile = case
    command = process_script(home, """\
        out({"Version": 1, "AccessKeyId": "AKIDPROC", "SecretAccessKey": "secret-proc-0003"})
        """)
    home.write_credentials(CREDENTIALS + "[both]\naws_access_key_id = AKIDFILE\n"
                           "aws_secret_access_key = secret-file-0001\n"
                           "[fileproc]\naws_access_key_id = AKIDFILE\n"
                           "aws_secret_access_key = secret-file-0001\n")
    home.write_config(f"""\
        [profile conf]
        aws_access_key_id = AKIDCONF
        aws_secret_access_key = secret-conf-0002
        [profile both]
        aws_access_key_id = AKIDCONF
        aws_secret_access_key = secret-conf-0002
        [profile proc]
        credential_process = {command}
        [profile fileproc]
        credential_process = {command}
        [profile dev]
        role_arn = {role("dev")}
        source_profile = base
        [profile web]
        role_arn = {role("pod")}
        web_identity_token_file = /t
        """)
    args = ["--profile", profile] if profile else []
    r = whoami(*args, **env)
    ours = r.out.get("credentials", "error").split("(")[0].split(" ")[0]
    full = {"PATH": "/usr/bin:/bin", "HOME": str(home.path), "AWS_EC2_METADATA_DISABLED": "true",
            "AWS_REGION": "us-east-1", **env}
    theirs = subprocess.run(["/usr/bin/python3", "-c", BOTOCORE_METHOD, profile or ""], env=full,
                            capture_output=True, text=True, timeout=60).stdout.strip()
    assert ours == theirs, (r, theirs)
