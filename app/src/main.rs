use std::process::ExitCode;

use clap::Parser;
use conanchor::cli::{self, Cli};

fn main() -> ExitCode {
    let cli = Cli::parse();
    match cli.command {
        Some(command) => cli::run_command(command),
        None => conanchor::tui::main(cli.tui),
    }
}
