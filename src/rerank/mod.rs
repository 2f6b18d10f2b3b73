//! Second-stage reranking of fused candidates. So far: the learning-to-rank model
//! ([`linear::LinearModel`], pairwise logistic loss). The features, the training command and
//! the wiring into search and answers are the next steps of the answers issue.

pub mod linear;
