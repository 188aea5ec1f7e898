//! Money as integer US cents. No floating point ever touches a balance: amounts are parsed
//! from decimal strings, added with checked arithmetic, and only turned into a JSON number
//! at the edge.

use std::fmt;

use serde::{Serialize, Serializer};

/// An amount of US dollars in cents. Signed, so ledger entries can carry debits.
///
/// In JSON (and in the OpenAPI document, as `Money`) it is a number of dollars with at most
/// two decimals, never a string and never cents.
#[derive(Clone, Copy, Debug, Default, PartialEq, Eq, PartialOrd, Ord, Hash, utoipa::ToSchema)]
#[schema(
    as = Money,
    value_type = f64,
    description = "US dollars as a JSON number with at most two decimals (`7.5`, `992.5`, `1000`); negative for debits in the ledger.",
    example = 7.5
)]
pub struct Cents(i64);

impl Cents {
    /// Zero dollars.
    pub const ZERO: Cents = Cents(0);

    /// Wraps a number of cents.
    pub const fn new(cents: i64) -> Self {
        Self(cents)
    }

    /// The number of cents.
    pub const fn get(self) -> i64 {
        self.0
    }

    /// `self × n`, or `None` on overflow.
    pub fn checked_mul(self, n: i64) -> Option<Cents> {
        self.0.checked_mul(n).map(Cents)
    }

    /// The amount with a markup in basis points applied (2000 = +20%), rounded half-up to
    /// the cent. `None` on overflow.
    pub fn with_markup_bps(self, bps: i32) -> Option<Cents> {
        let scaled = i128::from(self.0) * (10_000 + i128::from(bps));
        let rounded = if scaled >= 0 {
            (scaled + 5_000) / 10_000
        } else {
            (scaled - 5_000) / 10_000
        };
        i64::try_from(rounded).ok().map(Cents)
    }

    /// Parses a positive dollar amount written as a decimal, `100`, `100.5` or `100.00`.
    /// At most two decimals; no sign, exponent or separators.
    pub fn parse_dollars(text: &str) -> Result<Cents, String> {
        let bad = || format!("`{text}` is not an amount in dollars (like 100 or 100.00)");
        let (whole, frac) = match text.split_once('.') {
            Some((w, f)) => (w, f),
            None => (text, ""),
        };
        let digits = |s: &str| s.bytes().all(|b| b.is_ascii_digit());
        if whole.is_empty() || !digits(whole) || !digits(frac) || frac.len() > 2 {
            return Err(bad());
        }
        if text.contains('.') && frac.is_empty() {
            return Err(bad());
        }
        let whole: i64 = whole.parse().map_err(|_| bad())?;
        let frac: i64 = format!("{frac:0<2}").parse().map_err(|_| bad())?;
        whole
            .checked_mul(100)
            .and_then(|c| c.checked_add(frac))
            .map(Cents)
            .ok_or_else(bad)
    }

    /// The amount in dollars as a float, for JSON output only.
    pub fn as_dollars_f64(self) -> f64 {
        // Exact for any amount below 2^53 cents; serde_json prints the shortest form (7.5).
        self.0 as f64 / 100.0
    }
}

impl fmt::Display for Cents {
    /// `12.99`, `-7.50`: two decimals, no currency sign.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let sign = if self.0 < 0 { "-" } else { "" };
        let abs = self.0.unsigned_abs();
        write!(f, "{sign}{}.{:02}", abs / 100, abs % 100)
    }
}

impl Serialize for Cents {
    /// A JSON number of dollars with at most two decimals: `7.5`, `992.5`, `12.99`, `1000`.
    fn serialize<S: Serializer>(&self, serializer: S) -> Result<S::Ok, S::Error> {
        if self.0 % 100 == 0 {
            serializer.serialize_i64(self.0 / 100)
        } else {
            serializer.serialize_f64(self.as_dollars_f64())
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_dollar_amounts_exactly() {
        assert_eq!(Cents::parse_dollars("100"), Ok(Cents(10_000)));
        assert_eq!(Cents::parse_dollars("100.00"), Ok(Cents(10_000)));
        assert_eq!(Cents::parse_dollars("0.1"), Ok(Cents(10)));
        assert_eq!(Cents::parse_dollars("12.99"), Ok(Cents(1_299)));
        for bad in [
            "", ".5", "1.", "1.234", "-1", "+1", "1e3", "1,00", " 1", "abc",
        ] {
            assert!(
                Cents::parse_dollars(bad).is_err(),
                "{bad:?} should be refused"
            );
        }
        assert!(Cents::parse_dollars("99999999999999999999").is_err());
    }

    #[test]
    fn markup_rounds_half_up_to_the_cent() {
        assert_eq!(Cents(750).with_markup_bps(2000), Some(Cents(900)));
        assert_eq!(Cents(999).with_markup_bps(0), Some(Cents(999)));
        // 1.25 × 1.1 = 1.375 → 1.38
        assert_eq!(Cents(125).with_markup_bps(1000), Some(Cents(138)));
        // 1.05 × 1.15 = 1.2075 → 1.21
        assert_eq!(Cents(105).with_markup_bps(1500), Some(Cents(121)));
    }

    #[test]
    fn serializes_as_dollars() {
        let json =
            serde_json::to_string(&[Cents(750), Cents(99_250), Cents(1_299), Cents(-750)]).unwrap();
        assert_eq!(json, "[7.5,992.5,12.99,-7.5]");
        assert_eq!(Cents(-750).to_string(), "-7.50");
        assert_eq!(Cents(5).to_string(), "0.05");
    }
}
