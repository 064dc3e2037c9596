"""Secrets as safe in the bucket as in Parameter Store (README "Security
model"), proven against localaws enforcing IAM, bucket and key policies
(`localaws --iam`) over TLS, with the stack deployed by `ssmbak stack`:

- a principal with s3:GetObject alone (or ReadOnlyAccess's s3:Get*) reads
  no SecureString backup; the README's reader policy does (preview);
- only the Lambda and WriterPrincipalArns write; restore and backfill work
  with the README's policies;
- a deployment bucket made first by another account is refused;
- what reaches the terminal is escaped, and the process is not dumpable.
"""
import importlib.util
import json
import os
import pathlib
import re
import resource
import signal
import socket
import subprocess
import time
import unicodedata
import uuid

import boto3
import pytest
from botocore.config import Config
from botocore.exceptions import ClientError


def _e2e_conftest():
    path = pathlib.Path(__file__).with_name("conftest.py")
    spec = importlib.util.spec_from_file_location("ssmbak_e2e_conftest_security", path)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


_conftest = _e2e_conftest()
REGION, ROOT, LocalAws = _conftest.REGION, _conftest.ROOT, _conftest.LocalAws
STATIC = ROOT / "build" / "ssmbak-static"
ACCOUNT = "000000000000"
SNIPER_ACCOUNT = "111111111111"
STACK = "sec"


@pytest.fixture(scope="module")
def static_bin():
    if not STATIC.exists():
        pytest.fail("build/ssmbak-static is not built: run `make build/ssmbak-static`")
    return str(STATIC)


@pytest.fixture(scope="module")
def certificate(tmp_path_factory):
    """A self-signed certificate for 127.0.0.1 that is its own CA: the
    server's, and the bundle ssmbak and its Lambda trust."""
    directory = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1",
                    "-subj", "/CN=127.0.0.1", "-keyout", "key.pem", "-out", "cert.pem",
                    "-addext", "basicConstraints=critical,CA:TRUE",
                    "-addext", "subjectAltName=IP:127.0.0.1,DNS:localhost"],
                   cwd=directory, check=True, capture_output=True)
    return directory


@pytest.fixture(scope="module")
def secure(certificate):
    server = LocalAws("--iam", "--tls-cert", str(certificate / "cert.pem"),
                      "--tls-key", str(certificate / "key.pem"))
    try:
        yield server
    finally:
        server.stop()


def boto(endpoint, service, cafile=None, key="test", secret="test", token=None):
    return boto3.client(service, endpoint_url=endpoint, region_name=REGION,
                        aws_access_key_id=key, aws_secret_access_key=secret,
                        aws_session_token=token, verify=cafile if cafile else None,
                        config=Config(retries={"max_attempts": 3, "mode": "standard"}))


def base_env(endpoint, tmp_path, cafile=None, key="test", secret="test"):
    home = tmp_path / f"home-{uuid.uuid4().hex[:6]}"
    home.mkdir()
    keep = {k: v for k, v in os.environ.items()
            if k in ("PATH", "LANG", "LC_ALL", "ASAN_OPTIONS", "UBSAN_OPTIONS", "LSAN_OPTIONS")}
    env = {**keep, "HOME": str(home), "AWS_ENDPOINT_URL": endpoint,
           "AWS_ACCESS_KEY_ID": key, "AWS_SECRET_ACCESS_KEY": secret, "AWS_REGION": REGION,
           "AWS_EC2_METADATA_DISABLED": "true", "AWS_CONFIG_FILE": str(home / "config"),
           "AWS_SHARED_CREDENTIALS_FILE": str(home / "credentials")}
    if cafile:
        env["SSL_CERT_FILE"] = cafile
    return env


def run(binary, args, env, timeout=180):
    return subprocess.run([binary, *args], env=env, capture_output=True, text=True,
                          timeout=timeout)


def ok(result):
    assert result.returncode == 0, result.stdout + result.stderr
    return result


def readme_policy(name, **values):
    """The README's JSON policy after `<!-- policy:NAME -->`, filled in."""
    text = (ROOT / "README.md").read_text()
    match = re.search(rf"<!-- policy:{name} -->\n```json\n(.*?)\n```", text, re.S)
    assert match, f"README has no policy:{name}"
    document = match.group(1)
    for placeholder, value in values.items():
        document = document.replace(placeholder, value)
    return json.loads(document)


class World:
    """The deployed stack and how to make principals in it."""

    def __init__(self, server, cafile, tmp_path):
        self.server, self.cafile, self.tmp_path = server, cafile, tmp_path
        self.endpoint = server.endpoint
        self.iam = boto(self.endpoint, "iam", cafile)

    def client(self, service, user=None):
        if user is None:
            return boto(self.endpoint, service, self.cafile)
        return boto(self.endpoint, service, self.cafile, user["key"], user["secret"])

    def user(self, *documents):
        name = f"u-{uuid.uuid4().hex[:10]}"
        arn = self.iam.create_user(UserName=name)["User"]["Arn"]
        for index, document in enumerate(documents):
            self.iam.put_user_policy(UserName=name, PolicyName=f"p{index}",
                                     PolicyDocument=json.dumps(document))
        key = self.iam.create_access_key(UserName=name)["AccessKey"]
        return {"arn": arn, "key": key["AccessKeyId"], "secret": key["SecretAccessKey"]}

    def env(self, user=None):
        if user is None:
            return base_env(self.endpoint, self.tmp_path, self.cafile)
        return base_env(self.endpoint, self.tmp_path, self.cafile, user["key"], user["secret"])


@pytest.fixture(scope="module")
def world(secure, certificate, tmp_path_factory, static_bin):
    """The stack `sec`, created by the account's root user with one more
    writer (the backfill user), and a SecureString backed up by its Lambda."""
    w = World(secure, str(certificate / "cert.pem"), tmp_path_factory.mktemp("sec"))
    w.backfiller_name = f"backfiller-{uuid.uuid4().hex[:6]}"
    w.backfiller_arn = f"arn:aws:iam::{ACCOUNT}:user/{w.backfiller_name}"
    ok(run(static_bin, ["stack", STACK, "create", "-p",
                        f"WriterPrincipalArns=arn:aws:iam::{ACCOUNT}:root,{w.backfiller_arn}"],
           w.env()))
    w.bucket = w.client("ssm").get_parameter(
        Name=f"/newvoll/ssmbak/stacks/{STACK}/bucket")["Parameter"]["Value"]
    w.key_arn = w.client("kms").describe_key(KeyId=f"alias/ssmbak-{STACK}")["KeyMetadata"]["Arn"]
    w.prefix = f"/sec{uuid.uuid4().hex[:8]}"
    w.secret = "correct horse battery staple"
    w.client("ssm").put_parameter(Name=f"{w.prefix}/db/password", Value=w.secret,
                                  Type="SecureString")
    s3 = w.client("s3")
    deadline = time.monotonic() + 20
    while time.monotonic() < deadline:
        versions = s3.list_object_versions(Bucket=w.bucket, Prefix=w.prefix).get("Versions", [])
        if versions:
            break
        time.sleep(0.5)
    else:
        function = w.client("ssm").get_parameter(
            Name=f"/newvoll/ssmbak/stacks/{STACK}/lambda")["Parameter"]["Value"]
        events = w.client("logs").filter_log_events(logGroupName=f"/aws/lambda/{function}")
        pytest.fail("the Lambda did not back the SecureString up within 60 s:\n" +
                    "\n".join(e["message"] for e in events["events"][-20:]))
    w.key = versions[0]["Key"]
    w.time_after = time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(time.time() + 1))
    time.sleep(1.5)
    return w


def test_the_lambda_writes_sse_kms_under_the_stack_key(world):
    head = world.client("s3").head_object(Bucket=world.bucket, Key=world.key)
    assert head["ServerSideEncryption"] == "aws:kms"
    assert head["SSEKMSKeyId"] == world.key_arn
    assert head["BucketKeyEnabled"] is True


@pytest.mark.parametrize("policy", [
    # only s3:GetObject, as the issue measured
    [{"Effect": "Allow", "Action": ["s3:GetObject", "s3:GetObjectVersion"],
      "Resource": "arn:aws:s3:::*/*"}],
    # the shape of AWS's ReadOnlyAccess: s3:Get*, s3:List*, kms:Describe*/Get*/List* on *
    [{"Effect": "Allow", "Action": ["s3:Get*", "s3:List*", "kms:Describe*", "kms:Get*",
                                    "kms:List*"], "Resource": "*"}],
], ids=["s3-GetObject", "ReadOnlyAccess-like"])
def test_s3_read_access_alone_reads_no_secret(world, policy):
    reader = world.user({"Version": "2012-10-17", "Statement": policy})
    s3 = world.client("s3", reader)
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=world.bucket, Key=world.key)
    error = excinfo.value.response["Error"]
    assert error["Code"] == "AccessDenied"
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 403
    assert error["Message"] == (
        f"User: {reader['arn']} is not authorized to perform: kms:Decrypt on resource: "
        f"{world.key_arn} because no identity-based policy allows the kms:Decrypt action")


def test_a_principal_outside_the_writers_cannot_write(world):
    outsider = world.user({"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "s3:*", "Resource": "*"},
        {"Effect": "Allow", "Action": "kms:*", "Resource": "*"}]})
    s3 = world.client("s3", outsider)
    for attempt in (lambda: s3.put_object(Bucket=world.bucket, Key=world.key, Body=b"planted"),
                    lambda: s3.delete_object(Bucket=world.bucket, Key=world.key),
                    lambda: s3.put_bucket_versioning(Bucket=world.bucket, VersioningConfiguration={
                        "Status": "Suspended"})):
        with pytest.raises(ClientError) as excinfo:
            attempt()
        error = excinfo.value.response["Error"]
        assert error["Code"] == "AccessDenied", error
        assert "with an explicit deny in a resource-based policy" in error["Message"]
    # it can read: it holds kms:Decrypt
    assert s3.get_object(Bucket=world.bucket, Key=world.key)["Body"].read() == \
        world.secret.encode()


def test_an_upload_asking_for_sse_s3_is_denied_even_to_a_writer(world):
    with pytest.raises(ClientError) as excinfo:
        world.client("s3").put_object(Bucket=world.bucket, Key=f"{world.prefix}/x", Body=b"x",
                                      ServerSideEncryption="AES256")
    assert excinfo.value.response["Error"]["Code"] == "AccessDenied"


def filled(world):
    return {"BUCKET": world.bucket, "REGION": REGION, "ACCOUNT": ACCOUNT,
            "KEY_ARN": world.key_arn}


def test_preview_with_the_readme_reader_policy(world, static_bin):
    reader = world.user(readme_policy("preview", **filled(world)))
    env = world.env(reader)
    shown = ok(run(static_bin, ["preview", f"{world.prefix}/", "now", "-R", "--all",
                                "--stack", STACK], env))
    assert f"{world.prefix}/db/password" in shown.stdout and "********" in shown.stdout
    assert world.secret not in shown.stdout
    secure = ok(run(static_bin, ["preview", f"{world.prefix}/", "now", "-R", "--all",
                                 "--show-secure", "-b", world.bucket], env))
    assert world.secret in secure.stdout
    # without the KMS statement the same reader reads nothing
    document = readme_policy("preview", **filled(world))
    document["Statement"] = [s for s in document["Statement"] if s.get("Resource") != world.key_arn]
    denied = run(static_bin, ["preview", f"{world.prefix}/", "now", "-R", "--all",
                              "-b", world.bucket], world.env(world.user(document)))
    assert denied.returncode == 1
    assert "kms:Decrypt" in denied.stderr and world.secret not in denied.stderr


def test_restore_with_the_readme_policies(world, static_bin):
    restorer = world.user(readme_policy("preview", **filled(world)),
                          readme_policy("restore", **filled(world)))
    name = f"{world.prefix}/db/password"
    world.client("ssm").delete_parameter(Name=name)
    ok(run(static_bin, ["restore", f"{world.prefix}/", world.time_after, "-R",
                        "-b", world.bucket], world.env(restorer)))
    got = world.client("ssm").get_parameter(Name=name, WithDecryption=True)["Parameter"]
    assert (got["Value"], got["Type"]) == (world.secret, "SecureString")


def test_backfill_with_the_readme_policy_and_the_writer_list(world, static_bin):
    document = readme_policy("backfill", **filled(world))
    world.iam.create_user(UserName=world.backfiller_name)
    world.iam.put_user_policy(UserName=world.backfiller_name, PolicyName="backfill",
                              PolicyDocument=json.dumps(document))
    key = world.iam.create_access_key(UserName=world.backfiller_name)["AccessKey"]
    writer = {"arn": world.backfiller_arn, "key": key["AccessKeyId"],
              "secret": key["SecretAccessKey"]}
    name = f"{world.prefix}/backfilled"
    world.client("ssm").put_parameter(Name=name, Value="v1", Type="String")
    ok(run(static_bin, ["backfill", "--do-it", "--all", "--name-prefix", name, "-b", world.bucket],
           world.env(writer)))
    # the same policy outside the writer list: every write is refused
    outsider = world.user(document)
    refused = run(static_bin, ["backfill", "--do-it", "--all", "--name-prefix", name, "-b", world.bucket],
                  world.env(outsider))
    assert refused.returncode == 1
    assert "AccessDenied" in refused.stderr


@pytest.fixture
def sniped(tmp_path):
    server = LocalAws("--iam", env={"LOCALAWS_CREDENTIALS": f"test:test,sniper:sniper:{SNIPER_ACCOUNT}"})
    try:
        yield server
    finally:
        server.stop()


def test_a_deploy_bucket_made_first_by_another_account_is_refused(sniped, static_bin, tmp_path):
    """Bucket sniping: the name ssmbak-deploy-ACCOUNT-REGION is predictable;
    another account makes it first, open to everyone."""
    bucket = f"ssmbak-deploy-{ACCOUNT}-{REGION}"
    sniper = boto(sniped.endpoint, "s3", key="sniper", secret="sniper")
    sniper.create_bucket(Bucket=bucket)
    sniper.put_bucket_policy(Bucket=bucket, Policy=json.dumps({"Statement": [{
        "Effect": "Allow", "Principal": "*", "Action": "s3:*",
        "Resource": [f"arn:aws:s3:::{bucket}", f"arn:aws:s3:::{bucket}/*"]}]}))
    result = run(static_bin, ["stack", "victim", "create"], base_env(sniped.endpoint, tmp_path))
    assert result.returncode == 1, result.stdout + result.stderr
    assert f"the code bucket {bucket} exists but does not belong to account {ACCOUNT}" in \
        result.stderr
    assert sniper.list_objects_v2(Bucket=bucket)["KeyCount"] == 0
    assert not boto(sniped.endpoint, "cloudformation").describe_stacks()["Stacks"]


# --- the terminal and the process (the shared localaws is enough) ---

def columns(line):
    return sum(0 if unicodedata.combining(c) else
               2 if unicodedata.east_asian_width(c) in "WF" else 1 for c in line)


def test_values_reach_the_terminal_escaped_and_aligned(run, ssm, bucket, prefix):
    values = {"esc": "\x1b]0;pwned\x07\x1b[31mred\x1b[0m", "tab": "a\tb",
              "wide": "日本語の値", "combining": "cafe\u0301", "newline": "one\ntwo\r"}
    for name, value in values.items():
        ssm.put_parameter(Name=f"{prefix}/{name}", Value=value, Type="String")
    ok(run("backfill", "--do-it", "--name-prefix", prefix, "-b", bucket))
    shown = ok(run("preview", f"{prefix}/", "now", "--all", "-b", bucket))
    out = shown.stdout
    assert "\x1b" not in out and "\t" not in out and "\r" not in out and "\x07" not in out
    assert "\\x1b]0;pwned\\x07\\x1b[31mred\\x1b[0m" in out
    assert "a\\tb" in out and "one\\ntwo\\r" in out
    lines = out.splitlines()
    assert len({columns(line) for line in lines}) == 1, out


def test_the_process_is_not_dumpable(ssmbak_bin, tmp_path):
    """backup-lambda waits on a Runtime API that never answers: its limits
    say no core, and a SIGQUIT (whose default action dumps core; sanitizers
    leave it alone) leaves none even with `ulimit -c unlimited`."""
    listener = socket.socket()
    listener.bind(("127.0.0.1", 0))
    listener.listen(1)
    env = {"PATH": os.environ["PATH"], "AWS_LAMBDA_RUNTIME_API": f"127.0.0.1:{listener.getsockname()[1]}",
           "SSMBAK_BUCKET": "b", "SSMBAK_BUCKET_OWNER": ACCOUNT, "AWS_REGION": REGION,
           "AWS_ACCESS_KEY_ID": "test", "AWS_SECRET_ACCESS_KEY": "test",
           "AWS_EC2_METADATA_DISABLED": "true", "HOME": str(tmp_path)}

    def unlimited_core():
        resource.setrlimit(resource.RLIMIT_CORE, (resource.RLIM_INFINITY, resource.RLIM_INFINITY))

    (tmp_path / "control").mkdir()
    (tmp_path / "ssmbak").mkdir()
    control = subprocess.Popen(["sleep", "30"], cwd=tmp_path / "control",
                               preexec_fn=unlimited_core)
    control.send_signal(signal.SIGQUIT)
    _, status = os.waitpid(control.pid, 0)
    control_dumped = os.WCOREDUMP(status)
    process = subprocess.Popen([os.path.abspath(ssmbak_bin), "backup-lambda"], env=env, cwd=tmp_path / "ssmbak",
                               preexec_fn=unlimited_core, stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL)
    try:
        connection, _ = listener.accept()   # it is waiting for /next now
        limits = pathlib.Path(f"/proc/{process.pid}/limits").read_text()
        core = next(line for line in limits.splitlines() if line.startswith("Max core file size"))
        assert core.split()[4:6] == ["0", "0"], core
        connection.close()
        if not control_dumped:
            return  # core_pattern makes no core of any process here: limits are the proof
        process.send_signal(signal.SIGQUIT)
        _, status = os.waitpid(process.pid, 0)
        process.returncode = status
        assert os.WIFSIGNALED(status) and os.WTERMSIG(status) == signal.SIGQUIT
        assert not os.WCOREDUMP(status)
        assert not list((tmp_path / "ssmbak").glob("core*"))
    finally:
        if process.poll() is None:
            process.kill()
            process.wait()
        listener.close()


def test_the_profiles_ca_bundle_is_trusted_as_the_aws_cli_trusts_it(secure, certificate,
                                                                    static_bin, tmp_path):
    """TLS-inspecting proxies: the CA comes from AWS_CA_BUNDLE or the
    profile's ca_bundle (issue 19), not only from SSL_CERT_FILE."""
    cafile = str(certificate / "cert.pem")
    bucket = f"ca-{uuid.uuid4().hex[:10]}"
    s3 = boto(secure.endpoint, "s3", cafile)
    s3.create_bucket(Bucket=bucket)
    s3.put_bucket_versioning(Bucket=bucket, VersioningConfiguration={"Status": "Enabled"})
    args = ["preview", "/ca-test/", "now", "-R", "-b", bucket]

    untrusted = base_env(secure.endpoint, tmp_path)
    pathlib.Path(untrusted["AWS_CONFIG_FILE"]).write_text("[default]\n")
    refused = run(static_bin, args, untrusted)
    assert refused.returncode != 0 and "certificate" in refused.stderr, refused.stderr

    profile = base_env(secure.endpoint, tmp_path)
    pathlib.Path(profile["AWS_CONFIG_FILE"]).write_text(
        f"[default]\nca_bundle = {cafile}\n[profile other]\nregion = {REGION}\n")
    trusted = run(static_bin, [*args, "-v"], profile)
    assert trusted.returncode == 0, trusted.stderr
    assert f"ca_bundle={cafile}" in trusted.stderr

    variable = base_env(secure.endpoint, tmp_path)
    variable["AWS_CA_BUNDLE"] = cafile
    assert run(static_bin, args, variable).returncode == 0
