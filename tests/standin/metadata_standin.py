#!/usr/bin/python3
"""metadata_standin.py - local stand-in for where AWS credentials come from:
EC2 instance metadata (IMDSv2), the ECS / EKS container endpoint and STS
(AssumeRole, AssumeRoleWithWebIdentity, Query protocol with XML answers).

It checks what the AWS SDKs check and what the real services enforce
(IMDSv2 session tokens and their TTL, the container authorization token,
STS parameters, SigV4 on AssumeRole), hands out a fresh key on every
credentials fetch, appends each to --keys-file (the AWS stand-in's
--accept-keys-file) and records what it saw under /_control/records.
See README.md next to this file.  Debian's /usr/bin/python3 with
python3-botocore only; listens on 127.0.0.1.
"""

import argparse
import base64
import datetime
import hmac
import json
import os
import re
import secrets
import signal
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
import aws_standin  # noqa: E402  (SigV4 verification shared with the AWS stand-in)

IMDS_TOKEN_PATH = "/latest/api/token"
IMDS_CREDS_PATH = "/latest/meta-data/iam/security-credentials/"
IMDS_TTL_MAX = 21600
STS_VERSION = "2011-06-15"
STS_NS = "https://sts.amazonaws.com/doc/2011-06-15/"
ROLE_ARN_RE = re.compile(r"^arn:aws[a-z-]*:iam::\d{12}:role/[\w+=,.@/-]{1,512}$")
SESSION_RE = re.compile(r"^[\w+=,.@-]{2,64}$")
BODY_CAP = 1 << 20
SERVICES = ("imds", "ecs", "sts")


def iso(epoch):
    return datetime.datetime.utcfromtimestamp(int(epoch)).strftime("%Y-%m-%dT%H:%M:%SZ")


class StsError(Exception):
    def __init__(self, status, code, message, kind="Sender"):
        super().__init__(message)
        self.status, self.code, self.message, self.kind = status, code, message, kind

    def xml(self):
        return ("<ErrorResponse xmlns=\"%s\"><Error><Type>%s</Type><Code>%s</Code>"
                "<Message>%s</Message></Error><RequestId>%s</RequestId></ErrorResponse>"
                % (STS_NS, self.kind, self.code, xml_escape(self.message), uuid.uuid4()))


def xml_escape(text):
    return (text.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")
            .replace('"', "&quot;"))


class State:
    """Everything the handler threads share, under one lock."""

    def __init__(self, cfg):
        self.lock = threading.Lock()
        self.cfg = cfg
        self.lifetime = cfg.lifetime
        self.imds_mode = "v2"          # v2: token required; v1: PUT 404, no token needed
        self.ecs_token = cfg.ecs_token
        self.web_token = cfg.web_token
        self.tokens = {}               # IMDS session token -> expiry (epoch)
        self.fail = {s: 0 for s in SERVICES}
        self.delay_ms = {s: 0 for s in SERVICES}
        self.expired = {s: 0 for s in SERVICES}
        self.issued = {}               # key id -> record
        self.sources = {}              # key id -> (secret, token): AssumeRole callers
        if cfg.source_key:
            self.sources[cfg.source_key] = (cfg.source_secret, cfg.source_token)
        self.rec = {"imds": {"token_puts": [], "gets": [], "unauthorized": 0},
                    "ecs": {"fetches": 0, "refused": 0},
                    "sts": [], "issued": []}

    def snapshot(self):
        with self.lock:
            return json.loads(json.dumps(self.rec))

    def configure(self, obj):
        with self.lock:
            for key in ("lifetime", "imds_mode", "ecs_token", "web_token"):
                if key in obj:
                    setattr(self, key, obj[key])
            for key in ("fail", "delay_ms", "expired"):
                for svc, n in (obj.get(key) or {}).items():
                    if svc not in SERVICES or not isinstance(n, int):
                        raise ValueError("%s: unknown service or bad count" % key)
                    getattr(self, key)[svc] = n
            if obj.get("invalidate_tokens"):
                self.tokens.clear()

    def take(self, what, svc):
        """One application of a fail / expired count (-1: until cleared)."""
        with self.lock:
            table = getattr(self, what)
            if table[svc] == 0:
                return False
            if table[svc] > 0:
                table[svc] -= 1
            return True

    def issue(self, via):
        """A fresh key, written to the keys file before it is handed out."""
        now = time.time()
        with self.lock:
            expired = self.expired[via] != 0
            if self.expired[via] > 0:
                self.expired[via] -= 1
            exp = int(now) - 60 if expired else int(now + self.lifetime)
            key = "ASIA" + "".join(secrets.choice("ABCDEFGHIJKLMNOPQRSTUVWXYZ234567")
                                   for _ in range(16))
            rec = {"access_key": key, "secret_key": base64.b64encode(os.urandom(30)).decode(),
                   "session_token": base64.b64encode(os.urandom(240)).decode(),
                   "expiration": exp}
            self.issued[key] = rec
            self.rec["issued"].append({"access_key": key, "via": via, "issued": now,
                                       "expiration": exp})
            if self.cfg.keys_file:
                with open(self.cfg.keys_file, "a") as f:
                    f.write(json.dumps(rec) + "\n")
                    f.flush()
        return rec

    def key_for(self, key_id):
        with self.lock:
            if key_id in self.sources:
                secret, token = self.sources[key_id]
                return argparse.Namespace(access_key=key_id, secret_key=secret,
                                          session_token=token, expiration=None,
                                          region=self.cfg.region)
            rec = self.issued.get(key_id)
        if rec is None:
            return None
        return argparse.Namespace(access_key=key_id, secret_key=rec["secret_key"],
                                  session_token=rec["session_token"],
                                  expiration=rec["expiration"], region=self.cfg.region)


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "metadata-standin/1"

    def log_request(self, code="-", size="-"):
        pass

    def log_message(self, fmt, *args):
        self.server.log("%s %s" % (self.client_address[0], fmt % args))

    def answer(self, status, body, ctype="application/json", headers=None):
        data = body.encode() if isinstance(body, str) else body
        self.send_response(status)
        self.send_header("Content-Type", ctype)
        self.send_header("Content-Length", str(len(data)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(data)
        self.server.log("%s %s %d" % (self.command, urlsplit(self.path).path, status))

    def body(self):
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > BODY_CAP:
            self.close_connection = True
            return None
        return self.rfile.read(length) if length else b""

    def state(self):
        return self.server.state

    def slow(self, svc):
        ms = self.state().delay_ms[svc]
        if ms > 0:
            time.sleep(ms / 1000.0)

    # ---- IMDSv2

    def do_PUT(self):
        self.body()
        path = urlsplit(self.path).path
        if path != IMDS_TOKEN_PATH:
            self.answer(404, "Not Found", "text/plain")
            return
        st = self.state()
        if st.imds_mode == "v1":
            self.answer(404, "Not Found", "text/plain")
            return
        if self.headers.get("X-Forwarded-For") is not None:
            self.answer(403, "Forbidden", "text/plain")     # as IMDS: no proxies
            return
        ttl = self.headers.get("X-aws-ec2-metadata-token-ttl-seconds")
        with st.lock:
            st.rec["imds"]["token_puts"].append(ttl)
        if ttl is None or not ttl.isdigit() or not 1 <= int(ttl) <= IMDS_TTL_MAX:
            self.answer(400, "Bad Request", "text/plain")
            return
        token = base64.urlsafe_b64encode(os.urandom(42)).decode()
        with st.lock:
            st.tokens[token] = time.time() + int(ttl)
        self.answer(200, token, "text/plain", {"X-aws-ec2-metadata-token-ttl-seconds": ttl})

    def imds_authorized(self):
        st = self.state()
        token = self.headers.get("X-aws-ec2-metadata-token")
        with st.lock:
            st.rec["imds"]["gets"].append({"path": urlsplit(self.path).path,
                                           "token": token is not None})
            ok = (token is None and st.imds_mode == "v1") or \
                (token is not None and st.tokens.get(token, 0) > time.time())
            if not ok:
                st.rec["imds"]["unauthorized"] += 1
        return ok

    def imds_get(self, path):
        if not self.imds_authorized():
            self.answer(401, "Unauthorized", "text/plain")
            return
        role = self.server.cfg.role_name
        if path == IMDS_CREDS_PATH:
            self.answer(200, role, "text/plain")
            return
        if path != IMDS_CREDS_PATH + role:
            self.answer(404, "Not Found", "text/plain")
            return
        self.slow("imds")
        if self.state().take("fail", "imds"):
            self.answer(500, "Internal Server Error", "text/plain")
            return
        rec = self.state().issue("imds")
        self.answer(200, json.dumps({
            "Code": "Success", "LastUpdated": iso(time.time()), "Type": "AWS-HMAC",
            "AccessKeyId": rec["access_key"], "SecretAccessKey": rec["secret_key"],
            "Token": rec["session_token"], "Expiration": iso(rec["expiration"])}))

    # ---- ECS / EKS container endpoint

    def ecs_get(self):
        st = self.state()
        want = st.ecs_token
        got = self.headers.get("Authorization")
        if want and (got is None or not hmac.compare_digest(got, want)):
            with st.lock:
                st.rec["ecs"]["refused"] += 1
            self.answer(401, json.dumps({"code": "AccessDenied",
                                         "message": "Authorization token is invalid"}))
            return
        self.slow("ecs")
        if st.take("fail", "ecs"):
            self.answer(500, json.dumps({"code": "InternalServerError",
                                         "message": "injected"}))
            return
        with st.lock:
            st.rec["ecs"]["fetches"] += 1
        rec = st.issue("ecs")
        self.answer(200, json.dumps({
            "RoleArn": "arn:aws:iam::123456789012:role/cxbridge-task",
            "AccessKeyId": rec["access_key"], "SecretAccessKey": rec["secret_key"],
            "Token": rec["session_token"], "Expiration": iso(rec["expiration"])}))

    def do_GET(self):
        path = urlsplit(self.path).path
        if path.startswith("/_control/"):
            self.control(path, None)
        elif path.startswith("/latest/"):
            self.imds_get(path)
        elif path == self.server.cfg.ecs_path:
            self.ecs_get()
        else:
            self.answer(404, json.dumps({"message": "not found"}))

    # ---- STS

    def do_POST(self):
        body = self.body()
        if body is None:
            self.answer(413, json.dumps({"message": "too large"}))
            return
        path = urlsplit(self.path).path
        if path.startswith("/_control/"):
            self.control(path, body)
            return
        try:
            xml = self.sts(path, body)
            self.answer(200, xml, "text/xml")
        except StsError as err:
            self.answer(err.status, err.xml(), "text/xml")

    def sts_params(self, path, body):
        ctype = self.headers.get("Content-Type", "")
        if path != "/" or not ctype.startswith("application/x-www-form-urlencoded"):
            raise StsError(400, "InvalidAction", "Query protocol: form POST to /")
        try:
            raw = parse_qs(body.decode("utf-8"), keep_blank_values=True, strict_parsing=True)
        except (ValueError, UnicodeDecodeError):
            raise StsError(400, "MalformedQueryString", "bad form body")
        if any(len(v) != 1 for v in raw.values()):
            raise StsError(400, "InvalidParameterValue", "a parameter is repeated")
        p = {k: v[0] for k, v in raw.items()}
        if p.get("Version") != STS_VERSION:
            raise StsError(400, "InvalidParameterValue", "Version must be " + STS_VERSION)
        if not ROLE_ARN_RE.match(p.get("RoleArn", "")):
            raise StsError(400, "ValidationError", "RoleArn is not a role ARN")
        if not SESSION_RE.match(p.get("RoleSessionName", "")):
            raise StsError(400, "ValidationError", "RoleSessionName fails its pattern")
        dur = p.get("DurationSeconds")
        if dur is not None and (not dur.isdigit() or not 900 <= int(dur) <= 43200):
            raise StsError(400, "ValidationError", "DurationSeconds out of range")
        return p

    def sts(self, path, body):
        p = self.sts_params(path, body)
        action = p.get("Action")
        call = {"action": action, "role_arn": p["RoleArn"], "session_name": p["RoleSessionName"],
                "duration": p.get("DurationSeconds"), "external_id": p.get("ExternalId"),
                "signed_by": None, "authorization": self.headers.get("Authorization") is not None}
        st = self.state()
        with st.lock:
            st.rec["sts"].append(call)
        if action == "AssumeRoleWithWebIdentity":
            if call["authorization"]:
                raise StsError(400, "InvalidParameterValue", "this call is not signed")
            if not st.web_token or not hmac.compare_digest(p.get("WebIdentityToken", ""),
                                                           st.web_token):
                raise StsError(400, "InvalidIdentityToken", "The web identity token is invalid")
        elif action == "AssumeRole":
            call["signed_by"] = self.sts_verify(body)
        else:
            raise StsError(400, "InvalidAction", "unknown Action")
        self.slow("sts")
        if st.take("fail", "sts"):
            raise StsError(503, "ServiceUnavailable", "injected", "Receiver")
        return self.sts_answer(action, st.issue("sts"), p)

    def sts_verify(self, body):
        """SigV4 as STS checks it; returns the signing key id."""
        auth = self.headers.get("Authorization")
        if not auth:
            raise StsError(403, "MissingAuthenticationToken", "Request is missing "
                           "Authentication Token")
        try:
            (key_id, date, region, svc, _), signed, signature = \
                aws_standin.parse_authorization(auth)
        except aws_standin.AwsError as err:
            raise StsError(400, "IncompleteSignature", err.message)
        amz_date = self.headers.get("X-Amz-Date", "")
        key = self.state().key_for(key_id)
        if key is None:
            raise StsError(403, "InvalidClientTokenId", "The security token included in "
                           "the request is invalid.")
        if (svc != "sts" or region != self.server.cfg.region or date != amz_date[:8]
                or "host" not in signed or "x-amz-date" not in signed):
            raise StsError(403, "SignatureDoesNotMatch", "Credential scope or signed "
                           "headers are wrong")
        if self.headers.get("X-Amz-Security-Token") != key.session_token:
            raise StsError(403, "InvalidClientTokenId", "The security token included in "
                           "the request is invalid.")
        if key.expiration is not None and time.time() >= key.expiration:
            raise StsError(403, "ExpiredToken", "The security token included in the "
                           "request is expired")
        expected = aws_standin.compute_signature(key, "sts", "POST", self.path, self.headers,
                                                 body, signed, amz_date)
        if not hmac.compare_digest(expected, signature):
            raise StsError(403, "SignatureDoesNotMatch", "The request signature we "
                           "calculated does not match the signature you provided.")
        return key_id

    @staticmethod
    def sts_answer(action, rec, p):
        extra = ("<SubjectFromWebIdentityToken>system:serviceaccount:cxb:bridge"
                 "</SubjectFromWebIdentityToken><Audience>sts.amazonaws.com</Audience>"
                 "<Provider>oidc.eks.example</Provider>"
                 if action == "AssumeRoleWithWebIdentity" else "")
        return ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n"
                "<{a}Response xmlns=\"{ns}\">\n  <{a}Result>\n    {extra}\n"
                "    <AssumedRoleUser><Arn>{arn}/{sess}</Arn>"
                "<AssumedRoleId>AROA123:{sess}</AssumedRoleId></AssumedRoleUser>\n"
                "    <Credentials>\n      <AccessKeyId>{id}</AccessKeyId>\n"
                "      <SecretAccessKey>{secret}</SecretAccessKey>\n"
                "      <SessionToken>{token}</SessionToken>\n"
                "      <Expiration>{exp}</Expiration>\n    </Credentials>\n"
                "  </{a}Result>\n  <ResponseMetadata><RequestId>{rid}</RequestId>"
                "</ResponseMetadata>\n</{a}Response>\n").format(
                    a=action, ns=STS_NS, extra=extra, arn=xml_escape(p["RoleArn"]),
                    sess=xml_escape(p["RoleSessionName"]), id=rec["access_key"],
                    secret=xml_escape(rec["secret_key"]),
                    token=xml_escape(rec["session_token"]), exp=iso(rec["expiration"]),
                    rid=uuid.uuid4())

    # ---- control

    def control(self, path, body):
        st = self.state()
        if path == "/_control/health":
            self.answer(200, json.dumps({"status": "ok"}))
        elif path == "/_control/records":
            self.answer(200, json.dumps(st.snapshot()))
        elif path == "/_control/config" and body is not None:
            try:
                st.configure(json.loads(body or b"{}"))
            except (ValueError, AttributeError) as exc:
                self.answer(400, json.dumps({"message": str(exc)}))
                return
            self.answer(200, json.dumps({"status": "ok"}))
        else:
            self.answer(404, json.dumps({"message": "not found"}))


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, cfg, log_file):
        self.cfg = cfg
        self.state = State(cfg)
        self.log_file = log_file
        self.log_lock = threading.Lock()
        super().__init__(("127.0.0.1", cfg.port), Handler)

    def handle_error(self, request, client_address):
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            self.log("%s connection error: %s" % (client_address[0], exc))
        else:
            super().handle_error(request, client_address)

    def log(self, line):
        stamp = datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        with self.log_lock:
            self.log_file.write("%s metadata-standin %s\n" % (stamp, line))
            self.log_file.flush()


def parse_args(argv):
    p = argparse.ArgumentParser(description="Local IMDSv2 / ECS / STS stand-in for tests.")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--region", default="us-east-1", help="STS signing region")
    p.add_argument("--keys-file", help="append each key handed out (JSON lines)")
    p.add_argument("--lifetime", type=int, default=3600, help="seconds a key lives")
    p.add_argument("--role-name", default="cxbridge-role", help="the instance's role")
    p.add_argument("--ecs-path", default="/v2/credentials/cxbridge-task")
    p.add_argument("--ecs-token", help="Authorization value the container endpoint wants")
    p.add_argument("--web-token", help="the web identity token STS accepts")
    p.add_argument("--source-key", help="a long-term key AssumeRole accepts")
    p.add_argument("--source-secret")
    p.add_argument("--source-token")
    p.add_argument("--log")
    return p.parse_args(argv)


def main(argv=None):
    cfg = parse_args(sys.argv[1:] if argv is None else argv)
    log_file = open(cfg.log, "a", encoding="utf-8") if cfg.log else sys.stderr
    server = Server(cfg, log_file)
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="serve", daemon=True)
    thread.start()
    if cfg.port_file:
        aws_standin.write_port_file(cfg.port_file, server.server_address[1])
    server.log("listening on 127.0.0.1:%d" % server.server_address[1])
    while not stop.wait(0.2):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
