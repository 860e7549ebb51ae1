//! libtensorflow, loaded at run time (the `tensorflow` crate's runtime
//! linking), only when a TensorFlow model is first used: the native library
//! itself does not need it, so reading images and running ONNX models work
//! where TensorFlow is not installed.
//!
//! The TensorFlow wheel's C API lives in `libtensorflow_cc.so.2`, which
//! needs `libtensorflow_framework.so.2` beside it. The crate's loader looks
//! for a file named `libtensorflow.so` in the folder `TENSORFLOW_DIR` names,
//! so [`load`] makes a private folder with that link (and one to the
//! framework, for the loader's `$ORIGIN` lookup), loads the framework by its
//! absolute path first, points `TENSORFLOW_DIR` there and loads. The
//! variable is set once per process, under a lock, before any TensorFlow
//! code exists in it (the JVM reads its environment only at start).

use std::path::{Path, PathBuf};
use std::sync::Mutex;

use once_cell::sync::OnceCell;

use crate::errors::{Result, SparkdlError};

/// The two libraries of the TensorFlow wheel, in load order.
pub const LIBRARIES: [&str; 2] = ["libtensorflow_framework.so.2", "libtensorflow_cc.so.2"];

/// (the folder it came from, its version) once loaded.
static LOADED: OnceCell<(PathBuf, String)> = OnceCell::new();
static LOADING: Mutex<()> = Mutex::new(());

/// Loads libtensorflow from `dir` (the folder holding [`LIBRARIES`]) unless
/// it is loaded already; returns its version. A second folder is refused:
/// a process holds one TensorFlow.
pub fn load(dir: &Path) -> Result<String> {
    let _turn = LOADING.lock().unwrap_or_else(|p| p.into_inner());
    if let Some((from, version)) = LOADED.get() {
        if same_folder(from, dir) {
            return Ok(version.clone());
        }
        return Err(SparkdlError::InvalidArgument(format!(
            "TensorFlow {version} is already loaded from {}; this process cannot load a second one from {}",
            from.display(),
            dir.display()
        )));
    }
    for name in LIBRARIES {
        if !dir.join(name).is_file() {
            return Err(SparkdlError::InvalidArgument(format!(
                "no {name} in {} (the folder must hold {} from the tensorflow-cpu or tensorflow wheel)",
                dir.display(),
                LIBRARIES.join(" and ")
            )));
        }
    }
    let links = link_folder(dir)?;
    // SAFETY: loading a library runs its initialisers; these are TensorFlow's own,
    // which expect nothing of the process beyond a C++ runtime.
    let framework = unsafe { libloading::Library::new(dir.join(LIBRARIES[0])) }.map_err(|e| {
        SparkdlError::Backend(format!("TensorFlow: could not load {}: {e}", dir.join(LIBRARIES[0]).display()))
    })?;
    // Kept for the life of the process: TensorFlow's code is never unloaded.
    std::mem::forget(framework);
    std::env::set_var("TENSORFLOW_DIR", &links);
    tensorflow::library::load().map_err(|e| {
        SparkdlError::Backend(format!("TensorFlow: could not load {}: {e}", dir.join(LIBRARIES[1]).display()))
    })?;
    let version = tensorflow::version()
        .map_err(|e| SparkdlError::Backend(format!("TensorFlow: TF_Version() returned non-UTF-8 text: {e}")))?;
    let _ = LOADED.set((dir.to_path_buf(), version.clone()));
    log::info!("loaded TensorFlow {version} from {}", dir.display());
    Ok(version)
}

/// The version of the TensorFlow loaded, if one is.
pub fn version() -> Option<String> {
    LOADED.get().map(|(_, v)| v.clone())
}

/// Fails, saying what to do, unless TensorFlow is loaded: TensorFlow code
/// must not run before (the crate would panic).
pub fn require() -> Result<()> {
    if LOADED.get().is_some() {
        Ok(())
    } else {
        Err(SparkdlError::InvalidArgument(
            "TensorFlow is not loaded in this process: the JVM loads it when a TensorFlow model is first used \
             (NativeLib.initBackend); set spark.sparkdl.tensorflow.libDir or install tensorflow-cpu"
                .into(),
        ))
    }
}

fn same_folder(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// A private folder with `libtensorflow.so` -> the C API library and the
/// framework beside it.
fn link_folder(dir: &Path) -> Result<PathBuf> {
    let io = |what: &str, e: std::io::Error| SparkdlError::Backend(format!("TensorFlow: {what}: {e}"));
    let base = std::env::temp_dir().join(format!("sparkdl-tensorflow-{}", std::process::id()));
    let _ = std::fs::remove_dir_all(&base);
    std::fs::create_dir_all(&base).map_err(|e| io(&format!("could not create {}", base.display()), e))?;
    let abs = dir.canonicalize().map_err(|e| io(&format!("could not resolve {}", dir.display()), e))?;
    for (link, target) in
        [("libtensorflow.so", LIBRARIES[1]), (LIBRARIES[0], LIBRARIES[0]), (LIBRARIES[1], LIBRARIES[1])]
    {
        std::os::unix::fs::symlink(abs.join(target), base.join(link))
            .map_err(|e| io(&format!("could not link {target} into {}", base.display()), e))?;
    }
    Ok(base)
}
