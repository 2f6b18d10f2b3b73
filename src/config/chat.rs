//! `[chat]`: conversations (`POST /v1/chat`, `kefu chat`).

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// How conversations are kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct ChatConfig {
    /// Earlier turns a follow-up is resolved against.
    pub history_turns: usize,
    /// Turns a session keeps; older ones are dropped from its transcript.
    pub max_turns: usize,
    /// Minutes without a turn after which a session has expired (a new message then needs a
    /// new session).
    pub idle_minutes: u64,
    /// The time zone of "today" for a caller without a customer (an IANA name).
    pub time_zone: String,
}

impl Default for ChatConfig {
    fn default() -> Self {
        ChatConfig {
            history_turns: 4,
            max_turns: 200,
            idle_minutes: 24 * 60,
            time_zone: "Asia/Shanghai".into(),
        }
    }
}

impl ChatConfig {
    pub fn validate(&self) -> Result<()> {
        if self.history_turns == 0 || self.history_turns > 50 {
            return Err(Error::config(
                "chat.history_turns",
                "must be between 1 and 50",
            ));
        }
        if self.max_turns < self.history_turns || self.max_turns > 100_000 {
            return Err(Error::config(
                "chat.max_turns",
                "must be at least chat.history_turns and at most 100000",
            ));
        }
        if self.idle_minutes == 0 {
            return Err(Error::config("chat.idle_minutes", "must be at least 1"));
        }
        if self.time_zone.parse::<chrono_tz::Tz>().is_err() {
            return Err(Error::config(
                "chat.time_zone",
                format!(
                    "`{}` is not an IANA time zone (e.g. Asia/Shanghai)",
                    self.time_zone
                ),
            ));
        }
        Ok(())
    }
}
