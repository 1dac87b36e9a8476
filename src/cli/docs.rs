//! `pith completions SHELL` and `pith man [-o DIR]`: shell completions and man pages,
//! generated from the one command-line definition so they cannot drift from it.

use std::path::PathBuf;

use clap::CommandFactory as _;

use super::{Cli, Failure};

#[derive(clap::Args, Debug)]
pub struct CompletionsArgs {
    /// The shell.
    shell: clap_complete::Shell,
    /// Write the script here instead of stdout (atomically; refused if it exists unless
    /// --force).
    #[arg(short = 'o', long, value_name = "FILE")]
    out: Option<PathBuf>,
    /// Replace an existing --out file.
    #[arg(long)]
    force: bool,
}

#[derive(clap::Args, Debug)]
pub struct ManArgs {
    /// Write one page per command into this directory (pith.1, pith-key-generate.1, …);
    /// without it, pith.1 goes to stdout.
    #[arg(short = 'o', long, value_name = "DIR")]
    out: Option<PathBuf>,
    /// Replace pages that exist.
    #[arg(long)]
    force: bool,
}

pub fn completions(a: CompletionsArgs) -> Result<u8, Failure> {
    let mut cmd = Cli::command();
    let mut b = Vec::new();
    clap_complete::generate(a.shell, &mut cmd, "pith", &mut b);
    super::emit(a.out.as_ref(), a.force, &b)?;
    if let Some(p) = &a.out {
        infoln!(
            "wrote the {} completion script to {}",
            a.shell,
            super::shown(p)
        );
    }
    Ok(0)
}

pub fn man(a: ManArgs) -> Result<u8, Failure> {
    let cmd = Cli::command();
    let Some(dir) = a.out else {
        let mut b = Vec::new();
        clap_mangen::Man::new(cmd)
            .render(&mut b)
            .map_err(|e| Failure::Usage(format!("cannot render the man page: {e}")))?;
        super::emit(None, false, &b)?;
        return Ok(0);
    };
    if std::fs::metadata(&dir).is_ok_and(|m| !m.is_dir()) {
        return Err(Failure::Usage(format!(
            "{}: is not a directory; man -o names the directory for the pages",
            super::shown(&dir)
        )));
    }
    std::fs::create_dir_all(&dir)
        .map_err(|e| Failure::Usage(format!("cannot create {}: {e}", super::shown(&dir))))?;
    let mut pages = Vec::new();
    collect(&cmd, "pith", &mut pages);
    for (name, page) in &pages {
        let mut b = Vec::new();
        clap_mangen::Man::new(page.clone())
            .title(name.clone())
            .render(&mut b)
            .map_err(|e| Failure::Usage(format!("cannot render {name}: {e}")))?;
        let path = dir.join(format!("{name}.1"));
        pith::io::write_output(Some(&path), &b, a.force)?;
    }
    infoln!(
        "wrote {} man page(s) to {}",
        pages.len(),
        super::shown(&dir)
    );
    Ok(0)
}

/// Every command and subcommand, named as man pages are (`pith-key-generate`).
fn collect(cmd: &clap::Command, name: &str, out: &mut Vec<(String, clap::Command)>) {
    let page = cmd.clone().name(name.to_owned());
    out.push((name.to_owned(), page));
    for sub in cmd.get_subcommands() {
        if sub.get_name() == "help" {
            continue;
        }
        collect(sub, &format!("{name}-{}", sub.get_name()), out);
    }
}
