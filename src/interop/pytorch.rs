//! The network's parameters in PyTorch's layout: the keys and shapes a `state_dict` of the
//! reference module (`interop/torch_model.py`) has. Burn's `BurnToPyTorchAdapter` transposes
//! each Linear weight to `[out, in]` and names normalisation γ/β `weight`/`bias`; enum
//! variant names (`Normalization::Batch`) are left out of the paths, so
//! `hidden.0.norm.running_mean` is the same key on both sides.

use burn::module::Module;
use burn_store::{BurnToPyTorchAdapter, ModuleSnapshot, ModuleStore, SafetensorsStore};

use crate::error::{Error, Result};
use crate::model::Network;

/// One parameter or buffer as a PyTorch `state_dict` holds it.
#[derive(Debug, Clone, PartialEq)]
pub struct StateKey {
    pub name: String,
    pub shape: Vec<usize>,
}

/// The keys and shapes `model` has in PyTorch's layout, in the module's order.
pub fn state_keys(model: &Network) -> Vec<StateKey> {
    model
        .collect(None, Some(Box::new(BurnToPyTorchAdapter)), true)
        .into_iter()
        .map(|tensor| StateKey {
            name: tensor.name,
            shape: tensor.shape.to_vec(),
        })
        .collect()
}

/// The network as a safetensors file in PyTorch's layout (f32, little-endian), with
/// `metadata` in its header (the file's `__metadata__`).
pub fn safetensors_bytes(model: &Network, metadata: &[(&str, String)]) -> Result<Vec<u8>> {
    let mut store = SafetensorsStore::from_bytes(None)
        .with_to_adapter(BurnToPyTorchAdapter)
        .skip_enum_variants(true)
        // "pt" tells Hugging Face's loaders the tensors are PyTorch's.
        .metadata("format", "pt");
    for (key, value) in metadata {
        store = store.metadata(*key, value.clone());
    }
    store
        .collect_from(&model.clone().no_grad())
        .map_err(|e| Error::Internal(format!("cannot write the safetensors file: {e}")))?;
    store
        .get_bytes()
        .map_err(|e| Error::Internal(format!("cannot write the safetensors file: {e}")))
}
