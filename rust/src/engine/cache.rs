//! One loaded model per (key, session settings) in this JVM, shared by every
//! task of the executor.
//!
//! [`acquire`] returns the cached model or loads it; concurrent acquires of
//! the same key wait for one load. Each user holds an `Arc`; [`release`] gives
//! it back. A model nobody holds (only the cache's own `Arc` is left) that has
//! been idle longer than the TTL (default 60 s, [`set_ttl`]) is dropped, and
//! its session closed: on the next acquire or release, and by a background
//! reaper ([`start_reaper`]) that checks every half TTL, so an executor that
//! stops using a model gives its memory back without another task coming by.
//! [`evict_idle`] does it on demand.

use std::collections::HashMap;
use std::sync::{Arc, Condvar, Mutex, MutexGuard};
use std::time::{Duration, Instant};

use once_cell::sync::{Lazy, OnceCell};

use crate::engine::config::EngineConfig;
use crate::engine::Model;
use crate::errors::Result;

/// A loaded model, shared.
pub type SharedModel = Arc<dyn Model>;

/// How long an unused model stays loaded by default.
pub const DEFAULT_TTL: Duration = Duration::from_secs(60);

struct Slot {
    model: OnceCell<SharedModel>,
    last_used: Mutex<Instant>,
}

impl Slot {
    fn touch(&self) {
        *lock(&self.last_used) = Instant::now();
    }

    /// Loaded, held by nobody but the cache, and idle for at least `max_idle`.
    fn is_idle(&self, now: Instant, max_idle: Duration) -> bool {
        match self.model.get() {
            Some(m) => Arc::strong_count(m) == 1 && now.saturating_duration_since(*lock(&self.last_used)) >= max_idle,
            None => false,
        }
    }
}

struct Cache {
    slots: HashMap<String, Arc<Slot>>,
    ttl: Duration,
}

static CACHE: Lazy<Mutex<Cache>> = Lazy::new(|| Mutex::new(Cache { slots: HashMap::new(), ttl: DEFAULT_TTL }));

/// Locks, recovering from a poisoned lock: the data (a map of slots, a time)
/// stays consistent even if a holder panicked.
fn lock<T>(m: &Mutex<T>) -> MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|poisoned| poisoned.into_inner())
}

fn full_key(key: &str, cfg: &EngineConfig) -> String {
    format!("{key}#{}", cfg.fingerprint())
}

/// The model for `key` under `cfg`: the cached one, or the result of `load`
/// (run once even when several threads ask at the same time; if it fails,
/// the error goes to this caller and the next acquire tries again).
pub fn acquire(key: &str, cfg: &EngineConfig, load: impl FnOnce() -> Result<SharedModel>) -> Result<SharedModel> {
    let slot = {
        let mut cache = lock(&CACHE);
        let slot = cache
            .slots
            .entry(full_key(key, cfg))
            .or_insert_with(|| Arc::new(Slot { model: OnceCell::new(), last_used: Mutex::new(Instant::now()) }))
            .clone();
        slot.touch();
        slot
    };
    // Loading happens outside the cache lock: other keys are not held up.
    let model = match slot.model.get_or_try_init(load) {
        Ok(m) => m.clone(),
        Err(e) => {
            // Forget the empty slot unless another caller is waiting on it.
            let mut cache = lock(&CACHE);
            let k = full_key(key, cfg);
            if cache.slots.get(&k).is_some_and(|s| Arc::ptr_eq(s, &slot) && s.model.get().is_none())
                && Arc::strong_count(&slot) == 2
            {
                cache.slots.remove(&k);
            }
            return Err(e);
        }
    };
    slot.touch();
    let ttl = lock(&CACHE).ttl;
    evict_idle(ttl);
    Ok(model)
}

/// The model for `key` under `cfg` if it is loaded already (a new user of
/// it, given back with [`release`]); `None` means [`acquire`] would load.
pub fn acquire_loaded(key: &str, cfg: &EngineConfig) -> Option<SharedModel> {
    let slot = lock(&CACHE).slots.get(&full_key(key, cfg)).cloned()?;
    let model = slot.model.get()?.clone();
    slot.touch();
    Some(model)
}

/// Gives back a model from [`acquire`]; then drops what has idled past the TTL.
pub fn release(model: SharedModel) {
    {
        let cache = lock(&CACHE);
        for slot in cache.slots.values() {
            if slot.model.get().is_some_and(|m| Arc::ptr_eq(m, &model)) {
                slot.touch();
            }
        }
    }
    drop(model);
    let ttl = lock(&CACHE).ttl;
    evict_idle(ttl);
}

/// Drops the models nobody holds that have been idle longer than `max_idle`;
/// returns how many.
pub fn evict_idle(max_idle: Duration) -> usize {
    let now = Instant::now();
    let evicted: Vec<Arc<Slot>> = {
        let mut cache = lock(&CACHE);
        let keys: Vec<String> =
            cache.slots.iter().filter(|(_, s)| s.is_idle(now, max_idle)).map(|(k, _)| k.clone()).collect();
        keys.iter().filter_map(|k| cache.slots.remove(k)).collect()
    };
    let n = evicted.len();
    for slot in &evicted {
        if let Some(m) = slot.model.get() {
            log::info!("closing an idle {} session: {m:?}", m.format().backend().title());
        }
    }
    // Sessions close here, outside the lock.
    drop(evicted);
    n
}

/// Sets how long an unused model stays loaded (the reaper picks it up).
pub fn set_ttl(ttl: Duration) {
    lock(&CACHE).ttl = ttl;
    REAPER.1.notify_all();
}

/// Wakes the reaper early (a new TTL); the flag says whether it runs.
static REAPER: (Mutex<bool>, Condvar) = (Mutex::new(false), Condvar::new());

/// Starts, once per process, the thread that drops idle models every half
/// TTL (at least every 100 ms, at most every 30 s).
pub fn start_reaper() {
    let mut running = lock(&REAPER.0);
    if *running {
        return;
    }
    let spawned = std::thread::Builder::new().name("sparkdl-session-reaper".into()).spawn(|| loop {
        let period = (ttl() / 2).clamp(Duration::from_millis(100), Duration::from_secs(30));
        let guard = lock(&REAPER.0);
        let _ = REAPER.1.wait_timeout(guard, period);
        // A panic here must not end the reaper silently: evict_idle holds no user data.
        if let Err(p) = std::panic::catch_unwind(|| evict_idle(self::ttl())) {
            log::error!("the idle-session reaper failed: {}", crate::errors::payload_text(p.as_ref()));
        }
    });
    match spawned {
        Ok(_) => *running = true,
        Err(e) => log::warn!("could not start the idle-session reaper ({e}); idle sessions close on the next use"),
    }
}

pub fn ttl() -> Duration {
    lock(&CACHE).ttl
}

/// How many models are cached (loaded or loading).
pub fn len() -> usize {
    lock(&CACHE).slots.len()
}

/// Forgets every cached model (users keep theirs until they drop them).
pub fn clear() {
    let slots: Vec<Arc<Slot>> = lock(&CACHE).slots.drain().map(|(_, s)| s).collect();
    drop(slots);
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::engine::info::ModelInfo;
    use crate::engine::tensor::{BatchTensor, Feed, TensorValue};
    use crate::engine::{ModelFormat, TensorSpec};
    use crate::errors::SparkdlError;
    use std::sync::atomic::{AtomicUsize, Ordering};

    /// A model that holds nothing: the cache only shares and drops it.
    #[derive(Debug)]
    struct Fake;

    impl Model for Fake {
        fn format(&self) -> ModelFormat {
            ModelFormat::Onnx
        }
        fn describe(&self) -> ModelInfo {
            ModelInfo {
                format: "onnx".into(),
                inputs: vec![],
                outputs: vec![],
                operations: vec![],
                signatures: Default::default(),
            }
        }
        fn input(&self, name: &str) -> Result<TensorSpec> {
            Err(SparkdlError::InvalidArgument(format!("no input {name}")))
        }
        fn output(&self, name: &str) -> Result<TensorSpec> {
            Err(SparkdlError::InvalidArgument(format!("no output {name}")))
        }
        fn batch_tensor(&self, dims: &[u64]) -> Result<Box<dyn BatchTensor>> {
            Ok(Box::new(crate::engine::tensor::VecBatch::new(dims)?))
        }
        fn run(&self, _: &[(&str, Feed<'_>)], _: &[&str]) -> Result<Vec<TensorValue>> {
            Ok(vec![])
        }

        fn as_any(&self) -> &dyn std::any::Any {
            self
        }
    }

    /// The cache is global: its tests take turns.
    static SERIAL: Mutex<()> = Mutex::new(());

    fn load(count: &AtomicUsize) -> Result<SharedModel> {
        count.fetch_add(1, Ordering::SeqCst);
        std::thread::sleep(Duration::from_millis(50));
        Ok(Arc::new(Fake))
    }

    #[test]
    fn concurrent_acquires_load_once_and_share_the_session() {
        let _turn = lock(&SERIAL);
        clear();
        let loads = AtomicUsize::new(0);
        let cfg = EngineConfig::default();
        let models: Vec<SharedModel> = std::thread::scope(|s| {
            let handles: Vec<_> =
                (0..4).map(|_| s.spawn(|| acquire("dense", &cfg, || load(&loads)).unwrap())).collect();
            handles.into_iter().map(|h| h.join().unwrap()).collect()
        });
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        assert!(models.windows(2).all(|w| Arc::ptr_eq(&w[0], &w[1])));
        // Other settings are another session.
        let other = EngineConfig { intra_op_threads: 1, ..EngineConfig::default() };
        let m2 = acquire("dense", &other, || load(&loads)).unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 2);
        assert!(!Arc::ptr_eq(&m2, &models[0]));
        release(m2);
        models.into_iter().for_each(release);
        clear();
    }

    #[test]
    fn held_models_stay_and_idle_ones_go() {
        let _turn = lock(&SERIAL);
        clear();
        let loads = AtomicUsize::new(0);
        let cfg = EngineConfig::default();
        let a = acquire("a", &cfg, || load(&loads)).unwrap();
        let b = acquire("b", &cfg, || load(&loads)).unwrap();
        assert_eq!(len(), 2);
        assert_eq!(evict_idle(Duration::ZERO), 0, "both are held");
        release(b);
        std::thread::sleep(Duration::from_millis(5));
        assert_eq!(evict_idle(Duration::from_secs(3600)), 0, "b is not idle for long enough");
        assert_eq!(evict_idle(Duration::ZERO), 1, "b is idle and unheld");
        assert_eq!(len(), 1);
        // With a zero TTL, giving a model back drops it at once.
        let old = ttl();
        set_ttl(Duration::ZERO);
        std::thread::sleep(Duration::from_millis(5));
        release(a);
        assert_eq!(len(), 0);
        set_ttl(old);
        let _again = acquire("a", &cfg, || load(&loads)).unwrap();
        assert_eq!(loads.load(Ordering::SeqCst), 3);
        clear();
    }

    #[test]
    fn the_reaper_closes_idle_sessions_without_another_call() {
        let _turn = lock(&SERIAL);
        clear();
        let loads = AtomicUsize::new(0);
        let old = ttl();
        set_ttl(Duration::from_millis(200));
        start_reaper();
        let m = acquire("reaped", &EngineConfig::default(), || load(&loads)).unwrap();
        // Given back while the TTL is long enough that release itself does not evict it.
        release(m);
        // No acquire or release from here on: only the reaper can empty the cache.
        let deadline = Instant::now() + Duration::from_secs(60);
        while len() > 0 && Instant::now() < deadline {
            std::thread::sleep(Duration::from_millis(20));
        }
        assert_eq!(len(), 0, "the reaper did not close the idle session");
        set_ttl(old);
        clear();
    }

    #[test]
    fn acquire_loaded_finds_only_loaded_models() {
        let _turn = lock(&SERIAL);
        clear();
        let loads = AtomicUsize::new(0);
        let cfg = EngineConfig::default();
        assert!(acquire_loaded("later", &cfg).is_none());
        let m = acquire("later", &cfg, || load(&loads)).unwrap();
        let again = acquire_loaded("later", &cfg).expect("a loaded model is found");
        assert!(Arc::ptr_eq(&m, &again));
        assert!(acquire_loaded("later", &EngineConfig { intra_op_threads: 1, ..cfg.clone() }).is_none());
        release(again);
        release(m);
        assert_eq!(loads.load(Ordering::SeqCst), 1);
        clear();
    }

    #[test]
    fn a_failed_load_is_reported_and_retried() {
        let _turn = lock(&SERIAL);
        clear();
        let cfg = EngineConfig::default();
        let err = acquire("bad", &cfg, || Err(SparkdlError::InvalidArgument("not a model".into()))).unwrap_err();
        assert!(err.to_string().contains("not a model"), "{err}");
        assert_eq!(len(), 0, "a failed load leaves nothing behind");
        let ok = acquire("bad", &cfg, || Ok(Arc::new(Fake) as SharedModel));
        assert!(ok.is_ok());
        clear();
    }
}
