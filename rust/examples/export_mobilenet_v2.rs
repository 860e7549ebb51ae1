//! Writes torchvision's MobileNetV2, built from its PyTorch weights file, in
//! both formats sparkdl builds: `mobilenet_v2.pb` (frozen TensorFlow GraphDef,
//! NHWC) and `mobilenet_v2.onnx` (ONNX, NCHW), e.g. to compare the two in
//! TensorFlow and ONNX Runtime.
//!
//! `cargo run -p sparkdl-native --example export_mobilenet_v2 -- WEIGHTS.pth OUT_DIR`

use std::path::Path;

use sparkdl::engine::ModelFormat;
use sparkdl::models::build_named;

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [weights, out] = args.as_slice() else {
        return Err("usage: export_mobilenet_v2 WEIGHTS.pth OUT_DIR".into());
    };
    let out = Path::new(out);
    std::fs::create_dir_all(out).map_err(|e| format!("cannot create {}: {e}", out.display()))?;
    for (format, file) in [(ModelFormat::GraphDef, "mobilenet_v2.pb"), (ModelFormat::Onnx, "mobilenet_v2.onnx")] {
        let model = build_named("MobileNetV2", format, Path::new(weights)).map_err(|e| e.to_string())?;
        let path = out.join(file);
        std::fs::write(&path, &model).map_err(|e| format!("cannot write {}: {e}", path.display()))?;
        println!("{} ({} bytes, {})", path.display(), model.len(), format.name());
    }
    Ok(())
}
