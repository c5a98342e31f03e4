"""HTTP peers for Convene's channel tests: an SMS gateway, a webhook receiver or a Web Push
service, listening on 127.0.0.1 and a free port.

Usage: http_peer.py --kind sms|webhook|push --spool DIR [--cert PEM --key PEM]

With --cert and --key the peer speaks HTTPS with that certificate.

sms      An SMS gateway that takes the request form of Twilio's Messages API:
         POST /2010-04-01/Accounts/SID/Messages.json with HTTP Basic authentication
         SID:TOKEN and a form of To, From or MessagingServiceSid, and Body. It replies
         201 with {"sid", "status": "queued", ...}, or an error object {code, message,
         more_info, status}: 401 with code 20003 for other credentials, 400 with code
         21211 for the To number +15005550001 and 21610 for +15005550004 (modelled on
         Twilio's test numbers), and 400 when a field is missing. SID and TOKEN are read
         from the environment variables PEER_ACCOUNT_SID and PEER_AUTH_TOKEN.
webhook  A receiver that checks every request with the standardwebhooks package,
         Webhook(secret).verify(body, headers), and replies 204 when it passes and 400
         when it does not. The secret is read from PEER_WEBHOOK_SECRET.
push     A push service. At start it makes a subscription with the cryptography
         package: a P-256 key pair and a 16-byte authentication secret. For every POST it
         checks the VAPID header (RFC 8292): an ES256 JWT signed by the key in k=, whose
         aud is this peer's origin, whose exp is in the future and at most 24 hours away,
         and whose sub is a mailto: or https: URI; k must equal PEER_VAPID_KEY when that
         is set. It then decrypts the body with http_ece (aes128gcm, RFC 8291). It replies
         201 with a Location when all passes, 401 when the VAPID token is invalid, 403
         when k is another key, and 400 when TTL or Content-Encoding is wrong or the body
         does not decrypt.

A path that starts with /status/CODE gets a reply with that status and no checks, with a
body in the kind's error form, and with "Retry-After: N" when the path continues with
/retry-after/N.

Once it listens, the peer prints one JSON line on stdout: {"port": N}, with "p256dh" and
"auth" in base64url for push. It writes every request to DIR as NNNNNN.json, under a
temporary name first. The keys are method, path, headers (names in lower case), body
(decoded as UTF-8 with replacement characters), status, and error (the reason a check
failed, or null). Each kind adds its own: form and auth_user (sms), payload (webhook),
plaintext and claims (push). The peer runs until it is killed.
"""

import argparse
import base64
import binascii
import itertools
import json
import os
import ssl
import sys
import threading
import time
import urllib.parse
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer


def b64url_decode(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


def b64url_encode(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode("ascii")


class Rejection(Exception):
    """A check failed: reply with this status and body."""

    def __init__(self, status, reason, body=None):
        super().__init__(reason)
        self.status = status
        self.reason = reason
        self.body = body


class SmsGateway:
    error_numbers = {
        "+15005550001": (21211, "The 'To' number {} is not a valid phone number."),
        "+15005550004": (21610, "Attempt to send to unsubscribed recipient {}."),
    }

    def __init__(self):
        self.account_sid = os.environ["PEER_ACCOUNT_SID"]
        self.auth_token = os.environ["PEER_AUTH_TOKEN"]
        self.sequence = itertools.count(1)

    @staticmethod
    def error_body(status, code, message):
        return {
            "code": code,
            "message": message,
            "more_info": f"https://peer.test/errors/{code}",
            "status": status,
        }

    def rejection(self, status, code, message):
        return Rejection(status, message, self.error_body(status, code, message))

    def forced_body(self, status):
        return self.error_body(status, 20500 if status >= 500 else 20429, "forced by the test")

    def handle(self, request, record):
        expected_path = f"/2010-04-01/Accounts/{self.account_sid}/Messages.json"
        if request.path != expected_path:
            raise self.rejection(404, 20404, f"The requested resource {request.path} was not found")

        authorization = request.headers.get("authorization", "")
        scheme, _, encoded = authorization.partition(" ")
        if scheme.lower() != "basic":
            raise self.rejection(401, 20003, "Authenticate")
        try:
            user, _, password = base64.b64decode(encoded, validate=True).decode("utf-8").partition(":")
        except (binascii.Error, UnicodeDecodeError):
            raise self.rejection(401, 20003, "Authenticate")
        record["auth_user"] = user
        if user != self.account_sid or password != self.auth_token:
            raise self.rejection(401, 20003, "Authenticate")

        content_type = request.headers.get("content-type", "")
        if content_type.split(";")[0].strip() != "application/x-www-form-urlencoded":
            raise self.rejection(400, 20001, f"unexpected Content-Type {content_type!r}")
        try:
            form = urllib.parse.parse_qs(
                request.body.decode("utf-8"), keep_blank_values=True, strict_parsing=True
            )
        except (ValueError, UnicodeDecodeError) as error:
            raise self.rejection(400, 20001, f"invalid form: {error}")
        record["form"] = form

        for field, values in form.items():
            if len(values) != 1:
                raise self.rejection(400, 20001, f"the field {field} is given {len(values)} times")
        to = form.get("To", [None])[0]
        body = form.get("Body", [None])[0]
        senders = [field for field in ("From", "MessagingServiceSid") if field in form]
        if not to:
            raise self.rejection(400, 21604, "A 'To' phone number is required.")
        if not body:
            raise self.rejection(400, 21602, "Message body is required.")
        if len(senders) != 1:
            raise self.rejection(400, 21603, "Give exactly one of 'From' and 'MessagingServiceSid'.")
        if to in self.error_numbers:
            code, message = self.error_numbers[to]
            raise self.rejection(400, code, message.format(to))

        sid = f"SM{next(self.sequence):032x}"
        return 201, {
            "sid": sid,
            "account_sid": self.account_sid,
            "to": to,
            "body": body,
            "status": "queued",
        }, {}


class WebhookReceiver:
    def __init__(self):
        from standardwebhooks import Webhook

        self.webhook = Webhook(os.environ["PEER_WEBHOOK_SECRET"])

    @staticmethod
    def forced_body(status):
        return {"error": "forced by the test", "status": status}

    def handle(self, request, record):
        from standardwebhooks.webhooks import WebhookVerificationError

        try:
            payload = self.webhook.verify(request.body, dict(request.headers))
        except WebhookVerificationError as error:
            raise Rejection(400, f"verification failed: {error}", {"error": str(error)})
        record["payload"] = payload
        return 204, None, {}


class PushService:
    def __init__(self, origin):
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.serialization import Encoding, PublicFormat

        self.private_key = ec.generate_private_key(ec.SECP256R1())
        self.p256dh = self.private_key.public_key().public_bytes(
            Encoding.X962, PublicFormat.UncompressedPoint
        )
        self.auth = os.urandom(16)
        self.origin = origin
        expected = os.environ.get("PEER_VAPID_KEY")
        self.expected_key = b64url_decode(expected) if expected else None
        self.sequence = itertools.count(1)

    def ready_fields(self):
        return {"p256dh": b64url_encode(self.p256dh), "auth": b64url_encode(self.auth)}

    @staticmethod
    def forced_body(status):
        return {"code": status, "errno": 999, "error": "forced by the test"}

    def check_vapid(self, authorization, record):
        from cryptography.exceptions import InvalidSignature
        from cryptography.hazmat.primitives import hashes
        from cryptography.hazmat.primitives.asymmetric import ec
        from cryptography.hazmat.primitives.asymmetric.utils import encode_dss_signature

        scheme, _, rest = authorization.partition(" ")
        if scheme.lower() != "vapid":
            raise Rejection(401, f"the Authorization scheme is {scheme!r}, not vapid")
        parameters = {}
        for part in rest.split(","):
            name, _, value = part.strip().partition("=")
            parameters[name] = value
        if set(parameters) != {"t", "k"}:
            raise Rejection(401, f"the vapid parameters are {sorted(parameters)}, not k and t")

        try:
            key_bytes = b64url_decode(parameters["k"])
            public_key = ec.EllipticCurvePublicKey.from_encoded_point(ec.SECP256R1(), key_bytes)
            header_part, claims_part, signature_part = parameters["t"].split(".")
            header = json.loads(b64url_decode(header_part))
            claims = json.loads(b64url_decode(claims_part))
            signature = b64url_decode(signature_part)
        except (ValueError, binascii.Error) as error:
            raise Rejection(401, f"the vapid token or key is malformed: {error}")
        record["claims"] = claims
        if header != {"typ": "JWT", "alg": "ES256"}:
            raise Rejection(401, f"unexpected JWT header {header}")
        if len(signature) != 64:
            raise Rejection(401, f"the signature has {len(signature)} bytes, not 64")
        der = encode_dss_signature(
            int.from_bytes(signature[:32], "big"), int.from_bytes(signature[32:], "big")
        )
        try:
            public_key.verify(
                der, f"{header_part}.{claims_part}".encode("ascii"), ec.ECDSA(hashes.SHA256())
            )
        except InvalidSignature:
            raise Rejection(401, "the JWT signature does not verify with k")

        now = time.time()
        if claims.get("aud") != self.origin:
            raise Rejection(401, f"aud is {claims.get('aud')!r}, not {self.origin!r}")
        expiry = claims.get("exp")
        if not isinstance(expiry, int) or not now < expiry <= now + 24 * 3600:
            raise Rejection(401, f"exp {expiry!r} is not within the next 24 hours")
        subject = claims.get("sub", "")
        if not (subject.startswith("mailto:") or subject.startswith("https:")):
            raise Rejection(401, f"sub {subject!r} is not a mailto: or https: URI")
        if self.expected_key is not None and key_bytes != self.expected_key:
            raise Rejection(403, "k is not the key the subscription was made with")

    def handle(self, request, record):
        import http_ece

        self.check_vapid(request.headers.get("authorization", ""), record)
        ttl = request.headers.get("ttl", "")
        if not ttl.isdigit():
            raise Rejection(400, f"TTL is {ttl!r}, not a number of seconds")
        encoding = request.headers.get("content-encoding", "")
        if encoding != "aes128gcm":
            raise Rejection(400, f"Content-Encoding is {encoding!r}, not aes128gcm")
        try:
            plaintext = http_ece.decrypt(
                request.body,
                private_key=self.private_key,
                auth_secret=self.auth,
                version="aes128gcm",
            )
        except Exception as error:  # http_ece raises several kinds for a bad body.
            raise Rejection(400, f"decryption failed: {error!r}")
        record["plaintext"] = plaintext.decode("utf-8", errors="replace")
        location = f"/message/{next(self.sequence)}"
        return 201, None, {"Location": location}


class Request:
    def __init__(self, path, headers, body):
        self.path = path
        self.headers = headers
        self.body = body


def forced_status(path):
    """Returns (status, retry_after) for a /status/CODE[/retry-after/N] path, else None."""
    parts = path.split("/")
    if len(parts) < 3 or parts[1] != "status" or not parts[2].isdigit():
        return None
    retry_after = None
    if len(parts) >= 5 and parts[3] == "retry-after":
        retry_after = parts[4]
    return int(parts[2]), retry_after


def make_handler(peer, spool_dir):
    sequence = itertools.count(1)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"

        def do_POST(self):
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            headers = {name.lower(): value for name, value in self.headers.items()}
            request = Request(self.path, headers, body)
            record = {
                "method": self.command,
                "path": self.path,
                "headers": headers,
                "body": body.decode("utf-8", errors="replace"),
                "error": None,
            }
            extra_headers = {}
            forced = forced_status(self.path)
            if forced is not None:
                status, retry_after = forced
                reply = peer.forced_body(status)
                if retry_after is not None:
                    extra_headers["Retry-After"] = retry_after
            else:
                try:
                    status, reply, extra_headers = peer.handle(request, record)
                except Rejection as rejection:
                    status, reply = rejection.status, rejection.body
                    record["error"] = rejection.reason
            record["status"] = status
            self.write_record(record)
            self.reply(status, reply, extra_headers)

        def do_GET(self):
            self.reply(405, {"error": "only POST is served"}, {})

        def reply(self, status, body, extra_headers):
            data = b"" if body is None else json.dumps(body).encode("utf-8")
            self.send_response(status)
            if data:
                self.send_header("Content-Type", "application/json")
            for name, value in extra_headers.items():
                self.send_header(name, value)
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def write_record(self, record):
            with lock:
                number = next(sequence)
            path = os.path.join(spool_dir, f"{number:06d}.json")
            with open(path + ".tmp", "w", encoding="utf-8") as file:
                json.dump(record, file)
            os.rename(path + ".tmp", path)

        def log_message(self, format, *args):
            sys.stderr.write("%s\n" % (format % args))

    return Handler


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--kind", choices=["sms", "webhook", "push"], required=True)
    parser.add_argument("--spool", required=True)
    parser.add_argument("--cert")
    parser.add_argument("--key")
    arguments = parser.parse_args()

    server = ThreadingHTTPServer(("127.0.0.1", 0), None)
    port = server.server_address[1]
    scheme = "http"
    if arguments.cert:
        context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
        context.load_cert_chain(arguments.cert, arguments.key)
        server.socket = context.wrap_socket(server.socket, server_side=True)
        scheme = "https"
    if arguments.kind == "sms":
        peer = SmsGateway()
    elif arguments.kind == "webhook":
        peer = WebhookReceiver()
    else:
        peer = PushService(f"{scheme}://127.0.0.1:{port}")
    server.RequestHandlerClass = make_handler(peer, arguments.spool)

    ready = {"port": port}
    if hasattr(peer, "ready_fields"):
        ready.update(peer.ready_fields())
    print(json.dumps(ready), flush=True)
    server.serve_forever()


if __name__ == "__main__":
    main()
