"""Sharding helpers without processes: the epoch split, the batch split, and merging part files."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import torch
from torch.utils.data import DistributedSampler

from smoothcert.certify.rows import per_index, run_rows
from smoothcert.certify.shards import finish, part_path, run_sharded
from smoothcert.errors import UserError
from smoothcert.runtime.distributed import Context, local_batch_size, rank_seed, shard_order

COLUMNS = ["idx", "label", "predict", "radius", "correct", "time"]
MANIFEST = {"command": "certify", "n": 10}


@pytest.mark.parametrize("size,world", [(10, 2), (11, 3), (5, 4), (3, 1)])
def test_shard_order_deals_like_distributed_sampler(size: int, world: int) -> None:
    order = torch.randperm(size, generator=torch.Generator().manual_seed(size))
    shards = [shard_order(order, Context(rank, world, rank)) for rank in range(world)]
    for rank, shard in enumerate(shards):
        sampler = DistributedSampler(range(size), num_replicas=world, rank=rank, shuffle=False)
        assert shard.tolist() == [int(order[i]) for i in sampler]
    assert set(torch.cat(shards).tolist()) == set(range(size))  # every example, some twice when padded


def test_batch_split_and_seeds() -> None:
    assert local_batch_size(256, Context(1, 4, 1)) == 64
    with pytest.raises(UserError, match="multiple of 3"):
        local_batch_size(256, Context(0, 3, 0))
    assert rank_seed(7, Context()) == 7
    assert len({rank_seed(7, Context(r, 4, r)) for r in range(4)}) == 4


def _row(idx: int) -> dict[str, object]:
    return {"idx": idx, "label": idx % 3, "predict": idx % 3, "radius": 0.5, "correct": 1, "time": 0.1}


def test_finish_folds_parts_into_one_sorted_file(tmp_path: Path) -> None:
    out = tmp_path / "c.tsv"
    run_rows(out, MANIFEST, COLUMNS, [0, 4], per_index(_row), quiet=True)
    run_rows(part_path(out, 0), MANIFEST, COLUMNS, [6, 2], per_index(_row), quiet=True)
    run_rows(part_path(out, 1), MANIFEST, COLUMNS, [3, 4], per_index(_row), quiet=True)  # 4 again: kept once
    with open(part_path(out, 1), "a") as fh:
        fh.write("5\t2\t")  # torn last row of a killed rank: ignored
    assert finish(out, MANIFEST, COLUMNS) == 3
    lines = out.read_text().splitlines()
    assert lines[0].split("\t") == COLUMNS
    assert [int(line.split("\t")[0]) for line in lines[1:]] == [0, 2, 3, 4, 6]
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c.tsv", "c.tsv.json"]


def test_a_part_with_other_settings_is_refused_untouched(tmp_path: Path) -> None:
    out = tmp_path / "c.tsv"
    run_rows(part_path(out, 0), {**MANIFEST, "n": 99}, COLUMNS, [1], per_index(_row), quiet=True)
    before = part_path(out, 0).read_bytes()
    with pytest.raises(UserError, match="other settings"):
        finish(out, MANIFEST, COLUMNS)
    assert part_path(out, 0).read_bytes() == before and not out.exists()


def test_a_single_process_resumes_from_leftover_parts(tmp_path: Path) -> None:
    out = tmp_path / "c.tsv"
    run_rows(part_path(out, 1), MANIFEST, COLUMNS, [1, 3], per_index(_row), quiet=True)
    computed: list[int] = []

    def compute(idx: int) -> dict[str, object]:
        computed.append(idx)
        return _row(idx)

    run_sharded(Context(), out, MANIFEST, COLUMNS, range(5), per_index(compute), quiet=True)
    assert computed == [0, 2, 4]  # 1 and 3 came from the part file
    assert sorted(int(line.split("\t")[0]) for line in out.read_text().splitlines()[1:]) == [0, 1, 2, 3, 4]
    assert json.loads(Path(str(out) + ".json").read_text())["n"] == 10


def test_shutdown_frees_a_ddp_wrapper_before_leaving_the_group(tmp_path: Path) -> None:
    """The group must die inside ``shutdown``, not at interpreter exit (where gloo aborted now and then).

    A DDP wrapper caught in a reference cycle keeps the group alive until the
    cycle collector runs; automatic collection is switched off here, so only
    ``shutdown``'s own ``gc.collect()`` can free it.
    """
    import gc
    import weakref

    import torch.distributed as dist
    from torch.nn.parallel import DistributedDataParallel

    from smoothcert.runtime.distributed import shutdown

    store = dist.FileStore(str(tmp_path / "store"), 1)
    dist.init_process_group("gloo", store=store, rank=0, world_size=1)
    wrapper = DistributedDataParallel(torch.nn.Linear(3, 2))
    wrapper.loop = [wrapper]  # a cycle: refcounting alone never frees it
    alive = weakref.ref(wrapper)
    del wrapper
    was_enabled = gc.isenabled()
    gc.disable()
    try:
        assert alive() is not None
        shutdown(wait=True)
        assert not dist.is_initialized()
        assert alive() is None
    finally:
        if was_enabled:
            gc.enable()
