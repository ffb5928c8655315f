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
use crate::interop::rename::{Named, Rename, fitting_renames, remapper};
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

/// Where the tensors are in a weights file, and under which names.
#[derive(Debug, Clone, Default)]
pub struct Reading<'a> {
    /// The entry of a checkpoint dictionary that holds the `state_dict` (`.pt` only).
    pub key: Option<&'a str>,
    /// The file's tensor names mapped onto the network's, in order.
    pub renames: &'a [Rename],
}

/// Reads `path` into a fresh network of `config` on `device`.
pub fn import_weights(
    path: &Path,
    reading: &Reading,
    config: &Config,
    device: &Device,
) -> Result<(Network, WeightsFormat)> {
    let model = Network::new(&config.model, config.training.loss, device);
    let expected = state_keys(&model);
    let format = sniff(path, &expected)?;
    let tensors = read_tensors(path, format, reading)?;
    check(&tensors, &expected, format, reading).map_err(|message| model_error(path, message))?;
    let tensors: Vec<PackTensor> = tensors
        .into_values()
        .filter(|t| !t.name.ends_with(IGNORED_SUFFIX))
        .collect();
    if let Some(message) = catch_quietly(AssertUnwindSafe(|| non_finite(&tensors)))
        .ok()
        .flatten()
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

/// The most bytes of a safetensors header read for its metadata (digits writes a few KiB).
const MAX_METADATA_HEADER: u64 = 16 << 20;

/// The config `digits export` wrote into a safetensors file's metadata (`digits_config`);
/// `None` for any other file (a `.pt`, another tool's safetensors, a header too large to be
/// digits'): what is wrong with such a file is said when its tensors are read.
pub fn embedded_config(path: &Path) -> Result<Option<String>> {
    use std::io::Read;
    #[derive(serde::Deserialize)]
    struct Header {
        #[serde(rename = "__metadata__", default)]
        metadata: std::collections::HashMap<String, String>,
    }
    let mut file = std::fs::File::open(path).map_err(|e| Error::io("cannot open", path, e))?;
    let mut length = [0u8; 8];
    if file.read_exact(&mut length).is_err() {
        return Ok(None);
    }
    let length = u64::from_le_bytes(length);
    if length > MAX_METADATA_HEADER {
        return Ok(None);
    }
    let mut header = Vec::new();
    file.take(length)
        .read_to_end(&mut header)
        .map_err(|e| Error::io("cannot read", path, e))?;
    Ok(serde_json::from_slice::<Header>(&header)
        .ok()
        .and_then(|mut header| header.metadata.remove("digits_config")))
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

/// Every tensor in the file, by name (the file's own, renamed as asked), in the file's own
/// layout (nothing is read but headers).
fn read_tensors(
    path: &Path,
    format: WeightsFormat,
    reading: &Reading,
) -> Result<BTreeMap<String, PackTensor>> {
    let remapper = remapper(reading.renames);
    let listed = catch_quietly(AssertUnwindSafe(|| match format {
        WeightsFormat::Safetensors => SafetensorsStore::from_file(path)
            .remap(remapper)
            .get_all_tensors()
            .cloned()
            .map_err(|e| e.to_string()),
        WeightsFormat::PyTorch => {
            // The names as the file has them: Burn would renumber `0, 2, 4` as `0, 1, 2`,
            // which then matches neither the file nor what its error lists.
            let store = PytorchStore::from_file(path)
                .remap(remapper)
                .map_indices_contiguous(false);
            let mut store = match reading.key {
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
    reading: &Reading,
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
            hint(tensors, expected, &missing, format, reading),
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

/// What the file holds instead: the `--key` that reads a checkpoint dictionary, or its
/// tensors' names, and the `--rename`s that fit its layers to the network's when they are
/// the network's under other names.
fn hint(
    tensors: &BTreeMap<String, PackTensor>,
    expected: &[StateKey],
    missing: &[&str],
    format: WeightsFormat,
    reading: &Reading,
) -> String {
    let prefix = tensors.keys().find_map(|name| {
        name.strip_suffix(missing[0])
            .and_then(|p| p.strip_suffix('.'))
    });
    if let (Some(prefix), WeightsFormat::PyTorch, None) = (prefix, format, reading.key) {
        return format!(" It holds them under `{prefix}`: add `--key {prefix}`.");
    }
    if tensors.is_empty() {
        return " It holds no tensors at all.".to_string();
    }
    let renamed = match reading.renames.is_empty() {
        true => "",
        false => " (after --rename)",
    };
    let names: Vec<&str> = tensors.keys().map(String::as_str).collect();
    let mut hint = format!(" It has{renamed}: {}.", list(&names));
    let shapes: Vec<(&str, Vec<usize>)> = tensors
        .iter()
        .filter(|(name, _)| !name.ends_with(IGNORED_SUFFIX))
        .map(|(name, t)| (name.as_str(), t.shape.to_vec()))
        .collect();
    let file: Vec<Named> = shapes.iter().map(|(n, s)| (*n, &s[..])).collect();
    let network: Vec<Named> = expected
        .iter()
        .map(|k| (k.name.as_str(), &k.shape[..]))
        .collect();
    if let Some(renames) = fitting_renames(&file, &network) {
        let renames: Vec<String> = renames.iter().map(ToString::to_string).collect();
        hint.push_str(&format!(
            " Its layers are the network's by shape, in order, under other names: add {}.",
            renames.join(" ")
        ));
    }
    hint
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
