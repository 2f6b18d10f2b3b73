//! Text primitives shared by every layer (L0): the language of a text and how it is detected,
//! token counts, sentence splitting and the sentences worth quoting. Nothing here knows about
//! documents, indexes or configuration.

mod lang;
mod sentences;

pub use lang::{is_cjk, Lang};
pub use sentences::{count_tokens, quotable_ranges, split_sentences};
