//! An ONNX model in an ONNX Runtime session.
//!
//! A session is loaded from the model's bytes, or from its file when the
//! model keeps its weights in external data files beside it (ONNX Runtime
//! resolves them relative to the model's folder and refuses locations that
//! leave it). Its inputs and outputs are read once; every feed is checked
//! against them (name, type, rank, fixed dims) before a run, so the messages
//! can name the input and say how to fix the call.
//!
//! Runs: the `ort` crate gives a session's `Run` exclusive access (its
//! maintainers saw concurrent runs of one session crash on GPU providers), so
//! a model is a small pool of sessions (`onnx.sessions`, from the executor's
//! concurrent tasks): a run takes an idle one, or waits for one, and gives it
//! back. The executor's `intraOpThreads` are split between them, so the
//! sessions of a model never start more threads than one session would; each
//! keeps its own copy of the weights. On a GPU a model has one session.

use std::path::Path;
use std::sync::{Condvar, Mutex, MutexGuard};

use half::f16;
use ort::ep::ExecutionProviderDispatch;
use ort::session::builder::{AutoDevicePolicy, GraphOptimizationLevel, SessionBuilder};
use ort::session::{Session, SessionInputValue};
use ort::value::{DynValue, TensorElementType, TensorRef, ValueType};

use crate::backends::onnx::library::environment;
use crate::engine::config::{EngineConfig, OptimizationLevel, Precision};
use crate::engine::dtype::{supported_names, DType};
use crate::engine::info::{shape_text, ModelInfo, TensorInfo};
use crate::engine::names::did_you_mean;
use crate::engine::tensor::{BatchTensor, Feed, TensorData, TensorValue, VecBatch};
use crate::engine::{Model, ModelFormat, TensorSpec};
use crate::errors::{Result, SparkdlError};

/// One input or output of the model.
#[derive(Debug, Clone)]
struct Io {
    info: TensorInfo,
    /// `None`: a type sparkdl does not move (strings, maps, sequences, ...).
    dtype: Option<DType>,
}

pub struct OnnxModel {
    sessions: SessionPool<Session>,
    inputs: Vec<Io>,
    outputs: Vec<Io>,
}

/// The idle sessions of one model; a run takes one and gives it back.
struct SessionPool<S> {
    idle: Mutex<Vec<S>>,
    given_back: Condvar,
    size: usize,
}

/// A session taken from its pool for one run, back in it when dropped (on
/// an error too).
struct PooledSession<'a, S> {
    pool: &'a SessionPool<S>,
    session: Option<S>,
}

impl<S> SessionPool<S> {
    fn new(sessions: Vec<S>) -> SessionPool<S> {
        SessionPool { size: sessions.len(), idle: Mutex::new(sessions), given_back: Condvar::new() }
    }

    fn idle(&self) -> MutexGuard<'_, Vec<S>> {
        self.idle.lock().unwrap_or_else(|p| p.into_inner())
    }

    /// An idle session, waiting until a run gives one back.
    fn take(&self) -> PooledSession<'_, S> {
        let mut idle = self.idle();
        loop {
            if let Some(session) = idle.pop() {
                return PooledSession { pool: self, session: Some(session) };
            }
            idle = self.given_back.wait(idle).unwrap_or_else(|p| p.into_inner());
        }
    }
}

impl<S> Drop for PooledSession<'_, S> {
    fn drop(&mut self) {
        if let Some(session) = self.session.take() {
            self.pool.idle().push(session);
            self.pool.given_back.notify_one();
        }
    }
}

impl<S> std::ops::Deref for PooledSession<'_, S> {
    type Target = S;
    fn deref(&self) -> &S {
        self.session.as_ref().expect("a pooled session is held until dropped")
    }
}

impl<S> std::ops::DerefMut for PooledSession<'_, S> {
    fn deref_mut(&mut self) -> &mut S {
        self.session.as_mut().expect("a pooled session is held until dropped")
    }
}

/// The intra-op threads of each session a model gets under `cfg`: one session
/// on a GPU, else `onnx.sessions` (never more than threads) sharing
/// `intraOpThreads` (0: the runtime's default for a single session, the
/// machine's cores split for several), at least one thread each.
pub(crate) fn session_threads(cfg: &EngineConfig) -> Vec<i32> {
    let wanted = if cfg.gpu.is_some() { 1 } else { cfg.onnx.sessions.max(1) as i32 };
    if wanted == 1 {
        return vec![cfg.intra_op_threads.max(0)];
    }
    let total = if cfg.intra_op_threads > 0 {
        cfg.intra_op_threads
    } else {
        std::thread::available_parallelism().map_or(1, |n| i32::try_from(n.get()).unwrap_or(i32::MAX))
    };
    let n = wanted.min(total).max(1);
    (0..n).map(|i| total / n + i32::from(i < total % n)).collect()
}

impl std::fmt::Debug for OnnxModel {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        let names = |v: &[Io]| v.iter().map(|i| i.info.name.clone()).collect::<Vec<_>>();
        f.debug_struct("OnnxModel")
            .field("inputs", &names(&self.inputs))
            .field("outputs", &names(&self.outputs))
            .finish()
    }
}

fn ort_error(what: &str, e: impl std::fmt::Display) -> SparkdlError {
    SparkdlError::Backend(format!("ONNX Runtime: {what}: {e}"))
}

/// The engine type of an ONNX element type, if sparkdl moves it.
fn dtype_of(t: TensorElementType) -> Option<DType> {
    match t {
        TensorElementType::Float32 => Some(DType::Float32),
        TensorElementType::Float16 => Some(DType::Float16),
        TensorElementType::Float64 => Some(DType::Float64),
        TensorElementType::Int32 => Some(DType::Int32),
        TensorElementType::Int64 => Some(DType::Int64),
        TensorElementType::Uint8 => Some(DType::Uint8),
        TensorElementType::Bool => Some(DType::Bool),
        _ => None,
    }
}

/// ONNX's names for its element types, as Python's frameworks write them.
fn type_name(t: TensorElementType) -> String {
    match dtype_of(t) {
        Some(d) => d.name().to_string(),
        None => match t {
            TensorElementType::Bfloat16 => "bfloat16".into(),
            TensorElementType::String => "string".into(),
            TensorElementType::Int8 => "int8".into(),
            TensorElementType::Int16 => "int16".into(),
            TensorElementType::Uint16 => "uint16".into(),
            TensorElementType::Uint32 => "uint32".into(),
            TensorElementType::Uint64 => "uint64".into(),
            other => format!("{other}"),
        },
    }
}

fn io_of(name: &str, t: &ValueType) -> Io {
    match t {
        ValueType::Tensor { ty, shape, dimension_symbols } => Io {
            info: TensorInfo {
                name: name.to_string(),
                dtype: type_name(*ty),
                shape: Some(shape.iter().map(|d| if *d < 0 { -1 } else { *d }).collect()),
                dim_names: dimension_symbols.iter().cloned().collect(),
            },
            dtype: dtype_of(*ty),
        },
        other => Io {
            info: TensorInfo { name: name.to_string(), dtype: format!("{other}"), shape: None, dim_names: vec![] },
            dtype: None,
        },
    }
}

/// The session options of `cfg`: threads, spinning, optimizations, and the
/// task's GPU through the CUDA execution provider.
pub(crate) fn builder(cfg: &EngineConfig, intra_op_threads: i32) -> Result<SessionBuilder> {
    cfg.validate()?;
    if cfg.precision != Precision::Float32 {
        return Err(SparkdlError::InvalidArgument(
            "precision bf16 is TensorFlow's (oneDNN's bfloat16 rewrite); ONNX Runtime runs a model in the types \
             it was exported with: run it on the tensorflow engine (engine=\"tensorflow\" for a named model), \
             export a float16 model, or leave precision at float32"
                .into(),
        ));
    }
    let opt = |e: ort::Error<SessionBuilder>| ort_error("setting a session option", e);
    let mut b = Session::builder(environment()?).map_err(|e| ort_error("creating session options", e))?;
    if intra_op_threads > 0 {
        b = b.with_intra_threads(intra_op_threads as usize).map_err(opt)?;
    }
    if cfg.inter_op_threads > 0 {
        b = b.with_inter_threads(cfg.inter_op_threads as usize).map_err(opt)?;
    }
    b = b.with_intra_op_spinning(cfg.thread_spinning).map_err(opt)?;
    b = b
        .with_optimization_level(match cfg.onnx.optimization_level {
            OptimizationLevel::Disabled => GraphOptimizationLevel::Disable,
            OptimizationLevel::Basic => GraphOptimizationLevel::Level1,
            OptimizationLevel::Extended => GraphOptimizationLevel::Level2,
            OptimizationLevel::All => GraphOptimizationLevel::All,
        })
        .map_err(opt)?;
    match execution_providers(cfg) {
        Some(eps) => {
            b = b.with_execution_providers(eps).map_err(|e| {
                SparkdlError::Backend(format!(
                    "ONNX Runtime: this task runs on GPU {} but the CUDA execution provider could not be added ({e}); \
                     install onnxruntime-gpu with its CUDA libraries on the executors, or run without GPUs",
                    cfg.gpu.as_ref().map_or(0, |g| g.ordinal)
                ))
            })?;
        }
        None => b = b.with_auto_device(AutoDevicePolicy::PreferCPU).map_err(opt)?,
    }
    Ok(b)
}

/// The execution providers of `cfg`: CUDA on the task's GPU (its CUDA
/// ordinal), failing rather than falling back to the CPU; none for the CPU.
pub(crate) fn execution_providers(cfg: &EngineConfig) -> Option<Vec<ExecutionProviderDispatch>> {
    cuda(cfg).map(|c| vec![c.build().error_on_failure()])
}

/// The CUDA provider's options for the task's GPU, if it has one.
fn cuda(cfg: &EngineConfig) -> Option<ort::ep::CUDA> {
    cfg.gpu.as_ref().map(|g| ort::ep::CUDA::default().with_device_id(i32::try_from(g.ordinal).unwrap_or(i32::MAX)))
}

impl OnnxModel {
    /// A model from its serialised `ModelProto` (weights inside it).
    pub fn from_bytes(bytes: &[u8], cfg: &EngineConfig) -> Result<OnnxModel> {
        if bytes.is_empty() {
            return Err(SparkdlError::InvalidArgument("the ONNX model is empty (0 bytes)".into()));
        }
        let what = format!("{} bytes", bytes.len());
        OnnxModel::new(cfg, |mut b| b.commit_from_memory(bytes).map_err(|e| load_error(&what, e)))
    }

    /// A model from its file, whose external data files are beside it.
    pub fn from_file(path: &Path, cfg: &EngineConfig) -> Result<OnnxModel> {
        OnnxModel::new(cfg, |mut b| b.commit_from_file(path).map_err(|e| load_error(&path.display().to_string(), e)))
    }

    /// The model's sessions, each committed by `commit` from its options.
    fn new(cfg: &EngineConfig, commit: impl Fn(SessionBuilder) -> Result<Session>) -> Result<OnnxModel> {
        let sessions =
            session_threads(cfg).into_iter().map(|t| commit(builder(cfg, t)?)).collect::<Result<Vec<_>>>()?;
        let first = &sessions[0];
        let inputs = first.inputs().iter().map(|o| io_of(o.name(), o.dtype())).collect();
        let outputs = first.outputs().iter().map(|o| io_of(o.name(), o.dtype())).collect();
        Ok(OnnxModel { sessions: SessionPool::new(sessions), inputs, outputs })
    }

    /// How many sessions this model runs batches on at once.
    pub fn sessions(&self) -> usize {
        self.sessions.size
    }

    fn find<'a>(&self, ios: &'a [Io], name: &str, role: &str) -> Result<&'a Io> {
        ios.iter().find(|i| i.info.name == name).ok_or_else(|| {
            let names: Vec<&str> = ios.iter().map(|i| i.info.name.as_str()).collect();
            SparkdlError::InvalidArgument(format!(
                "{role} '{name}': the model has no {role} of that name; its {role}s are: {}.{}",
                names.join(", "),
                did_you_mean(name, names.iter().copied())
            ))
        })
    }

    fn spec(&self, io: &Io, role: &str) -> Result<TensorSpec> {
        let dtype = io.dtype.ok_or_else(|| {
            SparkdlError::InvalidArgument(format!(
                "{role} '{}' is {}; sparkdl feeds and reads {} tensors",
                io.info.name,
                io.info.dtype,
                supported_names()
            ))
        })?;
        Ok(TensorSpec { name: io.info.name.clone(), dtype, shape: io.info.shape.clone() })
    }

    fn check_feed(&self, name: &str, feed: &Feed) -> Result<()> {
        let io = self.find(&self.inputs, name, "input")?;
        let spec = self.spec(io, "input")?;
        if spec.dtype != feed.dtype() {
            return Err(SparkdlError::InvalidArgument(format!(
                "input '{name}' is {} but the value given is {}; cast the input to {}",
                spec.dtype,
                feed.dtype(),
                spec.dtype
            )));
        }
        if let Some(expected) = &spec.shape {
            let got = feed.dims();
            let fits = expected.len() == got.len() && expected.iter().zip(got).all(|(e, g)| *e < 0 || *e as u64 == *g);
            if !fits {
                return Err(SparkdlError::InvalidArgument(format!(
                    "input '{name}' takes shape {} but the value has shape {}",
                    shape_text(Some(expected)),
                    shape_text(Some(&got.iter().map(|d| *d as i64).collect::<Vec<_>>()))
                )));
            }
        }
        Ok(())
    }
}

fn load_error(what: &str, e: ort::Error) -> SparkdlError {
    SparkdlError::InvalidArgument(format!(
        "ONNX Runtime could not load the model ({what}): {}. It must be an ONNX model (a ModelProto, .onnx) whose \
         operators this ONNX Runtime supports",
        e.message()
    ))
}

/// A borrowed view of `feed` as an ONNX Runtime input (no copy).
fn input_value<'a>(feed: &Feed<'a>) -> Result<SessionInputValue<'a>> {
    fn view<'a, T: ort::value::PrimitiveTensorElementType + std::fmt::Debug + Clone + 'static>(
        dims: &[u64],
        data: &'a [T],
    ) -> Result<SessionInputValue<'a>> {
        let shape: Vec<i64> = dims.iter().map(|d| *d as i64).collect();
        let t = TensorRef::from_array_view((shape, data)).map_err(|e| ort_error("building an input tensor", e))?;
        Ok(SessionInputValue::from(t))
    }
    match feed {
        Feed::Batch(b) => view(b.dims(), b.values()),
        Feed::Value(v) => match v.data() {
            TensorData::Float32(d) => view(v.dims(), d),
            TensorData::Float16(d) => view(v.dims(), d),
            TensorData::Float64(d) => view(v.dims(), d),
            TensorData::Int32(d) => view(v.dims(), d),
            TensorData::Int64(d) => view(v.dims(), d),
            TensorData::Uint8(d) => view(v.dims(), d),
            TensorData::Bool(d) => view(v.dims(), d),
        },
    }
}

/// Output `value` (of type `dtype`) copied out as a tensor, float16 widened.
fn output_value(name: &str, dtype: DType, value: &DynValue) -> Result<TensorValue> {
    fn take<T: ort::value::PrimitiveTensorElementType + Clone>(
        name: &str,
        value: &DynValue,
    ) -> Result<(Vec<u64>, Vec<T>)> {
        let (shape, data) =
            value.try_extract_tensor::<T>().map_err(|e| ort_error(&format!("reading output '{name}'"), e))?;
        Ok((shape.iter().map(|d| (*d).max(0) as u64).collect(), data.to_vec()))
    }
    let (dims, data) = match dtype {
        DType::Float32 => take::<f32>(name, value).map(|(d, v)| (d, TensorData::Float32(v))),
        DType::Float16 => take::<f16>(name, value).map(|(d, v)| (d, TensorData::Float16(v).widened())),
        DType::Float64 => take::<f64>(name, value).map(|(d, v)| (d, TensorData::Float64(v))),
        DType::Int32 => take::<i32>(name, value).map(|(d, v)| (d, TensorData::Int32(v))),
        DType::Int64 => take::<i64>(name, value).map(|(d, v)| (d, TensorData::Int64(v))),
        DType::Uint8 => take::<u8>(name, value).map(|(d, v)| (d, TensorData::Uint8(v))),
        DType::Bool => take::<bool>(name, value).map(|(d, v)| (d, TensorData::Bool(v))),
    }?;
    TensorValue::new(dims, data)
}

impl Model for OnnxModel {
    fn format(&self) -> ModelFormat {
        ModelFormat::Onnx
    }

    fn describe(&self) -> ModelInfo {
        ModelInfo {
            format: ModelFormat::Onnx.name().to_string(),
            inputs: self.inputs.iter().map(|i| i.info.clone()).collect(),
            outputs: self.outputs.iter().map(|o| o.info.clone()).collect(),
            operations: Vec::new(),
            signatures: Default::default(),
        }
    }

    fn input(&self, name: &str) -> Result<TensorSpec> {
        self.spec(self.find(&self.inputs, name, "input")?, "input")
    }

    fn output(&self, name: &str) -> Result<TensorSpec> {
        self.spec(self.find(&self.outputs, name, "output")?, "output")
    }

    fn batch_tensor(&self, dims: &[u64]) -> Result<Box<dyn BatchTensor>> {
        Ok(Box::new(VecBatch::new(dims)?))
    }

    fn run(&self, feeds: &[(&str, Feed<'_>)], fetches: &[&str]) -> Result<Vec<TensorValue>> {
        let mut values = Vec::with_capacity(feeds.len());
        for (name, feed) in feeds {
            self.check_feed(name, feed)?;
            if values.iter().any(|(n, _): &(String, _)| n == name) {
                return Err(SparkdlError::InvalidArgument(format!("input '{name}' is fed twice")));
            }
            values.push((name.to_string(), input_value(feed)?));
        }
        let wanted = fetches.iter().map(|f| self.output(f).map(|s| (*f, s.dtype))).collect::<Result<Vec<_>>>()?;
        let mut session = self.sessions.take();
        let outputs = session.run(values).map_err(|e| SparkdlError::ModelRun {
            about_rows: matches!(e.code(), ort::error::ErrorCode::InvalidArgument),
            message: format!("ONNX Runtime: running the model failed: {}", e.message()),
        })?;
        wanted
            .into_iter()
            .map(|(name, dtype)| match outputs.get(name) {
                Some(v) => output_value(name, dtype, v),
                None => Err(SparkdlError::Internal(format!("ONNX Runtime returned no output '{name}'"))),
            })
            .collect()
    }

    fn as_any(&self) -> &dyn std::any::Any {
        self
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backends::onnx::test_models::*;
    use crate::engine::config::GpuPlacement;

    fn run_values(m: &OnnxModel, feeds: &[(&str, TensorValue)], fetches: &[&str]) -> Result<Vec<TensorValue>> {
        let feeds: Vec<(&str, Feed)> = feeds.iter().map(|(n, v)| (*n, Feed::Value(v))).collect();
        m.run(&feeds, fetches)
    }

    #[test]
    fn runs_a_batch_and_describes_its_symbolic_dims() {
        let m = affine_model();
        let x = TensorValue::f32(&[2, 3], vec![1.0, 2.0, 3.0, -1.0, 0.5, 0.0]).unwrap();
        let out = run_values(&m, &[("x", x)], &["y"]).unwrap();
        assert_eq!(out[0].dims(), &[2, 2]);
        let mut expected = affine_expected(&[1.0, 2.0, 3.0]);
        expected.extend(affine_expected(&[-1.0, 0.5, 0.0]));
        for (g, e) in out[0].to_f64_vec().iter().zip(&expected) {
            assert!((g - e).abs() < 1e-6, "{g} vs {e}");
        }
        let info = m.describe();
        assert_eq!(info.format, "onnx");
        assert_eq!(info.inputs[0].shape, Some(vec![-1, 3]));
        assert_eq!(info.inputs[0].dim_names, vec!["batch".to_string(), String::new()]);
        assert_eq!((info.outputs[0].name.as_str(), info.outputs[0].dtype.as_str()), ("y", "float32"));
        assert_eq!(m.input("x").unwrap().dtype, DType::Float32);
    }

    #[test]
    fn a_batch_tensor_is_fed_without_a_copy() {
        let m = affine_model();
        let mut b = m.batch_tensor(&[1, 3]).unwrap();
        b.values_mut().copy_from_slice(&[1.0, 2.0, 3.0]);
        let out = m.run(&[("x", Feed::Batch(b.as_ref()))], &["y"]).unwrap();
        assert_eq!(out[0].to_f64_vec(), affine_expected(&[1.0, 2.0, 3.0]));
    }

    #[test]
    fn every_moved_type_goes_in_and_comes_out() {
        ensure_loaded();
        let cfg = EngineConfig::default();
        let load = |bytes: Vec<u8>| OnnxModel::from_bytes(&bytes, &cfg).unwrap();
        // float16 in, float16 out: read widened to float32.
        let m = load(unary_bytes(FLOAT16, "Mul", true, FLOAT16));
        let x =
            TensorValue::new(vec![1, 2], TensorData::Float16(vec![f16::from_f32(1.5), f16::from_f32(-2.0)])).unwrap();
        let out = run_values(&m, &[("x", x)], &["y"]).unwrap();
        assert_eq!(out[0].data(), &TensorData::Float32(vec![2.25, 4.0]));
        assert_eq!(m.output("y").unwrap().dtype, DType::Float16);
        // bool, int64, int32, uint8, float64: kept as they are.
        let m = load(unary_bytes(BOOL, "Not", false, BOOL));
        let x = TensorValue::new(vec![1, 2], TensorData::Bool(vec![true, false])).unwrap();
        assert_eq!(run_values(&m, &[("x", x)], &["y"]).unwrap()[0].data(), &TensorData::Bool(vec![false, true]));
        for (elem, value, expected) in [
            (INT64, TensorValue::i64(&[1, 2], vec![3, -4]).unwrap(), TensorData::Int64(vec![6, -8])),
            (INT32, TensorValue::i32(&[1, 2], vec![3, -4]).unwrap(), TensorData::Int32(vec![6, -8])),
            (UINT8, TensorValue::u8(&[1, 2], vec![3, 4]).unwrap(), TensorData::Uint8(vec![6, 8])),
            (DOUBLE, TensorValue::f64(&[1, 2], vec![0.25, 1.5]).unwrap(), TensorData::Float64(vec![0.5, 3.0])),
        ] {
            let m = load(unary_bytes(elem, "Add", true, elem));
            assert_eq!(run_values(&m, &[("x", value)], &["y"]).unwrap()[0].data(), &expected, "type {elem}");
        }
    }

    #[test]
    fn names_types_and_shapes_are_checked_before_running() {
        let m = affine_model();
        let x = TensorValue::f32(&[1, 3], vec![0.0; 3]).unwrap();
        let err = run_values(&m, &[("xx", x.clone())], &["y"]).unwrap_err().to_string();
        assert!(err.contains("input 'xx': the model has no input") && err.contains("Did you mean: x"), "{err}");
        let err = run_values(&m, &[("x", x.clone())], &["z"]).unwrap_err().to_string();
        assert!(err.contains("its outputs are: y"), "{err}");
        let err = run_values(&m, &[("x", TensorValue::f64(&[1, 3], vec![0.0; 3]).unwrap())], &["y"]).unwrap_err();
        assert_eq!(err.to_string(), "input 'x' is float32 but the value given is float64; cast the input to float32");
        let err = run_values(&m, &[("x", TensorValue::f32(&[1, 4], vec![0.0; 4]).unwrap())], &["y"]).unwrap_err();
        assert_eq!(err.to_string(), "input 'x' takes shape (?, 3) but the value has shape (1, 4)");
        let err = run_values(&m, &[("x", x.clone()), ("x", x)], &["y"]).unwrap_err().to_string();
        assert!(err.contains("fed twice"), "{err}");
    }

    #[test]
    fn a_failure_inside_onnx_runtime_is_a_model_run_error() {
        // Two inputs of the same symbolic dim fed different sizes: ONNX Runtime refuses at run time.
        ensure_loaded();
        let m = OnnxModel::from_bytes(&unary_bytes(FLOAT, "Add", true, FLOAT), &EngineConfig::default()).unwrap();
        let err = run_values(&m, &[], &["y"]).unwrap_err();
        match err {
            SparkdlError::ModelRun { message, .. } => assert!(message.starts_with("ONNX Runtime:"), "{message}"),
            other => panic!("expected a run error, got {other}"),
        }
    }

    #[test]
    fn bad_model_bytes_are_explained() {
        ensure_loaded();
        let err = OnnxModel::from_bytes(b"", &EngineConfig::default()).unwrap_err().to_string();
        assert!(err.contains("empty"), "{err}");
        let err = OnnxModel::from_bytes(b"\x0a\xff\xff not a model", &EngineConfig::default()).unwrap_err();
        assert!(err.to_string().contains("could not load the model"), "{err}");
    }

    #[test]
    fn settings_become_session_options() {
        ensure_loaded();
        let cfg = EngineConfig {
            intra_op_threads: 2,
            inter_op_threads: 1,
            thread_spinning: false,
            onnx: crate::engine::config::OnnxOptions { optimization_level: OptimizationLevel::Basic, sessions: 1 },
            ..EngineConfig::default()
        };
        let m = OnnxModel::from_bytes(&affine_bytes(), &cfg).unwrap();
        let x = TensorValue::f32(&[1, 3], vec![1.0, 2.0, 3.0]).unwrap();
        assert_eq!(run_values(&m, &[("x", x)], &["y"]).unwrap()[0].to_f64_vec(), affine_expected(&[1.0, 2.0, 3.0]));
        let bf16 = EngineConfig { precision: Precision::Bf16, ..EngineConfig::default() };
        let err = OnnxModel::from_bytes(&affine_bytes(), &bf16).unwrap_err().to_string();
        assert!(err.contains("precision bf16 is TensorFlow's"), "{err}");
    }

    fn sessions(n: u32, threads: i32) -> EngineConfig {
        EngineConfig {
            intra_op_threads: threads,
            onnx: crate::engine::config::OnnxOptions { sessions: n, ..Default::default() },
            ..EngineConfig::default()
        }
    }

    #[test]
    fn the_executors_threads_are_split_between_a_models_sessions() {
        assert_eq!(session_threads(&sessions(1, 4)), vec![4]);
        assert_eq!(session_threads(&sessions(1, 0)), vec![0], "one session keeps the runtime's default");
        assert_eq!(session_threads(&sessions(2, 2)), vec![1, 1]);
        assert_eq!(session_threads(&sessions(3, 8)), vec![3, 3, 2]);
        assert_eq!(session_threads(&sessions(4, 2)), vec![1, 1], "never more sessions than threads");
        assert_eq!(session_threads(&sessions(0, 2)), vec![2], "0 is read as 1");
        let cores = std::thread::available_parallelism().unwrap().get() as i32;
        assert_eq!(session_threads(&sessions(2, 0)).iter().sum::<i32>(), cores, "the machine's cores split");
        let on_gpu = EngineConfig {
            gpu: Some(GpuPlacement { visible_devices: String::new(), index: 0, ordinal: 0 }),
            ..sessions(4, 8)
        };
        assert_eq!(session_threads(&on_gpu), vec![8], "a GPU gets one session");
    }

    #[test]
    fn a_run_waits_for_a_session_and_every_session_comes_back() {
        let pool = std::sync::Arc::new(SessionPool::new(vec![1, 2]));
        let a = pool.take();
        let b = pool.take();
        assert_eq!(*a + *b, 3);
        let (sent, got) = std::sync::mpsc::channel();
        let waiter = {
            let pool = pool.clone();
            std::thread::spawn(move || {
                let s = pool.take();
                sent.send(*s).unwrap();
            })
        };
        assert!(got.try_recv().is_err(), "both sessions are taken: the third run waits");
        let given_back = *b;
        drop(b);
        assert_eq!(got.recv().unwrap(), given_back, "it runs on the session given back");
        waiter.join().unwrap();
        drop(a);
        assert_eq!(pool.idle().len(), 2);
    }

    #[test]
    fn concurrent_runs_of_a_pooled_model_agree() {
        ensure_loaded();
        let m = std::sync::Arc::new(OnnxModel::from_bytes(&affine_bytes(), &sessions(2, 2)).unwrap());
        assert_eq!(m.sessions(), 2);
        let runs: Vec<_> = (0..4)
            .map(|i| {
                let m = m.clone();
                std::thread::spawn(move || {
                    let row = [i as f32, 1.0, -2.0];
                    for _ in 0..50 {
                        let x = TensorValue::f32(&[1, 3], row.to_vec()).unwrap();
                        let y = run_values(&m, &[("x", x)], &["y"]).unwrap()[0].to_f64_vec();
                        assert!(y.iter().zip(affine_expected(&row)).all(|(g, e)| (g - e).abs() < 1e-5), "{y:?}");
                    }
                })
            })
            .collect();
        for r in runs {
            r.join().unwrap();
        }
        assert_eq!(m.sessions.idle().len(), 2);
    }

    #[test]
    fn a_gpu_task_asks_for_cuda_on_its_device_and_fails_clearly_without_it() {
        let gpu = |ordinal| EngineConfig {
            gpu: Some(GpuPlacement { visible_devices: "0,1".into(), index: ordinal, ordinal }),
            ..EngineConfig::default()
        };
        assert!(execution_providers(&EngineConfig::default()).is_none(), "the CPU needs no provider");
        let eps = execution_providers(&gpu(1)).unwrap();
        assert_eq!(eps.len(), 1);
        assert_eq!(eps[0].name(), "CUDAExecutionProvider");
        let options = format!("{:?}", cuda(&gpu(1)).unwrap());
        assert!(options.contains("device_id") && options.contains("\"1\""), "{options}");
        // The CPU wheel has no CUDA provider: a GPU task fails, naming what to install.
        ensure_loaded();
        let err = OnnxModel::from_bytes(&affine_bytes(), &gpu(0)).unwrap_err().to_string();
        assert!(err.contains("onnxruntime-gpu"), "{err}");
    }
}
