//! Secrets (passwords, API tokens): from a command's first output line or
//! an environment variable, never from the config file itself. IMAP, SMTP
//! and Twilio accounts all read theirs through [`Secret`].

use serde::{Deserialize, Serialize};

/// Where one secret comes from, with the config keys that name it (for
/// messages: never what the command printed).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Secret {
    #[serde(skip)]
    command_key: &'static str,
    #[serde(skip)]
    env_key: &'static str,
    pub command: Option<String>,
    pub env: Option<String>,
}

impl Secret {
    pub fn new(
        command_key: &'static str,
        env_key: &'static str,
        command: Option<String>,
        env: Option<String>,
    ) -> Secret {
        Secret {
            command_key,
            env_key,
            command,
            env,
        }
    }

    pub fn is_set(&self) -> bool {
        self.command.is_some() || self.env.is_some()
    }

    /// One source at most; exactly one when `required`.
    pub fn check(&self, required: bool) -> Result<(), String> {
        let (c, e) = (self.command_key, self.env_key);
        match (&self.command, &self.env) {
            (Some(_), Some(_)) => Err(format!("set {c} or {e}, not both")),
            (None, None) if required => {
                Err(format!("set {c} or {e} (secrets never go in the config)"))
            }
            _ => Ok(()),
        }
    }

    /// Reads it. The command runs in its own process group under a time
    /// limit (`timeout` seconds) and a memory limit; on expiry the whole
    /// group is killed. This blocks: from async code, use [`read_async`].
    ///
    /// [`read_async`]: Secret::read_async
    pub fn read(&self, timeout: u64) -> Result<String, String> {
        let key = self.command_key;
        if let Some(var) = &self.env {
            return std::env::var(var)
                .map_err(|_| format!("environment variable {var} is not set"));
        }
        let mut cmd = std::process::Command::new("sh");
        cmd.arg("-c").arg(self.command.as_deref().unwrap_or(""));
        let limits = crate::isolate::Limits {
            wall: std::time::Duration::from_secs(timeout.max(1)),
            memory: 2 << 30,
            max_output: 64 << 10,
        };
        use crate::isolate::IsolateError;
        let out = crate::isolate::run(cmd, key, &[], limits).map_err(|e| match e {
            IsolateError::Failed { code, .. } => format!("{key} failed (exit status {code})"),
            IsolateError::Timeout { secs, .. } => {
                format!("{key} did not finish within {secs} s and was stopped")
            }
            other => other.to_string(),
        })?;
        let text = String::from_utf8(out.stdout).map_err(|_| format!("{key} printed non-UTF-8"))?;
        text.lines()
            .next()
            .map(str::to_string)
            .filter(|p| !p.is_empty())
            .ok_or_else(|| format!("{key} printed nothing"))
    }

    /// [`Secret::read`] off the async runtime's thread: a slow password
    /// manager must not stop every other account's poller meanwhile.
    pub async fn read_async(&self, timeout: u64) -> Result<String, String> {
        let me = self.clone();
        let key = self.command_key;
        tokio::task::spawn_blocking(move || me.read(timeout))
            .await
            .map_err(|e| format!("{key}: {e}"))?
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn s(command: Option<&str>, env: Option<&str>) -> Secret {
        Secret::new(
            "x.password_command",
            "x.password_env",
            command.map(Into::into),
            env.map(Into::into),
        )
    }

    #[test]
    fn one_source_at_most_and_one_when_required() {
        assert!(s(Some("pass"), Some("PW")).check(false).is_err());
        let e = s(None, None).check(true).unwrap_err();
        assert!(e.contains("x.password_command or x.password_env"), "{e}");
        assert!(s(None, None).check(false).is_ok());
        assert!(s(None, Some("PW")).check(true).is_ok());
    }

    #[test]
    fn a_command_gives_its_first_line_and_errors_never_show_output() {
        assert_eq!(s(Some("printf 'abc\\nrest'"), None).read(5).unwrap(), "abc");
        let e = s(Some("echo topsecret; exit 3"), None).read(5).unwrap_err();
        assert!(
            e.contains("exit status 3") && !e.contains("topsecret"),
            "{e}"
        );
        let e = s(None, Some("ECHODESK_SURELY_UNSET_VAR"))
            .read(5)
            .unwrap_err();
        assert!(e.contains("ECHODESK_SURELY_UNSET_VAR"), "{e}");
    }
}
