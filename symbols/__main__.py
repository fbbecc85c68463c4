"""python -m symbols NAME [--frames T] [--size S] [key=value ...]: a model's per-stage table."""
import argparse
import ast

from symbols import MODELS, get_model, names
from symbols.summary import count_params, format_table, summarize


def parse_overrides(pairs):
    """['depth=18', 'heads=(\"rgb\",)'] -> {'depth': 18, 'heads': ('rgb',)}"""
    overrides = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep:
            raise SystemExit(f"override {pair!r} is not key=value")
        try:
            overrides[key] = ast.literal_eval(value)
        except (ValueError, SyntaxError):
            overrides[key] = value
    return overrides


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("name", choices=sorted(names("action_machine")) + sorted(names("multitask")))
    parser.add_argument("--frames", type=int, help="clip length (default: the model's)")
    parser.add_argument("--size", type=int, help="input height = width (default: the model's)")
    parser.add_argument("overrides", nargs="*", help="model options as key=value")
    return parser.parse_args(argv)


def main(argv=None):
    args = parse_args(argv)
    overrides = parse_overrides(args.overrides)
    if args.size:
        overrides["input_size"] = args.size
    if args.frames:
        overrides["num_frames"] = args.frames
    try:
        net = get_model(args.name, **overrides)
    except ValueError as err:
        raise SystemExit(f"error: {err}")
    c = net.config
    multitask = MODELS[args.name] == "multitask"
    if multitask and c.parts == "pose":
        rows = summarize(net, (1, 3, c.input_size, c.input_size))
        print(f"{args.name}: one image 3x{c.input_size}x{c.input_size}, parts {c.parts}")
    elif multitask:
        rows = summarize(net, (1, 3, c.num_frames, c.input_size, c.input_size))
        print(f"{args.name}: one clip 3x{c.num_frames}x{c.input_size}x{c.input_size}, "
              f"parts {c.parts}")
    else:
        rows = summarize(net, (1, 3, c.num_frames, c.input_size, c.input_size))
        print(f"{args.name}: one clip 3x{c.num_frames}x{c.input_size}x{c.input_size}, "
              f"heads {'+'.join(c.heads)}")
    print(format_table(rows))
    print(f"MACs: {sum(r[3] for r in rows)}")
    print(f"params: {count_params(net)}")


if __name__ == "__main__":
    main()
