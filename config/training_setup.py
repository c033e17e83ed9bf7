"""Training choices that transformers only tries when the Trainer is built or first evaluates (after the checkers
are built, minutes into a run): tried here, before anything runs."""

from __future__ import annotations

import os

import torch

# What trainer/metrics.py computes at each evaluation; metric_for_best_model names one of them, or the loss.
EVAL_METRICS = ("accuracy", "f1")


def check_training_setup(args) -> None:
    """Raise ValueError, naming the option, for a choice transformers would refuse later."""
    # Imported here: the Trainer and the integrations take seconds to import, half of what `run.py --help` took.
    from transformers import Trainer, get_scheduler
    from transformers.integrations import get_available_reporting_integrations
    from transformers.utils import is_liger_kernel_available

    metric = args.metric_for_best_model
    if metric is not None and metric.removeprefix("eval_") not in (*EVAL_METRICS, "loss"):
        raise ValueError(f"metric_for_best_model: expected one of {', '.join((*EVAL_METRICS, 'loss'))}, got {metric!r}")
    if args.prediction_loss_only:
        raise ValueError("prediction_loss_only: not supported; every evaluation here reports accuracy and F1 (the "
                         "kept epoch, the test results, the model card), which it would leave out")
    if not args.eval_do_concat_batches:
        raise ValueError("eval_do_concat_batches: not supported; accuracy and F1 are computed over the whole split, "
                         "from its predictions concatenated")
    if args.fp16 and (args.use_cpu or not torch.accelerator.is_available()):
        raise ValueError("fp16: float16 mixed precision needs a GPU; on a CPU transformers trains in float32 and "
                         "still records fp16 (bf16 true with use_cpu true trains in bfloat16 on a CPU)")
    if args.label_names not in (None, ["labels"]):
        raise ValueError(f"label_names: the models here take their labels as 'labels'; got {args.label_names}")
    if args.batch_eval_metrics:
        raise ValueError("batch_eval_metrics: not supported; accuracy and F1 are computed over the whole split")
    if args.dataloader_drop_last:
        raise ValueError("dataloader_drop_last: not supported; transformers drops the last partial batch of every "
                         "evaluation too, so the metrics would leave examples out")
    if args.fsdp and int(os.environ.get("WORLD_SIZE", "1")) < 2:
        raise ValueError("fsdp: needs several processes (torchrun or accelerate launch); this run has one")
    if args.use_liger_kernel and not is_liger_kernel_available():
        raise ValueError("use_liger_kernel: the liger-kernel package is not installed")
    if "none" in args.report_to and len(args.report_to) > 1:
        raise ValueError(f"report_to: 'none' turns every integration off, so it stands alone; got "
                         f"{', '.join(args.report_to)} (give none, or only the integrations to log to)")
    installed = get_available_reporting_integrations()
    for name in args.report_to:
        if name not in installed and name != "wandb":  # W&B is always installed here (see requirements.txt)
            raise ValueError(f"report_to: {name!r} is not an installed logging integration; expected "
                             f"{', '.join(sorted({'wandb', *installed}))} or none")
    try:
        optimizer_class, options = Trainer.get_optimizer_cls_and_kwargs(args)
    except Exception as err:  # missing packages and bad optim_args raise ImportError, ValueError, ...
        raise ValueError(f"optim: {args.optim.value!r} cannot be used here: {err}") from None
    try:
        probe = torch.optim.SGD([torch.zeros(1, requires_grad=True)], lr=args.learning_rate)
        get_scheduler(args.lr_scheduler_type, probe, num_warmup_steps=1, num_training_steps=10,
                      scheduler_specific_kwargs=args.lr_scheduler_kwargs or {})
    except Exception as err:  # unknown or ill-typed scheduler arguments raise TypeError, ValueError, ...
        raise ValueError(f"lr_scheduler_kwargs: {args.lr_scheduler_type.value} cannot take "
                         f"{args.lr_scheduler_kwargs}: {err}") from None
