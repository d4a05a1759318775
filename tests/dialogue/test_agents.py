import pytest
from typer.testing import CliRunner

from paperzoo.dialogue import Agent, load_agent, save_models
from paperzoo.dialogue.chatbot import Chatbot, Vocab, make_persona_chat
from paperzoo.dialogue.policy import DQNAgent
from paperzoo.errors import CheckpointError, ConfigError

ODD = ["", "   ", "x" * 10000, "日本語のテキスト ñandú 🙂", "\x00\x01", "?!?!", "1 2 3 4 5 6 7 8 9"]


@pytest.mark.parametrize("kind", ["task", "qa", "chat"])
def test_odd_input_gets_a_sensible_reply(kind):
    agent = load_agent(kind)
    assert isinstance(agent, Agent)
    assert agent.reset()
    for text in ODD:
        reply = agent.respond(text)
        assert isinstance(reply, str) and 0 < len(reply) < 1000


def test_task_agent_books_a_ticket():
    agent = load_agent("task")
    agent.reset()
    row = agent.world.kb[0]
    reply = ""
    for text in [f"i want to see {row['moviename']}", f"in {row['city']}", row["date"], f"at {row['starttime']}",
                 f"at {row['theater']}", "2 people", "any", "any", "any"]:
        reply = agent.respond(text)
        if "booked" in reply:
            break
    assert "booked" in reply and row["moviename"] in reply


def test_qa_agent_answers():
    agent = load_agent("qa")
    row = agent.world.kb[0]
    reply = agent.respond(f"where is {row['moviename']} playing")
    for _ in range(4):  # KB-InfoBot: answer its narrowing questions from one row
        if reply.startswith("The theater"):
            break
        slot = reply.split("Which ")[1].split(" ")[0]
        reply = agent.respond(row[slot])
    assert reply.startswith("The theater") and row["theater"] in reply


def test_bad_agent_and_model_dir(tmp_path):
    with pytest.raises(ConfigError):
        load_agent("robot")
    with pytest.raises(CheckpointError):
        load_agent("task", tmp_path / "nope")


def test_save_and_load_models(tmp_path):
    data = make_persona_chat(16, seed=0)
    bot = Chatbot(Vocab([t for p, m, r in data for x in p + [m, r] for t in x.split()]), d_model=16, layers=1, heads=2)
    dqn = DQNAgent(hidden=8)
    save_models(tmp_path, dqn=dqn, chatbot=bot)
    task = load_agent("task", tmp_path)
    assert isinstance(task.policy, DQNAgent) and task.respond("hello")
    chat = load_agent("chat", tmp_path)
    assert chat.bot is not None and isinstance(chat.respond("do you have pets"), str)


def test_repl_through_stdin():
    from paperzoo.dialogue.cli import app

    r = CliRunner().invoke(app, ["--agent", "task"], input="hello\n\n日本語\n/reset\nbye\n")
    assert r.exit_code == 0, r.output
    lines = [l for l in r.output.splitlines() if l.startswith("task> ")]
    assert len(lines) == 6  # greeting + 4 replies + reset greeting
    r = CliRunner().invoke(app, ["--agent", "chat"], input="do you have pets\n")
    assert r.exit_code == 0 and r.output.count("chat> ") == 2
