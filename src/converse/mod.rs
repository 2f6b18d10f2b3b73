//! Conversations: what a turn means given the turns before it. [`rewrite`] turns a follow-up
//! into a question that stands alone.

pub mod rewrite;

pub use rewrite::{resolve, Dialogue, How, Names, NoNames, Resolved};
