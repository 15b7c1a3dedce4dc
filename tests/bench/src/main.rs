//! The benchmark harness: every function's release binary started as Lambda starts it, against
//! a local Runtime API and the local stack, measured beside the floor. Run it with `infra/bench`,
//! which starts the stack, builds the binaries and the zips, and passes their folders here.
//! What the figures mean: tests/bench/RESULTS.md.

mod events;
mod growth;
mod measure;
mod report;
mod runtime_api;
mod stack;
mod workloads;

use std::path::{Path, PathBuf};

use anyhow::{Context, Result, anyhow, bail};
use time::format_description::well_known::Rfc3339;

use crate::events::Samples;
use crate::measure::{Binaries, file_size, run_direct, run_function};
use crate::report::{Machine, Report, Row};
use crate::stack::Stack;
use crate::workloads::{
    CheckoutWork, Direct, Floor, InvoiceWork, NotificationWork, PaymentWork, PrivacyWork, ReviewWork, SignupWork,
    UnsubscribeWork, Workload,
};

const FUNCTIONS: [&str; 8] =
    ["signup", "checkout", "payment", "invoice", "review", "unsubscribe", "notification", "privacy"];

const USAGE: &str = "usage: mizan-bench --bin-dir DIR --out DIR [--zip-dir DIR] [--cold N] [--warm N] \
[--only fn,fn] [--no-growth]\n\
  --bin-dir  the release binaries (the functions and bench-floor)\n\
  --zip-dir  cargo lambda's output folder (<function>/bootstrap.zip); sizes are left out without it\n\
  --out      where results.json, results.md and the functions' logs go\n\
  --cold     cold starts per function (default 5)\n\
  --warm     warm invocations per function, and direct runs of the same mix (default 300)\n\
  --only     measure these functions only (the floor always)\n\
  --no-growth  skip the growth series\n\
Needs the local stack's environment (infra/bench exports it): MIZAN_STATE_DIR and the template's variables.";

struct Options {
    bin_dir: PathBuf,
    zip_dir: Option<PathBuf>,
    out: PathBuf,
    cold: usize,
    warm: usize,
    only: Vec<String>,
    growth: bool,
}

impl Options {
    fn parse() -> Result<Self> {
        let mut args = std::env::args().skip(1);
        let (mut bin_dir, mut zip_dir, mut out) = (None, None, None);
        let mut options = Options {
            bin_dir: PathBuf::new(),
            zip_dir: None,
            out: PathBuf::new(),
            cold: 5,
            warm: 300,
            only: FUNCTIONS.iter().map(|f| (*f).to_owned()).collect(),
            growth: true,
        };
        while let Some(arg) = args.next() {
            let mut value = || args.next().ok_or_else(|| anyhow!("{arg} needs a value\n{USAGE}"));
            match arg.as_str() {
                "--bin-dir" => bin_dir = Some(PathBuf::from(value()?)),
                "--zip-dir" => zip_dir = Some(PathBuf::from(value()?)),
                "--out" => out = Some(PathBuf::from(value()?)),
                "--cold" => options.cold = value()?.parse().context("--cold")?,
                "--warm" => options.warm = value()?.parse().context("--warm")?,
                "--only" => options.only = value()?.split(',').map(str::to_owned).collect(),
                "--no-growth" => options.growth = false,
                "-h" | "--help" => {
                    println!("{USAGE}");
                    std::process::exit(0);
                }
                other => bail!("unknown argument {other}\n{USAGE}"),
            }
        }
        if let Some(unknown) = options.only.iter().find(|f| !FUNCTIONS.contains(&f.as_str())) {
            bail!("--only: {unknown} is not one of {FUNCTIONS:?}");
        }
        if options.cold == 0 || options.warm < 2 {
            bail!("--cold must be at least 1 and --warm at least 2");
        }
        options.bin_dir = bin_dir.ok_or_else(|| anyhow!("--bin-dir is required\n{USAGE}"))?;
        options.out = out.ok_or_else(|| anyhow!("--out is required\n{USAGE}"))?;
        options.zip_dir = zip_dir;
        Ok(options)
    }

    fn zip_size(&self, function: &str) -> Option<u64> {
        self.zip_dir.as_ref().and_then(|dir| file_size(&dir.join(function).join("bootstrap.zip")))
    }
}

/// The variables of the stack's env file exactly as a shell sourcing it sees them, and nothing
/// else: a function on Lambda gets its template variables, not the caller's environment.
fn stack_env(state_dir: &Path) -> Result<Vec<(String, String)>> {
    let file = state_dir.join("env");
    let output = std::process::Command::new("bash")
        .env_clear()
        .args(["-c", r#"set -a; . "$1"; env -0"#, "bash"])
        .arg(&file)
        .output()
        .with_context(|| format!("sourcing {}", file.display()))?;
    if !output.status.success() {
        bail!("sourcing {} failed: {}", file.display(), String::from_utf8_lossy(&output.stderr));
    }
    let shell_own = ["PWD", "SHLVL", "_", "OLDPWD"];
    Ok(String::from_utf8(output.stdout)?
        .split('\0')
        .filter_map(|pair| pair.split_once('='))
        .filter(|(name, _)| !shell_own.contains(name))
        .map(|(name, value)| (name.to_owned(), value.to_owned()))
        .collect())
}

async fn measure<W: Direct>(options: &Options, binaries: &Binaries, report: &mut Vec<Row>, mut work: W) -> Result<()> {
    let function = work.function();
    eprintln!("== {function}: {} cold starts, {} warm invocations", options.cold, options.warm);
    let run = run_function(binaries, &mut work, options.cold, options.warm).await?;
    eprintln!("== {function}: the same mix directly, {} times", options.warm);
    let direct = run_direct(&mut work, options.warm).await?;
    let row = Row::new(function, &run, Some(&direct), options.zip_size(function));
    eprintln!(
        "   init {:.1} ms, first {:.1} ms, warm p50 {:.2} / p99 {:.2} ms (direct {:.2} / {:.2}), peak RSS {:.1} MiB",
        row.init_ms,
        row.first_ms,
        row.warm_p50_ms,
        row.warm_p99_ms,
        row.direct_p50_ms.unwrap_or_default(),
        row.direct_p99_ms.unwrap_or_default(),
        row.peak_rss_mib
    );
    report.push(row);
    Ok(())
}

#[tokio::main]
async fn main() -> Result<()> {
    let options = Options::parse()?;
    // At run time (cargo run sets it), not compile time: the shared target cache may hold a
    // binary built from another clone.
    let manifest_dir = std::env::var_os("CARGO_MANIFEST_DIR").unwrap_or_else(|| env!("CARGO_MANIFEST_DIR").into());
    let root = Path::new(&manifest_dir).join("../..").canonicalize()?;
    let state_dir = PathBuf::from(
        std::env::var("MIZAN_STATE_DIR").context("MIZAN_STATE_DIR is not set: run the benchmark with `infra/bench`")?,
    );
    let logs = options.out.join("logs");
    std::fs::create_dir_all(&logs).with_context(|| format!("creating {}", logs.display()))?;
    let binaries = Binaries { dir: options.bin_dir.clone(), stack_env: stack_env(&state_dir)?, logs };
    let started_at = time::OffsetDateTime::now_utc().format(&Rfc3339)?;
    let samples = Samples::new(&root);
    let stack = Stack::connect().await?;

    let mut floor_work = Floor::new(&samples)?;
    eprintln!("== floor: {} cold starts, {} warm invocations", options.cold, options.warm);
    let floor_run = run_function(&binaries, &mut floor_work, options.cold, options.warm).await?;
    let floor = Row::new(floor_work.function(), &floor_run, None, options.zip_size(floor_work.function()));

    // Authors and customers for every request of both runs (the function's and the direct one),
    // and for the cold starts: each posts or is changed at most a few times.
    let people = options.cold + options.warm + 8;
    let mut functions = Vec::new();
    for function in &options.only {
        match function.as_str() {
            "signup" => measure(&options, &binaries, &mut functions, SignupWork::new(&stack, &samples).await?).await?,
            "checkout" => {
                measure(&options, &binaries, &mut functions, CheckoutWork::new(&stack, &samples).await?).await?
            }
            "payment" => {
                measure(&options, &binaries, &mut functions, PaymentWork::new(&stack, &samples).await?).await?
            }
            "invoice" => {
                measure(&options, &binaries, &mut functions, InvoiceWork::new(&stack, &samples).await?).await?
            }
            "review" => {
                measure(&options, &binaries, &mut functions, ReviewWork::new(&stack, &samples, people).await?).await?
            }
            "unsubscribe" => {
                let work = UnsubscribeWork::new(&stack, &samples, people / 4).await?;
                measure(&options, &binaries, &mut functions, work).await?
            }
            "notification" => {
                let work = NotificationWork::new(&stack, &samples, people / 4).await?;
                measure(&options, &binaries, &mut functions, work).await?
            }
            "privacy" => {
                measure(&options, &binaries, &mut functions, PrivacyWork::new(&stack, &samples).await?).await?
            }
            other => bail!("no workload for {other}"),
        }
    }

    let growth = if options.growth { growth::run(&binaries, &stack, &samples).await? } else { Vec::new() };
    let report = Report { machine: Machine::this(), started_at, floor, functions, growth };
    let markdown = report.markdown();
    std::fs::write(options.out.join("results.md"), &markdown)?;
    std::fs::write(options.out.join("results.json"), serde_json::to_string_pretty(&report)?)?;
    println!("{markdown}");
    eprintln!("== written: {} and results.json", options.out.join("results.md").display());
    Ok(())
}
