"""The ``gconet-lab`` command line: prepare data, train, evaluate, predict, benchmark, check the evaluator, and the demo."""

from __future__ import annotations

import argparse
import json
import math
import sys
from pathlib import Path

from gconet_lab.config import PRESETS, VARIANTS, ConfigError, GCoNetConfig, make_config
from gconet_lab.engine.precision import PRECISIONS
from gconet_lab.engine.recipes import RECIPES
from gconet_lab.inference import BENCHMARK_TASKS

DESCRIPTION = """\
GCoNet+ co-salient object detection (Zheng et al., T-PAMI 2023) for teaching and research.

Co-salient object detection finds the object that a *group* of images has in common.
Typical session:
  gconet-lab demo                                   # everything below on the embedded data
  gconet-lab prepare --out outputs/data             # iCoseg + COCO groups + copy-paste groups + synthetic set
  gconet-lab train --data outputs/data --sets COCO128-SEG Synthetic_train --out runs/cpu
  gconet-lab evaluate --checkpoint runs/cpu/checkpoint.pt --data outputs/data --set iCoseg --out runs/cpu/eval
  gconet-lab predict --checkpoint runs/cpu/checkpoint.pt --images my_photos/ --out my_maps/
  gconet-lab benchmark --preset paper --device cpu     # speed: reference vs fast inference, training, evaluation
  gconet-lab check-evaluator                        # the evaluator against the official evaluator's numbers
"""

PRECISION_HELP = ("auto (default): fp16 on CUDA, fp32 elsewhere (the choice is printed); fp32: float32 throughout; "
                  "bf16: bfloat16, where the CPU (AVX-512 BF16, AMX) or GPU computes it natively; fp16: float16, CUDA only. "
                  "A precision this machine would only emulate is refused")


INTERRUPTED_EXIT_STATUS = 130  # the shell's status of a process ended by Ctrl-C (128 + SIGINT)


class OneLineParser(argparse.ArgumentParser):
    """An argument parser whose errors are one line (no usage block), exit status 2."""

    def error(self, message: str) -> None:
        self.exit(2, f"{self.prog}: error: {message}\n")


def positive_int(text: str) -> int:
    """An ``int`` option that must be at least 1."""
    return _int_at_least(text, 1)


def non_negative_int(text: str) -> int:
    """An ``int`` option that must be at least 0."""
    return _int_at_least(text, 0)


def positive_float(text: str) -> float:
    """A ``float`` option that must be finite and above 0."""
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a number") from None
    if not (math.isfinite(value) and value > 0):
        raise argparse.ArgumentTypeError(f"must be a finite number above 0, got {text}")
    return value


def peak_gflops(text: str) -> tuple[float, ...]:
    """A ``--peak-gflops`` value: one peak for every precision (``500``) or two, fp32 and bf16 (``500,1000``)."""
    values = tuple(positive_float(part) for part in text.split(","))
    if len(values) > 2:
        raise argparse.ArgumentTypeError(f"give one value or two (fp32,bf16), got {text}")
    return values


def two_or_more(text: str) -> int:
    """An ``int`` option that must be at least 2 (a group the GST loss can split)."""
    return _int_at_least(text, 2)


def _int_at_least(text: str, low: int) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"{text!r} is not a whole number") from None
    if value < low:
        raise argparse.ArgumentTypeError(f"must be at least {low}, got {value}")
    return value


def json_object(text: str) -> dict:
    """An ``--option`` value: a JSON object of configuration overrides."""
    try:
        value = json.loads(text)
    except json.JSONDecodeError as error:
        raise argparse.ArgumentTypeError(f"not valid JSON ({error.msg} at character {error.pos}): {text}") from None
    if not isinstance(value, dict):
        raise argparse.ArgumentTypeError(f'must be a JSON object like \'{{"use_gst": false}}\', got {text}')
    return value


def device_name(text: str) -> str:
    """A ``--device`` value torch knows and this machine has (``cpu``, ``cuda``, ``cuda:1``, ``mps``)."""
    import torch

    try:
        device = torch.device(text)
    except RuntimeError:
        raise argparse.ArgumentTypeError(f"unknown device {text!r}; use cpu or cuda (cuda:N for one GPU)") from None
    if device.type == "cuda" and not torch.cuda.is_available():
        raise argparse.ArgumentTypeError(f"{text}: CUDA is not available on this machine; use cpu")
    if device.type == "cuda" and device.index is not None and device.index >= torch.cuda.device_count():
        raise argparse.ArgumentTypeError(f"{text}: this machine has {torch.cuda.device_count()} CUDA device(s)")
    if device.type == "mps" and not torch.backends.mps.is_available():
        raise argparse.ArgumentTypeError(f"{text}: MPS is not available on this machine; use cpu")
    if device.type not in ("cpu", "cuda", "mps"):
        raise argparse.ArgumentTypeError(f"unsupported device {text!r}; use cpu or cuda")
    return text


def cmd_demo(args: argparse.Namespace) -> None:
    from gconet_lab.engine.storage import ensure_writable_folder
    from gconet_lab.report import run_main_job

    ensure_writable_folder(args.out)
    run_main_job(args.out, epochs=args.epochs, device=args.device)


def cmd_prepare(args: argparse.Namespace) -> None:
    from gconet_lab.engine.storage import ensure_writable_folder
    from gconet_lab.pipeline import prepare_default_data

    ensure_writable_folder(args.out)
    prepare_default_data(args.out, args.source)


def cmd_train(args: argparse.Namespace) -> None:
    from gconet_lab.engine.distributed import is_main_process
    from gconet_lab.pipeline import train
    recipe = RECIPES[args.recipe] if args.recipe else None
    preset = args.preset or (recipe.preset if recipe else "cpu")
    config = config_with_options(preset, args.variant, {**(recipe.config_options if recipe else {}), **(args.option or {})})
    sets = recipe.sets if recipe else tuple(args.sets)
    result = train(config, args.data, args.out, sets, epochs=args.epochs, device=args.device,
                   accumulation=args.accumulation, sync_bn=args.sync_bn, precision=args.precision).result
    if result.interrupted:  # the trainer said where the checkpoint is; a script must see that the run is not done
        raise SystemExit(INTERRUPTED_EXIT_STATUS)
    if not is_main_process():
        return
    print(f"{result.steps} steps, {result.epochs_completed} epochs, {result.skipped_steps} skipped, "
          f"{result.seconds:.0f}s; checkpoint {result.checkpoint}")
    if recipe and recipe.table3:
        expected = "; ".join(f"{test} " + " ".join(f"{k} {v:.3f}" for k, v in scores.items())
                             for test, scores in recipe.expected.items())
        print(f"Table 3, GCoNet+ {recipe.label}: {expected}")


def model_to_run(args: argparse.Namespace):
    """``gconet_plus(--checkpoint)`` on ``--device``, run in ``--precision``: fp32 the model itself, bf16/fp16 its fast path."""
    from gconet_lab.engine.train import select_device
    from gconet_lab.inference.fast_inference import make_fast_model
    from gconet_lab.models.weights import gconet_plus

    device = select_device(args.device)
    precision = resolved_precision(args.precision, device)  # refused before the model is read
    model = gconet_plus(args.checkpoint, device=device)
    return model if precision == "fp32" else make_fast_model(model, precision=precision)


def resolved_precision(precision: str, device) -> str:
    """``--precision`` resolved on ``device`` (refused where emulated); ``auto``'s choice is printed."""
    from gconet_lab.engine.precision import resolve_precision

    resolved = resolve_precision(precision, device)
    if precision == "auto":
        print(f"precision auto: {resolved} on {device.type}", file=sys.stderr)
    return resolved


def cmd_evaluate(args: argparse.Namespace) -> None:
    from gconet_lab.inference.evaluate import evaluate_model
    from gconet_lab.metrics import format_comparison

    model = model_to_run(args)
    scores = evaluate_model(model, args.data, args.set, args.out, on_missing="skip" if args.skip_missing else "error",
                            skip_option="--skip-missing", progress=True)
    if scores.index_report.skipped:
        print(scores.index_report.summary(), file=sys.stderr)
    print(format_comparison({"official": scores.evaluation.results, "pysod": scores.pysod}))
    if scores.group_decision is not None:  # photos in several groups: does the group decide their maps?
        print(scores.group_decision.format())
    print(f"tables: {', '.join(map(str, scores.tables))}")


def cmd_predict(args: argparse.Namespace) -> None:
    import torch

    from gconet_lab.data import prepare_image, read_image
    from gconet_lab.engine.storage import ensure_writable_folder
    from gconet_lab.inference.evaluate import NonFiniteOutputError, predict_group, write_group
    from gconet_lab.inference.predict_folder import plan_prediction

    plan = plan_prediction(args.images, args.out)
    model = model_to_run(args)
    ensure_writable_folder(args.out)
    print(plan.describe(), file=sys.stderr)
    for name, paths in plan.groups:
        images = [read_image(p) for p in paths]
        batch = torch.stack([prepare_image(image, model.config.image_size) for image in images])
        try:
            maps = predict_group(model, batch, [image.shape[:2] for image in images], next(model.parameters()).device)
        except NonFiniteOutputError as error:
            raise NonFiniteOutputError(f"{paths[0].parent}: {error}") from None
        target = Path(args.out) / name
        write_group(maps, [p.stem for p in paths], target)
        print(f"{name or paths[0].parent.name}: {len(paths)} maps -> {target}")


def cmd_benchmark(args: argparse.Namespace) -> None:
    import torch

    from gconet_lab.data import DataError, index_set
    from gconet_lab.engine.precision import native_precisions
    from gconet_lab.engine.storage import ensure_writable_folder
    from gconet_lab.engine.train import select_device
    from gconet_lab.inference.benchmark import run_benchmark
    from gconet_lab.inference.evaluate import predict_centre_prior
    from gconet_lab.inference.flops import given_peak
    from gconet_lab.pipeline import prepare_default_data

    device = select_device(args.device)
    precision = resolved_precision(args.precision, device)
    print(f"native precisions on {device.type}: {', '.join(native_precisions(device))}", file=sys.stderr)
    ensure_writable_folder(args.out)
    if args.threads:
        torch.set_num_threads(args.threads)
    predictions = masks = None
    if "evaluation" in args.tasks:
        data = Path(args.data) if args.data else prepare_default_data("outputs/data", verbose=False)
        masks = data / "gts" / args.set
        if not masks.is_dir():
            raise DataError(masks, "no such masks folder (--data, --set; `gconet-lab prepare` builds the default sets)")
        if args.predictions:
            predictions = Path(args.predictions)
        else:  # maps at the original sizes; the evaluation's cost does not depend on their quality
            predictions = predict_centre_prior(index_set(data, args.set).groups, Path(args.out) / "centre_prior") / args.set
    report = run_benchmark(
        config_with_options(args.preset, args.variant, args.option or {}), device, args.tasks, args.batch_size, args.group_size,
        args.repeats, args.warmup, args.compile, predictions, masks, precision=precision,
        peak=given_peak(args.peak_gflops) if args.peak_gflops else None,
    )
    print(report.format())
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    records = {"environment": report.environment, "rows": report.rows(),
               "peak": vars(report.peak) if report.peak else None}
    (out / "benchmark.json").write_text(json.dumps(records, indent=1))
    print(f"records: {out / 'benchmark.json'}")


def config_with_options(preset: str, variant: str, options: dict) -> GCoNetConfig:
    """``make_config(preset, variant, **options)``; a bad option is reported as the ``--option`` error it is.

    The preset and variant are argparse choices, so a :class:`ConfigError` here comes from the overrides.
    """
    try:
        return make_config(preset, variant, **options)
    except ConfigError as error:
        raise ConfigError(f"--option: {error}") from None


def parity_set(folder: str | None, masks: str | None) -> tuple[Path, Path]:
    """(parity set, its masks): the folders given, else ``reference/eval_parity`` beside the shared data and
    the iCoseg masks there."""
    from gconet_lab.pipeline import shared_data_root

    shared = shared_data_root() if folder is None or masks is None else None  # none: one line, exit 2
    folder = Path(folder) if folder else shared.parent / "reference" / "eval_parity"
    masks = Path(masks) if masks else shared / "icoseg" / "ground_truth"
    for option, path in (("--parity-set", folder), ("--masks", masks)):
        if not path.is_dir():
            raise FileNotFoundError(f"{option} {path}: no such folder")
    return folder, masks


def cmd_check_evaluator(args: argparse.Namespace) -> None:
    from gconet_lab.metrics.parity import check_official_parity

    parity = check_official_parity(*parity_set(args.parity_set, args.masks))
    print(parity.format())
    if parity.max_abs_difference > args.tolerance:
        print(f"gconet-lab check-evaluator: the evaluator's numbers differ from the official evaluator's by more "
              f"than --tolerance {args.tolerance:g}", file=sys.stderr)
        raise SystemExit(1)


BENCHMARK_DESCRIPTION = """\
Time GCoNet+ on random weights and inputs, each candidate against its reference in one run:
  inference   the reference eager forward (GCoNetPlus in eval mode) against the fast path
              (BatchNorm folded, channels-last, inference mode), and with --precision bf16 the
              fast path in bfloat16 too: first the paper's protocol (a batch of 2; Table 4), then
              one whole test group (--group-size images). Each path reports its speed-up over
              eager, its maps' max |difference| from eager's, its FLOPs per image and the
              fraction of peak: (FLOPs per image / seconds per image) / the peak FLOP/s of its
              precision, estimated on CPUs as threads x clock x FLOP/cycle/core (the table
              prints the numbers assumed; --peak-gflops gives your own, needed on GPUs)
  training    one training step on two groups of --group-size (forward, loss, backward, Adam):
              float32 in torch's default memory layout against the trainer's channels-last step,
              and with --precision bf16 its bfloat16 autocast too; each with the median time of
              every phase, its FLOPs per image (forward and backward) and its fraction of peak
  evaluation  the official-protocol evaluation of a set at its original image sizes (whether
              its numbers are the official evaluator's: gconet-lab check-evaluator)
Candidates are timed interleaved after --warmup rounds; medians of --repeats rounds are reported
with the device, torch version, thread count and machine load, and saved to <out>/benchmark.json.

Examples:
  gconet-lab benchmark --preset paper --device cpu --repeats 5
  gconet-lab benchmark --preset paper --tasks inference --precision bf16
  gconet-lab benchmark --preset tiny --tasks inference --repeats 3
  gconet-lab benchmark --tasks training --precision bf16 --group-size 8 --option '{"freeze_backbone": true}'
"""


TRAIN_DESCRIPTION = """\
Train GCoNet+; an existing checkpoint in --out is resumed. On several GPUs, launch the same command
with torchrun (one process per GPU; each step then learns from GPUs x --accumulation two-group batches):
  torchrun --nproc_per_node 4 -m gconet_lab.cli train --recipe train-1 --data /data/cosod --out runs/train-1
  torchrun --nnodes 2 --node_rank 0 --nproc_per_node 8 --rdzv_backend c10d --rdzv_endpoint host0:29500 \\
      -m gconet_lab.cli train --recipe train-1,3 --data /shared/cosod --out /shared/runs/train-1,3
"""


def add_model_arguments(parser: argparse.ArgumentParser) -> None:
    """The options of a command that runs a trained model: which model, on which device, in which precision."""
    parser.add_argument("--checkpoint", required=True,
                        help="a shipped model's name (cpu-copypaste-224), a gconet-lab checkpoint.pt or an official GCoNet+ .pth")
    parser.add_argument("--device", type=device_name, help="cpu or cuda (default: cuda when available)")
    parser.add_argument("--precision", default="auto", choices=PRECISIONS, help=PRECISION_HELP)


def build_parser() -> argparse.ArgumentParser:
    parser = OneLineParser(prog="gconet-lab", description=DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    demo = sub.add_parser("demo", help="the main job: prepare the embedded data, train, evaluate on iCoseg, write a report")
    demo.add_argument("--out", default="outputs/demo", help="output folder (default: %(default)s)")
    demo.add_argument("--epochs", type=positive_int, help="override the cpu preset's epochs")
    demo.add_argument("--device", type=device_name, help="cpu or cuda (default: cuda when available)")
    demo.set_defaults(func=cmd_demo)

    prepare = sub.add_parser("prepare", help="build the default sets (iCoseg, COCO groups, copy-paste groups, synthetic) in the CoSOD layout")
    prepare.add_argument("--out", default="outputs/data", help="output folder (default: %(default)s)")
    prepare.add_argument("--source",
                         help="folder holding icoseg/ and coco128-seg/ (default: $GCONET_DATA, ../shared/data, "
                              "the user cache, else downloaded into the cache)")
    prepare.set_defaults(func=cmd_prepare)

    train = sub.add_parser("train", help="train GCoNet+ on sets laid out as images/<set>/<group>/ + gts/<set>/<group>/",
                           description=TRAIN_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    train.add_argument("--data", required=True, help="root holding images/ and gts/")
    sets = train.add_mutually_exclusive_group(required=True)
    sets.add_argument("--sets", nargs="+", metavar="SET",
                      help="one or more training sets, pooled in one sampler, e.g. DUTS_class COCO-SEG")
    sets.add_argument("--recipe", choices=tuple(RECIPES),
                      help="a Table 3 training set or combination (preset paper), cpu-copypaste (the main job's cpu recipe) or cpu-copypaste-224 (the shipped model's)")
    train.add_argument("--out", required=True, help="run folder: checkpoint.pt and log.jsonl; an existing checkpoint is resumed")
    train.add_argument("--preset", choices=PRESETS, help="scale (default: the recipe's, else cpu)")
    train.add_argument("--variant", default="paper", choices=VARIANTS, help="paper or official-code behaviour")
    train.add_argument("--epochs", type=positive_int, help="override the preset's epochs")
    train.add_argument("--option", type=json_object, metavar="JSON",
                       help='configuration overrides as a JSON object, e.g. \'{"use_gst": false}\'')
    train.add_argument("--device", type=device_name, help="cpu or cuda (default: cuda when available; under torchrun cuda:LOCAL_RANK)")
    train.add_argument("--accumulation", type=positive_int, default=1,
                       help="two-group batches per process added up in each Adam step (default: %(default)s)")
    train.add_argument("--sync-bn", action="store_true", help="SyncBatchNorm across GPUs (off: BN per two-group batch as in the paper)")
    train.add_argument("--precision", default="auto", choices=PRECISIONS, help=PRECISION_HELP)
    train.set_defaults(func=cmd_train)

    evaluate = sub.add_parser("evaluate", help="predict a test set group by group and score it (official protocol + pysodmetrics)")
    add_model_arguments(evaluate)
    evaluate.add_argument("--data", required=True, help="root holding images/<set>/ and gts/<set>/")
    evaluate.add_argument("--set", required=True, help="the one test set to predict and score, e.g. CoCA")
    evaluate.add_argument("--out", required=True, help="folder for predictions/<set>/ and tables/<set>/ (the CSV tables)")
    evaluate.add_argument("--skip-missing", action="store_true", help="skip images without masks (reported) instead of failing")
    evaluate.set_defaults(func=cmd_evaluate)

    check = sub.add_parser("check-evaluator", help="check the evaluator against the official evaluator's own numbers "
                                                   "on a parity set (exit status 1 if they differ)")
    check.add_argument("--parity-set", help="folder holding pred/<group>/<name>.png and the official evaluator's "
                       "official_metrics.json on them (default: reference/eval_parity beside the shared data)")
    check.add_argument("--masks", help="the masks of those predictions (default: the shared data's iCoseg masks)")
    check.add_argument("--tolerance", type=positive_float, default=1e-6,
                       help="largest |difference| accepted on S, max F, max E and MAE (default: %(default)g)")
    check.set_defaults(func=cmd_check_evaluator)

    predict = sub.add_parser("predict", help="co-saliency maps for your own images: a folder of group folders, or one group")
    add_model_arguments(predict)
    predict.add_argument("--images", required=True, help="folder of images (one group) or of group folders")
    predict.add_argument("--out", required=True, help="where to write <group>/<name>.png")
    predict.set_defaults(func=cmd_predict)

    bench = sub.add_parser("benchmark", help="time inference (reference vs fast path), a training step and the evaluation",
                           description=BENCHMARK_DESCRIPTION, formatter_class=argparse.RawDescriptionHelpFormatter)
    bench.add_argument("--preset", default="cpu", choices=PRESETS, help="model scale (default: %(default)s)")
    bench.add_argument("--variant", default="paper", choices=VARIANTS, help="paper or official-code behaviour")
    bench.add_argument("--option", type=json_object, metavar="JSON",
                       help='configuration overrides as a JSON object, e.g. \'{"freeze_backbone": true}\'')
    bench.add_argument("--tasks", nargs="+", default=list(BENCHMARK_TASKS),
                       choices=BENCHMARK_TASKS, help="what to time (default: all)")
    bench.add_argument("--device", type=device_name, help="cpu or cuda (default: cuda when available)")
    bench.add_argument("--threads", type=positive_int, help="CPU threads for torch (default: torch's choice)")
    bench.add_argument("--batch-size", type=positive_int, default=2, help="inference batch, the paper's protocol (default: %(default)s)")
    bench.add_argument("--group-size", type=two_or_more, default=4, help="images of one test group; a training step takes two groups (default: %(default)s)")
    bench.add_argument("--warmup", type=non_negative_int, default=2, help="untimed rounds first (default: %(default)s)")
    bench.add_argument("--repeats", type=positive_int, default=5, help="timed rounds; the median is reported (default: %(default)s)")
    bench.add_argument("--compile", action="store_true", help="wrap the fast path in torch.compile (slow to start; CPU needs a C++ compiler)")
    bench.add_argument("--precision", default="auto", choices=PRECISIONS,
                       help="also time the fast path and the training step in this precision beside fp32. " + PRECISION_HELP)
    bench.add_argument("--peak-gflops", type=peak_gflops, metavar="GFLOPS[,BF16]",
                       help="peak GFLOP/s for the fraction of peak: one value for every path, or fp32,bf16 "
                            "(default: estimated on CPUs, none on GPUs)")
    bench.add_argument("--data", help="root holding gts/<set>/ for the evaluation (default: the embedded sets, built in outputs/data)")
    bench.add_argument("--set", default="iCoseg", help="the one test set whose evaluation is timed (default: %(default)s)")
    bench.add_argument("--predictions", help="<group>/<name>.png maps to evaluate (default: a centre prior, written to --out)")
    bench.add_argument("--out", default="outputs/benchmark", help="folder for benchmark.json (default: %(default)s)")
    bench.set_defaults(func=cmd_benchmark)
    return parser


def user_errors() -> tuple[type[Exception], ...]:
    """The exceptions that mean a problem with the user's files, options or machine, never a bug here."""
    from gconet_lab.data import DataError
    from gconet_lab.data.sources.download import DownloadError
    from gconet_lab.engine.precision import PrecisionUnsupportedError
    from gconet_lab.engine.storage import OutputFolderError
    from gconet_lab.inference.evaluate import NonFiniteOutputError
    from gconet_lab.models import CheckpointError

    return (ConfigError, DataError, CheckpointError, OutputFolderError, FileNotFoundError, NonFiniteOutputError,
            DownloadError, PrecisionUnsupportedError)


def run_script(parser: argparse.ArgumentParser, func, argv: list[str] | None = None,
               also: tuple[type[Exception], ...] = (ValueError, OSError)) -> None:
    """Parse ``argv`` with ``parser`` and call ``func(args)``; a user error ends with one line, exit status 2.

    The one error handling of ``gconet-lab`` and of every ``data_scripts/`` command line: the line is
    ``<prog> [<command>]: error: <message>``, the message's own lines joined by ``; ``, never a traceback.
    The :func:`user_errors` always count; ``also`` adds the exceptions that are the user's in this program.
    Its default suits the data scripts, thin converters: a ``ValueError`` is an argument the library refused,
    an ``OSError`` a file or folder it could not read or write.
    """
    args = parser.parse_args(argv)
    try:
        func(args)
    except (*user_errors(), *also) as error:
        one_line = "; ".join(line.strip() for line in str(error).splitlines() if line.strip())
        command = getattr(args, "command", None)
        parser.exit(2, f"{parser.prog}{f' {command}' if command else ''}: error: {one_line}\n")


def main(argv: list[str] | None = None) -> None:
    """Run one command; a problem with the user's files or options ends with one clear line, exit status 2."""
    run_script(build_parser(), lambda args: args.func(args), argv, also=())


if __name__ == "__main__":
    main()
