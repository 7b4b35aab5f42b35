//! `latchkey`: parse the command line and dispatch to the command's body in `latchkey::cli`.

use std::process::ExitCode;

use clap::Parser;
use latchkey::cli::database::{now, open_store};
use latchkey::cli::output::explain;
use latchkey::cli::{self, Cli, Command, TokenCommand};
use latchkey::config::Config;
use latchkey::domain::random::OsRandom;

/// mimalloc rather than the system allocator: the request path allocates many small, short-lived
/// objects across threads, and each argon2id hash takes 19 MiB that glibc's arenas would keep
/// (the benchmark's end-of-run RSS), where mimalloc returns it to the system.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    let cli = Cli::parse();
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            eprintln!("error: cannot start the async runtime: {e}");
            return ExitCode::FAILURE;
        }
    };
    match runtime.block_on(run(cli)) {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Config::load(cli.config.as_deref())?.validate()?;
    match cli.command {
        Command::Serve { demo } => cli::serve::run(settings, demo).await,
        Command::Migrate => cli::database::migrate(&settings).await,
        Command::Gc => cli::database::gc(&settings).await,
        Command::User(cmd) => {
            let store = open_store(&settings).await?;
            cli::users::run(&store, &OsRandom, cmd, now())
                .await
                .map_err(explain)
        }
        Command::Site(cmd) => cli::sites::run(&open_store(&settings).await?, cmd).await,
        Command::App(cmd) => cli::apps::run(&settings, &open_store(&settings).await?, cmd).await,
        Command::Token(TokenCommand::Revoke(args)) => {
            cli::tokens::revoke(&open_store(&settings).await?, args).await
        }
        Command::Audit(args) => cli::audit::run(&open_store(&settings).await?, args).await,
        Command::Keys(cmd) => cli::keys::run(&settings, &open_store(&settings).await?, cmd).await,
    }
}
