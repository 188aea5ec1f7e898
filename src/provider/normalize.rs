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

/// Whether an upstream's ICCIDs end in their Luhn check digit.
///
/// ITU-T E.118 ends an ICCID with a Luhn check digit, and the ICCIDs eSIM Go and eSIM
/// Access document (19 and 20 digits) carry it. Airalo's do not: every ICCID its
/// documentation and sandbox show (`8944465400003573253`, `8944465400000267221`) fails
/// the check, though its help pages give ICCIDs as 20 digits, so its API appears to drop
/// the check digit; Roamify documents only a dummy (`894000000000029365`) that fails it
/// too. Checking those would refuse every real answer of theirs, so their ICCIDs are
/// checked for prefix, length and digits only, and passed on as they send them.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum CheckDigit {
    /// The last digit must be the Luhn check digit of the others.
    Luhn,
    /// The upstream's ICCIDs carry no check digit we can verify.
    Absent,
}

/// Shortest ICCID an upstream sends (Roamify documents 18 digits).
pub const ICCID_MIN_DIGITS: usize = 18;
/// Longest ICCID (E.118: 19 digits and the check digit; eSIM Access sends 20).
pub const ICCID_MAX_DIGITS: usize = 20;

/// Whether an ICCID is one: 18–20 digits starting `89` (the telecom prefix), ending in
/// its Luhn check digit unless `check` says the upstream sends none.
pub fn iccid_is_valid(iccid: &str, check: CheckDigit) -> bool {
    (ICCID_MIN_DIGITS..=ICCID_MAX_DIGITS).contains(&iccid.len())
        && iccid.starts_with("89")
        && iccid.bytes().all(|b| b.is_ascii_digit())
        && (check == CheckDigit::Absent || luhn_valid(iccid))
}

/// [`iccid_is_valid`] with the Luhn check (the rule for upstreams that send it).
pub fn valid_iccid(iccid: &str) -> bool {
    iccid_is_valid(iccid, CheckDigit::Luhn)
}

/// The Luhn check digit for a string of ASCII digits.
pub fn luhn_check_digit(digits: &str) -> u8 {
    let sum: u32 = digits
        .bytes()
        .rev()
        .enumerate()
        .map(|(i, b)| {
            let d = u32::from(b.wrapping_sub(b'0') % 10);
            if i % 2 == 0 {
                let doubled = d * 2;
                if doubled > 9 { doubled - 9 } else { doubled }
            } else {
                d
            }
        })
        .sum();
    ((10 - sum % 10) % 10) as u8
}

/// Whether a string of digits ends in the Luhn check digit of the others.
pub fn luhn_valid(digits: &str) -> bool {
    match digits.len().checked_sub(1) {
        Some(n) if n > 0 && digits.bytes().all(|b| b.is_ascii_digit()) => {
            luhn_check_digit(&digits[..n]) == digits.as_bytes()[n] - b'0'
        }
        _ => false,
    }
}

/// Longest SM-DP+ address taken (a DNS name is at most 253 characters).
const MAX_HOSTNAME: usize = 253;
/// Longest activation (matching) code taken (SGP.22 allows up to 255 characters).
pub const MAX_ACTIVATION_CODE: usize = 255;

/// Whether an SM-DP+ address is a DNS host name: dot-separated labels of 1–63 letters,
/// digits and hyphens, no label starting or ending with a hyphen, at least two labels,
/// 253 characters at most. Nothing else may go into an LPA string (`$` separates its
/// fields) or an install link.
pub fn valid_smdp_address(address: &str) -> bool {
    let label = |l: &str| {
        (1..=63).contains(&l.len())
            && !l.starts_with('-')
            && !l.ends_with('-')
            && l.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
    };
    address.len() <= MAX_HOSTNAME
        && address.split('.').count() >= 2
        && address.split('.').all(label)
}

/// Whether an activation (matching) code is one: 1–255 of the characters SGP.22 allows
/// in a matching id (`0-9`, `A-Z`, `-`), lower-case letters accepted. Anything else (a
/// `$`, `&`, `#`, a space, a NUL) would change the LPA string or the install links built
/// from it, or could never be stored.
pub fn valid_activation_code(code: &str) -> bool {
    (1..=MAX_ACTIVATION_CODE).contains(&code.len())
        && code.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// Why an upstream's eSIM was not taken. Never names the activation code (a secret).
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum InvalidEsim {
    /// The ICCID is not 18–20 digits starting `89` (with its check digit, where due).
    #[error("ICCID {0:?} is not 18-20 digits starting 89 with a valid check digit")]
    Iccid(String),
    /// The SM-DP+ address is not a host name.
    #[error("SM-DP+ address {0:?} is not a host name")]
    SmdpAddress(String),
    /// The activation code has characters or a length no matching id has.
    #[error("activation code of {0} characters is not 1-255 of A-Z, a-z, 0-9 and -")]
    ActivationCode(usize),
}

/// An upstream eSIM's install data, checked at the adapter boundary: `Ok(None)` while a
/// part is missing or empty (the upstream has not finished issuing it), `Err` when every
/// part is there but one is not what an eSIM can have. Surrounding blanks are trimmed;
/// nothing else is changed.
pub fn checked_esim(
    iccid: Option<&str>,
    smdp_address: Option<&str>,
    activation_code: Option<&str>,
    provider_ref: Option<String>,
    check: CheckDigit,
) -> Result<Option<super::ProvisionedEsim>, InvalidEsim> {
    let (Some(iccid), Some(smdp_address), Some(activation_code)) = (
        present(iccid),
        present(smdp_address),
        present(activation_code),
    ) else {
        return Ok(None);
    };
    if !iccid_is_valid(iccid, check) {
        return Err(InvalidEsim::Iccid(printable(
            &iccid.chars().take(32).collect::<String>(),
        )));
    }
    if !valid_smdp_address(smdp_address) {
        return Err(InvalidEsim::SmdpAddress(printable(
            &smdp_address.chars().take(80).collect::<String>(),
        )));
    }
    if !valid_activation_code(activation_code) {
        return Err(InvalidEsim::ActivationCode(activation_code.chars().count()));
    }
    Ok(Some(super::ProvisionedEsim {
        iccid: iccid.to_owned(),
        smdp_address: smdp_address.to_owned(),
        activation_code: activation_code.to_owned(),
        provider_ref,
    }))
}

/// A trimmed, non-empty string.
fn present(value: Option<&str>) -> Option<&str> {
    value.map(str::trim).filter(|v| !v.is_empty())
}

/// Upstream text made safe to store, log and print: every control character (C0, DEL,
/// C1: newlines, tabs, the ESC that starts an ANSI sequence, NUL) and every bidirectional
/// override becomes a space, so an upstream's words can neither forge a log line nor
/// drive the operator's terminal.
pub fn printable(text: &str) -> String {
    text.chars()
        .map(|c| {
            if c.is_control() || is_bidi_control(c) {
                ' '
            } else {
                c
            }
        })
        .collect()
}

/// The Unicode bidirectional embedding, override and isolate controls.
fn is_bidi_control(c: char) -> bool {
    matches!(c, '\u{202A}'..='\u{202E}' | '\u{2066}'..='\u{2069}' | '\u{200E}' | '\u{200F}' | '\u{061C}')
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
    }

    #[test]
    fn iccids_are_checked_for_prefix_length_and_where_due_the_luhn_digit() {
        // eSIM Access (20 digits) and eSIM Go (19) as documented: check digits valid.
        assert!(valid_iccid("89852245280000942210"));
        assert!(valid_iccid("8944538532008160222"));
        // One digit changed: the check fails.
        assert!(!valid_iccid("8944538532008160223"));
        // Airalo's documented ICCID carries no check digit: taken only where none is due.
        assert!(!valid_iccid("8944465400003573253"));
        assert!(iccid_is_valid("8944465400003573253", CheckDigit::Absent));
        assert!(iccid_is_valid("894000000000029365", CheckDigit::Absent));
        for bad in [
            "1234",
            "7944538532008160222",
            "89445385320081602a2",
            "894453853200816",
        ] {
            assert!(!iccid_is_valid(bad, CheckDigit::Absent), "{bad}");
        }
        assert!(!iccid_is_valid(&"8".repeat(21), CheckDigit::Absent));
        assert_eq!(luhn_check_digit("894453853200816022"), 2);
        assert!(!luhn_valid("0") && !luhn_valid(""));
    }

    #[test]
    fn smdp_addresses_are_host_names_and_codes_matching_ids() {
        for good in [
            "RSP-3088.IDEMIA.IO",
            "rsp-eu.redteamobile.com",
            "lpa.roamify.com",
        ] {
            assert!(valid_smdp_address(good), "{good}");
        }
        for bad in [
            "localhost",
            "smdp.example.com/path",
            "smdp.example.com:443",
            "-bad.example.com",
            "a..example.com",
            "smdp example.com",
            "smdp.example.com$EVIL",
            "",
        ] {
            assert!(!valid_smdp_address(bad), "{bad}");
        }
        assert!(!valid_smdp_address(&format!("{}.com", "a".repeat(64))));
        for good in [
            "YVTGM-5LZC6-PIC56-KFEZJ",
            "451F9802E6A4E5F1B0F8A3C2",
            "TEST",
            "k2-xx",
        ] {
            assert!(valid_activation_code(good), "{good}");
        }
        for bad in ["", "AB\u{0}C", "A&B", "A#B", "A B", "A$B", "Ä"] {
            assert!(!valid_activation_code(bad), "{bad:?}");
        }
        assert!(!valid_activation_code(&"A".repeat(256)));
    }

    #[test]
    fn an_esim_is_pending_while_a_part_is_missing_and_refused_when_a_part_is_wrong() {
        let check = |iccid, smdp, code| {
            checked_esim(Some(iccid), Some(smdp), Some(code), None, CheckDigit::Luhn)
        };
        let esim = check(" 8944538532008160222 ", "rsp-3104.idemia.io", "E5VDM-X0LO3")
            .unwrap()
            .unwrap();
        assert_eq!(esim.iccid, "8944538532008160222");
        assert_eq!(check("8944538532008160222", "", "E5VDM"), Ok(None));
        assert!(matches!(
            check("8944538532008160223", "rsp.example.com", "E5VDM"),
            Err(InvalidEsim::Iccid(_))
        ));
        assert!(matches!(
            check("8944538532008160222", "rsp.example.com&x=1", "E5VDM"),
            Err(InvalidEsim::SmdpAddress(_))
        ));
        let refused = check("8944538532008160222", "rsp.example.com", "SECRET&CODE").unwrap_err();
        assert_eq!(refused, InvalidEsim::ActivationCode(11));
        assert!(
            !refused.to_string().contains("SECRET"),
            "never names the code"
        );
    }

    #[test]
    fn control_characters_in_upstream_text_become_spaces() {
        assert_eq!(
            printable("bad\nINFO forged line\u{1b}[31mred\u{1b}[0m\u{0}\u{202E}x"),
            "bad INFO forged line [31mred [0m  x"
        );
        assert_eq!(printable("Ünïcode stays"), "Ünïcode stays");
    }
}
