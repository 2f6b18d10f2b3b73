//! `[records]`: where the records that cannot be rebuilt from files are kept (sessions,
//! customers, events, feedback).

use std::path::PathBuf;

use serde::{Deserialize, Serialize};

use crate::error::{Error, Result};

/// Where records are kept.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RecordsConfig {
    /// The records database file (redb). Not rebuildable: back it up, never delete it.
    pub path: PathBuf,
}

impl Default for RecordsConfig {
    fn default() -> Self {
        RecordsConfig {
            path: PathBuf::from("records/kefu.redb"),
        }
    }
}

impl RecordsConfig {
    pub fn validate(&self) -> Result<()> {
        if self.path.as_os_str().is_empty() || self.path.file_name().is_none() {
            return Err(Error::config(
                "records.path",
                "must name a file, e.g. records/kefu.redb",
            ));
        }
        Ok(())
    }
}
