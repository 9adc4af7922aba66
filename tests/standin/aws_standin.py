#!/usr/bin/python3
"""aws_standin.py - local stand-in for EventBridge PutEvents and SQS SendMessageBatch.

Speaks the AWS JSON protocols on 127.0.0.1, checks every request's SigV4
signature with botocore, enforces AWS's limits, injects faults on demand over
/_control/* and records what it accepted.  See README.md next to this file.
Debian's /usr/bin/python3 with python3-botocore only.
"""

import argparse
import base64
import datetime
import hashlib
import hmac
import json
import os
import re
import signal
import struct
import sys
import threading
import time
import uuid
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import urlsplit

from botocore.auth import SigV4Auth
from botocore.awsrequest import AWSRequest
from botocore.compat import HTTPHeaders
from botocore.credentials import Credentials

MAX_ENTRIES = 10
CLOCK_SKEW_S = 300
SIGV4_TIME = "%Y%m%dT%H%M%SZ"
SQS_MAX_ATTRIBUTES = 10
CORAL = "com.amazon.coral.service#"
SQS_NS = "com.amazonaws.sqs#"
BATCH_ID_RE = re.compile(r"^[A-Za-z0-9_-]{1,80}$")
# Characters SQS allows in a message body (its documented XML 1.0 subset).
SQS_BAD_CHARS_RE = re.compile("[^\t\n\r\u0020-\ud7ff\ue000-\ufffd\U00010000-\U0010ffff]")

# X-Amz-Target -> service (also its SigV4 signing name), and its protocol's Content-Type
OPERATIONS = {"AWSEvents.PutEvents": "events", "AmazonSQS.SendMessageBatch": "sqs"}
CONTENT_TYPES = {"events": "application/x-amz-json-1.1", "sqs": "application/x-amz-json-1.0"}
FAULT_KINDS = ("status", "entry", "delay", "drop", "queue_missing", "auth")
DEFAULT_STATUS_CODES = {400: "ThrottlingException", 429: "ThrottlingException",
                        500: "InternalFailure", 503: "ServiceUnavailable"}


class AwsError(Exception):
    """A whole-request AWS error.  `sqs` overrides (status, __type, query code)
    for the SQS JSON protocol, which carries the old query-protocol code in the
    x-amzn-query-error header."""

    def __init__(self, status, code, message, sqs=None):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.sqs = sqs

    def render(self, service):
        """Return (status, body dict, extra headers) as `service` would answer."""
        if service != "sqs":
            return self.status, {"__type": self.code, "message": self.message}, {}
        status, typ, query = self.sqs or (self.status, CORAL + self.code, self.code)
        side = "Receiver" if status >= 500 else "Sender"
        return status, {"__type": typ, "message": self.message}, \
            {"x-amzn-query-error": "%s;%s" % (query, side)}


def sqs_error(status, short, query, message):
    return AwsError(status, short, message, sqs=(status, SQS_NS + short, query))


# Auth failures: events (status, code); sqs (status, __type, query code).
AUTH_ERRORS = {
    "missing": ((400, "MissingAuthenticationTokenException"),
                (403, CORAL + "MissingAuthenticationTokenException",
                 "MissingAuthenticationToken")),
    "incomplete": ((400, "IncompleteSignatureException"),
                   (400, CORAL + "IncompleteSignatureException", "IncompleteSignature")),
    "unknown_key": ((403, "UnrecognizedClientException"),
                    (403, CORAL + "UnrecognizedClientException", "InvalidClientTokenId")),
    "mismatch": ((403, "InvalidSignatureException"),
                 (403, CORAL + "SignatureDoesNotMatch", "SignatureDoesNotMatch")),
    "expired": ((400, "InvalidSignatureException"),
                (400, CORAL + "SignatureDoesNotMatch", "SignatureDoesNotMatch")),
    "expired_token": ((400, "ExpiredTokenException"),
                      (403, CORAL + "ExpiredTokenException", "ExpiredToken")),
}


def auth_error(kind, message):
    (status, code), sqs = AUTH_ERRORS[kind]
    return AwsError(status, code, message, sqs=sqs)


# --------------------------------------------------------------------- state

class State:
    """Records and faults, shared by all handler threads under one lock."""

    def __init__(self):
        self.lock = threading.Lock()
        self.next_fault_id = 1
        self.reset()

    def reset(self):
        with self.lock:
            self.events = []
            self.messages = []
            self.rejected_signatures = 0
            self.requests = {"events": 0, "sqs": 0}
            self.faults = []
            self.applied = {"events": {}, "sqs": {}}
            self.queue = SqsQueue()

    def snapshot(self):
        with self.lock:
            return {"events": list(self.events), "messages": list(self.messages),
                    "rejected_signatures": self.rejected_signatures,
                    "requests": dict(self.requests),
                    "faults_applied": json.loads(json.dumps(self.applied))}

    def count(self, service, rejected=False):
        with self.lock:
            self.requests[service] += 0 if rejected else 1
            self.rejected_signatures += 1 if rejected else 0

    def record(self, key, items):
        with self.lock:
            getattr(self, key).extend(items)

    def tag(self, key, ids, note):
        """Marks the records made by one request whose answer a fault
        delayed or lost, so a client's extra copy can be told from a bug."""
        field = "EventId" if key == "events" else "MessageId"   # key: events, messages
        wanted = set(ids)
        with self.lock:
            for rec in reversed(getattr(self, key)):
                if rec[field] in wanted:
                    rec["fault"] = note

    def add_faults(self, faults):
        with self.lock:
            for fault in faults:
                fault["id"] = self.next_fault_id
                self.next_fault_id += 1
            self.faults.extend(faults)
            return [dict(f) for f in faults]

    def list_faults(self, clear=False):
        with self.lock:
            if clear:
                self.faults = []
            return [dict(f) for f in self.faults]

    def _consume(self, fault, service):
        """Use up one application of `fault`; caller holds the lock."""
        if fault["count"] > 0:
            fault["count"] -= 1
            if fault["count"] == 0:
                self.faults.remove(fault)
        done = self.applied[service]
        done[fault["kind"]] = done.get(fault["kind"], 0) + 1
        return dict(fault)

    def take(self, service, kind):
        """Atomically claim one application of the first matching fault."""
        with self.lock:
            for fault in self.faults:
                if fault["kind"] == kind and fault["service"] in (service, "any"):
                    return self._consume(fault, service)
        return None

    def take_entry(self, service):
        """Per entry: claim the first entry fault if this entry is its
        every-th candidate, so "every":2 fails entries 2, 4, ..."""
        with self.lock:
            for fault in self.faults:
                if fault["kind"] != "entry" or fault["service"] not in (service, "any"):
                    continue
                fault["seen"] += 1
                if fault["seen"] % fault["every"] == 0:
                    return self._consume(fault, service)
                return None
        return None


def parse_fault(obj):
    """Validate one fault description from the control API; return it
    normalised or raise ValueError."""
    if not isinstance(obj, dict):
        raise ValueError("a fault is a JSON object")
    kind = obj.get("kind")
    if kind not in FAULT_KINDS:
        raise ValueError("kind must be one of %s" % ", ".join(FAULT_KINDS))
    service = obj.get("service", "sqs" if kind == "queue_missing" else "any")
    if service not in ("events", "sqs", "any"):
        raise ValueError("service must be events or sqs")
    if kind == "queue_missing" and service != "sqs":
        raise ValueError("queue_missing applies to sqs only")
    count = obj.get("count", -1 if kind == "queue_missing" else 1)
    if not isinstance(count, int) or isinstance(count, bool) or count == 0 or count < -1:
        raise ValueError("count must be a positive integer or -1")
    fault = {"kind": kind, "service": service, "count": count}
    if kind == "status":
        status = obj.get("status", 503)
        if not isinstance(status, int) or not 400 <= status <= 599:
            raise ValueError("status must be 400..599")
        fault["status"] = status
        fault["code"] = str(obj.get("code", DEFAULT_STATUS_CODES.get(status, "InternalFailure")))
        fault["message"] = str(obj.get("message", "Injected fault: " + fault["code"]))
    elif kind == "entry":
        every = obj.get("every", 1)
        if not isinstance(every, int) or every < 1:
            raise ValueError("every must be >= 1")
        fault.update(every=every, seen=0, code=str(obj.get("code", "InternalFailure")),
                     message=str(obj.get("message", "Injected entry failure")),
                     sender_fault=bool(obj.get("sender_fault", False)))
    elif kind == "delay":
        ms = obj.get("ms")
        if not isinstance(ms, int) or not 0 <= ms <= 600000:
            raise ValueError("delay needs ms in 0..600000")
        fault["ms"] = ms
    elif kind == "drop":
        # after=true: process and record the request, then lose the answer.
        fault["after"] = bool(obj.get("after", False))
    return fault


# --------------------------------------------------------------------- SigV4

class ReceivedSigV4(SigV4Auth):
    """botocore's SigV4 over exactly the headers the client said it signed,
    rather than botocore's own choice of headers."""

    def __init__(self, credentials, service, region, signed_names):
        super().__init__(credentials, service, region)
        self.signed_names = signed_names

    def headers_to_sign(self, request):
        chosen = HTTPHeaders()
        for name in self.signed_names:
            for value in request.headers.get_all(name) or []:
                chosen[name] = value
        return chosen


def parse_authorization(value):
    """Split an AWS4-HMAC-SHA256 Authorization header into its parts."""
    scheme, _, rest = value.strip().partition(" ")
    if scheme != "AWS4-HMAC-SHA256":
        raise auth_error("incomplete", "Unsupported authorization scheme.")
    parts = {}
    for item in rest.split(","):
        key, sep, val = item.strip().partition("=")
        if sep:
            parts[key] = val
    for key in ("Credential", "SignedHeaders", "Signature"):
        if not parts.get(key):
            raise auth_error("incomplete", "Authorization header requires '%s' parameter. "
                             "Authorization=%s" % (key, scheme))
    scope = parts["Credential"].split("/")
    if len(scope) != 5 or scope[4] != "aws4_request":
        raise auth_error("incomplete", "Credential must have exactly 5 slash-delimited "
                         "elements, e.g. keyid/date/region/service/term")
    return scope, parts["SignedHeaders"].split(";"), parts["Signature"]


def check_clock(amz_date, now):
    try:
        when = datetime.datetime.strptime(amz_date, SIGV4_TIME)
    except ValueError:
        raise auth_error("incomplete", "Date must be in ISO-8601 'basic format'. "
                         "Got '%s'." % amz_date)
    skew = datetime.timedelta(seconds=CLOCK_SKEW_S)

    def fmt(moment):
        return moment.strftime(SIGV4_TIME)
    if when < now - skew:
        raise auth_error("expired", "Signature expired: %s is now earlier than %s (%s - 5 min.)"
                         % (amz_date, fmt(now - skew), fmt(now)))
    if when > now + skew:
        raise auth_error("expired", "Signature not yet current: %s is still later than %s "
                         "(%s + 5 min.)" % (amz_date, fmt(now + skew), fmt(now)))


def verify_sigv4(cfg, service, method, path, headers, body):
    """Raise AwsError unless `headers`/`body` carry a valid SigV4 signature
    for `service` made with the configured credentials."""
    auth = headers.get("Authorization")
    if not auth:
        raise auth_error("missing", "Missing Authentication Token")
    (key_id, date, region, svc, _), signed, signature = parse_authorization(auth)
    amz_date = headers.get("X-Amz-Date")
    if not amz_date:
        raise auth_error("incomplete", "Authorization header requires existence of either "
                         "a 'X-Amz-Date' or a 'Date' header.")
    if "host" not in signed or "x-amz-date" not in signed:
        raise auth_error("incomplete", "'Host' and 'X-Amz-Date' must be SignedHeaders "
                         "in the AWS Authorization.")
    key = lookup_key(cfg, key_id)
    if key is None:
        raise auth_error("unknown_key", "The security token included in the request is invalid.")
    if date != amz_date[:8]:
        raise auth_error("mismatch", "Date in Credential scope does not match YYYYMMDD from "
                         "ISO-8601 version of date from HTTP: '%s' != '%s', from '%s'."
                         % (date, amz_date[:8], amz_date))
    if region != cfg.region:
        raise auth_error("mismatch", "Credential should be scoped to a valid region.")
    if svc != service:
        raise auth_error("mismatch", "Credential should be scoped to correct service: "
                         "'%s'." % service)
    check_clock(amz_date, datetime.datetime.utcnow() +
                datetime.timedelta(seconds=getattr(cfg, "clock_offset_s", 0)))
    if headers.get("X-Amz-Security-Token") != key.session_token:
        raise auth_error("unknown_key", "The security token included in the request is invalid.")
    if key.expiration is not None and time.time() >= key.expiration:
        raise auth_error("expired_token", "The security token included in the request is expired")
    content_sha = headers.get("X-Amz-Content-SHA256")
    if content_sha is not None and content_sha != hashlib.sha256(body).hexdigest():
        raise auth_error("mismatch", "The provided 'x-amz-content-sha256' header does not "
                         "match what was computed.")
    if any(headers.get(name) is None for name in signed):
        raise auth_error("mismatch", "A header named in SignedHeaders is missing.")
    expected = compute_signature(key, service, method, path, headers, body, signed, amz_date)
    if not hmac.compare_digest(expected, signature):
        raise auth_error("mismatch", "The request signature we calculated does not match "
                         "the signature you provided. Check your AWS Secret Access Key and "
                         "signing method. Consult the service documentation for details.")
    if getattr(cfg, "accepted", None) is not None:
        cfg.accepted.used(key_id, amz_date)


class AcceptedKeys:
    """--accept-keys-file: JSON lines {"access_key", "secret_key",
    "session_token", "expiration" (Unix seconds, optional)} that another
    process (the metadata stand-in) appends as it hands out rotating keys.
    Re-read whenever the file changes, so each request is checked with the
    key it was signed with."""

    def __init__(self, path):
        self.path = path
        self.lock = threading.Lock()
        self.stamp = None
        self.keys = {}
        self.uses = {}      # key id -> {"first", "last": signing time, "requests"}

    def used(self, key_id, amz_date):
        """Notes a request this key signed, by the time it was signed."""
        when = datetime.datetime.strptime(amz_date, SIGV4_TIME).replace(
            tzinfo=datetime.timezone.utc).timestamp()
        with self.lock:
            u = self.uses.setdefault(key_id, {"first": when, "last": when, "requests": 0})
            u["first"] = min(u["first"], when)
            u["last"] = max(u["last"], when)
            u["requests"] += 1

    def usage(self):
        with self.lock:
            return json.loads(json.dumps(self.uses))

    def get(self, key_id):
        with self.lock:
            try:
                st = os.stat(self.path)
            except OSError:
                return None
            if (st.st_mtime_ns, st.st_size) != self.stamp:
                self.stamp = (st.st_mtime_ns, st.st_size)
                self.keys = {}
                with open(self.path) as f:
                    for line in f:
                        try:
                            rec = json.loads(line)
                        except ValueError:
                            continue    # a line being written
                        self.keys[rec["access_key"]] = rec
            return self.keys.get(key_id)


def lookup_key(cfg, key_id):
    """The credentials a request names: the configured key, or one from
    --accept-keys-file; None when unknown."""
    if key_id == cfg.access_key:
        return argparse.Namespace(access_key=cfg.access_key, secret_key=cfg.secret_key,
                                  session_token=cfg.session_token, region=cfg.region,
                                  expiration=None)
    accepted = getattr(cfg, "accepted", None)
    rec = accepted.get(key_id) if accepted is not None else None
    if rec is None:
        return None
    return argparse.Namespace(access_key=key_id, secret_key=rec["secret_key"],
                              session_token=rec.get("session_token"), region=cfg.region,
                              expiration=rec.get("expiration"))


def compute_signature(cfg, service, method, path, headers, body, signed, amz_date):
    """Rebuild the received request as an AWSRequest and let botocore sign it."""
    request = AWSRequest(method=method, url="http://%s%s" % (headers.get("Host"), path),
                         data=body)
    for name in signed:
        for value in headers.get_all(name) or []:
            request.headers[name] = value
    request.context["timestamp"] = amz_date
    creds = Credentials(cfg.access_key, cfg.secret_key, cfg.session_token)
    signer = ReceivedSigV4(creds, service, cfg.region, signed)
    canonical = signer.canonical_request(request)
    return signer.signature(signer.string_to_sign(request, canonical), request)


# ---------------------------------------------------------------- EventBridge

def put_events_entry_size(entry):
    """AWS's PutEvents entry size: 14 bytes for Time, plus the UTF-8 bytes of
    Source, DetailType, Detail and each Resources string."""
    size = 14 if entry.get("Time") is not None else 0
    for key in ("Source", "DetailType", "Detail"):
        if isinstance(entry.get(key), str):
            size += len(entry[key].encode("utf-8"))
    for res in entry.get("Resources") or []:
        size += len(res.encode("utf-8"))
    return size


def check_put_events_shape(req):
    """Whole-request checks: types (SerializationException) and the count."""
    entries = req.get("Entries")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise AwsError(400, "SerializationException", "Entries must be a list of objects.")
    for entry in entries:
        for key in ("Source", "DetailType", "Detail", "EventBusName", "TraceHeader"):
            if key in entry and not isinstance(entry[key], str):
                raise AwsError(400, "SerializationException", "%s must be a string." % key)
        when = entry.get("Time")
        if when is not None and (isinstance(when, bool) or not isinstance(when, (int, float))):
            raise AwsError(400, "SerializationException",
                           "Time must be epoch seconds (a JSON number).")
        res = entry.get("Resources", [])
        if not isinstance(res, list) or not all(isinstance(r, str) for r in res):
            raise AwsError(400, "SerializationException", "Resources must be a list of strings.")
    for i, entry in enumerate(entries):
        # The API model's length constraint (1..500): the whole call fails.
        trace = entry.get("TraceHeader")
        if trace is not None and not 1 <= len(trace) <= 500:
            raise AwsError(400, "ValidationException", "1 validation error detected: Value "
                           "at 'entries.%d.member.traceHeader' failed to satisfy constraint: "
                           "Member must have length %s" % (
                               i + 1, "less than or equal to 500" if trace else
                               "greater than or equal to 1"))
    if not 1 <= len(entries) <= MAX_ENTRIES:
        raise AwsError(400, "ValidationException", "1 validation error detected: Value at "
                       "'entries' failed to satisfy constraint: Member must have length "
                       "less than or equal to 10 and greater than or equal to 1")
    return entries


def put_events_entry_error(entry):
    """The (ErrorCode, ErrorMessage) EventBridge gives this entry, or None."""
    for key in ("Source", "DetailType", "Detail"):
        if not entry.get(key):
            return ("InvalidArgument", "Parameter %s is not valid. Reason: %s is a "
                    "required argument." % (key, key))
    if entry["Source"].startswith("aws."):
        return ("NotAuthorizedForSourceException", "Not authorized for the source.")
    try:
        detail = json.loads(entry["Detail"])
    except ValueError:
        detail = None
    if not isinstance(detail, dict):
        return ("MalformedDetail", "Detail is malformed.")
    return None


def handle_put_events(cfg, state, req):
    entries = check_put_events_shape(req)
    total = sum(put_events_entry_size(e) for e in entries)
    if total > cfg.max_request_bytes:
        raise AwsError(400, "ValidationException",
                       "Total size of the entries in the request is over the limit.")
    results, accepted = [], []
    for entry in entries:
        error = put_events_entry_error(entry)
        fault = None if error else state.take_entry("events")
        if fault:
            error = (fault["code"], fault["message"])
        if error:
            results.append({"ErrorCode": error[0], "ErrorMessage": error[1]})
            continue
        event_id = str(uuid.uuid4())
        results.append({"EventId": event_id})
        accepted.append({"EventId": event_id, "Entry": entry, "received": time.time()})
    state.record("events", accepted)
    failed = len(entries) - len(accepted)
    return {"FailedEntryCount": failed, "Entries": results}, \
        "entries=%d failed=%d" % (len(entries), failed)


# ------------------------------------------------------------------------ SQS

def md5_of_message_attributes(attrs):
    """SQS's MD5OfMessageAttributes: length-prefixed name, type, transport
    byte and value of each attribute, sorted by name."""
    digest = hashlib.md5()
    for name in sorted(attrs):
        attr = attrs[name]
        binary = "BinaryValue" in attr
        value = attr["BinaryValue"] if binary else attr["StringValue"].encode("utf-8")
        if binary and isinstance(value, str):
            value = base64.b64decode(value)
        for part in (name.encode("utf-8"), attr["DataType"].encode("utf-8")):
            digest.update(struct.pack(">I", len(part)) + part)
        digest.update(b"\x02" if binary else b"\x01")
        digest.update(struct.pack(">I", len(value)) + value)
    return digest.hexdigest()


def sqs_attribute_error(attrs):
    """Return a message for a malformed MessageAttributes map, or None."""
    if not isinstance(attrs, dict):
        return "MessageAttributes must be a map."
    if len(attrs) > SQS_MAX_ATTRIBUTES:
        return "Number of message attributes [%d] exceeds the allowed maximum [10]." % len(attrs)
    for name, attr in attrs.items():
        if not isinstance(attr, dict) or not isinstance(attr.get("DataType"), str):
            return "The message attribute '%s' must contain a DataType." % name
        base = attr["DataType"].split(".", 1)[0]
        key = "BinaryValue" if base == "Binary" else "StringValue"
        if base not in ("String", "Number", "Binary") or not isinstance(attr.get(key), str):
            return "The message attribute '%s' has an invalid type or value." % name
    return None


def sqs_entry_size(entry):
    size = len(str(entry.get("MessageBody", "")).encode("utf-8"))
    attrs = entry.get("MessageAttributes")
    for name, attr in (attrs.items() if isinstance(attrs, dict) else []):
        size += len(name.encode("utf-8"))
        if isinstance(attr, dict):
            for key in ("DataType", "StringValue", "BinaryValue"):
                if isinstance(attr.get(key), str):
                    size += len(attr[key].encode("utf-8"))
    return size


def check_send_batch_shape(cfg, state, req):
    """Whole-request checks in the order SQS applies them."""
    url = req.get("QueueUrl")
    if not isinstance(url, str) or not url:
        raise sqs_error(400, "MissingParameter", "MissingParameter",
                        "The request must contain the parameter QueueUrl.")
    if state.take("sqs", "queue_missing") or (cfg.queue_urls and url not in cfg.queue_urls):
        raise sqs_error(400, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
                        "The specified queue does not exist.")
    entries = req.get("Entries")
    if entries is None or entries == []:
        raise sqs_error(400, "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest",
                        "There should be at least one SendMessageBatchRequestEntry in the request.")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise AwsError(400, "SerializationException", "Entries must be a list of objects.")
    if len(entries) > MAX_ENTRIES:
        raise sqs_error(400, "TooManyEntriesInBatchRequest",
                        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                        "Maximum number of entries per request are 10. You have sent %d."
                        % len(entries))
    seen = set()
    for entry in entries:
        ident = entry.get("Id")
        if not isinstance(ident, str) or not BATCH_ID_RE.match(ident):
            raise sqs_error(400, "InvalidBatchEntryId",
                            "AWS.SimpleQueueService.InvalidBatchEntryId",
                            "A batch entry id can only contain alphanumeric characters, "
                            "hyphens and underscores. It can be at most 80 letters long.")
        if ident in seen:
            raise sqs_error(400, "BatchEntryIdsNotDistinct",
                            "AWS.SimpleQueueService.BatchEntryIdsNotDistinct",
                            "Id %s repeated." % ident)
        seen.add(ident)
    total = sum(sqs_entry_size(e) for e in entries)
    if total > cfg.max_request_bytes:
        raise sqs_error(400, "BatchRequestTooLong", "AWS.SimpleQueueService.BatchRequestTooLong",
                        "Batch requests cannot be longer than %d bytes. You have sent %d bytes."
                        % (cfg.max_request_bytes, total))
    return url, entries


def sqs_entry_error(entry):
    """(Code, Message) for an entry SQS refuses on its own, or None."""
    body = entry.get("MessageBody")
    if not isinstance(body, str) or body == "":
        return ("MissingParameter", "The request must contain the parameter MessageBody.")
    if SQS_BAD_CHARS_RE.search(body):
        return ("InvalidMessageContents", "Invalid characters found. Valid unicode characters "
                "are #x9 | #xA | #xD | #x20 to #xD7FF | #xE000 to #xFFFD | #x10000 to #x10FFFF")
    if "MessageAttributes" in entry:
        problem = sqs_attribute_error(entry["MessageAttributes"])
        if problem:
            return ("InvalidParameterValue", problem)
    return None


def handle_send_message_batch(cfg, state, req):
    url, entries = check_send_batch_shape(cfg, state, req)
    ok, failed, accepted = [], [], []
    for entry in entries:
        error, sender = sqs_entry_error(entry), True
        fault = None if error else state.take_entry("sqs")
        if fault:
            error, sender = (fault["code"], fault["message"]), fault["sender_fault"]
        if error:
            failed.append({"Id": entry["Id"], "SenderFault": sender,
                           "Code": error[0], "Message": error[1]})
            continue
        msg_id = str(uuid.uuid4())
        attrs = entry.get("MessageAttributes") or {}
        answer = {"Id": entry["Id"], "MessageId": msg_id,
                  "MD5OfMessageBody": hashlib.md5(entry["MessageBody"].encode("utf-8")).hexdigest()}
        if attrs:
            answer["MD5OfMessageAttributes"] = md5_of_message_attributes(attrs)
        ok.append(answer)
        accepted.append({"MessageId": msg_id, "QueueUrl": url, "Body": entry["MessageBody"],
                         "MessageAttributes": attrs, "received": time.time()})
    state.record("messages", accepted)
    state.queue.add(accepted)
    return {"Successful": ok, "Failed": failed}, \
        "entries=%d failed=%d" % (len(entries), len(failed))


HANDLERS = {"events": handle_put_events, "sqs": handle_send_message_batch}


# ------------------------------------------------- SQS: the DLQ read back

# ReceiveMessage, DeleteMessageBatch and GetQueueAttributes, for `cxbridge
# redrive`.  Messages that SendMessageBatch accepted, or that a test seeded
# over /_control/queue, sit in SqsQueue with SQS's visibility semantics.
SQS_READ_TARGETS = ("AmazonSQS.ReceiveMessage", "AmazonSQS.DeleteMessageBatch",
                    "AmazonSQS.GetQueueAttributes")
MAX_WAIT_S = 20
MAX_VISIBILITY_S = 43200


class SqsQueue:
    """Queued messages with visibility timeouts and receipt handles.  Each
    receive issues a new handle; only the newest one deletes.  An older
    handle of a message still queued gets success without deleting, as SQS
    documents, and is counted in stale_deletes."""

    def __init__(self):
        self.cond = threading.Condition()
        self.messages = []       # queued, in send order
        self.deleted = []
        self.handles = {}        # every receipt handle issued -> MessageId
        self.stale_deletes = 0

    def add(self, items):
        with self.cond:
            for item in items:
                sent = item.get("SentTimestamp")
                if sent is None:
                    sent = int(item.get("received", time.time()) * 1000)
                self.messages.append({
                    "MessageId": item["MessageId"], "QueueUrl": item["QueueUrl"],
                    "Body": item["Body"],
                    "MessageAttributes": item.get("MessageAttributes") or {},
                    "SentTimestamp": int(sent), "visible_at": 0.0,
                    "receipt": None, "receive_count": 0})
            self.cond.notify_all()

    def receive(self, url, count, wait_s, visibility_s):
        deadline = time.monotonic() + wait_s
        with self.cond:
            while True:
                now = time.monotonic()
                mine = [m for m in self.messages if m["QueueUrl"] == url]
                ready = [m for m in mine if m["visible_at"] <= now]
                if ready or now >= deadline:
                    break
                wake = [m["visible_at"] for m in mine if m["visible_at"] > now]
                self.cond.wait(min([deadline] + wake) - now)
            out = []
            for m in ready[:count]:
                m["receipt"] = base64.b64encode(os.urandom(48) + m["MessageId"].encode()).decode()
                self.handles[m["receipt"]] = m["MessageId"]
                m["visible_at"] = now + visibility_s
                m["receive_count"] += 1
                out.append(dict(m))
            return out

    def delete(self, url, handle):
        """None if done (or a stale handle: SQS says success), else (code, message)."""
        with self.cond:
            for m in self.messages:
                if m["QueueUrl"] == url and m["receipt"] == handle:
                    self.messages.remove(m)
                    self.deleted.append(m)
                    return None
            if handle in self.handles:
                if any(m["MessageId"] == self.handles[handle] for m in self.messages):
                    self.stale_deletes += 1
                return None
        return ("ReceiptHandleIsInvalid",
                'The input receipt handle "%s" is not a valid receipt handle.' % handle[:20])

    def counts(self, url):
        now = time.monotonic()
        with self.cond:
            mine = [m for m in self.messages if m["QueueUrl"] == url]
            visible = sum(1 for m in mine if m["visible_at"] <= now)
            return visible, len(mine) - visible

    def snapshot(self):
        now = time.monotonic()

        def public(m):
            return {"MessageId": m["MessageId"], "QueueUrl": m["QueueUrl"], "Body": m["Body"],
                    "MessageAttributes": m["MessageAttributes"],
                    "SentTimestamp": m["SentTimestamp"], "visible": m["visible_at"] <= now,
                    "receive_count": m["receive_count"]}
        with self.cond:
            return {"messages": [public(m) for m in self.messages],
                    "deleted": [public(m) for m in self.deleted],
                    "stale_deletes": self.stale_deletes}


def sqs_int(req, name, default, low, high):
    value = req.get(name, default)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise sqs_error(400, "InvalidParameterValue", "InvalidParameterValue",
                        "Value %r for parameter %s is invalid. Reason: must be between %d "
                        "and %d." % (value, name, low, high))
    return value


def sqs_queue_url(cfg, state, req):
    url = req.get("QueueUrl")
    if not isinstance(url, str) or not url:
        raise sqs_error(400, "MissingParameter", "MissingParameter",
                        "The request must contain the parameter QueueUrl.")
    if state.take("sqs", "queue_missing") or (cfg.queue_urls and url not in cfg.queue_urls):
        raise sqs_error(400, "QueueDoesNotExist", "AWS.SimpleQueueService.NonExistentQueue",
                        "The specified queue does not exist.")
    return url


def sqs_wanted(names, available):
    names = names if isinstance(names, list) else []
    if "All" in names or ".*" in names:
        return set(available)
    return set(available) & set(names)


def received_message(m, req):
    out = {"MessageId": m["MessageId"], "ReceiptHandle": m["receipt"],
           "MD5OfBody": hashlib.md5(m["Body"].encode("utf-8")).hexdigest(), "Body": m["Body"]}
    system = {"SentTimestamp": str(m["SentTimestamp"]),
              "ApproximateReceiveCount": str(m["receive_count"])}
    names = (req.get("AttributeNames") or []) + (req.get("MessageSystemAttributeNames") or [])
    attrs = {k: system[k] for k in sqs_wanted(names, system)}
    if attrs:
        out["Attributes"] = attrs
    user = {k: m["MessageAttributes"][k]
            for k in sqs_wanted(req.get("MessageAttributeNames"), m["MessageAttributes"])}
    if user:
        out["MessageAttributes"] = user
        out["MD5OfMessageAttributes"] = md5_of_message_attributes(user)
    return out


def handle_receive_message(cfg, state, req):
    url = sqs_queue_url(cfg, state, req)
    count = sqs_int(req, "MaxNumberOfMessages", 1, 1, MAX_ENTRIES)
    wait = sqs_int(req, "WaitTimeSeconds", 0, 0, MAX_WAIT_S)
    visibility = sqs_int(req, "VisibilityTimeout", 30, 0, MAX_VISIBILITY_S)
    got = state.queue.receive(url, count, wait, visibility)
    result = {"Messages": [received_message(m, req) for m in got]} if got else {}
    return result, "received=%d wait=%d visibility=%d" % (len(got), wait, visibility)


def handle_delete_message_batch(cfg, state, req):
    url = sqs_queue_url(cfg, state, req)
    entries = req.get("Entries")
    if entries is None or entries == []:
        raise sqs_error(400, "EmptyBatchRequest", "AWS.SimpleQueueService.EmptyBatchRequest",
                        "There should be at least one DeleteMessageBatchRequestEntry in the "
                        "request.")
    if not isinstance(entries, list) or not all(isinstance(e, dict) for e in entries):
        raise AwsError(400, "SerializationException", "Entries must be a list of objects.")
    if len(entries) > MAX_ENTRIES:
        raise sqs_error(400, "TooManyEntriesInBatchRequest",
                        "AWS.SimpleQueueService.TooManyEntriesInBatchRequest",
                        "Maximum number of entries per request are 10. You have sent %d."
                        % len(entries))
    ids = [e.get("Id") for e in entries]
    if not all(isinstance(i, str) and BATCH_ID_RE.match(i) for i in ids):
        raise sqs_error(400, "InvalidBatchEntryId", "AWS.SimpleQueueService.InvalidBatchEntryId",
                        "A batch entry id can only contain alphanumeric characters, hyphens "
                        "and underscores. It can be at most 80 letters long.")
    if len(set(ids)) != len(ids):
        raise sqs_error(400, "BatchEntryIdsNotDistinct",
                        "AWS.SimpleQueueService.BatchEntryIdsNotDistinct", "Ids repeated.")
    ok, failed = [], []
    for entry in entries:
        handle = entry.get("ReceiptHandle")
        fault = state.take_entry("sqs")
        if fault:
            error, sender = (fault["code"], fault["message"]), fault["sender_fault"]
        elif not isinstance(handle, str) or not handle:
            error, sender = ("MissingParameter", "The request must contain ReceiptHandle."), True
        else:
            error, sender = state.queue.delete(url, handle), True
        if error:
            failed.append({"Id": entry["Id"], "SenderFault": sender,
                           "Code": error[0], "Message": error[1]})
        else:
            ok.append({"Id": entry["Id"]})
    return {"Successful": ok, "Failed": failed}, \
        "entries=%d failed=%d" % (len(entries), len(failed))


def handle_get_queue_attributes(cfg, state, req):
    url = sqs_queue_url(cfg, state, req)
    visible, hidden = state.queue.counts(url)
    known = {"ApproximateNumberOfMessages": str(visible),
             "ApproximateNumberOfMessagesNotVisible": str(hidden),
             "ApproximateNumberOfMessagesDelayed": "0"}
    return {"Attributes": {k: known[k] for k in sqs_wanted(req.get("AttributeNames"), known)}}, \
        "visible=%d hidden=%d" % (visible, hidden)


TARGET_HANDLERS = {"AmazonSQS.ReceiveMessage": handle_receive_message,
                   "AmazonSQS.DeleteMessageBatch": handle_delete_message_batch,
                   "AmazonSQS.GetQueueAttributes": handle_get_queue_attributes}


def seed_queue(cfg, state, obj):
    """POST /_control/queue: {"QueueUrl"?, "messages":[{"Body","MessageAttributes"?,
    "SentTimestamp"? (ms)}]} puts messages in the queue as SendMessage would."""
    if not isinstance(obj, dict) or not isinstance(obj.get("messages"), list):
        raise ValueError('expected {"messages":[...]}')
    url = obj.get("QueueUrl") or (cfg.queue_urls[0] if cfg.queue_urls else None)
    if not isinstance(url, str):
        raise ValueError("QueueUrl is needed when the stand-in has no --queue-url")
    items = []
    for m in obj["messages"]:
        if not isinstance(m, dict) or not isinstance(m.get("Body"), str) or not m["Body"]:
            raise ValueError("each message needs a non-empty Body")
        items.append({"MessageId": str(uuid.uuid4()), "QueueUrl": url, "Body": m["Body"],
                      "MessageAttributes": m.get("MessageAttributes") or {},
                      "SentTimestamp": m.get("SentTimestamp")})
    state.queue.add(items)
    return [i["MessageId"] for i in items]


OPERATIONS.update({target: "sqs" for target in SQS_READ_TARGETS})


# ----------------------------------------------------------------------- HTTP

class Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server_version = "aws-standin/1"

    # ---- plumbing

    def log_request(self, code="-", size="-"):
        pass  # one line per request comes from finish_log instead

    def log_message(self, fmt, *args):
        self.server.log("%s %s" % (self.client_address[0], fmt % args))

    def finish_log(self, status, note=""):
        took = (time.monotonic() - self.started) * 1000.0
        target = self.headers.get("X-Amz-Target", "-") if self.headers else "-"
        self.server.log("%s %s %s %s %s %s %.1fms" % (
            self.client_address[0], self.command, self.path, target, status, note or "-", took))

    def send_json(self, status, obj, content_type="application/json", headers=None):
        body = json.dumps(obj).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.send_header("x-amzn-RequestId", str(uuid.uuid4()))
        for name, value in (headers or {}).items():
            self.send_header(name, value)
        if self.close_connection:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)
        return status

    def read_body(self):
        """Read the body by Content-Length; None after answering an error."""
        if "chunked" in self.headers.get("Transfer-Encoding", "").lower():
            self.close_connection = True
            self.finish_log(self.send_json(411, {"message": "Content-Length required"}))
            return None
        try:
            length = int(self.headers.get("Content-Length", "0"))
        except ValueError:
            length = -1
        if length < 0 or length > self.server.cfg.body_cap:
            self.close_connection = True
            self.finish_log(self.send_json(413, {"message": "Request body too large"}))
            return None
        return self.rfile.read(length) if length else b""

    def parse_request(self):
        self.started = time.monotonic()
        self.state, self.cfg = self.server.state, self.server.cfg
        return super().parse_request()

    # ---- control API (no auth: it listens on 127.0.0.1 only)

    def do_GET(self):
        self.control()

    def do_DELETE(self):
        self.control()

    def control(self, body=None):
        if body is None and self.command != "GET":
            body = self.read_body()
            if body is None:
                return
        route = (self.command, urlsplit(self.path).path)
        if route == ("GET", "/_control/health"):
            status = self.send_json(200, {"status": "ok"})
        elif route == ("GET", "/_control/records"):
            status = self.send_json(200, self.state.snapshot())
        elif route[1] == "/_control/faults" and self.command in ("GET", "DELETE"):
            clear = self.command == "DELETE"
            status = self.send_json(200, {"faults": self.state.list_faults(clear)})
        elif route == ("POST", "/_control/faults"):
            status = self.post_faults(body)
        elif route == ("GET", "/_control/queue"):
            status = self.send_json(200, self.state.queue.snapshot())
        elif route == ("POST", "/_control/queue"):
            status = self.post_queue(body)
        elif route == ("POST", "/_control/reset"):
            self.state.reset()
            status = self.send_json(200, {"status": "reset"})
        elif route[1] == "/_control/clock" and self.command in ("GET", "POST"):
            status = self.control_clock(body)
        elif route == ("GET", "/_control/keys"):
            accepted = self.cfg.accepted
            status = self.send_json(200, accepted.usage() if accepted is not None else {})
        else:
            status = self.send_json(404, {"message": "not found"})
        self.finish_log(status)

    def control_clock(self, body):
        """GET or POST {"offset_s": N}: the stand-in's clock runs N seconds
        ahead of the host's when it checks signature times (clock skew)."""
        if self.command == "POST":
            try:
                offset = json.loads(body or b"null")["offset_s"]
                if not isinstance(offset, int) or isinstance(offset, bool):
                    raise ValueError
            except (ValueError, KeyError, TypeError):
                return self.send_json(400, {"message": "need {\"offset_s\": integer}"})
            self.cfg.clock_offset_s = offset
        return self.send_json(200, {"offset_s": self.cfg.clock_offset_s})

    def post_queue(self, body):
        try:
            ids = seed_queue(self.cfg, self.state, json.loads(body or b"null"))
        except ValueError as exc:
            return self.send_json(400, {"message": str(exc)})
        return self.send_json(200, {"MessageIds": ids})

    def post_faults(self, body):
        try:
            obj = json.loads(body or b"null")
            faults = [parse_fault(item) for item in (obj if isinstance(obj, list) else [obj])]
        except ValueError as exc:
            return self.send_json(400, {"message": str(exc)})
        return self.send_json(200, {"faults": self.state.add_faults(faults)})

    # ---- AWS API

    def do_POST(self):
        body = self.read_body()
        if body is None:
            return
        path = urlsplit(self.path).path
        if path.startswith("/_control/"):
            self.control(body)
            return
        service = OPERATIONS.get(self.headers.get("X-Amz-Target", ""))
        if service is None or path != "/":
            err = AwsError(400 if service is None else 404, "UnknownOperationException", "")
            self.finish_log(self.send_aws_error(None, err))
            return
        try:
            self.serve_aws(service, body)
        except Exception as exc:  # a stand-in bug must show, not hang a test
            self.close_connection = True
            self.server.log("internal error: %r" % (exc,))
            self.send_aws_error(service, AwsError(500, "InternalFailure", repr(exc)))

    def send_aws_error(self, service, err):
        status, obj, headers = err.render(service)
        return self.send_json(status, obj, CONTENT_TYPES.get(service, CONTENT_TYPES["events"]),
                              headers)

    def drop(self, note):
        """Close the connection without writing a byte of answer."""
        self.close_connection = True
        self.wfile.flush()
        self.finish_log("dropped", note)

    def serve_aws(self, service, body):
        self.state.count(service)
        try:
            verify_sigv4(self.cfg, service, self.command, self.path, self.headers, body)
        except AwsError as err:
            self.state.count(service, rejected=True)
            self.finish_log(self.send_aws_error(service, err), "auth: " + err.message[:60])
            return
        if self.state.take(service, "auth"):
            # As AWS answers a revoked or unknown key; not a signing mistake,
            # so it is not counted in rejected_signatures.
            err = auth_error("unknown_key", "The security token included in the "
                             "request is invalid.")
            self.finish_log(self.send_aws_error(service, err), "fault=auth")
            return
        delay = self.state.take(service, "delay")
        if delay:
            time.sleep(delay["ms"] / 1000.0)
        drop = self.state.take(service, "drop")
        if drop and not drop["after"]:
            self.drop("fault=drop")
            return
        try:
            result, note = self.run_operation(service, body)
        except AwsError as err:
            self.finish_log(self.send_aws_error(service, err), err.code)
            return
        if drop or delay:
            self.tag_records(service, result, "drop-after" if drop else "delay")
        if drop:
            self.drop("fault=drop-after " + note)
            return
        self.finish_log(self.send_json(200, result, CONTENT_TYPES[service]), note)

    def tag_records(self, service, result, note):
        if service == "events":
            ids = [e["EventId"] for e in result["Entries"] if "EventId" in e]
            self.state.tag("events", ids, note)
        else:
            ids = [e["MessageId"] for e in result.get("Successful", []) if "MessageId" in e]
            self.state.tag("messages", ids, note)

    def run_operation(self, service, body):
        fault = self.state.take(service, "status")
        if fault:
            code = fault["code"]
            sqs_type = code if "#" in code else SQS_NS + code
            raise AwsError(fault["status"], code, fault["message"],
                           sqs=(fault["status"], sqs_type, code))
        got = self.headers.get("Content-Type", "").split(";")[0].strip().lower()
        ctype = CONTENT_TYPES[service]
        if got != ctype:
            raise AwsError(400, "SerializationException",
                           "Content-Type must be %s for this operation." % ctype)
        try:
            req = json.loads(body.decode("utf-8"))
        except ValueError:
            req = None
        if not isinstance(req, dict):
            raise AwsError(400, "SerializationException", "Body is not a JSON object.")
        handler = TARGET_HANDLERS.get(self.headers.get("X-Amz-Target", ""), HANDLERS[service])
        return handler(self.cfg, self.state, req)


class StandinServer(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True

    def __init__(self, cfg, log_file):
        self.cfg = cfg
        self.state = State()
        self.log_file = log_file
        self.log_lock = threading.Lock()
        super().__init__(("127.0.0.1", cfg.port), Handler)

    def handle_error(self, request, client_address):
        # A client hanging up mid-request is routine in fault tests.
        exc = sys.exc_info()[1]
        if isinstance(exc, (ConnectionError, TimeoutError)):
            self.log("%s connection error: %s" % (client_address[0], exc))
        else:
            super().handle_error(request, client_address)

    def log(self, line):
        stamp = datetime.datetime.utcnow().strftime("%Y-%m-%dT%H:%M:%S.%fZ")[:-4] + "Z"
        with self.log_lock:
            self.log_file.write("%s aws-standin %s\n" % (stamp, line))
            self.log_file.flush()


def parse_args(argv):
    p = argparse.ArgumentParser(description="Local EventBridge/SQS stand-in for tests.")
    p.add_argument("--port", type=int, default=0)
    p.add_argument("--port-file")
    p.add_argument("--region", required=True)
    p.add_argument("--access-key", required=True)
    p.add_argument("--secret-key", required=True)
    p.add_argument("--session-token")
    p.add_argument("--queue-url", dest="queue_urls", action="extend", nargs="+", default=[],
                   help="known queue URLs (repeatable); with none, any QueueUrl is accepted")
    p.add_argument("--max-request-bytes", type=int, default=262144)
    p.add_argument("--log")
    p.add_argument("--accept-keys-file",
                   help="JSON lines of more accepted keys, re-read when it changes")
    cfg = p.parse_args(argv)
    cfg.body_cap = max(1 << 20, 4 * cfg.max_request_bytes)
    cfg.clock_offset_s = 0
    cfg.accepted = AcceptedKeys(cfg.accept_keys_file) if cfg.accept_keys_file else None
    return cfg


def write_port_file(path, port):
    tmp = "%s.tmp.%d" % (path, os.getpid())
    with open(tmp, "w") as f:
        f.write("%d\n" % port)
    os.replace(tmp, path)


def main(argv=None):
    cfg = parse_args(sys.argv[1:] if argv is None else argv)
    log_file = open(cfg.log, "a", encoding="utf-8") if cfg.log else sys.stderr
    server = StandinServer(cfg, log_file)
    port = server.server_address[1]
    stop = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stop.set())
    thread = threading.Thread(target=server.serve_forever, kwargs={"poll_interval": 0.05},
                              name="serve", daemon=True)
    thread.start()
    if cfg.port_file:
        write_port_file(cfg.port_file, port)
    server.log("listening on 127.0.0.1:%d region=%s queues=%d"
               % (port, cfg.region, len(cfg.queue_urls)))
    while not stop.wait(0.5):
        pass
    server.log("stopping")
    server.shutdown()
    server.server_close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
