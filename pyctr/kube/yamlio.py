"""YAML in and out for the kube commands (PyYAML, imported only here and only when used)."""

from __future__ import annotations

from pyctr.errors import InvalidArgument


def dump(documents: list[dict], header: str = "") -> str:
    """Documents separated by `---`, keys sorted, strings quoted "like this" when they must be (as Go's)."""
    import yaml

    class Dumper(yaml.SafeDumper):
        def choose_scalar_style(self):
            style = super().choose_scalar_style()
            return '"' if style == "'" else style

        def ignore_aliases(self, data):  # the same dict twice is written twice, never as an anchor
            return True

    body = "---\n".join(yaml.dump(d, Dumper=Dumper, default_flow_style=False, sort_keys=True, width=1 << 16)
                        for d in documents)
    return header + body


def load(text: str) -> list[dict]:
    """Every document of `text` that is a mapping (empty ones are skipped)."""
    import yaml

    try:
        documents = list(yaml.safe_load_all(text))
    except yaml.YAMLError as exc:
        raise InvalidArgument(f"unable to read YAML: {str(exc).splitlines()[0] if str(exc) else exc}") from None
    found = []
    for document in documents:
        if document is None:
            continue
        if not isinstance(document, dict):
            raise InvalidArgument("unable to read kube YAML: a document is not a mapping")
        found.append(document)
    return found
