//! `convene ics check` and `convene ics normalize`: iCalendar files through Convene's
//! importer, and back out through its exporter.

use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use convene_ical::{Imported, Limits, parse_bytes, write};

/// The `convene ics` subcommands.
#[derive(Debug, Subcommand)]
pub enum IcsCommand {
    /// Import each file and print how many events it contains and which events were
    /// skipped and why, or why the whole file is rejected.
    ///
    /// Exit status: 0 when every file imports (skipped events allowed), 1 when a file is
    /// rejected or cannot be read, 2 for invalid arguments.
    Check(CheckArgs),
    /// Import one file and print Convene's export of its events: one VTIMEZONE per time
    /// zone used, then the events. Skipped events are listed on standard error.
    ///
    /// Exit status: 0 when the file imports, 1 when it is rejected or cannot be read.
    Normalize(NormalizeArgs),
}

/// Arguments of `convene ics check`.
#[derive(Debug, Clone, Args)]
pub struct CheckArgs {
    /// iCalendar files (.ics) to check.
    #[arg(value_name = "FILE", required = true)]
    pub files: Vec<PathBuf>,
}

/// Arguments of `convene ics normalize`.
#[derive(Debug, Clone, Args)]
pub struct NormalizeArgs {
    /// iCalendar file (.ics) to import and write out again.
    #[arg(value_name = "FILE")]
    pub file: PathBuf,
}

/// Runs one `convene ics` subcommand.
pub fn run(command: IcsCommand) -> anyhow::Result<ExitCode> {
    match command {
        IcsCommand::Check(args) => Ok(check(&args.files)),
        IcsCommand::Normalize(args) => normalize(&args.file),
    }
}

fn check(files: &[PathBuf]) -> ExitCode {
    let mut all_imported = true;
    for file in files {
        match import(file) {
            Ok(imported) => {
                let events = imported.calendar.events.len();
                let skipped = imported.skipped.len();
                println!(
                    "{}: {events} event(s) to import, {skipped} skipped",
                    file.display()
                );
                for skip in &imported.skipped {
                    println!("  {skip}");
                }
            }
            Err(error) => {
                all_imported = false;
                println!("{}: rejected: {error:#}", file.display());
            }
        }
    }
    if all_imported {
        ExitCode::SUCCESS
    } else {
        ExitCode::FAILURE
    }
}

fn normalize(file: &Path) -> anyhow::Result<ExitCode> {
    let imported = import(file).with_context(|| format!("{} is rejected", file.display()))?;
    for skip in &imported.skipped {
        eprintln!("{}: {skip}", file.display());
    }
    print!("{}", write(&imported.calendar));
    Ok(ExitCode::SUCCESS)
}

fn import(file: &Path) -> anyhow::Result<Imported> {
    let bytes = std::fs::read(file).with_context(|| format!("cannot read {}", file.display()))?;
    Ok(parse_bytes(&bytes, &Limits::default())?)
}
