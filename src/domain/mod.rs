//! The vocabulary every layer speaks (L0): validated ids, document metadata and policy terms,
//! and who is asking (role, scope, channel, caller). Nothing here knows about parsing,
//! indexes, configuration or transport.

mod access;
mod ids;
mod meta;

pub use access::{Caller, Channel, Role, Scope};
pub use ids::{ChunkId, CustomerId, DocId, SessionId};
pub use meta::{Audience, DocMeta, DocType, WarrantyTerm};
