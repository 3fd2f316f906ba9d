"""KV memory for generation: ReservedLayer against transformers' DynamicLayer (same visible keys/values after any
mix of writes and row selections, including writes past the reserved capacity), slices placed right-aligned, and
decode groups bounded in rows and KV tokens."""

from __future__ import annotations

import torch
from hypothesis import given, settings
from hypothesis import strategies as st
from transformers.cache_utils import DynamicLayer

from reasonrec.llm.kv_cache import ReservedLayer, decode_groups, reserved_cache

ops = st.lists(st.one_of(st.tuples(st.just("write"), st.integers(1, 5)),
                         st.tuples(st.just("select"), st.integers(0, 2**8 - 1))), max_size=8)


def _kv(batch: int, length: int, seed: int) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    return torch.randn(batch, 2, length, 4, generator=g), torch.randn(batch, 2, length, 4, generator=g)


@settings(max_examples=60, deadline=None)
@given(batch=st.integers(1, 4), prompt=st.integers(1, 6), capacity=st.integers(0, 12), steps=ops)
def test_reserved_layer_matches_dynamic_layer(batch: int, prompt: int, capacity: int, steps: list) -> None:
    keys, values = _kv(batch, prompt, 0)
    reserved, dynamic = ReservedLayer(keys, values, capacity), DynamicLayer()
    dynamic.update(keys, values)
    for n, (op, arg) in enumerate(steps):
        if op == "write":
            k, v = _kv(reserved.keys.shape[0], arg, n + 1)
            got, want = reserved.update(k, v), dynamic.update(k, v)
            assert all(torch.equal(a, b) for a, b in zip(got, want, strict=True))
        else:
            rows = [r for r in range(reserved.keys.shape[0]) if arg >> r & 1] or [0]
            idx = torch.tensor(rows)
            reserved.batch_select_indices(idx)
            dynamic.batch_select_indices(idx)
        assert reserved.get_seq_length() == dynamic.get_seq_length()
        assert torch.equal(reserved.keys, dynamic.keys) and torch.equal(reserved.values, dynamic.values)


def test_writes_within_capacity_reuse_the_buffer() -> None:
    keys, values = _kv(2, 3, 0)
    cache = reserved_cache([(keys, values)], capacity=5)
    layer = cache.layers[0]
    buffer = layer.keys.untyped_storage().data_ptr()
    cache.update(*_kv(2, 2, 1), layer_idx=0)
    assert layer.get_seq_length() == 5 and layer.keys.untyped_storage().data_ptr() == buffer
    cache.update(*_kv(2, 1, 2), layer_idx=0)  # past the capacity: reallocated, contents kept
    assert layer.capacity >= 6 and torch.equal(layer.keys[:, :, :3], keys)


def test_slices_land_right_aligned_with_zeros_before() -> None:
    wide, narrow = _kv(2, 4, 0), _kv(1, 2, 1)
    cache = reserved_cache([wide], capacity=6, batch=3, length=4)
    cache.place(slice(0, 2), [wide])
    cache.place(slice(2, 3), [narrow])
    layer = cache.layers[0]
    assert layer.get_seq_length() == 4 and layer.capacity == 6
    assert torch.equal(layer.keys[:2], wide[0]) and torch.equal(layer.values[2, :, 2:], narrow[1][0])
    assert not layer.keys[2, :, :2].any() and not layer.values[2, :, :2].any()


def test_decode_groups_bound_rows_and_kv_tokens() -> None:
    assert [len(g) for g in decode_groups([(100, 50)] * 9, max_rows=4)] == [4, 4, 1]
    # 4 rows → at most 4 x 1024 prompt + answer tokens: 3 x 1200 fits, 2 x 2100 does not; a lone row always runs
    long = decode_groups([(900, 100), (1000, 100), (1100, 100), (1900, 200), (5000, 10)], max_rows=4)
    assert long == [[0, 1, 2], [3], [4]]


@given(sizes=st.lists(st.tuples(st.integers(1, 3000), st.integers(1, 600)), max_size=40), rows=st.integers(1, 40))
def test_decode_groups_cover_every_request_once_in_order(sizes: list, rows: int) -> None:
    sizes = sorted(sizes)
    groups = decode_groups(sizes, rows)
    assert [i for g in groups for i in g] == list(range(len(sizes)))
    for g in groups:
        assert 1 <= len(g) <= rows
        if len(g) > 1:
            assert len(g) * (max(sizes[i][0] for i in g) + max(sizes[i][1] for i in g)) <= rows * 1024
