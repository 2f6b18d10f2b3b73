//! Workspaces: a config file, a corpus folder and an index folder of their own, and the
//! `kefu` binary run against them. One demo index is built per test run and copied into
//! every workspace that asks for it, so tests that read the demo corpus do not rebuild it.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::{Mutex, OnceLock};

/// The repository root (where the demo corpus lives).
pub fn repo() -> PathBuf {
    PathBuf::from(env!("CARGO_MANIFEST_DIR"))
}

/// A scratch workspace: a config file pointing at `corpus` and a fresh index folder.
pub struct Workspace {
    pub dir: tempfile::TempDir,
    pub corpus: PathBuf,
}

impl Workspace {
    /// A workspace over `corpus` (which is read, never written).
    pub fn new(corpus: &Path) -> Workspace {
        Self::create(tempfile::tempdir().expect("tempdir"), corpus.to_path_buf())
    }

    /// A workspace with its own, writable corpus folder (initially empty).
    pub fn with_own_corpus() -> Workspace {
        let dir = tempfile::tempdir().expect("tempdir");
        let corpus = dir.path().join("corpus");
        std::fs::create_dir_all(&corpus).expect("mkdir");
        Self::create(dir, corpus)
    }

    /// A workspace whose own corpus holds copies of these files of the demo corpus.
    pub fn with_files(files: &[&str]) -> Workspace {
        let ws = Self::with_own_corpus();
        copy_files(files, &ws.corpus);
        ws
    }

    fn create(dir: tempfile::TempDir, corpus: PathBuf) -> Workspace {
        let config = format!(
            "[corpus]\ndir = {:?}\n[index]\ndir = {:?}\n[analysis]\nuser_dict = {:?}\n[vector]\nenabled = false\n[log]\nlevel = \"info\"\n",
            corpus.display().to_string(),
            dir.path().join("indexes").display().to_string(),
            repo().join("corpus/dict/user.dict").display().to_string(),
        );
        std::fs::write(dir.path().join("config.toml"), config).expect("write config");
        Workspace { dir, corpus }
    }

    pub fn config(&self) -> PathBuf {
        self.dir.path().join("config.toml")
    }

    pub fn index_dir(&self) -> PathBuf {
        self.dir.path().join("indexes")
    }

    /// A workspace over the demo corpus with the demo index already built: a copy of one
    /// index built once per test run (tests may write to their copy).
    pub fn demo() -> Workspace {
        Self::demo_with(&[])
    }

    /// [`Workspace::demo`] with the index built by `kefu index` with `env` (vectors, say).
    pub fn demo_with(env: &[(&str, &str)]) -> Workspace {
        let ws = Workspace::new(&repo().join("corpus"));
        let built = prebuilt(&format!("demo {env:?}"), env, || {
            Workspace::create(scratch(), repo().join("corpus"))
        });
        copy_dir(&built.index_dir(), &ws.index_dir());
        ws
    }

    /// [`Workspace::with_files`] with the index already built (by `kefu index` with `env`): a
    /// copy of one index built once per test run for these files and settings.
    pub fn with_files_indexed(files: &[&str], env: &[(&str, &str)]) -> Workspace {
        let ws = Workspace::with_files(files);
        let key = format!("{files:?} {env:?}");
        let built = prebuilt(&key, env, || {
            let dir = scratch();
            let corpus = dir.path().join("corpus");
            copy_files(files, &corpus);
            Workspace::create(dir, corpus)
        });
        copy_dir(&built.index_dir(), &ws.index_dir());
        ws
    }

    /// A `kefu` command with this workspace's config.
    pub fn cmd(&self, args: &[&str]) -> Command {
        let mut c = Command::new(env!("CARGO_BIN_EXE_kefu"));
        c.arg("--config").arg(self.config()).args(args);
        c.env_remove("RUST_LOG");
        for (k, _) in std::env::vars() {
            if k.starts_with("KEFU__") {
                c.env_remove(k);
            }
        }
        c.stdin(Stdio::null());
        c
    }

    /// Runs `kefu` and returns its output.
    pub fn run(&self, args: &[&str]) -> Output {
        self.cmd(args).output().expect("run kefu")
    }

    /// Runs `kefu search --json` and returns the parsed response.
    pub fn search(&self, query: &str, extra: &[&str]) -> serde_json::Value {
        let mut args = vec!["search", query, "--json"];
        args.extend_from_slice(extra);
        let out = self.run(&args);
        assert!(
            out.status.success(),
            "search failed: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        serde_json::from_slice(&out.stdout).expect("search prints JSON")
    }
}

/// The doc ids of a search response, in rank order.
pub fn doc_ids(resp: &serde_json::Value) -> Vec<String> {
    resp["hits"]
        .as_array()
        .expect("hits")
        .iter()
        .map(|h| h["doc_id"].as_str().expect("doc_id").to_string())
        .collect()
}

/// Text of a process output, for assertion messages.
pub fn text(out: &Output) -> String {
    format!(
        "stdout:\n{}\nstderr:\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    )
}

/// Copies the folder `from` to `to` (files and folders; symbolic links as links).
fn copy_dir(from: &Path, to: &Path) {
    std::fs::create_dir_all(to).expect("mkdir");
    for entry in std::fs::read_dir(from).expect("read dir") {
        let entry = entry.expect("entry");
        let (src, dst) = (entry.path(), to.join(entry.file_name()));
        let kind = entry.file_type().expect("file type");
        if kind.is_symlink() {
            let target = std::fs::read_link(&src).expect("read link");
            std::os::unix::fs::symlink(target, &dst).expect("symlink");
        } else if kind.is_dir() {
            copy_dir(&src, &dst);
        } else {
            std::fs::copy(&src, &dst).expect("copy");
        }
    }
}

/// Copies these files of the demo corpus into `corpus`.
fn copy_files(files: &[&str], corpus: &Path) {
    for f in files {
        let to = corpus.join(f);
        std::fs::create_dir_all(to.parent().expect("parent")).expect("mkdir");
        std::fs::copy(repo().join("corpus").join(f), to).expect("copy");
    }
}

/// A folder for a workspace that lives as long as the test run, under the target folder (the
/// folders of earlier runs are removed at the first call).
fn scratch() -> tempfile::TempDir {
    static ROOT: OnceLock<PathBuf> = OnceLock::new();
    let root = ROOT.get_or_init(|| {
        let root = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("prebuilt");
        let _ = std::fs::remove_dir_all(&root);
        std::fs::create_dir_all(&root).expect("mkdir");
        root
    });
    tempfile::tempdir_in(root).expect("tempdir")
}

/// The workspace `make` gives, indexed with `env`, made once per test run for `key`.
fn prebuilt(
    key: &str,
    env: &[(&str, &str)],
    make: impl FnOnce() -> Workspace,
) -> &'static Workspace {
    static BUILT: OnceLock<Mutex<HashMap<String, &'static Workspace>>> = OnceLock::new();
    let mut built = BUILT
        .get_or_init(Default::default)
        .lock()
        .unwrap_or_else(|e| e.into_inner());
    if let Some(ws) = built.get(key) {
        return ws;
    }
    let ws: &'static Workspace = Box::leak(Box::new(make()));
    let mut cmd = ws.cmd(&["index"]);
    cmd.envs(env.iter().copied());
    let out = cmd.output().expect("run kefu index");
    assert!(out.status.success(), "prebuilt index {key}: {}", text(&out));
    built.insert(key.to_string(), ws);
    ws
}
