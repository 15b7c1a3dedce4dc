#!/usr/bin/env python3
"""Local stand-in for Lambda's SNS and SQS triggers (moto cannot invoke a Lambda function).

provision.py listed every trigger in $MIZAN_STATE_DIR/subscriptions.json:
  * "sns": an SQS queue subscribed to the topic for that function. Every SNS notification (the
    JSON body SQS receives from an SNS subscription) is wrapped in the event Lambda delivers for
    SNS (`{"Records": [{"EventSource": "aws:sns", ..., "Sns": {...}}]}`, one record per event);
  * "sqs": the template's own queue, read as Lambda's event source mapping reads it: up to
    batch_size messages in one event (`{"Records": [{"eventSource": "aws:sqs", "body": ...}]}`);
  * "dynamodb": a table's stream, read from DynamoDB Local's own Streams API (DescribeTable ->
    LatestStreamArn, DescribeStream -> shards, GetShardIterator, GetRecords) as Lambda's event
    source mapping reads it: records that pass the mapping's filters, in order, up to batch_size
    in one event (`{"Records": [{"eventSource": "aws:dynamodb", "dynamodb": {...}}]}`). A batch
    item failure resumes the shard from that record; a function error retries the batch (halved
    each time when the mapping bisects); past the mapping's retry or age bound the batch's
    description goes to its on-failure queue, as Lambda sends it. Each shard's checkpoint is
    kept in STATE_DIR/checkpoints/, written after a batch is done: a relay killed between
    invoking and checkpointing delivers that batch again on restart, as Lambda may.
  * "schedule": an EventBridge schedule's rate: every every_seconds the function gets the event
    a `Schedule` event delivers (`{"detail-type": "Scheduled Event", "source": "aws.events", ...}`).
This relay long-polls each queue and stream and POSTs the event to cargo-lambda's Invoke API:
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
import uuid
from pathlib import Path

import boto3
from botocore.config import Config

RETRY_DELAY_SECONDS = 2      # a failed delivery is retried after this long
# Beyond the function's own timeout: a function killed mid-invocation never answers (its caller
# times out, as on Lambda), and the delivery is retried. A first invocation that waits for
# cargo-lambda to compile the function times out too, and is retried once it runs.
INVOKE_MARGIN_SECONDS = 20
POLL_SECONDS = 5             # long-poll wait; also bounds how long shutdown takes

# A paused DynamoDB Local or moto must make a call fail, not hang the relay: long enough for a
# long poll (POLL_SECONDS), short enough to notice.
CLIENT_CONFIG = Config(connect_timeout=3, read_timeout=POLL_SECONDS + 5, retries={"max_attempts": 2})

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


def invoke_timeout(subscription):
    return subscription.get("timeout_seconds", 10) + INVOKE_MARGIN_SECONDS


def invoke(api_url, function, event, timeout):
    """Returns None on success, else a short reason (never the function's output)."""
    request = urllib.request.Request(
        f"{api_url}/2015-03-31/functions/{function}/invocations",
        data=json.dumps(event).encode(),
        headers={"Content-Type": "application/json"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
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
        failure = invoke(api_url, function, sqs_event(messages, subscription["queue_arn"]),
                         invoke_timeout(subscription))
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
            failure = invoke(api_url, function, event, invoke_timeout(subscription))
            took = int((time.monotonic() - started) * 1000)
            if failure is None:
                sqs.delete_message(QueueUrl=queue_url, ReceiptHandle=receipt)
                log(f"{message_id} -> {function}: delivered in {took} ms (attempt {attempt})")
            else:
                log(f"{message_id} -> {function}: failed: {failure} (attempt {attempt}); "
                    f"retry in {RETRY_DELAY_SECONDS}s")
                retry_later(sqs, queue_url, [message])


STREAM_IDLE_SECONDS = 0.25   # Lambda polls a shard four times a second
SHARDS_REFRESH_SECONDS = 5   # how often new shards (a stream rolls over to children) are looked for


def matches(pattern, value):
    """Lambda's event filtering, for the patterns our template uses: nested objects whose leaves
    list the accepted values. Anything richer is refused when the relay starts."""
    if isinstance(pattern, dict):
        return isinstance(value, dict) and all(matches(p, value.get(k)) for k, p in pattern.items())
    return value in pattern


def check_filter(pattern):
    if isinstance(pattern, dict):
        for inner in pattern.values():
            check_filter(inner)
    elif not (isinstance(pattern, list) and all(isinstance(v, (str, int, float)) for v in pattern)):
        raise SystemExit(f"event_relay: filter {pattern!r} needs a richer matcher; teach matches()")


def stream_record(record, stream_arn):
    """A record as Lambda hands it on: GetRecords' record with the stream's ARN, its creation time
    in epoch seconds."""
    change = dict(record["dynamodb"])
    created = change.get("ApproximateCreationDateTime")
    if created is not None and hasattr(created, "timestamp"):
        change["ApproximateCreationDateTime"] = created.timestamp()
    return {**{k: v for k, v in record.items() if k != "dynamodb"}, "dynamodb": change,
            "eventSourceARN": stream_arn}


def created_at(record):
    created = record["dynamodb"].get("ApproximateCreationDateTime")
    return created if isinstance(created, (int, float)) else time.time()


def crash_before_checkpoint():
    """Fault injection (infra/chaos): when STATE_DIR/chaos/crash-before-checkpoint exists, die
    right after a batch was relayed and before its checkpoint is written, as a poller may; the
    keeper starts the relay again, which delivers that batch a second time."""
    trigger = Path(os.environ["MIZAN_STATE_DIR"]) / "chaos" / "crash-before-checkpoint"
    try:
        trigger.unlink()
    except FileNotFoundError:
        return
    log("chaos: dying between relaying a batch and checkpointing it")
    os._exit(137)


class Checkpoints:
    """The last sequence number done per shard, in a file that survives the relay."""

    def __init__(self, path):
        self.path = path
        try:
            self.done = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            self.done = {}

    def get(self, shard):
        return self.done.get(shard)

    def set(self, shard, sequence_number):
        self.done[shard] = sequence_number
        self.path.parent.mkdir(parents=True, exist_ok=True)
        tmp = self.path.with_suffix(".tmp")
        tmp.write_text(json.dumps(self.done), encoding="utf-8")
        tmp.replace(self.path)


def invoke_stream(api_url, function, batch, report_failures, timeout):
    """(None, None) on success; (reason, first failed sequence number or None for the whole batch)."""
    request = urllib.request.Request(
        f"{api_url}/2015-03-31/functions/{function}/invocations",
        data=json.dumps({"Records": batch}).encode(),
        headers={"Content-Type": "application/json"}, method="POST")
    try:
        with urllib.request.urlopen(request, timeout=timeout) as response:
            body = response.read()
            if response.headers.get("X-Amz-Function-Error"):
                return f"function error ({response.headers['X-Amz-Function-Error']})", None
    except urllib.error.HTTPError as error:
        return f"HTTP {error.code}", None
    except (urllib.error.URLError, OSError) as error:
        return f"invoke unreachable ({type(error).__name__})", None
    if not report_failures:
        return None, None
    try:
        failures = (json.loads(body or b"null") or {}).get("batchItemFailures") or []
    except (ValueError, AttributeError):
        return "unreadable batch response", None
    sequences = [batch_record["dynamodb"]["SequenceNumber"] for batch_record in batch]
    failed = [f.get("itemIdentifier") for f in failures]
    if not failed:
        return None, None
    # As Lambda: resume from the lowest reported record; an identifier not in the batch fails it all.
    known = [sequences.index(item) for item in failed if item in sequences]
    if len(known) < len(failed):
        return "batch item failure names no record of the batch", None
    return "batch item failure", sequences[min(known)]


def utc(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


def on_failure(sqs, subscription, shard, stream_arn, batch, attempts, condition):
    """What Lambda sends a stream mapping's on-failure destination: the batch's place, not its data."""
    message = {
        "requestContext": {"requestId": str(uuid.uuid4()), "condition": condition,
                           "approximateInvokeCount": attempts,
                           "functionArn": f"local:function:{subscription['function']}"},
        "responseContext": {"statusCode": 200, "executedVersion": "$LATEST", "functionError": "Unhandled"},
        "version": "1.0",
        "timestamp": utc(time.time()),
        "DDBStreamBatchInfo": {
            "shardId": shard,
            "startSequenceNumber": batch[0]["dynamodb"]["SequenceNumber"],
            "endSequenceNumber": batch[-1]["dynamodb"]["SequenceNumber"],
            "approximateArrivalOfFirstRecord": utc(created_at(batch[0])),
            "approximateArrivalOfLastRecord": utc(created_at(batch[-1])),
            "batchSize": len(batch),
            "streamArn": stream_arn,
        },
    }
    if subscription.get("on_failure_queue_url"):
        sqs.send_message(QueueUrl=subscription["on_failure_queue_url"], MessageBody=json.dumps(message))
        log(f"stream {shard} -> {subscription['function']}: {len(batch)} record(s) sent to the on-failure queue ({condition})")
    else:
        log(f"stream {shard} -> {subscription['function']}: {len(batch)} record(s) discarded ({condition})")


def relay_shard(dynamodb, sqs, api_url, subscription, stream_arn, shard, checkpoints, until):
    """Reads one shard until it ends (True), or until the clock passes `until` with nothing
    pending or the relay stops (False: it resumes from its checkpoint next time)."""
    function = subscription["function"]
    done = checkpoints.get(shard)
    iterator = dynamodb.get_shard_iterator(
        StreamArn=stream_arn, ShardId=shard,
        **({"ShardIteratorType": "AFTER_SEQUENCE_NUMBER", "SequenceNumber": done} if done else
           {"ShardIteratorType": subscription["starting_position"]}))["ShardIterator"]
    pending = []        # records read and not yet done, in order
    size = subscription["batch_size"]
    attempts = 0
    while not stopping.is_set():
        if iterator and len(pending) < subscription["batch_size"]:
            answer = dynamodb.get_records(ShardIterator=iterator, Limit=subscription["batch_size"])
            iterator = answer.get("NextShardIterator")
            for record in answer.get("Records", []):
                record = stream_record(record, stream_arn)
                if not subscription["filters"] or any(matches(f, record) for f in subscription["filters"]):
                    pending.append(record)
                elif not pending:
                    checkpoints.set(shard, record["dynamodb"]["SequenceNumber"])  # filtered out: done
        if not pending:
            if iterator is None:
                return True
            if time.monotonic() > until:
                return False
            stopping.wait(STREAM_IDLE_SECONDS)
            continue
        batch = pending[:size]
        started = time.monotonic()
        failure, resume_at = invoke_stream(api_url, function, batch, subscription["report_batch_item_failures"],
                                           invoke_timeout(subscription))
        took = int((time.monotonic() - started) * 1000)
        if failure is None:
            crash_before_checkpoint()
            checkpoints.set(shard, batch[-1]["dynamodb"]["SequenceNumber"])
            del pending[:len(batch)]
            log(f"stream {shard} -> {function}: {len(batch)} record(s) delivered in {took} ms")
            size, attempts = subscription["batch_size"], 0
            continue
        attempts += 1
        if resume_at is not None:
            position = [r["dynamodb"]["SequenceNumber"] for r in batch].index(resume_at)
            if position:
                checkpoints.set(shard, batch[position - 1]["dynamodb"]["SequenceNumber"])
                del pending[:position]
                batch = pending[:size]
        log(f"stream {shard} -> {function}: failed: {failure} (attempt {attempts}); retrying")
        too_old = (subscription["maximum_record_age_seconds"] >= 0
                   and time.time() - created_at(batch[0]) > subscription["maximum_record_age_seconds"])
        exhausted = 0 <= subscription["maximum_retry_attempts"] < attempts
        if too_old or exhausted:
            on_failure(sqs, subscription, shard, stream_arn, batch, attempts,
                       "RecordAgeExceeded" if too_old else "RetryAttemptsExhausted")
            checkpoints.set(shard, batch[-1]["dynamodb"]["SequenceNumber"])
            del pending[:len(batch)]
            size, attempts = subscription["batch_size"], 0
            continue
        if subscription["bisect"] and resume_at is None and len(batch) > 1:
            size = max(1, len(batch) // 2)
        stopping.wait(RETRY_DELAY_SECONDS / 2)
    return False


def relay_dynamodb(sqs, api_url, subscription):
    """One stream, shard after shard (a child only once its parent is finished), as one event
    source mapping with a parallelization factor of 1."""
    dynamodb = boto3.client("dynamodbstreams", config=CLIENT_CONFIG)
    tables = boto3.client("dynamodb", config=CLIENT_CONFIG)
    for pattern in subscription["filters"]:
        check_filter(pattern)
    state = Path(os.environ["MIZAN_STATE_DIR"])
    while not stopping.is_set():
        try:
            stream_arn = tables.describe_table(TableName=subscription["table"])["Table"]["LatestStreamArn"]
            # Per stream: a stack started afresh has a new stream, which starts from its beginning.
            label = stream_arn.rsplit("/", 1)[-1].replace(":", "-")
            checkpoints = Checkpoints(state / "checkpoints" / f"{subscription['table']}-{label}.json")
            finished = set(checkpoints.get("finished-shards") or [])
            shards = dynamodb.describe_stream(StreamArn=stream_arn)["StreamDescription"]["Shards"]
            known = {shard["ShardId"] for shard in shards}
            ready = [shard["ShardId"] for shard in shards if shard["ShardId"] not in finished
                     and (shard.get("ParentShardId") in finished or shard.get("ParentShardId") not in known)]
            for shard in ready:
                until = time.monotonic() + SHARDS_REFRESH_SECONDS
                if relay_shard(dynamodb, sqs, api_url, subscription, stream_arn, shard, checkpoints, until):
                    finished.add(shard)
                    checkpoints.set("finished-shards", sorted(finished))
            if not ready:
                stopping.wait(STREAM_IDLE_SECONDS)
        except Exception as error:  # DynamoDB Local paused or restarting: try again shortly
            if not stopping.is_set():
                log(f"stream {subscription['table']}: read failed ({type(error).__name__}); retrying")
                stopping.wait(1)


def relay_schedule(_sqs, api_url, subscription):
    """Ticks as EventBridge does; a failed tick is logged and the next one comes on time."""
    while not stopping.wait(subscription["every_seconds"]):
        tick = {"version": "0", "id": str(uuid.uuid4()), "detail-type": "Scheduled Event",
                "source": "aws.events", "time": utc(time.time()), "region": "us-east-1",
                "resources": [f"local-schedule/{subscription['event']}"], "detail": {}}
        failed = invoke(api_url, subscription["function"], tick, invoke_timeout(subscription))
        log(f"schedule {subscription['event']} -> {subscription['function']}: {failed or 'ok'}")


def main():
    state = Path(sys.argv[1] if len(sys.argv) > 1 else os.environ["MIZAN_STATE_DIR"])
    api_url = os.environ["MIZAN_API_URL"].rstrip("/")
    subscriptions = json.loads((state / "subscriptions.json").read_text(encoding="utf-8"))
    sqs = boto3.client("sqs", config=CLIENT_CONFIG)

    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopping.set())

    relays = {"sns": relay_sns, "sqs": relay_sqs, "dynamodb": relay_dynamodb, "schedule": relay_schedule}
    threads = [threading.Thread(target=relays[sub["source"]], args=(sqs, api_url, sub), daemon=True)
               for sub in subscriptions]
    for thread in threads:
        thread.start()
    log(f"relaying {len(threads)} subscription(s) to {api_url}: "
        + ", ".join(f"{(s.get('topic_arn') or s.get('queue_arn') or s.get('table') or s['event']).rsplit(':', 1)[-1]}"
                    f" -> {s['function']}" for s in subscriptions))
    while not stopping.is_set():
        stopping.wait(1)
    for thread in threads:
        thread.join(timeout=POLL_SECONDS + 2)
    log("stopped")


if __name__ == "__main__":
    main()
