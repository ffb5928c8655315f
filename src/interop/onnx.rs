//! The trained network as an ONNX model, through `burn-onnx`'s exporter (experimental
//! upstream): it runs the forward pass once on Burn's capture device, records every tensor
//! operation and writes them as ONNX operators (opset 18) with the weights inside. The batch
//! axis stays free: the graph is traced twice, at two batch sizes.
//!
//! Input `images` `[batch, 784]` f32 in 0..1; outputs `logits` and `probabilities` (their
//! softmax), `[batch, 10]`.

use burn::module::Module;
use burn::nn::norm::{LayerNormConfig, Normalization};
use burn::prelude::*;
use burn_onnx::export::{AxisSpec, ExportError, InputSpec, OnnxExporter, Opset};
use onnx_ir::{Message, ModelProto};

use crate::config::{Activation, IMAGE_SIDE, Norm};
use crate::data::idx::PIXELS;
use crate::error::{Error, Result};
use crate::model::Network;

/// The ONNX operator set the files are written in.
pub const OPSET: i64 = Opset::V18.version();

/// `model` (inference mode) as ONNX bytes. A layer the exporter cannot write is named, with
/// the config key that chose it.
pub fn onnx_bytes(model: &Network, norm: Norm, activation: Activation) -> Result<Vec<u8>> {
    if !model.conv.is_empty() && matches!(norm, Norm::Layer | Norm::Group) {
        let norm = format!("{norm:?}").to_lowercase();
        return Err(Error::Usage(format!(
            "cannot export to ONNX: this CNN normalises its feature maps with {norm} \
             normalisation (model.norm = \"{norm}\"), which digits does not yet write out in \
             operations burn-onnx 0.22's exporter can write. Nothing was written. Export it as \
             safetensors (--format safetensors), or train the CNN with model.norm = \"batch\" \
             or \"none\" to export ONNX"
        )));
    }
    let model = model.clone().no_grad();
    export(&model, PIXELS, |m: &Network, x| {
        let logits = traced_forward(m, x);
        (logits.clone(), written_out_softmax(logits))
    })
    .and_then(name_the_boundaries)
    .map_err(|error| match error {
        ExportError::UnsupportedOperation { kind, .. } => Error::Usage(unsupported_layer(
            &model,
            norm,
            activation,
            &operation_name(&kind),
        )),
        other => Error::Internal(format!("the ONNX exporter failed: {other}")),
    })
}

/// The names users see (the exporter calls the boundaries by tensor number): `images` in,
/// `logits` and `probabilities` out.
fn name_the_boundaries(bytes: Vec<u8>) -> std::result::Result<Vec<u8>, ExportError> {
    let failed = |e: protobuf::Error| ExportError::Serialization(e.to_string());
    let mut model = ModelProto::parse_from_bytes(&bytes).map_err(failed)?;
    let graph = model.graph.mut_or_insert_default();
    let mut renames = Vec::new();
    for (value, name) in graph.input.iter_mut().zip(["images"]) {
        renames.push((std::mem::replace(&mut value.name, name.into()), name));
    }
    for (value, name) in graph.output.iter_mut().zip(["logits", "probabilities"]) {
        renames.push((std::mem::replace(&mut value.name, name.into()), name));
    }
    for node in graph.node.iter_mut() {
        for port in node.input.iter_mut().chain(node.output.iter_mut()) {
            if let Some((_, name)) = renames.iter().find(|(old, _)| old == port) {
                *port = name.to_string();
            }
        }
    }
    model.producer_name = "digits (burn-onnx)".into();
    model.producer_version = env!("CARGO_PKG_VERSION").into();
    model.write_to_bytes().map_err(failed)
}

/// [`Network::forward`] in inference mode, with layer and group normalisation written out: Burn
/// runs them as fused operations the exporter cannot write (`LayerNorm` as one backend op,
/// `GroupNorm` through reshapes that lose the free batch axis).
fn traced_forward(model: &Network, images: Tensor<2>) -> Tensor<2> {
    let features = traced_features(model, images);
    let hidden = model.hidden.iter().fold(features, |x, block| {
        let x = traced_norm(&block.norm, block.linear.forward(x));
        // Dropout is the identity in inference.
        block.activation.forward(x)
    });
    model.output.forward(hidden)
}

/// [`Network::features`] for the exporter. Convolutions, batch normalisation and max pooling
/// are operations it writes (a CNN's other normalisations are refused by `onnx_bytes`), but it
/// loses the batch axis through a reshape that makes new axes no input axis has the size of,
/// as `[B, 784] → [B, 1, 28, 28]` does (and through slices of it). So the image is first
/// repeated 28 times (`[B, 28, 784]`), which reshapes to `[B, 28, 28, 28]` with every new axis
/// of a size the input has; the mean of the 28 equal copies is the `[B, 1, 28, 28]` image
/// (to within float rounding).
fn traced_features(model: &Network, images: Tensor<2>) -> Tensor<2> {
    if model.conv.is_empty() {
        return images;
    }
    let [batch, _] = images.dims();
    let side = IMAGE_SIDE;
    // Repeated by concatenation (the exporter cannot write Burn's `expand`, nor prove a
    // created tensor's unit axis static for a broadcast).
    let image = images.unsqueeze_dim::<3>(1);
    let copies = Tensor::cat(vec![image; side], 1).reshape([batch, side, side, side]);
    // Their mean as a sum (a reduction the exporter writes; it has no mean).
    let image = copies.sum_dim(1).div_scalar(side as f32);
    // The layers' own forward: on the capture device it is Burn's `conv2d`, and dropout is
    // the identity outside training.
    let maps = model.conv.iter().fold(image, |x, layer| layer.forward(x));
    maps.flatten(1, 3)
}

fn traced_norm(norm: &Normalization, x: Tensor<2>) -> Tensor<2> {
    match norm {
        Normalization::Layer(norm) => written_out_norm(
            x,
            1,
            Some(norm.gamma.val()),
            norm.beta.as_ref().map(|b| b.val()),
            LayerNormConfig::new(1).epsilon,
        ),
        Normalization::Group(norm) => written_out_norm(
            x,
            norm.num_groups,
            norm.gamma.as_ref().map(|g| g.val()),
            norm.beta.as_ref().map(|b| b.val()),
            norm.epsilon,
        ),
        other => other.forward(x),
    }
}

/// Normalisation over `groups` equal groups of the features of `x` `[batch, features]` (one
/// group: layer normalisation), as Burn computes it (biased variance), from matrix products:
/// `x · M` is each feature's group mean, with `M[i][j] = 1/size` where i and j share a group.
fn written_out_norm(
    x: Tensor<2>,
    groups: usize,
    gamma: Option<Tensor<1>>,
    beta: Option<Tensor<1>>,
    epsilon: f64,
) -> Tensor<2> {
    let [_, features] = x.dims();
    let size = features / groups;
    let same_group: Vec<f32> = (0..features * features)
        .map(|k| {
            let (i, j) = (k / features, k % features);
            if i / size == j / size {
                1.0 / size as f32
            } else {
                0.0
            }
        })
        .collect();
    let mean_of_group =
        Tensor::<1>::from_floats(same_group.as_slice(), &x.device()).reshape([features, features]);
    let centred = x.clone() - x.matmul(mean_of_group.clone());
    let variance = (centred.clone() * centred.clone()).matmul(mean_of_group);
    let normalised = centred / variance.add_scalar(epsilon).sqrt();
    let scaled = match gamma {
        Some(gamma) => normalised * gamma.unsqueeze::<2>(),
        None => normalised,
    };
    match beta {
        Some(beta) => scaled + beta.unsqueeze::<2>(),
        None => scaled,
    }
}

/// Softmax over the digits from operations the exporter writes (Burn's fused softmax is not
/// one of them): shifted by each row's maximum, as Burn's own, so it never overflows.
fn written_out_softmax(logits: Tensor<2>) -> Tensor<2> {
    let (max, _) = logits.clone().max_dim_with_indices(1);
    let shifted = logits - max;
    let exp = shifted.exp();
    exp.clone() / exp.sum_dim(1)
}

/// Traces `forward` on inputs `[batch, width]` at batch 11 and 13, the batch axis left free.
fn export<M: Module, O: burn_onnx::export::ExportOutput>(
    module: &M,
    width: usize,
    forward: impl Fn(&M, Tensor<2>) -> O,
) -> std::result::Result<Vec<u8>, ExportError> {
    let device = Device::default();
    // Batch sizes no other axis has (a CNN's single input channel is 1), so the exporter
    // can tell the batch axis from the others when a reshape makes new ones.
    let sample = Tensor::<2>::zeros([11, width], &device);
    let validation = Tensor::<2>::zeros([13, width], &device);
    let specs = [InputSpec::new([
        AxisSpec::dynamic("batch"),
        AxisSpec::Static,
    ])];
    OnnxExporter::new()
        .export_dynamic(module, sample, validation, &specs, forward)
        .map(|onnx| onnx.into_bytes())
}

/// Which layer holds the operation the exporter refused: the normalisation and the
/// activation of the first hidden block are exported alone until one fails.
fn unsupported_layer(
    model: &Network,
    norm: Norm,
    activation: Activation,
    operation: &str,
) -> String {
    // The config's spelling of each choice (serde's snake_case of one-word variants).
    let norm = format!("{norm:?}").to_lowercase();
    let activation = format!("{activation:?}").to_lowercase();
    let (layer, key) = match model.hidden.first() {
        Some(block) if export(&block.norm, block.linear.weight.dims()[1], traced_norm).is_err() => {
            (
                format!("the {norm} normalisation (model.norm = \"{norm}\")"),
                "model.norm",
            )
        }
        Some(block) if export(&block.activation, 4, |m, x| m.forward(x)).is_err() => (
            format!("the {activation} activation (model.activation = \"{activation}\")"),
            "model.activation",
        ),
        _ => (
            "a layer of this network".to_string(),
            "model.norm or model.activation",
        ),
    };
    format!(
        "cannot export to ONNX: {layer} uses the Burn operation {operation}, which burn-onnx \
         0.22's exporter cannot write yet. Nothing was written. Export it as safetensors \
         (--format safetensors), or train with another {key} to export ONNX"
    )
}

/// The operation's name from the exporter's debug text of it: `Activation(Softmax(DimOpIr {
/// ..}))` → `Activation::Softmax`.
fn operation_name(kind: &str) -> String {
    kind.split('(')
        .map(str::trim)
        .take_while(|word| !word.is_empty() && word.chars().all(char::is_alphanumeric))
        .filter(|word| !word.ends_with("Ir"))
        .collect::<Vec<_>>()
        .join("::")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_operation_is_named_without_its_tensors() {
        let kind = "Activation(Softmax(DimOpIr { input: TensorIr { id: 17 }, axis: 1 }))";
        assert_eq!(operation_name(kind), "Activation::Softmax");
        assert_eq!(operation_name("Erf(UnaryOpIr { input: 3 })"), "Erf");
    }
}
