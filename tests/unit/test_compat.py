"""``assist_ws.compat`` on the Python running the tests (``.ci/run`` runs this file on 3.11,
3.12 and 3.13): Spyne imports after it, with its bundled ``six.moves`` and ``cgi``; a SOAP
call through Spyne is answered; documentation reads the same in every version's WSDL."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from io import BytesIO

import pytest
from lxml import etree

from assist_ws import compat

WSDL = "http://schemas.xmlsoap.org/wsdl/"
XS = "http://www.w3.org/2001/XMLSchema"
SOAP_ENV = "http://schemas.xmlsoap.org/soap/envelope/"
TNS = "urn:compat-test"


def test_spyne_imports_after_it_in_a_fresh_interpreter():
    code = textwrap.dedent("""
        import warnings
        warnings.simplefilter("error", DeprecationWarning)  # cgi's own warning stays out
        import assist_ws.compat
        import spyne
        from spyne.protocol.soap import Soap11
        from spyne.server.wsgi import WsgiApplication
        from spyne.interface.wsdl import Wsdl11
        print("ok")
    """)
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0 and done.stdout.strip() == "ok", done.stderr


def test_six_moves_are_the_modules_six_names():
    import collections.abc
    import urllib.parse

    own_spec = collections.abc.__spec__
    from spyne.util.six.moves import collections_abc
    from spyne.util.six.moves.urllib import parse
    from spyne.util.six.moves.urllib.parse import quote

    assert collections_abc is collections.abc
    assert parse.quote is quote is urllib.parse.quote
    assert collections.abc.__spec__ is own_spec  # a standard module keeps its own spec
    assert sys.modules["spyne.util.six.moves.collections_abc"] is collections.abc


def test_the_finder_answers_only_for_the_names_six_knows():
    [finder] = [f for f in sys.meta_path if isinstance(f, compat.SixMovesFinder)]
    assert sys.meta_path[0] is finder
    compat.install()
    assert sum(isinstance(f, compat.SixMovesFinder) for f in sys.meta_path) == 1
    assert finder.find_spec("spyne.util.six.moves.no_such_module") is None
    assert finder.find_spec("json") is None
    with pytest.raises(ModuleNotFoundError):
        __import__("spyne.util.six.moves.no_such_module")


def test_cgi_parse_header_is_there_for_spyne():
    import cgi
    assert cgi.parse_header("text/xml; charset=utf-8") == ("text/xml", {"charset": "utf-8"})


CLEANDOC = [
    # (a docstring as written, as Python 3.13 compiles it)
    ("One line.", "One line."),
    ("Two lines, the second\n        indented.", "Two lines, the second\nindented."),
    ("  Lead.\n    a\n      b\n    ", "Lead.\na\n  b\n"),
    ("\n    Starts blank.\n\n    Para.\n    ", "\nStarts blank.\n\nPara.\n"),
    ("x\n  \n    y\n", "x\n\ny\n"),
    ("First\n\tTabbed\n        eight\n", "First\nTabbed\neight\n"),
    ("x\n          \n    y", "x\n      \ny"),
    ("", ""),
]


@pytest.mark.parametrize("written,compiled", CLEANDOC)
def test_cleandoc_is_what_python_3_13_makes_of_a_docstring(written, compiled):
    assert compat.cleandoc(written) == compiled
    assert compat.cleandoc(compiled) == compiled
    if sys.version_info >= (3, 13):  # the compiler itself says so
        scope: dict = {}
        exec(compile('def f():\n    """' + written + '"""\n', "doc", "exec"), scope)
        assert scope["f"].__doc__ == compiled


class _Echo:
    """A Spyne service built here, after ``compat``, with a docstring in several lines."""

    @staticmethod
    def build():
        from spyne import Application, ServiceBase, Unicode, rpc
        from spyne.protocol.soap import Soap11

        class EchoService(ServiceBase):
            @rpc(Unicode, _returns=Unicode)
            def echo(ctx, text):
                """Answer the text,
                upper-cased."""
                return text.upper()

        return Application([EchoService], tns=TNS, name="Echo", in_protocol=Soap11(),
                           out_protocol=Soap11())


def test_a_soap_call_is_answered():
    from spyne.server.wsgi import WsgiApplication

    body = (f'<soapenv:Envelope xmlns:soapenv="{SOAP_ENV}" xmlns:t="{TNS}"><soapenv:Body>'
            f'<t:echo><t:text>привет</t:text></t:echo></soapenv:Body></soapenv:Envelope>'
            ).encode()
    environ = {"REQUEST_METHOD": "POST", "PATH_INFO": "/", "QUERY_STRING": "",
               "SERVER_NAME": "localhost", "SERVER_PORT": "80", "wsgi.url_scheme": "http",
               "CONTENT_TYPE": "text/xml; charset=utf-8", "CONTENT_LENGTH": str(len(body)),
               "wsgi.input": BytesIO(body), "SCRIPT_NAME": ""}
    status = []
    chunks = WsgiApplication(_Echo.build())(environ, lambda s, h, *a: status.append(s))
    reply = etree.fromstring(b"".join(chunks))
    assert status == ["200 OK"]
    assert reply.findtext(f".//{{{TNS}}}echoResult") == "ПРИВЕТ"


def test_wsdl_documentation_reads_as_on_python_3_13():
    from spyne.interface.wsdl import Wsdl11

    doc = Wsdl11(_Echo.build().interface)
    doc.build_interface_document("http://localhost/echo")
    root = etree.fromstring(doc.get_interface_document())
    compat.clean_documentation(root)
    [text] = [el.text for el in root.iter(f"{{{WSDL}}}documentation")]
    assert text == "Answer the text,\nupper-cased."


def test_clean_documentation_covers_schema_annotations_too():
    root = etree.fromstring(
        f'<w:definitions xmlns:w="{WSDL}" xmlns:xs="{XS}"><w:types><xs:schema>'
        f'<xs:annotation><xs:documentation>A type\n      of two lines.</xs:documentation>'
        f'</xs:annotation></xs:schema></w:types><w:documentation>Top\n  two.</w:documentation>'
        f'<w:documentation/></w:definitions>')
    compat.clean_documentation(root)
    assert [el.text for el in root.iter(f"{{{XS}}}documentation", f"{{{WSDL}}}documentation")
            ] == ["A type\nof two lines.", "Top\ntwo.", None]
