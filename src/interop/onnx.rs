//! The trained network as an ONNX model (opset 18), written from the network's own layers:
//! `Gemm` for a Linear layer, `Conv`, `MaxPool`, `BatchNormalization`, `LayerNormalization`,
//! the activations, `Softmax`; group normalisation and GELU written out in operators opset 18
//! has. The weights are inside, named by their Burn module paths (`hidden.0.linear.weight`).
//!
//! Input `images` `[batch, 784]` f32 in 0..1, the batch axis free; outputs `logits` and
//! `probabilities` (their softmax), `[batch, 10]`.
//!
//! Written here rather than by `burn-onnx`'s tracing exporter (digits used it until
//! 2026-12-06): that one needs Burn's `capture` backend compiled into every build (a third of
//! `burn-dispatch`'s compile time, on the cold build's critical path), could not write GELU nor
//! a CNN's layer or group normalisation, and lost the batch axis in a CNN's reshape. A
//! network here is a fixed, short list of layers, each of which ONNX has an operator for.

mod proto;

use burn::nn::activation::Activation as ActivationLayer;
use burn::nn::conv::Conv2d;
use burn::nn::norm::{GroupNorm, LayerNormConfig, Normalization};
use burn::nn::pool::MaxPool2d;
use burn::nn::{Linear, PaddingConfig2d};
use burn::prelude::*;

use crate::config::IMAGE_SIDE;
use crate::data::idx::{CLASSES, PIXELS};
use crate::error::{Error, Result};
use crate::model::{ConvLayer, Network};
use prost::Message;
use proto::{
    AttributeProto as Attribute, GraphProto, ModelProto, NodeProto, OperatorSetIdProto,
    StringStringEntryProto, TENSOR_FLOAT, TENSOR_INT64, TensorProto, ValueInfoProto,
};

/// The ONNX operator set the files are written in.
pub const OPSET: i64 = 18;
/// The IR version that came with opset 18 (ONNX 1.13).
const IR_VERSION: i64 = 8;
/// The free batch axis's name.
const BATCH: &str = "batch";

/// `model` in inference mode (dropout off, batch normalisation's running statistics) as ONNX
/// bytes. `config` (the run's `config.toml`) goes into the file's metadata.
pub fn onnx_bytes(model: &Network, config: &str) -> Result<Vec<u8>> {
    let graph = layers(model)?;
    let port = |name: &str, width| ValueInfoProto::floats(name, &[Err(BATCH), Ok(width)]);
    let graph = GraphProto {
        node: graph.nodes,
        name: "digits".into(),
        initializer: graph.initializers,
        input: vec![port("images", PIXELS)],
        output: vec![port("logits", CLASSES), port("probabilities", CLASSES)],
    };
    let model = ModelProto {
        ir_version: IR_VERSION,
        opset_import: vec![OperatorSetIdProto {
            domain: String::new(),
            version: OPSET,
        }],
        producer_name: "digits".into(),
        producer_version: env!("CARGO_PKG_VERSION").into(),
        doc_string: "A digits network: images [batch, 784] f32 in 0..1 (28×28, row by row) → \
                     logits and probabilities [batch, 10], one per digit"
            .into(),
        graph: Some(graph),
        metadata_props: vec![StringStringEntryProto {
            key: "digits_config".into(),
            value: config.into(),
        }],
    };
    Ok(model.encode_to_vec())
}

/// The network's layers as nodes, `images` in, `logits` and `probabilities` out.
fn layers(model: &Network) -> Result<Builder> {
    let mut graph = Builder::default();
    let mut x = "images".to_string();
    if !model.conv.is_empty() {
        let side = IMAGE_SIDE as i64;
        let shape = graph.int64s("image_shape", &[-1, 1, side, side]);
        x = graph.node("Reshape", "image", &[&x, &shape], vec![]);
        for (i, layer) in model.conv.iter().enumerate() {
            x = graph.conv_layer(&format!("conv.{i}"), layer, &x)?;
        }
        x = graph.node("Flatten", "flatten", &[&x], vec![Attribute::int("axis", 1)]);
    }
    for (i, block) in model.hidden.iter().enumerate() {
        let path = format!("hidden.{i}");
        x = graph.linear(&format!("{path}.linear"), &block.linear, &x);
        x = graph.norm(&format!("{path}.norm"), &block.norm, &x, Axes::Features)?;
        x = graph.activation(&format!("{path}.activation"), &block.activation, &x)?;
    }
    graph.linear("output", &model.output, &x);
    graph.rename_last("logits");
    let softmax = vec![Attribute::int("axis", 1)];
    graph.node("Softmax", "probabilities", &["logits"], softmax);
    graph.rename_last("probabilities");
    Ok(graph)
}

/// Which axes a normalisation sees: `[batch, features]` (dense layers) or
/// `[batch, channels, height, width]` (convolution layers).
#[derive(Clone, Copy, PartialEq)]
enum Axes {
    Features,
    Maps,
}

/// The graph so far. Each node's output is named after it (`hidden.0.linear.Gemm`).
#[derive(Default)]
struct Builder {
    nodes: Vec<NodeProto>,
    initializers: Vec<TensorProto>,
}

impl Builder {
    /// Adds `op_type` on `inputs`; returns the name of its output, `<path>.<op_type>`.
    fn node(
        &mut self,
        op_type: &'static str,
        path: &str,
        inputs: &[&str],
        attribute: Vec<Attribute>,
    ) -> String {
        let name = format!("{path}.{op_type}");
        self.nodes.push(NodeProto {
            input: inputs.iter().map(|s| s.to_string()).collect(),
            output: vec![name.clone()],
            name: name.clone(),
            op_type: op_type.into(),
            attribute,
        });
        name
    }

    /// Names the last node's output `name` (a graph output).
    fn rename_last(&mut self, name: &str) {
        if let Some(node) = self.nodes.last_mut() {
            node.output = vec![name.to_string()];
        }
    }

    /// A weight, under its Burn module path.
    fn weight<const D: usize>(&mut self, name: &str, tensor: Tensor<D>) -> String {
        self.floats(name, &tensor.dims(), floats(tensor))
    }

    fn floats(&mut self, name: &str, dims: &[usize], values: Vec<f32>) -> String {
        let raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.constant(name, dims, TENSOR_FLOAT, raw_data)
    }

    fn constant(
        &mut self,
        name: &str,
        dims: &[usize],
        data_type: i32,
        raw_data: Vec<u8>,
    ) -> String {
        self.initializers.push(TensorProto {
            dims: dims.iter().map(|&d| d as i64).collect(),
            data_type,
            name: name.into(),
            raw_data,
        });
        name.into()
    }

    /// A constant of one value, for the element-wise arithmetic written out below.
    fn scalar(&mut self, name: &str, value: f32) -> String {
        if !self.initializers.iter().any(|i| i.name == name) {
            self.floats(name, &[], vec![value]);
        }
        name.into()
    }

    fn int64s(&mut self, name: &str, values: &[i64]) -> String {
        let raw_data = values.iter().flat_map(|v| v.to_le_bytes()).collect();
        self.constant(name, &[values.len()], TENSOR_INT64, raw_data)
    }

    /// `x · W + b`: Burn's weight is `[inputs, outputs]`, as Gemm's B without transposition.
    fn linear(&mut self, path: &str, linear: &Linear, x: &str) -> String {
        let weight = self.weight(&format!("{path}.weight"), linear.weight.val());
        let mut inputs = vec![x.to_string(), weight];
        if let Some(bias) = &linear.bias {
            inputs.push(self.weight(&format!("{path}.bias"), bias.val()));
        }
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        self.node("Gemm", path, &inputs, vec![])
    }

    /// Convolution → normalisation → activation → max pooling; dropout is the identity.
    fn conv_layer(&mut self, path: &str, layer: &ConvLayer, x: &str) -> Result<String> {
        let x = self.conv(&format!("{path}.conv"), &layer.conv, x)?;
        let x = self.norm(&format!("{path}.norm"), &layer.norm, &x, Axes::Maps)?;
        let x = self.activation(&format!("{path}.activation"), &layer.activation, &x)?;
        match &layer.pool {
            Some(pool) => self.max_pool(&format!("{path}.pool"), pool, &x),
            None => Ok(x),
        }
    }

    fn conv(&mut self, path: &str, conv: &Conv2d, x: &str) -> Result<String> {
        let weight = self.weight(&format!("{path}.weight"), conv.weight.val());
        let mut inputs = vec![x.to_string(), weight];
        if let Some(bias) = &conv.bias {
            inputs.push(self.weight(&format!("{path}.bias"), bias.val()));
        }
        let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
        let attributes = vec![
            Attribute::ints("kernel_shape", &conv.kernel_size),
            Attribute::ints("strides", &conv.stride),
            Attribute::ints("dilations", &conv.dilation),
            Attribute::int("group", conv.groups as i64),
            pads(&conv.padding, path)?,
        ];
        Ok(self.node("Conv", path, &inputs, attributes))
    }

    fn max_pool(&mut self, path: &str, pool: &MaxPool2d, x: &str) -> Result<String> {
        let attributes = vec![
            Attribute::ints("kernel_shape", &pool.kernel_size),
            Attribute::ints("strides", &pool.stride),
            Attribute::ints("dilations", &pool.dilation),
            Attribute::int("ceil_mode", pool.ceil_mode as i64),
            pads(&pool.padding, path)?,
        ];
        Ok(self.node("MaxPool", path, &[x], attributes))
    }

    fn norm(&mut self, path: &str, norm: &Normalization, x: &str, axes: Axes) -> Result<String> {
        Ok(match norm {
            Normalization::Identity(_) => x.to_string(),
            Normalization::Batch(norm) => {
                let inputs = [
                    self.weight(&format!("{path}.gamma"), norm.gamma.val()),
                    self.weight(&format!("{path}.beta"), norm.beta.val()),
                    self.weight(&format!("{path}.running_mean"), norm.running_mean.value()),
                    self.weight(&format!("{path}.running_var"), norm.running_var.value()),
                ];
                let [gamma, beta, mean, var] = inputs.each_ref().map(String::as_str);
                let epsilon = vec![Attribute::float("epsilon", norm.epsilon as f32)];
                self.node(
                    "BatchNormalization",
                    path,
                    &[x, gamma, beta, mean, var],
                    epsilon,
                )
            }
            Normalization::Layer(norm) => {
                let gamma = self.weight(&format!("{path}.gamma"), norm.gamma.val());
                let mut inputs = vec![gamma];
                if let Some(beta) = &norm.beta {
                    inputs.push(self.weight(&format!("{path}.beta"), beta.val()));
                }
                // A CNN normalises each pixel's channels: put them last and back (as
                // `ConvLayer::forward` does).
                let x = match axes {
                    Axes::Maps => self.transpose(&format!("{path}.channels_last"), x, [0, 2, 3, 1]),
                    Axes::Features => x.to_string(),
                };
                inputs.insert(0, x);
                let inputs: Vec<&str> = inputs.iter().map(String::as_str).collect();
                let epsilon = LayerNormConfig::new(1).epsilon as f32;
                let attributes = vec![
                    Attribute::int("axis", -1),
                    Attribute::float("epsilon", epsilon),
                ];
                let y = self.node("LayerNormalization", path, &inputs, attributes);
                match axes {
                    Axes::Maps => {
                        self.transpose(&format!("{path}.channels_first"), &y, [0, 3, 1, 2])
                    }
                    Axes::Features => y,
                }
            }
            Normalization::Group(norm) => self.group_norm(path, x, norm, axes),
            other => {
                return Err(Error::Usage(format!(
                    "cannot export to ONNX: {path} is {}, a normalisation no digits config \
                     builds. Nothing was written",
                    other.to_string().lines().next().unwrap_or("unknown")
                )));
            }
        })
    }

    fn transpose(&mut self, path: &str, x: &str, perm: [usize; 4]) -> String {
        let perm = vec![Attribute::ints("perm", &perm)];
        self.node("Transpose", path, &[x], perm)
    }

    /// Group normalisation written out (opset 18's `GroupNormalization` scales per group, not
    /// per channel as Burn and PyTorch do): `[B, C, …]` seen as `[B, groups, rest]`, each
    /// group centred and divided by √(biased variance + ε), put back in its shape, then
    /// scaled and shifted per channel.
    fn group_norm(&mut self, path: &str, x: &str, norm: &GroupNorm, axes: Axes) -> String {
        let groups = norm.num_groups as i64;
        let grouped_shape = self.int64s(&format!("{path}.grouped_shape"), &[0, groups, -1]);
        let last = self.int64s(&format!("{path}.last_axis"), &[-1]);
        let shape = self.node("Shape", path, &[x], vec![]);
        let grouped = self.node(
            "Reshape",
            &format!("{path}.grouped"),
            &[x, &grouped_shape],
            vec![],
        );
        let keep = || vec![Attribute::int("keepdims", 1)];
        let mean = self.node(
            "ReduceMean",
            &format!("{path}.mean"),
            &[&grouped, &last],
            keep(),
        );
        let centred = self.node(
            "Sub",
            &format!("{path}.centred"),
            &[&grouped, &mean],
            vec![],
        );
        let squares = self.node(
            "Mul",
            &format!("{path}.squares"),
            &[&centred, &centred],
            vec![],
        );
        let var = self.node(
            "ReduceMean",
            &format!("{path}.var"),
            &[&squares, &last],
            keep(),
        );
        let epsilon = self.scalar(&format!("{path}.epsilon"), norm.epsilon as f32);
        let var = self.node(
            "Add",
            &format!("{path}.var_epsilon"),
            &[&var, &epsilon],
            vec![],
        );
        let std = self.node("Sqrt", &format!("{path}.std"), &[&var], vec![]);
        let grouped = self.node(
            "Div",
            &format!("{path}.normalised"),
            &[&centred, &std],
            vec![],
        );
        let mut y = self.node(
            "Reshape",
            &format!("{path}.ungrouped"),
            &[&grouped, &shape],
            vec![],
        );
        // Per channel: `[C]` for features, `[C, 1, 1]` for maps (broadcast over pixels).
        let per_channel = |tensor: Tensor<1>| -> (Vec<usize>, Vec<f32>) {
            let [channels] = tensor.dims();
            let dims = match axes {
                Axes::Features => vec![channels],
                Axes::Maps => vec![channels, 1, 1],
            };
            (dims, floats(tensor))
        };
        if let Some(gamma) = &norm.gamma {
            let (dims, values) = per_channel(gamma.val());
            let gamma = self.floats(&format!("{path}.gamma"), &dims, values);
            y = self.node("Mul", &format!("{path}.scaled"), &[&y, &gamma], vec![]);
        }
        if let Some(beta) = &norm.beta {
            let (dims, values) = per_channel(beta.val());
            let beta = self.floats(&format!("{path}.beta"), &dims, values);
            y = self.node("Add", &format!("{path}.shifted"), &[&y, &beta], vec![]);
        }
        y
    }

    fn activation(&mut self, path: &str, activation: &ActivationLayer, x: &str) -> Result<String> {
        Ok(match activation {
            ActivationLayer::Sigmoid(_) => self.node("Sigmoid", path, &[x], vec![]),
            ActivationLayer::Tanh(_) => self.node("Tanh", path, &[x], vec![]),
            ActivationLayer::Relu(_) => self.node("Relu", path, &[x], vec![]),
            // Burn's exact GELU, x·½(1 + erf(x/√2)) (opset 20 has `Gelu`; 18 has `Erf`).
            ActivationLayer::Gelu(gelu) if !gelu.approximate => {
                let inverse_sqrt_2 =
                    self.scalar("gelu.inverse_sqrt_2", std::f32::consts::FRAC_1_SQRT_2);
                let one = self.scalar("gelu.one", 1.0);
                let half = self.scalar("gelu.half", 0.5);
                let scaled = self.node(
                    "Mul",
                    &format!("{path}.scaled"),
                    &[x, &inverse_sqrt_2],
                    vec![],
                );
                let erf = self.node("Erf", path, &[&scaled], vec![]);
                let plus_one = self.node("Add", &format!("{path}.plus_one"), &[&erf, &one], vec![]);
                let halved = self.node(
                    "Mul",
                    &format!("{path}.halved"),
                    &[&plus_one, &half],
                    vec![],
                );
                self.node("Mul", path, &[x, &halved], vec![])
            }
            other => {
                return Err(Error::Usage(format!(
                    "cannot export to ONNX: {path} is {other:?}, an activation no digits config \
                     builds. Nothing was written"
                )));
            }
        })
    }
}

/// A tensor's values as f32, in Burn's (row-major) order.
fn floats<const D: usize>(tensor: Tensor<D>) -> Vec<f32> {
    tensor
        .into_data()
        .try_into_vec_as::<f32>()
        .expect("a float tensor's values convert to f32")
}

/// ONNX's `pads` (top, left, bottom, right: the begins, then the ends) of Burn's explicit
/// padding, which is in that order too.
fn pads(padding: &PaddingConfig2d, path: &str) -> Result<Attribute> {
    match *padding {
        PaddingConfig2d::Valid => Ok(Attribute::ints("pads", &[0, 0, 0, 0])),
        PaddingConfig2d::Explicit(top, left, bottom, right) => {
            Ok(Attribute::ints("pads", &[top, left, bottom, right]))
        }
        PaddingConfig2d::Same => Err(Error::Usage(format!(
            "cannot export to ONNX: {path} pads \"same\", which no digits config builds. \
             Nothing was written"
        ))),
    }
}
