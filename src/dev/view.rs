//! Showing the board: a live table with a Ready/total progress bar on a terminal (indicatif), or
//! one line per change when stdout is not a terminal (CI logs, pipes).

use std::collections::HashMap;
use std::time::Duration;

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use k8s_openapi::jiff::Timestamp;

use super::board::{Board, Row};

/// How the board is shown.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    Live,
    Plain,
}

/// Column widths of the live table (a 100-column terminal fits them).
const W_KIND: usize = 14;
const W_NAME: usize = 28;
const W_FLAG: usize = 6;
const W_REASON: usize = 24;

/// `s` cut or padded to `w` characters, and the space that separates columns.
fn cell(s: &str, w: usize) -> String {
    let mut s: String = s.chars().take(w).collect();
    while s.chars().count() <= w {
        s.push(' ');
    }
    s
}

/// `5s`, `3m`, `2h`, `4d`, like kubectl's AGE.
pub fn age(created: Option<Timestamp>, now: Timestamp) -> String {
    let Some(c) = created else {
        return "-".to_owned();
    };
    let secs = now.as_second().saturating_sub(c.as_second()).max(0);
    match secs {
        s if s < 120 => format!("{s}s"),
        s if s < 2 * 3600 => format!("{}m", s / 60),
        s if s < 2 * 86400 => format!("{}h", s / 3600),
        s => format!("{}d", s / 86400),
    }
}

fn flag(s: &str) -> &str {
    if s.is_empty() { "-" } else { s }
}

/// One table line (also what the plain mode prints, with a timestamp in front).
pub fn line(r: &Row, now: Timestamp) -> String {
    let name = if r.namespace == "default" {
        r.name.clone()
    } else {
        format!("{}/{}", r.namespace, r.name)
    };
    format!(
        "{}{}{}{}{}{}",
        cell(&r.kind, W_KIND),
        cell(&name, W_NAME),
        cell(flag(&r.ready), W_FLAG),
        cell(flag(&r.synced), W_FLAG),
        cell(flag(&r.reason), W_REASON),
        age(r.created, now)
    )
}

fn header() -> String {
    format!(
        "{}{}{}{}{}AGE",
        cell("KIND", W_KIND),
        cell("NAME", W_NAME),
        cell("READY", W_FLAG),
        cell("SYNCED", W_FLAG),
        cell("REASON", W_REASON)
    )
}

/// Draws the board until the future is dropped.
pub async fn show(board: &Board, mode: Mode) {
    match mode {
        Mode::Live => live(board).await,
        Mode::Plain => plain(board).await,
    }
}

/// The live table's bars; dropping it (Ctrl-C, or everything Ready) leaves the last table on the
/// screen instead of clearing it.
struct Table {
    multi: MultiProgress,
    lines: Vec<ProgressBar>,
    summary: ProgressBar,
    text: ProgressStyle,
}

impl Drop for Table {
    fn drop(&mut self) {
        // Stop drawing and leave the lines as they are (clearing and reprinting them goes wrong
        // once the terminal has echoed ^C into the table).
        self.multi.set_draw_target(ProgressDrawTarget::hidden());
        println!();
    }
}

async fn live(board: &Board) {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stdout_with_hz(4));
    let text =
        ProgressStyle::with_template("{msg}").unwrap_or_else(|_| ProgressStyle::default_bar());
    // Printed above the bars, so it stays when they redraw.
    let _ = multi.println(header());
    let bar_style = ProgressStyle::with_template("{bar:50.green/white} {pos}/{len} Ready  {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("█▉▊▋▌▍▎▏ ");
    let summary = multi.add(ProgressBar::new(0).with_style(bar_style));
    let mut t = Table {
        multi,
        lines: Vec::new(),
        summary,
        text,
    };
    let mut changes = board.subscribe();
    loop {
        changes.borrow_and_update();
        let rows = board.rows();
        let now = Timestamp::now();
        while t.lines.len() < rows.len() {
            let pb = ProgressBar::new(0).with_style(t.text.clone());
            t.lines.push(t.multi.insert_before(&t.summary, pb));
        }
        while t.lines.len() > rows.len() {
            if let Some(pb) = t.lines.pop() {
                pb.finish_and_clear();
                t.multi.remove(&pb);
            }
        }
        for (pb, r) in t.lines.iter().zip(&rows) {
            pb.set_message(line(r, now));
        }
        let ready = rows.iter().filter(|r| r.is_ready()).count();
        t.summary.set_length(rows.len() as u64);
        t.summary.set_position(ready as u64);
        let state = if !board.listed() {
            "listing objects…"
        } else if rows.is_empty() {
            "no nno.app objects yet: kubectl apply -f your.yaml"
        } else if ready == rows.len() {
            "all Ready"
        } else {
            "converging"
        };
        t.summary.set_message(state);
        // Redraw on every change, and each second for the AGE column.
        let _ = tokio::time::timeout(Duration::from_secs(1), changes.changed()).await;
    }
}

async fn plain(board: &Board) {
    let mut last: HashMap<String, (String, String, String)> = HashMap::new();
    let mut last_summary = None;
    let mut changes = board.subscribe();
    loop {
        changes.borrow_and_update();
        let rows = board.rows();
        let now = Timestamp::now();
        let stamp = now.strftime("%H:%M:%S");
        let mut present = std::collections::HashSet::new();
        for r in &rows {
            present.insert(r.id());
            let state = (r.ready.clone(), r.synced.clone(), r.reason.clone());
            if last.get(&r.id()) != Some(&state) {
                let detail = if r.message.is_empty() || r.is_ready() && r.synced == "True" {
                    String::new()
                } else {
                    format!("  ({})", r.message)
                };
                println!("{stamp} {}{detail}", line(r, now));
                last.insert(r.id(), state);
            }
        }
        last.retain(|id, _| {
            let keep = present.contains(id);
            if !keep {
                println!("{stamp} {id} deleted");
            }
            keep
        });
        let ready = rows.iter().filter(|r| r.is_ready()).count();
        let summary = (board.listed(), ready, rows.len());
        if board.listed() && last_summary != Some(summary) {
            println!("{stamp} {ready}/{} Ready", rows.len());
            last_summary = Some(summary);
        }
        if changes.changed().await.is_err() {
            return;
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ages_read_like_kubectl() {
        let now: Timestamp = "2026-12-02T10:00:00Z".parse().unwrap();
        let at = |s: &str| Some(s.parse::<Timestamp>().unwrap());
        assert_eq!(age(at("2026-12-02T09:59:15Z"), now), "45s");
        assert_eq!(age(at("2026-12-02T09:50:00Z"), now), "10m");
        assert_eq!(age(at("2026-12-02T05:00:00Z"), now), "5h");
        assert_eq!(age(at("2026-11-28T10:00:00Z"), now), "4d");
        assert_eq!(age(None, now), "-");
    }

    #[test]
    fn a_line_fits_a_100_column_terminal() {
        let r = Row {
            kind: "ServicePackage".into(),
            namespace: "team-a".into(),
            name: "a-very-long-object-name-that-goes-on".into(),
            ready: "False".into(),
            synced: "True".into(),
            reason: "ReferenceNotReadyForLong".into(),
            message: String::new(),
            created: None,
        };
        let l = line(&r, Timestamp::now());
        assert!(l.chars().count() <= 100, "{l}");
        assert!(l.starts_with("ServicePackage team-a/a-very-long"), "{l}");
        assert!(header().chars().count() <= 100);
    }
}
