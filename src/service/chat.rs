//! The conversation desk: sessions, customers and the turn pipeline together, as `POST
//! /v1/chat` and `kefu chat` use them. It owns the records store; the engine it is given per
//! turn is the live one.

use std::path::Path;
use std::sync::Arc;

use chrono::{NaiveDate, Utc};

use crate::config::Config;
use crate::converse::session::{SessionError, Sessions, TurnRecord};
use crate::converse::Session;
use crate::customer::crm::CrmDirectory;
use crate::customer::directory::RecordsDirectory;
use crate::customer::{import_jsonl, Customer, CustomerDirectory};
use crate::domain::Channel;
use crate::engine::chat::{ChatReply, ChatRequest, History};
use crate::error::{Error, Result};
use crate::retrieve::Scope;
use crate::store::records::{Records, RedbRecords};
use crate::Engine;

/// What a turn is asked with.
pub struct TurnInput {
    pub session_id: Option<String>,
    /// Create the session `session_id` names when it does not exist (ids chosen by the client).
    pub create_named: bool,
    /// Earlier turns the client sent itself (a stateless client: no session is kept).
    pub stateless_history: Option<History>,
    pub customer_id: Option<String>,
    pub channel: Channel,
    pub message: String,
    pub as_of: Option<NaiveDate>,
    /// The caller's key name, and whether it may use any session (agents).
    pub caller: String,
    pub any_session: bool,
    pub scope: Scope,
    pub passages: usize,
    pub use_llm: bool,
    pub cancel: crate::cancel::Cancel,
}

/// Why a turn was refused.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum TurnRefused {
    Session(SessionError),
    CustomerNotFound(String),
    /// The session is about another customer.
    OtherCustomer,
}

/// A turn taken and recorded.
pub struct TurnOutput {
    pub session: Session,
    pub turn: TurnRecord,
    pub reply: ChatReply,
    pub as_of: NaiveDate,
}

/// Sessions, customers and the records they live in.
pub struct Desk {
    records: Arc<dyn Records>,
    pub sessions: Sessions,
    /// The embedded directory (imports; lookups too when no CRM is configured).
    pub customers: RecordsDirectory,
    /// Where a turn's customer is looked up: the CRM of `[crm]`, else the embedded directory.
    pub directory: Arc<dyn CustomerDirectory>,
    history_turns: usize,
    time_zone: chrono_tz::Tz,
}

impl Desk {
    /// Opens the records store of `config` and loads the customers of the corpus's
    /// `customers/` folder (bad lines are logged by file and line, the good ones kept).
    pub fn open(config: &Config) -> Result<Desk> {
        let records: Arc<dyn Records> = Arc::new(RedbRecords::open(&config.records.path)?);
        let desk = Desk::over(records, config)?;
        desk.load_customers(&config.corpus.dir.join(crate::index::build::CUSTOMERS_DIR))?;
        Ok(desk)
    }

    /// A desk over `records` (tests: a store in memory).
    pub fn over(records: Arc<dyn Records>, config: &Config) -> Result<Desk> {
        let tz = config
            .chat
            .time_zone
            .parse::<chrono_tz::Tz>()
            .map_err(|_| Error::config("chat.time_zone", "not an IANA time zone"))?;
        Ok(Desk {
            sessions: Sessions::new(
                records.clone(),
                config.chat.max_turns,
                config.chat.idle_minutes,
            ),
            customers: RecordsDirectory::new(records.clone()),
            directory: match &config.crm {
                Some(crm) => Arc::new(CrmDirectory::new(crm)?),
                None => Arc::new(RecordsDirectory::new(records.clone())),
            },
            records,
            history_turns: config.chat.history_turns,
            time_zone: tz,
        })
    }

    /// The records store.
    pub fn records(&self) -> &Arc<dyn Records> {
        &self.records
    }

    /// Loads every `*.jsonl` file of `dir` into the directory (a missing folder is no
    /// customers).
    pub fn load_customers(&self, dir: &Path) -> Result<usize> {
        let Ok(entries) = std::fs::read_dir(dir) else {
            return Ok(0);
        };
        let mut files: Vec<_> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|e| e == "jsonl"))
            .collect();
        files.sort();
        let mut n = 0;
        for f in files {
            let got = import_jsonl(&self.customers, &f)?;
            // the reasons can quote a record's values (personal data): `kefu customers import
            // FILE` prints them to the operator; the log names the lines only
            for (line, _) in &got.failed {
                tracing::warn!(
                    "{}:{line}: customer not loaded (`kefu customers import` says why)",
                    f.display()
                );
            }
            n += got.customers;
        }
        Ok(n)
    }

    /// Takes one turn: finds or starts the session, resolves the customer, runs the engine's
    /// turn and records it.
    pub fn take_turn(
        &self,
        engine: &Engine,
        input: &TurnInput,
    ) -> Result<std::result::Result<TurnOutput, TurnRefused>> {
        let now = Utc::now();
        let found = match (&input.session_id, input.create_named) {
            (Some(id), true) => self.sessions.for_turn_named(
                id,
                &input.caller,
                input.customer_id.as_deref(),
                input.channel,
                now,
            )?,
            _ => self.sessions.for_turn(
                input.session_id.as_deref(),
                &input.caller,
                input.any_session,
                input.customer_id.as_deref(),
                input.channel,
                now,
            )?,
        };
        let mut session = match found {
            Ok(s) => s,
            Err(e) => return Ok(Err(TurnRefused::Session(e))),
        };
        if let (Some(asked), Some(had)) = (&input.customer_id, &session.customer_id) {
            if asked != had {
                return Ok(Err(TurnRefused::OtherCustomer));
            }
        }
        let mut unread: Option<String> = None;
        let customer: Option<Customer> = match session
            .customer_id
            .clone()
            .or(input.customer_id.clone())
        {
            None => None,
            Some(id) => {
                let found = match crate::domain::CustomerId::parse(&id) {
                    Ok(cid) => self.directory.by_id(&cid),
                    Err(_) => Ok(None),
                };
                match found {
                    Ok(Some(c)) => Some(c),
                    Ok(None) => return Ok(Err(TurnRefused::CustomerNotFound(id))),
                    // the directory is down: the turn is answered from the knowledge base
                    // alone, and says so; the session keeps the id for the next turn
                    Err(e) => {
                        tracing::warn!(error = %e, "customer lookup failed; answering without the customer's record");
                        unread = Some(format!(
                                "the customer's record could not be read ({e}); answered from the knowledge base alone, without their purchases"
                            ));
                        if session.customer_id.is_none() {
                            session.customer_id = Some(id);
                        }
                        None
                    }
                }
            }
        };
        if session.customer_id.is_none() {
            session.customer_id = customer.as_ref().map(|c| c.id.as_str().to_string());
        }
        let tz = customer
            .as_ref()
            .and_then(|c| c.time_zone.parse::<chrono_tz::Tz>().ok())
            .unwrap_or(self.time_zone);
        let as_of = input
            .as_of
            .unwrap_or_else(|| crate::customer::dates::today_in(now, tz));
        let history = match &input.stateless_history {
            Some(h) => h.clone(),
            None => {
                let recent = self.sessions.recent(&session, self.history_turns)?;
                History {
                    turns: recent
                        .iter()
                        .flat_map(|t| [t.message.clone(), t.answer.clone()])
                        .collect(),
                    previous: session.previous.clone(),
                    product: session.product.clone(),
                }
            }
        };
        let mut reply = engine.chat(&ChatRequest {
            message: input.message.clone(),
            history: &history,
            customer: customer.as_ref(),
            as_of,
            scope: input.scope,
            passages: input.passages,
            use_llm: input.use_llm,
            cancel: input.cancel.clone(),
        })?;
        if let Some(w) = unread {
            reply.answer.warnings.push(w);
        }
        let composed = &reply.answer.composed;
        let mut cited: Vec<String> = composed
            .sentences
            .iter()
            .flat_map(|s| s.citations.iter().map(|c| c.doc_id.clone()))
            .collect();
        cited.dedup();
        let record = TurnRecord {
            n: 0,
            at: now,
            message: input.message.clone(),
            resolved: reply.resolved.text.clone(),
            how: serde_json::to_value(reply.resolved.how)
                .ok()
                .and_then(|v| v.as_str().map(str::to_string))
                .unwrap_or_default(),
            answer: composed.text.clone(),
            abstained: composed.abstained,
            reason: composed.reason.map(|r| r.as_str().to_string()),
            confidence: composed.confidence,
            cited,
            decision: reply
                .decision
                .as_ref()
                .and_then(|d| serde_json::to_value(d).ok()),
            as_of,
        };
        let product = reply.resolved.product.clone().or(session.product.clone());
        let turn = if input.stateless_history.is_some() {
            // nothing kept: the client holds the conversation
            TurnRecord {
                n: (history.turns.len() / 2 + 1) as u32,
                ..record
            }
        } else {
            self.sessions.record(&mut session, record, product)?
        };
        Ok(Ok(TurnOutput {
            session,
            turn,
            reply,
            as_of,
        }))
    }
}
