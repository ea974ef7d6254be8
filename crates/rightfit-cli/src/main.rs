//! The `rightfit` command: argument parsing, settings resolved once, and dispatch to library
//! code, whose results it prints.
//!
//! Talks to every library crate: the work is theirs (evaluation, decisions, measurements, the
//! gateway), and so are the tables and JSON it prints (`rightfit-report`).

use std::io::IsTerminal;
use std::process::ExitCode;

use anyhow::Context;
use clap::Parser;
use rightfit_config::{Overrides, Settings, env};

mod args;
mod commands;
mod errors;

use args::{Cli, Command};

fn main() -> ExitCode {
    // candle's element-wise pool spins while it waits, stealing the cores its matrix products
    // need (1.75x slower training measured on 2 busy cores): one thread, before any tensor op.
    if std::env::var_os(env::CANDLE_NUM_THREADS).is_none() {
        // SAFETY: no other thread exists yet.
        unsafe { std::env::set_var(env::CANDLE_NUM_THREADS, "1") };
    }
    std::panic::set_hook(Box::new(|info| {
        #[allow(clippy::print_stderr)]
        {
            eprintln!("rightfit: internal error (a bug, please report it): {info}");
        }
        std::process::exit(2);
    }));
    let cli = Cli::parse();
    init_logging(cli.global.verbose);
    match run(cli) {
        Ok(()) => ExitCode::SUCCESS,
        Err(err) => {
            let code = errors::exit_code(&err);
            #[allow(clippy::print_stderr)]
            {
                eprintln!("error: {err}");
                for cause in err.chain().skip(1) {
                    eprintln!("  caused by: {cause}");
                }
            }
            ExitCode::from(code)
        }
    }
}

fn run(cli: Cli) -> anyhow::Result<()> {
    let settings = Settings::resolve(&Overrides {
        home: cli.global.home,
        threads: cli.global.threads,
    })
    .map_err(errors::user)?;
    // The gateway gets one worker per CPU it may run on (sched affinity counts: a gateway pinned
    // to one CPU with two workers spends its time switching between them); the other commands'
    // heavy work is on the engine's own threads, and two workers keep their I/O moving.
    let workers = match cli.command {
        Command::Serve(_) => std::thread::available_parallelism().map_or(2, |n| n.get()),
        _ => 2,
    };
    let runtime = tokio::runtime::Builder::new_multi_thread()
        .worker_threads(workers)
        .enable_all()
        .build()
        .context("cannot start the async runtime")?;
    runtime.block_on(async move {
        match cli.command {
            Command::Models(cmd) => commands::models::run(&settings, cmd).await,
            Command::Chat(args) => commands::generate::chat(&settings, args).await,
            Command::Complete(args) => commands::generate::complete(&settings, args).await,
            Command::Embed(args) => commands::generate::embed(&settings, args).await,
            Command::Loglik(args) => commands::generate::loglik(&settings, args).await,
            Command::BenchModel(args) => commands::bench::run(&settings, args).await,
            Command::Init(args) => commands::project::init(args),
            Command::Config(cmd) => commands::project::config(&settings, cmd).await,
            Command::Eval(args) => commands::eval::run(&settings, args).await,
            Command::Score(args) => commands::score::run(args),
            Command::Runs(cmd) => commands::runs::run(cmd).await,
            Command::BenchEval(args) => commands::bench_eval::run(&settings, args).await,
            Command::Recommend(args) => commands::recommend::recommend(&settings, args).await,
            Command::Report(args) => commands::recommend::report_command(&settings, args).await,
            Command::Devices(args) => commands::devices::run(&settings, args),
            Command::Serve(args) => commands::serve::run(&settings, args).await,
            Command::Cascade(args::CascadeCommand::Calibrate(args)) => {
                commands::cascade::calibrate(args).await
            }
            Command::Traffic(cmd) => commands::traffic::run(cmd).await,
            Command::Keys(cmd) => commands::keys::run(cmd).await,
            Command::Distill(args) => commands::distill::run(&settings, args).await,
            Command::Students(cmd) => commands::distill::students(cmd),
        }
    })
}

fn init_logging(verbose: u8) {
    use tracing_subscriber::EnvFilter;
    let filter = match (verbose, std::env::var(env::LOG)) {
        (0, Ok(spec)) => EnvFilter::new(spec),
        // llama.cpp's own warnings (odd tokenizer entries, cache sizing notes) are for -v.
        (0, Err(_)) => EnvFilter::new("warn,llama-cpp-2=error"),
        (1, _) => EnvFilter::new("info,llama-cpp-2=warn"),

        _ => EnvFilter::new("debug"),
    };
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(std::io::stderr)
        .with_ansi(std::io::stderr().is_terminal())
        .with_target(false)
        .init();
}
