//! Timestamps: UTC with `Z`, whole seconds or microseconds (spec §5).

use chrono::{DateTime, Datelike, NaiveDateTime, TimeZone, Timelike, Utc};

/// A parsed format timestamp, remembering the precision it was written with.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Timestamp {
    dt: DateTime<Utc>,
    whole: bool,
}

impl Timestamp {
    /// Parse `YYYY-MM-DDTHH:MM:SSZ` or `YYYY-MM-DDTHH:MM:SS.ffffffZ` (spec §5).
    pub fn parse(s: &str) -> Option<Self> {
        let b = s.as_bytes();
        let whole = match b.len() {
            20 => true,
            27 if b[19] == b'.' && b[20..26].iter().all(u8::is_ascii_digit) => false,
            _ => return None,
        };
        if *b.last()? != b'Z' {
            return None;
        }
        // fixed shape: digits and separators where the grammar says
        let shape = b"dddd-dd-ddTdd:dd:dd";
        for (c, want) in b.iter().zip(shape) {
            let ok = if *want == b'd' {
                c.is_ascii_digit()
            } else {
                c == want
            };
            if !ok {
                return None;
            }
        }
        let num =
            |r: std::ops::Range<usize>| b[r].iter().fold(0u32, |n, d| n * 10 + u32::from(d - b'0'));
        let (sec, micro) = (num(17..19), if whole { 0 } else { num(20..26) });
        if sec < 60 {
            // the common case, without chrono's format-string parser
            let naive = chrono::NaiveDate::from_ymd_opt(num(0..4) as i32, num(5..7), num(8..10))?
                .and_hms_micro_opt(num(11..13), num(14..16), sec, micro)?;
            return Some(Timestamp {
                dt: Utc.from_utc_datetime(&naive),
                whole,
            });
        }
        let naive = NaiveDateTime::parse_from_str(
            &s[..s.len() - 1],
            if whole {
                "%Y-%m-%dT%H:%M:%S"
            } else {
                "%Y-%m-%dT%H:%M:%S%.6f"
            },
        )
        .ok()?;
        Some(Timestamp {
            dt: Utc.from_utc_datetime(&naive),
            whole,
        })
    }
    /// From a chrono time (keeps microseconds).
    pub(crate) fn from_datetime(dt: DateTime<Utc>, whole: bool) -> Self {
        let dt = if whole {
            dt.with_nanosecond(0).unwrap_or(dt)
        } else {
            dt.with_nanosecond(dt.nanosecond() / 1000 * 1000)
                .unwrap_or(dt)
        };
        Timestamp { dt, whole }
    }
    /// Now, in microseconds.
    pub fn now() -> Self {
        Self::from_datetime(Utc::now(), false)
    }
    /// This time truncated to whole seconds (the precision of `created_at`, `built_at`).
    pub fn to_seconds(&self) -> Self {
        Self::from_datetime(self.dt, true)
    }
    /// The UTC year.
    pub(crate) fn year(&self) -> i32 {
        self.dt.year()
    }
    /// Microseconds since the epoch.
    pub fn micros(&self) -> i64 {
        self.dt.timestamp_micros()
    }
    /// Was it written in whole seconds?
    pub fn whole_seconds(&self) -> bool {
        self.whole
    }
    /// Whole-second form `2026-05-20T00:05:59Z` (truncating).
    pub fn fmt_seconds(&self) -> String {
        self.fmt(false)
    }
    /// Microsecond form `2026-05-20T00:05:59.052579Z`.
    pub fn fmt_micros(&self) -> String {
        self.fmt(true)
    }
    fn fmt(&self, micros: bool) -> String {
        let d = &self.dt;
        let nano = d.nanosecond();
        if !(0..=9999).contains(&d.year()) || nano >= 1_000_000_000 {
            // five-digit years and leap seconds: chrono's own formatting
            let f = if micros {
                "%Y-%m-%dT%H:%M:%S%.6fZ"
            } else {
                "%Y-%m-%dT%H:%M:%SZ"
            };
            return d.format(f).to_string();
        }
        let mut out = String::with_capacity(27);
        let mut put = |n: u32, width: u32, sep: char| {
            for i in (0..width).rev() {
                out.push(char::from(b'0' + (n / 10u32.pow(i) % 10) as u8));
            }
            out.push(sep);
        };
        put(d.year() as u32, 4, '-');
        put(d.month(), 2, '-');
        put(d.day(), 2, 'T');
        put(d.hour(), 2, ':');
        put(d.minute(), 2, ':');
        if micros {
            put(d.second(), 2, '.');
            put(nano / 1000, 6, 'Z');
        } else {
            put(d.second(), 2, 'Z');
        }
        out
    }
}

impl std::fmt::Display for Timestamp {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&if self.whole {
            self.fmt_seconds()
        } else {
            self.fmt_micros()
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    #[test]
    fn both_precisions() {
        let a = Timestamp::parse("2026-05-20T00:05:59Z").unwrap();
        let b = Timestamp::parse("2026-05-20T00:05:59.052579Z").unwrap();
        assert!(a.whole_seconds() && !b.whole_seconds());
        assert_eq!(b.micros() - a.micros(), 52579);
        assert_eq!(b.fmt_micros(), "2026-05-20T00:05:59.052579Z");
        assert_eq!(b.fmt_seconds(), "2026-05-20T00:05:59Z");
        // the hand-written forms agree with chrono's format strings
        for t in [
            "0001-01-01T00:00:00.000000Z",
            "1999-12-31T23:59:59.999999Z",
            "2026-05-20T00:05:59.052579Z",
            "9999-12-31T23:59:59.000001Z",
        ] {
            let p = Timestamp::parse(t).unwrap();
            assert_eq!(p.fmt_micros(), t);
            assert_eq!(
                p.fmt_micros(),
                p.dt.format("%Y-%m-%dT%H:%M:%S%.6fZ").to_string()
            );
            assert_eq!(
                p.fmt_seconds(),
                p.dt.format("%Y-%m-%dT%H:%M:%SZ").to_string()
            );
            let n = NaiveDateTime::parse_from_str(&t[..26], "%Y-%m-%dT%H:%M:%S%.6f").unwrap();
            assert_eq!(p.dt, Utc.from_utc_datetime(&n));
        }
        for bad in [
            "2026-05-20 00:05:59Z",
            "2026-13-20T00:05:59Z",
            "2026-05-20T00:05:59",
            "2026-05-20T00:05:59.05Z",
            "2026-02-30T00:00:00Z",
        ] {
            assert!(Timestamp::parse(bad).is_none(), "{bad}");
        }
    }
}
