//! `/v1/jobs/{id}` and the 202 of every write: an indexing job as callers see it.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use crate::index::build::{FileFailure, IndexReport, Progress};
use crate::service::{self, DocumentOutcome, JobStatus};

/// Why a job runs.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobKind {
    Startup,
    Reindex,
    PutDocument,
    DeleteDocument,
}

/// Where a job is.
#[derive(Debug, Clone, Copy, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    Cancelled,
}

/// Where a running job is: `phase` (`parsing` files, `embedding` passages), `done` of `total`.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobProgress {
    pub phase: String,
    pub done: usize,
    pub total: usize,
}

/// A file that could not be indexed (wholly or in part).
#[derive(Debug, Serialize, ToSchema)]
pub struct Failure {
    pub path: String,
    pub reason: String,
}

/// What an indexing run did.
#[derive(Debug, Serialize, ToSchema)]
pub struct Report {
    pub added: usize,
    pub changed: usize,
    pub removed: usize,
    pub unchanged: usize,
    /// Files with problems: wholly skipped, or with skipped parts (lines, rows).
    pub failed: Vec<Failure>,
    /// Files of types kefu does not read.
    pub ignored: usize,
    pub documents: usize,
    pub passages: usize,
    /// The live generation after the run.
    pub generation: u64,
    /// Whether a new generation was built (false when nothing changed).
    pub built: bool,
    /// Whether the build started from scratch.
    pub full_rebuild: bool,
    /// Set when the store was corrupt and was rebuilt.
    pub store_recovered: Option<String>,
    /// Whether the generation has a vector index.
    pub vectors: bool,
    /// Passages embedded in this run (the others came from the embedding cache).
    pub embedded: usize,
    /// Problems that did not stop the run.
    pub warnings: Vec<String>,
    pub seconds: f64,
}

/// For a document's job: whether the live index holds the document after the run.
#[derive(Debug, Serialize, ToSchema)]
pub struct JobDocument {
    pub id: String,
    pub indexed: bool,
    /// Its passages in the live index.
    pub passages: usize,
}

/// An indexing job.
#[derive(Debug, Serialize, ToSchema)]
pub struct Job {
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
    pub progress: Option<JobProgress>,
    /// What the indexing run did.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    /// For a document's job: whether the document is in the live index after the run (the
    /// run's `report` may count nothing when an earlier run already picked the file up).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub document: Option<JobDocument>,
    /// Why the job failed or was cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

impl From<IndexReport> for Report {
    fn from(r: IndexReport) -> Report {
        Report {
            added: r.added,
            changed: r.changed,
            removed: r.removed,
            unchanged: r.unchanged,
            failed: r
                .failed
                .into_iter()
                .map(|FileFailure { path, reason }| Failure { path, reason })
                .collect(),
            ignored: r.ignored,
            documents: r.documents,
            passages: r.passages,
            generation: r.generation,
            built: r.built,
            full_rebuild: r.full_rebuild,
            store_recovered: r.store_recovered,
            vectors: r.vectors,
            embedded: r.embedded,
            warnings: r.warnings,
            seconds: r.seconds,
        }
    }
}

fn progress(p: Progress) -> JobProgress {
    JobProgress {
        phase: p.phase.to_string(),
        done: p.done,
        total: p.total,
    }
}

impl From<JobStatus> for Job {
    fn from(j: JobStatus) -> Job {
        Job {
            id: j.id,
            kind: match j.kind {
                service::JobKind::Startup => JobKind::Startup,
                service::JobKind::Reindex => JobKind::Reindex,
                service::JobKind::PutDocument => JobKind::PutDocument,
                service::JobKind::DeleteDocument => JobKind::DeleteDocument,
            },
            state: match j.state {
                service::JobState::Queued => JobState::Queued,
                service::JobState::Running => JobState::Running,
                service::JobState::Succeeded => JobState::Succeeded,
                service::JobState::Failed => JobState::Failed,
                service::JobState::Cancelled => JobState::Cancelled,
            },
            document_id: j.document_id,
            created_at: j.created_at,
            started_at: j.started_at,
            finished_at: j.finished_at,
            progress: j.progress.map(progress),
            report: j.report.map(Report::from),
            document: j.document.map(
                |DocumentOutcome {
                     id,
                     indexed,
                     passages,
                 }| JobDocument {
                    id,
                    indexed,
                    passages,
                },
            ),
            error: j.error,
        }
    }
}
