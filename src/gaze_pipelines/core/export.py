"""Export core shared by every model family: Keras -> ONNX, INT8 Q/DQ, TensorRT, side-by-side report.

No Kedro imports here; the Kedro side is ``gaze_pipelines.pipelines.export`` (node functions and
``create_export_pipeline``) and the datasets ``OnnxModelDataset`` / ``TensorRTEngineDataset`` /
``PredictorDataset`` in ``gaze_pipelines.datasets``.

API (what a family calls)
-------------------------
``interface_from_keras(model, *, channels_last=False, input_names=None, output_names=None,
input_shapes=None) -> ModelInterface``
    Describes the exported tensors: ONNX name, Keras name, per-sample ONNX shape and Keras
    shape. Rank-3 Keras inputs (H, W, C) are images and are exported channels-first (C, H, W)
    unless ``channels_last``; ``input_names`` / ``output_names`` rename Keras names to the
    deployment names (GazeNet: ``{"input_face_images": "input_face_images:0", ...}``,
    ``{"fc_joint": "fc_joint/concat:0"}``); ``input_shapes`` reshapes an input to another shape of
    the same size (GazeNet's facegrid: Keras ``(625,)`` exported as TAO's ``(1, 625, 1)``).
    The interface is stored in the ONNX metadata (``gaze_pipelines.interface``), so every
    predictor accepts the *Keras-named, Keras-layout* inputs the KPI code produces as well as
    ONNX-named, ONNX-layout inputs.

``keras_to_onnx(model, interface=None, *, opset=17, **interface_kwargs) -> onnx.ModelProto``
    tf2onnx ``from_function`` with an explicit input signature, dynamic batch (dim ``batch``),
    opset 17-18, layout transposes inside the graph, names kept, checked with the ONNX checker.

``quantize_int8(model, calibration, *, scheme="s8s8", reduce_range=False, calibrated=None,
method="entropy", per_channel=True, percentile=99.999, op_types=None, nodes_to_exclude=None,
preprocess=True, keep_output_layers_float=True, keep_input_layers_float=False) -> Int8Result``
    onnxruntime ``quantize_static``. ``scheme="s8s8"`` (TensorRT's, the default): QDQ format,
    symmetric QInt8 activations and weights
    (``ActivationSymmetric`` / ``WeightSymmetric``, all zero points 0), per-channel weights,
    calibration method entropy | minmax | percentile over ``calibration`` (an iterable of input
    dicts, Keras- or ONNX-named). ``Int8Result.model`` is the Q/DQ ``ModelProto``,
    ``Int8Result.ranges`` a readable DataFrame (one row per quantized tensor: observed
    min/max, the method's threshold, amax, scale, zero point, kind, per-channel) to save as
    CSV next to the model. Entropy is TensorRT's KL search (``core.calibration``). The layers
    computing the outputs stay float by default (``output_layer_nodes``): one INT8 scale over
    an output that mixes units (GazeNet's mm and radians) would zero the small ones.
    ``scheme="u8s8"`` is onnxruntime's x86 CPU scheme: asymmetric QUInt8 activations (a
    tensor that never goes negative gets zero point 0 = qmin, so ReLU folds into
    ``QLinearConv``) and symmetric per-channel QInt8 weights; several times faster than S8S8 on
    onnxruntime's CPU provider, but not a TensorRT input. ``calibrate_int8(model, calibration,
    ...) -> Int8Calibration`` runs the (expensive) calibration once; pass it as ``calibrated=``
    to build both schemes from it; ``quantize_int8_schemes(model, calibration, Int8Params)``
    returns both (``{"s8s8": Int8Result, "u8s8": Int8Result}``) from the parameter section.
    ``keep_input_layers_float`` also keeps the first weighted layer after every graph input in
    float (``input_layer_nodes``), for networks whose first convolution sees one channel.
    ``calibration_batches(batches, cal_batches, cal_batch_size)`` re-batches any stream of input
    dicts (e.g. the training split) into exactly that many calibration batches.

``to_fp16_onnx(model) -> onnx.ModelProto``: FP16 graph with FP32 inputs/outputs, the input of a
strongly typed FP16 TensorRT engine (TensorRT 11 removed ``BuilderFlag.FP16``).

``build_tensorrt_engine(model, *, max_batch_size=32, opt_batch_size=None, workspace_mib=1024)
-> TensorRTEngine``
    TensorRT >= 10 Python API: strongly typed network parsed from the ONNX (Q/DQ INT8 or FP16
    graph: precision comes from the graph), one optimization profile 1..max_batch_size, workspace
    via ``set_memory_pool_limit``. Raises ``TensorRTUnavailableError`` naming what is missing
    (the ``tensorrt`` package, ``pycuda``, a CUDA GPU) when it cannot run; ``tensorrt_missing()``
    returns that reason (or ``None``) so tests can skip with it.

``parity_stats(reference_outputs, candidate_outputs)`` and ``check_parity(reference, candidate,
inputs)`` (predictors) -> dict (max/mean abs diff, max rel diff, per output) and
``compare_formats(predictors, evaluate, inputs, *, reference="keras", file_sizes=None,
batch_sizes=(1, 32), ...) -> pandas.DataFrame``: per format the KPIs of ``evaluate(predictor)``,
their difference to the reference (absolute and relative), output max abs diff, p50/p95 latency
at each batch size (``core.latency``), file size and speed-up; ``report_markdown(df)`` renders it.

Parameters: ``ExportParams`` (pydantic, ``extra="forbid"``) is the ``<model>.export`` section of
every family; ``validate_export_params(raw, key_path)`` raises ``ValueError`` naming the key path
and the allowed values.

Predictors (``gaze_pipelines.core.predict``): ``KerasPredictor``, ``OnnxPredictor`` (onnxruntime,
threads and graph optimization level), ``TensorRTPredictor`` and ``load_predictor(model_format,
model, **options)`` for ``model_format`` keras | onnx | onnx_int8 | onnx_int8_cpu | tensorrt.
"""

from __future__ import annotations

import importlib.util
import json
import logging
import math
import tempfile
from collections.abc import Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import pandas as pd
from pydantic import Field, field_validator

from gaze_pipelines.params_common import StrictModel, validate

logger = logging.getLogger(__name__)

INTERFACE_KEY = "gaze_pipelines.interface"
INT8_SCHEMES = ("s8s8", "u8s8")  # TensorRT (symmetric) | onnxruntime x86 CPU (asymmetric)
CALIBRATION_METHODS = ("entropy", "minmax", "percentile")
MIN_OPSET, MAX_OPSET = 17, 18  # tf2onnx 1.17 converts up to opset 18


# --------------------------------------------------------------------------------------------
# Interface: exported names, shapes, layouts
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class TensorSpec:
    """One exported tensor: ONNX name, Keras name, per-sample shapes and the layout transform.

    ``channels_first`` means the ONNX tensor is the channels-first version of a channels-last
    Keras tensor (ONNX ``(C, H, W)`` for Keras ``(H, W, C)``); a differing shape of the same size
    is a C-order reshape.
    """

    name: str
    source: str
    shape: tuple[int, ...]
    source_shape: tuple[int, ...]
    channels_first: bool = False
    dtype: str = "float32"

    def __post_init__(self) -> None:
        if math.prod(self.shape) != math.prod(self.source_shape):
            raise ValueError(
                f"{self.source}: exported shape {list(self.shape)} has "
                f"{math.prod(self.shape)} values, the model's {list(self.source_shape)} has "
                f"{math.prod(self.source_shape)}"
            )

    @property
    def _transposed_shape(self) -> tuple[int, ...]:
        """ONNX per-sample shape moved to channels-last (what the transpose produces)."""
        return (*self.shape[1:], self.shape[0]) if self.channels_first else self.shape

    def to_onnx(self, x: np.ndarray) -> np.ndarray:
        """Convert a batch in the model's (Keras) layout to the exported layout."""
        x = np.asarray(x, dtype=self.dtype)
        n = x.shape[0]
        if self.channels_first:
            x = x.reshape(n, *self._transposed_shape)
            rank = x.ndim
            x = np.transpose(x, (0, rank - 1, *range(1, rank - 1)))
        return np.ascontiguousarray(x.reshape(n, *self.shape))

    def to_source_tf(self, x: Any) -> Any:
        """TensorFlow ops turning an exported-layout batch into the model's layout."""
        import tensorflow as tf  # noqa: PLC0415

        if self.channels_first:
            rank = len(self.shape) + 1
            x = tf.transpose(x, [0, *range(2, rank), 1])
        if self._transposed_shape != self.source_shape:
            x = tf.reshape(x, [-1, *self.source_shape])
        return x

    def adapt(self, x: np.ndarray) -> np.ndarray:
        """Accept a batch in either layout; return it in the exported layout."""
        x = np.asarray(x)
        if tuple(x.shape[1:]) == self.shape:
            return np.ascontiguousarray(x, dtype=self.dtype)
        if tuple(x.shape[1:]) == self.source_shape:
            return self.to_onnx(x)
        raise ValueError(
            f"input '{self.name}' needs a batch shaped (N, {', '.join(map(str, self.shape))}) "
            f"or (N, {', '.join(map(str, self.source_shape))}), got {tuple(x.shape)}"
        )


@dataclass(frozen=True)
class ModelInterface:
    """Inputs and outputs of an exported model (stored as JSON in the ONNX metadata)."""

    inputs: tuple[TensorSpec, ...]
    outputs: tuple[TensorSpec, ...]

    def to_json(self) -> str:
        """Serialize for the ONNX ``metadata_props`` / engine sidecar."""
        return json.dumps(
            {
                "inputs": [asdict(s) for s in self.inputs],
                "outputs": [asdict(s) for s in self.outputs],
            }
        )

    @classmethod
    def from_json(cls, text: str) -> ModelInterface:
        """Inverse of ``to_json``."""
        raw = json.loads(text)

        def spec(d: dict[str, Any]) -> TensorSpec:
            return TensorSpec(
                **{**d, "shape": tuple(d["shape"]), "source_shape": tuple(d["source_shape"])}
            )

        return cls(tuple(spec(d) for d in raw["inputs"]), tuple(spec(d) for d in raw["outputs"]))

    @property
    def input_names(self) -> list[str]:
        """Exported input names, in order."""
        return [s.name for s in self.inputs]

    @property
    def output_names(self) -> list[str]:
        """Exported output names, in order."""
        return [s.name for s in self.outputs]

    def feed(self, inputs: Mapping[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Map Keras- or ONNX-named inputs (either layout) to the exported names and layouts."""
        out: dict[str, np.ndarray] = {}
        for spec in self.inputs:
            if spec.name in inputs:
                value = inputs[spec.name]
            elif spec.source in inputs:
                value = inputs[spec.source]
            else:
                raise KeyError(
                    f"missing input '{spec.source}' (exported as '{spec.name}'); "
                    f"got {sorted(inputs)}"
                )
            out[spec.name] = spec.adapt(value)
        return out


def _keras_output_names(model: Any) -> list[str]:
    names = getattr(model, "output_names", None)
    if names:
        return list(names)
    return [t.name.split(":")[0] for t in model.outputs]


def interface_from_keras(
    model: Any,
    *,
    channels_last: bool = False,
    input_names: Mapping[str, str] | None = None,
    output_names: Mapping[str, str] | None = None,
    input_shapes: Mapping[str, Sequence[int]] | None = None,
) -> ModelInterface:
    """Describe the exported inputs/outputs of a functional Keras model (see module docstring)."""
    input_names = dict(input_names or {})
    output_names = dict(output_names or {})
    input_shapes = {k: tuple(int(v) for v in s) for k, s in (input_shapes or {}).items()}
    keras_inputs = [t.name.split(":")[0] for t in model.inputs]
    keras_outputs = _keras_output_names(model)
    for label, given, known in (
        ("input_names", input_names, keras_inputs),
        ("input_shapes", input_shapes, keras_inputs),
        ("output_names", output_names, keras_outputs),
    ):
        unknown = sorted(set(given) - set(known))
        if unknown:
            raise ValueError(f"{label}: {unknown} are not tensors of the model; known: {known}")
    inputs = []
    for name, tensor in zip(keras_inputs, model.inputs, strict=True):
        src_shape = tuple(int(d) for d in tensor.shape[1:])
        if any(d is None for d in tensor.shape[1:]):
            raise ValueError(f"input '{name}' has an unknown dimension {tensor.shape}")
        image = len(src_shape) == 3
        channels_first = image and not channels_last
        shape = input_shapes.get(name) or (
            (src_shape[2], src_shape[0], src_shape[1]) if channels_first else src_shape
        )
        if name in input_shapes and image and not channels_last:
            # an explicit shape for an image input: channels-first if it ends where Keras' begins
            channels_first = (*shape[1:], shape[0]) == src_shape
        dtype = str(np.dtype(getattr(tensor, "dtype", "float32") or "float32"))
        inputs.append(
            TensorSpec(
                input_names.get(name, name), name, tuple(shape), src_shape, channels_first, dtype
            )
        )
    outputs = []
    for name, tensor in zip(keras_outputs, model.outputs, strict=True):
        shape = tuple(int(d) if d is not None else -1 for d in tensor.shape[1:])
        outputs.append(TensorSpec(output_names.get(name, name), name, shape, shape))
    names = [s.name for s in inputs] + [s.name for s in outputs]
    if len(set(names)) != len(names):
        raise ValueError(f"exported tensor names must be unique, got {names}")
    return ModelInterface(tuple(inputs), tuple(outputs))


def read_interface(model: Any) -> ModelInterface | None:
    """The interface stored in an ONNX model's metadata, or ``None``."""
    for prop in getattr(model, "metadata_props", []):
        if prop.key == INTERFACE_KEY:
            return ModelInterface.from_json(prop.value)
    return None


def write_interface(model: Any, interface: ModelInterface) -> None:
    """Store ``interface`` in the ONNX model's metadata (replacing an older one)."""
    for i, prop in enumerate(list(model.metadata_props)):
        if prop.key == INTERFACE_KEY:
            del model.metadata_props[i]
            break
    entry = model.metadata_props.add()
    entry.key, entry.value = INTERFACE_KEY, interface.to_json()


# --------------------------------------------------------------------------------------------
# Keras -> ONNX
# --------------------------------------------------------------------------------------------


def _rename_tensor(graph: Any, old: str, new: str) -> None:
    if old == new:
        return
    for node in graph.node:
        for i, name in enumerate(node.input):
            if name == old:
                node.input[i] = new
        for i, name in enumerate(node.output):
            if name == old:
                node.output[i] = new
    for coll in (graph.input, graph.output, graph.value_info):
        for vi in coll:
            if vi.name == old:
                vi.name = new


def _set_batch_dim(graph: Any, batch_dim: str) -> None:
    for vi in (*graph.input, *graph.output):
        dims = vi.type.tensor_type.shape.dim
        if dims:
            dims[0].Clear()
            dims[0].dim_param = batch_dim


def _prune_dead_nodes(graph: Any) -> int:
    """Remove nodes none of whose outputs is used (repeatedly); returns how many went."""
    removed = 0
    while True:
        used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
        dead = [n for n in graph.node if not any(o in used for o in n.output)]
        if not dead:
            break
        for n in dead:
            graph.node.remove(n)
        removed += len(dead)
    used = {i for n in graph.node for i in n.input}
    for init in [t for t in graph.initializer if t.name not in used]:
        graph.initializer.remove(init)
    return removed


def _reshape_output_shapes(model: Any, names: list[str], batch: int) -> dict[str, tuple]:
    """Run the model on zeros at ``batch`` and return the shapes of the tensors ``names``."""
    import copy  # noqa: PLC0415

    import onnx  # noqa: PLC0415
    import onnxruntime as ort  # noqa: PLC0415

    probe = copy.deepcopy(model)
    del probe.graph.output[:]
    for name in names:
        probe.graph.output.append(onnx.ValueInfoProto(name=name))
    opts = ort.SessionOptions()
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_DISABLE_ALL
    opts.log_severity_level = 3
    session = ort.InferenceSession(
        probe.SerializeToString(), opts, providers=["CPUExecutionProvider"]
    )
    feed = {}
    for inp in session.get_inputs():
        shape = [batch, *(d if isinstance(d, int) else 1 for d in inp.shape[1:])]
        dtype = np.float32 if "float" in inp.type else np.int64
        feed[inp.name] = np.zeros(shape, dtype)
    return {n: tuple(v.shape) for n, v in zip(names, session.run(names, feed), strict=True)}


def fold_static_reshapes(model: Any) -> int:
    """Give every Reshape whose target is computed at run time (Keras ``Flatten`` becomes
    ``Shape -> Gather -> Concat -> Reshape``) a constant target ``[-1, d1, ...]`` when its
    per-sample dimensions do not depend on the batch size (checked by running the graph at two
    batch sizes), and drop the then unused shape arithmetic.

    The outputs do not change; the graph loses ops that force layout reorders in onnxruntime
    and a float copy of quantized activations in the INT8 model.
    """
    from onnx import numpy_helper  # noqa: PLC0415

    graph = model.graph
    constants = {t.name for t in graph.initializer}
    candidates = [n for n in graph.node if n.op_type == "Reshape" and n.input[1] not in constants]
    if not candidates:
        return 0
    names = [n.output[0] for n in candidates]
    at1, at2 = (_reshape_output_shapes(model, names, b) for b in (1, 2))
    folded = 0
    for node in candidates:
        one, two = at1[node.output[0]], at2[node.output[0]]
        if len(one) < 2 or one[0] != 1 or two[0] != 2 or one[1:] != two[1:]:
            continue  # the batch is not the leading dimension of this reshape
        target = numpy_helper.from_array(
            np.array([-1, *one[1:]], np.int64), f"{node.output[0]}__static_shape"
        )
        graph.initializer.append(target)
        node.input[1] = target.name
        folded += 1
    if folded:
        _prune_dead_nodes(graph)
    return folded


def keras_to_onnx(
    model: Any,
    interface: ModelInterface | None = None,
    *,
    opset: int = 17,
    batch_dim: str = "batch",
    **interface_kwargs: Any,
) -> Any:
    """Convert a functional Keras model to ONNX (tf2onnx ``from_function``, dynamic batch)."""
    if not MIN_OPSET <= opset <= MAX_OPSET:
        raise ValueError(f"opset must be in {MIN_OPSET}..{MAX_OPSET}, got {opset}")
    import onnx  # noqa: PLC0415
    import tensorflow as tf  # noqa: PLC0415
    import tf2onnx  # noqa: PLC0415

    if interface is None:
        interface = interface_from_keras(model, **interface_kwargs)
    elif interface_kwargs:
        raise TypeError("pass either an interface or the interface_from_keras options, not both")
    keras_inputs = [t.name.split(":")[0] for t in model.inputs]
    by_source = {s.source: s for s in interface.inputs}
    signature = [
        tf.TensorSpec((None, *s.shape), tf.as_dtype(s.dtype), name=f"export_in_{i}")
        for i, s in enumerate(interface.inputs)
    ]
    out_keys = [f"export_out_{i}" for i in range(len(interface.outputs))]

    @tf.function(input_signature=signature, autograph=False)
    def serving(*xs):
        given = {s.source: s.to_source_tf(x) for s, x in zip(interface.inputs, xs, strict=True)}
        ordered = [given[name] for name in keras_inputs]
        out = model(ordered if len(ordered) > 1 else ordered[0], training=False)
        outs = (
            list(out.values())
            if isinstance(out, dict)
            else (list(out) if isinstance(out, (list, tuple)) else [out])
        )
        if len(outs) != len(out_keys):
            raise ValueError(f"model returned {len(outs)} outputs, interface has {len(out_keys)}")
        return {k: tf.identity(o) for k, o in zip(out_keys, outs, strict=True)}

    missing = set(keras_inputs) - set(by_source)
    if missing:
        raise ValueError(f"interface lacks model inputs {sorted(missing)}")
    proto, _ = tf2onnx.convert.from_function(
        serving, input_signature=signature, opset=opset, output_path=None
    )
    graph = proto.graph
    in_names = [vi.name for vi in graph.input]
    for i, spec in enumerate(interface.inputs):
        old = next((n for n in in_names if n.split(":")[0] == f"export_in_{i}"), None)
        if old is None:
            raise RuntimeError(f"tf2onnx lost input {i} ({spec.source}); graph inputs {in_names}")
        _rename_tensor(graph, old, spec.name)
    out_names = [vi.name for vi in graph.output]
    for key, spec in zip(out_keys, interface.outputs, strict=True):
        old = next((n for n in out_names if n.split(":")[0] == key), None)
        if old is None:
            raise RuntimeError(
                f"tf2onnx lost output {key} ({spec.source}); graph outputs {out_names}"
            )
        _rename_tensor(graph, old, spec.name)
    _set_batch_dim(graph, batch_dim)
    folded = fold_static_reshapes(proto)
    if folded:
        logger.debug("folded %d shape-computing Reshape targets into constants", folded)
    graph.name = getattr(model, "name", None) or "model"
    proto.producer_name = "gaze_pipelines"
    write_interface(proto, interface)
    onnx.checker.check_model(proto)
    return proto


# --------------------------------------------------------------------------------------------
# INT8: symmetric Q/DQ with onnxruntime quantize_static
# --------------------------------------------------------------------------------------------


def calibration_batches(
    batches: Iterable[Mapping[str, np.ndarray]], cal_batches: int, cal_batch_size: int
) -> list[dict[str, np.ndarray]]:
    """Re-batch a stream of input dicts into ``cal_batches`` batches of ``cal_batch_size``.

    Raises ``ValueError`` when the stream holds fewer than ``cal_batches * cal_batch_size``
    samples (a silently smaller calibration set would change the ranges).
    """
    if cal_batches < 1 or cal_batch_size < 1:
        raise ValueError("cal_batches and cal_batch_size must be >= 1")
    need = cal_batches * cal_batch_size
    pending: dict[str, list[np.ndarray]] = {}
    have = 0
    for batch in batches:
        for key, value in batch.items():
            pending.setdefault(key, []).append(np.asarray(value))
        have += len(next(iter(batch.values())))
        if have >= need:
            break
    if have < need:
        raise ValueError(
            f"calibration needs cal_batches x cal_batch_size = {cal_batches} x {cal_batch_size} = "
            f"{need} samples, the data holds {have}"
        )
    joined = {k: np.concatenate(v, axis=0)[:need] for k, v in pending.items()}
    return [
        {k: v[i * cal_batch_size : (i + 1) * cal_batch_size] for k, v in joined.items()}
        for i in range(cal_batches)
    ]


def _calibration_reader(
    batches: Sequence[Mapping[str, np.ndarray]],
    interface: ModelInterface | None,
    input_names: list[str],
):
    from onnxruntime.quantization import CalibrationDataReader  # noqa: PLC0415

    class _Reader(CalibrationDataReader):
        def __init__(self) -> None:
            self._feeds = [
                interface.feed(b)
                if interface is not None
                else {n: np.asarray(b[n], np.float32) for n in input_names}
                for b in batches
            ]
            self._it: Iterator[dict[str, np.ndarray]] = iter(self._feeds)

        def get_next(self) -> dict[str, np.ndarray] | None:
            return next(self._it, None)

        def rewind(self) -> None:
            self._it = iter(self._feeds)

        def __len__(self) -> int:
            return len(self._feeds)

        def set_range(self, start_index: int, end_index: int) -> None:
            self._it = iter(self._feeds[start_index:end_index])

    return _Reader()


@dataclass
class Int8Result:
    """A Q/DQ INT8 ONNX model and its calibration ranges table."""

    model: Any
    ranges: pd.DataFrame
    summary: dict[str, Any] = field(default_factory=dict)


def _initializers(graph: Any) -> dict[str, np.ndarray]:
    from onnx import numpy_helper  # noqa: PLC0415

    return {t.name: numpy_helper.to_array(t) for t in graph.initializer}


def qdq_ranges_table(
    model: Any,
    observed: Mapping[str, tuple[float, float]] | None = None,
    thresholds: Mapping[str, float] | None = None,
    method: str | None = None,
) -> pd.DataFrame:
    """One row per quantized tensor of a Q/DQ model.

    Columns: tensor, kind (activation | weight | bias), qtype (int8 | uint8), per_channel,
    channels, observed_min/observed_max (seen during calibration), calib_amax (the method's
    threshold on |x|), amax (symmetric: 127 x scale; asymmetric: the larger end of the range),
    range_min/range_max (the float range the integer type covers: scale x (qmin/qmax - zero
    point), the largest scale for per-channel weights), scale (scale_min/scale_max for
    per-channel weights), zero_point (0: symmetric), method.
    """
    inits = _initializers(model.graph)
    rows: list[dict[str, Any]] = []
    seen: set[str] = set()
    for node in model.graph.node:
        if node.op_type not in ("QuantizeLinear", "DequantizeLinear"):
            continue
        tensor = node.input[0]
        if node.op_type == "DequantizeLinear" and tensor not in inits:
            continue  # activation DQ: described by its QuantizeLinear
        name = node.output[0] if node.op_type == "DequantizeLinear" else tensor
        name = name.removesuffix("_DequantizeLinear_Output").removesuffix("_QuantizeLinear_Input")
        if name in seen:
            continue
        seen.add(name)
        scale = np.atleast_1d(inits[node.input[1]]).astype(np.float64)
        zp_arr = inits.get(node.input[2]) if len(node.input) > 2 else None
        zp = np.atleast_1d(zp_arr) if zp_arr is not None else np.zeros(1, np.int8)
        qtype = str(zp.dtype)
        integer = np.issubdtype(zp.dtype, np.integer)
        qmin = float(np.iinfo(zp.dtype).min) if integer else float("nan")
        qmax = float(np.iinfo(zp.dtype).max) if integer else float("nan")
        zp0 = float(zp.flat[0]) if zp.size else 0.0
        range_min = float(scale.max() * (qmin - zp0))
        range_max = float(scale.max() * (qmax - zp0))
        symmetric = bool(np.all(zp == 0)) and qmin < 0
        if node.op_type == "QuantizeLinear":
            kind = "activation"
        elif np.issubdtype(inits[tensor].dtype, np.int32):
            kind = "bias"
        else:
            kind = "weight"
        lo, hi = (observed or {}).get(name, (np.nan, np.nan))
        rows.append(
            {
                "tensor": name,
                "kind": kind,
                "qtype": qtype,
                "per_channel": scale.size > 1,
                "channels": int(scale.size),
                "observed_min": float(lo),
                "observed_max": float(hi),
                "calib_amax": float((thresholds or {}).get(name, np.nan)),
                "amax": (
                    float("nan")
                    if kind == "bias"
                    else float(scale.max() * qmax)
                    if symmetric
                    else max(abs(range_min), abs(range_max))
                ),
                "range_min": range_min if kind != "bias" else float("nan"),
                "range_max": range_max if kind != "bias" else float("nan"),
                "scale": float(scale[0]) if scale.size == 1 else float("nan"),
                "scale_min": float(scale.min()),
                "scale_max": float(scale.max()),
                "zero_point": int(zp.flat[0]) if zp.size == 1 else int(np.abs(zp).max()),
                "zero_point_max_abs": int(np.abs(zp.astype(np.int64)).max()),
                "method": method if kind == "activation" else "weights",
            }
        )
    columns = [
        "tensor",
        "kind",
        "qtype",
        "per_channel",
        "channels",
        "observed_min",
        "observed_max",
        "calib_amax",
        "amax",
        "range_min",
        "range_max",
        "scale",
        "scale_min",
        "scale_max",
        "zero_point",
        "zero_point_max_abs",
        "method",
    ]
    return pd.DataFrame(rows, columns=columns)


def _calibrate_method(method: str):
    from onnxruntime.quantization import CalibrationMethod  # noqa: PLC0415

    mapping = {
        "entropy": CalibrationMethod.Entropy,
        "minmax": CalibrationMethod.MinMax,
        "percentile": CalibrationMethod.Percentile,
    }
    if method not in mapping:
        raise ValueError(f"calibration method must be one of {CALIBRATION_METHODS}, got {method!r}")
    return mapping[method]


def preprocess_for_quantization(model: Any) -> Any:
    """Shape inference + onnxruntime's basic graph optimizations (folds BN, constants)."""
    import onnx  # noqa: PLC0415
    from onnxruntime.quantization.shape_inference import quant_pre_process  # noqa: PLC0415

    interface = read_interface(model)
    with tempfile.TemporaryDirectory(prefix="gp_quant_pre_") as tmp:
        src, dst = Path(tmp) / "in.onnx", Path(tmp) / "out.onnx"
        onnx.save_model(model, str(src))
        # ONNX shape inference is enough for these static-shape CNNs; symbolic shape inference
        # (needs sympy) is used when available and skipped when it fails on a graph.
        symbolic = importlib.util.find_spec("sympy") is not None
        try:
            quant_pre_process(str(src), str(dst), skip_symbolic_shape=not symbolic)
        except Exception as exc:
            if not symbolic:
                raise
            logger.warning("symbolic shape inference failed (%s); pre-processing without it", exc)
            quant_pre_process(str(src), str(dst), skip_symbolic_shape=True)
        out = onnx.load_model(str(dst))
    if interface is not None:
        write_interface(out, interface)
    return out


def _calibrate(
    model_path: Path,
    ops: list[str],
    reader: Any,
    augmented_path: Path,
    method: str,
    *,
    num_bins: int,
    num_quantized_bins: int,
    percentile: float,
) -> tuple[dict[str, tuple[float, float]], dict[str, float]]:
    """Run onnxruntime's calibrator; return the observed ranges and the thresholds (amax)."""
    from onnxruntime.quantization import CalibrationMethod, create_calibrator  # noqa: PLC0415

    from gaze_pipelines.core.calibration import entropy_amax, percentile_amax  # noqa: PLC0415

    observed: dict[str, tuple[float, float]] = {}
    thresholds: dict[str, float] = {}
    if method == "minmax":
        calibrator = create_calibrator(
            model_path,
            ops,
            augmented_model_path=str(augmented_path),
            calibrate_method=CalibrationMethod.MinMax,
            extra_options={"symmetric": False},
        )
        calibrator.collect_data(reader)
        for name, data in calibrator.compute_data().data.items():
            lo, hi = (float(np.min(v)) for v in data.range_value)
            observed[name] = (lo, max(hi, lo))
            thresholds[name] = max(abs(lo), abs(hi))
    else:
        calibrator = create_calibrator(
            model_path,
            ops,
            augmented_model_path=str(augmented_path),
            calibrate_method=CalibrationMethod.Percentile,
            extra_options={"symmetric": True, "num_bins": num_bins, "percentile": percentile},
        )
        calibrator.collect_data(reader)
        histograms = getattr(getattr(calibrator, "collector", None), "histogram_dict", None)
        if not histograms:
            raise RuntimeError("onnxruntime's histogram calibrator collected no histograms")
        for name, (hist, edges, lo, hi, *_) in histograms.items():
            lo, hi = float(lo), float(hi)
            amax = (
                entropy_amax(hist, edges, num_quantized_bins)
                if method == "entropy"
                else percentile_amax(hist, edges, percentile)
            )
            observed[name] = (lo, hi)
            thresholds[name] = min(amax, max(abs(lo), abs(hi)))
    del calibrator
    return observed, thresholds


_OUTPUT_PASS_THROUGH = {
    "Add",
    "Sub",
    "Mul",
    "Div",
    "Identity",
    "Reshape",
    "Flatten",
    "Squeeze",
    "Unsqueeze",
    "Transpose",
    "Concat",
    "Relu",
    "Sigmoid",
    "Tanh",
    "Softmax",
    "LogSoftmax",
    "Clip",
}
_OUTPUT_LAYERS = {"MatMul", "Gemm", "Conv", "ConvTranspose"}


def output_layer_nodes(model: Any) -> list[str]:
    """Names of the nodes that compute the model outputs from the last layer(s).

    Walks back from every graph output through element-wise / shape ops to the first
    MatMul, Gemm or Conv (included). Quantizing these to INT8 puts one scale on the whole output
    tensor; when the outputs mix units (GazeNet: x, y, z in mm and theta, phi in radians) the
    small ones round to zero, so ``quantize_int8`` keeps them in float by default.
    """
    graph = model.graph
    producer = {o: n for n in graph.node for o in n.output}
    constants = {t.name for t in graph.initializer}
    names: list[str] = []
    stack = [o.name for o in graph.output]
    while stack:
        node = producer.get(stack.pop())
        if node is None or node.name in names:
            continue
        names.append(node.name)
        if node.op_type in _OUTPUT_PASS_THROUGH:
            stack.extend(i for i in node.input if i and i not in constants)
    return names


def input_layer_nodes(model: Any) -> list[str]:
    """Names of the first Conv / MatMul / Gemm node on every path from a graph input.

    Walks forward from each graph input through element-wise / shape ops to the first weighted
    layer (included). ``keep_input_layers_float`` keeps these in float: a first convolution over
    one grey channel has too few input channels for the INT8 kernels to pay (NvGaze's 127x127
    conv1: its QLinearConv and the input QuantizeLinear cost more than the FP32 convolution),
    and the raw input keeps full precision.
    """
    graph = model.graph
    constants = {t.name for t in graph.initializer}
    consumers: dict[str, list[Any]] = {}
    for node in graph.node:
        for name in node.input:
            consumers.setdefault(name, []).append(node)
    stack = [vi.name for vi in graph.input if vi.name not in constants]
    names: list[str] = []
    seen: set[str] = set()
    while stack:
        for node in consumers.get(stack.pop(), []):
            key = node.name or node.output[0]
            if key in seen:
                continue
            seen.add(key)
            if node.op_type in _OUTPUT_LAYERS:
                names.append(node.name)
            else:
                stack.extend(node.output)
    return names


def _default_op_types() -> list[str]:
    from onnxruntime.quantization.registry import QDQRegistry, QLinearOpsRegistry  # noqa: PLC0415

    return sorted(set(QLinearOpsRegistry) | set(QDQRegistry))


@dataclass
class Int8Calibration:
    """Activation statistics of one calibration run, reusable by every INT8 scheme.

    ``model`` is the pre-processed FP32 graph the statistics belong to (tensor names refer to
    it), ``observed`` the min/max each tensor took, ``thresholds`` the method's clipping
    threshold on |x| (TensorRT's amax).
    """

    model: Any
    method: str
    ops: list[str]
    excluded: list[str]
    observed: dict[str, tuple[float, float]]
    thresholds: dict[str, float]
    num_bins: int | None
    batches: int
    samples: int


def calibrate_int8(
    model: Any,
    calibration: Sequence[Mapping[str, np.ndarray]],
    *,
    method: str = "entropy",
    percentile: float = 99.999,
    num_bins: int | None = None,
    num_quantized_bins: int = 128,
    op_types: Sequence[str] | None = None,
    nodes_to_exclude: Sequence[str] | None = None,
    preprocess: bool = True,
    keep_output_layers_float: bool = True,
    keep_input_layers_float: bool = False,
) -> Int8Calibration:
    """Collect activation ranges on ``calibration`` (the expensive half of ``quantize_int8``).

    Activation ranges: ``minmax`` from onnxruntime's min/max calibrator; ``entropy`` (TensorRT's
    KL search, ``core.calibration.entropy_amax``) and ``percentile`` from histograms of |x|
    (``num_bins``, default 2048) collected by onnxruntime's histogram calibrator. onnxruntime's
    own entropy search is not used: ``quantize_static`` does not forward ``num_bins`` (with its
    128 bins and 128 quantized bins it degenerates to min/max) and with 2048 bins it is pure
    Python and takes minutes.
    """
    import onnx  # noqa: PLC0415

    _calibrate_method(method)  # fail early on an unknown method
    calibration = list(calibration)
    if not calibration:
        raise ValueError("quantize_int8 needs at least one calibration batch")
    interface = read_interface(model)
    if preprocess:
        model = preprocess_for_quantization(model)
    input_names = [
        vi.name
        for vi in model.graph.input
        if vi.name not in {t.name for t in model.graph.initializer}
    ]
    reader = _calibration_reader(calibration, interface, input_names)
    excluded = list(nodes_to_exclude or [])
    if keep_output_layers_float:
        excluded += [n for n in output_layer_nodes(model) if n not in excluded]
    if keep_input_layers_float:
        excluded += [n for n in input_layer_nodes(model) if n not in excluded]
    ops = list(op_types) if op_types else _default_op_types()
    with tempfile.TemporaryDirectory(prefix="gp_calib_") as tmp:
        fp32_path = Path(tmp) / "fp32.onnx"
        onnx.save_model(model, str(fp32_path))
        observed, thresholds = _calibrate(
            fp32_path,
            ops,
            reader,
            Path(tmp) / "augmented.onnx",
            method,
            num_bins=int(num_bins or 2048),
            num_quantized_bins=num_quantized_bins,
            percentile=percentile,
        )
    return Int8Calibration(
        model=model,
        method=method,
        ops=ops,
        excluded=excluded,
        observed=observed,
        thresholds=thresholds,
        num_bins=None if method == "minmax" else int(num_bins or 2048),
        batches=len(calibration),
        samples=int(sum(len(next(iter(b.values()))) for b in calibration)),
    )


def _scheme_ranges(calib: Int8Calibration, scheme: str) -> dict[str, tuple[float, float]]:
    """(lowest, highest) per tensor: +-amax (s8s8) or the observed range clipped to amax (u8s8).

    For ``u8s8`` a tensor that never went negative (ReLU outputs) gets ``lowest = 0``, so its
    zero point is 0 = qmin and onnxruntime folds the ReLU into the quantized convolution.
    """
    ranges: dict[str, tuple[float, float]] = {}
    for name, amax in calib.thresholds.items():
        if scheme == "s8s8":
            ranges[name] = (-amax, amax)
            continue
        lo, hi = calib.observed.get(name, (-amax, amax))
        lowest = 0.0 if lo >= 0.0 else max(lo, -amax)
        highest = max(min(hi, amax), 0.0)
        if highest <= lowest:
            highest = lowest + max(amax, 1e-8)
        ranges[name] = (lowest, highest)
    return ranges


def quantize_int8(
    model: Any,
    calibration: Sequence[Mapping[str, np.ndarray]] | None = None,
    *,
    scheme: str = "s8s8",
    reduce_range: bool = False,
    calibrated: Int8Calibration | None = None,
    per_channel: bool = True,
    **calibrate_options: Any,
) -> Int8Result:
    """Q/DQ INT8 model of ``model`` calibrated on ``calibration`` (see module docstring).

    ``scheme``: ``s8s8`` (default) is the TensorRT scheme: symmetric QInt8 activations and
    weights, every zero point 0, what a strongly typed TensorRT engine needs. ``u8s8`` is
    onnxruntime's x86 CPU scheme: asymmetric QUInt8 activations (ReLU outputs start at the zero
    point, so Conv+ReLU fuse into one ``QLinearConv``) and symmetric QInt8 weights; not for
    TensorRT. ``reduce_range`` (7-bit weights) avoids the U8S8 saturation of AVX2 / AVX-512 CPUs
    without VNNI. Pass ``calibrated`` (from ``calibrate_int8``) to build several schemes from one
    calibration run; otherwise ``calibrate_options`` (``method``, ``percentile``, ``num_bins``,
    ``op_types``, ``nodes_to_exclude``, ``keep_*_layers_float``, ...) go to ``calibrate_int8``.
    The ranges reach ``quantize_static`` through its calibration cache.
    """
    import onnx  # noqa: PLC0415
    from onnxruntime.quantization import QuantFormat, QuantType, quantize_static  # noqa: PLC0415
    from onnxruntime.quantization.calibrate import (  # noqa: PLC0415
        TensorData,
        TensorsData,
        save_tensors_data,
    )

    if scheme not in INT8_SCHEMES:
        raise ValueError(f"INT8 scheme must be one of {list(INT8_SCHEMES)}, got {scheme!r}")
    interface = read_interface(model)
    if calibrated is None:
        if calibration is None:
            raise ValueError("quantize_int8 needs calibration batches or a calibrated result")
        calibrated = calibrate_int8(model, calibration, **calibrate_options)
    elif calibrate_options:
        raise TypeError(f"calibration options {sorted(calibrate_options)} given with calibrated=")
    calib = calibrated
    symmetric = scheme == "s8s8"
    ranges = _scheme_ranges(calib, scheme)
    tensors = TensorsData(
        _calibrate_method(calib.method),
        {
            name: TensorData(lowest=np.array(lo, np.float32), highest=np.array(hi, np.float32))
            for name, (lo, hi) in ranges.items()
        },
    )
    with tempfile.TemporaryDirectory(prefix="gp_quant_") as tmp:
        fp32_path = Path(tmp) / "fp32.onnx"
        out_path = Path(tmp) / "int8.onnx"
        cache_path = Path(tmp) / "calibration.json"
        onnx.save_model(calib.model, str(fp32_path))
        save_tensors_data(tensors, cache_path)
        quantize_static(
            str(fp32_path),
            str(out_path),
            None,
            quant_format=QuantFormat.QDQ,
            activation_type=QuantType.QInt8 if symmetric else QuantType.QUInt8,
            weight_type=QuantType.QInt8,
            per_channel=per_channel,
            reduce_range=reduce_range,
            op_types_to_quantize=calib.ops,
            nodes_to_exclude=calib.excluded or None,
            calibrate_method=_calibrate_method(calib.method),
            extra_options={"ActivationSymmetric": symmetric, "WeightSymmetric": True},
            calibration_cache_path=str(cache_path),
        )
        qmodel = onnx.load_model(str(out_path))
    interface = interface or read_interface(calib.model)
    if interface is not None:
        write_interface(qmodel, interface)
    onnx.checker.check_model(qmodel)
    table = qdq_ranges_table(qmodel, calib.observed, calib.thresholds, calib.method)
    if table.empty:
        raise RuntimeError(
            "quantize_static inserted no Q/DQ nodes: nothing in the graph was quantized"
        )
    summary = {
        "scheme": scheme,
        "method": calib.method,
        "per_channel": per_channel,
        "reduce_range": reduce_range,
        "num_bins": calib.num_bins,
        "calibration_batches": calib.batches,
        "calibration_samples": calib.samples,
        "quantized_tensors": int(len(table)),
        "float_nodes": calib.excluded,
        "quantized_ops": sorted(
            {
                n.op_type
                for n in qmodel.graph.node
                if any(i.endswith("DequantizeLinear_Output") for i in n.input)
            }
        ),
    }
    logger.info(
        "INT8 %s (%s, per_channel=%s): %d Q/DQ tensors, ops %s",
        scheme,
        calib.method,
        per_channel,
        len(table),
        summary["quantized_ops"],
    )
    return Int8Result(qmodel, table, summary)


def qdq_zero_points(model: Any) -> dict[str, np.ndarray]:
    """Zero points of every Quantize/DequantizeLinear node (all 0 when symmetric)."""
    inits = _initializers(model.graph)
    return {
        node.name or node.output[0]: np.atleast_1d(inits.get(node.input[2], np.zeros(1)))
        for node in model.graph.node
        if node.op_type in ("QuantizeLinear", "DequantizeLinear") and len(node.input) > 2
    }


# --------------------------------------------------------------------------------------------
# FP16 ONNX and TensorRT
# --------------------------------------------------------------------------------------------


def topological_sort(graph: Any) -> None:
    """Reorder ``graph.node`` so every node comes after the producers of its inputs."""
    available = {i.name for i in graph.input} | {t.name for t in graph.initializer} | {""}
    pending = list(graph.node)
    ordered = []
    while pending:
        ready = [n for n in pending if all(i in available for i in n.input)]
        if not ready:
            missing = sorted({i for n in pending for i in n.input} - available)[:5]
            raise ValueError(f"graph has a cycle or dangling inputs: {missing}")
        for n in ready:
            ordered.append(n)
            available.update(n.output)
        pending = [n for n in pending if all(n is not r for r in ready)]
    copies = [type(n)() for n in ordered]
    for dst, src in zip(copies, ordered, strict=True):
        dst.CopyFrom(src)
    del graph.node[:]
    graph.node.extend(copies)


def to_fp16_onnx(model: Any) -> Any:
    """FP16 graph keeping FP32 inputs/outputs (for a strongly typed FP16 TensorRT engine)."""
    import copy  # noqa: PLC0415

    import onnx  # noqa: PLC0415
    from onnxruntime.transformers.float16 import convert_float_to_float16  # noqa: PLC0415

    interface = read_interface(model)
    out = convert_float_to_float16(
        copy.deepcopy(model), keep_io_types=True, disable_shape_infer=False
    )
    topological_sort(out.graph)  # the converter appends its input casts after their consumers
    if interface is not None:
        write_interface(out, interface)
    onnx.checker.check_model(out)
    return out


class TensorRTUnavailableError(RuntimeError):
    """TensorRT cannot run here; the message names what is missing."""


def tensorrt_missing() -> str | None:
    """Why TensorRT engines cannot be built or run here (``None`` when they can)."""
    try:
        import tensorrt as trt  # noqa: PLC0415
    except ImportError as exc:
        return (
            f"the 'tensorrt' Python package (TensorRT >= 10) is not installed ({exc}); "
            "install the extra: pip install -e '.[tensorrt]'"
        )
    major = int(str(trt.__version__).split(".")[0])
    if major < 10:
        return f"TensorRT {trt.__version__} is too old: strongly typed Q/DQ engines need >= 10"
    try:
        import pycuda.driver as cuda  # noqa: PLC0415
    except ImportError as exc:
        return f"'pycuda' is not installed ({exc}); install the extra: pip install -e '.[tensorrt]'"
    try:
        cuda.init()
        count = cuda.Device.count()
    except Exception as exc:  # pycuda raises its own error types when there is no driver
        return f"no usable CUDA driver/GPU ({type(exc).__name__}: {exc})"
    if count < 1:
        return "no CUDA GPU found (TensorRT engines are built and run on an NVIDIA GPU)"
    return None


def require_tensorrt() -> None:
    """Raise ``TensorRTUnavailableError`` with the reason when TensorRT cannot be used."""
    reason = tensorrt_missing()
    if reason is not None:
        raise TensorRTUnavailableError(f"TensorRT export is unavailable: {reason}")


@dataclass
class TensorRTEngine:
    """A serialized TensorRT engine plus what is needed to feed it."""

    engine: bytes
    interface: ModelInterface | None
    precision: str
    max_batch_size: int
    tensorrt_version: str

    def metadata(self) -> dict[str, Any]:
        """JSON-able description (the engine dataset's sidecar)."""
        return {
            "precision": self.precision,
            "max_batch_size": self.max_batch_size,
            "tensorrt_version": self.tensorrt_version,
            "interface": json.loads(self.interface.to_json()) if self.interface else None,
        }


def build_tensorrt_engine(
    model: Any,
    *,
    precision: str = "int8",
    max_batch_size: int = 32,
    opt_batch_size: int | None = None,
    min_batch_size: int = 1,
    workspace_mib: int = 1024,
) -> TensorRTEngine:
    """Build a strongly typed TensorRT engine from an ONNX model (Q/DQ INT8 or FP16 graph)."""
    require_tensorrt()
    import tensorrt as trt  # noqa: PLC0415

    if not 1 <= min_batch_size <= (opt_batch_size or max_batch_size) <= max_batch_size:
        raise ValueError("need 1 <= min_batch_size <= opt_batch_size <= max_batch_size")
    opt = opt_batch_size or max_batch_size
    trt_logger = trt.Logger(trt.Logger.WARNING)
    builder = trt.Builder(trt_logger)
    flags = 1 << int(trt.NetworkDefinitionCreationFlag.STRONGLY_TYPED)
    network = builder.create_network(flags)
    parser = trt.OnnxParser(network, trt_logger)
    if not parser.parse(model.SerializeToString()):
        errors = "; ".join(str(parser.get_error(i)) for i in range(parser.num_errors))
        raise RuntimeError(f"TensorRT could not parse the ONNX model: {errors}")
    config = builder.create_builder_config()
    config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(workspace_mib) << 20)
    profile = builder.create_optimization_profile()
    for i in range(network.num_inputs):
        tensor = network.get_input(i)
        per_sample = tuple(int(d) for d in tensor.shape[1:])
        if any(d < 0 for d in per_sample):
            raise ValueError(
                f"input '{tensor.name}' has a dynamic non-batch dimension {tensor.shape}"
            )
        profile.set_shape(
            tensor.name,
            (min_batch_size, *per_sample),
            (opt, *per_sample),
            (max_batch_size, *per_sample),
        )
    config.add_optimization_profile(profile)
    serialized = builder.build_serialized_network(network, config)
    if serialized is None:
        raise RuntimeError("TensorRT failed to build the engine (see the TensorRT log above)")
    return TensorRTEngine(
        bytes(memoryview(serialized)),
        read_interface(model),
        precision,
        max_batch_size,
        str(trt.__version__),
    )


# --------------------------------------------------------------------------------------------
# Comparison
# --------------------------------------------------------------------------------------------


def float64_twin(model: Any) -> Any:
    """A float64 copy of a functional / sequential Keras model (same weights, cast up).

    Every ``dtype`` / dtype policy in the model config becomes ``float64``; used as the exact
    reference that tells float32 round-off (Keras and ONNX both drift from it) from export errors.
    """
    config = model.get_config()

    def walk(obj: Any) -> None:
        if isinstance(obj, dict):
            for key, value in list(obj.items()):
                if key == "dtype" and (value == "float32" or isinstance(value, dict)):
                    obj[key] = "float64"
                else:
                    walk(value)
        elif isinstance(obj, list):
            for value in obj:
                walk(value)

    walk(config)
    twin = model.__class__.from_config(config)
    twin.set_weights([np.asarray(w, np.float64) for w in model.get_weights()])
    return twin


def float64_outputs(model: Any, inputs: Mapping[str, np.ndarray]) -> np.ndarray:
    """First output of ``float64_twin(model)`` on Keras-named ``inputs``, as float64."""
    from gaze_pipelines.core.predict import KerasPredictor  # noqa: PLC0415

    feed = {name: np.asarray(value, np.float64) for name, value in inputs.items()}
    return KerasPredictor(float64_twin(model), dtype=np.float64).predict(feed)


def parity_stats(reference: np.ndarray, candidate: np.ndarray) -> dict[str, Any]:
    """Output differences of ``candidate`` to ``reference`` (same shape, any float dtype)."""
    ref = np.asarray(reference, np.float64)
    got = np.asarray(candidate, np.float64)
    if ref.shape != got.shape:
        raise ValueError(f"output shapes differ: {ref.shape} vs {got.shape}")
    diff = np.abs(ref - got)
    scale = np.maximum(np.abs(ref), 1e-6)
    return {
        "max_abs_diff": float(diff.max()) if diff.size else 0.0,
        "mean_abs_diff": float(diff.mean()) if diff.size else 0.0,
        "max_rel_diff": float((diff / scale).max()) if diff.size else 0.0,
        "max_abs_diff_per_output": (
            diff.reshape(len(diff), -1).max(axis=0).tolist() if diff.size else []
        ),
        "samples": int(ref.shape[0]) if ref.ndim else 1,
    }


def check_parity(
    reference: Any, candidate: Any, inputs: Mapping[str, np.ndarray]
) -> dict[str, Any]:
    """Output differences of ``candidate`` to ``reference`` predictors on the same inputs."""
    return parity_stats(reference.predict(dict(inputs)), candidate.predict(dict(inputs)))


def compare_formats(
    predictors: Mapping[str, Any],
    evaluate: Callable[[Any], Mapping[str, float]],
    inputs: Mapping[str, np.ndarray],
    *,
    reference: str = "keras",
    file_sizes: Mapping[str, int] | None = None,
    batch_sizes: Sequence[int] = (1, 32),
    warmup: int = 3,
    repeats: int = 20,
    kpi_tolerance: float = 0.02,
    speedup_baseline: str | None = "onnx",
) -> pd.DataFrame:
    """Side-by-side report of deployable formats: KPIs, deltas, parity, latency, size."""
    from gaze_pipelines.core.latency import measure_latency  # noqa: PLC0415

    if reference not in predictors:
        raise ValueError(f"reference format '{reference}' is not among {list(predictors)}")
    kpis = {fmt: dict(evaluate(p)) for fmt, p in predictors.items()}
    ref_kpi = kpis[reference]
    rows = []
    for fmt, predictor in predictors.items():
        row: dict[str, Any] = {"format": fmt}
        for key, value in kpis[fmt].items():
            row[key] = float(value)
        for key, value in kpis[fmt].items():
            base = ref_kpi.get(key)
            row[f"{key}_delta"] = float(value - base) if base is not None else np.nan
            row[f"{key}_delta_rel"] = (
                float((value - base) / abs(base)) if base not in (None, 0) else np.nan
            )
        deltas = [
            abs(row[f"{k}_delta_rel"]) for k in kpis[fmt] if not np.isnan(row[f"{k}_delta_rel"])
        ]
        row["kpi_within_tolerance"] = bool(all(d <= kpi_tolerance for d in deltas))
        parity = (
            check_parity(predictors[reference], predictor, inputs)
            if fmt != reference
            else {"max_abs_diff": 0.0, "mean_abs_diff": 0.0}
        )
        row["max_abs_diff"] = parity["max_abs_diff"]
        row["mean_abs_diff"] = parity["mean_abs_diff"]
        lat = measure_latency(
            predictor, inputs, batch_sizes=batch_sizes, warmup=warmup, repeats=repeats
        )
        for rec in lat.itertuples():
            row[f"p50_ms_b{rec.batch_size}"] = rec.p50_ms
            row[f"p95_ms_b{rec.batch_size}"] = rec.p95_ms
        size = (file_sizes or {}).get(fmt)
        row["file_size_mb"] = round(size / 2**20, 3) if size is not None else np.nan
        rows.append(row)
    report = pd.DataFrame(rows)
    base = speedup_baseline if speedup_baseline in predictors else reference
    for b in batch_sizes:
        col = f"p50_ms_b{b}"
        ref_ms = float(report.loc[report["format"] == base, col].iloc[0])
        report[f"speedup_b{b}_vs_{base}"] = ref_ms / report[col]
    return report


def report_markdown(report: pd.DataFrame, title: str = "Export comparison") -> str:
    """Render a ``compare_formats`` report as a Markdown table (floats to 4 significant digits)."""
    cols = list(report.columns)

    def fmt(v: Any) -> str:
        if isinstance(v, (float, np.floating)):
            return "nan" if np.isnan(v) else f"{v:.4g}"
        return str(v)

    lines = [
        f"# {title}",
        "",
        "| " + " | ".join(cols) + " |",
        "|" + "|".join("---" for _ in cols) + "|",
    ]
    lines += [
        "| " + " | ".join(fmt(v) for v in rec) + " |" for rec in report.itertuples(index=False)
    ]
    return "\n".join(lines) + "\n"


# --------------------------------------------------------------------------------------------
# Parameters
# --------------------------------------------------------------------------------------------


class Int8Params(StrictModel):
    """INT8 calibration (TAO: --cal_image_dir, --batches, --batch_size, --cal_cache_file)."""

    cal_batches: int = Field(8, ge=1)
    cal_batch_size: int = Field(16, ge=1)
    calibration_method: Literal["entropy", "minmax", "percentile"] = "entropy"
    percentile: float = Field(99.999, gt=0.0, le=100.0)
    num_bins: int | None = Field(None, ge=128)
    num_quantized_bins: int = Field(128, ge=32)
    per_channel: bool = True
    # the onnxruntime CPU model (U8S8): 7-bit weights for x86 CPUs without VNNI (AVX2 and
    # AVX-512 without VNNI saturate U8S8 products); keep false on VNNI CPUs
    cpu_reduce_range: bool = False
    op_types_to_quantize: list[str] | None = None
    nodes_to_exclude: list[str] = Field(default_factory=list)
    preprocess: bool = True
    keep_output_layers_float: bool = True
    keep_input_layers_float: bool = False
    cal_image_dir: str | None = None
    seed: int = 0

    def calibrate_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``calibrate_int8``."""
        return {
            "method": self.calibration_method,
            "percentile": self.percentile,
            "num_bins": self.num_bins,
            "num_quantized_bins": self.num_quantized_bins,
            "op_types": self.op_types_to_quantize,
            "nodes_to_exclude": self.nodes_to_exclude,
            "preprocess": self.preprocess,
            "keep_output_layers_float": self.keep_output_layers_float,
            "keep_input_layers_float": self.keep_input_layers_float,
        }


def quantize_int8_schemes(
    model: Any,
    calibration: Sequence[Mapping[str, np.ndarray]],
    params: Int8Params | None = None,
) -> dict[str, Int8Result]:
    """``{"s8s8": ..., "u8s8": ...}``: both INT8 schemes from one calibration run of ``params``."""
    p = params or Int8Params()
    calibrated = calibrate_int8(model, calibration, **p.calibrate_kwargs())
    return {
        "s8s8": quantize_int8(
            model, calibrated=calibrated, scheme="s8s8", per_channel=p.per_channel
        ),
        "u8s8": quantize_int8(
            model,
            calibrated=calibrated,
            scheme="u8s8",
            per_channel=p.per_channel,
            reduce_range=p.cpu_reduce_range,
        ),
    }


class TensorRTParams(StrictModel):
    """TensorRT engines (TAO: --max_batch_size, --engine_file; workspace in MiB)."""

    # both engines are always built (fixed pipeline outputs); this picks the report rows
    precisions: list[Literal["fp16", "int8"]] = Field(default_factory=lambda: ["fp16", "int8"])
    max_batch_size: int = Field(32, ge=1)
    opt_batch_size: int | None = Field(None, ge=1)
    min_batch_size: int = Field(1, ge=1)
    workspace_mib: int = Field(1024, ge=16)


class BenchmarkParams(StrictModel):
    """Latency measurement of the comparison report (onnxruntime session options)."""

    batch_sizes: list[int] = Field(default_factory=lambda: [1, 32])
    warmup: int = Field(3, ge=0)
    repeats: int = Field(20, ge=1)
    intra_op_num_threads: int = Field(0, ge=0)
    graph_optimization_level: Literal["disable", "basic", "extended", "all"] = "all"
    allow_spinning: bool = True
    samples: int = Field(64, ge=1)

    @field_validator("batch_sizes")
    @classmethod
    def _positive(cls, v: list[int]) -> list[int]:
        if not v or any(b < 1 for b in v):
            raise ValueError("batch_sizes must be a non-empty list of integers >= 1")
        return v


class ExportParams(StrictModel):
    """The ``<model>.export`` parameters shared by every family."""

    opset: int = Field(17, ge=MIN_OPSET, le=MAX_OPSET)
    channels_last: bool = False
    input_names: dict[str, str] = Field(default_factory=dict)
    output_names: dict[str, str] = Field(default_factory=dict)
    input_shapes: dict[str, list[int]] = Field(default_factory=dict)
    parity_tolerance: float = Field(1e-4, gt=0)
    int8_kpi_tolerance: float = Field(0.02, gt=0)
    int8: Int8Params = Field(default_factory=Int8Params)
    tensorrt: TensorRTParams = Field(default_factory=TensorRTParams)
    benchmark: BenchmarkParams = Field(default_factory=BenchmarkParams)

    def interface_kwargs(self) -> dict[str, Any]:
        """Keyword arguments of ``interface_from_keras`` / ``keras_to_onnx``."""
        return {
            "channels_last": self.channels_last,
            "input_names": self.input_names,
            "output_names": self.output_names,
            "input_shapes": self.input_shapes,
        }


def validate_export_params(
    raw: Mapping[str, Any] | ExportParams | None, key_path: str
) -> ExportParams:
    """Validate a family's ``export`` section; ``ValueError`` names the key path and allowed values."""
    return validate(ExportParams, raw, key_path)
