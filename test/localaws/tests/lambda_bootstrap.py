#!/usr/bin/python3
"""A custom runtime for the Lambda tests: zipped as `bootstrap`, it speaks
the Runtime API with the standard library only and does what each event
asks (https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html).

  {"echo": x}                   answers {"echo": x, "pid": ..., "version": VERSION}
  {"env": true}                 answers the process environment
  {"whoami": true}              answers STS GetCallerIdentity, signed with the
                                function's credentials (boto3)
  {"print": ["a", "b"]}         prints lines, answers {}
  {"sleep": s}                  sleeps, then answers {}
  {"exit": n}                   exits with status n mid-invocation
  {"fail": "message"}           posts an invocation error
  {"Records": [...]}            an SQS batch: prints each record as JSON and
                                answers the batch items whose body contains
                                "fail" as failures; "invalid-response" in a
                                body answers an unknown itemIdentifier, a
                                body "crash" exits
INIT_ERROR=1 in the environment posts /init/error and exits 3.
"""
import json
import os
import sys
import time
import urllib.request

VERSION = "v1"
API = f"http://{os.environ['AWS_LAMBDA_RUNTIME_API']}/2018-06-01/runtime"


def post(path, document, headers=None):
    request = urllib.request.Request(API + path, data=json.dumps(document).encode(),
                                     method="POST", headers=headers or {})
    with urllib.request.urlopen(request) as response:
        response.read()


def handle(event):
    if "echo" in event:
        return {"echo": event["echo"], "pid": os.getpid(), "version": VERSION}
    if "env" in event:
        return dict(os.environ)
    if "whoami" in event:
        import boto3
        sts = boto3.client("sts", endpoint_url=os.environ["AWS_ENDPOINT_URL"])
        return sts.get_caller_identity()
    if "print" in event:
        for line in event["print"]:
            print(line, flush=True)
        return {}
    if "sleep" in event:
        time.sleep(event["sleep"])
        return {}
    if "exit" in event:
        sys.exit(event["exit"])
    if "Records" in event:
        failures = []
        for record in event["Records"]:
            print(json.dumps(record), flush=True)
            if record["body"] == "crash":
                sys.exit(1)
            if "invalid-response" in record["body"]:
                failures.append({"itemIdentifier": "not-in-the-batch"})
            elif "fail" in record["body"]:
                failures.append({"itemIdentifier": record["messageId"]})
        return {"batchItemFailures": failures}
    return {}


def main():
    if os.environ.get("INIT_ERROR"):
        print("init failed on purpose", file=sys.stderr, flush=True)
        post("/init/error", {"errorType": "Runtime.TestInitError", "errorMessage": "on purpose"},
             {"Lambda-Runtime-Function-Error-Type": "Runtime.TestInitError"})
        sys.exit(3)
    print("initialised", flush=True)
    while True:
        with urllib.request.urlopen(API + "/invocation/next") as response:
            request_id = response.headers["Lambda-Runtime-Aws-Request-Id"]
            event = json.loads(response.read())
        if "fail" in event and "Records" not in event:
            post(f"/invocation/{request_id}/error",
                 {"errorType": "TestError", "errorMessage": event["fail"]},
                 {"Lambda-Runtime-Function-Error-Type": "TestError"})
            continue
        post(f"/invocation/{request_id}/response", handle(event))


if __name__ == "__main__":
    main()
