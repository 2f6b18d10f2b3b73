//! Cancellation of work nobody waits for any more: a request that timed out, a client that went
//! away, a job that was cancelled or superseded. The token is cheap to clone and to check; work
//! checks it between stages and inside long loops, and stops with [`Error::Cancelled`].

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::Arc;
use std::time::Instant;

use crate::error::{Error, Result};

/// A cancellation token: cancelled by [`Cancel::cancel`] or once its deadline has passed.
#[derive(Debug, Clone, Default)]
pub struct Cancel {
    flag: Arc<AtomicBool>,
    deadline: Option<Instant>,
}

impl Cancel {
    /// A token that is only cancelled by [`Cancel::cancel`].
    pub fn new() -> Cancel {
        Cancel::default()
    }

    /// A token that is also cancelled at `deadline`.
    pub fn until(deadline: Instant) -> Cancel {
        Cancel {
            flag: Arc::default(),
            deadline: Some(deadline),
        }
    }

    /// Cancels the work (and every clone of this token).
    pub fn cancel(&self) {
        self.flag.store(true, Ordering::Relaxed);
    }

    /// Whether the work should stop.
    pub fn is_cancelled(&self) -> bool {
        self.flag.load(Ordering::Relaxed) || self.deadline.is_some_and(|d| Instant::now() >= d)
    }

    /// `Err(Error::Cancelled)` once the work should stop; `what` says where it stopped.
    pub fn check(&self, what: &str) -> Result<()> {
        if self.is_cancelled() {
            Err(Error::Cancelled(what.to_string()))
        } else {
            Ok(())
        }
    }
}

/// Cancels its token when dropped: held by a request handler, so a client
/// that disconnects (actix drops the handler) stops the work done for it.
pub struct CancelOnDrop(pub Option<Cancel>);

impl Drop for CancelOnDrop {
    fn drop(&mut self) {
        if let Some(c) = self.0.take() {
            c.cancel();
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn a_token_is_cancelled_by_hand_by_its_deadline_and_by_a_dropped_guard() {
        let c = Cancel::new();
        assert!(c.check("x").is_ok());
        let clone = c.clone();
        c.cancel();
        assert!(matches!(clone.check("search"), Err(Error::Cancelled(w)) if w == "search"));
        let past = Cancel::until(Instant::now() - Duration::from_millis(1));
        assert!(past.is_cancelled());
        let later = Cancel::until(Instant::now() + Duration::from_secs(60));
        assert!(!later.is_cancelled());
        let watched = Cancel::new();
        drop(CancelOnDrop(Some(watched.clone())));
        assert!(watched.is_cancelled());
    }
}
