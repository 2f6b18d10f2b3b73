//! The analyzer's streams as tantivy tokenizers, registered under the names in
//! [`TOKENIZERS`]. Each tokenizer runs the analysis once per text and replays the tokens.

use std::sync::Arc;

use tantivy::tokenizer::{Token, TokenStream, Tokenizer, TokenizerManager};

use crate::analyze::{Analyzer, Stream, Tok};

/// Tokenizer names, one per stream.
pub const TOKENIZERS: [(&str, Stream); 5] = [
    ("kefu_pairs", Stream::WordPairs),
    ("kefu_words", Stream::Words),
    ("kefu_cjk1", Stream::CjkUnigrams),
    ("kefu_cjk2", Stream::CjkBigrams),
    ("kefu_ident", Stream::Idents),
];

/// A tantivy tokenizer for one stream of the analyzer.
#[derive(Clone)]
pub struct StreamTokenizer {
    analyzer: Arc<Analyzer>,
    stream: Stream,
    buf: Vec<Tok>,
}

impl StreamTokenizer {
    /// A tokenizer for `stream`.
    pub fn new(analyzer: Arc<Analyzer>, stream: Stream) -> Self {
        StreamTokenizer {
            analyzer,
            stream,
            buf: Vec::new(),
        }
    }
}

/// Replays analysed tokens.
pub struct VecTokenStream<'a> {
    toks: &'a [Tok],
    idx: usize,
    token: Token,
}

impl Tokenizer for StreamTokenizer {
    type TokenStream<'a> = VecTokenStream<'a>;

    fn token_stream<'a>(&'a mut self, text: &'a str) -> VecTokenStream<'a> {
        self.buf.clear();
        self.analyzer.analyze(self.stream, text, &mut self.buf);
        VecTokenStream {
            toks: &self.buf,
            idx: 0,
            token: Token::default(),
        }
    }
}

impl TokenStream for VecTokenStream<'_> {
    fn advance(&mut self) -> bool {
        let Some(t) = self.toks.get(self.idx) else {
            return false;
        };
        self.token.text.clear();
        self.token.text.push_str(&t.text);
        self.token.offset_from = t.from;
        self.token.offset_to = t.to;
        self.token.position = self.idx;
        self.token.position_length = 1;
        self.idx += 1;
        true
    }

    fn token(&self) -> &Token {
        &self.token
    }

    fn token_mut(&mut self) -> &mut Token {
        &mut self.token
    }
}

/// Registers kefu's tokenizers in a tantivy tokenizer manager.
pub fn register(manager: &TokenizerManager, analyzer: &Arc<Analyzer>) {
    for (name, stream) in TOKENIZERS {
        manager.register(name, StreamTokenizer::new(analyzer.clone(), stream));
    }
}
