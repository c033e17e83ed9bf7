"""Run by tests/test_weight_history.py under torchrun: two DIMP epochs, then rank 0 saves the gathered history."""

import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
sys.path.insert(0, str(Path(__file__).resolve().parent))

import numpy as np  # noqa: E402
from test_weight_history import train_dimp  # noqa: E402
from trainer_helpers import end_torchrun_worker  # noqa: E402

model_dir, out = sys.argv[1], Path(sys.argv[2])
trainer = train_dimp(Path(model_dir), out.parent / "ddp_run", batch_size=4, accumulation=1,
                     extra={"ddp_backend": "gloo"})
if trainer.args.process_index == 0:
    np.savez(out, **{f"epoch{epoch}_{name}": values for epoch, seen in trainer.weight_history.epochs.items()
                     for name, values in seen._asdict().items()})
trainer.accelerator.wait_for_everyone()
end_torchrun_worker()
