//! aarch64 kernels. NEON is part of the aarch64 baseline, so they are chosen at compile time.

pub(super) mod neon;
