//! A copy-detection signature of an image: 576 floats, compared by cosine,
//! that stays close for a resized, centre-cropped, re-encoded or re-lit copy
//! of the same picture, and tells apart different pictures of the same kind
//! (where a global CNN embedding does not). docs/SIMILARITY-SIGNATURE.md has
//! the method, why each part is there and what it measured; in short:
//!
//! 1. Planes: luma Y, and for colour images the chroma Cb and Cr (BT.601,
//!    without the +128 offset), as f64 on 0..255.
//! 2. Each plane resized to 96 x 96 with a tent kernel ([`tent`], the whole
//!    frame, aspect not kept); a fourth plane |d/dx| of that luma.
//! 3. Each 96 x 96 plane reduced to 12 x 12 by a "zoom stack": the tent
//!    pooling of centred crops of 50 sizes (0.248 to 0.845 of the side),
//!    averaged with Gaussian weights in the log of the size. A copy cropped
//!    to 90% is a zoom of 1/0.9, which moves that window by a third of its
//!    width only. One fixed 144 x 9216 matrix ([`zoom_matrix`], built once).
//! 4. Each 144-value block centred; the signature is
//!    [L/|L|, 0.5 G/|G|, Cb/|L|, Cr/|L|], L2-normalised (blocks under 1e-6
//!    in norm are zero; a grey image has zero chroma blocks, so its RGB
//!    copy gets the same signature; a flat image gets all zeros).

use std::sync::OnceLock;

use crate::errors::{Result, SparkdlError};

/// Values in one signature.
pub const SIGNATURE_LEN: usize = 4 * BLOCK;

/// The working resolution of the planes.
const WORK: usize = 96;
/// The side of each pooled block.
const GRID: usize = 12;
const BLOCK: usize = GRID * GRID;
/// Weight of the |d/dx| block against the luma block.
const GRADIENT_WEIGHT: f64 = 0.5;
/// Crop sizes of the zoom stack: 0.5 e^(0.025 j) for j in -28..=21, weights
/// exp(-(0.025 j)^2 / (2 0.35^2)).
const ZOOM_STEPS: std::ops::RangeInclusive<i32> = -28..=21;
const ZOOM_STEP: f64 = 0.025;
const ZOOM_CENTRE: f64 = 0.5;
const ZOOM_SIGMA: f64 = 0.35;
/// A block whose norm is below this is taken as zero (a flat plane).
const FLAT: f64 = 1e-6;

/// Per bin of a resampling, its first sample and the weights from there.
type Tent = Vec<(usize, Vec<f64>)>;

/// The tent-kernel resampling of `m` samples to `n` bins over the central
/// fraction `s` of the line: bin `k` has its centre at m(1-s)/2 + (k+0.5)
/// m s/n and half-width max(1.5 m s/n, 1); sample `i` sits at i + 0.5 and
/// weighs 1 - |i + 0.5 - centre| / half-width (at least 0); each bin's
/// weights sum to 1. Returned sparse: per bin, its first sample and weights.
fn tent(m: usize, n: usize, s: f64) -> Tent {
    let step = m as f64 * s / n as f64;
    let half = (1.5 * step).max(1.0);
    (0..n)
        .map(|k| {
            let centre = m as f64 * (1.0 - s) / 2.0 + (k as f64 + 0.5) * step;
            let first = (centre - half - 0.5).floor().max(0.0) as usize;
            let last = ((centre + half - 0.5).ceil() as usize).min(m - 1);
            let mut weights: Vec<f64> =
                (first..=last).map(|i| (1.0 - (i as f64 + 0.5 - centre).abs() / half).max(0.0)).collect();
            let sum: f64 = weights.iter().sum();
            weights.iter_mut().for_each(|w| *w /= sum);
            (first, weights)
        })
        .collect()
}

/// One row of the zoom matrix: its non-zero rectangle of the 96 x 96 plane
/// (rows `top..top + height`, columns `left..left + width`) and the weights
/// there, row-major.
struct ZoomRow {
    top: usize,
    left: usize,
    width: usize,
    weights: Vec<f64>,
}

/// Z = sum_j w_j (A_j ⊗ A_j) / sum_j w_j, 144 x 9216: the zoom stack of a
/// 96 x 96 plane (row-major) as one matrix-vector product. Built once; each
/// row kept as its non-zero rectangle (about a quarter of the plane).
fn zoom_matrix() -> &'static [ZoomRow] {
    static MATRIX: OnceLock<Vec<ZoomRow>> = OnceLock::new();
    MATRIX.get_or_init(|| {
        let mut z = vec![0f64; BLOCK * WORK * WORK];
        let mut total = 0f64;
        for j in ZOOM_STEPS {
            let u = ZOOM_STEP * j as f64;
            let w = (-u * u / (2.0 * ZOOM_SIGMA * ZOOM_SIGMA)).exp();
            total += w;
            let a = tent(WORK, GRID, ZOOM_CENTRE * u.exp());
            for (ra, (r0, rw)) in a.iter().enumerate() {
                for (ca, (c0, cw)) in a.iter().enumerate() {
                    let row = &mut z[(ra * GRID + ca) * WORK * WORK..][..WORK * WORK];
                    for (dr, wr) in rw.iter().enumerate() {
                        let line = &mut row[(r0 + dr) * WORK + c0..][..cw.len()];
                        for (x, wc) in line.iter_mut().zip(cw) {
                            *x += w * wr * wc;
                        }
                    }
                }
            }
        }
        z.chunks_exact(WORK * WORK)
            .map(|row| {
                let nonzero = |i: usize| row[i] != 0.0;
                let rows: Vec<usize> = (0..WORK).filter(|r| (0..WORK).any(|c| nonzero(r * WORK + c))).collect();
                let cols: Vec<usize> = (0..WORK).filter(|c| (0..WORK).any(|r| nonzero(r * WORK + c))).collect();
                let (top, bottom) = (rows[0], rows[rows.len() - 1] + 1);
                let (left, right) = (cols[0], cols[cols.len() - 1] + 1);
                let weights = (top..bottom)
                    .flat_map(|r| row[r * WORK + left..r * WORK + right].iter().map(|x| x / total))
                    .collect();
                ZoomRow { top, left, width: right - left, weights }
            })
            .collect()
    })
}

/// `plane` (height x width, row-major) resized to 96 x 96 with the tents
/// `across` (`tent(width, 96, 1)`) and `down` (`tent(height, 96, 1)`).
fn resize(plane: &[f64], height: usize, width: usize, across: &Tent, down: &Tent) -> Vec<f64> {
    let mut rows = vec![0f64; height * WORK];
    for r in 0..height {
        let line = &plane[r * width..][..width];
        for (k, (first, weights)) in across.iter().enumerate() {
            rows[r * WORK + k] = dot8(weights, &line[*first..][..weights.len()]);
        }
    }
    let mut out = vec![0f64; WORK * WORK];
    for (k, (first, weights)) in down.iter().enumerate() {
        let target = &mut out[k * WORK..][..WORK];
        for (dr, w) in weights.iter().enumerate() {
            for (t, v) in target.iter_mut().zip(&rows[(first + dr) * WORK..][..WORK]) {
                *t += w * v;
            }
        }
    }
    out
}

/// `a · b` with eight partial sums, so that it vectorises.
fn dot8(a: &[f64], b: &[f64]) -> f64 {
    let mut acc = [0f64; 8];
    let (ca, cb) = (a.chunks_exact(8), b.chunks_exact(8));
    let tail: f64 = ca.remainder().iter().zip(cb.remainder()).map(|(x, y)| x * y).sum();
    for (x, y) in ca.zip(cb) {
        let (x, y): (&[f64; 8], &[f64; 8]) = (x.try_into().unwrap(), y.try_into().unwrap());
        for ((a, x), y) in acc.iter_mut().zip(x).zip(y) {
            *a += x * y;
        }
    }
    acc.iter().sum::<f64>() + tail
}

/// The zoom-stack blocks of 96 x 96 planes (one pass over the matrix for
/// all of them), each centred, with its norm (0, and a zero block, for a
/// flat plane).
fn blocks(planes: &[&[f64]]) -> Vec<(Vec<f64>, f64)> {
    let z = zoom_matrix();
    let mut out: Vec<Vec<f64>> = vec![vec![0f64; BLOCK]; planes.len()];
    for (o, row) in z.iter().enumerate() {
        for (b, plane) in out.iter_mut().zip(planes) {
            b[o] = row
                .weights
                .chunks_exact(row.width)
                .enumerate()
                .map(|(r, w)| dot8(w, &plane[(row.top + r) * WORK + row.left..][..row.width]))
                .sum();
        }
    }
    out.into_iter()
        .map(|mut b| {
            let mean = b.iter().sum::<f64>() / BLOCK as f64;
            b.iter_mut().for_each(|x| *x -= mean);
            let norm = b.iter().map(|x| x * x).sum::<f64>().sqrt();
            if norm < FLAT {
                (vec![0f64; BLOCK], 0.0)
            } else {
                (b, norm)
            }
        })
        .collect()
}

/// The signature of an 8-bit image as Spark's image struct holds it:
/// `channels` 1 (grey), 3 (BGR) or 4 (BGRA, alpha ignored), rows of
/// `width * channels` bytes, top to bottom.
pub fn signature(data: &[u8], height: usize, width: usize, channels: usize) -> Result<Vec<f32>> {
    if height == 0 || width == 0 {
        return Err(SparkdlError::InvalidArgument(format!("an image of {height} x {width} pixels has no signature")));
    }
    if !matches!(channels, 1 | 3 | 4) {
        return Err(SparkdlError::InvalidArgument(format!(
            "an image of {channels} channels: a signature takes 1 (grey), 3 (BGR) or 4 (BGRA)"
        )));
    }
    let pixels = height * width;
    if data.len() != pixels * channels {
        return Err(SparkdlError::InvalidArgument(format!(
            "an image of {height} x {width} x {channels} needs {} bytes of data, it has {}",
            pixels * channels,
            data.len()
        )));
    }
    let mut planes: Vec<Vec<f64>> = if channels == 1 {
        vec![data.iter().map(|&v| v as f64).collect()]
    } else {
        let (mut y, mut cb, mut cr) = (vec![0f64; pixels], vec![0f64; pixels], vec![0f64; pixels]);
        for (p, px) in data.chunks_exact(channels).enumerate() {
            let (b, g, r) = (px[0] as f64, px[1] as f64, px[2] as f64);
            y[p] = 0.299 * r + 0.587 * g + 0.114 * b;
            cb[p] = -0.168736 * r - 0.331264 * g + 0.5 * b;
            cr[p] = 0.5 * r - 0.418688 * g - 0.081312 * b;
        }
        vec![y, cb, cr]
    };
    let (across, down) = (tent(width, WORK, 1.0), tent(height, WORK, 1.0));
    planes.iter_mut().for_each(|p| *p = resize(p, height, width, &across, &down));
    let luma = &planes[0];
    let mut gx = vec![0f64; WORK * WORK];
    for r in 0..WORK {
        for c in 1..WORK - 1 {
            gx[r * WORK + c] = (luma[r * WORK + c + 1] - luma[r * WORK + c - 1]).abs() / 2.0;
        }
    }
    let mut inputs: Vec<&[f64]> = vec![luma, &gx];
    inputs.extend(planes[1..].iter().map(|p| p.as_slice()));
    let found = blocks(&inputs);
    let ((l, l_norm), (g, g_norm)) = (&found[0], &found[1]);
    let (l_norm, g_norm) = (*l_norm, *g_norm);
    let mut v = vec![0f64; SIGNATURE_LEN];
    if l_norm > 0.0 {
        v[..BLOCK].iter_mut().zip(l).for_each(|(o, x)| *o = x / l_norm);
        for (c, (chroma, _)) in found[2..].iter().enumerate() {
            v[(2 + c) * BLOCK..][..BLOCK].iter_mut().zip(chroma).for_each(|(o, x)| *o = x / l_norm);
        }
    }
    if g_norm > 0.0 {
        v[BLOCK..2 * BLOCK].iter_mut().zip(g).for_each(|(o, x)| *o = GRADIENT_WEIGHT * x / g_norm);
    }
    let norm = v.iter().map(|x| x * x).sum::<f64>().sqrt();
    Ok(v.iter().map(|x| if norm > 0.0 { (x / norm) as f32 } else { 0.0 }).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn dot(a: &[f32], b: &[f32]) -> f64 {
        a.iter().zip(b).map(|(x, y)| *x as f64 * *y as f64).sum()
    }

    /// A smooth grey picture with some structure, `h` x `w`.
    fn picture(h: usize, w: usize) -> Vec<u8> {
        (0..h * w)
            .map(|p| {
                let (r, c) = ((p / w) as f64 / h as f64, (p % w) as f64 / w as f64);
                (128.0 + 60.0 * (7.0 * r).sin() * (5.0 * c + 1.0).cos() + 40.0 * (13.0 * c * r).sin()) as u8
            })
            .collect()
    }

    #[test]
    fn tent_rows_sum_to_one_and_stay_inside() {
        for (m, n, s) in [(300, 96, 1.0), (96, 12, 0.2483), (96, 12, 0.8452), (5, 96, 1.0)] {
            for (first, weights) in tent(m, n, s) {
                assert!(first + weights.len() <= m);
                assert!((weights.iter().sum::<f64>() - 1.0).abs() < 1e-12);
            }
        }
    }

    #[test]
    fn unit_norm_zero_for_flat_and_grey_equals_its_colour_copy() {
        let grey = picture(70, 90);
        let s = signature(&grey, 70, 90, 1).unwrap();
        assert_eq!(s.len(), SIGNATURE_LEN);
        assert!((dot(&s, &s) - 1.0).abs() < 1e-6);
        let bgr: Vec<u8> = grey.iter().flat_map(|&v| [v, v, v]).collect();
        let c = signature(&bgr, 70, 90, 3).unwrap();
        assert!(s.iter().zip(&c).all(|(a, b)| (a - b).abs() < 1e-6));
        let bgra: Vec<u8> = grey.iter().flat_map(|&v| [v, v, v, 255]).collect();
        assert_eq!(signature(&bgra, 70, 90, 4).unwrap(), c);
        assert!(signature(&[77u8; 40 * 30], 40, 30, 1).unwrap().iter().all(|&x| x == 0.0));
    }

    #[test]
    fn a_resized_copy_is_close_and_another_picture_is_not() {
        let a = picture(120, 160);
        // Every second pixel both ways: a half-size copy.
        let half: Vec<u8> = (0..60 * 80).map(|p| a[(p / 80) * 2 * 160 + (p % 80) * 2]).collect();
        let b: Vec<u8> = (0..120 * 160).map(|p| a[(119 - p / 160) * 160 + p % 160]).collect(); // upside down
        let (sa, sh, sb) = (
            signature(&a, 120, 160, 1).unwrap(),
            signature(&half, 60, 80, 1).unwrap(),
            signature(&b, 120, 160, 1).unwrap(),
        );
        assert!(dot(&sa, &sh) > 0.98, "{}", dot(&sa, &sh));
        assert!(dot(&sa, &sb) < 0.9, "{}", dot(&sa, &sb));
    }

    #[test]
    fn bad_shapes_are_explained() {
        let e = signature(&[0u8; 10], 2, 5, 2).unwrap_err().to_string();
        assert!(e.contains("2 channels"), "{e}");
        let e = signature(&[0u8; 10], 2, 2, 3).unwrap_err().to_string();
        assert!(e.contains("needs 12 bytes"), "{e}");
        assert!(signature(&[], 0, 5, 1).is_err());
    }
}
