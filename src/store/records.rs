//! Records: what cannot be rebuilt from files — sessions and their turns, customers and their
//! purchases, and (next) events and feedback. They sit behind one small transactional
//! interface, [`Records`]: read a key, scan a prefix, commit a batch of writes all together.
//! A PostgreSQL implementation of the same three calls is the way past one machine.
//!
//! The embedded implementation is [`RedbRecords`] (redb: pure Rust, ACID, copy-on-write
//! B-trees; a commit returns once it is on disk). [`SledRecords`] implements the same calls
//! over sled with a flush after each batch; it exists so that the kill test
//! (`kefu records hammer`, tests/it/records.rs) can measure both, which is how redb was chosen
//! (ARCHITECTURE.md has the figures). [`MemoryRecords`] serves unit tests.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Mutex;

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::{Error, Result};

/// The kinds of record, each a table of its own.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Table {
    /// A conversation: its channel, caller, customer and times.
    Sessions,
    /// One turn of a conversation, keyed by session id and turn number.
    Turns,
    /// A customer and their purchases.
    Customers,
    /// Where a phone number or an order number leads: the customer id.
    CustomerKeys,
    /// An interaction event (analytics).
    Events,
    /// Feedback on an answer.
    Feedback,
}

impl Table {
    pub const ALL: [Table; 6] = [
        Table::Sessions,
        Table::Turns,
        Table::Customers,
        Table::CustomerKeys,
        Table::Events,
        Table::Feedback,
    ];

    /// The table's name in the database (versioned, so that a new layout is a new table).
    pub fn name(self) -> &'static str {
        match self {
            Table::Sessions => "sessions.v1",
            Table::Turns => "turns.v1",
            Table::Customers => "customers.v1",
            Table::CustomerKeys => "customer_keys.v1",
            Table::Events => "events.v1",
            Table::Feedback => "feedback.v1",
        }
    }
}

/// One write of a batch.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Write {
    Put {
        table: Table,
        key: String,
        value: Vec<u8>,
    },
    Delete {
        table: Table,
        key: String,
    },
}

/// Writes committed together: all of them, or none.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Batch {
    pub writes: Vec<Write>,
}

impl Batch {
    pub fn new() -> Batch {
        Batch::default()
    }

    pub fn put(&mut self, table: Table, key: impl Into<String>, value: Vec<u8>) -> &mut Batch {
        self.writes.push(Write::Put {
            table,
            key: key.into(),
            value,
        });
        self
    }

    /// Puts `value` as JSON.
    pub fn put_json<T: Serialize>(
        &mut self,
        table: Table,
        key: impl Into<String>,
        value: &T,
    ) -> Result<&mut Batch> {
        let bytes = serde_json::to_vec(value)
            .map_err(|e| Error::Internal(format!("a {} record: {e}", table.name())))?;
        Ok(self.put(table, key, bytes))
    }

    pub fn delete(&mut self, table: Table, key: impl Into<String>) -> &mut Batch {
        self.writes.push(Write::Delete {
            table,
            key: key.into(),
        });
        self
    }

    pub fn is_empty(&self) -> bool {
        self.writes.is_empty()
    }
}

/// The records interface: small and transactional.
pub trait Records: Send + Sync {
    /// The value under `key`.
    fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>>;
    /// Up to `limit` entries whose key starts with `prefix`, in key order.
    fn scan(&self, table: Table, prefix: &str, limit: usize) -> Result<Vec<(String, Vec<u8>)>>;
    /// Applies every write of `batch`, or none; once it returns `Ok`, the writes survive a
    /// crash of the process or of the machine.
    fn commit(&self, batch: Batch) -> Result<()>;
}

/// The value under `key`, read as JSON.
pub fn get_json<T: DeserializeOwned>(
    records: &dyn Records,
    table: Table,
    key: &str,
) -> Result<Option<T>> {
    match records.get(table, key)? {
        None => Ok(None),
        Some(bytes) => serde_json::from_slice(&bytes).map(Some).map_err(|e| {
            Error::Store(format!(
                "the {} record `{key}` is unreadable: {e}",
                table.name()
            ))
        }),
    }
}

/// Records in a redb database file.
pub struct RedbRecords {
    db: redb::Database,
    path: PathBuf,
}

type RedbTable = redb::TableDefinition<'static, &'static str, &'static [u8]>;

fn definition(table: Table) -> RedbTable {
    redb::TableDefinition::new(table.name())
}

impl RedbRecords {
    /// Opens (or creates) the records in the file `path`. After a crash, redb checks and
    /// repairs the file as it opens; a file another process holds is `Locked`.
    pub fn open(path: &Path) -> Result<RedbRecords> {
        if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
            std::fs::create_dir_all(dir).map_err(|e| Error::io(dir, e))?;
        }
        let db = redb::Database::create(path).map_err(|e| match e {
            redb::DatabaseError::DatabaseAlreadyOpen => Error::Locked {
                path: path.to_path_buf(),
                detail: "the records are open in another kefu process".into(),
            },
            other => Error::Store(format!("{}: {other}", path.display())),
        })?;
        // every table exists, so that reads never meet a missing one
        let tx = db.begin_write().map_err(|e| at(path, e))?;
        for t in Table::ALL {
            tx.open_table(definition(t)).map_err(|e| at(path, e))?;
        }
        tx.commit().map_err(|e| at(path, e))?;
        Ok(RedbRecords {
            db,
            path: path.to_path_buf(),
        })
    }

    fn err(&self, e: impl std::fmt::Display) -> Error {
        at(&self.path, e)
    }
}

fn at(path: &Path, e: impl std::fmt::Display) -> Error {
    Error::Store(format!("{}: {e}", path.display()))
}

impl Records for RedbRecords {
    fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = tx.open_table(definition(table)).map_err(|e| self.err(e))?;
        let v = t.get(key).map_err(|e| self.err(e))?;
        Ok(v.map(|v| v.value().to_vec()))
    }

    fn scan(&self, table: Table, prefix: &str, limit: usize) -> Result<Vec<(String, Vec<u8>)>> {
        let tx = self.db.begin_read().map_err(|e| self.err(e))?;
        let t = tx.open_table(definition(table)).map_err(|e| self.err(e))?;
        let mut out = Vec::new();
        for item in t.range(prefix..).map_err(|e| self.err(e))? {
            let (k, v) = item.map_err(|e| self.err(e))?;
            let k = k.value();
            if !k.starts_with(prefix) || out.len() >= limit {
                break;
            }
            out.push((k.to_string(), v.value().to_vec()));
        }
        Ok(out)
    }

    fn commit(&self, batch: Batch) -> Result<()> {
        if batch.is_empty() {
            return Ok(());
        }
        let tx = self.db.begin_write().map_err(|e| self.err(e))?;
        for w in &batch.writes {
            match w {
                Write::Put { table, key, value } => {
                    let mut t = tx.open_table(definition(*table)).map_err(|e| self.err(e))?;
                    t.insert(key.as_str(), value.as_slice())
                        .map_err(|e| self.err(e))?;
                }
                Write::Delete { table, key } => {
                    let mut t = tx.open_table(definition(*table)).map_err(|e| self.err(e))?;
                    t.remove(key.as_str()).map_err(|e| self.err(e))?;
                }
            }
        }
        // redb's default durability: the commit returns once the data is fsynced
        tx.commit().map_err(|e| self.err(e))
    }
}

/// Records in a sled database, a batch applied atomically and flushed before `commit`
/// returns. Kept to measure against redb in the kill test, not used to serve.
pub struct SledRecords {
    db: sled::Db,
    path: PathBuf,
}

impl SledRecords {
    pub fn open(path: &Path) -> Result<SledRecords> {
        let db = sled::open(path).map_err(|e| at(path, e))?;
        Ok(SledRecords {
            db,
            path: path.to_path_buf(),
        })
    }

    fn key(table: Table, key: &str) -> Vec<u8> {
        let mut k = table.name().as_bytes().to_vec();
        k.push(0);
        k.extend_from_slice(key.as_bytes());
        k
    }
}

impl Records for SledRecords {
    fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>> {
        let v = self
            .db
            .get(Self::key(table, key))
            .map_err(|e| at(&self.path, e))?;
        Ok(v.map(|v| v.to_vec()))
    }

    fn scan(&self, table: Table, prefix: &str, limit: usize) -> Result<Vec<(String, Vec<u8>)>> {
        let head = Self::key(table, "").len();
        let mut out = Vec::new();
        for item in self.db.scan_prefix(Self::key(table, prefix)).take(limit) {
            let (k, v) = item.map_err(|e| at(&self.path, e))?;
            let key = String::from_utf8_lossy(&k[head..]).into_owned();
            out.push((key, v.to_vec()));
        }
        Ok(out)
    }

    fn commit(&self, batch: Batch) -> Result<()> {
        let mut b = sled::Batch::default();
        for w in batch.writes {
            match w {
                Write::Put { table, key, value } => b.insert(Self::key(table, &key), value),
                Write::Delete { table, key } => b.remove(Self::key(table, &key)),
            }
        }
        self.db.apply_batch(b).map_err(|e| at(&self.path, e))?;
        self.db.flush().map_err(|e| at(&self.path, e))?;
        Ok(())
    }
}

/// Records in memory (unit tests): lost when the process ends.
#[derive(Default)]
pub struct MemoryRecords {
    tables: Mutex<BTreeMap<(Table, String), Vec<u8>>>,
}

impl MemoryRecords {
    pub fn new() -> MemoryRecords {
        MemoryRecords::default()
    }

    fn tables(&self) -> std::sync::MutexGuard<'_, BTreeMap<(Table, String), Vec<u8>>> {
        // a panic while holding the lock cannot leave a half-applied batch: batches are
        // applied after they are built, with nothing that can panic in between
        self.tables.lock().unwrap_or_else(|p| p.into_inner())
    }
}

impl Records for MemoryRecords {
    fn get(&self, table: Table, key: &str) -> Result<Option<Vec<u8>>> {
        Ok(self.tables().get(&(table, key.to_string())).cloned())
    }

    fn scan(&self, table: Table, prefix: &str, limit: usize) -> Result<Vec<(String, Vec<u8>)>> {
        Ok(self
            .tables()
            .range((table, prefix.to_string())..)
            .take_while(|((t, k), _)| *t == table && k.starts_with(prefix))
            .take(limit)
            .map(|((_, k), v)| (k.clone(), v.clone()))
            .collect())
    }

    fn commit(&self, batch: Batch) -> Result<()> {
        let mut tables = self.tables();
        for w in batch.writes {
            match w {
                Write::Put { table, key, value } => {
                    tables.insert((table, key), value);
                }
                Write::Delete { table, key } => {
                    tables.remove(&(table, key));
                }
            }
        }
        Ok(())
    }
}

/// What the kill test's writer writes as its `n`th batch: a session and its turn, committed
/// together, whose bodies carry their own length and checksum (so a half-written value is
/// seen) and vary in size (up to ~8 KiB).
pub fn hammer_batch(n: u64) -> Batch {
    let size = 64 + ((n.wrapping_mul(2_654_435_761) >> 7) % 8_000) as usize;
    let body: String = (0..size)
        .map(|i| char::from(b'a' + ((n as usize + i) % 26) as u8))
        .collect();
    let mut b = Batch::new();
    for (table, key) in [
        (Table::Sessions, format!("s{n:012}")),
        (Table::Turns, format!("s{n:012}/0001")),
    ] {
        let value = format!("{n}:{}:{:016x}:{body}", body.len(), checksum(&body));
        b.put(table, key, value.into_bytes());
    }
    b
}

/// FNV-1a, enough to tell a torn value from a whole one.
fn checksum(s: &str) -> u64 {
    s.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// Checks a value [`hammer_batch`] wrote: whole, and the `n`th.
pub fn hammer_value_ok(n: u64, value: &[u8]) -> bool {
    let Ok(s) = std::str::from_utf8(value) else {
        return false;
    };
    let mut parts = s.splitn(4, ':');
    let (Some(num), Some(len), Some(sum), Some(body)) =
        (parts.next(), parts.next(), parts.next(), parts.next())
    else {
        return false;
    };
    num.parse::<u64>().ok() == Some(n)
        && len.parse::<usize>().ok() == Some(body.len())
        && u64::from_str_radix(sum, 16).ok() == Some(checksum(body))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn exercise(r: &dyn Records) {
        let mut b = Batch::new();
        b.put(Table::Sessions, "s1", b"one".to_vec())
            .put(Table::Sessions, "s2", b"two".to_vec())
            .put(Table::Turns, "s1/0001", b"hi".to_vec())
            .put(Table::Turns, "s10/0001", b"other".to_vec());
        r.commit(b).expect("commits");
        assert_eq!(
            r.get(Table::Sessions, "s1").expect("reads"),
            Some(b"one".to_vec())
        );
        assert_eq!(r.get(Table::Turns, "s1").expect("reads"), None);
        let turns = r.scan(Table::Turns, "s1/", 10).expect("scans");
        assert_eq!(turns, vec![("s1/0001".to_string(), b"hi".to_vec())]);
        assert_eq!(r.scan(Table::Sessions, "s", 1).expect("scans").len(), 1);
        let mut b = Batch::new();
        b.delete(Table::Sessions, "s1");
        r.commit(b).expect("commits");
        assert_eq!(r.get(Table::Sessions, "s1").expect("reads"), None);
        assert_eq!(r.scan(Table::Sessions, "", 10).expect("scans").len(), 1);
    }

    #[test]
    fn each_implementation_reads_scans_and_commits_alike() {
        exercise(&MemoryRecords::new());
        let dir = tempfile::tempdir().expect("tempdir");
        exercise(&RedbRecords::open(&dir.path().join("records.redb")).expect("opens"));
        exercise(&SledRecords::open(&dir.path().join("sled")).expect("opens"));
    }

    #[test]
    fn records_outlive_the_handle_and_a_second_opener_is_refused() {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = dir.path().join("records.redb");
        {
            let r = RedbRecords::open(&path).expect("opens");
            r.commit(hammer_batch(7)).expect("commits");
            let again = RedbRecords::open(&path);
            assert!(
                matches!(again, Err(Error::Locked { .. })),
                "a second opener"
            );
        }
        let r = RedbRecords::open(&path).expect("opens again");
        let v = r.get(Table::Sessions, "s000000000007").expect("reads");
        assert!(v.is_some_and(|v| hammer_value_ok(7, &v)));
    }

    #[test]
    fn a_torn_or_foreign_value_is_told_from_a_whole_one() {
        let b = hammer_batch(42);
        let Write::Put { value, .. } = &b.writes[0] else {
            panic!("a put");
        };
        assert!(hammer_value_ok(42, value));
        assert!(!hammer_value_ok(41, value));
        assert!(!hammer_value_ok(42, &value[..value.len() - 1]));
        let mut flipped = value.clone();
        let last = flipped.len() - 1;
        flipped[last] ^= 1;
        assert!(!hammer_value_ok(42, &flipped));
    }
}
