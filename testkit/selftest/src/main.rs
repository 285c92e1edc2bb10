//! Runs the self-test natively (or under qemu-user for a cross-compiled target) and exits
//! non-zero on any failure.

fn main() {
    let failures = stratavec_selftest::run();
    std::process::exit(i32::from(failures != 0));
}
