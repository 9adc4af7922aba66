#!/usr/bin/python3
"""sigv4_botocore.py - random requests signed by botocore, as cases for our signer.

Writes one JSON object per line (to stdout, or -o FILE): the request parts,
the credentials, the time, and what botocore.auth.SigV4Auth produced for
them (Authorization, X-Amz-Date, canonical request).  tests/unit/
test_sigv4_botocore.c signs every case with src/sigv4.c and compares.

    /usr/bin/python3 tests/sigv4_botocore.py --seed 1 --count 1000 -o cases.jsonl

The same seed always gives the same file (random.Random(seed), no clock,
no hash-order dependence).  Run it with Debian's /usr/bin/python3, which has
python3-botocore.

What botocore does, and so what the cases are built to exercise:
  * The path is taken as it goes on the wire (already percent-encoded) and
    normalized (dot segments, "//") and percent-encoded again: "%20" on the
    wire is "%2520" in the canonical request.  Generated paths mix encoded
    reserved and UTF-8 characters, sub-delimiters left raw, raw UTF-8,
    ".", "..", empty segments and encoded dots ("%2E", which is not a dot).
  * The query is taken verbatim from the URL, split on "&" and "=", and
    sorted by (name, value); it is not re-encoded.  Our signer decodes and
    re-encodes each part strictly, which is the same thing only for a query
    that is already strictly encoded with upper-case hex, so the generator
    encodes every name and value with quote(safe="-_.~").  Repeated names,
    empty names, empty values, names without "=" and empty pairs ("&&") are
    generated; both sides treat "k" as "k=" and "" as "=".
  * Header values are trimmed and inner whitespace runs folded with
    str.split(), which also splits on Unicode spaces; values here are
    printable ASCII with runs of spaces and tabs.  Repeated names (in any
    case) are joined with "," in the order given.
  * "user-agent", "expect" and "x-amzn-trace-id" are never signed.
  * X-Amz-Content-SHA256, when present, replaces the payload hash; botocore
    uses it untrimmed, so generated values carry no whitespace.
  * A Date header would make botocore sign Date instead of X-Amz-Date, so no
    Date, X-Amz-Date, X-Amz-Security-Token or Authorization header is
    generated: the signer owns those.
  * Service "s3" uses another signer class in botocore and is not generated.
"""

import argparse
import datetime
import json
import random
import sys
import types
from unittest import mock
from urllib.parse import quote

import botocore.auth
from botocore.awsrequest import AWSRequest
from botocore.credentials import Credentials

METHODS = ["GET", "POST", "PUT", "DELETE", "HEAD", "PATCH", "OPTIONS"]
REGIONS = ["us-east-1", "us-west-2", "eu-west-1", "eu-central-2", "ap-southeast-4",
           "sa-east-1", "cn-north-1", "cn-northwest-1", "us-gov-west-1", "il-central-1"]
SERVICES = ["events", "sqs", "service", "execute-api", "sts", "lambda", "logs"]
HOSTS = ["example.amazonaws.com", "events.eu-west-1.amazonaws.com",
         "sqs.us-east-1.amazonaws.com:443", "localhost:4566", "127.0.0.1:8080"]
UNRESERVED = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~"
RESERVED = ":/?#[]@!$&'()*+,;="
SUBDELIMS = "!$&'()*+,;=:@"
UTF8 = ["\u00e9", "\u00fc", "\u1234", "\u4e2d", "\u00a0", "\U0001f600", "\u20ac"]
TCHARS_EXTRA = "!#$%&'*+-.^_`|~"
VALUE_CHARS = "".join(chr(c) for c in range(0x21, 0x7f))
UNSIGNED = ["User-Agent", "Expect", "X-Amzn-Trace-Id", "user-agent", "X-AMZN-TRACE-ID"]
KNOWN = ["Content-Type", "X-Amz-Target", "Content-Length", "Accept", "X-Amz-Meta-A"]
B64 = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/"
OWNED = {"authorization", "x-amz-date", "x-amz-security-token", "date", "host",
         "x-amz-content-sha256"}
EPOCH_MIN = 946684800    # 2000-01-01
EPOCH_MAX = 4102444799   # 2099-12-31T23:59:59


class _Recording(botocore.auth.SigV4Auth):
    """SigV4Auth that keeps the canonical request, for the mismatch report."""

    last_creq = None

    def canonical_request(self, request):
        creq = super().canonical_request(request)
        self.last_creq = creq
        return creq


def _clock(when):
    """A datetime class whose utcnow() is `when`, for botocore.auth only."""

    class Fixed(datetime.datetime):
        @classmethod
        def utcnow(cls):
            return when

    return types.SimpleNamespace(datetime=Fixed)


def _text(rng, pool, lo, hi):
    return "".join(rng.choice(pool) for _ in range(rng.randint(lo, hi)))


def _segment(rng):
    kind = rng.randrange(10)
    if kind == 0:
        return rng.choice([".", "..", "", "%2E", "%2e%2E"])
    if kind == 1:
        # Raw UTF-8 on the wire: encoded once by the signer's pass.
        return _text(rng, list(UNRESERVED) + UTF8, 1, 6)
    pool = list(UNRESERVED) + list(RESERVED) + UTF8 + [" ", "%", "\"", "<", "^"]
    seg = _text(rng, pool, 0, 12)
    safe = "".join(c for c in SUBDELIMS if rng.random() < 0.5)
    return quote(seg, safe=safe)


def _path(rng):
    segs = [_segment(rng) for _ in range(rng.randint(0, 6))]
    path = "/" + "/".join(segs)
    if segs and rng.random() < 0.3:
        path += "/"
    return path


def _query_part(rng, pool):
    return quote(_text(rng, pool, 0, 8), safe="-_.~")


def _query(rng):
    if rng.random() < 0.3:
        return ""
    pool = list(UNRESERVED) + list(RESERVED) + UTF8 + [" ", "%"]
    names = [_query_part(rng, pool) or "k" for _ in range(3)]
    pairs = []
    for _ in range(rng.randint(1, 8)):
        form = rng.randrange(8)
        name = rng.choice(names) if rng.random() < 0.6 else _query_part(rng, pool)
        value = _query_part(rng, pool)
        if form == 0:
            pairs.append(name)               # no "="
        elif form == 1:
            pairs.append("=" + value)        # empty name
        elif form == 2:
            pairs.append("")                 # empty pair
        else:
            pairs.append(name + "=" + value)
    return "&".join(pairs)


def _header_value(rng):
    if rng.random() < 0.1:
        return rng.choice(["", " ", "\t \t"])
    words = [_text(rng, VALUE_CHARS, 1, 10) for _ in range(rng.randint(1, 4))]
    out = _text(rng, " \t", 0, 3)
    for i, word in enumerate(words):
        if i:
            out += _text(rng, " \t", 1, 4)
        out += word
    return out + _text(rng, " \t", 0, 3)


def _header_name(rng):
    while True:
        if rng.random() < 0.2:
            name = rng.choice(KNOWN)
        else:
            name = _text(rng, UNRESERVED.replace("~", "").replace(".", "") +
                         TCHARS_EXTRA, 1, 16)
        if name.lower() not in OWNED:
            return "".join(c.upper() if rng.random() < 0.3 else c for c in name)


def _headers(rng):
    host = rng.choice(["Host", "host", "HOST"])
    headers = [(host, rng.choice(HOSTS))]
    names = []
    for _ in range(rng.randint(0, 10)):
        roll = rng.random()
        if roll < 0.1:
            name = rng.choice(UNSIGNED)
        elif roll < 0.3 and names:
            # The same name again, perhaps in another case.
            name = rng.choice(names)
            name = name.upper() if rng.random() < 0.5 else name.lower()
        else:
            name = _header_name(rng)
        names.append(name)
        headers.append((name, _header_value(rng)))
    if rng.random() < 0.1:
        value = rng.choice(["UNSIGNED-PAYLOAD", "%064x" % rng.getrandbits(256)])
        headers.append(("X-Amz-Content-SHA256", value))
    rng.shuffle(headers)
    return headers


def _body(rng):
    roll = rng.random()
    if roll < 0.3:
        return b""
    if roll < 0.6:
        return json.dumps({"id": rng.getrandbits(64),
                           "detail": _text(rng, VALUE_CHARS, 0, 80)}).encode()
    return bytes(rng.getrandbits(8) for _ in range(rng.randint(1, 3000)))


def _credentials(rng):
    akid = "AKIA" + _text(rng, "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567", 16, 16)
    secret = _text(rng, B64, 40, 40)
    token = ""
    if rng.random() < 0.5:
        token = _text(rng, B64, 16, 1200) + "=" * rng.randint(0, 2)
    return akid, secret, token


def _when(rng):
    t = rng.randint(EPOCH_MIN, EPOCH_MAX)
    if rng.random() < 0.2:
        # Around midnight UTC, where the scope's date changes.
        t = t - t % 86400 + rng.choice([-1, 0, 1, 86399])
    return t


def make_case(rng, index):
    method = rng.choice(METHODS)
    path = _path(rng)
    query = _query(rng)
    headers = _headers(rng)
    body = _body(rng)
    region = rng.choice(REGIONS) if rng.random() < 0.8 else \
        _text(rng, "abcdefghijklmnopqrstuvwxyz", 2, 2) + "-" + \
        _text(rng, "abcdefghijklmnopqrstuvwxyz", 3, 9) + "-" + str(rng.randint(1, 9))
    service = rng.choice(SERVICES) if rng.random() < 0.8 else \
        _text(rng, "abcdefghijklmnopqrstuvwxyz0123456789-", 1, 20).strip("-") or "x"
    akid, secret, token = _credentials(rng)
    when = _when(rng)

    url = "https://" + headers[[h[0].lower() for h in headers].index("host")][1] + path
    if query:
        url += "?" + query
    request = AWSRequest(method=method, url=url, data=body)
    for name, value in headers:
        request.headers[name] = value   # HTTPHeaders appends repeated names
    auth = _Recording(Credentials(akid, secret, token or None), service, region)
    utc = datetime.datetime.utcfromtimestamp(when)
    with mock.patch.object(botocore.auth, "datetime", _clock(utc)):
        auth.add_auth(request)
    return {
        "name": "case-%d" % index,
        "method": method, "path": path, "query": query,
        "headers": [[n, v] for n, v in headers],
        "body_hex": body.hex(),
        "region": region, "service": service,
        "access_key": akid, "secret_key": secret, "token": token,
        "time": when,
        "amz_date": request.headers["X-Amz-Date"],
        "authorization": request.headers["Authorization"],
        "canonical_request": auth.last_creq,
    }


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed", type=int, default=1)
    ap.add_argument("--count", type=int, default=1000)
    ap.add_argument("-o", "--output", default="-")
    args = ap.parse_args()
    rng = random.Random(args.seed)
    out = sys.stdout if args.output == "-" else open(args.output, "w", encoding="utf-8")
    with out:
        for i in range(args.count):
            out.write(json.dumps(make_case(rng, i), ensure_ascii=False,
                                 sort_keys=True) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
