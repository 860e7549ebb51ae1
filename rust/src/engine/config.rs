//! The settings a model is loaded with, from the JVM (JSON, built from typed
//! values by `org.sparkdl.engine.EngineSettings`): what every backend
//! understands the same way (threads, spinning, precision, the task's GPU),
//! then what only one backend has. One loaded model per (model, settings) in
//! the session cache ([`crate::engine::cache`]).

use serde::{Deserialize, Serialize};

use crate::errors::{Result, SparkdlError};

/// JSON: `{"intraOpThreads":4,"interOpThreads":2,"threadSpinning":true,"precision":"float32",
/// "gpu":{"visibleDevices":"0,1","index":1,"ordinal":1},"tensorflow":{"xlaJit":false,"allowGrowth":true},
/// "onnx":{"optimizationLevel":"all","sessions":2}}`, every field optional.
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct EngineConfig {
    /// Threads of one op's kernel (0: the backend's default, all cores).
    #[serde(default)]
    pub intra_op_threads: i32,
    /// Ops run concurrently per run (0: the backend's default).
    #[serde(default)]
    pub inter_op_threads: i32,
    /// Let idle pool threads spin before they sleep (both backends' default).
    #[serde(default = "yes")]
    pub thread_spinning: bool,
    #[serde(default)]
    pub precision: Precision,
    /// The GPU the task runs on; `None`: the CPU only.
    #[serde(default)]
    pub gpu: Option<GpuPlacement>,
    #[serde(default)]
    pub tensorflow: TensorFlowOptions,
    #[serde(default)]
    pub onnx: OnnxOptions,
}

/// A task's GPU: `ordinal` is its CUDA device ordinal (what ONNX Runtime's
/// CUDA provider takes), `index` its place in `visible_devices`, the list
/// every session of the process sees (TensorFlow fixes it once per process;
/// "" is every GPU, when `index` is the ordinal).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct GpuPlacement {
    #[serde(default)]
    pub visible_devices: String,
    pub index: u32,
    pub ordinal: u32,
}

/// The arithmetic a model's heavy ops run in.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
pub enum Precision {
    #[default]
    #[serde(rename = "float32")]
    Float32,
    /// TensorFlow: oneDNN's bfloat16 auto-mixed-precision rewrite.
    #[serde(rename = "bf16")]
    Bf16,
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TensorFlowOptions {
    /// Compile clusters of the graph with XLA (`global_jit_level` ON_1).
    #[serde(default)]
    pub xla_jit: bool,
    /// Let GPU memory grow instead of taking it all up front.
    #[serde(default = "yes")]
    pub allow_growth: bool,
}

impl Default for TensorFlowOptions {
    fn default() -> Self {
        TensorFlowOptions { xla_jit: false, allow_growth: true }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct OnnxOptions {
    #[serde(default)]
    pub optimization_level: OptimizationLevel,
    /// Sessions per model, each running one batch at a time (`intraOpThreads`
    /// split between them); a session's runs are exclusive in `ort`.
    #[serde(default = "one")]
    pub sessions: u32,
}

impl Default for OnnxOptions {
    fn default() -> Self {
        OnnxOptions { optimization_level: OptimizationLevel::default(), sessions: 1 }
    }
}

/// ONNX Runtime's graph optimizations.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Default, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum OptimizationLevel {
    Disabled,
    Basic,
    Extended,
    #[default]
    All,
}

fn yes() -> bool {
    true
}

fn one() -> u32 {
    1
}

impl Default for EngineConfig {
    fn default() -> Self {
        EngineConfig {
            intra_op_threads: 0,
            inter_op_threads: 0,
            thread_spinning: true,
            precision: Precision::Float32,
            gpu: None,
            tensorflow: TensorFlowOptions::default(),
            onnx: OnnxOptions::default(),
        }
    }
}

impl EngineConfig {
    /// Parses and checks the JVM's JSON; empty text is the default.
    pub fn from_json(json: &str) -> Result<EngineConfig> {
        let cfg: EngineConfig =
            if json.trim().is_empty() { EngineConfig::default() } else { serde_json::from_str(json)? };
        cfg.validate()?;
        Ok(cfg)
    }

    pub fn validate(&self) -> Result<()> {
        let bad = |m: String| Err(SparkdlError::InvalidArgument(format!("engine settings: {m}")));
        if self.intra_op_threads < 0 {
            return bad(format!(
                "intraOpThreads must be 0 (the backend's default) or positive, got {}",
                self.intra_op_threads
            ));
        }
        if let Some(gpu) = &self.gpu {
            let list = &gpu.visible_devices;
            if !(list.is_empty() || list.split(',').all(|d| !d.is_empty() && d.bytes().all(|b| b.is_ascii_digit()))) {
                return bad(format!(
                    "gpu.visibleDevices must be GPU ids separated by commas, like \"0,1\", got '{list}'"
                ));
            }
        }
        Ok(())
    }

    /// A text identifying these settings, part of the session cache's key.
    pub fn fingerprint(&self) -> String {
        serde_json::to_string(self).unwrap_or_else(|_| format!("{self:?}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_field_is_optional_and_round_trips() {
        assert_eq!(EngineConfig::from_json("").unwrap(), EngineConfig::default());
        assert_eq!(EngineConfig::from_json("{}").unwrap(), EngineConfig::default());
        let json = r#"{"intraOpThreads":4,"interOpThreads":2,"threadSpinning":false,"precision":"bf16","gpu":{"visibleDevices":"0,1","index":1,"ordinal":1},"tensorflow":{"xlaJit":true,"allowGrowth":false},"onnx":{"optimizationLevel":"basic","sessions":2}}"#;
        let cfg = EngineConfig::from_json(json).unwrap();
        assert_eq!(serde_json::to_string(&cfg).unwrap(), json);
        assert_eq!(cfg.onnx.optimization_level, OptimizationLevel::Basic);
        assert_eq!(cfg.onnx.sessions, 2);
    }

    #[test]
    fn bad_settings_are_explained() {
        let err = EngineConfig::from_json(r#"{"intraOpThreads":-2}"#).unwrap_err();
        assert!(err.to_string().contains("intraOpThreads must be"), "{err}");
        let err = EngineConfig::from_json(r#"{"gpu":{"visibleDevices":"gpu0","index":0,"ordinal":0}}"#).unwrap_err();
        assert!(err.to_string().contains("\"0,1\""), "{err}");
        let err = EngineConfig::from_json(r#"{"intraThreads":2}"#).unwrap_err();
        assert!(err.to_string().contains("intraThreads"), "{err}");
        let err = EngineConfig::from_json(r#"{"precision":"fp16"}"#).unwrap_err();
        assert!(err.to_string().contains("fp16"), "{err}");
    }

    #[test]
    fn each_setting_is_part_of_the_cache_key() {
        let base = EngineConfig::default();
        let gpu = |i| EngineConfig {
            gpu: Some(GpuPlacement { visible_devices: "0,1".into(), index: i, ordinal: i }),
            ..EngineConfig::default()
        };
        assert_ne!(gpu(0).fingerprint(), gpu(1).fingerprint(), "one session per GPU");
        assert_ne!(EngineConfig { precision: Precision::Bf16, ..base.clone() }.fingerprint(), base.fingerprint());
        assert_ne!(
            EngineConfig {
                onnx: OnnxOptions { optimization_level: OptimizationLevel::Basic, sessions: 1 },
                ..base.clone()
            }
            .fingerprint(),
            base.fingerprint()
        );
        assert_ne!(
            EngineConfig { onnx: OnnxOptions { sessions: 2, ..OnnxOptions::default() }, ..base.clone() }.fingerprint(),
            base.fingerprint()
        );
    }
}
