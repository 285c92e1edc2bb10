//! Replays every saved fuzz input (`core/tests/fuzz-regressions/<target>/`) through the function
//! its fuzz target calls; each must return normally.

use std::path::PathBuf;

fn replay(target: &str, run: fn(&[u8])) {
    let dir = PathBuf::from(env!("CARGO_MANIFEST_DIR"))
        .join("tests/fuzz-regressions")
        .join(target);
    let mut n = 0;
    for entry in std::fs::read_dir(&dir).unwrap_or_else(|e| panic!("{}: {e}", dir.display())) {
        let path = entry.unwrap().path();
        let data = std::fs::read(&path).unwrap();
        if std::panic::catch_unwind(|| run(&data)).is_err() {
            panic!("{} panicked", path.display());
        }
        n += 1;
    }
    assert!(n > 0, "no inputs in {}", dir.display());
}

#[test]
fn snapshot_inputs() {
    replay("snapshot", stratavec_testkit::fuzz::snapshot);
}

#[test]
fn wal_inputs() {
    replay("wal", stratavec_testkit::fuzz::wal);
}

#[test]
fn filter_inputs() {
    replay("filter", stratavec_testkit::fuzz::filter);
}
