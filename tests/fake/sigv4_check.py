#!/usr/bin/env python3
"""Recomputes the AWS Signature Version 4 of a request recorded by a fake
server, independently of libcurl (which signed it), and says whether the
request's Authorization header carries the same signature.

Usage: sigv4_check.py SECRET_ACCESS_KEY < record.json
The record is one element of GET /_control/requests (method, path, query,
lower-case headers, body_sha256). Exit 0 when the signatures match.
Follows the published SigV4 steps: canonical request, string to sign,
derived signing key, HMAC-SHA256.
"""
import hashlib
import hmac
import json
import sys
import urllib.parse


def canonical_uri(path):
    # Each segment URI-encoded once more (what non-S3 services expect).
    return "/".join(urllib.parse.quote(seg, safe="-_.~") for seg in path.split("/")) or "/"


def canonical_query(query):
    if not query:
        return ""
    pairs = urllib.parse.parse_qsl(query, keep_blank_values=True)
    enc = sorted((urllib.parse.quote(k, safe="-_.~"), urllib.parse.quote(v, safe="-_.~"))
                 for k, v in pairs)
    return "&".join(f"{k}={v}" for k, v in enc)


def sign(key, msg):
    return hmac.new(key, msg.encode(), hashlib.sha256).digest()


def main():
    secret = sys.argv[1]
    rec = json.load(sys.stdin)
    headers = rec["headers"]
    auth = headers["authorization"]
    algo, rest = auth.split(" ", 1)
    parts = dict(p.strip().split("=", 1) for p in rest.split(","))
    cred = parts["Credential"].split("/")
    _key_id, date, region, service, terminator = cred
    signed = parts["SignedHeaders"].split(";")
    amz_date = headers["x-amz-date"]
    canon_headers = "".join(f"{h}:{' '.join(headers[h].strip().split())}\n" for h in signed)
    creq = "\n".join([rec["method"], canonical_uri(rec["path"]), canonical_query(rec.get("query")),
                      canon_headers, ";".join(signed), rec["body_sha256"]])
    scope = f"{date}/{region}/{service}/{terminator}"
    sts = "\n".join([algo, amz_date, scope, hashlib.sha256(creq.encode()).hexdigest()])
    k = sign(("AWS4" + secret).encode(), date)
    k = sign(k, region)
    k = sign(k, service)
    k = sign(k, terminator)
    expected = hmac.new(k, sts.encode(), hashlib.sha256).hexdigest()
    ok = hmac.compare_digest(expected, parts["Signature"])
    print(json.dumps({"match": ok, "expected": expected, "got": parts["Signature"],
                      "signed_headers": signed, "scope": scope}))
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
