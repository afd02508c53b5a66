//! Range checks for every number a user hands `hako`: command-line flags (as `clap` value
//! parsers) and environment variables. A value out of range is a one-line error naming the
//! flag, the value and the allowed range, never a panic further down (for example
//! `Duration::from_secs_f64(1e20)` or `Instant::now() + timeout` overflowing).

use anyhow::{bail, Context, Result};
use std::time::Duration;

/// The longest time limit accepted anywhere: one year.
pub const MAX_TIMEOUT_SECS: u64 = 365 * 24 * 3600;
/// The least guest RAM the kernel boots with: the image, its page tables, heap and the 8 MiB
/// Wasm stack with its guard, plus one page of linear memory.
pub const MIN_MEMORY_MIB: u32 = 32;
/// The most guest RAM `--memory` accepts: the kernel uses RAM below 4 GiB only (it is
/// identity-mapped there), so more would be reserved by QEMU and never used.
pub const MAX_MEMORY_MIB: u32 = 4096;
/// The most compile threads `-j` accepts.
pub const MAX_JOBS: usize = 1024;

/// A time limit in seconds: a positive finite number up to [`MAX_TIMEOUT_SECS`], or `none`
/// for no limit ([`Duration::MAX`]; a service's, such as a container's) (`clap` value parser).
pub fn timeout(text: &str) -> Result<Duration> {
    if text.trim() == "none" {
        return Ok(Duration::MAX);
    }
    let secs: f64 = text
        .trim()
        .parse()
        .ok()
        .with_context(|| format!("`{text}` is not a number of seconds"))?;
    if !(secs > 0.0 && secs <= MAX_TIMEOUT_SECS as f64) {
        bail!(
            "{text} is out of range: a time limit is more than 0 and at most {MAX_TIMEOUT_SECS} seconds (a year)"
        );
    }
    Ok(Duration::from_secs_f64(secs))
}

/// Guest RAM in MiB, from [`MIN_MEMORY_MIB`] to [`MAX_MEMORY_MIB`] (`clap` value parser).
pub fn memory_mib(text: &str) -> Result<u32> {
    let mib: u64 = text
        .trim()
        .parse()
        .ok()
        .with_context(|| format!("`{text}` is not a whole number of MiB"))?;
    if !(MIN_MEMORY_MIB as u64..=MAX_MEMORY_MIB as u64).contains(&mib) {
        bail!("{text} MiB is out of range: guest RAM is {MIN_MEMORY_MIB} to {MAX_MEMORY_MIB} MiB");
    }
    Ok(mib as u32)
}

/// A thread count, 0 (one per core) to [`MAX_JOBS`] (`clap` value parser).
pub fn jobs(text: &str) -> Result<usize> {
    let n: u64 = text
        .trim()
        .parse()
        .ok()
        .with_context(|| format!("`{text}` is not a whole number of threads"))?;
    if n > MAX_JOBS as u64 {
        bail!("{text} is out of range: at most {MAX_JOBS} threads (0: one per core)");
    }
    Ok(n as usize)
}

/// A time limit from environment variable `name` in seconds, `default` when unset or empty;
/// an unparsable or out-of-range value is an error naming the variable.
pub fn env_timeout(name: &str, default: Duration) -> Result<Duration> {
    match std::env::var(name) {
        Ok(text) if !text.trim().is_empty() => match timeout(&text) {
            Ok(d) => Ok(d),
            Err(e) => bail!("{name}: {e}"),
        },
        Ok(_) | Err(std::env::VarError::NotPresent) => Ok(default),
        Err(std::env::VarError::NotUnicode(_)) => bail!("{name} is not valid UTF-8"),
    }
}

/// `now + limit`, or `None` when that is beyond what the clock can represent (no limit).
pub fn deadline(limit: Duration) -> Option<std::time::Instant> {
    std::time::Instant::now().checked_add(limit)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeouts() {
        assert_eq!(timeout("1.5").unwrap(), Duration::from_millis(1500));
        assert_eq!(
            timeout(&MAX_TIMEOUT_SECS.to_string()).unwrap(),
            Duration::from_secs(MAX_TIMEOUT_SECS)
        );
        for bad in ["1e20", "0", "-1", "inf", "NaN", "", "ten", "31536001"] {
            assert!(timeout(bad).is_err(), "{bad} accepted");
        }
        assert!(timeout("1e20")
            .unwrap_err()
            .to_string()
            .contains("at most 31536000"));
    }

    #[test]
    fn memory_and_jobs() {
        assert_eq!(memory_mib("512").unwrap(), 512);
        for bad in ["0", "31", "4097", "99999999999999999999", "-5", "1.5"] {
            assert!(memory_mib(bad).is_err(), "{bad} accepted");
        }
        assert_eq!(jobs("0").unwrap(), 0);
        assert_eq!(jobs("1024").unwrap(), 1024);
        assert!(jobs("1025").is_err());
        assert!(jobs("18446744073709551616").is_err());
    }

    #[test]
    fn no_limit() {
        assert_eq!(timeout("none").unwrap(), Duration::MAX);
        assert!(timeout("None").is_err());
    }

    #[test]
    fn deadline_saturates() {
        assert!(deadline(Duration::from_secs(1)).is_some());
        assert!(deadline(Duration::MAX).is_none());
    }
}
