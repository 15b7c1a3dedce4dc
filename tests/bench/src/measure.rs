//! Running one function through its cold starts and a warm run, and the same work directly.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::{Context, Result};

use crate::runtime_api::{FunctionProcess, Launch};
use crate::workloads::{Direct, Workload};

/// Where the release binaries are, what environment they get and where their output goes.
pub struct Binaries {
    pub dir: PathBuf,
    pub stack_env: Vec<(String, String)>,
    pub logs: PathBuf,
}

impl Binaries {
    pub async fn start(&self, function: &str) -> Result<(FunctionProcess, Duration)> {
        self.start_with(function, &[]).await
    }

    /// Starts the function with some of the stack's variables replaced.
    pub async fn start_with(&self, function: &str, overrides: &[(&str, &str)]) -> Result<(FunctionProcess, Duration)> {
        let binary = self.dir.join(function);
        let log = self.logs.join(format!("{function}.log"));
        let mut env: Vec<(String, String)> =
            self.stack_env.iter().filter(|(name, _)| !overrides.iter().any(|(o, _)| o == name)).cloned().collect();
        env.extend(overrides.iter().map(|(name, value)| ((*name).to_owned(), (*value).to_owned())));
        FunctionProcess::start(&Launch { name: function, binary: &binary, stack_env: &env, log: &log })
            .await
            .with_context(|| format!("starting {}", binary.display()))
    }

    pub fn log_of(&self, function: &str) -> PathBuf {
        self.logs.join(format!("{function}.log"))
    }
}

pub struct Timed {
    pub route: &'static str,
    pub took: Duration,
}

pub struct FunctionRun {
    /// Spawn to first `GET /next`, one per cold start.
    pub inits: Vec<Duration>,
    /// The first invocation of each cold start.
    pub firsts: Vec<Duration>,
    pub warm: Vec<Timed>,
    /// VmHWM after the warm run.
    pub peak_rss_kib: u64,
}

/// `cold_starts` fresh processes each get one event (the first kind); the last one then serves
/// `warm` more, the mix the workload defines.
pub async fn run_function<W: Workload>(
    binaries: &Binaries,
    work: &mut W,
    cold_starts: usize,
    warm: usize,
) -> Result<FunctionRun> {
    let function = work.function();
    let kinds = work.kinds();
    let mut run = FunctionRun { inits: Vec::new(), firsts: Vec::new(), warm: Vec::new(), peak_rss_kib: 0 };
    for start in 0..cold_starts {
        // The event is made first: making one may write to the stack, which must not overlap the init.
        let event = work.event(start * kinds).await?;
        let (mut process, init) = binaries.start(function).await?;
        let answer = process.invoke(&event.payload).await?;
        event.check(answer.failed, &answer.body).with_context(|| context(binaries, function))?;
        run.inits.push(init);
        run.firsts.push(answer.took);
        if start + 1 < cold_starts {
            process.stop().await?;
            continue;
        }
        for i in 0..warm {
            let event = work.event(cold_starts * kinds + i).await?;
            let answer = process.invoke(&event.payload).await?;
            event.check(answer.failed, &answer.body).with_context(|| context(binaries, function))?;
            run.warm.push(Timed { route: event.route, took: answer.took });
        }
        run.peak_rss_kib = process.peak_rss_kib()?;
        process.stop().await?;
    }
    Ok(run)
}

fn context(binaries: &Binaries, function: &str) -> String {
    format!("{function} (its output: {})", binaries.log_of(function).display())
}

/// The same mix made directly, after one round of each kind to open the connections: the floor
/// of warm latency.
pub async fn run_direct<D: Direct>(work: &mut D, count: usize) -> Result<Vec<Timed>> {
    let kinds = work.kinds();
    for i in 0..kinds {
        work.direct(i).await?;
    }
    let mut timed = Vec::with_capacity(count);
    for i in kinds..kinds + count {
        let started = Instant::now();
        let route = work.direct(i).await?;
        timed.push(Timed { route, took: started.elapsed() });
    }
    Ok(timed)
}

/// The value below which `percent` of the samples lie (nearest rank); zero for no samples.
pub fn percentile(samples: &[Duration], percent: f64) -> Duration {
    let mut sorted = samples.to_vec();
    sorted.sort();
    if sorted.is_empty() {
        return Duration::ZERO;
    }
    let rank = ((percent / 100.0) * sorted.len() as f64).ceil() as usize;
    sorted[rank.clamp(1, sorted.len()) - 1]
}

pub fn median(samples: &[Duration]) -> Duration {
    percentile(samples, 50.0)
}

/// The size of a file, or `None` when it was not built.
pub fn file_size(path: &Path) -> Option<u64> {
    std::fs::metadata(path).ok().map(|m| m.len())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn ms(values: &[u64]) -> Vec<Duration> {
        values.iter().map(|v| Duration::from_millis(*v)).collect()
    }

    #[test]
    fn percentiles_are_nearest_rank() {
        let samples = ms(&(1..=100).rev().collect::<Vec<_>>());
        assert_eq!(percentile(&samples, 50.0), Duration::from_millis(50));
        assert_eq!(percentile(&samples, 99.0), Duration::from_millis(99));
        assert_eq!(percentile(&ms(&[7]), 99.0), Duration::from_millis(7));
        assert_eq!(median(&ms(&[3, 1, 2])), Duration::from_millis(2));
        assert_eq!(percentile(&[], 50.0), Duration::ZERO);
    }
}
