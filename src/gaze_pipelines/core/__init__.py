"""Maths and utilities shared by every model family. No Kedro imports here.

Modules: ``io`` (atomic writes), ``geometry`` (camera, PnP head pose, theta/phi, normalization
warp), ``crops`` (face/eye boxes, facegrid), ``augment`` (tf.image ops), ``schedules``
(learning-rate schedules), ``losses``, ``metrics`` (KPI maths), ``training`` (fit loop, callbacks,
checkpoints), ``export`` (ONNX, INT8 QDQ, TensorRT), ``progress`` (progress bars, throughput).
"""
