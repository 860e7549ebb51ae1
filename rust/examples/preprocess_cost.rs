//! sparkdl's own cost per image before inference, on files: read nothing but
//! the bytes in memory, then decode (at a reduced DCT scale where the file
//! allows), resize and normalise into a model input, one thread, as the
//! engine does for each row. `benches/peer_bench.py` uses it for the limit
//! `cores / (this + one-core inference)`.
//!
//! `cargo run --release -p sparkdl-native --example preprocess_cost -- HEIGHT WIDTH FILE...`
//! prints `MS <milliseconds per image>` (the fastest of 3 passes over the files).

use std::time::Instant;

use sparkdl::image::DecodeOptions;
use sparkdl::ops::preprocess::{ImageSpec, Preprocessor};

fn main() -> Result<(), String> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [h, w, files @ ..] = args.as_slice() else {
        return Err("usage: preprocess_cost HEIGHT WIDTH FILE...".into());
    };
    let (h, w): (u32, u32) = (h.parse().map_err(|_| "HEIGHT")?, w.parse().map_err(|_| "WIDTH")?);
    if files.is_empty() {
        return Err("give at least one file".into());
    }
    let spec: ImageSpec = serde_json::from_str(&format!(
        r#"{{"kind":"encoded","height":{h},"width":{w},"channelOrder":"RGB","resize":"bilinear",
            "scale":0.00392156862745098,"mean":[0.485,0.456,0.406],"std":[0.229,0.224,0.225]}}"#
    ))
    .map_err(|e| e.to_string())?;
    spec.validate()?;
    let bytes: Vec<Vec<u8>> =
        files.iter().map(|f| std::fs::read(f).map_err(|e| format!("{f}: {e}"))).collect::<Result<_, _>>()?;
    let mut pre = Preprocessor::default();
    let mut slot = vec![0f32; (h * w * 3) as usize];
    let opts = DecodeOptions::default();
    let mut best = f64::MAX;
    for _ in 0..3 {
        let start = Instant::now();
        for b in &bytes {
            pre.write_encoded(b, &opts, &spec, &mut slot)?;
        }
        best = best.min(start.elapsed().as_secs_f64() * 1e3 / bytes.len() as f64);
    }
    println!("MS {best:.4}");
    Ok(())
}
