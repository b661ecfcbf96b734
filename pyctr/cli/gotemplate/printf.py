"""Go's fmt.Sprintf for the printf function: verbs, flags, width and precision, and Go's complaints."""

import re

from pyctr.cli.gotemplate.values import float_text, go_quote, sprint_composite, sprint_v, typename

_VERB = re.compile(r"([-+# 0]*)(\d*)(?:\.(\d*))?(.)?", re.S)


def sprintf(fmt, *args):
    """fmt.Sprintf(fmt, args...): each verb formats one argument, with %!(...) where they do not fit."""
    out, i, n = [], 0, 0
    while (j := fmt.find("%", i)) >= 0:
        out.append(fmt[i:j])
        m = _VERB.match(fmt, j + 1)
        flags, width, prec, verb = m.groups()
        i = m.end()
        if verb is None:
            out.append("%!(NOVERB)")
        elif verb == "%":
            out.append("%")
        elif n >= len(args):
            out.append(f"%!{verb}(MISSING)")
        else:
            out.append(_format_one(args[n], verb, flags, int(width) if width else 0,
                                   None if prec is None else int(prec or 0)))
            n += 1
    out.append(fmt[i:])
    if n < len(args):
        out.append("%!(EXTRA " + ", ".join(f"{typename(a)}={sprint_v(a)}" for a in args[n:]) + ")")
    return "".join(out)


def _format_one(v, verb, flags, width, prec):
    if isinstance(v, (list, tuple, dict)):
        return sprint_composite(v, lambda x: _format_one(x, verb, flags, width, prec))
    numeric = isinstance(v, (int, float)) and not isinstance(v, bool)
    sign = "+" if "+" in flags else " " if " " in flags else "-"
    text = None
    if v is None:
        text = "<nil>" if verb == "v" else None
    elif isinstance(v, bool):
        text = ("true" if v else "false") if verb in "vt" else None
    elif isinstance(v, int):
        if verb in "vd":
            text = format(v, sign + "d")
        elif verb in "xXob":
            text = format(v, sign + ("#" if "#" in flags else "") + verb)
        elif verb in "cq":
            c = chr(v) if 0 <= v <= 0x10FFFF else "\ufffd"
            text = c if verb == "c" else go_quote(c, "'")
        elif verb == "U":
            text = f"U+{v:04X}"
    elif isinstance(v, float):
        if verb in "vg" and prec is None:
            text = float_text(v)
            text = text if sign == "-" or text[0] == "-" else sign + text
        elif verb in "veEfFgG":
            text = format(v, f"{sign}.{6 if prec is None else prec}{'g' if verb == 'v' else verb}")
    elif isinstance(v, str):
        s = v if prec is None else v[:prec]
        if verb in "vs":
            text = s
        elif verb == "q":
            text = go_quote(s)
        elif verb in "xX":
            text = format(int.from_bytes(s.encode(), "big"), f"0{2 * len(s.encode())}{verb}") if s else ""
    else:
        text = str(v) if verb in "vs" else None
    if text is None:
        return f"%!{verb}(<nil>)" if v is None else f"%!{verb}({typename(v)}={sprint_v(v)})"
    fill = width - len(text)
    if fill <= 0:
        return text
    if "-" in flags:
        return text + " " * fill
    if "0" in flags and numeric:
        head = text[0] if text[0] in "+- " else ""
        return head + "0" * fill + text[len(head):]
    return " " * fill + text
