//! JPEG decoding with libjpeg-turbo (its TurboJPEG 3 API, from `turbojpeg-sys`,
//! which builds libjpeg-turbo 3.1 from the source it carries, SIMD included).
//!
//! Why not the pure-Rust decoders: at reduced scale in the DCT domain (1/8
//! of a 12 MP phone photo is still 504x378, enough for a 224x224 model
//! input) the cost is the entropy decoding, and libjpeg-turbo skips the AC
//! coefficients it does not need there (measured in `benches/preprocess.rs`:
//! a 4032x3024 JPEG to a 224x224 input). At full scale its SIMD IDCT, upsampling
//! and colour conversion are the fastest we measured, and its pixels are
//! PIL's (the same library, the same default settings: accurate integer
//! IDCT, "fancy" upsampling).
//!
//! Each thread keeps one decompressor handle. Errors come back as text;
//! warnings (libjpeg's "corrupt JPEG data: ..." on a damaged but readable
//! file) do not fail a decode, as in libjpeg and PIL. Truncated files are
//! refused before decoding by [`super::jpeg_check`].

use std::cell::RefCell;
use std::ffi::CStr;

use turbojpeg_sys as tj;

/// What the header says; enough to choose a scale and an output format.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Header {
    pub width: u32,
    pub height: u32,
    /// Grey (1) or colour (3) output, or `None` when this decoder should not
    /// take the file (CMYK/YCCK, more than 8 bits per sample).
    pub channels: Option<u8>,
    /// Lossless JPEGs cannot be scaled.
    pub lossless: bool,
}

/// A decoding scale of `n`/8 (1 to 8). libjpeg-turbo's output side is
/// `ceil(side * n / 8)`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Scale(u8);

impl Scale {
    pub const FULL: Scale = Scale(8);

    /// The reductions tried, smallest first: the ones with SIMD inverse DCTs
    /// in libjpeg-turbo (1/8 is the DC value alone; 1/4 and 1/2 have SSE2
    /// kernels). The other eighths (3/8, 5/8, 3/4, 7/8) run plain C kernels,
    /// which measured no faster than the full SIMD decode of the same file.
    const REDUCTIONS: [Scale; 3] = [Scale(1), Scale(2), Scale(4)];

    /// A side of `side` pixels at this scale.
    pub fn of(self, side: u32) -> u32 {
        ((u64::from(side) * u64::from(self.0)).div_ceil(8)) as u32
    }

    /// As TurboJPEG takes it: in lowest terms (it compares against its own
    /// table, where 4/8 is 1/2, and refuses anything else).
    fn factor(self) -> tj::tjscalingfactor {
        let (mut a, mut b) = (u32::from(self.0), 8u32);
        while b != 0 {
            (a, b) = (b, a % b);
        }
        let gcd = i32::try_from(a).unwrap_or(1).max(1);
        tj::tjscalingfactor { num: i32::from(self.0) / gcd, denom: 8 / gcd }
    }

    /// The strongest reduction whose output is still at least `tw` x `th`
    /// (the resize that follows then only shrinks), or full scale.
    pub fn for_target(width: u32, height: u32, tw: u32, th: u32) -> Scale {
        Scale::REDUCTIONS.into_iter().find(|s| s.of(width) >= tw && s.of(height) >= th).unwrap_or(Scale::FULL)
    }
}

/// Decoded pixels: row-major, BGR (3 channels) or grey (1).
pub(crate) struct Decoded {
    pub width: u32,
    pub height: u32,
    pub channels: u8,
    pub data: Vec<u8>,
}

/// Reads the header of `bytes`.
pub(crate) fn header(bytes: &[u8]) -> Result<Header, String> {
    with_handle(|h| h.header(bytes))
}

/// Decodes `bytes` at `scale` (full scale for lossless JPEGs) into Spark's
/// layout (BGR or grey). The caller has checked the size (from [`header`])
/// and that the file is complete.
pub(crate) fn decode(bytes: &[u8], scale: Scale) -> Result<Decoded, String> {
    with_handle(|h| h.decode(bytes, scale))
}

thread_local! {
    static HANDLE: RefCell<Option<Handle>> = const { RefCell::new(None) };
}

/// Runs `f` with this thread's decompressor, made on first use.
fn with_handle<T>(f: impl FnOnce(&Handle) -> Result<T, String>) -> Result<T, String> {
    HANDLE.with(|cell| {
        let mut slot = cell.try_borrow_mut().map_err(|_| "the JPEG decoder is busy on this thread".to_string())?;
        if slot.is_none() {
            *slot = Some(Handle::new()?);
        }
        match slot.as_ref() {
            Some(handle) => f(handle),
            None => Err("no JPEG decoder".into()),
        }
    })
}

/// A TurboJPEG decompressor; used by one thread at a time.
struct Handle(tj::tjhandle);

impl Drop for Handle {
    fn drop(&mut self) {
        // SAFETY: the handle came from tj3Init and is destroyed once.
        unsafe { tj::tj3Destroy(self.0) }
    }
}

impl Handle {
    fn new() -> Result<Handle, String> {
        // SAFETY: plain constructor; a null return is handled.
        let h = unsafe { tj::tj3Init(tj::TJINIT_TJINIT_DECOMPRESS as i32) };
        if h.is_null() {
            return Err("could not create a libjpeg-turbo decompressor".into());
        }
        Ok(Handle(h))
    }

    fn get(&self, param: tj::TJPARAM) -> i32 {
        // SAFETY: valid handle; unknown parameters return -1.
        unsafe { tj::tj3Get(self.0, param as i32) }
    }

    fn set(&self, param: tj::TJPARAM, value: i32) -> Result<(), String> {
        // SAFETY: valid handle.
        if unsafe { tj::tj3Set(self.0, param as i32, value) } != 0 {
            return Err(self.message());
        }
        Ok(())
    }

    /// The handle's last error message.
    fn message(&self) -> String {
        // SAFETY: tj3GetErrorStr returns a NUL-terminated string owned by the
        // handle (or a static one), valid until the next call on it.
        let text = unsafe {
            let p = tj::tj3GetErrorStr(self.0);
            if p.is_null() {
                return "unknown libjpeg-turbo error".into();
            }
            CStr::from_ptr(p).to_string_lossy().into_owned()
        };
        text.trim().to_string()
    }

    /// Whether the last failure was only a warning (the output is complete).
    fn only_warned(&self) -> bool {
        // SAFETY: valid handle.
        unsafe { tj::tj3GetErrorCode(self.0) == tj::TJERR_TJERR_WARNING as i32 }
    }

    fn header(&self, bytes: &[u8]) -> Result<Header, String> {
        // SAFETY: the pointer and length describe `bytes`, which outlives the call.
        if unsafe { tj::tj3DecompressHeader(self.0, bytes.as_ptr(), bytes.len() as tj::size_t) } != 0 {
            return Err(self.message());
        }
        let (w, h) = (self.get(tj::TJPARAM_TJPARAM_JPEGWIDTH), self.get(tj::TJPARAM_TJPARAM_JPEGHEIGHT));
        let (Ok(width), Ok(height)) = (u32::try_from(w), u32::try_from(h)) else {
            return Err(format!("the header gives a size of {w}x{h}"));
        };
        let precision = self.get(tj::TJPARAM_TJPARAM_PRECISION);
        let colorspace = self.get(tj::TJPARAM_TJPARAM_COLORSPACE);
        let channels = match colorspace {
            _ if precision != 8 => None,
            c if c == tj::TJCS_TJCS_GRAY as i32 => Some(1),
            c if c == tj::TJCS_TJCS_YCbCr as i32 || c == tj::TJCS_TJCS_RGB as i32 => Some(3),
            _ => None,
        };
        Ok(Header { width, height, channels, lossless: self.get(tj::TJPARAM_TJPARAM_LOSSLESS) == 1 })
    }

    fn decode(&self, bytes: &[u8], scale: Scale) -> Result<Decoded, String> {
        // The header is read again here, on the bytes being decoded, so the
        // buffer is sized for exactly what libjpeg-turbo will write.
        let header = self.header(bytes)?;
        let Some(channels) = header.channels else {
            return Err("this JPEG's colour space or precision is not decoded by libjpeg-turbo here".into());
        };
        let scale = if header.lossless { Scale::FULL } else { scale };
        let (width, height) = (scale.of(header.width), scale.of(header.height));
        let pitch = width as usize * usize::from(channels);
        let len = pitch
            .checked_mul(height as usize)
            .ok_or_else(|| format!("{width}x{height} pixels do not fit in memory"))?;
        let pitch = i32::try_from(pitch).map_err(|_| format!("an image row of {pitch} bytes is too long"))?;
        let format = if channels == 1 { tj::TJPF_TJPF_GRAY } else { tj::TJPF_TJPF_BGR };
        // SAFETY: valid handle; only supported factors (n/8) are passed.
        if unsafe { tj::tj3SetScalingFactor(self.0, scale.factor()) } != 0 {
            return Err(self.message());
        }
        // Damaged data is decoded as far as possible with a warning, as
        // libjpeg does; truncation was refused before.
        self.set(tj::TJPARAM_TJPARAM_STOPONWARNING, 0)?;
        let mut data = Vec::<u8>::with_capacity(len);
        // SAFETY: `data` has room for `height` rows of `pitch` bytes, which is
        // what libjpeg-turbo writes for this header (just read from the same
        // bytes), scale and pixel format; the input pointer and length
        // describe `bytes`.
        let rc = unsafe {
            tj::tj3Decompress8(self.0, bytes.as_ptr(), bytes.len() as tj::size_t, data.as_mut_ptr(), pitch, format)
        };
        if rc != 0 && !self.only_warned() {
            return Err(self.message());
        }
        // SAFETY: tj3Decompress8 wrote every row in full.
        unsafe { data.set_len(len) };
        Ok(Decoded { width, height, channels, data })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn scales_never_go_below_the_target() {
        // 4032x3024 to 224x224: 1/8 gives 504x378.
        assert_eq!(Scale::for_target(4032, 3024, 224, 224), Scale(1));
        assert_eq!(Scale(1).of(4032), 504);
        // 500x400: 1/2 would give 250x200, below 224 in height.
        assert_eq!(Scale::for_target(500, 400, 224, 224), Scale::FULL);
        assert_eq!(Scale::for_target(1000, 800, 224, 224), Scale(4));
        assert_eq!(Scale::for_target(1000, 800, 224, 401), Scale::FULL);
        // Odd sides round up, as libjpeg-turbo does.
        assert_eq!(Scale(1).of(9), 2);
        assert_eq!(Scale::for_target(9, 9, 2, 2), Scale(1));
        // TurboJPEG wants its factors in lowest terms.
        let terms = |s: Scale| (s.factor().num, s.factor().denom);
        assert_eq!(
            [Scale(1), Scale(2), Scale(4), Scale(6), Scale::FULL].map(terms),
            [(1, 8), (1, 4), (1, 2), (3, 4), (1, 1)]
        );
    }

    fn jpeg(img: &image::DynamicImage) -> Vec<u8> {
        crate::image::test_images::jpeg(img, 90)
    }

    #[test]
    fn decodes_colour_and_grey_at_full_and_reduced_scale() {
        let rgb = image::RgbImage::from_fn(40, 24, |x, y| image::Rgb([(x * 6) as u8, (y * 10) as u8, 200]));
        let bytes = jpeg(&image::DynamicImage::ImageRgb8(rgb.clone()));
        let h = header(&bytes).unwrap();
        assert_eq!(h, Header { width: 40, height: 24, channels: Some(3), lossless: false });
        let full = decode(&bytes, Scale::FULL).unwrap();
        assert_eq!((full.width, full.height, full.channels, full.data.len()), (40, 24, 3, 40 * 24 * 3));
        // BGR, within JPEG's error of the source.
        let (x, y) = (20usize, 12usize);
        let px = &full.data[(y * 40 + x) * 3..][..3];
        let src = rgb.get_pixel(x as u32, y as u32).0;
        for (got, want) in px.iter().zip([src[2], src[1], src[0]]) {
            assert!(got.abs_diff(want) <= 6, "{px:?} vs {src:?}");
        }
        let eighth = decode(&bytes, Scale(1)).unwrap();
        assert_eq!((eighth.width, eighth.height), (5, 3));
        let grey = jpeg(&image::DynamicImage::ImageLuma8(image::GrayImage::from_pixel(16, 8, image::Luma([77]))));
        assert_eq!(header(&grey).unwrap().channels, Some(1));
        let g = decode(&grey, Scale(4)).unwrap();
        assert_eq!((g.width, g.height, g.channels), (8, 4, 1));
        assert!(g.data.iter().all(|v| v.abs_diff(77) <= 1), "{:?}", g.data);
    }

    #[test]
    fn garbage_is_an_error_not_a_crash() {
        let err = header(b"\xFF\xD8\xFF\xE0 not a jpeg at all").unwrap_err();
        assert!(!err.is_empty());
        assert!(decode(b"\xFF\xD8\xFF", Scale::FULL).is_err());
    }
}
