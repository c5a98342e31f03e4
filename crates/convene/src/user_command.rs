//! `convene user create` and `convene user token`: users and API tokens made directly in
//! the database, for the first user of a new installation and for operators who run
//! without an administrator token.

use std::process::ExitCode;

use anyhow::Context;
use clap::{Args, Subcommand};
use convene_domain::{EmailAddress, NewUser, UserId};
use convene_scheduler::Scheduler;
use jiff::Timestamp;
use serde_json::json;

use crate::config::SettingsError;
use crate::serve::database_error;

/// The `convene user` subcommands.
#[derive(Debug, Subcommand)]
pub enum UserCommand {
    /// Create a user and print it as JSON with its first API token, which is shown only
    /// this once.
    ///
    /// Exit status: 0 on success, 1 when the address is taken or the database fails, 2
    /// for invalid arguments.
    Create(CreateArgs),
    /// Issue another API token for an existing user and print it as JSON.
    ///
    /// Exit status: 0 on success, 1 when no such user exists or the database fails, 2
    /// for invalid arguments.
    Token(TokenArgs),
}

/// The database setting shared by the `convene user` subcommands.
#[derive(Debug, Clone, Args)]
pub struct DatabaseArgs {
    /// The database of `convene serve`: `sqlite:PATH` or `postgres://USER@HOST/DATABASE`.
    #[arg(
        long,
        env = "CONVENE_DATABASE_URL",
        default_value = "sqlite:convene.db"
    )]
    pub database_url: String,
}

/// Arguments of `convene user create`.
#[derive(Debug, Clone, Args)]
pub struct CreateArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The user's name, as shown to others.
    #[arg(long)]
    pub name: String,
    /// The user's e-mail address, where reminders and invitations go.
    #[arg(long)]
    pub email: String,
    /// The user's IANA time zone, such as Europe/Berlin.
    #[arg(long)]
    pub time_zone: Option<String>,
}

/// Arguments of `convene user token`.
#[derive(Debug, Clone, Args)]
pub struct TokenArgs {
    #[command(flatten)]
    pub database: DatabaseArgs,
    /// The user, by id or by e-mail address.
    #[arg(value_name = "USER")]
    pub user: String,
}

/// Runs one `convene user` subcommand.
pub async fn run(command: UserCommand) -> anyhow::Result<ExitCode> {
    match command {
        UserCommand::Create(args) => create(args).await,
        UserCommand::Token(args) => token(args).await,
    }
}

async fn create(args: CreateArgs) -> anyhow::Result<ExitCode> {
    let new_user = NewUser::new(&args.name, &args.email, args.time_zone.as_deref())
        .map_err(|err| SettingsError::new(format!("--{}: {}", flag(&err.field), err.message)))?;
    let scheduler = open(&args.database).await?;
    let user = scheduler
        .create_user(new_user)
        .await
        .context("creating the user failed")?;
    let (_, secret) = scheduler
        .issue_token(user.id, Timestamp::now())
        .await
        .context("issuing the user's token failed")?;
    let output = json!({
        "id": user.id.to_string(),
        "name": user.name,
        "email": user.email.as_str(),
        "time_zone": user.time_zone,
        "token": secret,
    });
    println!("{output:#}");
    Ok(ExitCode::SUCCESS)
}

async fn token(args: TokenArgs) -> anyhow::Result<ExitCode> {
    let scheduler = open(&args.database).await?;
    let user = find_user(&scheduler, &args.user).await?;
    let (token, secret) = scheduler
        .issue_token(user, Timestamp::now())
        .await
        .context("issuing the token failed")?;
    let output = json!({
        "id": token.id.to_string(),
        "user": user.to_string(),
        "created_at": token.created_at.to_string(),
        "token": secret,
    });
    println!("{output:#}");
    Ok(ExitCode::SUCCESS)
}

/// Returns the id of the user that `text` names by id or by address.
async fn find_user(scheduler: &Scheduler, text: &str) -> anyhow::Result<UserId> {
    if let Ok(id) = text.parse::<UserId>() {
        return Ok(scheduler
            .user(id)
            .await
            .context("finding the user failed")?
            .id);
    }
    let address = EmailAddress::parse("USER", text).map_err(|_| {
        SettingsError::new(format!(
            "USER {text:?} is neither a user id nor an e-mail address"
        ))
    })?;
    scheduler
        .user_by_email(&address)
        .await
        .context("finding the user failed")?
        .map(|user| user.id)
        .with_context(|| format!("no user has the address {text}"))
}

async fn open(database: &DatabaseArgs) -> anyhow::Result<Scheduler> {
    // The command writes into the database a server uses, so it creates none: a new file
    // or an in-memory store would take the user and the token with it.
    let url = database.database_url.as_str();
    if url.starts_with("memory:") {
        return Err(SettingsError::new(
            "a memory: database ends with this command; set --database-url / CONVENE_DATABASE_URL to the database URL of convene serve",
        )
        .into());
    }
    if let Some(path) = url.strip_prefix("sqlite:") {
        let path = path.strip_prefix("//").unwrap_or(path);
        let path = path.split('?').next().unwrap_or(path);
        if !std::path::Path::new(path).exists() {
            return Err(SettingsError::new(format!(
                "no database at {path}; set --database-url / CONVENE_DATABASE_URL to the sqlite:PATH of convene serve, or start convene serve once to create it"
            ))
            .into());
        }
    }
    let store = convene_store::open(url)
        .await
        .map_err(|error| database_error(url, error))?;
    Ok(Scheduler::new(store))
}

/// Returns the flag that sets a field of a new user.
fn flag(field: &str) -> String {
    field.replace('_', "-")
}
