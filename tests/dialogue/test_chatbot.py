import pytest

from paperzoo.dialogue.chatbot import (
    Chatbot,
    Vocab,
    distinct_n,
    make_persona_chat,
    read_dailydialog,
    read_personachat,
)
from paperzoo.errors import DataError


def test_tiny_chatbot_trains_and_replies_with_and_without_mmi():
    data = make_persona_chat(64, seed=0)
    vocab = Vocab([t for p, m, r in data for x in p + [m, r] for t in x.split()])
    bot = Chatbot(vocab, d_model=16, layers=1, heads=2, seed=0)
    losses = bot.fit(data, steps=3, batch=8)
    assert len(losses) == 3 and all(l > 0 for l in losses)
    assert bot.perplexity(data[:8]) > 1
    pairs = [(p, m) for p, m, _ in data[:3]]
    for mmi in (0.0, 0.5):
        out = bot.reply(pairs, beam=3, nbest=3, mmi=mmi)
        assert len(out) == 3 and all(isinstance(o, str) and o for o in out)


def test_distinct_n():
    assert distinct_n(["a b", "a b"], 1) == 0.5 and distinct_n(["a b c"], 2) == 1.0 and distinct_n([], 2) == 0


def test_read_dailydialog(tmp_path):
    p = tmp_path / "dialogues_text.txt"
    p.write_text("Hi , how are you ? __eou__ Fine , thanks . __eou__\nBye . __eou__ See you . __eou__\n",
                 encoding="utf-8")
    d = read_dailydialog(p)
    assert d == [["Hi , how are you ?", "Fine , thanks ."], ["Bye .", "See you ."]]
    with pytest.raises(DataError):
        read_dailydialog(tmp_path / "missing.txt")


def test_read_personachat(tmp_path):
    p = tmp_path / "train_self_original.txt"
    p.write_text("1 your persona: i like cats.\n2 your persona: i am a nurse.\n"
                 "3 hi there\thello ! i like cats .\t\tno|hello ! i like cats .\n"
                 "4 what do you do ?\ti am a nurse .\t\ta|i am a nurse .\n"
                 "1 your persona: i surf.\n2 hey\thi , i surf .\t\tx|hi , i surf .\n", encoding="utf-8")
    d = read_personachat(p)
    assert len(d) == 2 and d[0][0] == ["i like cats.", "i am a nurse."]
    assert d[0][1][1] == ("what do you do ?", "i am a nurse .") and d[1][1] == [("hey", "hi , i surf .")]
    bad = tmp_path / "bad.txt"
    bad.write_text("not a numbered line\n", encoding="utf-8")
    with pytest.raises(DataError):
        read_personachat(bad)
