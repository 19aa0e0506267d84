"""The registry of every public concrete model: how to build it in a mode and what one
step's input looks like. `tests/test_contract.py` runs the contract checks over it and
fails when a public `DynamicalSystem` is missing here.

Each entry: `name -> Case(cls, make(mode), example(batch))` where `example(None)` is one
step's input without a batch axis and `example(B)` the batched one, and `check` the
keyword arguments of `funcdyn.testing.check_contract` (e.g. `fit`, `key`, `grad`).
"""

import dataclasses
from collections.abc import Callable
from typing import Any

import jax
import jax.numpy as jnp

import funcdyn as fd
from funcdyn import conn as C
from funcdyn import encoding as E
from funcdyn import layers as L
from funcdyn import neurons as N
from funcdyn import synapses as S
from funcdyn import synouts as O

K = jax.random.key(0)


@dataclasses.dataclass(frozen=True)
class Case:
    cls: type
    make: Callable[[Any], Any]
    example: Callable[[int | None], Any]
    check: dict = dataclasses.field(default_factory=dict)
    modes: tuple = ("nonbatching", "training")


def _normal(shape):
    return lambda b: jax.random.normal(jax.random.key(7), shape if b is None else (b, *shape))


def _current(scale, n=3):
    def example(b):
        x = scale * jnp.linspace(0.5, 1.5, n)
        return x if b is None else jnp.stack([x * (1.0 + 0.1 * i) for i in range(b)])
    return example


def _spikes(num_pre=6, num_post=4, with_V=False):
    def example(b):
        s = (jax.random.uniform(jax.random.key(5), (num_pre,)) < 0.5).astype(jnp.float32)
        s = s.at[0].set(1.0)
        V = jnp.linspace(-70.0, -50.0, num_post)
        if b is not None:
            s, V = jnp.broadcast_to(s, (b, num_pre)), jnp.broadcast_to(V, (b, num_post))
        return (s, V) if with_V else s
    return example


class _RecurrentNet(fd.DynamicalSystem):
    """A LIF population driven through a sparse synapse by its own spikes (for the
    neuron-sharded wrapper)."""

    pop: N.LIF
    syn: S.Exponential

    def __call__(self, state, x, ctx):
        syn_state, I = self.syn(state["syn"], state["pop"].spike, ctx)
        pop_state, out = self.pop(state["pop"], I + x, ctx)
        return {"pop": pop_state, "syn": syn_state}, out


def _sharded(mode):
    pop = N.LIF(8, V_th=1.0, V_reset=0.0, mode=mode)
    syn = S.Exponential(8, 8, conn=C.FixedProb(0.5, seed=3), g_max=0.5, mode=mode, key=K)
    return fd.parallel.NeuronSharded(_RecurrentNet(pop, syn), fd.parallel.neuron_mesh(), num=8)


def _nir_network(mode):
    import nir
    import numpy as np

    def lif(n):
        return nir.LIF(tau=np.full(n, 0.01, np.float32), r=np.ones(n, np.float32),
                       v_leak=np.zeros(n, np.float32), v_threshold=np.full(n, 0.1, np.float32),
                       v_reset=np.zeros(n, np.float32))

    graph = nir.NIRGraph(
        nodes={"in": nir.Input(input_type=np.array([3])),
               "a": nir.Linear(weight=np.eye(3, dtype=np.float32)), "l": lif(3),
               "fb": nir.Linear(weight=np.full((3, 3), 0.2, np.float32)),
               "out": nir.Output(output_type=np.array([3]))},
        edges=[("in", "a"), ("in", "l"), ("a", "l"), ("l", "fb"), ("fb", "l"), ("l", "out")])
    return fd.nir.from_nir(graph, dt=1.0, mode=mode)


MODELS: dict[str, Case] = {
    # -- core ----------------------------------------------------------------------------
    "Sequential": Case(fd.Sequential, lambda m: fd.Sequential(
        L.Dense(3, 4, mode=m, key=K), jnp.tanh, N.LIF(4, V_th=0.5, V_reset=0.0, mode=m)),
        _normal((3,))),
    # -- neurons -------------------------------------------------------------------------
    "InputGroup": Case(N.InputGroup, lambda m: N.InputGroup(3, mode=m), _current(1.0),
                       check=dict(grad=False)),
    "LIF": Case(N.LIF, lambda m: N.LIF(3, V_th=1.0, V_reset=0.0, tau_ref=1.0, mode=m),
                _current(3.0)),
    "IF": Case(N.IF, lambda m: N.IF(3, mode=m), _current(0.5)),
    "ALIF": Case(N.ALIF, lambda m: N.ALIF(3, tau=2.0, tau_ref=1.0, mode=m), _current(2.0)),
    "Recurrent": Case(N.Recurrent, lambda m: N.Recurrent(
        N.ALIF(3, tau=2.0, train_state=True, mode=m), key=K), _current(2.0)),
    "LeakyIntegrator": Case(N.LeakyIntegrator, lambda m: N.LeakyIntegrator(3, tau=5.0, mode=m),
                            _current(1.0)),
    "ExpIF": Case(N.ExpIF, lambda m: N.ExpIF(3, V_initializer=-40.0, mode=m), _current(20.0)),
    "AdExIF": Case(N.AdExIF, lambda m: N.AdExIF(3, V_initializer=-40.0, mode=m),
                   _current(20.0)),
    "QuaIF": Case(N.QuaIF, lambda m: N.QuaIF(3, V_initializer=-40.0, mode=m), _current(20.0)),
    "Izhikevich": Case(N.Izhikevich, lambda m: N.Izhikevich(3, V_initializer=25.0, mode=m),
                       _current(10.0)),
    "GIF": Case(N.GIF, lambda m: N.GIF(3, V_initializer=-51.0, mode=m), _current(2.0)),
    "HH": Case(N.HH, lambda m: N.HH(3, V_initializer=15.0, mode=m), _current(10.0)),
    # -- synapses ------------------------------------------------------------------------
    "Delta": Case(S.Delta, lambda m: S.Delta(6, 4, g_max=0.5, mode=m, key=K), _spikes()),
    "Exponential": Case(S.Exponential, lambda m: S.Exponential(
        6, 4, conn=C.FixedProb(0.5, seed=1), g_max=fd.init.Normal(1.0, 0.1), tau=5.0,
        output=O.COBA(E=0.0), delay_steps=2, mode=m, key=K), _spikes(with_V=True)),
    "DualExponential": Case(S.DualExponential, lambda m: S.DualExponential(
        6, 4, tau_rise=1.0, tau_decay=3.0, mode=m, key=K), _spikes()),
    "Alpha": Case(S.Alpha, lambda m: S.Alpha(6, 6, conn=C.One2One(),
                                             g_max=jnp.linspace(0.5, 1.0, 6), mode=m),
                  lambda b: jnp.ones((6,) if b is None else (b, 6))),
    "NMDA": Case(S.NMDA, lambda m: S.NMDA(6, 4, conn=C.FixedProb(0.5, seed=1), mode=m, key=K),
                 _spikes(with_V=True)),
    "AMPA": Case(S.AMPA, lambda m: S.AMPA(6, 4, mode=m), _spikes(with_V=True)),
    "GABAa": Case(S.GABAa, lambda m: S.GABAa(6, 4, conn=C.FixedProb(0.5, seed=2, dense=True),
                                             mode=m), _spikes(with_V=True)),
    "STP": Case(S.STP, lambda m: S.STP(6, 4, tau_f=20.0, tau_d=10.0, mode=m), _spikes()),
    "STD": Case(S.STD, lambda m: S.STD(6, 4, output=O.MgBlock(), mode=m), _spikes(with_V=True)),
    # -- encoders ------------------------------------------------------------------------
    "PoissonEncoder": Case(E.PoissonEncoder, lambda m: E.PoissonEncoder(mode=m),
                           lambda b: jnp.linspace(0.1, 0.9, 5) if b is None
                           else jnp.tile(jnp.linspace(0.1, 0.9, 5), (b, 1)),
                           check=dict(key=K), modes=("nonbatching",)),
    "LatencyEncoder": Case(E.LatencyEncoder, lambda m: E.LatencyEncoder(tau=3.0, mode=m),
                           lambda b: jnp.linspace(0.0, 1.0, 5) if b is None
                           else jnp.tile(jnp.linspace(0.0, 1.0, 5), (b, 1)),
                           check=dict(grad=False), modes=("nonbatching",)),
    "DiffEncoder": Case(E.DiffEncoder, lambda m: E.DiffEncoder(5, threshold=0.05, mode=m),
                        lambda b: jnp.linspace(0.0, 1.0, 5) if b is None
                        else jnp.tile(jnp.linspace(0.0, 1.0, 5), (b, 1)),
                        check=dict(grad=False), modes=("nonbatching", "batching")),
    # -- rate layers ---------------------------------------------------------------------
    "Dense": Case(L.Dense, lambda m: L.Dense(3, 2, mode=m, key=K), _normal((3,))),
    "Dropout": Case(L.Dropout, lambda m: L.Dropout(0.3, mode=m), _normal((6,)),
                    check=dict(fit=True, key=K)),
    "Activation": Case(L.Activation, lambda m: L.Activation("softplus", mode=m), _normal((4,))),
    "Identity": Case(L.Identity, lambda m: L.Identity(mode=m), _normal((4,))),
    "Flatten": Case(L.Flatten, lambda m: L.Flatten(mode=m), _normal((2, 3, 2))),
    "Unflatten": Case(L.Unflatten, lambda m: L.Unflatten(0, (2, 3), mode=m), _normal((6,))),
    "RNNCell": Case(L.RNNCell, lambda m: L.RNNCell(3, 4, train_state=True, mode=m, key=K),
                    _normal((3,))),
    "GRUCell": Case(L.GRUCell, lambda m: L.GRUCell(3, 4, mode=m, key=K), _normal((3,))),
    "LSTMCell": Case(L.LSTMCell, lambda m: L.LSTMCell(3, 4, mode=m, key=K), _normal((3,))),
    "ConvLSTMCell": Case(L.ConvLSTMCell, lambda m: L.ConvLSTMCell(
        (4, 4), 2, 2, 3, train_state=True, mode=m, key=K), _normal((4, 4, 2))),
    "Conv": Case(L.Conv, lambda m: L.Conv(2, 2, 3, 3, stride=(2, 1), mode=m, key=K),
                 _normal((5, 4, 2))),
    "Conv1d": Case(L.Conv1d, lambda m: L.Conv1d(2, 3, 3, stride=2, padding=1, mode=m, key=K),
                   _normal((7, 2))),
    "Conv2d": Case(L.Conv2d, lambda m: L.Conv2d(2, 4, (3, 2), dilation=(1, 2), groups=2,
                                                padding="VALID", mode=m, key=K),
                   _normal((5, 6, 2))),
    "Conv3d": Case(L.Conv3d, lambda m: L.Conv3d(1, 2, 2, b_initializer=None, mode=m, key=K),
                   _normal((3, 3, 3, 1))),
    "MaxPool": Case(L.MaxPool, lambda m: L.MaxPool(2, mode=m), _normal((4, 4, 2))),
    "MaxPool1d": Case(L.MaxPool1d, lambda m: L.MaxPool1d(3, stride=1, padding="SAME", mode=m),
                      _normal((5, 2))),
    "MaxPool2d": Case(L.MaxPool2d, lambda m: L.MaxPool2d(2, mode=m), _normal((4, 4, 2))),
    "MaxPool3d": Case(L.MaxPool3d, lambda m: L.MaxPool3d(2, stride=1, mode=m),
                      _normal((3, 3, 3, 1))),
    "AvgPool": Case(L.AvgPool, lambda m: L.AvgPool((2, 1), mode=m), _normal((4, 3, 2))),
    "AvgPool1d": Case(L.AvgPool1d, lambda m: L.AvgPool1d(2, padding="SAME", mode=m),
                      _normal((5, 2))),
    "AvgPool2d": Case(L.AvgPool2d, lambda m: L.AvgPool2d((2, 3), mode=m), _normal((4, 6, 2))),
    "AvgPool3d": Case(L.AvgPool3d, lambda m: L.AvgPool3d(2, padding=1, mode=m),
                      _normal((3, 3, 3, 1))),
    "LayerNorm": Case(L.LayerNorm, lambda m: L.LayerNorm(5, mode=m), _normal((5,))),
    "BatchNorm1d": Case(L.BatchNorm1d, lambda m: L.BatchNorm1d(3, mode=m), _normal((4, 3)),
                        check=dict(fit=True), modes=("training",)),
    "BatchNorm2d": Case(L.BatchNorm2d, lambda m: L.BatchNorm2d(3, mode=m), _normal((3, 3, 3)),
                        check=dict(fit=True), modes=("training",)),
    "BatchNorm3d": Case(L.BatchNorm3d, lambda m: L.BatchNorm3d(2, mode=m),
                        _normal((2, 2, 2, 2)), check=dict(fit=True), modes=("training",)),
    "NVAR": Case(L.NVAR, lambda m: L.NVAR(3, 2, order=2, constant=True, mode=m),
                 _normal((3,)), modes=("nonbatching", "batching")),
    "EPropNetwork": Case(fd.train.EPropNetwork, lambda m: fd.train.EPropNetwork(
        N.LIF(5, V_th=1.0, V_reset=0.0, mode=m), 3, 2, mode=m, key=K), _normal((3,))),
    # -- NIR primitives and networks ------------------------------------------------------
    "NIRNetwork": Case(fd.nir.NIRNetwork, _nir_network, _normal((3,)), modes=("training",)),
    "nir.Delay": Case(fd.nir.Delay, lambda m: fd.nir.Delay(jnp.array([0, 1, 2]), dt=0.5, mode=m),
                      _normal((3,)), check=dict(grad=False)),
    "nir.Scale": Case(fd.nir.Scale, lambda m: fd.nir.Scale(jnp.array([1.0, 2.0, 3.0]), mode=m),
                      _normal((3,))),
    "nir.Threshold": Case(fd.nir.Threshold, lambda m: fd.nir.Threshold(jnp.full(3, 0.5), mode=m),
                          _normal((3,)), check=dict(grad=False)),
    "nir.Integrator": Case(fd.nir.Integrator, lambda m: fd.nir.Integrator(jnp.ones(3), tau=2.0,
                                                                          mode=m), _normal((3,))),
    "nir.SumPool2d": Case(fd.nir.SumPool2d, lambda m: fd.nir.SumPool2d(2, mode=m),
                          _normal((2, 4, 4)), check=dict(grad=False)),
    "nir.ChannelsFirst": Case(fd.nir.ChannelsFirst, lambda m: fd.nir.ChannelsFirst(
        L.Conv2d(2, 3, 3, mode=m, key=K)), _normal((2, 5, 5))),
    # -- parallel ------------------------------------------------------------------------
    "NeuronSharded": Case(fd.parallel.NeuronSharded, _sharded, _current(2.0, 8),
                          modes=("nonbatching",)),
    "Reservoir": Case(L.Reservoir, lambda m: L.Reservoir(
        3, 20, rec_connectivity=0.3, key=K, mode=m), _normal((3,))),
}
