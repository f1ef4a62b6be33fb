"""Command lines built from a base and overrides.

normlab refuses a key given twice (`train --lr 0.1 --lr 0.2` exits 2), so a test
that changes a key of its base command line replaces it: `last_wins(BASE + extra)`
keeps each option's last occurrence, where it stood last."""


def _is_option(a):
    return a.startswith("--") or (len(a) > 1 and a[0] == "-" and a[1].isalpha())  # -q, not -0.1


def _items(args):
    """[(key or None, tokens)]: '--key value', '--key=value', '--flag' alone, or a positional."""
    out, i = [], 0
    while i < len(args):
        a = args[i]
        if a.startswith("--"):
            key = a.split("=", 1)[0]
            if "=" not in a and i + 1 < len(args) and not _is_option(args[i + 1]):
                out.append((key, args[i:i + 2]))
                i += 2
                continue
            out.append((key, [a]))
        else:
            out.append((None, [a]))
        i += 1
    return out


def last_wins(args):
    items = _items(list(args))
    last = {k: n for n, (k, _) in enumerate(items) if k is not None}
    return [t for n, (k, toks) in enumerate(items) if k is None or last[k] == n for t in toks]
