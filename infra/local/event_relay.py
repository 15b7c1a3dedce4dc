#!/usr/bin/env python3
"""Local stand-in for Lambda's SNS and SQS triggers (moto cannot invoke a Lambda function).

provision.py listed every trigger in $MIZAN_STATE_DIR/subscriptions.json:
  * "sns": an SQS queue subscribed to the topic for that function. Every SNS notification (the
    JSON body SQS receives from an SNS subscription) is wrapped in the event Lambda delivers for
    SNS (`{"Records": [{"EventSource": "aws:sns", ..., "Sns": {...}}]}`, one record per event);
  * "sqs": the template's own queue, read as Lambda's event source mapping reads it: up to
    batch_size messages in one event (`{"Records": [{"eventSource": "aws:sqs", "body": ...}]}`).
This relay long-polls each queue and POSTs the event to cargo-lambda's Invoke API:
    http://127.0.0.1:<watch port>/2015-03-31/functions/<binary>/invocations
A message is deleted once the function succeeded; otherwise it becomes visible again after a
short delay and is retried, and after its queue's maxReceiveCount it moves to the dead-letter queue.
It logs one line per delivery: message id, function and outcome, never the message itself (it
may carry personal data).

Usage: event_relay.py [STATE_DIR]   (default $MIZAN_STATE_DIR; the watch URL is $MIZAN_API_URL)
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
    print(f"{time.strftime('%H:%M:%S')} event-relay: {line}", flush=True)


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


def sqs_event(messages, queue_arn):
    """The SQS event Lambda delivers for a batch of messages."""
    return {
        "Records": [{
            "messageId": message["MessageId"],
            "receiptHandle": message["ReceiptHandle"],
            "body": message["Body"],
            "attributes": message.get("Attributes", {}),
            "messageAttributes": {},
            "md5OfBody": message.get("MD5OfBody", ""),
            "eventSource": "aws:sqs",
            "eventSourceARN": queue_arn,
            "awsRegion": queue_arn.split(":")[3],
        } for message in messages]
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


def receive(sqs, queue_url, function, most):
    """Up to `most` messages, or [] (after a pause) if the queue cannot be read right now."""
    try:
        return sqs.receive_message(
            QueueUrl=queue_url, MaxNumberOfMessages=most, WaitTimeSeconds=POLL_SECONDS,
            AttributeNames=["ApproximateReceiveCount", "SentTimestamp"],
        ).get("Messages", [])
    except Exception as error:  # moto restarting or stopping: try again shortly
        if not stopping.is_set():
            log(f"{function}: receive failed ({type(error).__name__}); retrying")
            stopping.wait(1)
        return []


def retry_later(sqs, queue_url, messages):
    for message in messages:
        try:
            sqs.change_message_visibility(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"],
                                          VisibilityTimeout=RETRY_DELAY_SECONDS)
        except Exception:
            pass  # it becomes visible again after the queue's own timeout


def relay_sqs(sqs, api_url, subscription):
    queue_url = subscription["queue_url"]
    function = subscription["function"]
    while not stopping.is_set():
        messages = receive(sqs, queue_url, function, subscription["batch_size"])
        if not messages:
            continue
        attempt = messages[0].get("Attributes", {}).get("ApproximateReceiveCount", "?")
        ids = ",".join(m["MessageId"] for m in messages)
        started = time.monotonic()
        failure = invoke(api_url, function, sqs_event(messages, subscription["queue_arn"]))
        took = int((time.monotonic() - started) * 1000)
        if failure is None:
            for message in messages:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=message["ReceiptHandle"])
            log(f"sqs {ids} -> {function}: delivered in {took} ms (attempt {attempt})")
        else:
            log(f"sqs {ids} -> {function}: failed: {failure} (attempt {attempt}); "
                f"retry in {RETRY_DELAY_SECONDS}s")
            retry_later(sqs, queue_url, messages)


def relay_sns(sqs, api_url, subscription):
    queue_url = subscription["queue_url"]
    function = subscription["function"]
    while not stopping.is_set():
        for message in receive(sqs, queue_url, function, 10):
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
                retry_later(sqs, queue_url, [message])


def main():
    state = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ["MIZAN_STATE_DIR"])
    api_url = os.environ["MIZAN_API_URL"].rstrip("/")
    subscriptions = json.loads((state / "subscriptions.json").read_text(encoding="utf-8"))
    sqs = boto3.client("sqs")

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())

    relays = {"sns": relay_sns, "sqs": relay_sqs}
    threads = [threading.Thread(target=relays[sub["source"]], args=(sqs, api_url, sub), daemon=True)
               for sub in subscriptions]
    for thread in threads:
        thread.start()
    log(f"relaying {len(threads)} subscription(s) to {api_url}: "
        + ", ".join(f"{(s.get('topic_arn') or s['queue_arn']).rsplit(':', 1)[-1]} -> {s['function']}"
                    for s in subscriptions))
    while not stopping.is_set():
        stopping.wait(1)
    for thread in threads:
        thread.join(timeout=POLL_SECONDS + 2)
    log("stopped")


if __name__ == "__main__":
    main()
