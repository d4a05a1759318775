"""Reports: a run's ``metrics.json`` / ``report.md`` / ``config.yaml``, and the reproduce index.

``metrics.json`` holds flat named numbers plus ``claims`` (``{id, text, paper, ours, holds}``)
and ``_meta`` (recipe, preset, seed, wall time, status). ``index.md``/``index.html`` put every
recipe's claims in one table with links to each run's report and plots.
"""

from __future__ import annotations

import html
import json
import math
from pathlib import Path
from typing import Any

import yaml

from .engine.checkpoint import atomic_write_json, atomic_write_text
from .engine.context import RunContext
from .registry import SYSTEMS

__all__ = ["write_run", "read_metrics", "write_index", "fmt"]


def fmt(v: Any) -> str:
    if v is None:
        return "—"
    if isinstance(v, bool):
        return "yes" if v else "no"
    if isinstance(v, float):
        if not math.isfinite(v):
            return str(v)
        return f"{v:.4g}"
    return str(v)


def _holds(h: bool | None) -> str:
    return {True: "✅ holds", False: "❌ does not hold", None: "— not evaluated"}[h]


def write_run(ctx: RunContext, config: dict[str, Any], meta: dict[str, Any]) -> None:
    """Write the run's files (rank 0). ``metrics.json`` last: its presence marks a finished run."""
    if not ctx.is_main:
        return
    out = ctx.out
    s = SYSTEMS[ctx.recipe_id]
    atomic_write_text(out / "config.yaml", yaml.safe_dump(config, sort_keys=False))
    lines = [f"# {s.paper_id} {s.id}: {s.title}", "",
             f"{s.authors} ({s.year}). {s.link}", "",
             f"Preset `{ctx.preset}`, seed {ctx.seed}, {meta['wall_time_s']:.0f} s on {meta['device']}. "
             f"Command: `{meta['command']}`", ""]
    if ctx.claims:
        lines += ["## Claims", "", "| claim | paper | ours | verdict |", "|---|---|---|---|"]
        lines += [f"| {c.text} | {fmt(c.paper)} | {fmt(c.ours)} | {_holds(c.holds)} |" for c in ctx.claims]
        lines.append("")
    for title, md in ctx.tables:
        lines += [f"## {title}", "", md, ""]
    if ctx.figures:
        lines += ["## Plots", ""]
        for name, cap in ctx.figures:
            lines += [f"![{cap or name}]({name})", "", f"*{cap}*" if cap else "", ""]
    if ctx.notes:
        lines += ["## Notes and deviations", ""]
        lines += [f"- {n}" for n in ctx.notes]
        lines.append("")
    scalars = {k: v for k, v in ctx.metrics.items() if isinstance(v, (int, float)) and not isinstance(v, bool)}
    if scalars:
        lines += ["## All metrics", "", "| metric | value |", "|---|---|"]
        lines += [f"| `{k}` | {fmt(v)} |" for k, v in scalars.items()]
        lines.append("")
    atomic_write_text(out / "report.md", "\n".join(lines))
    metrics = dict(ctx.metrics)
    metrics["claims"] = [c.as_dict() for c in ctx.claims]
    metrics["_meta"] = meta
    atomic_write_json(out / "metrics.json", metrics)


def read_metrics(run_dir: str | Path) -> dict[str, Any] | None:
    p = Path(run_dir) / "metrics.json"
    if not p.is_file():
        return None
    try:
        return json.loads(p.read_text(encoding="utf-8"))
    except json.JSONDecodeError:
        return None


_CSS = """body{font-family:system-ui,sans-serif;margin:2rem auto;max-width:1200px;color:#222}
table{border-collapse:collapse;width:100%;margin:1rem 0}th,td{border:1px solid #ccc;padding:.35rem .5rem;
vertical-align:top;font-size:.92rem}th{background:#f3f3f3}tr.ok td.v{background:#e6f6e6}tr.bad td.v{background:#fbe4e4}
tr.na td.v{background:#f4f4f4}.thumbs img{height:160px;margin:.25rem;border:1px solid #ddd}h2{margin-top:2rem}"""


def write_index(out: str | Path, rows: list[dict[str, Any]], preset: str) -> None:
    """``rows``: one per recipe: id, status (done/failed/not implemented/pending), dir, metrics, error."""
    out = Path(out)
    n_claims = sum(len((r.get("metrics") or {}).get("claims", [])) for r in rows)
    n_hold = sum(1 for r in rows for c in (r.get("metrics") or {}).get("claims", []) if c.get("holds") is True)
    md = [f"# paperzoo reproduce — preset `{preset}`", "",
          f"{n_hold} of {n_claims} claims hold. Every number below was measured by the run it links to.", "",
          "| system | claim | paper | ours | verdict |", "|---|---|---|---|---|"]
    h = [f"<!doctype html><meta charset=utf-8><title>paperzoo reproduce ({html.escape(preset)})</title>",
         f"<style>{_CSS}</style><h1>paperzoo reproduce — preset <code>{html.escape(preset)}</code></h1>",
         f"<p>{n_hold} of {n_claims} claims hold. Every number below was measured by the run it links to.</p>",
         "<table><tr><th>system</th><th>claim</th><th>paper</th><th>ours</th><th>verdict</th></tr>"]
    for r in rows:
        s = SYSTEMS[r["id"]]
        name = f"{s.paper_id} {s.id}"
        m = r.get("metrics") or {}
        claims = m.get("claims", [])
        link = f"{r['id']}/report.md"
        if r["status"] != "done" or not claims:
            why = {"not implemented": "not yet implemented", "failed": f"failed: {r.get('error', '')}",
                   "pending": "not run yet"}.get(r["status"], r["status"] if not claims else "")
            why = why or "no claims"
            md.append(f"| [{name}]({link}) | {why} | | | |")
            h.append(f"<tr class=na><td>{html.escape(name)}</td><td colspan=3>{html.escape(why)}</td><td class=v>—</td></tr>")
            continue
        for c in claims:
            v = c.get("holds")
            md.append(f"| [{name}]({link}) | {c['text']} | {fmt(c.get('paper'))} | {fmt(c.get('ours'))} | {_holds(v)} |")
            cls = {True: "ok", False: "bad", None: "na"}[v]
            h.append(f"<tr class={cls}><td><a href='{html.escape(link)}'>{html.escape(name)}</a></td>"
                     f"<td>{html.escape(str(c['text']))}</td><td>{html.escape(fmt(c.get('paper')))}</td>"
                     f"<td>{html.escape(fmt(c.get('ours')))}</td><td class=v>{html.escape(_holds(v))}</td></tr>")
    h.append("</table>")
    md += ["", "## Plots", ""]
    h.append("<h2>Plots</h2>")
    for r in rows:
        d = out / r["id"]
        pngs = sorted(p.name for p in d.glob("*.png")) if d.is_dir() else []
        if not pngs:
            continue
        s = SYSTEMS[r["id"]]
        md.append(f"### {s.paper_id} {s.id}")
        md += [f"![{p}]({r['id']}/{p})" for p in pngs]
        md.append("")
        h.append(f"<h3>{s.paper_id} {html.escape(s.id)} — <a href='{r['id']}/report.md'>report</a></h3><div class=thumbs>")
        h += [f"<a href='{r['id']}/{p}'><img src='{r['id']}/{p}' alt='{html.escape(p)}'></a>" for p in pngs]
        h.append("</div>")
    atomic_write_text(out / "index.md", "\n".join(md) + "\n")
    atomic_write_text(out / "index.html", "\n".join(h) + "\n")
