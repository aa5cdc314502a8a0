//! The HTML report in a real browser: headless Chromium (Debian's `chromium`) renders the report
//! of a failed run captured from the test cluster; the text it lays out (printed to PDF, read
//! back with `pdftotext`) shows the outcome, every probe and the failed checks, and its
//! screenshot is a full page.

// A test that cannot get what it needs fails: panicking is the point.
#![allow(clippy::unwrap_used, clippy::expect_used)]

use std::process::Command;

use proctor::api::TestRun;
use proctor::report::{Format, render};

fn chromium(args: &[&str]) {
    let out = Command::new("chromium")
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--hide-scrollbars",
            "--window-size=1280,1400",
        ])
        .args(args)
        .output()
        .expect("chromium (Debian package chromium)");
    assert!(out.status.success(), "{out:?}");
}

#[test]
#[ignore = "needs chromium and pdftotext (installed by tests/run-all.sh); run by .ci/run"]
fn the_html_report_renders_the_verdicts_in_chromium() {
    let run: TestRun =
        serde_json::from_str(include_str!("fixtures/testruns/faulty-exit-failed.json")).unwrap();
    let dir = std::env::temp_dir().join(format!("proctor-html-{}", std::process::id()));
    std::fs::create_dir_all(&dir).unwrap();
    let page = dir.join("report.html");
    std::fs::write(&page, render(&run, Format::Html)).unwrap();
    let url = format!("file://{}", page.display());

    let pdf = dir.join("report.pdf");
    chromium(&[
        &format!("--print-to-pdf={}", pdf.display()),
        "--no-pdf-header-footer",
        &url,
    ]);
    let text = Command::new("pdftotext")
        .args(["-layout", pdf.to_str().unwrap(), "-"])
        .output()
        .expect("pdftotext (Debian package poppler-utils)");
    let text = String::from_utf8_lossy(&text.stdout).into_owned();
    assert!(text.contains("Proctor: capture/faulty-exit"), "{text}");
    assert!(
        text.contains("Failed: 14 passed, 6 failed, 0 errors, 1 skipped of 21"),
        "{text}"
    );
    for probe in run.status.as_ref().unwrap().probes.iter() {
        assert!(
            text.contains(&probe.name),
            "{} not rendered:\n{text}",
            probe.name
        );
    }
    let exit_row = text
        .lines()
        .find(|l| l.trim_start().starts_with("exit-code"))
        .unwrap_or_else(|| panic!("no exit-code row:\n{text}"));
    assert!(exit_row.contains("Failed"), "{exit_row}");
    assert!(text.contains("expected 42, observed 0"), "{text}");
    assert!(text.contains("Timeline"), "{text}");

    let png = dir.join("report.png");
    chromium(&[&format!("--screenshot={}", png.display()), &url]);
    let bytes = std::fs::read(&png).unwrap();
    assert_eq!(&bytes[1..4], b"PNG");
    let width = u32::from_be_bytes(bytes[16..20].try_into().unwrap());
    let height = u32::from_be_bytes(bytes[20..24].try_into().unwrap());
    assert_eq!((width, height), (1280, 1400));
    assert!(bytes.len() > 20_000, "a page with content, not a blank one");
    eprintln!("screenshot: {}", png.display());
}
