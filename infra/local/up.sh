# Sourced by infra/run and infra/test (not run on its own): brings the whole local backend up
# for one profile and arranges that everything it started is stopped when the caller exits.
#
#   local_up <profile>    install tools, start DynamoDB Local + moto (provisioned from the
#                         template), build the workspace, export the stack's env, start
#                         `cargo lambda watch` and the local triggers (stream, SNS, SQS), wait for
#                         watch, warm every function.
# After it: the env of .local/state/<profile>/env is exported, plus MIZAN_FUNCTION_LOG (the
# functions' output) and CARGO_TARGET_DIR (default $HOME/.cache/mizan-coffee/target: outlives
# clean clones, so a fresh checkout does not rebuild every dependency).
# Requires the caller to have `set -euo pipefail`.

UP_ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/../.." && pwd)"
UP_LOCAL="$UP_ROOT/.local"
UP_PROFILE=""
UP_STARTED=0

# Stops every process of the profile by the PIDs saved in .local/state/<profile>/.
local_down() {
  [ "$UP_STARTED" = 1 ] || return 0
  UP_STARTED=0
  "$UP_ROOT/infra/local/stack" stop "$UP_PROFILE" 8>&- || true
}

up_elapsed() { echo "$(( $(date +%s) - $1 ))s"; }

local_up() {
  UP_PROFILE="$1"
  local state="$UP_LOCAL/state/$UP_PROFILE" t0 t
  t0=$(date +%s)
  export CARGO_TARGET_DIR="${CARGO_TARGET_DIR:-$HOME/.cache/mizan-coffee/target}"
  export PATH="$UP_LOCAL/venv/bin:$PATH"   # cargo-lambda, and zig through `python3 -m ziglang`

  trap 'local_down' EXIT
  trap 'exit 130' INT
  trap 'exit 143' TERM

  mkdir -p "$UP_LOCAL/state"
  # One run per profile at a time: a second one would stop the first one's processes.
  exec 8>"$UP_LOCAL/state/$UP_PROFILE.lock"
  if ! flock -n 8; then
    echo "$UP_PROFILE: another infra/$UP_PROFILE is running in this checkout" >&2
    exit 1
  fi

  t=$(date +%s)
  "$UP_ROOT/infra/local/install"
  echo "== tools ready ($(up_elapsed "$t"))" >&2

  UP_STARTED=1
  # Leftovers of an earlier run that was killed hard are stopped first: every run starts clean.
  # (8>&-: the lock stays with this script; the long-lived processes must not inherit it.)
  "$UP_ROOT/infra/local/stack" stop "$UP_PROFILE" 8>&-
  t=$(date +%s)
  "$UP_ROOT/infra/local/stack" start "$UP_PROFILE" 8>&-
  echo "== local stack up ($(up_elapsed "$t"))" >&2

  t=$(date +%s)
  (cd "$UP_ROOT" && cargo build --workspace)
  echo "== workspace built ($(up_elapsed "$t")); target dir $CARGO_TARGET_DIR" >&2

  set -a
  # shellcheck disable=SC1091
  . "$state/env"
  set +a
  export MIZAN_FUNCTION_LOG="$state/functions.log"
  local watch_port="${MIZAN_API_URL##*:}"

  # Functions inherit watch's environment. setsid: watch leads its own process group, so
  # stopping it by its saved PID also reaches the function processes it spawned.
  # Tests run against the build they started with: a file saved meanwhile must not restart a
  # function under a running test (watch answers 500 while it restarts). `infra/run` keeps
  # reloading on change, which is what a developer wants.
  local reload=()
  [ "$UP_PROFILE" = run ] || reload=(--ignore-changes)
  (cd "$UP_ROOT" && exec setsid cargo lambda watch -A 127.0.0.1 -P "$watch_port" "${reload[@]}") \
      > "$MIZAN_FUNCTION_LOG" 2>&1 < /dev/null 8>&- &
  printf '%s\n%s\n' "$!" "watch -A 127.0.0.1 -P $watch_port" > "$state/watch.pid"
  : > "$state/watch.pgid"

  # The keeper runs the event relay (the local triggers) and starts it again should it die; on
  # stacks whose watch does not rebuild on change it also brings killed function processes back.
  local keep=()
  [ "$UP_PROFILE" = run ] || keep=(--functions)
  "$UP_LOCAL/venv/bin/python" "$UP_ROOT/infra/local/keeper.py" "$state" "${keep[@]}" \
      > "$state/keeper.log" 2>&1 < /dev/null 8>&- &
  printf '%s\n%s\n' "$!" "keeper.py" > "$state/keeper.pid"

  t=$(date +%s)
  local deadline=$((SECONDS + 60))
  # Readiness: a CORS preflight, which watch answers itself (a GET / would log an error there).
  until curl -s -o /dev/null -m 2 -X OPTIONS "$MIZAN_API_URL/"; do
    if ! kill -0 "$(sed -n 1p "$state/watch.pid")" 2>/dev/null; then
      echo "cargo lambda watch exited; last lines of $MIZAN_FUNCTION_LOG:" >&2
      tail -n 30 "$MIZAN_FUNCTION_LOG" >&2
      exit 1
    fi
    if [ "$SECONDS" -ge "$deadline" ]; then
      echo "cargo lambda watch did not answer on $MIZAN_API_URL within 60s" >&2
      exit 1
    fi
    sleep 0.2
  done
  # cargo-lambda starts a function on its first invocation (`cargo run --bin <name>`, which
  # compiles whatever the workspace build did not cover): do it now, not in a test's timeout.
  "$UP_LOCAL/venv/bin/python" "$UP_ROOT/infra/local/warm.py"
  echo "== functions served on $MIZAN_API_URL and warm ($(up_elapsed "$t")); total $(up_elapsed "$t0")" >&2
}
