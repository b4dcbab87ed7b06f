//! The seed's `bin/collector`: `collector [flags]` is `conanchor-tui collect [flags]`.
//! Go-style single-dash flags (`-data-dir ./data`) are accepted.

use clap::Parser;
use conanchor::cli::collect::CollectArgs;

#[derive(Parser)]
#[command(
    name = "collector",
    version,
    about = "ConAnchor collector (same as `conanchor-tui collect`)"
)]
struct Args {
    #[command(flatten)]
    inner: CollectArgs,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse_from(conanchor::util::go_style_args(std::env::args()));
    conanchor::cli::run_command(conanchor::cli::Command::Collect(args.inner))
}
