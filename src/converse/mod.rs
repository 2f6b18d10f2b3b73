//! Conversations: what a turn means given the turns before it. [`rewrite`] turns a follow-up
//! into a question that stands alone; [`session`] keeps sessions and their turns.

pub mod llm;
pub mod rewrite;
pub mod session;

pub use rewrite::{resolve, Dialogue, How, Names, NoNames, Resolved};
pub use session::{Session, Sessions, TurnRecord};
