//! How our work keeps rayon's threads at hand. A training step is a dozen and more parallel
//! loops with single-threaded stretches between them (Burn's autodiff, biases, the loss), and
//! steps and inference batches follow each other with the learner's or the caller's own work
//! between them. Rayon puts a thread to sleep after a few dozen idle rounds, and each loop
//! then woke it again: `perf` showed ~10 % of a [512,512] step in the kernel's scheduler even
//! with the step inside the pool. So, as OpenMP's threads do between parallel regions
//! (PyTorch's; ONNX Runtime's threads spin between runs too), while a step runs every other
//! worker stands by — takes the step's jobs as they come and spins between them — and after a
//! step or a batch the workers linger a little for the next one.

use std::cell::Cell;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use super::has_kernels;
use super::product::PARALLEL_WORK;
use burn::prelude::Device;

/// Steps now running inside the pool (training with several devices runs one a device).
static STEPS_IN_POOL: AtomicUsize = AtomicUsize::new(0);

/// Runs a step (training or validation) of `work` multiply-adds or so (images × weights) on
/// `device`: inside rayon's pool, its other threads standing by, where our kernels will share
/// it between threads ([`PARALLEL_WORK`] and more); a [512,512] network's learner ran at 0.76
/// → 0.85× PyTorch's at batch 32 in the pool, → 1.1× with the threads standing by. Else where
/// it is called: the kernels run there anyway, and the hand-over (two wakes) cost as much as
/// the step (the seed network's learner ran at half speed in the pool).
pub fn step_in_pool<R: Send>(device: &Device, work: usize, step: impl FnOnce() -> R + Send) -> R {
    if !has_kernels(device) || work < PARALLEL_WORK {
        return step();
    }
    let done = AtomicBool::new(false);
    let out = rayon::scope(|scope| {
        let _running = Running::start(&done);
        let caller = rayon::current_thread_index();
        for _ in 1..rayon::current_num_threads() {
            let done = &done;
            scope.spawn(move |_| stand_by(caller, done));
        }
        step()
    });
    linger();
    out
}

/// How long the workers stay awake after a step or a batch: longer than the learner's work
/// between two steps (metrics, the next batch), short enough to cost nothing noticeable
/// when no more work comes. 100 µs and 1 ms measured the same within drift (`digits bench`,
/// [128,128] and [512,512] training, the seed network's inference at batch 1024).
const LINGER: Duration = Duration::from_micros(300);

/// After parallel work run from outside the pool: every worker stays awake until [`LINGER`]
/// after the latest such work, running whatever comes (the next step or batch) and yielding
/// its core between looks, so that the next parallel work does not wait for threads to wake.
/// It never holds work up: a worker lingers only while no step runs in the pool, and a
/// linger taken inside other work ends by the deadline. At most one linger a thread is alive
/// (each call would otherwise add one, and they nested on the workers' stacks until they
/// overflowed). [512,512] training +3–5 %, [128,128] +11–20 % on top of the standbys.
pub fn linger() {
    let until = since_start() + LINGER.as_nanos() as u64;
    LINGER_UNTIL.fetch_max(until, Ordering::AcqRel);
    let threads = rayon::current_num_threads();
    let one_more = |alive: usize| (alive < threads).then_some(alive + 1);
    while LINGERING
        .fetch_update(Ordering::AcqRel, Ordering::Acquire, one_more)
        .is_ok()
    {
        rayon::spawn(linger_here);
    }
}

/// Lingers (spawned, or waiting to run) — at most a thread each.
static LINGERING: AtomicUsize = AtomicUsize::new(0);
/// Until when the workers linger, in nanoseconds from [`since_start`]'s start.
static LINGER_UNTIL: AtomicU64 = AtomicU64::new(0);

thread_local! {
    /// Whether this thread is lingering already (lower on its stack).
    static LINGERING_HERE: Cell<bool> = const { Cell::new(false) };
}

/// A worker's linger: see [`linger`].
fn linger_here() {
    let nested = LINGERING_HERE.replace(true);
    while !nested
        && STEPS_IN_POOL.load(Ordering::Acquire) == 0
        && since_start() < LINGER_UNTIL.load(Ordering::Acquire)
    {
        if rayon::yield_now() != Some(rayon::Yield::Executed) {
            std::thread::yield_now();
        }
    }
    LINGERING_HERE.set(nested);
    LINGERING.fetch_sub(1, Ordering::AcqRel);
}

/// Nanoseconds since the first call.
fn since_start() -> u64 {
    static START: OnceLock<Instant> = OnceLock::new();
    START.get_or_init(Instant::now).elapsed().as_nanos() as u64
}

/// A worker's turn standing by: until the step is done, runs any job it finds and spins when
/// there is none. Only a thread that took it idle stands by: the standbys are the step's
/// first jobs, so a thief takes them before any of the step's own (rayon steals the oldest),
/// and the step's thread, which takes its newest, never reaches one while the step runs —
/// should it get one, it returns at once. While two steps run (one a device), nobody stands
/// by: a standby taken by a thread inside the other step would hold that step up.
fn stand_by(caller: Option<usize>, done: &AtomicBool) {
    if rayon::current_thread_index() == caller {
        return;
    }
    while !done.load(Ordering::Acquire) && STEPS_IN_POOL.load(Ordering::Acquire) == 1 {
        if rayon::yield_now() != Some(rayon::Yield::Executed) {
            std::hint::spin_loop();
        }
    }
}

/// A step counted in [`STEPS_IN_POOL`] while it runs; its end (a return or a panic) releases
/// the standbys, so a panicking step unwinds instead of waiting for them forever.
struct Running<'a>(&'a AtomicBool);

impl<'a> Running<'a> {
    fn start(done: &'a AtomicBool) -> Running<'a> {
        STEPS_IN_POOL.fetch_add(1, Ordering::AcqRel);
        Running(done)
    }
}

impl Drop for Running<'_> {
    fn drop(&mut self) {
        self.0.store(true, Ordering::Release);
        STEPS_IN_POOL.fetch_sub(1, Ordering::AcqRel);
    }
}

#[cfg(all(test, any(feature = "ndarray", feature = "flex")))]
mod tests {
    use super::*;
    use rayon::prelude::*;

    fn kernel_device() -> Device {
        #[cfg(feature = "ndarray")]
        let device = Device::ndarray();
        #[cfg(not(feature = "ndarray"))]
        let device = Device::flex();
        assert!(has_kernels(&device));
        device
    }

    /// `f`'s result, or a failure (not a hung test) when it takes over a minute.
    fn within_a_minute<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
        let (send, receive) = std::sync::mpsc::channel();
        std::thread::spawn(move || send.send(f()));
        receive
            .recv_timeout(Duration::from_secs(60))
            .expect("the steps did not finish within a minute")
    }

    /// A step with parallel loops, as a training step is; its result is known.
    fn parallel_step() -> u64 {
        (0..10_000u64).into_par_iter().map(|x| x * x).sum::<u64>()
    }
    const STEP_RESULT: u64 = 333_283_335_000;

    #[test]
    fn a_large_step_runs_in_the_pool_a_small_one_where_it_is_called() {
        let device = kernel_device();
        let worker = |work| step_in_pool(&device, work, rayon::current_thread_index);
        assert!(worker(PARALLEL_WORK).is_some());
        assert!(worker(PARALLEL_WORK - 1).is_none());
    }

    /// Two devices' steps at once (standbys of one taken by the other's threads) all finish.
    #[test]
    fn steps_from_two_threads_at_once_all_finish() {
        let sums = within_a_minute(|| {
            let device = kernel_device();
            let threads: Vec<_> = (0..2)
                .map(|_| {
                    let device = device.clone();
                    std::thread::spawn(move || {
                        (0..300)
                            .map(|_| step_in_pool(&device, PARALLEL_WORK, parallel_step))
                            .collect::<Vec<_>>()
                    })
                })
                .collect();
            threads
                .into_iter()
                .flat_map(|thread| thread.join().unwrap())
                .collect::<Vec<_>>()
        });
        assert_eq!(sums, vec![STEP_RESULT; 600]);
    }

    /// A panic inside a step reaches the caller instead of leaving the standbys spinning.
    #[test]
    fn a_panicking_step_unwinds_and_the_next_runs() {
        let (unwound, next) = within_a_minute(|| {
            let device = kernel_device();
            let unwound = std::panic::catch_unwind(|| {
                step_in_pool(&device, PARALLEL_WORK, || {
                    parallel_step();
                    panic!("a step that fails")
                })
            });
            (
                unwound.is_err(),
                step_in_pool(&device, PARALLEL_WORK, parallel_step),
            )
        });
        assert!(unwound);
        assert_eq!(next, STEP_RESULT);
    }

    /// Parallel work after parallel work, each followed by a linger (an inference loop): at
    /// most a linger a thread alive, and the work all done.
    #[test]
    fn lingers_stay_one_a_thread() {
        let most = within_a_minute(|| {
            let mut most = 0;
            for _ in 0..20_000 {
                assert_eq!(parallel_step(), STEP_RESULT);
                linger();
                most = most.max(LINGERING.load(Ordering::Acquire));
            }
            most
        });
        assert!(most <= rayon::current_num_threads(), "{most} lingers alive");
    }
}
