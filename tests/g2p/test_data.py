"""Loaders on fixture files written in the real formats (g014b2b, NetTalk), word normalisation."""

import pytest

from paperzoo.errors import DataError
from paperzoo.g2p import data as D


def test_g014b2b_train_and_ref_formats(tmp_path):
    (tmp_path / "g014b2b.train").write_text("AARON\tEH R AH N\nAARON\tAE R AH N\nABBE\tAE B IY\n")
    (tmp_path / "g014b2b.ref").write_text("ABADI\tAH B AE D IY\nABBA\tAE B AH\tAA B AH\n")
    train, ref = D.load_split(tmp_path)
    assert train == {"AARON": [["EH", "R", "AH", "N"], ["AE", "R", "AH", "N"]], "ABBE": [["AE", "B", "IY"]]}
    assert ref["ABBA"] == [["AE", "B", "AH"], ["AA", "B", "AH"]]
    assert len(D.make_pairs(train)) == 3


def test_stress_is_stripped_on_read(tmp_path):
    (tmp_path / "x.ref").write_text("ABOUT\tAH0 B AW1 T\n")
    assert D.read_lexicon(tmp_path / "x.ref") == {"ABOUT": [["AH", "B", "AW", "T"]]}
    assert D.strip_stress(["AH0", "B", "IY1", "ER2"]) == ["AH", "B", "IY", "ER"]


def test_bad_lines_and_missing_files_are_data_errors(tmp_path):
    (tmp_path / "bad.ref").write_text("JUSTAWORD\n")
    with pytest.raises(DataError, match="expected WORD<TAB>PHONES"):
        D.read_lexicon(tmp_path / "bad.ref")
    with pytest.raises(DataError, match="missing"):
        D.load_split(tmp_path)


def test_shipped_split_is_packaged_with_its_licence():
    train, ref = D.load_split()
    assert len(ref) == 12000 and len(train) == 106837
    assert not set(train) & set(ref)
    assert (D.DATA_DIR / "LICENSE.phonetisaurus").is_file()
    assert {p for prons in ref.values() for pr in prons for p in pr} <= set(D.PHONEMES)


def test_validation_is_carved_from_train_words():
    lex = {f"W{i}": [["AH"]] for i in range(100)}
    tr, va = D.train_valid_split(lex, 10, seed=3)
    assert len(va) == 10 and len(tr) == 90 and not set(tr) & set(va)
    assert D.train_valid_split(lex, 10, seed=3)[1] == va


NETTALK = """The NETtalk corpus. Copyright (c) 1988 Terrence J. Sejnowski; free for non-commercial research use.
Do not redistribute.

aardvark	a-rdvark	1<<<>2<<	0
aback	xb@k-	0>1<<	0
abacus	@bxkxs	1<0>0<	0
"""


def test_nettalk_loader_on_fixture(tmp_path):
    p = tmp_path / "nettalk.data"
    p.write_text(NETTALK)
    entries = D.load_nettalk(p)
    assert [e[0] for e in entries] == ["aardvark", "aback", "abacus"]
    assert entries[1] == ("aback", "xb@k-", "0>1<<", 0)
    lex = D.nettalk_lexicon(entries)
    assert lex["ABACK"] == [["x", "b", "@", "k"]]  # silent '-' removed


def test_nettalk_without_entries_is_a_data_error(tmp_path):
    p = tmp_path / "n.data"
    p.write_text("just a header\nnothing else\n")
    with pytest.raises(DataError, match="NetTalk"):
        D.load_nettalk(p)


@pytest.mark.parametrize("raw,clean", [("naïve", "NAIVE"), ("O'Brien", "O'BRIEN"), ("rock`n", "ROCK'N"),
                                       ("123", ""), ("Café!", "CAFE")])
def test_normalize_word(raw, clean):
    assert D.normalize_word(raw) == clean


def test_vocab_roundtrip_and_batches():
    v = D.Vocab(D.PHONEMES)
    ids = v.encode(["HH", "AH", "L", "OW"])
    assert v.decode(ids + [D.EOS, 5]) == ["HH", "AH", "L", "OW"]
    b = D.pad_batch([[5, 6], [7]], bos=True)
    assert b.tolist() == [[D.BOS, 5, 6, D.EOS], [D.BOS, 7, D.EOS, D.PAD]]
