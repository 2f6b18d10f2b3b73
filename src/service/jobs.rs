//! The table of indexing jobs: what was asked, where it is, and how it ended. The table is kept
//! in a file beside the index (`jobs.json`, rewritten atomically on every change of state), so
//! job ids are unique across restarts and a job that a restart interrupted is reported as such.
//! Unfinished jobs are never evicted; of the finished ones the newest [`KEEP`] are kept.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::Mutex;

use chrono::{DateTime, Utc};
use serde::{Deserialize, Serialize};

use crate::cancel::Cancel;
use crate::index::build::{IndexReport, Progress};

/// Finished jobs kept for `GET /v1/jobs/{id}`.
const KEEP: usize = 1000;

/// Why a job runs.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
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
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum JobState {
    Queued,
    Running,
    Succeeded,
    Failed,
    /// Cancelled by `DELETE /v1/jobs/{id}`, or superseded by a newer change of its document.
    Cancelled,
}

impl JobState {
    pub fn finished(self) -> bool {
        matches!(
            self,
            JobState::Succeeded | JobState::Failed | JobState::Cancelled
        )
    }
}

/// What a job's run means for its document.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
pub struct DocumentOutcome {
    pub id: String,
    /// Whether the live index holds the document after the run.
    pub indexed: bool,
    /// Its passages in the live index.
    pub passages: usize,
}

/// A job as `GET /v1/jobs/{id}` shows it.
#[derive(Debug, Clone, Serialize, Deserialize)]
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
    #[serde(skip_serializing_if = "Option::is_none", skip_deserializing)]
    pub progress: Option<Progress>,
    /// What the indexing run did (files added/changed/removed/failed, passages, generation).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<IndexReport>,
    /// For a document's job: whether the document is in the live index after the run (the
    /// run's `report` may count nothing when an earlier run already picked the file up).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub document: Option<DocumentOutcome>,
    /// Why the job failed or was cancelled.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
}

/// The persisted table.
#[derive(Default, Serialize, Deserialize)]
struct Table {
    last_id: u64,
    jobs: BTreeMap<u64, JobStatus>,
}

/// All jobs: the table, its file, and the cancellation token of each unfinished job.
pub struct Jobs {
    table: Mutex<(Table, BTreeMap<u64, Cancel>)>,
    file: Option<PathBuf>,
}

impl Default for Jobs {
    fn default() -> Jobs {
        Jobs {
            table: Mutex::new((Table::default(), BTreeMap::new())),
            file: None,
        }
    }
}

impl Jobs {
    /// The table kept in `file`: jobs of earlier runs are loaded, and those a restart
    /// interrupted (queued or running) are marked failed with that reason. An unreadable file
    /// is moved aside (job ids still continue above the highest id found in it, if any).
    pub fn open(file: PathBuf) -> Jobs {
        let mut table = match std::fs::read(&file) {
            Ok(bytes) => match serde_json::from_slice::<Table>(&bytes) {
                Ok(t) => t,
                Err(e) => {
                    let aside = file.with_extension("json.corrupt");
                    tracing::warn!(file = %file.display(), error = %e, "the job table is unreadable; moved aside");
                    let _ = std::fs::rename(&file, &aside);
                    // its ids must not be handed out again: continue above the seconds since
                    // 2020 times 1000 (restarts a second apart stay apart)
                    Table {
                        last_id: (Utc::now().timestamp() - 1_577_836_800).max(0) as u64 * 1000,
                        jobs: BTreeMap::new(),
                    }
                }
            },
            Err(_) => Table::default(),
        };
        let now = Utc::now();
        for j in table.jobs.values_mut() {
            if !j.state.finished() {
                j.state = JobState::Failed;
                j.finished_at = Some(now);
                j.error = Some("interrupted by a restart of kefu serve before it finished; the startup job indexes what it had to".into());
            }
        }
        let jobs = Jobs {
            table: Mutex::new((table, BTreeMap::new())),
            file: Some(file),
        };
        jobs.save();
        jobs
    }

    fn save(&self) {
        let Some(file) = &self.file else { return };
        let bytes = {
            let t = self.table.lock().unwrap_or_else(|p| p.into_inner());
            serde_json::to_vec(&t.0)
        };
        match bytes {
            Ok(b) => {
                if let Some(dir) = file.parent() {
                    let _ = std::fs::create_dir_all(dir);
                }
                if let Err(e) = crate::fsutil::write_atomic(file, &b) {
                    tracing::warn!(error = %e, "cannot save the job table");
                }
            }
            Err(e) => tracing::warn!(error = %e, "cannot save the job table"),
        }
    }

    /// Records a new queued job and its cancellation token.
    pub fn create(&self, kind: JobKind, document_id: Option<String>) -> (JobStatus, Cancel) {
        let cancel = Cancel::new();
        let status = {
            let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
            t.0.last_id += 1;
            let status = JobStatus {
                id: t.0.last_id,
                kind,
                state: JobState::Queued,
                document_id,
                created_at: Utc::now(),
                started_at: None,
                finished_at: None,
                progress: None,
                report: None,
                document: None,
                error: None,
            };
            t.0.jobs.insert(status.id, status.clone());
            t.1.insert(status.id, cancel.clone());
            // evict the oldest finished jobs only
            let finished = t.0.jobs.values().filter(|j| j.state.finished()).count();
            if finished > KEEP {
                let old: Vec<u64> =
                    t.0.jobs
                        .values()
                        .filter(|j| j.state.finished())
                        .take(finished - KEEP)
                        .map(|j| j.id)
                        .collect();
                for id in old {
                    t.0.jobs.remove(&id);
                }
            }
            status
        };
        self.save();
        (status, cancel)
    }

    fn update(&self, id: u64, persist: bool, f: impl FnOnce(&mut JobStatus)) {
        {
            let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
            if let Some(s) = t.0.jobs.get_mut(&id) {
                f(s);
            }
        }
        if persist {
            self.save();
        }
    }

    /// The job's token, if it is unfinished.
    pub fn token(&self, id: u64) -> Option<Cancel> {
        let t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.1.get(&id).cloned()
    }

    pub fn start(&self, id: u64) {
        self.update(id, true, |s| {
            s.state = JobState::Running;
            s.started_at = Some(Utc::now());
        });
    }

    pub fn progress(&self, id: u64, p: Progress) {
        self.update(id, false, |s| s.progress = Some(p));
    }

    /// Records how a job ended.
    pub fn finish(
        &self,
        id: u64,
        result: std::result::Result<IndexReport, String>,
        document: Option<DocumentOutcome>,
    ) {
        self.update(id, true, |s| {
            s.finished_at = Some(Utc::now());
            s.document = document;
            match result {
                Ok(r) => {
                    s.state = JobState::Succeeded;
                    s.report = Some(r);
                }
                // a job cancelled while it ran says so, not that it failed
                Err(e) if s.state == JobState::Cancelled => {
                    s.error = Some(s.error.take().unwrap_or(e));
                }
                Err(e) => {
                    s.state = JobState::Failed;
                    s.error = Some(e);
                }
            }
        });
        let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.1.remove(&id);
    }

    /// Cancels an unfinished job: a queued one ends at once; a running one stops at its next
    /// check. Returns its status, or `None` if there is no such job.
    pub fn cancel(&self, id: u64, why: &str) -> Option<JobStatus> {
        let token = self.token(id);
        if let Some(c) = &token {
            c.cancel();
        }
        self.update(id, true, |s| {
            if !s.state.finished() {
                if s.state == JobState::Queued {
                    s.finished_at = Some(Utc::now());
                }
                s.state = JobState::Cancelled;
                s.error = Some(why.to_string());
            }
        });
        if self.get(id).is_some_and(|s| s.finished_at.is_some()) {
            let mut t = self.table.lock().unwrap_or_else(|p| p.into_inner());
            t.1.remove(&id);
        }
        self.get(id)
    }

    /// Unfinished jobs, oldest first.
    pub fn unfinished(&self) -> Vec<JobStatus> {
        let t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.0.jobs
            .values()
            .filter(|j| !j.state.finished())
            .cloned()
            .collect()
    }

    pub fn get(&self, id: u64) -> Option<JobStatus> {
        let t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.0.jobs.get(&id).cloned()
    }

    /// The id the next job will get.
    pub fn next_id(&self) -> u64 {
        let t = self.table.lock().unwrap_or_else(|p| p.into_inner());
        t.0.last_id + 1
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn report() -> IndexReport {
        IndexReport::default()
    }

    #[test]
    fn a_job_goes_from_queued_to_failed_with_its_reason() {
        let jobs = Jobs::default();
        let (a, _) = jobs.create(JobKind::Reindex, None);
        let (b, _) = jobs.create(JobKind::PutDocument, Some("faq-1".into()));
        assert_eq!(b.id, a.id + 1);
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
        jobs.finish(a.id, Err("corpus folder missing".into()), None);
        let s = jobs.get(a.id).expect("kept");
        assert_eq!(s.state, JobState::Failed);
        assert_eq!(s.error.as_deref(), Some("corpus folder missing"));
        assert!(s.finished_at.is_some());
        assert!(jobs.get(99).is_none());
    }

    #[test]
    fn job_ids_are_unique_across_restarts_and_interrupted_jobs_say_so() {
        let dir = tempfile::tempdir().expect("tempdir");
        let file = dir.path().join("jobs.json");
        let jobs = Jobs::open(file.clone());
        let (done, _) = jobs.create(JobKind::Startup, None);
        jobs.start(done.id);
        jobs.finish(done.id, Ok(report()), None);
        let (running, _) = jobs.create(JobKind::PutDocument, Some("big".into()));
        jobs.start(running.id);
        let (queued, _) = jobs.create(JobKind::Reindex, None);
        drop(jobs);
        // kill -9 and restart: the table is read back
        let again = Jobs::open(file);
        assert_eq!(
            again.get(done.id).map(|j| j.state),
            Some(JobState::Succeeded)
        );
        for id in [running.id, queued.id] {
            let j = again.get(id).expect("kept across the restart");
            assert_eq!(j.state, JobState::Failed);
            assert!(j
                .error
                .as_deref()
                .is_some_and(|e| e.contains("interrupted")));
        }
        let (next, _) = again.create(JobKind::DeleteDocument, Some("big".into()));
        assert!(
            next.id > queued.id,
            "ids continue: {} after {}",
            next.id,
            queued.id
        );
    }

    #[test]
    fn unfinished_jobs_are_never_evicted() {
        let jobs = Jobs::default();
        let (first, _) = jobs.create(JobKind::PutDocument, Some("a".into()));
        for _ in 0..(KEEP + 50) {
            let (j, _) = jobs.create(JobKind::Reindex, None);
            jobs.finish(j.id, Ok(report()), None);
        }
        assert_eq!(jobs.get(first.id).map(|j| j.state), Some(JobState::Queued));
        let (last, _) = jobs.create(JobKind::Reindex, None);
        assert!(jobs.get(last.id).is_some());
    }

    #[test]
    fn a_cancelled_job_stays_cancelled() {
        let jobs = Jobs::default();
        let (q, token) = jobs.create(JobKind::PutDocument, Some("a".into()));
        let s = jobs
            .cancel(q.id, "cancelled by DELETE /v1/jobs")
            .expect("exists");
        assert_eq!(s.state, JobState::Cancelled);
        assert!(token.is_cancelled());
        let (r, _) = jobs.create(JobKind::Reindex, None);
        jobs.start(r.id);
        jobs.cancel(r.id, "superseded");
        jobs.finish(r.id, Err("cancelled during embedding".into()), None);
        let s = jobs.get(r.id).expect("exists");
        assert_eq!(s.state, JobState::Cancelled);
        assert_eq!(s.error.as_deref(), Some("superseded"));
    }
}
