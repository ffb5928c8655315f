//! Models other tools read, and models other tools made: the trained network out as
//! safetensors in PyTorch's layout (`pytorch`) or as ONNX (`onnx`), and a PyTorch `state_dict`
//! (`.pt` or safetensors) in as a run folder (`import`, its tensors renamed by `rename`). The layouts are Burn's own
//! (`burn-store`'s adapters; ONNX's operators, one a layer); this module names layers and keys in
//! the user's words when a file does not fit. And the trained network as a web page that
//! runs it in the browser (`site`, `serve`).

pub mod import;
pub mod imported_run;
pub mod onnx;
pub mod pytorch;
pub mod rename;
pub mod serve;
pub mod site;
