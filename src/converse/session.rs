//! Sessions and their turns, kept in the records store (they cannot be rebuilt from files).
//! A session is created by one caller (a key), may name a customer and a channel, expires
//! after a while without turns, and keeps at most a configured number of turns. Each turn is
//! written with its session in one batch, so a crash never leaves a session pointing at a turn
//! that is not there.

use std::sync::{Arc, Mutex};

use chrono::{DateTime, NaiveDate, Utc};
use serde::{Deserialize, Serialize};

use crate::domain::Channel;
use crate::error::{Error, Result};
use crate::store::records::{get_json, Batch, Records, Table};

/// A conversation.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Session {
    pub id: String,
    /// The name of the key that created it.
    pub created_by: String,
    pub customer_id: Option<String>,
    pub channel: Channel,
    pub created_at: DateTime<Utc>,
    pub updated_at: DateTime<Utc>,
    /// Turns taken (the next turn's number is this plus one).
    pub turns: u32,
    /// The product the conversation is about so far.
    pub product: Option<String>,
    /// The last question as it was resolved.
    pub previous: Option<String>,
}

impl Session {
    /// A session not yet stored (it is written with its first turn).
    fn fresh(
        id: String,
        caller: &str,
        customer_id: Option<&str>,
        channel: Channel,
        now: DateTime<Utc>,
    ) -> Session {
        Session {
            id,
            created_by: caller.to_string(),
            customer_id: customer_id.map(str::to_string),
            channel,
            created_at: now,
            updated_at: now,
            turns: 0,
            product: None,
            previous: None,
        }
    }
}

/// One turn as recorded.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct TurnRecord {
    pub n: u32,
    pub at: DateTime<Utc>,
    pub message: String,
    /// The question actually searched.
    pub resolved: String,
    /// How the follow-up was resolved (`unchanged`, `ellipsis`, `pronoun`, …).
    pub how: String,
    pub answer: String,
    pub abstained: bool,
    pub reason: Option<String>,
    pub confidence: f32,
    /// The documents cited.
    pub cited: Vec<String>,
    /// The decision taken, as JSON.
    pub decision: Option<serde_json::Value>,
    /// The day decisions were taken on.
    pub as_of: NaiveDate,
}

/// Why a session cannot take a turn.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SessionError {
    NotFound,
    Expired,
    /// Another caller's session (a bot may only use its own).
    NotYours,
}

/// The sessions store.
pub struct Sessions {
    records: Arc<dyn Records>,
    max_turns: usize,
    idle: chrono::Duration,
    /// Turns are numbered by reading and writing the session: one at a time.
    lock: Mutex<()>,
}

fn turn_key(id: &str, n: u32) -> String {
    format!("{id}/{n:08}")
}

impl Sessions {
    pub fn new(records: Arc<dyn Records>, max_turns: usize, idle_minutes: u64) -> Sessions {
        Sessions {
            records,
            max_turns: max_turns.max(1),
            idle: chrono::Duration::minutes(idle_minutes.min(i64::MAX as u64 / 60_000) as i64),
            lock: Mutex::new(()),
        }
    }

    /// A session by id.
    pub fn get(&self, id: &str) -> Result<Option<Session>> {
        get_json(self.records.as_ref(), Table::Sessions, id)
    }

    /// A new session id: random, URL-safe.
    pub fn new_id() -> String {
        let mut bytes = [0u8; 12];
        // the OS generator; should it fail, the clock still makes the id unique here
        if getrandom::fill(&mut bytes).is_err() {
            let t = Utc::now()
                .timestamp_nanos_opt()
                .unwrap_or_default()
                .to_le_bytes();
            bytes[..8].copy_from_slice(&t);
        }
        let hex: String = bytes.iter().map(|b| format!("{b:02x}")).collect();
        format!("s-{hex}")
    }

    /// The session a turn goes to: `id`'s when given (it must exist, be the caller's unless
    /// `any_caller`, and not have expired), else a new one (not yet stored: it is written with
    /// its first turn).
    pub fn for_turn(
        &self,
        id: Option<&str>,
        caller: &str,
        any_caller: bool,
        customer_id: Option<&str>,
        channel: Channel,
        now: DateTime<Utc>,
    ) -> Result<std::result::Result<Session, SessionError>> {
        let Some(id) = id else {
            return Ok(Ok(Session::fresh(
                Self::new_id(),
                caller,
                customer_id,
                channel,
                now,
            )));
        };
        let Some(s) = self.get(id)? else {
            return Ok(Err(SessionError::NotFound));
        };
        if !any_caller && s.created_by != caller {
            return Ok(Err(SessionError::NotYours));
        }
        if now - s.updated_at > self.idle {
            return Ok(Err(SessionError::Expired));
        }
        Ok(Ok(s))
    }

    /// [`Sessions::for_turn`] for a session whose id the caller chose (an OpenAI client's
    /// `user`): created when it does not exist yet.
    pub fn for_turn_named(
        &self,
        id: &str,
        caller: &str,
        customer_id: Option<&str>,
        channel: Channel,
        now: DateTime<Utc>,
    ) -> Result<std::result::Result<Session, SessionError>> {
        match self.for_turn(Some(id), caller, false, customer_id, channel, now)? {
            Err(SessionError::NotFound) => Ok(Ok(Session::fresh(
                id.to_string(),
                caller,
                customer_id,
                channel,
                now,
            ))),
            other => Ok(other),
        }
    }

    /// The last `n` turns of a session, oldest first.
    pub fn recent(&self, session: &Session, n: usize) -> Result<Vec<TurnRecord>> {
        let first = session.turns.saturating_sub(n as u32) + 1;
        let mut out = Vec::new();
        for k in first..=session.turns {
            if let Some(t) = get_json(
                self.records.as_ref(),
                Table::Turns,
                &turn_key(&session.id, k),
            )? {
                out.push(t);
            }
        }
        Ok(out)
    }

    /// Records a turn: the session (updated) and the turn in one batch. The turn's number is
    /// given here; turns beyond `max_turns` drop the oldest.
    pub fn record(
        &self,
        session: &mut Session,
        mut turn: TurnRecord,
        product: Option<String>,
    ) -> Result<TurnRecord> {
        let _one = self
            .lock
            .lock()
            .map_err(|_| Error::Store("the sessions lock is poisoned".into()))?;
        // another turn may have been taken on this session meanwhile
        if let Some(stored) = self.get(&session.id)? {
            session.turns = stored.turns;
        }
        session.turns += 1;
        session.updated_at = turn.at;
        session.previous = Some(turn.resolved.clone());
        session.product = product;
        turn.n = session.turns;
        let mut batch = Batch::new();
        batch.put_json(Table::Sessions, session.id.clone(), session)?;
        batch.put_json(Table::Turns, turn_key(&session.id, turn.n), &turn)?;
        if turn.n as usize > self.max_turns {
            batch.delete(
                Table::Turns,
                turn_key(&session.id, turn.n - self.max_turns as u32),
            );
        }
        self.records.commit(batch)?;
        Ok(turn)
    }

    /// A session and the turns it keeps, oldest first.
    pub fn transcript(&self, id: &str) -> Result<Option<(Session, Vec<TurnRecord>)>> {
        let Some(s) = self.get(id)? else {
            return Ok(None);
        };
        let rows = self
            .records
            .scan(Table::Turns, &format!("{id}/"), self.max_turns + 1)?;
        let mut turns = Vec::with_capacity(rows.len());
        for (key, bytes) in rows {
            let t: TurnRecord = serde_json::from_slice(&bytes)
                .map_err(|e| Error::Store(format!("the turn record `{key}` is unreadable: {e}")))?;
            turns.push(t);
        }
        Ok(Some((s, turns)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::records::MemoryRecords;

    fn turn(at: DateTime<Utc>, msg: &str) -> TurnRecord {
        TurnRecord {
            n: 0,
            at,
            message: msg.into(),
            resolved: msg.into(),
            how: "unchanged".into(),
            answer: "ok".into(),
            abstained: false,
            reason: None,
            confidence: 0.9,
            cited: vec![],
            decision: None,
            as_of: at.date_naive(),
        }
    }

    #[test]
    fn turns_are_numbered_capped_and_sessions_expire() {
        let store = Sessions::new(Arc::new(MemoryRecords::new()), 3, 30);
        let t0 = Utc::now();
        let mut s = store
            .for_turn(None, "bot-a", false, Some("C0001"), Channel::Sms, t0)
            .expect("store")
            .expect("new session");
        for k in 0..5 {
            let t = store
                .record(&mut s, turn(t0, &format!("q{k}")), Some("X9 Pro".into()))
                .expect("record");
            assert_eq!(t.n, k + 1);
        }
        let (back, turns) = store.transcript(&s.id).expect("read").expect("there");
        assert_eq!((back.turns, back.product.as_deref()), (5, Some("X9 Pro")));
        let msgs: Vec<&str> = turns.iter().map(|t| t.message.as_str()).collect();
        assert_eq!(msgs, ["q2", "q3", "q4"], "the oldest turns are dropped");
        assert_eq!(store.recent(&back, 2).expect("recent").len(), 2);
        // another bot may not continue it; after 31 idle minutes nobody may
        let other = store
            .for_turn(Some(&s.id), "bot-b", false, None, Channel::Web, t0)
            .expect("store");
        assert_eq!(other, Err(SessionError::NotYours));
        let later = t0 + chrono::Duration::minutes(31);
        let gone = store
            .for_turn(Some(&s.id), "bot-a", false, None, Channel::Web, later)
            .expect("store");
        assert_eq!(gone, Err(SessionError::Expired));
        let none = store
            .for_turn(Some("s-nope"), "bot-a", false, None, Channel::Web, t0)
            .expect("store");
        assert_eq!(none, Err(SessionError::NotFound));
    }
}
