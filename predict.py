#!/usr/bin/env python
"""Label new texts with a trained model: the predicted label and a probability per class, one row per input.

    python predict.py --model OUTPUT_DIR --input FILE --output FILE [--key value ...]
"""

from app.cli import main

if __name__ == "__main__":
    raise SystemExit(main(command="predict"))
