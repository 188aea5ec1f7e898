//! Crash points in the order workflow, for the crash-safety tests: with the `failpoints`
//! feature (on in test builds only, see `Cargo.toml`) the process aborts at the step named
//! by `TAVARO_FAILPOINT`; without it every point compiles to nothing, so a production
//! binary has no way to crash itself.

/// The steps a crash test can stop the server at.
pub const POINTS: [&str; 5] = [
    "after_provider_cancel",
    "after_debit_commit",
    "during_provider_call",
    "before_esims_stored",
    "after_esims_stored",
];

/// Aborts the process if `point` is the configured failpoint.
#[cfg(feature = "failpoints")]
pub fn hit(point: &'static str) {
    if configured() == Some(point) {
        crash(point);
    }
}

/// Without the `failpoints` feature: nothing.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit(_point: &'static str) {}

/// Aborts the process shortly after now if `point` is the configured failpoint: a crash
/// while a call is in flight.
#[cfg(feature = "failpoints")]
pub fn hit_soon(point: &'static str) {
    if configured() == Some(point) {
        tokio::spawn(async move {
            tokio::time::sleep(std::time::Duration::from_millis(20)).await;
            crash(point);
        });
    }
}

/// Without the `failpoints` feature: nothing.
#[cfg(not(feature = "failpoints"))]
#[inline(always)]
pub fn hit_soon(_point: &'static str) {}

#[cfg(feature = "failpoints")]
static POINT: std::sync::OnceLock<Option<&'static str>> = std::sync::OnceLock::new();

/// Reads `TAVARO_FAILPOINT` (once, at start-up) and refuses a name that is no step.
#[cfg(feature = "failpoints")]
pub fn check() -> anyhow::Result<()> {
    let raw = std::env::var("TAVARO_FAILPOINT").unwrap_or_default();
    let raw = raw.trim();
    let point = match POINTS.iter().copied().find(|p| *p == raw) {
        Some(point) => Some(point),
        None if raw.is_empty() => None,
        None => anyhow::bail!("TAVARO_FAILPOINT={raw:?} is not one of {POINTS:?}"),
    };
    let _ = POINT.set(point);
    Ok(())
}

/// Without the `failpoints` feature there is nothing to check: `TAVARO_FAILPOINT` is
/// not read at all.
#[cfg(not(feature = "failpoints"))]
pub fn check() -> anyhow::Result<()> {
    Ok(())
}

#[cfg(feature = "failpoints")]
fn configured() -> Option<&'static str> {
    POINT.get().copied().flatten()
}

#[cfg(feature = "failpoints")]
fn crash(point: &str) -> ! {
    eprintln!("failpoint {point}: aborting the process");
    std::process::abort();
}
