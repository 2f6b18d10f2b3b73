//! Step 1: the files of the corpus folder and of the uploaded documents' folder.

use std::path::{Path, PathBuf};

use crate::error::{Error, Result};
use crate::ingest::Format;

pub(super) struct SourceFile {
    pub(super) rel: String,
    pub(super) abs: PathBuf,
}

/// The prefix of the sources of documents uploaded over HTTP (kept in `corpus.managed_dir`).
pub const MANAGED_PREFIX: &str = "@managed/";

/// The corpus folder's subfolder of customer records (`corpus/customers/`): loaded into the
/// customer directory (`kefu customers import`), never indexed as documents.
pub const CUSTOMERS_DIR: &str = "customers";

/// Lists the files kefu reads (sorted) under the corpus folder and, when it exists, the folder
/// of uploaded documents; counts the others.
pub(super) fn walk_all(corpus: &Path, managed: &Path) -> Result<(Vec<SourceFile>, usize)> {
    let (mut files, mut ignored) = walk(corpus, "")?;
    if managed.is_dir() && managed != corpus {
        let (more, n) = walk(managed, MANAGED_PREFIX)?;
        files.extend(more);
        ignored += n;
        files.sort_by(|a, b| a.rel.cmp(&b.rel));
    }
    Ok((files, ignored))
}

/// Lists the files kefu reads under `corpus` (sorted), named `prefix` + relative path, and
/// counts the others.
fn walk(corpus: &Path, prefix: &str) -> Result<(Vec<SourceFile>, usize)> {
    let mut files = Vec::new();
    let mut ignored = 0;
    let mut stack = vec![corpus.to_path_buf()];
    while let Some(dir) = stack.pop() {
        let rd = std::fs::read_dir(&dir).map_err(|e| Error::io(&dir, e))?;
        for entry in rd {
            let entry = entry.map_err(|e| Error::io(&dir, e))?;
            let name = entry.file_name().to_string_lossy().to_string();
            if name.starts_with('.') {
                continue;
            }
            let path = entry.path();
            if prefix.is_empty() && dir == corpus && name == CUSTOMERS_DIR {
                continue;
            }
            let ft = std::fs::metadata(&path).map_err(|e| Error::io(&path, e))?;
            if ft.is_dir() {
                stack.push(path);
            } else if ft.is_file() {
                if Format::of(&path).is_some() {
                    let rel = prefix.to_string()
                        + &path
                            .strip_prefix(corpus)
                            .unwrap_or(&path)
                            .components()
                            .map(|c| c.as_os_str().to_string_lossy().to_string())
                            .collect::<Vec<_>>()
                            .join("/");
                    files.push(SourceFile { rel, abs: path });
                } else {
                    ignored += 1;
                }
            }
        }
    }
    files.sort_by(|a, b| a.rel.cmp(&b.rel));
    Ok((files, ignored))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn customer_records_are_not_documents() {
        let dir = tempfile::tempdir().expect("tempdir");
        let corpus = dir.path();
        for (rel, text) in [
            ("customers/customers.jsonl", "{}"),
            ("tickets/customers.jsonl", "{}"),
            ("manuals/a.md", "# A"),
        ] {
            let p = corpus.join(rel);
            std::fs::create_dir_all(p.parent().expect("a folder")).expect("mkdir");
            std::fs::write(&p, text).expect("write");
        }
        let (files, _) = walk_all(corpus, &corpus.join("managed")).expect("walks");
        let rels: Vec<&str> = files.iter().map(|f| f.rel.as_str()).collect();
        assert_eq!(rels, vec!["manuals/a.md", "tickets/customers.jsonl"]);
    }
}
