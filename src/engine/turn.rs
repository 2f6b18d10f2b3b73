//! One turn through the engine: named stages, each timed, and the observers told of the turn
//! once it is answered. Conversation, customer decisions and escalation slot in as further
//! stages; analytics implements [`TurnObserver`].

use std::time::Instant;

use crate::analyze::Query;
use crate::retrieve::Scope;

use super::Answer;

/// How long one stage of a turn took.
#[derive(Debug, Clone, PartialEq)]
pub struct StageTiming {
    /// The stage's name (`analyse`, `retrieve`, `evidence`, `compose`, `write`).
    pub stage: &'static str,
    pub ms: f64,
}

/// What an observer is told of a turn.
pub struct TurnRecord<'a> {
    /// The question as analysed.
    pub query: &'a Query,
    /// What the caller could read.
    pub scope: Scope,
    /// The answer, with its per-stage timings.
    pub answer: &'a Answer,
}

/// Watches every answered turn (analytics, metrics). Called on the turn's thread after the
/// answer is complete: it must be quick and must not fail the turn.
pub trait TurnObserver: Send + Sync {
    fn observe(&self, turn: &TurnRecord<'_>);
}

/// A turn in progress: the stages run so far and their timings.
pub(crate) struct Turn {
    stages: Vec<StageTiming>,
}

impl Turn {
    pub(crate) fn start() -> Turn {
        Turn {
            stages: Vec::with_capacity(6),
        }
    }

    /// Runs the stage `name`, timing it.
    pub(crate) fn stage<T>(&mut self, name: &'static str, f: impl FnOnce() -> T) -> T {
        let t = Instant::now();
        let out = f();
        self.stages.push(StageTiming {
            stage: name,
            ms: t.elapsed().as_secs_f64() * 1e3,
        });
        out
    }

    /// The timings of every stage, in order.
    pub(crate) fn finish(self) -> Vec<StageTiming> {
        self.stages
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn stages_are_timed_in_order() {
        let mut t = Turn::start();
        let a = t.stage("analyse", || 1);
        let b = t.stage("retrieve", || a + 1);
        assert_eq!(b, 2);
        let stages = t.finish();
        let names: Vec<&str> = stages.iter().map(|s| s.stage).collect();
        assert_eq!(names, ["analyse", "retrieve"]);
        assert!(stages.iter().all(|s| s.ms >= 0.0));
    }
}
