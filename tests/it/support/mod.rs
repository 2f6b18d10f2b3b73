//! What the integration tests share.

pub mod crm;
pub mod llm;
pub mod server;
pub mod tools;
pub mod workspace;
