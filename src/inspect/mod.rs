//! A trained run, looked into: loading it, evaluating it, classifying pictures (prepared the
//! way MNIST was), and its pictures (weights, curves, confusion matrix).

pub mod inference;
pub mod plots;
pub mod preprocess;
