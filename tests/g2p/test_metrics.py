"""WER/PER scorer against hand-computed cases (multiple references, empty prediction)."""

import pytest

from paperzoo.g2p.metrics import edit_distance, score_word, wer_per


def test_edit_distance_hand_cases():
    assert edit_distance([], []) == 0
    assert edit_distance(["A"], []) == 1
    assert edit_distance([], ["A", "B"]) == 2
    assert edit_distance("K AE T".split(), "K AE T".split()) == 0
    assert edit_distance("K AE T".split(), "K AH T S".split()) == 2  # 1 sub + 1 ins
    assert edit_distance("kitten", "sitting") == 3


def test_any_reference_counts_and_closest_reference_for_per():
    refs = [["T", "AH", "M", "EY", "T", "OW"], ["T", "AH", "M", "AA", "T", "OW"]]
    assert score_word(["T", "AH", "M", "AA", "T", "OW"], refs) == (True, 0, 6)
    ok, e, n = score_word(["T", "AH", "M", "AA", "T"], refs)  # 1 deletion from the 2nd reference
    assert (ok, e, n) == (False, 1, 6)


def test_corpus_wer_per_hand_computed():
    refs = {"A": [["EY"], ["AH"]], "CAT": [["K", "AE", "T"]], "DOG": [["D", "AO", "G"]], "EMPTY": [["EH", "M"]]}
    hyps = {"A": ["AH"], "CAT": ["K", "AH", "T"], "DOG": ["D", "AO", "G"], "EMPTY": []}
    m = wer_per(hyps, refs)
    # wrong: CAT (1 sub), EMPTY (2 deletions). Ref lengths: A->AH (closest, 1), 3, 3, 2 = 9; edits 0+1+0+2 = 3.
    assert m["wer"] == pytest.approx(2 / 4)
    assert m["per"] == pytest.approx(3 / 9)
    assert m["words"] == 4


def test_missing_hypothesis_is_an_empty_prediction():
    m = wer_per({}, {"CAT": [["K", "AE", "T"]]})
    assert m["wer"] == 1.0 and m["per"] == 1.0


def test_no_references_is_an_error():
    with pytest.raises(ValueError):
        score_word(["A"], [])
