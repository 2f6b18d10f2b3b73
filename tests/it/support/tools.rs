//! Outside tools the tests check kefu's output with, installed on first use the way the
//! machine installs software: `promtool` from Debian's `prometheus` package, unpacked into the
//! target folder (no root needed when the package lists are present; with root, `apt-get
//! update` fetches them first).

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::OnceLock;

fn run(cmd: &mut Command) -> bool {
    cmd.output().map(|o| o.status.success()).unwrap_or(false)
}

/// Downloads the Debian package `package` into `dir` (updating the package lists once when
/// the first try fails); the path of the `.deb`.
fn download(package: &str, dir: &Path) -> PathBuf {
    let fetch = || {
        run(Command::new("apt-get")
            .arg("download")
            .arg(package)
            .current_dir(dir))
    };
    if !fetch() {
        assert!(
            run(Command::new("apt-get").arg("update")) && fetch(),
            "could not fetch the Debian package `{package}` (apt-get download {package})"
        );
    }
    std::fs::read_dir(dir)
        .expect("read dir")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .unwrap_or_else(|| panic!("apt-get download {package} left no .deb"))
}

/// `promtool`: the one on PATH, or the one unpacked from the `prometheus` package.
pub fn promtool() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        if run(Command::new("promtool").arg("--version")) {
            return PathBuf::from("promtool");
        }
        let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tools/prometheus");
        let bin = home.join("usr/bin/promtool");
        if !bin.exists() {
            let dl = home.with_extension("download");
            let _ = std::fs::remove_dir_all(&dl);
            std::fs::create_dir_all(&dl).expect("mkdir");
            let deb = download("prometheus", &dl);
            let unpack = home.with_extension("unpack");
            let _ = std::fs::remove_dir_all(&unpack);
            assert!(
                run(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(&unpack)),
                "dpkg-deb -x {}",
                deb.display()
            );
            let _ = std::fs::remove_dir_all(&home);
            std::fs::rename(&unpack, &home).expect("move the unpacked package");
            let _ = std::fs::remove_dir_all(&dl);
        }
        assert!(
            run(Command::new(&bin).arg("--version")),
            "{} does not run",
            bin.display()
        );
        bin
    })
}

/// A folder holding the official `openai` Python package (for `PYTHONPATH`): installed with pip
/// into the target folder on first use.
pub fn openai_package() -> &'static Path {
    static PATH: OnceLock<PathBuf> = OnceLock::new();
    PATH.get_or_init(|| {
        let home = PathBuf::from(env!("CARGO_TARGET_TMPDIR")).join("tools/openai");
        if home.join("openai/__init__.py").exists() {
            return home;
        }
        let staging = home.with_extension("install");
        let _ = std::fs::remove_dir_all(&staging);
        assert!(
            run(Command::new("python3")
                .args([
                    "-m",
                    "pip",
                    "install",
                    "--quiet",
                    "--disable-pip-version-check",
                    "--target"
                ])
                .arg(&staging)
                .arg("openai>=1.40,<4")),
            "could not install the `openai` Python package (python3 -m pip install openai)"
        );
        let _ = std::fs::remove_dir_all(&home);
        std::fs::rename(&staging, &home).expect("move the installed package");
        home
    })
}
