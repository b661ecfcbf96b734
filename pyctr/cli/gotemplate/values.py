"""How Go sees and prints JSON-like values: dicts stand for structs and maps, None for nil.

Go's type names, truth, fmt's %v, strconv.Quote and podman's json function.
"""

import json

from pyctr.cli.gotemplate.errors import FuncError


class _Missing:
    """What a missing map key evaluates to (Go's invalid reflect.Value); prints <no value>."""


MISSING = _Missing()


class Struct(dict):
    """A Go struct: its fields by name (case-sensitive, a missing one is an error, not <no value>),
    the Go type name podman's messages show, and optionally what json prints for it (podman's
    reporters marshal the underlying value, not the template fields)."""

    __slots__ = ("type_name", "json_view")

    def __init__(self, fields=(), type_name="struct {}", json_view=None):
        super().__init__(fields)
        self.type_name, self.json_view = type_name, json_view


def typename(v):
    if isinstance(v, Struct):
        return v.type_name
    if v is None:
        return "<nil>"
    for t, name in ((bool, "bool"), (int, "int"), (float, "float64"), (str, "string"),
                    ((list, tuple), "[]interface {}"), (dict, "map[string]interface {}")):
        if isinstance(v, t):
            return name
    return type(v).__name__


def sorted_keys(d):
    try:
        return sorted(d)
    except TypeError:
        return sorted(d, key=lambda k: (typename(k), str(k)))


def truth(v):
    if v is None or v is MISSING:
        return False
    if isinstance(v, (bool, int, float, str, list, tuple, dict)):
        return bool(v)
    return True


def float_text(f, json_style=False):
    """f as Go's %v (strconv 'g', shortest) or encoding/json prints it."""
    if f != f or f in (float("inf"), float("-inf")):
        if json_style:
            raise FuncError(f"json: unsupported value: {float_text(f)}")
        return "NaN" if f != f else ("+Inf" if f > 0 else "-Inf")
    text = repr(f)
    sign = "-" if text[0] == "-" else ""
    mant, _, exp = text.lstrip("-").partition("e")
    whole, _, frac = mant.partition(".")
    digits = (whole + frac).lstrip("0")
    dp = len(whole) + int(exp or 0) - (len(whole + frac) - len(digits))  # value = 0.DIGITS * 10**dp
    digits = digits.rstrip("0")
    if not digits:
        return sign + "0"
    x = dp - 1
    if (abs(f) < 1e-6 or abs(f) >= 1e21) if json_style else (x < -4 or x >= 6):
        mant = digits[0] + ("." + digits[1:] if len(digits) > 1 else "")
        if json_style and -10 < x < 0:
            return f"{sign}{mant}e-{-x}"
        return f"{sign}{mant}e{'-' if x < 0 else '+'}{abs(x):02d}"
    if dp <= 0:
        return f"{sign}0.{'0' * -dp}{digits}"
    if dp >= len(digits):
        return sign + digits + "0" * (dp - len(digits))
    return f"{sign}{digits[:dp]}.{digits[dp:]}"


def sprint_v(v):
    """v as Go's fmt %v prints it."""
    if v is None:
        return "<nil>"
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, str):
        return v
    if isinstance(v, float):
        return float_text(v)
    if isinstance(v, Struct):  # fmt prints a struct's field values in order: {a b c}
        return "{" + " ".join(sprint_v(x) for x in v.values()) + "}"
    if isinstance(v, (list, tuple, dict)):
        return sprint_composite(v, sprint_v)
    return str(v)


def sprint_composite(v, each):
    """A list or dict as Go's fmt prints slices and maps, each element (and key) printed by `each`."""
    if isinstance(v, dict):
        return "map[" + " ".join(f"{each(k)}:{each(v[k])}" for k in sorted_keys(v)) + "]"
    return "[" + " ".join(map(each, v)) + "]"


def go_json(v):
    """Compact JSON as podman's json function (json.Encoder without HTML escaping) writes it."""
    if v is None or v is MISSING:
        return "null"
    if isinstance(v, Struct) and v.json_view is not None:
        return go_json(v.json_view)
    if isinstance(v, bool):
        return "true" if v else "false"
    if isinstance(v, int):
        return str(v)
    if isinstance(v, float):
        return float_text(v, json_style=True)
    if isinstance(v, (list, tuple)):
        return "[" + ",".join(map(go_json, v)) + "]"
    if isinstance(v, dict):
        return "{" + ",".join(f"{go_json(str(k))}:{go_json(x)}" for k, x in v.items()) + "}"
    text = json.dumps(str(v), ensure_ascii=False)
    return text.replace("\u2028", "\\u2028").replace("\u2029", "\\u2029")


_QUOTE_ESCAPES = {"\a": "\\a", "\b": "\\b", "\f": "\\f", "\n": "\\n", "\r": "\\r", "\t": "\\t",
                  "\v": "\\v", "\\": "\\\\"}


def go_quote(s, q='"'):
    """strconv.Quote (or QuoteRune with q="'")."""
    out = []
    for c in s:
        if c == q:
            out.append("\\" + c)
        elif c in _QUOTE_ESCAPES:
            out.append(_QUOTE_ESCAPES[c])
        elif c.isprintable():
            out.append(c)
        else:
            o = ord(c)
            out.append(f"\\x{o:02x}" if o < 0x20 or o == 0x7F else f"\\u{o:04x}" if o < 0x10000 else f"\\U{o:08x}")
    return q + "".join(out) + q
