//! The long-running side of kefu (`kefu serve`), without any HTTP: the live [`Engine`], swapped
//! whole after each indexing job; the job queue and its single worker; documents uploaded by
//! writers (see [`documents`]).
//!
//! A search takes an `Arc` of the live engine and keeps it to the end, so it is answered wholly
//! from one generation even when a job swaps in the next one meanwhile. A failed job leaves the
//! live engine as it was.

pub mod documents;
pub mod jobs;

use std::sync::mpsc;
use std::sync::{Arc, Mutex, RwLock};

use crate::analyze::Analyzer;
use crate::config::Config;
use crate::error::{Error, Result};
use crate::index::build::IndexOptions;
use crate::Engine;

pub use jobs::{JobKind, JobState, JobStatus};

/// The service: configuration, the live engine, jobs.
pub struct Service {
    config: Config,
    analyzer: Arc<Analyzer>,
    live: RwLock<Option<Arc<Engine>>>,
    jobs: Arc<jobs::Jobs>,
    queue: Mutex<mpsc::Sender<u64>>,
    /// Serialises writes into the managed folder.
    writes: Mutex<()>,
}

impl Service {
    /// Starts the service: opens the live generation if there is one (then ready at once) and
    /// queues an indexing job that brings the index up to date with the corpus (building it
    /// when there is none; the models are fetched by that job when needed).
    pub fn start(config: Config, analyzer: Arc<Analyzer>) -> Result<Arc<Service>> {
        let live = match Engine::open(config.clone(), analyzer.clone()) {
            Ok(e) => Some(Arc::new(e)),
            Err(Error::NoIndex { .. }) => None,
            Err(e) => return Err(e),
        };
        let (tx, rx) = mpsc::channel::<u64>();
        let service = Arc::new(Service {
            config,
            analyzer,
            live: RwLock::new(live),
            jobs: Arc::new(jobs::Jobs::default()),
            queue: Mutex::new(tx),
            writes: Mutex::new(()),
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
        service.submit(JobKind::Startup, None);
        Ok(service)
    }

    /// The configuration.
    pub fn config(&self) -> &Config {
        &self.config
    }

    /// The live engine, or `None` before the first generation is loaded.
    pub fn engine(&self) -> Option<Arc<Engine>> {
        self.live.read().ok().and_then(|g| g.clone())
    }

    /// Whether a generation is loaded and searches can be answered.
    pub fn ready(&self) -> bool {
        self.engine().is_some()
    }

    /// Queues an indexing job; returns its status.
    pub fn submit(&self, kind: JobKind, document: Option<String>) -> JobStatus {
        let status = self.jobs.create(kind, document);
        let sent = self
            .queue
            .lock()
            .map(|q| q.send(status.id).is_ok())
            .unwrap_or(false);
        if !sent {
            self.jobs.finish(
                status.id,
                Err("the job worker has stopped; restart kefu serve".into()),
            );
        }
        self.jobs.get(status.id).unwrap_or(status)
    }

    /// A job's status.
    pub fn job(&self, id: u64) -> Option<JobStatus> {
        self.jobs.get(id)
    }

    /// Writes an uploaded document into the managed folder (after checking that it parses into
    /// exactly that document) and queues the job that indexes it.
    pub fn put_document(&self, id: &str, upload: &documents::Upload) -> Result<JobStatus> {
        {
            let _w = self
                .writes
                .lock()
                .map_err(|_| Error::Internal("write lock poisoned".into()))?;
            documents::put(&self.config, self.engine().as_deref(), id, upload)?;
        }
        Ok(self.submit(JobKind::PutDocument, Some(id.to_string())))
    }

    /// Removes an uploaded document and queues the job that drops it from the index.
    pub fn delete_document(&self, id: &str) -> Result<JobStatus> {
        {
            let _w = self
                .writes
                .lock()
                .map_err(|_| Error::Internal("write lock poisoned".into()))?;
            documents::delete(&self.config, self.engine().as_deref(), id)?;
        }
        Ok(self.submit(JobKind::DeleteDocument, Some(id.to_string())))
    }

    fn run_job(&self, id: u64) {
        self.jobs.start(id);
        let jobs = self.jobs.clone();
        let opts = IndexOptions {
            corpus: self.config.corpus.dir.clone(),
            progress: false,
            on_progress: Some(Arc::new(move |p| jobs.progress(id, p))),
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
        match result {
            Ok(report) => self.jobs.finish(id, Ok(report)),
            Err(e) => {
                tracing::warn!(job = id, error = %e, "indexing job failed; the live index is unchanged");
                self.jobs.finish(id, Err(e.to_string()))
            }
        }
    }
}
