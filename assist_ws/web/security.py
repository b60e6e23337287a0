"""Response headers of the payment pages: a strict Content Security Policy (our own styles
and script only; forms go to us and, after payment, to the shop; framed only by the shop), no
caching of anything a card page shows, no referrer (the page session must not leak to the
shop), no MIME sniffing."""

from __future__ import annotations

from typing import Iterable

from .returns import origin


def _sources(urls: Iterable[str | None]) -> list[str]:
    """The origins of ``urls`` as ``returns.origin`` parses and writes them anew; a URL
    without a valid origin names nothing (raw text never reaches the header)."""
    return sorted({found for url in urls if (found := origin(url)) is not None})


def csp(form_targets: Iterable[str | None] = (),
        frame_ancestors: Iterable[str | None] = ()) -> str:
    """The policy; ``form_targets`` and ``frame_ancestors`` are the shop's URLs (or
    origins)."""
    # A form that ends in a redirect to the shop needs the shop's origin in form-action.
    targets = " ".join(["'self'", *_sources(form_targets)])
    frames = " ".join(["'self'", *_sources(frame_ancestors)])
    # connect-src: the card page's script asks us (only us) for a card's bonus points.
    return ("default-src 'none'; style-src 'self'; script-src 'self'; connect-src 'self'; "
            "img-src 'self' data:; "
            f"form-action {targets}; frame-ancestors {frames}; base-uri 'none'")


def secure_headers(headers, *, form_targets: Iterable[str | None] = (),
                   frame_ancestors: Iterable[str | None] = (), https: bool = False,
                   cache: bool = False) -> None:
    """Set the headers on a response's ``headers``; ``cache`` only for static assets."""
    headers["Content-Security-Policy"] = csp(form_targets, frame_ancestors)
    headers["X-Content-Type-Options"] = "nosniff"
    headers["Referrer-Policy"] = "no-referrer"
    headers["Permissions-Policy"] = "camera=(), microphone=(), geolocation=(), payment=()"
    headers["Cross-Origin-Resource-Policy"] = "same-origin"
    if not cache:
        headers["Cache-Control"] = "no-store, no-cache, must-revalidate, max-age=0"
        headers["Pragma"] = "no-cache"
        headers["Expires"] = "0"
    if https:
        headers["Strict-Transport-Security"] = "max-age=31536000"
