"""S6 dialogue: Gao, Galley & Li, "Neural Approaches to Conversational AI", Foundations and Trends
in IR 13(2-3), 2019, arXiv 1809.08267 — a task-oriented agent (TC-Bot-style movie-ticket booking:
agenda simulator, state tracker, rule / DQN / Deep Dyna-Q policies, template NLG, neural NLU), a QA
agent (KB-QA, KB-InfoBot) and a persona seq2seq chatbot (beam search + MMI), all trained offline
on GENERATED data.

Plain Python API (what ``paperzoo chat`` and ``paperzoo serve`` call)::

    from paperzoo.dialogue import load_agent
    agent = load_agent("task")              # "task" | "qa" | "chat"; model_dir=<out>/models for trained parts
    print(agent.reset())                    # opening line
    print(agent.respond("two tickets for the silent river tomorrow"))   # -> str, never raises for odd text

``load_agent(kind, model_dir=None)`` is cheap (< 1 s): without ``model_dir`` the task agent uses the
rule policy and a keyword NLU, the QA agent keyword relation matching, the chatbot retrieval; with
``model_dir`` (written by ``paperzoo run dialogue`` or ``paperzoo chat train``) it loads the DQN policy,
neural NLU, KB-QA relation model and the seq2seq chatbot from safetensors + JSON.
"""

from . import recipe  # noqa: F401  (registers the recipe)
from .acts import Agent, DialogueAct
from .agents import ChatAgent, QAAgent, TaskAgent, load_agent, save_models
from .world import MovieWorld, UserGoal, make_world

__all__ = ["Agent", "DialogueAct", "TaskAgent", "QAAgent", "ChatAgent", "load_agent", "save_models", "MovieWorld",
           "UserGoal", "make_world"]
