"""Run by tests/test_trainer.py under torchrun: a few DIMP steps, then rank 0 saves the parameters."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import torch  # noqa: E402
from trainer_helpers import end_torchrun_worker, train_steps  # noqa: E402

model_dir, out, batch_size = sys.argv[1], sys.argv[2], int(sys.argv[3])
trainer = train_steps(Path(model_dir), Path(out).parent / "ddp_run", batch_size=batch_size, accumulation=1,
                      extra={"ddp_backend": "gloo"})
if trainer.args.process_index == 0:
    torch.save({k: v.detach().clone() for k, v in trainer.model.state_dict().items()}, out)
end_torchrun_worker()
