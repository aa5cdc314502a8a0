//! Following a run to its end: a live bar on a terminal, a line per change elsewhere.

use std::io::IsTerminal;
use std::time::{Duration, Instant};

use kube::Api;

use super::{CliError, readable};
use crate::api::TestRun;
use crate::report;

/// Follows the run until it ends, showing progress: a live bar (indicatif) on a terminal, a log
/// line per change otherwise. An API error on the way is said and retried until the timeout
/// (one failed read does not end the wait); Ctrl-C ends it.
pub(super) async fn follow(
    runs: &Api<TestRun>,
    name: &str,
    timeout: Duration,
) -> Result<TestRun, CliError> {
    let started = Instant::now();
    let terminal = std::io::stderr().is_terminal();
    let bar = if terminal {
        live_bar()
    } else {
        indicatif::ProgressBar::hidden()
    };
    // Said above the bar on a terminal, as a line of its own elsewhere.
    let say = |text: String| bar.suspend(|| eprintln!("{text}"));
    let mut last = String::new();
    let interrupted = tokio::signal::ctrl_c();
    tokio::pin!(interrupted);
    loop {
        match runs.get(name).await {
            Ok(run) => {
                let line = progress(&run, started.elapsed());
                if terminal {
                    show(&bar, &run);
                } else if line_key(&line) != line_key(&last) {
                    eprintln!("{line}");
                }
                last = line;
                if super::finished(&run) {
                    bar.finish();
                    return Ok(run);
                }
            }
            Err(kube::Error::Api(s)) if s.code == 404 => {
                bar.abandon();
                return Err(CliError::Invalid(format!(
                    "TestRun {name} was deleted while it ran"
                )));
            }
            Err(e) => {
                say(format!(
                    "reading TestRun {name}: {}; retrying",
                    readable(&e)
                ));
                last.clear();
            }
        }
        if started.elapsed() >= timeout {
            bar.abandon();
            return Err(CliError::Invalid(format!(
                "TestRun {name} did not finish within {}s (it goes on in the cluster)",
                timeout.as_secs()
            )));
        }
        tokio::select! {
            _ = tokio::time::sleep(Duration::from_secs(1)) => {}
            _ = &mut interrupted => {
                bar.abandon();
                return Err(CliError::Invalid(format!(
                    "interrupted: stopped following TestRun {name} (it goes on in the cluster \
                     only if a deployed controller serves it)"
                )));
            }
        }
    }
}

/// The terminal's progress bar: judged of total probes, the counts, the time so far.
pub(super) fn live_bar() -> indicatif::ProgressBar {
    let bar = indicatif::ProgressBar::new(0);
    if let Ok(style) = indicatif::ProgressStyle::with_template(
        "{spinner} {prefix} [{bar:24}] {pos}/{len} judged ({msg}) {elapsed}",
    ) {
        bar.set_style(style.progress_chars("=> "));
    }
    bar.enable_steady_tick(Duration::from_millis(250));
    bar
}

pub(super) fn show(bar: &indicatif::ProgressBar, run: &TestRun) {
    let (phase, s) = report::phase_and_summary(run);
    bar.set_prefix(phase);
    bar.set_length(u64::try_from(s.total).unwrap_or_default());
    bar.set_position(
        u64::try_from(s.passed + s.failed + s.errored + s.skipped).unwrap_or_default(),
    );
    bar.set_message(format!(
        "{} passed, {} failed, {} errors, {} skipped; {} running",
        s.passed, s.failed, s.errored, s.skipped, s.running
    ));
}

/// The progress line without its clock, to tell a change from a tick.
pub(super) fn line_key(line: &str) -> &str {
    line.rsplit_once(" after ").map(|(k, _)| k).unwrap_or(line)
}

pub(super) fn progress(run: &TestRun, elapsed: Duration) -> String {
    let (phase, s) = report::phase_and_summary(run);
    format!(
        "{phase}: {}/{} judged ({} passed, {} failed, {} errors, {} skipped; {} running) after {}s",
        s.passed + s.failed + s.errored + s.skipped,
        s.total,
        s.passed,
        s.failed,
        s.errored,
        s.skipped,
        s.running,
        elapsed.as_secs()
    )
}
