//! Image to model input, in one pass per image: channel conversion, resize
//! (SIMD, `fast_image_resize`), `x * scale`, `(x - mean) / std` per channel,
//! and the tensor layout. The source is Spark's image layout (8-bit, BGR(A) or
//! grey), either from an image struct or freshly decoded from file bytes.

use fast_image_resize::images::ImageRef;
use fast_image_resize::{FilterType, PixelType, ResizeAlg, ResizeOptions, Resizer};
use serde::{Deserialize, Serialize};

use crate::image::{decode_to_spark, ocv, DecodeOptions};

/// How one image column becomes a model input (the `image` of a run-spec input).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageSpec {
    /// "struct" (Spark's image struct) or "encoded" (file bytes, decoded here).
    pub kind: String,
    /// Resize target; None: every image keeps its own size.
    #[serde(default)]
    pub height: Option<u32>,
    #[serde(default)]
    pub width: Option<u32>,
    /// "RGB", "BGR" or "L": the channel order the model expects.
    #[serde(default = "default_order")]
    pub channel_order: String,
    /// "bilinear", "nearest", "bicubic" or "lanczos3" (antialiased when shrinking, like PIL).
    #[serde(default = "default_resize")]
    pub resize: String,
    #[serde(default = "one")]
    pub scale: f32,
    #[serde(default)]
    pub mean: Vec<f32>,
    #[serde(default)]
    pub std: Vec<f32>,
    /// "NHWC" or "NCHW".
    #[serde(default = "default_layout")]
    pub layout: String,
}

fn default_order() -> String {
    "RGB".into()
}
fn default_resize() -> String {
    "bilinear".into()
}
fn default_layout() -> String {
    "NHWC".into()
}
fn one() -> f32 {
    1.0
}

impl ImageSpec {
    pub fn channels(&self) -> usize {
        if self.channel_order == "L" {
            1
        } else {
            3
        }
    }

    /// `decode`, shrinking JPEGs in the DCT domain towards the target size
    /// when there is one (never below it: the resize that follows only shrinks).
    pub fn decode_options(&self, decode: &DecodeOptions) -> DecodeOptions {
        let shrink_to = match (self.height, self.width) {
            (Some(h), Some(w)) => Some((h, w)),
            _ => None,
        };
        DecodeOptions { shrink_to, ..*decode }
    }

    /// Checks the spec once per batch; the message names the bad field.
    pub fn validate(&self) -> Result<(), String> {
        if !matches!(self.kind.as_str(), "struct" | "encoded") {
            return Err(format!("image kind must be struct or encoded, got '{}'", self.kind));
        }
        if !matches!(self.channel_order.as_str(), "RGB" | "BGR" | "L") {
            return Err(format!("channelOrder must be RGB, BGR or L, got '{}'", self.channel_order));
        }
        if !matches!(self.layout.as_str(), "NHWC" | "NCHW") {
            return Err(format!("layout must be NHWC or NCHW, got '{}'", self.layout));
        }
        self.filter()?;
        for (name, v) in [("mean", &self.mean), ("std", &self.std)] {
            if !v.is_empty() && v.len() != self.channels() {
                return Err(format!("{name} needs {} values, got {}", self.channels(), v.len()));
            }
        }
        if self.std.contains(&0.0) {
            return Err("std must not contain 0".into());
        }
        if self.height.is_some() != self.width.is_some() {
            return Err("give both height and width, or neither".into());
        }
        Ok(())
    }

    fn filter(&self) -> Result<ResizeAlg, String> {
        Ok(match self.resize.as_str() {
            "nearest" => ResizeAlg::Nearest,
            "bilinear" => ResizeAlg::Convolution(FilterType::Bilinear),
            "bicubic" => ResizeAlg::Convolution(FilterType::CatmullRom),
            "lanczos3" => ResizeAlg::Convolution(FilterType::Lanczos3),
            other => return Err(format!("resizeMethod must be bilinear, nearest, bicubic or lanczos3, got '{other}'")),
        })
    }
}

/// A borrowed 8-bit image in Spark's layout.
pub struct PixelsRef<'a> {
    pub height: usize,
    pub width: usize,
    pub channels: usize,
    pub data: &'a [u8],
}

impl<'a> PixelsRef<'a> {
    /// Validates an image struct's fields against its data.
    pub fn from_struct(height: i32, width: i32, n_channels: i32, mode: i32, data: &'a [u8]) -> Result<Self, String> {
        let expected_mode = match n_channels {
            1 => ocv::CV_8UC1,
            3 => ocv::CV_8UC3,
            4 => ocv::CV_8UC4,
            n => return Err(format!("image has {n} channels; 1, 3 or 4 are supported")),
        };
        if mode != expected_mode {
            return Err(format!("image mode {mode} is not supported (8-bit images only: modes 0, 16 and 24)"));
        }
        if height <= 0 || width <= 0 {
            return Err(format!("image has size {height}x{width}"));
        }
        let (h, w, c) = (height as usize, width as usize, n_channels as usize);
        if data.len() != h * w * c {
            return Err(format!("image data has {} bytes, expected {h}x{w}x{c} = {}", data.len(), h * w * c));
        }
        Ok(PixelsRef { height: h, width: w, channels: c, data })
    }
}

/// Per-thread scratch buffers, reused across images of a batch.
#[derive(Default)]
pub struct Preprocessor {
    resizer: Resizer,
    converted: Vec<u8>,
    resized: Vec<u8>,
}

impl Preprocessor {
    /// Appends one image's model input to `out`; returns its (height, width).
    pub fn append(&mut self, src: &PixelsRef, spec: &ImageSpec, out: &mut Vec<f32>) -> Result<(usize, usize), String> {
        let (h, w, resized) = self.convert_and_resize(src, spec)?;
        let start = out.len();
        out.resize(start + h * w * spec.channels(), 0.0);
        Self::normalise_into(self.pixels(resized), spec, h, w, &mut out[start..]);
        Ok((h, w))
    }

    /// Writes one image's model input into `dst`, which must hold exactly
    /// `height * width * channels` values of the spec's target size (the
    /// engine's batch tensor: no intermediate buffer, no copy).
    pub fn write(&mut self, src: &PixelsRef, spec: &ImageSpec, dst: &mut [f32]) -> Result<(), String> {
        let (h, w, resized) = self.convert_and_resize(src, spec)?;
        if dst.len() != h * w * spec.channels() {
            return Err(format!("internal: a slot of {} values for a {h}x{w}x{} image", dst.len(), spec.channels()));
        }
        Self::normalise_into(self.pixels(resized), spec, h, w, dst);
        Ok(())
    }

    /// [`write`](Self::write) for encoded file bytes.
    pub fn write_encoded(
        &mut self,
        bytes: &[u8],
        decode: &DecodeOptions,
        spec: &ImageSpec,
        dst: &mut [f32],
    ) -> Result<(), String> {
        with_decoded(bytes, decode, spec, |src| self.write(src, spec, dst))
    }

    /// Channels into the model's order (8-bit), then the resize when a
    /// target is given and differs; leaves the pixels in `self.resized`
    /// (or `self.converted` when no resize was needed). Returns (h, w, and
    /// whether it resized: see [`pixels`](Self::pixels)).
    fn convert_and_resize(&mut self, src: &PixelsRef, spec: &ImageSpec) -> Result<(usize, usize, bool), String> {
        let c = spec.channels();
        self.converted.clear();
        self.converted.reserve(src.height * src.width * c);
        convert_channels(src, &spec.channel_order, &mut self.converted);
        let (h, w) = match (spec.height, spec.width) {
            (Some(th), Some(tw)) => (th as usize, tw as usize),
            _ => (src.height, src.width),
        };
        let resize = (h, w) != (src.height, src.width);
        if resize {
            let pt = if c == 1 { PixelType::U8 } else { PixelType::U8x3 };
            let from = ImageRef::new(src.width as u32, src.height as u32, &self.converted, pt)
                .map_err(|e| format!("resize: {e}"))?;
            self.resized.resize(h * w * c, 0);
            let mut to = fast_image_resize::images::Image::from_slice_u8(w as u32, h as u32, &mut self.resized, pt)
                .map_err(|e| format!("resize: {e}"))?;
            let options = ResizeOptions::new().resize_alg(spec.filter()?);
            self.resizer.resize(&from, &mut to, &options).map_err(|e| format!("resize: {e}"))?;
        }
        Ok((h, w, resize))
    }

    /// The pixels [`convert_and_resize`](Self::convert_and_resize) left.
    fn pixels(&self, resized: bool) -> &[u8] {
        if resized {
            &self.resized
        } else {
            &self.converted
        }
    }

    /// `x * scale`, `(x - mean) / std` per channel, in the spec's layout,
    /// through a 256-entry table per channel (the same f32 operations as
    /// computing each value, done once per possible byte).
    fn normalise_into(pixels: &[u8], spec: &ImageSpec, h: usize, w: usize, dst: &mut [f32]) {
        let c = spec.channels();
        let mut lut = [[0f32; 256]; 3];
        for (ch, table) in lut.iter_mut().enumerate().take(c) {
            let mean = spec.mean.get(ch).copied().unwrap_or(0.0);
            let inv_std = spec.std.get(ch).map(|s| 1.0 / s).unwrap_or(1.0);
            for (v, t) in table.iter_mut().enumerate() {
                *t = (v as f32 * spec.scale - mean) * inv_std;
            }
        }
        if spec.layout == "NCHW" {
            for (ch, table) in lut.iter().enumerate().take(c) {
                let plane = &mut dst[ch * h * w..(ch + 1) * h * w];
                for (d, v) in plane.iter_mut().zip(pixels.iter().skip(ch).step_by(c)) {
                    *d = table[usize::from(*v)];
                }
            }
        } else if c == 3 {
            for (d, p) in dst.chunks_exact_mut(3).zip(pixels.chunks_exact(3)) {
                d[0] = lut[0][usize::from(p[0])];
                d[1] = lut[1][usize::from(p[1])];
                d[2] = lut[2][usize::from(p[2])];
            }
        } else {
            for (d, v) in dst.iter_mut().zip(pixels) {
                *d = lut[0][usize::from(*v)];
            }
        }
    }

    /// Decodes file bytes, then [`append`](Self::append)s them.
    pub fn append_encoded(
        &mut self,
        bytes: &[u8],
        decode: &DecodeOptions,
        spec: &ImageSpec,
        out: &mut Vec<f32>,
    ) -> Result<(usize, usize), String> {
        with_decoded(bytes, decode, spec, |src| self.append(src, spec, out))
    }
}

/// Decodes file bytes (shrinking JPEGs towards the spec's target) and hands
/// the pixels to `then`.
fn with_decoded<T>(
    bytes: &[u8],
    decode: &DecodeOptions,
    spec: &ImageSpec,
    then: impl FnOnce(&PixelsRef) -> Result<T, String>,
) -> Result<T, String> {
    let img = decode_to_spark(bytes, &spec.decode_options(decode)).map_err(|e| e.to_string())?;
    then(&PixelsRef::from_struct(img.height, img.width, img.n_channels, img.mode, &img.data)?)
}

/// BGR(A)/grey source to RGB, BGR or L (ITU-R 601 luma, as PIL's "L").
fn convert_channels(src: &PixelsRef, order: &str, out: &mut Vec<u8>) {
    let c = src.channels;
    match (c, order) {
        (1, "L") => out.extend_from_slice(src.data),
        (1, _) => out.extend(src.data.iter().flat_map(|v| [*v, *v, *v])),
        (_, "L") => out.extend(src.data.chunks_exact(c).map(|p| {
            let (b, g, r) = (u32::from(p[0]), u32::from(p[1]), u32::from(p[2]));
            ((r * 299 + g * 587 + b * 114 + 500) / 1000) as u8
        })),
        (_, "BGR") => out.extend(src.data.chunks_exact(c).flat_map(|p| [p[0], p[1], p[2]])),
        _ => out.extend(src.data.chunks_exact(c).flat_map(|p| [p[2], p[1], p[0]])),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spec(json: &str) -> ImageSpec {
        let s: ImageSpec = serde_json::from_str(json).unwrap();
        s.validate().unwrap();
        s
    }

    // A 2x2 BGR image: pixel (row, col) has B=10*row+col, G=100, R=200.
    fn bgr_2x2() -> Vec<u8> {
        vec![0, 100, 200, 1, 100, 200, 10, 100, 200, 11, 100, 200]
    }

    #[test]
    fn rgb_scaled_normalised_nhwc() {
        let data = bgr_2x2();
        let src = PixelsRef::from_struct(2, 2, 3, ocv::CV_8UC3, &data).unwrap();
        let s = spec(r#"{"kind":"struct","channelOrder":"RGB","scale":0.5,"mean":[100,50,0],"std":[2,1,1]}"#);
        let mut out = Vec::new();
        assert_eq!(Preprocessor::default().append(&src, &s, &mut out).unwrap(), (2, 2));
        // First pixel: R=200*0.5-100 /2 = 0, G=100*0.5-50 = 0, B=0*0.5 = 0.
        assert_eq!(&out[..3], &[0.0, 0.0, 0.0]);
        // Last pixel: B=11 -> 5.5.
        assert_eq!(out[11], 5.5);
    }

    #[test]
    fn bgr_nchw_and_grey() {
        let data = bgr_2x2();
        let src = PixelsRef::from_struct(2, 2, 3, ocv::CV_8UC3, &data).unwrap();
        let mut out = Vec::new();
        Preprocessor::default()
            .append(&src, &spec(r#"{"kind":"struct","channelOrder":"BGR","layout":"NCHW"}"#), &mut out)
            .unwrap();
        assert_eq!(out, vec![0., 1., 10., 11., 100., 100., 100., 100., 200., 200., 200., 200.]);
        let mut grey = Vec::new();
        Preprocessor::default().append(&src, &spec(r#"{"kind":"struct","channelOrder":"L"}"#), &mut grey).unwrap();
        assert_eq!(grey.len(), 4);
        assert_eq!(grey[0], ((200 * 299 + 100 * 587 + 500) / 1000) as f32);
    }

    #[test]
    fn resizes_to_the_target_and_keeps_flat_images_flat() {
        let data = vec![77u8; 40 * 30 * 3];
        let src = PixelsRef::from_struct(30, 40, 3, ocv::CV_8UC3, &data).unwrap();
        let mut out = Vec::new();
        let mut p = Preprocessor::default();
        let hw = p.append(&src, &spec(r#"{"kind":"struct","height":7,"width":9}"#), &mut out).unwrap();
        assert_eq!(hw, (7, 9));
        assert_eq!(out.len(), 7 * 9 * 3);
        assert!(out.iter().all(|v| (*v - 77.0).abs() < 0.5));
        // Upscaling works too, and the scratch buffers are reused.
        p.append(&src, &spec(r#"{"kind":"struct","height":64,"width":64,"resize":"bicubic"}"#), &mut out).unwrap();
        assert_eq!(out.len(), 7 * 9 * 3 + 64 * 64 * 3);
    }

    #[test]
    fn bad_structs_and_specs_say_what_is_wrong() {
        let data = vec![0u8; 5];
        let err = PixelsRef::from_struct(2, 2, 3, ocv::CV_8UC3, &data).err().unwrap();
        assert!(err.contains("expected 2x2x3 = 12"), "{err}");
        let err = PixelsRef::from_struct(2, 2, 3, ocv::CV_32FC3, &data).err().unwrap();
        assert!(err.contains("mode 21"), "{err}");
        let s: ImageSpec = serde_json::from_str(r#"{"kind":"struct","mean":[1,2]}"#).unwrap();
        assert!(s.validate().unwrap_err().contains("mean needs 3 values"));
        let s: ImageSpec = serde_json::from_str(r#"{"kind":"struct","resize":"area"}"#).unwrap();
        assert!(s.validate().unwrap_err().contains("resizeMethod"));
    }

    #[test]
    fn encoded_bytes_decode_first() {
        let img = image::RgbImage::from_pixel(5, 4, image::Rgb([10, 20, 30]));
        let mut png = std::io::Cursor::new(Vec::new());
        img.write_to(&mut png, image::ImageFormat::Png).unwrap();
        let mut out = Vec::new();
        let hw = Preprocessor::default()
            .append_encoded(png.get_ref(), &DecodeOptions::default(), &spec(r#"{"kind":"encoded"}"#), &mut out)
            .unwrap();
        assert_eq!(hw, (4, 5));
        assert_eq!(&out[..3], &[10.0, 20.0, 30.0]);
        let err = Preprocessor::default()
            .append_encoded(b"nope", &DecodeOptions::default(), &spec(r#"{"kind":"encoded"}"#), &mut out)
            .unwrap_err();
        assert!(err.contains("not a recognised image"), "{err}");
    }
}
