//! Upstream units into ours. Providers disagree on everything: money as floats or as
//! integers ×10,000, data in MB or bytes (binary or decimal), time as epoch seconds,
//! epoch milliseconds, RFC 3339 or `"YYYY-MM-DD HH:MM:SS"`, numbers sent as strings, and
//! `"true"` for `true`. Every adapter reads its answers through these helpers, so each
//! conversion is written (and tested) once.

use chrono::{DateTime, NaiveDateTime, TimeZone, Utc};
use serde::{Deserialize, Deserializer};
use serde_json::Value;

/// MB in a binary GB, for labels the upstreams write as "1 GB" = 1024 MB.
pub const MB_PER_GB: i64 = 1024;

/// A money amount (a JSON number or a numeric string, in whole currency units) as an
/// integer number of 1/10,000 units, rounded half-up. `None` if it is not a number.
pub fn e4_from_amount(value: &Value) -> Option<i64> {
    let number = match value {
        Value::Number(n) => n.as_f64()?,
        Value::String(s) => s.trim().parse::<f64>().ok()?,
        _ => return None,
    };
    if !number.is_finite() || !(0.0..=1e12).contains(&number) {
        return None;
    }
    // Floats like 4.35 are 4.3499999…: rounding at 1/10,000 recovers the decimal.
    Some((number * 10_000.0).round() as i64)
}

/// 1/10,000 units as cents, rounded up (a cost is never under-stated).
pub fn cents_from_e4_ceil(e4: i64) -> i64 {
    (e4 + 99).div_euclid(100)
}

/// Bytes as MB where the upstream counts 1 MB = 1,048,576 bytes (eSIM Access:
/// 1073741824 bytes = 1 GB = 1024 MB).
pub fn mb_from_binary_bytes(bytes: i64) -> i64 {
    bytes.max(0) / (1024 * 1024)
}

/// Bytes as MB where the upstream counts 1 MB = 1,000,000 bytes (eSIM Go: its catalogue
/// says 1000 MB for a bundle whose assignment holds 1,000,000,000 bytes).
pub fn mb_from_decimal_bytes(bytes: i64) -> i64 {
    bytes.max(0) / 1_000_000
}

/// A data amount in MB as our `data_mb` (`None` when it does not fit or is not positive,
/// which callers treat as unlimited or invalid as they see fit).
pub fn data_mb(mb: i64) -> Option<i32> {
    i32::try_from(mb).ok().filter(|mb| *mb > 0)
}

/// An integer from a JSON number or a numeric string (`7`, `"7"`, `7.0`).
pub fn int(value: &Value) -> Option<i64> {
    match value {
        Value::Number(n) => n
            .as_i64()
            .or_else(|| n.as_f64().filter(|f| f.fract() == 0.0).map(|f| f as i64)),
        Value::String(s) => s.trim().parse().ok(),
        _ => None,
    }
}

/// A timestamp in any of the upstreams' formats, as UTC: epoch seconds or milliseconds
/// (as numbers or numeric strings; anything above 10^11 is milliseconds), RFC 3339,
/// ISO 8601 with a `+0000` offset, or a naive `YYYY-MM-DD HH:MM[:SS]` taken as UTC.
/// `None` for null, empty or unreadable values.
pub fn timestamp(value: &Value) -> Option<DateTime<Utc>> {
    match value {
        Value::Number(_) => epoch(int(value)?),
        Value::String(s) => timestamp_str(s),
        _ => None,
    }
}

/// [`timestamp`] for a string.
pub fn timestamp_str(text: &str) -> Option<DateTime<Utc>> {
    let text = text.trim();
    if text.is_empty() {
        return None;
    }
    if text.bytes().all(|b| b.is_ascii_digit()) {
        return epoch(text.parse().ok()?);
    }
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        return Some(t.with_timezone(&Utc));
    }
    for format in ["%Y-%m-%dT%H:%M:%S%.f%z", "%Y-%m-%d %H:%M:%S%.f%z"] {
        if let Ok(t) = DateTime::parse_from_str(text, format) {
            return Some(t.with_timezone(&Utc));
        }
    }
    for format in [
        "%Y-%m-%d %H:%M:%S%.f",
        "%Y-%m-%dT%H:%M:%S%.f",
        "%Y-%m-%d %H:%M",
    ] {
        if let Ok(t) = NaiveDateTime::parse_from_str(text, format) {
            return Some(Utc.from_utc_datetime(&t));
        }
    }
    None
}

fn epoch(n: i64) -> Option<DateTime<Utc>> {
    if n <= 0 {
        None
    } else if n > 100_000_000_000 {
        DateTime::from_timestamp_millis(n)
    } else {
        DateTime::from_timestamp(n, 0)
    }
}

/// Splits an LPA activation string `LPA:1$<smdp>$<matching id>[$...]` into the SM-DP+
/// address and the matching id. `None` unless both parts are present.
pub fn split_lpa(lpa: &str) -> Option<(String, String)> {
    let rest = lpa.trim();
    let rest = rest
        .get(..6)
        .filter(|prefix| prefix.eq_ignore_ascii_case("LPA:1$"))
        .map(|_| &rest[6..])?;
    let mut parts = rest.split('$');
    let smdp = parts.next()?.trim();
    let code = parts.next()?.trim();
    (!smdp.is_empty() && !code.is_empty()).then(|| (smdp.to_owned(), code.to_owned()))
}

/// Whether an ICCID looks like one (18–20 digits starting `89`, the telecom prefix).
pub fn valid_iccid(iccid: &str) -> bool {
    (18..=20).contains(&iccid.len())
        && iccid.starts_with("89")
        && iccid.bytes().all(|b| b.is_ascii_digit())
}

/// Serde helper: a boolean sent as `true`, `"true"`, `1` or `"1"`.
pub fn flexible_bool<'de, D: Deserializer<'de>>(deserializer: D) -> Result<bool, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::Bool(b) => b,
        Value::String(s) => matches!(s.trim().to_ascii_lowercase().as_str(), "true" | "1"),
        Value::Number(n) => n.as_i64() == Some(1),
        _ => false,
    })
}

/// Serde helper: an optional integer sent as a number or a numeric string.
pub fn flexible_int<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<i64>, D::Error> {
    Ok(int(&Value::deserialize(deserializer)?))
}

/// Serde helper: an optional string sent as a string or a number (ids, codes).
pub fn flexible_string<'de, D: Deserializer<'de>>(
    deserializer: D,
) -> Result<Option<String>, D::Error> {
    Ok(match Value::deserialize(deserializer)? {
        Value::String(s) if !s.trim().is_empty() => Some(s),
        Value::Number(n) => Some(n.to_string()),
        _ => None,
    })
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn money_in_floats_strings_and_units_becomes_exact_ten_thousandths() {
        assert_eq!(e4_from_amount(&json!(4.35)), Some(43_500));
        assert_eq!(e4_from_amount(&json!("4.50")), Some(45_000));
        assert_eq!(e4_from_amount(&json!(1.32)), Some(13_200));
        assert_eq!(e4_from_amount(&json!(5)), Some(50_000));
        assert_eq!(e4_from_amount(&json!(-1)), None);
        assert_eq!(e4_from_amount(&json!("abc")), None);
        assert_eq!(cents_from_e4_ceil(15_000), 150);
        assert_eq!(cents_from_e4_ceil(15_001), 151);
    }

    #[test]
    fn bytes_become_megabytes_in_each_upstreams_convention() {
        assert_eq!(mb_from_binary_bytes(1_073_741_824), 1024);
        assert_eq!(mb_from_binary_bytes(524_288_000), 500);
        assert_eq!(mb_from_decimal_bytes(1_000_000_000), 1000);
        assert_eq!(mb_from_decimal_bytes(750_000_000), 750);
        assert_eq!(data_mb(9_007_199_254_740_991), None);
    }

    #[test]
    fn every_timestamp_format_lands_on_the_same_utc_instant() {
        let expected = Utc.with_ymd_and_hms(2025, 4, 15, 14, 2, 38).unwrap();
        for value in [
            json!("2025-04-15 14:02:38"),
            json!("2025-04-15T14:02:38Z"),
            json!("2025-04-15T16:02:38+02:00"),
            json!("2025-04-15T14:02:38+0000"),
            json!(1_744_725_758),
            json!(1_744_725_758_000_i64),
            json!("1744725758"),
        ] {
            assert_eq!(timestamp(&value), Some(expected), "{value}");
        }
        assert_eq!(timestamp(&json!(null)), None);
        assert_eq!(timestamp(&json!("")), None);
        assert_eq!(timestamp(&json!("soon")), None);
    }

    #[test]
    fn lpa_strings_split_into_address_and_matching_id() {
        assert_eq!(
            split_lpa("LPA:1$RSP-3088.IDEMIA.IO$YVTGM-5LZC6-PIC56-KFEZJ"),
            Some((
                "RSP-3088.IDEMIA.IO".into(),
                "YVTGM-5LZC6-PIC56-KFEZJ".into()
            ))
        );
        assert_eq!(
            split_lpa("lpa:1$a.example$B$1"),
            Some(("a.example".into(), "B".into()))
        );
        assert_eq!(split_lpa("LPA:1$only-address"), None);
        assert_eq!(split_lpa("nonsense"), None);
    }

    #[test]
    fn numbers_sent_as_strings_are_read_as_numbers() {
        assert_eq!(int(&json!("7")), Some(7));
        assert_eq!(int(&json!(7.0)), Some(7));
        assert_eq!(int(&json!(7.5)), None);
        assert!(valid_iccid("8944465400003573253"));
        assert!(valid_iccid("89852245280000942210"));
        assert!(!valid_iccid("1234"));
    }
}
