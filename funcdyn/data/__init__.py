"""Dataset adapters: tonic's neuromorphic datasets (N-MNIST, DVS Gesture, SHD, ...) as
batches for [`funcdyn.train.BPTT.fit`][]."""

from ._tonic import TonicLoader as TonicLoader
