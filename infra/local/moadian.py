"""A local tax system (سامانه مودیان, API v2), written from the facts in
shared/design/payments-and-tax.md: what the store's submissions meet on the real one. State is in
memory; its own RSA key is made at start.

  python moadian.py --port 15106

API (as the real one), under /requestsmanager/api/v2/:
  GET  nonce?timeToLive=N          a nonce, valid N seconds (10-200, default 30)
  GET  server-information          the organisation's public key (base64 DER) and its id
  POST invoice                     [{"payload": <JWE>, "header": {"requestTraceId", "fiscalId"}}]
  GET  inquiry-by-reference-id?referenceIds=a,b
  GET  inquiry-by-uid?uidList=a,b&fiscalId=F   the same, by the submitter's requestTraceId: how a
                                   client learns whether a submission whose answer it lost arrived
Every call but nonce needs `Authorization: Bearer <JWS>`: RS256 over {"nonce","clientId"} with the
signer's certificate in `x5c` and a critical `sigT`; its signature is checked against that
certificate and its nonce must be one issued here and not expired. A submission's JWE is opened
with the organisation's key (RSA-OAEP-256, A256GCM, the protected header as AAD), the JWS inside
is checked against its `x5c` as the token is, and the invoice is validated as the real system
would at least on: the tax id's layout, memory id and Verhoeff digit; one tax id once per memory
id; the fields each `inty`/`ins` requires; `irtaxid` naming an accepted invoice; every item's and
the header's sums. Validation happens on submission; inquiry reports it (SUCCESS or FAILED with
errors).

For tests, under /_emulator/ (not the real system's):
  GET  /_emulator/health
  GET  /_emulator/invoices                   every submission: taxid, status, reference, errors,
                                             the JSON received, and how often that tax id came
  POST /_emulator/down {"down": true|false, "slow": S}
                                             every API call hangs S (default --slow) seconds, then 503
  POST /_emulator/inquiries {"status": "TIMEOUT"|"IN_PROGRESS", "times": N}
                                             the next N inquiries report that status instead
  POST /_emulator/reject {"taxid": T, "code": C, "message": M}
                                             the next submission of T fails with that error
"""

import base64
import json
import re
import secrets
import threading
import time
import uuid
from urllib.parse import parse_qs, urlsplit

from cryptography import x509
from cryptography.exceptions import InvalidSignature, InvalidTag
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa
from cryptography.hazmat.primitives.ciphers.aead import AESGCM

from emulator import JsonHandler, arguments, serve

API = "/requestsmanager/api/v2/"

# Verhoeff's tables (the tax id's check digit).
D = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 2, 3, 4, 0, 6, 7, 8, 9, 5], [2, 3, 4, 0, 1, 7, 8, 9, 5, 6],
     [3, 4, 0, 1, 2, 8, 9, 5, 6, 7], [4, 0, 1, 2, 3, 9, 5, 6, 7, 8], [5, 9, 8, 7, 6, 0, 4, 3, 2, 1],
     [6, 5, 9, 8, 7, 1, 0, 4, 3, 2], [7, 6, 5, 9, 8, 2, 1, 0, 4, 3], [8, 7, 6, 5, 9, 3, 2, 1, 0, 4],
     [9, 8, 7, 6, 5, 4, 3, 2, 1, 0]]
P = [[0, 1, 2, 3, 4, 5, 6, 7, 8, 9], [1, 5, 7, 6, 2, 8, 3, 0, 9, 4], [5, 8, 0, 3, 7, 9, 6, 1, 4, 2],
     [8, 9, 1, 6, 0, 4, 3, 5, 2, 7], [9, 4, 5, 3, 1, 2, 6, 8, 7, 0], [4, 2, 8, 6, 5, 7, 3, 9, 0, 1],
     [2, 7, 9, 3, 8, 0, 6, 4, 1, 5], [7, 0, 4, 6, 9, 1, 3, 2, 5, 8]]
TAX_ID = re.compile(r"^([0-9A-Z]{6})([0-9A-F]{5})([0-9A-F]{10})([0-9])$")


def verhoeff_valid(digits):
    state = 0
    for i, c in enumerate(reversed(digits)):
        state = D[state][P[i % 8][int(c)]]
    return state == 0


def tax_id_problem(taxid, memory_id):
    """Why a tax id is not well formed for this memory id, or None."""
    match = TAX_ID.match(taxid or "")
    if not match:
        return "the tax id is not 22 characters: memory id, 5 hex (day), 10 hex (serial), a digit"
    if match.group(1) != memory_id:
        return "the tax id's memory id is not the submitter's"
    decimal = "".join(str(ord(c)) if c.isalpha() else c for c in match.group(1))
    decimal += f"{int(match.group(2), 16):06d}{int(match.group(3), 16):012d}{match.group(4)}"
    if not verhoeff_valid(decimal):
        return "the tax id's check digit is wrong"
    return None


def b64url(data):
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def unb64url(text):
    return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))


class Refused(Exception):
    def __init__(self, status, message):
        super().__init__(message)
        self.status = status


def verified_jws(compact):
    """The payload of a compact JWS whose RS256 signature matches the certificate in its x5c,
    and that certificate's public numbers; Refused otherwise."""
    parts = (compact or "").split(".")
    if len(parts) != 3:
        raise Refused(401, "not a compact JWS")
    try:
        header = json.loads(unb64url(parts[0]))
        certificate = x509.load_der_x509_certificate(base64.b64decode(header["x5c"][0]))
        signature = unb64url(parts[2])
    except (ValueError, KeyError, IndexError, TypeError):
        raise Refused(401, "the JWS header has no readable x5c certificate")
    if header.get("alg") != "RS256" or "sigT" not in header.get("crit", []) or not header.get("sigT"):
        raise Refused(401, "the JWS must be RS256 with a critical sigT")
    try:
        certificate.public_key().verify(signature, f"{parts[0]}.{parts[1]}".encode(), padding.PKCS1v15(),
                                        hashes.SHA256())
    except (InvalidSignature, AttributeError, TypeError):
        raise Refused(401, "the JWS signature does not match its certificate")
    return unb64url(parts[1]), certificate.public_key().public_numbers()


class TaxSystem:
    def __init__(self, slow):
        self.lock = threading.Lock()
        self.key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
        self.key_id = f"local-{uuid.uuid4().hex[:8]}"
        self.nonces = {}            # nonce -> expiry (monotonic)
        self.submissions = {}       # reference -> record
        self.by_taxid = {}          # (memory id, taxid) -> reference of its accepted or pending submission
        self.seen = {}              # taxid -> how many times it was submitted
        self.down = False
        self.slow = slow
        self.scripted = []          # statuses the next inquiries report
        self.rejections = {}        # taxid -> (code, message)

    def public_key(self):
        der = self.key.public_key().public_bytes(serialization.Encoding.DER,
                                                 serialization.PublicFormat.SubjectPublicKeyInfo)
        return base64.b64encode(der).decode()

    def nonce(self, ttl):
        value = secrets.token_hex(16)
        with self.lock:
            now = time.monotonic()
            self.nonces = {n: t for n, t in self.nonces.items() if t > now}
            self.nonces[value] = now + ttl
        return value

    def authenticate(self, authorization):
        """The client id (memory id) of a valid bearer token."""
        if not (authorization or "").startswith("Bearer "):
            raise Refused(401, "a bearer token is required")
        payload, _ = verified_jws(authorization[len("Bearer "):])
        try:
            claims = json.loads(payload)
        except ValueError:
            raise Refused(401, "the token's payload is not JSON")
        with self.lock:
            expiry = self.nonces.get(claims.get("nonce"))
        if expiry is None or expiry < time.monotonic():
            raise Refused(401, "the token's nonce is unknown or expired")
        client = claims.get("clientId")
        if not isinstance(client, str) or not re.fullmatch(r"[0-9A-Z]{6}", client):
            raise Refused(401, "the token's clientId is not a memory id")
        return client

    def open_jwe(self, compact):
        parts = (compact or "").split(".")
        if len(parts) != 5:
            raise Refused(400, "the payload is not a compact JWE")
        try:
            header = json.loads(unb64url(parts[0]))
            if (header.get("alg"), header.get("enc"), header.get("kid")) != ("RSA-OAEP-256", "A256GCM", self.key_id):
                raise Refused(400, "the JWE must be RSA-OAEP-256/A256GCM to this server's key id")
            content_key = self.key.decrypt(unb64url(parts[1]), padding.OAEP(
                mgf=padding.MGF1(algorithm=hashes.SHA256()), algorithm=hashes.SHA256(), label=None))
            iv, ciphertext, tag = unb64url(parts[2]), unb64url(parts[3]), unb64url(parts[4])
            if len(content_key) != 32 or len(iv) != 12 or len(tag) != 16:
                raise Refused(400, "the JWE's key, IV or tag has the wrong length")
            return AESGCM(content_key).decrypt(iv, ciphertext + tag, parts[0].encode("ascii"))
        except (ValueError, InvalidTag, TypeError):
            raise Refused(400, "the JWE does not open with this server's key")

    def submit(self, memory_id, trace_id, fiscal_id, compact):
        reference = str(uuid.uuid4())
        record = {"referenceNumber": reference, "uid": trace_id, "fiscalId": fiscal_id, "taxid": None,
                  "status": "IN_PROGRESS", "errors": [], "invoice": None, "at": time.time()}
        try:
            signed = self.open_jwe(compact)
            payload, _ = verified_jws(signed.decode("ascii"))
            invoice = json.loads(payload)
            record["invoice"] = invoice
            record["taxid"] = (invoice.get("header") or {}).get("taxid")
        except (Refused, UnicodeDecodeError, ValueError) as error:
            record["status"], record["errors"] = "FAILED", [{"code": "PAYLOAD", "message": str(error)}]
            with self.lock:
                self.submissions[reference] = record
            return record
        with self.lock:
            taxid = record["taxid"]
            self.seen[taxid] = self.seen.get(taxid, 0) + 1
            errors = self.validate(memory_id, fiscal_id, invoice)
            rejected = self.rejections.pop(taxid, None)
            if rejected:
                errors.append({"code": rejected[0], "message": rejected[1]})
            record["errors"] = errors
            record["status"] = "FAILED" if errors else "SUCCESS"
            if not errors:
                self.by_taxid[(memory_id, taxid)] = reference
            self.submissions[reference] = record
        return record

    def validate(self, memory_id, fiscal_id, invoice):
        errors = []

        def fail(code, message):
            errors.append({"code": code, "message": message})

        header, body = invoice.get("header") or {}, invoice.get("body") or []
        if fiscal_id != memory_id:
            fail("FISCAL_ID", "the header's fiscalId is not the token's clientId")
        problem = tax_id_problem(header.get("taxid"), memory_id)
        if problem:
            fail("TAXID", problem)
        elif (memory_id, header["taxid"]) in self.by_taxid:
            fail("TAXID_DUPLICATE", "an invoice with this tax id was accepted already")
        for field in ("taxid", "indatim", "inty", "inp", "ins", "tins", "tvam", "tbill"):
            if field not in header:
                fail("REQUIRED", f"header.{field} is required")
        if header.get("inty") == 1:
            for field in ("tob", "bid"):
                if not header.get(field):
                    fail("REQUIRED", f"header.{field} is required for inty 1")
            if header.get("tob") == 2 and not header.get("tinb"):
                fail("REQUIRED", "header.tinb is required for a legal buyer")
        if header.get("ins") in (2, 3, 4):
            original = header.get("irtaxid")
            if not original:
                fail("REQUIRED", "header.irtaxid is required for ins 2, 3 and 4")
            elif (memory_id, original) not in self.by_taxid:
                fail("IRTAXID", "header.irtaxid names no accepted invoice")
        elif header.get("ins") == 1 and header.get("irtaxid"):
            fail("IRTAXID", "an original invoice names no other")
        if not body:
            fail("REQUIRED", "an invoice has at least one item")
        sums = {"tprdis": 0, "tdis": 0, "tadis": 0, "tvam": 0, "tbill": 0}
        for i, item in enumerate(body):
            at = f"body[{i}]"
            missing = [f for f in ("sstid", "am", "fee", "vra", "vam", "tsstam") if f not in item]
            if missing:
                fail("REQUIRED", f"{at}: {', '.join(missing)} required")
                continue
            if not re.fullmatch(r"\d{13}", str(item["sstid"])):
                fail("SSTID", f"{at}.sstid is not a 13-digit goods id")
            prdis = item["am"] * item["fee"]
            dis = item.get("dis", 0)
            adis = prdis - dis
            # vam = adis × vra / 100, rounded half up to a whole Rial.
            vam = (adis * round(item["vra"] * 100) + 5000) // 10000
            for field, expected in (("prdis", prdis), ("adis", adis), ("vam", vam), ("tsstam", adis + vam)):
                if item.get(field, expected) != expected:
                    fail("SUM", f"{at}.{field} is {item.get(field)}, expected {expected}")
            for total, value in (("tprdis", prdis), ("tdis", dis), ("tadis", adis), ("tvam", vam),
                                 ("tbill", adis + vam)):
                sums[total] += value
        for field, expected in sums.items():
            if header.get(field, expected) != expected:
                fail("SUM", f"header.{field} is {header.get(field)}, expected {expected}")
        paid = sum(p.get("pv", 0) for p in invoice.get("payments") or [])
        if paid > header.get("tbill", 0):
            fail("SUM", "the payments exceed the bill")
        return errors

    def references_of(self, uids, fiscal_id):
        with self.lock:
            return [r["referenceNumber"] for r in self.submissions.values()
                    if r["uid"] in uids and r["fiscalId"] == fiscal_id]

    def inquire(self, references):
        answers = []
        with self.lock:
            for reference in references:
                record = self.submissions.get(reference)
                if record is None:
                    answers.append({"referenceNumber": reference, "status": "NOT_FOUND", "data": None})
                    continue
                status = self.scripted.pop(0) if self.scripted else record["status"]
                answers.append({
                    "referenceNumber": reference, "uid": record["uid"], "status": status,
                    "fiscalId": record["fiscalId"], "taxId": record["taxid"],
                    "data": {"error": record["errors"] if status == "FAILED" else [], "warning": []},
                })
        return answers


class Handler(JsonHandler):
    server_version = "moadian-emulator"
    system: TaxSystem = None  # set in main

    def do_GET(self):
        url = urlsplit(self.path)
        query = parse_qs(url.query)
        if url.path == "/_emulator/health":
            return self.reply(200, {"ok": True})
        if url.path == "/_emulator/invoices":
            with self.system.lock:
                listed = [{**r, "times_submitted": self.system.seen.get(r["taxid"], 0)}
                          for r in self.system.submissions.values()]
            return self.reply(200, listed)
        if not url.path.startswith(API):
            return self.reply(404, {"message": "not found"})
        if self.hang_if_down(self.system, 503, "service unavailable"):
            return None
        endpoint = url.path[len(API):]
        if endpoint == "nonce":
            try:
                ttl = int((query.get("timeToLive") or ["30"])[0])
            except ValueError:
                ttl = 0
            if not 10 <= ttl <= 200:
                return self.reply(400, {"message": "timeToLive must be 10 to 200 seconds"})
            return self.reply(200, {"nonce": self.system.nonce(ttl),
                                    "expDate": int((time.time() + ttl) * 1000)})
        try:
            self.system.authenticate(self.headers.get("Authorization"))
        except Refused as refused:
            return self.reply(refused.status, {"message": str(refused)})
        if endpoint == "server-information":
            return self.reply(200, {"serverTime": int(time.time() * 1000), "publicKeys": [
                {"key": self.system.public_key(), "id": self.system.key_id, "algorithm": "RSA", "purpose": 1}]})
        if endpoint == "inquiry-by-reference-id":
            references = [r for value in query.get("referenceIds", []) for r in value.split(",") if r]
            if not references:
                return self.reply(400, {"message": "referenceIds is required"})
            return self.reply(200, self.system.inquire(references))
        if endpoint == "inquiry-by-uid":
            uids = {u for value in query.get("uidList", []) for u in value.split(",") if u}
            fiscal_id = (query.get("fiscalId") or [""])[0]
            if not uids or not fiscal_id:
                return self.reply(400, {"message": "uidList and fiscalId are required"})
            return self.reply(200, self.system.inquire(self.system.references_of(uids, fiscal_id)))
        return self.reply(404, {"message": "not found"})

    def do_POST(self):
        path = urlsplit(self.path).path
        if path == "/_emulator/down":
            body = self.json_object() or {}
            self.system.down = bool(body.get("down"))
            if isinstance(body.get("slow"), (int, float)):
                self.system.slow = float(body["slow"])
            return self.reply(200, {"down": self.system.down, "slow": self.system.slow})
        if path == "/_emulator/inquiries":
            body = self.json_object() or {}
            with self.system.lock:
                self.system.scripted = [body.get("status", "TIMEOUT")] * int(body.get("times", 1))
            return self.reply(200, {"scripted": self.system.scripted})
        if path == "/_emulator/reject":
            body = self.json_object() or {}
            with self.system.lock:
                self.system.rejections[body.get("taxid")] = (body.get("code", "REJECTED"),
                                                             body.get("message", "rejected by the test"))
            return self.reply(200, {"ok": True})
        if path != API + "invoice":
            return self.reply(404, {"message": "not found"})
        if self.hang_if_down(self.system, 503, "service unavailable"):
            return None
        try:
            memory_id = self.system.authenticate(self.headers.get("Authorization"))
        except Refused as refused:
            return self.reply(refused.status, {"message": str(refused)})
        packets = self.json_body()
        if not isinstance(packets, list) or not packets or len(packets) > 1000:
            return self.reply(400, {"message": "the body is a list of 1 to 1,000 packets"})
        result = []
        for packet in packets:
            header = (packet or {}).get("header") or {}
            record = self.system.submit(memory_id, header.get("requestTraceId"), header.get("fiscalId"),
                                        (packet or {}).get("payload"))
            result.append({"uid": record["uid"], "referenceNumber": record["referenceNumber"],
                           "errorCode": None, "errorDetail": None, "taxId": record["taxid"]})
        self.reply(200, {"timestamp": int(time.time() * 1000), "result": result})


def main():
    args = arguments(__doc__, slow_help="seconds a call hangs while the system is down")
    Handler.system = TaxSystem(args.slow)
    serve(Handler, args.port, "tax system")

if __name__ == "__main__":
    main()
