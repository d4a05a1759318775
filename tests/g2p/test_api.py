"""Python API: lexicon first, model for OOV, odd words, evaluate()."""

import pytest

from paperzoo.errors import DataError
from paperzoo.g2p import G2P
from paperzoo.g2p.data import PHONEMES


@pytest.fixture(scope="module")
def g2p(tiny_model_dir):
    return G2P.load(tiny_model_dir, beam=2)


def test_lexicon_first(g2p):
    assert g2p.predict(["hello", "World"]) == [["HH", "AH", "L", "OW"], ["W", "ER", "L", "D"]]


def test_model_for_oov_and_no_lexicon(g2p):
    out = g2p.predict(["zyxorbia", "hello"], use_lexicon=False)
    assert len(out) == 2 and all(p in PHONEMES for pr in out for p in pr)
    assert g2p.predict("hello", use_lexicon=False) == [out[1]]


def test_beam_and_greedy_model_paths_agree_at_beam_one(g2p):
    words = ["CAT", "O'BRIEN", "ABC"]
    assert g2p.predict_model(words, beam=1) == g2p.predict(words, use_lexicon=False, beam=1)


@pytest.mark.parametrize("word", ["naïve", "O'BRIEN", "well-known", "Café"])
def test_odd_but_pronounceable_words(g2p, word):
    (pron,) = g2p.predict([word])
    assert isinstance(pron, list)


@pytest.mark.parametrize("word", ["123", "!!!", "", "x" * 10_000])
def test_unpronounceable_words_raise_data_error(g2p, word):
    with pytest.raises(DataError):
        g2p.predict([word])


def test_evaluate_on_given_references(g2p):
    refs = {"CAT": [["K", "AE", "T"]], "DOG": [["D", "AO", "G"]]}
    m = g2p.evaluate(refs, beam=1)
    assert 0.0 <= m["wer"] <= 1.0 and m["words"] == 2 and m["words_per_sec"] > 0
    lex = g2p.evaluate(refs, use_lexicon=True)
    assert lex["wer"] == 0.0  # both words are in CMUdict with these pronunciations


def test_beam_length_normalisation_comes_from_the_model_folder(tiny_model_dir, tmp_path, monkeypatch):
    """ship.py stores the exponent chosen on validation words under "decode"; G2P.load uses it for beam search."""
    import json
    import shutil

    import paperzoo.transformer.decode as decode

    d = tmp_path / "m"
    shutil.copytree(tiny_model_dir, d)
    cfg = json.loads((d / "config.json").read_text())
    (d / "config.json").write_text(json.dumps({**cfg, "decode": {"beam": 4, "alpha": 0.0}}))
    seen = []
    real = decode.beam_search
    monkeypatch.setattr(decode, "beam_search", lambda *a, **kw: seen.append(kw["alpha"]) or real(*a, **kw))
    assert G2P.load(tiny_model_dir).alpha == 1.0  # no "decode" entry: the usual mean log-probability per token
    g = G2P.load(d, use_lexicon=False)
    assert g.alpha == 0.0
    g.predict(["zyxorbia"], beam=3)
    assert seen == [0.0]
    assert G2P(g.model, alpha=0.5, meta=g.meta).alpha == 0.5  # an explicit value wins
