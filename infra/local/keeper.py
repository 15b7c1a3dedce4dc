#!/usr/bin/env python3
"""Keeps the local stack's moving parts alive, as Lambda keeps a deployed stack alive.

* The event relay (infra/local/event_relay.py: the stream, SNS and SQS triggers) runs as this
  process's child and is started again whenever it exits without being asked to, as Lambda's
  event source mappings resume after a fault (from their checkpoints). Its PID is kept in
  STATE_DIR/relay-child.pid, so that a fault injection (infra/chaos) can kill it.
* Function processes: `cargo lambda watch` starts each function once and, should its process
  die (killed, crashed), leaves every later call to that function waiting forever. Lambda
  replaces a crashed environment; so does this: it remembers each function process of this
  stack (found by AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:<watch port>/.rt/<function> in its
  environment) with its program, arguments, directory and environment, and starts it again
  the same way when it is gone. The new process asks watch's runtime API for the next
  invocation, as the old one did. The invocation the dead process was running is lost, as on
  Lambda: its caller times out, and retries.
  Only for stacks whose watch does not rebuild on change (infra/test, infra/chaos): under
  `infra/run` watch itself stops and starts functions when their code changes, and this would
  race it.

Usage: keeper.py STATE_DIR [--functions]   (needs the stack's env, like event_relay.py)
Logs one line per start, to standard output.
"""

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
CHECK_SECONDS = 0.2
# A function gone for this long is started again: long enough not to race watch starting it.
GONE_SECONDS = 1.0

stopping = False


def log(line):
    print(f"{time.strftime('%H:%M:%S')} keeper: {line}", flush=True)


def our_functions(runtime_prefix):
    """Live function processes of this stack: {function: (pid, how to start it again)}."""
    found = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            environ = (entry / "environ").read_bytes().split(b"\0")
            api = next((v for v in environ if v.startswith(runtime_prefix)), None)
            if api is None:
                continue
            name = api[len(runtime_prefix):].decode()
            how = {
                "argv": [a.decode() for a in (entry / "cmdline").read_bytes().split(b"\0") if a],
                "exe": os.readlink(entry / "exe"),
                "cwd": os.readlink(entry / "cwd"),
                "env": dict(v.decode().split("=", 1) for v in environ if b"=" in v),
            }
        except (OSError, ValueError, UnicodeDecodeError):
            continue  # gone meanwhile, or not ours to read
        if how["exe"].endswith(" (deleted)"):
            continue
        # cargo run's own process carries the variable too; the function is the one it runs.
        if os.path.basename(how["exe"]) in ("cargo", "rustup"):
            continue
        found[name] = (int(entry.name), how)
    return found


def start_function(name, how, function_log):
    process = subprocess.Popen(
        [how["exe"], *how["argv"][1:]], env=how["env"], cwd=how["cwd"],
        stdout=function_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL,
        start_new_session=True)
    log(f"function {name} was gone; started again (pid {process.pid})")
    return process


def start_relay(state, relay_log):
    process = subprocess.Popen(
        [sys.executable, str(HERE / "event_relay.py"), str(state)],
        stdout=relay_log, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    (state / "relay-child.pid").write_text(f"{process.pid}\nevent_relay.py\n", encoding="utf-8")
    return process


def main():
    global stopping
    state = Path(sys.argv[1])
    keep_functions = "--functions" in sys.argv[2:]
    watch_port = os.environ["MIZAN_API_URL"].rsplit(":", 1)[-1]
    runtime_prefix = f"AWS_LAMBDA_RUNTIME_API=http://127.0.0.1:{watch_port}/.rt/".encode()

    def stop(*_):
        global stopping
        stopping = True

    signal.signal(signal.SIGTERM, stop)
    signal.signal(signal.SIGINT, stop)

    relay_log = open(state / "relay.log", "w", buffering=1, encoding="utf-8")
    function_log = open(os.environ.get("MIZAN_FUNCTION_LOG", state / "functions.log"), "a", buffering=1)
    relay = start_relay(state, relay_log)
    known, gone_since, started = {}, {}, []
    log(f"keeping the event relay (pid {relay.pid})" + (" and the function processes" if keep_functions else ""))
    while not stopping:
        time.sleep(CHECK_SECONDS)
        if relay.poll() is not None and not stopping:
            log(f"the event relay exited ({relay.returncode}); started again")
            relay = start_relay(state, relay_log)
        if not keep_functions:
            continue
        started = [p for p in started if p.poll() is None]  # reap the ones we started
        live = our_functions(runtime_prefix)
        for name, (_, how) in live.items():
            known[name] = how
            gone_since.pop(name, None)
        now = time.monotonic()
        for name, how in known.items():
            if name in live:
                continue
            since = gone_since.setdefault(name, now)
            if now - since >= GONE_SECONDS:
                started.append(start_function(name, how, function_log))
                gone_since.pop(name, None)
    relay.send_signal(signal.SIGTERM)
    try:
        relay.wait(timeout=15)
    except subprocess.TimeoutExpired:
        relay.kill()
    for process in started:
        if process.poll() is None:
            os.killpg(process.pid, signal.SIGTERM)
    log("stopped")


if __name__ == "__main__":
    main()
