"""The one certification engine: CERTIFY, sequential certification, PREDICT and the attack through one loop.

* :mod:`~smoothcert.certify.rows`: the TSV + manifest format (read, append, resume, merge).
* :mod:`~smoothcert.certify.packing`: many inputs' noise packed into full forward passes, counted on the device.
* :mod:`~smoothcert.certify.shards`: torchrun sharding of example indices, merged into one TSV.
* :mod:`~smoothcert.certify.rewrites`: exact model rewrites and opt-in numerics (compile, autocast, TF32).
"""
