"""Our signer against botocore's, the AWS SDK's own, on generated requests.

Each request is signed by botocore (SigV4Auth, or S3SigV4Auth for S3) and
by build/sigv4-sign (our sigv4.c); the canonical request and the whole
Authorization header must be identical. The generator aims at the corners:
leading and double slashes, dot segments, spaces, unicode, reserved
characters, repeated and unsorted query parameters, empty and binary bodies,
header values with runs of white space.
"""
import json
import random
import subprocess
from urllib.parse import quote

from botocore.auth import SigV4Auth, S3SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials
from botocore.utils import percent_encode

CASES = 1500
AMZ_DATE = "20240613T015426Z"
PATH_ALPHABET = list("abcXYZ019-_.~ /+=&?#%@!$'()*,;:") + ["é", "ü", "ሴ", "😀", "//", "./", "../"]
QUERY_ALPHABET = list("abcXYZ019-_.~ /+=&?%@!$*;") + ["é", "ሴ"]
HEADER_VALUE_ALPHABET = list("abcXYZ019-_.~/+=;:,\"'") + ["  ", "\t", " "]


def random_text(rng, alphabet, lo, hi):
    return "".join(rng.choice(alphabet) for _ in range(rng.randint(lo, hi)))


def random_path(rng, s3):
    raw = "/" + random_text(rng, PATH_ALPHABET, 0, 24)
    if rng.random() < 0.2:
        raw = "/" + raw  # keys with a leading slash: /bucket//app/x
    # On the wire the path is percent-encoded once, as our S3 layer sends it.
    return quote(raw, safe="/~") if s3 else quote(raw, safe="/~%") if rng.random() < 0.1 else quote(raw, safe="/~")


def random_query(rng):
    pairs = []
    for _ in range(rng.randint(0, 5)):
        key = random_text(rng, QUERY_ALPHABET, 1, 8)
        if rng.random() < 0.3 and pairs:
            key = rng.choice(pairs)[0]  # repeated key
        if rng.random() < 0.15:
            pairs.append((key, None))  # bare key: ?versions
        else:
            pairs.append((key, random_text(rng, QUERY_ALPHABET, 0, 10)))
    rng.shuffle(pairs)
    return "&".join(percent_encode(k) if v is None else f"{percent_encode(k)}={percent_encode(v)}"
                    for k, v in pairs)


def random_headers(rng):
    headers = {}
    for _ in range(rng.randint(0, 4)):
        name = "X-Amz-Meta-" + random_text(rng, list("abcxyz019-"), 1, 8)
        value = random_text(rng, HEADER_VALUE_ALPHABET, 0, 20)
        if value.strip():
            headers[name] = value
    if rng.random() < 0.5:
        headers["Content-Type"] = "application/x-amz-json-1.1"
    return headers


def random_body(rng):
    kind = rng.random()
    if kind < 0.3:
        return b""
    if kind < 0.6:
        return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 300)))
    return random_text(rng, PATH_ALPHABET, 1, 100).encode()


def botocore_sign(method, url, headers, body, service, region, token, s3):
    creds = Credentials("AKIDEXAMPLE", "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY", token)
    request = AWSRequest(method=method, url=url, headers=headers, data=body)
    request.context["timestamp"] = AMZ_DATE
    auth = (S3SigV4Auth if s3 else SigV4Auth)(creds, service, region)
    auth._modify_request_before_signing(request)
    canonical = auth.canonical_request(request)
    string_to_sign = auth.string_to_sign(request, canonical)
    signature = auth.signature(string_to_sign, request)
    signed = auth.signed_headers(auth.headers_to_sign(request))
    scope = auth.scope(request)
    authorization = (f"AWS4-HMAC-SHA256 Credential={scope}, "
                     f"SignedHeaders={signed}, Signature={signature}")
    header_map = auth.headers_to_sign(request)
    signed_pairs = [[name, value] for name, value in request.headers.items()
                    if name.lower() in header_map]
    if "host" not in {n.lower() for n, _ in signed_pairs}:
        signed_pairs.append(["host", header_map["host"]])
    return canonical, authorization, signed_pairs


def generate(rng, i):
    s3 = i % 2 == 0
    service = "s3" if s3 else rng.choice(["ssm", "sts", "cloudformation", "service"])
    region = rng.choice(["us-east-1", "eu-west-3", "ap-southeast-2"])
    path = random_path(rng, s3)
    query = random_query(rng)
    url = f"https://example.amazonaws.com{path}" + (f"?{query}" if query else "")
    method = rng.choice(["GET", "PUT", "POST", "DELETE", "HEAD"])
    token = "FQoGZXIvYXdzE//token+with/odd=chars" if rng.random() < 0.3 else None
    headers = random_headers(rng)
    body = random_body(rng)
    canonical, authorization, signed_pairs = botocore_sign(
        method, url, headers, body, service, region, token, s3)
    mine = {"method": method, "path": path, "query": query, "headers": signed_pairs,
            "body_hex": body.hex(), "amz_date": AMZ_DATE, "region": region,
            "service": service, "s3": s3, "access_key": "AKIDEXAMPLE",
            "secret": "wJalrXUtnFEMI/K7MDENG+bPxRfiCYEXAMPLEKEY"}
    return mine, canonical, authorization


def test_signer_matches_botocore(sigv4_sign):
    rng = random.Random(20240613)
    cases = [generate(rng, i) for i in range(CASES)]
    stdin = "".join(json.dumps(mine) + "\n" for mine, _, _ in cases)
    out = subprocess.run([sigv4_sign], input=stdin, capture_output=True, text=True, check=True)
    answers = [json.loads(line) for line in out.stdout.splitlines()]
    assert len(answers) == CASES
    mismatches = []
    for (mine, canonical, authorization), answer in zip(cases, answers):
        if answer["canonical_request"] != canonical or answer["authorization"] != authorization:
            mismatches.append((mine["method"], mine["path"], mine["query"],
                               canonical, answer["canonical_request"]))
    assert not mismatches, (
        f"{len(mismatches)} of {CASES} differ; first: "
        f"{mismatches[0][:3]}\nbotocore:\n{mismatches[0][3]}\nours:\n{mismatches[0][4]}")
