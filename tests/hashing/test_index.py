import numpy as np
import pytest

from paperzoo.errors import ConfigError, DataError
from paperzoo.hashing.index import (
    build_binary_index,
    knn_recall_ids,
    knn_recall_ties,
    load_binary_index,
    numpy_search,
    save_binary_index,
    search_binary,
)
from paperzoo.hashing.model import build_hash_net, check_bits, save_hash_model


def test_flat_matches_numpy_scan():
    rng = np.random.default_rng(0)
    db = rng.integers(0, 256, (2000, 8), dtype=np.uint8)
    q = rng.integers(0, 256, (7, 8), dtype=np.uint8)
    D, _ = search_binary(build_binary_index(db, "flat"), q, 10)
    D2, I2 = numpy_search(db, q, 10)
    assert (D == D2).all()
    full = np.array([[bin(int.from_bytes((a ^ b).tobytes(), "big")).count("1") for b in db] for a in q])
    assert (np.sort(full, 1)[:, :10] == D2).all()


@pytest.mark.parametrize("kind", ["flat", "hnsw", "ivf", "multihash"])
def test_index_save_load_round_trip(tmp_path, kind):
    rng = np.random.default_rng(1)
    db = rng.integers(0, 256, (300, 4), dtype=np.uint8)
    index = build_binary_index(db, kind)
    model = save_hash_model(build_hash_net(width=4, bits=(32,)), tmp_path / "m.safetensors", imsize=16)
    out = save_binary_index(tmp_path / "idx", index, [f"{i}.png" for i in range(300)], model, {"kind": kind})
    index2, manifest = load_binary_index(out)
    assert manifest["bits"] == 32 and manifest["ntotal"] == 300
    D1, I1 = search_binary(index, db[:5], 3)
    D2, I2 = search_binary(index2, db[:5], 3)
    assert (D1 == D2).all() and (I1 == I2).all() and (D2[:, 0] == 0).all()


def test_bad_bits_and_missing_index(tmp_path):
    for b in (12, 0, -8):
        with pytest.raises(ConfigError, match="multiple of 8"):
            check_bits(b)
    with pytest.raises(DataError):
        load_binary_index(tmp_path)


def test_numpy_scan_ties_go_to_lowest_index_and_blocks_agree():
    db = np.zeros((50, 8), np.uint8)
    db[[3, 17, 40], 0] = 1          # three codes at distance 1, the rest at 0 ... except:
    db[[5, 9], 1] = 255             # two at distance 8
    q = np.zeros((2, 8), np.uint8)
    D, I = numpy_search(db, q, 5)
    assert D[0].tolist() == [0] * 5 and I[0].tolist() == [0, 1, 2, 4, 6]  # ties by database index
    D1, I1 = numpy_search(db, q, 49, block=1)
    D2, I2 = numpy_search(db, q, 49, block=2)
    assert (D1 == D2).all() and (I1 == I2).all()
    assert D1[0, -4:].tolist() == [1, 1, 1, 8] and I1[0, -4:].tolist() == [3, 17, 40, 5]
    D3, I3 = numpy_search(db[:, :3], q[:, :3], 4)  # 24 bits: byte lookup-table path
    assert D3[0].tolist() == [0, 0, 0, 0] and I3[0].tolist() == [0, 1, 2, 4]


def test_knn_recall_counts_ties_at_kth_distance():
    # query 0; database distances: id0 0, id1 1, id2 2, id3 2, id4 2, id5 8 -> k=3, true 3rd distance 2
    db = np.zeros((6, 8), np.uint8)
    db[1, 0] = 1
    db[2:5, 0] = 3
    db[5, 1] = 255
    q = np.zeros((1, 8), np.uint8)
    D, I = numpy_search(db, q, 3)
    assert D[0].tolist() == [0, 1, 2] and I[0].tolist() == [0, 1, 2]
    tied = np.array([[0, 1, 4]])                 # another code tied at the 3rd distance: fully correct
    assert knn_recall_ties(db, q, tied, D[:, -1]) == 1.0
    assert knn_recall_ids(tied, I) == pytest.approx(2 / 3)  # id-based recall calls it a miss
    worse = np.array([[0, 5, -1]])               # a far code (8 > 2) and a missing slot
    assert knn_recall_ties(db, q, worse, D[:, -1]) == pytest.approx(1 / 3)
    dup = np.array([[2, 2, 2]])                  # repeated ids count once
    assert knn_recall_ties(db, q, dup, D[:, -1]) == pytest.approx(1 / 3)
