//! x86_64 kernels, chosen at run time by [`super::Kernels::for_level`].

pub(super) mod avx2;
pub(super) mod avx512;
