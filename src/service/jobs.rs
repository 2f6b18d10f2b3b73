//! The table of indexing jobs: what was asked, where it is, and how it ended.

use std::collections::BTreeMap;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::Serialize;

use crate::index::build::{IndexReport, Progress};

/// Finished jobs kept for `GET /v1/jobs/{id}`.
const KEEP: usize = 1000;

/// Why a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    /// Bringing the index up to date when the service starts.
    Startup,
    /// `POST /v1/reindex`.
    Reindex,
    /// A document written by `PUT /v1/documents/{id}`.
    PutDocument,
    /// A document removed by `DELETE /v1/documents/{id}`.
    DeleteDocument,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
}

/// A job as `GET /v1/jobs/{id}` shows it.
#[derive(Debug, Clone, Serialize)]
pub struct JobStatus {
    pub id: u64,
    pub kind: JobKind,
    pub state: JobState,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document_id: Option<String>,
    pub created_at: DateTime<Utc>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub started_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub finished_at: Option<DateTime<Utc>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub progress: Option<Progress>,
    /// What the indexing run did (files added/changed/removed/failed, passages, generation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<IndexReport>,
    /// Why the job failed.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// All jobs of this process.
#[derive(Default)]
pub struct Jobs {
    table: Mutex<(u64, BTreeMap<u64, JobStatus>)>,
}

impl Jobs {
    /// Records a new queued job.
    pub fn create(&self, kind: JobKind, document_id: Option<String>) -> JobStatus {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.0 += 1;
        let status = JobStatus {
            id: t.0,
            kind,
            state: JobState::Queued,
            document_id,
            created_at: Utc::now(),
            started_at: None,
            finished_at: None,
            progress: None,
            report: None,
            error: None,
        };
        t.1.insert(status.id, status.clone());
        while t.1.len() > KEEP {
            let Some(oldest) = t.1.keys().next().copied() else {
                break;
            };
            t.1.remove(&oldest);
        }
        status
    }

    fn update(&self, id: u64, f: impl FnOnce(&mut JobStatus)) {
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        if let Some(s) = t.1.get_mut(&id) {
            f(s);
        }
    }

    pub fn start(&self, id: u64) {
        self.update(id, |s| {
            s.state = JobState::Running;
            s.started_at = Some(Utc::now());
        });
    }

    pub fn progress(&self, id: u64, p: Progress) {
        self.update(id, |s| s.progress = Some(p));
    }

    pub fn finish(&self, id: u64, result: std::result::Result<IndexReport, String>) {
        self.update(id, |s| {
            s.finished_at = Some(Utc::now());
            match result {
                Ok(r) => {
                    s.state = JobState::Succeeded;
                    s.report = Some(r);
                }
                Err(e) => {
                    s.state = JobState::Failed;
                    s.error = Some(e);
                }
            }
        });
    }

    pub fn get(&self, id: u64) -> Option<JobStatus> {
        let t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.1.get(&id).cloned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_job_goes_from_queued_to_failed_with_its_reason() {
        let jobs = Jobs::default();
        let a = jobs.create(JobKind::Reindex, None);
        let b = jobs.create(JobKind::PutDocument, Some("faq-1".into()));
        assert_eq!((a.id, b.id), (1, 2));
        assert_eq!(a.state, JobState::Queued);
        jobs.start(a.id);
        jobs.progress(
            a.id,
            Progress {
                phase: "parsing",
                done: 1,
                total: 3,
            },
        );
        assert_eq!(jobs.get(a.id).map(|s| s.state), Some(JobState::Running));
        jobs.finish(a.id, Err("corpus folder missing".into()));
        let s = jobs.get(a.id).expect("kept");
        assert_eq!(s.state, JobState::Failed);
        assert_eq!(s.error.as_deref(), Some("corpus folder missing"));
        assert!(s.finished_at.is_some());
        assert!(jobs.get(99).is_none());
    }
}
