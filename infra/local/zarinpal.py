"""A local Zarinpal payment gateway (API v4), written from the facts in
shared/design/payments-and-tax.md: what the payment function calls, and the StartPay page a
customer pays on. Started by infra/local/stack beside moto; state is in memory.

  python zarinpal.py --port 15105

Gateway API (as the real one): POST /pg/v4/payment/{request,verify,unVerified,reverse}.json,
GET /pg/StartPay/<authority> (a page with "pay" and "cancel" buttons that send the browser back to
the callback with ?Authority=…&Status=OK|NOK), and refunds through the GraphQL API
(POST /api/v4/graphql/ with a bearer token): the `Session` query finds a payment by its
reference (ref_id), the `AddRefund` mutation refunds it. The operation is told by
`operationName` (Sessions, AddRefund), not by parsing the query. A payment is refunded at most
its amount in all, a reversed one counting as refunded whole; a refund is at least 20,000 Rial.

For tests, under /_emulator/ (not the real gateway's):
  POST /_emulator/payments/<authority>/<outcome>  the customer's act without a browser; answers
      {"callback": <url the browser would be sent to>, or null}. Outcomes:
      pay (paid, back with OK), cancel (back with NOK), pay-no-callback (paid, tab closed),
      verify-timeout (verify.json of this authority answers only after --slow seconds),
      amount:<rials> (the gateway believes this amount was asked: verify answers -50),
      age:<seconds> (the payment was made that long ago: past 30 minutes it cannot be reversed)
  GET  /_emulator/payments/<authority>             what the gateway knows of one payment
  POST /_emulator/down  {"down": true|false}       every API call hangs --slow seconds, then 504
"""

import html
import re
import threading
import time
from urllib.parse import quote, urlsplit

from emulator import JsonHandler, arguments, serve

MIN_AMOUNT = 10_000         # Rial; below it request.json answers -9
REVERSE_WINDOW = 30 * 60    # seconds after payment in which reverse.json is allowed
MIN_REFUND = 20_000         # Rial; the GraphQL API refunds no less
UUID = re.compile(r"^[0-9a-fA-F]{8}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{4}-[0-9a-fA-F]{12}$")

MESSAGES = {
    100: "Success", 101: "Verified", -9: "Validation error", -50: "Session is not valid, amounts values is not the same.",
    -51: "Session is not valid, session is not active paid try.", -53: "Session is not this merchant_id session",
    -54: "Invalid authority.", -63: "Maximum time for reverse this session is expired.",
}


class Gateway:
    """Every payment the gateway has opened, by authority."""

    def __init__(self, slow):
        self.lock = threading.Lock()
        self.payments = {}
        self.serial = 0
        self.down = False
        self.slow = slow

    def open(self, merchant_id, amount, callback_url, description):
        with self.lock:
            self.serial += 1
            authority = "A" + f"{self.serial:035d}"
            self.payments[authority] = {
                "merchant_id": merchant_id, "amount": amount, "asked_amount": amount,
                "callback_url": callback_url, "description": description, "status": "open",
                "ref_id": None, "paid_at": None, "verify_timeout": False, "verifications": 0,
                "session_id": str(700_000_000 + self.serial), "refunds": [],
            }
            return authority

    def callback(self, authority, ok):
        payment = self.payments[authority]
        separator = "&" if "?" in payment["callback_url"] else "?"
        status = "OK" if ok else "NOK"
        return f"{payment['callback_url']}{separator}Authority={quote(authority)}&Status={status}"

    def act(self, authority, outcome):
        """The customer's (or the test's) act on a payment; the callback URL, or None."""
        with self.lock:
            payment = self.payments.get(authority)
            if payment is None:
                return False, None
            if outcome in ("pay", "pay-no-callback"):
                if payment["status"] == "open":
                    self.serial += 1
                    payment.update(status="paid", ref_id=1_000_000 + self.serial, paid_at=time.time())
                return True, self.callback(authority, True) if outcome == "pay" else None
            if outcome == "cancel":
                return True, self.callback(authority, False)
            if outcome == "verify-timeout":
                payment["verify_timeout"] = True
                return True, None
            if outcome.startswith("amount:") and outcome[7:].isdigit():
                payment["asked_amount"] = int(outcome[7:])
                return True, None
            if outcome.startswith("age:") and outcome[4:].isdigit() and payment["paid_at"]:
                payment["paid_at"] = time.time() - int(outcome[4:])
                return True, None
            return False, None

    def refunded(self, payment):
        """Rials given back so far: a reversal gives back everything."""
        if payment["status"] == "reversed":
            return payment["amount"]
        return sum(refund["amount"] for refund in payment["refunds"])

    def session_status(self, payment):
        if payment["status"] == "reversed":
            return "REVERSED"
        if payment["refunds"] and self.refunded(payment) >= payment["amount"]:
            return "REFUNDED"
        return {"open": "ACTIVE", "paid": "PAID", "verified": "VERIFIED"}[payment["status"]]


def error(code, validations=None):
    return {"data": [], "errors": {"code": code, "message": MESSAGES.get(code, "Error"),
                                   "validations": validations or []}}


def success(code=100, **fields):
    return {"data": {"code": code, "message": MESSAGES[code], **fields}, "errors": []}


class Handler(JsonHandler):
    server_version = "zarinpal-emulator"
    gateway: Gateway = None  # set in main

    def redirect(self, location):
        self.send_response(302)
        self.send_header("Location", location)
        self.send_header("Content-Length", "0")
        self.end_headers()

    # --- routes ---

    def do_GET(self):
        path = urlsplit(self.path).path
        if match := re.fullmatch(r"/pg/StartPay/([A-Za-z0-9]+)", path):
            return self.start_pay_page(match.group(1))
        if match := re.fullmatch(r"/_emulator/payments/([A-Za-z0-9]+)", path):
            payment = self.gateway.payments.get(match.group(1))
            return self.reply(200 if payment else 404, payment or {"message": "unknown authority"})
        if path == "/_emulator/health":
            return self.reply(200, {"ok": True})
        self.reply(404, {"message": "not found"})

    def do_POST(self):
        path = urlsplit(self.path).path
        if match := re.fullmatch(r"/pg/StartPay/([A-Za-z0-9]+)/(pay|cancel)", path):
            known, callback = self.gateway.act(match.group(1), match.group(2))
            return self.redirect(callback) if known else self.reply(404, "پرداخت پیدا نشد", "text/plain")
        if match := re.fullmatch(r"/_emulator/payments/([A-Za-z0-9]+)/([a-z:0-9-]+)", path):
            known, callback = self.gateway.act(match.group(1), match.group(2))
            return self.reply(200 if known else 404, {"callback": callback})
        if path == "/api/v4/graphql/":
            return self.graphql()
        if path == "/_emulator/down":
            body = self.json_object() or {}
            self.gateway.down = bool(body.get("down"))
            return self.reply(200, {"down": self.gateway.down})
        api = {
            "/pg/v4/payment/request.json": self.request_payment,
            "/pg/v4/payment/verify.json": self.verify,
            "/pg/v4/payment/unVerified.json": self.unverified,
            "/pg/v4/payment/reverse.json": self.reverse,
        }.get(path)
        if api is None:
            return self.reply(404, {"message": "not found"})
        if self.hang_if_down(self.gateway, 504, "gateway timeout"):
            return None
        body = self.json_object()
        if body is None:
            return self.reply(400, error(-9, ["body must be a JSON object"]))
        merchant_id = body.get("merchant_id")
        if not isinstance(merchant_id, str) or not UUID.match(merchant_id):
            return self.reply(400, error(-9, ["merchant_id must be a 36-character UUID"]))
        return api(body, merchant_id)

    # --- the gateway's API ---

    def request_payment(self, body, merchant_id):
        amount, description = body.get("amount"), body.get("description")
        callback_url, currency = body.get("callback_url"), body.get("currency", "IRR")
        problems = []
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < MIN_AMOUNT:
            problems.append(f"amount must be an integer of at least {MIN_AMOUNT} Rial")
        if not isinstance(description, str) or not description or len(description) > 500:
            problems.append("description is required, at most 500 characters")
        if not isinstance(callback_url, str) or not re.match(r"^https?://", callback_url):
            problems.append("callback_url must be an http(s) URL")
        if currency not in ("IRR", "IRT"):
            problems.append("currency must be IRR or IRT")
        if problems:
            return self.reply(400, error(-9, problems))
        rials = amount * 10 if currency == "IRT" else amount
        authority = self.gateway.open(merchant_id, rials, callback_url, description)
        self.reply(200, success(authority=authority, fee_type="Merchant", fee=0))

    def find(self, body, merchant_id):
        """The payment of the body's authority, or the error code that refuses it."""
        payment = self.gateway.payments.get(body.get("authority") or "")
        if payment is None:
            return None, -54
        if payment["merchant_id"].lower() != merchant_id.lower():
            return None, -53
        return payment, None

    def verify(self, body, merchant_id):
        payment, refused = self.find(body, merchant_id)
        if refused:
            return self.reply(400, error(refused))
        if payment["verify_timeout"]:
            time.sleep(self.gateway.slow)
            return self.reply(504, {"message": "gateway timeout"})
        amount = body.get("amount")
        if not isinstance(amount, int) or amount != payment["asked_amount"]:
            return self.reply(400, error(-50))
        with self.gateway.lock:
            if payment["status"] not in ("paid", "verified"):
                return self.reply(400, error(-51))
            code = 101 if payment["status"] == "verified" else 100
            payment["status"] = "verified"
            payment["verifications"] += 1
        self.reply(200, success(code, ref_id=payment["ref_id"], card_pan="502229******5995",
                                card_hash="0866A6EAEA5CB085E4CF6EF19296BF19647552DD5F96F1E530DB3AE61837EFE7",
                                fee_type="Merchant", fee=0))

    def unverified(self, body, merchant_id):
        with self.gateway.lock:
            listed = [
                {"authority": authority, "amount": p["amount"], "callback_url": p["callback_url"],
                 "referer": "", "date": time.strftime("%Y-%m-%d %H:%M:%S", time.gmtime(p["paid_at"]))}
                for authority, p in self.gateway.payments.items()
                if p["status"] == "paid" and p["merchant_id"].lower() == merchant_id.lower()
            ][-100:]
        self.reply(200, success(authorities=listed))

    def reverse(self, body, merchant_id):
        payment, refused = self.find(body, merchant_id)
        if refused:
            return self.reply(400, error(refused))
        with self.gateway.lock:
            if payment["status"] not in ("paid", "verified") or payment["refunds"]:
                return self.reply(400, error(-51))
            if time.time() - payment["paid_at"] > REVERSE_WINDOW:
                return self.reply(400, error(-63))
            payment["status"] = "reversed"
        self.reply(200, success())

    # --- the GraphQL API (refunds) ---

    def graphql(self):
        if self.hang_if_down(self.gateway, 504, "gateway timeout"):
            return None
        if not (self.headers.get("Authorization") or "").startswith("Bearer ") \
                or len(self.headers.get("Authorization")) <= len("Bearer "):
            return self.reply(401, {"errors": [{"message": "Unauthenticated."}]})
        body = self.json_object()
        variables = (body or {}).get("variables")
        if not isinstance(variables, dict):
            return self.reply(400, {"errors": [{"message": "variables must be an object"}]})
        operation = {"Sessions": self.sessions, "AddRefund": self.add_refund}.get(body.get("operationName"))
        if operation is None:
            return self.reply(400, {"errors": [{"message": "unknown operation"}]})
        return operation(variables)

    def sessions(self, variables):
        reference = str(variables.get("reference_id") or "")
        with self.gateway.lock:
            found = [
                {"id": p["session_id"], "status": self.gateway.session_status(p), "amount": p["amount"],
                 "description": p["description"]}
                for p in self.gateway.payments.values()
                if p["ref_id"] is not None and str(p["ref_id"]) == reference
            ]
        self.reply(200, {"data": {"Session": found}})

    def add_refund(self, variables):
        session_id, amount = str(variables.get("session_id") or ""), variables.get("amount")
        if variables.get("method") not in ("CARD", "PAYA"):
            return self.reply(200, {"errors": [{"message": "method must be CARD or PAYA"}]})
        if not isinstance(amount, int) or isinstance(amount, bool) or amount < MIN_REFUND:
            return self.reply(200, {"errors": [{"message": f"amount must be at least {MIN_REFUND}"}]})
        with self.gateway.lock:
            payment = next((p for p in self.gateway.payments.values() if p["session_id"] == session_id), None)
            if payment is None or payment["status"] not in ("verified", "reversed"):
                return self.reply(200, {"errors": [{"message": "session not found"}]})
            if self.gateway.refunded(payment) + amount > payment["amount"]:
                return self.reply(200, {"errors": [{"message": "refund amount exceeds the session's amount"}]})
            self.gateway.serial += 1
            refund = {"id": str(900_000_000 + self.gateway.serial), "amount": amount,
                      "method": variables["method"], "reason": variables.get("reason"),
                      "description": variables.get("description"), "at": time.time()}
            payment["refunds"].append(refund)
        self.reply(200, {"data": {"resource": {
            "terminal_id": "000000", "id": refund["id"], "amount": amount,
            "timeline": {"refund_amount": amount, "refund_time": time.strftime("%Y-%m-%dT%H:%M:%S"),
                         "refund_status": "PENDING"}}}})

    # --- the customer's page ---

    def start_pay_page(self, authority):
        payment = self.gateway.payments.get(authority)
        if payment is None:
            return self.reply(404, "پرداخت پیدا نشد", "text/plain")
        amount = f"{payment['amount']:,}"
        page = f"""<!DOCTYPE html>
<html lang="fa" dir="rtl"><head><meta charset="utf-8"><title>درگاه پرداخت زرین‌پال (محلی)</title></head>
<body style="font-family: Tahoma, sans-serif">
<h1>درگاه پرداخت زرین‌پال — شبیه‌ساز محلی</h1>
<p>{html.escape(payment['description'])}</p>
<p>مبلغ: <span id="amount">{amount}</span> ریال</p>
<form method="post" action="/pg/StartPay/{authority}/pay"><button id="pay" type="submit">پرداخت</button></form>
<form method="post" action="/pg/StartPay/{authority}/cancel"><button id="cancel" type="submit">انصراف</button></form>
</body></html>"""
        self.reply(200, page, "text/html")


def main():
    args = arguments(__doc__, slow_help="seconds a timed-out call hangs before answering 504")
    Handler.gateway = Gateway(args.slow)
    serve(Handler, args.port, "zarinpal")

if __name__ == "__main__":
    main()
