r"""Row operations of the SGD kernel with a fixed floating-point evaluation order.

The kernel computes the pre-activation ``⟨w_i, x⟩`` of a neuron either in the same pass as
the update of its row (:func:`row_step`, :func:`row_step_noisy`) or, when the row does not
change, by a read-only pass (:func:`dot`); a block of steps also starts with read-only
passes. A run is bit for bit independent of how it is split into blocks only if all three
give the same bits for the same row and sample. With fast-math reassociation LLVM picks
the reduction order of each loop itself, differently depending on where it is inlined;
without it LLVM does not vectorise a reduction (and Numba leaves the SLP vectoriser off,
so hand-unrolled partial sums stay scalar). These helpers are therefore Numba intrinsics
that emit the vector loop directly in LLVM IR, without fast-math flags, so every operation
is one IEEE operation and the result depends only on the values:

* the updated row is ``v_l = fma(c, x_l, decay·w_l)`` (:func:`row_step`) or
  ``v_l = fma(noise, g_l, fma(c, x_l, decay·w_l))`` (:func:`row_step_noisy`), stored in
  place; :func:`dot` reads ``v_l = u_l``;
* lane ``k = 0 … 15`` accumulates ``s_k ← fma(v_l, y_l, s_k)`` (from ``s_k = 0``) over
  ``l ≡ k (mod 16)``, ``l < 16⌊n/16⌋``, in increasing ``l`` (four 4-wide vectors); if
  ``n mod 16 ≥ 8``, the next 8 elements continue lanes ``0 … 7``;
* ``q_k = (s_k + s_{k+8}) + (s_{k+4} + s_{k+12})`` for ``k = 0 … 3`` and
  ``s = (q_0 + q_2) + (q_1 + q_3)``; then the tail ``s ← fma(v_l, y_l, s)`` for
  ``l = 8⌊n/8⌋ … n − 1``.

``fma`` is ``llvm.fma`` (one rounding; a hardware instruction on x86-64 since Haswell, a
correctly rounded library call elsewhere). The row is passed as ``(W, i)`` (no array view,
so no reference counting in the kernel's loop over the neurons); all arrays must be float64
and C-contiguous, and ``x``, ``y``, ``g`` must have at least ``n = W.shape[1]`` elements.

Numba's cache does not see changes to this file: after editing it, delete the cached
kernels (``reducedpde/sgd/__pycache__/kernels.*.nbi``/``.nbc``).
"""

from __future__ import annotations

import llvmlite.ir as lir
from numba.core import cgutils, types
from numba.extending import intrinsic

__all__ = ["dot", "row_step", "row_step_noisy"]

_F64 = lir.DoubleType()
_I32 = lir.IntType(32)
#: doubles per vector (AVX2 register); four vectors hold the 16 lanes of the reduction
_WIDTH = 4
_VEC = lir.VectorType(_F64, _WIDTH)


def _is_vector(t) -> bool:
    return (
        isinstance(t, types.Array) and t.ndim == 1 and t.layout == "C"
        and t.dtype == types.float64
    )


def _is_matrix(t) -> bool:
    return (
        isinstance(t, types.Array) and t.ndim == 2 and t.layout == "C"
        and t.dtype == types.float64
    )


def _fma(builder, a, b, c):
    name = "llvm.fma.v4f64" if a.type == _VEC else "llvm.fma.f64"
    fnty = lir.FunctionType(a.type, [a.type, a.type, a.type])
    return builder.call(cgutils.get_or_insert_function(builder.module, fnty, name), [a, b, c])


def _splat(builder, x):
    v = builder.insert_element(lir.Constant(_VEC, lir.Undefined), x, lir.Constant(_I32, 0))
    return builder.shuffle_vector(v, v, lir.Constant(lir.VectorType(_I32, _WIDTH), [0] * _WIDTH))


def _address(builder, base, index, vector):
    """``&base[index]`` (``base`` a ``double*``), as a ``<4 x double>*`` for a vector."""
    ptr = builder.gep(base, [index])
    return builder.bitcast(ptr, _VEC.as_pointer()) if vector else ptr


def _load(builder, base, index, vector):
    return builder.load(_address(builder, base, index, vector), align=8)


def _store(builder, value, base, index):
    builder.store(value, _address(builder, base, index, value.type == _VEC), align=8)


def _data(context, builder, aryty, value):
    """Data pointer of a 1-D array."""
    return context.make_array(aryty)(context, builder, value).data


def _row(context, builder, matty, value, i):
    """Pointer to row ``i`` of a C-contiguous matrix, and the row length."""
    ary = context.make_array(matty)(context, builder, value)
    ncols = builder.extract_value(ary.shape, 1)
    return builder.gep(ary.data, [builder.mul(i, ncols)]), ncols


def _emit_row_loop(builder, n, y, element):
    """Emit ``Σ_l v_l y_l`` in the order of the module docstring; ``element(index, vector)``
    emits the (possibly updating) computation of ``v`` at ``index`` (4 lanes or 1)."""
    intp = n.type

    def const(k):
        return lir.Constant(intp, k)

    def fma_at(idx, a):
        return _fma(builder, element(idx, True), _load(builder, y, idx, True), a)

    m16 = builder.and_(n, const(-4 * _WIDTH))  # 16⌊n/16⌋ (n ≥ 0)
    m8 = builder.and_(n, const(-2 * _WIDTH))  # 8⌊n/8⌋
    pre = builder.block
    head = builder.append_basic_block("rowops.head")
    body = builder.append_basic_block("rowops.body")
    half_test = builder.append_basic_block("rowops.half_test")
    half = builder.append_basic_block("rowops.half")
    reduce = builder.append_basic_block("rowops.reduce")
    tail_head = builder.append_basic_block("rowops.tail_head")
    tail_body = builder.append_basic_block("rowops.tail_body")
    done = builder.append_basic_block("rowops.done")
    builder.branch(head)

    # lanes 0-15: four vectors, 16 elements per iteration
    builder.position_at_end(head)
    l = builder.phi(intp)
    acc = [builder.phi(_VEC) for _ in range(4)]
    l.add_incoming(const(0), pre)
    for a in acc:
        a.add_incoming(lir.Constant(_VEC, None), pre)
    builder.cbranch(builder.icmp_signed("<", l, m16), body, half_test)

    builder.position_at_end(body)
    new = [fma_at(builder.add(l, const(k * _WIDTH)) if k else l, a) for k, a in enumerate(acc)]
    l.add_incoming(builder.add(l, const(4 * _WIDTH)), builder.block)
    for a, a_new in zip(acc, new):
        a.add_incoming(a_new, builder.block)
    builder.branch(head)

    # one more group of 8 elements (if n mod 16 ≥ 8), into lanes 0-7
    builder.position_at_end(half_test)
    builder.cbranch(builder.icmp_signed("<", m16, m8), half, reduce)
    builder.position_at_end(half)
    half_acc = [fma_at(m16, acc[0]), fma_at(builder.add(m16, const(_WIDTH)), acc[1])]
    builder.branch(reduce)

    # ((s_k + s_k+8) + (s_k+4 + s_k+12)) for k = 0..3, then the usual horizontal sum
    builder.position_at_end(reduce)
    lanes = []
    for k in range(2):
        a = builder.phi(_VEC)
        a.add_incoming(acc[k], half_test)
        a.add_incoming(half_acc[k], half)
        lanes.append(a)
    quad = builder.fadd(builder.fadd(lanes[0], acc[2]), builder.fadd(lanes[1], acc[3]))
    halves = [
        builder.shuffle_vector(quad, quad, lir.Constant(lir.VectorType(_I32, 2), [k, k + 1]))
        for k in (0, 2)
    ]
    pair = builder.fadd(halves[0], halves[1])
    total = builder.fadd(
        builder.extract_element(pair, lir.Constant(_I32, 0)),
        builder.extract_element(pair, lir.Constant(_I32, 1)),
    )
    builder.branch(tail_head)

    # the last n mod 8 elements, one by one
    builder.position_at_end(tail_head)
    j = builder.phi(intp)
    s = builder.phi(_F64)
    j.add_incoming(m8, reduce)
    s.add_incoming(total, reduce)
    builder.cbranch(builder.icmp_signed("<", j, n), tail_body, done)

    builder.position_at_end(tail_body)
    s_new = _fma(builder, element(j, False), _load(builder, y, j, False), s)
    j.add_incoming(builder.add(j, const(1)), builder.block)
    s.add_incoming(s_new, builder.block)
    builder.branch(tail_head)

    builder.position_at_end(done)
    return s


@intrinsic
def dot(typingctx, U, i, y):
    """``⟨U[i], y⟩`` (``U`` a matrix, ``y`` a vector), in the order of the module docstring."""
    if not (_is_matrix(U) and isinstance(i, types.Integer) and _is_vector(y)):
        return None
    sig = types.float64(U, types.intp, y)

    def codegen(context, builder, signature, args):
        pu, n = _row(context, builder, signature.args[0], args[0], args[1])
        py = _data(context, builder, signature.args[2], args[2])
        return _emit_row_loop(builder, n, py, lambda idx, vec: _load(builder, pu, idx, vec))

    return sig, codegen


def _updating_element(builder, row, decay, terms):
    """``element`` for :func:`_emit_row_loop`: ``v = decay·w``, then ``v ← fma(coef, z, v)``
    for each ``(coef, z)`` of ``terms`` in order, stored back into the row. Call it before
    the loop (the broadcasts of the scalars are emitted at the current position)."""
    scalar = (decay, [c for c, _ in terms])
    vector = (_splat(builder, decay), [_splat(builder, c) for c, _ in terms])

    def element(idx, is_vector):
        dec, coefs = vector if is_vector else scalar
        v = builder.fmul(dec, _load(builder, row, idx, is_vector))
        for coef, (_, z) in zip(coefs, terms):
            v = _fma(builder, coef, _load(builder, z, idx, is_vector), v)
        _store(builder, v, row, idx)
        return v

    return element


@intrinsic
def row_step(typingctx, W, i, decay, c, x, y):
    """``W[i] ← fma(c, x, decay·W[i])`` and return ``⟨W[i], y⟩`` (new row; one pass)."""
    if not (_is_matrix(W) and isinstance(i, types.Integer) and _is_vector(x)
            and _is_vector(y)):
        return None
    sig = types.float64(W, types.intp, types.float64, types.float64, x, y)

    def codegen(context, builder, signature, args):
        prow, n = _row(context, builder, signature.args[0], args[0], args[1])
        px = _data(context, builder, signature.args[4], args[4])
        py = _data(context, builder, signature.args[5], args[5])
        element = _updating_element(builder, prow, args[2], [(args[3], px)])
        return _emit_row_loop(builder, n, py, element)

    return sig, codegen


@intrinsic
def row_step_noisy(typingctx, W, i, decay, c, x, noise, g, y):
    """``W[i] ← fma(noise, g, fma(c, x, decay·W[i]))`` and return ``⟨W[i], y⟩`` (one pass)."""
    if not (_is_matrix(W) and isinstance(i, types.Integer) and _is_vector(x)
            and _is_vector(g) and _is_vector(y)):
        return None
    sig = types.float64(W, types.intp, types.float64, types.float64, x, types.float64, g, y)

    def codegen(context, builder, signature, args):
        prow, n = _row(context, builder, signature.args[0], args[0], args[1])
        px = _data(context, builder, signature.args[4], args[4])
        pg = _data(context, builder, signature.args[6], args[6])
        py = _data(context, builder, signature.args[7], args[7])
        element = _updating_element(builder, prow, args[2], [(args[3], px), (args[5], pg)])
        return _emit_row_loop(builder, n, py, element)

    return sig, codegen
