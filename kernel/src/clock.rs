//! Calendar arithmetic for the CMOS real-time clock.

/// Seconds since the Unix epoch of a UTC calendar date and time.
pub fn unix_seconds(year: i64, month: u32, day: u32, hour: u32, min: u32, sec: u32) -> i64 {
    // Howard Hinnant's days_from_civil.
    let y = if month <= 2 { year - 1 } else { year };
    let era = if y >= 0 { y } else { y - 399 } / 400;
    let yoe = y - era * 400;
    let m = month as i64;
    let doy = (153 * (if m > 2 { m - 3 } else { m + 9 }) + 2) / 5 + day as i64 - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146097 + doe - 719468;
    days * 86400 + hour as i64 * 3600 + min as i64 * 60 + sec as i64
}

/// Decode a CMOS register value that may be BCD.
pub fn from_bcd(v: u8, bcd: bool) -> u32 {
    if bcd {
        ((v >> 4) * 10 + (v & 0xf)) as u32
    } else {
        v as u32
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn epoch_and_known_dates() {
        assert_eq!(unix_seconds(1970, 1, 1, 0, 0, 0), 0);
        assert_eq!(unix_seconds(2000, 3, 1, 0, 0, 0), 951868800);
        assert_eq!(unix_seconds(2024, 2, 29, 12, 34, 56), 1709210096);
        assert_eq!(from_bcd(0x59, true), 59);
        assert_eq!(from_bcd(59, false), 59);
    }
}
