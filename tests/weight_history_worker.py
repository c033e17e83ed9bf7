"""Run by tests/test_weight_history.py under torchrun: two DIMP epochs, then rank 0 saves the gathered history."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
import torch.distributed as dist  # noqa: E402
from test_weight_history import train_dimp  # noqa: E402

model_dir, out = sys.argv[1], Path(sys.argv[2])
trainer = train_dimp(Path(model_dir), out.parent / "ddp_run", batch_size=4, accumulation=1,
                     extra={"ddp_backend": "gloo"})
if trainer.args.process_index == 0:
    np.savez(out, **{f"epoch{epoch}_{name}": values for epoch, seen in trainer.weight_history.epochs.items()
                     for name, values in seen._asdict().items()})
trainer.accelerator.wait_for_everyone()
dist.destroy_process_group()
# Leave without interpreter teardown. DDP keeps the gloo group, and so its worker threads, alive past
# destroy_process_group; a gloo thread still freeing a gathered tensor's Python object when finalization starts
# dies in the GIL and aborts the process ("terminate called without an active exception").
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
