//! The operator command line. Every command reads `DATABASE_URL` (and `.env`), prints
//! human-readable output or, with `--json`, one JSON document, and exits non-zero with a
//! one-line error on bad input.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context;
use clap::{Args, Parser, Subcommand};
use serde_json::json;
use sqlx::PgPool;
use sqlx::postgres::PgPoolOptions;

use crate::auth;
use crate::catalog::{self, CatalogFile};
use crate::config::{self, Config, LogFormat};
use crate::esims;
use crate::ledger::{self, EntryKind, NewEntry};
use crate::money::Cents;
use crate::orders::reconcile;
use crate::partners;
use crate::provider::EsimUsage;
use crate::provider::simulator;
use crate::startup::{self, Application};
use crate::telemetry;

/// Tavaro partner gateway: serve the API and manage partners, keys, credits and the catalog.
#[derive(Debug, Parser)]
#[command(name = "tavaro", version, about)]
pub struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Run the HTTP server (migrates first).
    Serve,
    /// Apply pending database migrations.
    Migrate,
    /// Manage the plan catalog.
    #[command(subcommand)]
    Catalog(CatalogCommand),
    /// Manage partner accounts.
    #[command(subcommand)]
    Partner(PartnerCommand),
    /// Manage partners' API keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Manage prepaid credits.
    #[command(subcommand)]
    Credits(CreditsCommand),
    /// Drive the built-in simulator provider (demos and tests).
    #[command(subcommand)]
    Sim(SimCommand),
    /// Inspect orders.
    #[command(subcommand)]
    Orders(OrdersCommand),
    /// Check the credits ledger.
    #[command(subcommand)]
    Ledger(LedgerCommand),
}

#[derive(Debug, Subcommand)]
enum OrdersCommand {
    /// Orders reconciliation could not settle in time: look at them with the provider.
    Stuck {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum LedgerCommand {
    /// Check every balance, entry and order against the ledger invariants; exits non-zero
    /// naming each offender.
    Verify {
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum CatalogCommand {
    /// Load or update the catalog from a JSON file (idempotent).
    Import {
        /// The catalog file, e.g. catalog/demo.json.
        file: PathBuf,
    },
}

#[derive(Debug, Subcommand)]
enum PartnerCommand {
    /// Create a partner with a zero balance.
    Create {
        /// Unique partner name.
        #[arg(long)]
        name: String,
        /// Markup in percent applied to catalog prices (e.g. 20 or 12.5).
        #[arg(long, default_value = "0", allow_hyphen_values = true)]
        markup: String,
        /// Print {"id","name","markup"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List partners with balances.
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Suspend a partner: its keys get 403 until re-activated.
    Suspend(PartnerArg),
    /// Re-activate a suspended partner.
    Activate(PartnerArg),
}

#[derive(Debug, Args)]
struct PartnerArg {
    /// Partner id or unique name.
    #[arg(long)]
    partner: String,
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Create an API key; the key is printed once and never again.
    Create {
        /// Partner id or unique name.
        #[arg(long)]
        partner: String,
        /// Label, e.g. Production or Staging.
        #[arg(long)]
        label: String,
        /// Print {"id","partnerId","label","key"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List a partner's keys (never the secrets).
    List {
        /// Partner id or unique name.
        #[arg(long)]
        partner: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Revoke a key; every server refuses it within seconds.
    Revoke {
        /// The key id printed by `key create` / `key list`.
        key_id: String,
    },
}

#[derive(Debug, Subcommand)]
enum CreditsCommand {
    /// Add prepaid credits (a top-up ledger entry).
    Add {
        /// Partner id or unique name.
        #[arg(long)]
        partner: String,
        /// Amount in dollars, e.g. 100.00.
        #[arg(long, allow_hyphen_values = true)]
        amount: String,
        /// Note kept on the ledger entry.
        #[arg(long)]
        note: Option<String>,
    },
    /// Show a partner's balance.
    Balance(PartnerArg),
}

#[derive(Debug, Subcommand)]
enum SimCommand {
    /// Record data used on a simulated eSIM (activates it on first use).
    Use {
        /// eSIM id (from the order response) or ICCID.
        #[arg(long)]
        esim: String,
        /// Megabytes used.
        #[arg(long, allow_hyphen_values = true)]
        mb: i64,
    },
    /// End a simulated eSIM's validity now.
    Expire {
        /// eSIM id (from the order response) or ICCID.
        #[arg(long)]
        esim: String,
    },
}

/// Largest single top-up accepted from the CLI: a typo guard, not a business rule.
const MAX_TOPUP: Cents = Cents::new(100_000_000 * 100);

/// A command-line parsing error as one line: the problem, without the usage block.
pub fn one_line(err: &clap::Error) -> String {
    let rendered = err.render().to_string();
    let problem: Vec<&str> = rendered
        .lines()
        .map(str::trim)
        .take_while(|line| !line.starts_with("Usage:") && !line.starts_with("For more information"))
        .filter(|line| !line.is_empty())
        .collect();
    let problem = problem.join(" ");
    let problem = problem.strip_prefix("error: ").unwrap_or(&problem);
    format!("{problem} (see --help)")
}

/// Runs a parsed command.
pub async fn run(cli: Cli) -> anyhow::Result<()> {
    match cli.command {
        Command::Serve => serve().await,
        command => {
            // Admin commands log only warnings, to stderr: stdout is for their output.
            telemetry::init(LogFormat::Text, "warn", std::io::stderr);
            let db = connect().await?;
            admin(command, &db).await
        }
    }
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    telemetry::init(
        config.log_format,
        telemetry::DEFAULT_FILTER,
        std::io::stdout,
    );
    let app = Application::build(config).await?;
    println!("Tavaro gateway listening on http://{}", app.address());
    app.run_until_stopped().await
}

async fn connect() -> anyhow::Result<PgPool> {
    PgPoolOptions::new()
        .max_connections(2)
        .acquire_timeout(Duration::from_secs(10))
        .connect(&config::database_url()?)
        .await
        .context("cannot connect to the database (check DATABASE_URL)")
}

async fn admin(command: Command, db: &PgPool) -> anyhow::Result<()> {
    match command {
        Command::Serve => unreachable!("handled by run"),
        Command::Migrate => {
            startup::migrate(db).await?;
            println!("Database is up to date.");
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
        Command::Partner(command) => partner(command, db).await?,
        Command::Key(command) => key(command, db).await?,
        Command::Credits(command) => credits(command, db).await?,
        Command::Sim(command) => sim(command, db).await?,
        Command::Orders(OrdersCommand::Stuck { json }) => {
            let stuck = reconcile::stuck(db).await?;
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
                    println!(
                        "{:<36}  {:<20}  {:<10}  {:>10}  {:<20}  {:>8}  {}",
                        o.order_id,
                        o.partner,
                        o.status,
                        o.total_cost.to_string(),
                        o.created_at.format("%Y-%m-%d %H:%M:%S"),
                        o.attempts,
                        o.last_error.unwrap_or_default()
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
    }
    Ok(())
}

async fn key(command: KeyCommand, db: &PgPool) -> anyhow::Result<()> {
    match command {
        KeyCommand::Create {
            partner,
            label,
            json,
        } => {
            let p = partners::resolve(db, &partner).await?;
            let created = auth::create_key(db, p.id, &label).await?;
            if json {
                print_json(&json!({
                    "id": created.id,
                    "partnerId": created.partner_id,
                    "label": created.label,
                    "key": created.token.expose(),
                }));
            } else {
                println!(
                    "Created key {} ({}) for partner {}.",
                    created.id, created.label, p.name
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
                    "{:<36}  {:<20}  {:<22}  {:<20}  STATE",
                    "ID", "PREFIX", "LABEL", "CREATED"
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
                        "{:<36}  {:<20}  {:<22}  {:<20}  {state}",
                        k.id,
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
                    partner: p.id,
                    kind: EntryKind::Topup,
                    amount,
                    order: None,
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
            let balance = ledger::balance(&mut conn, p.id).await?;
            println!("{}: {} USD", p.name, balance.amount);
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

fn print_json<T: serde::Serialize>(value: &T) {
    println!(
        "{}",
        serde_json::to_string_pretty(value).expect("CLI output serializes")
    );
}
