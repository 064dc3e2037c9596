"""Tiny XML writer for S3 (REST-XML) and query-API (STS) responses."""
from xml.sax.saxutils import escape


def element(tag, value):
    """<tag>value</tag> for a scalar, nested elements for a list of pairs.

    `value` may be: None (element left out), bool, int, str, or a list of
    (tag, value) pairs for children (a list keeps AWS's element order and
    allows repeated tags).
    """
    if value is None:
        return ""
    if isinstance(value, list):
        return f"<{tag}>{children(value)}</{tag}>"
    if isinstance(value, bool):
        value = "true" if value else "false"
    return f"<{tag}>{escape(str(value))}</{tag}>"


def children(pairs):
    return "".join(element(tag, value) for tag, value in pairs)


def document(root, pairs, namespace=None):
    ns = f' xmlns="{namespace}"' if namespace else ""
    body = children(pairs)
    return (f'<?xml version="1.0" encoding="UTF-8"?>\n<{root}{ns}>{body}</{root}>').encode("utf-8")
