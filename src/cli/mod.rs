//! The operator command line. Every command reads `DATABASE_URL` (and `.env`), prints
//! human-readable output or, with `--json`, one JSON document, and exits non-zero with a
//! one-line error on bad input.

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::config::Config;
use crate::db::DatabaseConfig;
use crate::money::Cents;
use crate::startup::Application;
use crate::telemetry::{self, LogFormat};

mod commands;
mod config_check;
mod providers;

use commands::admin;

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
    /// Inspect the configured upstream providers.
    #[command(subcommand)]
    Provider(ProviderCommand),
    /// Check the configuration.
    #[command(subcommand)]
    Config(ConfigCommand),
}

#[derive(Debug, Subcommand)]
enum ConfigCommand {
    /// Validate every setting as `serve` would and print the effective configuration,
    /// secrets redacted (needs no database).
    Check {
        /// Print JSON.
        #[arg(long)]
        json: bool,
        /// Fail on warnings too (a setting that is valid but unsafe in production).
        #[arg(long)]
        strict: bool,
    },
}

#[derive(Debug, Subcommand)]
enum ProviderCommand {
    /// Names of the providers this configuration can call (the simulator is always there).
    List {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Our prepaid balance with an upstream provider.
    Balance {
        /// Provider name: esimaccess, airalo, esimgo or roamify.
        #[arg(long)]
        provider: String,
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
enum OrdersCommand {
    /// Orders reconciliation could not settle in time: look at them with the provider.
    Stuck {
        /// Print JSON.
        #[arg(long)]
        json: bool,
    },
    /// Settle a refund under review that the provider decides outside its API (Airalo
    /// reviews refunds by hand and has no status endpoint): approved credits the partner
    /// and cancels the eSIM; rejected returns it to READY.
    SettleRefund {
        /// The eSIM id (from the order response).
        #[arg(long)]
        esim: String,
        /// The provider approved the refund.
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        approve: bool,
        /// The provider rejected the refund.
        #[arg(long)]
        reject: bool,
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
    /// Pull an upstream provider's packages into plans priced at cost plus margin
    /// (idempotent; plans the provider dropped are deactivated, never deleted).
    Sync {
        /// Provider name: esimaccess, airalo, esimgo or roamify.
        #[arg(long)]
        provider: String,
        /// Margin in percent added to the provider's cost (e.g. 20 or 12.5).
        #[arg(long, default_value = "20", allow_hyphen_values = true)]
        margin: String,
        /// Withdraw the plans the provider no longer lists even when that is more than
        /// half of them, or all (a sync refuses that by default: it looks like a broken
        /// listing).
        #[arg(long)]
        allow_shrink: bool,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
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
    /// Set the balance below which the partner counts in the
    /// `tavaro_partners_below_low_balance_threshold` metric (0 turns it off).
    LowBalance {
        /// Partner id or unique name.
        #[arg(long)]
        partner: String,
        /// Threshold in dollars, e.g. 50.00.
        #[arg(long)]
        amount: String,
    },
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
        /// A sandbox key (`tvr_test_…`): test mode, its own balance (1000.00 USD to start),
        /// orders fulfilled by the simulator, never by an upstream.
        #[arg(long)]
        sandbox: bool,
        /// Print {"id","partnerId","label","mode","key"} as JSON.
        #[arg(long)]
        json: bool,
    },
    /// List a partner's keys with their mode (never the secrets).
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
        /// The key id printed by `key create` / `key list`, the prefix `tvr_<lookup id>_…`
        /// (`tvr_test_<lookup id>_…`) that `key list` shows, or the whole key (never
        /// printed back).
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
    /// Show a partner's balance (live, and sandbox once it has one).
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
    /// Decide a refund the simulator holds for review (`TAVARO_SIM_REFUNDS=reviewed`):
    /// the gateway's reconciler then credits it or returns the eSIM to READY.
    Refund {
        /// eSIM id (from the order response) or ICCID.
        #[arg(long)]
        esim: String,
        /// Approve the refund.
        #[arg(long, conflicts_with = "reject", required_unless_present = "reject")]
        approve: bool,
        /// Reject the refund.
        #[arg(long)]
        reject: bool,
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
        Command::Config(ConfigCommand::Check { json, strict }) => {
            config_check::config_check(json, strict)
        }
        command => {
            // Admin commands log only warnings, to stderr: stdout is for their output.
            telemetry::init(LogFormat::Text, "warn", std::io::stderr);
            // Operator commands need two connections at most.
            let config = DatabaseConfig::from_env(2)?;
            let db = config.pool().await?;
            if matches!(command, Command::Migrate) {
                config.migrate(&db).await?;
                println!("Database is up to date.");
                return Ok(());
            }
            admin(command, &db).await
        }
    }
}

async fn serve() -> anyhow::Result<()> {
    let config = Config::from_env()?;
    // Held until the server has stopped: dropping it writes out what is still queued.
    let (log_writer, _log_guard) = telemetry::background_stdout();
    telemetry::init(config.log_format, telemetry::DEFAULT_FILTER, log_writer);
    let app = Application::build(config).await?;
    if let Some(metrics) = app.metrics_address() {
        println!("Tavaro gateway metrics on http://{metrics}/metrics");
    }
    println!("Tavaro gateway listening on http://{}", app.address());
    app.run_until_stopped().await
}
