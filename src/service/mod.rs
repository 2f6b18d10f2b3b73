//! The long-running side of kefu (`kefu serve`), without any HTTP: the live [`Engine`], swapped
//! whole after each indexing job; the job queue and its single worker; documents uploaded by
//! writers (see [`documents`]).
//!
//! A search takes an `Arc` of the live engine and keeps it to the end, so it is answered wholly
//! from one generation even when a job swaps in the next one meanwhile. A failed or cancelled
//! job leaves the live engine as it was. A newer PUT or DELETE of a document cancels the jobs
//! still working for an older change of it (the newer job indexes the latest state anyway);
//! identical pending reindexes are one job; the queue is bounded.

pub mod chat;
pub mod documents;
pub mod jobs;

use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};

use crate::analyze::Analyzer;
use crate::cancel::Cancel;
use crate::config::Config;
use crate::domain::DocId;
use crate::error::{Error, Result};
use crate::index::build::IndexOptions;
use crate::Engine;

pub use jobs::{DocumentOutcome, JobKind, JobState, JobStatus};

/// Jobs waiting at most; more are refused (503 busy) until the worker catches up.
const MAX_QUEUED: usize = 256;

/// The service: configuration, the live engine, jobs.
pub struct Service {
    config: Config,
    analyzer: Arc<Analyzer>,
    live: RwLock<Option<Arc<Engine>>>,
    jobs: Arc<jobs::Jobs>,
    queue: Mutex<mpsc::Sender<u64>>,
    /// Serialises writes into the managed folder.
    writes: Mutex<()>,
    /// Sessions and customers (the records store).
    desk: Arc<chat::Desk>,
}

impl Service {
    /// Starts the service: opens the live generation if there is one (then ready at once) and
    /// queues an indexing job that brings the index up to date with the corpus (building it
    /// when there is none; the models are fetched by that job when needed).
    pub fn start(config: Config, analyzer: Arc<Analyzer>) -> Result<Arc<Service>> {
        let desk = Arc::new(chat::Desk::open(&config)?);
        let live = match Engine::open(config.clone(), analyzer.clone()) {
            Ok(e) => Some(Arc::new(e)),
            Err(Error::NoIndex { .. }) => None,
            Err(e) => return Err(e),
        };
        let (tx, rx) = mpsc::channel::<u64>();
        let jobs = jobs::Jobs::open(config.index.dir.join("jobs.json"));
        let service = Arc::new(Service {
            config,
            analyzer,
            live: RwLock::new(live),
            jobs: Arc::new(jobs),
            queue: Mutex::new(tx),
            writes: Mutex::new(()),
            desk,
        });
        let worker = Arc::downgrade(&service);
        std::thread::Builder::new()
            .name("kefu-jobs".into())
            .spawn(move || {
                while let Ok(id) = rx.recv() {
                    let Some(s) = worker.upgrade() else { break };
                    s.run_job(id);
                }
            })
            .map_err(|e| Error::Internal(format!("cannot start the job thread: {e}")))?;
        service.submit(JobKind::Startup, None)?;
        Ok(service)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// Sessions and customers.
    pub fn desk(&self) -> &Arc<chat::Desk> {
        &self.desk
    }

    /// The live engine, or `None` before the first generation is loaded.
    pub fn engine(&self) -> Option<Arc<Engine>> {
        self.live.read().ok().and_then(|g| g.clone())
    }

    /// Whether a generation is loaded and searches can be answered.
    pub fn ready(&self) -> bool {
        self.engine().is_some()
    }

    /// Queues an indexing job; returns its status. Refused while [`MAX_QUEUED`] jobs wait.
    pub fn submit(&self, kind: JobKind, document: Option<String>) -> Result<JobStatus> {
        let waiting = self
            .jobs
            .unfinished()
            .iter()
            .filter(|j| j.state == JobState::Queued)
            .count();
        if waiting >= MAX_QUEUED {
            return Err(Error::Busy(format!(
                "{waiting} indexing jobs are waiting; retry when some have finished"
            )));
        }
        let (status, _) = self.jobs.create(kind, document);
        let sent = self
            .queue
            .lock()
            .map(|q| q.send(status.id).is_ok())
            .unwrap_or(false);
        if !sent {
            self.jobs.finish(
                status.id,
                Err("the job worker has stopped; restart kefu serve".into()),
                None,
            );
        }
        Ok(self.jobs.get(status.id).unwrap_or(status))
    }

    /// Queues a reindex, or returns the one already waiting (reindex requests coalesce: one
    /// run covers them all).
    pub fn reindex(&self) -> Result<JobStatus> {
        if let Some(waiting) = self
            .jobs
            .unfinished()
            .into_iter()
            .find(|j| j.kind == JobKind::Reindex && j.state == JobState::Queued)
        {
            return Ok(waiting);
        }
        self.submit(JobKind::Reindex, None)
    }

    /// A job's status.
    pub fn job(&self, id: u64) -> Result<JobStatus> {
        self.jobs.get(id).ok_or_else(|| {
            Error::NotFound(format!(
                "job {id} (job ids are never reused; the next is {}; finished jobs are kept for the newest 1000)",
                self.jobs.next_id()
            ))
        })
    }

    /// Cancels a job that has not finished (`DELETE /v1/jobs/{id}`).
    pub fn cancel_job(&self, id: u64) -> Result<JobStatus> {
        let job = self.job(id)?;
        if job.state.finished() {
            return Err(Error::Conflict(format!(
                "job {id} has already finished ({:?})",
                job.state
            )));
        }
        self.jobs
            .cancel(id, "cancelled by DELETE /v1/jobs/{id}")
            .ok_or_else(|| Error::NotFound(format!("job {id}")))
    }

    /// Cancels the unfinished jobs of an older change of document `id`.
    fn supersede(&self, id: &str) {
        for j in self.jobs.unfinished() {
            let same_doc = j.document_id.as_deref() == Some(id)
                && matches!(j.kind, JobKind::PutDocument | JobKind::DeleteDocument);
            if same_doc {
                self.jobs
                    .cancel(j.id, "superseded by a newer change of the same document");
            }
        }
    }

    /// Writes an uploaded document into the managed folder (after checking that it parses into
    /// exactly that document) and queues the job that indexes it. Nothing is written once
    /// `cancel` is (the request's deadline passed, or its client left).
    pub fn put_document(
        &self,
        id: &DocId,
        upload: &documents::Upload,
        cancel: &Cancel,
    ) -> Result<JobStatus> {
        {
            let _w = self
                .writes
                .lock()
                .map_err(|_| Error::Internal("write lock poisoned".into()))?;
            documents::put(&self.config, self.engine().as_deref(), id, upload, cancel)?;
            self.supersede(id.as_str());
        }
        self.submit(JobKind::PutDocument, Some(id.to_string()))
    }

    /// Removes an uploaded document and queues the job that drops it from the index.
    pub fn delete_document(&self, id: &DocId, cancel: &Cancel) -> Result<JobStatus> {
        {
            let _w = self
                .writes
                .lock()
                .map_err(|_| Error::Internal("write lock poisoned".into()))?;
            documents::delete(&self.config, self.engine().as_deref(), id, cancel)?;
            self.supersede(id.as_str());
        }
        self.submit(JobKind::DeleteDocument, Some(id.to_string()))
    }

    /// What the live index holds of document `id`.
    fn outcome(&self, id: &str) -> Option<DocumentOutcome> {
        let engine = self.engine()?;
        let passages = engine
            .index()
            .document(id, &Vec::new())
            .map(|c| c.len())
            .unwrap_or(0);
        Some(DocumentOutcome {
            id: id.to_string(),
            indexed: passages > 0,
            passages,
        })
    }

    fn run_job(&self, id: u64) {
        let Some(job) = self.jobs.get(id) else { return };
        if job.state.finished() {
            return; // cancelled while it waited
        }
        let Some(cancel) = self.jobs.token(id) else {
            return;
        };
        self.jobs.start(id);
        let jobs = self.jobs.clone();
        let opts = IndexOptions {
            corpus: self.config.corpus.dir.clone(),
            progress: false,
            on_progress: Some(Arc::new(move |p| jobs.progress(id, p))),
            cancel: Some(cancel),
            embedder: None,
        };
        let result = crate::index(&self.config, &self.analyzer, &opts).and_then(|report| {
            let previous = self.engine();
            let unchanged = previous
                .as_ref()
                .is_some_and(|e| e.generation().number == report.generation);
            if !unchanged {
                let engine = Engine::open_reusing(
                    self.config.clone(),
                    self.analyzer.clone(),
                    previous.as_deref(),
                )?;
                let mut live = self
                    .live
                    .write()
                    .map_err(|_| Error::Internal("engine lock poisoned".into()))?;
                *live = Some(Arc::new(engine));
                tracing::info!(
                    generation = report.generation,
                    job = id,
                    "swapped in a new index generation"
                );
            }
            Ok(report)
        });
        let document = job.document_id.as_deref().and_then(|d| self.outcome(d));
        match result {
            Ok(report) => self.jobs.finish(id, Ok(report), document),
            Err(e) => {
                tracing::warn!(job = id, error = %e, "indexing job ended without a swap; the live index is unchanged");
                self.jobs.finish(id, Err(e.to_string()), document)
            }
        }
    }
}
