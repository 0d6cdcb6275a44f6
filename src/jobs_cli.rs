//! `nno-operator jobs …`: the NNO provisioning service's job and DLQ endpoints for operators —
//! list, get, retry, cancel, force-complete, DLQ list and replay — as aligned tables with
//! relative times, or JSON (`-o json`). Failures exit non-zero with the API's own message.

use anyhow::Context;
use k8s_openapi::jiff::Timestamp;
use serde::Serialize;
use serde_json::Value;

use crate::cloud::ApiError;
use crate::cloud::Secret;
use crate::cloud::nno::{DlqEntry, Job, JobQuery, NnoClient};

/// Why a `jobs` command failed; the API's own message is part of the text.
#[derive(Debug, thiserror::Error)]
pub enum JobsCliError {
    /// The `--nno-url` cannot be used.
    #[error("--nno-url {url:?}: {error}")]
    Url { url: String, error: ApiError },
    /// The API refused the call or could not be reached.
    #[error("{error}{}", request_id(error))]
    Api { error: ApiError },
    /// The output could not be rendered as JSON.
    #[error("rendering JSON")]
    Json(#[from] serde_json::Error),
}

impl From<ApiError> for JobsCliError {
    fn from(error: ApiError) -> Self {
        Self::Api { error }
    }
}

fn request_id(e: &ApiError) -> String {
    match e {
        ApiError::Rejected {
            request_id: Some(id),
            ..
        } => format!(" (requestId {id})"),
        _ => String::new(),
    }
}

/// Output format.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, clap::ValueEnum)]
pub enum Output {
    /// Aligned columns with relative times, for people.
    #[default]
    Table,
    /// The API's objects as pretty-printed JSON, for scripts.
    Json,
}

/// Flags of `nno-operator jobs`.
#[derive(Debug, Clone, clap::Args)]
pub struct JobsArgs {
    /// NNO provisioning API root, `scheme://host[:port]` (as on `run`).
    #[arg(
        long,
        global = true,
        env = "NNO_URL",
        default_value = "https://provisioning.svc.nno.app"
    )]
    pub nno_url: String,
    /// Bearer token of the NNO provisioning API (as on `run`; never printed).
    #[arg(long, global = true, env = "NNO_PROVISIONING_TOKEN", hide_env_values = true, value_parser = parse_secret)]
    pub nno_token: Option<Secret>,
    /// Output format: `table` (aligned columns, relative times) or `json` (the API's objects).
    #[arg(short = 'o', long, global = true, value_enum, default_value_t)]
    pub output: Output,
    #[command(subcommand)]
    pub command: JobsCommand,
}

fn parse_secret(s: &str) -> Result<Secret, String> {
    Ok(Secret::new(s.trim()))
}

/// The operator-only job and DLQ commands.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum JobsCommand {
    /// List jobs, newest first: id, type, platform, status, attempts, created/updated, reason.
    List {
        /// Only jobs of this platform id (`spec.platformId` of a Platform).
        #[arg(long, value_name = "ID")]
        platform: Option<String>,
        /// Only jobs in this status: QUEUED, RUNNING, COMPLETED or FAILED (any case).
        #[arg(long, value_name = "S")]
        status: Option<String>,
        /// Show at most this many jobs (pages of 100 are followed).
        #[arg(long, default_value_t = 100, value_name = "N")]
        limit: usize,
    },
    /// Show one job with its payload and result.
    Get {
        /// The job id (`job_…`), as shown by `jobs list` or in a Platform's `status.jobs`.
        id: String,
    },
    /// Re-queue a FAILED job (`POST /jobs/{id}/retry`); other states are refused by the API.
    Retry {
        /// The job id.
        id: String,
    },
    /// Stop a QUEUED or RUNNING job: it becomes FAILED ("Cancelled by operator").
    Cancel {
        /// The job id.
        id: String,
    },
    /// Mark a job COMPLETED without running it (repair only: nothing is provisioned).
    ForceComplete {
        /// The job id.
        id: String,
    },
    /// The dead-letter queue: jobs that failed and were not retried.
    Dlq {
        /// `list` or `replay ENTRY`.
        #[command(subcommand)]
        command: DlqCommand,
    },
}

/// `nno-operator jobs dlq …`.
#[derive(Debug, Clone, clap::Subcommand)]
pub enum DlqCommand {
    /// List the dead-letter entries: entry id, job id, type, platform, attempts, age, reason.
    List,
    /// Re-queue the job of a dead-letter entry and remove the entry.
    Replay {
        /// The entry id (`dlq_…`), as shown by `jobs dlq list`.
        entry: String,
    },
}

/// Runs the command, printing its output on stdout.
pub async fn run(args: JobsArgs) -> anyhow::Result<()> {
    let text = execute(&args, Timestamp::now()).await?;
    crate::cli::write_stdout(&text).context("cannot write to stdout")?;
    Ok(())
}

fn json<T: Serialize>(v: &T) -> Result<String, JobsCliError> {
    Ok(format!("{}\n", serde_json::to_string_pretty(v)?))
}

/// The command's output (for `now`, the reference of relative times).
pub async fn execute(args: &JobsArgs, now: Timestamp) -> Result<String, JobsCliError> {
    let client = NnoClient::new(
        &args.nno_url,
        args.nno_token.clone().filter(|t| !t.is_empty()),
    )
    .map_err(|error| JobsCliError::Url {
        url: args.nno_url.clone(),
        error,
    })?;
    let o = args.output;
    let out = match &args.command {
        JobsCommand::List {
            platform,
            status,
            limit,
        } => {
            let q = JobQuery {
                platform_id: platform.clone(),
                status: status.as_ref().map(|s| s.to_ascii_uppercase()),
                limit: Some((*limit).clamp(1, 100) as u32),
                cursor: None,
            };
            let mut jobs = client.list_all_jobs(&q, limit.div_ceil(100).max(1)).await?;
            jobs.truncate(*limit);
            match o {
                Output::Json => json(&jobs)?,
                Output::Table => jobs_table(&jobs, now),
            }
        }
        JobsCommand::Get { id } => {
            let job = client.get_job(id).await?;
            match o {
                Output::Json => json(&job)?,
                Output::Table => job_details(&job, now),
            }
        }
        JobsCommand::Retry { id } => {
            let r = client.retry_job(id).await?;
            match o {
                Output::Json => json(&r)?,
                Output::Table => format!("job {} re-queued: {}\n", r.job_id, r.status.as_str()),
            }
        }
        JobsCommand::Cancel { id } => {
            let r = client.cancel_job(id).await?;
            match o {
                Output::Json => json(&r)?,
                Output::Table => format!(
                    "job {} cancelled: {}{}\n",
                    r.job_id,
                    r.status.as_str(),
                    r.reason.map(|x| format!(" ({x})")).unwrap_or_default()
                ),
            }
        }
        JobsCommand::ForceComplete { id } => {
            let r = client.force_complete_job(id).await?;
            match o {
                Output::Json => json(&r)?,
                Output::Table => format!("job {} forced: {}\n", r.job_id, r.status.as_str()),
            }
        }
        JobsCommand::Dlq { command } => match command {
            DlqCommand::List => {
                let entries = client.list_all_dlq(50).await?;
                match o {
                    Output::Json => json(&entries)?,
                    Output::Table => dlq_table(&entries, now),
                }
            }
            DlqCommand::Replay { entry } => {
                let r = client.replay_dlq(entry).await?;
                match o {
                    Output::Json => json(&r)?,
                    Output::Table => format!(
                        "DLQ entry {} replayed: job {} {}\n",
                        r.entry_id,
                        r.job_id,
                        r.status.as_str()
                    ),
                }
            }
        },
    };
    Ok(out)
}

/// "5s ago", "3m ago", "2h ago", "4d ago"; "-" when absent or unreadable.
pub fn ago(t: Option<&str>, now: Timestamp) -> String {
    let Some(ts) = t.and_then(|t| t.parse::<Timestamp>().ok()) else {
        return "-".to_owned();
    };
    let secs = now.as_second() - ts.as_second();
    if secs < 0 {
        return "just now".to_owned();
    }
    match secs {
        0..60 => format!("{secs}s ago"),
        60..3600 => format!("{}m ago", secs / 60),
        3600..86400 => format!("{}h ago", secs / 3600),
        _ => format!("{}d ago", secs / 86400),
    }
}

/// Left-aligned columns separated by three spaces; the last column is not padded.
pub fn table(header: &[&str], rows: &[Vec<String>]) -> String {
    let mut widths: Vec<usize> = header.iter().map(|h| h.chars().count()).collect();
    for r in rows {
        for (i, c) in r.iter().enumerate() {
            if let Some(w) = widths.get_mut(i) {
                *w = (*w).max(c.chars().count());
            }
        }
    }
    let line = |cells: Vec<String>| {
        let n = cells.len();
        let mut s = String::new();
        for (i, c) in cells.into_iter().enumerate() {
            if i + 1 == n {
                s.push_str(&c);
            } else {
                let pad = widths[i] - c.chars().count();
                s.push_str(&c);
                s.push_str(&" ".repeat(pad + 3));
            }
        }
        format!("{}\n", s.trim_end())
    };
    let mut out = line(header.iter().map(|h| (*h).to_owned()).collect());
    for r in rows {
        out.push_str(&line(r.clone()));
    }
    out
}

fn dash(s: Option<&str>) -> String {
    s.filter(|s| !s.is_empty()).unwrap_or("-").to_owned()
}

fn jobs_table(jobs: &[Job], now: Timestamp) -> String {
    if jobs.is_empty() {
        return "No jobs.\n".to_owned();
    }
    let rows: Vec<Vec<String>> = jobs
        .iter()
        .map(|j| {
            vec![
                j.job_id.clone(),
                dash(j.kind.as_deref()),
                dash(j.platform_id.as_deref()),
                j.status.as_str().to_owned(),
                j.attempts.map_or("-".into(), |a| a.to_string()),
                ago(j.created_at.as_deref(), now),
                ago(j.updated_at.as_deref(), now),
                dash(j.reason.as_deref()),
            ]
        })
        .collect();
    table(
        &[
            "JOB ID", "TYPE", "PLATFORM", "STATUS", "ATTEMPTS", "CREATED", "UPDATED", "REASON",
        ],
        &rows,
    )
}

fn job_details(j: &Job, now: Timestamp) -> String {
    let when = |k: &str, t: Option<&str>| {
        (
            k.to_owned(),
            match t {
                Some(t) => format!("{t} ({})", ago(Some(t), now)),
                None => "-".into(),
            },
        )
    };
    let mut rows = vec![
        ("Job ID".to_owned(), j.job_id.clone()),
        ("Type".to_owned(), dash(j.kind.as_deref())),
        ("Platform".to_owned(), dash(j.platform_id.as_deref())),
        ("Status".to_owned(), j.status.as_str().to_owned()),
        (
            "Attempts".to_owned(),
            j.attempts.map_or("-".into(), |a| a.to_string()),
        ),
        ("Reason".to_owned(), dash(j.reason.as_deref())),
        when("Created", j.created_at.as_deref()),
        when("Updated", j.updated_at.as_deref()),
    ];
    for k in ["startedAt", "completedAt"] {
        if let Some(Value::String(t)) = j.extra.get(k) {
            let label = if k == "startedAt" {
                "Started"
            } else {
                "Completed"
            };
            rows.push(when(label, Some(t)));
        }
    }
    let compact = |v: &Option<Value>| v.as_ref().map_or("-".into(), |v| v.to_string());
    rows.push(("Payload".to_owned(), compact(&j.payload)));
    rows.push(("Result".to_owned(), compact(&j.result)));
    let width = rows.iter().map(|(k, _)| k.len()).max().unwrap_or(0);
    rows.iter()
        .map(|(k, v)| format!("{:<w$}   {v}\n", format!("{k}:"), w = width + 1))
        .collect()
}

fn dlq_table(entries: &[DlqEntry], now: Timestamp) -> String {
    if entries.is_empty() {
        return "The dead-letter queue is empty.\n".to_owned();
    }
    let rows: Vec<Vec<String>> = entries
        .iter()
        .map(|e| {
            vec![
                e.entry_id.clone(),
                dash(e.job_id.as_deref()),
                dash(e.kind.as_deref()),
                dash(e.platform_id.as_deref()),
                e.attempts.map_or("-".into(), |a| a.to_string()),
                ago(e.created_at.as_deref(), now),
                dash(e.reason.as_deref()),
            ]
        })
        .collect();
    table(
        &[
            "ENTRY ID", "JOB ID", "TYPE", "PLATFORM", "ATTEMPTS", "AGE", "REASON",
        ],
        &rows,
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_times() {
        let now: Timestamp = "2025-01-01T12:00:00Z".parse().unwrap();
        assert_eq!(ago(Some("2025-01-01T11:59:55Z"), now), "5s ago");
        assert_eq!(ago(Some("2025-01-01T11:57:00.000Z"), now), "3m ago");
        assert_eq!(ago(Some("2025-01-01T10:00:00Z"), now), "2h ago");
        assert_eq!(ago(Some("2024-12-28T12:00:00Z"), now), "4d ago");
        assert_eq!(ago(None, now), "-");
        assert_eq!(ago(Some("garbage"), now), "-");
    }

    #[test]
    fn columns_align() {
        let t = table(
            &["A", "BB", "C"],
            &[
                vec!["xxxx".into(), "y".into(), "z".into()],
                vec!["1".into(), "2".into(), "3".into()],
            ],
        );
        assert_eq!(t, "A      BB   C\nxxxx   y    z\n1      2    3\n");
    }
}
