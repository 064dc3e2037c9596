"""Bad input from the user or from the server: one line saying what was
wrong, the documented exit code, no crash, nothing half-written."""
import http.server
import json
import threading

import pytest

from bucketfmt import Write, load

T0 = 1718243666


@pytest.mark.parametrize("args, code, message", [
    (["-b", "Bad_Bucket"], 2, "not a valid S3 bucket name"),
    (["-b", "ab"], 2, "not a valid S3 bucket name"),
    (["-r", "us east 1"], 3, "is not a region name"),
    (["--profile", "nope"], 3, "nope"),
    (["--output", "xml"], 2, "--output must be table or json"),
    (["--stack", "a/b"], 2, "is not a stack name"),
    (["--stack", "9lives"], 2, "is not a stack name"),
])
def test_bad_options(run, args, code, message):
    out = run("preview", "/a", "now", *args)
    assert out.returncode == code, out.stderr
    assert out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr
    assert message in out.stderr


@pytest.mark.parametrize("name", ["ssmbak", "SSM-backups-1"])
def test_stack_names_that_cloudformation_takes_are_taken(run, aws, name):
    """A stack named ssmbak (the README's) is a stack name even though no
    SSM parameter name may begin with "ssm": its parameters live under
    /newvoll/ssmbak/stacks/NAME/. The lookup then finds no such stack."""
    out = run("preview", "/a", "now", "--stack", name)
    assert out.returncode == 3, out.stderr
    assert "not a stack name" not in out.stderr


@pytest.mark.parametrize("time_arg", ["2024-13-01T00:00:00", "2024-02-30T00:00:00",
                                      "2024-06-13", "1718243666", "@-5", "-5x", "",
                                      "2024-06-13T25:00:00", "@99999999999999999999"])
def test_malformed_times(run, time_arg):
    out = run("restore", "/a", time_arg, "-b", "some-bucket")
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


@pytest.mark.parametrize("path", ["/a b", "/a//b", "/a*", "/é", ""])
def test_malformed_paths(run, path):
    out = run("preview", path, "now", "-b", "some-bucket")
    assert out.returncode == 2 and out.stdout == ""
    assert len(out.stderr.strip().splitlines()) == 1, out.stderr


def test_missing_bucket_is_a_configuration_error(run, aws):
    out = run("preview", "/a", "now", "-b", "no-such-bucket-here")
    assert out.returncode == 3
    assert "NoSuchBucket" in out.stderr and len(out.stderr.strip().splitlines()) == 1


def test_a_value_that_is_not_utf8_fails_its_key_only(aws, bucket, prefix, run, ssm):
    objects = [Write(f"{prefix}/good", "value", T0, T0 + 2, 1, "fine")]
    load(aws.endpoint, bucket, objects)
    body = json.dumps({"bucket": bucket, "objects": [{
        "key": f"{prefix}/bad", "body_base64": "/w==", "last_modified": T0 + 2,
        "tags": {"ssmbakTime": str(T0), "ssmbakType": "String"}}]}).encode()
    import urllib.request
    urllib.request.urlopen(urllib.request.Request(
        f"{aws.endpoint}/_localaws/s3/bulk", data=body, method="POST")).read()
    out = run("restore", prefix, "2024-06-13T02:00:00", "-b", bucket)
    assert out.returncode == 1
    assert f"{prefix}/bad: not restored:" in out.stderr and "UTF-8" in out.stderr
    assert ssm.get_parameter(Name=f"{prefix}/good")["Parameter"]["Value"] == "fine"


class GarbageServer:
    """Answers every request with the given status and body."""

    def __init__(self, status, body, truncate=False):
        class Handler(http.server.BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def log_message(self, *args):
                pass

            def answer(self):
                length = int(self.headers.get("Content-Length") or 0)
                self.rfile.read(length)
                self.send_response(status)
                self.send_header("Content-Length", str(len(body) + (100 if truncate else 0)))
                self.end_headers()
                self.wfile.write(body)
                if truncate:
                    self.close_connection = True

            do_GET = do_PUT = do_POST = do_HEAD = do_DELETE = answer

        self.server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def stop(self):
        self.server.shutdown()
        self.server.server_close()


@pytest.mark.parametrize("status, body, truncate", [
    (200, b"<ListVersionsResult><Version><Key>", False),
    (200, b"\x00\xff garbage", False),
    (200, b"<ListVersionsResult>", True),
    (500, b"<html>oops</html>", False),
    (403, b"{not json", False),
])
def test_garbage_answers_give_one_line(run, status, body, truncate):
    server = GarbageServer(status, body, truncate)
    try:
        out = run("preview", "/a/", "now", "-b", "some-bucket",
                  env_extra={"AWS_ENDPOINT_URL": server.url, "AWS_MAX_ATTEMPTS": "2"})
    finally:
        server.stop()
    assert out.returncode == 1, out.stderr
    assert out.stdout == ""
    # one error line; a garbage format marker may add its own warning first
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 or (len(lines) == 2 and ".ssmbak/format is not readable" in lines[0]), \
        out.stderr
