//! The bench report: the scenario, the machine, every figure and the invariants, as JSON and as
//! Markdown.

use std::fmt::Write as _;
use std::path::{Path, PathBuf};

use serde::Serialize;

/// What was run.
#[derive(Debug, Clone, Serialize)]
pub struct Scenario {
    pub command: String,
    pub mix: String,
    pub objects: usize,
    pub orders: usize,
    pub latency_ms: u64,
    pub provision_delay_ms: u64,
    pub error_rate: f64,
    pub lost_reply_rate: f64,
    pub throttle_rate: f64,
    pub kill_every_s: Option<f64>,
    pub poll_interval_s: f64,
    pub transition_poll_interval_s: f64,
    pub max_concurrent_reconciles: u16,
    pub threenv_rate_limit: f64,
    pub threenv_burst: u32,
}

/// Where it ran.
#[derive(Debug, Clone, Serialize)]
pub struct Machine {
    pub cpus: usize,
    pub cpu_model: String,
    pub memory_gib: f64,
    pub kernel: String,
    pub started_at: String,
}

impl Machine {
    pub fn read() -> Self {
        let cpuinfo = std::fs::read_to_string("/proc/cpuinfo").unwrap_or_default();
        let meminfo = std::fs::read_to_string("/proc/meminfo").unwrap_or_default();
        let mem_kib: f64 = meminfo
            .lines()
            .find_map(|l| l.strip_prefix("MemTotal:"))
            .and_then(|v| v.split_whitespace().next())
            .and_then(|v| v.parse().ok())
            .unwrap_or(0.0);
        Self {
            cpus: std::thread::available_parallelism().map_or(1, |n| n.get()),
            cpu_model: cpuinfo
                .lines()
                .find_map(|l| l.strip_prefix("model name"))
                .map(|v| v.trim_start_matches([' ', '\t', ':']).trim().to_owned())
                .unwrap_or_else(|| "unknown".into()),
            memory_gib: mem_kib / 1024.0 / 1024.0,
            kernel: std::fs::read_to_string("/proc/sys/kernel/osrelease")
                .map(|s| s.trim().to_owned())
                .unwrap_or_else(|_| "unknown".into()),
            started_at: k8s_openapi::jiff::Timestamp::now().to_string(),
        }
    }
}

/// Requests to one endpoint in a phase.
#[derive(Debug, Clone, Serialize)]
pub struct EndpointCalls {
    pub api: String,
    pub method: String,
    pub path: String,
    pub calls: u64,
    /// `calls` divided by the objects of the phase (or by the poll intervals, for idle figures).
    pub per_unit: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Convergence {
    pub time_to_ready_s: Option<f64>,
    pub floor_s: f64,
    pub floor_explained: String,
    /// time to ready / floor.
    pub vs_floor: Option<f64>,
    pub calls: Vec<EndpointCalls>,
    pub calls_per_object: f64,
    pub threenv_calls_per_object: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Idle {
    pub intervals: u32,
    pub calls_per_interval: f64,
    /// Calls in each measured interval.
    pub by_interval: Vec<u64>,
    /// Seconds from all Ready to the end of the first poll interval with no more calls than the
    /// periodic lists; `None` when that did not come within `--settle-intervals`.
    pub quiet_after_ready_s: Option<f64>,
    pub calls: Vec<EndpointCalls>,
    /// (kind, location) pairs watched, plus the Pax8 intake's poll when orders are on: the
    /// expected calls per interval.
    pub kind_location_pairs: usize,
    /// What polling every object at the same interval would cost (one GET each).
    pub per_object_polling_per_interval: usize,
    /// per-object polling / ours.
    pub ratio: Option<f64>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Drift {
    pub object: String,
    pub corrected_after_s: Option<f64>,
    pub poll_interval_s: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct WakeLatency {
    pub changes: usize,
    pub observed: u64,
    pub p50_ms: Option<f64>,
    pub p99_ms: Option<f64>,
    pub touch_rate_per_s: f64,
}

#[derive(Debug, Clone, Default, Serialize)]
pub struct Resources {
    pub operator_peak_rss_mib: f64,
    pub operator_cpu_seconds: f64,
    pub operator_processes: u32,
    pub operator_kills: u32,
    pub devcluster_peak_rss_mib: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct Invariant {
    pub name: String,
    pub pass: bool,
    pub detail: String,
}

#[derive(Debug, Clone, Serialize)]
pub struct Report {
    pub scenario: Scenario,
    pub machine: Machine,
    pub convergence: Convergence,
    pub idle: Option<Idle>,
    pub drift: Option<Drift>,
    pub wake_latency: Option<WakeLatency>,
    pub time_to_deleted_s: Option<f64>,
    pub resources: Resources,
    pub invariants: Vec<Invariant>,
    pub notes: Vec<String>,
}

fn opt(v: Option<f64>, unit: &str) -> String {
    v.map_or_else(|| "—".to_owned(), |v| format!("{v:.2}{unit}"))
}

fn calls_table(out: &mut String, calls: &[EndpointCalls], unit: &str) {
    let _ = writeln!(out, "| API | method | endpoint | calls | per {unit} |");
    let _ = writeln!(out, "|---|---|---|---:|---:|");
    for c in calls {
        let _ = writeln!(
            out,
            "| {} | {} | `{}` | {} | {:.2} |",
            c.api, c.method, c.path, c.calls, c.per_unit
        );
    }
}

impl Report {
    pub fn failed(&self) -> Vec<&Invariant> {
        self.invariants.iter().filter(|i| !i.pass).collect()
    }

    pub fn markdown(&self) -> String {
        let s = &self.scenario;
        let m = &self.machine;
        let c = &self.convergence;
        let r = &self.resources;
        let mut out = String::new();
        let _ = writeln!(out, "### {} objects ({})\n", s.objects, s.mix);
        let _ = writeln!(out, "Command: `{}`\n", s.command);
        let _ = writeln!(
            out,
            "Machine: {} CPUs ({}), {:.1} GiB, Linux {}; started {}.\n",
            m.cpus, m.cpu_model, m.memory_gib, m.kernel, m.started_at
        );
        let _ = writeln!(
            out,
            "Settings: latency {} ms, provision delay {} ms, faults 5xx {:.0}% / lost replies {:.0}% / 429 {:.0}%, operator killed every {}, poll interval {} s (in transition {} s), {} concurrent reconciles, 3nv.io rate limit {}/s burst {}, Pax8 orders {}.\n",
            s.latency_ms,
            s.provision_delay_ms,
            s.error_rate * 100.0,
            s.lost_reply_rate * 100.0,
            s.throttle_rate * 100.0,
            s.kill_every_s
                .map_or_else(|| "never".to_owned(), |k| format!("{k} s")),
            s.poll_interval_s,
            s.transition_poll_interval_s,
            s.max_concurrent_reconciles,
            s.threenv_rate_limit,
            s.threenv_burst,
            s.orders
        );
        let _ = writeln!(out, "| figure | value |\n|---|---:|");
        let _ = writeln!(
            out,
            "| time to all Ready | {} |",
            opt(c.time_to_ready_s, " s")
        );
        let _ = writeln!(
            out,
            "| floor the configuration implies | {:.2} s |",
            c.floor_s
        );
        let _ = writeln!(out, "| time to Ready / floor | {} |", opt(c.vs_floor, "×"));
        let _ = writeln!(
            out,
            "| cloud calls per object to reach Ready (all APIs) | {:.2} |",
            c.calls_per_object
        );
        let _ = writeln!(
            out,
            "| 3nv.io calls per object to reach Ready | {:.2} |",
            c.threenv_calls_per_object
        );
        if let Some(i) = &self.idle {
            let _ = writeln!(
                out,
                "| idle cloud calls per poll interval | {:.2} (expected {}: one per watched kind and location, and the Pax8 poll with orders) |",
                i.calls_per_interval, i.kind_location_pairs
            );
            let series: Vec<String> = i.by_interval.iter().map(u64::to_string).collect();
            let _ = writeln!(
                out,
                "| idle cloud calls in each measured interval | {} |",
                series.join(", ")
            );
            let _ = writeln!(
                out,
                "| quiet (only the periodic lists) after all Ready | {} |",
                opt(i.quiet_after_ready_s, " s")
            );
            let _ = writeln!(
                out,
                "| per-object polling at the same interval | {} calls ({}) |",
                i.per_object_polling_per_interval,
                opt(i.ratio, "× ours")
            );
        }
        if let Some(d) = &self.drift {
            let _ = writeln!(
                out,
                "| drift made in the simulator corrected after | {} (poll interval {} s) |",
                opt(d.corrected_after_s, " s"),
                d.poll_interval_s
            );
        }
        if let Some(w) = &self.wake_latency {
            let _ = writeln!(
                out,
                "| watch event → reconcile start p50 / p99 | {} / {} ({} changes at {}/s) |",
                opt(w.p50_ms, " ms"),
                opt(w.p99_ms, " ms"),
                w.observed,
                w.touch_rate_per_s
            );
        }
        let _ = writeln!(
            out,
            "| time to all deleted | {} |",
            opt(self.time_to_deleted_s, " s")
        );
        let _ = writeln!(
            out,
            "| operator peak RSS | {:.1} MiB |",
            r.operator_peak_rss_mib
        );
        let _ = writeln!(
            out,
            "| operator CPU time | {:.1} s over {} process(es), {} SIGKILLed |",
            r.operator_cpu_seconds, r.operator_processes, r.operator_kills
        );
        let _ = writeln!(
            out,
            "| devcluster peak RSS | {:.1} MiB |",
            r.devcluster_peak_rss_mib
        );
        let _ = writeln!(out, "\nFloor: {}\n", c.floor_explained);
        let _ = writeln!(out, "Invariants:\n");
        for i in &self.invariants {
            let verdict = if i.pass { "PASS" } else { "FAIL" };
            let _ = writeln!(out, "- **{verdict}** {}: {}", i.name, i.detail);
        }
        let _ = writeln!(out, "\nCloud calls to reach Ready, by endpoint:\n");
        calls_table(&mut out, &c.calls, "object");
        if let Some(i) = &self.idle {
            let _ = writeln!(
                out,
                "\nIdle calls over {} poll intervals, by endpoint:\n",
                i.intervals
            );
            calls_table(&mut out, &i.calls, "interval");
        }
        if !self.notes.is_empty() {
            let _ = writeln!(out, "\nNotes:\n");
            for n in &self.notes {
                let _ = writeln!(out, "- {n}");
            }
        }
        out
    }

    /// Writes `<base>.md` and `<base>.json`; returns both paths.
    pub fn write(&self, base: &Path) -> std::io::Result<(PathBuf, PathBuf)> {
        let base = match base.extension().and_then(|e| e.to_str()) {
            Some("md" | "json") => base.with_extension(""),
            _ => base.to_owned(),
        };
        if let Some(dir) = base.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir)?;
        }
        let md = base.with_extension("md");
        let json = base.with_extension("json");
        std::fs::write(&md, self.markdown())?;
        let text = serde_json::to_string_pretty(self).map_err(std::io::Error::other)?;
        std::fs::write(&json, text)?;
        Ok((md, json))
    }
}
