"""`rlhf-tui generate | score | eval`: the loop after training (needs the `train` extra).

generate writes the next round of candidates into a new dataset, score stores reward-model scores
(never shown to annotators), eval pits the policy against a reference with a reward model as judge.
torch and transformers are imported only inside the commands.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from contextlib import contextmanager
from functools import partial
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from rlhf_tui.cli_app import StoreOption, app, console, err_console, open_client_store
from rlhf_tui.commands.core import Task
from rlhf_tui.terminal_text import plain

if TYPE_CHECKING:  # rich's progress and tables are imported by the commands that print them
    from rich.progress import Progress
    from rich.table import Table

    from trainers.generation import ProgressFn, PromptItem

FourBitOption = typer.Option(
    None,
    "--4bit/--no-4bit",
    help="Load models in 4-bit NF4 [default: on with a GPU, off on the CPU, where float32 is faster].",
    show_default=False,
)


@contextmanager
def _progress() -> Iterator[Progress]:
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

    with Progress(
        TextColumn("{task.description}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
        console=err_console,
        transient=False,
    ) as progress:
        yield progress


def _description(text: str) -> str:
    """A progress-bar label holding a model name or path: neutralised, and its brackets escaped,
    since Rich reads task descriptions as markup."""
    from rich.markup import escape

    return escape(plain(text, one_line=True).plain)


def _table(title: str) -> Table:
    from rich.table import Table

    table = Table(title=plain(title, one_line=True), show_header=True)
    table.add_column("metric")
    table.add_column("value", justify="right")
    return table


def _stage(progress: Progress) -> Callable[[str, int], ProgressFn]:
    """A progress bar per stage: `start(name, total)` adds one and returns its advance callback."""

    def start(name: str, total: int) -> ProgressFn:
        return partial(progress.advance, progress.add_task(_description(name), total=total))

    return start


def _prompts(
    store_path: Path | None, dataset: str | None, prompts: Path | None, limit: int | None
) -> tuple[list[PromptItem], str | None]:
    """The prompts to answer, and the guidelines of their dataset (None for a prompts file)."""
    from store.errors import InvalidInputError
    from trainers.generation import dataset_prompts, read_prompts_file

    if prompts is not None and not dataset:
        items = read_prompts_file(prompts)
        return (items[:limit] if limit else items), None
    if not dataset or prompts is not None:
        raise InvalidInputError("give exactly one of --dataset NAME or --prompts FILE")
    with open_client_store(store_path) as s:
        items = dataset_prompts(s, dataset, limit)
        guidelines = s.get_dataset(dataset).guidelines
    return items, guidelines


def held_out_prompts(items: list[PromptItem], fraction: float, source: str) -> list[PromptItem]:
    """The prompts `train --holdout FRACTION` keeps out of training, in their order."""
    from store.errors import InvalidInputError
    from trainers.data import held_out, prompt_key

    if not 0.0 < fraction < 1.0:
        raise InvalidInputError(f"--holdout must be in (0, 1): {fraction}")
    kept = [i for i in items if held_out(prompt_key({"prompt": i.prompt}), fraction)]
    if not kept:
        raise InvalidInputError(f"--holdout {fraction} keeps none of the {len(items)} prompts of {source}")
    return kept


@app.command("generate")
def generate_command(
    model: list[str] = typer.Option(
        ...,
        "--model",
        "-m",
        metavar="MODEL",
        help="Policy to sample from: a folder, a .gguf file, an "
        "adapter folder or a hub id. Repeat to mix checkpoints in one round.",
    ),
    into: str = typer.Option(..., "--into", help="New dataset that receives the candidates (created if new)."),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Take the prompts of this dataset."),
    prompts: Path | None = typer.Option(
        None,
        "--prompts",
        help="Or a prompts file: JSONL with 'prompt' (text or chat messages) and optional 'id', or plain text lines.",
    ),
    n: int = typer.Option(4, "--n", help="Answers per prompt in all (shared among the --model values), 2-9."),
    temperature: float = typer.Option(0.7, "--temperature", help="Sampling temperature (0: greedy/beam search)."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling threshold."),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", help="Longest answer in tokens."),
    batch_size: int = typer.Option(8, "--batch-size", help="Prompts per forward pass."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N prompts."),
    seed: int = typer.Option(0, "--seed", help="Random seed for sampling."),
    task: Task | None = typer.Option(None, "--task", help="rank or pair [default: pair for 2 answers, else rank]."),
    chat_template: bool = typer.Option(
        True,
        "--chat-template/--no-chat-template",
        help="Wrap prompts in the tokenizer's chat template when it has one.",
    ),
    load_in_4bit: bool | None = FourBitOption,
    store: Path | None = StoreOption,
) -> None:
    """Sample answers to every prompt and store them as candidates of a new dataset, ready to annotate.

    Each candidate's source is the --model it came from. Record ids are the source record's id plus
    @INTO, so running the same command again adds nothing.

    Example: rlhf-tui generate --model runs/dpo --dataset demo --n 4 --into demo-round2
    """
    import json
    import tempfile

    from store.errors import InvalidInputError
    from store.types import MAX_CANDIDATES, MIN_CANDIDATES
    from trainers.generation import GenerationSettings, native_rows, sample_answers, split_count

    if not MIN_CANDIDATES <= n <= MAX_CANDIDATES:
        raise InvalidInputError(f"--n must be between {MIN_CANDIDATES} and {MAX_CANDIDATES}")
    if len(model) > n:
        raise InvalidInputError(f"{len(model)} models but only --n {n} answers per prompt: raise --n")
    if task == "pair" and n != 2:
        raise InvalidInputError("--task pair needs --n 2")
    items, guidelines = _prompts(store, dataset, prompts, limit)
    from trainers.quiet import quiet_libraries

    quiet_libraries()
    from trainers.modeling import load_for_inference

    settings = GenerationSettings(
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        batch_size=batch_size,
        seed=seed,
        use_chat_template=chat_template,
    )
    answers_by_model = []
    with _progress() as progress:
        for spec, count in zip(model, split_count(n, len(model))):
            loaded, tokenizer = load_for_inference(spec, "policy", load_in_4bit=load_in_4bit)
            task_id = progress.add_task(_description(f"{spec}: {count} per prompt"), total=len(items))
            answers = sample_answers(
                loaded,
                tokenizer,
                [i.prompt for i in items],
                count,
                settings,
                partial(progress.advance, task_id),
            )
            answers_by_model.append((spec, answers))
            del loaded
    rows = native_rows(items, answers_by_model, into, dataset, settings)
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / f"{into}.jsonl"
        path.write_text("".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows), encoding="utf-8")
        with open_client_store(store, create=True) as s:
            report = s.import_file(
                path,
                dataset=into,
                task=(task.value if task else ("pair" if n == 2 else "rank")),
                fmt="native",
                guidelines=guidelines,
            )
    console.print(
        plain(
            f"{len(items)} prompts × {n} answers from {', '.join(model)}: {report.added} new records in "
            f"{into!r}, {report.already_present} already present."
        ),
        soft_wrap=True,
    )


@app.command("score")
def score_command(
    reward_model: str = typer.Option(
        ...,
        "--reward-model",
        "-r",
        help="A reward-model adapter folder (`rlhf-tui train reward --output`) or a merged reward model.",
    ),
    dataset: str = typer.Option(..., "--dataset", "-d", help="Dataset whose candidates to score."),
    scorer: str | None = typer.Option(
        None, "--scorer", help="Name the scores are stored under [default: the --reward-model as given]."
    ),
    batch_size: int = typer.Option(8, "--batch-size", help="Answers per forward pass."),
    max_length: int = typer.Option(
        1024, "--max-length", help="Longest prompt + answer in tokens; longer ones are cut."
    ),
    load_in_4bit: bool | None = FourBitOption,
    store: Path | None = StoreOption,
) -> None:
    """Score every candidate of a dataset with a reward model and store the scores.

    Reports how often the reward model orders two candidates the way the annotators ranked them:
    the share of ranked pairs (a tie in score counts half) with its 95% Wilson interval and count.
    Annotators never see these scores before they answer, so they are not anchored by them; a
    dataset with --strategy uncertain is re-ordered by them at once, and review shows them.

    Example: rlhf-tui score --reward-model runs/rm --dataset demo-round2
    """
    from trainers.generation import dataset_prompts
    from trainers.scoring import agreement, score_answers

    name = scorer or reward_model
    with open_client_store(store) as s:
        items = dataset_prompts(s, dataset)
        records = s.get_records([i.record_id for i in items])
    from trainers.quiet import quiet_libraries

    quiet_libraries()
    from trainers.modeling import load_for_inference

    model, tokenizer = load_for_inference(reward_model, "reward", load_in_4bit=load_in_4bit)
    keys, pairs = [], []
    for item, record in zip(items, records):
        for candidate in record.candidates:
            keys.append((record.id, candidate.index))
            pairs.append((item.prompt, candidate.text))
    with _progress() as progress:
        task_id = progress.add_task("scoring", total=len(pairs))
        values = score_answers(model, tokenizer, pairs, batch_size, max_length, partial(progress.advance, task_id))
    with open_client_store(store) as s:
        s.save_scores(name, [(rid, idx, v) for (rid, idx), v in zip(keys, values)])
        rankings = s.submitted_rankings(dataset)
    agreed = agreement(rankings, dict(zip(keys, values)))
    table = _table(f"score {dataset}: {name}")
    table.add_row(plain("candidates scored"), plain(str(len(values))))
    table.add_row(plain("annotated records"), plain(str(agreed.records)))
    table.add_row(plain("ranked pairs"), plain(str(agreed.pairs)))
    if agreed.rate is not None:
        table.add_row(plain("agreement with annotators"), plain(agreed.describe()))
    console.print(table)
    if agreed.rate is None:
        console.print("no submitted rankings yet: agreement is reported once records are annotated", markup=False)


@app.command("eval")
def eval_command(
    policy: list[str] = typer.Option(
        ...,
        "--policy",
        metavar="POLICY",
        help="A policy to judge (an SFT/DPO/KTO/RLOO adapter folder or a model); repeat to compare several.",
    ),
    reference: str = typer.Option(..., "--reference", help="What each is compared with, usually the base model."),
    reward_model: str = typer.Option(
        ...,
        "--reward-model",
        "-r",
        help="The judge: a reward-model folder that shares no prompt with the policies' training (`train reward "
        "--holdout F --holdout-only` beside policies trained with --holdout F): a policy beats the reward model it "
        "was optimised against by hacking it.",
    ),
    dataset: str | None = typer.Option(None, "--dataset", "-d", help="Answer the prompts of this dataset."),
    prompts: Path | None = typer.Option(None, "--prompts", help="Or a prompts file (JSONL or text lines)."),
    out: Path = typer.Option(Path("eval.parquet"), "--out", "-o", help="Parquet file for the answers side by side."),
    limit: int | None = typer.Option(None, "--limit", help="Only the first N prompts."),
    holdout: float = typer.Option(
        0.0,
        "--holdout",
        metavar="FRACTION",
        help="Answer only the prompts that `train --holdout FRACTION` keeps out of training (none of the policies "
        "trained with it saw them).",
    ),
    temperature: float = typer.Option(0.0, "--temperature", help="0: greedy answers (deterministic) [default]."),
    top_p: float = typer.Option(0.95, "--top-p", help="Nucleus sampling threshold when sampling."),
    max_new_tokens: int = typer.Option(256, "--max-new-tokens", help="Longest answer in tokens."),
    max_length: int = typer.Option(1024, "--max-length", help="Longest prompt + answer the judge reads."),
    batch_size: int = typer.Option(8, "--batch-size", help="Prompts per forward pass."),
    seed: int = typer.Option(0, "--seed", help="Random seed when sampling."),
    chat_template: bool = typer.Option(
        True,
        "--chat-template/--no-chat-template",
        help="Wrap prompts in the tokenizer's chat template when it has one.",
    ),
    load_in_4bit: bool | None = FourBitOption,
    store: Path | None = StoreOption,
) -> None:
    """Every policy and the reference answer every prompt; the reward model judges each pair of answers.

    Prints, per policy, the win rate against the reference (a tie counts half) with a 95% Wilson
    interval, the mean answer length of both sides (in the judge's tokens), and the win rate among
    the prompts whose two answers are of similar length (within 20%): a policy that wins only by
    writing more shows it there. Every prompt with both answers, scores and lengths goes to --out.

    Example: rlhf-tui eval --policy runs/sft --policy runs/rloo --reference models/SmolLM2-135M-Instruct
    --reward-model runs/rm-heldout --dataset demo
    """
    from trainers.evaluation import SIMILAR_LENGTH, evaluate_policies, write_parquet
    from trainers.generation import GenerationSettings

    items, _ = _prompts(store, dataset, prompts, None if holdout else limit)
    if holdout:
        items = held_out_prompts(items, holdout, f"dataset '{dataset}'" if dataset else str(prompts))[:limit]
    from trainers.quiet import quiet_libraries

    quiet_libraries()
    settings = GenerationSettings(
        max_new_tokens=max_new_tokens,
        temperature=temperature,
        top_p=top_p,
        batch_size=batch_size,
        seed=seed,
        use_chat_template=chat_template,
    )
    with _progress() as progress:
        results = evaluate_policies(
            policy, reference, reward_model, items, settings, max_length, load_in_4bit, on_stage=_stage(progress)
        )
    write_parquet([row for result in results for row in result.rows], out)
    console.print(plain(f"eval: against {reference}, judged by {reward_model}, {len(items)} prompts"), soft_wrap=True)
    for k, r in enumerate(results, 1):
        console.print(plain(f"  #{k} = {r.policy}"), soft_wrap=True)
    from rich.table import Table

    table = Table(show_header=True)
    table.add_column("metric")
    for k in range(1, len(results) + 1):
        table.add_column(f"#{k}", justify="right")
    within = f"±{SIMILAR_LENGTH:.0%}"

    def interval(low: float, high: float) -> str:
        return f"{low:.3f} – {high:.3f}"

    lines: list[tuple[str, list[str]]] = [
        ("win rate (tie = ½)", [f"{r.win_rate:.3f}" for r in results]),
        ("95% interval (Wilson)", [interval(r.low, r.high) for r in results]),
        ("wins / ties / losses", [f"{r.wins} / {r.ties} / {r.losses}" for r in results]),
        ("mean answer tokens", [f"{r.policy_tokens:.1f}" if r.policy_tokens is not None else "—" for r in results]),
        (
            "  reference's",
            [f"{r.reference_tokens:.1f}" if r.reference_tokens is not None else "—" for r in results],
        ),
        (f"similar-length pairs ({within})", [f"[{r.similar_pairs}]" for r in results]),
        (
            "  win rate among them",
            [f"{r.similar_win_rate:.3f}" if r.similar_win_rate is not None else "—" for r in results],
        ),
        (
            "  95% interval",
            [interval(r.similar_low, r.similar_high) if r.similar_pairs else "—" for r in results],
        ),
    ]
    for label, values in lines:
        table.add_row(plain(label), *(plain(v) for v in values))
    console.print(table)
    console.print(plain(f"answers side by side: {out}"), soft_wrap=True)
