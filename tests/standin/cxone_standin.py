#!/usr/bin/python3
"""cxone_standin.py - local stand-in for a CXone OAuth token endpoint and webhooks API.

For the tests of `cxbridge register`, `unregister` and `webhooks`.  It listens on
127.0.0.1 only and speaks the shapes docs/cxone.md describes:

  POST /auth/token                 OAuth 2.0 client credentials (RFC 6749 4.4)
  GET|POST /api/v1/webhooks        list, create
  PUT|DELETE /api/v1/webhooks/ID   update, delete

The token endpoint checks the grant, the client authentication (HTTP Basic over
the form-encoded id and secret, or the two form fields, never both), and that
the requested scopes are ones the client may have.  Each token expires after
expires_in seconds; the API answers 401 to an unknown, expired or revoked one.
Everything is counted so that a test can tell one token per lifetime from one
per call.  Control API (no auth):

  GET  /_control/state     {"token_fetches", "tokens", "token_requests",
                            "api_requests", "webhooks", "faults"}
  POST /_control/faults    {"kind":"status","status":429,"retry_after":"1",
                            "on":"token"|"api","count":N}, {"kind":"unauthorized",
                            "count":N} (401 to the next N API calls), or
                            {"kind":"revoke"} (every token issued so far dies now)
  POST /_control/config    {"expires_in":N, "list_shape":"array"|"items"}
  POST /_control/webhooks  {"webhooks":[...]} stored as they are (test set-up)
  POST /_control/reset

Logs one line per request, never a secret, a token or an Authorization header.
Debian's /usr/bin/python3 only.
"""

import argparse
import base64
import datetime
import hmac
import json
import os
import secrets
import signal
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qsl, unquote, unquote_plus, urlsplit

TOKEN_PATH = "/auth/token"
HOOKS_PATH = "/api/v1/webhooks"
BODY_CAP = 1 << 20


class State:
    def __init__(self, cfg):
        self.cfg = cfg
        self.lock = threading.Lock()
        self.reset()

    def reset(self):
        with self.lock:
            self.tokens = {}            # token -> expiry (monotonic)
            self.token_fetches = 0
            self.token_requests = []
            self.api_requests = []
            self.webhooks = []
            self.faults = []
            self.next_id = 1
            self.expires_in = self.cfg.expires_in
            self.list_shape = "array"

    def take_fault(self, on):
        with self.lock:
            for f in self.faults:
                if f["kind"] == "status" and f["on"] != on:
                    continue
                if f["kind"] == "unauthorized" and on != "api":
                    continue
                f["count"] -= 1
                if f["count"] == 0:
                    self.faults.remove(f)
                return dict(f)
        return None

    def snapshot(self):
        with self.lock:
            return {"token_fetches": self.token_fetches, "tokens": list(self.tokens),
                    "token_requests": list(self.token_requests),
                    "api_requests": list(self.api_requests),
                    "webhooks": json.loads(json.dumps(self.webhooks)),
                    "faults": list(self.faults)}


class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "cxone-standin/1"

    def log_request(self, code="-", size="-"):
        pass

    def log_message(self, fmt, *args):
        self.server.log("%s %s" % (self.client_address[0], fmt % args))

    def send_json(self, status, obj, headers=None):
        body = b"" if obj is None else json.dumps(obj).encode()
        self.send_response(status)
        if obj is not None:
            self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        self.end_headers()
        self.wfile.write(body)
        self.server.log("%s %s %s %d" % (self.client_address[0], self.command,
                                         urlsplit(self.path).path, status))
        return status

    def read_body(self):
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > BODY_CAP:
            self.close_connection = True
            self.send_json(413, {"error": "invalid_request", "error_description": "body size"})
            return None
        return self.rfile.read(length) if length else b""

    def do_GET(self):
        self.route()

    def do_POST(self):
        self.route()

    def do_PUT(self):
        self.route()

    def do_DELETE(self):
        self.route()

    def route(self):
        body = self.read_body() if self.command != "GET" else b""
        if body is None:
            return
        path = urlsplit(self.path).path
        state = self.server.state
        try:
            if path.startswith("/_control/"):
                self.control(state, path, body)
            elif path == TOKEN_PATH and self.command == "POST":
                self.token(state, body)
            elif path == HOOKS_PATH or path.startswith(HOOKS_PATH + "/"):
                self.api(state, path, body)
            else:
                self.send_json(404, {"message": "not found"})
        except Exception as exc:  # a stand-in bug must show, not hang a test
            self.close_connection = True
            self.server.log("internal error: %r" % (exc,))
            self.send_json(500, {"message": "stand-in error"})

    # ---- OAuth

    def client_auth(self, form):
        """(client_id, secret, how) from Basic or the form; raises ValueError."""
        header = self.headers.get("Authorization")
        in_form = "client_id" in form or "client_secret" in form
        if header and in_form:
            raise ValueError("invalid_request")        # RFC 6749 2.3: one method only
        if header:
            scheme, _, cred = header.partition(" ")
            if scheme.lower() != "basic":
                raise ValueError("invalid_client")
            try:
                ident, sep, secret = base64.b64decode(cred, validate=True).decode().partition(":")
            except (ValueError, UnicodeDecodeError):
                raise ValueError("invalid_client")
            if not sep:
                raise ValueError("invalid_client")
            return unquote_plus(ident), unquote_plus(secret), "basic"
        return form.get("client_id", ""), form.get("client_secret", ""), "post"

    def token(self, state, body):
        fault = state.take_fault("token")
        if fault:
            self.send_json(fault["status"], {"error": "temporarily_unavailable"},
                           {"Retry-After": fault["retry_after"]} if fault["retry_after"] else {})
            return
        ctype = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        try:
            form = dict(parse_qsl(body.decode(), keep_blank_values=True, strict_parsing=bool(body)))
        except (ValueError, UnicodeDecodeError):
            form = None
        if ctype != "application/x-www-form-urlencoded" or form is None:
            self.send_json(400, {"error": "invalid_request"})
            return
        try:
            ident, secret, how = self.client_auth(form)
        except ValueError as exc:
            self.send_json(400 if str(exc) == "invalid_request" else 401, {"error": str(exc)})
            return
        cfg = self.server.cfg
        scopes = form.get("scope", "").split()
        with state.lock:
            state.token_requests.append({"grant_type": form.get("grant_type"), "scope": scopes,
                                         "client_auth": how})
        if not (hmac.compare_digest(ident, cfg.client_id) and
                hmac.compare_digest(secret, cfg.client_secret)):
            self.send_json(401, {"error": "invalid_client"},
                           {"WWW-Authenticate": 'Basic realm="cxone"'})
        elif form.get("grant_type") != "client_credentials":
            self.send_json(400, {"error": "unsupported_grant_type"})
        elif not set(scopes) <= set(cfg.scopes.split()):
            self.send_json(400, {"error": "invalid_scope",
                                 "error_description": "scope not granted to this client"})
        else:
            self.issue(state, scopes)

    def issue(self, state, scopes):
        token = secrets.token_urlsafe(32)
        with state.lock:
            state.token_fetches += 1
            life = state.expires_in
            state.tokens[token] = time.monotonic() + life
        answer = {"access_token": token, "token_type": "Bearer", "expires_in": life}
        if scopes:
            answer["scope"] = " ".join(scopes)
        self.send_json(200, answer, {"Cache-Control": "no-store"})

    # ---- webhooks

    def authorized(self, state):
        scheme, _, token = (self.headers.get("Authorization") or "").partition(" ")
        if scheme != "Bearer":
            return False
        with state.lock:
            expiry = state.tokens.get(token)
        return expiry is not None and time.monotonic() < expiry

    def api(self, state, path, body):
        ok = self.authorized(state)
        fault = state.take_fault("api") if ok else None
        status = self.api_answer(state, path, body, ok, fault)
        with state.lock:
            state.api_requests.append({"method": self.command, "path": path,
                                       "authorized": ok, "status": status})

    def api_answer(self, state, path, body, ok, fault):
        if not ok or (fault and fault["kind"] == "unauthorized"):
            return self.send_json(401, {"error": "invalid_token"},
                                  {"WWW-Authenticate": 'Bearer error="invalid_token"'})
        if fault:
            return self.send_json(fault["status"], {"message": "slow down"},
                                  {"Retry-After": fault["retry_after"]} if fault["retry_after"]
                                  else {})
        ident = unquote(path[len(HOOKS_PATH) + 1:]) if path != HOOKS_PATH else None
        if ident is None and self.command == "GET":
            with state.lock:
                hooks = json.loads(json.dumps(state.webhooks))
                shape = state.list_shape
            return self.send_json(200, hooks if shape == "array" else {"items": hooks,
                                                                        "next": None})
        if ident is None and self.command == "POST":
            return self.create(state, body)
        if ident is not None and self.command in ("PUT", "DELETE"):
            return self.change(state, ident, body)
        return self.send_json(405, {"message": "method not allowed"})

    def webhook_spec(self, body):
        if self.headers.get("Content-Type", "").split(";")[0].strip() != "application/json":
            return None
        try:
            spec = json.loads(body)
        except ValueError:
            return None
        good = isinstance(spec, dict) and isinstance(spec.get("name"), str) and \
            isinstance(spec.get("url"), str) and isinstance(spec.get("eventTypes"), list) and \
            all(isinstance(t, str) for t in spec["eventTypes"])
        return spec if good else None

    def create(self, state, body):
        spec = self.webhook_spec(body)
        if spec is None:
            return self.send_json(400, {"message": "not a webhook"})
        with state.lock:
            if any(w.get("name") == spec["name"] for w in state.webhooks):
                return self.send_json(409, {"message": "a webhook of this name exists"})
            spec["id"] = "wh-%d" % state.next_id
            state.next_id += 1
            state.webhooks.append(spec)
        return self.send_json(201, spec)

    def change(self, state, ident, body):
        spec = self.webhook_spec(body) if self.command == "PUT" else {}
        if spec is None:
            return self.send_json(400, {"message": "not a webhook"})
        with state.lock:
            index = [i for i, w in enumerate(state.webhooks) if str(w.get("id")) == ident]
            if not index:
                return self.send_json(404, {"message": "no such webhook"})
            if self.command == "DELETE":
                del state.webhooks[index[0]]
                return self.send_json(204, None)
            spec["id"] = state.webhooks[index[0]]["id"]
            state.webhooks[index[0]] = spec
        return self.send_json(200, spec)

    # ---- control

    def control(self, state, path, body):
        route = (self.command, path)
        obj = json.loads(body or b"null") if body else None
        if route == ("GET", "/_control/state"):
            self.send_json(200, state.snapshot())
        elif route == ("POST", "/_control/faults"):
            self.add_fault(state, obj)
        elif route == ("POST", "/_control/config"):
            with state.lock:
                state.expires_in = int(obj.get("expires_in", state.expires_in))
                state.list_shape = obj.get("list_shape", state.list_shape)
            self.send_json(200, {"status": "ok"})
        elif route == ("POST", "/_control/webhooks"):
            with state.lock:
                state.webhooks.extend(obj["webhooks"])
            self.send_json(200, {"status": "ok"})
        elif route == ("POST", "/_control/reset"):
            state.reset()
            self.send_json(200, {"status": "reset"})
        else:
            self.send_json(404, {"message": "not found"})

    def add_fault(self, state, obj):
        kind = (obj or {}).get("kind")
        if kind == "revoke":
            with state.lock:
                state.tokens.clear()
            return self.send_json(200, {"status": "revoked"})
        if kind not in ("status", "unauthorized"):
            return self.send_json(400, {"message": "kind: status, unauthorized or revoke"})
        fault = {"kind": kind, "count": int(obj.get("count", 1)),
                 "on": obj.get("on", "api"), "status": int(obj.get("status", 429)),
                 "retry_after": str(obj.get("retry_after", ""))}
        with state.lock:
            state.faults.append(fault)
        return self.send_json(200, fault)


class Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, cfg, log_file):
        self.cfg = cfg
        self.state = State(cfg)
        self.log_file = log_file
        self.log_lock = threading.Lock()
        super().__init__(("127.0.0.1", cfg.port), Handler)

    def log(self, line):
        stamp = datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%f")[:-3] + "Z"
        with self.log_lock:
            self.log_file.write("%s cxone-standin %s\n" % (stamp, line))
            self.log_file.flush()


def parse_args(argv):
    p = argparse.ArgumentParser(description="Local CXone OAuth and webhooks stand-in.")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--client-id", required=True)
    p.add_argument("--client-secret-file", required=True,
                   help="its first line is the client secret (kept off the command line)")
    p.add_argument("--scopes", default="", help="scopes the client may ask for")
    p.add_argument("--expires-in", type=int, default=3600)
    p.add_argument("--log")
    cfg = p.parse_args(argv)
    with open(cfg.client_secret_file) as f:
        cfg.client_secret = f.readline().rstrip("\r\n")
    return cfg


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
        tmp = "%s.tmp.%d" % (cfg.port_file, os.getpid())
        with open(tmp, "w") as f:
            f.write("%d\n" % server.server_address[1])
        os.replace(tmp, cfg.port_file)
    server.log("listening on 127.0.0.1:%d" % server.server_address[1])
    while not stop.wait(0.2):
        pass
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
