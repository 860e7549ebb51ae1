//! The executor's decode pool: the rows of a batch are decoded and
//! preprocessed into their slots of the batch tensor by a fixed set of
//! threads, one per executor core, shared by every task of the process (so
//! concurrent tasks do not each spawn threads for all cores). The JVM passes
//! the executor's cores in the session settings (`intraOpThreads`); before a
//! model session has said so, the pool takes the cores the process may use.
//! The pool is built once, on its first use.

use std::sync::atomic::{AtomicUsize, Ordering};

use once_cell::sync::OnceCell;
use rayon::ThreadPool;

use crate::errors::{Result, SparkdlError};

static THREADS: AtomicUsize = AtomicUsize::new(0);
static POOL: OnceCell<ThreadPool> = OnceCell::new();

/// Sizes the pool to the executor's cores; the first positive size wins, and
/// a pool already built keeps its size.
pub fn set_threads(n: usize) {
    if n > 0 {
        let _ = THREADS.compare_exchange(0, n, Ordering::SeqCst, Ordering::SeqCst);
    }
}

fn wanted() -> usize {
    match THREADS.load(Ordering::SeqCst) {
        0 => std::thread::available_parallelism().map(|n| n.get()).unwrap_or(1),
        n => n,
    }
}

/// The pool, built on first use.
pub fn pool() -> Result<&'static ThreadPool> {
    POOL.get_or_try_init(|| {
        rayon::ThreadPoolBuilder::new()
            .num_threads(wanted())
            .thread_name(|i| format!("sparkdl-decode-{i}"))
            .build()
            .map_err(|e| SparkdlError::Internal(format!("could not start the decode pool: {e}")))
    })
}
