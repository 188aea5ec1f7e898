//! The `tavaro` binary: parses the command line and hands over to [`tavaro::cli`].

use std::process::ExitCode;

use clap::Parser;

/// mimalloc rather than glibc's malloc: the server allocates and frees small buffers on
/// every request from many threads, which glibc served with lock contention and arena
/// consolidation (~12% of a catalog request's CPU in `bench/run` profiles).
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

#[tokio::main]
async fn main() -> ExitCode {
    // A local .env is a convenience for development; real deployments set the environment.
    let _ = dotenvy::dotenv();
    let cli = match tavaro::cli::Cli::try_parse() {
        Ok(cli) => cli,
        // --help and --version are not errors.
        Err(err) if !err.use_stderr() => {
            let _ = err.print();
            return ExitCode::SUCCESS;
        }
        Err(err) => {
            eprintln!("error: {}", tavaro::cli::one_line(&err));
            return ExitCode::from(2);
        }
    };
    match tavaro::cli::run(cli).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            // One line, with the cause chain, for the operator at the terminal.
            eprintln!("error: {err:#}");
            ExitCode::FAILURE
        }
    }
}
