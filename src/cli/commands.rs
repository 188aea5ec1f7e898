//! What each operator command does, once parsed.

use serde_json::json;
use sqlx::PgPool;

use super::{
    CatalogCommand, Command, CreditsCommand, KeyCommand, LedgerCommand, MAX_TOPUP, OrdersCommand,
    PartnerArg, PartnerCommand, SimCommand,
};
use crate::auth;
use crate::catalog::{self, CatalogFile};
use crate::esims;
use crate::ledger::{self, EntryKind, NewEntry};
use crate::mode::{Account, Mode};
use crate::money::Cents;
use crate::orders;
use crate::partners;
use crate::provider::EsimUsage;
use crate::provider::normalize::printable;
use crate::provider::simulator;

pub(super) async fn admin(command: Command, db: &PgPool) -> anyhow::Result<()> {
    match command {
        Command::Serve | Command::Config(_) | Command::Migrate => {
            unreachable!("handled by run")
        }
        Command::Catalog(CatalogCommand::Import { file }) => {
            let parsed = CatalogFile::read(&file)?;
            let report = catalog::import_file(db, &parsed).await?;
            println!(
                "Imported {} countries, {} regions and {} plans from {} ({} plans withdrawn).",
                report.countries,
                report.regions,
                report.plans,
                file.display(),
                report.deactivated
            );
        }
        Command::Catalog(CatalogCommand::Sync {
            provider,
            margin,
            allow_shrink,
            json,
        }) => super::providers::catalog_sync(db, &provider, &margin, allow_shrink, json).await?,
        Command::Provider(command) => super::providers::provider(command, db).await?,
        Command::Partner(command) => partner(command, db).await?,
        Command::Key(command) => key(command, db).await?,
        Command::Credits(command) => credits(command, db).await?,
        Command::Sim(command) => sim(command, db).await?,
        Command::Orders(OrdersCommand::SettleRefund { esim, approve, .. }) => {
            let id = uuid::Uuid::parse_str(&esim)
                .map(crate::ids::EsimId)
                .map_err(|_| anyhow::anyhow!("--esim `{esim}` is not an eSIM id"))?;
            let settled = orders::settle_refund(db, id, approve).await?;
            println!("eSIM {esim}: {settled}");
        }
        Command::Orders(OrdersCommand::Stuck { json }) => {
            let stuck = orders::stuck::stuck(db).await?;
            if json {
                print_json(&stuck);
            } else if stuck.is_empty() {
                println!("No stuck orders.");
            } else {
                println!(
                    "{:<36}  {:<20}  {:<10}  {:>10}  {:<20}  {:>8}  LAST ERROR",
                    "ORDER", "PARTNER", "STATUS", "DEBITED", "PLACED", "ATTEMPTS"
                );
                for o in stuck {
                    // `last_error` holds upstream words, some stored before they were
                    // cleaned: no control character reaches the operator's terminal.
                    println!(
                        "{:<36}  {:<20}  {:<10}  {:>10}  {:<20}  {:>8}  {}",
                        o.order_id,
                        printable(&o.partner),
                        o.status,
                        o.total_cost.to_string(),
                        o.created_at.format("%Y-%m-%d %H:%M:%S"),
                        o.attempts,
                        printable(&o.last_error.unwrap_or_default())
                    );
                }
            }
        }
        Command::Ledger(LedgerCommand::Verify { json }) => {
            let report = ledger::verify(db).await?;
            if json {
                print_json(&report);
            } else {
                for finding in &report.findings {
                    let partner = finding
                        .partner_id
                        .map(|p| format!("partner {p}: "))
                        .unwrap_or_default();
                    println!("{partner}{}", finding.problem);
                }
            }
            anyhow::ensure!(
                report.findings.is_empty(),
                "ledger verification found {} problem(s)",
                report.findings.len()
            );
            if !json {
                println!(
                    "Ledger OK: {} balances, {} entries and {} orders checked.",
                    report.partners, report.entries, report.orders
                );
            }
        }
    }
    Ok(())
}

async fn partner(command: PartnerCommand, db: &PgPool) -> anyhow::Result<()> {
    match command {
        PartnerCommand::Create { name, markup, json } => {
            let markup_bps = partners::parse_markup_percent(&markup)?;
            let mut conn = db.begin().await?;
            let partner = partners::create(&mut conn, &name, markup_bps).await?;
            conn.commit().await?;
            if json {
                print_json(&json!({
                    "id": partner.id,
                    "name": partner.name,
                    "markup": partner.markup_percent(),
                }));
            } else {
                println!(
                    "Created partner {} ({}), markup {}%.",
                    partner.name,
                    partner.id,
                    partner.markup_percent()
                );
            }
        }
        PartnerCommand::List { json } => {
            let list = partners::list(db).await?;
            if json {
                print_json(&list);
            } else if list.is_empty() {
                println!("No partners yet: create one with `tavaro partner create --name NAME`.");
            } else {
                println!(
                    "{:<36}  {:<24}  {:>7}  {:<9}  {:>12}  KEYS",
                    "ID", "NAME", "MARKUP", "STATUS", "BALANCE"
                );
                for p in list {
                    println!(
                        "{:<36}  {:<24}  {:>6}%  {:<9}  {:>12}  {}",
                        p.partner.id,
                        p.partner.name,
                        p.markup.to_string(),
                        p.partner.status,
                        p.balance.to_string(),
                        p.active_keys
                    );
                }
            }
        }
        PartnerCommand::Suspend(PartnerArg { partner }) => {
            let p = partners::resolve(db, &partner).await?;
            partners::set_active(db, p.id, false).await?;
            println!(
                "Suspended partner {} ({}): its keys now get 403.",
                p.name, p.id
            );
        }
        PartnerCommand::Activate(PartnerArg { partner }) => {
            let p = partners::resolve(db, &partner).await?;
            partners::set_active(db, p.id, true).await?;
            println!("Activated partner {} ({}).", p.name, p.id);
        }
        PartnerCommand::LowBalance { partner, amount } => {
            let p = partners::resolve(db, &partner).await?;
            let threshold = if amount == "0" {
                Cents::ZERO
            } else {
                Cents::parse_dollars(&amount).map_err(|e| anyhow::anyhow!("--amount {e}"))?
            };
            partners::set_low_balance_threshold(db, p.id, threshold).await?;
            println!(
                "Low-balance threshold of {} ({}) set to {threshold}.",
                p.name, p.id
            );
        }
    }
    Ok(())
}

async fn key(command: KeyCommand, db: &PgPool) -> anyhow::Result<()> {
    match command {
        KeyCommand::Create {
            partner,
            label,
            sandbox,
            json,
        } => {
            let p = partners::resolve(db, &partner).await?;
            let mode = if sandbox { Mode::Sandbox } else { Mode::Live };
            let created = auth::create_key_in(db, p.id, &label, mode).await?;
            if json {
                print_json(&json!({
                    "id": created.id,
                    "partnerId": created.partner_id,
                    "label": created.label,
                    "mode": created.mode,
                    "key": created.token.expose(),
                }));
            } else {
                println!(
                    "Created {} key {} ({}) for partner {}.",
                    created.mode, created.id, created.label, p.name
                );
                println!("{}", created.token.expose());
                println!("Store it now: it is shown only this once.");
            }
        }
        KeyCommand::List { partner, json } => {
            let p = partners::resolve(db, &partner).await?;
            let keys = auth::list_keys(db, p.id).await?;
            if json {
                print_json(&keys);
            } else if keys.is_empty() {
                println!("Partner {} has no keys.", p.name);
            } else {
                println!(
                    "{:<36}  {:<7}  {:<25}  {:<22}  {:<20}  STATE",
                    "ID", "MODE", "PREFIX", "LABEL", "CREATED"
                );
                for k in keys {
                    let state = match (k.revoked_at, k.last_used_at) {
                        (Some(at), _) => format!("revoked {}", at.format("%Y-%m-%d %H:%M")),
                        (None, Some(at)) => {
                            format!("active, last used {}", at.format("%Y-%m-%d %H:%M"))
                        }
                        (None, None) => "active, never used".to_owned(),
                    };
                    println!(
                        "{:<36}  {:<7}  {:<25}  {:<22}  {:<20}  {state}",
                        k.id,
                        k.mode.as_str(),
                        k.prefix,
                        k.label,
                        k.created_at.format("%Y-%m-%d %H:%M")
                    );
                }
            }
        }
        KeyCommand::Revoke { key_id } => {
            let k = auth::revoke_key(db, &key_id).await?;
            println!("Revoked key {} ({}, {}).", k.id, k.label, k.prefix);
        }
    }
    Ok(())
}

async fn credits(command: CreditsCommand, db: &PgPool) -> anyhow::Result<()> {
    match command {
        CreditsCommand::Add {
            partner,
            amount,
            note,
        } => {
            let amount = Cents::parse_dollars(amount.trim())
                .map_err(|e| anyhow::anyhow!("--amount: {e}"))?;
            anyhow::ensure!(amount > Cents::ZERO, "--amount must be more than 0.00");
            anyhow::ensure!(
                amount <= MAX_TOPUP,
                "--amount is above the {MAX_TOPUP} limit of one top-up"
            );
            let p = partners::resolve(db, &partner).await?;
            let mut tx = db.begin().await?;
            let posting = ledger::post(
                &mut tx,
                NewEntry {
                    account: Account::live(p.id),
                    kind: EntryKind::Topup,
                    amount,
                    order: None,
                    esim: None,
                    note: note.as_deref(),
                },
            )
            .await?;
            tx.commit().await?;
            println!(
                "Added {amount} USD to {}; balance is now {} USD.",
                p.name, posting.balance_after
            );
        }
        CreditsCommand::Balance(PartnerArg { partner }) => {
            let p = partners::resolve(db, &partner).await?;
            let mut conn = db.acquire().await?;
            let balance = ledger::balance(&mut conn, Account::live(p.id)).await?;
            println!("{}: {} USD", p.name, balance.amount);
            match ledger::balance(&mut conn, Account::sandbox(p.id)).await {
                Ok(sandbox) => println!("{} (sandbox): {} USD", p.name, sandbox.amount),
                Err(ledger::LedgerError::NoAccount) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(())
}

async fn sim(command: SimCommand, db: &PgPool) -> anyhow::Result<()> {
    let (esim, usage) = match command {
        SimCommand::Use { esim, mb } => {
            let iccid = esims::resolve_iccid(db, &esim).await?;
            (esim, simulator::record_usage(db, &iccid, mb).await?)
        }
        SimCommand::Expire { esim } => {
            let iccid = esims::resolve_iccid(db, &esim).await?;
            (esim, simulator::expire(db, &iccid).await?)
        }
        SimCommand::Refund { esim, approve, .. } => {
            let iccid = esims::resolve_iccid(db, &esim).await?;
            let decision = simulator::review_refund(db, &iccid, approve).await?;
            println!(
                "eSIM {esim}: refund {decision}; the gateway settles it at its next reconciliation"
            );
            return Ok(());
        }
    };
    print_usage(&esim, &usage);
    Ok(())
}

fn print_usage(esim: &str, usage: &EsimUsage) {
    println!(
        "eSIM {esim}: {}, {} MB used{}",
        usage.status.as_str(),
        usage.data_used_mb,
        usage
            .expires_at
            .map(|t| format!(", expires {}", t.to_rfc3339()))
            .unwrap_or_default()
    );
}

pub(super) fn print_json<T: serde::Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("CLI output serializes")
    );
}
