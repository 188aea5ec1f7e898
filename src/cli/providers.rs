//! Operator commands that talk to upstream providers: `catalog sync` and
//! `provider list|balance`. They read the provider credentials from the same environment
//! as the server (`TAVARO_<PROVIDER>_*`, see `.env.example`).

use std::sync::Arc;

use anyhow::{Context, bail};
use sqlx::PgPool;

use super::ProviderCommand;
use super::commands::print_json;
use crate::catalog::sync::{SyncOptions, SyncReport, sync_with};
use crate::config::Config;
use crate::money::Cents;
use crate::provider::{Provider, Registry};

/// `tavaro catalog sync --provider NAME [--margin PCT] [--allow-shrink] [--json]`.
pub(super) async fn catalog_sync(
    db: &PgPool,
    provider: &str,
    margin: &str,
    allow_shrink: bool,
    json: bool,
) -> anyhow::Result<()> {
    let margin_bps = Cents::parse_dollars(margin)
        .map_err(|_| anyhow::anyhow!("--margin `{margin}` is not a percentage like 20 or 12.5"))?
        .get();
    if margin_bps > 100_000 {
        bail!("--margin {margin} is above the 1000% maximum");
    }
    let upstream = configured(db, provider)?;
    let options = SyncOptions {
        margin_bps: i32::try_from(margin_bps)?,
        allow_shrink,
    };
    let report = sync_with(db, upstream.as_ref(), options).await?;
    if json {
        print_json(&report_json(provider, &report));
        return Ok(());
    }
    println!(
        "Synced {provider}: {} packages listed; {} added, {} updated, {} deactivated, {} unchanged, {} skipped.",
        report.fetched,
        report.added,
        report.updated,
        report.deactivated,
        report.unchanged,
        report.skipped.len()
    );
    for why in &report.skipped {
        println!("  skipped {why}");
    }
    if let Some(why) = &report.incomplete {
        println!("  listing incomplete ({why}): no plan was deactivated");
    }
    Ok(())
}

/// `tavaro provider list` and `tavaro provider balance --provider NAME`.
pub(super) async fn provider(command: ProviderCommand, db: &PgPool) -> anyhow::Result<()> {
    match command {
        ProviderCommand::List { json } => {
            let names = registry(db)?.names();
            if json {
                print_json(&names);
            } else {
                for name in names {
                    println!("{name}");
                }
            }
        }
        ProviderCommand::Balance { provider, json } => {
            let upstream = configured(db, &provider)?;
            let balance = upstream
                .balance()
                .await
                .with_context(|| format!("cannot read our balance with {provider}"))?;
            let whole = balance.amount_e4 / 10_000;
            let fraction = (balance.amount_e4 % 10_000).abs();
            if json {
                print_json(&serde_json::json!({
                    "provider": provider,
                    "balance": format!("{whole}.{fraction:04}"),
                    "currency": balance.currency,
                }));
            } else {
                println!("{provider}: {whole}.{fraction:04} {}", balance.currency);
            }
        }
    }
    Ok(())
}

fn registry(db: &PgPool) -> anyhow::Result<Registry> {
    let config = Config::from_env()?;
    Registry::new(&config.providers, &config.simulator, db)
}

fn configured(db: &PgPool, name: &str) -> anyhow::Result<Arc<dyn Provider>> {
    let registry = registry(db)?;
    match registry.get(name) {
        Some(provider) => Ok(provider.clone()),
        None => bail!(
            "provider `{name}` is not configured (configured: {}; see .env.example for the TAVARO_<PROVIDER>_* variables)",
            registry.names().join(", ")
        ),
    }
}

fn report_json(provider: &str, r: &SyncReport) -> serde_json::Value {
    serde_json::json!({
        "provider": provider,
        "fetched": r.fetched,
        "added": r.added,
        "updated": r.updated,
        "deactivated": r.deactivated,
        "unchanged": r.unchanged,
        "skipped": r.skipped,
        "incomplete": r.incomplete,
    })
}
