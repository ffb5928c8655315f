//! A PyTorch `state_dict` (a `.pt` file of `torch.save`, or a safetensors file) read into the
//! network a config describes. Every key, shape and dtype is checked against the network
//! before anything is applied, so a file that does not fit is refused with the key named.
//! Memory stays bounded: a file far larger than the network's weights is refused before it is
//! parsed, and the parsers read lazily (safetensors by memory map, `.pt` by zip entry).

use std::collections::BTreeMap;
use std::fmt;
use std::panic::AssertUnwindSafe;
use std::path::Path;

use burn::prelude::*;
use burn::tensor::DType;
use burn_store::burn_pack::Tensor as PackTensor;
use burn_store::{
    FloatCastAdapter, ModuleAdapter, ModuleSnapshot, ModuleStore, PyTorchToBurnAdapter,
    PytorchStore, SafetensorsStore,
};

use crate::config::Config;
use crate::error::{Error, Result, catch_quietly};
use crate::interop::pytorch::{StateKey, state_keys};
use crate::model::Network;

/// The two file formats `import` reads, told apart by their first bytes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum WeightsFormat {
    Safetensors,
    /// `torch.save`'s zip archive (or its legacy pickle).
    PyTorch,
}

impl fmt::Display for WeightsFormat {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            WeightsFormat::Safetensors => "safetensors",
            WeightsFormat::PyTorch => "pytorch",
        })
    }
}

/// BatchNorm's step counter: PyTorch keeps it, the network has no use for it.
const IGNORED_SUFFIX: &str = ".num_batches_tracked";

/// Reads `path` into a fresh network of `config` on `device`; `key` names the entry of a
/// checkpoint dictionary that holds the `state_dict` (`.pt` only).
pub fn import_weights(
    path: &Path,
    key: Option<&str>,
    config: &Config,
    device: &Device,
) -> Result<(Network, WeightsFormat)> {
    let model = Network::new(&config.model, config.training.loss, device);
    let expected = state_keys(&model);
    let format = sniff(path, &expected)?;
    let tensors = read_tensors(path, format, key)?;
    check(&tensors, &expected, format, key).map_err(|message| model_error(path, message))?;
    let tensors: Vec<PackTensor> = tensors
        .into_values()
        .filter(|t| !t.name.ends_with(IGNORED_SUFFIX))
        .collect();
    if let Some(message) = catch_quietly(AssertUnwindSafe(|| non_finite(&tensors))).ok().flatten()
    {
        return Err(model_error(path, message));
    }
    let adapter: Box<dyn ModuleAdapter> =
        Box::new(PyTorchToBurnAdapter.chain(FloatCastAdapter::to(DType::F32)));
    // Burn's `apply` moves the module out and back by pointer: if it panicked half-way, the
    // module must not be dropped a second time, so it is leaked instead (ManuallyDrop).
    let mut model = std::mem::ManuallyDrop::new(model);
    let result = catch_quietly(AssertUnwindSafe(|| {
        model.apply(tensors, None, Some(adapter), true)
    }))
    .map_err(|m| model_error(path, format!("could not be read: {m}")))?;
    let model = std::mem::ManuallyDrop::into_inner(model);
    if let Some(error) = result.errors.first() {
        return Err(model_error(
            path,
            format!("does not fit the network: {error}"),
        ));
    }
    if let Some((name, _)) = result.missing.first() {
        return Err(model_error(path, format!("has no tensor {name}")));
    }
    Ok((model, format))
}

/// The first tensor holding a NaN or an infinity, as a message naming it: a network with one
/// computes NaN for every picture (training that diverged saves such weights). A tensor that
/// cannot be read is left for `apply` to report.
fn non_finite(tensors: &[PackTensor]) -> Option<String> {
    tensors.iter().find_map(|tensor| {
        let data = burn_store::bridge::to_data(tensor).ok()?.convert::<f32>();
        let values = data.as_slice::<f32>().ok()?;
        let at = values.iter().position(|v| !v.is_finite())?;
        let count = values.iter().filter(|v| !v.is_finite()).count();
        Some(format!(
            "tensor {} holds {} at index {at} ({count} of its {} values are not finite): the \
             network would answer NaN for every picture. Was it saved from a run that \
             diverged? Import the weights of a run that trained",
            tensor.name,
            values[at],
            values.len()
        ))
    })
}

/// The format from the first bytes; and a size check, so that no parser ever sees a file
/// far larger than the weights it should hold.
fn sniff(path: &Path, expected: &[StateKey]) -> Result<WeightsFormat> {
    let size = std::fs::metadata(path)
        .map_err(|e| Error::io("cannot read", path, e))?
        .len();
    let parameters: u64 = expected
        .iter()
        .map(|k| k.shape.iter().product::<usize>() as u64)
        .sum();
    // f64 weights with an optimizer's state beside them, plus room for headers.
    let limit = parameters * 8 * 4 + (16 << 20);
    if size > limit {
        return Err(model_error(
            path,
            format!(
                "is {} MB, but the network of this config has {parameters} parameters (at \
                 most {} MB of weights). Is it the model for this config (model.hidden)?",
                size >> 20,
                limit >> 20
            ),
        ));
    }
    let mut head = [0u8; 9];
    let read = {
        use std::io::Read;
        let mut file = std::fs::File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
        file.read(&mut head)
            .map_err(|e| Error::io("cannot read", path, e))?
    };
    match &head[..read] {
        [b'P', b'K', 3, 4, ..] | [0x80, ..] => Ok(WeightsFormat::PyTorch),
        [_, _, _, _, _, _, _, _, b'{'] => Ok(WeightsFormat::Safetensors),
        _ => Err(model_error(
            path,
            "is neither a safetensors file nor a PyTorch .pt file (torch.save of a \
             state_dict): its first bytes are neither. Give the file `torch.save(model.\
             state_dict(), PATH)` or `safetensors.torch.save_file(...)` wrote",
        )),
    }
}

/// Every tensor in the file, by name, in the file's own layout (nothing is read but headers).
fn read_tensors(
    path: &Path,
    format: WeightsFormat,
    key: Option<&str>,
) -> Result<BTreeMap<String, PackTensor>> {
    let listed = catch_quietly(AssertUnwindSafe(|| match format {
        WeightsFormat::Safetensors => SafetensorsStore::from_file(path)
            .get_all_tensors()
            .cloned()
            .map_err(|e| e.to_string()),
        WeightsFormat::PyTorch => {
            let store = PytorchStore::from_file(path);
            let mut store = match key {
                Some(key) => store.with_top_level_key(key),
                None => store,
            };
            store.get_all_tensors().cloned().map_err(|e| e.to_string())
        }
    }));
    match listed {
        Ok(Ok(tensors)) => Ok(tensors),
        Ok(Err(message)) | Err(message) => Err(model_error(
            path,
            format!("is not a readable {format} file (truncated or corrupt?): {message}"),
        )),
    }
}

/// The file's keys, shapes and dtypes against the network's: the first disagreement, named.
fn check(
    tensors: &BTreeMap<String, PackTensor>,
    expected: &[StateKey],
    format: WeightsFormat,
    key: Option<&str>,
) -> std::result::Result<(), String> {
    let wanted: Vec<&str> = expected.iter().map(|k| k.name.as_str()).collect();
    let missing: Vec<&str> = wanted
        .iter()
        .copied()
        .filter(|name| !tensors.contains_key(*name))
        .collect();
    if !missing.is_empty() {
        return Err(format!(
            "has no tensor {} ({} of the network's {} missing).{} The network of this config \
             has: {}",
            missing[0],
            missing.len(),
            wanted.len(),
            hint(tensors, &missing, format, key),
            list(&wanted)
        ));
    }
    let extra: Vec<&str> = tensors
        .keys()
        .map(String::as_str)
        .filter(|name| !wanted.contains(name) && !name.ends_with(IGNORED_SUFFIX))
        .collect();
    if let Some(first) = extra.first() {
        return Err(format!(
            "has tensor {first}, which the network of this config does not have ({} such). \
             Is it the model for this config (model.hidden, model.norm)?",
            extra.len()
        ));
    }
    for key in expected {
        let tensor = &tensors[&key.name];
        if tensor.shape.to_vec() != key.shape {
            return Err(format!(
                "tensor {} has shape {:?}, but the network of this config needs {:?} (PyTorch's \
                 layout: a Linear weight is [outputs, inputs]). Is it the model for this \
                 config (model.hidden)?",
                key.name,
                tensor.shape.to_vec(),
                key.shape
            ));
        }
        if !tensor.dtype.is_float() {
            return Err(format!(
                "tensor {} holds {:?} values; weights must be floating point (f32, or f16, \
                 bf16, f64, converted to f32)",
                key.name, tensor.dtype
            ));
        }
    }
    Ok(())
}

/// When the file's keys are the network's under a common prefix (a checkpoint dictionary),
/// the `--key` that reads them.
fn hint(
    tensors: &BTreeMap<String, PackTensor>,
    missing: &[&str],
    format: WeightsFormat,
    key: Option<&str>,
) -> String {
    let prefix = tensors.keys().find_map(|name| {
        name.strip_suffix(missing[0])
            .and_then(|p| p.strip_suffix('.'))
    });
    match (prefix, format, key) {
        (Some(prefix), WeightsFormat::PyTorch, None) => {
            format!(" It holds them under `{prefix}`: add `--key {prefix}`.")
        }
        _ if tensors.is_empty() => " It holds no tensors at all.".to_string(),
        _ => format!(
            " It has: {}.",
            list(&tensors.keys().map(String::as_str).collect::<Vec<_>>())
        ),
    }
}

/// The first few names of a list, and how many more.
fn list(names: &[&str]) -> String {
    const SHOWN: usize = 6;
    let mut out = names
        .iter()
        .take(SHOWN)
        .copied()
        .collect::<Vec<_>>()
        .join(", ");
    if names.len() > SHOWN {
        out.push_str(&format!(" and {} more", names.len() - SHOWN));
    }
    out
}

fn model_error(path: &Path, message: impl Into<String>) -> Error {
    Error::Model {
        path: path.to_path_buf(),
        message: message.into(),
    }
}
