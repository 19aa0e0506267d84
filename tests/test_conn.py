"""funcdyn.conn: connectivity generation, dense and event-driven products, gradients."""

import jax
import jax.numpy as jnp
import numpy as np
import pytest

import funcdyn as fd
from funcdyn import conn as C

N_PRE, N_POST = 23, 17


def _square_connectors():
    return [
        C.All2All(),
        C.All2All(include_self=False),
        C.All2All(dense=False),
        C.One2One(),
        C.One2One(dense=True),
        C.One2One(dense=False),
        C.FixedProb(0.2, seed=0),
        C.FixedProb(0.2, include_self=False, seed=0, dense=True),
        C.FixedPreNum(4, seed=0),
        C.FixedPostNum(0.25, include_self=False, seed=0),
        C.FixedTotalNum(60, seed=0),
        C.FixedTotalNum(60, allow_multi_conn=True, seed=0),
        C.GaussianProb(2.0, seed=0),
        C.GaussianProb(1.0, shape=(4, 5), periodic_boundary=True, seed=0),
        C.SmallWorld(4, 0.3, seed=0),
        C.SmallWorld(4, 0.3, directed=True, seed=0),
        C.ScaleFreeBA(2, seed=0),
        C.MatConn(np.random.default_rng(0).random((20, 20)) < 0.3),
        C.MatConn(np.random.default_rng(0).random((20, 20)) < 0.3, dense=False),
        C.IJConn([0, 1, 1, 5, 5], [2, 3, 3, 0, 19]),
    ]


# One connector per representation (the generators are checked through `ij` below).
_PRODUCT_CASES = [
    C.All2All(),
    C.All2All(include_self=False),
    C.All2All(dense=False),
    C.One2One(),
    C.One2One(dense=True),
    C.FixedProb(0.2, include_self=False, seed=0, dense=True),
    C.FixedPostNum(0.25, include_self=False, seed=0),
    C.ScaleFreeBA(2, seed=0),
    C.IJConn([0, 1, 1, 5, 5], [2, 3, 3, 0, 19]),
]


@pytest.mark.parametrize("connector", _PRODUCT_CASES, ids=lambda c: repr(c)[:60])
def test_products_equal_the_dense_matrix(connector):
    proj = connector.build(20, 20)
    rng = np.random.default_rng(1)
    x = jnp.asarray((rng.random((3, 20)) < 0.3) * rng.normal(size=(3, 20)), jnp.float32)
    w = jnp.asarray(rng.normal(size=proj.weight_shape), jnp.float32)

    @jax.jit
    def products(proj, x, w):
        return [proj.apply(x, weight, event=event) for weight in (w, jnp.float32(0.7))
                for event in (True, False)]

    results = products(proj, x, w)
    for k, weight in enumerate((w, jnp.float32(0.7))):
        expected = np.asarray(x) @ np.asarray(proj.to_dense(weight))
        for result in results[2 * k : 2 * k + 2]:
            np.testing.assert_allclose(result, expected, atol=1e-5)
    if not isinstance(connector, C.IJConn):  # IJConn's repeated pair counts twice
        assert proj.num_connections == int(np.count_nonzero(np.asarray(proj.to_dense(1.0))))


@pytest.mark.parametrize(
    "connector",
    [c for c in _square_connectors() if not isinstance(c, (C.MatConn, C.One2One))]
    + [C.FixedProb(0.1, seed=3)],
    ids=lambda c: repr(c)[:60],
)
def test_ij_and_mask_agree_and_are_sorted(connector):
    num_pre = num_post = 20
    pre, post = connector.ij(num_pre, num_post)
    assert pre.dtype == np.int32 and post.dtype == np.int32
    order = np.lexsort((post, pre))
    np.testing.assert_array_equal(order, np.arange(pre.size))
    if isinstance(connector, (C.IJConn,)) or getattr(connector, "allow_multi_conn", False):
        return
    mask = connector.mask(num_pre, num_post)
    np.testing.assert_array_equal(np.argwhere(mask), np.stack([pre, post], 1))


def test_fixed_prob_statistics_and_self_connections():
    n = 300
    pre, post = C.FixedProb(0.1, seed=0).ij(n, n)
    expected, sd = n * n * 0.1, np.sqrt(n * n * 0.1 * 0.9)
    assert abs(pre.size - expected) < 5 * sd
    # Independent pairs: no duplicates, and each row's count is binomial.
    assert len(set(zip(pre.tolist(), post.tolist()))) == pre.size
    assert abs(np.bincount(pre, minlength=n).std() - np.sqrt(n * 0.09)) < 1.0
    pre, post = C.FixedProb(0.5, include_self=False, seed=0).ij(50, 50)
    assert not np.any(pre == post)
    assert C.FixedProb(0.0, seed=0).ij(10, 10)[0].size == 0
    assert C.FixedProb(1.0, seed=0).ij(10, 7)[0].size == 70


def test_fixed_prob_large_population_is_fast_and_has_the_right_count():
    pre, _ = C.FixedProb(0.001, seed=1).ij(20_000, 20_000)
    expected = 20_000**2 * 0.001
    assert abs(pre.size - expected) < 5 * np.sqrt(expected)


def test_fixed_degree_connectors():
    pre, post = C.FixedPreNum(5, seed=0).ij(30, 40)
    np.testing.assert_array_equal(np.bincount(post, minlength=40), 5)
    pre, post = C.FixedPreNum(29, include_self=False, seed=0).ij(30, 30)
    assert not np.any(pre == post)
    pre, post = C.FixedPostNum(7, seed=1).ij(30, 40)
    np.testing.assert_array_equal(np.bincount(pre, minlength=30), 7)
    pre, post = C.FixedPostNum(0.5, include_self=False, seed=1).ij(10, 10)
    np.testing.assert_array_equal(np.bincount(pre, minlength=10), 5)
    assert not np.any(pre == post)
    pre, post = C.FixedTotalNum(123, seed=0).ij(30, 40)
    assert pre.size == 123 and len(set(zip(pre.tolist(), post.tolist()))) == 123
    assert C.FixedTotalNum(0.1, seed=0).ij(10, 10)[0].size == 10


def test_gaussian_prob_depends_on_distance():
    n = 400
    pre, post = C.GaussianProb(3.0, seed=0).ij(n, n)
    d = np.abs(pre - post)
    counts = np.bincount(d, minlength=n)
    pairs = 2 * (n - np.arange(n))  # pairs at distance d (both orders)
    empirical = counts[1:8] / pairs[1:8]
    np.testing.assert_allclose(empirical, np.exp(-np.arange(1, 8) ** 2 / 18.0), atol=0.06)
    assert counts[0] == 0  # include_self=False by default
    pre, post = C.GaussianProb(1.0, include_self=True, seed=0).ij(10, 10)
    assert np.sum(pre == post) == 10  # probability 1 at distance 0
    # On a torus the ends of a line are neighbours.
    far = lambda pre, post: np.sum(np.abs(pre - post) >= 45)  # noqa: E731
    assert far(*C.GaussianProb(3.0, periodic_boundary=True, seed=0).ij(50, 50)) > 5
    assert far(*C.GaussianProb(3.0, seed=0).ij(50, 50)) == 0


def test_small_world_ring_and_rewiring():
    n, k = 30, 4
    pre, post = C.SmallWorld(k, 0.0, seed=0).ij(n, n)
    np.testing.assert_array_equal(np.bincount(pre, minlength=n), k)
    assert set(((post - pre) % n).tolist()) == {1, 2, n - 1, n - 2}
    pre, post = C.SmallWorld(k, 0.5, seed=0).ij(n, n)
    assert pre.size == n * k  # rewiring keeps the number of connections
    assert not np.any(pre == post)
    edges = set(zip(pre.tolist(), post.tolist()))
    assert all((j, i) in edges for i, j in edges)  # undirected: symmetric
    assert len(set(((post - pre) % n).tolist())) > 4


def test_scale_free_ba_degrees():
    n, m = 300, 2
    pre, post = C.ScaleFreeBA(m, seed=0).ij(n, n)
    assert pre.size == 2 * m * (n - m)
    degree = np.bincount(pre, minlength=n)
    assert degree.max() > 5 * degree.mean()
    edges = set(zip(pre.tolist(), post.tolist()))
    assert all((j, i) in edges for i, j in edges)
    pre, post = C.ScaleFreeBA(m, directed=True, seed=0).ij(n, n)
    assert pre.size == m * (n - m) and np.all(pre > post)


def test_scale_free_hubs_take_several_slices():
    proj = C.ScaleFreeBA(2, seed=1).build(500, 500)
    assert proj.chunk < proj.max_fanout
    x = jnp.zeros((1, 500)).at[0, :10].set(1.0)  # the oldest neurons are the hubs
    w = jnp.linspace(0.5, 1.5, proj.num_connections)
    np.testing.assert_allclose(
        jax.jit(lambda x, w: proj.apply(x, w, event=True))(x, w),
        np.asarray(x) @ np.asarray(proj.to_dense(w)), rtol=1e-5,
    )


def test_given_connectivities():
    mat = np.zeros((3, 4))
    mat[0, 1] = mat[2, 3] = 5.0
    proj = C.MatConn(mat).build(3, 4)
    assert isinstance(proj, C.DenseProjection)
    np.testing.assert_array_equal(np.asarray(proj.mask), mat != 0)
    proj = C.IJConn([0, 0], [1, 1]).build(2, 2)  # a repeated pair counts twice
    np.testing.assert_allclose(proj.apply(jnp.ones((1, 2)), 1.5, event=True), [[0.0, 3.0]])


def test_seed_and_key_give_reproducible_draws():
    a = C.FixedProb(0.3, seed=4).ij(20, 20)
    b = C.FixedProb(0.3, seed=4).ij(20, 20)
    c = C.FixedProb(0.3, seed=5).ij(20, 20)
    np.testing.assert_array_equal(a[1], b[1])
    assert a[0].size != c[0].size or np.any(a[1] != c[1])
    k = jax.random.key(3)
    np.testing.assert_array_equal(
        C.FixedProb(0.3).ij(20, 20, key=k)[1], C.FixedProb(0.3).ij(20, 20, key=k)[1]
    )


def test_representations():
    assert isinstance(C.All2All().build(3, 4), C.AllToAllProjection)
    assert isinstance(C.All2All(dense=True).build(3, 4), C.DenseProjection)
    assert isinstance(C.One2One().build(3, 3), C.OneToOneProjection)
    assert isinstance(C.FixedProb(0.5, seed=0).build(3, 4), C.CSRProjection)
    assert isinstance(C.FixedProb(0.5, seed=0, dense=True).build(3, 4), C.DenseProjection)
    assert C.FixedProb(0.5, seed=0).is_dense is False and C.MatConn(np.ones((2, 2))).is_dense
    # Structure arrays are integers or booleans: never trainable.
    proj = C.FixedProb(0.5, seed=0).build(5, 5)
    assert all(not jnp.issubdtype(a.dtype, jnp.inexact) for a in jax.tree_util.tree_leaves(proj))


def _sparse_problem(seed=0, num_pre=60, num_post=40, prob=0.15):
    proj = C.FixedProb(prob, seed=seed).build(num_pre, num_post)
    rng = np.random.default_rng(seed)
    x = (rng.random((2, num_pre)) < 0.2) * rng.uniform(0.5, 1.5, (2, num_pre))
    x = jnp.asarray(x, jnp.float32)
    w = jnp.asarray(rng.normal(size=proj.weight_shape), jnp.float32)
    c = jnp.asarray(rng.normal(size=(2, num_post)), jnp.float32)
    return proj, x, w, c


@pytest.mark.parametrize("scalar_weight", [False, True])
def test_event_product_gradients_match_the_dense_product(scalar_weight):
    proj, x, w, c = _sparse_problem()
    if scalar_weight:
        w = jnp.float32(0.8)

    def loss_event(x, w):
        return jnp.sum(jnp.tanh(proj.apply(x, w, event=True)) * c)

    def loss_dense(x, w):
        return jnp.sum(jnp.tanh(x @ proj.to_dense(w)) * c)

    g_event = jax.jit(jax.grad(loss_event, argnums=(0, 1)))(x, w)
    g_dense = jax.grad(loss_dense, argnums=(0, 1))(x, w)
    for a, b in zip(g_event, g_dense):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)
    # The dense-valued (non-event) product differentiates by ordinary autodiff.
    g_plain = jax.jit(jax.grad(lambda x, w: jnp.sum(jnp.tanh(proj.apply(x, w, event=False)) * c),
                       argnums=(0, 1)))(x, w)
    for a, b in zip(g_plain, g_dense):
        np.testing.assert_allclose(a, b, rtol=1e-4, atol=1e-5)


def test_event_product_under_jit_vmap_and_many_spikes():
    proj = C.FixedProb(0.05, seed=2).build(300, 200)
    w = jnp.linspace(0.1, 1.0, proj.num_connections)
    dense = np.asarray(proj.to_dense(w))
    rng = np.random.default_rng(0)
    # From no spike to every neuron spiking: each compaction bucket is exercised.
    product = jax.jit(lambda x: proj.apply(x, w))
    for p in (0.0, 0.01, 0.1, 0.5, 1.0):
        x = jnp.asarray(rng.random((3, 300)) < p, jnp.float32)
        y = product(x)
        np.testing.assert_allclose(y, np.asarray(x) @ dense, rtol=1e-5, atol=1e-5)
    x = jnp.asarray(rng.random((4, 300)) < 0.05, jnp.float32)
    y = jax.jit(jax.vmap(lambda xi: proj.apply(xi[None], w)[0]))(x)
    np.testing.assert_allclose(y, np.asarray(x) @ dense, rtol=1e-5, atol=1e-5)


def test_event_product_does_not_form_dense_intermediates():
    num = 3000
    proj = C.FixedProb(0.0005, seed=0).build(num, num)
    w = jnp.ones(proj.weight_shape)
    jaxpr = jax.make_jaxpr(lambda x: proj.apply(x, w, event=True))(jnp.zeros((1, num)))

    def sizes(jaxpr):
        for eqn in jaxpr.eqns:
            for var in eqn.outvars:
                yield int(np.prod(var.aval.shape))
            for sub in jax.core.subjaxprs(eqn) if hasattr(jax.core, "subjaxprs") else []:
                yield from sizes(sub)
            for param in eqn.params.values():
                inner = getattr(param, "jaxpr", None)
                if inner is not None:
                    yield from sizes(getattr(inner, "jaxpr", inner))
                if isinstance(param, (tuple, list)):
                    for p in param:
                        inner = getattr(p, "jaxpr", None)
                        if inner is not None:
                            yield from sizes(getattr(inner, "jaxpr", inner))

    assert max(sizes(jaxpr.jaxpr)) < num * num / 100
    primitives = {eqn.primitive.name for eqn in jaxpr.jaxpr.eqns}
    assert "dot_general" not in primitives


def test_csr_kernels_directly():
    pre = np.array([0, 0, 2])
    post = np.array([1, 2, 0])
    proj = C.CSRProjection(pre, post, 3, 3)
    x = jnp.array([[1.0, 5.0, 2.0]])
    y = C.csr_event_matvec(x, jnp.array([1.0, 2.0, 3.0]), proj.indptr, proj.indices, proj.pre,
                           num_post=3, chunk=proj.chunk, max_fanout=proj.max_fanout)
    np.testing.assert_allclose(y, [[6.0, 1.0, 2.0]])
    y = C.csr_matvec(x, jnp.array([1.0, 2.0, 3.0]), proj.pre, proj.indices, num_post=3)
    np.testing.assert_allclose(y, [[6.0, 1.0, 2.0]])
    empty = C.FixedProb(0.0, seed=0).build(4, 3)
    np.testing.assert_array_equal(empty.apply(jnp.ones((2, 4)), 1.0), np.zeros((2, 3)))


# -- errors -------------------------------------------------------------------------------


@pytest.mark.parametrize(
    "make, match",
    [
        (lambda: C.FixedProb(1.5), "prob"),
        (lambda: C.FixedProb(0.1, include_self=1), "include_self"),
        (lambda: C.FixedProb(0.1, seed=-1), "seed"),
        (lambda: C.FixedProb(0.1, dense="yes"), "dense"),
        (lambda: C.FixedPreNum(-1), "num"),
        (lambda: C.FixedPostNum(1.5), "fraction"),
        (lambda: C.FixedTotalNum("3"), "num"),
        (lambda: C.GaussianProb(0.0), "sigma"),
        (lambda: C.GaussianProb(1.0, shape=(0, 2)), "shape"),
        (lambda: C.SmallWorld(1, 0.1), "num_neighbor"),
        (lambda: C.SmallWorld(4, -0.1), "prob"),
        (lambda: C.ScaleFreeBA(0), "`m`"),
        (lambda: C.MatConn(np.ones(3)), "2-D"),
        (lambda: C.IJConn([0, 1], [1]), "same length"),
        (lambda: C.IJConn([0.5], [1]), "integer"),
        (lambda: C.All2All(include_self="no"), "include_self"),
    ],
)
def test_construction_errors(make, match):
    with pytest.raises((ValueError, TypeError), match=match):
        make()


@pytest.mark.parametrize(
    "connector, sizes, match",
    [
        (C.One2One(), (3, 4), "must be equal"),
        (C.MatConn(np.ones((2, 3))), (3, 2), "shape"),
        (C.IJConn([0, 5], [1, 1]), (3, 3), "outside"),
        (C.IJConn([0, 1], [1, 3]), (3, 3), "num_post"),
        (C.FixedPreNum(5), (4, 10), "num=5"),
        (C.FixedPreNum(4, include_self=False), (4, 4), "available"),
        (C.FixedPostNum(11), (4, 10), "num=11"),
        (C.FixedTotalNum(13), (3, 4), "do not fit"),
        (C.GaussianProb(1.0), (4, 5), "must be equal"),
        (C.GaussianProb(1.0, shape=(2, 3)), (5, 5), "holds 6"),
        (C.SmallWorld(4, 0.1), (4, 4), "num_neighbor"),
        (C.SmallWorld(2, 0.1), (4, 5), "must be equal"),
        (C.ScaleFreeBA(3), (3, 3), "smaller"),
        (C.All2All(), (0, 3), "num_pre"),
        (C.All2All(), (3, 2.0), "num_post"),
    ],
)
def test_connectivity_that_does_not_fit_the_sizes(connector, sizes, match):
    with pytest.raises(ValueError, match=match):
        connector.build(*sizes, key=jax.random.key(0))


def test_random_connector_needs_a_seed_or_a_key():
    with pytest.raises(ValueError, match="seed=.*key="):
        C.FixedProb(0.1).build(5, 5)
    with pytest.raises(ValueError, match="repeated"):
        C.IJConn([0, 0], [1, 1], dense=True).build(2, 2)
    with pytest.raises(ValueError, match="same length"):
        C.CSRProjection([0, 1], [0], 2, 2)
    with pytest.raises(ValueError, match="indices must lie"):
        C.CSRProjection([0, 3], [0, 0], 2, 2)
    with pytest.raises(ValueError, match="2-D"):
        C.DenseProjection(np.ones(3))


def test_fd_namespace():
    assert fd.conn.FixedProb is C.FixedProb
