//! html5gum plumbing: a reader that counts the work done, and an emitter that switches the
//! tokenizer into raw text after the elements whose content is not markup.

use std::cell::Cell;
use std::convert::Infallible;

use html5gum::emitters::callback::{Callback, CallbackEmitter};
use html5gum::{Emitter, ForwardingEmitter, Reader, State};

use super::MAX_TAG_NAME;

/// The input as html5gum reads it, counting every byte read or compared.
pub(super) struct CountingReader<'a> {
    pub(super) input: &'a [u8],
    pub(super) pos: usize,
    pub(super) work: &'a Cell<u64>,
}

impl CountingReader<'_> {
    fn add(&self, n: usize) {
        self.work.set(self.work.get() + n as u64);
    }
}

impl Reader for CountingReader<'_> {
    type Error = Infallible;

    fn read_byte(&mut self) -> Result<Option<u8>, Infallible> {
        self.add(1);
        let b = self.input.get(self.pos).copied();
        if b.is_some() {
            self.pos += 1;
        }
        Ok(b)
    }

    fn try_read_string(&mut self, s: &[u8], case_sensitive: bool) -> Result<bool, Infallible> {
        self.add(s.len());
        let next = self.input.get(self.pos..).unwrap_or_default();
        let Some(next) = next.get(..s.len()) else {
            return Ok(false);
        };
        let matches = next == s || (!case_sensitive && next.eq_ignore_ascii_case(s));
        if matches {
            self.pos += s.len();
        }
        Ok(matches)
    }

    /// A run of bytes none of which is in `needle`, or one byte that is (the contract of
    /// `Reader::read_until`).
    fn read_until<'b>(
        &'b mut self,
        needle: &[u8],
        _char_buf: &'b mut [u8; 4],
    ) -> Result<Option<&'b [u8]>, Infallible> {
        let input: &'b [u8] = self.input;
        let rest = input.get(self.pos..).unwrap_or_default();
        let Some(first) = rest.first() else {
            return Ok(None);
        };
        let len = if needle.contains(first) {
            1
        } else {
            rest.iter()
                .position(|b| needle.contains(b))
                .unwrap_or(rest.len())
        };
        self.add(len + 1);
        self.pos += len;
        Ok(rest.get(..len))
    }
}

/// The tokenizer state a start tag switches to. html5gum leaves this to the caller (it has no
/// tree builder); the content of these elements is text, not markup.
fn raw_state(tag: &[u8]) -> Option<State> {
    match tag {
        b"script" => Some(State::ScriptData),
        b"style" => Some(State::RawText),
        b"title" | b"textarea" => Some(State::RcData),
        _ => None,
    }
}

/// html5gum's callback emitter, switching the tokenizer's state after `script`, `style`,
/// `title` and `textarea` start tags.
pub(super) struct Switching<F: Callback<Infallible, usize>> {
    pub(super) inner: CallbackEmitter<F, Infallible, usize>,
    pub(super) start: bool,
    pub(super) name: Vec<u8>,
}

impl<F: Callback<Infallible, usize>> ForwardingEmitter for Switching<F> {
    type Token = Infallible;

    fn inner(&mut self) -> &mut impl Emitter<Token = Self::Token> {
        &mut self.inner
    }

    fn should_emit_errors(&mut self) -> bool {
        false
    }

    fn init_start_tag(&mut self) {
        self.start = true;
        self.name.clear();
        self.inner.init_start_tag();
    }

    fn init_end_tag(&mut self) {
        self.start = false;
        self.name.clear();
        self.inner.init_end_tag();
    }

    fn push_tag_name(&mut self, s: &[u8]) {
        let room = MAX_TAG_NAME.saturating_sub(self.name.len());
        self.name.extend_from_slice(&s[..s.len().min(room)]);
        self.inner.push_tag_name(s);
    }

    fn emit_current_tag(&mut self) -> Option<State> {
        // None: the inner emitter's own (naive) state switching is off
        let _ = self.inner.emit_current_tag();
        let next = if self.start {
            raw_state(&self.name)
        } else {
            None
        };
        if next.is_some() {
            // raw text and script data do not start a text run themselves
            self.inner.init_string();
        }
        next
    }
}
