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
}

/// mdBook itself.
pub const MDBOOK: Tool = Tool {
    krate: "mdbook",
    version: "0.5.4",
};

/// The Mermaid preprocessor; 0.17.1 is the first release whose theme
/// handling works with mdBook 0.5.
pub const MDBOOK_MERMAID: Tool = Tool {
    krate: "mdbook-mermaid",
    version: "0.17.1",
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
    fn install_root(&self) -> PathBuf {
        tools_root().join(format!("{}-{}", self.krate, self.version))
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
        if let Some(on_path) = find_on_path(self.krate)
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
        let cargo = std::env::var_os("CARGO").unwrap_or_else(|| "cargo".into());
        let status = Command::new(cargo)
            .args(["install", "--locked", "--quiet", "--root"])
            .arg(self.install_root())
            .arg(format!("{}@{}", self.krate, self.version))
            .status()
            .map_err(|e| format!("could not run cargo install: {e}"))?;
        if !status.success() || !self.reports_pinned_version(&ours) {
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
