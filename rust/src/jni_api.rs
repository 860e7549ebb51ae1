//! The whole JNI surface: the `native` methods of `org.sparkdl.jni.NativeLib`.
//! Plain values in and out (strings, addresses of Arrow C structs, row
//! counts); each body runs under `try_or_throw`, so failures arrive in Java as
//! exceptions with the reason.

use std::path::Path;

use arrow::array::{Array, StructArray};
use jni::objects::{JByteArray, JClass, JFloatArray, JIntArray, JLongArray, JString};
use jni::sys::{jbyteArray, jlong, jstring};
use jni::JNIEnv;
use serde::{Deserialize, Serialize};

use crate::arrow_io::{export_struct, import_struct};
use crate::backends::tensorflow::freeze::freeze_loaded;
use crate::backends::tensorflow::model::TfModel;
use crate::backends::{self, LoadSpec};
use crate::engine::cache::{self, SharedModel};
use crate::engine::config::EngineConfig;
use crate::engine::{Backend, ModelFormat};
use crate::errors::{install_panic_hook, try_or_throw, Result, SparkdlError};
use crate::logging;
use crate::models;
use crate::ops::decode_images::{decode_batch, DecodeConfig};
use crate::ops::decode_pool;
use crate::ops::run_model::{run_batch, RunSpec};
use crate::similarity::{self, Metric, Tiles};

/// The settings of `init` (JSON from the JVM's `org.sparkdl.engine.InitConfig`).
#[derive(Debug, Default, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct InitConfig {
    #[serde(default)]
    pub log_level: Option<String>,
    /// How long an unused model session stays loaded (default 60).
    #[serde(default)]
    pub session_idle_seconds: Option<f64>,
    /// The executor's cores: the decode pool's threads (0: the process's CPUs).
    #[serde(default)]
    pub executor_cores: u32,
}

fn read_string(env: &mut JNIEnv, s: &JString) -> Result<String> {
    if s.is_null() {
        return Ok(String::new());
    }
    Ok(env.get_string(s)?.into())
}

fn new_string(env: &mut JNIEnv, s: &str) -> Result<jstring> {
    Ok(env.new_string(s)?.into_raw())
}

/// One batch operation: imports the input first (from then on Rust owns it and
/// releases it on every path, errors included), runs `op`, exports the result
/// and returns its row count.
///
/// # Safety
/// The four addresses must be the JVM's ArrowArray/ArrowSchema structs for
/// this call (see `arrow_io`).
unsafe fn batch_call(
    in_array: jlong,
    in_schema: jlong,
    out_array: jlong,
    out_schema: jlong,
    op: impl FnOnce(&StructArray) -> Result<StructArray>,
) -> Result<jlong> {
    let input = import_struct(in_array, in_schema)?;
    let output = op(&input)?;
    drop(input);
    export_struct(&output, out_array, out_schema)?;
    Ok(output.len() as jlong)
}

/// `static native String init(String confJson)`: installs the logger and the
/// panic hook; returns a JSON description of the native library.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_init(
    mut env: JNIEnv,
    _class: JClass,
    conf_json: JString,
) -> jstring {
    try_or_throw(&mut env, std::ptr::null_mut(), |env| {
        let json = read_string(env, &conf_json)?;
        let conf: InitConfig =
            if json.trim().is_empty() { InitConfig::default() } else { serde_json::from_str(&json)? };
        logging::init(conf.log_level.as_deref().unwrap_or("warn"));
        install_panic_hook();
        if let Some(s) = conf.session_idle_seconds {
            if !(s.is_finite() && s >= 0.0) {
                return Err(SparkdlError::InvalidArgument(format!(
                    "spark.sparkdl.engine.sessionIdleSeconds must be a number of seconds >= 0, got {s}"
                )));
            }
            cache::set_ttl(std::time::Duration::from_secs_f64(s));
        }
        decode_pool::set_threads(conf.executor_cores as usize);
        cache::start_reaper();
        let info = serde_json::json!({ "native": env!("CARGO_PKG_VERSION") });
        new_string(env, &info.to_string())
    })
}

/// `static native String initBackend(String backend, String libPath)`: loads
/// the backend's library (TensorFlow: the folder with its two libraries; ONNX
/// Runtime: the library file) unless loaded; returns its version.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_initBackend(
    mut env: JNIEnv,
    _class: JClass,
    backend: JString,
    lib_path: JString,
) -> jstring {
    try_or_throw(&mut env, std::ptr::null_mut(), |env| {
        let backend = Backend::from_name(&read_string(env, &backend)?)?;
        let path = read_string(env, &lib_path)?;
        let version = backends::init(backend, Path::new(&path))?;
        new_string(env, &version)
    })
}

/// `static native String backendVersion(String backend)`: the loaded
/// library's version, or null when this process has not loaded it.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_backendVersion(
    mut env: JNIEnv,
    _class: JClass,
    backend: JString,
) -> jstring {
    try_or_throw(&mut env, std::ptr::null_mut(), |env| {
        let backend = Backend::from_name(&read_string(env, &backend)?)?;
        match backends::version(backend) {
            Some(v) => new_string(env, &v),
            None => Ok(std::ptr::null_mut()),
        }
    })
}

/// `static native long decodeImages(long inArray, long inSchema, long outArray,
/// long outSchema, String optionsJson)`: decodes a batch of (origin, content)
/// rows into Spark image structs; returns the number of rows written.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_decodeImages(
    mut env: JNIEnv,
    _class: JClass,
    in_array: jlong,
    in_schema: jlong,
    out_array: jlong,
    out_schema: jlong,
    options_json: JString,
) -> jlong {
    try_or_throw(&mut env, -1, |env| {
        let options = read_string(env, &options_json)?;
        // SAFETY: the addresses come from ArrowArray/ArrowSchema structs the
        // JVM allocated and exported for this call (NativeBatchRunner).
        unsafe {
            batch_call(in_array, in_schema, out_array, out_schema, |input| {
                decode_batch(input, &DecodeConfig::from_json(&options)?)
            })
        }
    })
}

/// `static native void failForTest(String kind)`: makes the native side fail
/// on purpose ("error" or "panic") so tests can prove the exception path.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_failForTest(mut env: JNIEnv, _class: JClass, kind: JString) {
    try_or_throw(&mut env, (), |env| {
        let kind = read_string(env, &kind)?;
        match kind.as_str() {
            "panic" => panic!("deliberate panic requested by failForTest"),
            "error" => Err(SparkdlError::InvalidArgument("deliberate error requested by failForTest".into())),
            other => Err(SparkdlError::InvalidArgument(format!(
                "failForTest: unknown kind '{other}' (use \"error\" or \"panic\")"
            ))),
        }
    })
}

// ---- Models -------------------------------------------------------------
//
// A model handle is `Box<SharedModel>` turned into a jlong: one user of a
// model shared through `engine::cache`. The JVM gives each handle back exactly
// once with `releaseModel` (`org.sparkdl.engine.ModelHandles` owns that).

fn model_of<'a>(handle: jlong) -> Result<&'a SharedModel> {
    if handle == 0 {
        return Err(SparkdlError::InvalidArgument("model handle is 0 (released or never loaded)".into()));
    }
    // SAFETY: non-zero handles come from `into_handle` and stay valid until
    // `releaseModel`, which the JVM calls once, after its last use.
    Ok(unsafe { &*(handle as *const SharedModel) })
}

fn into_handle(model: SharedModel) -> jlong {
    Box::into_raw(Box::new(model)) as jlong
}

/// `static native long loadModel(String loadSpecJson, byte[] bytes)`: the
/// model of any format (`LoadSpec`), from `bytes` or the spec's folder, or this
/// JVM's loaded one for the same key and settings.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_loadModel(
    mut env: JNIEnv,
    _class: JClass,
    spec_json: JString,
    bytes: JByteArray,
) -> jlong {
    try_or_throw(&mut env, 0, |env| {
        let spec = LoadSpec::from_json(&read_string(env, &spec_json)?)?;
        let model = cache::acquire(&spec.key, &spec.config, || {
            let bytes = if bytes.is_null() { None } else { Some(env.convert_byte_array(&bytes)?) };
            backends::load(&spec, bytes.as_deref())
        })?;
        Ok(into_handle(model))
    })
}

/// `static native long acquireLoaded(String loadSpecJson)`: this JVM's model
/// for the spec's key and settings when it is loaded already, else 0.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_acquireLoaded(
    mut env: JNIEnv,
    _class: JClass,
    spec_json: JString,
) -> jlong {
    try_or_throw(&mut env, 0, |env| {
        let spec = LoadSpec::from_json(&read_string(env, &spec_json)?)?;
        Ok(cache::acquire_loaded(&spec.key, &spec.config).map_or(0, into_handle))
    })
}

/// `static native String describeModel(long handle)`.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_describeModel(
    mut env: JNIEnv,
    _class: JClass,
    handle: jlong,
) -> jstring {
    try_or_throw(&mut env, std::ptr::null_mut(), |env| {
        let info = model_of(handle)?.describe();
        let json = serde_json::to_string(&info)?;
        new_string(env, &json)
    })
}

/// `static native String inspectModel(String format, byte[] bytes)`: what a
/// model names without loading it: `{"externalData": [...]}`, an ONNX model's
/// external data files, each checked to stay inside the model's folder.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_inspectModel(
    mut env: JNIEnv,
    _class: JClass,
    format: JString,
    bytes: JByteArray,
) -> jstring {
    try_or_throw(&mut env, std::ptr::null_mut(), |env| {
        let format = ModelFormat::from_name(&read_string(env, &format)?)?;
        if bytes.is_null() {
            return Err(SparkdlError::InvalidArgument("inspectModel: no bytes".into()));
        }
        let bytes = env.convert_byte_array(&bytes)?;
        let external = match format {
            ModelFormat::Onnx => {
                let names = crate::backends::onnx::proto::external_data_locations(&bytes)?;
                for n in &names {
                    crate::backends::onnx::proto::check_external_location(n)?;
                }
                names
            }
            _ => Vec::new(),
        };
        new_string(env, &serde_json::json!({ "externalData": external }).to_string())
    })
}

/// `static native long runModel(long handle, long inArray, long inSchema, long outArray,
/// long outSchema, String runSpecJson)`.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_runModel(
    mut env: JNIEnv,
    _class: JClass,
    handle: jlong,
    in_array: jlong,
    in_schema: jlong,
    out_array: jlong,
    out_schema: jlong,
    spec_json: JString,
) -> jlong {
    try_or_throw(&mut env, -1, |env| {
        let spec = read_string(env, &spec_json)?;
        // SAFETY: as in decodeImages.
        unsafe {
            batch_call(in_array, in_schema, out_array, out_schema, |input| {
                run_batch(model_of(handle)?.as_ref(), input, &RunSpec::from_json(&spec)?)
            })
        }
    })
}

/// `static native void releaseModel(long handle)`.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_releaseModel(mut env: JNIEnv, _class: JClass, handle: jlong) {
    try_or_throw(&mut env, (), |_| {
        if handle != 0 {
            // SAFETY: see `model_of`; this is the handle's single release.
            let model = unsafe { Box::from_raw(handle as *mut SharedModel) };
            cache::release(*model);
        }
        Ok(())
    })
}

/// `static native byte[] freezeGraph(long handle, String outputsJson)`.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_freezeGraph(
    mut env: JNIEnv,
    _class: JClass,
    handle: jlong,
    outputs_json: JString,
) -> jbyteArray {
    try_or_throw(&mut env, std::ptr::null_mut(), |env| {
        let outputs: Vec<String> = serde_json::from_str(&read_string(env, &outputs_json)?)?;
        let names: Vec<&str> = outputs.iter().map(String::as_str).collect();
        let model = model_of(handle)?;
        let tf = model.as_any().downcast_ref::<TfModel>().ok_or_else(|| {
            SparkdlError::InvalidArgument(format!(
                "freezeGraph: the model is {}, not a TensorFlow graph; only TensorFlow graphs are frozen",
                model.format().name()
            ))
        })?;
        let frozen = freeze_loaded(tf, &names)?;
        Ok(env.byte_array_from_slice(&frozen)?.into_raw())
    })
}

/// `static native byte[] buildModel(String name, String format, String weightsPath)`:
/// pretrained model `name` (see `models::MODEL_NAMES`) built from the PyTorch
/// weights file at `weightsPath`, serialised as `format` ("graphdef": a frozen
/// TensorFlow graph, built with TensorFlow's graph API; "onnx": an ONNX model,
/// which needs no backend).
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_buildModel(
    mut env: JNIEnv,
    _class: JClass,
    name: JString,
    format: JString,
    weights_path: JString,
) -> jbyteArray {
    try_or_throw(&mut env, std::ptr::null_mut(), |env| {
        let name = read_string(env, &name)?;
        let format = ModelFormat::from_name(&read_string(env, &format)?)?;
        let weights_path = read_string(env, &weights_path)?;
        if weights_path.is_empty() {
            return Err(SparkdlError::InvalidArgument(format!("buildModel: no weights file given for model '{name}'")));
        }
        if format == ModelFormat::GraphDef {
            crate::backends::tensorflow::library::require()?;
        }
        let model = models::build_named(&name, format, Path::new(&weights_path))?;
        Ok(env.byte_array_from_slice(&model)?.into_raw())
    })
}

// ---- Similarity ---------------------------------------------------------

/// `static native void searchNeighbors(float[] queries, float[] index, int dim, long indexOffset,
/// int k, String metric, long[] outPositions, float[] outScores, int[] outCounts)`: the best `k`
/// index rows for each query row (`similarity::search`). Query `q`'s list goes to
/// `out*[q * k ..]`, best first, `outCounts[q]` long. The blocks are dense arrays the JVM
/// assembled itself, copied in (the copy is a small part of the matrix product it feeds).
#[no_mangle]
#[allow(clippy::too_many_arguments)]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_searchNeighbors(
    mut env: JNIEnv,
    _class: JClass,
    queries: JFloatArray,
    index: JFloatArray,
    dim: jni::sys::jint,
    index_offset: jlong,
    k: jni::sys::jint,
    metric: JString,
    out_positions: JLongArray,
    out_scores: JFloatArray,
    out_counts: JIntArray,
) {
    try_or_throw(&mut env, (), |env| {
        let metric: Metric = read_string(env, &metric)?.parse()?;
        if k < 1 {
            return Err(SparkdlError::InvalidArgument(format!("searchNeighbors: k ({k}) must be at least 1")));
        }
        let k = k as usize;
        let (queries, index, dim, offset) = read_blocks(env, "searchNeighbors", &queries, &index, dim, index_offset)?;
        let found = similarity::search(&queries, &index, dim, offset, k, metric, Tiles::default())?;
        let room = found.len() * k;
        for (what, len) in [
            ("outPositions", env.get_array_length(&out_positions)? as usize),
            ("outScores", env.get_array_length(&out_scores)? as usize),
        ] {
            if len < room {
                return Err(SparkdlError::InvalidArgument(format!(
                    "searchNeighbors: {what} holds {len} values, fewer than queries x k = {room}"
                )));
            }
        }
        if (env.get_array_length(&out_counts)? as usize) < found.len() {
            return Err(SparkdlError::InvalidArgument(format!(
                "searchNeighbors: outCounts holds fewer values than the {} queries",
                found.len()
            )));
        }
        let mut positions = vec![0i64; room];
        let mut scores = vec![0f32; room];
        let mut counts = vec![0i32; found.len()];
        for (q, list) in found.into_iter().enumerate() {
            let sorted = list.into_sorted();
            counts[q] = sorted.len() as i32;
            for (j, (position, score)) in sorted.into_iter().enumerate() {
                positions[q * k + j] = position as i64;
                scores[q * k + j] = score;
            }
        }
        env.set_long_array_region(&out_positions, 0, &positions)?;
        env.set_float_array_region(&out_scores, 0, &scores)?;
        env.set_int_array_region(&out_counts, 0, &counts)?;
        Ok(())
    })
}

/// `static native Object[] searchAbove(float[] queries, float[] index, int dim, long indexOffset,
/// float threshold)`: every (query row, index row) pair with cosine similarity at least
/// `threshold` (`similarity::search_above`), as `{int[] queryRows, long[] positions, float[] scores}`.
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_searchAbove(
    mut env: JNIEnv,
    _class: JClass,
    queries: JFloatArray,
    index: JFloatArray,
    dim: jni::sys::jint,
    index_offset: jlong,
    threshold: jni::sys::jfloat,
) -> jni::sys::jobjectArray {
    try_or_throw(&mut env, std::ptr::null_mut(), |env| {
        let (queries, index, dim, offset) = read_blocks(env, "searchAbove", &queries, &index, dim, index_offset)?;
        let found = similarity::search_above(&queries, &index, dim, offset, threshold, Tiles::default())?;
        let (mut rows, mut positions, mut scores) = (Vec::new(), Vec::new(), Vec::new());
        for (q, pairs) in found.into_iter().enumerate() {
            for (position, score) in pairs {
                rows.push(q as i32);
                positions.push(position as i64);
                scores.push(score);
            }
        }
        let n = rows.len() as i32;
        let (rows_out, positions_out, scores_out) =
            (env.new_int_array(n)?, env.new_long_array(n)?, env.new_float_array(n)?);
        env.set_int_array_region(&rows_out, 0, &rows)?;
        env.set_long_array_region(&positions_out, 0, &positions)?;
        env.set_float_array_region(&scores_out, 0, &scores)?;
        let out = env.new_object_array(3, "java/lang/Object", jni::objects::JObject::null())?;
        env.set_object_array_element(&out, 0, rows_out)?;
        env.set_object_array_element(&out, 1, positions_out)?;
        env.set_object_array_element(&out, 2, scores_out)?;
        Ok(out.into_raw())
    })
}

/// `static native float[] imageSignature(byte[] data, int height, int width, int channels)`:
/// the copy-detection signature of one 8-bit image as Spark's image struct holds it
/// (`similarity::signature`): 576 floats, unit norm (all zero for a flat image).
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_imageSignature(
    mut env: JNIEnv,
    _class: JClass,
    data: JByteArray,
    height: jni::sys::jint,
    width: jni::sys::jint,
    channels: jni::sys::jint,
) -> jni::sys::jfloatArray {
    try_or_throw(&mut env, std::ptr::null_mut(), |env| {
        if height < 0 || width < 0 || channels < 0 {
            return Err(SparkdlError::InvalidArgument(format!(
                "imageSignature: height ({height}), width ({width}) and channels ({channels}) must not be negative"
            )));
        }
        let bytes = env.convert_byte_array(&data)?;
        let values = similarity::signature::signature(&bytes, height as usize, width as usize, channels as usize)?;
        let out = env.new_float_array(values.len() as i32)?;
        env.set_float_array_region(&out, 0, &values)?;
        Ok(out.into_raw())
    })
}

/// The arguments both similarity entries take: the two blocks copied in, `dim` and the offset,
/// checked for the signs the kernel's unsigned types cannot hold.
fn read_blocks(
    env: &mut JNIEnv,
    entry: &str,
    queries: &JFloatArray,
    index: &JFloatArray,
    dim: jni::sys::jint,
    index_offset: jlong,
) -> Result<(Vec<f32>, Vec<f32>, usize, u64)> {
    if dim < 1 || index_offset < 0 {
        return Err(SparkdlError::InvalidArgument(format!(
            "{entry}: dim ({dim}) must be at least 1 and indexOffset ({index_offset}) at least 0"
        )));
    }
    let read = |array: &JFloatArray| -> Result<Vec<f32>> {
        let mut values = vec![0f32; env.get_array_length(array)? as usize];
        env.get_float_array_region(array, 0, &mut values)?;
        Ok(values)
    };
    Ok((read(queries)?, read(index)?, dim as usize, index_offset as u64))
}

/// `static native String echoConfig(String kind, String json)`: parses `json`
/// as the native side's structure `kind` ("init", "engine", "load", "run",
/// "decode") and writes it back, so the JVM's tests can check that what it
/// builds is read field for field (a renamed field fails there, not on an
/// executor).
#[no_mangle]
pub extern "system" fn Java_org_sparkdl_jni_NativeLib_echoConfig(
    mut env: JNIEnv,
    _class: JClass,
    kind: JString,
    json: JString,
) -> jstring {
    try_or_throw(&mut env, std::ptr::null_mut(), |env| {
        let kind = read_string(env, &kind)?;
        let json = read_string(env, &json)?;
        let out = echo(&kind, &json)?;
        new_string(env, &out)
    })
}

fn echo(kind: &str, json: &str) -> Result<String> {
    Ok(match kind {
        "init" => serde_json::to_string(&serde_json::from_str::<InitConfig>(json)?)?,
        "engine" => serde_json::to_string(&EngineConfig::from_json(json)?)?,
        "load" => serde_json::to_string(&LoadSpec::from_json(json)?)?,
        "run" => serde_json::to_string(&RunSpec::from_json(json)?)?,
        "decode" => serde_json::to_string(&DecodeConfig::from_json(json)?)?,
        other => {
            return Err(SparkdlError::InvalidArgument(format!(
                "echoConfig: unknown kind '{other}' (init, engine, load, run, decode)"
            )))
        }
    })
}
