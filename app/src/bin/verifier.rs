//! The seed's `cmd/verifier`: `verifier [flags]` is `conanchor-tui verify [flags]`.
//! Go-style single-dash flags (`-container-instance-id x`) are accepted.

use clap::Parser;
use conanchor::cli::verify::VerifyArgs;

#[derive(Parser)]
#[command(
    name = "verifier",
    version,
    about = "ConAnchor verifier (same as `conanchor-tui verify`)"
)]
struct Args {
    #[command(flatten)]
    inner: VerifyArgs,
}

fn main() -> std::process::ExitCode {
    let args = Args::parse_from(conanchor::util::go_style_args(std::env::args()));
    conanchor::cli::run_command(conanchor::cli::Command::Verify(args.inner))
}
