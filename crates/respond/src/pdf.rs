//! The incident report as PDF: the HTML report ([`crate::report::render_html`]) printed by a
//! headless Chromium, so the PDF says exactly what the HTML says and there is one layout to
//! keep right.
//!
//! The one module of this crate that touches the file system and starts a process: the HTML
//! goes into a private temporary directory (with Chromium's profile, so nothing is written to
//! the user's home), Chromium prints it there within a time limit, and the directory is
//! removed whatever happened. The report may name patients, so it never goes anywhere else and
//! no error carries any of it.

use std::fmt;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Duration, Instant};

/// How long Chromium may take to print one report before it is stopped.
pub const DEFAULT_TIMEOUT: Duration = Duration::from_secs(60);

/// Where Chromium is looked for when no path is configured: `chromium` on `PATH`, then this.
pub const FALLBACK_CHROMIUM: &str = "/usr/bin/chromium";

/// Why no PDF was made.
#[derive(Debug)]
pub enum PdfError {
    /// No Chromium at the configured path, on `PATH` or at [`FALLBACK_CHROMIUM`].
    ChromiumMissing { looked_for: String },
    /// Chromium ran and failed; the last lines of what it printed.
    ChromiumFailed { status: String, output: String },
    /// Chromium did not finish within the limit and was stopped.
    TimedOut(Duration),
    /// Chromium exited without writing a PDF.
    NoPdf,
    /// The temporary directory could not be made or used.
    Io(std::io::Error),
}

impl fmt::Display for PdfError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            PdfError::ChromiumMissing { looked_for } => write!(
                f,
                "cannot make a PDF: Chromium was not found ({looked_for}); install it (apt-get install chromium) or set [respond] chromium = \"/path/to/chromium\", or write the report as .html"
            ),
            PdfError::ChromiumFailed { status, output } => {
                write!(
                    f,
                    "Chromium could not print the report ({status}): {output}"
                )
            }
            PdfError::TimedOut(limit) => write!(
                f,
                "Chromium did not print the report within {} s and was stopped",
                limit.as_secs()
            ),
            PdfError::NoPdf => f.write_str("Chromium exited without writing a PDF"),
            PdfError::Io(e) => write!(f, "cannot prepare the report for Chromium: {e}"),
        }
    }
}

impl std::error::Error for PdfError {}

/// Finds the Chromium to run: `configured` when given (it must exist), else `chromium` on
/// `PATH`, else [`FALLBACK_CHROMIUM`].
pub fn find_chromium(configured: Option<&Path>) -> Result<PathBuf, PdfError> {
    if let Some(path) = configured {
        return if path.is_file() {
            Ok(path.to_path_buf())
        } else {
            Err(PdfError::ChromiumMissing {
                looked_for: format!("configured as {}", path.display()),
            })
        };
    }
    let on_path = std::env::var_os("PATH").and_then(|paths| {
        std::env::split_paths(&paths)
            .map(|dir| dir.join("chromium"))
            .find(|candidate| candidate.is_file())
    });
    if let Some(found) = on_path {
        return Ok(found);
    }
    let fallback = Path::new(FALLBACK_CHROMIUM);
    if fallback.is_file() {
        return Ok(fallback.to_path_buf());
    }
    Err(PdfError::ChromiumMissing {
        looked_for: format!("`chromium` on PATH, {FALLBACK_CHROMIUM}"),
    })
}

/// A private directory removed when dropped.
struct Scratch(PathBuf);

impl Scratch {
    fn new(parent: &Path) -> std::io::Result<Scratch> {
        static NEXT: AtomicU64 = AtomicU64::new(0);
        let nanos = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .map(|d| d.as_nanos())
            .unwrap_or_default();
        let path = parent.join(format!(
            "ward-report-{}-{nanos}-{}",
            std::process::id(),
            NEXT.fetch_add(1, Ordering::Relaxed)
        ));
        let mut builder = std::fs::DirBuilder::new();
        #[cfg(unix)]
        std::os::unix::fs::DirBuilderExt::mode(&mut builder, 0o700);
        builder.create(&path)?;
        Ok(Scratch(path))
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Prints `html` to PDF with the Chromium at `chromium`, stopping it after `timeout`. Returns
/// the PDF's bytes (they start with `%PDF-`).
pub fn html_to_pdf(html: &str, chromium: &Path, timeout: Duration) -> Result<Vec<u8>, PdfError> {
    print_in(&std::env::temp_dir(), html, chromium, timeout)
}

/// [`html_to_pdf`] with its temporary directory made inside `parent`.
fn print_in(
    parent: &Path,
    html: &str,
    chromium: &Path,
    timeout: Duration,
) -> Result<Vec<u8>, PdfError> {
    let scratch = Scratch::new(parent).map_err(PdfError::Io)?;
    let page = scratch.0.join("report.html");
    let pdf = scratch.0.join("report.pdf");
    let log = scratch.0.join("chromium.log");
    std::fs::write(&page, html).map_err(PdfError::Io)?;
    let log_file = std::fs::File::create(&log).map_err(PdfError::Io)?;
    let log_err = log_file.try_clone().map_err(PdfError::Io)?;
    let mut child = Command::new(chromium)
        .arg("--headless")
        .arg("--no-sandbox")
        .arg("--disable-gpu")
        .arg("--disable-dev-shm-usage")
        .arg("--disable-extensions")
        .arg("--no-first-run")
        .arg("--no-default-browser-check")
        // The report is self-contained; nothing is fetched.
        .arg("--blink-settings=imagesEnabled=false")
        .arg("--no-pdf-header-footer")
        .arg(format!(
            "--user-data-dir={}",
            scratch.0.join("profile").display()
        ))
        .arg(format!("--print-to-pdf={}", pdf.display()))
        .arg(format!("file://{}", page.display()))
        .env("HOME", &scratch.0)
        .stdin(Stdio::null())
        .stdout(Stdio::from(log_file))
        .stderr(Stdio::from(log_err))
        .spawn()
        .map_err(|e| match e.kind() {
            std::io::ErrorKind::NotFound => PdfError::ChromiumMissing {
                looked_for: chromium.display().to_string(),
            },
            _ => PdfError::Io(e),
        })?;
    let started = Instant::now();
    let status = loop {
        match child.try_wait().map_err(PdfError::Io)? {
            Some(status) => break status,
            None if started.elapsed() >= timeout => {
                let _ = child.kill();
                let _ = child.wait();
                return Err(PdfError::TimedOut(timeout));
            }
            None => std::thread::sleep(Duration::from_millis(50)),
        }
    };
    if !status.success() {
        let output = std::fs::read_to_string(&log).unwrap_or_default();
        let tail: Vec<&str> = output.lines().rev().take(3).collect();
        return Err(PdfError::ChromiumFailed {
            status: status.to_string(),
            output: tail.into_iter().rev().collect::<Vec<_>>().join(" / "),
        });
    }
    let bytes = std::fs::read(&pdf).map_err(|_| PdfError::NoPdf)?;
    if !bytes.starts_with(b"%PDF-") {
        return Err(PdfError::NoPdf);
    }
    Ok(bytes)
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Whether this machine can print; when CI is set it must.
    fn chromium_or_skip(test: &str) -> Option<PathBuf> {
        match find_chromium(None) {
            Ok(path) => Some(path),
            Err(e) if std::env::var_os("CI").is_some() => {
                panic!("{test}: CI must have Chromium (.ci/run installs it): {e}")
            }
            Err(e) => {
                eprintln!("skipping {test}: {e}");
                None
            }
        }
    }

    #[test]
    fn an_html_report_prints_to_a_pdf_with_a_page_and_leaves_no_temporary_files() {
        let Some(chromium) = chromium_or_skip("the PDF test") else {
            return;
        };
        let parent = tempfile::tempdir().unwrap();
        let pdf = print_in(
            parent.path(),
            "<!DOCTYPE html><html><body><h1>Incident 1</h1><p>report</p></body></html>",
            &chromium,
            DEFAULT_TIMEOUT,
        )
        .unwrap();
        assert!(pdf.starts_with(b"%PDF-"));
        assert!(
            pdf.windows(10).any(|w| w == b"/Type/Page")
                || pdf.windows(11).any(|w| w == b"/Type /Page"),
            "the PDF has a page"
        );
        let left: Vec<_> = std::fs::read_dir(parent.path()).unwrap().collect();
        assert!(
            left.is_empty(),
            "the temporary directory was removed: {left:?}"
        );
    }

    #[test]
    fn a_missing_chromium_is_a_clear_error() {
        let err = find_chromium(Some(Path::new("/nonexistent/chromium"))).unwrap_err();
        assert!(err.to_string().contains("Chromium was not found"), "{err}");
        assert!(err.to_string().contains("/nonexistent/chromium"), "{err}");
        let err = html_to_pdf(
            "<p>x</p>",
            Path::new("/nonexistent/chromium"),
            DEFAULT_TIMEOUT,
        )
        .unwrap_err();
        assert!(matches!(err, PdfError::ChromiumMissing { .. }), "{err}");
    }

    #[cfg(unix)]
    #[test]
    fn a_chromium_that_hangs_is_stopped_at_the_limit() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let hang = dir.path().join("chromium");
        std::fs::write(&hang, "#!/bin/sh\nexec sleep 30\n").unwrap();
        std::fs::set_permissions(&hang, std::fs::Permissions::from_mode(0o700)).unwrap();
        let started = Instant::now();
        let err = html_to_pdf("<p>x</p>", &hang, Duration::from_millis(300)).unwrap_err();
        assert!(matches!(err, PdfError::TimedOut(_)), "{err}");
        assert!(started.elapsed() < Duration::from_secs(10));
    }

    #[cfg(unix)]
    #[test]
    fn a_chromium_that_fails_is_reported_with_its_last_words() {
        use std::os::unix::fs::PermissionsExt;
        let dir = tempfile::tempdir().unwrap();
        let broken = dir.path().join("chromium");
        std::fs::write(
            &broken,
            "#!/bin/sh\necho 'cannot open display' >&2\nexit 3\n",
        )
        .unwrap();
        std::fs::set_permissions(&broken, std::fs::Permissions::from_mode(0o700)).unwrap();
        let err = html_to_pdf("<p>x</p>", &broken, DEFAULT_TIMEOUT).unwrap_err();
        assert!(err.to_string().contains("cannot open display"), "{err}");
    }
}
