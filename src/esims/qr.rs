//! QR codes for eSIM installation, served by the gateway itself at
//! `GET /qr/{token}.png`. The URL is public (travellers open it from an e-mail), so the
//! token is the only protection: 26 base62 characters, about 154 random bits.

use std::io::Cursor;

use image::{ImageFormat, Luma};
use qrcode::{EcLevel, QrCode};
use rand::Rng;
use rand::distr::Alphanumeric;
use sqlx::PgPool;

use super::lpa_code;

const TOKEN_LEN: usize = 26;

/// A fresh unguessable token.
pub fn new_token() -> String {
    rand::rng()
        .sample_iter(Alphanumeric)
        .take(TOKEN_LEN)
        .map(char::from)
        .collect()
}

/// Whether `token` could be one of ours (cheap check before the database).
pub fn is_well_formed(token: &str) -> bool {
    token.len() == TOKEN_LEN && token.bytes().all(|b| b.is_ascii_alphanumeric())
}

/// The LPA string behind a QR token, if the token exists.
pub async fn lpa_for_token(db: &PgPool, token: &str) -> Result<Option<String>, sqlx::Error> {
    let row = sqlx::query!(
        "select smdp_address, activation_code from esims where qr_token = $1",
        token
    )
    .fetch_optional(db)
    .await?;
    Ok(row.map(|r| lpa_code(&r.smdp_address, &r.activation_code)))
}

/// Renders `text` as a QR code PNG (error correction M, quiet zone, at least 300 px).
pub fn render_png(text: &str) -> anyhow::Result<Vec<u8>> {
    let code = QrCode::with_error_correction_level(text.as_bytes(), EcLevel::M)?;
    let image = code
        .render::<Luma<u8>>()
        .min_dimensions(300, 300)
        .quiet_zone(true)
        .build();
    let mut png = Vec::new();
    image.write_to(&mut Cursor::new(&mut png), ImageFormat::Png)?;
    Ok(png)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tokens_are_long_random_and_well_formed() {
        let a = new_token();
        let b = new_token();
        assert_ne!(a, b);
        assert!(is_well_formed(&a));
        assert!(!is_well_formed("short"));
        assert!(!is_well_formed(&"a/".repeat(13)));
    }

    #[test]
    fn rendered_png_starts_with_the_png_signature() {
        let png = render_png("LPA:1$smdp.example.com$ABCDE-FGHIJ").unwrap();
        assert_eq!(&png[..8], b"\x89PNG\r\n\x1a\n");
    }
}
