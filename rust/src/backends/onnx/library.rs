//! ONNX Runtime, loaded at run time from a file the JVM names (the
//! `onnxruntime` wheel's `libonnxruntime.so.1.*`, or
//! `spark.sparkdl.onnx.libPath`), once per process, through the `ort`
//! crate's dynamic loading: nothing is downloaded or linked at build time.
//! One ONNX Runtime environment per process ([`environment`]), which every
//! session shares; its log goes to sparkdl's native log.

use std::ffi::CStr;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use once_cell::sync::OnceCell;
use ort::environment::Environment;
use ort::logging::LogLevel;

use crate::errors::{Result, SparkdlError};

/// The oldest ONNX Runtime accepted: the crate's `api-22` feature.
pub const MIN_VERSION: &str = "1.22";

struct Loaded {
    path: PathBuf,
    version: String,
    env: Environment,
}

static LOADED: OnceCell<Loaded> = OnceCell::new();
static LOADING: Mutex<()> = Mutex::new(());

/// Loads ONNX Runtime from `path` (an absolute path to the shared library)
/// unless it is loaded already; returns its version. A second, different
/// file is refused: a process holds one ONNX Runtime.
pub fn load(path: &Path) -> Result<String> {
    let _turn = LOADING.lock().unwrap_or_else(|p| p.into_inner());
    if let Some(l) = LOADED.get() {
        if same_file(&l.path, path) {
            return Ok(l.version.clone());
        }
        return Err(SparkdlError::InvalidArgument(format!(
            "ONNX Runtime {} is already loaded from {}; this process cannot load a second one from {}",
            l.version,
            l.path.display(),
            path.display()
        )));
    }
    // The crate resolves a relative path against the java binary's folder: only absolute ones.
    if !path.is_absolute() || !path.is_file() {
        return Err(SparkdlError::InvalidArgument(format!(
            "ONNX Runtime library {} is not an absolute path to a file (set spark.sparkdl.onnx.libPath to \
             libonnxruntime.so.1.* from the onnxruntime wheel, or install onnxruntime for the Python Spark uses)",
            path.display()
        )));
    }
    let version = version_of(path)?;
    let builder = ort::init_from(path).map_err(|e| match e {
        ort::LoadDynamicError::BadVersion { version_str, .. } => SparkdlError::InvalidArgument(format!(
            "{} is ONNX Runtime {version_str}; sparkdl needs {MIN_VERSION} or later (pip install 'onnxruntime>=1.22')",
            path.display()
        )),
        other => SparkdlError::Backend(format!("ONNX Runtime: could not load {}: {other}", path.display())),
    })?;
    let env = builder
        .with_name("sparkdl")
        .with_telemetry(false)
        .with_logger(Arc::new(forward_log))
        .build()
        .map_err(|e| SparkdlError::Backend(format!("ONNX Runtime: could not create its environment: {e}")))?;
    env.set_log_level(LogLevel::Warning);
    let _ = LOADED.set(Loaded { path: path.to_path_buf(), version: version.clone(), env });
    log::info!("loaded ONNX Runtime {version} from {}", path.display());
    Ok(version)
}

/// The version of the ONNX Runtime loaded, if one is.
pub fn version() -> Option<String> {
    LOADED.get().map(|l| l.version.clone())
}

/// The process's environment, or an error saying ONNX Runtime is not loaded
/// (no `ort` call may come before: the crate would try a default library).
pub fn environment() -> Result<&'static Environment> {
    LOADED.get().map(|l| &l.env).ok_or_else(|| {
        SparkdlError::InvalidArgument(
            "ONNX Runtime is not loaded in this process: the JVM loads it when an ONNX model is first used \
             (NativeLib.initBackend); set spark.sparkdl.onnx.libPath or install onnxruntime"
                .into(),
        )
    })
}

/// The library's own version string ("1.32.0"), read before the crate takes
/// the library: the crate only says whether it is new enough.
fn version_of(path: &Path) -> Result<String> {
    let fail = |what: String| SparkdlError::Backend(format!("ONNX Runtime: {}: {what}", path.display()));
    // SAFETY: loading ONNX Runtime runs its initialisers, which expect nothing of the process; the
    // symbol has the C API's documented signature, and the string it returns is static.
    unsafe {
        let lib = libloading::Library::new(path).map_err(|e| fail(format!("could not load it: {e}")))?;
        let get: libloading::Symbol<unsafe extern "C" fn() -> *const ort::sys::OrtApiBase> = lib
            .get(b"OrtGetApiBase\0")
            .map_err(|_| fail("it has no OrtGetApiBase: not an ONNX Runtime library".into()))?;
        let base = get();
        if base.is_null() {
            return Err(fail("OrtGetApiBase returned nothing".into()));
        }
        let text = ((*base).GetVersionString)();
        let version = if text.is_null() { String::new() } else { CStr::from_ptr(text).to_string_lossy().into_owned() };
        // The crate opens the same file next; the loader keeps it mapped.
        std::mem::forget(lib);
        Ok(version)
    }
}

fn same_file(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

fn forward_log(level: LogLevel, category: &str, _id: &str, location: &str, message: &str) {
    match level {
        LogLevel::Fatal | LogLevel::Error => log::error!("ONNX Runtime [{category}] {message} ({location})"),
        LogLevel::Warning => log::warn!("ONNX Runtime [{category}] {message}"),
        LogLevel::Info => log::info!("ONNX Runtime [{category}] {message}"),
        LogLevel::Verbose => log::debug!("ONNX Runtime [{category}] {message}"),
    }
}
