//! The figures of a run: a table per function with each figure's ratio to the floor, the
//! per-route detail, the growth series and the machine, as Markdown and as JSON.

use std::fmt::Write as _;
use std::time::Duration;

use serde::Serialize;

use crate::measure::{FunctionRun, Timed, median, percentile};

fn ms(duration: Duration) -> f64 {
    duration.as_secs_f64() * 1000.0
}

#[derive(Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
}

impl Machine {
    pub fn this() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let field = |text: &str, name: &str| {
            text.lines()
                .find(|line| line.starts_with(name))
                .and_then(|line| line.split_once(':'))
                .map(|(_, value)| value.trim().to_owned())
                .unwrap_or_else(|| "unknown".to_owned())
        };
        let memory_kib: f64 = field(&meminfo, "MemTotal").trim_end_matches("kB").trim().parse().unwrap_or(0.0);
        Self {
            cpus: std::thread::available_parallelism().map_or(0, |n| n.get()),
            cpu_model: field(&cpuinfo, "model name"),
            memory_gib: (memory_kib / 1024.0 / 1024.0 * 10.0).round() / 10.0,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease").unwrap_or_default().trim().to_owned(),
        }
    }
}

#[derive(Serialize)]
pub struct RouteRow {
    pub route: &'static str,
    pub count: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub direct_p50_ms: Option<f64>,
    pub direct_p99_ms: Option<f64>,
}

#[derive(Serialize)]
pub struct Row {
    pub function: String,
    pub cold_starts: usize,
    pub init_ms: f64,
    pub first_ms: f64,
    pub warm_count: usize,
    pub warm_p50_ms: f64,
    pub warm_p99_ms: f64,
    pub direct_p50_ms: Option<f64>,
    pub direct_p99_ms: Option<f64>,
    pub peak_rss_mib: f64,
    pub zip_bytes: Option<u64>,
    pub routes: Vec<RouteRow>,
}

impl Row {
    pub fn new(function: &str, run: &FunctionRun, direct: Option<&[Timed]>, zip_bytes: Option<u64>) -> Self {
        let durations = |timed: &[Timed], route: Option<&str>| -> Vec<Duration> {
            timed.iter().filter(|t| route.is_none_or(|r| t.route == r)).map(|t| t.took).collect()
        };
        let all = durations(&run.warm, None);
        let mut routes: Vec<&'static str> = Vec::new();
        for timed in &run.warm {
            if !routes.contains(&timed.route) {
                routes.push(timed.route);
            }
        }
        let direct_figures =
            |route: Option<&str>, percent: f64| direct.map(|timed| ms(percentile(&durations(timed, route), percent)));
        Self {
            function: function.to_owned(),
            cold_starts: run.inits.len(),
            init_ms: ms(median(&run.inits)),
            first_ms: ms(median(&run.firsts)),
            warm_count: all.len(),
            warm_p50_ms: ms(percentile(&all, 50.0)),
            warm_p99_ms: ms(percentile(&all, 99.0)),
            direct_p50_ms: direct_figures(None, 50.0),
            direct_p99_ms: direct_figures(None, 99.0),
            peak_rss_mib: run.peak_rss_kib as f64 / 1024.0,
            zip_bytes,
            routes: routes
                .into_iter()
                .map(|route| {
                    let mine = durations(&run.warm, Some(route));
                    RouteRow {
                        route,
                        count: mine.len(),
                        p50_ms: ms(percentile(&mine, 50.0)),
                        p99_ms: ms(percentile(&mine, 99.0)),
                        direct_p50_ms: direct_figures(Some(route), 50.0),
                        direct_p99_ms: direct_figures(Some(route), 99.0),
                    }
                })
                .collect(),
        }
    }
}

/// One point of a growth series: how much work, how long it took, how much memory.
#[derive(Serialize)]
pub struct GrowthPoint {
    pub series: &'static str,
    pub size: usize,
    pub unit: &'static str,
    pub invocations: usize,
    pub p50_ms: f64,
    pub p99_ms: f64,
    pub peak_rss_mib: f64,
    pub note: String,
}

#[derive(Serialize)]
pub struct Report {
    pub machine: Machine,
    pub started_at: String,
    pub floor: Row,
    pub functions: Vec<Row>,
    pub growth: Vec<GrowthPoint>,
}

fn ratio(value: f64, floor: f64) -> String {
    if floor > 0.0 { format!("{:.1}×", value / floor) } else { "—".to_owned() }
}

fn with_ratio(value: f64, floor: f64) -> String {
    format!("{value:.1} ({})", ratio(value, floor))
}

fn mib(bytes: Option<u64>) -> Option<f64> {
    bytes.map(|b| b as f64 / 1024.0 / 1024.0)
}

impl Report {
    pub fn markdown(&self) -> String {
        let floor = &self.floor;
        let mut out = String::new();
        let m = &self.machine;
        let _ = writeln!(
            out,
            "Machine: {} CPUs ({}), {} GiB memory, Linux {}. Run started {}.\n",
            m.cpus, m.cpu_model, m.memory_gib, m.kernel, self.started_at
        );
        out.push_str(
            "| function | init ms | first invocation ms | warm p50 ms | warm p99 ms | peak RSS MiB | zip MiB |\n\
             |---|---|---|---|---|---|---|\n",
        );
        let zip = |row: &Row| match (mib(row.zip_bytes), mib(floor.zip_bytes)) {
            (Some(size), Some(floor_size)) => format!("{size:.2} ({})", ratio(size, floor_size)),
            (Some(size), None) => format!("{size:.2}"),
            _ => "not built".to_owned(),
        };
        let _ = writeln!(
            out,
            "| **floor** (bare runtime, echo) | {:.1} | {:.2} | {:.2} | {:.2} | {:.1} | {} |",
            floor.init_ms,
            floor.first_ms,
            floor.warm_p50_ms,
            floor.warm_p99_ms,
            floor.peak_rss_mib,
            zip(floor)
        );
        for row in &self.functions {
            let warm = |value: f64, direct: Option<f64>| match direct {
                Some(direct) => format!("{value:.2} ({})", ratio(value, direct)),
                None => format!("{value:.2}"),
            };
            let _ = writeln!(
                out,
                "| {} | {} | {} | {} | {} | {} | {} |",
                row.function,
                with_ratio(row.init_ms, floor.init_ms),
                with_ratio(row.first_ms, floor.first_ms),
                warm(row.warm_p50_ms, row.direct_p50_ms),
                warm(row.warm_p99_ms, row.direct_p99_ms),
                with_ratio(row.peak_rss_mib, floor.peak_rss_mib),
                zip(row)
            );
        }
        out.push_str(
            "\nInit, first invocation, peak RSS and zip: the ratio is to the floor function's. Warm p50/p99: \
             the ratio is to the same operations made directly from one process (the floor of warm latency).\n\n",
        );
        out.push_str(
            "| function | route | n | p50 ms | p99 ms | direct p50 ms | direct p99 ms |\n|---|---|---|---|---|---|---|\n",
        );
        for row in &self.functions {
            for route in &row.routes {
                let direct = |value: Option<f64>| value.map_or("—".to_owned(), |v| format!("{v:.2}"));
                let _ = writeln!(
                    out,
                    "| {} | {} | {} | {:.2} | {:.2} | {} | {} |",
                    row.function,
                    route.route,
                    route.count,
                    route.p50_ms,
                    route.p99_ms,
                    direct(route.direct_p50_ms),
                    direct(route.direct_p99_ms)
                );
            }
        }
        if !self.growth.is_empty() {
            out.push_str(
                "\n| series | size | invocations | p50 ms | p99 ms | peak RSS MiB | note |\n|---|---|---|---|---|---|---|\n",
            );
            for point in &self.growth {
                let _ = writeln!(
                    out,
                    "| {} | {} {} | {} | {:.2} | {:.2} | {:.1} | {} |",
                    point.series,
                    point.size,
                    point.unit,
                    point.invocations,
                    point.p50_ms,
                    point.p99_ms,
                    point.peak_rss_mib,
                    point.note
                );
            }
        }
        out
    }
}
