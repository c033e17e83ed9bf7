"""Run by tests/test_trainer.py under torchrun: a few DIMP steps, then rank 0 saves the parameters."""

import os
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from trainer_helpers import train_steps  # noqa: E402

model_dir, out, batch_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
trainer = train_steps(Path(model_dir), Path(out).parent / "ddp_run", batch_size=batch_size, accumulation=1,
                      extra={"ddp_backend": "gloo"})
if trainer.args.process_index == 0:
    torch.save({k: v.detach().clone() for k, v in trainer.model.state_dict().items()}, out)
torch.distributed.destroy_process_group()
# Leave without interpreter teardown: DDP keeps the gloo group's worker threads alive past destroy_process_group, and
# one still freeing a gathered tensor when finalization starts aborts the process (see weight_history_worker.py).
sys.stdout.flush()
sys.stderr.flush()
os._exit(0)
