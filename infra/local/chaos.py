#!/usr/bin/env python3
"""Storefront journeys under injected faults, then a reckoning: nothing lost, nothing doubled.

Run by infra/chaos (its own stack) and, briefly, by infra/test (the test stack, once its tests
are done). Needs the stack's environment (MIZAN_API_URL, MIZAN_MOTO_URL, MIZAN_STATE_DIR, the
tables' names, AWS_ENDPOINT_URL_*).

Each journey is what a careful storefront does: sign up, read the verification email and SMS,
verify both (one customer in five asks for the email again first; a link or code refused as
stale or spent is asked for again), one in ten resets the password by its emailed link, log in, check out under one Idempotency-Key, and pay on the gateway (the Zarinpal
emulator); a timeout, a 5xx or a 409 (the same checkout still running) is retried with backoff,
the checkout always under its key. One customer in ten closes the tab after paying (no return
to the callback): the payment sweep, run through the drain, must settle those. One customer in
five whose payment was confirmed then cancels the order: its stock comes back, its money goes back
at the gateway (reversed, or refunded), a return invoice undoes the sale, and the customer is told.
Meanwhile faults are injected, each kind at least once, then at random:
  moto-paused       moto (SNS, SES, SQS, KMS) stops answering for a few seconds (SIGSTOP/SIGCONT)
  dynamodb-paused   DynamoDB Local stops answering for a few seconds
  function-killed   a function process is killed (SIGKILL), mid-request or not; the keeper
                    starts it again, as Lambda replaces a crashed environment
  relay-killed      the event relay dies after relaying a stream batch and before checkpointing
                    it (infra/local/event_relay.py's crash_before_checkpoint), so the batch is
                    delivered twice
  gateway-down      the payment gateway hangs every call for a few seconds
  tax-system-down   the tax system answers every call, after a pause, with 503
When the journeys are done and the faults stop, the stack drains, and the reckoning compares:
orders accepted (201) with orders stored; every event kept in the outbox with the events
published; confirmations (exactly one per order); orders paid at the gateway with orders paid;
receipts and invoices (exactly one per paid order, serials without gaps); cancelled orders with
their money given back exactly once, one return invoice and one refund message; every invoice
(sales and returns) accepted by the tax system, each sent exactly once; stock taken with stock
sold (cancelled orders' back on the shelf); and counts the 5xx answers and timeouts seen. It prints a table and exits 1 on any
mismatch.

  chaos.py [--journeys N] [--concurrency C] [--seed S] [--drain-seconds D]
"""

import argparse
import importlib.machinery
import importlib.util
import json
import os
import random
import re
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
import uuid
from collections import Counter
from concurrent.futures import ThreadPoolExecutor
from pathlib import Path

import boto3
from botocore.config import Config

sys.path.insert(0, str(Path(__file__).resolve().parent))
from provision import product_item  # noqa: E402

# The operator's redrive command holds the relay's rule in Python: the reckoning uses it too.
_REDRIVE_PATH = str(Path(__file__).resolve().parents[1] / "ops" / "redrive")
REDRIVE = importlib.util.module_from_spec(
    importlib.util.spec_from_loader("redrive", importlib.machinery.SourceFileLoader("redrive", _REDRIVE_PATH)))
REDRIVE.__loader__.exec_module(REDRIVE)

REQUEST_TIMEOUT = 30          # API Gateway gives up after 29 s
ATTEMPTS = 15                 # per step; backoff 0.5 s doubling to 8 s
MESSAGE_WAIT = 240            # for a verification message, faults included
CONFIRMED = "ثبت شد"          # the order confirmation's subject ends so
RECEIPT = "رسید پرداخت"       # the payment receipt's subject starts so
REFUNDED = "بازپرداخت"        # the refund message's subject starts so
FAULT_KINDS = ["moto-paused", "dynamodb-paused", "function-killed", "relay-killed", "gateway-down", "tax-system-down"]
KILLABLE = ["signup", "checkout", "payment", "invoice", "notification", "fulfilment", "tax", "relay"]
TAB_CLOSED = 0.1              # customers who pay and never come back to the callback
CANCELS = 0.2                 # customers whose payment was confirmed who then cancel the order
RESENDS = 0.2                 # customers who ask for the verification email again before using it
RESETS = 0.1                  # customers who forgot the password they signed up with and reset it

API = os.environ["MIZAN_API_URL"].rstrip("/")
MOTO = os.environ["MIZAN_MOTO_URL"].rstrip("/")
GATEWAY = os.environ["MIZAN_ZARINPAL_URL"].rstrip("/")
TAX_SYSTEM = os.environ["MIZAN_MOADIAN_URL"].rstrip("/")
STATE = Path(os.environ["MIZAN_STATE_DIR"])
AWS = Config(connect_timeout=3, read_timeout=20, retries={"max_attempts": 10})


def log(line):
    print(f"{time.strftime('%H:%M:%S')} chaos: {line}", file=sys.stderr, flush=True)


class Tally:
    """What the journeys saw, shared by the threads."""

    def __init__(self):
        self.lock = threading.Lock()
        self.statuses = Counter()
        self.timeouts = 0

    def saw(self, status):
        with self.lock:
            if status is None:
                self.timeouts += 1
            else:
                self.statuses[status] += 1


TALLY = Tally()


def call(method, path, body=None, bearer=None, key=None, base=API):
    """(status or None on timeout / no answer, parsed body: JSON, else the text)."""
    headers = {"Content-Type": "application/json"}
    if bearer:
        headers["Authorization"] = f"Bearer {bearer}"
    if key:
        headers["Idempotency-Key"] = key
    request = urllib.request.Request(f"{base}{path}", method=method, headers=headers,
                                     data=None if body is None else json.dumps(body).encode())
    try:
        with urllib.request.urlopen(request, timeout=REQUEST_TIMEOUT) as response:
            status, raw = response.status, response.read()
    except urllib.error.HTTPError as error:
        status, raw = error.code, error.read()
    except (urllib.error.URLError, OSError):
        TALLY.saw(None)
        return None, None
    if base == API:
        TALLY.saw(status)
    try:
        return status, json.loads(raw or b"null")
    except ValueError:
        return status, raw.decode("utf-8", "replace")


def retried(step, method, path, body=None, bearer=None, key=None, base=API):
    """Calls until an answer that is not a timeout, a 5xx or a 409; (status, body, retried?)."""
    delay = 0.5
    for attempt in range(ATTEMPTS):
        status, answer = call(method, path, body, bearer, key, base)
        if status is not None and status < 500 and status != 409:
            return status, answer, attempt > 0
        time.sleep(delay + random.random() * delay)
        delay = min(delay * 2, 8)
    raise RuntimeError(f"{step}: no answer after {ATTEMPTS} attempts (last {status})")


class Mailbox:
    """moto's sent email and SMS, read in one place for every journey (a page of moto's dump a
    second), indexed by recipient."""

    def __init__(self):
        self.lock = threading.Condition()
        self.emails, self.sms, self.topic = {}, {}, []
        self.stopping = False
        threading.Thread(target=self.run, daemon=True).start()

    def run(self):
        while not self.stopping:
            try:
                with urllib.request.urlopen(f"{MOTO}/moto-api/data.json", timeout=10) as response:
                    data = json.loads(response.read())
            except (urllib.error.URLError, OSError, ValueError):
                time.sleep(1)
                continue
            emails, sms = {}, {}
            for message in data.get("ses", {}).get("Message", []):
                for to in message.get("destinations", {}).get("ToAddresses", []):
                    emails.setdefault(to, []).append((message.get("subject", ""), json.dumps(message.get("body"))))
            for message in data.get("sns", {}).get("SMS", []):
                sms.setdefault(message.get("phone_number"), []).append(message.get("message", ""))
            with self.lock:
                self.emails, self.sms, self.topic = emails, sms, data.get("sns", {}).get("Topic", [])
                self.lock.notify_all()
            time.sleep(1)

    def wait(self, pick, seconds=MESSAGE_WAIT):
        deadline = time.monotonic() + seconds
        with self.lock:
            while True:
                found = pick(self)
                if found is not None:
                    return found
                left = deadline - time.monotonic()
                if left <= 0:
                    raise RuntimeError("a message did not arrive")
                self.lock.wait(left)


TOKEN = re.compile(r"token=([A-Za-z0-9._-]+)")
CODE = re.compile(r"(?<![0-9])([0-9]{6})(?![0-9])")


def token_in(body):
    """The verification link's token in an email body."""
    found = TOKEN.search(body)
    return found and found.group(1)


def code_in(text):
    """The six-digit code in an SMS."""
    found = CODE.search(text)
    return found and found.group(1)


def verify(mailbox, step, secrets, request, resend, tries=4):
    """Proves a contact (or follows a reset link) with the newest secret it was sent that was not
    tried yet. A refused one was stale (a retried signup replaced the account that had it, or a
    newer one was asked for) or spent: once every secret asked for has come and been tried, the
    customer asks for another, as the storefront's "send again" does."""
    tried, asked = set(), 1
    for _ in range(tries):
        secret = mailbox.wait(lambda box: next((s for s in secrets(box) if s not in tried), None))
        tried.add(secret)
        status, _, again = retried(step, "POST", *request(secret))
        if status == 200 or again:
            return
        with mailbox.lock:
            received = secrets(mailbox)
        if len(received) >= asked and all(s in tried for s in received):
            retried(f"{step}: send again", "POST", *resend)
            asked += 1
    raise RuntimeError(f"{step}: {status}")


def reset_password(mailbox, email, password):
    """The customer forgot the password: asks for a link, follows it, sets a new one."""
    retried("password reset", "POST", "/password/reset", {"email": email})
    new_password = f"{password}-reset"
    links = lambda box: [t for _, b in reversed(box.emails.get(email, []))
                         if "/password/reset?token=" in b and (t := token_in(b))]
    verify(mailbox, "reset confirm", links,
           lambda token: ("/password/reset/confirm", {"token": token, "password": new_password}),
           resend=("/password/reset", {"email": email}))
    return new_password


def journey(index, mailbox, product, seed):
    rng = random.Random(seed * 100_003 + index)
    tag = uuid.UUID(int=rng.getrandbits(128)).hex[:12]
    digits = f"{rng.randrange(10**7):07d}"
    if digits.endswith("99"):  # moto's carrier opts numbers ending in 99 out of SMS
        digits = digits[:-2] + "42"
    email, phone, password = f"chaos-{tag}@example.com", f"+98912{digits}", f"Chaos-{tag}-roast"
    record = {"email": email, "order_id": None, "quantity": 1 + index % 3, "paid": False, "authority": None,
              "cancelled": False, "resent": False, "reset": False, "error": None}
    try:
        retried("signup", "POST", "/signup", {
            "email": email, "phone": f"0912{digits}", "password": password, "full_name": "مریم کاظمی",
            "accept_terms": True, "terms_version": "1404-01", "marketing": {"email": False, "sms": False}})
        # A signup retried under faults may have replaced the account it first made (an
        # unverified account holds its email for no one), so an older link or code can be stale:
        # the newest not yet tried is used, and a stale one waits for the next.
        tokens = lambda box: [t for _, b in reversed(box.emails.get(email, [])) if (t := token_in(b))]
        codes = lambda box: [c for m in reversed(box.sms.get(phone, [])) if (c := code_in(m))]
        if rng.random() < RESENDS:
            retried("resend", "POST", "/verify/email/resend", {"email": email})
            record["resent"] = True
        verify(mailbox, "verify email", tokens, lambda token: ("/verify/email", {"token": token}),
               resend=("/verify/email/resend", {"email": email}))
        verify(mailbox, "verify phone", codes, lambda code: ("/verify/phone", {"email": email, "code": code}),
               resend=("/verify/phone/resend", {"email": email}))
        if rng.random() < RESETS:
            password = reset_password(mailbox, email, password)
            record["reset"] = True
        status, session, _ = retried("login", "POST", "/sessions", {"email": email, "password": password})
        if status != 201:
            raise RuntimeError(f"login: {status}")
        key = str(uuid.UUID(int=rng.getrandbits(128)))
        order = {
            "items": [{"product_id": product, "quantity": record["quantity"]}],
            "buyer": {"type": "natural", "full_name": "مریم کاظمی", "national_code": "0076229645"},
            "shipping": {"recipient_name": "مریم کاظمی", "recipient_phone": "09121112233",
                         "address": "تهران، خیابان ولیعصر، کوچه بهار، پلاک ۱۲", "postal_code": "1968913456"},
        }
        status, placed, _ = retried("checkout", "POST", "/checkout", order, bearer=session["token"], key=key)
        if status != 201:
            raise RuntimeError(f"checkout: {status} {placed and placed.get('code')}")
        record["order_id"] = placed["order_id"]
        if pay(record, session["token"], rng) and rng.random() < CANCELS:
            status, cancelled, _ = retried("cancel", "POST", f"/orders/{record['order_id']}/cancel", {},
                                           bearer=session["token"])
            if status != 200 or cancelled.get("status") != "cancelled":
                raise RuntimeError(f"cancel: {status} {cancelled}")
            record["cancelled"] = True
    except Exception as error:  # the journey is reported, not the run's end
        record["error"] = str(error)
    return record


OUTCOME = re.compile(r'data-outcome="([a-z-]+)"')


def pay(record, bearer, rng):
    """Pays the order on the gateway's page and follows the gateway back, as a browser does;
    whether the store confirmed the payment there and then."""
    order = record["order_id"]
    status, started, _ = retried("payment", "POST", f"/orders/{order}/payments", bearer=bearer)
    if status != 201:
        raise RuntimeError(f"payment: {status} {started}")
    authority = started["redirect_url"].rsplit("/", 1)[-1]
    record["authority"] = authority
    closes_tab = rng.random() < TAB_CLOSED
    act = "pay-no-callback" if closes_tab else "pay"
    status, acted, _ = retried("gateway", "POST", f"/_emulator/payments/{authority}/{act}", base=GATEWAY)
    if status != 200:
        raise RuntimeError(f"gateway: {status}")
    record["paid"] = True
    if closes_tab:
        return False
    callback = acted["callback"]
    status, page, _ = retried("callback", "GET", callback[len(API):])
    found = OUTCOME.search(page if isinstance(page, str) else "")
    # "unconfirmed" is an honest answer while the gateway is down: the sweep settles it later.
    if status != 200 or not found or found.group(1) not in ("paid", "unconfirmed"):
        raise RuntimeError(f"callback: {status} {found and found.group(1)}")
    return found.group(1) == "paid"


class Faults:
    """Injects faults until stopped: each kind once first (in a random order), then at random."""

    def __init__(self, rng):
        self.rng = rng
        self.counts = Counter()
        self.stopping = threading.Event()
        self.thread = threading.Thread(target=self.run, daemon=True)
        watch_port = API.rsplit(":", 1)[-1]
        self.runtime_prefix = f"AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:{watch_port}/.rt/".encode()

    def start(self):
        self.thread.start()

    def stop(self):
        self.stopping.set()
        self.thread.join()

    def run(self):
        # The relay's crash needs traffic on the stream: it goes first, while journeys run.
        first = [kind for kind in FAULT_KINDS if kind != "relay-killed"]
        self.rng.shuffle(first)
        first.append("relay-killed")
        while not self.stopping.wait(self.rng.uniform(2, 6)):
            kind = first.pop() if first else self.rng.choice(FAULT_KINDS)
            try:
                if getattr(self, kind.replace("-", "_"))():
                    self.counts[kind] += 1
            except Exception as error:
                log(f"{kind}: could not inject ({error})")

    def pid(self, name):
        return int((STATE / f"{name}.pid").read_text().split()[0])

    def paused(self, name, low, high):
        pid = self.pid(name)
        os.kill(pid, signal.SIGSTOP)
        try:
            self.stopping.wait(self.rng.uniform(low, high))
        finally:
            os.kill(pid, signal.SIGCONT)
        return True

    def moto_paused(self):
        return self.paused("moto", 2, 6)

    def dynamodb_paused(self):
        return self.paused("dynamodb", 1, 4)

    def gateway_down(self):
        down = lambda flag: call("POST", "/_emulator/down", {"down": flag}, base=GATEWAY)  # noqa: E731
        down(True)
        try:
            self.stopping.wait(self.rng.uniform(2, 6))
        finally:
            down(False)
        return True

    def tax_system_down(self):
        down = lambda flag: call("POST", "/_emulator/down", {"down": flag, "slow": 2}, base=TAX_SYSTEM)  # noqa: E731
        down(True)
        try:
            self.stopping.wait(self.rng.uniform(3, 8))
        finally:
            down(False)
        return True

    def function_killed(self):
        name = self.rng.choice(KILLABLE)
        for entry in Path("/proc").iterdir():
            try:
                if not entry.name.isdigit() or os.path.basename(os.readlink(entry / "exe")) != name:
                    continue
                if self.runtime_prefix + name.encode() in (entry / "environ").read_bytes().split(b"\0"):
                    os.kill(int(entry.name), signal.SIGKILL)
                    return True
            except OSError:
                continue
        return False

    def relay_killed(self):
        trigger = STATE / "chaos" / "crash-before-checkpoint"
        trigger.parent.mkdir(exist_ok=True)
        trigger.touch()
        deadline = time.monotonic() + 30
        while trigger.exists() and time.monotonic() < deadline and not self.stopping.is_set():
            time.sleep(0.2)
        if trigger.exists():  # no batch came by: disarm, so it does not fire during the drain
            trigger.unlink(missing_ok=True)
            return False
        return True


def scan(dynamodb, table, **kwargs):
    for page in dynamodb.get_paginator("scan").paginate(TableName=table, ConsistentRead=True, **kwargs):
        yield from page.get("Items", [])


def tick(function):
    """One tick of a function's schedule: the payment sweep, or a tax reporting run."""
    event = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event", "source": "aws.events",
             "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "detail": {}}
    call("POST", f"/2015-03-31/functions/{function}/invocations", event)


def relayed_ids(dynamodb, outbox_table):
    """The ids of the kept events the relay publishes (a forged campaign is refused, not lost)."""
    items = scan(dynamodb, outbox_table, ProjectionExpression="event_id, envelope")
    return {item["event_id"]["S"].removeprefix("operator#") for item in items if REDRIVE.relay_publishes(item)}


def reckon(journeys, product, stock, mailbox, faults, drain_seconds):
    dynamodb = boto3.client("dynamodb", config=AWS)
    orders_table, invoices_table = os.environ["ORDERS_TABLE"], os.environ["INVOICES_TABLE"]
    outbox_table, products_table = os.environ["OUTBOX_TABLE"], os.environ["PRODUCTS_TABLE"]
    accepted = {j["order_id"]: j for j in journeys if j["order_id"]}
    paid = {order for order, j in accepted.items() if j["paid"]}
    cancelled = {order for order, j in accepted.items() if j["cancelled"]}

    def all_invoices():
        """Serials by order: the sales' (`INVOICE#<order>`), the returns' (`…#RETURN`) and the
        corrective invoices' (`…#CORRECTION`, which other tests on the stack make)."""
        kinds = {"": {}, "RETURN": {}, "CORRECTION": {}}
        for item in scan(dynamodb, invoices_table, FilterExpression="begins_with(pk, :p)",
                         ExpressionAttributeValues={":p": {"S": "INVOICE#"}}):
            order, _, kind = item["pk"]["S"][len("INVOICE#"):].partition("#")
            kinds[kind][order] = int(item["serial"]["N"])
        return kinds[""], kinds["RETURN"], kinds["CORRECTION"]

    def invoices():
        return all_invoices()[0]

    def given_back(order):
        """Rials the gateway gave back of the order's payment, and in how many acts."""
        payment = json.loads(urllib.request.urlopen(
            f"{GATEWAY}/_emulator/payments/{accepted[order]['authority']}", timeout=10).read())
        if payment["status"] == "reversed":
            return payment["amount"], payment["amount"], 1 + len(payment["refunds"])
        return payment["amount"], sum(r["amount"] for r in payment["refunds"]), len(payment["refunds"])

    def tax_ids():
        """The tax ids of the invoices (sales and returns) of the orders accepted here."""
        return {item["tax_id"]["S"] for item in scan(dynamodb, invoices_table, FilterExpression="begins_with(pk, :p)",
                                                     ExpressionAttributeValues={":p": {"S": "INVOICE#"}})
                if item["pk"]["S"][len("INVOICE#"):].split("#")[0] in accepted}

    def tax_system():
        """By tax id: whether the tax system accepted it, and how often it was sent."""
        with urllib.request.urlopen(f"{TAX_SYSTEM}/_emulator/invoices", timeout=10) as response:
            submissions = json.loads(response.read())
        accepted_ids = {s["taxid"] for s in submissions if s["status"] == "SUCCESS"}
        return {s["taxid"]: (s["taxid"] in accepted_ids, s["times_submitted"]) for s in submissions if s["taxid"]}

    def refunds_done():
        return {order: given_back(order) for order in cancelled}

    def refund_messages():
        with mailbox.lock:
            return {accepted[o]["email"]: sum(1 for subject, _ in mailbox.emails.get(accepted[o]["email"], [])
                                              if subject.startswith(REFUNDED))
                    for o in cancelled}

    def confirmations():
        with mailbox.lock:
            return {j["email"]: sum(1 for subject, _ in mailbox.emails.get(j["email"], []) if subject.endswith(CONFIRMED))
                    for j in accepted.values()}

    def receipts():
        with mailbox.lock:
            return {accepted[o]["email"]: sum(1 for subject, _ in mailbox.emails.get(accepted[o]["email"], [])
                                              if subject.startswith(RECEIPT))
                    for o in paid}

    def published():
        with mailbox.lock:
            topic = next((t for t in mailbox.topic if t.get("arn", "").endswith(":EventsTopic")), {})
            return Counter(json.loads(n[1]).get("event_id") for n in topic.get("sent_notifications", []))

    # Drain: until every accepted order has its confirmation, every paid one its receipt and
    # invoice, and every kept event was published, or the time is up (then the table shows what
    # is missing). The schedule's sweep runs meanwhile, for the payments nobody came back from.
    deadline = time.monotonic() + drain_seconds
    while time.monotonic() < deadline:
        tick("payment")
        tick("tax")
        kept = relayed_ids(dynamodb, outbox_table)
        (done_invoices, done_returns, _), sent, out, got = all_invoices(), confirmations(), published(), receipts()
        back = refunds_done()
        if (all(o in done_invoices for o in paid) and all(n >= 1 for n in sent.values())
                and all(n >= 1 for n in got.values()) and kept <= set(out)
                and all(o in done_returns for o in cancelled)
                and all(given == amount for amount, given, _ in back.values())
                and all(n >= 1 for n in refund_messages().values())
                and all(tax_system().get(taxid, (False, 0))[0] for taxid in tax_ids())):
            break
        time.sleep(2)
    time.sleep(5)  # anything doubled arrives late: give it the chance to show

    stored, statuses, paid_here = {}, {}, set()
    for item in scan(dynamodb, orders_table, FilterExpression="contains(product_ids, :p)",
                     ExpressionAttributeValues={":p": {"S": product}}):
        if item["pk"]["S"].count("#") == 1:
            lines = json.loads(item["lines"]["S"])
            order = item["pk"]["S"][len("ORDER#"):]
            stored[order] = sum(l["quantity"] for l in lines if l["product_id"] == product)
            statuses[order] = item["status"]["S"]
            if "paid_at" in item:
                paid_here.add(order)
    kept = relayed_ids(dynamodb, outbox_table)
    out = published()
    sales, returns, corrections = all_invoices()
    serials = sorted([*sales.values(), *returns.values(), *corrections.values()])
    sent, got, refunded_told, back = confirmations(), receipts(), refund_messages(), refunds_done()
    ours, reported = tax_ids(), tax_system()
    # Paid here: paid, or paid and then cancelled (its money given back).
    paid_stored = paid_here
    cancelled_stored = {order for order, status in statuses.items() if status == "cancelled"}
    left = int(dynamodb.get_item(TableName=products_table, Key={"pk": {"S": f"PRODUCT#{product}"}},
                                 ConsistentRead=True)["Item"]["stock"]["N"])
    sold = sum(quantity for order, quantity in stored.items() if order not in cancelled_stored)
    rows = [
        ("orders accepted (201) = orders stored", len(accepted), len(stored), set(accepted) == set(stored)),
        ("events kept in the outbox, all published", len(kept), len(kept & set(out)), kept <= set(out)),
        ("confirmations: orders with exactly one", len(accepted), sum(1 for n in sent.values() if n == 1),
         all(n == 1 for n in sent.values())),
        ("orders paid at the gateway = orders paid", len(paid), len(paid_stored), paid == paid_stored),
        ("receipts: paid orders with exactly one", len(paid), sum(1 for n in got.values() if n == 1),
         all(n == 1 for n in got.values())),
        ("invoices: paid orders with exactly one", len(paid), sum(1 for o in paid if o in sales),
         all(o in sales for o in paid) and set(sales) & set(stored) <= paid),
        ("orders cancelled = orders stored cancelled", len(cancelled), len(cancelled_stored),
         cancelled == cancelled_stored),
        ("refunds: cancelled orders given back once, whole", len(cancelled),
         sum(1 for amount, given, acts in back.values() if given == amount and acts == 1),
         all(given == amount and acts == 1 for amount, given, acts in back.values())),
        ("return invoices: cancelled orders with exactly one", len(cancelled),
         sum(1 for o in cancelled if o in returns), set(returns) & set(stored) == cancelled),
        ("refund messages: cancelled orders with exactly one", len(cancelled),
         sum(1 for n in refunded_told.values() if n == 1), all(n == 1 for n in refunded_told.values())),
        ("invoice serials (sales, returns, corrections): 1..n, no gap or repeat", len(serials), serials[-1] if serials else 0,
         serials == list(range(1, len(serials) + 1))),
        ("tax system: invoices accepted, each sent once", len(ours),
         sum(1 for taxid in ours if reported.get(taxid) == (True, 1)),
         all(reported.get(taxid) == (True, 1) for taxid in ours)),
        ("stock taken = stock sold", stock - left, sold, stock - left == sold),
    ]
    failed_journeys = [j for j in journeys if j["error"]]
    print()
    print("| check | expected | found | |")
    print("|---|---:|---:|---|")
    for name, expected, found, ok in rows:
        print(f"| {name} | {expected} | {found} | {'ok' if ok else 'MISMATCH'} |")
    print()
    done = [j for j in journeys if not j["error"]]
    print(f"journeys: {len(journeys)}, completed {len(done)} (of which asked for the link again "
          f"{sum(j['resent'] for j in done)}, reset the password {sum(j['reset'] for j in done)}), "
          f"gave up {len(failed_journeys)}")
    for j in failed_journeys[:5]:
        print(f"  gave up: {j['error']}")
    # What did not add up, by name (chaos customers and orders are made up: nothing personal).
    for email, n in sorted(sent.items()):
        if n != 1:
            print(f"  {email}: {n} confirmations")
    for email, n in sorted(got.items()):
        if n != 1:
            print(f"  {email}: {n} receipts")
    for email, n in sorted(refunded_told.items()):
        if n != 1:
            print(f"  {email}: {n} refund messages")
    for order, (amount, given, acts) in sorted(back.items()):
        if given != amount or acts != 1:
            print(f"  order {order}: {given} of {amount} Rial given back in {acts} acts")
    for taxid in sorted(ours):
        if reported.get(taxid) != (True, 1):
            accepted_there, times = reported.get(taxid, (False, 0))
            print(f"  invoice {taxid}: {'accepted' if accepted_there else 'not accepted'}, sent {times} times")
    for order in sorted(paid ^ paid_stored):
        print(f"  order {order}: {'paid at the gateway, not paid here' if order in paid else 'paid here only'}")
    for order in sorted(set(accepted) ^ set(stored)):
        print(f"  order {order}: {'accepted, not stored' if order in accepted else 'stored, never accepted'}")
    for event in sorted(kept - set(out)):
        print(f"  event {event}: kept, never published")
    print(f"events published: {sum(out.values())} deliveries of {len(out)} events "
          f"({sum(n - 1 for n in out.values() if n > 1)} redelivered, harmless by event id)")
    server_errors = sum(n for status, n in TALLY.statuses.items() if status >= 500)
    print(f"answers: {dict(sorted(TALLY.statuses.items()))}; 5xx seen: {server_errors}; "
          f"no answer within {REQUEST_TIMEOUT} s: {TALLY.timeouts}")
    print(f"faults injected: {dict(sorted(faults.counts.items()))}")
    return all(ok for *_, ok in rows)


def main():
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--journeys", type=int, default=50)
    parser.add_argument("--concurrency", type=int, default=10)
    parser.add_argument("--seed", type=int, default=int(time.time()))
    parser.add_argument("--drain-seconds", type=int, default=300)
    args = parser.parse_args()
    rng = random.Random(args.seed)
    log(f"{args.journeys} journeys, {args.concurrency} at a time, seed {args.seed}")

    product = f"chaos-{uuid.uuid4().hex[:8]}"
    stock = 3 * args.journeys
    boto3.client("dynamodb", config=AWS).put_item(TableName=os.environ["PRODUCTS_TABLE"], Item=product_item({
        "id": product, "name_fa": "قهوهٔ آزمون آشوب", "kind": "beans", "unit_code": 1628, "price": 1_500_000,
        "vat_class": "standard", "goods_id": "2720000118401", "stock": stock, "weight_grams": 250}))

    mailbox = Mailbox()
    faults = Faults(rng)
    faults.start()
    started = time.monotonic()
    with ThreadPoolExecutor(max_workers=args.concurrency) as pool:
        journeys = list(pool.map(lambda i: journey(i, mailbox, product, args.seed), range(args.journeys)))
    # A short run may end before every kind of fault had its turn: the rest are injected now.
    deadline = time.monotonic() + 90
    while any(not faults.counts[kind] for kind in FAULT_KINDS) and time.monotonic() < deadline:
        time.sleep(1)
    faults.stop()
    log(f"journeys done in {time.monotonic() - started:.0f} s; faults stopped; draining")
    missing = [kind for kind in FAULT_KINDS if not faults.counts[kind]]
    ok = reckon(journeys, product, stock, mailbox, faults, args.drain_seconds)
    if missing:
        print(f"fault kinds never injected: {missing}")
    sys.exit(0 if ok and not missing else 1)


if __name__ == "__main__":
    main()
