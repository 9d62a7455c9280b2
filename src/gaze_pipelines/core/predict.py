"""One interface for every deployable model format, so KPI code runs unchanged on each.

A ``Predictor`` maps a dict of named numpy inputs to one numpy output array. Keras models are
wrapped here; the export core adds ONNX (onnxruntime, FP32 and INT8) and TensorRT predictors.
Evaluators take a ``Predictor`` (or anything ``as_predictor`` accepts) from the catalog.
"""

from __future__ import annotations

from typing import Any, Protocol, runtime_checkable

import numpy as np


@runtime_checkable
class Predictor(Protocol):
    """Run a model on a batch of named inputs."""

    input_names: list[str]
    output_names: list[str]

    def predict(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Return the first output for a batch of inputs."""
        ...


class KerasPredictor:
    """A Keras model behind the ``Predictor`` interface (inputs by layer name)."""

    def __init__(self, model: Any, batch_size: int = 256, dtype: Any = np.float32):
        self.model = model
        self.batch_size = batch_size
        self.dtype = dtype  # of the returned outputs (float64 for a float64 model)
        self.input_names = [t.name.split(":")[0] for t in model.inputs]
        names = getattr(model, "output_names", None)  # Keras 3: layer names, not tensor ids
        self.output_names = list(names) if names else [t.name.split(":")[0] for t in model.outputs]

    def predict(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Predict in batches; returns the first output as numpy (``dtype``, float32 default)."""
        ordered = [np.asarray(inputs[name]) for name in self.input_names]
        n = len(ordered[0])
        outs = []
        for start in range(0, n, self.batch_size):
            batch = [x[start : start + self.batch_size] for x in ordered]
            # the compiled predict function: a functional model called eagerly costs ~50x more
            out = self.model.predict_on_batch(batch if len(batch) > 1 else batch[0])
            if isinstance(out, (list, tuple)):
                out = out[0]
            elif isinstance(out, dict):
                out = next(iter(out.values()))
            outs.append(np.asarray(out, dtype=self.dtype))
        return np.concatenate(outs, axis=0) if outs else np.zeros((0,), self.dtype)


_ORT_OPT_LEVELS = ("disable", "basic", "extended", "all")


def _onnx_bytes(model: Any) -> bytes:
    if hasattr(model, "SerializeToString"):
        return model.SerializeToString()
    if isinstance(model, (bytes, bytearray)):
        return bytes(model)
    raise TypeError(f"expected an onnx.ModelProto or serialized bytes, got {type(model).__name__}")


def _interface_or_none(text: str | None):
    from gaze_pipelines.core.export import ModelInterface  # noqa: PLC0415

    return ModelInterface.from_json(text) if text else None


class _ExportedPredictor:
    """Shared by the ONNX and TensorRT predictors: names, input mapping, first output."""

    interface: Any
    onnx_input_names: list[str]
    onnx_output_names: list[str]

    def _init_names(self) -> None:
        """Expose the Keras names when the model carries an export interface."""
        if self.interface is not None:
            self.input_names = [s.source for s in self.interface.inputs]
            self.output_names = [s.source for s in self.interface.outputs]
        else:
            self.input_names = list(self.onnx_input_names)
            self.output_names = list(self.onnx_output_names)

    def _feed(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """Inputs by exported name and layout (Keras names/layout accepted via the interface)."""
        if self.interface is not None:
            return self.interface.feed(inputs)
        missing = [n for n in self.onnx_input_names if n not in inputs]
        if missing:
            raise KeyError(f"missing inputs {missing}; got {sorted(inputs)}")
        return {n: np.ascontiguousarray(inputs[n], dtype=np.float32) for n in self.onnx_input_names}

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """All outputs by exported name."""
        raise NotImplementedError

    def predict(self, inputs: dict[str, np.ndarray]) -> np.ndarray:
        """Return the first output as float32 numpy."""
        return np.asarray(self.run(inputs)[self.onnx_output_names[0]], dtype=np.float32)


class OnnxPredictor(_ExportedPredictor):
    """An ONNX model (FP32 or Q/DQ INT8) run by onnxruntime behind the ``Predictor`` interface.

    Inputs may be named and laid out as for the Keras model (the interface stored in the model's
    metadata maps them) or as exported. ``intra_op_num_threads`` 0 lets onnxruntime use one
    thread per physical core; ``graph_optimization_level`` is disable | basic | extended | all;
    ``allow_spinning`` False stops idle worker threads from busy-waiting (for busy machines).
    """

    def __init__(
        self,
        model: Any,
        *,
        intra_op_num_threads: int = 0,
        inter_op_num_threads: int = 1,
        graph_optimization_level: str = "all",
        providers: list[str] | None = None,
        batch_size: int | None = None,
        allow_spinning: bool = True,
    ):
        import onnxruntime as ort  # noqa: PLC0415

        from gaze_pipelines.core.export import INTERFACE_KEY  # noqa: PLC0415

        if graph_optimization_level not in _ORT_OPT_LEVELS:
            raise ValueError(
                f"graph_optimization_level must be one of {_ORT_OPT_LEVELS}, "
                f"got {graph_optimization_level!r}"
            )
        opts = ort.SessionOptions()
        opts.intra_op_num_threads = int(intra_op_num_threads)
        opts.inter_op_num_threads = int(inter_op_num_threads)
        opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        opts.graph_optimization_level = {
            "disable": ort.GraphOptimizationLevel.ORT_DISABLE_ALL,
            "basic": ort.GraphOptimizationLevel.ORT_ENABLE_BASIC,
            "extended": ort.GraphOptimizationLevel.ORT_ENABLE_EXTENDED,
            "all": ort.GraphOptimizationLevel.ORT_ENABLE_ALL,
        }[graph_optimization_level]
        opts.log_severity_level = 3
        # idle worker threads spin by default (lowest latency on a dedicated CPU); on a CPU
        # shared with other processes the spinning steals the time the workers need
        opts.add_session_config_entry(
            "session.intra_op.allow_spinning", "1" if allow_spinning else "0"
        )
        self.session = ort.InferenceSession(
            _onnx_bytes(model), sess_options=opts, providers=providers or ["CPUExecutionProvider"]
        )
        self.batch_size = batch_size
        meta = self.session.get_modelmeta().custom_metadata_map
        self.interface = _interface_or_none(meta.get(INTERFACE_KEY))
        self.onnx_input_names = [i.name for i in self.session.get_inputs()]
        self.onnx_output_names = [o.name for o in self.session.get_outputs()]
        self._init_names()

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """All outputs by exported name, computed in chunks of ``batch_size`` (all at once if None)."""
        feed = self._feed(inputs)
        n = len(next(iter(feed.values())))
        step = self.batch_size or max(n, 1)
        chunks = [
            self.session.run(None, {k: v[s : s + step] for k, v in feed.items()})
            for s in range(0, max(n, 1), step)
        ]
        return {
            name: np.concatenate([c[i] for c in chunks], axis=0)
            for i, name in enumerate(self.onnx_output_names)
        }


class TensorRTPredictor(_ExportedPredictor):
    """A serialized TensorRT engine run on the GPU (TensorRT >= 10 tensor API, pycuda memory).

    Takes a ``core.export.TensorRTEngine`` (or raw engine bytes plus an optional interface);
    batches larger than the engine's profile maximum are split. Raises
    ``TensorRTUnavailableError`` naming what is missing when TensorRT or a GPU is absent.
    """

    def __init__(self, engine: Any, *, interface: Any = None, device: int = 0):
        from gaze_pipelines.core.export import require_tensorrt  # noqa: PLC0415

        require_tensorrt()
        import pycuda.driver as cuda  # noqa: PLC0415
        import tensorrt as trt  # noqa: PLC0415

        raw = engine.engine if hasattr(engine, "engine") else bytes(engine)
        self.interface = interface if interface is not None else getattr(engine, "interface", None)
        self._cuda = cuda
        self._trt = trt
        cuda.init()
        self._ctx = cuda.Device(device).retain_primary_context()
        self._ctx.push()
        try:
            self._runtime = trt.Runtime(trt.Logger(trt.Logger.WARNING))
            self.engine = self._runtime.deserialize_cuda_engine(raw)
            if self.engine is None:
                raise RuntimeError(
                    "TensorRT could not deserialize the engine (version or GPU mismatch?)"
                )
            self.context = self.engine.create_execution_context()
            self.stream = cuda.Stream()
            self._buffers: dict[str, tuple[Any, int]] = {}
        finally:
            self._ctx.pop()
        names = [self.engine.get_tensor_name(i) for i in range(self.engine.num_io_tensors)]
        is_input = {n: self.engine.get_tensor_mode(n) == trt.TensorIOMode.INPUT for n in names}
        self.onnx_input_names = [n for n in names if is_input[n]]
        self.onnx_output_names = [n for n in names if not is_input[n]]
        self.max_batch_size = min(
            int(self.engine.get_tensor_profile_shape(n, 0)[2][0]) for n in self.onnx_input_names
        )
        self._init_names()

    def _device_buffer(self, name: str, nbytes: int) -> Any:
        """A device allocation for tensor ``name`` of at least ``nbytes``, reused across calls."""
        held = self._buffers.get(name)
        if held is None or held[1] < nbytes:
            held = (self._cuda.mem_alloc(max(nbytes, 1)), nbytes)
            self._buffers[name] = held
        return held[0]

    def _run_chunk(self, feed: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        cuda, trt = self._cuda, self._trt
        for name in self.onnx_input_names:
            host = np.ascontiguousarray(
                feed[name], dtype=trt.nptype(self.engine.get_tensor_dtype(name))
            )
            self.context.set_input_shape(name, host.shape)
            dev = self._device_buffer(name, host.nbytes)
            cuda.memcpy_htod_async(dev, host, self.stream)
            self.context.set_tensor_address(name, int(dev))
        outputs = {}
        for name in self.onnx_output_names:
            shape = tuple(self.context.get_tensor_shape(name))
            host = np.empty(shape, dtype=trt.nptype(self.engine.get_tensor_dtype(name)))
            dev = self._device_buffer(name, host.nbytes)
            self.context.set_tensor_address(name, int(dev))
            outputs[name] = (host, dev)
        if not self.context.execute_async_v3(stream_handle=self.stream.handle):
            raise RuntimeError("TensorRT execution failed")
        for host, dev in outputs.values():
            cuda.memcpy_dtoh_async(host, dev, self.stream)
        self.stream.synchronize()
        return {name: host for name, (host, _) in outputs.items()}

    def run(self, inputs: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
        """All outputs by engine tensor name."""
        feed = self._feed(inputs)
        n = len(next(iter(feed.values())))
        step = self.max_batch_size
        self._ctx.push()
        try:
            chunks = [
                self._run_chunk({k: v[s : s + step] for k, v in feed.items()})
                for s in range(0, n, step)
            ]
        finally:
            self._ctx.pop()
        return {
            name: np.concatenate([c[name] for c in chunks], axis=0)
            for name in self.onnx_output_names
        }


# onnx_int8: the symmetric (TensorRT) Q/DQ model; onnx_int8_cpu: the U8S8 onnxruntime CPU model
MODEL_FORMATS = ("keras", "onnx", "onnx_int8", "onnx_int8_cpu", "tensorrt")


def load_predictor(model_format: str, model: Any, **options: Any) -> Predictor:
    """A ``Predictor`` for a loaded model of ``model_format`` (one of ``MODEL_FORMATS``).

    ``options`` go to the predictor: ``batch_size`` (keras, onnx), onnxruntime session options
    for the ONNX formats (``intra_op_num_threads``, ``graph_optimization_level``, ...),
    ``device`` for tensorrt.
    """
    if model_format == "keras":
        return KerasPredictor(model, **options)
    if model_format in ("onnx", "onnx_int8", "onnx_int8_cpu"):
        return OnnxPredictor(model, **options)
    if model_format == "tensorrt":
        return TensorRTPredictor(model, **options)
    raise ValueError(f"model_format must be one of {MODEL_FORMATS}, got {model_format!r}")


def as_predictor(model: Any) -> Predictor:
    """Wrap a Keras model, ONNX model or TensorRT engine; pass through a ``Predictor``."""
    if isinstance(model, Predictor):
        return model
    if hasattr(model, "inputs") and hasattr(model, "outputs") and callable(model):
        return KerasPredictor(model)
    if hasattr(model, "graph") and hasattr(model, "SerializeToString"):
        return OnnxPredictor(model)
    if hasattr(model, "engine") and hasattr(model, "precision"):
        return TensorRTPredictor(model)
    raise TypeError(f"cannot make a Predictor from {type(model).__name__}")
