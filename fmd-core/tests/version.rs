//! The version from a real git repository made in the test: loose ref, packed ref, detached HEAD.

use std::path::Path;
use std::process::Command;

use fmd_core::version::{git_commit, resolve};
use fmd_core::Config;

fn git(dir: &Path, args: &[&str]) -> String {
    let out = Command::new("git")
        .args([
            "-c",
            "user.name=t",
            "-c",
            "user.email=t@example.com",
            "-c",
            "init.defaultBranch=main",
        ])
        .args(args)
        .current_dir(dir)
        .output()
        .expect("git runs");
    assert!(
        out.status.success(),
        "git {args:?}: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

fn repo() -> (tempfile::TempDir, String) {
    let dir = tempfile::tempdir().unwrap();
    git(dir.path(), &["init", "-q"]);
    std::fs::write(dir.path().join("a.txt"), "a").unwrap();
    git(dir.path(), &["add", "a.txt"]);
    git(dir.path(), &["commit", "-q", "-m", "first"]);
    let head = git(dir.path(), &["rev-parse", "HEAD"]);
    (dir, head)
}

#[test]
fn loose_ref() {
    let (dir, head) = repo();
    assert!(dir.path().join(".git/refs/heads/main").exists());
    assert_eq!(git_commit(&dir.path().join(".git")).unwrap(), head);
}

#[test]
fn packed_ref() {
    let (dir, head) = repo();
    git(dir.path(), &["pack-refs", "--all", "--prune"]);
    assert!(!dir.path().join(".git/refs/heads/main").exists());
    assert_eq!(git_commit(&dir.path().join(".git")).unwrap(), head);
}

#[test]
fn detached_head() {
    let (dir, first) = repo();
    std::fs::write(dir.path().join("b.txt"), "b").unwrap();
    git(dir.path(), &["add", "b.txt"]);
    git(dir.path(), &["commit", "-q", "-m", "second"]);
    git(dir.path(), &["checkout", "-q", "--detach", &first]);
    assert_eq!(git_commit(&dir.path().join(".git")).unwrap(), first);
}

#[test]
fn config_git_wins_over_app_version_and_falls_back_when_unreadable() {
    let (dir, head) = repo();
    let config = Config::default()
        .app_version("1.2")
        .git(dir.path().join(".git"));
    assert_eq!(resolve(&config), head);
    let broken = Config::default()
        .app_version("1.2")
        .git(dir.path().join("missing"));
    assert_eq!(resolve(&broken), "1.2");
}
