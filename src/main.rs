//! The `pith` command: parses arguments, calls the library, reports.
//!
//! Exit codes: 0 success, 1 verification failed or refused, 2 usage or I/O error.

#![forbid(unsafe_code)]
#![deny(clippy::unwrap_used, clippy::expect_used)]

mod cli;

use std::process::ExitCode;

use clap::Parser as _;

/// The bulk paths build and drop many small JSON values per record; mimalloc's
/// thread-local free lists cut the allocator's share of the run by about half.
#[global_allocator]
static ALLOCATOR: mimalloc::MiMalloc = mimalloc::MiMalloc;

fn main() -> ExitCode {
    // before any secret can be in memory: no core dumps, no same-user ptrace
    if let Err(e) = pith::trust::secret::harden_process() {
        use std::io::Write as _;
        let _ = writeln!(std::io::stderr(), "warning: cannot disable core dumps: {e}");
    }
    let args = match cli::Cli::try_parse() {
        Ok(a) => a,
        Err(e) => {
            let code = if e.use_stderr() { 2 } else { 0 };
            let _ = e.print();
            return ExitCode::from(code);
        }
    };
    match cli::run(args) {
        Ok(code) => ExitCode::from(code),
        Err(cli::Failure::Pipe) => ExitCode::from(0),
        Err(e) => {
            use std::io::Write as _;
            let _ = writeln!(
                std::io::stderr(),
                "pith: {}",
                pith::format::text::visible(&e.to_string())
            );
            ExitCode::from(e.exit_code())
        }
    }
}
