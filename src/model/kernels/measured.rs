//! Gradient norms measured by plain SGD's step: training reports each weighted layer's
//! gradient norm every step, and reading a [2048,2048] network's 23 MB of gradients for it
//! alone was a sixteenth of the step. Plain SGD reads every gradient anyway, so while the
//! training loop asks for it ([`measuring_updates`]) each step also sums the gradient's
//! squares, run by run while they are in the core's cache; the network maps the sums back to
//! its layers (`Network::weight_grad_norms_measured`).
//!
//! Burn's optimizer has no way to hand anything back but the parameters (`Optimizer::step`
//! sees a tensor and its gradient, not which parameter they are), so the sums travel beside
//! it, on the thread that runs the step: Burn's optimizer steps the parameters one after the
//! other on the calling thread, in the module's order.

use std::cell::RefCell;

use burn::prelude::*;

/// A weight's gradient (rank 2 and more) plain SGD stepped over while [`measuring_updates`]
/// ran: its dims and the sum of its squares `[1]`.
pub struct MeasuredUpdate {
    pub dims: Vec<usize>,
    pub squared_sum: Tensor<1>,
}

thread_local! {
    /// The gradients measured so far on this thread; `None` where nobody asked.
    static MEASURED: RefCell<Option<Vec<MeasuredUpdate>>> = const { RefCell::new(None) };
}

/// Runs `f` (an optimizer's step) on this thread with plain SGD measuring every weight's
/// gradient it steps over: `f`'s result and the measurements, in step order. Other optimizers
/// measure nothing.
pub fn measuring_updates<R>(f: impl FnOnce() -> R) -> (R, Vec<MeasuredUpdate>) {
    /// Stops measuring when `f` returns or unwinds.
    struct Stop;
    impl Drop for Stop {
        fn drop(&mut self) {
            MEASURED.with_borrow_mut(|measured| *measured = None);
        }
    }
    MEASURED.with_borrow_mut(|measured| *measured = Some(Vec::new()));
    let _stop = Stop;
    let result = f();
    let measured = MEASURED.with_borrow_mut(Option::take).unwrap_or_default();
    (result, measured)
}

/// Whether the step running on this thread is to measure its gradients.
pub(super) fn measuring() -> bool {
    MEASURED.with_borrow(Option::is_some)
}

/// Keeps a measurement, where one is asked for.
pub(super) fn record(update: MeasuredUpdate) {
    MEASURED.with_borrow_mut(|measured| {
        if let Some(measured) = measured {
            measured.push(update);
        }
    });
}
