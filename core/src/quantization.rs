//! Quantized codes of a collection's vectors: int8 scalar quantization (one byte per
//! component) and binary quantization (one bit per component).
//!
//! Key design decisions:
//! - **Codes rank, full precision decides.** A search ranks candidates by integer kernels over
//!   codes (4× less memory traffic than f32 for int8, 32× for binary), keeps
//!   `oversampling × k` of them, then rescores those against the stored full-precision
//!   vectors; returned scores are always exact.
//! - **Int8: one scale for all components, learnt from a quantile.** Every component `x` is
//!   stored as `round(clamp(x / scale, -127, 127))`. The scale is the `quantile` of `|x|` over
//!   (a sample of) the stored components, divided by 127: the rare outliers above it are
//!   clipped instead of stretching the grid for everyone. One shared scale keeps every metric's
//!   ranking exact in code space up to rounding (dot and distances scale by `scale²` or
//!   `scale`), so no per-dimension correction terms are needed in the kernels.
//! - **Binary: one bit per component, set where the component is above that dimension's
//!   mean.** Sentence embeddings are not centred (a few MiniLM dimensions sit far from zero
//!   in every vector); thresholding at zero would make those bits the same everywhere and
//!   waste them. The query is not reduced to bits: it keeps 4 bits per (centred) component,
//!   as four bit planes, and a row's score estimates the query's inner product with the
//!   row's ±1 components from popcounts of each plane against the code (the asymmetric
//!   estimator of RaBitQ-style methods; symmetric Hamming distance lost a quarter of recall@10
//!   on 384-d sentence embeddings at equal oversampling). Three numbers per row turn that
//!   into an estimate for any metric: with `x_c = x − centre` and `s = sign(x_c)`,
//!   `⟨q, x_c⟩ ≈ f · ⟨q, s⟩` where `f = |x_c|² / |x_c|₁` (exact when `q` is `x_c` itself), so
//!   dot products use `f · (⟨q_c, s⟩ + ⟨centre, s⟩)` and distances `|x_c|² − 2 f ⟨q_c, s⟩`.
//!   Binary ranks coarsely, so it wants more oversampling (default 10) and suits high
//!   dimensions best.
//! - **Codes live in memory next to the rows** and are kept current by every write. A file
//!   written by a quantized collection carries them (the `CODES` section, FORMAT.md), and
//!   opening it with the same quantization copies them in instead of reading every vector; a
//!   file without them (or with another quantizer's) has them learnt and computed on opening.
//!   Training reads rows through a callback, so a file whose vectors stay on disk (the `disk`
//!   tier) is read row by row without being mapped.

use std::borrow::Cow;

use crate::config::Metric;
use crate::distance::binary::{binary_kernels, KernelBits};
use crate::distance::int8::{int8_kernels, KernelI8};
use crate::error::{Error, Result};
use crate::index::hnsw::space::Space;
use crate::index::hnsw::{Allow, GraphRef};
use crate::line_vec::LineVec;
use crate::search::exact::Candidates;
use crate::search::quantized::scan_codes;
use crate::topk::Candidate;
use crate::vectors::{retain_rows, swap_remove_row};

/// How vectors are quantized for searching.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Quantization {
    /// One byte per component.
    Int8(Int8Params),
    /// One bit per component. For high-dimensional embeddings (hundreds of components, as
    /// sentence models produce): one bit per component around the global mean cannot tell
    /// apart neighbours inside a tight cluster of low-dimensional data (measured: recall@10
    /// 0.99 on 384-d sentence embeddings, 0.49 on a clustered 128-d set); use int8 there.
    Binary(BinaryParams),
}

impl Quantization {
    /// Int8 with the default settings.
    pub fn int8() -> Quantization {
        Quantization::Int8(Int8Params::default())
    }

    /// Binary with the default settings.
    pub fn binary() -> Quantization {
        Quantization::Binary(BinaryParams::default())
    }

    /// `int8` or `binary`.
    pub fn name(&self) -> &'static str {
        match self {
            Quantization::Int8(_) => "int8",
            Quantization::Binary(_) => "binary",
        }
    }

    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        match self {
            Quantization::Int8(p) => p.validate(),
            Quantization::Binary(p) => check_oversampling(p.oversampling),
        }
    }

    /// Candidates rescored with full precision per hit wanted.
    pub fn oversampling(&self) -> f32 {
        match self {
            Quantization::Int8(p) => p.oversampling,
            Quantization::Binary(p) => p.oversampling,
        }
    }

    /// How many candidates to rescore for `want` hits: `oversampling` (a request's, already
    /// checked) or the setting's per hit.
    pub(crate) fn candidates(&self, want: usize, oversampling: Option<f32>) -> usize {
        let per_hit = oversampling.unwrap_or_else(|| self.oversampling());
        ((want as f64) * f64::from(per_hit)).ceil() as usize
    }

    /// The settings as JSON: `{"type": "int8", "quantile": q, "oversampling": o}` or
    /// `{"type": "binary", "oversampling": o}`.
    pub fn to_json(&self) -> serde_json::Value {
        match self {
            Quantization::Int8(p) => serde_json::json!({
                "type": "int8", "quantile": p.quantile, "oversampling": p.oversampling,
            }),
            Quantization::Binary(p) => serde_json::json!({
                "type": "binary", "oversampling": p.oversampling,
            }),
        }
    }

    /// Reads settings written by [`Quantization::to_json`]; absent numbers take their
    /// defaults. The result is validated.
    pub fn from_json(v: &serde_json::Value) -> Result<Quantization> {
        let number = |name: &str, default: f32| -> Result<f32> {
            match v.get(name) {
                None => Ok(default),
                Some(x) => x.as_f64().map(|x| x as f32).ok_or_else(|| {
                    Error::InvalidArgument(format!("quantization {name:?} must be a number"))
                }),
            }
        };
        let q = match v.get("type").and_then(|t| t.as_str()) {
            Some("int8") => {
                let d = Int8Params::default();
                Quantization::Int8(Int8Params {
                    quantile: number("quantile", d.quantile)?,
                    oversampling: number("oversampling", d.oversampling)?,
                })
            }
            Some("binary") => Quantization::Binary(BinaryParams {
                oversampling: number("oversampling", BinaryParams::default().oversampling)?,
            }),
            other => {
                return Err(Error::InvalidArgument(format!(
                    "quantization type must be \"int8\" or \"binary\", got {other:?}"
                )))
            }
        };
        q.validate()?;
        Ok(q)
    }
}

pub(crate) fn check_oversampling(oversampling: f32) -> Result<()> {
    if !(1.0..=100.0).contains(&oversampling) {
        return Err(Error::InvalidArgument(format!(
            "oversampling must be between 1 and 100, got {oversampling}"
        )));
    }
    Ok(())
}

/// Int8 quantization settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Int8Params {
    /// The fraction of component magnitudes kept unclipped, in `[0.5, 1]` (default 0.999).
    pub quantile: f32,
    /// Candidates rescored with full precision per hit wanted, at least 1 (default 3).
    pub oversampling: f32,
}

impl Default for Int8Params {
    fn default() -> Self {
        Int8Params {
            quantile: 0.999,
            oversampling: 3.0,
        }
    }
}

impl Int8Params {
    /// Checks the settings.
    pub fn validate(&self) -> Result<()> {
        if !(0.5..=1.0).contains(&self.quantile) {
            return Err(Error::InvalidArgument(format!(
                "int8 quantile must be between 0.5 and 1, got {}",
                self.quantile
            )));
        }
        check_oversampling(self.oversampling)
    }
}

/// Binary quantization settings.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct BinaryParams {
    /// Candidates rescored with full precision per hit wanted, at least 1 (default 10).
    pub oversampling: f32,
}

impl Default for BinaryParams {
    fn default() -> Self {
        BinaryParams { oversampling: 10.0 }
    }
}

/// Components sampled to learn the int8 scale or the binary centre: enough for a stable 0.999 quantile.
const SAMPLE: usize = 1 << 20;

/// The int8 codes of a collection's rows.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Int8Codes {
    params: Int8Params,
    dim: usize,
    scale: f32,
    codes: LineVec<i8>,
}

impl Int8Codes {
    /// Learns the scale from rows `0..n` (read through `row`) and encodes them all.
    pub(crate) fn train(
        n: usize,
        dim: usize,
        params: Int8Params,
        row: RowReader<'_>,
    ) -> Result<Int8Codes> {
        params.validate()?;
        let step = (n * dim / SAMPLE).max(1);
        let mut mags: Vec<f32> = Vec::with_capacity((n * dim / step).min(SAMPLE) + 1);
        for r in (0..n).step_by(step) {
            mags.extend(row(r)?.iter().map(|x| x.abs()));
        }
        let scale = if mags.is_empty() {
            // Nothing to learn from: unit-range data (normalised vectors) is the common case.
            1.0 / 127.0
        } else {
            let at = ((mags.len() - 1) as f64 * f64::from(params.quantile)).round() as usize;
            let (_, clip, _) = mags.select_nth_unstable_by(at, f32::total_cmp);
            if *clip > 0.0 {
                *clip / 127.0
            } else {
                1.0 / 127.0
            }
        };
        let mut c = Int8Codes {
            params,
            dim,
            scale,
            codes: LineVec::with_capacity(n * dim),
        };
        for r in 0..n {
            c.push(&row(r)?);
        }
        Ok(c)
    }

    /// The scale: a component `x` is coded `round(x / scale)`, clamped to ±127.
    pub(crate) fn scale(&self) -> f32 {
        self.scale
    }

    /// Row `r`'s codes.
    #[inline(always)]
    pub(crate) fn row(&self, r: usize) -> &[i8] {
        &self.codes[r * self.dim..(r + 1) * self.dim]
    }

    /// Encodes a prepared (normalised under cosine) vector.
    pub(crate) fn encode(&self, v: &[f32]) -> Vec<i8> {
        v.iter().map(|&x| code(self.scale, x)).collect()
    }

    /// Appends the codes of a prepared vector.
    pub(crate) fn push(&mut self, v: &[f32]) {
        let scale = self.scale;
        self.codes.extend(v.iter().map(|&x| code(scale, x)));
    }

    /// Replaces row `i`'s codes.
    pub(crate) fn set(&mut self, i: usize, v: &[f32]) {
        let scale = self.scale;
        let row = &mut self.codes[i * self.dim..(i + 1) * self.dim];
        for (c, &x) in row.iter_mut().zip(v) {
            *c = code(scale, x);
        }
    }

    /// Moves the last row into row `i` and drops the last row.
    pub(crate) fn swap_remove(&mut self, i: usize) {
        swap_remove_row(&mut self.codes, self.dim, i);
    }

    /// Keeps the rows `keep` accepts, in order.
    pub(crate) fn retain_rows(&mut self, keep: impl Fn(usize) -> bool) {
        retain_rows(&mut self.codes, self.dim, keep);
    }

    /// The codes as a search space for `metric`.
    fn space(&self, metric: Metric) -> CodeSpace<'_> {
        CodeSpace {
            codes: &self.codes,
            dim: self.dim,
            kernel: int8_kernels().for_metric(metric),
            sign: if metric.higher_is_closer() { 1.0 } else { -1.0 },
        }
    }
}

/// The code of one component under `scale`.
#[inline]
fn code(scale: f32, x: f32) -> i8 {
    (x / scale).round().clamp(-127.0, 127.0) as i8
}

/// Int8 codes scored against an int8 query.
struct CodeSpace<'a> {
    codes: &'a [i8],
    dim: usize,
    kernel: KernelI8,
    sign: f32,
}

impl CodeSpace<'_> {
    #[inline(always)]
    fn row(&self, r: u32) -> &[i8] {
        let at = r as usize * self.dim;
        &self.codes[at..at + self.dim]
    }
}

impl Space for CodeSpace<'_> {
    type Query = [i8];

    fn len(&self) -> usize {
        self.codes.len() / self.dim
    }

    #[inline(always)]
    fn score(&self, q: &[i8], r: u32) -> f32 {
        self.sign * (self.kernel)(q, self.row(r)) as f32
    }

    #[inline(always)]
    fn prefetch(&self, r: u32) {
        // A code row is short: hint all of it (up to 8 lines), not just its head as for floats
        // (on wordnet, 384 bytes: the whole row gave int8 walks about a fifth more queries/s).
        let row: &[u8] = bytemuck::cast_slice(self.row(r));
        crate::distance::prefetch(row, 8);
    }

    fn row_query(&self, r: u32) -> std::borrow::Cow<'_, [i8]> {
        std::borrow::Cow::Borrowed(self.row(r))
    }
}

/// Int8 codes made only to build a graph faster: each new row's candidates are found by walking
/// over codes (a quarter of the memory traffic of f32 rows, exact integer kernels), then scored
/// again on the rows for the heuristic to choose from; the codes are dropped afterwards.
///
/// Key design decision: a walk only has to find candidates, the choice is made on exact scores.
/// On wordnet-minilm (2 threads) the build took 21 s instead of 31 s with the same recall curve;
/// choosing on the codes as well took 18 s but cost a clustered synthetic set up to 0.009 of
/// recall@10 (see ARCHITECTURE.md). One scale for all components cannot fit every data set, though (rows far from
/// the origin with small differences between them would all round to the same codes), so the
/// codes are used only when their error is small beside the distances between rows: on a
/// sample, the mean squared quantization error must stay below [`BUILD_CODES_MAX_ERROR`] of the
/// mean squared distance between sample rows. Otherwise the graph is linked over the rows.
pub(crate) struct BuildCodes(Int8Codes);

/// The largest mean squared int8 error, as a fraction of the mean squared distance between
/// rows, for which a graph is linked over codes (wordnet-minilm: about 1e-4; see
/// [`BuildCodes`]).
pub(crate) const BUILD_CODES_MAX_ERROR: f64 = 2e-3;

/// Rows sampled to judge the codes' error.
const BUILD_CODES_SAMPLE: usize = 512;

impl BuildCodes {
    /// Codes of rows `0..n` (read through `row`), or `None` when int8 would blur the rows
    /// beyond [`BUILD_CODES_MAX_ERROR`] (then link over the rows themselves).
    pub(crate) fn train(n: usize, dim: usize, row: RowReader<'_>) -> Result<Option<BuildCodes>> {
        if n < 2 {
            return Ok(None);
        }
        let codes = Int8Codes::train(n, dim, Int8Params::default(), row)?;
        let step = (n / BUILD_CODES_SAMPLE).max(1);
        let (mut error, mut spread, mut prev): (f64, f64, Option<Vec<f32>>) = (0.0, 0.0, None);
        for r in (0..n).step_by(step) {
            let x = row(r)?;
            let c = &codes.codes[r * dim..(r + 1) * dim];
            error += x
                .iter()
                .zip(c)
                .map(|(&x, &c)| (f64::from(x) - f64::from(c) * f64::from(codes.scale)).powi(2))
                .sum::<f64>();
            if let Some(p) = &prev {
                spread += x
                    .iter()
                    .zip(p)
                    .map(|(&a, &b)| f64::from(a - b).powi(2))
                    .sum::<f64>();
            }
            prev = Some(x.into_owned());
        }
        let samples = n.div_ceil(step) as f64;
        let (error, spread) = (error / samples, spread / (samples - 1.0));
        Ok((spread > 0.0 && error <= BUILD_CODES_MAX_ERROR * spread).then_some(BuildCodes(codes)))
    }

    /// Links `pending` rows of `graph`: candidates found by walking over the codes under
    /// `metric`, neighbours chosen by their scores in `rows`; as
    /// [`crate::index::hnsw::HnswGraph::link_rows_walking`].
    pub(crate) fn link<S: Space>(
        &self,
        graph: &mut crate::index::hnsw::HnswGraph,
        metric: Metric,
        rows: &S,
        pending: &[u32],
        progress: &mut dyn FnMut(usize) -> bool,
    ) -> bool {
        graph.link_rows_walking(&self.0.space(metric), rows, true, pending, progress)
    }
}

/// Words after a binary code that hold its three factors (see [`factor_words`]).
const FACTOR_WORDS: usize = 2;

/// A row's factors `f`, `|x_c|²`, `⟨centre, s⟩` packed into the words that follow its code, so
/// a row is read in one go (64 bytes for 384 dimensions: one cache line).
fn factor_words([f, norm2, centre_s]: [f32; 3]) -> [u64; FACTOR_WORDS] {
    [
        u64::from(f.to_bits()) | u64::from(norm2.to_bits()) << 32,
        u64::from(centre_s.to_bits()),
    ]
}

/// Unpacks [`factor_words`].
#[inline(always)]
fn factors_of(words: &[u64]) -> [f32; 3] {
    [
        f32::from_bits(words[0] as u32),
        f32::from_bits((words[0] >> 32) as u32),
        f32::from_bits(words[1] as u32),
    ]
}

/// Binary codes: bit `d` of a row is set where component `d` is above the centre's.
#[derive(Debug, Clone, PartialEq)]
struct BinaryCodes {
    params: BinaryParams,
    /// `u64` words of bits per row.
    words: usize,
    /// The per-dimension mean of the training rows.
    centre: Vec<f32>,
    /// Per row: `words` words of bits, then its factors (see [`factor_words`]).
    codes: LineVec<u64>,
}

impl BinaryCodes {
    /// Learns the centre from rows `0..n` (read through `row`) and encodes them all.
    fn train(
        n: usize,
        dim: usize,
        params: BinaryParams,
        row: RowReader<'_>,
    ) -> Result<BinaryCodes> {
        check_oversampling(params.oversampling)?;
        let step = (n * dim / SAMPLE).max(1);
        let mut sum = vec![0f64; dim];
        let mut sampled = 0usize;
        for r in (0..n).step_by(step) {
            for (s, &x) in sum.iter_mut().zip(row(r)?.iter()) {
                *s += f64::from(x);
            }
            sampled += 1;
        }
        let centre = sum
            .iter()
            .map(|&s| (s / sampled.max(1) as f64) as f32)
            .collect();
        let words = dim.div_ceil(64);
        let mut c = BinaryCodes {
            params,
            words,
            centre,
            codes: LineVec::with_capacity(n * (words + FACTOR_WORDS)),
        };
        for r in 0..n {
            c.push(&row(r)?);
        }
        Ok(c)
    }

    /// Words per row: bits, then factors.
    fn stride(&self) -> usize {
        self.words + FACTOR_WORDS
    }

    /// Appends the row of `v` (bits, then factors) to `out`.
    fn encode_into(&self, v: &[f32], out: &mut impl Extend<u64>) {
        let (mut norm2, mut norm1, mut centre_s) = (0f64, 0f64, 0f64);
        for (chunk, centre) in v.chunks(64).zip(self.centre.chunks(64)) {
            let mut word = 0u64;
            for (bit, (&x, &c)) in chunk.iter().zip(centre).enumerate() {
                let xc = f64::from(x) - f64::from(c);
                word |= u64::from(xc > 0.0) << bit;
                norm2 += xc * xc;
                norm1 += xc.abs();
                centre_s += if xc > 0.0 {
                    f64::from(c)
                } else {
                    -f64::from(c)
                };
            }
            out.extend([word]);
        }
        let f = if norm1 > 0.0 { norm2 / norm1 } else { 0.0 };
        out.extend(factor_words([f as f32, norm2 as f32, centre_s as f32]));
    }

    /// The query form of the prepared vector `q`: its centred components on a 16-step grid
    /// from their minimum, as four bit planes per code word.
    fn encode_query(&self, q: &[f32]) -> BitQuery {
        let centred: Vec<f32> = q.iter().zip(&self.centre).map(|(x, c)| x - c).collect();
        let low = centred.iter().copied().fold(f32::INFINITY, f32::min);
        let high = centred.iter().copied().fold(f32::NEG_INFINITY, f32::max);
        let (low, step) = if low.is_finite() && high > low {
            (low, (high - low) / 15.0)
        } else {
            (0.0, 1.0)
        };
        let mut planes = vec![0u64; 4 * self.words];
        let mut levels = 0f32;
        for (d, &x) in centred.iter().enumerate() {
            let level = ((x - low) / step).round().clamp(0.0, 15.0) as u64;
            levels += level as f32;
            for (j, plane) in planes[4 * (d / 64)..4 * (d / 64) + 4]
                .iter_mut()
                .enumerate()
            {
                *plane |= ((level >> j) & 1) << (d % 64);
            }
        }
        BitQuery {
            planes,
            low,
            step,
            offset: low * centred.len() as f32 + step * levels,
        }
    }

    fn push(&mut self, v: &[f32]) {
        let mut codes = std::mem::take(&mut self.codes);
        codes.reserve(self.words + FACTOR_WORDS);
        self.encode_into(v, &mut codes);
        self.codes = codes;
    }

    fn set(&mut self, i: usize, v: &[f32]) {
        let stride = self.stride();
        let mut row = Vec::with_capacity(stride);
        self.encode_into(v, &mut row);
        self.codes[i * stride..(i + 1) * stride].copy_from_slice(&row);
    }

    fn space(&self, metric: Metric) -> BitSpace<'_> {
        BitSpace {
            codes: &self.codes,
            words: self.words,
            stride: self.stride(),
            distance: !metric.higher_is_closer(),
            dim: self.centre.len(),
            kernel: binary_kernels().planes,
        }
    }
}

/// A query against binary codes (see [`BinaryCodes::encode_query`]): centred component `d`
/// is about `low + step · level_d`, with `level_d`'s bits in the planes.
#[derive(Debug, Clone)]
pub(crate) struct BitQuery {
    planes: Vec<u64>,
    low: f32,
    step: f32,
    /// `low · D + step · Σ level_d`.
    offset: f32,
}

/// Binary codes scored against a query. The kernel's counts give the centred query's inner
/// product with a row's ±1 components,
/// `⟨q_c, s⟩ = 2 (low · bits + step · weighted) − offset`, and the row's factors turn it into
/// the metric's estimate (see the module).
struct BitSpace<'a> {
    codes: &'a [u64],
    words: usize,
    /// Words per row: `words` of bits, then the factors.
    stride: usize,
    /// Whether the metric is a distance (rank by `2 f ⟨q_c, s⟩ − |x_c|²`) rather than a
    /// similarity (rank by `f (⟨q_c, s⟩ + ⟨centre, s⟩)`).
    distance: bool,
    /// The dimension.
    dim: usize,
    kernel: KernelBits,
}

impl BitSpace<'_> {
    #[inline(always)]
    fn row(&self, r: u32) -> &[u64] {
        let at = r as usize * self.stride;
        &self.codes[at..at + self.words]
    }

    #[inline(always)]
    fn factors(&self, r: u32) -> [f32; 3] {
        let at = r as usize * self.stride + self.words;
        factors_of(&self.codes[at..at + FACTOR_WORDS])
    }
}

impl Space for BitSpace<'_> {
    type Query = BitQuery;

    fn len(&self) -> usize {
        self.codes.len() / self.stride
    }

    #[inline(always)]
    fn score(&self, q: &BitQuery, r: u32) -> f32 {
        let (weighted, bits) = (self.kernel)(&q.planes, self.row(r));
        let qs = 2.0 * (q.low * bits as f32 + q.step * weighted as f32) - q.offset;
        let [f, norm2, centre_s] = self.factors(r);
        if self.distance {
            2.0 * f * qs - norm2
        } else {
            f * (qs + centre_s)
        }
    }

    #[inline(always)]
    fn prefetch(&self, r: u32) {
        // The whole row, bits and factors (up to 8 lines).
        let at = r as usize * self.stride;
        let row: &[u8] = bytemuck::cast_slice(&self.codes[at..at + self.stride]);
        crate::distance::prefetch(row, 8);
    }

    /// Row `r` as a query: its estimate `f · s` as centred components, levels 0 and 1 from
    /// `-f` in steps of `2f`.
    fn row_query(&self, r: u32) -> Cow<'_, BitQuery> {
        let mut planes = vec![0u64; 4 * self.words];
        let mut bits = 0;
        for (i, &w) in self.row(r).iter().enumerate() {
            planes[4 * i] = w;
            bits += w.count_ones();
        }
        let [f, ..] = self.factors(r);
        let dim = self.dim;
        Cow::Owned(BitQuery {
            planes,
            low: -f,
            step: 2.0 * f,
            offset: -f * dim as f32 + 2.0 * f * bits as f32,
        })
    }
}

/// Reads row `r` of the rows being quantized, widened to f32 and prepared for the metric.
pub(crate) type RowReader<'a> = &'a dyn Fn(usize) -> Result<Cow<'a, [f32]>>;

/// The quantized codes of a collection's rows, in row order, kept current by every write.
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Codes(Kind);

#[derive(Debug, Clone, PartialEq)]
enum Kind {
    Int8(Int8Codes),
    Binary(BinaryCodes),
}

impl Codes {
    /// Learns the quantizer from rows `0..n` (read through `row`) and encodes them all.
    pub(crate) fn train(
        n: usize,
        dim: usize,
        quantization: Quantization,
        row: RowReader<'_>,
    ) -> Result<Codes> {
        Ok(Codes(match quantization {
            Quantization::Int8(p) => Kind::Int8(Int8Codes::train(n, dim, p, row)?),
            Quantization::Binary(p) => Kind::Binary(BinaryCodes::train(n, dim, p, row)?),
        }))
    }

    /// The settings the codes were made with.
    pub(crate) fn quantization(&self) -> Quantization {
        match &self.0 {
            Kind::Int8(c) => Quantization::Int8(c.params),
            Kind::Binary(c) => Quantization::Binary(c.params),
        }
    }

    /// Appends the codes of a prepared (normalised under cosine) vector.
    pub(crate) fn push(&mut self, v: &[f32]) {
        match &mut self.0 {
            Kind::Int8(c) => c.push(v),
            Kind::Binary(c) => c.push(v),
        }
    }

    /// Replaces row `i`'s codes.
    pub(crate) fn set(&mut self, i: usize, v: &[f32]) {
        match &mut self.0 {
            Kind::Int8(c) => c.set(i, v),
            Kind::Binary(c) => c.set(i, v),
        }
    }

    /// Moves the last row into row `i` and drops the last row.
    pub(crate) fn swap_remove(&mut self, i: usize) {
        match &mut self.0 {
            Kind::Int8(c) => c.swap_remove(i),
            Kind::Binary(c) => {
                let stride = c.stride();
                swap_remove_row(&mut c.codes, stride, i);
            }
        }
    }

    /// Keeps the rows `keep` accepts, in order.
    pub(crate) fn retain_rows(&mut self, keep: impl Fn(usize) -> bool) {
        match &mut self.0 {
            Kind::Int8(c) => c.retain_rows(keep),
            Kind::Binary(c) => {
                let stride = c.stride();
                retain_rows(&mut c.codes, stride, keep);
            }
        }
    }

    /// The `pool` best rows by code score for the prepared query `q`, found by walking `graph`
    /// over the codes with beam width `ef`; best first. With `subset`, the graph is over those
    /// rows only, numbered in that order (a value graph), and so are `allow` and the result.
    #[allow(clippy::too_many_arguments)]
    pub(crate) fn walk(
        &self,
        graph: &GraphRef<'_>,
        metric: Metric,
        q: &[f32],
        pool: usize,
        ef: usize,
        allow: Allow<'_>,
        subset: Option<&[u32]>,
    ) -> Vec<Candidate> {
        match &self.0 {
            Kind::Int8(c) => {
                graph.search_subset(&c.space(metric), subset, &c.encode(q), pool, ef, allow)
            }
            Kind::Binary(c) => graph.search_subset(
                &c.space(metric),
                subset,
                &c.encode_query(q),
                pool,
                ef,
                allow,
            ),
        }
    }

    /// The `cap` best of `cands` by code score for the prepared query `q`, best first.
    pub(crate) fn scan(
        &self,
        metric: Metric,
        q: &[f32],
        cands: Candidates<'_>,
        cap: usize,
    ) -> Vec<Candidate> {
        match &self.0 {
            Kind::Int8(c) => scan_codes(&c.space(metric), &c.encode(q), cands, cap),
            Kind::Binary(c) => scan_codes(&c.space(metric), &c.encode_query(q), cands, cap),
        }
    }
}

/// Bytes of the `CODES` section's header (FORMAT.md).
const SECTION_HEADER: usize = 64;
/// `CODES` section types.
const SECTION_INT8: u32 = 1;
const SECTION_BINARY: u32 = 2;

/// Fills a buffer with the given byte range of a `CODES` section (see [`Codes::from_section`]).
pub(crate) type SectionReader<'a> = &'a dyn Fn(std::ops::Range<usize>, &mut [u8]) -> Result<()>;

/// A `CODES` section to write: its header (and a binary quantizer's centre), then one slice
/// per row.
pub(crate) struct CodesOut<'a> {
    pub(crate) head: Vec<u8>,
    pub(crate) rows: Vec<&'a [u8]>,
}

/// A `CODES` section's header fields (FORMAT.md).
struct SectionHeader {
    kind: u32,
    dim: usize,
    n: usize,
    row_bytes: usize,
    quantile: f32,
    scale: f32,
    rows_at: usize,
    /// Bytes 40..64, zero in version 1.2.
    reserved_zero: bool,
}

impl SectionHeader {
    fn parse(bytes: &[u8]) -> Option<SectionHeader> {
        let head = bytes.get(..SECTION_HEADER)?;
        let u32_at = |at: usize| u32::from_le_bytes(head[at..at + 4].try_into().expect("4 bytes"));
        let u64_at = |at: usize| u64::from_le_bytes(head[at..at + 8].try_into().expect("8 bytes"));
        let size = |at: usize| usize::try_from(u64_at(at)).unwrap_or(usize::MAX);
        Some(SectionHeader {
            kind: u32_at(0),
            dim: u32_at(4) as usize,
            n: size(8),
            row_bytes: size(16),
            quantile: f32::from_bits(u32_at(24)),
            scale: f32::from_bits(u32_at(28)),
            rows_at: size(32),
            reserved_zero: head[40..].iter().all(|&b| b == 0),
        })
    }

    /// The row width and where rows start, for codes of `kind` in `dim` dimensions.
    fn layout(kind: u32, dim: usize) -> (usize, usize) {
        match kind {
            SECTION_INT8 => (dim, SECTION_HEADER),
            _ => (
                8 * (dim.div_ceil(64) + FACTOR_WORDS),
                SECTION_HEADER + (4 * dim).next_multiple_of(64),
            ),
        }
    }

    /// Whether this build reads these codes (a kind it knows, reserved bytes zero); otherwise
    /// the section is ignored and codes are learnt from the vectors.
    fn known(&self) -> bool {
        matches!(self.kind, SECTION_INT8 | SECTION_BINARY) && self.reserved_zero
    }
}

/// Checks a `CODES` section's structure against its segment's `n` rows of dimension `dim`
/// (cheap: the header and a binary centre, never the rows). A section of a kind this build
/// does not know is accepted and ignored.
pub(crate) fn check_section(bytes: &[u8], n: usize, dim: usize) -> Result<()> {
    let bad = |reason: String| Err(Error::corrupt("segment section CODES", reason));
    let Some(h) = SectionHeader::parse(bytes) else {
        return bad(format!(
            "{} bytes, shorter than its {SECTION_HEADER}-byte header",
            bytes.len()
        ));
    };
    if !h.known() {
        return Ok(());
    }
    if h.dim != dim || h.n != n {
        return bad(format!(
            "codes for {} rows of dimension {} in a segment of {n} rows of dimension {dim}",
            h.n, h.dim
        ));
    }
    let (row_bytes, rows_at) = SectionHeader::layout(h.kind, dim);
    if h.row_bytes != row_bytes || h.rows_at != rows_at {
        return bad(format!(
            "rows of {} bytes from byte {} where the codes need {row_bytes} from {rows_at}",
            h.row_bytes, h.rows_at
        ));
    }
    match n
        .checked_mul(row_bytes)
        .and_then(|b| b.checked_add(rows_at))
    {
        Some(len) if len == bytes.len() => {}
        _ => {
            return bad(format!(
                "{} bytes where {n} rows of {row_bytes} bytes from byte {rows_at} need {}",
                bytes.len(),
                n.saturating_mul(row_bytes).saturating_add(rows_at)
            ))
        }
    }
    if h.kind == SECTION_INT8 {
        if !(0.5..=1.0).contains(&h.quantile) {
            return bad(format!("int8 quantile {} is outside 0.5..=1", h.quantile));
        }
        if !(h.scale.is_finite() && h.scale > 0.0) {
            return bad(format!("int8 scale {} is not a positive number", h.scale));
        }
    } else {
        let centre: &[u8] = &bytes[SECTION_HEADER..SECTION_HEADER + 4 * dim];
        if let Some(d) = centre
            .chunks_exact(4)
            .position(|c| !f32::from_le_bytes(c.try_into().expect("4 bytes")).is_finite())
        {
            return bad(format!(
                "binary centre component {d} is not a finite number"
            ));
        }
    }
    Ok(())
}

impl Codes {
    /// The `CODES` section of these codes for rows `rows`, in that order (FORMAT.md).
    pub(crate) fn section(&self, rows: impl Iterator<Item = usize>) -> CodesOut<'_> {
        let (kind, dim, quantile, scale) = match &self.0 {
            Kind::Int8(c) => (SECTION_INT8, c.dim, c.params.quantile, c.scale),
            Kind::Binary(c) => (SECTION_BINARY, c.centre.len(), 0.0, 0.0),
        };
        let (row_bytes, rows_at) = SectionHeader::layout(kind, dim);
        let rows: Vec<&[u8]> = match &self.0 {
            Kind::Int8(c) => rows
                .map(|r| bytemuck::cast_slice(&c.codes[r * dim..(r + 1) * dim]))
                .collect(),
            Kind::Binary(c) => {
                let stride = c.stride();
                rows.map(|r| bytemuck::cast_slice(&c.codes[r * stride..(r + 1) * stride]))
                    .collect()
            }
        };
        let mut head = Vec::with_capacity(rows_at);
        head.extend(kind.to_le_bytes());
        head.extend((dim as u32).to_le_bytes());
        head.extend((rows.len() as u64).to_le_bytes());
        head.extend((row_bytes as u64).to_le_bytes());
        head.extend(quantile.to_bits().to_le_bytes());
        head.extend(scale.to_bits().to_le_bytes());
        head.extend((rows_at as u64).to_le_bytes());
        head.resize(SECTION_HEADER, 0);
        if let Kind::Binary(c) = &self.0 {
            head.extend(c.centre.iter().flat_map(|x| x.to_bits().to_le_bytes()));
        }
        head.resize(rows_at, 0);
        CodesOut { head, rows }
    }

    /// The codes a `CODES` section holds (checked by [`check_section`]) when they are what
    /// `quantization` makes: the same kind and, for int8, the same quantile (the oversampling
    /// is a search setting, taken from `quantization`). `Ok(None)` otherwise: the caller learns
    /// them from the vectors. The header (and a binary centre) is read from `section`; the rows
    /// are filled by `read(range of the section, buffer)`, so the `disk` tier can read them
    /// from the file without touching its map (which would count them twice in its memory).
    pub(crate) fn from_section(
        section: &[u8],
        quantization: Quantization,
        read: SectionReader<'_>,
    ) -> Result<Option<Codes>> {
        let Some(h) = SectionHeader::parse(section).filter(SectionHeader::known) else {
            return Ok(None);
        };
        let rows = h.rows_at..section.len();
        Ok(match (h.kind, quantization) {
            (SECTION_INT8, Quantization::Int8(params)) if h.quantile == params.quantile => {
                let mut codes = LineVec::zeroed(rows.len());
                read(rows, bytemuck::cast_slice_mut::<i8, u8>(&mut codes))?;
                Some(Codes(Kind::Int8(Int8Codes {
                    params,
                    dim: h.dim,
                    scale: h.scale,
                    codes,
                })))
            }
            (SECTION_BINARY, Quantization::Binary(params)) => {
                let centre = section[SECTION_HEADER..SECTION_HEADER + 4 * h.dim]
                    .chunks_exact(4)
                    .map(|c| f32::from_le_bytes(c.try_into().expect("4 bytes")))
                    .collect();
                let mut codes = LineVec::zeroed(rows.len() / 8);
                read(rows, bytemuck::cast_slice_mut::<u64, u8>(&mut codes))?;
                Some(Codes(Kind::Binary(BinaryCodes {
                    params,
                    words: h.dim.div_ceil(64),
                    centre,
                    codes,
                })))
            }
            _ => None,
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use stratavec_testkit::Rng;

    /// [`Codes::from_section`] over a section held in memory.
    fn from_bytes(bytes: &[u8], q: Quantization) -> Option<Codes> {
        Codes::from_section(bytes, q, &|r, buf| {
            buf.copy_from_slice(&bytes[r]);
            Ok(())
        })
        .unwrap()
    }

    /// Codes of `n` random rows of dimension `dim`, and the section that writes them.
    fn coded(q: Quantization, n: usize, dim: usize) -> (Codes, Vec<u8>) {
        let rows = Rng::new(5).vectors(n, dim);
        let codes = Codes::train(n, dim, q, &|r| {
            Ok(Cow::Borrowed(&rows[r * dim..(r + 1) * dim]))
        })
        .unwrap();
        let out = codes.section(0..n);
        let mut bytes = out.head.clone();
        out.rows.iter().for_each(|r| bytes.extend_from_slice(r));
        (codes, bytes)
    }

    #[test]
    fn codes_come_back_from_their_section_for_the_same_quantizer_only() {
        let int8 = Quantization::int8();
        let binary = Quantization::binary();
        for (dim, n) in [(1, 3), (12, 40), (64, 9), (130, 17), (12, 0)] {
            for q in [int8, binary] {
                let (codes, bytes) = coded(q, n, dim);
                check_section(&bytes, n, dim).unwrap();
                assert_eq!(from_bytes(&bytes, q).as_ref(), Some(&codes));
                // The oversampling is the opener's; the codes are the same.
                let wider = match q {
                    Quantization::Int8(p) => Quantization::Int8(Int8Params {
                        oversampling: 7.0,
                        ..p
                    }),
                    Quantization::Binary(_) => {
                        Quantization::Binary(BinaryParams { oversampling: 7.0 })
                    }
                };
                let read = from_bytes(&bytes, wider).unwrap();
                assert_eq!(read.quantization(), wider);
                // Another kind of codes, or int8 clipped at another quantile, are learnt anew.
                let other = if q == int8 { binary } else { int8 };
                assert!(from_bytes(&bytes, other).is_none());
                let clipped = Quantization::Int8(Int8Params {
                    quantile: 0.99,
                    ..Int8Params::default()
                });
                assert!(from_bytes(&bytes, clipped).is_none());
            }
        }
        // Rows written in another order come back in that order.
        let (codes, _) = coded(int8, 5, 8);
        let out = codes.section([4, 0, 2].into_iter());
        let mut bytes = out.head.clone();
        out.rows.iter().for_each(|r| bytes.extend_from_slice(r));
        check_section(&bytes, 3, 8).unwrap();
        let Kind::Int8(c) = from_bytes(&bytes, int8).unwrap().0 else {
            panic!("int8 codes expected")
        };
        let Kind::Int8(orig) = codes.0 else { panic!() };
        assert_eq!(&c.codes[..8], &orig.codes[32..40]);
        assert_eq!(&c.codes[16..24], &orig.codes[16..24]);
    }

    #[test]
    fn malformed_code_sections_are_refused_and_unknown_ones_ignored() {
        let (dim, n) = (70, 6);
        for q in [Quantization::int8(), Quantization::binary()] {
            let (_, good) = coded(q, n, dim);
            let int8 = q == Quantization::int8();
            let put = |at: usize, v: &[u8]| {
                let mut b = good.clone();
                b[at..at + v.len()].copy_from_slice(v);
                b
            };
            let mut cases: Vec<(&str, Vec<u8>)> = vec![
                ("shorter than the header", good[..40].to_vec()),
                ("another dimension", put(4, &71u32.to_le_bytes())),
                ("another row count", put(8, &7u64.to_le_bytes())),
                ("another row width", put(16, &64u64.to_le_bytes())),
                ("rows elsewhere", put(32, &128u64.to_le_bytes())),
                ("a row cut short", good[..good.len() - 1].to_vec()),
                (
                    "a row too many",
                    [&good[..], &good[good.len() - 70..]].concat(),
                ),
            ];
            if int8 {
                cases.push(("quantile out of range", put(24, &0.2f32.to_le_bytes())));
                cases.push(("scale not a number", put(28, &f32::NAN.to_le_bytes())));
                cases.push(("scale zero", put(28, &0f32.to_le_bytes())));
            } else {
                cases.push((
                    "centre not finite",
                    put(64 + 4 * 3, &f32::INFINITY.to_le_bytes()),
                ));
            }
            for (what, bytes) in cases {
                match check_section(&bytes, n, dim) {
                    Err(Error::Corrupt { what: w, reason }) => {
                        assert!(w.contains("CODES"), "{what}: blamed {w}: {reason}")
                    }
                    other => panic!("{what}: {other:?}"),
                }
            }
            // A kind this build does not know, or a reserved byte set (a newer minor version's
            // field), is accepted and ignored: the codes are then learnt from the vectors.
            for ignored in [put(0, &3u32.to_le_bytes()), put(50, &[1])] {
                check_section(&ignored, n, dim).unwrap();
                assert!(from_bytes(&ignored, q).is_none());
            }
        }
    }
}
