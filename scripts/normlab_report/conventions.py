"""Names, order and colours of grid values, shared by the figures and the text."""

NORM_ORDER = ["none", "batch", "layer", "group"]
NORM_COLORS = {"none": "#4d4d4d", "batch": "#1f77b4", "layer": "#ff7f0e", "group": "#2ca02c"}
EXTRA_COLORS = ["#d62728", "#9467bd", "#8c564b", "#e377c2", "#17becf", "#bcbd22"]
NORM_LABELS = {"none": "none", "batch": "batch norm", "layer": "layer norm", "group": "group norm"}

EVAL_STATS_LABELS = {"running": "running averages", "batch": "batch statistics"}
EVAL_STATS_COLORS = {"running": "#1f77b4", "batch": "#d62728"}
LINE_STYLES = [("-", "o"), ("--", "s"), (":", "^"), ("-.", "D")]


def norm_color(norm, _extra={}):
    # An unknown norm keeps the colour it first got, so it matches across figures.
    if norm in NORM_COLORS:
        return NORM_COLORS[norm]
    if norm not in _extra:
        _extra[norm] = EXTRA_COLORS[len(_extra) % len(EXTRA_COLORS)]
    return _extra[norm]


def norm_label(norm):
    return NORM_LABELS.get(norm, norm)


def as_number(v):
    try:
        return float(v)
    except (TypeError, ValueError):
        return None


def sort_values(values, key=None):
    """Grid values in a natural order: norms canonically, numbers numerically."""
    values = list(dict.fromkeys(values))
    if key == "norm":
        return sorted(values, key=lambda v: (NORM_ORDER.index(v) if v in NORM_ORDER
                                             else len(NORM_ORDER), v))
    if all(as_number(v) is not None for v in values):
        return sorted(values, key=lambda v: float(v))
    return values


def setting_label(keys, values):
    return ", ".join(f"{k}={v}" for k, v in zip(keys, values))


def group_label(keys, values):
    """'mlp' for the model alone, 'mlp, norm=batch' with further keys."""
    return ", ".join(str(v) if k == "model" else f"{k}={v}" for k, v in zip(keys, values))
