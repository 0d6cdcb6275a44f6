//! The bench's child processes — the devcluster and the operator, each a `nno-operator` process of
//! its own so that it can be measured, SIGKILLed and restarted — and their RSS and CPU time, read
//! from `/proc`.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

/// Linux reports CPU times in `/proc/<pid>/stat` in clock ticks of USER_HZ, which the kernel ABI
/// fixes at 100 per second on every architecture we run on (read without libc's sysconf).
const TICKS_PER_SECOND: f64 = 100.0;

#[derive(Debug, thiserror::Error)]
pub enum ProcError {
    #[error("cannot start {what}: {source}")]
    Spawn {
        what: &'static str,
        source: std::io::Error,
    },
    #[error("{what} exited during start-up ({status}); its log: {log}")]
    Exited {
        what: &'static str,
        status: std::process::ExitStatus,
        log: String,
    },
    #[error("{what} did not come up within {timeout:?}; its log: {log}")]
    Timeout {
        what: &'static str,
        timeout: Duration,
        log: String,
    },
}

/// Memory and CPU of one process, as `/proc` shows them now.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
pub struct Usage {
    pub rss_bytes: u64,
    /// Peak RSS over the process's life (VmHWM).
    pub peak_rss_bytes: u64,
    pub cpu_seconds: f64,
}

/// Reads the usage of process `pid`; `None` once it is gone.
pub fn usage(pid: u32) -> Option<Usage> {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).ok()?;
    let stat = std::fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
    Some(Usage {
        rss_bytes: status_kib(&status, "VmRSS:")? * 1024,
        peak_rss_bytes: status_kib(&status, "VmHWM:")? * 1024,
        cpu_seconds: stat_cpu_ticks(&stat)? as f64 / TICKS_PER_SECOND,
    })
}

fn status_kib(status: &str, field: &str) -> Option<u64> {
    status
        .lines()
        .find_map(|l| l.strip_prefix(field))?
        .split_whitespace()
        .next()?
        .parse()
        .ok()
}

/// utime + stime of a `/proc/<pid>/stat` line. The command name (field 2) may hold spaces and
/// parentheses, so fields are counted from the last `)`.
fn stat_cpu_ticks(stat: &str) -> Option<u64> {
    let rest = &stat[stat.rfind(')')? + 1..];
    let fields: Vec<&str> = rest.split_whitespace().collect();
    // rest starts at field 3 (state); utime and stime are fields 14 and 15.
    let utime: u64 = fields.get(11)?.parse().ok()?;
    let stime: u64 = fields.get(12)?.parse().ok()?;
    Some(utime + stime)
}

/// A child `nno-operator` process, SIGKILLed when dropped so that a failing bench leaves none.
#[derive(Debug)]
pub struct ChildProc {
    what: &'static str,
    child: Child,
    log: PathBuf,
}

impl ChildProc {
    /// Starts `nno-operator <args>` with `env` added, its stdout and stderr appended to `log`.
    pub fn spawn(
        what: &'static str,
        args: &[String],
        env: &[(String, String)],
        log: &Path,
    ) -> Result<Self, ProcError> {
        let exe = std::env::current_exe().map_err(|source| ProcError::Spawn { what, source })?;
        let out = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(log)
            .map_err(|source| ProcError::Spawn { what, source })?;
        let err = out
            .try_clone()
            .map_err(|source| ProcError::Spawn { what, source })?;
        let child = Command::new(exe)
            .args(args)
            .envs(env.iter().map(|(k, v)| (k, v)))
            .stdin(Stdio::null())
            .stdout(out)
            .stderr(err)
            .spawn()
            .map_err(|source| ProcError::Spawn { what, source })?;
        Ok(Self {
            what,
            child,
            log: log.to_owned(),
        })
    }

    pub fn pid(&self) -> u32 {
        self.child.id()
    }

    pub fn usage(&self) -> Option<Usage> {
        usage(self.pid())
    }

    /// An error if the process has exited (for start-up checks).
    pub fn check_alive(&mut self) -> Result<(), ProcError> {
        match self.child.try_wait() {
            Ok(Some(status)) => Err(ProcError::Exited {
                what: self.what,
                status,
                log: self.log_tail(),
            }),
            _ => Ok(()),
        }
    }

    pub fn timeout(&self, timeout: Duration) -> ProcError {
        ProcError::Timeout {
            what: self.what,
            timeout,
            log: self.log_tail(),
        }
    }

    /// SIGKILL (std's `Child::kill` on Unix), then reap. Returns the usage read just before.
    pub fn kill(mut self) -> Option<Usage> {
        let last = self.usage();
        let _ = self.child.kill();
        let _ = self.child.wait();
        last
    }

    fn log_tail(&self) -> String {
        let text = std::fs::read_to_string(&self.log).unwrap_or_default();
        let lines: Vec<&str> = text.lines().collect();
        let tail = lines[lines.len().saturating_sub(20)..].join("\n");
        format!("{} (last lines:)\n{tail}", self.log.display())
    }
}

impl Drop for ChildProc {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// A free loopback port (bound, read, released: another process could take it in between, which
/// the caller's start-up check then reports).
pub fn free_port() -> std::io::Result<u16> {
    let l = std::net::TcpListener::bind("127.0.0.1:0")?;
    Ok(l.local_addr()?.port())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn reads_cpu_ticks_past_a_command_name_with_spaces() {
        let stat =
            "1234 (tokio (worker) x) S 1 1234 1234 0 -1 4194560 500 0 0 0 250 75 0 0 20 0 8 0";
        assert_eq!(stat_cpu_ticks(stat), Some(325));
    }

    #[test]
    fn reads_this_process() {
        let u = usage(std::process::id()).expect("own /proc entry");
        assert!(u.rss_bytes > 0 && u.peak_rss_bytes >= u.rss_bytes, "{u:?}");
        assert_eq!(status_kib("VmRSS:\t  2048 kB\n", "VmRSS:"), Some(2048));
    }
}
