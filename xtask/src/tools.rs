//! The pinned book tools, and installing them where they are missing.
//!
//! This is the one place where their versions are written down.

use std::path::{Path, PathBuf};
use std::process::Command;

/// A command-line tool from crates.io, pinned to one version.
#[derive(Debug, Clone, Copy)]
pub struct Tool {
    pub krate: &'static str,
    pub version: &'static str,
    /// Dependencies raised above the tool's published lock file, each for a
    /// fix the guide needs: (crate, exact version). Empty for most tools.
    pub lock_overrides: &'static [(&'static str, &'static str)],
}

/// mdBook itself, built with elasticlunr-rs 3.1.0 instead of the 3.0.2 of
/// its lock file. 3.1.0 fixes the tokens of earlier fields leaking into
/// later fields' indexes (elasticlunr-rs pull request 60): with 3.0.2,
/// mdBook's `breadcrumbs` field indexed every word of every page a second
/// time, and the search index that a reader downloads was twice its size.
pub const MDBOOK: Tool = Tool {
    krate: "mdbook",
    version: "0.5.4",
    lock_overrides: &[("elasticlunr-rs", "3.1.0")],
};

/// The Mermaid preprocessor; 0.17.1 is the first release whose theme
/// handling works with mdBook 0.5.
pub const MDBOOK_MERMAID: Tool = Tool {
    krate: "mdbook-mermaid",
    version: "0.17.1",
    lock_overrides: &[],
};

pub const ALL: [Tool; 2] = [MDBOOK, MDBOOK_MERMAID];

/// Where installed tools live: one folder per tool and version, outside the
/// repository so that every clone on a machine shares them, and never on top
/// of a copy the user installed themselves. `GUIDE_TOOLS_DIR` overrides it.
pub fn tools_root() -> PathBuf {
    if let Some(dir) = std::env::var_os("GUIDE_TOOLS_DIR") {
        return PathBuf::from(dir);
    }
    let cache = std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| {
            std::env::var_os("HOME")
                .map(|home| PathBuf::from(home).join(".cache"))
        })
        .unwrap_or_else(std::env::temp_dir);
    cache.join("senior-backend-guide").join("tools")
}

impl Tool {
    /// `mdbook-0.5.4+elasticlunr-rs-3.1.0`: an override is part of the
    /// name, so a build without it is never taken for one with it.
    fn install_root(&self) -> PathBuf {
        let mut name = format!("{}-{}", self.krate, self.version);
        for (krate, version) in self.lock_overrides {
            name.push_str(&format!("+{krate}-{version}"));
        }
        tools_root().join(name)
    }

    fn installed_binary(&self) -> PathBuf {
        self.install_root().join("bin").join(format!(
            "{}{}",
            self.krate,
            std::env::consts::EXE_SUFFIX
        ))
    }

    /// Whether `binary --version` names exactly the pinned version.
    fn reports_pinned_version(&self, binary: &Path) -> bool {
        Command::new(binary)
            .arg("--version")
            .output()
            .ok()
            .filter(|out| out.status.success())
            .map(|out| {
                let text = String::from_utf8_lossy(&out.stdout);
                text.split_whitespace()
                    .any(|word| word.trim_start_matches('v') == self.version)
            })
            .unwrap_or(false)
    }

    /// The folder holding the pinned binary, installing it first if needed:
    /// our own install, else one on `PATH` of the same version, else
    /// `cargo install --locked` into our own folder.
    pub fn ensure(&self) -> Result<PathBuf, String> {
        let ours = self.installed_binary();
        if self.reports_pinned_version(&ours) {
            return Ok(parent(&ours));
        }
        // A copy on PATH cannot tell which dependencies it was built with.
        if self.lock_overrides.is_empty()
            && let Some(on_path) = find_on_path(self.krate)
            && self.reports_pinned_version(&on_path)
        {
            return Ok(parent(&on_path));
        }
        eprintln!(
            "xtask: installing {} {} into {} (a one-time build of a few minutes)",
            self.krate,
            self.version,
            self.install_root().display()
        );
        let installed = if self.lock_overrides.is_empty() {
            run_cargo(
                Command::new(cargo())
                    .args(["install", "--locked", "--quiet", "--root"])
                    .arg(self.install_root())
                    .arg(format!("{}@{}", self.krate, self.version)),
            )
        } else {
            self.install_with_overrides()
        };
        if let Err(e) = installed {
            return Err(format!(
                "installing {}@{} failed: {e}",
                self.krate, self.version
            ));
        }
        if !self.reports_pinned_version(&ours) {
            return Err(format!(
                "cargo install {}@{} did not produce a working binary at {}",
                self.krate,
                self.version,
                ours.display()
            ));
        }
        Ok(parent(&ours))
    }
}

impl Tool {
    /// `cargo install --locked` from a copy of the tool's published source
    /// whose lock file has the overrides applied: `cargo fetch` brings the
    /// source into cargo's registry folder, the copy goes to a scratch
    /// folder outside any workspace, `cargo update --precise` raises each
    /// override, and `cargo install --path` builds it.
    fn install_with_overrides(&self) -> Result<(), String> {
        let name = format!("{}-{}", self.krate, self.version);
        let scratch = std::env::temp_dir()
            .join(format!("guide-tool-build-{name}-{}", std::process::id()));
        let result = self.build_in(&scratch, &name);
        let _ = std::fs::remove_dir_all(&scratch);
        result
    }

    fn build_in(&self, scratch: &Path, name: &str) -> Result<(), String> {
        let fetch = scratch.join("fetch");
        std::fs::create_dir_all(fetch.join("src"))
            .and_then(|()| std::fs::write(fetch.join("src/lib.rs"), ""))
            .and_then(|()| {
                std::fs::write(
                    fetch.join("Cargo.toml"),
                    format!(
                        "[package]\nname = \"fetch-tool-source\"\n\
                         version = \"0.0.0\"\nedition = \"2021\"\n\
                         publish = false\n\n[dependencies]\n\
                         {} = \"={}\"\n\n[workspace]\n",
                        self.krate, self.version
                    ),
                )
            })
            .map_err(|e| format!("cannot write {}: {e}", fetch.display()))?;
        run_cargo(
            Command::new(cargo())
                .args(["fetch", "--quiet", "--manifest-path"])
                .arg(fetch.join("Cargo.toml")),
        )?;
        let published = registry_source(name).ok_or_else(|| {
            format!("cargo fetch left no {name}/Cargo.lock in the registry")
        })?;
        let source = scratch.join(name);
        copy_dir(&published, &source).map_err(|e| {
            format!(
                "cannot copy {} to {}: {e}",
                published.display(),
                source.display()
            )
        })?;
        let manifest = source.join("Cargo.toml");
        for (krate, version) in self.lock_overrides {
            run_cargo(
                Command::new(cargo())
                    .args(["update", "--quiet", "--manifest-path"])
                    .arg(&manifest)
                    .args(["--package", krate, "--precise", version]),
            )?;
        }
        run_cargo(
            Command::new(cargo())
                .args(["install", "--locked", "--quiet", "--root"])
                .arg(self.install_root())
                .arg("--path")
                .arg(&source),
        )
    }
}

fn cargo() -> std::ffi::OsString {
    std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into())
}

fn run_cargo(command: &mut Command) -> Result<(), String> {
    let status = command
        .status()
        .map_err(|e| format!("could not run {command:?}: {e}"))?;
    if status.success() {
        Ok(())
    } else {
        Err(format!("{command:?} failed: {status}"))
    }
}

/// The unpacked source of `name` (`mdbook-0.5.4`) in cargo's registry.
fn registry_source(name: &str) -> Option<PathBuf> {
    let home =
        std::env::var_os("CARGO_HOME")
            .map(PathBuf::from)
            .or_else(|| {
                std::env::var_os("HOME")
                    .map(|h| PathBuf::from(h).join(".cargo"))
            })?;
    std::fs::read_dir(home.join("registry").join("src"))
        .ok()?
        .filter_map(|index| index.ok())
        .map(|index| index.path().join(name))
        .find(|dir| dir.join("Cargo.lock").is_file())
}

fn copy_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::create_dir_all(to)?;
    for entry in std::fs::read_dir(from)? {
        let entry = entry?;
        let target = to.join(entry.file_name());
        if entry.file_type()?.is_dir() {
            copy_dir(&entry.path(), &target)?;
        } else {
            std::fs::copy(entry.path(), &target)?;
        }
    }
    Ok(())
}

fn parent(path: &Path) -> PathBuf {
    path.parent().map(Path::to_path_buf).unwrap_or_default()
}

fn find_on_path(name: &str) -> Option<PathBuf> {
    let path = std::env::var_os("PATH")?;
    std::env::split_paths(&path)
        .map(|dir| dir.join(format!("{name}{}", std::env::consts::EXE_SUFFIX)))
        .find(|candidate| candidate.is_file())
}

/// Installs every pinned tool that is missing and returns a `PATH` value
/// with their folders in front, for running mdBook and its preprocessor.
pub fn ensure_all() -> Result<std::ffi::OsString, String> {
    let mut dirs = Vec::new();
    for tool in ALL {
        dirs.push(tool.ensure()?);
    }
    if let Some(path) = std::env::var_os("PATH") {
        dirs.extend(std::env::split_paths(&path));
    }
    std::env::join_paths(dirs).map_err(|e| format!("bad PATH entry: {e}"))
}
