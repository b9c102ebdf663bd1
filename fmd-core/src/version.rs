//! The application version requests are recorded under: `app_version`, or with `git` set, the
//! commit checked out in that git directory.

use std::fs;
use std::path::{Path, PathBuf};

use crate::Config;

/// The version for this process: the git commit when `git` is configured and readable, else
/// `app_version` (with a warning when `git` was set but could not be read).
pub fn resolve(config: &Config) -> String {
    let Some(dir) = config.git_dir() else {
        return config.app_version.clone();
    };
    match git_commit(&dir) {
        Ok(commit) => commit,
        Err(why) => {
            crate::warn(&format!(
                "cannot read the version from git directory {}: {why}; using app_version {:?}",
                dir.display(),
                config.app_version
            ));
            config.app_version.clone()
        }
    }
}

/// The commit checked out in `git_dir` (a `.git` directory, or a `.git` file pointing at one):
/// HEAD, then the ref it names as a loose ref or in `packed-refs`; a detached HEAD is the commit.
///
/// ```no_run
/// let commit = fmd_core::version::git_commit(std::path::Path::new(".git")).unwrap();
/// assert_eq!(commit.len(), 40);
/// ```
pub fn git_commit(git_dir: &Path) -> Result<String, String> {
    let git_dir = resolve_gitdir_file(git_dir)?;
    let head = read(&git_dir.join("HEAD"))?;
    let head = head.trim();
    let Some(reference) = head.strip_prefix("ref:") else {
        return commit_id(head);
    };
    let reference = reference.trim();
    // Worktrees keep refs in the common directory.
    let common = match fs::read_to_string(git_dir.join("commondir")) {
        Ok(rel) => git_dir.join(rel.trim()),
        Err(_) => git_dir.clone(),
    };
    for dir in [&git_dir, &common] {
        if let Ok(loose) = fs::read_to_string(dir.join(reference)) {
            return commit_id(loose.trim());
        }
    }
    let packed = read(&common.join("packed-refs")).map_err(|_| {
        format!("HEAD names {reference}, which is neither a loose nor a packed ref")
    })?;
    packed
        .lines()
        .filter(|l| !l.starts_with('#') && !l.starts_with('^'))
        .find_map(|l| {
            let (id, name) = l.split_once(' ')?;
            (name.trim() == reference).then(|| id.to_owned())
        })
        .ok_or_else(|| format!("HEAD names {reference}, which is not in packed-refs"))
        .and_then(|id| commit_id(&id))
}

fn resolve_gitdir_file(path: &Path) -> Result<PathBuf, String> {
    if path.is_file() {
        let text = read(path)?;
        let target = text
            .trim()
            .strip_prefix("gitdir:")
            .ok_or_else(|| format!("{} is a file but not a `gitdir:` pointer", path.display()))?
            .trim();
        let target = Path::new(target);
        return Ok(match path.parent() {
            Some(parent) if target.is_relative() => parent.join(target),
            _ => target.to_owned(),
        });
    }
    Ok(path.to_owned())
}

fn read(path: &Path) -> Result<String, String> {
    fs::read_to_string(path).map_err(|e| format!("cannot read {}: {e}", path.display()))
}

fn commit_id(s: &str) -> Result<String, String> {
    let ok = (s.len() == 40 || s.len() == 64) && s.bytes().all(|b| b.is_ascii_hexdigit());
    if ok {
        Ok(s.to_ascii_lowercase())
    } else {
        Err(format!("{s:?} is not a commit id"))
    }
}
