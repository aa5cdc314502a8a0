//! Pure: a finished (or running) `TestRun` rendered for people and pipelines: a terminal table,
//! JSON, JUnit XML (one testcase per probe; failures and errors apart), and a self-contained HTML
//! page (verdict matrix and a timeline of the probes).

use std::fmt::Write as _;

use serde::Serialize;

use crate::api::{Check, ProbeStatus, RunPhase, TestRun, Verdict};

/// Output formats of `proctor run` and `proctor report`.
#[derive(Clone, Copy, Debug, PartialEq, Eq, clap::ValueEnum)]
pub enum Format {
    Table,
    Json,
    Junit,
    Html,
}

/// Renders `run` as `format`.
pub fn render(run: &TestRun, format: Format) -> String {
    match format {
        Format::Table => table(run),
        Format::Json => json(run),
        Format::Junit => junit(run),
        Format::Html => html(run),
    }
}

fn probes(run: &TestRun) -> &[ProbeStatus] {
    run.status
        .as_ref()
        .map(|s| s.probes.as_slice())
        .unwrap_or(&[])
}

fn verdict_word(p: &ProbeStatus) -> &'static str {
    match p.verdict {
        Some(Verdict::Passed) => "Passed",
        Some(Verdict::Failed) => "Failed",
        Some(Verdict::Error) => "Error",
        Some(Verdict::Skipped) => "Skipped",
        None => "Running",
    }
}

/// Seconds from a probe's start to its verdict, when both are known.
fn duration_seconds(p: &ProbeStatus) -> Option<f64> {
    let (start, end) = (p.started_at.as_ref()?, p.finished_at.as_ref()?);
    Some((end.0.as_millisecond() - start.0.as_millisecond()).max(0) as f64 / 1000.0)
}

/// The first check that did not hold, or none.
fn failed_check(p: &ProbeStatus) -> Option<&Check> {
    p.checks.iter().find(|c| !c.passed)
}

/// One line on what was expected and observed: the failing check, else the message.
fn detail(p: &ProbeStatus) -> String {
    match failed_check(p) {
        Some(c) => format!(
            "{}: expected {}, observed {}",
            c.name, c.expected, c.observed
        ),
        None => p.message.clone().unwrap_or_default(),
    }
}

fn one_line(text: &str, max: usize) -> String {
    let flat: String = text
        .chars()
        .map(|c| if c.is_control() { ' ' } else { c })
        .collect();
    if flat.chars().count() <= max {
        flat
    } else {
        let cut: String = flat.chars().take(max.saturating_sub(1)).collect();
        format!("{cut}…")
    }
}

/// The run's phase (`Pending` before the controller wrote one) and summary counts.
pub fn phase_and_summary(run: &TestRun) -> (String, crate::api::Summary) {
    let status = run.status.clone().unwrap_or_default();
    let phase = status
        .phase
        .map(|p| format!("{p:?}"))
        .unwrap_or_else(|| "Pending".into());
    (phase, status.summary.unwrap_or_default())
}

/// The run's one-line outcome, e.g. `Failed: 14 passed, 6 failed, 0 errors, 1 skipped of 21`.
pub fn outcome_line(run: &TestRun) -> String {
    let (phase, s) = phase_and_summary(run);
    format!(
        "{phase}: {} passed, {} failed, {} errors, {} skipped of {}",
        s.passed, s.failed, s.errored, s.skipped, s.total
    )
}

fn table(run: &TestRun) -> String {
    let rows: Vec<[String; 4]> = probes(run)
        .iter()
        .map(|p| {
            [
                p.name.clone(),
                verdict_word(p).to_owned(),
                duration_seconds(p)
                    .map(|d| format!("{d:.1}s"))
                    .unwrap_or_else(|| "-".into()),
                one_line(&detail(p), 100),
            ]
        })
        .collect();
    // Plain columns as kubectl prints them: no borders, two spaces apart, the duration
    // right-aligned; widths count characters as a terminal shows them.
    let mut table = comfy_table::Table::new();
    table
        .load_preset(comfy_table::presets::NOTHING)
        .set_content_arrangement(comfy_table::ContentArrangement::Disabled)
        .set_header(["PROBE", "VERDICT", "DURATION", "EXPECTED / OBSERVED"])
        .add_rows(rows);
    for column in table.column_iter_mut() {
        column.set_padding((0, 2));
    }
    if let Some(duration) = table.column_mut(2) {
        duration.set_cell_alignment(comfy_table::CellAlignment::Right);
    }
    let mut out = String::new();
    for line in table.lines() {
        let _ = writeln!(out, "{}", line.trim_end());
    }
    let _ = writeln!(out, "\n{}", outcome_line(run));
    out
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonReport<'a> {
    name: String,
    namespace: String,
    phase: Option<RunPhase>,
    summary: Option<&'a crate::api::Summary>,
    probes: Vec<JsonProbe<'a>>,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct JsonProbe<'a> {
    name: &'a str,
    kind: &'a str,
    verdict: &'static str,
    reason: Option<&'a str>,
    message: Option<&'a str>,
    duration_seconds: Option<f64>,
    checks: &'a [Check],
}

fn json(run: &TestRun) -> String {
    let status = run.status.as_ref();
    let report = JsonReport {
        name: run.metadata.name.clone().unwrap_or_default(),
        namespace: run.metadata.namespace.clone().unwrap_or_default(),
        phase: status.and_then(|s| s.phase),
        summary: status.and_then(|s| s.summary.as_ref()),
        probes: probes(run)
            .iter()
            .map(|p| JsonProbe {
                name: &p.name,
                kind: &p.kind,
                verdict: verdict_word(p),
                reason: p.reason.as_deref(),
                message: p.message.as_deref(),
                duration_seconds: duration_seconds(p),
                checks: &p.checks,
            })
            .collect(),
    };
    let mut text = serde_json::to_string_pretty(&report).unwrap_or_default();
    text.push('\n');
    text
}

/// Text and attribute escaping for the HTML page; characters XML 1.0 cannot carry are dropped.
fn xml(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&apos;"),
            '\t' | '\n' | '\r' => out.push(c),
            c if (c as u32) < 0x20 => {}
            c => out.push(c),
        }
    }
    out
}

fn checks_text(p: &ProbeStatus) -> String {
    p.checks
        .iter()
        .map(|c| {
            format!(
                "{} {}: expected {}, observed {}",
                if c.passed { "ok  " } else { "FAIL" },
                c.name,
                c.expected,
                c.observed
            )
        })
        .collect::<Vec<_>>()
        .join("\n")
}

/// JUnit XML by quick-junit (the serializer of cargo-nextest): one testcase per probe, classname
/// `proctor.<kind>`; Failed is a `<failure>` carrying every check, Error an `<error>`, Skipped
/// `<skipped>`, a probe without a verdict yet an `<error type="NoVerdict">`.
fn junit(run: &TestRun) -> String {
    use quick_junit::{NonSuccessKind, Report, TestCase, TestCaseStatus, TestSuite};
    let name = format!(
        "proctor/{}/{}",
        run.metadata.namespace.as_deref().unwrap_or_default(),
        run.metadata.name.as_deref().unwrap_or_default()
    );
    let mut suite = TestSuite::new(name);
    let mut total = std::time::Duration::ZERO;
    for p in probes(run) {
        let reason = p.reason.clone().unwrap_or_default();
        let message = p.message.clone().unwrap_or_default();
        let status = match p.verdict {
            Some(Verdict::Passed) => TestCaseStatus::success(),
            Some(Verdict::Failed) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Failure);
                status
                    .set_type(reason)
                    .set_message(message)
                    .set_description(checks_text(p));
                status
            }
            Some(Verdict::Error) => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status.set_type(reason).set_message(message);
                status
            }
            Some(Verdict::Skipped) => {
                let mut status = TestCaseStatus::skipped();
                status.set_message(format!("{reason}: {message}"));
                status
            }
            None => {
                let mut status = TestCaseStatus::non_success(NonSuccessKind::Error);
                status
                    .set_type("NoVerdict")
                    .set_message("the probe has no verdict yet");
                status
            }
        };
        let time = std::time::Duration::from_secs_f64(duration_seconds(p).unwrap_or(0.0).max(0.0));
        total += time;
        let mut case = TestCase::new(p.name.clone(), status);
        case.set_classname(format!("proctor.{}", p.kind))
            .set_time(time);
        suite.add_test_case(case);
    }
    suite.set_time(total);
    let mut report = Report::new("proctor");
    report.set_time(total).add_test_suite(suite);
    report.to_string().unwrap_or_else(|e| {
        format!("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n<!-- the JUnit report could not be written: {e} -->\n")
    })
}

fn html(run: &TestRun) -> String {
    let title = format!(
        "Proctor: {}/{}",
        run.metadata.namespace.as_deref().unwrap_or_default(),
        run.metadata.name.as_deref().unwrap_or_default()
    );
    let all = probes(run);
    let start = all
        .iter()
        .filter_map(|p| p.started_at.as_ref().map(|t| t.0.as_millisecond()))
        .min()
        .unwrap_or(0);
    let end = all
        .iter()
        .filter_map(|p| p.finished_at.as_ref().map(|t| t.0.as_millisecond()))
        .max()
        .unwrap_or(start)
        .max(start + 1);
    let span = (end - start) as f64;
    let mut rows = String::new();
    let mut bars = String::new();
    for p in all {
        let v = verdict_word(p);
        let _ = writeln!(
            rows,
            "<tr class=\"{}\"><td>{}</td><td>{}</td><td class=\"verdict\">{v}</td><td>{}</td><td>{}</td></tr>",
            v.to_lowercase(),
            xml(&p.name),
            xml(&p.kind),
            duration_seconds(p)
                .map(|d| format!("{d:.1}s"))
                .unwrap_or_else(|| "-".into()),
            xml(&detail(p))
        );
        if let (Some(s), Some(f)) = (&p.started_at, &p.finished_at) {
            let x = (s.0.as_millisecond() - start) as f64 / span * 100.0;
            let w = ((f.0.as_millisecond() - s.0.as_millisecond()) as f64 / span * 100.0).max(0.5);
            let _ = writeln!(
                bars,
                "<div class=\"lane\"><span class=\"label\">{}</span><span class=\"track\"><span class=\"bar {}\" style=\"left:{x:.2}%;width:{w:.2}%\" title=\"{} {}\"></span></span></div>",
                xml(&p.name),
                v.to_lowercase(),
                xml(&p.name),
                v
            );
        }
    }
    format!(
        r#"<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{title}</title>
<style>
body{{font-family:system-ui,sans-serif;margin:2em;color:#222}}
h1{{font-size:1.4em}} .outcome{{font-size:1.1em;font-weight:600}}
table{{border-collapse:collapse;width:100%;margin:1em 0}}
td,th{{border:1px solid #ccc;padding:.3em .6em;text-align:left;vertical-align:top}}
tr.passed .verdict{{background:#c8f0c8}} tr.failed .verdict{{background:#f6c0c0}}
tr.error .verdict{{background:#f6dca0}} tr.skipped .verdict{{background:#ddd}}
.lane{{display:flex;align-items:center;margin:2px 0}} .label{{width:16em;font-size:.85em}}
.track{{position:relative;flex:1;height:14px;background:#f3f3f3}}
.bar{{position:absolute;top:0;height:14px}} .bar.passed{{background:#3a3}} .bar.failed{{background:#c33}}
.bar.error{{background:#d90}} .bar.skipped{{background:#999}}
</style></head>
<body>
<h1>{title}</h1>
<p class="outcome" id="outcome">{outcome}</p>
<h2>Verdicts</h2>
<table id="verdicts"><thead><tr><th>Probe</th><th>Kind</th><th>Verdict</th><th>Duration</th><th>Expected / observed</th></tr></thead>
<tbody>
{rows}</tbody></table>
<h2>Timeline</h2>
<div id="timeline">
{bars}</div>
</body></html>
"#,
        title = xml(&title),
        outcome = xml(&outcome_line(run)),
    )
}

#[cfg(test)]
mod tests;
