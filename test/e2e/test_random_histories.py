"""Proof by sampling (issue 13): 500 seeded random histories in one bucket,
each under its own path, in format 3, format 1 (the Python tool) or a mix
with writers that died between their two writes. For each, a random PATH
(a key, a path with or without its slash, a subpath), TIME and -R; preview's
answer must be the one FORMAT.md's rule gives (bucketfmt.expected_state,
written independently of the C code), before and after `ssmbak reindex`."""
import json
import os
import random

import pytest

from bucketfmt import Write, expected_state, load

T0 = 1718243666
# 500 a run; under valgrind (make valgrind), where each preview takes a
# second, a sample of 30 still checks the memory of every path.
UNDER_VALGRIND = os.environ.get("SSMBAK_BIN", "").endswith("valgrind-ssmbak")
HISTORIES = int(os.environ.get("SSMBAK_RANDOM_HISTORIES", "30" if UNDER_VALGRIND else "500"))
SEED = int(os.environ.get("SSMBAK_RANDOM_SEED", "20261202"))
FLAVOURS = {"format3": ("",), "format1": ("legacy_",), "mixed": ("", "_unindexed", "legacy_")}


def iso(t):
    import datetime
    return datetime.datetime.fromtimestamp(t, datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%S")


def one_history(rng, root, kinds):
    """Creates, updates, deletes and recreates of a few keys at two depths
    (and a key that prefixes another's name), same-second collisions, and
    writes delayed and reordered by up to an hour."""
    names = [f"{root}/a", f"{root}/ab", f"{root}/a/x", f"{root}/b/c/d", f"{root}/b-c"]
    names = rng.sample(names, rng.randint(1, len(names)))
    writes = []
    for name in names:
        t, version = T0 + rng.randint(0, 50), 0
        for _ in range(rng.randint(1, 7)):
            t += rng.choice([0, 0, 1, rng.randint(1, 4000)])
            delay = rng.choice([0, 1, 2, rng.randint(0, 3600)])
            flavour = rng.choice(kinds)
            if version and rng.random() < 0.3:
                kind = "legacy_delete" if flavour == "legacy_" else "delete" + flavour
                writes.append(Write(name, kind, t, t + delay, version))
                version = 0
            else:
                version += 1
                kind = "legacy_value" if flavour == "legacy_" else "value" + flavour
                writes.append(Write(name, kind, t, t + delay + 0.25,
                                    0 if flavour == "legacy_" else version, f"{name}@{t}#{version}"))
    writes.sort(key=lambda w: w.written_at)
    return writes


def in_scope(key, path, recursive, keys_ever):
    """UPSTREAM.md's path rules, as the documentation states them."""
    if not path.endswith("/") and path in keys_ever:
        return key == path
    prefix = path if path.endswith("/") else path + "/"
    if not key.startswith(prefix) or key == prefix:
        return False
    return recursive or key.count("/") == prefix.count("/")


def expected(writes, path, t, recursive):
    values, deleted = expected_state(writes, t)
    keys_ever = {w.key for w in writes}
    return ({n: w.value for n, w in values.items() if in_scope(n, path, recursive, keys_ever)},
            {k for k in deleted if in_scope(k, path, recursive, keys_ever)})


def random_question(rng, root, writes):
    last = int(max(w.written_at for w in writes)) + 60
    t = rng.choice([rng.randint(T0 - 10, last), rng.choice(writes).event_time])
    path = rng.choice([root + "/", root, rng.choice(writes).key, root + "/a", root + "/b/",
                       root + "/b"])
    return path, t, rng.random() < 0.5


@pytest.fixture(scope="module")
def histories(localaws):
    """Every history loaded once, in one bucket of this module's own."""
    import uuid
    bucket = f"ssmbak-random-{uuid.uuid4().hex[:10]}"
    rng = random.Random(SEED)
    out, all_writes = [], []
    for i in range(HISTORIES):
        flavour = list(FLAVOURS)[i % len(FLAVOURS)]
        root = f"/h{i:04d}"
        writes = one_history(rng, root, FLAVOURS[flavour])
        questions = [random_question(rng, root, writes) for _ in range(2)]
        out.append((flavour, root, writes, questions))
        all_writes += writes
    load(localaws.endpoint, bucket, all_writes)
    return bucket, out


def check_all(run, bucket, histories):
    wrong = []
    for flavour, root, writes, questions in histories:
        for path, t, recursive in questions:
            args = ["preview", path, iso(t), "-b", bucket, "--all", "--output", "json"]
            out = run(*args, *(["-R"] if recursive else []))
            assert out.returncode == 0, (root, path, t, out.stderr)
            got = json.loads(out.stdout)
            values = {r["name"]: r["value"] for r in got if not r["deleted"]}
            deleted = {r["name"] for r in got if r["deleted"]}
            want_values, want_deleted = expected(writes, path, t, recursive)
            if (values, deleted) != (want_values, want_deleted):
                wrong.append((flavour, root, path, t, recursive))
    return wrong


def test_random_histories_answer_as_the_rule_says(run, histories):
    bucket, hs = histories
    wrong = check_all(run, bucket, hs)
    assert not wrong, f"{len(wrong)} of {2 * len(hs)} answers differ, first: {wrong[0]}"


def test_random_histories_answer_the_same_after_reindex(run, histories):
    bucket, hs = histories
    done = run("reindex", "-b", bucket)
    assert done.returncode == 0, done.stderr
    wrong = check_all(run, bucket, hs)
    assert not wrong, f"{len(wrong)} of {2 * len(hs)} answers differ, first: {wrong[0]}"
