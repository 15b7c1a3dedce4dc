#!/usr/bin/env python3
"""Local stand-in for SNS -> Lambda delivery (moto cannot invoke a Lambda function).

provision.py subscribed one SQS queue per (topic, function) pair and listed them in
$MIZAN_STATE_DIR/subscriptions.json. This relay long-polls each queue, wraps every SNS
notification (the JSON body SQS receives from an SNS subscription) in the event Lambda delivers
for SNS (`{"Records": [{"EventSource": "aws:sns", ..., "Sns": {...}}]}`, one record per event, as
on AWS), and POSTs it to cargo-lambda's Invoke API:
    http://127.0.0.1:<watch port>/2015-03-31/functions/<binary>/invocations
A message is deleted once the function succeeded; otherwise it becomes visible again after a
short delay and is retried, and after 3 receives the queue moves it to its dead-letter queue.
It logs one line per delivery: message id, function and outcome, never the message itself (it
may carry personal data).

Usage: sns_relay.py [STATE_DIR]   (default $MIZAN_STATE_DIR; the watch URL is $MIZAN_API_URL)
Needs the local stack's env (AWS_ENDPOINT_URL_SQS, credentials, region) in the environment.
"""

import json
import os
import signal
import sys
import threading
import time
import urllib.error
import urllib.request
from pathlib import Path

import boto3

RETRY_DELAY_SECONDS = 2      # a failed delivery is retried after this long
INVOKE_TIMEOUT_SECONDS = 600  # the first invocation may wait for cargo-lambda to compile
POLL_SECONDS = 5             # long-poll wait; also bounds how long shutdown takes

stopping = threading.Event()


def log(line):
    print(f"{time.strftime('%H:%M:%S')} sns-relay: {line}", flush=True)


def lambda_event(notification, subscription_arn):
    """The SNS event Lambda delivers, from the notification JSON SNS sends to an SQS queue."""
    return {
        "Records": [{
            "EventSource": "aws:sns",
            "EventVersion": "1.0",
            "EventSubscriptionArn": subscription_arn,
            "Sns": {
                "Type": notification.get("Type", "Notification"),
                "MessageId": notification["MessageId"],
                "TopicArn": notification["TopicArn"],
                "Subject": notification.get("Subject"),
                "Message": notification["Message"],
                "Timestamp": notification["Timestamp"],
                "SignatureVersion": notification.get("SignatureVersion", "1"),
                "Signature": notification.get("Signature", ""),
                "SigningCertUrl": notification.get("SigningCertURL", ""),
                "UnsubscribeUrl": notification.get("UnsubscribeURL", ""),
                "MessageAttributes": {
                    name: {"Type": attr.get("Type", "String"), "Value": attr.get("Value", "")}
                    for name, attr in (notification.get("MessageAttributes") or {}).items()
                },
            },
        }]
    }


def invoke(api_url, function, event):
    """Returns None on success, else a short reason (never the function's output)."""
    request = urllib.request.Request(
        f"{api_url}/2015-03-31/functions/{function}/invocations",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=INVOKE_TIMEOUT_SECONDS) as response:
            response.read()
            if response.headers.get("X-Amz-Function-Error"):
                return f"function error ({response.headers['X-Amz-Function-Error']})"
            return None
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}"
    except (urllib.error.URLError, OSError) as error:
        return f"invoke unreachable ({type(error).__name__})"


def relay(sqs, api_url, subscription):
    queue_url = subscription["queue_url"]
    function = subscription["function"]
    while not stopping.is_set():
        try:
            messages = sqs.receive_message(
                QueueUrl=queue_url, MaxNumberOfMessages=10, WaitTimeSeconds=POLL_SECONDS,
                AttributeNames=["ApproximateReceiveCount"],
            ).get("Messages", [])
        except Exception as error:  # moto restarting or stopping: try again shortly
            if stopping.is_set():
                return
            log(f"{function}: receive failed ({type(error).__name__}); retrying")
            stopping.wait(1)
            continue
        for message in messages:
            receipt = message["ReceiptHandle"]
            attempt = message.get("Attributes", {}).get("ApproximateReceiveCount", "?")
            try:
                notification = json.loads(message["Body"])
                message_id = notification["MessageId"]
                event = lambda_event(notification, subscription["subscription_arn"])
            except (ValueError, KeyError, TypeError):
                log(f"sqs message {message['MessageId']} -> {function}: not an SNS notification; "
                    "left for the dead-letter queue")
                continue
            started = time.monotonic()
            failure = invoke(api_url, function, event)
            took = int((time.monotonic() - started) * 1000)
            if failure is None:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt)
                log(f"{message_id} -> {function}: delivered in {took} ms (attempt {attempt})")
            else:
                log(f"{message_id} -> {function}: failed: {failure} (attempt {attempt}); "
                    f"retry in {RETRY_DELAY_SECONDS}s")
                try:
                    sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=receipt,
                                                  VisibilityTimeout=RETRY_DELAY_SECONDS)
                except Exception:
                    pass  # it becomes visible again after the queue's own timeout


def main():
    state = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ["MIZAN_STATE_DIR"])
    api_url = os.environ["MIZAN_API_URL"].rstrip("/")
    subscriptions = json.loads((state / "subscriptions.json").read_text(encoding="utf-8"))
    sqs = boto3.client("sqs")

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())

    threads = [threading.Thread(target=relay, args=(sqs, api_url, sub), daemon=True)
               for sub in subscriptions]
    for thread in threads:
        thread.start()
    log(f"relaying {len(threads)} subscription(s) to {api_url}: "
        + ", ".join(f"{s['topic_arn'].rsplit(':', 1)[-1]} -> {s['function']}" for s in subscriptions))
    while not stopping.is_set():
        stopping.wait(1)
    for thread in threads:
        thread.join(timeout=POLL_SECONDS + 2)
    log("stopped")


if __name__ == "__main__":
    main()
