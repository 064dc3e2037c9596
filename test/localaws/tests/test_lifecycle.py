"""The process: --state persistence, TLS, clean stop on SIGTERM/SIGINT."""
import json
import os
import signal
import subprocess

import pytest

from conftest import LocalAws, make_client


def test_state_survives_a_restart_and_holds_no_plaintext_secret(tmp_path):
    state = str(tmp_path / "state")
    server = LocalAws("--state", state)
    try:
        ssm = make_client(server.endpoint, "ssm")
        s3 = make_client(server.endpoint, "s3")
        ssm.put_parameter(Name="/keep/plain", Value="visible", Type="String")
        ssm.put_parameter(Name="/keep/secret", Value="hunter2-very-secret", Type="SecureString")
        ssm.put_parameter(Name="/keep/plain", Value="visible2", Type="String", Overwrite=True)
        ssm.label_parameter_version(Name="/keep/plain", ParameterVersion=1, Labels=["first"])
        s3.create_bucket(Bucket="kept")
        s3.put_bucket_versioning(Bucket="kept", VersioningConfiguration={"Status": "Enabled"})
        version = s3.put_object(Bucket="kept", Key="/a//b", Body=b"\x00bytes", Tagging="t=1",
                                Metadata={"m": "v"})["VersionId"]
        marker = s3.delete_object(Bucket="kept", Key="/a//b")["VersionId"]
    finally:
        assert server.stop() == 0
    text = open(os.path.join(state, "state.json"), encoding="utf-8").read()
    assert "hunter2-very-secret" not in text and "visible2" in text
    json.loads(text)

    server = LocalAws("--state", state)
    try:
        ssm = make_client(server.endpoint, "ssm")
        s3 = make_client(server.endpoint, "s3")
        assert ssm.get_parameter(Name="/keep/secret", WithDecryption=True)["Parameter"]["Value"] == \
            "hunter2-very-secret"
        assert ssm.get_parameter(Name="/keep/plain:first")["Parameter"]["Value"] == "visible"
        assert ssm.put_parameter(Name="/keep/plain", Value="v3", Type="String",
                                 Overwrite=True)["Version"] == 3
        got = s3.get_object(Bucket="kept", Key="/a//b", VersionId=version)
        assert got["Body"].read() == b"\x00bytes" and got["Metadata"] == {"m": "v"}
        assert s3.get_object_tagging(Bucket="kept", Key="/a//b", VersionId=version)["TagSet"] == [
            {"Key": "t", "Value": "1"}]
        listing = s3.list_object_versions(Bucket="kept")
        assert listing["DeleteMarkers"][0]["VersionId"] == marker
        assert s3.get_bucket_versioning(Bucket="kept")["Status"] == "Enabled"
    finally:
        server.stop()


def test_without_state_nothing_is_written(tmp_path):
    server = LocalAws()
    try:
        make_client(server.endpoint, "ssm").put_parameter(Name="/mem", Value="v", Type="String")
    finally:
        server.stop()
    restarted = LocalAws()
    try:
        ssm = make_client(restarted.endpoint, "ssm")
        assert ssm.describe_parameters()["Parameters"] == []
    finally:
        restarted.stop()


@pytest.mark.parametrize("signum", [signal.SIGTERM, signal.SIGINT])
def test_stops_cleanly_on_signals(signum):
    server = LocalAws()
    server.process.send_signal(signum)
    assert server.process.wait(timeout=10) == 0
    server.stop()


@pytest.fixture(scope="module")
def certificates(tmp_path_factory):
    """A throwaway CA and a localhost certificate it signed, via openssl."""
    directory = tmp_path_factory.mktemp("tls")

    def openssl(*args):
        subprocess.run(["openssl", *args], cwd=directory, check=True, capture_output=True)

    openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "1", "-subj", "/CN=localaws test CA",
            "-keyout", "ca.key", "-out", "ca.pem")
    (directory / "ext.cnf").write_text("subjectAltName=IP:127.0.0.1,DNS:localhost\n")
    openssl("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=127.0.0.1",
            "-keyout", "server.key", "-out", "server.csr")
    openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key",
            "-CAcreateserial", "-days", "1", "-extfile", "ext.cnf", "-out", "server.pem")
    return directory


def test_tls_mode(certificates):
    server = LocalAws("--tls-cert", str(certificates / "server.pem"),
                      "--tls-key", str(certificates / "server.key"))
    try:
        assert server.endpoint.startswith("https://127.0.0.1:")
        cafile = str(certificates / "ca.pem")
        ssm = make_client(server.endpoint, "ssm", verify=cafile)
        ssm.put_parameter(Name="/tls/p", Value="v", Type="SecureString")
        assert ssm.get_parameter(Name="/tls/p", WithDecryption=True)["Parameter"]["Value"] == "v"
        s3 = make_client(server.endpoint, "s3", verify=cafile)
        s3.create_bucket(Bucket="tls-bucket")
        s3.put_object(Bucket="tls-bucket", Key="k", Body=b"secure")
        assert s3.get_object(Bucket="tls-bucket", Key="k")["Body"].read() == b"secure"
        assert make_client(server.endpoint, "sts", verify=cafile).get_caller_identity()["Account"]
        with pytest.raises(Exception):
            make_client(server.endpoint, "sts", verify=True).get_caller_identity()
    finally:
        server.stop()
