//! Integration tests: they run the real `kefu` binary (and server, over real sockets) on the
//! demo corpus and on folders they make, each with its own index folder. `support/` holds
//! what they share: workspaces, the server, the LLM stand-in and outside tools.

mod answer;
mod chat;
mod consistency;
mod corpus;
mod crm;
mod customer;
mod directory;
mod eval;
mod http;
mod hybrid;
mod models;
mod openai;
mod records;
mod robustness;
mod security;
mod support;

pub use support::workspace::{doc_ids, repo, text, Workspace};
