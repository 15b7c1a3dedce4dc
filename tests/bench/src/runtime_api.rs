//! A local Lambda Runtime API (the `2018-06-01` protocol a custom runtime polls) and a function
//! process started against it as Lambda starts one, so that what is timed is the function and
//! the runtime library it links, with nothing of a local emulator in between.
//!
//! Protocol reference: <https://docs.aws.amazon.com/lambda/latest/dg/runtimes-api.html>.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::Stdio;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use anyhow::{Context, Result, anyhow, bail};
use http_body_util::{BodyExt, Full};
use hyper::body::{Bytes, Incoming};
use hyper::{Method, Request, Response, StatusCode};
use hyper_util::rt::TokioIo;
use tokio::net::TcpListener;
use tokio::sync::{mpsc, oneshot};
use tokio::task::JoinHandle;

const NEXT: &str = "/2018-06-01/runtime/invocation/next";
const INVOCATION: &str = "/2018-06-01/runtime/invocation/";
const INIT_ERROR: &str = "/2018-06-01/runtime/init/error";
/// Lambda gives an invocation at most its configured timeout; the template's functions have far
/// less, but a benchmark should time work, not cut it short.
const DEADLINE: Duration = Duration::from_secs(120);
const INIT_TIMEOUT: Duration = Duration::from_secs(30);
/// X-Ray is off in the template: every invocation gets the same unsampled trace header.
const TRACE_ID: &str = "Root=1-00000000-000000000000000000000000;Sampled=0";

/// What the function answered, and how long it took from handing the event over (the `/next`
/// answer) to having the whole answer back — the span Lambda bills as the invocation's duration.
pub struct Answer {
    pub body: Bytes,
    pub failed: bool,
    pub took: Duration,
}

struct Pending {
    id: String,
    payload: Bytes,
    answer: oneshot::Sender<Answer>,
}

struct Shared {
    queue: tokio::sync::Mutex<mpsc::Receiver<Pending>>,
    in_flight: Mutex<HashMap<String, (Instant, oneshot::Sender<Answer>)>>,
    first_poll: Mutex<Option<oneshot::Sender<Instant>>>,
    init_error: Mutex<Option<oneshot::Sender<Bytes>>>,
    function_arn: String,
}

fn lock<T>(mutex: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    // A poisoned lock only means another request task panicked; the map itself is intact.
    mutex.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn reply(status: StatusCode, body: &'static str) -> Response<Full<Bytes>> {
    let mut response = Response::new(Full::new(Bytes::from_static(body.as_bytes())));
    *response.status_mut() = status;
    response
}

async fn route(shared: Arc<Shared>, request: Request<Incoming>) -> Result<Response<Full<Bytes>>, hyper::Error> {
    let path = request.uri().path().to_owned();
    if request.method() == Method::GET && path == NEXT {
        if let Some(first) = lock(&shared.first_poll).take() {
            let _ = first.send(Instant::now());
        }
        let Some(pending) = shared.queue.lock().await.recv().await else {
            return Ok(reply(StatusCode::GONE, "the benchmark is over"));
        };
        let deadline_ms = (SystemTime::now() + DEADLINE).duration_since(UNIX_EPOCH).unwrap_or_default().as_millis();
        let response = Response::builder()
            .header("content-type", "application/json")
            .header("lambda-runtime-aws-request-id", &pending.id)
            .header("lambda-runtime-deadline-ms", deadline_ms.to_string())
            .header("lambda-runtime-invoked-function-arn", &shared.function_arn)
            .header("lambda-runtime-trace-id", TRACE_ID)
            .body(Full::new(pending.payload))
            .unwrap_or_else(|_| reply(StatusCode::INTERNAL_SERVER_ERROR, "bad header"));
        lock(&shared.in_flight).insert(pending.id, (Instant::now(), pending.answer));
        return Ok(response);
    }
    if request.method() == Method::POST && path == INIT_ERROR {
        let body = request.into_body().collect().await?.to_bytes();
        if let Some(report) = lock(&shared.init_error).take() {
            let _ = report.send(body);
        }
        return Ok(reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#));
    }
    if request.method() == Method::POST
        && let Some(rest) = path.strip_prefix(INVOCATION)
        && let Some((id, outcome @ ("response" | "error"))) = rest.split_once('/')
    {
        let id = id.to_owned();
        let failed = outcome == "error";
        let body = request.into_body().collect().await?.to_bytes();
        let answered = Instant::now();
        return Ok(match lock(&shared.in_flight).remove(&id) {
            Some((delivered, answer)) => {
                let _ = answer.send(Answer { body, failed, took: answered - delivered });
                reply(StatusCode::ACCEPTED, r#"{"status":"OK"}"#)
            }
            None => reply(StatusCode::BAD_REQUEST, r#"{"errorType":"InvalidRequestID"}"#),
        });
    }
    Ok(reply(StatusCode::NOT_FOUND, "not a Runtime API route"))
}

/// How to start one function: its binary, the environment of the local stack, where its output goes.
pub struct Launch<'a> {
    pub name: &'a str,
    pub binary: &'a Path,
    pub stack_env: &'a [(String, String)],
    pub log: &'a Path,
}

/// One running function process with its own Runtime API endpoint.
pub struct FunctionProcess {
    name: String,
    child: tokio::process::Child,
    pid: u32,
    log: PathBuf,
    queue: mpsc::Sender<Pending>,
    server: JoinHandle<()>,
    invocations: u64,
}

impl FunctionProcess {
    /// Starts the function and waits until it first asks for work; returns it with its init
    /// time (spawn to that first `GET /next`).
    pub async fn start(launch: &Launch<'_>) -> Result<(Self, Duration)> {
        let listener = TcpListener::bind("127.0.0.1:0").await.context("binding the Runtime API")?;
        let address = listener.local_addr()?;
        let (queue, receiver) = mpsc::channel(1);
        let (first_poll, polled) = oneshot::channel();
        let (init_error, init_failed) = oneshot::channel();
        let shared = Arc::new(Shared {
            queue: tokio::sync::Mutex::new(receiver),
            in_flight: Mutex::new(HashMap::new()),
            first_poll: Mutex::new(Some(first_poll)),
            init_error: Mutex::new(Some(init_error)),
            function_arn: format!("arn:aws:lambda:us-east-1:123456789012:function:{}", launch.name),
        });
        let server = tokio::spawn(async move {
            while let Ok((stream, _)) = listener.accept().await {
                let shared = shared.clone();
                tokio::spawn(async move {
                    let service = hyper::service::service_fn(move |request| route(shared.clone(), request));
                    // A connection ends when the function process is stopped: nothing to report.
                    let _ = hyper::server::conn::http1::Builder::new()
                        .serve_connection(TokioIo::new(stream), service)
                        .await;
                });
            }
        });

        let log = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(launch.log)
            .with_context(|| format!("opening {}", launch.log.display()))?;
        let mut command = tokio::process::Command::new(launch.binary);
        command
            .env_clear()
            .envs(launch.stack_env.iter().map(|(k, v)| (k.as_str(), v.as_str())))
            .env("AWS_LAMBDA_RUNTIME_API", address.to_string())
            .env("AWS_LAMBDA_FUNCTION_NAME", launch.name)
            .env("AWS_LAMBDA_FUNCTION_MEMORY_SIZE", "128")
            .env("AWS_LAMBDA_FUNCTION_VERSION", "$LATEST")
            .env("AWS_LAMBDA_LOG_GROUP_NAME", format!("/aws/lambda/{}", launch.name))
            .env("AWS_LAMBDA_LOG_STREAM_NAME", "bench")
            .env("AWS_LAMBDA_INITIALIZATION_TYPE", "on-demand")
            .stdin(Stdio::null())
            .stdout(log.try_clone()?)
            .stderr(log)
            .kill_on_drop(true);
        let spawned = Instant::now();
        let mut child = command.spawn().with_context(|| format!("starting {}", launch.binary.display()))?;
        let pid = child.id().ok_or_else(|| anyhow!("{} exited at once", launch.name))?;
        let ready = tokio::select! {
            polled = polled => polled.context("the Runtime API stopped")?,
            report = init_failed => {
                let report = report.unwrap_or_default();
                bail!("{} failed its init: {}", launch.name, String::from_utf8_lossy(&report))
            }
            status = child.wait() => bail!("{} exited during init ({:?}); log: {}", launch.name, status?, launch.log.display()),
            () = tokio::time::sleep(INIT_TIMEOUT) => bail!("{} did not ask for work within {INIT_TIMEOUT:?}", launch.name),
        };
        let process = Self {
            name: launch.name.to_owned(),
            child,
            pid,
            log: launch.log.to_owned(),
            queue,
            server,
            invocations: 0,
        };
        Ok((process, ready - spawned))
    }

    /// Hands one event to the function and waits for its answer.
    pub async fn invoke(&mut self, payload: &serde_json::Value) -> Result<Answer> {
        self.invocations += 1;
        let id = format!("bench-{}-{:06}", self.pid, self.invocations);
        let (answer, answered) = oneshot::channel();
        let pending = Pending { id, payload: Bytes::from(serde_json::to_vec(payload)?), answer };
        self.queue.send(pending).await.map_err(|_| anyhow!("the Runtime API of {} is gone", self.name))?;
        tokio::select! {
            answer = answered => answer.context("the Runtime API dropped an invocation"),
            status = self.child.wait() => bail!("{} exited mid-invocation ({:?}); log: {}", self.name, status?, self.log.display()),
            () = tokio::time::sleep(DEADLINE) => bail!("{} did not answer within {DEADLINE:?}", self.name),
        }
    }

    /// The process's peak resident set (VmHWM) so far, in KiB: what Lambda's "Max Memory Used" reports.
    pub fn peak_rss_kib(&self) -> Result<u64> {
        let status = std::fs::read_to_string(format!("/proc/{}/status", self.pid))
            .with_context(|| format!("reading /proc/{}/status", self.pid))?;
        status
            .lines()
            .find_map(|line| line.strip_prefix("VmHWM:"))
            .and_then(|value| value.trim().trim_end_matches("kB").trim().parse().ok())
            .ok_or_else(|| anyhow!("no VmHWM in /proc/{}/status", self.pid))
    }

    /// Stops the process as Lambda ends an environment (it is killed; nothing it does after is timed).
    pub async fn stop(mut self) -> Result<()> {
        self.server.abort();
        self.child.kill().await.with_context(|| format!("stopping {}", self.name))
    }
}
