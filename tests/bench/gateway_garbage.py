#!/usr/bin/env python3
"""Robustness smoke: 600 malformed, oversized, deeply nested and random
requests against a gateway at 127.0.0.1:28080 (start one with dev auth, ideally
an ASan build). Prints the status codes seen; the gateway must still be alive
and its log free of sanitizer reports afterwards. Not part of the suite.
"""
import random, socket, json, time
random.seed(7)
paths=["/coaching/api/v1/coaching/alignment-check","/coaching/api/v1/jobs/batch","/coaching/api/v1/jobs/"+"a"*40,
 "/coaching/api/v1/jobs/batch/x/results","/coaching/api/v1/insights/generate?page=%ff&pageSize=-1","/coaching/api/v1/%00",
 "/coaching/api/v1/jobs/01920f3e-7c1a-7b3e-9f2d-5a6b7c8d9e0f","/coaching/api/v1/analysis/operations","/"+"x"*5000]
bodies=[b"{", b"[]", b"null", b'{"goalIntent":' + b'"a"'*1000+b'}', b"\xff\xfe\x00", json.dumps({"goalIntent":"x"*10000}).encode(),
 json.dumps([{"customId":"a","operation":"alignment-check","body":{"goalIntent":"g","strategies":[],"kpis":[],"businessFoundation":{"vision":"v","purpose":"p","coreValues":["x"]}}}]*3).encode(),
 b'{"a":'*5000 + b'1' + b'}'*5000, b'[' * 100000]
ctypes=["application/json","application/x-ndjson","text/plain","application/json; charset=utf-8",""]
def send(raw):
    s=socket.create_connection(("127.0.0.1",28080),timeout=10)
    s.sendall(raw)
    data=b""
    try:
        while True:
            c=s.recv(65536)
            if not c: break
            data+=c
    except socket.timeout: pass
    s.close(); return data
codes={}
for i in range(600):
    p=random.choice(paths); b=random.choice(bodies)
    if random.random()<0.3:
        b=bytes(random.getrandbits(8) for _ in range(random.randint(0,300)))
    m=random.choice(["POST","GET","DELETE","PUT","HEAD"])
    ct=random.choice(ctypes)
    tid=random.choice(['t1','t\u00e9','../..','a'*200])
    hdr=f"{m} {p} HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Tenant-Id: {tid}\r\nContent-Length: {len(b)}\r\n"
    if ct: hdr+=f"Content-Type: {ct}\r\n"
    if random.random()<0.3: hdr+=f"Prefer: {random.choice(['wait=-1','wait=99999999999999999999','respond-async','wait=abc,respond-async'])}\r\n"
    if random.random()<0.2: hdr+=f"Idempotency-Key: {'k'*random.choice([0,1,300])}\r\n"
    if random.random()<0.2: hdr+="Authorization: Bearer "+"x.y.z"*random.randint(1,3000)+"\r\n"
    r=send(hdr.encode('utf-8','replace')+b"\r\n"+b)
    code=r[9:12].decode() if r.startswith(b"HTTP/1.1") else "none"
    codes[code]=codes.get(code,0)+1
print(codes)
