"""Deployment clean-up of the exported NvGaze ONNX graph (exact rewrites, checked numerically).

tf2onnx spells each Keras instance normalisation (``LayerNormalization`` over H, W) as about a
dozen elementwise nodes, and the input scaling ``2 x / 255 - 1`` as a Mul and an Add in front of
the first convolution. For a sub-millisecond network those nodes cost as much as the
convolutions, and around INT8 they add Q/DQ traffic. ``optimize_onnx`` rewrites:

- every ``instance_norm<i>`` block into one ONNX ``InstanceNormalization`` (scale 1, bias 0,
  the layer's epsilon);
- the input scaling into the first convolution's weights and bias
  (``conv(a x + b) = conv_{aW}(x) + b * sum(W)``, exact for ``valid`` padding).

Each rewrite is kept only if onnxruntime gives the same outputs (``atol`` on random pixels), so
the exported model never changes behaviour (``rtol`` relative to the largest output); the
interface metadata of the export core is kept.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Sequence
from typing import Any

import numpy as np
import onnx
from onnx import helper, numpy_helper

logger = logging.getLogger(__name__)


def _maps(graph: Any) -> tuple[dict[str, Any], dict[str, list[Any]], dict[str, Any]]:
    producer = {o: n for n in graph.node for o in n.output}
    consumers: dict[str, list[Any]] = {}
    for n in graph.node:
        for i in n.input:
            consumers.setdefault(i, []).append(n)
    inits = {i.name: i for i in graph.initializer}
    return producer, consumers, inits


def _instance_norm_block(graph: Any, layer: str) -> tuple[str, str, set[str]] | None:
    """Input tensor, output tensor and node names of the block of Keras layer ``layer``."""
    producer, consumers, inits = _maps(graph)
    scope = re.compile(rf"/{re.escape(layer)}(_\d+)?/")
    scoped = [n for n in graph.node if any(scope.search(o) for o in n.output)]
    if not scoped:
        return None
    # absorb helper nodes (tf2onnx's Reshapes) that live entirely between scoped nodes
    block = {n.name for n in scoped}
    changed = True
    while changed:
        changed = False
        scoped_out = {o for n in graph.node if n.name in block for o in n.output}
        for n in graph.node:
            if n.name in block:
                continue
            ins = [i for i in n.input if i and i not in inits]
            used_by = [c for o in n.output for c in consumers.get(o, [])]
            if (
                ins
                and all(i in scoped_out for i in ins)
                and used_by
                and all(c.name in block for c in used_by)
            ):
                block.add(n.name)
                changed = True
    scoped = [n for n in graph.node if n.name in block]
    scoped_out = {o for n in scoped for o in n.output}
    inputs = {i for n in scoped for i in n.input if i not in scoped_out and i not in inits and i}
    if len(inputs) != 1:
        return None
    (x,) = inputs
    graph_outputs = {o.name for o in graph.output}
    # the block's output: produced in scope, consumed outside it (or a graph output)
    desc: set[str] = set()
    stack = [x]
    while stack:
        t = stack.pop()
        for n in consumers.get(t, []):
            if n.name not in desc:
                desc.add(n.name)
                stack.extend(n.output)
    candidates = []
    for n in scoped:
        for o in n.output:
            outside = [c for c in consumers.get(o, []) if c.name not in block]
            if outside or o in graph_outputs:
                candidates.append(o)
    if len(candidates) != 1:
        return None
    (y,) = candidates
    anc: set[str] = set()
    stack = [y]
    while stack:
        t = stack.pop()
        n = producer.get(t)
        if n is not None and n.name not in anc and t != x:
            anc.add(n.name)
            stack.extend(n.input)
    group = desc & anc
    names = {n.name for n in graph.node if n.name in group}
    produced = {o for n in graph.node if n.name in names for o in n.output}
    for n in graph.node:
        if n.name in names:
            if any(i not in produced and i != x and i not in inits and i for i in n.input):
                return None
        elif any(i in produced and i != y for i in n.input):
            return None  # an intermediate tensor is used outside the block
    return x, y, names


def fuse_instance_norms(model: Any, layers: dict[str, tuple[int, float]]) -> Any:
    """Replace each named instance-norm block with ``InstanceNormalization`` (``{layer: (C, eps)}``)."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    fused = 0
    for layer, (channels, eps) in layers.items():
        block = _instance_norm_block(graph, layer)
        if block is None:
            logger.warning("ONNX clean-up: no self-contained block for %s, left as is", layer)
            continue
        x, y, names = block
        scale = numpy_helper.from_array(
            np.ones(channels, np.float32), f"{layer}/instance_norm_scale"
        )
        bias = numpy_helper.from_array(
            np.zeros(channels, np.float32), f"{layer}/instance_norm_bias"
        )
        graph.initializer.extend([scale, bias])
        node = helper.make_node(
            "InstanceNormalization",
            [x, scale.name, bias.name],
            [y],
            name=f"{layer}/InstanceNormalization",
            epsilon=float(eps),
        )
        kept = []
        inserted = False
        for n in graph.node:
            if n.name in names:
                if not inserted:
                    kept.append(node)
                    inserted = True
                continue
            kept.append(n)
        del graph.node[:]
        graph.node.extend(kept)
        fused += 1
    _drop_unused_initializers(graph)
    onnx.checker.check_model(out)
    logger.info("ONNX clean-up: %d instance-norm blocks fused", fused)
    return out


def fold_input_scaling(model: Any) -> Any:
    """Fold ``Conv(Add(Mul(input, a), b))`` with scalar a, b and no padding into the Conv."""
    out = onnx.ModelProto()
    out.CopyFrom(model)
    graph = out.graph
    producer, consumers, inits = _maps(graph)
    graph_inputs = {i.name for i in graph.input}
    for conv in [n for n in graph.node if n.op_type == "Conv"]:
        add = producer.get(conv.input[0])
        if add is None or add.op_type != "Add":
            continue
        mul = producer.get(add.input[0])
        if mul is None or mul.op_type != "Mul" or mul.input[0] not in graph_inputs:
            continue
        if mul.input[1] not in inits or add.input[1] not in inits:
            continue
        a = numpy_helper.to_array(inits[mul.input[1]])
        b = numpy_helper.to_array(inits[add.input[1]])
        pads = next((list(att.ints) for att in conv.attribute if att.name == "pads"), [])
        auto = next((att.s.decode() for att in conv.attribute if att.name == "auto_pad"), "NOTSET")
        if a.size != 1 or b.size != 1 or any(pads) or auto not in ("NOTSET", "VALID"):
            continue
        if len(consumers.get(add.output[0], [])) != 1 or len(consumers.get(mul.output[0], [])) != 1:
            continue
        w = numpy_helper.to_array(inits[conv.input[1]]).astype(np.float32)
        bias = (
            numpy_helper.to_array(inits[conv.input[2]]).astype(np.float32)
            if len(conv.input) > 2 and conv.input[2]
            else np.zeros(w.shape[0], np.float32)
        )
        new_w = numpy_helper.from_array(
            (w * float(a.ravel()[0])).astype(np.float32), f"{conv.name}/folded_W"
        )
        new_b = numpy_helper.from_array(
            (bias + float(b.ravel()[0]) * w.sum(axis=(1, 2, 3))).astype(np.float32),
            f"{conv.name}/folded_B",
        )
        graph.initializer.extend([new_w, new_b])
        del conv.input[:]
        conv.input.extend([mul.input[0], new_w.name, new_b.name])
        kept = [n for n in graph.node if n.name not in (add.name, mul.name)]
        del graph.node[:]
        graph.node.extend(kept)
        _drop_unused_initializers(graph)
        onnx.checker.check_model(out)
        logger.info("ONNX clean-up: input scaling folded into %s", conv.name)
        return out
    return out


def _drop_unused_initializers(graph: Any) -> None:
    used = {i for n in graph.node for i in n.input} | {o.name for o in graph.output}
    keep = [i for i in graph.initializer if i.name in used]
    del graph.initializer[:]
    graph.initializer.extend(keep)


def _relative_difference(a: Any, b: Any, shape: Sequence[int]) -> float:
    """Max |a - b| over random pixel inputs, relative to max(1, max |a|)."""
    import onnxruntime as ort  # noqa: PLC0415

    x = np.random.default_rng(0).uniform(0, 255, (2, *shape)).astype(np.float32)
    name = a.graph.input[0].name
    outs = []
    for m in (a, b):
        sess = ort.InferenceSession(m.SerializeToString(), providers=["CPUExecutionProvider"])
        outs.append(sess.run(None, {name: x})[0])
    return float(np.abs(outs[0] - outs[1]).max()) / max(1.0, float(np.abs(outs[0]).max()))


def optimize_onnx(model: Any, keras_model: Any, rtol: float = 1e-4) -> Any:
    """Fused instance norms and folded input scaling, verified against the unmodified graph."""
    layers = {
        layer.name: (int(layer.input.shape[-1]), float(layer.epsilon))
        for layer in keras_model.layers
        if layer.name.startswith("instance_norm")
    }
    dims = [d.dim_value for d in model.graph.input[0].type.tensor_type.shape.dim[1:]]
    current = model
    for step, rewrite in (
        ("instance-norm fusion", lambda m: fuse_instance_norms(m, layers)),
        ("input-scaling fold", fold_input_scaling),
    ):
        try:
            candidate = rewrite(current)
            diff = _relative_difference(current, candidate, dims)
        except Exception as exc:  # noqa: BLE001 - a failed rewrite keeps the working graph
            logger.warning("ONNX clean-up: %s skipped (%s)", step, exc)
            continue
        if diff > rtol:
            logger.warning(
                "ONNX clean-up: %s changes outputs by %.3g (relative): skipped", step, diff
            )
            continue
        current = candidate
    before, after = len(model.graph.node), len(current.graph.node)
    logger.info("ONNX clean-up: %d -> %d nodes", before, after)
    return current
