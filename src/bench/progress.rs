//! The bench's progress line: an `indicatif` bar on a terminal, a plain line every few seconds
//! otherwise (CI logs).

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use indicatif::{ProgressBar, ProgressStyle};

pub struct Progress {
    bar: Option<ProgressBar>,
    last_line: Instant,
}

const PLAIN_EVERY: Duration = Duration::from_secs(5);

impl Progress {
    pub fn new() -> Self {
        let bar = std::io::stderr().is_terminal().then(|| {
            let b = ProgressBar::new(0);
            let style = ProgressStyle::with_template(
                "{spinner} {prefix:>10} [{bar:30}] {pos}/{len} {msg} ({elapsed})",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar())
            .progress_chars("=> ");
            b.set_style(style);
            b.enable_steady_tick(Duration::from_millis(200));
            b
        });
        Self {
            bar,
            last_line: Instant::now() - PLAIN_EVERY,
        }
    }

    /// Shows `done` of `total` in `phase`, with `detail`.
    pub fn update(&mut self, phase: &str, done: usize, total: usize, detail: &str) {
        match &self.bar {
            Some(b) => {
                b.set_prefix(phase.to_owned());
                b.set_length(total as u64);
                b.set_position(done as u64);
                b.set_message(detail.to_owned());
            }
            None if self.last_line.elapsed() >= PLAIN_EVERY => {
                self.last_line = Instant::now();
                eprintln!("bench: {phase} {done}/{total} {detail}");
            }
            None => {}
        }
    }

    /// A line that stays (phase results).
    pub fn println(&self, line: &str) {
        match &self.bar {
            Some(b) => b.println(line),
            None => eprintln!("bench: {line}"),
        }
    }

    pub fn finish(&self) {
        if let Some(b) = &self.bar {
            b.finish_and_clear();
        }
    }
}
