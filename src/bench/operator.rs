//! The operator under test: a `nno-operator run` child process, SIGKILLed and restarted on the
//! `--kill-every` cadence while that is switched on, with its peak RSS and CPU time summed over
//! every process it was.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::{Duration, Instant};

use super::procs::{ChildProc, ProcError};

pub struct Operator {
    args: Vec<String>,
    env: Vec<(String, String)>,
    log: PathBuf,
    http: SocketAddr,
    proc: Option<ChildProc>,
    kill_every: Option<Duration>,
    next_kill: Option<Instant>,
    http_client: reqwest::Client,
    pub kills: u32,
    pub processes: u32,
    cpu_of_killed: f64,
    peak_rss: u64,
}

impl Operator {
    /// Starts the first process (`nno-operator run <args>`, serving HTTP on `http`).
    pub fn start(
        args: Vec<String>,
        env: Vec<(String, String)>,
        http: SocketAddr,
        log: PathBuf,
        kill_every: Option<Duration>,
    ) -> Result<Self, ProcError> {
        let mut op = Self {
            args,
            env,
            log,
            http,
            proc: None,
            kill_every,
            next_kill: None,
            http_client: reqwest::Client::new(),
            kills: 0,
            processes: 0,
            cpu_of_killed: 0.0,
            peak_rss: 0,
        };
        op.spawn()?;
        Ok(op)
    }

    fn spawn(&mut self) -> Result<(), ProcError> {
        self.proc = Some(ChildProc::spawn(
            "the operator",
            &self.args,
            &self.env,
            &self.log,
        )?);
        self.processes += 1;
        Ok(())
    }

    /// From now on, SIGKILL the operator every `--kill-every` (no-op without it).
    pub fn start_killing(&mut self) {
        self.next_kill = self.kill_every.map(|k| Instant::now() + k);
    }

    pub fn stop_killing(&mut self) {
        self.next_kill = None;
    }

    /// Samples the process and, when a kill is due, SIGKILLs it and starts the next one.
    pub fn tick(&mut self) -> Result<(), ProcError> {
        if let Some(u) = self.proc.as_ref().and_then(|p| p.usage()) {
            self.peak_rss = self.peak_rss.max(u.peak_rss_bytes);
        }
        let (Some(due), Some(every)) = (self.next_kill, self.kill_every) else {
            return Ok(());
        };
        if Instant::now() < due {
            return Ok(());
        }
        if let Some(p) = self.proc.take()
            && let Some(u) = p.kill()
        {
            self.peak_rss = self.peak_rss.max(u.peak_rss_bytes);
            self.cpu_of_killed += u.cpu_seconds;
        }
        self.kills += 1;
        self.next_kill = Some(Instant::now() + every);
        self.spawn()
    }

    /// Waits until the current process answers `/healthz` (and is still running).
    pub async fn wait_healthy(&mut self, timeout: Duration) -> Result<(), ProcError> {
        let deadline = Instant::now() + timeout;
        let url = format!("http://{}/healthz", self.http);
        loop {
            if let Some(p) = self.proc.as_mut() {
                p.check_alive()?;
            }
            let ok = self
                .http_client
                .get(&url)
                .timeout(Duration::from_secs(2))
                .send()
                .await
                .is_ok_and(|r| r.status().is_success());
            if ok {
                return Ok(());
            }
            if Instant::now() >= deadline {
                return Err(match &self.proc {
                    Some(p) => p.timeout(timeout),
                    None => ProcError::Timeout {
                        what: "the operator",
                        timeout,
                        log: self.log.display().to_string(),
                    },
                });
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }

    /// The current process's `/metrics` and its pid (to tell whether two scrapes are of one process).
    pub async fn metrics(&self) -> Option<(u32, String)> {
        let pid = self.proc.as_ref()?.pid();
        let text = self
            .http_client
            .get(format!("http://{}/metrics", self.http))
            .timeout(Duration::from_secs(10))
            .send()
            .await
            .ok()?
            .text()
            .await
            .ok()?;
        Some((pid, text))
    }

    /// Stops the last process; returns (peak RSS bytes, CPU seconds) over every process.
    pub fn finish(mut self) -> (u64, f64) {
        let mut cpu = self.cpu_of_killed;
        if let Some(p) = self.proc.take()
            && let Some(u) = p.kill()
        {
            self.peak_rss = self.peak_rss.max(u.peak_rss_bytes);
            cpu += u.cpu_seconds;
        }
        (self.peak_rss, cpu)
    }
}
