//! Settings of the HTTP API: the administrator token and the rate limit of each caller.

use std::num::NonZeroU32;
use std::path::PathBuf;

use clap::Args;

use crate::config::SettingsError;
use crate::http::RateLimit;

/// The shortest administrator token accepted: 32 characters, which is 192 bits or more
/// when generated as `openssl rand -base64 32` suggests.
const MIN_ADMIN_TOKEN_CHARS: usize = 32;

#[derive(Debug, Clone, Args)]
pub struct ApiSettings {
    /// Token of the administrator, who creates users and may act for anyone; at least 32
    /// characters, such as the output of `openssl rand -base64 32`. Without it (or
    /// --admin-token-file), only `convene user create` creates users.
    #[arg(long, env = "CONVENE_ADMIN_TOKEN", hide_env_values = true)]
    pub admin_token: Option<String>,

    /// File whose first line is the administrator token, as an alternative to
    /// --admin-token that keeps the token out of the process environment.
    #[arg(long, env = "CONVENE_ADMIN_TOKEN_FILE", conflicts_with = "admin_token")]
    pub admin_token_file: Option<PathBuf>,

    /// Requests per minute that each caller (the administrator, or a user with all of
    /// their tokens) may send, sustained; 0 switches rate limiting off. A caller over
    /// the limit gets 429 with Retry-After.
    #[arg(long, env = "CONVENE_RATE_LIMIT", default_value_t = 600)]
    pub rate_limit: u32,

    /// Requests that an idle caller may send at once, above the sustained rate.
    #[arg(long, env = "CONVENE_RATE_BURST", default_value_t = 60, value_parser = clap::value_parser!(u32).range(1..))]
    pub rate_burst: u32,
}

impl ApiSettings {
    /// Returns the administrator token from the setting or the file, when either is set.
    pub fn admin_token(&self) -> Result<Option<String>, SettingsError> {
        let (token, source) = match (&self.admin_token, &self.admin_token_file) {
            (Some(token), _) => (
                token.trim().to_owned(),
                "--admin-token / CONVENE_ADMIN_TOKEN",
            ),
            (None, Some(path)) => {
                let text = std::fs::read_to_string(path).map_err(|err| {
                    SettingsError::new(format!(
                        "reading the administrator token file {} failed: {err}; set --admin-token-file / CONVENE_ADMIN_TOKEN_FILE to a readable file",
                        path.display()
                    ))
                })?;
                warn_if_readable_by_others(path);
                let first_line = text.lines().next().unwrap_or("").trim().to_owned();
                (
                    first_line,
                    "the file of --admin-token-file / CONVENE_ADMIN_TOKEN_FILE",
                )
            }
            (None, None) => return Ok(None),
        };
        let chars = token.chars().count();
        if chars < MIN_ADMIN_TOKEN_CHARS {
            return Err(SettingsError::new(format!(
                "the administrator token from {source} has {chars} characters, fewer than {MIN_ADMIN_TOKEN_CHARS}; generate one with `openssl rand -base64 32`"
            )));
        }
        if !token.chars().all(|c| c.is_ascii_graphic()) {
            return Err(SettingsError::new(format!(
                "the administrator token from {source} contains a space, a control character or a non-ASCII character (a byte order mark, say), which clients cannot send in an Authorization header; generate one with `openssl rand -base64 32`"
            )));
        }
        Ok(Some(token))
    }

    pub fn rate_limit(&self) -> RateLimit {
        RateLimit {
            per_minute: NonZeroU32::new(self.rate_limit),
            burst: NonZeroU32::new(self.rate_burst).unwrap_or(NonZeroU32::MIN),
        }
    }
}

/// Logs a warning when users other than the file's owner and group may read the token.
fn warn_if_readable_by_others(path: &std::path::Path) {
    use std::os::unix::fs::PermissionsExt;
    if let Ok(metadata) = std::fs::metadata(path)
        && metadata.permissions().mode() & 0o004 != 0
    {
        tracing::warn!(
            path = %path.display(),
            "every user of this machine may read the administrator token file; restrict it with chmod 600"
        );
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn settings(token: Option<&str>, file: Option<PathBuf>) -> ApiSettings {
        ApiSettings {
            admin_token: token.map(str::to_owned),
            admin_token_file: file,
            rate_limit: 600,
            rate_burst: 60,
        }
    }

    #[test]
    fn admin_token_from_setting_or_file() {
        let token = "k3jP9x2mQ8vR4tY7wZ1aB5cD6eF0gH2i";
        assert_eq!(
            settings(Some(token), None)
                .admin_token()
                .unwrap()
                .as_deref(),
            Some(token)
        );
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("admin-token");
        std::fs::write(&path, format!("{token}\nignored\n")).unwrap();
        assert_eq!(
            settings(None, Some(path)).admin_token().unwrap().as_deref(),
            Some(token)
        );
        assert_eq!(settings(None, None).admin_token().unwrap(), None);
    }

    #[test]
    fn admin_token_rejected_when_weak_or_unreadable() {
        let err = settings(Some("short"), None).admin_token().unwrap_err();
        assert!(err.to_string().contains("fewer than 32"), "{err}");
        let err = settings(Some("a b c d e f g h i j k l m n o p q r s"), None)
            .admin_token()
            .unwrap_err();
        assert!(err.to_string().contains("space"), "{err}");
        let err = settings(Some("\u{feff}k3jP9x2mQ8vR4tY7wZ1aB5cD6eF0gH2i"), None)
            .admin_token()
            .unwrap_err();
        assert!(err.to_string().contains("non-ASCII"), "{err}");
        let err = settings(None, Some(PathBuf::from("/nonexistent/admin-token")))
            .admin_token()
            .unwrap_err();
        assert!(
            err.to_string().contains("CONVENE_ADMIN_TOKEN_FILE"),
            "{err}"
        );
    }
}
