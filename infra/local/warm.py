#!/usr/bin/env python3
"""Starts every function of infra/template.yaml under `cargo lambda watch` before tests run.

cargo-lambda spawns a function on its first invocation (`cargo run --bin <name>`), compiling
whatever is not built yet. This sends each function one harmless invocation through the Invoke
API ($MIZAN_API_URL/2015-03-31/functions/<binary>/invocations) and waits for any answer:
  * HTTP functions: an API Gateway v2 request for GET /__warmup (a path no route uses, so the
    function answers 404 and touches nothing);
  * SNS-triggered functions: an SNS event with no records;
  * functions with only a schedule: one tick.
Any answer, even an error, means the function is compiled and running. Prints the time per function.
"""

import json
import os
import sys
import time
import urllib.error
import urllib.request

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from provision import load_template  # noqa: E402

TIMEOUT_SECONDS = 900  # a cold compile of one function with the AWS SDK takes minutes on 2 cores


def http_event():
    now = time.time()
    return {
        "version": "2.0",
        "routeKey": "$default",
        "rawPath": "/__warmup",
        "rawQueryString": "",
        "headers": {"host": "127.0.0.1", "user-agent": "mizan-warmup"},
        "requestContext": {
            "accountId": "123456789012",
            "apiId": "local",
            "domainName": "127.0.0.1",
            "domainPrefix": "local",
            "http": {"method": "GET", "path": "/__warmup", "protocol": "HTTP/1.1",
                     "sourceIp": "127.0.0.1", "userAgent": "mizan-warmup"},
            "requestId": f"warmup-{int(now * 1000)}",
            "routeKey": "$default",
            "stage": "$default",
            "time": time.strftime("%d/%b/%Y:%H:%M:%S +0000", time.gmtime(now)),
            "timeEpoch": int(now * 1000),
        },
        "isBase64Encoded": False,
    }


def main():
    api = os.environ["MIZAN_API_URL"].rstrip("/")
    template = load_template()
    for logical_id, resource in template.get("Resources", {}).items():
        if resource.get("Type") != "AWS::Serverless::Function":
            continue
        binary = resource["Metadata"]["BuildProperties"]["Binary"]
        kinds = {e.get("Type") for e in (resource["Properties"].get("Events") or {}).values()}
        if "HttpApi" in kinds or not kinds:
            event = http_event()
        elif kinds == {"Schedule"}:
            # A function with only a schedule reads nothing else: one tick (its ordinary work).
            event = {"version": "0", "id": "warm", "detail-type": "Scheduled Event", "source": "aws.events",
                     "time": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()), "detail": {}}
        else:
            event = {"Records": []}
        request = urllib.request.Request(
            f"{api}/2015-03-31/functions/{binary}/invocations",
            data=json.dumps(event).encode(), method="POST",
            headers={"Content-Type": "application/json"},
        )
        started = time.monotonic()
        try:
            with urllib.request.urlopen(request, timeout=TIMEOUT_SECONDS) as response:
                response.read()
                outcome = f"HTTP {response.status}"
                if response.headers.get("X-Amz-Function-Error"):
                    outcome += f", function error {response.headers['X-Amz-Function-Error']}"
        except urllib.error.HTTPError as error:
            outcome = f"HTTP {error.code}"
        except (urllib.error.URLError, OSError) as error:
            print(f"warm: {binary}: no answer ({error})", file=sys.stderr)
            sys.exit(1)
        print(f"warm: {binary}: {outcome} in {time.monotonic() - started:.1f}s", file=sys.stderr)


if __name__ == "__main__":
    main()
